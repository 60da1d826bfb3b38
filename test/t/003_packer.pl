# The pipeline end to end on local storage: objects put by SQL are marked and
# packed by the workers into containers, deduplicated, and stay readable by
# name throughout; poison objects reach the dead-letter table while the rest
# flow on; kill -9 of a worker at each step (the whole server crash-restarts)
# loses nothing, duplicates nothing and leaves no orphan.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgDesChecks;
use File::Spec;

my $node = PostgreSQL::Test::Cluster->new('packer');
$node->init;
my $storage = File::Spec->rel2abs($node->basedir) . '/lake';
my $sources = File::Spec->rel2abs($node->basedir) . '/sources';
mkdir $sources or die;
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'pg_des'
des.storage = '$storage'
des.packers = 2
des.marker_naptime = '100ms'
des.packer_naptime = '100ms'
des.container_max_age = '300ms'
des.container_max_entries = 300
des.max_attempts = 3
des.retry_base_delay = '100ms'
des.worker_restart_time = 1
des.shard_bits = 2
restart_after_crash = on
));
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_des');

ok($node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'pg_des packer'"),
	'two packers show in pg_stat_activity as "pg_des packer"');

# objects whose bytes are a function of their number, so every read can be checked
sub put_objects
{
	my ($prefix, $from, $to, $size) = @_;
	$node->safe_psql('postgres', qq{
		SELECT des.put('$prefix/' || i,
		               convert_to(rpad('$prefix/' || i || ':', $size, 'abcdefgh'), 'UTF8'),
		               jsonb_build_object('i', i))
		  FROM generate_series($from, $to) i});
}

# all objects packed, each read back (one batch per container) with its bytes
sub check_all
{
	my ($what) = @_;
	ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM des.objects WHERE state IN ('pending', 'marked')", 't'),
		"$what: every object is packed");
	is($node->safe_psql('postgres', q{
		SELECT count(*) FILTER (WHERE g.data IS DISTINCT FROM
		           convert_to(rpad(regexp_replace(regexp_replace(o.name, '^dup/', 'a/'),
		                                          '^adopt/\d+/', 'adopt/') || ':',
		                           length(g.data), 'abcdefgh'), 'UTF8'))
		  FROM des.objects o
		  LEFT JOIN des.get_many(ARRAY(SELECT name FROM des.objects WHERE state = 'packed')) g
		         ON g.name = o.name
		 WHERE o.state = 'packed' AND o.name NOT LIKE 'url/%' AND o.name NOT LIKE 'same/%'}),
		'0', "$what: every object reads back with its own bytes");
	is($node->safe_psql('postgres', q{
		SELECT (SELECT count(*) FROM des.objects WHERE state = 'packed')
		     = (SELECT sum(refcount) FROM des.blobs)}),
		't', "$what: each packed object is referenced exactly once by a blob");
	is($node->safe_psql('postgres', q{
		SELECT count(*) FROM des.containers c
		 WHERE c.state <> 'committed'
		    OR EXISTS (SELECT FROM des.archive_verify(c.location) v WHERE NOT v.ok)}),
		'0', "$what: every container is committed and verifies");
	blobs_match_archives($node, $what);
	is($node->safe_psql('postgres', q{
		SELECT count(*) FROM des.objects o
		 WHERE o.state = 'packed'
		   AND o.name NOT IN (SELECT l.name FROM des.containers c, des.archive_list(c.location) l)}),
		'0', "$what: every packed object is an entry of a container (its bytes, an alias or a reference)");
	is($node->safe_psql('postgres', 'SELECT count(*) FROM des.orphans()'), '0',
		"$what: no orphan in storage");
	is($node->safe_psql('postgres', q{SELECT count(*) FROM des.shard_leases WHERE holder IS NOT NULL}),
		'0', "$what: no lease left held");
	is($node->safe_psql('postgres', q{
		SELECT (SELECT count(*) FROM des.fetch_queue) + (SELECT count(*) FROM des.mark_queue)
		       + (SELECT count(*) FROM des.pack_queue)}),
		'0', "$what: no queue row left");
}

