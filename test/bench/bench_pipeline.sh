#!/bin/bash
# bench_pipeline.sh - the pipeline's speed, on a throw-away cluster
# (pg_virtualenv) with pg_des preloaded and its workers running:
#
#   6  marking: des_internal.mark_batch(1000) in 1 and in 2 concurrent sessions, and the
#      marker background worker on a committed backlog, in rows/s, against one
#      UPDATE that does the same hashing of the same rows (the least marking
#      can cost);
#   7  end to end: a backlog of staged 1 KiB and of 64 KiB objects marked and
#      packed by the workers into committed containers on local storage,
#      against a plain INSERT of the same rows into a heap table (bytea,
#      default TOAST): the time to pack divided by the time to insert.
#      Payloads are random (incompressible), so TOAST compression does not
#      flatter the baseline. Beside it, the floor of the catalog: the same
#      per-object writes (marked, packed, blob) as three set-based statements
#      in one session, to tell the pipeline's overhead from the catalog's;
#      and the ingest itself (des.put per object, des.put_many in batches of
#      1,000) against the same INSERT, and reads of 2,000 random packed
#      objects by des.get against the same through their archives' indexes,
#      as information;
#   7p des.put against one-row INSERT statements, both prepared, in one
#      session (pgbench -M prepared), in µs per object;
#   7m ingest and packing together: BENCH_MILLION x 1 KiB objects loaded by
#      COPY into des.objects while the workers run, until all are packed,
#      against COPY of the same file into a heap table (objects/s, ratio).
#
# Needs the extension installed (make && make install).
# stdout: "ROW" lines (run.sh formats them); stderr: progress.
#
# Environment:
#   BENCH_QUICK=1           smaller sizes for a smoke test
#   BENCH_MARK_ROWS         rows for the marking benchmarks  [200000; quick 20000]
#   BENCH_E2E_SMALL         1 KiB objects end to end         [100000; quick 10000]
#   BENCH_E2E_LARGE         64 KiB objects end to end        [4000; quick 500]
#   BENCH_E2E_REPS          end-to-end runs; the best of each figure counts [3; quick 1]
#   BENCH_PUT_STATEMENTS    des.put calls for 7p, one statement each [50000; quick 5000]
#   BENCH_MILLION           objects for 7m, ingest by COPY + packing (0: skip) [1000000; quick 20000]
#   BENCH_DIR               parent of the temporary directory [/tmp]
set -euo pipefail

quick=0
if [ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ]; then quick=1; fi
pick() { if [ "$quick" = 1 ]; then echo "$2"; else echo "$1"; fi; }
MARK_ROWS=${BENCH_MARK_ROWS:-$(pick 200000 20000)}
E2E_SMALL=${BENCH_E2E_SMALL:-$(pick 100000 10000)}
E2E_LARGE=${BENCH_E2E_LARGE:-$(pick 4000 500)}
E2E_REPS=${BENCH_E2E_REPS:-$(pick 3 1)}
MILLION=${BENCH_MILLION:-$(pick 1000000 20000)}
PUT_STATEMENTS=${BENCH_PUT_STATEMENTS:-$(pick 50000 5000)}
if [ "$MILLION" != 0 ] && ! [[ $MILLION =~ ^[1-9][0-9]*$ ]]; then
	echo "bench_pipeline: BENCH_MILLION must be 0 or a positive integer, not '$MILLION'" >&2
	exit 1
fi
for v in MARK_ROWS E2E_SMALL E2E_LARGE E2E_REPS PUT_STATEMENTS; do
	if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
		echo "bench_pipeline: $v must be a positive integer, not '${!v}'" >&2
		exit 1
	fi
done

dir=$(mktemp -d "${BENCH_DIR:-/tmp}/pg_des_bench_pipeline.XXXXXX")
trap 'rm -rf "$dir"' EXIT
chmod 0755 "$dir"
mkdir "$dir/lake" "$dir/copy"
chown postgres "$dir/lake" "$dir/copy" 2>/dev/null || chmod 0777 "$dir/lake" "$dir/copy"

