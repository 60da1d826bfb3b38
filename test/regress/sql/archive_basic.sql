-- Writing, listing, reading, inspecting and verifying archives.
-- The test runner provides /tmp/pg_des_regress, writable by the server.
\set dir '/tmp/pg_des_regress/basic'
SET client_min_messages = warning;

CREATE TABLE objs (name text, data bytea, meta jsonb);
INSERT INTO objs
SELECT 'obj/' || lpad(i::text, 3, '0'),
       convert_to(repeat(chr(64 + i % 26), i * 7), 'UTF8'),
       CASE WHEN i % 3 = 0 THEN NULL ELSE jsonb_build_object('i', i, 'tag', 'zażółć') END
FROM generate_series(1, 40) i;
INSERT INTO objs VALUES ('empty', '', '{}');

-- one archive from a table, streamed by the aggregate
SELECT des.archive_write(:'dir' || '/a.des', name, data, meta ORDER BY name) - 'location' AS summary
FROM objs;

-- the listing matches the source rows
SELECT count(*) AS entries, sum(size) AS bytes, count(*) FILTER (WHERE flags <> 0) AS flagged
FROM des.archive_list(:'dir' || '/a.des');
SELECT name, size, flags, meta - 'blake2b' AS meta, data_offset
FROM des.archive_list(:'dir' || '/a.des') ORDER BY name LIMIT 4;
-- caller keys first, then size, then the BLAKE2b of the payload
SELECT l.meta ? 'blake2b' AS has_hash,
       l.meta ->> 'blake2b' = encode(des.blake2b(o.data), 'hex') AS hash_matches
FROM des.archive_list(:'dir' || '/a.des') l JOIN objs o USING (name)
GROUP BY 1, 2;

-- single reads return the exact bytes
SELECT bool_and(des.archive_read(:'dir' || '/a.des', name) = data) AS all_equal FROM objs;
SELECT des.archive_read(:'dir' || '/a.des', 'empty') = '' AS empty_ok;
SELECT length(des.archive_read(:'dir' || '/a.des', 'obj/007', verify => true)) AS verified_len;

-- batch reads: distinct names, archive order, NULL data for names not present
SELECT name, length(data) AS len, data IS NULL AS missing
FROM des.archive_read(:'dir' || '/a.des',
                      ARRAY['obj/010', 'nope', 'obj/002', 'obj/010', NULL, 'empty', 'also-nope']);
SELECT count(*) AS n, bool_and(r.data = o.data) AS all_equal
FROM des.archive_read(:'dir' || '/a.des', (SELECT array_agg(name) FROM objs)) r JOIN objs o USING (name);
SELECT count(*) FROM des.archive_read(:'dir' || '/a.des', '{}'::text[]);

-- file:// URLs name the same file
SELECT des.archive_read('file://' || :'dir' || '/a.des', 'obj/001') = des.archive_read(:'dir' || '/a.des', 'obj/001') AS url_ok;
SELECT des.archive_read('file://localhost' || :'dir' || '/%61.des', 'obj/001') IS NOT NULL AS percent_ok;

-- info and verify
SELECT j -> 'header' AS header, j -> 'entries' AS entries, j -> 'duplicates' AS duplicates,
       (j -> 'footer' ->> 'file_count')::int AS file_count, (j ->> 'archive_bytes')::int > 0 AS has_size
FROM des.archive_info(:'dir' || '/a.des') j;
SELECT "check", ok FROM des.archive_verify(:'dir' || '/a.des');

-- LZ4 and external payloads, no hashing
SELECT des.archive_write(:'dir' || '/opts.des', name, data, NULL,
        '{"lz4": true, "blake2b": false, "external_threshold": 200, "external_prefix": "lake/day1"}'
        ORDER BY name) - 'location' AS summary
FROM objs;
SELECT flags, count(*) FROM des.archive_list(:'dir' || '/opts.des') GROUP BY flags ORDER BY flags;
SELECT name, size, flags, meta FROM des.archive_list(:'dir' || '/opts.des') WHERE name = 'obj/040';
SELECT bool_and(des.archive_read(:'dir' || '/opts.des', name) = data) AS all_equal FROM objs;
SELECT count(*), bool_and(r.data = o.data)
FROM des.archive_read(:'dir' || '/opts.des', (SELECT array_agg(name) FROM objs)) r JOIN objs o USING (name);
SELECT "check", ok FROM des.archive_verify(:'dir' || '/opts.des') WHERE NOT ok;
-- external payloads are plain files under <dir>/_bigFiles with the key's prefix stripped
SELECT length(pg_read_binary_file(:'dir' || '/_bigFiles/obj/040')) AS external_file_size;

