# The bulk path end to end on local storage: rows COPYed into des.incoming
# are packed by the workers straight from there (no marking), become packed
# objects, deduplicated, readable by name throughout; rows whose name is
# taken are rejected; a transaction still inserting holds back only what it
# could precede; the table is truncated once packed; kill -9 of a packer at
# each step loses nothing, duplicates nothing and leaves no orphan.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use PgDesChecks;
use File::Spec;

my $node = PostgreSQL::Test::Cluster->new('incoming');
$node->init;
my $storage = File::Spec->rel2abs($node->basedir) . '/lake';
my $files = File::Spec->rel2abs($node->basedir) . '/copy';
mkdir $files or die;
$node->append_conf('postgresql.conf', qq(
shared_preload_libraries = 'pg_des'
des.storage = '$storage'
des.packers = 2
des.marker_naptime = '100ms'
des.packer_naptime = '100ms'
des.container_max_age = '300ms'
des.container_max_entries = 300
des.worker_restart_time = 1
restart_after_crash = on
));
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_des');

# COPY a CSV file of rows <prefix>/<i> whose bytes are a function of their
# name (every read can be checked)
my $copies = 0;
sub copy_rows
{
	my ($prefix, $from, $to, $size) = @_;
	my $path = "$files/" . (++$copies) . '.csv';
	open(my $fh, '>', $path) or die;
	for my $i ($from .. $to)
	{
		my $bytes = substr("$prefix/$i:" . ('abcdefgh' x (1 + int($size / 8))), 0, $size);
		printf $fh "%s,\\x%s,\"{\"\"i\"\": %d}\"\n", "$prefix/$i", unpack('H*', $bytes), $i;
	}
	close $fh;
	$node->safe_psql('postgres', "COPY des.incoming (name, data, meta) FROM '$path' (FORMAT csv)");
	return;
}

# every row staged so far is a packed object that reads back with its own bytes
sub check_all
{
	my ($what, $expect) = @_;
	ok($node->poll_query_until('postgres', q{
		SELECT staged = 0 AND packed_not_truncated = 0 FROM des.stat_incoming}, 't'),
		"$what: every staged row is packed and the table truncated");
	is($node->safe_psql('postgres', q{SELECT count(*), count(DISTINCT name) FROM des.objects WHERE state = 'packed'}),
		"$expect|$expect", "$what: $expect packed objects, each once");
	is($node->safe_psql('postgres', q{
		SELECT count(*) FILTER (WHERE g.data IS DISTINCT FROM
		           convert_to(rpad(regexp_replace(o.name, '^[cr]/', 'a/') || ':', length(g.data), 'abcdefgh'), 'UTF8'))
		  FROM des.objects o
		  LEFT JOIN des.get_many(ARRAY(SELECT name FROM des.objects WHERE state = 'packed')) g ON g.name = o.name
		 WHERE o.state = 'packed' AND o.name ~ '^(a|b|c|r|early|k[0-9]+)/'}),
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
	is($node->safe_psql('postgres', 'SELECT count(*) FROM des.orphans()'), '0', "$what: no orphan in storage");
	is($node->safe_psql('postgres', 'SELECT count(*) FROM des.incoming_ranges'), '0', "$what: no range left to pack");
	return;
}

# ---- the happy path: 1500 rows, 100 of them repeating earlier payloads ----
copy_rows('a', 1, 1400, 200);
copy_rows('b', 1, 100, 200);
# c/<i> repeats a/<i>'s bytes
$node->safe_psql('postgres', q{INSERT INTO des.incoming (name, data, meta)
	SELECT 'c/' || i, convert_to(rpad('a/' || i || ':', 200, 'abcdefgh'), 'UTF8'), jsonb_build_object('i', i)
	  FROM generate_series(1, 100) i});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1600 FROM des.objects WHERE state = 'packed'}),
	'the workers pack 1600 rows of des.incoming into objects');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM des.objects c JOIN des.objects a ON a.name = 'a/' || split_part(c.name, '/', 2)
	 WHERE c.name LIKE 'c/%' AND c.hash = a.hash AND des.get(c.name) = des.get(a.name)}),
	'100', 'rows repeating earlier payloads are deduplicated and read back as their originals');
is($node->safe_psql('postgres', 'SELECT blobs, saved_bytes FROM des.dedup_stats()'), '1500|20000',
	'des.dedup_stats: 1500 distinct blobs, 100 x 200 bytes saved');
is($node->safe_psql('postgres', q{
	SELECT bool_and(origin = 'incoming' AND shard IS NULL AND location ~ '/\d{4}-\d\d-\d\d/incoming-\d+-t\d+\.des$'),
	       max(entries) <= 300
	  FROM des.containers}),
	't|t', 'containers of des.incoming rows live at <storage>/YYYY-MM-DD/incoming-<id>-tT.des, at most 300 entries');