inner="$dir/inner.sh"
cat >"$inner" <<'INNER'
#!/bin/bash
set -euo pipefail
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d postgres "$@"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$(now)" -v b="$1" 'BEGIN { print a - b }'; }	# seconds since $1
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / t }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
wait_for() {	# wait_for <sql returning t when done>
	until [ "$(q -c "$1")" = t ]; do sleep 0.1; done
}
q -c 'CREATE EXTENSION pg_des'
# keep the workers off the rows the session benchmarks mark by hand
# and the packers asleep while marking is measured (they are woken for the end-to-end runs)
q -c "ALTER SYSTEM SET des.marker_min_age = '1h'" -c "ALTER SYSTEM SET des.container_max_age = '1h'" \
	-c "ALTER SYSTEM SET des.packer_naptime = '1h'" -c 'SELECT pg_reload_conf()' >/dev/null

# ---- 6. marking ----
mark_backlog() {
	q -c 'TRUNCATE des.objects, des.blobs, des.containers, des.shard_leases, des.dead_letters' \
	  -c "INSERT INTO des.objects (name, shard, size, staged)
	      SELECT 'm/' || i, des.shard_of('m/' || i), 100, decode(repeat(md5(i::text), 6) || '0123', 'hex')
	        FROM generate_series(1, $MARK_ROWS) i" -c 'VACUUM ANALYZE des.objects, des.mark_queue'
}
# one session, one transaction per batch, as the marker worker does
mark_loop() { q -c 'DO $$ BEGIN WHILE des_internal.mark_batch(1000) > 0 LOOP COMMIT; END LOOP; END $$'; }

worker_rate() {	# the marker worker(s) on a committed backlog
	mark_backlog
	local t0 t r met=no
	t0=$(now)
	q -c "ALTER SYSTEM SET des.marker_min_age = 0" -c 'SELECT pg_reload_conf()' -c 'SELECT des.wake_markers()' >/dev/null
	# polled on the work queue, not des.objects: des.objects has no index on
	# state, and a scan of it every 0.1 s would take CPU from the workers
	wait_for "SELECT NOT EXISTS (SELECT FROM des.mark_queue)"
	t=$(elapsed "$t0")
	[ "$(q -c "SELECT count(*) FROM des.objects WHERE state <> 'marked'")" = 0 ] || { echo "not all marked" >&2; exit 1; }
	r=$(rate "$MARK_ROWS" "$t")
	echo "$MARKERS marker worker(s) (batches of 1000): $t s ($r rows/s)" >&2
	[ "$r" -ge 50000 ] && met=yes
	printf 'ROW\t6 marker: %s background worker(s), batches of 1000, rows/s\t%s\t%s\t%s\t>= 50,000 rows/s\t%s\n' \
		"$MARKERS" "$r" "$BASE_RATE" "$(ratio "$r" "$BASE_RATE")" "$met"
	q -c "ALTER SYSTEM SET des.marker_min_age = '1h'" -c 'SELECT pg_reload_conf()' >/dev/null
}
if [ "$PART" = workers ]; then
	worker_rate
	exit 0
fi

mark_backlog
t0=$(now)
q -c "UPDATE des.objects SET hash = des.blake2b(staged), day = (created_at AT TIME ZONE 'UTC')::date"
base=$(elapsed "$t0")
base_rate=$(rate "$MARK_ROWS" "$base")
echo "marking baseline: one UPDATE hashing $MARK_ROWS rows: $base s ($base_rate rows/s)" >&2

for sessions in 1 2; do
	mark_backlog
	t0=$(now)
	for s in $(seq 1 "$sessions"); do mark_loop & done
	wait
	t=$(elapsed "$t0")
	[ "$(q -c "SELECT count(*) FROM des.objects WHERE state = 'marked'")" = "$MARK_ROWS" ] || { echo "not all marked" >&2; exit 1; }
	r=$(rate "$MARK_ROWS" "$t")
	echo "des_internal.mark_batch(1000) in $sessions session(s): $t s ($r rows/s)" >&2
	met=no; [ "$r" -ge 50000 ] && met=yes
	printf 'ROW\t6 marker: des_internal.mark_batch(1000), %s session(s), rows/s\t%s\t%s\t%s\t>= 50,000 rows/s\t%s\n' \
		"$sessions" "$r" "$base_rate" "$(ratio "$r" "$base_rate")" "$met"
done

BASE_RATE=$base_rate worker_rate
echo "$base_rate" >"$BASE_FILE"

# ---- 7. end to end ----
minimum() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a < b) ? a : b }'; }

