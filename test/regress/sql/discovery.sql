-- Discovery, profiling and search from SQL: des.profile_data and
-- des.profile_file, discoverers of every kind that runs (directory, bundle,
-- table, function), incremental re-discovery and deleted datasets, the
-- profilers' units driven by hand (claim, store under the same claim only,
-- stale claims, failures by kind with backoff and dead letters), manual
-- datasets and annotations, des.profile in Auctus's shape, search by
-- keywords and filters, join and union search, and who sees what. (The
-- profiler workers themselves run in test/t/013_profiler.pl: here they are
-- connected to another database, des.database, and take nothing.)
-- The test runner provides /tmp/pg_des_regress, writable by the server.
\set dir '/tmp/pg_des_regress/discovery'
SET client_min_messages = warning;
CREATE OR REPLACE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- ---- profiling bytes ----
CREATE TEMP TABLE prof AS
SELECT des.profile_data(convert_to(
    E'id,colour,amount,day,pickup_lat,pickup_lon,site\n' ||
    string_agg(format('%s,%s,%s,2021-03-%s,%s,%s,https://example.org/%s', i, (ARRAY['red','green','blue'])[1 + i % 3],
                      CASE WHEN i % 10 = 0 THEN '' ELSE (i * 1.25)::text END, lpad((1 + i % 28)::text, 2, '0'),
                      40 + i / 1000.0, -74 + i / 1000.0, i), E'\n'), 'UTF8')) AS p
  FROM generate_series(1, 200) i;
SELECT p ->> 'nb_rows' AS rows, p ->> 'nb_columns' AS columns, p -> 'types' AS types, p ->> 'format' AS format,
       p -> 'dialect' ->> 'header' AS header
  FROM prof;
SELECT c ->> 'name' AS name, c ->> 'structural_type' AS structural, c -> 'semantic_types' AS semantic,
       c ->> 'num_distinct_values' AS distinct, round((c ->> 'missing_values_ratio')::numeric, 3) AS missing,
       c ->> 'min' AS min, c ->> 'max' AS max, c -> 'plot' ->> 'type' AS plot
  FROM prof, jsonb_array_elements(p -> 'columns') c;
-- the mean against SQL's own
SELECT abs((SELECT (c ->> 'mean')::numeric FROM prof, jsonb_array_elements(p -> 'columns') c WHERE c ->> 'name' = 'amount')
           - (SELECT avg(i * 1.25) FROM generate_series(1, 200) i WHERE i % 10 <> 0)) < 1e-9 AS mean_equal;
SELECT jsonb_array_length(p -> 'spatial_coverage') AS spatial, p -> 'spatial_coverage' -> 0 -> 'column_names' AS pair,
       jsonb_array_length(p -> 'temporal_coverage') AS temporal,
       array_length(string_to_array(p ->> 'sample', E'\n'), 1) AS sample_lines
  FROM prof;
-- the same bytes, the same profile; another seed, another sample
SELECT des.profile_data(convert_to(E'a,b\n1,x\n2,y\n3,z\n', 'UTF8')) = des.profile_data(convert_to(E'a,b\n1,x\n2,y\n3,z\n', 'UTF8')) AS same;
-- thresholds from the settings and from the options
SELECT des.profile_data(convert_to(E'num,label\n1,alpha\n2,beta\n3,gamma\n4,delta\n5,epsilon\n6,zeta\n7,eta\nx,theta\n', 'UTF8'), '{"type_threshold": 0.8}') -> 'columns' -> 0 ->> 'structural_type' AS at_80,
       des.profile_data(convert_to(E'num,label\n1,alpha\n2,beta\n3,gamma\n4,delta\n5,epsilon\n6,zeta\n7,eta\nx,theta\n', 'UTF8')) -> 'columns' -> 0 ->> 'structural_type' AS at_98;
