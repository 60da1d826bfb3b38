# Garbage collection on real storage, with real workers, and kill -9 at
# every step of des.gc_run.
# - Pipeline objects packed by the workers and dataset bundles share the
#   store; some objects and a repo are deleted. des.gc_run removes their
#   blobs and the containers left empty (rows, then files); every live
#   object and every bundle still reads back byte for byte, and verifies.
# - Yesterday's objects, packed into several small containers, are merged
#   into at most one container per shard; containers half dead are compacted.
# - kill -9 of the backend running des.gc_run after it decided, after it
#   swept (uncommitted), after the sweep committed, with compacted copies
#   written but not yet pointed at, and after a storage delete (not yet
#   recorded): after the restart nothing live is lost, and the next run
#   reclaims what the killed one left, until nothing is left.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgDesChecks;
use File::Spec;
use File::Find;

my $node = PostgreSQL::Test::Cluster->new('gccrash');
$node->init;
my $storage = File::Spec->rel2abs($node->basedir) . '/lake';
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'pg_des'
des.storage = '$storage'
des.packers = 1
des.marker_naptime = '100ms'
des.packer_naptime = '100ms'
des.container_max_age = '200ms'
des.container_max_entries = 1000
des.shard_bits = 1
restart_after_crash = on
));
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_des');
my $hooks = $node->safe_psql('postgres', "SELECT current_setting('des.debug_pause_at', true) IS NOT NULL") eq 't';

# objects in rounds, so that they land in several containers
for my $round (1 .. 4)
{
	$node->safe_psql('postgres', qq{
		SELECT count(des.put(format('obj/%s/%s', $round, i), convert_to(repeat(format('round %s object %s;', $round, i), 20 + i), 'UTF8')))
		  FROM generate_series(1, 60) i});
	ok($node->poll_query_until('postgres', "SELECT count(*) = 0 FROM des.objects WHERE state <> 'packed'"),
		"round $round is packed");
}
# a day that is over: objects of yesterday, packed into several small
# containers per (day, shard), which compaction merges
for my $part (0 .. 2)
{
	$node->safe_psql('postgres', qq{
		INSERT INTO des.objects (name, staged, created_at)
		SELECT format('obj/9/%s', i), convert_to(repeat(format('round 9 object %s;', i), 20 + i), 'UTF8'), now() - interval '1 day'
		  FROM generate_series($part * 40 + 1, $part * 40 + 40) i});
	ok($node->poll_query_until('postgres', "SELECT count(*) = 0 FROM des.objects WHERE state <> 'packed'"),
		"yesterday's objects, part $part, are packed");
}
my $yesterday_containers = $node->safe_psql('postgres',
	"SELECT count(*) FROM des.containers WHERE day = (now() AT TIME ZONE 'UTC')::date - 1");
cmp_ok($yesterday_containers, '>', 2, "yesterday's objects are in $yesterday_containers containers");

# two repos of files; one will be deleted
for my $repo ('keep', 'drop')
{
	$node->safe_psql('postgres', qq{
		SELECT des.repo_create('$repo');
		SELECT count(des.stage('$repo', 'main', format('f%s.txt', i), convert_to(repeat('$repo ' || i, 50 + i), 'UTF8')))
		  FROM generate_series(1, 40) i;
		SELECT des.commit('$repo', 'main', 'files');
		SELECT count(des.stage('$repo', 'main', format('g%s.txt', i), convert_to(repeat('$repo again ' || i, 30 + i), 'UTF8')))
		  FROM generate_series(1, 40) i;
		SELECT des.commit('$repo', 'main', 'more files');});
}
my $containers = $node->safe_psql('postgres', 'SELECT count(*) FROM des.containers');
cmp_ok($containers, '>=', 6, "objects and bundles are in $containers containers");

# what must survive: every object left and every bundle of 'keep', as hashes
my $live_objects_sql = q{SELECT md5(string_agg(o.name || ':' || md5(des.get(o.name)), ',' ORDER BY o.name)) FROM des.objects o};
my $live_bundles_sql = q{SELECT md5(string_agg(f.path || ':' || md5(des.read(b.id, f.path)), ',' ORDER BY b.id, f.path))
	FROM des.bundles b, des.files(b.id) f WHERE b.repo = 'keep' AND f.kind = 'file'};
sub expected_objects
{
	return $node->safe_psql('postgres', q{
		SELECT md5(string_agg(name || ':' || md5(convert_to(repeat(format('round %s object %s;', split_part(name, '/', 2), split_part(name, '/', 3)),
		                                                          20 + split_part(name, '/', 3)::int), 'UTF8')), ',' ORDER BY name))
		  FROM des.objects});
}
my $bundles_before = $node->safe_psql('postgres', $live_bundles_sql);

sub check_live
{
	my ($what) = @_;
	is($node->safe_psql('postgres', $live_objects_sql), expected_objects(), "$what: every object left reads back byte for byte");
	is($node->safe_psql('postgres', $live_bundles_sql), $bundles_before, "$what: every bundle of the kept repo reads back byte for byte");
	is($node->safe_psql('postgres', q{SELECT count(*) FROM des.bundles b, des.verify_bundle(b.id) v WHERE b.repo = 'keep'}),
		'0', "$what: the kept bundles verify");
}

