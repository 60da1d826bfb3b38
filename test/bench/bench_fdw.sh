#!/bin/bash
# bench_fdw.sh - des_fdw: DES archives on local disk read as foreign tables,
# against the same rows in heap tables, in one session of a throw-away
# cluster (pg_virtualenv) with pg_des preloaded (des.workers = off):
#
#   8a  full scan of 1 GiB of 4 KiB entries in 16 archives (glob location)
#       against a heap table (name text, data bytea, default TOAST) holding
#       the same random (incompressible) bytes: the archives are written
#       from the heap table. Two queries:
#         SELECT sum(length(data)) FROM t
#       (on the heap, length() of a TOASTed bytea comes from the TOAST
#       pointer, so this query does not read the payloads there; the foreign
#       scan reads them), and
#         SELECT sum(get_byte(data, 4095)) FROM t
#       (the last byte of each payload: both sides read every byte); and, as
#       info, sum(size) from the foreign table's index.
#   8b  SELECT count(*), sum(size) over 10 archives of 100,000 entries
#       (16 B payloads, not read: index only), warm (readers cached by the
#       previous run in the same session, des.reader_cache_entries = 16),
#       and as info cold (after des.cache_reset(); the page cache stays warm)
#       and warm with the default des.reader_cache_entries (8), against the
#       same over a heap table (name text, size bigint) of the same rows.
#   8c  10,000 random lookups through a join,
#         SELECT sum(length(p.data)) FROM wanted w JOIN t2 p ON p.name = w.name
#       against the same join on a heap table with a btree index on name.
#       With default settings, as the planner chooses; if that is not a
#       Nested Loop with the foreign scan's "Pushed: name = w.name", a
#       WARNING row says so. Then again with enable_hashjoin and
#       enable_mergejoin off on both sides (a Nested Loop; checked). Warm
#       (after an untimed run in the same session); the first run after
#       des.cache_reset() and the same names as name = ANY (array) as info.
#
# Heap and foreign tables are all ANALYZEd; other settings are the defaults
# (so the heap baselines may use parallel workers: the rows say how many the
# plan had). The plans go to stderr, and EXPLAIN ANALYZE of 8b and 8c.
# Every query runs once untimed (warm-up), then BENCH_FDW_ROUNDS times,
# alternating pg_des and baseline (which goes first changes every round); the
# best round counts. Every result is checked: each round must return the
# expected total, and heap and archive variants must return the same.
#
# Needs the extension installed (make && make install) and pgcrypto
# (postgresql-contrib). stdout: "ROW" lines (run.sh formats them);
# stderr: progress and every round.
#
# Environment:
#   BENCH_QUICK=1              smaller sizes for a smoke test
#   BENCH_FDW_SCAN_ENTRIES     4 KiB entries for 8a             [262144; quick 8192]
#   BENCH_FDW_SCAN_ARCHIVES    archives they are spread over    [16; quick 4]
#   BENCH_FDW_SCAN_SIZE        payload bytes per entry in 8a    [4096]
#   BENCH_FDW_INDEX_ARCHIVES   archives for 8b and 8c           [10]
#   BENCH_FDW_INDEX_ENTRIES    entries per archive (16 B)       [100000; quick 2000]
#   BENCH_FDW_LOOKUPS          random names joined in 8c        [10000; quick 1000]
#   BENCH_FDW_ROUNDS           timed rounds of each query       [5; quick 2]
#   BENCH_DIR                  parent of the temporary directory [/tmp]
set -euo pipefail

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
quick=0
if [ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ]; then quick=1; fi
pick() { if [ "$quick" = 1 ]; then echo "$2"; else echo "$1"; fi; }
SCAN_ENTRIES=${BENCH_FDW_SCAN_ENTRIES:-$(pick 262144 8192)}
SCAN_ARCHIVES=${BENCH_FDW_SCAN_ARCHIVES:-$(pick 16 4)}
SCAN_SIZE=${BENCH_FDW_SCAN_SIZE:-4096}
INDEX_ARCHIVES=${BENCH_FDW_INDEX_ARCHIVES:-10}
INDEX_ENTRIES=${BENCH_FDW_INDEX_ENTRIES:-$(pick 100000 2000)}
LOOKUPS=${BENCH_FDW_LOOKUPS:-$(pick 10000 1000)}
ROUNDS=${BENCH_FDW_ROUNDS:-$(pick 5 2)}
INDEX_SIZE=16