is($node->safe_psql('postgres', q{
	SELECT (l.meta ->> 'i'), l.meta ->> 'blake2b' = encode(o.hash, 'hex')
	  FROM des.objects o JOIN des.blobs b ON b.hash = o.hash
	  JOIN des.containers c ON c.id = b.container_id, des.archive_list(c.location) l
	 WHERE o.name = 'a/77' AND l.name = b.entry}), '77|t', "entries keep the row's meta and the BLAKE2b the packer computed");
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM des.objects WHERE name LIKE 'a/%' AND state = 'packed' AND staged IS NULL
	   AND shard = des.shard_of(name) AND day IS NOT NULL AND size = 200
	   AND created_at = des_internal.id_time(id)}), '1400', 'packed objects have shard, day, size and the time they were staged');
is($node->safe_psql('postgres', 'SELECT count(*) FROM des.incoming'), '0', 'des.incoming is truncated once packed');
check_all('after packing', 1600);

# ---- rows whose bytes an earlier container holds: reference entries ----
$node->safe_psql('postgres', q{INSERT INTO des.incoming (name, data, meta)
	SELECT 'r/' || i, convert_to(rpad('a/' || i || ':', 200, 'abcdefgh'), 'UTF8'), jsonb_build_object('i', i)
	  FROM generate_series(1, 10) i});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 10 FROM des.objects WHERE name LIKE 'r/%' AND state = 'packed'}),
	'rows repeating packed payloads are packed');
is($node->safe_psql('postgres', q{
	SELECT count(*), bool_and(l.size = 0), bool_and(l.meta -> 'des_ref' ->> 'entry' = 'a/' || (l.meta ->> 'i')),
	       bool_and(l.meta -> 'des_ref' ->> 'blake2b' = encode(o.hash, 'hex')),
	       bool_and((l.meta -> 'des_ref' ->> 'size')::int = 200),
	       bool_and(l.meta -> 'des_ref' ->> 'container' = (SELECT c2.location FROM des.blobs b JOIN des.containers c2 ON c2.id = b.container_id WHERE b.hash = o.hash))
	  FROM des.objects o, des.containers c, des.archive_list(c.location) l
	 WHERE o.name LIKE 'r/%' AND l.name = o.name}),
	'10|t|t|t|t|t', 'each is an empty entry of its container whose meta des_ref names the bytes: BLAKE2b, size, container and entry');
is($node->safe_psql('postgres', q{SELECT count(*) FROM des.objects WHERE name LIKE 'r/%' AND des.get(name) = des.get('a/' || split_part(name, '/', 2))}),
	'10', 'and they read back the bytes they refer to');
check_all('after reference entries', 1610);

# ---- a name taken in des.objects: the row is rejected, nothing else changes ----
$node->safe_psql('postgres', q{SELECT des.put('put/1', '\x0102'::bytea)});
$node->safe_psql('postgres', q{INSERT INTO des.incoming (name, data) VALUES ('put/1', '\x03'), ('d/1', '\x04')});
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM des.incoming_rejects}), 'a row whose name is taken is rejected');
is($node->safe_psql('postgres', q{SELECT name, data, error FROM des.incoming_rejects}),
	q{put/1|\x03|an object named 'put/1' exists}, 'des.incoming_rejects keeps its bytes and says why');
is($node->safe_psql('postgres', q{SELECT ok, detail FROM des.health() WHERE "check" = 'incoming rejects'}),
	'f|1 row(s) in des.incoming_rejects', 'des.health reports it');
ok($node->poll_query_until('postgres', q{SELECT count(*) = 2 FROM des.objects WHERE name IN ('put/1', 'd/1') AND state = 'packed'}),
	'the rest of the container is packed');
is($node->safe_psql('postgres', q{SELECT des.get('put/1'), des.get('d/1')}), '\x0102|\x04',
	'the object that had the name keeps its bytes');
is($node->safe_psql('postgres', q{SELECT count(*), min(l.size) FROM des.containers c, des.archive_list(c.location) l WHERE l.name = 'put/1'}),
	'1|2', 'the rejected row was never written: the only entry of that name is the object\'s');
$node->safe_psql('postgres', 'TRUNCATE des.incoming_rejects');
check_all('after a rejected row', 1612);

# ---- a transaction still inserting holds back the rows it could precede ----
my $bg = $node->background_psql('postgres');
$bg->query_safe(q{BEGIN; INSERT INTO des.incoming (name, data) VALUES ('late/1', '\x05')});
$node->safe_psql('postgres', q{INSERT INTO des.incoming (name, data)
	SELECT 'early/' || i, convert_to(rpad('early/' || i || ':', 200, 'abcdefgh'), 'UTF8') FROM generate_series(1, 50) i});