# ---- the happy path, with duplicates ----
put_objects('a', 1, 1500, 200);
# 500 objects with the same bytes as a/1 .. a/500
$node->safe_psql('postgres', q{
	SELECT des.put('dup/' || i, convert_to(rpad('a/' || i || ':', 200, 'abcdefgh'), 'UTF8'))
	  FROM generate_series(1, 500) i});
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 2000 FROM des.objects WHERE state = 'packed'"), 'the workers pack 2000 objects');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM des.objects o JOIN des.objects d ON d.name = 'dup/' || split_part(o.name, '/', 2)
	 WHERE o.name LIKE 'a/%' AND d.hash = o.hash AND des.get(d.name) = des.get(o.name)}),
	'500', 'duplicates read back as their originals');
is($node->safe_psql('postgres', 'SELECT blobs, saved_bytes FROM des.dedup_stats()'), '1500|100000',
	'des.dedup_stats: 1500 distinct blobs, 500 x 200 bytes saved');
is($node->safe_psql('postgres', 'SELECT max(entries) <= 300 AND count(*) >= 5 FROM des.containers'), 't',
	'containers are finished at des.container_max_entries (300 entries; 1500 distinct payloads)');
is($node->safe_psql('postgres', q{
	SELECT bool_and(location ~ '/\d{4}-\d\d-\d\d/\d\d-\d{6}-t\d+\.des$') FROM des.containers}),
	't', 'containers live at <storage>/YYYY-MM-DD/NN-SSSSSS-tT.des (T: the lease token of the writer)');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM des.containers c, des.archive_list(c.location) l
	 WHERE l.meta ->> 'blake2b' IS NULL}), '0', 'every entry carries its BLAKE2b in meta');
is($node->safe_psql('postgres', q{
	SELECT (l.meta ->> 'i') FROM des.objects o JOIN des.blobs b ON b.hash = o.hash
	  JOIN des.containers c ON c.id = b.container_id, des.archive_list(c.location) l
	 WHERE o.name = 'a/77' AND l.name = b.entry}), '77', "entries keep the object's meta");
cmp_ok($node->safe_psql('postgres', 'SELECT sum(objects) FROM des.packer_stats()'), '==', 2000,
	'des.packer_stats counts the objects packed');
check_all('after packing');

# ---- duplicates packed into the same container get entries of their own ----
# 20 names of one shard (so one container) with the same bytes, 5 empty ones
$node->safe_psql('postgres', q{
	SELECT des.put(n, CASE WHEN k <= 20 THEN convert_to('one payload, many names', 'UTF8') ELSE '' END)
	  FROM (SELECT n, row_number() OVER (ORDER BY i) AS k
	          FROM (SELECT 'same/' || i AS n, i FROM generate_series(1, 2000) i) c
	         WHERE des.shard_of(n) = des.shard_of('same/1')) x
	 WHERE k <= 25});
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 25 FROM des.objects WHERE name LIKE 'same/%' AND state = 'packed'"), 'the 25 are packed');
is($node->safe_psql('postgres', q{
	SELECT count(DISTINCT c.id), count(*), count(DISTINCT (l.data_offset, l.size)),
	       bool_and(l.meta ->> 'blake2b' = encode(o.hash, 'hex')), bool_and(des.archive_read(c.location, l.name) = des.get(o.name))
	  FROM des.objects o JOIN des.blobs b ON b.hash = o.hash JOIN des.containers c ON c.id = b.container_id
	  JOIN des.archive_list(c.location) l ON l.name = o.name
	 WHERE o.name LIKE 'same/%'}),
	'1|25|2|t|t', 'each name is an entry of the one container, over two payloads stored once, and reads its bytes from there');
is($node->safe_psql('postgres', q{
	SELECT c.entries, (SELECT count(*) FROM des.archive_list(c.location))
	  FROM des.containers c WHERE c.id = (SELECT b.container_id FROM des.blobs b JOIN des.objects o ON o.hash = b.hash
	                                       WHERE o.name = 'same/1')}) =~ /^2\|(\d+)$/ ? 'yes' : 'no',
	'yes', 'des.containers.entries counts the payloads stored (2 here), the archive every name');
check_all('after duplicates in one container');

