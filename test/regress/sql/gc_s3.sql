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
-- talk to the harness's control API; run the AWS CLI (tools/test.sh writes its config)
CREATE OR REPLACE FUNCTION s3_control(what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('COPY (SELECT 1) TO PROGRAM %L',
                   'cat >/dev/null; curl -sf -X POST ''http://127.0.0.1:59001/__control/' || what || ''' >/dev/null');
END $$;
CREATE OR REPLACE FUNCTION aws_cli(args text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS aws_out (line text);
    TRUNCATE aws_out;
    EXECUTE format('COPY aws_out FROM PROGRAM %L',
        'AWS_CONFIG_FILE=/tmp/pg_des_regress/aws/config AWS_SHARED_CREDENTIALS_FILE=/tmp/pg_des_regress/aws/credentials '
        || 'HOME=/tmp/pg_des_regress/aws /usr/bin/aws --endpoint-url http://127.0.0.1:59001 ' || args || ' 2>&1');
    RETURN (SELECT string_agg(line, E'\n') FROM aws_out);
END $$;
SELECT s3_control('reset');
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

-- incomplete multipart uploads: one left by a write that failed part-way
-- (its abort failing too, as when the writer dies), one started by the AWS
-- CLI and never completed
SET des.s3_part_size = '5MB';
SET des.s3_upload_parallel = 1;	-- (each part sent when full)
SELECT s3_control('fail?count=1&status=400&code=InvalidRequest&kind=multipart_abort');
SELECT split_part(try($q$SELECT des.archive_write('s3://pgdes-test/gc-lake/stray.des', 'c' || i,
                                          convert_to(repeat(md5(i::text), 32768), 'UTF8'), NULL)
                        FROM generate_series(1, 20) i WHERE 1 / (15 - i) IS NOT NULL$q$), ':', 1) AS write_failed;
RESET des.s3_part_size;
RESET des.s3_upload_parallel;
SELECT aws_cli('s3api create-multipart-upload --bucket pgdes-test --key gc-lake/cli-stray.des --output text --query Key') AS cli_started;
-- and one whose container is still being written (a packer's open container): never aborted
SELECT aws_cli('s3api create-multipart-upload --bucket pgdes-test --key gc-lake/open.des --output text --query Key') AS cli_started;
INSERT INTO des.containers (id, location, day, shard, state) VALUES (900000001, 's3://pgdes-test/gc-lake/open.des', '2001-01-01', 0, 'writing');
SELECT location, length(upload_id) > 0 AS has_id, initiated > now() - interval '5 minutes' AS recent
  FROM des.storage_uploads('s3://pgdes-test/gc-lake/') ORDER BY location;
-- the AWS CLI lists what pg_des left, and pg_des what the CLI started
SELECT aws_cli('s3api list-multipart-uploads --bucket pgdes-test --prefix gc-lake/ --output json --query "sort(Uploads[].Key)"') AS cli_lists;
-- younger than des.gc_upload_min_age (1 day): left alone
SELECT count(*) AS abort_rows FROM des.gc() WHERE action = 'abort upload';
SET des.gc_upload_min_age = 0;
SELECT action, location FROM des.gc() WHERE action = 'abort upload' ORDER BY location;
SELECT count(*) AS still_there FROM des.storage_uploads('s3://pgdes-test/gc-lake/');
-- the first abort fails (a warning and a 'failed' row), the other goes on
SELECT s3_control('fail?count=1&status=400&code=InvalidRequest&kind=multipart_abort');
SET client_min_messages = error;
SELECT action, regexp_replace(location, 'request id \w+', 'request id X') AS location
  FROM des.gc(dry_run => false) WHERE action IN ('abort upload', 'failed') ORDER BY location;
SET client_min_messages = warning;
SELECT location FROM des.storage_uploads('s3://pgdes-test/gc-lake/') ORDER BY location;
SELECT (SELECT uploads_aborted FROM des.gc_runs ORDER BY id DESC LIMIT 1) AS run_aborted, uploads_aborted >= 1 AS counted FROM des.stat_gc;
-- the container is written no more: its upload is aborted by the next run (through des.gc_run)
SELECT upload_id AS open_id FROM des.storage_uploads('s3://pgdes-test/gc-lake/') WHERE location LIKE '%/open.des' \gset
DELETE FROM des.containers WHERE id = 900000001;
SET client_min_messages = error;
CALL des.gc_run();
SET client_min_messages = warning;
SELECT state, uploads_aborted FROM des.gc_runs ORDER BY id DESC LIMIT 1;	-- (the CLI's, and the container's)
SELECT count(*) AS uploads_left FROM des.storage_uploads('s3://pgdes-test/gc-lake/');
RESET des.gc_upload_min_age;
-- aborting by hand: an upload S3 no longer knows is false; local storage has none
SELECT des.storage_abort_upload('s3://pgdes-test/gc-lake/open.des', :'open_id') AS aborted_again;
SELECT try($$SELECT des.storage_abort_upload('/tmp/x.des', 'abc')$$) AS local_abort;
SELECT try($$SELECT des.storage_abort_upload('s3://pgdes-test/gc-lake/open.des', '')$$) AS empty_id;
SELECT count(*) AS local_uploads FROM des.storage_uploads('/tmp/');
-- a listing S3 refuses: a warning, nothing aborted, the run goes on
SET des.gc_upload_min_age = 0;
SELECT s3_control('fail?count=1&status=403&code=AccessDenied&kind=list_uploads');
SET client_min_messages = error;	-- (the warning names S3's request id)
SELECT count(*) AS abort_rows FROM des.gc() WHERE action IN ('abort upload', 'failed');
SET client_min_messages = warning;
RESET des.gc_upload_min_age;

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