SET des.profile_type_threshold = 0.8;
SELECT des.profile_data(convert_to(E'num,label\n1,alpha\n2,beta\n3,gamma\n4,delta\n5,epsilon\n6,zeta\n7,eta\nx,theta\n', 'UTF8')) -> 'columns' -> 0 ->> 'structural_type' AS setting_80;
RESET des.profile_type_threshold;
-- bad input: a recorded kind of failure each, never a crash
SELECT try($$SELECT des.profile_data('')$$) AS empty;
SELECT try($$SELECT des.profile_data('\x00010203040506'::bytea)$$) AS binary;
SELECT try($$SELECT des.profile_data(convert_to('just one line', 'UTF8'))$$) AS one_line;
SELECT try($$SELECT des.profile_data(convert_to(E'a,b\n1,2\n', 'UTF8'), '{"type_threshold": "x"}')$$) AS bad_option;
SELECT des_internal.profile_failure_kind(s) FROM unnest(ARRAY['02000', '22P04', '54000', '57014', '42501', '58P01', 'XX000']) s;
-- Latin-1 and ragged rows are profiled, not refused
SELECT p -> 'dialect' ->> 'encoding' AS encoding, p ->> 'ragged_rows' AS ragged, p -> 'columns' -> 0 ->> 'name' AS first
  FROM (SELECT des.profile_data('\x6e616d652c760a6361668e2c310a782c320a792c332c340a'::bytea) AS p) x;

-- JSON lines: one object per line, each key a column; a bad line named by its number
SELECT p ->> 'format' AS format, p ->> 'nb_rows' AS rows, p ->> 'extra_key_rows' AS extra_key_rows,
       (SELECT string_agg((c ->> 'name') || ':' || split_part(c ->> 'structural_type', '/', 4)
                          || ':' || round((c ->> 'missing_values_ratio')::numeric, 2), ', ')
          FROM jsonb_array_elements(p -> 'columns') c) AS columns
  FROM (SELECT des.profile_data(convert_to(E'{"id": 1, "city": "Paris", "tags": ["a"]}\n{"id": 2, "city": null}\n{"id": 3, "city": "Rome", "new": true}\n', 'UTF8')) AS p) x;
SELECT try($$SELECT des.profile_data(convert_to(E'{"a": 1}\n{"a": }\n', 'UTF8'))$$) AS bad_json_line;
SELECT try($$SELECT des.profile_data(convert_to(E'a,b\n1,2\n', 'UTF8'))$$) AS csv_still_csv;

-- ---- files, with COPY's rights ----
SELECT des.archive_write(:'dir' || '/marker.des', 'm', '\x00'::bytea, NULL) IS NOT NULL AS dir_made;
COPY (SELECT i AS id, 'city' || (i % 7) AS city, 1000 + i * 3 AS population, 2000 + i % 20 AS year
        FROM generate_series(1, 300) i) TO '/tmp/pg_des_regress/discovery/cities.csv' WITH (FORMAT csv, HEADER);
COPY (SELECT 'city' || i AS city, i * 10 AS area FROM generate_series(0, 6) i)
  TO '/tmp/pg_des_regress/discovery/areas.tsv' WITH (FORMAT text, HEADER);
COPY (SELECT 'not a table') TO '/tmp/pg_des_regress/discovery/notes.txt';
SELECT (des.profile_file(:'dir' || '/cities.csv')) ->> 'nb_rows' AS rows;
SELECT try($$SELECT des.profile_file('/tmp/pg_des_regress/discovery/missing.csv')$$) AS missing;
SELECT try($$SELECT des.profile_file('/tmp/pg_des_regress/discovery')$$) AS directory;
CREATE ROLE disc_alice;
CREATE ROLE disc_bob;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO disc_alice;
SET ROLE disc_alice;
SELECT try($$SELECT des.profile_file('/tmp/pg_des_regress/discovery/cities.csv')$$) AS no_read_server_files;
RESET ROLE;
-- sampling: a file above des.profile_max_bytes is read as windows, its row count estimated
COPY (SELECT i, md5(i::text) FROM generate_series(1, 100000) i) TO '/tmp/pg_des_regress/discovery/big.csv' WITH (FORMAT csv);
SELECT p ->> 'nb_rows_estimated' AS estimated, (p ->> 'nb_profiled_rows')::int < 40000 AS partial,
       (p -> 'nb_rows_bounds' ->> 0)::int <= 100000 AND 100000 <= (p -> 'nb_rows_bounds' ->> 1)::int AS bounds_hold,
       abs((p ->> 'nb_rows')::int - 100000) < 5000 AS close, p ->> 'sampled_bytes' AS sampled_bytes
  FROM (SELECT des.profile_file(:'dir' || '/big.csv', '{"max_bytes": 1048576}') AS p) x;

