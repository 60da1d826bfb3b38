# A foreign table as a source (docs/pipeline.md, "Foreign sources"): a
# second PostgreSQL server holds the application's table, reached through
# postgres_fdw; two real markers claim from it at once (two shares of the
# keys: claimers => 2), two packers pack.
# - kill -9 of a marker paused between its claim (remote rows flipped,
#   objects inserted, nothing committed) and its commit: nothing is lost,
#   nothing is claimed twice;
# - kill -9 of the markers at random while they work through many rows:
#   every remote row ends as exactly one object, byte-exact, and in the
#   claimed status, with no claim left unsettled.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

# kill -9 one process, by a pid the server gave: never 0 or empty
sub kill9
{
	my ($pid) = @_;
	die "not a process id: '$pid'" unless defined $pid && $pid =~ /^[1-9][0-9]*$/;
	kill 'KILL', $pid;
}

my $remote = PostgreSQL::Test::Cluster->new('remote');
$remote->init;
$remote->start;
$remote->safe_psql('postgres', q{
	CREATE TABLE uploads (id bigint PRIMARY KEY, path text NOT NULL, body bytea NOT NULL,
	                      state text NOT NULL DEFAULT 'new', added timestamptz NOT NULL DEFAULT now());
	CREATE INDEX ON uploads (state, added, id);
});

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
$node->append_conf('postgresql.conf', q(
shared_preload_libraries = 'pg_des'
des.markers = 2
des.packers = 2
des.marker_naptime = '100ms'
des.marker_batch_size = 50
des.packer_naptime = '100ms'
des.container_max_age = '300ms'
des.worker_restart_time = 1
restart_after_crash = on
));
$node->start;
my ($rhost, $rport) = ($remote->host, $remote->port);
$node->safe_psql('postgres', qq{
	CREATE EXTENSION pg_des;
	CREATE EXTENSION postgres_fdw;
	CREATE SERVER app FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '$rhost', port '$rport', dbname 'postgres');
	CREATE USER MAPPING FOR CURRENT_USER SERVER app;
	CREATE FOREIGN TABLE app_uploads (id bigint, path text, body bytea, state text, added timestamptz)
	    SERVER app OPTIONS (table_name 'uploads');
});
my $hooks = $node->safe_psql('postgres', "SELECT current_setting('des.debug_pause_at', true) IS NOT NULL") eq 't';

sub add_rows
{
	my ($from, $to) = @_;
	$remote->safe_psql('postgres', qq{
		INSERT INTO uploads (id, path, body)
		SELECT i, 'app/' || i, sha256(int8send(i)) || convert_to(repeat('x', i % 700), 'UTF8')
		  FROM generate_series($from, $to) i});
	return;
}

# every remote row is one object, byte-exact; all settled
sub all_claimed
{
	my ($rows, $what) = @_;
	ok($node->poll_query_until('postgres', qq{
		SELECT count(*) = $rows FROM des.objects WHERE name LIKE 'app/%' AND state = 'packed'}, 't'),
		"$what: every row's object is packed");
	ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM des.source_claims', 't'),
		"$what: every claim is settled");
	is($remote->safe_psql('postgres', "SELECT state || ' ' || count(*) FROM uploads GROUP BY state"),
		"archived $rows", "$what: every remote row ends archived");
	is($node->safe_psql('postgres', qq{
		SELECT count(*) || ' ' || count(DISTINCT o.name) || ' ' || bool_and(des.get(o.name) = r.body)
		  FROM des.objects o JOIN app_uploads r ON r.path = o.name WHERE o.name LIKE 'app/%'}),
		"$rows $rows true", "$what: one object per row, none twice, byte-exact");
	return;
}

SKIP:
{
	skip 'pause points need a test build (-DDES_TEST_HOOKS)', 3 unless $hooks;
	add_rows(1, 500);
	$node->safe_psql('postgres', "ALTER SYSTEM SET des.debug_pause_at = 'source_claimed'; SELECT pg_reload_conf()");
	$node->safe_psql('postgres', q{
		SELECT des.register_source('app_uploads', 'path', data_column => 'body', status_column => 'state',
		                           pending_value => 'new', claimed_value => 'archived', key_column => 'id',
		                           age_column => 'added', claimers => 2)});
	ok($node->poll_query_until('postgres', q{
		SELECT count(*) > 0 FROM pg_stat_activity
		 WHERE backend_type = 'pg_des marker' AND query LIKE '%paused at source_claimed%'}),
		'a marker pauses with rows flipped and staged, uncommitted');
	my $pid = $node->safe_psql('postgres', q{
		SELECT pid FROM pg_stat_activity
		 WHERE backend_type = 'pg_des marker' AND query LIKE '%paused at source_claimed%' LIMIT 1});
	$node->safe_psql('postgres', 'ALTER SYSTEM RESET des.debug_pause_at; SELECT pg_reload_conf()');
	kill9($pid);
	ok($node->poll_query_until('postgres', 'SELECT 1', '1'), 'the server is back after kill -9 of the marker');
	all_claimed(500, 'after kill -9 between claim and commit');
}
if (!$hooks)
{
	add_rows(1, 500);
	$node->safe_psql('postgres', q{
		SELECT des.register_source('app_uploads', 'path', data_column => 'body', status_column => 'state',
		                           pending_value => 'new', claimed_value => 'archived', key_column => 'id',
		                           age_column => 'added', claimers => 2)});
	all_claimed(500, 'without pause points');
}

# kill -9 at random while the markers work through 20,000 more rows (in
# rounds of 50): a kill counts when rows were still waiting
add_rows(501, 20500);
$node->safe_psql('postgres', 'SELECT des.wake_markers()');
my $kills = 0;
for my $round (1 .. 8)
{
	usleep(int(rand(300_000)) + 50_000);
	my $pid = $node->safe_psql('postgres', q{
		SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_des marker' ORDER BY random() LIMIT 1});
	next unless $pid =~ /^[1-9][0-9]*$/;
	my $waiting = $remote->safe_psql('postgres', "SELECT count(*) FROM uploads WHERE state <> 'archived'");
	kill9($pid);
	$kills++ if $waiting > 0;
	# back once the crash restart is done: until the postmaster notices the
	# kill, the server still answers (and the next statement would meet the
	# restart); the dead marker's entry goes only with the restart
	$node->poll_query_until('postgres', qq{
		SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $pid)
		   AND EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'pg_des marker')})
	  or die 'the server did not come back';
}
cmp_ok($kills, '>=', 3, "killed $kills markers while rows were waiting");
all_claimed(20500, 'after kill -9 at random');
is($node->safe_psql('postgres', "SELECT coalesce(last_error, 'none') FROM des.sources"), 'none',
	'the source has no error left');

done_testing();
