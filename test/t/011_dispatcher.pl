# The trigger dispatcher, a real background worker, with real commits:
# - a commit on a subscribed branch runs the job's action within a second
#   (woken at commit, not by polling), as the job's owner, inside a run that
#   records the version it was triggered by; listeners get NOTIFY des_trigger;
# - an action cannot leave its owner's rights (RESET ROLE is refused) and a
#   job it creates belongs to its owner, not to the dispatcher's superuser;
# - kill -9 of the dispatcher mid-run (paused before its commit), and kill -9
#   at random while it works through many triggers: every trigger's action
#   takes effect exactly once;
# - pg_cron (Debian's postgresql-15-cron) schedules a job run;
# - with des.lineage_mirror on, the dispatcher writes the audit records to
#   storage in the GitOps lake's layout (dependency/{repo}/{branch}/{day}/
#   metadata/{day}.json and downstreams/{repo%2Fbranch}), and again after a
#   kill -9 in the middle of writing them.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Spec;
use IPC::Run;
use Time::HiRes qw(usleep);

# kill -9 one process, by a pid the server gave: never 0 or empty (kill would
# then signal this script's own process group)
sub kill9
{
	my ($pid) = @_;
	die "not a process id: '$pid'" unless defined $pid && $pid =~ /^[1-9][0-9]*$/;
	kill 'KILL', $pid;
}

my $have_cron = -e '/usr/lib/postgresql/15/lib/pg_cron.so';
my $node = PostgreSQL::Test::Cluster->new('dispatcher');
$node->init;
my $storage = File::Spec->rel2abs($node->basedir) . '/lake';
my $socket = $node->host;
my $preload = $have_cron ? 'pg_cron,pg_des' : 'pg_des';
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = '$preload'
cron.database_name = 'postgres'
cron.host = '$socket'
des.storage = '$storage'
des.dispatchers = 1
des.dispatcher_naptime = '1h'
des.trigger_retry_base = '100ms'
des.lineage_mirror = on
des.worker_restart_time = 1
restart_after_crash = on
));
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_des');
my $hooks = $node->safe_psql('postgres', "SELECT current_setting('des.debug_pause_at', true) IS NOT NULL") eq 't';

$node->safe_psql('postgres', q{
	CREATE ROLE alice LOGIN;
	SELECT des.repo_create('up');
	SELECT des.grant('up', 'alice', 'read');
	CREATE TABLE seen (trigger_id bigint, bundle text, who text, run uuid, at timestamptz DEFAULT clock_timestamp());
	GRANT INSERT, SELECT ON seen TO alice;
	SET ROLE alice;
	SELECT des.job_create('copy', $$INSERT INTO public.seen (trigger_id, bundle, who, run)
	                                 VALUES (($1->>'trigger_id')::bigint, $1->>'bundle_id', current_user, ($1->>'run_id')::uuid)$$);
	SELECT des.subscribe('copy', 'gros://up');
	RESET ROLE;});
ok($node->poll_query_until('postgres', 'SELECT count(*) = 1 FROM des.dispatcher_stats() WHERE pid IS NOT NULL'),
	'the dispatcher is running');

# ---- a commit runs the action, at once ----
# a listener in another session, for the NOTIFY
my ($listen_out, $listen_err) = ('', '');
my $listener = IPC::Run::start(
	[ 'psql', '-X', '-A', '-t', '-d', $node->connstr('postgres'),
	  '-c', 'LISTEN des_trigger', '-c', 'SELECT pg_sleep(3)', '-c', "SELECT 'listened'" ],
	'<', '/dev/null', '>', \$listen_out, '2>', \$listen_err, IPC::Run::timeout(60));
$listener->pump until $listen_out =~ /LISTEN/;
my $bundle = $node->safe_psql('postgres', q{
	SELECT des.stage('up', 'main', 'a.txt', 'one');
	SELECT des.commit('up', 'main', 'first');});
$bundle = (split /\n/, $bundle)[-1];
ok($node->poll_query_until('postgres', 'SELECT count(*) = 1 FROM seen'), 'the action ran');
is($node->safe_psql('postgres', 'SELECT bundle, who FROM seen'), "$bundle|alice",
	'it got the committed version and ran as the job\'s owner');
