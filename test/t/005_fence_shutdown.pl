# Late writers and bounded shutdown, on S3 storage through the test harness
# (which can stall requests):
#  - an upload that completes after its lease passed to another packer lands
#    on its own key: the container the other packer committed reads back
#    byte-exact, and des.orphans lists what the late writer left;
#  - every worker exits within des.shutdown_timeout (plus a small margin)
#    whatever it is doing: a stalled upload, a stalled download (adopting a
#    stored container), a stalled URL fetch; nothing is lost afterwards.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use FindBin;
use lib $FindBin::RealBin;
use PgDesChecks;

my $harness = 'http://127.0.0.1:59001/__control';
if (system("curl -sf -o /dev/null $harness/stats") != 0)
{
	plan skip_all => 'the S3 test harness is not running on 127.0.0.1:59001 (test/s3/start.sh)';
}
sub harness
{
	my ($what) = @_;
	system("curl -sf -o /dev/null -X POST '$harness/$what'") == 0 or die "harness $what failed";
}

# what the docs promise: des.shutdown_timeout plus about a second for libcurl
# to notice, plus the exit itself; this test allows 3 s over the timeout
my $shutdown_timeout = 2;
my $margin = 3;
my $prefix = 'fence-' . $$ . '-' . int(time());
my $node = PostgreSQL::Test::Cluster->new('fence');
$node->init;
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'pg_des'
des.storage = 's3://pgdes-test/$prefix'
des.default_server = 'lake'
des.packers = 2
des.marker_naptime = '100ms'
des.packer_naptime = '100ms'
des.container_max_age = '300ms'
des.shard_bits = 0
des.worker_restart_time = 1
des.shutdown_timeout = '${shutdown_timeout}s'
des.s3_low_speed_time = '120s'
restart_after_crash = on
));
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_des;
	CREATE SERVER lake FOREIGN DATA WRAPPER des_fdw
	  OPTIONS (endpoint 'http://127.0.0.1:59001', region 'us-east-1', url_style 'path', allow_http 'true');
	CREATE USER MAPPING FOR CURRENT_USER SERVER lake
	  OPTIONS (access_key_id 'pgdes-test-key', secret_access_key 'pgdes-test-secret');
});

sub put_objects
{
	my ($p, $n, $size) = @_;
	$node->safe_psql('postgres', qq{
		SELECT des.put('$p/' || i, convert_to(rpad('$p/' || i || ':', $size, 'xyz'), 'UTF8'))
		  FROM generate_series(1, $n) i});
}

# every object packed once and byte-exact through its committed container
sub check_packed
{
	my ($what) = @_;
	ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM des.objects WHERE state IN ('pending', 'marked')"),
		"$what: every object is packed");
	is($node->safe_psql('postgres', q{
		SELECT count(*) FILTER (WHERE g.data IS DISTINCT FROM convert_to(rpad(o.name || ':', length(g.data), 'xyz'), 'UTF8'))
		  FROM des.objects o LEFT JOIN des.get_many(ARRAY(SELECT name FROM des.objects WHERE name NOT LIKE 'url/%')) g
		    ON g.name = o.name
		 WHERE o.name NOT LIKE 'url/%'}),
		'0', "$what: every object reads back byte-exact");
	is($node->safe_psql('postgres', q{
		SELECT count(*) FROM des.containers c
		 WHERE c.state <> 'committed' OR EXISTS (SELECT FROM des.archive_verify(c.location) v WHERE NOT v.ok)}),
		'0', "$what: every container is committed and verifies");
	is($node->safe_psql('postgres', q{
		SELECT (SELECT count(*) FROM des.objects) = (SELECT sum(refcount) FROM des.blobs)}),
		't', "$what: each object referenced once");
	blobs_match_archives($node, $what);
}

sub packer_pid_in_phase
{
	my ($phase) = @_;
	return $node->safe_psql('postgres',
		"SELECT pid FROM des.packer_stats() WHERE phase = '$phase' AND pid IS NOT NULL LIMIT 1");
}

# ---- 1. a late upload cannot replace a committed container ----
# A lease of 8 s: the first packer's upload (a single PUT) passes the fence
# check, then the harness holds the PUT for 12 s. The lease runs out, the
# other packer takes it over, writes under its own key and commits; then the
# held PUT is forwarded and completes, on the late writer's key.
$node->safe_psql('postgres', "ALTER SYSTEM SET des.lease_timeout = '8s'; SELECT pg_reload_conf()");
harness('reset');
harness('stall?count=1&ms=12000&kind=put');
put_objects('late', 50, 200);
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM des.containers WHERE state = 'uploading'}),
	'the first upload is on its way');
my $late_key = $node->safe_psql('postgres', q{SELECT location FROM des.containers WHERE state = 'uploading'});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM des.containers WHERE state = 'committed'}),
	'another packer commits the container while the first upload is held');