-- ---- a directory discoverer ----
SELECT des.discoverer_create('disc_dir', 'directory', jsonb_build_object('path', :'dir', 'globs', jsonb_build_array('*.csv', '*.tsv', '*.txt')));
SELECT * FROM des.discover('disc_dir');
SELECT id, name, source, state, size FROM des.datasets WHERE source = 'disc_dir' ORDER BY id;
SELECT des.profile_now(id) -> 'metadata' ->> 'nb_rows' AS rows FROM des.datasets WHERE source = 'disc_dir' AND name <> 'notes.txt' ORDER BY id;
SELECT des.profile_now('disc_dir.notes.txt') AS notes_profile;
SELECT id, state, nb_rows, nb_columns, types, failure_kind FROM des.datasets WHERE source = 'disc_dir' ORDER BY id;
-- again: nothing changed, nothing queued, profiles kept
SELECT * FROM des.discover('disc_dir');
-- a changed file is queued again; a removed one is marked deleted
COPY (SELECT i AS id, 'city' || (i % 7) AS city FROM generate_series(1, 10) i) TO '/tmp/pg_des_regress/discovery/cities.csv' WITH (FORMAT csv, HEADER);
SELECT des.storage_delete(:'dir' || '/areas.tsv');
SELECT * FROM des.discover('disc_dir');
SELECT id, state FROM des.datasets WHERE source = 'disc_dir' ORDER BY id;
SELECT try($$SELECT des.reprofile('disc_dir.areas.tsv')$$) AS reprofile_deleted;
-- a discoverer that cannot list: its error recorded and returned
SELECT des.discoverer_create('disc_nowhere', 'directory', '{"path": "relative/dir"}');
SELECT * FROM des.discover('disc_nowhere');
SELECT name, last_error FROM des.discoverers WHERE name = 'disc_nowhere';
SELECT des.discoverer_drop('disc_nowhere');

-- ---- the profilers' units by hand ----
SELECT count(des.profile_now(id)) AS profiled_first FROM des.datasets WHERE state = 'pending';
SELECT des.record_dataset('{"kind": "storage", "location": "/tmp/pg_des_regress/discovery/big.csv"}', '{"name": "big numbers"}', 'big') AS id;
-- a claim by a backend that does not exist is stale: taken back by the next claim
SELECT id FROM des_internal.profile_claim(999999, now(), 3);
SELECT state, attempts, claimed_by FROM des.discovered_datasets WHERE id = 'manual.big';
SELECT id, next_due_ms IS NULL AS due_now FROM des_internal.profile_claim(pg_backend_pid(), des_internal.backend_start(), 3);
SELECT state, attempts, claimed_by = pg_backend_pid() AS mine FROM des.discovered_datasets WHERE id = 'manual.big';
-- only the claim's own backend stores
SELECT des_internal.profile_store('manual.big', 999999, now(), '{"columns": []}', '{}') AS stored_by_other;
SELECT des_internal.profile_failed('manual.big', pg_backend_pid(), des_internal.backend_start(), 'unreachable', 'storage offline', 3, '1 minute') AS state;
SELECT state, failure_kind, failure_message, next_attempt_at > now() + interval '50 seconds' AS backoff FROM des.discovered_datasets WHERE id = 'manual.big';
-- nothing due: the claim says when the next retry is
SELECT id, next_due_ms BETWEEN 1 AND 60000 AS due_within_a_minute FROM des_internal.profile_claim(pg_backend_pid(), des_internal.backend_start(), 3);
UPDATE des.discovered_datasets SET next_attempt_at = now() WHERE id = 'manual.big';
SELECT id FROM des_internal.profile_claim(pg_backend_pid(), des_internal.backend_start(), 3);
SELECT des_internal.profile_failed('manual.big', pg_backend_pid(), des_internal.backend_start(), 'timeout', 'too slow', 2, '1 minute') AS state;
SELECT state, attempts, failure_kind FROM des.discovered_datasets WHERE id = 'manual.big';
-- what the data is (unparsable, empty, too big) is final until it changes
SELECT des.reprofile('manual.big');
SELECT id FROM des_internal.profile_claim(pg_backend_pid(), des_internal.backend_start(), 3);
SELECT des_internal.profile_failed('manual.big', pg_backend_pid(), des_internal.backend_start(), 'unparsable', 'bad quote', 3, '1 minute') AS state;
SELECT des.profile_now('manual.big') -> 'metadata' ->> 'nb_rows_estimated' AS estimated;
SELECT state, profile_count, failure_kind FROM des.discovered_datasets WHERE id = 'manual.big';

