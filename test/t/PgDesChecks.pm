# Checks shared by the TAP tests (the pipeline on local and S3 storage, crashes).
package PgDesChecks;
use strict;
use warnings;
use Test::More;
use Exporter 'import';
our @EXPORT = qw(blobs_match_archives crash_at kill_paused_packer poll_through_restart);

# every blob records its entry's offset, stored size and flags as the
# index of its container has them
sub blobs_match_archives
{
	my ($node, $what) = @_;
	is($node->safe_psql('postgres', q{
		SELECT (SELECT count(*) FROM des.blobs)
		     = (SELECT count(*) FROM des.containers c CROSS JOIN LATERAL des.archive_list(c.location) l
		          JOIN des.blobs b ON b.container_id = c.id AND b.entry = l.name
		         WHERE l.data_offset = b.data_offset AND l.flags = b.flags AND (b.flags <> 0 OR l.size = b.stored_size))}),
		't', "$what: every blob records its entry's offset, stored size and flags as the archive's index has them");
	return;
}

# kill -9 of the backend running $sql once it pauses at $point (builds with
# DES_TEST_HOOKS: des.debug_pause_at), then wait for the server to be back
sub crash_at
{
	my ($node, $point, $sql) = @_;
	$node->safe_psql('postgres', "ALTER SYSTEM SET des.debug_pause_at = '$point'; SELECT pg_reload_conf()");
	my $bg = $node->background_psql('postgres', on_error_stop => 0);
	$bg->query_until(qr/sent/, "\\echo sent\n$sql;\n");
	ok($node->poll_query_until('postgres', "SELECT count(*) > 0 FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query LIKE 'pg_des: paused at $point%'"),
		"the backend pauses at $point");
	my $pid = $node->safe_psql('postgres', "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query LIKE 'pg_des: paused at $point%' LIMIT 1");
	$node->safe_psql('postgres', 'ALTER SYSTEM RESET des.debug_pause_at; SELECT pg_reload_conf()');
	kill 'KILL', $pid;
	eval { $bg->quit; };
	ok($node->poll_query_until('postgres', 'SELECT 1', '1'), "the server is back after kill -9 at $point");
	return;
}

# kill -9 of a packer paused at $point (builds with DES_TEST_HOOKS:
# des.debug_pause_at) once $put has given it work; $at_pause (optional) runs
# while it is paused. Then wait until the crash restart is done: the dead
# packer gone, two packers back.
sub kill_paused_packer
{
	my ($node, $point, $put, $at_pause) = @_;
	$node->safe_psql('postgres', "ALTER SYSTEM SET des.debug_pause_at = '$point'; SELECT pg_reload_conf()");
	$put->();
	ok($node->poll_query_until('postgres', qq{
		SELECT count(*) > 0 FROM pg_stat_activity
		 WHERE backend_type = 'pg_des packer' AND query LIKE '%paused at $point%'}),
		"a packer reaches $point");
	my $pid = $node->safe_psql('postgres', qq{
		SELECT pid FROM pg_stat_activity
		 WHERE backend_type = 'pg_des packer' AND query LIKE '%paused at $point%' LIMIT 1});
	$at_pause->() if $at_pause;
	$node->safe_psql('postgres', 'ALTER SYSTEM RESET des.debug_pause_at; SELECT pg_reload_conf()');
	kill 'KILL', $pid;
	ok(poll_through_restart($node,
		"SELECT count(*) = 2 FROM des.packer_stats() WHERE pid IS NOT NULL AND pid <> $pid"),
		"after kill -9 at $point the server restarts with two packers");
	return;
}

# poll_query_until across a crash restart: a psql started while the
# postmaster kills its children can die before it reads the query, and
# IPC::Run then dies writing it (EPIPE); such a poll is simply made again
sub poll_through_restart
{
	my ($node, $sql) = @_;
	for my $try (1 .. 10)
	{
		my $ok = eval { $node->poll_query_until('postgres', $sql) };
		return $ok if defined $ok;
		diag("polling again after: $@");
		sleep 1;
	}
	return 0;
}

1;