my $latency = $node->safe_psql('postgres', q{
	SELECT extract(epoch FROM s.at - l.at) FROM seen s, des.branch_log l WHERE l.reason = 'commit'});
cmp_ok($latency, '<', 1.0, "it ran ${latency}s after the commit (woken at commit, not by polling: the nap is an hour)");
is($node->safe_psql('postgres', q{
	SELECT r.job || ' ' || r.state || ' ' || (r.role = 'alice'::regrole) FROM des.runs r JOIN seen s ON s.run = r.id}),
	'copy completed true', 'its run is recorded, completed, as alice');
is($node->safe_psql('postgres', q{SELECT state || ' ' || attempts FROM des.job_triggers}), 'done 1', 'the trigger is done, at the first attempt');
$listener->finish;
like($listen_out, qr/Asynchronous notification "des_trigger" with payload "\{.*?"job" : "copy".*?"bundle_id" : "$bundle"/,
	'a listener got NOTIFY des_trigger naming the job and the version');

# ---- an action keeps its owner's rights ----
$node->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT des.job_create('escape', $$RESET ROLE; INSERT INTO public.seen (who) VALUES (current_user)$$);
	SELECT des.job_create('spawn', $$SELECT des.job_create('spawned', 'SELECT 1')$$);
	SELECT des.job_run('escape'), des.job_run('spawn');
	RESET ROLE;});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 2 FROM des.job_triggers WHERE job IN ('escape', 'spawn') AND attempts > 0 AND state <> 'running'}),
	'both actions were attempted');
like($node->safe_psql('postgres', q{SELECT last_error FROM des.job_triggers WHERE job = 'escape'}),
	qr/cannot set parameter "role" within security-(restricted operation|definer function)/, 'RESET ROLE in an action is refused');
is($node->safe_psql('postgres', q{SELECT count(*) FROM seen WHERE who <> 'alice'}), '0', 'nothing ran as anyone but alice');
is($node->safe_psql('postgres', q{SELECT owner FROM des.jobs WHERE name = 'spawned'}), 'alice',
	'a job created by an action belongs to the action\'s owner');
ok($node->poll_query_until('postgres', q{SELECT state = 'dead' AND attempts = 5 FROM des.job_triggers WHERE job = 'escape'}),
	'the failing action was retried with backoff, then went to the dead letters');
is($node->safe_psql('postgres', q{SELECT count(*) FROM des.trigger_dead_letters WHERE job = 'escape'}), '1', 'one dead letter');

# ---- an action that runs too long is canceled (des.trigger_action_timeout) and retried ----
$node->safe_psql('postgres', "ALTER SYSTEM SET des.trigger_action_timeout = '300ms'; SELECT pg_reload_conf()");
$node->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT des.job_create('sleepy', $$SELECT pg_sleep(5)$$);
	SELECT des.job_run('sleepy');
	RESET ROLE;});
ok($node->poll_query_until('postgres', q{SELECT state = 'dead' FROM des.job_triggers WHERE job = 'sleepy'}),
	'an action over the time limit fails at each attempt, then goes to the dead letters');
like($node->safe_psql('postgres', q{SELECT last_error FROM des.job_triggers WHERE job = 'sleepy'}),
	qr/canceling statement due to statement timeout \(SQLSTATE 57014\)/, 'canceled by the time limit');
cmp_ok($node->safe_psql('postgres', q{SELECT max(extract(epoch FROM ended_at - started_at)) FROM des.runs WHERE job = 'sleepy'}),
	'<', 3, 'no attempt ran its 5 s');
$node->safe_psql('postgres', "ALTER SYSTEM RESET des.trigger_action_timeout; SELECT pg_reload_conf()");

