-- Every bad input gives a clear error with a specific SQLSTATE.
\set dir '/tmp/pg_des_regress/errors'
SET client_min_messages = warning;

CREATE OR REPLACE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- a good archive to damage
SELECT des.archive_write(:'dir' || '/good.des', 'e' || i, convert_to(repeat('x', i), 'UTF8'), jsonb_build_object('i', i) ORDER BY i) ->> 'entries' AS entries
FROM generate_series(1, 10) i;

-- writes a bytea to a file byte-for-byte (superuser only: server-side lo_export)
CREATE OR REPLACE FUNCTION put_file(path text, content bytea) RETURNS void LANGUAGE plpgsql AS $$
DECLARE o oid;
BEGIN
    o := lo_from_bytea(0, content);
    PERFORM lo_export(o, path);
    PERFORM lo_unlink(o);
END $$;
CREATE FUNCTION le64(n bigint) RETURNS bytea LANGUAGE sql AS $$
    SELECT decode(string_agg(lpad(to_hex((n >> (8 * k)) & 255), 2, '0'), '' ORDER BY k), 'hex')
    FROM generate_series(0, 7) k
$$;
SELECT pg_read_binary_file(:'dir' || '/good.des') AS good \gset
SELECT length(:'good'::bytea) AS size \gset

-- locations
SELECT try($$SELECT des.archive_list('relative/a.des')$$);
SELECT try($$SELECT des.archive_list('')$$);
SELECT try($$SELECT des.archive_list('/tmp/')$$);
SELECT try($$SELECT des.archive_list('s3://bucket/a.des')$$);
SELECT try($$SELECT des.archive_list('S3://bucket/a.des')$$);
SELECT try($$SELECT des.archive_list('http://example.invalid/a.des')$$);
SELECT try($$SELECT des.archive_list('file://otherhost/a.des')$$);
SELECT try($$SELECT des.archive_list('file:///tmp/%zz.des')$$);
SELECT try($$SELECT des.archive_list('/tmp/pg_des_regress/errors/missing.des')$$);
SELECT try($$SELECT des.archive_list('/tmp')$$);

-- damaged archives
SELECT put_file(:'dir' || '/zero.des', ''::bytea);
SELECT try(format('SELECT des.archive_list(%L)', :'dir' || '/zero.des'));
SELECT put_file(:'dir' || '/short.des', substring(:'good'::bytea from 1 for 50));
SELECT try(format('SELECT des.archive_list(%L)', :'dir' || '/short.des'));
SELECT put_file(:'dir' || '/trunc.des', substring(:'good'::bytea from 1 for :size - 1));
SELECT try(format('SELECT des.archive_list(%L)', :'dir' || '/trunc.des'));
SELECT put_file(:'dir' || '/magic.des', overlay(:'good'::bytea placing 'XESHEAD1'::bytea from 1));
SELECT try(format('SELECT des.archive_list(%L)', :'dir' || '/magic.des'));
SELECT put_file(:'dir' || '/fmagic.des', overlay(:'good'::bytea placing 'DESFOOTX'::bytea from :size - 71));
SELECT try(format('SELECT des.archive_list(%L)', :'dir' || '/fmagic.des'));
SELECT put_file(:'dir' || '/version.des', overlay(:'good'::bytea placing '\x02'::bytea from :size - 63));
SELECT try(format('SELECT des.archive_list(%L)', :'dir' || '/version.des'));
-- file_count of 2^62 in a tiny file: refused before any allocation
SELECT put_file(:'dir' || '/count.des', overlay(:'good'::bytea placing le64(4611686018427387904) from :size - 7));
SELECT try(format('SELECT des.archive_list(%L)', :'dir' || '/count.des'));
-- file_count one too high / too low
SELECT put_file(:'dir' || '/count11.des', overlay(:'good'::bytea placing le64(11) from :size - 7));
SELECT try(format('SELECT des.archive_list(%L)', :'dir' || '/count11.des'));
SELECT put_file(:'dir' || '/count9.des', overlay(:'good'::bytea placing le64(9) from :size - 7));
SELECT try(format('SELECT des.archive_list(%L)', :'dir' || '/count9.des'));
-- meta region moved to overlap the data region
SELECT put_file(:'dir' || '/overlap.des', overlay(:'good'::bytea placing le64(20) from :size - 71 + 32));
SELECT try(format('SELECT des.archive_list(%L)', :'dir' || '/overlap.des'));
-- index length pointing past the end of the file
SELECT put_file(:'dir' || '/past.des', overlay(:'good'::bytea placing le64(1000000) from :size - 71 + 56));
SELECT try(format('SELECT des.archive_list(%L)', :'dir' || '/past.des'));
-- a payload byte flipped: reads succeed unless verification is asked for
SELECT put_file(:'dir' || '/flip.des', overlay(:'good'::bytea placing 'y'::bytea from 17));
SELECT try(format('SELECT des.archive_read(%L, %L)', :'dir' || '/flip.des', 'e1'));
SELECT try(format('SELECT des.archive_read(%L, %L, true)', :'dir' || '/flip.des', 'e1'));
SELECT try(format('SELECT * FROM des.archive_read(%L, ARRAY[%L], true)', :'dir' || '/flip.des', 'e1'));
SELECT "check", ok, detail FROM des.archive_verify(:'dir' || '/flip.des') WHERE NOT ok;
-- verify never raises for a damaged archive
SELECT * FROM des.archive_verify(:'dir' || '/count11.des');
SELECT * FROM des.archive_verify(:'dir' || '/zero.des');