e2e_once() {	# e2e_once <label> <objects> <bytes per object>: sets t_insert t_put t_pack t_floor containers
	local label=$1 n=$2 size=$3 md5s t0
	md5s=$((size / 16))
	q -c "ALTER SYSTEM SET des.marker_min_age = '1h'" -c 'SELECT pg_reload_conf()' >/dev/null
	sleep 0.3
	q -c 'TRUNCATE des.objects, des.blobs, des.containers, des.shard_leases, des.dead_letters' \
	  -c 'DROP TABLE IF EXISTS src, heap' \
	  -c "CREATE TABLE src AS SELECT 'e/' || i AS name, r.data
	        FROM generate_series(1, $n) i,
	             LATERAL (SELECT decode(string_agg(md5(random()::text || i || g), ''), 'hex') AS data
	                        FROM generate_series(1, $md5s) g) r" \
	  -c 'CREATE TABLE heap (name text PRIMARY KEY, data bytea)' -c 'CHECKPOINT'
	rm -rf "$LAKE"/*
	t0=$(now)
	q -c 'INSERT INTO heap SELECT name, data FROM src'
	t_insert=$(elapsed "$t0")
	q -c 'CHECKPOINT'
	t0=$(now)
	q -c 'SELECT count(des.put(name, data)) FROM src' >/dev/null
	t_put=$(elapsed "$t0")
	q -c 'CHECKPOINT'
	# the backlog is in; now the workers: mark, pack, commit
	t0=$(now)
	q -c "ALTER SYSTEM SET des.marker_min_age = 0" -c "ALTER SYSTEM SET des.container_max_age = 0" \
	  -c "ALTER SYSTEM SET des.packer_naptime = '100ms'" \
	  -c 'SELECT pg_reload_conf()' -c 'SELECT des.wake_markers(), des.wake_packers()' >/dev/null
	# (polled on the work queues, as above; then checked on des.objects)
	wait_for "SELECT NOT EXISTS (SELECT FROM des.mark_queue) AND NOT EXISTS (SELECT FROM des.pack_queue)"
	t_pack=$(elapsed "$t0")
	[ "$(q -c "SELECT count(*) FROM des.objects WHERE state <> 'packed'")" = 0 ] || { echo "not all packed" >&2; exit 1; }
	# the workers rest again: the floor and the ingest below are measured alone
	q -c "ALTER SYSTEM SET des.marker_min_age = '1h'" -c "ALTER SYSTEM SET des.container_max_age = '1h'" \
	  -c "ALTER SYSTEM SET des.packer_naptime = '1h'" -c 'SELECT pg_reload_conf()' >/dev/null
	sleep 0.3
	[ "$(q -c "SELECT count(*) FROM des.get_many(ARRAY(SELECT name FROM src ORDER BY random() LIMIT 200)) g
	           JOIN src USING (name) WHERE g.data = src.data")" = 200 ] || { echo "read-back check failed" >&2; exit 1; }
	containers=$(q -c "SELECT count(*) FROM des.containers WHERE state = 'committed'")

	# reads of packed objects: des.get (a plain local blob is read at its
	# recorded offset) against the same blobs read by name through their
	# archives' indexes (des.archive_read, default reader cache)
	q -c "CREATE TABLE IF NOT EXISTS picked AS SELECT name FROM src ORDER BY random() LIMIT 2000" >/dev/null
	# both reads find the containers in the page cache: archives written with
	# O_DIRECT (des.direct_io) are not, and whichever read came first paid for it
	q -c "SELECT sum(length(des.archive_read(c.location, b.entry)))
	        FROM picked p JOIN des.objects o ON o.name = p.name JOIN des.blobs b ON b.hash = o.hash
	        JOIN des.containers c ON c.id = b.container_id" >/dev/null
	t0=$(now)
	[ "$(q -c "SELECT sum(length(des.get(p.name))) = count(*) * $size FROM picked p")" = t ] || { echo "des.get: wrong bytes" >&2; exit 1; }
	t_get=$(elapsed "$t0")
	t0=$(now)
	[ "$(q -c "SELECT sum(length(des.archive_read(c.location, b.entry))) = count(*) * $size
	             FROM picked p JOIN des.objects o ON o.name = p.name JOIN des.blobs b ON b.hash = o.hash
	             JOIN des.containers c ON c.id = b.container_id")" = t ] || { echo "archive_read: wrong bytes" >&2; exit 1; }
	t_index_read=$(elapsed "$t0")
	q -c "DROP TABLE picked"

	# The floor of this catalog: the writes every object needs at the least
	# (marked: hash and day; packed: staged bytes freed; its blob recorded),
	# as three set-based statements in one session: no queues, no claims,
	# no leases, no archive, no per-container transactions. No pipeline
	# built on this catalog beats it on one core; on two, at best half.
	q -c 'TRUNCATE des.objects, des.blobs, des.containers, des.shard_leases, des.dead_letters' \
	  -c "INSERT INTO des.objects (name, shard, size, staged) SELECT name, des.shard_of(name), length(data), data FROM src" \
	  -c "INSERT INTO des.containers (location, day, shard, seq, state) VALUES ('floor', current_date, 0, 0, 'writing')" \
	  -c 'VACUUM ANALYZE des.objects' -c 'CHECKPOINT'
	t0=$(now)
	q -c "UPDATE des.objects SET state = 'marked', hash = des.blake2b(staged),
	             day = (created_at AT TIME ZONE 'UTC')::date, updated_at = now()" \
	  -c "UPDATE des.objects SET state = 'packed', staged = NULL, updated_at = now()" \
	  -c "INSERT INTO des.blobs (hash, container_id, entry, size, data_offset, stored_size, flags, refcount)
	      SELECT o.hash, c.id, o.name, o.size, 32, o.size, 0, 1 FROM des.objects o, des.containers c"
	t_floor=$(elapsed "$t0")
	[ "$(q -c "SELECT count(*) FROM des.blobs")" = "$n" ] || { echo "floor: not every blob recorded" >&2; exit 1; }

	# ingest in batches: des.put_many of 1,000 objects at a time
	q -c 'TRUNCATE des.objects, des.blobs, des.containers, des.shard_leases, des.dead_letters' -c 'CHECKPOINT'
	t0=$(now)
	q -c "SELECT count(*) FROM (SELECT array_agg(name) AS names, array_agg(data) AS datas
	                              FROM (SELECT name, data, (row_number() OVER ()) / 1000 AS batch FROM src) x
	                             GROUP BY batch) g,
	                           LATERAL des.put_many(g.names, g.datas)" >/dev/null
	t_put_many=$(elapsed "$t0")
	[ "$(q -c "SELECT count(*) FROM des.mark_queue")" = "$n" ] || { echo "put_many: not every object queued" >&2; exit 1; }
	echo "$label: INSERT into a heap $t_insert s; des.put $t_put s; des.put_many $t_put_many s; marked+packed into $containers containers in $t_pack s; the catalog's floor $t_floor s; 2,000 des.get $t_get s, through the indexes $t_index_read s" >&2
}

e2e() {	# e2e <label> <objects> <bytes per object>: the best of E2E_REPS runs of each
	local label=$1 n=$2 size=$3 i
	local t_insert t_put t_put_many t_pack t_floor t_get t_index_read containers
	local best_insert='' best_put='' best_put_many='' best_pack='' best_floor='' best_get='' best_index_read=''
	for i in $(seq 1 "$E2E_REPS"); do
		e2e_once "$label" "$n" "$size"
		best_insert=$(minimum "$t_insert" "$best_insert")
		best_put=$(minimum "$t_put" "$best_put")
		best_put_many=$(minimum "$t_put_many" "$best_put_many")
		best_get=$(minimum "$t_get" "$best_get")
		best_index_read=$(minimum "$t_index_read" "$best_index_read")
		best_pack=$(minimum "$t_pack" "$best_pack")
		best_floor=$(minimum "$t_floor" "$best_floor")
	done
	local mb r met=no
	mb=$(awk -v n="$n" -v s="$size" -v t="$best_pack" 'BEGIN { printf "%.0f", n * s / 1048576 / t }')
	echo "$label, best of $E2E_REPS: INSERT $best_insert s; des.put $best_put s; des.put_many $best_put_many s; marked+packed $best_pack s ($(rate "$n" "$best_pack") objects/s, $mb MB/s); floor $best_floor s" >&2
	r=$(ratio "$best_pack" "$best_insert")
	awk -v r="$r" 'BEGIN { exit !(r <= 2) }' && met=yes
	printf 'ROW\t7 end to end %s: backlog packed (s) vs INSERT (s); %s objects/s, %s MB/s\t%.2f\t%.2f\t%s\t<= 2x INSERT time\t%s\n' \
		"$label" "$(rate "$n" "$best_pack")" "$mb" "$best_pack" "$best_insert" "$r" "$met"
	printf 'ROW\t7 floor %s: the same catalog writes as 3 set-based statements, 1 session (s) vs INSERT (s)\t%.2f\t%.2f\t%s\t(info: least the catalog costs)\t-\n' \
		"$label" "$best_floor" "$best_insert" "$(ratio "$best_floor" "$best_insert")"
	printf 'ROW\t7 pipeline %s: backlog packed (s) vs the floor of its catalog (s)\t%.2f\t%.2f\t%s\t(info: overhead of queues, claims, containers)\t-\n' \
		"$label" "$best_pack" "$best_floor" "$(ratio "$best_pack" "$best_floor")"
	printf 'ROW\t7 ingest %s: des.put, one call per object (s) vs INSERT (s)\t%.2f\t%.2f\t%s\t(info)\t-\n' \
		"$label" "$best_put" "$best_insert" "$(ratio "$best_put" "$best_insert")"
	printf 'ROW\t7 ingest %s: des.put_many, batches of 1,000 (s) vs INSERT (s)\t%.2f\t%.2f\t%s\t(info)\t-\n' \
		"$label" "$best_put_many" "$best_insert" "$(ratio "$best_put_many" "$best_insert")"
	printf 'ROW\t7 reads %s: des.get of 2,000 random packed objects, or all if fewer (ms) vs the same through their archives'"'"' indexes (ms)\t%.1f\t%.1f\t%s\t(info: %s containers)\t-\n' \
		"$label" "$(awk -v t="$best_get" 'BEGIN { print t * 1000 }')" "$(awk -v t="$best_index_read" 'BEGIN { print t * 1000 }')" \
		"$(ratio "$best_get" "$best_index_read")" "$containers"
}
e2e "$E2E_SMALL x 1 KiB" "$E2E_SMALL" 1024
e2e "$E2E_LARGE x 64 KiB" "$E2E_LARGE" 65536

# ---- 7p. des.put against one-row INSERT statements ----
# Both prepared (pgbench -M prepared), one session, one statement per
# object, the same 1 KiB payload from a one-row table, names from a sequence.
put_statements() {
	local n=$1 tps_insert tps_put
	q -c "ALTER SYSTEM SET des.marker_min_age = '1h'" -c 'SELECT pg_reload_conf()' >/dev/null
	q -c 'TRUNCATE des.objects, des.blobs, des.containers, des.shard_leases, des.dead_letters' \
	  -c 'DROP TABLE IF EXISTS heap1, payload' -c 'DROP SEQUENCE IF EXISTS put_names' \
	  -c 'CREATE TABLE heap1 (name text PRIMARY KEY, data bytea)' -c 'CREATE SEQUENCE put_names' \
	  -c "CREATE TABLE payload AS SELECT decode(repeat(md5('payload'), 64), 'hex') AS data" -c 'CHECKPOINT'
	echo "INSERT INTO heap1 (name, data) VALUES ('p/' || nextval('put_names'), (SELECT data FROM payload));" >"$COPYDIR/insert.sql"
	echo "SELECT des.put('q/' || nextval('put_names'), (SELECT data FROM payload));" >"$COPYDIR/put.sql"
	tps_insert=$(pgbench -n -M prepared -c 1 -t "$n" -f "$COPYDIR/insert.sql" postgres 2>/dev/null |
		sed -n 's/^tps = \([0-9.]*\).*/\1/p')
	q -c 'CHECKPOINT'
	tps_put=$(pgbench -n -M prepared -c 1 -t "$n" -f "$COPYDIR/put.sql" postgres 2>/dev/null |
		sed -n 's/^tps = \([0-9.]*\).*/\1/p')
	[ -n "$tps_insert" ] && [ -n "$tps_put" ] || { echo "put_statements: pgbench failed" >&2; exit 1; }
	[ "$(q -c "SELECT count(*) FROM des.objects WHERE name LIKE 'q/%'")" = "$n" ] || { echo "put_statements: objects missing" >&2; exit 1; }
	echo "one statement per object, prepared, 1 session: INSERT $tps_insert/s, des.put $tps_put/s" >&2
	printf 'ROW\t7p ingest 1 KiB: des.put, %s prepared statements in 1 session (µs each) vs one-row INSERT statements (µs each)\t%.1f\t%.1f\t%s\t<= 2x\t%s\n' \
		"$n" "$(awk -v t="$tps_put" 'BEGIN { print 1e6 / t }')" "$(awk -v t="$tps_insert" 'BEGIN { print 1e6 / t }')" \
		"$(ratio "$tps_insert" "$tps_put")" "$(awk -v a="$tps_insert" -v b="$tps_put" 'BEGIN { print (a / b <= 2) ? "yes" : "no" }')"
	q -c 'DROP TABLE heap1, payload' -c 'DROP SEQUENCE put_names' >/dev/null
}
put_statements "$PUT_STATEMENTS"

