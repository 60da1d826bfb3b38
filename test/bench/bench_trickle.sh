#!/bin/bash
# bench_trickle.sh - merging a trickle's small containers (issue "Reclaiming
# space safely"), row 12b:
#
#   One object a second (1 KiB each) for a simulated day: the objects of each
#   simulated minute are staged with their creation times in that minute of
#   a past day, and the workers (marker, packers) pack them before the next
#   minute comes, so the day ends with the containers a real trickle leaves
#   with des.container_max_age = 1 min: about one per non-empty shard per
#   minute. Then CALL des.gc_run() merges the day (it is over), timed; the
#   goal is at most 2^des.shard_bits containers left for the day, as the
#   original DES writes one archive per (day, shard). Every object is read
#   back byte-exact afterwards.
#
# stdout: "ROW" lines (run.sh formats them); stderr: progress.
#
# Environment:
#   BENCH_QUICK=1               a simulated hour instead of a day (smoke test)
#   BENCH_TRICKLE_MINUTES       simulated minutes   [1440; quick 60]
#   BENCH_DIR                   parent of the temporary directory [/tmp]
set -euo pipefail

quick=0
if [ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ]; then quick=1; fi
MINUTES=${BENCH_TRICKLE_MINUTES:-$([ "$quick" = 1 ] && echo 60 || echo 1440)}

if [ "${1:-}" != --inner ]; then
	command -v pg_virtualenv >/dev/null || { echo "bench_trickle: pg_virtualenv is missing (apt-get install postgresql-common)" >&2; exit 2; }
	work=$(mktemp -d "${BENCH_DIR:-/tmp}/pg_des_trickle.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	chmod 0755 "$work"
	[ "$(id -u)" = 0 ] && chown postgres "$work"
	export BENCH_WORK=$work
	pg_virtualenv -v 15 -o shared_preload_libraries=pg_des -o des.packers=2 \
		-o des.marker_naptime=10ms -o des.packer_naptime=10ms -o "des.storage=$work/storage" \
		"$0" --inner
	exit $?
fi

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
row() { printf 'ROW\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@"; }
psql_q() { psql -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }

psql_q "CREATE EXTENSION pg_des" >/dev/null
shard_bits=$(psql_q "SHOW des.shard_bits")
day=2026-01-01

# one simulated minute per transaction: 60 objects created a second apart,
# then wait until the workers have packed them
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
CREATE PROCEDURE trickle(sim_day date, minutes int)
LANGUAGE plpgsql AS \$\$
DECLARE
    m int;
    ids bigint[];
BEGIN
    FOR m IN 0 .. minutes - 1 LOOP
        ids := ARRAY(SELECT p.id FROM des.put_many(
                ARRAY(SELECT format('trickle/%s', m * 60 + s) FROM generate_series(0, 59) s),
                ARRAY(SELECT convert_to(repeat(md5((m * 60 + s)::text), 32), 'UTF8') FROM generate_series(0, 59) s)) p);
        -- (a later statement: one with the insert would not see its rows)
        UPDATE des.objects o SET created_at = sim_day + make_interval(secs => split_part(o.name, '/', 2)::int)
         WHERE o.id = ANY (ids);
        UPDATE des.mark_queue q SET created_at = o.created_at FROM des.objects o
         WHERE q.object_id = o.id AND o.id = ANY (ids);
        COMMIT;
        PERFORM des.wake_markers();
        WHILE EXISTS (SELECT FROM des.mark_queue) OR EXISTS (SELECT FROM des.pack_queue) LOOP
            PERFORM pg_sleep(0.002);
        END LOOP;
    END LOOP;
END \$\$;
SQL

echo "bench_trickle: $MINUTES simulated minutes, one object a second" >&2
t0=$(now)
psql_q "CALL trickle('$day', $MINUTES)"
t1=$(now)
before=$(psql_q "SELECT count(*) FROM des.containers WHERE day = '$day'")
objects=$(psql_q "SELECT count(*) FROM des.objects WHERE state = 'packed'")
sizes=$(psql_q "SELECT min(size) || '-' || max(size) FROM des.containers WHERE day = '$day'")
echo "bench_trickle: packed $objects objects into $before containers ($sizes bytes) in $(secs "$t0" "$t1") s" >&2

t0=$(now)
psql_q "CALL des.gc_run()"
t1=$(now)
gc=$(secs "$t0" "$t1")
after=$(psql_q "SELECT count(*) FROM des.containers WHERE day = '$day'")
state=$(psql_q "SELECT state || ', ' || containers_removed || ' containers removed, ' || storage_deleted || ' deleted from storage' FROM des.gc_runs ORDER BY id DESC LIMIT 1")
bad=$(psql_q "SELECT count(*) FROM des.objects o
               WHERE o.name LIKE 'trickle/%'
                 AND des.get(o.name) IS DISTINCT FROM convert_to(repeat(md5(split_part(o.name, '/', 2)), 32), 'UTF8')")
files=$(find "$BENCH_WORK/storage" -name "*.des" | wc -l)
echo "bench_trickle: gc_run ${gc}s ($state); $after containers left for the day, $files container files in storage; $bad objects read back wrong" >&2
[ "$bad" = 0 ] || { echo "bench_trickle: objects read back wrong" >&2; exit 1; }

goal=$((1 << shard_bits))
row "12b trickle: containers of a day ($objects objects, 1/s), after des.gc_run vs 2^shard_bits" "$after" "$goal" \
	"$(awk -v a="$after" -v b="$goal" 'BEGIN { printf "%.2f", a / b }')" "<= $goal" "$([ "$after" -le "$goal" ] && echo yes || echo no)"
row "12b   containers before merging; des.gc_run time (s)" "$before" "${gc} s" "-" "-" "-"
