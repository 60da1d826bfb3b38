# Versioned datasets on a real tree, and kill -9 in the middle of writing.
# - Round trip: a tree of 100,000 small files (with empty files, deep paths,
#   odd names, modes) and a few large files is uploaded, downloaded into an
#   empty directory and compared with `diff -r` and modes; downloading again
#   writes nothing; an edit is found and rewritten alone.
# - kill -9 of the backend during an upload (chunks stored, nothing
#   committed), during a commit (bundle made, branch not moved) and during a
#   stage (bytes stored, row not written): after the restart the branch is
#   where it was, nothing half-done is visible, every committed bundle reads
#   back byte for byte, and the containers of the killed transactions are
#   orphans that des.orphans removes.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgDesChecks;
use File::Path qw(make_path);
use File::Temp qw(tempdir);

my $node = PostgreSQL::Test::Cluster->new('dscrash');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_des'\ndes.workers = off\nrestart_after_crash = on");
$node->start;
$node->safe_psql('postgres', "CREATE EXTENSION pg_des; SELECT des.repo_create('t', 'round trips and crashes')");

# the hook build (tools/test.sh builds with DES_TEST_HOOKS) has des.debug_pause_at
my $hooks = $node->safe_psql('postgres', "SELECT current_setting('des.debug_pause_at', true) IS NOT NULL") eq 't';