# ---- kill -9 of the dispatcher before its commit ----
SKIP:
{
	skip 'pause points need a test build (-DDES_TEST_HOOKS)', 4 unless $hooks;
	$node->safe_psql('postgres', "ALTER SYSTEM SET des.debug_pause_at = 'dispatch_before_commit'; SELECT pg_reload_conf()");
	$node->safe_psql('postgres', q{SELECT des.stage('up', 'main', 'a.txt', 'two'); SELECT des.commit('up', 'main', 'second');});
	ok($node->poll_query_until('postgres', q{
		SELECT count(*) > 0 FROM pg_stat_activity
		 WHERE backend_type = 'pg_des dispatcher' AND query LIKE '%paused at dispatch_before_commit%'}),
		'the dispatcher ran the action and stopped before its commit');
	my $pid = $node->safe_psql('postgres', q{SELECT pid FROM des.dispatcher_stats()});
	$node->safe_psql('postgres', 'ALTER SYSTEM RESET des.debug_pause_at; SELECT pg_reload_conf()');
	kill9($pid);
	ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM des.dispatcher_stats() WHERE pid IS NOT NULL AND pid <> $pid"),
		'after kill -9 the server restarts with a new dispatcher');
	ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM des.job_triggers WHERE job = 'copy' AND state <> 'done'}),
		'the killed run is taken back and run again');
	is($node->safe_psql('postgres', q{
		SELECT count(*) || ' ' || count(DISTINCT s.trigger_id) || ' ' || max(t.attempts)
		  FROM seen s JOIN des.job_triggers t ON t.id = s.trigger_id WHERE t.job = 'copy'}),
		'2 2 2', 'each trigger took effect once; the killed one at its second attempt');
}

# ---- kill -9 at random while it works through many triggers ----
$node->safe_psql('postgres', q{
	SET ROLE alice;
	SELECT des.job_create('slow', $$SELECT pg_sleep(0.02); INSERT INTO public.seen (trigger_id, who) VALUES (($1->>'trigger_id')::bigint, 'slow')$$);
	SELECT des.subscribe('slow', 'gros://up');
	RESET ROLE;});
my $commits = 40;
for my $i (1 .. $commits)
{
	$node->safe_psql('postgres', qq{SELECT des.stage('up', 'main', 'b.txt', 'round $i'); SELECT des.commit('up', 'main', 'round $i');});
}
for my $kill (1 .. 3)
{
	usleep(150_000 + int(rand(250_000)));
	my $pid = $node->safe_psql('postgres', q{SELECT coalesce(pid, 0) FROM des.dispatcher_stats()});
	next unless $pid;
	kill9($pid);
	$node->poll_query_until('postgres', "SELECT count(*) = 1 FROM des.dispatcher_stats() WHERE pid IS NOT NULL AND pid <> $pid");
}
ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM des.job_triggers WHERE job = 'slow' AND state <> 'done'}, 't'),
	'after three kills every trigger of the slow job is done');
is($node->safe_psql('postgres', q{
	SELECT count(*) || ' ' || count(DISTINCT s.trigger_id) FROM seen s WHERE s.who = 'slow'}),
	"$commits $commits", "$commits commits: $commits actions, each once");
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM des.job_triggers t WHERE t.job = 'slow'
	   AND NOT EXISTS (SELECT FROM des.runs r WHERE r.id = t.run_id AND r.state = 'completed')}), '0',
	'each has its completed run');