# ---- objects registered by URL, and poison objects ----
for my $i (1 .. 5)
{
	open(my $fh, '>', "$sources/f$i.bin") or die;
	print $fh "source file $i\n" x $i;
	close $fh;
}
$node->safe_psql('postgres', qq{
	SELECT des.put_url('url/' || i, 'file://$sources/f' || i || '.bin') FROM generate_series(1, 5) i;
	SELECT des.put_url('url/missing', 'file://$sources/missing.bin');
	SELECT des.put_url('url/badsize', 'file://$sources/f1.bin', '{"size": 999}');
});
put_objects('b', 1, 100, 100);
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM des.dead_letters"), 'poison objects reach the dead-letter table');
is($node->safe_psql('postgres', q{
	SELECT string_agg(o.name || ' ' || d.attempts || ' ' || (d.error ~ 'missing.bin|"size"'), ', ' ORDER BY o.name)
	  FROM des.dead_letters d JOIN des.objects o ON o.id = d.object_id}),
	'url/badsize 3 true, url/missing 3 true', 'after des.max_attempts, with their last error');
is($node->safe_psql('postgres', q{SELECT ok, detail FROM des.health() WHERE "check" = 'dead letters'}),
	'f|2 object(s) in des.dead_letters', 'des.health reports the dead letters');
is($node->safe_psql('postgres', 'SELECT dead_letters FROM des.stat_storage'), '2', 'and des.stat_storage counts them');
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM des.objects WHERE state IN ('pending', 'marked')"), 'the rest flows on');
is($node->safe_psql('postgres', q{
	SELECT string_agg((convert_from(des.get('url/' || i), 'UTF8') = repeat('source file ' || i || E'\n', i)
	                   AND (SELECT state FROM des.objects WHERE name = 'url/' || i) = 'packed')::text, ',')
	  FROM generate_series(1, 5) i}), 'true,true,true,true,true', 'objects registered by URL are packed with their bytes');
is($node->safe_psql('postgres', 'SELECT fetched >= 5 AND fetch_failures >= 6 FROM des.marker_stats()'),
	't', 'des.marker_stats counts fetched sources and failures');
# des.retry_dead returns them; the missing file appears in the meantime
open(my $fh, '>', "$sources/missing.bin") or die;
print $fh "found later\n";
close $fh;
is($node->safe_psql('postgres', q{SELECT des.retry_dead(ARRAY(SELECT id FROM des.objects WHERE name = 'url/missing'))}),
	'1', 'des.retry_dead returns an object');
ok($node->poll_query_until('postgres',
	"SELECT state = 'packed' FROM des.objects WHERE name = 'url/missing'"), 'and it is packed this time');
is($node->safe_psql('postgres', "SELECT rtrim(convert_from(des.get('url/missing'), 'UTF8'), E'\\n')"), "found later",
	'with the bytes it has now');
$node->safe_psql('postgres', q{DELETE FROM des.objects WHERE name = 'url/badsize'});

# ---- bytes changed by hand after marking are not written under the old hash ----
# (that hash would become the key of a blob holding other bytes, and later
# objects with the old bytes would be deduplicated against it)
$node->safe_psql('postgres', "ALTER SYSTEM SET des.container_max_age = '1h'; SELECT pg_reload_conf()");
# (edit/2 starts as a copy of a/1, packed already: it would be linked to a/1's blob)
$node->safe_psql('postgres', q{
	SELECT des.put('edit/1', convert_to('bytes as put', 'UTF8'));
	SELECT des.put('edit/2', convert_to(rpad('a/1:', 200, 'abcdefgh'), 'UTF8'))});
ok($node->poll_query_until('postgres', "SELECT count(*) = 2 FROM des.objects WHERE name LIKE 'edit/%' AND state = 'marked'"),
	'objects are marked and wait for their container');
$node->safe_psql('postgres', q{
	UPDATE des.objects SET staged = convert_to(rpad(name || ':', 40, 'abcdefgh'), 'UTF8') WHERE name LIKE 'edit/%'});
$node->safe_psql('postgres', 'ALTER SYSTEM RESET des.container_max_age; SELECT pg_reload_conf()');
ok($node->poll_query_until('postgres', "SELECT count(*) = 2 FROM des.objects WHERE name LIKE 'edit/%' AND state = 'packed'"),
	'their bytes are changed by hand; they are packed all the same');
is($node->safe_psql('postgres', q{
	SELECT o.attempts || ' ' || (o.last_error ~ 'no longer have the BLAKE2b-256 recorded when it was marked')
	       || ' ' || (o.hash = des.blake2b(convert_to(rpad('edit/1:', 40, 'abcdefgh'), 'UTF8')))
	       || ' ' || convert_from(des.get('edit/1'), 'UTF8')
	       || ' ' || (SELECT count(*) FROM des.blobs b WHERE b.hash = des.blake2b(convert_to('bytes as put', 'UTF8')))
	  FROM des.objects o WHERE o.name = 'edit/1'}),
	'1 true true edit/1:abcdefghabcdefghabcdefghabcdefgha 0',
	'after one failed attempt (the bytes no longer had their hash) it was marked again: blob and hash are the new bytes');
