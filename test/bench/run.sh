#!/bin/bash
# run.sh - pg_des benchmarks, run by `make bench` from the repository root
# (after the Makefile has built test/bench/bench_core).
#
#   1-3  test/bench/bench_core     PostgreSQL-free core: writer and reader
#   9    test/bench/bench_core     content-defined chunking (its rows follow 3)
#   10   test/bench/bench_core     CSV record reader vs a memchr line scan (BENCH_ONLY letter c)
#   4    test/bench/bench_sql.sh   SQL: batch des.archive_read vs single calls
#                                  (needs `make install`; uses pg_virtualenv)
#   5    test/bench/bench_s3.sh    S3 (needs the test harness)
#   7c-7n test/bench/bench_incoming.sh  the bulk path: COPY/INSERT into
#           des.incoming, its backlog packed, 1,000,000 rows ingested and packed
#   6-7  test/bench/bench_pipeline.sh  marking rate; a backlog packed end to
#                                  end vs INSERT (workers running)
#   11   test/bench/bench_datasets.sh  versioned datasets: upload vs restic and
#                                  borg, download vs restic restore, bytes stored
#                                  over 10 versions, commit/diff/listing on a
#                                  1,000,000-file bundle (needs restic, borgbackup)
#   12   test/bench/bench_gc.sh    garbage collection of a store of 1,000,000
#                                  blobs, 30% dead, vs restic prune (needs restic)
#   12b  test/bench/bench_trickle.sh  a simulated day of one object a second,
#                                  merged by des.gc_run: containers left for the day
#   13   test/bench/bench_lineage.sh  des.resolve of each gros:// tag kind per
#                                  second; des.downstream over 1,000,000 edges
#   14   test/bench/bench_discovery.sh  profiling a 1 GiB CSV vs DuckDB SUMMARIZE and
#                                  COPY; search over 100,000 profiled datasets
#                                  (needs node: DuckDB from npm, pinned)
#   15   test/bench/bench_sources.sh  claims from a foreign PostgreSQL table
#                                  (postgres_fdw) and a MariaDB one (mysql_fdw)
#                                  vs a plain table
#   8    test/bench/bench_fdw.sh   des_fdw foreign tables over local archives:
#                                  full scan, index-only count, lookups through
#                                  a join, each vs the same rows in a heap table
#
# Every figure is printed beside a baseline measured in the same run; the
# ratio column is pg_des / baseline in the unit shown (for rates, higher means
# pg_des is faster; for times, lower is). Progress and all individual
# measurements go to stderr, then the summary table is printed.
#
# BENCH_QUICK=1 runs small sizes as a smoke test (goals then do not apply);
# BENCH_SKIP_SQL=1 leaves out the SQL benchmark, BENCH_SKIP_S3=1 the S3 one,
# BENCH_SKIP_PIPELINE=1 the pipeline, BENCH_SKIP_FDW=1 the des_fdw one and
# BENCH_SKIP_DATASETS=1 the versioned datasets one, BENCH_SKIP_GC=1 the
# garbage collection ones, BENCH_SKIP_LINEAGE=1 the lineage one,
# BENCH_SKIP_DISCOVERY=1 the discovery one, BENCH_SKIP_SOURCES=1 the
# foreign sources one.
# Sizes: see the BENCH_* variables at the top of bench_core.c and the scripts.
set -euo pipefail

cd "$(dirname "$0")/../.."
bench_dir=$(mktemp -d "${BENCH_DIR:-/tmp}/pg_des_run.XXXXXX")
trap 'rm -rf "$bench_dir"' EXIT
chmod 0755 "$bench_dir"			# the SQL benchmark's server (user postgres) works below it
export BENCH_DIR=$bench_dir
rows=$bench_dir/rows

echo "pg_des benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
	"$(awk '/MemTotal/ {printf "%.0f GiB RAM", $2 / 1048576}' /proc/meminfo)," \
	"$(sed -n 's/^PRETTY_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' /etc/os-release), kernel $(uname -r)"
echo "disk: $(df -PT "$bench_dir" | awk 'NR == 2 {print $2 " on " $1 " (" $7 ")"}'); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ]; then
	echo "QUICK MODE: small sizes, a smoke test only; the goals do not apply at these sizes"
fi
echo

test/bench/bench_core >"$rows"
# Benchmark 1 once more with the archive in memory (tmpfs): the same writer
# when the file system's page-cache copy is not the limit (info rows 1g, 1h)
only=${BENCH_ONLY:-123}
if [ -d /dev/shm ] && [ -w /dev/shm ] && [ "$only" != "${only#*1}" ]; then
	BENCH_DIR=/dev/shm BENCH_ONLY=1 test/bench/bench_core |
		awk -F'\t' -v OFS='\t' '
			$2 ~ /^1a / { sub(/^1a writer/, "1g writer on tmpfs,", $2); $6 = "(info: " $6 ")"; $7 = "-"; print }
			$2 ~ /^1b / { sub(/^1b   same/, "1h   tmpfs", $2); $6 = "(info: " $6 ")"; $7 = "-"; print }' >>"$rows"
fi

sql_status=0
if [ -n "${BENCH_SKIP_SQL:-}" ] && [ "${BENCH_SKIP_SQL}" != 0 ]; then
	printf 'ROW\t4 SQL archive_read batch vs single calls\tskipped (BENCH_SKIP_SQL)\t-\t-\t>= 10x single calls\t-\n' >>"$rows"
