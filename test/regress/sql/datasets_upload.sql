-- des.bundle_upload from a DES archive (a server file, or an object on S3)
-- and from an S3 prefix: every entry or object becomes a file (mode 0644)
-- named by the entry, or by the key below the prefix; names that are no
-- bundle path, and paths given twice, are refused before a byte is stored;
-- S3 sources are read with the caller's own user mapping, never the
-- owner's. Bundle ids depend on the time of the commit, so they are
-- compared, never printed. tools/test.sh creates /tmp/pg_des_regress/upload.
SET client_min_messages = warning;
CREATE OR REPLACE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    -- request ids differ from run to run
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, 'request id [0-9A-Za-z]+', 'request id X');
END $$;
CREATE FUNCTION up_files(ref text) RETURNS TABLE (path text, mode text, size bigint) LANGUAGE sql AS $$
    SELECT f.path, to_char(f.mode, 'FM999'), f.size FROM des.files(ref) f WHERE f.kind = 'file' ORDER BY f.path COLLATE "C"
$$;
GRANT EXECUTE ON FUNCTION try(text), up_files(text) TO PUBLIC;
CREATE ROLE up_writer;
SELECT des.context_create('upt') > 0 AS created;
SELECT des.grant('context:upt', 'up_writer', 'write');
SELECT des.repo_create('up', 'uploads', 'upt') > 0 AS created;

-- a local archive: LZ4 and BLAKE2b, every entry a file
CREATE TABLE up_entries AS
SELECT 'data/part-' || lpad(i::text, 3, '0') || '.csv' AS name,
       convert_to(repeat(md5(i::text) || E'\n', 1 + i % 50), 'UTF8') AS data
FROM generate_series(1, 40) i;
INSERT INTO up_entries VALUES ('README', 'an archive uploaded as a bundle'), ('empty', ''),
    ('data/big.bin', (SELECT string_agg(md5(i::text), '')::bytea FROM generate_series(1, 20000) i));
SELECT des.archive_write('/tmp/pg_des_regress/upload/set.des', name, data, NULL, '{"lz4": true, "blake2b": true}') ->> 'entries' AS entries
FROM up_entries;
SELECT length(des.bundle_upload('up', 'main', '/tmp/pg_des_regress/upload/set.des', 'from an archive')) AS id_len;
SELECT count(*) AS files, bool_and(mode = '420') AS all_0644,
       count(*) FILTER (WHERE des.read('up/main', e.name) = e.data) AS equal
FROM up_files('up/main') f JOIN up_entries e ON e.name = f.path;
SELECT (SELECT count(*) FROM up_files('up/main')) = (SELECT count(*) FROM up_entries) AS nothing_else;
SELECT * FROM up_files('up/main') WHERE path NOT LIKE 'data/part-%';
SELECT path, to_char(mode, 'FM999') AS mode FROM des.files('up/main') WHERE kind <> 'file' ORDER BY path;
-- entries that are no bundle paths, and a file that is also a directory
SELECT des.archive_write('/tmp/pg_des_regress/upload/bad.des', name, data, NULL, '{"names": "reference"}') ->> 'entries' AS entries
FROM (VALUES ('ok.txt', 'fine'::bytea), ('../escape.txt', 'outside')) v(name, data);
SELECT try($$SELECT des.bundle_upload('up', 'main', '/tmp/pg_des_regress/upload/bad.des', 'a bad name')$$);
SELECT des.archive_write('/tmp/pg_des_regress/upload/clash.des', name, data, NULL) ->> 'entries' AS entries
FROM (VALUES ('a', 'a file'::bytea), ('a/b', 'below it')) v(name, data);
SELECT try($$SELECT des.bundle_upload('up', 'main', '/tmp/pg_des_regress/upload/clash.des', 'a clash')$$);
SELECT try($$SELECT des.bundle_upload('up', 'main', '/tmp/pg_des_regress/upload/none.des', 'absent')$$);
SELECT try($$SELECT des.bundle_upload('up', 'main', 'relative.des', 'relative')$$);
-- local sources need pg_read_server_files
SET ROLE up_writer;
SELECT try($$SELECT des.bundle_upload('up', 'main', '/tmp/pg_des_regress/upload/set.des', 'no right')$$);
RESET ROLE;
SELECT count(*) AS still_files FROM up_files('up/main');

-- S3: an archive (an entry external), and a prefix of objects
CREATE SERVER up_lake FOREIGN DATA WRAPPER des_fdw
    OPTIONS (endpoint 'http://127.0.0.1:59001', region 'us-east-1', url_style 'path', allow_http 'true');
CREATE USER MAPPING FOR CURRENT_USER SERVER up_lake
    OPTIONS (access_key_id 'pgdes-test-key', secret_access_key 'pgdes-test-secret');
