-- Discovery on S3, through the SigV4-verifying proxy of the test harness:
-- an s3 discoverer lists a prefix (ListObjectsV2 with the owner's user
-- mapping) and the objects are profiled by ranged GETs; re-discovery
-- compares ETags; a des discoverer profiles the entries of an archive on
-- S3 (plain and LZ4-compressed) as ranges of it; a role without a user
-- mapping cannot have an object profiled. Objects are put with Debian's
-- awscli (tools/test.sh writes its config under /tmp/pg_des_regress/aws).
SET client_min_messages = warning;
\set dir '/tmp/pg_des_regress/discovery_s3'
CREATE OR REPLACE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, 'request id [0-9A-Za-z]+', 'request id X');
END $$;
CREATE FUNCTION disc_aws(args text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('COPY (SELECT 1) TO PROGRAM %L',
        'cat >/dev/null; AWS_CONFIG_FILE=/tmp/pg_des_regress/aws/config AWS_SHARED_CREDENTIALS_FILE=/tmp/pg_des_regress/aws/credentials '
        || 'HOME=/tmp/pg_des_regress/aws /usr/bin/aws --endpoint-url http://127.0.0.1:59001 ' || args || ' >/dev/null 2>&1');
END $$;
CREATE FUNCTION disc_s3_requests() RETURNS jsonb LANGUAGE sql AS $$
    SELECT coalesce(jsonb_object_agg(kind, requests) FILTER (WHERE requests > 0), '{}') FROM des.s3_stats()
$$;
CREATE SERVER disc_lake FOREIGN DATA WRAPPER des_fdw
    OPTIONS (endpoint 'http://127.0.0.1:59001', url_style 'path', allow_http 'true');
CREATE USER MAPPING FOR CURRENT_USER SERVER disc_lake
    OPTIONS (access_key_id 'pgdes-test-key', secret_access_key 'pgdes-test-secret');
SET des.default_server = 'disc_lake';

-- two CSV files and a JSON-lines file written locally, put on S3 with the CLI
SELECT des.archive_write(:'dir' || '/marker.des', 'm', '\x00'::bytea, NULL) IS NOT NULL AS dir_made;
COPY (SELECT i AS id, 'zone' || (i % 5) AS zone, i * 0.25 AS reading FROM generate_series(1, 500) i)
  TO '/tmp/pg_des_regress/discovery_s3/readings.csv' WITH (FORMAT csv, HEADER);
COPY (SELECT 'zone' || i AS zone, 'name ' || i AS label FROM generate_series(0, 4) i)
  TO '/tmp/pg_des_regress/discovery_s3/zones.csv' WITH (FORMAT csv, HEADER);
COPY (SELECT json_build_object('zone', 'zone' || (i % 5), 'ok', i % 2 = 0) FROM generate_series(1, 40) i)
  TO '/tmp/pg_des_regress/discovery_s3/events.jsonl';
SELECT disc_aws('s3 rm --recursive s3://pgdes-test/discovery/');
SELECT disc_aws('s3 cp ' || :'dir' || '/' || f || ' s3://pgdes-test/discovery/csv/' || f)
  FROM unnest(ARRAY['readings.csv', 'zones.csv', 'events.jsonl']) f;

-- profiling one object: a HEAD, then ranged GETs
SELECT des.s3_stats_reset();
SELECT (des.profile_file('s3://pgdes-test/discovery/csv/readings.csv')) ->> 'nb_rows' AS rows;
SELECT disc_s3_requests() AS requests;

-- an s3 discoverer
SELECT des.discoverer_create('disc_s3', 's3', '{"location": "s3://pgdes-test/discovery/csv/", "server": "disc_lake"}');
SELECT found, queued, gone, error FROM des.discover('disc_s3');
SELECT id, (des.profile_now(id) -> 'metadata' ->> 'nb_rows') AS rows FROM des.datasets WHERE source = 'disc_s3' ORDER BY id;
SELECT id, state, nb_columns, types FROM des.datasets WHERE source = 'disc_s3' ORDER BY id;
-- unchanged ETags: nothing queued; an object replaced: queued again
SELECT found, queued FROM des.discover('disc_s3');
COPY (SELECT i AS id, 'zone' || (i % 5) AS zone, i * 0.5 AS reading FROM generate_series(1, 600) i)
  TO '/tmp/pg_des_regress/discovery_s3/readings.csv' WITH (FORMAT csv, HEADER);
SELECT disc_aws('s3 cp ' || :'dir' || '/readings.csv s3://pgdes-test/discovery/csv/readings.csv');
SELECT found, queued FROM des.discover('disc_s3');
SELECT des.profile_now('disc_s3.readings.csv') -> 'metadata' ->> 'nb_rows' AS rows;
-- join search across the two files: every zone of zones.csv is in readings.csv
SELECT id, column_name, round(score::numeric, 1) AS score, kind FROM des.search_join('disc_s3.zones.csv', 'zone') ORDER BY id;

-- a des discoverer over an archive on S3: entries read as ranges, LZ4 ones inflated
SELECT (des.archive_write('s3://pgdes-test/discovery/arch/a.des', name, data, NULL, '{"lz4": true}' ORDER BY name)) ->> 'entries' AS entries
  FROM (VALUES ('t/plain.csv', convert_to('k,v' || chr(10) || (SELECT string_agg(i || ',' || (i % 3), chr(10)) FROM generate_series(1, 30) i) || chr(10), 'UTF8')),
               ('t/packed.csv', convert_to('k,v' || chr(10) || (SELECT string_agg(i || ',same same same', chr(10)) FROM generate_series(1, 300) i) || chr(10), 'UTF8'))) e(name, data);
SELECT name, flags FROM des.archive_list('s3://pgdes-test/discovery/arch/a.des') ORDER BY name;
SELECT des.discoverer_create('disc_s3_des', 'des', '{"location": "s3://pgdes-test/discovery/arch/"}');
SELECT found, queued FROM des.discover('disc_s3_des');
SELECT id, (des.profile_now(id) -> 'metadata' ->> 'nb_rows') AS rows FROM des.datasets WHERE source = 'disc_s3_des' ORDER BY id;

-- a role without a user mapping of the server: its object is not read
CREATE ROLE disc_s3_nobody;
SET ROLE disc_s3_nobody;
SELECT des.record_dataset('{"kind": "storage", "location": "s3://pgdes-test/discovery/csv/zones.csv"}', '{}', 'no-mapping');
SELECT des.profile_now('manual.no-mapping') IS NULL AS not_profiled;
SELECT state, failure_kind FROM des.discovered_datasets WHERE id = 'manual.no-mapping';
SELECT des.delete_dataset('manual.no-mapping');
RESET ROLE;
DROP ROLE disc_s3_nobody;

SELECT des.discoverer_drop('disc_s3');
SELECT des.discoverer_drop('disc_s3_des');
RESET des.default_server;
DROP USER MAPPING FOR CURRENT_USER SERVER disc_lake;
DROP SERVER disc_lake;
DROP FUNCTION disc_aws(text);
DROP FUNCTION disc_s3_requests();