# dead: half the objects of rounds 1 and 2 (containers keep live entries),
# all of round 3 (its containers empty), and the repo 'drop'
$node->safe_psql('postgres', q{
	SELECT des.delete_many(ARRAY(SELECT name FROM des.objects WHERE (name LIKE 'obj/1/%' OR name LIKE 'obj/2/%')
	                                                              AND split_part(name, '/', 3)::int % 2 = 0));
	SELECT des.delete_many(ARRAY(SELECT name FROM des.objects WHERE name LIKE 'obj/3/%'));
	SELECT des.repo_delete('drop');});
is($node->safe_psql('postgres', "SELECT count(*) FROM des.object_log WHERE action = 'delete'"), '120', 'the deletions are logged');
my $plan = $node->safe_psql('postgres', "SELECT count(*) FILTER (WHERE action = 'delete') || ' ' || sum(blobs) FROM des.gc()");
my ($plan_delete, $plan_blobs) = split / /, $plan;
cmp_ok($plan_delete, '>=', 1, "the dry run finds $plan_delete containers to delete and $plan_blobs dead blobs");

# every container file in storage (pipeline: <day>/<shard>-..., datasets: datasets/<db>/<day>/...)
sub container_files
{
	my @found;
	find(sub { push @found, $File::Find::name if /\.des$/ && -f $_ }, $storage);
	return @found;
}
my @files_before = container_files();


SKIP:
{
	skip 'des.debug_pause_at exists only in builds with DES_TEST_HOOKS', 26 unless $hooks;
	# small batches: several sweeps, so that a kill lands between them
	crash_at($node, 'gc_decided', 'CALL des.gc_run(batch_size => 20)');
	check_live('after kill -9 once GC decided');
	crash_at($node, 'gc_swept', 'CALL des.gc_run(batch_size => 20)');
	check_live('after kill -9 with a sweep not committed');
	crash_at($node, 'gc_committed', 'CALL des.gc_run(batch_size => 20)');
	check_live('after kill -9 right after a sweep committed');
	is($node->safe_psql('postgres', 'SELECT count(*) FROM des.gc_pending_deletes p JOIN des.containers c ON c.location = p.location'),
		'0', 'no pending storage delete names a container the catalog still has');
	crash_at($node, 'gc_compact_copied', 'CALL des.gc_run(batch_size => 20)');
	check_live('after kill -9 with compacted copies written, the blobs not re-pointed');
	crash_at($node, 'gc_storage_deleted', 'CALL des.gc_run(batch_size => 20)');
	check_live('after kill -9 between a storage delete and its record');
}

# the next runs finish what the killed ones left
$node->safe_psql('postgres', 'CALL des.gc_run(batch_size => 20)');
is($node->safe_psql('postgres', "SELECT state FROM des.gc_runs ORDER BY id DESC LIMIT 1"), 'done', 'a full run completes');
is($node->safe_psql('postgres', 'SELECT count(*) FROM des.gc()'), '0', 'nothing is left to collect');
is($node->safe_psql('postgres', 'SELECT count(*) FROM des.gc_pending_deletes'), '0', 'no storage delete is left pending');
check_live('after the last run');
# every container row has its file; every file left has its row
my @files_after = container_files();
cmp_ok(scalar(@files_after), '<', scalar(@files_before), scalar(@files_before) . ' container files before, ' . scalar(@files_after) . ' after');
# the copies a killed compaction wrote belong to no row: des.orphans removes them
my $orphans = $node->safe_psql('postgres', 'SELECT count(*) FROM des.orphans(remove => true) WHERE removed');
cmp_ok($orphans, '>=', ($hooks ? 1 : 0), "the killed compaction left $orphans orphans, removed");
@files_after = container_files();
is($node->safe_psql('postgres', 'SELECT count(*) FROM des.containers'), scalar(@files_after), 'one file per container row');
is($node->safe_psql('postgres', 'SELECT count(*) FROM des.orphans()'), '0', 'and no file is left without a row');
note($node->safe_psql('postgres', "SELECT string_agg(format('%s/%s/%s/%s', id, shard, origin, entries), ' ') FROM des.containers WHERE day = (now() AT TIME ZONE 'UTC')::date - 1"));
# yesterday's small containers were merged: at most one per shard (2^des.shard_bits)
cmp_ok($node->safe_psql('postgres', "SELECT count(*) FROM des.containers WHERE day = (now() AT TIME ZONE 'UTC')::date - 1"),
	'<=', 2, "yesterday's $yesterday_containers containers are merged into at most 2");
is($node->safe_psql('postgres', "SELECT count(*) FROM des.containers WHERE origin = 'compaction'") > 0 ? 'yes' : 'no', 'yes',
	'compaction wrote containers');
# dead blobs: none in the catalog; the deleted rounds are not readable
is($node->safe_psql('postgres', "SELECT count(*) FROM des.blobs b WHERE NOT EXISTS (SELECT FROM des.objects o WHERE o.hash = b.hash)
	AND NOT EXISTS (SELECT FROM des.dataset_contents c, des_internal.content_chunks(c.chunks) ch WHERE ch = b.hash)"), '0',
	'no unreferenced blob is left');

$node->stop;
done_testing();