is($node->safe_psql('postgres', q{
	SELECT o.attempts || ' ' || (o.last_error ~ 'no longer have the BLAKE2b-256')
	       || ' ' || (o.hash = des.blake2b(convert_to(rpad('edit/2:', 40, 'abcdefgh'), 'UTF8')))
	       || ' ' || convert_from(des.get('edit/2'), 'UTF8')
	       || ' ' || (des.get('a/1') = convert_to(rpad('a/1:', 200, 'abcdefgh'), 'UTF8'))
	  FROM des.objects o WHERE o.name = 'edit/2'}),
	'1 true true edit/2:abcdefghabcdefghabcdefghabcdefgha true',
	'one that would have been linked to an existing blob is not linked to bytes it no longer has');

# ---- a table of the application's registered as a source ----
$node->safe_psql('postgres', q{
	CREATE TABLE app_files (path text PRIMARY KEY, content bytea, state text NOT NULL DEFAULT 'new',
	                        added timestamptz NOT NULL DEFAULT now());
	SELECT des.register_source('app_files', 'path', data_column => 'content', status_column => 'state',
	                           pending_value => 'new', claimed_value => 'in-des', age_column => 'added');
	INSERT INTO app_files (path, content)
	SELECT 'app/' || i, convert_to(rpad('app/' || i || ':', 500, 'abcdefgh'), 'UTF8') FROM generate_series(1, 400) i;
});
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 400 FROM des.objects o JOIN app_files f ON f.path = o.name
	 WHERE o.state = 'packed' AND f.state = 'in-des'}),
	'the marker claims every row of a registered table and the packers pack them');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM app_files f WHERE des.get(f.path) IS DISTINCT FROM f.content}), '0',
	'each reads back with the bytes of its row');
cmp_ok($node->safe_psql('postgres', 'SELECT source_rows FROM des.marker_stats()'), '>=', 400,
	'des.marker_stats counts the rows claimed from source tables');

# ---- kill -9 at each step of a packer ----
# kill -9 the packer that $put makes pause at $point, then wait for the
# crash restart (the setting is reset first: the new packers must not pause)

my $n = 0;
for my $point ('after_lease', 'mid_write', 'after_write')
{
	$n++;
	kill_paused_packer($node, $point, sub { put_objects("k$n", 1, 700, 1000); });
	check_all("kill -9 at $point");
	if ($point eq 'after_write')
	{
		cmp_ok($node->safe_psql('postgres', 'SELECT sum(adopted) FROM des.packer_stats()'), '>=', 1,
			'the archive stored before the crash is adopted, not written again');
	}

}
is($node->safe_psql('postgres', q{SELECT count(*), count(DISTINCT name) FROM des.objects WHERE name LIKE 'k%'}),
	'2100|2100', 'after three crashes: 2100 objects, each once');

# ---- kill -9 after writing a container with shared entries: adopted as it is ----
# 12 objects of one shard, one statement (one container): 6 payloads, each
# under two names (adopt/1/x and adopt/2/x), so 6 entries share bytes
kill_paused_packer($node, 'after_write', sub {
	$node->safe_psql('postgres', q{
		SELECT des.put('adopt/' || copy || '/' || x, convert_to(rpad('adopt/' || x || ':', 300, 'abcdefgh'), 'UTF8'))
		  FROM (SELECT x FROM generate_series(1, 2000) x
		         WHERE des.shard_of('adopt/1/' || x) = des.shard_of('adopt/1/1')
		           AND des.shard_of('adopt/2/' || x) = des.shard_of('adopt/1/1')
		         ORDER BY x LIMIT 6) xs, generate_series(1, 2) copy});
});
check_all('kill -9 after writing shared entries');
# (the counters restart with the server: any adoption counted is this one)
cmp_ok($node->safe_psql('postgres', 'SELECT sum(adopted) FROM des.packer_stats()'), '>=', 1,
	'the container with shared entries is adopted, not written again');
