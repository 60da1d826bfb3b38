-- Conformance with the reference writer's archives (shared/fixtures/des-v1):
-- every entry reads exactly as manifest.json describes it.
-- The test runner copies the fixtures to /tmp/pg_des_regress/fixtures; when they
-- are missing it skips this test and says so.
\set fx '/tmp/pg_des_regress/fixtures'
SET client_min_messages = warning;

CREATE TEMP TABLE manifest AS
SELECT a.key AS file, a.value AS archive
FROM jsonb_each(pg_read_file(:'fx' || '/manifest.json')::jsonb -> 'archives') a;

CREATE TEMP TABLE expected_entries AS
SELECT m.file, e.ord, e.value AS entry
FROM manifest m, jsonb_array_elements(m.archive -> 'entries') WITH ORDINALITY e(value, ord);

-- index fields, stored meta and footer, archive by archive
SELECT m.file,
       (SELECT count(*) FROM des.archive_list(:'fx' || '/' || m.file)) AS entries,
       (SELECT count(*) FROM expected_entries x
         JOIN des.archive_list(:'fx' || '/' || m.file) l ON l.name = x.entry ->> 'name'
        WHERE x.file = m.file
          AND l.size = (x.entry ->> 'size')::bigint
          AND l.flags = (x.entry ->> 'flags')::int
          AND l.data_offset = (x.entry ->> 'data_offset')::bigint
          AND l.meta_offset = (x.entry ->> 'meta_offset')::bigint
          AND l.meta = x.entry -> 'meta_stored') AS index_and_meta_match,
       (SELECT (i -> 'footer') = (m.archive -> 'footer') - 'reserved_hex'
          FROM des.archive_info(:'fx' || '/' || m.file) i) AS footer_matches
FROM manifest m ORDER BY m.file;

-- payload bytes (sha256 from the manifest), single and batched reads, externals included
SELECT m.file,
       (SELECT count(*) FROM expected_entries x
         WHERE x.file = m.file
           AND encode(sha256(des.archive_read(:'fx' || '/' || m.file, x.entry ->> 'name')), 'hex') = x.entry ->> 'sha256') AS single_reads_match,
       (SELECT count(*) FROM expected_entries x
         JOIN des.archive_read(:'fx' || '/' || m.file,
                               (SELECT array_agg(y.entry ->> 'name') FROM expected_entries y WHERE y.file = m.file)) r
           ON r.name = x.entry ->> 'name'
         WHERE x.file = m.file AND encode(sha256(r.data), 'hex') = x.entry ->> 'sha256') AS batch_reads_match
FROM manifest m ORDER BY m.file;

-- verify on the reference archives: only the reference's permissive names are reported
SELECT m.file, string_agg(v."check", ', ' ORDER BY v."check") FILTER (WHERE NOT v.ok) AS failed_checks
FROM manifest m, des.archive_verify(:'fx' || '/' || m.file) v
GROUP BY m.file ORDER BY m.file;
SELECT detail FROM des.archive_verify(:'fx' || '/unicode_names.des') WHERE "check" = 'names';

-- the external payload is found by its stored external_key, not rebuilt from the folder
SELECT name, meta ->> 'external_key' AS key, length(des.archive_read(:'fx' || '/ext/big_external.des', name)) AS len
FROM des.archive_list(:'fx' || '/ext/big_external.des') WHERE flags & 1 = 1 ORDER BY name;
-- 0-byte entries read as empty, not as the whole archive
SELECT name, length(des.archive_read(:'fx' || '/zero_byte.des', name)) AS len
FROM des.archive_list(:'fx' || '/zero_byte.des') ORDER BY data_offset, name;

-- corrupted variants of the fixtures
CREATE OR REPLACE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE OR REPLACE FUNCTION put_file(path text, content bytea) RETURNS void LANGUAGE plpgsql AS $$
DECLARE o oid;
BEGIN
    o := lo_from_bytea(0, content);
    PERFORM lo_export(o, path);
    PERFORM lo_unlink(o);
END $$;
SELECT pg_read_binary_file(:'fx' || '/many_small_1000.des') AS many \gset
SELECT length(:'many'::bytea) AS size \gset
-- truncated in the middle of the index
SELECT put_file('/tmp/pg_des_regress/corrupt_trunc.des',
                substring(:'many'::bytea from 1 for 330000) || substring(:'many'::bytea from :size - 71));
SELECT try($$SELECT count(*) FROM des.archive_list('/tmp/pg_des_regress/corrupt_trunc.des')$$);
-- a name length inside the index inflated so entries run past the index
SELECT put_file('/tmp/pg_des_regress/corrupt_namelen.des',
                overlay(:'many'::bytea placing '\xffff'::bytea from 319222));
SELECT try($$SELECT count(*) FROM des.archive_list('/tmp/pg_des_regress/corrupt_namelen.des')$$);
-- a data offset pointing into the footer
SELECT put_file('/tmp/pg_des_regress/corrupt_offset.des',
                overlay(:'many'::bytea placing '\xf0ff0f0000000000'::bytea from 319222 + 2 + 13));
SELECT try($$SELECT count(*) FROM des.archive_list('/tmp/pg_des_regress/corrupt_offset.des')$$);
-- the reference writer stores no hashes: verify says how many entries it could not check

SELECT detail FROM des.archive_verify(:'fx' || '/ext/big_external.des') WHERE "check" = 'hashes';

-- des_fdw over the fixtures: every entry of every archive, as the manifest says
-- (names, sizes, flags, stored meta, sha256 of the payloads, external payloads)
CREATE SERVER fixture_files FOREIGN DATA WRAPPER des_fdw;
CREATE FOREIGN TABLE fixtures_fdw (archive text, name text, size bigint, flags integer, meta jsonb,
                                   data_offset bigint, data bytea)
    SERVER fixture_files OPTIONS (location '/tmp/pg_des_regress/fixtures/');
SELECT m.file,
       count(f.name) AS rows,
       jsonb_array_length(m.archive -> 'entries') AS manifest_entries,
       count(*) FILTER (WHERE f.size = (x.entry ->> 'size')::bigint
                          AND f.flags = (x.entry ->> 'flags')::int
                          AND f.data_offset = (x.entry ->> 'data_offset')::bigint
                          AND f.meta = x.entry -> 'meta_stored'
                          AND encode(sha256(f.data), 'hex') = x.entry ->> 'sha256') AS matching
FROM manifest m
LEFT JOIN fixtures_fdw f ON f.archive = '/tmp/pg_des_regress/fixtures/' || m.file
LEFT JOIN expected_entries x ON x.file = m.file AND x.entry ->> 'name' = f.name
GROUP BY m.file, m.archive ORDER BY m.file;
-- lookups by name through the index, and a join
SELECT left(f.name, 30) AS name, f.size FROM fixtures_fdw f
WHERE f.name = ANY (SELECT x.entry ->> 'name' FROM expected_entries x WHERE x.file = 'unicode_names.des')
ORDER BY f.name COLLATE "C";
DROP SERVER fixture_files CASCADE;
