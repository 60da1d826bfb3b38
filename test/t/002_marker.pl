# The marker worker: marks objects in batches, and after kill -9 (the whole
# server crash-restarts) or SIGTERM (the worker alone restarts) every object
# ends up marked exactly once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgDesChecks;

my $node = PostgreSQL::Test::Cluster->new('marker');
$node->init;
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'pg_des'
des.marker_naptime = '100ms'
des.marker_batch_size = 50
des.packers = 0
des.worker_restart_time = 1
restart_after_crash = on
));
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_des');

ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_des marker'"),
	'the marker shows in pg_stat_activity as "pg_des marker"');

$node->safe_psql('postgres',
	"SELECT des.put('o' || i, convert_to(repeat('x', i), 'UTF8')) FROM generate_series(1, 500) i");
ok($node->poll_query_until('postgres', "SELECT count(*) = 500 FROM des.objects WHERE state = 'marked'"),
	'the marker marks every staged object');
is($node->safe_psql('postgres',
	"SELECT bool_and(hash = des.blake2b(staged) AND size = length(staged) AND day IS NOT NULL) FROM des.objects"),
	't', 'with the right hash, size and day');
cmp_ok($node->safe_psql('postgres', 'SELECT batches FROM des.marker_stats()'), '>=', 10,
	'in batches of des.marker_batch_size (500 objects, 50 per batch)');
is($node->safe_psql('postgres', 'SELECT marked FROM des.marker_stats()'), '500', 'des.marker_stats counts them');

# kill -9 while a backlog is being marked: the server crash-restarts; the
# batch in flight was one transaction, so its objects are simply still pending
$node->safe_psql('postgres',
	"SELECT des.put('k' || i, convert_to(i::text, 'UTF8')) FROM generate_series(1, 20000) i");
my $pid = $node->safe_psql('postgres', 'SELECT pid FROM des.marker_stats()');
ok($pid =~ /^\d+$/, 'the marker has a pid');
kill 'KILL', $pid;
ok(poll_through_restart($node, "SELECT count(*) = 20500 FROM des.objects WHERE state = 'marked'"),
	'after kill -9 of the marker mid-backlog, every object is marked');
is($node->safe_psql('postgres',
	"SELECT count(*) = count(DISTINCT name) AND bool_and(hash = des.blake2b(staged)) FROM des.objects"),
	't', 'none twice, none wrong');
my $pid2 = $node->safe_psql('postgres', 'SELECT pid FROM des.marker_stats()');
isnt($pid2, $pid, 'a new marker runs after the crash restart');

# SIGTERM: the worker exits and the postmaster restarts it after des.worker_restart_time
kill 'TERM', $pid2;
ok($node->poll_query_until('postgres',
	"SELECT pid IS NOT NULL AND pid <> $pid2 FROM des.marker_stats()"),
	'after SIGTERM the marker is restarted');
$node->safe_psql('postgres', "SELECT des.put('late', '\\x01'::bytea)");
is($node->safe_psql('postgres', 'SELECT des.wake_markers()'), '1', 'des.wake_markers() reaches it, and says how many it woke');
ok($node->poll_query_until('postgres', "SELECT state = 'marked' FROM des.objects WHERE name = 'late'"),
	'and it goes on marking');

# des.marker_rate_limit: 100 objects/s (a bucket of one second) cannot mark 1,000 in 2 s
$node->safe_psql('postgres', "ALTER SYSTEM SET des.marker_rate_limit = 100; SELECT pg_reload_conf()");
sleep 1;	# the marker takes the new setting at its next round
my $t0 = time();
$node->safe_psql('postgres',
	"SELECT des.put('rl/' || i, convert_to(i::text, 'UTF8')) FROM generate_series(1, 1000) i");
sleep 2;
my $marked_2s = $node->safe_psql('postgres', "SELECT count(*) FROM des.objects WHERE name LIKE 'rl/%' AND state = 'marked'");
my $elapsed = time() - $t0;
cmp_ok($marked_2s, '<=', 100 * ($elapsed + 2), "the rate limit holds marking back ($marked_2s marked in about $elapsed s)");
cmp_ok($marked_2s, '>', 0, 'but it marks');
$node->safe_psql('postgres', "ALTER SYSTEM RESET des.marker_rate_limit; SELECT pg_reload_conf()");
ok($node->poll_query_until('postgres', "SELECT count(*) = 0 FROM des.objects WHERE state = 'pending'"),
	'without the limit the rest is marked');

$node->stop;

# two markers share a backlog: each marks its part, none twice
$node->append_conf('postgresql.conf', 'des.markers = 2');
$node->start;
ok($node->poll_query_until('postgres', 'SELECT count(pid) = 2 FROM des.marker_stats()'),
	'with des.markers = 2 two markers run');
$node->safe_psql('postgres',
	"SELECT des.put('two/' || i, convert_to(i::text, 'UTF8')) FROM generate_series(1, 20000) i");
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM des.objects WHERE state = 'pending'"), 'the two markers mark the backlog');
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE marked > 0), sum(marked) >= 20000 FROM des.marker_stats()}),
	'2|t', 'both took part');
is($node->safe_psql('postgres',
	"SELECT count(*) = count(DISTINCT name) AND bool_and(hash = des.blake2b(staged)) FROM des.objects"),
	't', 'none twice, none wrong');
is($node->safe_psql('postgres', q{SELECT ok, detail FROM des.health() WHERE "check" = 'markers running'}),
	't|2 of 2 running', 'des.health counts them');
is($node->safe_psql('postgres', q{
	SELECT count(*), count(pid), bool_and(units_done > 0), bool_and(iterations > 0),
	       bool_and(last_activity_at IS NOT NULL), bool_and(phase IN ('idle', 'working'))
	  FROM des.stat_workers WHERE kind = 'pg_des marker'}),
	'2|2|t|t|t|t', 'des.stat_workers: both markers running, with committed units of work and their time');
is($node->safe_psql('postgres', q{SELECT count(*) FROM des.stat_workers WHERE kind = 'pg_des packer'}),
	$node->safe_psql('postgres', q{SELECT current_setting('des.packers')}),
	'des.stat_workers lists the packers too');
$node->stop;

# des.workers = off: no marker at all
$node->append_conf('postgresql.conf', 'des.workers = off');
$node->start;
$node->safe_psql('postgres', "SELECT des.put('after-off', '\\x02'::bytea)");
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_des marker'"),
	'0', 'with des.workers = off no marker runs');
is($node->safe_psql('postgres', 'SELECT bool_and(pid IS NULL) FROM des.marker_stats()'), 't', 'and des.marker_stats says so');
$node->stop;
done_testing();