-- by default each archive keeps its external payloads in its own folder, so
-- archives in one directory never overwrite each other's payloads
SELECT des.archive_write(:'dir' || '/ext1.des', 'big', convert_to(repeat('1', 300), 'UTF8'), NULL, '{"external_threshold": 100}') ->> 'external_entries' AS ext1;
SELECT des.archive_write(:'dir' || '/ext2.des', 'big', convert_to(repeat('2', 300), 'UTF8'), NULL, '{"external_threshold": 100}') ->> 'external_entries' AS ext2;
SELECT meta ->> 'external_key' AS key FROM des.archive_list(:'dir' || '/ext1.des');
SELECT left(convert_from(des.archive_read(:'dir' || '/ext1.des', 'big', true), 'UTF8'), 3) AS ext1_data,
       left(convert_from(des.archive_read(:'dir' || '/ext2.des', 'big', true), 'UTF8'), 3) AS ext2_data;
SELECT length(pg_read_binary_file(:'dir' || '/ext1/_bigFiles/big')) AS ext1_file,
       length(pg_read_binary_file(:'dir' || '/ext2/_bigFiles/big')) AS ext2_file;

-- a caller "size" is kept (as the reference does) when it is the payload length
SELECT des.archive_write(:'dir' || '/sized.des', 's', '\x0102'::bytea, '{"size": 2, "k": 1}') ->> 'entries' AS entries;
SELECT meta FROM des.archive_list(:'dir' || '/sized.des');

-- names in other scripts and file: URL forms
SELECT des.archive_write(:'dir' || '/names.des', n, convert_to(n, 'UTF8'), NULL ORDER BY n) ->> 'entries' AS entries
FROM unnest(ARRAY['zażółć/gęślą.txt', '日本語.txt', 'emoji_😀🎉.bin', 'ελληνικά']) n;
SELECT name, convert_from(data, 'UTF8') = name AS roundtrip
FROM des.archive_read('file:' || :'dir' || '/names.des', ARRAY['日本語.txt', 'emoji_😀🎉.bin', 'ελληνικά', 'zażółć/gęślą.txt']);
SELECT count(*) FROM des.archive_list('FILE://' || :'dir' || '/names.des');

-- compression really shrinks compressible data
SELECT des.archive_write(:'dir' || '/z.des', 'zeros', convert_to(repeat('0', 100000), 'UTF8'), NULL, '{"lz4": true}') - 'location' AS summary;
SELECT size, flags, meta ->> 'compression' AS compression FROM des.archive_list(:'dir' || '/z.des');
SELECT length(des.archive_read(:'dir' || '/z.des', 'zeros', true)) AS len;

-- writing to an existing location replaces the archive atomically
SELECT des.archive_write(:'dir' || '/a.des', 'only', '\x01'::bytea, NULL) ->> 'entries' AS entries;
SELECT name FROM des.archive_list(:'dir' || '/a.des');
SELECT des.archive_read(:'dir' || '/a.des', 'only') AS replaced;

-- no rows: nothing is written and the result is NULL
SELECT des.archive_write(:'dir' || '/none.des', name, data, meta) IS NULL AS is_null FROM objs WHERE false;
SELECT count(*) FROM pg_ls_dir(:'dir') f WHERE f = 'none.des';

-- one archive per group
SELECT g, (des.archive_write(:'dir' || '/g' || g || '.des', name, data, meta ORDER BY name)) ->> 'entries' AS entries
FROM (SELECT *, right(name, 1) IN ('0', '2', '4', '6', '8') AS g FROM objs) s GROUP BY g ORDER BY g;

-- reference name policy: names the format allows but strict mode refuses
SELECT des.archive_write(:'dir' || '/ref.des', n, '\x00'::bytea, NULL, '{"names": "reference"}') ->> 'entries' AS entries
FROM unnest(ARRAY['.', '..', E'tab\there']) n;
SELECT "check", ok, detail FROM des.archive_verify(:'dir' || '/ref.des') WHERE "check" = 'names';

-- BLAKE2b: RFC 7693 test vector (BLAKE2b-512 of "abc") and the 256-bit default
SELECT encode(des.blake2b('abc'::bytea, 64), 'hex') AS blake2b_512_abc;
SELECT length(des.blake2b('')) AS default_len, encode(des.blake2b(''), 'hex') AS blake2b_256_empty;

-- the per-session reader cache: reused while the file is unchanged; 0 keeps nothing
SELECT des.cache_reset();
SELECT des.archive_read(:'dir' || '/names.des', 'ελληνικά') IS NOT NULL AS first_read;
SELECT des.archive_read(:'dir' || '/names.des', 'ελληνικά') IS NOT NULL AS second_read;
SELECT hits, misses, entries FROM des.cache_stats();
SET des.reader_cache_entries = 0;
SELECT des.archive_read(:'dir' || '/names.des', 'ελληνικά') IS NOT NULL AS uncached_read;
SELECT entries FROM des.cache_stats();
RESET des.reader_cache_entries;

-- single objects: size, and removal (false when there is nothing to remove)
SELECT size FROM des.storage_stat(:'dir' || '/z.des');
SELECT des.storage_delete(:'dir' || '/z.des') AS deleted, des.storage_delete(:'dir' || '/z.des') AS deleted_again;
SELECT count(*) FROM des.storage_list(:'dir' || '/z');
