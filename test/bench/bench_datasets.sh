#!/bin/bash
# bench_datasets.sh - versioned datasets (issue "Versioned datasets"), each
# figure beside its peer measured in the same run on the same tree and disk:
#
#   11a upload of a mixed tree (many small files, a few large ones):
#       des.bundle_upload              vs restic backup, borg create (--encryption none)
#   11b bytes stored after a sequence of versions (edits, insertions and
#       deletions in the large files, small-file churn):
#       pg_des containers              vs restic's and borg's repositories, and
#                                         fixed-size positional 2 MiB blocks (Datamon's scheme, simulated)
#   11c download of the tree into an empty directory:
#       des.download                   vs restic restore
#   11d a bundle of many files (1,000 directories of 1,000 by default):
#       commit of 10 changed files, des.diff of the two versions, des.files listing rate
#       (beside their goals: the issue sets them as absolute figures)
#
# The chunker's own speed (chunking + BLAKE2b vs plain BLAKE2b) is benchmark 9
# of bench_core. Needs the extension installed, restic and borgbackup
# (Debian packages) and pg_virtualenv.
#
# stdout: "ROW" lines (run.sh formats them); stderr: progress.
#
# Environment:
#   BENCH_QUICK=1            smaller sizes for a smoke test
#   BENCH_DS_SMALL           small files in the tree           [100000; quick 5000]
#   BENCH_DS_LARGE_MIB       size of each of the 3 large files [128; quick 8]
#   BENCH_DS_VERSIONS        versions in the sequence          [10; quick 3]
#   BENCH_DS_MANY            files of the many-file bundle     [1000000; quick 20000]
#   BENCH_DIR                parent of the temporary directory [/tmp]
set -euo pipefail

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
quick=0
if [ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ]; then quick=1; fi
pick() { if [ "$quick" = 1 ]; then echo "$2"; else echo "$1"; fi; }
SMALL=${BENCH_DS_SMALL:-$(pick 100000 5000)}
LARGE_MIB=${BENCH_DS_LARGE_MIB:-$(pick 128 8)}
VERSIONS=${BENCH_DS_VERSIONS:-$(pick 10 3)}
MANY=${BENCH_DS_MANY:-$(pick 1000000 20000)}

if [ "${1:-}" != --inner ]; then
	for tool in restic borg pg_virtualenv; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			echo "bench_datasets: $tool is missing (apt-get install restic borgbackup postgresql-common)" >&2
			exit 2
		fi
	done
	work=$(mktemp -d "${BENCH_DIR:-/tmp}/pg_des_ds.XXXXXX")
	# loop file systems of the download rows (11c) are unmounted first
	trap 'for m in "$work"/dl-* "$work"/probe; do umount "$m" 2>/dev/null || true; done; rm -rf "$work"' EXIT
	chmod 0755 "$work"
	[ "$(id -u)" = 0 ] && chown postgres "$work"
	export BENCH_WORK=$work
	pg_virtualenv -v 15 -o shared_preload_libraries=pg_des -o des.workers=off -o max_wal_size=4GB \
		"$0" --inner
	exit $?
fi