for v in SCAN_ENTRIES SCAN_ARCHIVES SCAN_SIZE INDEX_ARCHIVES INDEX_ENTRIES LOOKUPS ROUNDS; do
	if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
		echo "bench_fdw: $v must be a positive integer, not '${!v}'" >&2
		exit 1
	fi
done
if [ "$SCAN_ARCHIVES" -gt "$SCAN_ENTRIES" ]; then
	echo "bench_fdw: BENCH_FDW_SCAN_ARCHIVES ($SCAN_ARCHIVES) exceeds BENCH_FDW_SCAN_ENTRIES ($SCAN_ENTRIES)" >&2
	exit 1
fi
if [ "$LOOKUPS" -gt $((INDEX_ARCHIVES * INDEX_ENTRIES)) ]; then
	echo "bench_fdw: BENCH_FDW_LOOKUPS ($LOOKUPS) exceeds the $((INDEX_ARCHIVES * INDEX_ENTRIES)) entries of 8b" >&2
	exit 1
fi

# ---------------------------------------------------------------- outside
if [ "${1:-}" != --inner ]; then
	ext=$("$PG_CONFIG" --sharedir)/extension/pg_des.control
	lib=$("$PG_CONFIG" --pkglibdir)/pg_des.so
	if [ ! -f "$ext" ] || [ ! -f "$lib" ]; then
		echo "bench_fdw: pg_des is not installed ($ext); run 'make && make install' first" >&2
		exit 2
	fi
	if [ ! -f "$("$PG_CONFIG" --sharedir)/extension/pgcrypto.control" ]; then
		echo "bench_fdw: pgcrypto is not installed (postgresql-contrib); it makes the random payloads" >&2
		exit 2
	fi
	if [ -f pg_des.so ] && ! cmp -s pg_des.so "$lib"; then
		echo "bench_fdw: WARNING: the installed $lib differs from ./pg_des.so; run 'make install' to benchmark this tree" >&2
	fi
	dir=$(mktemp -d "${BENCH_DIR:-/tmp}/pg_des_fdwbench.XXXXXX")
	trap 'rm -rf "$dir"' EXIT
	chmod 0700 "$dir"
	mkdir "$dir/scan" "$dir/index"
	if [ "$(id -u)" = 0 ]; then chown -R postgres: "$dir"; fi
	export BENCH_FDW_DIR=$dir
	export BENCH_FDW_ROWS=$dir/rows
	# -t: a private cluster directory even as root, so concurrent runs do not clash.
	# Its chatter goes to stderr; the rows come back through a file.
	pg_virtualenv -t -v 15 -o shared_preload_libraries=pg_des -o des.workers=off \
		-o max_wal_size=4GB "$0" --inner >&2
	cat "$BENCH_FDW_ROWS"
	exit 0
fi

# ---------------------------------------------------------------- inside
exec 3>"$BENCH_FDW_ROWS"
psql_() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }
dir=$BENCH_FDW_DIR
results=$dir/results
: >"$results"
mib=$(awk -v n="$SCAN_ENTRIES" -v s="$SCAN_SIZE" 'BEGIN { printf "%.0f", n * s / 1048576 }')
index_total=$((INDEX_ARCHIVES * INDEX_ENTRIES))
quick_note=
if [ "$quick" = 1 ]; then quick_note=' (quick mode)'; fi

echo "[8] des_fdw: 8a $SCAN_ENTRIES x $SCAN_SIZE B ($mib MiB) in $SCAN_ARCHIVES archives;" \
	"8b/8c $INDEX_ARCHIVES archives x $INDEX_ENTRIES entries of $INDEX_SIZE B, $LOOKUPS lookups; $ROUNDS round(s)" >&2

t0=$(date +%s)
psql_ -v dir="$dir" -v scan_entries="$SCAN_ENTRIES" -v scan_archives="$SCAN_ARCHIVES" \
	-v scan_size="$SCAN_SIZE" -v index_archives="$INDEX_ARCHIVES" -v index_entries="$INDEX_ENTRIES" \
	-v index_size="$INDEX_SIZE" -v lookups="$LOOKUPS" <<'SQL' >&2
