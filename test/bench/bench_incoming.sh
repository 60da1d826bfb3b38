#!/bin/bash
# bench_incoming.sh - the bulk path (des.incoming) on a throw-away cluster
# (pg_virtualenv -t) with pg_des preloaded and two packers, local storage:
#
#   7c COPY of N x 1 KiB rows (name, data; binary format) into des.incoming
#      against COPY of the same file into a heap table with a primary key on
#      name (issue goal: <= 1.5x);
#   7i INSERT ... SELECT of the same rows into des.incoming against INSERT
#      into that heap table (the put_many goal's shape: <= 1.5x), and the
#      staged backlog packed by the workers into committed containers
#      against the same INSERT (the end-to-end goal: <= 2x);
#   7n ingest + packing together: BENCH_INCOMING_MILLION x 1 KiB COPYed into
#      des.incoming while the packers run, until every row is a packed
#      object, against COPY of the same file into the heap (objects/s).
# Payloads are random (incompressible). Each 7c/7i figure is the best of
# BENCH_INCOMING_REPS runs, with a CHECKPOINT before each timed step.
#
# Needs the extension installed (make && make install).
# stdout: "ROW" lines (run.sh formats them); stderr: progress.
# Environment: BENCH_INCOMING_ROWS [100000], BENCH_INCOMING_REPS [3],
#   BENCH_INCOMING_MILLION [1000000; 0 skips 7n], BENCH_DIR [/tmp]
set -euo pipefail

ROWS=${BENCH_INCOMING_ROWS:-100000}
REPS=${BENCH_INCOMING_REPS:-3}
MILLION=${BENCH_INCOMING_MILLION:-1000000}
for v in ROWS REPS; do
	if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
		echo "bench_incoming: $v must be a positive integer, not '${!v}'" >&2
		exit 1
	fi
done
[[ $MILLION =~ ^[0-9]+$ ]] || { echo "bench_incoming: BENCH_INCOMING_MILLION must be a number" >&2; exit 1; }
dir=$(mktemp -d "${BENCH_DIR:-/tmp}/pg_des_bench_incoming.XXXXXX")
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/lake" "$dir/copy"
chmod -R 0777 "$dir"