is($node->safe_psql('postgres', q{
	SELECT count(*), count(DISTINCT c.id), count(DISTINCT l.data_offset), bool_and(des.archive_read(c.location, l.name) = des.get(o.name))
	  FROM des.objects o JOIN des.blobs b ON b.hash = o.hash JOIN des.containers c ON c.id = b.container_id
	  JOIN des.archive_list(c.location) l ON l.name = o.name
	 WHERE o.name LIKE 'adopt/%'}),
	'12|1|6|t', 'all 12 names are entries of the adopted container, over 6 payloads');

# ---- kill -9 of the postmaster itself while a packer writes ----
$node->safe_psql('postgres', "ALTER SYSTEM SET des.debug_pause_at = 'mid_write'; SELECT pg_reload_conf()");
put_objects('pm', 1, 700, 1000);
ok($node->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'pg_des packer' AND query LIKE '%paused at mid_write%'}),
	'a packer is writing');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET des.debug_pause_at');
open(my $pidfile, '<', $node->data_dir . '/postmaster.pid') or die;
my $pmpid = <$pidfile>;
close $pidfile;
chomp $pmpid;
$node->kill9;
# the postmaster is gone; its children notice and exit (WL_EXIT_ON_PM_DEATH)
my $waited = 0;
while (kill(0, $pmpid) && $waited++ < 100) { select(undef, undef, undef, 0.1); }
ok(!kill(0, $pmpid), 'the postmaster is gone');
sleep 3;
$node->start;
ok(1, 'the server starts again after kill -9 of the postmaster');
check_all('kill -9 of the postmaster');
is($node->safe_psql('postgres', q{SELECT count(*), count(DISTINCT name) FROM des.objects WHERE name LIKE 'pm/%'}),
	'700|700', 'the 700 objects written at the crash are all there, each once');

# ---- kill -9 of the marker while it fetches a source ----
$node->safe_psql('postgres', "ALTER SYSTEM SET des.debug_pause_at = 'mid_fetch'; SELECT pg_reload_conf()");
$node->safe_psql('postgres', "SELECT des.put_url('url/late', 'file://$sources/f2.bin')");
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_des marker' AND query LIKE '%paused at mid_fetch%'}),
	'the marker pauses while fetching');
my $mpid = $node->safe_psql('postgres', 'SELECT pid FROM des.marker_stats()');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET des.debug_pause_at; SELECT pg_reload_conf()');
kill 'KILL', $mpid;
ok(poll_through_restart($node, "SELECT state = 'packed' FROM des.objects WHERE name = 'url/late'"),
	'after kill -9 of the marker mid-fetch, its claim is released and the object packed');
check_all('kill -9 of the marker');

# ---- an S3 URL whose server cannot be resolved (a catalog lookup that
# fails inside the claim's transaction) fails that object alone ----
# (put_url checks the URL with the session's server; the marker resolves it
# with its own setting, which names a server that does not exist)
$node->safe_psql('postgres', "ALTER SYSTEM SET des.default_server = 'no_such_server'; SELECT pg_reload_conf()");
$node->safe_psql('postgres', qq{
	CREATE SERVER put_side FOREIGN DATA WRAPPER des_fdw OPTIONS (endpoint 'https://127.0.0.1:1', region 'us-east-1');
	CREATE USER MAPPING FOR CURRENT_USER SERVER put_side OPTIONS (access_key_id 'k', secret_access_key 's');
	SET des.default_server = 'put_side';
	SELECT des.put_url('url/noserver', 's3://nobucket/k.des');
	SELECT des.put_url('url/next', 'file://$sources/f3.bin');
	SELECT des.wake_markers();
});
ok($node->poll_query_until('postgres', q{
	SELECT attempts >= 1 FROM des.objects WHERE name = 'url/noserver'}),
	'an S3 URL with no usable server fails its fetch');
like($node->safe_psql('postgres', q{SELECT last_error FROM des.objects WHERE name = 'url/noserver'}),
	qr/no_such_server/, 'with the catalog error as its reason');
ok($node->poll_query_until('postgres', q{SELECT state = 'packed' FROM des.objects WHERE name = 'url/next'}),
	'and an object of the same round is fetched and packed all the same');
$node->safe_psql('postgres', q{
	ALTER SYSTEM RESET des.default_server; SELECT pg_reload_conf();
	DELETE FROM des.objects WHERE name = 'url/noserver';
	DROP SERVER put_side CASCADE;
});
check_all('a URL whose server is missing');

