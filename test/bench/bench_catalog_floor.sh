#!/bin/bash
# bench_catalog_floor.sh - what the catalog's own writes cost for small
# objects, today's design against a staging design, on a throw-away cluster
# (pg_virtualenv -t, pg_des preloaded, its workers off). No archive is
# written: these are the floors under the pipeline of each design (issue
# "Small objects at table speed", docs/benchmarks.md section 6-7).
#
#   baseline  INSERT of N x 1 KiB rows (name, data) into a heap table with a
#             primary key on name
#   today     des.objects as it is: the rows inserted staged, then the three
#             set-based statements every object needs afterwards (marked:
#             hash and day, a new 1 KiB row version; packed: staged bytes
#             freed, another version; its blob recorded)
#   staging   the bytes staged once in a table of their own (unique index on
#             name, no other), then packing as inserts only: a small object
#             row (id, name, hash, size, meta, container; primary key and
#             unique name) and a blob row per object, the staging table
#             truncated: no staged row is ever updated or deleted one by one
#   split     des.objects kept (a small row per object, its state column
#             and indexes as today) with the staged bytes in a table of their
#             own keyed by (shard, id), which is also the packers' queue;
#             packing hashes and updates the small row (no marking step),
#             records the blob and truncates the bytes' table
#
# Each figure is the best of BENCH_FLOOR_REPS runs (default 3) with a
# CHECKPOINT before each timed statement (so full-page images count where a
# design rewrites pages). WAL volume is printed beside each time.
#
# Needs the extension installed (make && make install).
# Environment: BENCH_FLOOR_ROWS [100000], BENCH_FLOOR_REPS [3], BENCH_DIR [/tmp]
set -euo pipefail

ROWS=${BENCH_FLOOR_ROWS:-100000}
REPS=${BENCH_FLOOR_REPS:-3}
for v in ROWS REPS; do
	if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
		echo "bench_catalog_floor: $v must be a positive integer, not '${!v}'" >&2
		exit 1
	fi
done
dir=$(mktemp -d "${BENCH_DIR:-/tmp}/pg_des_bench_floor.XXXXXX")
trap 'rm -rf "$dir"' EXIT
chmod 0755 "$dir"

cat >"$dir/inner.sh" <<'INNER'
#!/bin/bash
set -euo pipefail
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d postgres "$@"; }
now() { date +%s.%N; }
lsn() { q -c 'SELECT pg_current_wal_lsn()'; }
declare -A best=()
# timed <slot> <sql...>: runs the statements in one session after a CHECKPOINT; keeps the best time per slot
timed() {
	local slot=$1 t0 t w0 w1
	shift
	q -c CHECKPOINT
	w0=$(lsn)
	t0=$(now)
	q "$@" >/dev/null
	t=$(awk -v a="$(now)" -v b="$t0" 'BEGIN { print a - b }')
	w1=$(lsn)
	echo "    $slot: $t s, $(q -c "SELECT pg_size_pretty(pg_wal_lsn_diff('$w1', '$w0'))") of WAL" >&2
	if [ -z "${best[$slot]:-}" ] || awk -v a="$t" -v b="${best[$slot]}" 'BEGIN { exit !(a < b) }'; then
		best[$slot]=$t
	fi
}
q -c 'CREATE EXTENSION pg_des'
q -c "CREATE TABLE src AS SELECT 'e/' || i AS name, r.data
        FROM generate_series(1, $ROWS) i,
             LATERAL (SELECT decode(string_agg(md5(random()::text || i || g), ''), 'hex') AS data
                        FROM generate_series(1, 64) g) r" -c 'VACUUM ANALYZE src'