my $committed_key = $node->safe_psql('postgres', q{SELECT location FROM des.containers WHERE state = 'committed'});
isnt($committed_key, $late_key, 'the committed container has a key of its own lease, not the late writer\'s');
like($committed_key, qr{/\d\d-\d{6}-t\d+\.des$}, 'keys carry the lease token');
# the held PUT completes at 12 s; the late writer then finds its lease lost
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM des.storage_list(des_internal.storage_root() || '/') WHERE location = '$late_key'"),
	'the late upload completes, on its own key');
ok($node->poll_query_until('postgres', 'SELECT sum(errors) > 0 FROM des.packer_stats()'),
	'the late writer\'s commit is refused (lease lost)');
is($node->safe_psql('postgres', q{SELECT string_agg(location, ',') FROM des.containers}),
	$committed_key, 'the catalog still names the committed key only');
check_packed('after a late upload');
is($node->safe_psql('postgres', 'SELECT string_agg(location, \',\') FROM des.orphans()'), $late_key,
	'des.orphans lists what the late writer left');
is($node->safe_psql('postgres', 'SELECT count(*) FROM des.orphans(remove => true) WHERE removed'), '1',
	'and removes it on request');
is($node->safe_psql('postgres', 'SELECT count(*) FROM des.orphans()'), '0', 'no orphan left');
check_packed('after removing the orphan');
$node->safe_psql('postgres', "ALTER SYSTEM RESET des.lease_timeout; SELECT pg_reload_conf()");

# ---- 2. SIGTERM during a stalled upload ----
harness('reset');
harness('stall?count=1&ms=0&kind=put');
put_objects('up', 30, 200);
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM des.packer_stats() WHERE phase = 'uploading'}),
	'a packer is uploading');
my $pid = packer_pid_in_phase('uploading');
sleep(1);		# the PUT is held for good now
my $t0 = time();
kill 'TERM', $pid;
sleep(0.05) while kill(0, $pid) && time() - $t0 < 60;
my $took = time() - $t0;
ok(!kill(0, $pid), 'the packer exits during a stalled upload');
cmp_ok($took, '<', $shutdown_timeout + $margin, sprintf('within des.shutdown_timeout + %d s (took %.1f s)', $margin, $took));
cmp_ok($took, '>=', $shutdown_timeout - 0.5, 'after giving the step its grace period');
harness('reset');	# the held request is dropped
check_packed('after SIGTERM during an upload');

# ---- 3. server shutdown while a packer adopts a stored container (a stalled download) ----
# kill -9 after the upload, so that the restarted packer finds the archive
# stored and reads it back to adopt it; the harness holds every read.
$node->safe_psql('postgres', "ALTER SYSTEM SET des.debug_pause_at = 'after_upload'; SELECT pg_reload_conf()");
put_objects('adopt', 30, 200);
ok($node->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM pg_stat_activity
	 WHERE backend_type = 'pg_des packer' AND query LIKE '%paused at after_upload%'}),
	'a packer stops after its upload');
$pid = $node->safe_psql('postgres', q{
	SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_des packer' AND query LIKE '%paused at after_upload%' LIMIT 1});
$node->safe_psql('postgres', 'ALTER SYSTEM RESET des.debug_pause_at; SELECT pg_reload_conf()');
harness('reset');
harness('stall?count=50&ms=0&kind=head,get,get_range');
kill 'KILL', $pid;
ok(poll_through_restart($node, q{SELECT count(*) = 1 FROM des.packer_stats() WHERE phase = 'adopting'}),
	'after the crash a packer adopts the stored container, and its reads are held');
sleep(1);
$t0 = time();
$node->stop('fast');
$took = time() - $t0;
cmp_ok($took, '<', $shutdown_timeout + $margin,
	sprintf('a fast shutdown ends within des.shutdown_timeout + %d s during a stalled download (took %.1f s)', $margin, $took));
harness('reset');
$node->start;
check_packed('after a shutdown during adoption');

# ---- 4. server shutdown while the marker fetches a URL object (a stalled download) ----
$node->safe_psql('postgres', qq{
	SELECT des.archive_write('s3://pgdes-test/$prefix-src/source.des', 'x', '\\x0102'::bytea, NULL)});
harness('reset');
harness('stall?count=50&ms=0&kind=head,get,get_range');
$node->safe_psql('postgres', qq{SELECT des.put_url('url/1', 's3://pgdes-test/$prefix-src/source.des')});
ok($node->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'pg_des marker' AND query LIKE '%fetching%'}),
	'the marker is fetching the URL object, and its reads are held');
sleep(1);
$t0 = time();
$node->stop('fast');
$took = time() - $t0;
cmp_ok($took, '<', $shutdown_timeout + $margin,
	sprintf('a fast shutdown ends within des.shutdown_timeout + %d s during a stalled URL fetch (took %.1f s)', $margin, $took));
harness('reset');
$node->start;
ok($node->poll_query_until('postgres', q{SELECT state = 'packed' AND size > 0 FROM des.objects WHERE name = 'url/1'}),
	'the URL object is fetched and packed after the restart');
check_packed('after a shutdown during a URL fetch');
is($node->safe_psql('postgres', 'SELECT count(*) FROM des.orphans()'), '0', 'no orphan key in the bucket');

$node->stop;
done_testing();