SET des.default_server = 'up_lake';
SELECT des.archive_write('s3://pgdes-test/upload/set.des', name, data, NULL,
                         '{"lz4": true, "blake2b": true, "external_threshold": 100000}') ->> 'entries' AS entries
FROM up_entries;
SELECT des.branch_create('up', 's3');
SELECT length(des.bundle_upload('up', 's3', 's3://pgdes-test/upload/set.des', 'from an archive on S3')) AS id_len;
SELECT count(*) FILTER (WHERE des.read('up/s3', e.name) = e.data) AS equal FROM up_entries e;
SELECT (SELECT root FROM des.resolve('up/s3')) = (SELECT root FROM des.resolve('up/main')) AS same_tree;
-- a prefix: its keys below it are the paths; objects beside it are not part of it
SELECT k, des.archive_write('s3://pgdes-test/upload/tree/' || k, name, data, NULL) ->> 'entries' AS entries
FROM (SELECT k, e.name, e.data FROM up_entries e,
             (VALUES ('one.des'), ('sub/two.des'), ('sub/deeper/three.des')) v(k)
       WHERE e.name LIKE 'data/part-00%' OR k = 'one.des') s
GROUP BY k ORDER BY k;
SELECT des.archive_write('s3://pgdes-test/upload/treex.des', 'x', 'beside', NULL) ->> 'entries' AS entries;
SELECT des.branch_create('up', 'prefix');
SELECT length(des.bundle_upload('up', 'prefix', 's3://pgdes-test/upload/tree/', 'from an S3 prefix')) AS id_len;
-- each file is the object's bytes (read_blob reads past the 16-byte header and checks their hash)
SELECT string_agg(f.path || ' ' || f.mode, ', ' ORDER BY f.path COLLATE "C") AS files,
       bool_and(f.size = l.size) AS same_size,
       bool_and(des_internal.read_blob(l.location, 16, f.size - 16, 0,
                                       des.blake2b(substring(des.read('up/prefix', f.path) FROM 17)))
                = substring(des.read('up/prefix', f.path) FROM 17)) AS same_bytes
FROM up_files('up/prefix') f JOIN des.storage_list('s3://pgdes-test/upload/tree/') l
     ON l.location = 's3://pgdes-test/upload/tree/' || f.path;
-- without the trailing slash: the same "directory"
SELECT des.branch_create('up', 'prefix2');
SELECT length(des.bundle_upload('up', 'prefix2', 's3://pgdes-test/upload/tree', 'no slash')) AS id_len;
SELECT (SELECT root FROM des.resolve('up/prefix2')) = (SELECT root FROM des.resolve('up/prefix')) AS same_tree;
-- the caller's own S3 rights: USAGE on the server, then its own user mapping
SELECT des.branch_create('up', 'writer');
SET ROLE up_writer;
SELECT try($$SELECT des.bundle_upload('up', 'writer', 's3://pgdes-test/upload/tree/', 'no usage')$$);
RESET ROLE;
GRANT USAGE ON FOREIGN SERVER up_lake TO up_writer;
SET ROLE up_writer;
SELECT try($$SELECT des.bundle_upload('up', 'writer', 's3://pgdes-test/upload/tree/', 'no mapping')$$);
SELECT try($$SELECT des.bundle_upload('up', 'writer', 's3://pgdes-test/upload/set.des', 'no mapping')$$);
RESET ROLE;
CREATE USER MAPPING FOR up_writer SERVER up_lake
    OPTIONS (access_key_id 'pgdes-test-key', secret_access_key 'not-the-secret');
SET ROLE up_writer;
SELECT try($$SELECT des.bundle_upload('up', 'writer', 's3://pgdes-test/upload/tree/', 'a wrong secret')$$);
RESET ROLE;
ALTER USER MAPPING FOR up_writer SERVER up_lake OPTIONS (SET secret_access_key 'pgdes-test-secret');
SET ROLE up_writer;
SELECT length(des.bundle_upload('up', 'writer', 's3://pgdes-test/upload/tree/', 'its own mapping')) AS id_len;
SELECT (SELECT root FROM des.resolve('up/writer')) = (SELECT root FROM des.resolve('up/prefix')) AS same_tree;
RESET ROLE;
-- the write log: source and number of files of every upload
SELECT CASE WHEN role = current_user THEN 'me' ELSE role END AS role, detail->>'branch' AS branch, detail->>'source' AS source, detail->>'files' AS files
FROM des.write_log WHERE action = 'upload' AND repo_id = (SELECT id FROM des.repositories WHERE name = 'up') ORDER BY id;

DROP USER MAPPING FOR up_writer SERVER up_lake;
DROP USER MAPPING FOR CURRENT_USER SERVER up_lake;
DROP SERVER up_lake;
RESET des.default_server;
DROP TABLE up_entries;