# ---- the lineage mirror in storage ----
sub slurp { my ($f) = @_; open(my $fh, '<', $f) or return undef; local $/; my $c = <$fh>; close $fh; return $c; }
my $day = $node->safe_psql('postgres', q{SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')});
my $up_head = $node->safe_psql('postgres', q{SELECT bundle_id FROM des.resolve('gros://up')});
my $meta = "$storage/dependency/up/main/$day/metadata/$day.json";
ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM des.lineage_mirror_queue}), 'the mirror\'s queue is written out');
like(slurp($meta) // '', qr/"gros_ref": "gros:\/\/up\/main:$up_head"/, "dependency/up/main/$day/metadata/$day.json names the day's last version of up");
# a run reads up and writes down: up's day gets a downstream file, down's day its metadata
$node->safe_psql('postgres', q{
	SELECT des.repo_create('down');
	SELECT des.run_begin('mirror-job');
	SELECT count(*) FROM des.files('gros://up:latest');
	SELECT des.stage('down', 'main', 'd.txt', 'made from up');
	SELECT des.commit('down', 'main', 'down 1');
	SELECT des.run_end();});
my $down_head = $node->safe_psql('postgres', q{SELECT bundle_id FROM des.resolve('gros://down')});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM des.lineage_mirror_queue}), 'written out again');
my $downstream = slurp("$storage/dependency/up/main/$day/downstreams/down%2Fmain") // '';
like($downstream, qr/"gros_ref": "gros:\/\/down\/main:$down_head"/, 'up\'s day has the downstream file down%2Fmain naming the version');
like($downstream, qr/"job": "mirror-job"/, '... and the job that made it');
like(slurp("$storage/dependency/down/main/$day/metadata/$day.json") // '',
	qr/"upstreams": \[.*"gros_ref": "gros:\/\/up\/main:$up_head"/s, 'down\'s metadata names its upstream');
SKIP:
{
	skip 'pause points need a test build (-DDES_TEST_HOOKS)', 4 unless $hooks;
	$node->safe_psql('postgres', "ALTER SYSTEM SET des.debug_pause_at = 'mirror_mid_write'; SELECT pg_reload_conf()");
	$node->safe_psql('postgres', q{SELECT des.stage('up', 'main', 'a.txt', 'three'); SELECT des.commit('up', 'main', 'third');});
	ok($node->poll_query_until('postgres', q{
		SELECT count(*) > 0 FROM pg_stat_activity
		 WHERE backend_type = 'pg_des dispatcher' AND query LIKE '%paused at mirror_mid_write%'}),
		'the dispatcher stopped while writing the mirror');
	my $pid = $node->safe_psql('postgres', q{SELECT pid FROM des.dispatcher_stats()});
	$node->safe_psql('postgres', 'ALTER SYSTEM RESET des.debug_pause_at; SELECT pg_reload_conf()');
	kill9($pid);
	$node->poll_query_until('postgres', "SELECT count(*) = 1 FROM des.dispatcher_stats() WHERE pid IS NOT NULL AND pid <> $pid");
	is($node->safe_psql('postgres', q{SELECT count(*) FROM des.lineage_mirror_queue WHERE not_before > now()}), '1',
		'the day is still queued, under the killed writer\'s lease');
	# the lease (5 minutes) is cut short for the test: the day is due again at once
	$node->safe_psql('postgres', q{UPDATE des.lineage_mirror_queue SET not_before = NULL; SELECT des.wake_dispatchers()});
	ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM des.lineage_mirror_queue}),
		'after kill -9 the day is written by the restarted dispatcher');
	my $third = $node->safe_psql('postgres', q{SELECT bundle_id FROM des.resolve('gros://up')});
	like(slurp($meta) // '', qr/"gros_ref": "gros:\/\/up\/main:$third"/, 'the metadata names the new last version, whole');
}

# ---- pg_cron schedules a job run ----
SKIP:
{
	skip 'pg_cron (postgresql-15-cron) is not installed: tools/deps.sh installs it', 3 unless $have_cron;
	$node->safe_psql('postgres', q{
		CREATE EXTENSION pg_cron;
		SELECT des.job_create('tick', $$INSERT INTO public.seen (who, bundle) VALUES ('tick', $1->>'kind')$$);
		SELECT cron.schedule('pg_des tick', '* * * * *', $$SELECT des.job_run('tick')$$);});
	ok($node->poll_query_until('postgres', q{SELECT count(*) > 0 FROM seen WHERE who = 'tick'}),
		'pg_cron asked for a run and the dispatcher ran it');
	is($node->safe_psql('postgres', q{SELECT bundle FROM seen WHERE who = 'tick' LIMIT 1}), 'request', 'as a requested run');
	is($node->safe_psql('postgres', q{SELECT status FROM cron.job_run_details ORDER BY runid DESC LIMIT 1}), 'succeeded',
		'the pg_cron job succeeded');
}

$node->stop;
done_testing();
