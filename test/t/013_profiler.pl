# The profiler workers, real background workers, over real files:
# - a discovery's commit wakes them (a 1 h nap otherwise): every file found
#   is profiled within seconds, with the owner's rights; unparsable files
#   fail as such, missing ones are retried with backoff and left dead;
# - a table is profiled by the worker as its owner;
# - kill -9 of a profiler mid-dataset (paused after profiling, before
#   storing), and kill -9 at random while two profilers work through many
#   datasets: every dataset ends profiled, and stored exactly once;
# - pg_cron (Debian's postgresql-15-cron) runs a discoverer's schedule.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Spec;
use Time::HiRes qw(usleep time);

# kill -9 one process, by a pid the server gave: never 0 or empty (kill would
# then signal this script's own process group)
sub kill9
{
	my ($pid) = @_;
	die "not a process id: '$pid'" unless defined $pid && $pid =~ /^[1-9][0-9]*$/;
	kill 'KILL', $pid;
}

sub write_csv
{
	my ($path, $rows, $seed) = @_;
	open my $fh, '>', $path or die "$path: $!";
	print $fh "id,city,amount,day\n";
	print $fh join(',', $_, 'city' . (($_ + $seed) % 9), sprintf('%.2f', $_ * 1.5 + $seed), sprintf('2021-01-%02d', 1 + $_ % 28)) . "\n"
	  for 1 .. $rows;
	close $fh;
	return;
}

my $have_cron = -e '/usr/lib/postgresql/15/lib/pg_cron.so';
my $node = PostgreSQL::Test::Cluster->new('profiler');
$node->init;
my $data = File::Spec->rel2abs($node->basedir) . '/files';
mkdir $data or die "$data: $!";
my $socket = $node->host;
my $preload = $have_cron ? 'pg_cron,pg_des' : 'pg_des';
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = '$preload'
cron.database_name = 'postgres'
cron.host = '$socket'
des.profilers = 2
des.profiler_naptime = '1h'
des.profile_retry_base = '100ms'
des.profile_max_attempts = 3
des.worker_restart_time = 1
restart_after_crash = on
));
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_des');
my $hooks = $node->safe_psql('postgres', "SELECT current_setting('des.debug_pause_at', true) IS NOT NULL") eq 't';
ok($node->poll_query_until('postgres', 'SELECT count(*) = 2 FROM des.profiler_stats() WHERE pid IS NOT NULL'),
	'two profilers are running');

# ---- a discovery wakes the profilers at its commit ----
write_csv("$data/a$_.csv", 200 + $_, $_) for 1 .. 5;
open my $bad, '>', "$data/binary.csv" or die;
print $bad "\x00\x01\x02\x03 not text";
close $bad;
$node->safe_psql('postgres', qq{
	CREATE ROLE reader LOGIN;
	GRANT pg_read_server_files TO reader;
	SET ROLE reader;
	SELECT des.discoverer_create('files', 'directory', '{"path": "$data"}');});
my $t0 = time;
$node->safe_psql('postgres', "SET ROLE reader; SELECT * FROM des.discover('files')");
ok($node->poll_query_until('postgres', q{SELECT count(*) = 6 FROM des.datasets WHERE state IN ('profiled', 'failed')}, 't'),
	'every file found is profiled or failed');
my $took = time - $t0;
cmp_ok($took, '<', 30, sprintf('with a 1 h nap, woken at commit: all done in %.1f s', $took));
is($node->safe_psql('postgres', q{SELECT string_agg(id || ':' || nb_rows, ',' ORDER BY id) FROM des.datasets WHERE state = 'profiled'}),
	'files.a1.csv:201,files.a2.csv:202,files.a3.csv:203,files.a4.csv:204,files.a5.csv:205', 'the row counts of the files');
is($node->safe_psql('postgres', q{SELECT state || ' ' || failure_kind FROM des.datasets WHERE id = 'files.binary.csv'}),
	'failed unparsable', 'a binary file fails as unparsable, once (no retry)');
is($node->safe_psql('postgres', q{SELECT sum(profiles_stored) || ' ' || sum(profiles_failed) FROM des.profiler_stats()}),
	'5 1', 'the profilers count what they stored and what failed');

# a missing file: retried with backoff, then dead
$node->safe_psql('postgres', qq{SET ROLE reader;
	SELECT des.record_dataset('{"kind": "storage", "location": "$data/gone.csv"}', '{}', 'gone')});
ok($node->poll_query_until('postgres', q{SELECT state = 'dead' FROM des.discovered_datasets WHERE id = 'manual.gone'}, 't'),
	'a missing file is retried, then left dead');
is($node->safe_psql('postgres', q{SELECT attempts || ' ' || failure_kind FROM des.discovered_datasets WHERE id = 'manual.gone'}),
	'3 unreachable', 'after des.profile_max_attempts attempts, as unreachable');

# without pg_read_server_files, a role's file is not read
$node->safe_psql('postgres', qq{CREATE ROLE nobody LOGIN; SET ROLE nobody;
	SELECT des.record_dataset('{"kind": "storage", "location": "$data/a1.csv"}', '{}', 'peek')});
ok($node->poll_query_until('postgres', q{SELECT failure_kind = 'forbidden' FROM des.discovered_datasets WHERE id = 'manual.peek'}, 't'),
	'a role without pg_read_server_files cannot have a server file profiled');

# a table, read as its owner
$node->safe_psql('postgres', q{
	CREATE TABLE readings (sensor int, value float8, at timestamptz);
	INSERT INTO readings SELECT i % 10, i * 0.5, timestamptz '2022-05-01 00:00+00' + i * interval '1 minute' FROM generate_series(1, 1000) i;
	GRANT SELECT ON readings TO reader;
	SET ROLE reader;
	SELECT des.record_dataset('{"kind": "table", "relation": "public.readings"}', '{"name": "readings"}', 'readings')});