sleep(1);
is($node->safe_psql('postgres', q{SELECT staged, final FROM des.stat_incoming}), '50|0',
	'rows committed after an id was drawn by an open transaction are not final while it may still commit');
is($node->safe_psql('postgres', q{SELECT ok, detail ~ '^oldest row staged in des.incoming waited' FROM des.health('0 s') WHERE "check" = 'incoming lag'}),
	'f|t', 'des.health reports the rows waiting (here against a lag of 0 s)');
is($node->safe_psql('postgres', q{SELECT state FROM des.stat('early/7')}), 'pending', 'they are readable, pending');
$bg->query_safe('COMMIT');
$bg->quit;
ok($node->poll_query_until('postgres', q{SELECT count(*) = 51 FROM des.objects WHERE name ~ '^(early|late)/' AND state = 'packed'}),
	'once it commits, its row and the later ones are packed');
check_all('after a long insert', 1663);

# ---- des.delete of a staged row ----
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET des.debug_pause_at = 'after_lease'; SELECT pg_reload_conf();});
$node->safe_psql('postgres', q{INSERT INTO des.incoming (name, data) VALUES ('gone/1', '\x06')});
$node->safe_psql('postgres', q{SELECT des.delete('gone/1')});
is($node->safe_psql('postgres', q{SELECT count(*) FROM des.incoming WHERE name = 'gone/1'}),
	'0', 'des.delete removes a row staged in des.incoming');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET des.debug_pause_at; SELECT pg_reload_conf()');
# (a packer paused after leasing goes on once the setting is gone)
check_all('after a deletion', 1663);
is($node->safe_psql('postgres', q{SELECT count(*) FROM des.objects WHERE name = 'gone/1'}), '0', 'the deleted row never becomes an object');

# ---- kill -9 of a packer at each step ----

my $total = 1663;
my $n = 0;
for my $point ('after_lease', 'mid_write', 'after_write')
{
	$n++;
	kill_paused_packer($node, $point, sub { copy_rows("k$n", 1, 700, 1000); });
	$total += 700;
	check_all("kill -9 at $point", $total);
}
is($node->safe_psql('postgres', q{SELECT count(*), count(DISTINCT name) FROM des.objects WHERE name LIKE 'k%'}),
	'2100|2100', 'after three crashes: 2100 objects, each once');

# ---- the catalog rebuilt from storage alone ----
my $catalog_sql = q{SELECT string_agg(format('%s %s %s %s %s %s', id, name, encode(hash, 'hex'), size, meta, shard), E'\n' ORDER BY name)
                      FROM des.objects WHERE state = 'packed'};
my $bytes_sql = q{SELECT count(*) || ' ' || md5(string_agg(g.name || ':' || encode(g.data, 'hex'), ',' ORDER BY g.name))
                    FROM des.get_many(ARRAY(SELECT name FROM des.objects WHERE state = 'packed')) g};
my $catalog = $node->safe_psql('postgres', $catalog_sql);
my $bytes = $node->safe_psql('postgres', $bytes_sql);
my $refs = $node->safe_psql('postgres', q{SELECT string_agg(encode(hash, 'hex') || ' ' || refcount, ',' ORDER BY hash) FROM des.blobs});
my ($rc, $out, $err) = $node->psql('postgres', 'SELECT * FROM des.rebuild_catalog()');
like($err, qr/needs an empty pipeline catalog/, 'des.rebuild_catalog refuses a catalog that is not empty');
$node->safe_psql('postgres', 'TRUNCATE des.objects, des.blobs, des.containers CASCADE');
is($node->safe_psql('postgres', q{SELECT objects, unresolved, skipped_files FROM des.rebuild_catalog()}), "$total|0|0",
	'des.rebuild_catalog restores every packed object from the containers alone');
is($node->safe_psql('postgres', $catalog_sql), $catalog, 'each with its id, name, hash, size, meta and shard');
is($node->safe_psql('postgres', $bytes_sql), $bytes, 'every object reads back byte-exact by name');
is($node->safe_psql('postgres', q{SELECT string_agg(encode(hash, 'hex') || ' ' || refcount, ',' ORDER BY hash) FROM des.blobs}), $refs,
	'the blobs and their reference counts are those of before');
is($node->safe_psql('postgres', 'SELECT count(*) FROM des.orphans()'), '0', 'every container in storage is in the catalog again');
blobs_match_archives($node, 'after the rebuild');

$node->stop;
done_testing();