-- ---- a table discoverer, with its owner's rights ----
CREATE SCHEMA disc_data;
CREATE TABLE disc_data.stations (station_id int, name text, latitude float8, longitude float8, opened date, note text);
INSERT INTO disc_data.stations
SELECT i, 'station ' || i, 40.5 + i / 1000.0, -74 + i / 1000.0, date '2020-01-01' + i, CASE WHEN i % 4 = 0 THEN NULL ELSE 'ok' END
  FROM generate_series(1, 120) i;
CREATE TABLE disc_data.hidden (secret text);
INSERT INTO disc_data.hidden VALUES ('x');
CREATE VIEW disc_data.city_names AS SELECT 'city' || i AS city FROM generate_series(0, 6) i;
GRANT USAGE ON SCHEMA disc_data TO disc_alice;
GRANT SELECT ON disc_data.stations, disc_data.city_names TO disc_alice;
SET ROLE disc_alice;
SELECT des.discoverer_create('disc_tables', 'table', '{"schemas": ["disc_data"]}');
SELECT * FROM des.discover('disc_tables');
SELECT des.profile_now(id) -> 'metadata' ->> 'nb_rows' AS rows FROM des.datasets WHERE source = 'disc_tables' ORDER BY id;
SELECT id, state, nb_columns, types FROM des.datasets WHERE source = 'disc_tables' ORDER BY id;
SELECT name, structural_type, semantic_types, round(missing_ratio::numeric, 2) AS missing FROM des.dataset_columns WHERE dataset = 'disc_tables.disc_data.stations' ORDER BY position;
-- a table it may not read is not listed, and recorded by hand it fails as forbidden
SELECT des.record_dataset('{"kind": "table", "relation": "disc_data.hidden"}', '{}', 'hidden');
SELECT des.profile_now('manual.hidden') AS hidden_profile;
SELECT state, failure_kind FROM des.discovered_datasets WHERE id = 'manual.hidden';
RESET ROLE;
-- disc_bob sees none of disc_alice's datasets, and may not change them
SET ROLE disc_bob;
SELECT count(*) AS visible_to_bob FROM des.datasets WHERE source = 'disc_tables';
SELECT try($$SELECT des.delete_dataset('disc_tables.disc_data.stations')$$) AS bob_deletes;
SELECT try($$SELECT * FROM des.discover('disc_tables')$$) AS bob_discovers;
RESET ROLE;

-- ---- a function discoverer ----
CREATE FUNCTION disc_list() RETURNS TABLE (dataset_id text, materialize jsonb, metadata jsonb) LANGUAGE sql AS $$
    SELECT 'stations', '{"kind": "table", "relation": "disc_data.stations"}'::jsonb,
           '{"name": "weather stations", "description": "where the thermometers are", "keywords": ["meteorology"]}'::jsonb
