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
#   BENCH_SQL_SIZES         payload sizes, one archive each [256 4096]
#   BENCH_SQL_ROUNDS        timed rounds of each query    [5; quick 2]
#   BENCH_DIR               parent of the temporary directory [/tmp]
set -euo pipefail

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
quick=0
if [ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ]; then quick=1; fi
pick() { if [ "$quick" = 1 ]; then echo "$2"; else echo "$1"; fi; }
ENTRIES=${BENCH_SQL_ENTRIES:-$(pick 100000 20000)}
NAMES=${BENCH_SQL_NAMES:-$(pick 10000 2000)}
SIZES=${BENCH_SQL_SIZES:-256 4096}
ROUNDS=${BENCH_SQL_ROUNDS:-$(pick 5 2)}
UNCACHED=${BENCH_SQL_UNCACHED:-$(pick 200 50)}	# names read by uncached single calls

for v in ENTRIES NAMES ROUNDS; do
	if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
		echo "bench_sql: $v must be a positive integer, not '${!v}'" >&2
		exit 1
	fi
done
for size in $SIZES; do
	if ! [[ $size =~ ^[1-9][0-9]*$ ]]; then
		echo "bench_sql: BENCH_SQL_SIZES must list positive integers, not '$SIZES'" >&2
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
	# -t: a private cluster directory even as root, so concurrent runs do not clash.
	# Its chatter goes to stderr; the rows come back through a file.
	export BENCH_SQL_ROWS=$dir/rows
	pg_virtualenv -t -v 15 -o shared_preload_libraries=pg_des "$0" --inner >&2
	cat "$BENCH_SQL_ROWS"
	exit 0
fi

# ---------------------------------------------------------------- inside
exec 3>"$BENCH_SQL_ROWS"
psql_() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

echo "[4] SQL: archives of $ENTRIES entries of $SIZES B each; $NAMES random names; $ROUNDS round(s)" >&2
psql_ -v entries="$ENTRIES" -v names="$NAMES" <<'SQL' >&2
CREATE EXTENSION pg_des;
SELECT setseed(0.42);
CREATE UNLOGGED TABLE bench_names AS
    SELECT 'n' || i AS name FROM generate_series(1, :entries) i ORDER BY random() LIMIT :names;
ANALYZE bench_names;

-- time one query in the calling session (the backend keeps its reader cache)
CREATE FUNCTION bench_ms(q text, OUT ms float8, OUT total bigint) LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    EXECUTE q INTO total;
    ms := 1000 * extract(epoch FROM clock_timestamp() - t0);
END $$;
SQL

# best and median of the rounds of two kinds; prints the row (ratio = rate of $1 / rate of $2)
report() {
	local kind=$1 base=$2 metric=$3 goal=$4 results=$5
	echo "$results" | awk -v k1="$kind" -v k2="$base" -v n="$NAMES" -v metric="$metric" \
		-v goal="$goal" -v quick="$quick" '
	$1 == k1 || $1 == k2 { t[$1, ++c[$1]] = $2 }
	function sortk(k,   i, j, x) {
		for (i = 1; i <= c[k]; i++) for (j = i + 1; j <= c[k]; j++)
			if (t[k, j] < t[k, i]) { x = t[k, i]; t[k, i] = t[k, j]; t[k, j] = x }
	}
	function med(k) { return (c[k] % 2) ? t[k, (c[k] + 1) / 2] : (t[k, c[k] / 2] + t[k, c[k] / 2 + 1]) / 2 }
	function label(k,   x) { x = k; gsub(/_/, " ", x); return x }
	function show(k) {
		printf "    %-44s best %9.1f  median %9.1f  worst %9.1f ms\n", label(k), t[k, 1], med(k), t[k, c[k]] > "/dev/stderr"
	}
	END {
		sortk(k1); sortk(k2); show(k1); if (goal != "") show(k2)
		a = t[k1, 1]; b = t[k2, 1]; r = b / a
		if (goal == "") { g = "(info)"; met = "-" }
		else { g = ">= " goal "x " label(k2); met = (r >= goal) ? "yes" : "NO"; if (quick) met = met " (quick mode)" }
		printf "ROW\t%s\t%.0f k names/s (%.1f ms)\t%.0f k/s %s (%.1f ms)\t%.2fx\t%s\t%s\n",
			metric, n / a, a, n / b, label(k2), b, r, g, met
	}' >&3
}

first=1
letters=(a b c d e f g h i j k l m n o p q r s t u v w x y)
letter=0
absent_results=
absent_size=
for size in $SIZES; do
	loc=$BENCH_SQL_DIR/bench_$size.des
	psql_ -v loc="$loc" -v entries="$ENTRIES" -v size="$size" <<'SQL' >&2
\timing on
-- md5-derived payloads, distinct per entry; BLAKE2b stored (the default options)
SELECT des.archive_write(:'loc', 'n' || i,
       substr(decode(repeat(md5(i::text), (:size + 15) / 16), 'hex'), 1, :size),
       NULL ORDER BY i) ->> 'entries' AS "archive written, entries"
