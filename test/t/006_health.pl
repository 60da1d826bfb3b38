# Without the preload the library still loads for the archive functions, and
# des.health reports, rather than raises, the two set-ups in which nothing is
# ever packed: the library not preloaded, and a database the workers do not
# serve (des.database names another).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('health');
$node->init;
$node->start;	# no shared_preload_libraries
$node->safe_psql('postgres', 'CREATE EXTENSION pg_des');
# loading the library in a session must not define server-start settings
# (PostgreSQL makes that FATAL): the archive functions work without the preload
is($node->safe_psql('postgres', q{SELECT length(des.blake2b('abc'))}), '32',
	'without the preload: the library loads and its functions run');

my ($rc, $out, $err) = $node->psql('postgres',
	q{SELECT "check" || '|' || ok FROM des.health() WHERE "check" IN ('library preloaded', 'markers running', 'packers running') ORDER BY 1});
is($rc, 0, 'des.health runs when pg_des is not preloaded') or diag($err);
is($out, "library preloaded|false\nmarkers running|false\npackers running|false",
	'without the preload: library preloaded, markers running and packers running are not ok');

$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_des'\ndes.database = 'lake'");
$node->restart;
$node->safe_psql('postgres', 'CREATE DATABASE lake');
$node->safe_psql('lake', 'CREATE EXTENSION pg_des');
is($node->safe_psql('postgres', q{SELECT ok FROM des.health() WHERE "check" = 'library preloaded'}), 't',
	'preloaded: library preloaded is ok');
is($node->safe_psql('postgres', q{SELECT ok || '|' || detail FROM des.health() WHERE "check" = 'worker database'}),
	'false|the workers serve database lake (des.database), not postgres: objects put here are never packed',
	'in a database the workers do not serve: worker database is not ok, and says which one they serve');
is($node->safe_psql('lake', q{SELECT ok FROM des.health() WHERE "check" = 'worker database'}), 't',
	'in des.database: worker database is ok');
# a monitoring role with the grants docs/operations.md lists (no superuser)
# gets every row, the preload check included
$node->safe_psql('lake', q{
	CREATE ROLE prober LOGIN;
	GRANT pg_monitor TO prober;
	GRANT SELECT (created_at, not_before) ON des.fetch_queue, des.mark_queue TO prober;
	GRANT SELECT (marked_at) ON des.pack_queue TO prober;
	GRANT SELECT (object_id) ON des.dead_letters TO prober;
	GRANT SELECT (id) ON des.incoming, des.incoming_rejects TO prober;
});
is($node->safe_psql('lake', q{SET ROLE prober; SELECT count(*) || ' ' || bool_and(ok) FILTER (WHERE "check" = 'library preloaded') FROM des.health()}),
	'10 true', 'a monitoring role reads every check, the preload check included');

$node->stop;
done_testing();
