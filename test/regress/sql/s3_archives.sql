-- Archives on S3: the test harness runs s3rver behind a proxy that verifies
-- every request's SigV4 signature (test/s3), on 127.0.0.1:59001.
SET client_min_messages = warning;

CREATE OR REPLACE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    -- request ids differ from run to run
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, 'request id [0-9A-Za-z]+', 'request id X');
END $$;
-- talk to the harness's control API
CREATE FUNCTION s3_control(what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('COPY (SELECT 1) TO PROGRAM %L',
                   'cat >/dev/null; curl -sf -X POST ''http://127.0.0.1:59001/__control/' || what || ''' >/dev/null');
END $$;
-- requests by kind since the last reset
CREATE FUNCTION s3_requests() RETURNS jsonb LANGUAGE sql AS $$
    SELECT coalesce(jsonb_object_agg(kind, requests) FILTER (WHERE requests > 0), '{}')
    FROM des.s3_stats()
$$;
SELECT s3_control('reset');

-- configuration: the validator
SELECT try($$CREATE SERVER bad1 FOREIGN DATA WRAPPER des_fdw OPTIONS (endpoint 'http://127.0.0.1:59001')$$);
SELECT try($$CREATE SERVER bad2 FOREIGN DATA WRAPPER des_fdw OPTIONS (endpoint 'ftp://x')$$);
SELECT try($$CREATE SERVER bad3 FOREIGN DATA WRAPPER des_fdw OPTIONS (endpoint 'https://host/path')$$);
SELECT try($$CREATE SERVER bad4 FOREIGN DATA WRAPPER des_fdw OPTIONS (url_style 'sideways')$$);
SELECT try($$CREATE SERVER bad5 FOREIGN DATA WRAPPER des_fdw OPTIONS (secret_access_key 'x')$$);
SELECT try($$CREATE SERVER bad6 FOREIGN DATA WRAPPER des_fdw OPTIONS (colour 'blue')$$);
CREATE SERVER lake FOREIGN DATA WRAPPER des_fdw
    OPTIONS (endpoint 'http://127.0.0.1:59001', region 'us-east-1', url_style 'path', allow_http 'true');
SELECT try($$CREATE USER MAPPING FOR CURRENT_USER SERVER lake OPTIONS (endpoint 'x')$$);
SELECT try($$CREATE USER MAPPING FOR CURRENT_USER SERVER lake OPTIONS (access_key_id '')$$);
CREATE USER MAPPING FOR CURRENT_USER SERVER lake
    OPTIONS (access_key_id 'pgdes-test-key', secret_access_key 'pgdes-test-secret');
SELECT try($$SELECT des.archive_list('s3://pgdes-test/none.des')$$);
SET des.default_server = 'nosuch';
SELECT try($$SELECT des.archive_list('s3://pgdes-test/none.des')$$);
SET des.default_server = 'lake';
SELECT try($$SELECT des.archive_list('s3://pgdes-test/')$$);
SELECT try($$SELECT des.archive_list('s3:///key.des')$$);

-- a small archive is one PUT; reading it back costs one GET
CREATE TABLE s3objs AS
SELECT 'obj/' || lpad(i::text, 4, '0') AS name,
       convert_to(repeat(md5(i::text), 1 + i % 7), 'UTF8') AS data,
       jsonb_build_object('i', i) AS meta
FROM generate_series(1, 300) i;
INSERT INTO s3objs VALUES ('empty', '', NULL);
SELECT des.s3_stats_reset();
SELECT des.archive_write('s3://pgdes-test/t/small.des', name, data, meta ORDER BY name) ->> 'entries' AS entries FROM s3objs;
SELECT s3_requests() AS write_requests;
SELECT des.s3_stats_reset();
SELECT count(*), sum(size) FROM des.archive_list('s3://pgdes-test/t/small.des');
SELECT s3_requests() AS cold_open;
SELECT des.s3_stats_reset();
SELECT count(*) AS n, bool_and(r.data = o.data) AS equal
FROM des.archive_read('s3://pgdes-test/t/small.des', (SELECT array_agg(name) FROM s3objs)) r JOIN s3objs o USING (name);
SELECT s3_requests() AS warm_batch_within_tail;

-- with a small tail read: a cold open is 2 GETs (tail, then the index)
SET des.s3_tail_read = '1kB';
SELECT des.s3_stats_reset();
SELECT count(*) FROM des.archive_info('s3://pgdes-test/t/small.des') x;
SELECT (SELECT requests FROM des.s3_stats() WHERE kind = 'get_range') AS revalidation_requests;
SELECT des.cache_reset(include_shared => true);
SELECT des.s3_stats_reset();
SELECT (des.archive_info('s3://pgdes-test/t/small.des') ->> 'entries')::int AS entries;
SELECT s3_requests() AS cold_open_big_index;
-- listing revalidates the cached index (a conditional GET) and reads the meta region (a GET)
SELECT des.s3_stats_reset();
SELECT count(*) FROM des.archive_list('s3://pgdes-test/t/small.des');
SELECT s3_requests() AS meta_region;
-- adjacent entries: one GET; far-apart entries with no coalescing: one GET each
SELECT des.s3_stats_reset();
SELECT count(*), bool_and(r.data = o.data)
FROM des.archive_read('s3://pgdes-test/t/small.des', ARRAY['obj/0010', 'obj/0011', 'obj/0012', 'obj/0013']) r JOIN s3objs o USING (name);
SELECT s3_requests() AS adjacent_batch;
SET des.s3_read_coalesce_gap = 0;
SELECT des.s3_stats_reset();
SELECT count(*), bool_and(r.data = o.data)
FROM des.archive_read('s3://pgdes-test/t/small.des', ARRAY['obj/0010', 'obj/0100', 'obj/0200']) r JOIN s3objs o USING (name);
SELECT s3_requests() AS three_ranges;
RESET des.s3_read_coalesce_gap;
-- 0-byte entries cost no data request: a cold read of one is the open alone
-- (tail and index), where a 1-byte entry costs one more GET
SELECT des.cache_reset(include_shared => true);
SELECT des.s3_stats_reset();
SELECT length(des.archive_read('s3://pgdes-test/t/small.des', 'empty')) AS len, s3_requests() AS zero_byte_requests;
SELECT des.cache_reset(include_shared => true);
SELECT des.s3_stats_reset();
SELECT length(des.archive_read('s3://pgdes-test/t/small.des', 'obj/0001')) AS len, s3_requests() AS nonempty_requests;
RESET des.s3_tail_read;
-- a blob read at its recorded offset (des_internal.read_blob, as des.get does for a
-- packed object): one ranged GET, no tail or index read; checked against
-- its hash, and never past the end
SELECT l.data_offset AS off42, l.size AS len42, l.flags AS flags42
  FROM des.archive_list('s3://pgdes-test/t/small.des') l WHERE l.name = 'obj/0042' \gset
SELECT des.cache_reset(include_shared => true);
SELECT des.s3_stats_reset();
SELECT des_internal.read_blob('s3://pgdes-test/t/small.des', :off42, :len42, :flags42, des.blake2b(o.data)) = o.data AS same_bytes,
       s3_requests() AS blob_requests
  FROM s3objs o WHERE o.name = 'obj/0042';
SELECT try(format($$SELECT des_internal.read_blob('s3://pgdes-test/t/small.des', %s, %s, 0, des.blake2b('\x00'))$$, l.data_offset, l.size))
  FROM des.archive_list('s3://pgdes-test/t/small.des') l WHERE l.name = 'obj/0042';
SELECT regexp_replace(try($$SELECT des_internal.read_blob('s3://pgdes-test/t/small.des', 100000000, 10, 0, des.blake2b('\x00'))$$),
                      'offset \d+', 'offset N') AS past_the_end;
SELECT length(des_internal.read_blob('s3://pgdes-test/t/small.des', l.data_offset, 0, 0, des.blake2b(''))) AS empty_blob_no_request
  FROM des.archive_list('s3://pgdes-test/t/small.des') l WHERE l.name = 'empty';

-- a big archive is a multipart upload with parallel parts
SET des.s3_part_size = '5MB';
SELECT des.s3_stats_reset();
SELECT des.archive_write('s3://pgdes-test/t/big.des', 'chunk' || i, convert_to(repeat(md5(i::text), 32768), 'UTF8'), NULL,
                         '{"blake2b": false}' ORDER BY i) ->> 'bytes' AS bytes
FROM generate_series(1, 12) i;
SELECT s3_requests() AS multipart_requests;
SELECT count(*), sum(size) FROM des.archive_list('s3://pgdes-test/t/big.des');
SELECT md5(des.archive_read('s3://pgdes-test/t/big.des', 'chunk7')) = md5(convert_to(repeat(md5('7'), 32768), 'UTF8')) AS chunk7_ok;
SELECT "check", ok FROM des.archive_verify('s3://pgdes-test/t/big.des') WHERE NOT ok;
RESET des.s3_part_size;

-- an error part-way through a multipart upload leaves no object and aborts the upload
SET des.s3_part_size = '5MB';
SET des.s3_upload_parallel = 2;
SELECT des.s3_stats_reset();
SELECT try($q$SELECT des.archive_write('s3://pgdes-test/t/broken.des', 'c' || i, convert_to(repeat(md5(i::text), 32768), 'UTF8'), NULL)
              FROM generate_series(1, 20) i WHERE 1 / (15 - i) IS NOT NULL$q$);
SELECT s3_requests() ->> 'multipart_upload_part' AS parts_sent_before_the_error;
RESET des.s3_upload_parallel;
SELECT s3_requests() ->> 'multipart_abort' AS aborted;
SELECT count(*) AS visible FROM des.storage_list('s3://pgdes-test/t/broken');
RESET des.s3_part_size;

-- external payloads live under the archive's own prefix and are read by their key
SELECT des.archive_write('s3://pgdes-test/t/ext.des', name, data, NULL, '{"external_threshold": 150}' ORDER BY name) ->> 'external_entries' AS external
FROM s3objs WHERE name <= 'obj/0010';
SELECT name, meta ->> 'external_key' AS key FROM des.archive_list('s3://pgdes-test/t/ext.des') WHERE flags = 1 ORDER BY name LIMIT 2;
SELECT bool_and(des.archive_read('s3://pgdes-test/t/ext.des', name) = data) AS ext_equal FROM s3objs WHERE name <= 'obj/0010';
-- objects directly under t/ (with the delimiter, deeper keys roll up into prefixes)
SELECT location FROM des.storage_list('s3://pgdes-test/t/', '/') WHERE NOT is_prefix ORDER BY location;
SELECT count(*) AS ext_objects FROM des.storage_list('s3://pgdes-test/t/ext/_bigFiles/');
-- listings follow continuation tokens: 3 keys in pages of 2
-- (a prefix whose keys s3rver orders as S3 does: it walks directories, so
-- "t/ext/..." and "t/ext.des" would come out of order across pages)
SET des.s3_list_page_size = 2;
SELECT des.s3_stats_reset();
SELECT location, size > 0 AS has_size FROM des.storage_list('s3://pgdes-test/t/ext/_bigFiles/') ORDER BY location;
SELECT s3_requests() ->> 'list' AS list_requests;
RESET des.s3_list_page_size;

-- a replaced object is detected and re-read, never read through a stale index:
-- small archives (data in the cached tail) and big ones (data read with If-Match)
SELECT des.archive_write('s3://pgdes-test/t/replace.des', 'k', '\x01'::bytea, NULL) ->> 'entries' AS entries;
SELECT des.archive_read('s3://pgdes-test/t/replace.des', 'k') AS before_replace;
SELECT des.archive_write('s3://pgdes-test/t/replace.des', n, '\x0202'::bytea, NULL ORDER BY n) ->> 'entries' AS entries
FROM unnest(ARRAY['a', 'k']) n;
SELECT des.archive_read('s3://pgdes-test/t/replace.des', 'k') AS after_replace;
SELECT name FROM des.archive_list('s3://pgdes-test/t/replace.des');
SET des.s3_tail_read = '1kB';
SELECT des.archive_write('s3://pgdes-test/t/replace2.des', 'n' || i, convert_to(repeat('a', 3000), 'UTF8'), NULL ORDER BY i) ->> 'entries' AS entries
FROM generate_series(1, 5) i;
SELECT left(convert_from(des.archive_read('s3://pgdes-test/t/replace2.des', 'n3'), 'UTF8'), 3) AS before_replace;
SELECT des.archive_write('s3://pgdes-test/t/replace2.des', 'n' || i, convert_to(repeat('b', 2000 + i), 'UTF8'), NULL ORDER BY i) ->> 'entries' AS entries
FROM generate_series(1, 5) i;
SELECT left(convert_from(des.archive_read('s3://pgdes-test/t/replace2.des', 'n3'), 'UTF8'), 3) AS after_replace,
       length(des.archive_read('s3://pgdes-test/t/replace2.des', 'n3')) AS len;
SELECT name, length(data) FROM des.archive_read('s3://pgdes-test/t/replace2.des', ARRAY['n1', 'n5']);
RESET des.s3_tail_read;

-- HEAD and DELETE of single objects
SELECT des.s3_stats_reset();
SELECT size = (SELECT size FROM des.storage_list('s3://pgdes-test/t/big.des')) AS same_size, etag IS NOT NULL AS has_etag
FROM des.storage_stat('s3://pgdes-test/t/big.des');
SELECT des.storage_delete('s3://pgdes-test/t/replace.des') AS deleted;
SELECT try($$SELECT * FROM des.storage_stat('s3://pgdes-test/t/replace.des')$$);
SELECT try($$SELECT des.archive_read('s3://pgdes-test/t/replace.des', 'k')$$);
SELECT s3_requests() AS head_and_delete;

-- temporary credentials: the session token is signed and checked
CREATE ROLE s3_token_ok;
GRANT USAGE ON FOREIGN SERVER lake TO s3_token_ok;
CREATE USER MAPPING FOR s3_token_ok SERVER lake OPTIONS
    (access_key_id 'pgdes-token-key', secret_access_key 'pgdes-token-secret', session_token 'pgdes-session-token');
CREATE ROLE s3_token_wrong;
GRANT USAGE ON FOREIGN SERVER lake TO s3_token_wrong;
CREATE USER MAPPING FOR s3_token_wrong SERVER lake OPTIONS
    (access_key_id 'pgdes-token-key', secret_access_key 'pgdes-token-secret', session_token 'stale-token');
CREATE ROLE s3_token_missing;
GRANT USAGE ON FOREIGN SERVER lake TO s3_token_missing;
CREATE USER MAPPING FOR s3_token_missing SERVER lake OPTIONS
    (access_key_id 'pgdes-token-key', secret_access_key 'pgdes-token-secret');
SET ROLE s3_token_ok;
SELECT count(*) AS with_token FROM des.archive_list('s3://pgdes-test/t/small.des');
SET ROLE s3_token_wrong;
SELECT try($$SELECT count(*) FROM des.archive_list('s3://pgdes-test/t/small.des')$$);
SET ROLE s3_token_missing;
SELECT try($$SELECT count(*) FROM des.archive_list('s3://pgdes-test/t/small.des')$$);
RESET ROLE;
DROP OWNED BY s3_token_ok, s3_token_wrong, s3_token_missing;
DROP ROLE s3_token_ok, s3_token_wrong, s3_token_missing;

-- retries: two 503 SlowDown answers are absorbed
SELECT des.s3_stats_reset();
SELECT s3_control('fail?count=2&status=503');
SELECT des.cache_reset(include_shared => true);
SELECT count(*) FROM des.archive_list('s3://pgdes-test/t/small.des');
SELECT retries FROM des.s3_stats() WHERE kind = 'get_range';
-- exhausted retries give a clear error
SET des.s3_max_retries = 2;
SELECT s3_control('fail?count=3&status=500');
SELECT des.cache_reset(include_shared => true);
SELECT try($$SELECT count(*) FROM des.archive_list('s3://pgdes-test/t/small.des')$$);
RESET des.s3_max_retries;
SELECT s3_control('reset');

-- S3 errors, with their SQLSTATEs
SELECT des.cache_reset(include_shared => true);
SELECT try($$SELECT * FROM des.storage_list(NULL)$$);
SELECT try($$SELECT des.archive_list('s3://pgdes-test/t/missing.des')$$);
SELECT try($$SELECT des.archive_list('s3://no-such-bucket/t/small.des')$$);
CREATE ROLE s3_wrong_secret;
GRANT USAGE ON FOREIGN SERVER lake TO s3_wrong_secret;
CREATE USER MAPPING FOR s3_wrong_secret SERVER lake
    OPTIONS (access_key_id 'pgdes-test-key', secret_access_key 'not-the-secret');
CREATE ROLE s3_unknown_key;
GRANT USAGE ON FOREIGN SERVER lake TO s3_unknown_key;
CREATE USER MAPPING FOR s3_unknown_key SERVER lake OPTIONS (access_key_id 'nobody', secret_access_key 'x');
CREATE ROLE s3_no_mapping;
GRANT USAGE ON FOREIGN SERVER lake TO s3_no_mapping;
CREATE ROLE s3_no_usage;
SET ROLE s3_wrong_secret;
SELECT try($$SELECT des.archive_list('s3://pgdes-test/t/small.des')$$);
SELECT try($$SELECT des.archive_read('s3://pgdes-test/t/small.des', 'obj/0001')$$);
SET ROLE s3_unknown_key;
SELECT try($$SELECT des.archive_list('s3://pgdes-test/t/small.des')$$);
SET ROLE s3_no_mapping;
SELECT try($$SELECT des.archive_list('s3://pgdes-test/t/small.des')$$);
SET ROLE s3_no_usage;
SELECT try($$SELECT des.archive_list('s3://pgdes-test/t/small.des')$$);
RESET ROLE;
-- secrets are not visible to other users
SET ROLE s3_no_usage;
SELECT count(*) AS visible_mappings_with_options FROM pg_user_mappings WHERE srvname = 'lake' AND umoptions IS NOT NULL;
RESET ROLE;

-- virtual-hosted addressing (the AWS default): <bucket>.s3.localhost, which
-- curl resolves to the loopback address itself
CREATE SERVER vhost FOREIGN DATA WRAPPER des_fdw
    OPTIONS (endpoint 'http://s3.localhost:59001', url_style 'virtual', allow_http 'true');
CREATE USER MAPPING FOR CURRENT_USER SERVER vhost
    OPTIONS (access_key_id 'pgdes-test-key', secret_access_key 'pgdes-test-secret');
SET des.default_server = 'vhost';
SELECT des.archive_write('s3://pgdes-test/vh/a.des', 'k', '\x0102'::bytea, NULL) ->> 'entries' AS entries;
SELECT des.archive_read('s3://pgdes-test/vh/a.des', 'k') AS virtual_hosted;
SELECT location FROM des.storage_list('s3://pgdes-test/vh/');
SET des.default_server = 'lake';
SELECT des.archive_read('s3://pgdes-test/vh/a.des', 'k') AS same_object_path_style;

-- a stopped server: a clear error, quickly
CREATE SERVER down FOREIGN DATA WRAPPER des_fdw
    OPTIONS (endpoint 'http://127.0.0.1:59009', url_style 'path', allow_http 'true');
CREATE USER MAPPING FOR CURRENT_USER SERVER down OPTIONS (access_key_id 'k', secret_access_key 's');
SET des.default_server = 'down';
SELECT clock_timestamp() AS t0 \gset
SELECT try($$SELECT des.archive_list('s3://pgdes-test/t/small.des')$$);
SELECT clock_timestamp() - :'t0'::timestamptz < interval '5 seconds' AS quick;
SET des.default_server = 'lake';

-- a stalled server is interrupted by statement_timeout within about a second
SELECT s3_control('stall?count=1&ms=20000');
SET statement_timeout = '1s';
SELECT clock_timestamp() AS t0 \gset
SELECT try($$SELECT count(*) FROM des.archive_list('s3://pgdes-test/t/ext.des')$$);
RESET statement_timeout;
SELECT clock_timestamp() - :'t0'::timestamptz < interval '3 seconds' AS interrupted_quickly;
SELECT s3_control('reset');

-- the shared index cache: another session opens a cached archive without a request
SET des.s3_tail_read = '1kB';
SELECT des.archive_write('s3://pgdes-test/t/shared.des', 'n' || i, convert_to(repeat('x', 100 + i), 'UTF8'), NULL ORDER BY i) ->> 'entries' AS entries
FROM generate_series(1, 500) i;
SELECT length(des.archive_read('s3://pgdes-test/t/shared.des', 'n7')) AS len;
SELECT shared_entries > 0 AS published FROM des.cache_stats();
SET ROLE s3_no_usage;
SELECT try($$SELECT des.cache_reset(include_shared => true)$$);
RESET ROLE;
\c
SET client_min_messages = warning;
SET des.default_server = 'lake';
SELECT shared_hits AS hits_before FROM des.cache_stats() \gset
SELECT des.s3_stats_reset();
SELECT length(des.archive_read('s3://pgdes-test/t/shared.des', 'n9')) AS len, s3_requests() AS new_session_requests;
SELECT shared_hits - :hits_before AS shared_hits FROM des.cache_stats();
-- ... and a replaced object is still detected from a shared entry
SELECT des.archive_write('s3://pgdes-test/t/shared.des', 'n' || i, convert_to(repeat('y', 50 + i), 'UTF8'), NULL ORDER BY i) ->> 'entries' AS entries
FROM generate_series(1, 500) i;
\c
SET client_min_messages = warning;
SET des.default_server = 'lake';
SELECT left(convert_from(des.archive_read('s3://pgdes-test/t/shared.des', 'n9'), 'UTF8'), 3) AS after_replace,
       length(des.archive_read('s3://pgdes-test/t/shared.des', 'n9')) AS len;

DROP OWNED BY s3_wrong_secret, s3_unknown_key, s3_no_mapping, s3_no_usage;
DROP ROLE s3_wrong_secret, s3_unknown_key, s3_no_mapping, s3_no_usage;
