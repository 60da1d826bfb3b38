-- des_fdw over S3 (the test harness: s3rver behind a SigV4-verifying proxy on
-- 127.0.0.1:59001): the endpoint and credentials of the foreign table's
-- server, listing, pruning, projection and lookups counted in requests.
SET client_min_messages = warning;

CREATE OR REPLACE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, 'request id [0-9A-Za-z]+', 'request id X');
END $$;
CREATE OR REPLACE FUNCTION s3_requests() RETURNS jsonb LANGUAGE sql AS $$
    SELECT coalesce(jsonb_object_agg(kind, requests) FILTER (WHERE requests > 0), '{}')
    FROM des.s3_stats()
$$;
CREATE FUNCTION scan_io(q text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    plan jsonb;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON, TIMING OFF, SUMMARY OFF) ' || q INTO plan;
    RETURN (SELECT jsonb_build_object(
                'scanned', sum((n ->> 'Archives Scanned')::bigint),
                'pruned', sum((n ->> 'Archives Pruned')::bigint),
                'requests', sum((n ->> 'Read Requests')::bigint))
            FROM jsonb_path_query(plan, 'strict $.**') n
            WHERE n ->> 'Node Type' = 'Foreign Scan');
END $$;

CREATE SERVER fdwlake FOREIGN DATA WRAPPER des_fdw
    OPTIONS (endpoint 'http://127.0.0.1:59001', region 'us-east-1', url_style 'path', allow_http 'true');
CREATE USER MAPPING FOR CURRENT_USER SERVER fdwlake
    OPTIONS (access_key_id 'pgdes-test-key', secret_access_key 'pgdes-test-secret');
-- archives are written through des.default_server; the foreign tables use their own server
SET des.default_server = 'fdwlake';
-- open with small tail reads, so payloads are never served from the tail by chance
SET des.s3_tail_read = '8kB';

CREATE TABLE s3src (name text, data bytea, day text, part text);
INSERT INTO s3src
SELECT 'cam' || (g % 2 + 1) || '/' || lpad(g::text, 3, '0'),
       convert_to(repeat(md5(g::text), 64), 'UTF8'),
       CASE WHEN g <= 200 THEN '2025-01-01' ELSE '2025-01-02' END,
       CASE WHEN g <= 100 OR g > 200 THEN '00' ELSE '01' END
FROM generate_series(1, 300) g;
SELECT day, part, des.archive_write('s3://pgdes-test/fdw/lake/' || day || '/' || part || '.des', name, data, NULL ORDER BY name) ->> 'entries' AS entries
FROM s3src GROUP BY day, part ORDER BY day, part;
-- an archive with an external payload (stored under _bigFiles/, which is not an archive)
SELECT des.archive_write('s3://pgdes-test/fdw/lake/2025-01-02/ext.des', 'big', convert_to(repeat('e', 9000), 'UTF8'), NULL,
                         '{"external_threshold": 4096}') ->> 'external_entries' AS external;
SELECT regexp_replace(location, '^s3://pgdes-test/fdw/lake/', '') AS stored
FROM des.storage_list('s3://pgdes-test/fdw/lake/') ORDER BY 1;

CREATE FOREIGN TABLE s3lake (name text, data bytea, size bigint, archive text, day date)
    SERVER fdwlake OPTIONS (location 's3://pgdes-test/fdw/lake/');
SELECT regexp_replace(archive, '^s3://pgdes-test/fdw/lake/', '') AS archive, day, count(*), sum(size) AS bytes
FROM s3lake GROUP BY 1, 2 ORDER BY 1;
SELECT count(*) AS rows, bool_and(l.data = s.data) AS data_equal
FROM s3lake l JOIN s3src s USING (name);
SELECT length(data) AS external_length, data = convert_to(repeat('e', 9000), 'UTF8') AS external_equal
FROM s3lake WHERE name = 'big';
-- the server's credentials are used, whatever des.default_server says
SET des.default_server = '';
SELECT count(*) AS without_default_server FROM s3lake WHERE day = '2025-01-02';
SET des.default_server = 'fdwlake';

-- projection: an index-only scan reads tails and indexes, no payload range
SELECT des.cache_reset(include_shared => true);
SELECT des.s3_stats_reset();
SELECT count(*), sum(size) FROM s3lake;
SELECT s3_requests() AS index_only_cold;
SELECT des.s3_stats_reset();
SELECT count(*), sum(size) FROM s3lake;
SELECT s3_requests() AS index_only_warm;
-- with the data column: payloads in coalesced ranges
SELECT des.s3_stats_reset();
SELECT count(md5(data)) FROM s3lake;
SELECT (s3_requests() ->> 'get_range')::int BETWEEN 4 AND 20 AS few_range_reads, s3_requests() - 'get_range' AS other;