-- stored meta that is valid JSON but not valid jsonb (\u0000) lists as NULL
SELECT des.archive_write(:'dir' || '/nul.des', 'n', '\x00'::bytea, '{"k": "ABCDEF"}', '{"blake2b": false}') ->> 'entries' AS entries;
SELECT put_file(:'dir' || '/nul.des', decode(replace(encode(pg_read_binary_file(:'dir' || '/nul.des'), 'hex'),
                encode('ABCDEF'::bytea, 'hex'), encode(convert_to('\u0000', 'UTF8'), 'hex')), 'hex'));
SELECT name, meta IS NULL AS meta_is_null FROM des.archive_list(:'dir' || '/nul.des');
SELECT "check", ok FROM des.archive_verify(:'dir' || '/nul.des') WHERE "check" IN ('meta', 'hashes');
-- a name that is not valid UTF-8 is an encoding error, not text with invalid bytes
SELECT des.archive_write(:'dir' || '/badname.des', 'na', '\x00'::bytea, NULL) ->> 'entries' AS entries;
SELECT put_file(:'dir' || '/badname.des', decode(replace(encode(pg_read_binary_file(:'dir' || '/badname.des'), 'hex'),
                encode('na'::bytea, 'hex'), 'ff61'), 'hex'));
SELECT try(format('SELECT * FROM des.archive_list(%L)', :'dir' || '/badname.des'));
SELECT "check", ok, detail FROM des.archive_verify(:'dir' || '/badname.des') WHERE NOT ok;

-- duplicate names (possible in reference archives): the last one wins, verify reports them
SELECT des.archive_write(:'dir' || '/dups.des', n, convert_to(upper(n), 'UTF8'), NULL ORDER BY n) ->> 'entries' AS entries
FROM unnest(ARRAY['dup_a', 'dup_b']) n;
SELECT put_file(:'dir' || '/dups.des', decode(replace(encode(pg_read_binary_file(:'dir' || '/dups.des'), 'hex'),
                encode('dup_b'::bytea, 'hex'), encode('dup_a'::bytea, 'hex')), 'hex'));
SELECT name, data_offset FROM des.archive_list(:'dir' || '/dups.des');
SELECT convert_from(des.archive_read(:'dir' || '/dups.des', 'dup_a'), 'UTF8') AS last_wins;
SELECT des.archive_info(:'dir' || '/dups.des') -> 'duplicates' AS duplicates;
SELECT "check", ok, detail FROM des.archive_verify(:'dir' || '/dups.des') WHERE NOT ok;

-- missing entries
SELECT try(format('SELECT des.archive_read(%L, %L)', :'dir' || '/good.des', 'nope'));