$$;
SELECT des.discoverer_create('disc_fn', 'function', '{"function": "disc_list"}');
SELECT * FROM des.discover('disc_fn');
SELECT des.profile_now('disc_fn.stations') -> 'metadata' ->> 'description' AS description;
CREATE OR REPLACE FUNCTION disc_list() RETURNS TABLE (dataset_id text, materialize jsonb, metadata jsonb) LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the catalog is down';
END $$;
SELECT * FROM des.discover('disc_fn');
SELECT state FROM des.datasets WHERE id = 'disc_fn.stations';	-- a failed run changes nothing
CREATE OR REPLACE FUNCTION disc_list() RETURNS TABLE (dataset_id text, materialize jsonb, metadata jsonb) LANGUAGE sql AS $$
    SELECT 'x', '"not an object"'::jsonb, '{}'::jsonb
$$;
SELECT * FROM des.discover('disc_fn');
CREATE OR REPLACE FUNCTION disc_list() RETURNS TABLE (dataset_id text, materialize jsonb, metadata jsonb) LANGUAGE sql AS $$
    SELECT 'stations', '{"kind": "table", "relation": "disc_data.stations"}'::jsonb,
           '{"name": "weather stations", "description": "where the thermometers are", "keywords": ["meteorology"]}'::jsonb
$$;
SELECT * FROM des.discover('disc_fn');
-- discoverer errors
SELECT try($$SELECT des.discoverer_create('Bad.Name', 'directory')$$) AS bad_name;
SELECT try($$SELECT des.discoverer_create('x', 'ftp')$$) AS bad_kind;
SELECT des.discoverer_create('x', 'des');
SELECT error AS des_without_location FROM des.discover('x');
SELECT des.discoverer_drop('x');
SELECT try($$SELECT des.discoverer_create('x', 'function', '{"function": "no_such_fn"}')$$) AS no_function;
SELECT try($$SELECT des.discoverer_create('x', 'directory', '{"path": "/tmp"}', '*/5 * * * *')$$) AS schedule_without_cron;
SELECT try($$SELECT * FROM des.discover('no_such')$$) AS unknown;

-- ---- a bundle discoverer: files of a version ----
SELECT des.repo_create('disc_repo', 'profiled files') IS NOT NULL AS created;
SELECT des.stage('disc_repo', 'main', 'data/one.csv', convert_to(E'k,v\n1,a\n2,b\n3,c\n', 'UTF8'));
SELECT des.stage('disc_repo', 'main', 'readme.md', convert_to('not data', 'UTF8'));
SELECT des.commit('disc_repo', 'main', 'first') IS NOT NULL AS committed;
SELECT des.discoverer_create('disc_bundles', 'bundle', '{"repo": "disc_repo"}');
SELECT found, queued FROM des.discover('disc_bundles');
SELECT des.profile_now('disc_bundles.disc_repo/data/one.csv') -> 'metadata' ->> 'nb_rows' AS rows;
-- a new version with the file changed: queued again
SELECT des.stage('disc_repo', 'main', 'data/one.csv', convert_to(E'k,v\n1,a\n2,b\n3,c\n4,d\n', 'UTF8'));
SELECT des.commit('disc_repo', 'main', 'second') IS NOT NULL AS committed;
SELECT found, queued FROM des.discover('disc_bundles');
SELECT des.profile_now('disc_bundles.disc_repo/data/one.csv') -> 'metadata' ->> 'nb_rows' AS rows;