my $base = tempdir(CLEANUP => 1);
chmod 0755, $base;
my $src = "$base/src";
srand(8);
sub write_file
{
	my ($path, $bytes, $mode) = @_;
	(my $dir = $path) =~ s{/[^/]*$}{};
	make_path($dir);
	open(my $fh, '>:raw', $path) or die "$path: $!";
	print $fh $bytes;
	close($fh);
	chmod($mode // 0644, $path);
}
# 100,000 small files in 100 directories, some empty, some executable
for my $d (0 .. 99)
{
	for my $f (0 .. 999)
	{
		my $n = ($f % 97 == 0) ? 0 : 1 + int(rand(600));
		write_file(sprintf("%s/d%02d/f%03d.txt", $src, $d, $f), join('', map { chr(65 + int(rand(26))) } 1 .. $n),
			$f % 50 == 0 ? 0755 : 0644);
	}
}
# deep paths, odd names, an empty directory, large files
write_file("$src/" . join('/', map { "level$_" } 1 .. 40) . "/deep.bin", "deep");
write_file("$src/odd names/spaces and é ü.txt", "unicode");
make_path("$src/empty/dir");
for my $i (1 .. 3)
{
	my $big = '';
	$big .= pack('N', int(rand(2**32))) for 1 .. (1024 * 1024);    # 4 MiB of noise
	write_file("$src/big/file$i.bin", $big, 0600);
}
system("chmod -R go+rX '$src'") == 0 or die;
system("chown -R postgres '$base'") if $> == 0;

my $v1 = $node->safe_psql('postgres', "SELECT des.bundle_upload('t', 'main', '$src', 'v1', 'v1')");
like($v1, qr/^[0-9a-f]{64}$/, 'a 100,000-file tree uploads as one bundle');
is($node->safe_psql('postgres', "SELECT count(*) FROM des.files('t/main') WHERE kind = 'file'"), '100005',
	'des.files lists every file');

my $out = "$base/out";
my $r = $node->safe_psql('postgres', "SELECT files, written, unchanged FROM des.download('t\@v1', '$out')");
is($r, '100005|100005|0', 'the download writes every file');
is(system("diff -r '$src' '$out' >/dev/null"), 0, 'diff -r finds the download identical to the source');
is(`cd '$src' && find . -mindepth 1 -printf '%m %p\\n' | sort | md5sum`, `cd '$out' && find . -mindepth 1 -printf '%m %p\\n' | sort | md5sum`,
	'every file and directory has its mode');
$r = $node->safe_psql('postgres', "SELECT written, unchanged FROM des.download('t\@v1', '$out')");
is($r, '0|100005', 'downloading again rewrites nothing');
write_file("$out/d07/f123.txt", "edited by hand");
$r = $node->safe_psql('postgres', "SELECT written, unchanged FROM des.download('t\@v1', '$out')");
is($r, '1|100004', 'a file edited by hand is found and rewritten alone');
is(system("diff -r '$src' '$out' >/dev/null"), 0, 'and the download is identical again');

# ---- kill -9 mid-step ----
sub state_of
{
	return $node->safe_psql('postgres', q{
		SELECT (SELECT head FROM des.branches WHERE repo = 't' AND branch = 'main') || ' ' ||
		       (SELECT count(*) FROM des.dataset_bundles) || ' ' || (SELECT count(*) FROM des.staged) || ' ' ||
		       (SELECT count(*) FROM des.branch_log)});
}


sub check_committed
{
	my ($what) = @_;
	my $bad = $node->safe_psql('postgres', q{
		SELECT count(*) FROM des.bundles b, des.files(b.id) f
		 WHERE f.kind = 'file' AND f.path LIKE 'big/%'
		   AND des.blake2b(des.read(b.id, f.path)) IS DISTINCT FROM
		       (SELECT des.blake2b(des.read('t@v1', f.path)))});
	is($bad, '0', "$what: the large files of every committed bundle read back");
	is($node->safe_psql('postgres', "SELECT md5(string_agg(md5(des.read('t/main', path)), '' ORDER BY path)) FROM des.files('t/main', 'd42')"),
		$node->safe_psql('postgres', "SELECT md5(string_agg(md5(pg_read_binary_file('$src/' || path)), '' ORDER BY path)) FROM des.files('t/main', 'd42')"),
		"$what: a directory of the head reads back as the source has it");
}

SKIP:
{
	skip 'des.debug_pause_at exists only in builds with DES_TEST_HOOKS', 24 unless $hooks;

	my $before = state_of();
	write_file("$src/new/after-v1.txt", "added after v1");
	crash_at($node, 'dataset_upload_stored', "SELECT des.bundle_upload('t', 'main', '$src', 'killed upload')");
	is(state_of(), $before, 'after kill -9 during an upload: no bundle, the branch where it was');
	check_committed('upload');
	cmp_ok($node->safe_psql('postgres', "SELECT count(*) FROM des.orphans() WHERE location ~ '/datasets/'"), '>=', 1,
		'the killed upload left its container as an orphan');

	$node->safe_psql('postgres', "SELECT des.stage('t', 'main', 'staged.txt', 'a staged file')");
	$before = state_of();
	crash_at($node, 'dataset_commit_bundle_made', "SELECT des.commit('t', 'main', 'killed commit')");
	is(state_of(), $before, 'after kill -9 during a commit: no bundle, the branch where it was, the file still staged');
	check_committed('commit');

	crash_at($node, 'dataset_stage_stored', "SELECT des.stage('t', 'main', 'lost.txt', 'bytes of a killed stage')");
	is(state_of(), $before, 'after kill -9 during a stage: nothing new is staged');
	is($node->safe_psql('postgres', "SELECT count(*) FROM des.files('t/main') WHERE path = 'lost.txt'"), '0',
		'and the branch does not show it');

	my $orphans = $node->safe_psql('postgres', "SELECT count(*) FROM des.orphans() WHERE location ~ '/datasets/'");
	cmp_ok($orphans, '>=', 2, 'the killed transactions left orphans');
	is($node->safe_psql('postgres', "SELECT count(*) FROM des.orphans(remove => true) WHERE removed"), $orphans,
		'des.orphans removes them');
	check_committed('after removing orphans');

	# work goes on: the commit that was killed is made again, the upload too
	my $c = $node->safe_psql('postgres', "SELECT des.commit('t', 'main', 'commit again')");
	like($c, qr/^[0-9a-f]{64}$/, 'the staged file commits after the crashes');
	my $v2 = $node->safe_psql('postgres', "SELECT des.bundle_upload('t', 'main', '$src', 'v2')");
	is($node->safe_psql('postgres', "SELECT string_agg(change || ' ' || path, ',') FROM des.diff('t\@v1', '$v2') WHERE kind = 'file'"),
		'added new/after-v1.txt', 'the upload made again has exactly the file added since v1');
	check_committed('at the end');
	is($node->safe_psql('postgres', "SELECT count(*) FROM des.orphans() WHERE location ~ '/datasets/'"), '0',
		'no orphan is left');
}

$node->stop;
done_testing();