-- lookups: adjacent names in one archive are one range read
SELECT des.s3_stats_reset();
SELECT name, md5(data) = md5(convert_to(repeat(md5(substr(name, 6)::int::text), 64), 'UTF8')) AS same
FROM s3lake WHERE name = ANY (ARRAY['cam1/002', 'cam2/003', 'cam1/004', 'nope']) ORDER BY name;
SELECT s3_requests() AS adjacent_lookup;
SELECT des.s3_stats_reset();
SELECT name FROM s3lake WHERE name = 'cam1/250';
SELECT s3_requests() AS index_only_lookup;

-- pruning by day: other days' archives are not opened
SELECT des.cache_reset(include_shared => true);
SELECT des.s3_stats_reset();
SELECT scan_io($$SELECT name FROM s3lake WHERE day = '2025-01-01' AND name LIKE 'cam2/1%'$$);
SELECT s3_requests() AS pruned_requests;
-- a glob lists from its literal prefix
CREATE FOREIGN TABLE s3glob (name text, archive text) SERVER fdwlake
    OPTIONS (location 's3://pgdes-test/fdw/lake/2025-01-0?/00.des');
SELECT regexp_replace(archive, '^s3://pgdes-test/fdw/lake/', '') AS archive, count(*) FROM s3glob GROUP BY 1 ORDER BY 1;

-- a join looks names up
CREATE TABLE s3wanted (name text);
INSERT INTO s3wanted VALUES ('cam1/010'), ('cam2/299'), ('cam2/151'), ('absent');
ANALYZE s3wanted;
-- (with 301 small entries one coalesced walk costs less than a request per name, so
-- a plain join is a hash join; a lateral subquery asks for a lookup per outer row)
SET enable_memoize = off;
EXPLAIN (COSTS OFF) SELECT w.name, l.data FROM s3wanted w JOIN s3lake l ON l.name = w.name;
EXPLAIN (COSTS OFF)
SELECT w.name, x.data FROM s3wanted w, LATERAL (SELECT data FROM s3lake l WHERE l.name = w.name OFFSET 0) x;
SELECT des.s3_stats_reset();
SELECT w.name, md5(x.data) = (SELECT md5(data) FROM s3src WHERE name = w.name) AS same
FROM s3wanted w, LATERAL (SELECT data FROM s3lake l WHERE l.name = w.name OFFSET 0) x ORDER BY 1;
SELECT s3_requests() AS lookup_requests;
RESET enable_memoize;

-- IMPORT FOREIGN SCHEMA from a bucket prefix
CREATE SCHEMA s3imp;
IMPORT FOREIGN SCHEMA "s3://pgdes-test/fdw/lake/" FROM SERVER fdwlake INTO s3imp;
SELECT foreign_table_name, option_value FROM information_schema.foreign_table_options
WHERE foreign_table_schema = 's3imp' ORDER BY 1;
SELECT count(*) FROM s3imp."2025-01-02";

-- a role without a user mapping gets a clear error
CREATE ROLE fdw_s3_nobody;
GRANT USAGE ON FOREIGN SERVER fdwlake TO fdw_s3_nobody;
GRANT SELECT ON s3lake TO fdw_s3_nobody;
SET ROLE fdw_s3_nobody;
SELECT try('SELECT count(*) FROM s3lake');
RESET ROLE;
-- and a wrong secret is refused by the verifying proxy
CREATE SERVER fdwlake_badkey FOREIGN DATA WRAPPER des_fdw
    OPTIONS (endpoint 'http://127.0.0.1:59001', url_style 'path', allow_http 'true');
CREATE USER MAPPING FOR CURRENT_USER SERVER fdwlake_badkey
    OPTIONS (access_key_id 'pgdes-test-key', secret_access_key 'wrong');
CREATE FOREIGN TABLE s3bad (name text) SERVER fdwlake_badkey OPTIONS (location 's3://pgdes-test/fdw/lake/');
SELECT try('SELECT count(*) FROM s3bad') AS refused;

DROP OWNED BY fdw_s3_nobody;
DROP ROLE fdw_s3_nobody;
DROP SCHEMA s3imp CASCADE;
DROP SERVER fdwlake, fdwlake_badkey CASCADE;
DROP TABLE s3src, s3wanted;
DROP FUNCTION scan_io(text);
RESET des.default_server;
RESET des.s3_tail_read;