-- ---- a des discoverer: entries of DES archives, plain and LZ4-compressed ----
SELECT (des.archive_write(:'dir' || '/archives/day1.des', name, data, NULL, '{"lz4": true}' ORDER BY name)) ->> 'entries' AS entries
  FROM (VALUES ('logs/plain.csv', convert_to('n,word' || chr(10) || (SELECT string_agg(i || ',w' || (i % 4), chr(10)) FROM generate_series(1, 50) i) || chr(10), 'UTF8')),
               ('logs/packed.csv', convert_to('n,word' || chr(10) || (SELECT string_agg(i || ',repeat repeat repeat', chr(10)) FROM generate_series(1, 400) i) || chr(10), 'UTF8')),
               ('logs/tiny.csv', convert_to('a,b' || chr(10) || '1,x' || chr(10) || '2,y' || chr(10), 'UTF8')),
               ('readme.txt', convert_to('not data', 'UTF8'))) e(name, data);
SELECT name, flags FROM des.archive_list(:'dir' || '/archives/day1.des') ORDER BY name;
SELECT des.discoverer_create('disc_des', 'des', jsonb_build_object('location', :'dir' || '/archives/'));
SELECT found, queued FROM des.discover('disc_des');
SELECT id, (des.profile_now(id) -> 'metadata' ->> 'nb_rows') AS rows FROM des.datasets WHERE source = 'disc_des' ORDER BY id;
SELECT des.discoverer_create('disc_des1', 'des', jsonb_build_object('location', :'dir' || '/archives/day1.des', 'globs', '*.txt'));
SELECT found FROM des.discover('disc_des1');
SELECT des.discoverer_drop('disc_des1');

-- ---- annotations win, and survive re-profiling ----
SELECT des.annotate('disc_dir.cities.csv', 'city', '{"semantic_types": ["http://schema.org/AdministrativeArea"]}');
SELECT des.annotate('disc_dir.cities.csv', NULL, '{"description": "towns of the test"}');
SELECT des.profile_now('disc_dir.cities.csv') -> 'metadata' ->> 'description' AS description;
SELECT c -> 'semantic_types' AS city_types FROM jsonb_array_elements(des.profile('disc_dir.cities.csv') -> 'metadata' -> 'columns') c WHERE c ->> 'name' = 'city';
SELECT semantic_types FROM des.dataset_columns WHERE dataset = 'disc_dir.cities.csv' AND name = 'city';
SELECT try($$SELECT des.annotate('disc_dir.cities.csv', 'city', '"x"')$$) AS not_an_object;
-- the Auctus fields are there
SELECT jsonb_object_keys(des.profile('disc_dir.cities.csv') -> 'metadata') AS key ORDER BY 1;

-- ---- search ----
SELECT id, score > 0 AS scored FROM des.search('weather stations');
SELECT id FROM des.search('thermometer');	-- the description, stemmed
SELECT id FROM des.search('meteorology');	-- the keywords
SELECT id FROM des.search('latitude', '{"source": "disc_tables"}');
SELECT id FROM des.search(NULL, '{"semantic_types": ["latitude"]}') ORDER BY id;
SELECT id FROM des.search(NULL, '{"types": ["spatial", "temporal"]}') ORDER BY id;
SELECT id FROM des.search(NULL, '{"temporal": {"start": "2020-03-01", "end": "2020-03-02"}}') ORDER BY id;
SELECT id FROM des.search(NULL, '{"temporal": {"start": "1990-01-01", "end": "1990-12-31"}}') ORDER BY id;
SELECT id FROM des.search(NULL, '{"spatial": [-73.95, 40.55, -73.9, 40.6]}') ORDER BY id;
SELECT id FROM des.search(NULL, '{"spatial": [10, 10, 11, 11]}') ORDER BY id;
SELECT id FROM des.search(NULL, '{"columns": ["city", "id"]}') ORDER BY id;
SELECT try($$SELECT * FROM des.search(NULL, '{"spatial": [1, 2]}')$$) AS bad_bbox;
-- join: the view's city names are all in the cities file's city column
SELECT des.profile_now('disc_tables.disc_data.city_names') IS NOT NULL AS profiled;
SELECT id, column_name, round(score::numeric, 1) AS score, kind FROM des.search_join('disc_tables.disc_data.city_names', 'city');
SELECT try($$SELECT * FROM des.search_join('disc_dir.cities.csv', 'nope')$$) AS no_column;
-- union: the same columns under the same names
SELECT id, round(score::numeric, 2) AS score, columns FROM des.search_union('disc_tables.disc_data.stations');
SELECT id, round(score::numeric, 2) AS score, columns FROM des.search_union('disc_fn.stations');

