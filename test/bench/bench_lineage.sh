#!/bin/bash
# bench_lineage.sh - lineage (issue "Lineage"), rows 13a-13b:
#
#   13a des.resolve of each gros:// tag kind, resolutions per second in one
#       session (a 200-bundle branch), beside resolving the plain ref
#       repo/branch in the same run
#   13b des.downstream / des.upstream to depth 10 over a graph of 1,000,000
#       edges (500,000 runs, each reading one bundle and committing one: a
#       binary tree of versions), beside the same walk as a plain recursive
#       CTE over a two-column edge table
#   13c a commit on a branch that 1,000 jobs follow: the commit's time beside
#       the same commit with no follower; every trigger enqueued once; the
#       first action's start after the commit (the real dispatcher, woken at
#       commit); all 1,000 actions done, actions per second
#   13d a CSV foreign table over a version (1,000,000 rows in 10 files, read
#       and typed), rows per second beside file_fdw over the same rows on
#       local disk (PostgreSQL's own CSV foreign tables: COPY's parser)
#
# stdout: "ROW" lines (run.sh formats them); stderr: progress.
#
# Environment:
#   BENCH_QUICK=1            smaller sizes (smoke test)
#   BENCH_LINEAGE_RUNS       runs in the graph   [500000; quick 20000]
#   BENCH_CSV_ROWS           rows of the CSV files (13d) [1000000; quick 100000]
#   BENCH_DIR                parent of the temporary directory [/tmp]
#   BENCH_LINEAGE_PARTS=resolve   13a only
set -euo pipefail

quick=0
if [ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ]; then quick=1; fi
RUNS=${BENCH_LINEAGE_RUNS:-$([ "$quick" = 1 ] && echo 20000 || echo 500000)}
RESOLVES=$([ "$quick" = 1 ] && echo 2000 || echo 20000)
CSV_ROWS=${BENCH_CSV_ROWS:-$([ "$quick" = 1 ] && echo 100000 || echo 1000000)}

if [ "${1:-}" != --inner ]; then
	command -v pg_virtualenv >/dev/null || { echo "bench_lineage: pg_virtualenv is missing" >&2; exit 2; }
	# workers on for the dispatcher only (13c); no marker or packer
	pg_virtualenv -v 15 -o shared_preload_libraries=pg_des -o des.markers=0 -o des.packers=0 -o des.dispatchers=1 \
		-o des.dispatcher_naptime=1h "$0" --inner
	exit $?
fi