-- writer errors
SELECT try(format($q$SELECT des.archive_write(%L, n, '\x00'::bytea, NULL) FROM unnest(ARRAY['a', 'b', 'a']) n$q$, :'dir' || '/dup.des'));
SELECT try(format($q$SELECT des.archive_write(%L, '../up', '\x00'::bytea, NULL)$q$, :'dir' || '/bad.des'));
SELECT try(format($q$SELECT des.archive_write(%L, '', '\x00'::bytea, NULL)$q$, :'dir' || '/bad.des'));
SELECT try(format($q$SELECT des.archive_write(%L, '/abs', '\x00'::bytea, NULL)$q$, :'dir' || '/bad.des'));
SELECT try(format($q$SELECT des.archive_write(%L, E'a\nb', '\x00'::bytea, NULL)$q$, :'dir' || '/bad.des'));
SELECT try(format($q$SELECT des.archive_write(%L, NULL, '\x00'::bytea, NULL)$q$, :'dir' || '/bad.des'));
SELECT try(format($q$SELECT des.archive_write(%L, 'a', NULL, NULL)$q$, :'dir' || '/bad.des'));
SELECT try(format($q$SELECT des.archive_write(%L, 'a//b', '\x00'::bytea, NULL)$q$, :'dir' || '/bad.des'));
SELECT try(format($q$SELECT des.archive_write(%L, 'dir/', '\x00'::bytea, NULL)$q$, :'dir' || '/bad.des'));
SELECT try(format($q$SELECT des.archive_write(%L, 'a', '\x00'::bytea, '{"size": 5}')$q$, :'dir' || '/bad.des'));
SELECT try(format($q$SELECT des.archive_write(%L, 'a' || i, '\x00'::bytea, NULL, jsonb_build_object('lz4', i > 1)) FROM generate_series(1, 2) i$q$, :'dir' || '/bad.des'));
SELECT try(format($q$SELECT des.archive_write(%L, 'a', '\x00'::bytea, '[1]')$q$, :'dir' || '/bad.des'));
SELECT try(format($q$SELECT des.archive_write(%L, 'a', '\x00'::bytea, '{"blake2b": "x"}')$q$, :'dir' || '/bad.des'));
SELECT try(format($q$SELECT des.archive_write(%L, 'a', '\x00'::bytea, NULL, '{"lz5": true}')$q$, :'dir' || '/bad.des'));
SELECT try(format($q$SELECT des.archive_write(%L, 'a', '\x00'::bytea, NULL, '{"lz4": "yes"}')$q$, :'dir' || '/bad.des'));
SELECT try(format($q$SELECT des.archive_write(%L, 'a', '\x00'::bytea, NULL, '{"external_threshold": -1}')$q$, :'dir' || '/bad.des'));
SELECT try(format($q$SELECT des.archive_write(%L, 'a', '\x00'::bytea, NULL, '{"names": "loose"}')$q$, :'dir' || '/bad.des'));
SELECT try(format($q$SELECT des.archive_write(%L, 'a', '\x00'::bytea, NULL, '{"external_prefix": "../x"}')$q$, :'dir' || '/bad.des'));
SELECT try(format($q$SELECT des.archive_write(%L, 'a', '\x00'::bytea, NULL, '[]')$q$, :'dir' || '/bad.des'));
SELECT try($q$SELECT des.archive_write(l, 'a' || l, '\x00'::bytea, NULL) FROM unnest(ARRAY['/tmp/pg_des_regress/errors/l1.des', '/tmp/pg_des_regress/errors/l2.des']) l$q$);
SELECT try($q$SELECT des.archive_write('/tmp', 'a', '\x00'::bytea, NULL)$q$);
SELECT try($q$SELECT des.blake2b('x', 65)$q$);
SELECT try($q$SELECT des.blake2b('x', 0)$q$);
SELECT try($q$SELECT * FROM des.archive_read('/tmp/pg_des_regress/errors/good.des', ARRAY[['a'], ['b']])$q$);
-- a failed write leaves nothing behind: no archive, no temporary file
SELECT count(*) AS leftovers FROM pg_ls_dir(:'dir') f WHERE f LIKE 'dup.des%' OR f LIKE 'bad.des%' OR f LIKE 'l1.des%';
-- an error in the query after some rows were written also leaves nothing
SELECT try(format($q$SELECT des.archive_write(%L, 'n' || i, '\x00'::bytea, NULL) FROM generate_series(1, 100) i WHERE 1 / (50 - i) IS NOT NULL$q$, :'dir' || '/late.des'));
SELECT count(*) AS leftovers FROM pg_ls_dir(:'dir') f WHERE f LIKE 'late.des%';