-- on-demand discovery: a query function is asked first, within the budget, and what it finds is found
CREATE FUNCTION disc_query(q text) RETURNS TABLE (dataset_id text, materialize jsonb, metadata jsonb) LANGUAGE sql AS $$
    SELECT 'q-' || q, jsonb_build_object('kind', 'table', 'relation', 'disc_data.stations'),
           jsonb_build_object('name', 'found for ' || q, 'description', 'asked about ' || q)
$$;
SELECT des.discoverer_create('disc_ondemand', 'function', '{"function": "disc_list", "query_function": "disc_query"}');
SELECT id, name, profile -> 'metadata' ->> 'nb_rows' AS rows FROM des.search('zebra');
SELECT id FROM des.search('zebra', '{"on_demand": false}');	-- found now without asking again
CREATE OR REPLACE FUNCTION disc_query(q text) RETURNS TABLE (dataset_id text, materialize jsonb, metadata jsonb) LANGUAGE sql AS $$
    SELECT 'slow', NULL::jsonb, NULL::jsonb FROM pg_sleep(5)
$$;
SELECT count(*) AS results, clock_timestamp() - now() < interval '3 seconds' AS within_budget
  FROM des.search('giraffe', '{"budget_ms": 200}');
SELECT regexp_replace(last_error, '[0-9]+ ms', 'N ms') AS last_error FROM des.discoverers WHERE name = 'disc_ondemand';
SELECT try($$SELECT des.discoverer_create('x', 'function', '{"function": "disc_list", "query_function": "no_such"}')$$) AS no_query_function;
SELECT des.discoverer_drop('disc_ondemand');

-- a kept copy stands for a source that goes away
COPY (SELECT i AS k, 'v' || i AS v FROM generate_series(1, 25) i) TO '/tmp/pg_des_regress/discovery/transient.csv' WITH (FORMAT csv, HEADER);
SELECT des.record_dataset(jsonb_build_object('kind', 'storage', 'location', :'dir' || '/transient.csv'), '{}', 'transient');
SELECT des.keep_copy('manual.transient') AS kept;
SELECT des.storage_delete(:'dir' || '/transient.csv');
SELECT des.profile_now('manual.transient') -> 'metadata' ->> 'nb_rows' AS rows_from_the_copy;
SELECT materialize ->> 'kind' AS kind, materialize -> 'original' ->> 'kind' AS original, kept_copy FROM des.discovered_datasets WHERE id = 'manual.transient';
SELECT length(des.get('discovery/manual.transient')) > 0 AS in_the_pipeline;
SELECT try($$SELECT des.keep_copy('disc_tables.disc_data.stations')$$) AS table_copy;

-- search sees what RLS lets its caller see
SET ROLE disc_bob;
SELECT count(*) AS bob_finds FROM des.search('stations');
RESET ROLE;

-- ---- forgetting ----
SELECT des.delete_dataset('disc_fn.stations');
SELECT count(*) FROM des.discovered_columns WHERE dataset = 'disc_fn.stations';
SELECT try($$SELECT des.delete_dataset('disc_fn.stations')$$) AS twice;
SELECT des.discoverer_drop('disc_fn');
SELECT count(*) FROM des.datasets WHERE source = 'disc_fn';
-- the roles go; what they had goes first
SELECT des.discoverer_drop('disc_tables');
SELECT des.delete_dataset('manual.hidden');
DROP SCHEMA disc_data CASCADE;
REVOKE SELECT ON ALL TABLES IN SCHEMA public FROM disc_alice;
DROP ROLE disc_alice;
DROP ROLE disc_bob;
DROP FUNCTION disc_query(text);