row() { printf 'ROW\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@"; }
psql_q() { psql -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
# milliseconds of the last of a psql script's \timing lines
timed() { psql -X -q -At -v ON_ERROR_STOP=1 -c '\timing on' -c "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1; }

psql_q "CREATE EXTENSION pg_des" >/dev/null
psql_q "SELECT des.repo_create('lb', 'lineage bench');
        DO \$\$ BEGIN FOR i IN 1 .. 200 LOOP
            PERFORM des.stage('lb', 'main', 'f', convert_to(i::text, 'UTF8'));
            PERFORM des.commit('lb', 'main', 'v' || i);
        END LOOP; END \$\$;
        SELECT des.label_set('lb', 'rel', 'lb/main')" >/dev/null
# what autovacuum would have done by then: the branch row was updated 200
# times in one transaction, and its dead versions would slow every lookup
psql_q "VACUUM ANALYZE" >/dev/null
today=$(psql_q "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')")

echo "bench_lineage: $RESOLVES resolutions of each tag kind" >&2
base_ms=$(timed "SELECT count((des.resolve('lb/main')).bundle_id) FROM generate_series(1, $RESOLVES)")
base_rate=$(awk -v n="$RESOLVES" -v ms="$base_ms" 'BEGIN { printf "%.0f", n / ms * 1000 }')
for uri in "gros://lb" "gros://lb/main:latest" "gros://lb/main:$today" "gros://lb/main:-5" "gros://lb/main:5" "gros://lb:rel"; do
	ms=$(timed "SELECT count((des.resolve('$uri')).bundle_id) FROM generate_series(1, $RESOLVES)")
	rate=$(awk -v n="$RESOLVES" -v ms="$ms" 'BEGIN { printf "%.0f", n / ms * 1000 }')
	echo "bench_lineage: $uri ${rate}/s (plain ref ${base_rate}/s)" >&2
	row "13a des.resolve('${uri/$today/YYYY-MM-DD}') per second vs the ref lb/main" "$rate" "$base_rate" \
		"$(awk -v a="$rate" -v b="$base_rate" 'BEGIN { printf "%.2f", a / b }')" ">= 50000/s" \
		"$(awk -v r="$rate" 'BEGIN { print (r >= 50000) ? "yes" : "no" }')"
done
# a different position each call (0 to 199, then -1 to -200), so that no
# answer is simply the previous one
ms=$(timed "SELECT count((des.resolve('gros://lb/main:' || CASE WHEN g % 400 < 200 THEN g % 400 ELSE 199 - g % 400 END)).bundle_id)
            FROM generate_series(1, $RESOLVES) g")
rate=$(awk -v n="$RESOLVES" -v ms="$ms" 'BEGIN { printf "%.0f", n / ms * 1000 }')
echo "bench_lineage: each position in turn ${rate}/s" >&2
row "13a des.resolve('gros://lb/main:N'), N each position in turn, per second vs the ref lb/main" "$rate" "$base_rate" \
	"$(awk -v a="$rate" -v b="$base_rate" 'BEGIN { printf "%.2f", a / b }')" ">= 50000/s" \
	"$(awk -v r="$rate" 'BEGIN { print (r >= 50000) ? "yes" : "no" }')"
[ "${BENCH_LINEAGE_PARTS:-}" = resolve ] && exit 0

# the graph: versions numbered in heap order (1 the root, the first bundle of
# lb/main, so that des.downstream can start there); run r reads version
# (r+1)/2 and commits version r+1: a binary tree of R+1 versions
echo "bench_lineage: a graph of $((RUNS * 2)) edges" >&2
first=$(psql_q "SELECT bundle_id FROM des.log('lb/main') ORDER BY created_at LIMIT 1")
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
CREATE FUNCTION vid(k bigint) RETURNS bytea LANGUAGE sql IMMUTABLE AS
\$\$ SELECT CASE WHEN k = 1 THEN decode('$first', 'hex') ELSE sha256(int8send(k)) END \$\$;
INSERT INTO des.jobs (name, owner) VALUES ('bench', current_user::regrole);
INSERT INTO des.runs (id, job, role, pid, backend_start, state, ended_at)
SELECT md5(r::text)::uuid, 'bench', current_user::regrole, 0, now(), 'completed', now() FROM generate_series(1, $RUNS) r;
INSERT INTO des.lineage_edges (run_id, direction, repo_id, bundle_id, branch, uri)
SELECT md5(r::text)::uuid, 'input', (SELECT id FROM des.repositories WHERE name = 'lb'), vid((r + 1) / 2), 'main', 'gros://lb'
  FROM generate_series(1, $RUNS) r;
INSERT INTO des.lineage_edges (run_id, direction, repo_id, bundle_id, branch, uri)
SELECT md5(r::text)::uuid, 'output', (SELECT id FROM des.repositories WHERE name = 'lb'), vid(r + 1), 'main', 'gros://lb/main'
  FROM generate_series(1, $RUNS) r;
-- the baseline: the same graph as (from, to) pairs
CREATE TABLE plain_edges AS
SELECT i.bundle_id AS src, o.bundle_id AS dst FROM des.lineage_edges i JOIN des.lineage_edges o
    ON o.run_id = i.run_id AND o.direction = 'output' WHERE i.direction = 'input';
CREATE INDEX ON plain_edges (src);
CREATE INDEX ON plain_edges (dst);
ANALYZE;
SQL
edges=$(psql_q "SELECT count(*) FROM des.lineage_edges")
down=$(psql_q "SELECT count(*) FROM des.downstream('$first', 10)")
ours=999999
for i in 1 2 3; do
	ms=$(timed "SELECT count(*) FROM des.downstream('$first', 10)")
	ours=$(awk -v a="$ours" -v b="$ms" 'BEGIN { print (b < a) ? b : a }')
done
base=999999
for i in 1 2 3; do
	ms=$(timed "WITH RECURSIVE w(b, d) AS (SELECT decode('$first', 'hex'), 0
	              UNION SELECT e.dst, w.d + 1 FROM w JOIN plain_edges e ON e.src = w.b WHERE w.d < 10)
	            SELECT count(DISTINCT b) - 1 FROM w")
	base=$(awk -v a="$base" -v b="$ms" 'BEGIN { print (b < a) ? b : a }')
done
echo "bench_lineage: downstream depth 10 over $edges edges: $down rows, ${ours} ms (plain CTE ${base} ms)" >&2
row "13b des.downstream(v, 10) over $edges edges ($down versions), ms vs a plain recursive CTE" "$ours" "$base" \
	"$(awk -v a="$ours" -v b="$base" 'BEGIN { printf "%.2f", a / b }')" "< 100 ms" "$(awk -v r="$ours" 'BEGIN { print (r < 100) ? "yes" : "no" }')"

# 13c: 1,000 jobs follow one branch; each action records when it ran
JOBS=$([ "$quick" = 1 ] && echo 200 || echo 1000)
echo "bench_lineage: a commit followed by $JOBS jobs" >&2
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SELECT des.repo_create('followed'), des.repo_create('unfollowed');
CREATE TABLE fired (trigger_id bigint, job text, at timestamptz DEFAULT clock_timestamp());
SELECT count(des.job_create('follower-' || i, \$\$INSERT INTO public.fired (trigger_id, job) VALUES ((\$1->>'trigger_id')::bigint, \$1->>'job')\$\$))
  FROM generate_series(1, $JOBS) i;
SELECT count(des.subscribe('follower-' || i, 'gros://followed')) FROM generate_series(1, $JOBS) i;
SELECT des.stage(r, 'main', 'f', 'first') FROM unnest(ARRAY['followed', 'unfollowed']) r;
SELECT des.commit(r, 'main', 'first') FROM unnest(ARRAY['followed', 'unfollowed']) r;
SQL
psql_q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_des dispatcher'" | grep -qx 1 || { echo "bench_lineage: no dispatcher" >&2; exit 1; }
# wait for the first commit's triggers, then time a second commit of each repo
for i in $(seq 1 600); do
	[ "$(psql_q "SELECT count(*) FROM des.job_triggers WHERE state <> 'done'")" = 0 ] && break
	sleep 0.1
done
psql_q "TRUNCATE fired" >/dev/null
base_ms=999999
for i in 1 2 3; do
	psql_q "SELECT des.stage('unfollowed', 'main', 'f', 'again $i')" >/dev/null
	ms=$(timed "SELECT des.commit('unfollowed', 'main', 'again $i')")
	base_ms=$(awk -v a="$base_ms" -v b="$ms" 'BEGIN { print (b < a) ? b : a }')
done
psql_q "SELECT des.stage('followed', 'main', 'f', 'second')" >/dev/null
ours_ms=$(timed "SELECT des.commit('followed', 'main', 'second')")
for i in $(seq 1 1200); do
	[ "$(psql_q "SELECT count(*) FROM fired")" -ge "$JOBS" ] && break
	sleep 0.1
done
read -r enqueued distinct first_ms all_ms <<<"$(psql_q "
	SELECT count(t.id), count(DISTINCT t.job),
	       round(extract(epoch FROM min(f.at) - l.at) * 1000, 1), round(extract(epoch FROM max(f.at) - l.at) * 1000)
	  FROM des.branch_log l
	  JOIN des.job_triggers t ON t.bundle_id = l.new_head
	  LEFT JOIN fired f ON f.trigger_id = t.id
	 WHERE l.reason = 'commit' AND l.new_head = (SELECT decode(bundle_id, 'hex') FROM des.resolve('gros://followed'))
	 GROUP BY l.at" | tr '|' ' ')"
actions=$(psql_q "SELECT count(*) || ' ' || count(DISTINCT trigger_id) FROM fired")
echo "bench_lineage: commit with $JOBS followers ${ours_ms} ms (none: ${base_ms} ms); $enqueued triggers for $distinct jobs; actions $actions; first action ${first_ms} ms after the commit, all ${all_ms} ms" >&2
row "13c commit on a branch $JOBS jobs follow, ms vs the same commit followed by none" "$ours_ms" "$base_ms" \
	"$(awk -v a="$ours_ms" -v b="$base_ms" 'BEGIN { printf "%.2f", a / b }')" "each trigger once" \
	"$([ "$enqueued" = "$JOBS" ] && [ "$distinct" = "$JOBS" ] && [ "$actions" = "$JOBS $JOBS" ] && echo yes || echo no)"
row "13c first action's start after that commit, ms (the dispatcher woken at commit; all $JOBS done after ${all_ms} ms)" "$first_ms" "1000" \
	"$(awk -v a="$first_ms" 'BEGIN { printf "%.3f", a / 1000 }')" "< 1000 ms" "$(awk -v r="$first_ms" 'BEGIN { print (r < 1000) ? "yes" : "no" }')"

# 13d: CSV files of a version as a table, beside file_fdw over the same rows
echo "bench_lineage: CSV, $CSV_ROWS rows in 10 files" >&2
csvdir=$(mktemp -d "${BENCH_DIR:-/tmp}/pg_des_bench_csv.XXXXXX")
chmod 755 "$csvdir"
per=$((CSV_ROWS / 10))
for f in $(seq 0 9); do
	awk -v f="$f" -v n="$per" 'BEGIN { print "day,region,amount,note";
		for (i = 1; i <= n; i++) printf "2025-01-%02d,region-%d,%d.%02d,\"note %d, row %d\"\n", (i % 28) + 1, i % 50, i % 1000, i % 100, f, i }' \
		>"$csvdir/part-$f.csv"
done
# file_fdw reads one file: the same rows, one header
{ head -1 "$csvdir/part-0.csv"; for f in $(seq 0 9); do tail -n +2 "$csvdir/part-$f.csv"; done; } >"$csvdir/all.csv"
chmod 644 "$csvdir"/*.csv
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SELECT des.repo_create('csvbench');
SELECT count(des.stage('csvbench', 'main', 'daily/part-' || f || '.csv', pg_read_binary_file('$csvdir/part-' || f || '.csv')))
  FROM generate_series(0, 9) f;
SELECT des.commit('csvbench', 'main', 'csv');
CREATE SERVER csvbench FOREIGN DATA WRAPPER des_fdw;
CREATE FOREIGN TABLE csv_des (day date, region text, amount numeric, note text)
    SERVER csvbench OPTIONS (uri 'gros://csvbench', path 'daily/*.csv', format 'csv', header 'true');
CREATE EXTENSION file_fdw;
CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
CREATE FOREIGN TABLE csv_file (day date, region text, amount numeric, note text)
    SERVER files OPTIONS (filename '$csvdir/all.csv', format 'csv', header 'true');
SQL
q_des="SELECT count(*), sum(amount), count(DISTINCT region), max(day), sum(length(note)) FROM csv_des"
q_file="SELECT count(*), sum(amount), count(DISTINCT region), max(day), sum(length(note)) FROM csv_file"
same=$([ "$(psql_q "$q_des")" = "$(psql_q "$q_file")" ] && echo yes || echo no)
ours=999999
base=999999
for i in 1 2 3; do
	ms=$(timed "$q_des"); ours=$(awk -v a="$ours" -v b="$ms" 'BEGIN { print (b < a) ? b : a }')
	ms=$(timed "$q_file"); base=$(awk -v a="$base" -v b="$ms" 'BEGIN { print (b < a) ? b : a }')
done
rm -rf "$csvdir"
ours_rate=$(awk -v n="$CSV_ROWS" -v ms="$ours" 'BEGIN { printf "%.0f", n / ms * 1000 }')
base_rate=$(awk -v n="$CSV_ROWS" -v ms="$base" 'BEGIN { printf "%.0f", n / ms * 1000 }')
echo "bench_lineage: CSV table over a version ${ours} ms (${ours_rate} rows/s), file_fdw ${base} ms (${base_rate} rows/s), same answers: $same" >&2
row "13d CSV foreign table over a version, $CSV_ROWS rows, rows/s vs file_fdw over the same rows" "$ours_rate" "$base_rate" \
	"$(awk -v a="$ours_rate" -v b="$base_rate" 'BEGIN { printf "%.2f", a / b }')" "same answers" "$same"