CREATE EXTENSION pg_des;
CREATE EXTENSION pgcrypto;
SELECT setseed(0.42);
\timing on
-- 8a: random payloads (gen_random_bytes gives at most 1024 bytes a call)
CREATE TABLE scan_heap (name text, data bytea);
INSERT INTO scan_heap
SELECT 's/' || lpad(i::text, 7, '0'), substr(p.data, 1, :scan_size)
  FROM generate_series(1, :scan_entries) i,
       LATERAL (SELECT string_agg(gen_random_bytes(1024), ''::bytea) AS data
                  FROM generate_series(1, (:scan_size + 1023) / 1024 + 0 * i)) p;
VACUUM ANALYZE scan_heap;
-- the archives are written from the heap table: the same bytes
SELECT count(*) AS "8a archives written", sum((w ->> 'entries')::bigint) AS entries
  FROM (SELECT des.archive_write(format('%s/scan/part%s.des', :'dir', lpad(k::text, 3, '0')),
                                 name, data, NULL ORDER BY name) AS w
          FROM (SELECT name, data, (row_number() OVER (ORDER BY name) - 1) % :scan_archives AS k
                  FROM scan_heap) s
         GROUP BY k) a;
-- 8b/8c: 16 B payloads; the size-only heap of 8b and the indexed heap of 8c
CREATE TABLE look_heap (name text, data bytea);
INSERT INTO look_heap
SELECT 'k/' || lpad(i::text, 8, '0'), gen_random_bytes(:index_size)
  FROM generate_series(1, :index_archives * :index_entries) i;
CREATE INDEX ON look_heap (name);
CREATE TABLE size_heap AS SELECT name, length(data)::bigint AS size FROM look_heap;
VACUUM ANALYZE look_heap;
VACUUM ANALYZE size_heap;
SELECT count(*) AS "8b archives written", sum((w ->> 'entries')::bigint) AS entries
  FROM (SELECT des.archive_write(format('%s/index/part%s.des', :'dir', lpad(k::text, 3, '0')),
                                 name, data, NULL ORDER BY name) AS w
          FROM (SELECT name, data, (substr(name, 3)::int - 1) / :index_entries AS k FROM look_heap) s
         GROUP BY k) a;
CREATE TABLE wanted AS SELECT name FROM look_heap ORDER BY random() LIMIT :lookups;
ANALYZE wanted;
\timing off

CREATE SERVER lake FOREIGN DATA WRAPPER des_fdw;
\set scan_location :dir '/scan/*.des'
\set index_location :dir '/index/'
-- a glob, and a prefix (every *.des below it)
CREATE FOREIGN TABLE t (name text, data bytea, size bigint)
    SERVER lake OPTIONS (location :'scan_location');
CREATE FOREIGN TABLE t2 (name text, data bytea, size bigint)
    SERVER lake OPTIONS (location :'index_location');
