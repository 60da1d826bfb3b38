# Ids stay unique and increasing across restarts, crashes, and a clock that
# went back across a restart (simulated by a reservation from "the future").
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('ids');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_des'\ndes.node_id = 42");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_des');

my $id1 = $node->safe_psql('postgres', 'SELECT des.next_id()');
ok(-f $node->data_dir . '/pg_des_ids', 'the reservation file is written before ids are handed out');
is($node->safe_psql('postgres', "SELECT node FROM des.id_info($id1)"), '42', 'des.node_id is in the id');

# a clean restart: ids continue after the reservation, so they still increase
$node->restart;
my $id2 = $node->safe_psql('postgres', 'SELECT des.next_id()');
cmp_ok($id2, '>', $id1, 'increasing across a restart');

# a crash (immediate stop): same
$node->stop('immediate');
$node->start;
my $id3 = $node->safe_psql('postgres', 'SELECT des.next_id()');
cmp_ok($id3, '>', $id2, 'increasing across a crash');

# A previous run whose clock was a day ahead handed out ids up to a
# reservation a day from now; with the clock now "back", new ids must still
# come after those.
$node->stop;
my $epoch_ms = 1704067200000;
my $future_ms = (time() + 86400) * 1000 - $epoch_ms;
open(my $fh, '>:raw', $node->data_dir . '/pg_des_ids') or die "cannot write reservation: $!";
print $fh pack('q<', $future_ms);
close($fh);
$node->start;
my $id4 = $node->safe_psql('postgres', 'SELECT des.next_id()');
my $created = $node->safe_psql('postgres', "SELECT floor(extract(epoch FROM created)) FROM des.id_info($id4)");
cmp_ok($created, '>=', time() + 86400 - 120, 'after a clock step back across a restart, ids continue after the reservation');
cmp_ok($id4, '>', $id3, 'and still increase');
my $n = $node->safe_psql('postgres',
	'SELECT count(DISTINCT id) FROM (SELECT des.next_id() AS id FROM generate_series(1, 50000)) s');
is($n, '50000', '50,000 ids in the borrowed future are distinct');

$node->stop;
done_testing();
