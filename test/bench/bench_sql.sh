#!/bin/bash
# bench_sql.sh - SQL benchmark of pg_des: one batch call
#     des.archive_read(location, names text[])
# against the same names read by single calls
#     des.archive_read(location, name)
# in one query each, in one session, on a throw-away cluster (pg_virtualenv).
#
# Needs the extension installed (make && make install). Writes the archive to
# a temporary directory owned by postgres and removes it afterwards.
#
# stdout: "ROW" lines as bench_core prints them (run.sh formats them);
# stderr: progress and every round.
#
# Environment:
#   BENCH_QUICK=1           smaller sizes for a smoke test
#   BENCH_SQL_ENTRIES       entries in the archive        [100000; quick 20000]
#   BENCH_SQL_NAMES         random names read per query   [10000; quick 2000]
#   BENCH_SQL_SIZE          payload bytes per entry       [1024]
#   BENCH_SQL_ROUNDS        timed rounds of each query    [5; quick 2]
#   BENCH_DIR               parent of the temporary directory [/tmp]
set -euo pipefail

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
quick=0
if [ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ]; then quick=1; fi
pick() { if [ "$quick" = 1 ]; then echo "$2"; else echo "$1"; fi; }
ENTRIES=${BENCH_SQL_ENTRIES:-$(pick 100000 20000)}
NAMES=${BENCH_SQL_NAMES:-$(pick 10000 2000)}
SIZE=${BENCH_SQL_SIZE:-1024}
ROUNDS=${BENCH_SQL_ROUNDS:-$(pick 5 2)}

for v in ENTRIES NAMES SIZE ROUNDS; do
	if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
		echo "bench_sql: $v must be a positive integer, not '${!v}'" >&2
		exit 1
	fi
done
if [ "$NAMES" -gt "$ENTRIES" ]; then
	echo "bench_sql: BENCH_SQL_NAMES ($NAMES) exceeds BENCH_SQL_ENTRIES ($ENTRIES)" >&2
	exit 1
fi

# ---------------------------------------------------------------- outside
if [ "${1:-}" != --inner ]; then
	ext=$("$PG_CONFIG" --sharedir)/extension/pg_des.control
	lib=$("$PG_CONFIG" --pkglibdir)/pg_des.so
	if [ ! -f "$ext" ] || [ ! -f "$lib" ]; then
		echo "bench_sql: pg_des is not installed ($ext); run 'make && make install' first" >&2
		exit 2
	fi
	if [ -f pg_des.so ] && ! cmp -s pg_des.so "$lib"; then
		echo "bench_sql: WARNING: the installed $lib differs from ./pg_des.so; run 'make install' to benchmark this tree" >&2
	fi
	dir=$(mktemp -d "${BENCH_DIR:-/tmp}/pg_des_sqlbench.XXXXXX")
	trap 'rm -rf "$dir"' EXIT
	chmod 0700 "$dir"
	if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
	export BENCH_SQL_DIR=$dir
	# -t: a private cluster directory even as root, so concurrent runs do not clash
	pg_virtualenv -t -v 15 -o shared_preload_libraries=pg_des "$0" --inner
	exit $?
fi

# ---------------------------------------------------------------- inside
loc=$BENCH_SQL_DIR/bench.des
psql_() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

echo "[4] SQL: archive of $ENTRIES entries of $SIZE B; $NAMES random names; $ROUNDS round(s)" >&2
psql_ -v loc="$loc" -v entries="$ENTRIES" -v names="$NAMES" -v size="$SIZE" <<'SQL' >&2
CREATE EXTENSION pg_des;
\timing on
-- payload: md5-derived bytes, distinct per entry, BLAKE2b stored (the default)
SELECT des.archive_write(:'loc', 'n' || i,
       substr(decode(repeat(md5(i::text), (:size + 15) / 16), 'hex'), 1, :size),
       NULL ORDER BY i) IS NOT NULL AS archive_written
FROM generate_series(1, :entries) i;
\timing off
SELECT setseed(0.42);
CREATE UNLOGGED TABLE bench_names AS
    SELECT 'n' || i AS name FROM generate_series(1, :entries) i ORDER BY random() LIMIT :names;
ANALYZE bench_names;

-- time one query, in the calling session (the backend keeps its reader cache)
CREATE FUNCTION bench_ms(q text, OUT ms float8, OUT total bigint) LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    EXECUTE q INTO total;
    ms := 1000 * extract(epoch FROM clock_timestamp() - t0);
END $$;
SQL

# One session for all rounds; single calls and the batch alternate, both warmed up first.
results=$(psql_ -F ' ' -v loc="$loc" -v rounds="$ROUNDS" <<'SQL'
SELECT format('SELECT sum(length(des.archive_read(%L, name))) FROM bench_names', :'loc') AS q_single,
       format('SELECT sum(length(data)) FROM des.archive_read(%L, ARRAY(SELECT name FROM bench_names))', :'loc') AS q_batch
\gset
SELECT 'warmup', r.* FROM bench_ms(:'q_single') r;
SELECT 'warmup', r.* FROM bench_ms(:'q_batch') r;
SELECT CASE WHEN (k + g) % 2 = 0 THEN 'single' ELSE 'batch' END, r.*
FROM generate_series(1, :rounds) g, generate_series(0, 1) k,
     LATERAL bench_ms(CASE WHEN (k + g) % 2 = 0 THEN :'q_single' ELSE :'q_batch' END) r
ORDER BY g, k;
SQL
)
echo "$results" | sed 's/^/    /' >&2

totals=$(echo "$results" | awk '{print $3}' | sort -u | wc -l)
if [ "$totals" != 1 ]; then
	echo "bench_sql: single calls and batch returned different byte totals" >&2
	exit 1
fi
expect=$((NAMES * SIZE))
if [ "$(echo "$results" | awk 'NR==1{print $3}')" != "$expect" ]; then
	echo "bench_sql: expected $expect bytes per query" >&2
	exit 1
fi

# best and median per kind, then the row (ratio = batch rate / single-call rate)
echo "$results" | awk -v n="$NAMES" -v e="$ENTRIES" -v s="$SIZE" -v quick="$quick" '
	$1 == "single" || $1 == "batch" { t[$1, ++c[$1]] = $2 }
	function sortk(k,   i, j, x) {
		for (i = 1; i <= c[k]; i++) for (j = i + 1; j <= c[k]; j++)
			if (t[k, j] < t[k, i]) { x = t[k, i]; t[k, i] = t[k, j]; t[k, j] = x }
	}
	function med(k) { return (c[k] % 2) ? t[k, (c[k] + 1) / 2] : (t[k, c[k] / 2] + t[k, c[k] / 2 + 1]) / 2 }
	END {
		sortk("single"); sortk("batch")
		printf "    %-44s best %9.1f  median %9.1f  worst %9.1f ms\n", "single calls, one query", t["single", 1], med("single"), t["single", c["single"]] > "/dev/stderr"
		printf "    %-44s best %9.1f  median %9.1f  worst %9.1f ms\n", "batch call, one query", t["batch", 1], med("batch"), t["batch", c["batch"]] > "/dev/stderr"
		b = t["batch", 1]; sg = t["single", 1]; r = sg / b
		met = (r >= 10) ? "yes" : "NO"
		if (quick) met = met " (quick mode)"
		printf "ROW\t4 SQL archive_read, %d of %d names (%d B)\t%.0f k names/s (%.1f ms)\t%.0f k/s single calls (%.1f ms)\t%.2fx\t>= 10x single calls\t%s\n",
			n, e, s, n / b, b, n / sg, sg, r, met
	}'