for rep in $(seq 1 "$REPS"); do
	echo "  run $rep" >&2
	q -c "SET client_min_messages = warning" -c "DROP TABLE IF EXISTS heap, staging, objs, blobs2, objs3, bytes3, blobs3" \
	  -c 'TRUNCATE des.objects, des.blobs, des.containers, des.dead_letters' \
	  -c 'CREATE TABLE heap (name text PRIMARY KEY, data bytea)' \
	  -c 'CREATE TABLE staging (id bigint NOT NULL, name text NOT NULL, data bytea NOT NULL,
	                            meta jsonb NOT NULL DEFAULT $${}$$, created_at timestamptz NOT NULL DEFAULT now())' \
	  -c 'ALTER TABLE staging ALTER COLUMN data SET STORAGE EXTERNAL' \
	  -c 'CREATE UNIQUE INDEX ON staging (name)' \
	  -c 'CREATE TABLE objs (id bigint PRIMARY KEY, name text NOT NULL UNIQUE, hash bytea NOT NULL, size bigint NOT NULL,
	                         meta jsonb NOT NULL, container_id bigint NOT NULL, created_at timestamptz NOT NULL)' \
	  -c 'CREATE TABLE blobs2 (LIKE des.blobs INCLUDING DEFAULTS, PRIMARY KEY (hash))' \
	  -c 'CREATE TABLE blobs3 (LIKE des.blobs INCLUDING DEFAULTS, PRIMARY KEY (hash))' \
	  -c "CREATE TABLE objs3 (id bigint PRIMARY KEY, name text NOT NULL UNIQUE, state des.object_state NOT NULL DEFAULT 'pending',
	                         shard int, day date, size bigint, hash bytea, meta jsonb NOT NULL DEFAULT '{}',
	                         created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())
	      WITH (fillfactor = 70)" \
	  -c 'CREATE TABLE bytes3 (shard int NOT NULL, object_id bigint NOT NULL, data bytea NOT NULL, PRIMARY KEY (shard, object_id))' \
	  -c 'ALTER TABLE bytes3 ALTER COLUMN data SET STORAGE EXTERNAL'
	timed insert -c 'INSERT INTO heap SELECT name, data FROM src'
	# today: staged rows in, then the writes after the insert
	timed today_ingest -c "INSERT INTO des.objects (name, shard, size, staged)
	                       SELECT name, des.shard_of(name), length(data), data FROM src"
	q -c "INSERT INTO des.containers (location, day, shard, seq, state) VALUES ('floor', current_date, 0, 0, 'writing')" \
	  -c 'VACUUM ANALYZE des.objects' >/dev/null
	timed today_pack \
	  -c "UPDATE des.objects SET state = 'marked', hash = des.blake2b(staged),
	             day = (created_at AT TIME ZONE 'UTC')::date, updated_at = now()" \
	  -c "UPDATE des.objects SET state = 'packed', staged = NULL, updated_at = now()" \
	  -c "INSERT INTO des.blobs (hash, container_id, entry, size, data_offset, stored_size, flags, refcount)
	      SELECT o.hash, c.id, o.name, o.size, 32, o.size, 0, 1 FROM des.objects o, des.containers c"
	# staging: one insert, then inserts only and a truncate
	timed staging_ingest -c 'INSERT INTO staging (id, name, data) SELECT des.next_id(), name, data FROM src'
	timed staging_pack -c 'BEGIN' \
	  -c 'INSERT INTO objs SELECT s.id, s.name, des.blake2b(s.data), length(s.data), s.meta, 1, s.created_at FROM staging s' \
	  -c 'INSERT INTO blobs2 (hash, container_id, entry, size, data_offset, stored_size, flags, refcount)
	      SELECT o.hash, 1, o.name, o.size, 32, o.size, 0, 1 FROM objs o' \
	  -c 'TRUNCATE staging' -c 'COMMIT'
	# split: a small object row and its bytes in one statement, then pack by updating the small row
	timed split_ingest -c 'WITH o AS (INSERT INTO objs3 (id, name, shard, meta)
	                                  SELECT des.next_id(), name, des.shard_of(name), $${}$$ FROM src
	                                  RETURNING id, name, shard)
	                       INSERT INTO bytes3 SELECT o.shard, o.id, s.data FROM o JOIN src s USING (name)'
	q -c 'VACUUM ANALYZE objs3, bytes3' >/dev/null
	timed split_pack -c 'BEGIN' \
	  -c "UPDATE objs3 o SET state = 'packed', hash = des.blake2b(b.data), size = length(b.data),
	             day = (o.created_at AT TIME ZONE 'UTC')::date, updated_at = now()
	        FROM bytes3 b WHERE b.object_id = o.id" \
	  -c 'INSERT INTO blobs3 (hash, container_id, entry, size, data_offset, stored_size, flags, refcount)
	      SELECT o.hash, 1, o.name, o.size, 32, o.size, 0, 1 FROM objs3 o' \
	  -c 'TRUNCATE bytes3' -c 'COMMIT'
	[ "$(q -c 'SELECT count(*) FROM blobs3')" = "$ROWS" ] && [ "$(q -c 'SELECT count(*) FROM blobs2')" = "$ROWS" ] && [ "$(q -c 'SELECT count(*) FROM des.blobs')" = "$ROWS" ] ||
		{ echo "bench_catalog_floor: not every blob recorded" >&2; exit 1; }
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
for slot in today_ingest today_pack staging_ingest staging_pack split_ingest split_pack; do
	printf 'ROW\tcatalog floor %s x 1 KiB: %s (s) vs INSERT (s)\t%.3f\t%.3f\t%s\t(info)\t-\n' \
		"$ROWS" "$slot" "${best[$slot]}" "${best[insert]}" "$(ratio "${best[$slot]}" "${best[insert]}")"
done
INNER
chmod 0755 "$dir/inner.sh"
cd "$dir"
ROWS=$ROWS REPS=$REPS pg_virtualenv -t -v 15 -o shared_preload_libraries=pg_des -o des.workers=off "$dir/inner.sh"