FROM generate_series(1, :entries) i;
SQL

	# One session for all rounds: single calls and the batch alternate, both warmed up first.
	results=$(psql_ -F ' ' -v loc="$loc" -v rounds="$ROUNDS" -v first="$first" -v uncached="$UNCACHED" <<'SQL'
SELECT format('SELECT sum(length(des.archive_read(%L, name))) FROM bench_names', :'loc') AS q_single,
       format('SELECT sum(length(data)) FROM des.archive_read(%L, ARRAY(SELECT name FROM bench_names))', :'loc') AS q_batch,
       format('SELECT count(*) FROM des.archive_read(%L, ARRAY(SELECT name || ''.absent'' FROM bench_names))', :'loc') AS q_absent
\gset
SELECT 'warmup', r.* FROM bench_ms(:'q_single') r;
SELECT 'warmup', r.* FROM bench_ms(:'q_batch') r;
SELECT CASE WHEN (k + g) % 2 = 0 THEN 'single_calls' ELSE 'batch' END, r.*
FROM generate_series(1, :rounds) g, generate_series(0, 1) k,
     LATERAL bench_ms(CASE WHEN (k + g) % 2 = 0 THEN :'q_single' ELSE :'q_batch' END) r
ORDER BY g, k;
-- single calls with no reader cache: every call opens the archive again
-- (what a reader without a cache pays; a sample of names, reported per name)
SET des.reader_cache_entries = 0;
SELECT 'single_uncached', r.* FROM bench_ms(format(
    'SELECT sum(length(des.archive_read(%L, name))) FROM (SELECT name FROM bench_names LIMIT %s) s',
    :'loc', :uncached)) r;
RESET des.reader_cache_entries;
\if :first
-- (the CASE makes the call depend on g, so it runs once per round)
SELECT 'batch_of_absent_names', r.* FROM generate_series(1, :rounds) g,
     LATERAL bench_ms(CASE WHEN g > 0 THEN :'q_absent' END) r;
\endif
SQL
)
	# shellcheck disable=SC2001  # indent every line
	echo "$results" | sed 's/^/    /' >&2

	# both kinds must have returned every payload in full
	expect=$((NAMES * size))
	bad=$(echo "$results" | awk -v e="$expect" '($1 == "single_calls" || $1 == "batch" || $1 == "warmup") && $3 != e' | wc -l)
	if [ "$bad" != 0 ]; then
		echo "bench_sql: a query did not return $expect bytes" >&2
		exit 1
	fi
	# single calls as an application makes them: one statement per name, from a client
	psql_ -v loc="$loc" -c "COPY (SELECT format('SELECT length(des.archive_read(%L, %L));', '$loc', name) FROM bench_names) TO STDOUT" >"$BENCH_SQL_DIR/statements.sql"
	psql_ -f "$BENCH_SQL_DIR/statements.sql" >/dev/null	# warm-up
	stmt_best=
	for r in $(seq 1 "$ROUNDS"); do
		t0=$(date +%s%N)
		psql_ -f "$BENCH_SQL_DIR/statements.sql" >/dev/null
		ms=$(( ($(date +%s%N) - t0) / 1000000 ))
		if [ -z "$stmt_best" ] || [ "$ms" -lt "$stmt_best" ]; then stmt_best=$ms; fi
	done
	echo "    single statements (psql -f, $NAMES statements)  best $stmt_best ms" >&2
	report batch single_calls "4${letters[letter]} SQL archive_read, $NAMES of $ENTRIES names, $size B" 10 "$results"
	echo "$results" | awk -v n="$NAMES" -v st="$stmt_best" -v size="$size" '
		$1 == "batch" { if (b == "" || $2 < b) b = $2 }
		END {
			br = n / (b / 1000); sr = n / (st / 1000)
			printf "ROW\t   same batch vs one statement per name (psql -f), %d B\t%.0f k names/s\t%.1f k/s single statements (%.0f ms)\t%.1fx\t>= 10x single calls\t%s\n",
				size, br / 1000, sr / 1000, st, br / sr, (br / sr >= 10) ? "yes" : "NO" }' >&3
	echo "$results" | awk -v n="$NAMES" -v u="$UNCACHED" -v size="$size" '
		$1 == "batch" { if (b == "" || $2 < b) b = $2 }
		$1 == "single_uncached" { s = $2 }
		END {
			br = n / (b / 1000); ur = u / (s / 1000)
			printf "ROW\t   same batch vs single calls without the reader cache, %d B\t%.0f k names/s\t%.1f k/s uncached single calls (%d names in %.0f ms)\t%.0fx\t>= 10x single calls\t%s\n",
				size, br / 1000, ur / 1000, u, s, br / ur, (br / ur >= 10) ? "yes" : "NO" }' >&3
	letter=$((letter + 1))
	if [ "$first" = 1 ]; then
		absent_results=$results
		absent_size=$size
	fi
	first=0
done
report batch_of_absent_names batch "4${letters[letter]}   batch of $NAMES absent names ($absent_size B)" "" "$absent_results"