# ---- SIGTERM: a packer finishes or abandons its step and is restarted ----
put_objects('t', 1, 600, 1000);
my $ppid = $node->safe_psql('postgres', 'SELECT pid FROM des.packer_stats() WHERE packer = 1');
kill 'TERM', $ppid;
ok($node->poll_query_until('postgres',
	"SELECT pid IS NOT NULL AND pid <> $ppid FROM des.packer_stats() WHERE packer = 1"),
	'after SIGTERM packer 1 is restarted');
check_all('after SIGTERM');

# ---- SIGTERM while a step cannot finish: abandoned after des.shutdown_timeout ----
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET des.debug_pause_at = 'mid_write';
	ALTER SYSTEM SET des.shutdown_timeout = '1s';
	SELECT pg_reload_conf()});
put_objects('st', 1, 400, 1000);
ok($node->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'pg_des packer' AND query LIKE '%paused at mid_write%'}),
	'a packer is stuck in a step');
sleep 1;	# both packers may have leased a shard: let them reach the pause too
my @stuck = split /\n/, $node->safe_psql('postgres', q{
	SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_des packer' AND query LIKE '%paused at mid_write%'});
$node->safe_psql('postgres', 'ALTER SYSTEM RESET des.debug_pause_at; ALTER SYSTEM RESET des.shutdown_timeout; SELECT pg_reload_conf()');
kill 'TERM', @stuck;
ok($node->poll_query_until('postgres',
	'SELECT count(*) = 0 FROM pg_stat_activity WHERE pid IN (' . join(',', @stuck) . ')'),
	'after SIGTERM the stuck packers give up their step and exit');
# a packer that paused after the list was taken (it had not reloaded yet) gets the same
sleep 1;
my @late = split /\n/, $node->safe_psql('postgres', q{
	SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_des packer' AND query LIKE '%paused at mid_write%'});
kill 'TERM', @late if @late;
like(slurp_file($node->logfile), qr/packer abandons mid_write: shutting down/,
	'saying it abandons the step after des.shutdown_timeout');
check_all('after a step abandoned at shutdown');

# ---- des.orphans finds what no catalog row accounts for; only remove deletes ----
mkdir "$storage/2020-01-01";
open($fh, '>', "$storage/2020-01-01/00-000000.des") or die;
print $fh "stray";
close $fh;
is($node->safe_psql('postgres', q{SELECT count(*) FROM des.orphans()}), '1', 'a stray file is an orphan');
is($node->safe_psql('postgres', q{SELECT removed FROM des.orphans(remove => true)}), 't', 'removed on request');
ok(!-e "$storage/2020-01-01/00-000000.des", 'and gone');

# ---- a clean shutdown with work in flight, then a restart ----
put_objects('s', 1, 300, 1000);
$node->stop('fast');
$node->start;
check_all('after a fast shutdown and restart');

is($node->safe_psql('postgres', q{SELECT string_agg("check", ', ') FILTER (WHERE NOT ok) FROM des.health()}), '',
	'at the end every des.health check is ok');
is($node->safe_psql('postgres', q{SELECT pending + marked, open_containers, containers > 0 FROM des.stat_storage}),
	'0|0|t', 'des.stat_storage: no backlog, no open container');

# every query of the documented postgres_exporter file runs and returns rows
my $yaml = $ENV{PG_DES_EXPORTER_YAML} // "$FindBin::RealBin/../../docs/postgres_exporter.yaml";
SKIP:
{
	skip "no $yaml (set PG_DES_EXPORTER_YAML to docs/postgres_exporter.yaml)", 1 unless -f $yaml;
	open(my $y, '<', $yaml) or die;
	my $text = do { local $/; <$y> };
	close $y;
	my @queries = $text =~ /^\s+query:\s*\|\n((?:[ ]{4,}.*\n)+)/mg;
	my $bad = 0;
	for my $query (@queries)
	{
		my ($ret, $out, $err) = $node->psql('postgres', "SELECT count(*) > 0 FROM ($query) q");
		$bad++ if $ret != 0 || $out ne 't';
		diag("exporter query failed: $err") if $ret != 0;
	}
	ok(@queries >= 3 && $bad == 0, 'the ' . scalar(@queries) . ' postgres_exporter queries run and return rows');
}

$node->stop;
done_testing();