cat >"$dir/inner.sh" <<'INNER'
#!/bin/bash
set -euo pipefail
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d postgres "$@"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$(now)" -v b="$1" 'BEGIN { print a - b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / t }'; }
minimum() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a < b) ? a : b }'; }
wait_packed() {	# until every row staged in des.incoming is packed (and the table emptied)
	local i
	for i in $(seq 1 36000); do
		[ "$(q -c 'SELECT NOT EXISTS (SELECT FROM des.incoming) AND NOT EXISTS (SELECT FROM des.incoming_ranges)')" = t ] && return 0
		sleep 0.05
	done
	echo "bench_incoming: not packed after 30 minutes" >&2
	exit 1
}
packers() {	# packers on|off: working at once, or resting
	if [ "$1" = on ]; then
		q -c "ALTER SYSTEM SET des.container_max_age = 0" -c "ALTER SYSTEM SET des.packer_naptime = '50ms'" \
		  -c 'SELECT pg_reload_conf()' -c 'SELECT des.wake_packers()' >/dev/null
	else
		q -c "ALTER SYSTEM SET des.container_max_age = '1h'" -c "ALTER SYSTEM SET des.packer_naptime = '1h'" \
		  -c 'SELECT pg_reload_conf()' >/dev/null
		sleep 0.3
	fi
}
reset_catalog() {
	q -c 'TRUNCATE des.objects, des.blobs, des.containers, des.shard_leases, des.dead_letters, des.incoming, des.incoming_rejects'
	rm -rf "${LAKE:?}"/*
}
q -c 'CREATE EXTENSION pg_des'
packers off
q -c "CREATE TABLE src AS SELECT 'e/' || i AS name, r.data
        FROM generate_series(1, $ROWS) i,
             LATERAL (SELECT decode(string_agg(md5(random()::text || i || g), ''), 'hex') AS data
                        FROM generate_series(1, 64) g) r" \
  -c "COPY src TO '$COPYDIR/src.copy' WITH (FORMAT binary)" -c 'VACUUM ANALYZE src'
declare -A best=()
keep() { best[$1]=$(minimum "$2" "${best[$1]:-}"); }
for rep in $(seq 1 "$REPS"); do
	q -c 'DROP TABLE IF EXISTS heap' -c 'CREATE TABLE heap (name text PRIMARY KEY, data bytea)' -c CHECKPOINT
	t0=$(now); q -c 'INSERT INTO heap SELECT name, data FROM src'; keep insert "$(elapsed "$t0")"
	q -c 'TRUNCATE heap' -c CHECKPOINT
	t0=$(now); q -c "COPY heap FROM '$COPYDIR/src.copy' WITH (FORMAT binary)"; keep copy "$(elapsed "$t0")"

	reset_catalog; q -c CHECKPOINT
	t0=$(now); q -c "COPY des.incoming (name, data) FROM '$COPYDIR/src.copy' WITH (FORMAT binary)"; keep copy_incoming "$(elapsed "$t0")"
	reset_catalog; q -c CHECKPOINT
	t0=$(now); q -c 'INSERT INTO des.incoming (name, data) SELECT name, data FROM src'; keep insert_incoming "$(elapsed "$t0")"
	q -c CHECKPOINT
	t0=$(now); packers on; wait_packed; t=$(elapsed "$t0"); keep pack "$t"
	packers off
	[ "$(q -c "SELECT count(*) FROM des.objects WHERE state = 'packed'")" = "$ROWS" ] || { echo "bench_incoming: not every row packed" >&2; exit 1; }
	[ "$(q -c "SELECT count(*) FROM des.get_many(ARRAY(SELECT name FROM src ORDER BY random() LIMIT 200)) g
	           JOIN src USING (name) WHERE g.data = src.data")" = 200 ] || { echo "bench_incoming: read-back check failed" >&2; exit 1; }
	echo "  run $rep: INSERT heap ${best[insert]} s, COPY heap ${best[copy]} s; des.incoming: COPY ${best[copy_incoming]} s, INSERT ${best[insert_incoming]} s, packed in $t s into $(q -c "SELECT count(*) FROM des.containers") containers" >&2
done
printf 'ROW\t7c ingest %s x 1 KiB: COPY into des.incoming (s) vs COPY into a heap with a primary key (s)\t%.3f\t%.3f\t%s\t<= 1.5x\t%s\n' \
	"$ROWS" "${best[copy_incoming]}" "${best[copy]}" "$(ratio "${best[copy_incoming]}" "${best[copy]}")" \
	"$(awk -v a="${best[copy_incoming]}" -v b="${best[copy]}" 'BEGIN { print (a / b <= 1.5) ? "yes" : "no" }')"
printf 'ROW\t7i ingest %s x 1 KiB: INSERT ... SELECT into des.incoming (s) vs INSERT into a heap (s)\t%.3f\t%.3f\t%s\t<= 1.5x\t%s\n' \
	"$ROWS" "${best[insert_incoming]}" "${best[insert]}" "$(ratio "${best[insert_incoming]}" "${best[insert]}")" \
	"$(awk -v a="${best[insert_incoming]}" -v b="${best[insert]}" 'BEGIN { print (a / b <= 1.5) ? "yes" : "no" }')"
printf 'ROW\t7i end to end %s x 1 KiB: des.incoming backlog packed by 2 packers (s) vs INSERT (s); %s objects/s\t%.3f\t%.3f\t%s\t<= 2x\t%s\n' \
	"$ROWS" "$(rate "$ROWS" "${best[pack]}")" "${best[pack]}" "${best[insert]}" "$(ratio "${best[pack]}" "${best[insert]}")" \
	"$(awk -v a="${best[pack]}" -v b="${best[insert]}" 'BEGIN { print (a / b <= 2) ? "yes" : "no" }')"

if [ "$MILLION" != 0 ]; then
	file=$COPYDIR/million.copy
	q -c "COPY (SELECT 'm/' || i, decode(repeat(md5(i::text), 64), 'hex') FROM generate_series(1, $MILLION) i)
	        TO '$file' WITH (FORMAT binary)" -c 'DROP TABLE IF EXISTS heap' \
	  -c 'CREATE TABLE heap (name text PRIMARY KEY, data bytea)' -c CHECKPOINT
	t0=$(now); q -c "COPY heap FROM '$file' WITH (FORMAT binary)"; t_copy=$(elapsed "$t0")
	q -c 'DROP TABLE heap'
	reset_catalog; q -c CHECKPOINT
	packers on
	t0=$(now)
	q -c "COPY des.incoming (name, data) FROM '$file' WITH (FORMAT binary)"
	wait_packed
	t_des=$(elapsed "$t0")
	[ "$(q -c "SELECT count(*) FROM des.objects WHERE state = 'packed'")" = "$MILLION" ] || { echo "bench_incoming: not every row packed" >&2; exit 1; }
	echo "  $MILLION x 1 KiB: COPY heap $t_copy s; COPY into des.incoming and packed $t_des s" >&2
	printf 'ROW\t7n ingest + packing, %s x 1 KiB: COPY into des.incoming until all packed (s) vs COPY into a heap (s); %s objects/s\t%.2f\t%.2f\t%s\t(info: the figure to compare)\t-\n' \
		"$MILLION" "$(rate "$MILLION" "$t_des")" "$t_des" "$t_copy" "$(ratio "$t_des" "$t_copy")"
fi
INNER
chmod 0755 "$dir/inner.sh"
cd "$dir"
ROWS=$ROWS REPS=$REPS MILLION=$MILLION LAKE="$dir/lake" COPYDIR="$dir/copy" \
	pg_virtualenv -t -v 15 -o shared_preload_libraries=pg_des -o des.storage="$dir/lake" -o des.packers=2 \
	-o des.packer_naptime=1h -o max_wal_size=4GB "$dir/inner.sh"