work=$BENCH_WORK
tree=$work/tree
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
# bytes as stored (apparent size: what the repository holds, not the file system's blocks)
mib() { du -s --apparent-size -k "$1" | awk '{ printf "%.1f", $1 / 1024 }'; }
row() { printf 'ROW\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@"; }
psql_q() { psql -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR=$work/restic-cache BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes \
	BORG_BASE_DIR=$work/borg-base

# ---- the tree: small files in 100 directories, 3 large files of noise ----
echo "bench_datasets: making a tree of $SMALL small files and 3 x $LARGE_MIB MiB" >&2
perl -e '
	use strict; my ($root, $n, $mib) = @ARGV; srand(11);
	for my $i (0 .. $n - 1) {
		my $d = sprintf("%s/small/d%03d", $root, $i % 100); mkdir "$root"; mkdir "$root/small"; mkdir $d;
		open(my $f, ">:raw", sprintf("%s/f%06d", $d, $i)) or die; print $f pack("C*", map { int(rand(256)) } 1 .. 10 + int(rand(3000))); close $f;
	}
	mkdir "$root/large";
	for my $j (1 .. 3) {
		open(my $f, ">:raw", "$root/large/big$j.bin") or die;
		for (1 .. $mib * 256) { print $f pack("N*", map { int(rand(2**32)) } 1 .. 1024); }
		close $f;
	}' "$tree" "$SMALL" "$LARGE_MIB"
chmod -R go+rX "$tree"
[ "$(id -u)" = 0 ] && chown -R postgres "$tree"
echo "bench_datasets: tree of $(mib "$tree") MiB" >&2

psql_q "CREATE EXTENSION pg_des; SELECT des.repo_create('bench', 'benchmark')" >/dev/null
restic init -q --repo "$work/restic" >/dev/null
borg init -e none "$work/borg" >/dev/null 2>&1

# ---- 11a upload ----
sync
t0=$(now); psql_q "SELECT des.bundle_upload('bench', 'main', '$tree', 'v1')" >/dev/null; t1=$(now)
ours=$(secs "$t0" "$t1")
sync
t0=$(now); restic backup -q --repo "$work/restic" "$tree" >/dev/null; t1=$(now)
restic_s=$(secs "$t0" "$t1")
sync
t0=$(now); borg create "$work/borg::v1" "$tree" >/dev/null 2>&1; t1=$(now)
borg_s=$(secs "$t0" "$t1")
tree_mib=$(mib "$tree")
rate() { awk -v m="$tree_mib" -v s="$1" 'BEGIN { printf "%.1f MiB/s", m / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b / a }'; }
met() { awk -v r="$1" -v g="$2" 'BEGIN { print (r >= g) ? "yes" : "no" }'; }
echo "bench_datasets: upload pg_des ${ours}s restic ${restic_s}s borg ${borg_s}s" >&2
row "11a upload ($SMALL small + 3 x $LARGE_MIB MiB) vs restic backup" "$(rate "$ours")" "$(rate "$restic_s")" \
	"$(ratio "$ours" "$restic_s")" ">= 1x restic" "$(met "$(ratio "$ours" "$restic_s")" 1)"
row "11a   same, vs borg create (none)" "$(rate "$ours")" "$(rate "$borg_s")" \
	"$(ratio "$ours" "$borg_s")" ">= 1x borg" "$(met "$(ratio "$ours" "$borg_s")" 1)"

# ---- 11c download ----
# Each tool writes into a file system of its own, made fresh for it, so that
# neither inherits the other's freed inodes: on ext4 without a journal (this
# machine's root disk, for one) the inode allocator skips inodes freed in the
# last minute, one by one, and whoever creates files right after a large
# delete pays for it (measured: 3x to 9x). Two conditions, both sides alike:
# a fresh ext4 as mkfs makes it (with a journal), and an ext4 without a
# journal just emptied of a copy of the same tree. Without loop devices (not
# root) both write below $work, one after the other, with a note.
loopfs() {	# loopfs dir [mkfs options...]: a fresh 4 GiB ext4 mounted at dir
	local dir=$1; shift
	rm -f "$dir.img"; truncate -s 4G "$dir.img"
	mkfs.ext4 -q -F "$@" "$dir.img" && mkdir -p "$dir" && mount -o loop "$dir.img" "$dir" && chown postgres "$dir"
}
unloopfs() { umount "$1" 2>/dev/null || true; rm -rf "$1" "$1.img"; }
can_loop=0
if [ "$(id -u)" = 0 ] && loopfs "$work/probe" 2>/dev/null; then can_loop=1; fi
unloopfs "$work/probe"
down_once() {	# down_once condition: seconds of des.download and of restic restore, each on its own fs
	local cond=$1 who t0 t1 d r at
	for who in des restic; do
		at=$work/dl-$who
		if [ "$can_loop" = 1 ]; then
			if [ "$cond" = fresh ]; then loopfs "$at"; else
				loopfs "$at" -O ^has_journal
				cp -r "$tree" "$at/old"; sync; rm -rf "$at/old"
			fi
		else
			rm -rf "$at"; mkdir "$at"; chown postgres "$at" 2>/dev/null || true
		fi
		sync
		t0=$(now)
		if [ $who = des ]; then
			psql_q "SELECT written FROM des.download('bench/main', '$at/t')" >/dev/null
		else
			restic restore -q --repo "$work/restic" latest --target "$at/t" >/dev/null
		fi
		t1=$(now)
		if [ $who = des ]; then
			d=$(secs "$t0" "$t1")
			diff -r "$tree" "$at/t" >/dev/null || { echo "bench_datasets: the download differs from the tree" >&2; exit 1; }
		else r=$(secs "$t0" "$t1"); fi
		if [ "$can_loop" = 1 ]; then unloopfs "$at"; else rm -rf "$at"; fi
	done
	echo "$d $r"
}
read -r down rest <<<"$(down_once fresh)"
[ -n "$rest" ] || exit 1
echo "bench_datasets: download (fresh fs: $can_loop) pg_des ${down}s restic restore ${rest}s" >&2
if [ "$can_loop" = 1 ]; then where="fresh ext4 each"; else where="same disk, one after the other"; fi
row "11c download into an empty directory vs restic restore ($where)" "$(rate "$down")" "$(rate "$rest")" \
	"$(ratio "$down" "$rest")" ">= 1x restic" "$(met "$(ratio "$down" "$rest")" 1)"
if [ "$can_loop" = 1 ]; then
	read -r down rest <<<"$(down_once emptied)"
	[ -n "$rest" ] || exit 1
	echo "bench_datasets: download (ext4 without journal, just emptied) pg_des ${down}s restic restore ${rest}s" >&2
	row "11c   same, ext4 without a journal just emptied of the tree (info)" "$(rate "$down")" "$(rate "$rest")" \
		"$(ratio "$down" "$rest")" "-" "-"
fi

# ---- 11b a sequence of versions: stored bytes ----
# each version: in every large file an insertion, a deletion and an edit at
# random places; 1% of the small files edited, 0.5% removed, 0.5% added
fixed_blocks=$work/fixed.txt
: >"$fixed_blocks"
fixed_sim() {
	# Datamon's leaves: 2 MiB blocks at fixed offsets, keyed by position: a
	# block is stored again unless the same file's block at the same offset
	# has the same hash (small files are one block each)
	find "$tree" -type f -print0 | sort -z | xargs -0 perl -MDigest::MD5=md5_hex -e '
		for my $p (@ARGV) { open(my $f, "<:raw", $p) or die; my $o = 0;
			while (my $n = read($f, my $b, 2097152)) { print "$p $o ", md5_hex($b), " $n\n"; $o++ } close $f }' \
		>>"$fixed_blocks"
}
fixed_sim
for v in $(seq 2 "$VERSIONS"); do
	perl -e '
		use strict; my ($root, $v) = @ARGV; srand(100 + $v);
		for my $j (1 .. 3) {
			my $p = "$root/large/big$j.bin"; open(my $f, "<:raw", $p) or die; local $/; my $d = <$f>; close $f;
			my $at = int(rand(length($d) - 100000));
			substr($d, $at, 0) = pack("C*", map { int(rand(256)) } 1 .. 5000);          # insertion
			$at = int(rand(length($d) - 100000)); substr($d, $at, 7000) = "";                # deletion
			$at = int(rand(length($d) - 100000)); substr($d, $at, 3000) = pack("C*", map { int(rand(256)) } 1 .. 3000);  # edit
			open($f, ">:raw", $p) or die; print $f $d; close $f;
		}
		my @small = glob("$root/small/*/*");
		for (1 .. int(@small / 100)) { my $p = $small[int(rand(@small))]; next unless -f $p; open(my $f, ">>:raw", $p); print $f "edit $v"; close $f }
		for (1 .. int(@small / 200)) { my $p = $small[int(rand(@small))]; unlink $p }
		for my $i (1 .. int(@small / 200)) { my $d = sprintf("%s/small/d%03d", $root, $i % 100);
			open(my $f, ">:raw", "$d/new-$v-$i") or die; print $f pack("C*", map { int(rand(256)) } 1 .. 10 + int(rand(3000))); close $f }
	' "$tree" "$v"
	chmod -R go+rX "$tree"
	[ "$(id -u)" = 0 ] && chown -R postgres "$tree"
	psql_q "SELECT des.bundle_upload('bench', 'main', '$tree', 'v$v')" >/dev/null
	restic backup -q --repo "$work/restic" "$tree" >/dev/null
	borg create "$work/borg::v$v" "$tree" >/dev/null 2>&1
	fixed_sim
	echo "bench_datasets: version $v stored" >&2
done
ours_mib=$(psql_q "SELECT round(sum(size) / 1048576.0, 1) FROM des.containers WHERE origin = 'datasets'")
catalog_mib=$(psql_q "SELECT round((pg_total_relation_size('des.dataset_dirs') + pg_total_relation_size('des.dataset_contents') + pg_total_relation_size('des.blobs')) / 1048576.0, 1)")
restic_mib=$(mib "$work/restic")
borg_mib=$(mib "$work/borg")
# distinct (file, offset, hash): what positional blocks store
fixed_mib=$(awk '{ k = $1 " " $2 " " $3; if (!(k in seen)) { seen[k] = 1; s += $4 } } END { printf "%.1f", s / 1048576 }' "$fixed_blocks")
echo "bench_datasets: after $VERSIONS versions: pg_des ${ours_mib} MiB (+${catalog_mib} MiB catalog), restic ${restic_mib}, borg ${borg_mib}, fixed 2 MiB ${fixed_mib}" >&2
row "11b bytes stored after $VERSIONS versions vs restic (MiB)" "$ours_mib" "$restic_mib" \
	"$(awk -v a="$ours_mib" -v b="$restic_mib" 'BEGIN { printf "%.2f", a / b }')" "<= 1x restic" \
	"$(awk -v a="$ours_mib" -v b="$restic_mib" 'BEGIN { print (a <= b) ? "yes" : "no" }')"
row "11b   same, vs fixed 2 MiB positional blocks (MiB)" "$ours_mib" "$fixed_mib" \
	"$(awk -v a="$ours_mib" -v b="$fixed_mib" 'BEGIN { printf "%.2f", a / b }')" "<= 0.33x" \
	"$(awk -v a="$ours_mib" -v b="$fixed_mib" 'BEGIN { print (a <= b / 3) ? "yes" : "no" }')"
row "11b   same, vs borg (info) (MiB)" "$ours_mib" "$borg_mib" \
	"$(awk -v a="$ours_mib" -v b="$borg_mib" 'BEGIN { printf "%.2f", a / b }')" "-" "-"
row "11b   catalog rows for it (info) (MiB)" "$catalog_mib" "-" "-" "-" "-"

# ---- 11d a bundle of many files ----
echo "bench_datasets: a bundle of $MANY files, staged and committed 10,000 at a time" >&2
psql_q "SELECT des.repo_create('many', 'many files')" >/dev/null
per=10000
[ "$MANY" -lt "$per" ] && per=$MANY
batches=$(( MANY / per ))
psql -X -q -At -v ON_ERROR_STOP=1 >/dev/null <<SQL
DO \$\$
BEGIN
    FOR b IN 0 .. $batches - 1 LOOP
        PERFORM des.stage_many('many', 'main',
            ARRAY(SELECT format('d%s/f%s', (b * $per + i) / 1000, (b * $per + i) % 1000) FROM generate_series(0, $per - 1) i),
            ARRAY(SELECT convert_to('content ' || ((b * $per + i) % 997), 'UTF8') FROM generate_series(0, $per - 1) i));
        PERFORM des.commit('many', 'main', 'batch ' || b);
        COMMIT;
    END LOOP;
END \$\$;
SQL
files=$(psql_q "SELECT count(*) FROM des.files('many/main') WHERE kind = 'file'")
commit_ms=$(psql -X -q -At -v ON_ERROR_STOP=1 <<'SQL' | tail -1
SELECT des.stage_many('many', 'main', ARRAY(SELECT format('d%s/f%s', i * 97, 7) FROM generate_series(0, 9) i),
                      ARRAY(SELECT convert_to('changed ' || i, 'UTF8') FROM generate_series(0, 9) i));
SELECT clock_timestamp() AS t0 \gset
SELECT des.commit('many', 'main', 'ten files');
SELECT round(extract(epoch FROM clock_timestamp() - :'t0') * 1000, 1);
SQL
)
diff_ms=$(psql -X -q -At -v ON_ERROR_STOP=1 <<'SQL' | tail -1
SELECT bundle_id AS prev FROM des.log('many/main') OFFSET 1 LIMIT 1 \gset
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FROM des.diff(:'prev', 'many/main');
SELECT round(extract(epoch FROM clock_timestamp() - :'t0') * 1000, 1);
SQL
)
list_rate=$(psql -X -q -At -v ON_ERROR_STOP=1 <<'SQL' | tail -1
SELECT count(*) FROM des.files('many/main');
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) AS n FROM des.files('many/main') \gset
SELECT round(:n / extract(epoch FROM clock_timestamp() - :'t0'));
SQL
)
echo "bench_datasets: $files files: commit of 10 ${commit_ms} ms, diff ${diff_ms} ms, listing ${list_rate} rows/s" >&2
row "11d commit of 10 files into a $files-file bundle (ms)" "$commit_ms" "100 (goal)" \
	"$(awk -v a="$commit_ms" 'BEGIN { printf "%.2f", a / 100 }')" "< 100 ms" \
	"$(awk -v a="$commit_ms" 'BEGIN { print (a < 100) ? "yes" : "no" }')"
row "11d des.diff of those two versions (ms)" "$diff_ms" "50 (goal)" \
	"$(awk -v a="$diff_ms" 'BEGIN { printf "%.2f", a / 50 }')" "< 50 ms" \
	"$(awk -v a="$diff_ms" 'BEGIN { print (a < 50) ? "yes" : "no" }')"
row "11d des.files listing (rows/s)" "$list_rate" "1000000 (goal)" \
	"$(awk -v a="$list_rate" 'BEGIN { printf "%.2f", a / 1000000 }')" ">= 1,000,000 rows/s" \
	"$(awk -v a="$list_rate" 'BEGIN { print (a >= 1000000) ? "yes" : "no" }')"