ok($node->poll_query_until('postgres', q{SELECT state = 'profiled' FROM des.discovered_datasets WHERE id = 'manual.readings'}, 't'),
	'a table is profiled by a worker');
is($node->safe_psql('postgres', q{SELECT (profile ->> 'nb_rows') || ' ' || (profile -> 'columns' -> 2 ->> 'temporal_resolution')
	FROM des.discovered_datasets WHERE id = 'manual.readings'}), '1000 minute', 'its rows and its time column read as the table has them');

# ---- kill -9 mid-dataset ----
SKIP:
{
	skip 'pause points need a test build (-DDES_TEST_HOOKS)', 4 unless $hooks;
	$node->safe_psql('postgres', "ALTER SYSTEM SET des.debug_pause_at = 'profile-store'; SELECT pg_reload_conf()");
	write_csv("$data/k.csv", 300, 7);
	$node->safe_psql('postgres', "SET ROLE reader; SELECT * FROM des.discover('files')");
	ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_activity
		 WHERE backend_type = 'pg_des profiler' AND query LIKE '%paused at profile-store%'}),
		'a profiler pauses after profiling, before storing');
	my $pid = $node->safe_psql('postgres', q{SELECT pid FROM pg_stat_activity
		 WHERE backend_type = 'pg_des profiler' AND query LIKE '%paused at profile-store%'});
	$node->safe_psql('postgres', 'ALTER SYSTEM RESET des.debug_pause_at; SELECT pg_reload_conf()');
	kill9($pid);
	ok($node->poll_query_until('postgres', 'SELECT 1', '1'), 'the server is back after kill -9 of the profiler');
	# the claim's backend is gone: the next claim takes it back (the profilers wake at their restart)
	ok($node->poll_query_until('postgres', q{SELECT state = 'profiled' FROM des.discovered_datasets WHERE id = 'files.k.csv'}, 't'),
		'the dataset the killed profiler had is profiled');
	is($node->safe_psql('postgres', q{SELECT profile_count || ' ' || (profile ->> 'nb_rows') FROM des.discovered_datasets WHERE id = 'files.k.csv'}),
		'1 300', 'and stored once');
}

# ---- kill -9 at random while two profilers work through many datasets ----
write_csv("$data/m$_.csv", 100000 + $_, $_) for 1 .. 30;
$node->safe_psql('postgres', "SET ROLE reader; SELECT * FROM des.discover('files')");
my $kills = 0;
for my $round (1 .. 4)
{
	# a profiler in the middle of a dataset, found by polling, killed after a random while
	my $pid = '';
	for (1 .. 200)
	{
		$pid = $node->safe_psql('postgres', q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_des profiler'
			 AND query LIKE 'pg_des: profiling%' LIMIT 1});
		last if $pid;
		usleep(10_000);
	}
	last unless $pid;
	usleep(int(rand(30_000)));
	kill9($pid);
	$kills++;
	# until the postmaster notices the kill the server still answers, and the
	# next statement would meet the crash restart: wait for the dead
	# profiler's entry to go with the restart
	$node->poll_query_until('postgres', "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $pid)")
	  or die 'the server did not come back';
}
cmp_ok($kills, '>=', 2, "killed $kills profilers while they worked");
ok($node->poll_query_until('postgres', q{SELECT count(*) = 30 FROM des.discovered_datasets WHERE id LIKE 'files.m%' AND state = 'profiled'}, 't'),
	'after the kills, every dataset is profiled');
is($node->safe_psql('postgres', q{SELECT count(*) FROM des.discovered_datasets WHERE id LIKE 'files.m%' AND profile_count <> 1}),
	'0', 'each stored exactly once');
is($node->safe_psql('postgres', q{SELECT count(*) FROM des.discovered_datasets d
	 WHERE id LIKE 'files.m%' AND (profile ->> 'nb_rows')::int <> 100000 + substring(d.dataset_id FROM 'm([0-9]+)')::int}),
	'0', 'with the right row counts');
is($node->safe_psql('postgres', q{SELECT count(*) FROM des.discovered_columns WHERE dataset LIKE 'files.m%'}),
	'120', 'and their columns once each');

# ---- pg_cron runs a discoverer's schedule ----
SKIP:
{
	skip 'pg_cron (postgresql-15-cron) is not installed: tools/deps.sh installs it', 3 unless $have_cron;
	$node->safe_psql('postgres', 'CREATE EXTENSION pg_cron');
	$node->safe_psql('postgres', q{SET ROLE reader; SELECT des.discoverer_create('files', 'directory',
		(SELECT config FROM des.discoverers WHERE name = 'files'), '* * * * *')});
	is($node->safe_psql('postgres', q{SELECT schedule || ' ' || command FROM cron.job WHERE jobname = 'pg_des discover files'}),
		q{* * * * * SELECT * FROM des.discover('files')}, 'the schedule is a pg_cron job');
	write_csv("$data/cron.csv", 10, 1);
	ok($node->poll_query_until('postgres', q{SELECT state = 'profiled' FROM des.discovered_datasets WHERE id = 'files.cron.csv'}, 't'),
		'a file added later is found by the scheduled run (within a minute) and profiled');
	is($node->safe_psql('postgres', q{SELECT status FROM cron.job_run_details ORDER BY runid DESC LIMIT 1}), 'succeeded',
		'the pg_cron job succeeded');
}

$node->stop;
done_testing();
