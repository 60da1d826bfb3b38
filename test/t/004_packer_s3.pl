# The pipeline with S3 storage (the test harness: s3rver behind a proxy that
# verifies every SigV4 signature): containers are written to a local spool
# file inside a transaction, uploaded with none open, then committed; kill -9
# during the upload or between upload and commit loses and duplicates nothing.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgDesChecks;

if (system('curl -sf -o /dev/null http://127.0.0.1:59001/__control/stats') != 0)
{
	plan skip_all => 'the S3 test harness is not running on 127.0.0.1:59001 (test/s3/start.sh)';
}

my $prefix = 'lake-' . $$ . '-' . time();
my $node = PostgreSQL::Test::Cluster->new('packer_s3');
$node->init;
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'pg_des'
des.storage = 's3://pgdes-test/$prefix'
des.default_server = 'lake'
des.packers = 2
des.marker_naptime = '100ms'
des.packer_naptime = '100ms'
des.container_max_age = '300ms'
des.container_max_entries = 200
des.s3_part_size = 5
des.worker_restart_time = 1
des.shard_bits = 1
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

sub check_all
{
	my ($what) = @_;
	ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM des.objects WHERE state IN ('pending', 'marked')"),
		"$what: every object is packed");
	is($node->safe_psql('postgres', q{
		SELECT count(*) FILTER (WHERE g.data IS DISTINCT FROM convert_to(rpad(o.name || ':', length(g.data), 'xyz'), 'UTF8'))
		  FROM des.objects o LEFT JOIN des.get_many(ARRAY(SELECT name FROM des.objects)) g ON g.name = o.name}),
		'0', "$what: every object reads back from S3 with its own bytes");
	is($node->safe_psql('postgres', q{
		SELECT count(*) FROM des.containers c
		 WHERE c.state <> 'committed' OR c.etag IS NULL OR c.location NOT LIKE 's3://pgdes-test/%'
		    OR EXISTS (SELECT FROM des.archive_verify(c.location) v WHERE NOT v.ok)}),
		'0', "$what: every container is committed on S3 with its ETag and verifies");
	is($node->safe_psql('postgres', q{
		SELECT (SELECT count(*) FROM des.objects) = (SELECT sum(refcount) FROM des.blobs)}),
		't', "$what: each object referenced once");
	blobs_match_archives($node, $what);
	is($node->safe_psql('postgres', 'SELECT count(*) FROM des.orphans()'), '0', "$what: no orphan key in the bucket")
	  or diag($node->safe_psql('postgres', q{
		SELECT string_agg(format('%s (%s bytes)', o.location, o.size), ', ') FROM des.orphans() o}));
	is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_ls_dir(current_setting('data_directory') || '/pg_des_spool') f}),
		'0', "$what: no spool file left");
	is($node->safe_psql('postgres', q{
		SELECT (SELECT count(*) FROM des.fetch_queue) + (SELECT count(*) FROM des.mark_queue)
		       + (SELECT count(*) FROM des.pack_queue)}),
		'0', "$what: no queue row left");
}

put_objects('a', 500, 300);
check_all('S3 storage');
# des.get reads a packed object with one ranged GET at its blob's offset; the
# bytes are those the archive's index gives for its name
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE des.get(o.name) = g.data) || ' of ' || count(*)
	  FROM (SELECT name FROM des.objects ORDER BY id LIMIT 20) o
	  JOIN des.get_many(ARRAY(SELECT name FROM des.objects ORDER BY id LIMIT 20)) g USING (name)}),
	'20 of 20', 'des.get of objects packed on S3 (at their blobs\' offsets) returns the bytes read by name');
is($node->safe_psql('postgres', q{
	SELECT count(*) = (SELECT count(*) FROM des.containers)
	  FROM des.storage_list(des_internal.storage_root() || '/') s
	  JOIN des.containers c ON c.location = s.location AND c.etag = s.etag}),
	't', 'the bucket holds exactly the containers, with the ETags the catalog recorded');

my $n = 0;
for my $point ('mid_upload', 'after_upload')
{
	$n++;
	kill_paused_packer($node, $point, sub { put_objects("k$n", 400, 2000); }, sub {
		is($node->safe_psql('postgres', q{SELECT count(*) > 0 FROM des.containers WHERE state = 'uploading'}),
			't', "at $point the container is recorded as uploading");
	});
	check_all("kill -9 at $point");
	if ($point eq 'after_upload')
	{
		cmp_ok($node->safe_psql('postgres', 'SELECT sum(adopted) FROM des.packer_stats()'), '>=', 1,
			'the container uploaded before the crash is adopted, not uploaded again');
	}
}
# ---- des.incoming on S3: rows packed and read back; kill -9 after the
# upload: the container is written again under a new key, and the key the
# dead packer uploaded is deleted (no orphan) ----
sub stage_rows
{
	my ($p, $n, $size) = @_;
	$node->safe_psql('postgres', qq{
		INSERT INTO des.incoming (name, data)
		SELECT '$p/' || i, convert_to(rpad('$p/' || i || ':', $size, 'xyz'), 'UTF8') FROM generate_series(1, $n) i});
}
stage_rows('in', 300, 300);
ok($node->poll_query_until('postgres', q{SELECT staged = 0 FROM des.stat_incoming}), 'des.incoming rows are packed on S3');
is($node->safe_psql('postgres', q{SELECT count(*) FROM des.objects WHERE name LIKE 'in/%' AND state = 'packed'}), '300',
	'each is a packed object');
check_all('des.incoming on S3');
kill_paused_packer($node, 'after_upload', sub { stage_rows('ink', 400, 2000); }, sub {
	is($node->safe_psql('postgres', q{SELECT count(*) > 0 FROM des.containers WHERE state = 'uploading' AND origin = 'incoming'}),
		't', 'its container of des.incoming rows is recorded as uploading');
});
ok($node->poll_query_until('postgres', q{SELECT staged = 0 AND ranges = 0 FROM des.stat_incoming}),
	'the rows are packed after the crash');
is($node->safe_psql('postgres', q{SELECT count(*), count(DISTINCT name) FROM des.objects WHERE name LIKE 'ink/%' AND state = 'packed'}),
	'400|400', 'each once');
check_all('kill -9 at after_upload of des.incoming rows');

# the lease fences uploads: an upload that would complete after its lease may
# have passed to another packer is abandoned (here every lease is too short)
my $errors = $node->safe_psql('postgres', 'SELECT sum(errors) FROM des.packer_stats()');
$node->safe_psql('postgres', "ALTER SYSTEM SET des.lease_timeout = '5s'; SELECT pg_reload_conf()");
put_objects('fence', 50, 100);
ok($node->poll_query_until('postgres', "SELECT sum(errors) > $errors FROM des.packer_stats()"),
	'with a lease shorter than the fence margin, the upload is abandoned');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM des.objects WHERE name LIKE 'fence/%' AND state = 'packed'}), '0',
	'nothing of it is committed');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM des.storage_list(des_internal.storage_root() || '/') s
	 WHERE NOT EXISTS (SELECT FROM des.containers c WHERE c.location = s.location AND c.state = 'committed')}),
	'0', 'and no uncommitted key reached the bucket');
$node->safe_psql('postgres', "ALTER SYSTEM RESET des.lease_timeout; SELECT pg_reload_conf()");
check_all('after the lease is long enough again');

is($node->safe_psql('postgres', q{SELECT ok FROM des.health() WHERE "check" = 'storage reachable'}), 't',
	'des.health reaches the bucket');

$node->stop;
done_testing();
