-- Garbage collection with the storage on S3 (the test harness: s3rver
-- behind the SigV4-verifying proxy): dataset containers written to S3, a
-- repo deleted, des.gc removes the rows and then DELETEs the objects;
-- compaction copies live chunks from one S3 container into another.
SET client_min_messages = warning;
CREATE OR REPLACE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, 'request id [0-9A-Za-z]+', 'request id X');
END $$;
CREATE SERVER gc_lake FOREIGN DATA WRAPPER des_fdw
    OPTIONS (endpoint 'http://127.0.0.1:59001', region 'us-east-1', url_style 'path', allow_http 'true');
CREATE USER MAPPING FOR CURRENT_USER SERVER gc_lake
    OPTIONS (access_key_id 'pgdes-test-key', secret_access_key 'pgdes-test-secret');
-- (des.storage is a server-wide setting: changed for this test, then reset)
ALTER SYSTEM SET des.storage = 's3://pgdes-test/gc-lake';
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
SET des.storage_server = 'gc_lake';
SET des.default_server = 'gc_lake';	-- (for des.storage_stat and des.storage_list below)
SELECT current_setting('des.storage') AS storage;
-- (the harness keeps its objects between runs: start from an empty prefix)
SELECT count(des.storage_delete(s.location)) >= 0 AS emptied FROM des.storage_list('s3://pgdes-test/gc-lake/') s WHERE NOT s.is_prefix;
-- what earlier tests queued under the local root stays out of this
DELETE FROM des.gc_pending_deletes;

SELECT des.repo_create('gc_s3', 'on S3') > 0 AS created;
SELECT des.stage_many('gc_s3', 'main', ARRAY(SELECT format('f%s.txt', i) FROM generate_series(1, 10) i),
                      ARRAY(SELECT convert_to(repeat(format('s3 file %s;', i), 50), 'UTF8') FROM generate_series(1, 10) i)) AS staged;
SELECT des.commit('gc_s3', 'main', 'ten') IS NOT NULL AS committed;
SELECT c.id AS cid, c.location AS cloc FROM des.containers c JOIN des.blobs b ON b.container_id = c.id
 WHERE b.hash = des.blake2b(convert_to(repeat('s3 file 1;', 50), 'UTF8')) \gset
SELECT :'cloc' LIKE 's3://pgdes-test/gc-lake/datasets/%' AS on_s3, (des.storage_stat(:'cloc')).size > 0 AS stored;

-- compaction on S3: six files removed and squashed away, the container copied
SELECT count(des.stage_remove('gc_s3', 'main', format('f%s.txt', i))) AS removed FROM generate_series(5, 10) i;
SELECT des.commit('gc_s3', 'main', 'four') IS NOT NULL AS committed;
SELECT des.retention_set('gc_s3', keep_last => 1);
SELECT count(*) AS squashed FROM des.squash('gc_s3', false) WHERE action = 'remove';
SELECT action, blobs FROM des.gc() WHERE container_id = :cid OR location = 'repo:gc_s3' ORDER BY action;
SET client_min_messages = error;	-- (other tests' local containers are no business of this one)
SELECT action, blobs FROM des.gc(dry_run => false) WHERE container_id = :cid OR location = 'repo:gc_s3' ORDER BY action;
SET client_min_messages = warning;
SELECT c.location LIKE 's3://pgdes-test/gc-lake/datasets/%' AS copy_on_s3, c.origin
  FROM des.containers c JOIN des.blobs b ON b.container_id = c.id
 WHERE b.hash = des.blake2b(convert_to(repeat('s3 file 1;', 50), 'UTF8'));
SELECT string_agg(path, ',' ORDER BY path) AS files,
       bool_and(convert_from(des.read('gc_s3/main', path), 'UTF8') = repeat(format('s3 file %s;', substr(path, 2, length(path) - 5)), 50)) AS read_back
  FROM des.files('gc_s3/main') WHERE kind = 'file';
-- the next run DELETEs the old object from S3
SELECT count(*) AS pending FROM des.gc_pending_deletes WHERE location = :'cloc';
SET client_min_messages = error;
SELECT count(*) >= 0 AS flushed FROM des.gc(dry_run => false);
SET client_min_messages = warning;
SELECT count(*) AS pending_after FROM des.gc_pending_deletes WHERE location = :'cloc';
SELECT split_part(try(format('SELECT des.storage_stat(%L)', :'cloc')), ':', 1) AS object_gone;

-- the whole repo deleted: its containers go, rows and objects
SELECT string_agg(c.location, ' ') AS locs FROM des.containers c WHERE c.location LIKE 's3://pgdes-test/gc-lake/%' \gset
SELECT des.repo_delete('gc_s3');
SET client_min_messages = error;
SELECT count(*) >= 0 AS collected FROM des.gc(dry_run => false);
SELECT count(*) >= 0 AS flushed FROM des.gc(dry_run => false);
SET client_min_messages = warning;
SELECT count(*) AS s3_containers_left FROM des.containers c WHERE c.location LIKE 's3://pgdes-test/gc-lake/%';
SELECT count(*) AS s3_objects_left FROM des.storage_list('s3://pgdes-test/gc-lake/') s WHERE NOT s.is_prefix;

ALTER SYSTEM RESET des.storage;
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
RESET des.storage_server;
RESET des.default_server;
DROP USER MAPPING FOR CURRENT_USER SERVER gc_lake;
DROP SERVER gc_lake;
