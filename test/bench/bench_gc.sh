#!/bin/bash
# bench_gc.sh - garbage collection (issue "Reclaiming space safely") beside
# restic prune, on the same data with the same share removed, same disk,
# same run:
#
#   12a a store of N small files (default 1,000,000, ~100 bytes each, one
#       blob each) in containers of 1,000 blobs; 30% of the files deleted:
#       pg_des: bundle v1 uploaded, the files deleted, bundle v2 uploaded,
#               retention keep_last 1, des.squash, then CALL des.gc_run()
#               timed (trees pruned, dead blobs removed, empty containers
#               deleted) and its backend's peak memory (VmHWM)
#       restic: backup v1, the same files deleted, backup v2, forget v1,
#               then prune timed (default: repacks packs with unused data),
#               and prune --max-unused unlimited (deletes only packs wholly
#               unused, as pg_des deletes only containers wholly dead),
#               each with its peak memory (GNU time)
#
# stdout: "ROW" lines (run.sh formats them); stderr: progress.
#
# Environment:
#   BENCH_QUICK=1         smaller sizes for a smoke test
#   BENCH_GC_FILES        files in the store       [1000000; quick 20000]
#   BENCH_GC_DEAD_PCT     share deleted, percent   [30]
#   BENCH_DIR             parent of the temporary directory [/tmp]
set -euo pipefail

quick=0
if [ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ]; then quick=1; fi
pick() { if [ "$quick" = 1 ]; then echo "$2"; else echo "$1"; fi; }
FILES=${BENCH_GC_FILES:-$(pick 1000000 20000)}
DEAD_PCT=${BENCH_GC_DEAD_PCT:-30}

if [ "${1:-}" != --inner ]; then
	for tool in restic pg_virtualenv /usr/bin/time; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			echo "bench_gc: $tool is missing (apt-get install restic time postgresql-common)" >&2
			exit 2
		fi
	done
	work=$(mktemp -d "${BENCH_DIR:-/tmp}/pg_des_gc.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	chmod 0755 "$work"
	[ "$(id -u)" = 0 ] && chown postgres "$work"
	export BENCH_WORK=$work
	pg_virtualenv -v 15 -o shared_preload_libraries=pg_des -o des.workers=off -o max_wal_size=4GB \
		-o des.container_max_entries=1000 "$0" --inner
	exit $?
fi

work=$BENCH_WORK
tree=$work/tree
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
row() { printf 'ROW\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@"; }
psql_q() { psql -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR=$work/restic-cache

echo "bench_gc: making $FILES files" >&2
perl -e '
	use strict; my ($root, $n) = @ARGV; srand(12);
	mkdir $root;
	for my $i (0 .. $n - 1) {
		my $d = sprintf("%s/d%04d", $root, int($i / 1000)); mkdir $d;
		open(my $f, ">:raw", sprintf("%s/f%07d", $d, $i)) or die;
		print $f pack("C*", map { int(rand(256)) } 1 .. 64 + int(rand(64))); close $f;
	}' "$tree" "$FILES"
chmod -R go+rX "$tree"
[ "$(id -u)" = 0 ] && chown -R postgres "$tree"

psql_q "CREATE EXTENSION pg_des; SELECT des.repo_create('gcb', 'gc benchmark')" >/dev/null
restic init -q --repo "$work/restic" >/dev/null
echo "bench_gc: version 1" >&2
psql_q "SELECT des.bundle_upload('gcb', 'main', '$tree', 'v1')" >/dev/null
restic backup -q --repo "$work/restic" "$tree" >/dev/null
# the same files deleted on both sides: every file whose number falls in the share
perl -e '
	use strict; my ($root, $n, $pct) = @ARGV; srand(13);
	for my $i (0 .. $n - 1) {
		unlink(sprintf("%s/d%04d/f%07d", $root, int($i / 1000), $i)) if rand(100) < $pct;
	}' "$tree" "$FILES" "$DEAD_PCT"
echo "bench_gc: version 2" >&2
psql_q "SELECT des.bundle_upload('gcb', 'main', '$tree', 'v2')" >/dev/null
restic backup -q --repo "$work/restic" "$tree" >/dev/null
psql_q "SELECT des.retention_set('gcb', keep_last => 1); SELECT count(*) FROM des.squash('gcb', false)" >/dev/null
restic forget -q --repo "$work/restic" --keep-last 1 >/dev/null
blobs=$(psql_q "SELECT count(*) FROM des.blobs")
containers=$(psql_q "SELECT count(*) FROM des.containers")
cp -a "$work/restic" "$work/restic2"
echo "bench_gc: $blobs blobs in $containers containers" >&2

# pg_des: one session, its backend's peak memory read at the end
t0=$(now)
peak=$(psql -X -q -At -v ON_ERROR_STOP=1 <<'SQL' | tail -1
CALL des.gc_run();
SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'), 'VmHWM:\s+(\d+)'))[1];
SQL
)
t1=$(now)
ours=$(secs "$t0" "$t1")
state=$(psql_q "SELECT state || ' ' || blobs_removed || ' ' || containers_removed FROM des.gc_runs ORDER BY id DESC LIMIT 1")
left=$(psql_q "SELECT count(*) FROM des.blobs")
echo "bench_gc: pg_des gc ${ours}s, peak ${peak} kB, run: $state, blobs left $left" >&2

t0=$(now)
/usr/bin/time -f '%M' -o "$work/restic.mem" restic prune -q --repo "$work/restic" >/dev/null
t1=$(now)
rest=$(secs "$t0" "$t1")
rest_mem=$(tail -1 "$work/restic.mem")
t0=$(now)
/usr/bin/time -f '%M' -o "$work/restic2.mem" restic prune -q --max-unused unlimited --repo "$work/restic2" >/dev/null
t1=$(now)
rest2=$(secs "$t0" "$t1")
rest2_mem=$(tail -1 "$work/restic2.mem")
echo "bench_gc: restic prune ${rest}s (${rest_mem} kB), --max-unused unlimited ${rest2}s (${rest2_mem} kB)" >&2

speed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b / a }'; }
met() { awk -v r="$1" -v g="$2" 'BEGIN { print (r >= g) ? "yes" : "no" }'; }
row "12a GC of $blobs blobs in $containers containers, ${DEAD_PCT}% dead, vs restic prune (s)" "$ours" "$rest" \
	"$(speed "$ours" "$rest")x faster" ">= 5x faster" "$(met "$(speed "$ours" "$rest")" 5)"
row "12a   same, vs restic prune --max-unused unlimited (s)" "$ours" "$rest2" "$(speed "$ours" "$rest2")x faster" "-" "-"
row "12a   peak memory (kB): pg_des backend vs restic prune" "$peak" "$rest_mem" \
	"$(awk -v a="$peak" -v b="$rest_mem" 'BEGIN { printf "%.2f", a / b }')" "bounded" "-"