# ---- 7m. ingest and packing together, by COPY ----
# The figure users compare: N x 1 KiB objects loaded with COPY into
# des.objects (name, staged) while the workers run, until every one is in a
# committed container, against COPY of the same file into a heap table and
# nothing else. One run (it takes minutes); the file is binary COPY format.
million() {
	local n=$1 t0 t_copy t_des file="$COPYDIR/objects.copy"
	q -c "ALTER SYSTEM SET des.marker_min_age = '1h'" -c "ALTER SYSTEM SET des.container_max_age = '1h'" \
	  -c "ALTER SYSTEM SET des.packer_naptime = '1h'" -c 'SELECT pg_reload_conf()' >/dev/null
	q -c 'TRUNCATE des.objects, des.blobs, des.containers, des.shard_leases, des.dead_letters' \
	  -c 'DROP TABLE IF EXISTS src, heap' -c 'CREATE TABLE heap (name text PRIMARY KEY, data bytea)' \
	  -c "COPY (SELECT 'c/' || i, decode(repeat(md5(i::text), 64), 'hex') FROM generate_series(1, $n) i)
	        TO '$file' WITH (FORMAT binary)" -c 'CHECKPOINT'
	rm -rf "${LAKE:?}"/*
	t0=$(now)
	q -c "COPY heap FROM '$file' WITH (FORMAT binary)"
	t_copy=$(elapsed "$t0")
	q -c 'DROP TABLE heap' -c 'CHECKPOINT'
	q -c "ALTER SYSTEM SET des.marker_min_age = 0" -c "ALTER SYSTEM SET des.container_max_age = 0" \
	  -c "ALTER SYSTEM SET des.packer_naptime = '100ms'" -c 'SELECT pg_reload_conf()' >/dev/null
	t0=$(now)
	q -c "COPY des.objects (name, staged) FROM '$file' WITH (FORMAT binary)"
	wait_for "SELECT NOT EXISTS (SELECT FROM des.mark_queue) AND NOT EXISTS (SELECT FROM des.pack_queue)"
	t_des=$(elapsed "$t0")
	[ "$(q -c "SELECT count(*) FILTER (WHERE state = 'packed') = $n AND count(*) = $n FROM des.objects")" = t ] ||
		{ echo "million: not every object packed" >&2; exit 1; }
	rm -f "$file"
	echo "$n x 1 KiB: COPY into a heap $t_copy s; COPY into des.objects and packed $t_des s ($(rate "$n" "$t_des") objects/s)" >&2
	printf 'ROW\t7m ingest + packing, %s x 1 KiB: COPY into des.objects until all packed (s) vs COPY into a heap (s); %s objects/s\t%.2f\t%.2f\t%s\t(info: the figure to compare)\t-\n' \
		"$n" "$(rate "$n" "$t_des")" "$t_des" "$t_copy" "$(ratio "$t_des" "$t_copy")"
}
if [ "$MILLION" != 0 ]; then
	million "$MILLION"
fi
INNER
chmod 0755 "$inner"

echo "== bench_pipeline: $MARK_ROWS rows to mark; $E2E_SMALL x 1 KiB and $E2E_LARGE x 64 KiB end to end" >&2
export LAKE="$dir/lake" COPYDIR="$dir/copy" MARK_ROWS E2E_SMALL E2E_LARGE E2E_REPS MILLION PUT_STATEMENTS BASE_FILE="$dir/base_rate"
PART=all MARKERS=1 pg_virtualenv -t -v 15 -o shared_preload_libraries=pg_des -o des.storage="$dir/lake" \
	-o des.packers=2 -o des.markers=1 -o des.marker_naptime=100ms -o des.packer_naptime=100ms \
	-o max_wal_size=4GB bash "$inner"
# the same backlog marked by two marker workers (des.markers is fixed at server start)
PART=workers MARKERS=2 BASE_RATE=$(cat "$dir/base_rate") pg_virtualenv -t -v 15 \
	-o shared_preload_libraries=pg_des -o des.storage="$dir/lake" -o des.packers=2 -o des.markers=2 \
	-o des.marker_naptime=100ms -o des.packer_naptime=100ms -o max_wal_size=4GB bash "$inner"
