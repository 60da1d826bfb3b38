# Garbage collection on a schedule, through pg_cron (Debian's
# postgresql-15-cron), as docs/gc.md says to set it up: a job that runs
# CALL des.gc_run() every minute collects what a deleted repo and deleted
# objects left, records the run, and deletes the files from storage; a job
# running des.scrub() finds a byte flipped on disk and records it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Spec;

if (!-e '/usr/lib/postgresql/15/lib/pg_cron.so')
{
	plan skip_all => 'pg_cron (postgresql-15-cron) is not installed: tools/deps.sh installs it';
}

my $node = PostgreSQL::Test::Cluster->new('gcschedule');
$node->init;
my $storage = File::Spec->rel2abs($node->basedir) . '/lake';
# pg_cron connects to run its jobs: through the node's own socket, trusted
my $socket = $node->host;
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'pg_cron,pg_des'
cron.database_name = 'postgres'
cron.host = '$socket'
des.storage = '$storage'
des.workers = off
));
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_cron; CREATE EXTENSION pg_des');

# a repo whose files only it had, deleted: its trees and chunks are garbage
$node->safe_psql('postgres', q{
	SELECT des.repo_create('gone');
	SELECT des.stage_many('gone', 'main', ARRAY(SELECT format('f%s', i) FROM generate_series(1, 50) i),
	                      ARRAY(SELECT convert_to('only in gone ' || i, 'UTF8') FROM generate_series(1, 50) i));
	SELECT des.commit('gone', 'main', 'files');
	SELECT des.repo_create('kept');
	SELECT des.stage('kept', 'main', 'k.txt', 'kept bytes');
	SELECT des.commit('kept', 'main', 'kept');});
my $files = $node->safe_psql('postgres', q{SELECT string_agg(location, ' ') FROM des.containers});
$node->safe_psql('postgres', q{SELECT des.repo_delete('gone')});
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM des.gc()'), '>', 0, 'there is garbage to collect');

$node->safe_psql('postgres', q{SELECT cron.schedule('pg_des gc', '* * * * *', 'CALL des.gc_run()')});
ok($node->poll_query_until('postgres', "SELECT count(*) > 0 FROM des.gc_runs WHERE NOT dry_run AND state = 'done'", 't'),
	'pg_cron ran des.gc_run');
is($node->safe_psql('postgres', q{SELECT status FROM cron.job_run_details ORDER BY runid DESC LIMIT 1}), 'succeeded',
	'the job succeeded');
is($node->safe_psql('postgres', 'SELECT count(*) FROM des.gc()'), '0', 'nothing is left to collect');
is($node->safe_psql('postgres', 'SELECT count(*) FROM des.gc_pending_deletes'), '0', 'no storage delete is pending');
cmp_ok($node->safe_psql('postgres', 'SELECT blobs_removed FROM des.stat_gc'), '>=', 50, 'the run removed the deleted repo\'s chunks');
my @gone = grep { !-e $_ } split / /, $files;
cmp_ok(scalar(@gone), '>=', 1, 'the deleted repo\'s container file is gone from storage');
is($node->safe_psql('postgres', q{SELECT convert_from(des.read('kept/main', 'k.txt'), 'UTF8')}), 'kept bytes',
	'what lives reads back');

# scrub on a schedule: a byte of kept's chunk flipped on disk is found
$node->safe_psql('postgres', q{SELECT cron.unschedule('pg_des gc')});
my ($kloc, $koff) = split /\|/, $node->safe_psql('postgres', q{
	SELECT c.location, b.data_offset FROM des.blobs b JOIN des.containers c ON c.id = b.container_id
	 WHERE b.hash = des.blake2b('kept bytes')});
open(my $fh, '+<:raw', $kloc) or die "open $kloc: $!";
seek($fh, $koff, 0);
print $fh 'X';
close($fh);
$node->safe_psql('postgres', q{SELECT cron.schedule('pg_des scrub', '* * * * *', 'SELECT count(*) FROM des.scrub()')});
ok($node->poll_query_until('postgres', q{SELECT count(*) > 0 FROM des.scrub_results WHERE hash = des.blake2b('kept bytes')}, 't'),
	'pg_cron ran des.scrub, which found the flipped byte');
is($node->safe_psql('postgres', q{SELECT split_part(problem, ':', 1) FROM des.scrub_results WHERE hash = des.blake2b('kept bytes') LIMIT 1}),
	'damaged', 'recorded as damaged');
ok($node->poll_query_until('postgres',
		q{SELECT status FROM cron.job_run_details WHERE command LIKE '%des.scrub%' ORDER BY runid DESC LIMIT 1}, 'succeeded'),
	'the scrub job succeeded');

$node->stop;
done_testing();