-- statistics for the foreign tables too, as for the heap tables (des_fdw's ANALYZE reads the indexes)
ANALYZE t;
ANALYZE t2;

-- time one query in the calling session (the backend keeps its reader cache)
CREATE FUNCTION bench_ms(q text, OUT ms float8, OUT total text) LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    EXECUTE q INTO total;
    ms := 1000 * extract(epoch FROM clock_timestamp() - t0);
END $$;
-- the same after closing this session's cached archive readers
CREATE FUNCTION bench_cold_ms(q text, OUT ms float8, OUT total text) LANGUAGE plpgsql AS $$
BEGIN
    PERFORM des.cache_reset();
    SELECT b.ms, b.total INTO ms, total FROM bench_ms(q) b;
END $$;
SQL
echo "    data generated and archives written in $(($(date +%s) - t0)) s" >&2
for d in scan index; do
	echo "    $d/: $(find "$dir/$d" -name '*.des' | wc -l) archives, $(du -sm "$dir/$d" | cut -f1) MiB" >&2
done

# The timed queries (passed to psql as variables, used as :'name').
scan_len="SELECT sum(length(data)) FROM t"
heap_len="SELECT sum(length(data)) FROM scan_heap"
scan_byte="SELECT sum(get_byte(data, $((SCAN_SIZE - 1)))) FROM t"
heap_byte="SELECT sum(get_byte(data, $((SCAN_SIZE - 1)))) FROM scan_heap"
scan_size="SELECT sum(size) FROM t"
idx_q="SELECT count(*) || '/' || sum(size) FROM t2"
idx_heap="SELECT count(*) || '/' || sum(size) FROM size_heap"
join_q="SELECT sum(length(p.data)) FROM wanted w JOIN t2 p ON p.name = w.name"
join_heap="SELECT sum(length(p.data)) FROM wanted w JOIN look_heap p ON p.name = w.name"
any_q="SELECT sum(length(data)) FROM t2 WHERE name = ANY (ARRAY(SELECT name FROM wanted))"
any_heap="SELECT sum(length(data)) FROM look_heap WHERE name = ANY (ARRAY(SELECT name FROM wanted))"
# 8c once more with the join methods other than a nested loop disabled, on both sides
force_nl="SET enable_hashjoin = off; SET enable_mergejoin = off;"

# The plans, for the record (default settings, as timed).
explain() { psql_ -c "SET des.reader_cache_entries = 16; ${2:-}" -c "EXPLAIN (COSTS OFF) $1"; }
# "heap" or "heap, N workers": the baseline's label, from its plan
heap_label() {
	local w
	w=$(explain "$1" "${2:-}" | sed -n 's/^ *Workers Planned: \([0-9]*\).*/\1/p' | head -1)
	if [ -n "$w" ]; then echo "heap, $w worker(s)"; else echo "heap"; fi
}
for q in "$scan_len" "$heap_len" "$heap_byte" "$idx_q" "$idx_heap" "$join_q" "$join_heap" "$any_q" "$any_heap"; do
	echo "    EXPLAIN $q" >&2
	explain "$q" | sed 's/^/      /' >&2
done
# 8c: the join must be a nested loop over the parameterized lookup
nl_plan_ok() { explain "$join_q" "${1:-}" | grep -q 'Nested Loop' && explain "$join_q" "${1:-}" | grep -q 'Pushed: name = w\.name'; }
plan_ok=1
join_method=$(explain "$join_q" | grep -o -m1 'Nested Loop\|Hash Join\|Merge Join' || echo '?')
if ! nl_plan_ok; then
	plan_ok=0
	echo "bench_fdw: WARNING: with default settings the join of 8c is a $join_method, not a Nested Loop with 'Pushed: name = w.name' on the foreign scan" >&2
fi
echo "    EXPLAIN $join_q (after $force_nl)" >&2
explain "$join_q" "$force_nl" | sed 's/^/      /' >&2
forced_ok=1
if ! nl_plan_ok "$force_nl"; then
	forced_ok=0
	echo "bench_fdw: WARNING: even with $force_nl the join of 8c is not a Nested Loop with 'Pushed: name = w.name'" >&2
fi

# One session per benchmark; prints and keeps "kind ms total" lines. The
# queries that are compared alternate, which goes first changes every round,
# and each runs once untimed first (warmup_* lines).
run_rounds() {
	psql_ -F ' ' -v rounds="$ROUNDS" -v scan_len="$scan_len" -v heap_len="$heap_len" \
		-v scan_byte="$scan_byte" -v heap_byte="$heap_byte" -v scan_size="$scan_size" \
		-v idx_q="$idx_q" -v idx_heap="$idx_heap" -v join_q="$join_q" -v join_heap="$join_heap" \
		-v any_q="$any_q" -v any_heap="$any_heap" |
		tee -a "$results" | sed 's/^/    /' >&2
}

echo "  8a full scans (kind, ms, result):" >&2
run_rounds <<'SQL'
SET des.reader_cache_entries = 16;
SELECT 'warmup_8a', r.* FROM bench_ms(:'scan_len') r;
SELECT 'warmup_8a', r.* FROM bench_ms(:'heap_len') r;
SELECT 'warmup_8a', r.* FROM bench_ms(:'scan_byte') r;
SELECT 'warmup_8a', r.* FROM bench_ms(:'heap_byte') r;
SELECT (ARRAY['scan_len', 'heap_len', 'scan_byte', 'heap_byte'])[k + 1], r.*
FROM generate_series(1, :rounds) g, generate_series(0, 3) k0,
     LATERAL (SELECT CASE WHEN g % 2 = 0 THEN k0 ELSE (k0 + 1) % 2 + 2 * (k0 / 2) END AS k) kk,
     LATERAL bench_ms((ARRAY[:'scan_len', :'heap_len', :'scan_byte', :'heap_byte'])[k + 1]) r
ORDER BY g, k0;
-- the same total from the index: the size column (info)
SELECT 'warmup_8a', r.* FROM bench_ms(:'scan_size') r;
SELECT 'scan_size', r.* FROM generate_series(1, :rounds) g,
     LATERAL bench_ms(CASE WHEN g > 0 THEN :'scan_size' END) r;
SQL

echo "  8b count(*), sum(size) (kind, ms, result):" >&2
run_rounds <<'SQL'
SET des.reader_cache_entries = 16;
SELECT 'warmup_8b', r.* FROM bench_ms(:'idx_q') r;
SELECT 'warmup_8b', r.* FROM bench_ms(:'idx_heap') r;
SELECT CASE WHEN (k + g) % 2 = 0 THEN 'index_warm' ELSE 'index_heap' END, r.*
FROM generate_series(1, :rounds) g, generate_series(0, 1) k,
     LATERAL bench_ms(CASE WHEN (k + g) % 2 = 0 THEN :'idx_q' ELSE :'idx_heap' END) r
ORDER BY g, k;
-- (the CASE makes the call depend on g, so it runs once per round)
SELECT 'index_cold', r.* FROM generate_series(1, :rounds) g,
     LATERAL bench_cold_ms(CASE WHEN g > 0 THEN :'idx_q' END) r;
-- the default des.reader_cache_entries (8), fewer than the archives
RESET des.reader_cache_entries;
SELECT 'warmup_8b', r.* FROM bench_ms(:'idx_q') r;
SELECT 'index_default_cache', r.* FROM generate_series(1, :rounds) g,
     LATERAL bench_ms(CASE WHEN g > 0 THEN :'idx_q' END) r;
SQL

echo "  8c $LOOKUPS lookups through a join, default settings (kind, ms, result):" >&2
run_rounds <<'SQL'
SET des.reader_cache_entries = 16;
SELECT 'join_first', r.* FROM bench_cold_ms(:'join_q') r;
SELECT 'warmup_8c', r.* FROM bench_ms(:'join_heap') r;
SELECT CASE WHEN (k + g) % 2 = 0 THEN 'join_warm' ELSE 'join_heap' END, r.*
FROM generate_series(1, :rounds) g, generate_series(0, 1) k,
     LATERAL bench_ms(CASE WHEN (k + g) % 2 = 0 THEN :'join_q' ELSE :'join_heap' END) r
ORDER BY g, k;
-- the same names as one array (info)
SELECT 'warmup_8c', r.* FROM bench_ms(:'any_q') r;
SELECT 'warmup_8c', r.* FROM bench_ms(:'any_heap') r;
SELECT CASE WHEN (k + g) % 2 = 0 THEN 'any_warm' ELSE 'any_heap' END, r.*
FROM generate_series(1, :rounds) g, generate_series(0, 1) k,
     LATERAL bench_ms(CASE WHEN (k + g) % 2 = 0 THEN :'any_q' ELSE :'any_heap' END) r
ORDER BY g, k;
SQL
echo "  8c the same join as a nested loop ($force_nl) (kind, ms, result):" >&2
run_rounds <<SQL
SET des.reader_cache_entries = 16;
$force_nl
SELECT 'nl_first', r.* FROM bench_cold_ms(:'join_q') r;
SELECT 'warmup_8c', r.* FROM bench_ms(:'join_heap') r;
SELECT CASE WHEN (k + g) % 2 = 0 THEN 'nl_warm' ELSE 'nl_heap' END, r.*
FROM generate_series(1, :rounds) g, generate_series(0, 1) k,
     LATERAL bench_ms(CASE WHEN (k + g) % 2 = 0 THEN :'join_q' ELSE :'join_heap' END) r
ORDER BY g, k;
SQL
echo "  EXPLAIN ANALYZE of 8b, 8c (default and nested loop), warm:" >&2
psql_ -c "SET des.reader_cache_entries = 16" -c "$idx_q" -c "EXPLAIN (ANALYZE, COSTS OFF) $idx_q" \
	-c "$join_q" -c "EXPLAIN (ANALYZE, COSTS OFF) $join_q" -c "$force_nl" -c "$join_q" \
	-c "EXPLAIN (ANALYZE, COSTS OFF) $join_q" | sed 's/^/    /' >&2

# ---- checks: every round returned what it must
check() {	# check <expected> <kind...>: all rounds of these kinds returned <expected>
	local expected=$1
	shift
	local bad
	bad=$(awk -v e="$expected" -v kinds=" $* " 'index(kinds, " " $1 " ") && $3 != e' "$results" | wc -l)
	if [ "$bad" != 0 ] || ! awk -v kinds=" $* " 'index(kinds, " " $1 " ") { n++ } END { exit !n }' "$results"; then
		echo "bench_fdw: a query of $* did not return $expected:" >&2
		awk -v kinds=" $* " 'index(kinds, " " $1 " ")' "$results" >&2
		exit 1
	fi
}
check $((SCAN_ENTRIES * SCAN_SIZE)) scan_len heap_len scan_size
byte_sum=$(awk '$1 == "heap_byte" { print $3; exit }' "$results")
check "$byte_sum" scan_byte heap_byte
check "$index_total/$((index_total * INDEX_SIZE))" index_warm index_heap index_cold index_default_cache
check $((LOOKUPS * INDEX_SIZE)) join_first join_warm join_heap any_warm any_heap nl_first nl_warm nl_heap
# the heap really holds the bytes the archives hold (and the scans return them)
same=$(psql_ <<'SQL'
SET des.reader_cache_entries = 16;
SELECT (SELECT sum(('x' || left(md5(data), 15))::bit(60)::bigint) FROM t) =
       (SELECT sum(('x' || left(md5(data), 15))::bit(60)::bigint) FROM scan_heap)
   AND (SELECT sum(('x' || left(md5(p.data), 15))::bit(60)::bigint) FROM wanted w JOIN t2 p USING (name)) =
       (SELECT sum(('x' || left(md5(p.data), 15))::bit(60)::bigint) FROM wanted w JOIN look_heap p USING (name));
SQL
)
if [ "$same" != t ]; then
	echo "bench_fdw: the payloads read through des_fdw differ from the heap's" >&2
	exit 1
fi
echo "    checks passed: totals, and the md5 of every 8a payload and of every 8c payload match the heap's" >&2

# ---- rows
best() { awk -v k="$1" '$1 == k && (b == "" || $2 < b) { b = $2 } END { print b }' "$results"; }
stats() {	# one line of best/median/worst per kind, to stderr
	awk -v k="$1" '$1 == k { t[++n] = $2 }
	END {
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (t[j] < t[i]) { x = t[i]; t[i] = t[j]; t[j] = x }
		m = (n % 2) ? t[(n + 1) / 2] : (t[n / 2] + t[n / 2 + 1]) / 2
		printf "    %-20s best %9.1f  median %9.1f  worst %9.1f ms (%d round(s))\n", k, t[1], m, t[n], n
	}' "$results" >&2
}
echo "  summary:" >&2
for k in scan_len heap_len scan_byte heap_byte scan_size index_warm index_heap index_cold index_default_cache \
	join_first join_warm join_heap any_warm any_heap nl_first nl_warm nl_heap; do
	stats "$k"
done

# row <metric> <pg_des> <baseline> <ratio> <goal> <met>
row() { printf 'ROW\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >&3; }
yesno() { if awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; then echo "yes$quick_note"; else echo "NO$quick_note"; fi; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", b / a }'; }	# rate ratio from times a (pg_des), b (baseline)
mbs() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f MB/s", n / t / 1000 }'; }
mrows() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.2f M rows/s", n / t / 1000 }'; }
klook() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f k lookups/s", n / t }'; }
ms() { awk -v t="$1" 'BEGIN { printf "%.1f ms", t }'; }

bytes=$((SCAN_ENTRIES * SCAN_SIZE))
lab=$(heap_label "$heap_len")
a=$(best scan_len); b=$(best heap_len)
row "8a full scan sum(length(data)), $SCAN_ENTRIES x $SCAN_SIZE B, $SCAN_ARCHIVES archives" \
	"$(mbs $bytes "$a") ($(ms "$a"))" "$(mbs $bytes "$b") $lab, TOAST not read ($(ms "$b"))" \
	"$(ratio "$a" "$b")" ">= 1x heap" "$(yesno "$(awk -v a="$a" -v b="$b" 'BEGIN { print b / a }')" 1)"
lab=$(heap_label "$heap_byte")
a=$(best scan_byte); b=$(best heap_byte)
row "   same, sum(get_byte(data, $((SCAN_SIZE - 1)))): both read every byte" \
	"$(mbs $bytes "$a") ($(ms "$a"))" "$(mbs $bytes "$b") $lab ($(ms "$b"))" \
	"$(ratio "$a" "$b")" ">= 1x heap" "$(yesno "$(awk -v a="$a" -v b="$b" 'BEGIN { print b / a }')" 1)"
a=$(best scan_size); b=$(best heap_len)
row "   sum(size) FROM t (index only) vs heap sum(length(data))" \
	"$(ms "$a")" "$(ms "$b") $(heap_label "$heap_len")" "$(ratio "$a" "$b")" "(info)" "-"

lab=$(heap_label "$idx_heap")
a=$(best index_warm); b=$(best index_heap)
row "8b count(*), sum(size), $INDEX_ARCHIVES x $INDEX_ENTRIES entries, warm" \
	"$(mrows $index_total "$a") ($(ms "$a"))" "$(mrows $index_total "$b") $lab ($(ms "$b"))" \
	"$(ratio "$a" "$b")" ">= 5 M rows/s" "$(yesno "$(awk -v n=$index_total -v a="$a" 'BEGIN { print n / a * 1000 }')" 5000000)"
for k in index_cold index_default_cache; do
	if [ "$k" = index_cold ]; then label="   same, cold (after des.cache_reset())"
	else label="   same, warm, default des.reader_cache_entries (8)"; fi
	a=$(best "$k")
	row "$label" "$(mrows $index_total "$a") ($(ms "$a"))" "$(mrows $index_total "$b") $lab ($(ms "$b"))" \
		"$(ratio "$a" "$b")" "(info)" "-"
done

if [ "$plan_ok" = 0 ]; then
	row "8c WARNING: default plan is a $join_method, not a Nested Loop with Pushed: name = w.name" \
		"see stderr" "-" "-" "Nested Loop" "NO"
fi
lab=$(heap_label "$join_heap")
a=$(best join_warm); b=$(best join_heap); f=$(best join_first)
met=$(yesno "$(awk -v n="$LOOKUPS" -v a="$a" 'BEGIN { print n / a * 1000 }')" 100000)
if [ "$plan_ok" = 0 ]; then met="$met (plan: $join_method)"; fi
row "8c $LOOKUPS random lookups, join on name, $INDEX_ARCHIVES archives, warm, default plan ($join_method)" \
	"$(klook "$LOOKUPS" "$a") ($(ms "$a"))" "$(klook "$LOOKUPS" "$b") $lab ($(ms "$b"))" \
	"$(ratio "$a" "$b")" ">= 100 k lookups/s" "$met"
row "   same, first run (after des.cache_reset())" \
	"$(klook "$LOOKUPS" "$f") ($(ms "$f"))" "$(klook "$LOOKUPS" "$b") $lab ($(ms "$b"))" \
	"$(ratio "$f" "$b")" "(info)" "-"
lab=$(heap_label "$join_heap" "$force_nl")
a=$(best nl_warm); b=$(best nl_heap); f=$(best nl_first)
met=$(yesno "$(awk -v n="$LOOKUPS" -v a="$a" 'BEGIN { print n / a * 1000 }')" 100000)
if [ "$forced_ok" = 0 ]; then met="NO (not a nested loop)"; fi
row "   same as a Nested Loop (enable_hashjoin, enable_mergejoin off), warm" \
	"$(klook "$LOOKUPS" "$a") ($(ms "$a"))" "$(klook "$LOOKUPS" "$b") $lab + btree ($(ms "$b"))" \
	"$(ratio "$a" "$b")" ">= 100 k lookups/s" "$met"
row "   same Nested Loop, first run (opens the $INDEX_ARCHIVES indexes)" \
	"$(klook "$LOOKUPS" "$f") ($(ms "$f"))" "$(klook "$LOOKUPS" "$b") $lab + btree ($(ms "$b"))" \
	"$(ratio "$f" "$b")" "(info)" "-"
a=$(best any_warm); b=$(best any_heap)
row "   the same names as name = ANY (ARRAY(SELECT name FROM wanted))" \
	"$(klook "$LOOKUPS" "$a") ($(ms "$a"))" "$(klook "$LOOKUPS" "$b") $(heap_label "$any_heap") ($(ms "$b"))" \
	"$(ratio "$a" "$b")" "(info)" "-"