else
	test/bench/bench_sql.sh >>"$rows" || sql_status=$?
	if [ "$sql_status" != 0 ]; then
		printf 'ROW\t4 SQL archive_read batch vs single calls\tFAILED (exit %s, see above)\t-\t-\t>= 10x single calls\t-\n' \
			"$sql_status" >>"$rows"
	fi
fi

if [ -n "${BENCH_SKIP_S3:-}" ] && [ "${BENCH_SKIP_S3}" != 0 ]; then
	printf 'ROW\t5 S3 benchmarks\tskipped (BENCH_SKIP_S3)\t-\t-\t-\t-\n' >>"$rows"
else
	test/bench/bench_s3.sh >>"$rows" || {
		printf 'ROW\t5 S3 benchmarks\tFAILED (see above)\t-\t-\t-\t-\n' >>"$rows"
		sql_status=1
	}
fi

if [ -n "${BENCH_SKIP_PIPELINE:-}" ] && [ "${BENCH_SKIP_PIPELINE}" != 0 ]; then
	printf 'ROW\t6-7 pipeline benchmarks\tskipped (BENCH_SKIP_PIPELINE)\t-\t-\t-\t-\n' >>"$rows"
else
	test/bench/bench_pipeline.sh >>"$rows" || {
		printf 'ROW\t6-7 pipeline benchmarks\tFAILED (see above)\t-\t-\t-\t-\n' >>"$rows"
		sql_status=1
	}
	# the bulk path (des.incoming): rows 7c, 7i and 7n
	test/bench/bench_incoming.sh >>"$rows" || {
		printf 'ROW\t7c-7n bulk path benchmarks\tFAILED (see above)\t-\t-\t-\t-\n' >>"$rows"
		sql_status=1
	}
fi

if [ -n "${BENCH_SKIP_FDW:-}" ] && [ "${BENCH_SKIP_FDW}" != 0 ]; then
	printf 'ROW\t8 des_fdw benchmarks\tskipped (BENCH_SKIP_FDW)\t-\t-\t-\t-\n' >>"$rows"
else
	test/bench/bench_fdw.sh >>"$rows" || {
		printf 'ROW\t8 des_fdw benchmarks\tFAILED (see above)\t-\t-\t-\t-\n' >>"$rows"
		sql_status=1
	}
fi

if [ -n "${BENCH_SKIP_DATASETS:-}" ] && [ "${BENCH_SKIP_DATASETS}" != 0 ]; then
	printf 'ROW\t11 versioned datasets benchmarks\tskipped (BENCH_SKIP_DATASETS)\t-\t-\t-\t-\n' >>"$rows"
else
	test/bench/bench_datasets.sh >>"$rows" || {
		printf 'ROW\t11 versioned datasets benchmarks\tFAILED (see above)\t-\t-\t-\t-\n' >>"$rows"
		sql_status=1
	}
fi

if [ -n "${BENCH_SKIP_GC:-}" ] && [ "${BENCH_SKIP_GC}" != 0 ]; then
	printf 'ROW\t12 garbage collection benchmarks\tskipped (BENCH_SKIP_GC)\t-\t-\t-\t-\n' >>"$rows"
else
	test/bench/bench_gc.sh >>"$rows" || {
		printf 'ROW\t12 garbage collection benchmarks\tFAILED (see above)\t-\t-\t-\t-\n' >>"$rows"
		sql_status=1
	}
	test/bench/bench_trickle.sh >>"$rows" || {
		printf 'ROW\t12b trickle merging benchmark\tFAILED (see above)\t-\t-\t-\t-\n' >>"$rows"
		sql_status=1
	}
fi

if [ -n "${BENCH_SKIP_LINEAGE:-}" ] && [ "${BENCH_SKIP_LINEAGE}" != 0 ]; then
	printf 'ROW\t13 lineage benchmarks\tskipped (BENCH_SKIP_LINEAGE)\t-\t-\t-\t-\n' >>"$rows"
else
	test/bench/bench_lineage.sh >>"$rows" || {
		printf 'ROW\t13 lineage benchmarks\tFAILED (see above)\t-\t-\t-\t-\n' >>"$rows"
		sql_status=1
	}
fi

if [ -n "${BENCH_SKIP_DISCOVERY:-}" ] && [ "${BENCH_SKIP_DISCOVERY}" != 0 ]; then
	printf 'ROW\t14 discovery benchmarks\tskipped (BENCH_SKIP_DISCOVERY)\t-\t-\t-\t-\n' >>"$rows"
else
	test/bench/bench_discovery.sh >>"$rows" || {
		printf 'ROW\t14 discovery benchmarks\tFAILED (see above)\t-\t-\t-\t-\n' >>"$rows"
		sql_status=1
	}
fi

if [ -n "${BENCH_SKIP_SOURCES:-}" ] && [ "${BENCH_SKIP_SOURCES}" != 0 ]; then
	printf 'ROW\t15 foreign source benchmarks\tskipped (BENCH_SKIP_SOURCES)\t-\t-\t-\t-\n' >>"$rows"
else
	test/bench/bench_sources.sh >>"$rows" || {
		printf 'ROW\t15 foreign source benchmarks\tFAILED (see above)\t-\t-\t-\t-\n' >>"$rows"
		sql_status=1
	}
fi

echo
echo "Summary (best of the repetitions; ratio = pg_des / baseline in the unit shown)"
echo
{
	printf 'metric\tpg_des\tbaseline\tratio\tgoal\tmet?\n'
	printf -- '------\t------\t--------\t-----\t----\t----\n'
	grep '^ROW' "$rows" | cut -f2-
} | column -t -s $'\t' -o ' | '

exit "$sql_status"
