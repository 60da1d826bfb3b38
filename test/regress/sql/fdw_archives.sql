-- des_fdw on local archives: columns, pushdown, pruning, lookups, EXPLAIN,
-- ANALYZE, IMPORT FOREIGN SCHEMA, verify, read-only.
-- The test runner provides /tmp/pg_des_regress, writable by the server.
\set dir '/tmp/pg_des_regress/fdw'
SET client_min_messages = warning;

CREATE OR REPLACE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- the scan's own figures from EXPLAIN ANALYZE (summed over foreign scans)
CREATE FUNCTION scan_io(q text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    plan jsonb;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON, TIMING OFF, SUMMARY OFF) ' || q INTO plan;
    RETURN (SELECT jsonb_build_object(
                'rows', sum((n ->> 'Actual Rows')::bigint * (n ->> 'Actual Loops')::bigint),
                'scanned', sum((n ->> 'Archives Scanned')::bigint),
                'pruned', sum((n ->> 'Archives Pruned')::bigint),
                'requests', sum((n ->> 'Read Requests')::bigint),
                'bytes', sum((n ->> 'Bytes Read')::bigint))
            FROM jsonb_path_query(plan, 'strict $.**') n
            WHERE n ->> 'Node Type' = 'Foreign Scan');
END $$;

-- a daily layout: three archives over two days, 1000-byte payloads
CREATE TABLE src (name text, data bytea, meta jsonb, day text, part text);
INSERT INTO src
SELECT 'cam' || (g % 2 + 1) || '/' || lpad(g::text, 3, '0'),
       convert_to(repeat(chr(65 + g % 26), 1000), 'UTF8'),
       jsonb_build_object('g', g),
       CASE WHEN g <= 40 THEN '2025-01-01' ELSE '2025-01-02' END,
       CASE WHEN g <= 20 OR g > 40 THEN '00' ELSE '01' END
FROM generate_series(1, 60) g;
SELECT day, part, (des.archive_write(:'dir' || '/lake/' || day || '/' || part || '.des', name, data, meta ORDER BY name)) ->> 'entries' AS entries
FROM src GROUP BY day, part ORDER BY day, part;
-- not archives: an external payload named like one, and a crashed writer's temp file
SELECT des.archive_write(:'dir' || '/lake/2025-01-02/big.des', 'big.des', convert_to(repeat('x', 300), 'UTF8'), NULL,
                         '{"external_threshold": 100}') ->> 'external_entries' AS external;
COPY (SELECT 1) TO PROGRAM 'cat >/dev/null; touch /tmp/pg_des_regress/fdw/lake/2025-01-01/02.des.tmp.1.1';
SELECT regexp_replace(location, '^.*/lake/', '') AS stored FROM des.storage_list(:'dir' || '/lake/') ORDER BY 1;

CREATE SERVER files FOREIGN DATA WRAPPER des_fdw;

-- options and columns
SELECT try($$CREATE FOREIGN TABLE t_bad1 (name text) SERVER files OPTIONS (location 'relative/x.des')$$);
SELECT try($$CREATE FOREIGN TABLE t_bad2 (name text) SERVER files OPTIONS (location '/x.des', verify 'maybe')$$);
SELECT try($$CREATE FOREIGN TABLE t_bad3 (name text) SERVER files OPTIONS (location '/x.des', colour 'red')$$);
CREATE FOREIGN TABLE t_nolocation (name text) SERVER files;
SELECT try('SELECT * FROM t_nolocation');
CREATE FOREIGN TABLE t_unknown (name text, colour text) SERVER files OPTIONS (location '/tmp/pg_des_regress/fdw/lake/');
SELECT try('SELECT * FROM t_unknown');
CREATE FOREIGN TABLE t_type (name text, size integer) SERVER files OPTIONS (location '/tmp/pg_des_regress/fdw/lake/');
SELECT try('SELECT * FROM t_type');

-- every column, any order; a prefix takes every archive below it
CREATE FOREIGN TABLE lake (blake2b bytea, day date, archive text, name text, size bigint, flags integer,
                           data_offset bigint, meta jsonb, data bytea)
    SERVER files OPTIONS (location '/tmp/pg_des_regress/fdw/lake/');
SELECT regexp_replace(archive, '^.*/lake/', '') AS archive, day, count(*), sum(size) AS bytes, min(name), max(name)
FROM lake GROUP BY 1, 2 ORDER BY 1;
-- the same rows, bytes, meta and hashes as the source and as des.archive_read
SELECT count(*) AS rows,
       bool_and(l.data = s.data) AS data_equal,
       bool_and(l.meta - 'blake2b' - 'size' = s.meta) AS meta_equal,
       bool_and(l.blake2b = des.blake2b(s.data)) AS hash_equal,
       bool_and(l.size = length(s.data)) AS size_equal,
       bool_and(l.flags = 0) AS no_flags,
       bool_and(des.archive_read(l.archive, l.name) = l.data) AS read_equal
FROM lake l JOIN src s USING (name);
-- a glob: '*' stays within one path component
CREATE FOREIGN TABLE lake_00 (name text, archive text) SERVER files
    OPTIONS (location '/tmp/pg_des_regress/fdw/lake/*/00.des');
SELECT regexp_replace(archive, '^.*/lake/', '') AS archive, count(*) FROM lake_00 GROUP BY 1 ORDER BY 1;
CREATE FOREIGN TABLE lake_none (name text) SERVER files OPTIONS (location '/tmp/pg_des_regress/fdw/lake/*.des');
SELECT count(*) AS no_archives FROM lake_none;
-- one archive
CREATE FOREIGN TABLE one (name text, data bytea, day date) SERVER files
    OPTIONS (location '/tmp/pg_des_regress/fdw/lake/2025-01-01/01.des');
SELECT count(*), min(day), max(day) FROM one;
CREATE FOREIGN TABLE missing (name text) SERVER files OPTIONS (location '/tmp/pg_des_regress/fdw/nowhere.des');
SELECT regexp_replace(try('SELECT * FROM missing'), '".*"', '"..."') AS missing;

-- EXPLAIN: what is pushed, and what is read
SELECT des.cache_reset();
EXPLAIN (COSTS OFF) SELECT name, size FROM lake WHERE name LIKE 'cam1/%';
EXPLAIN (COSTS OFF) SELECT data FROM lake WHERE name = 'cam2/007';
EXPLAIN (COSTS OFF) SELECT name FROM lake WHERE name = ANY (ARRAY['cam1/002', 'cam2/041']) AND day = '2025-01-02';
EXPLAIN (COSTS OFF) SELECT name FROM lake WHERE name LIKE 'cam_/01%' AND archive LIKE '%/01.des';
EXPLAIN (COSTS OFF) SELECT name FROM lake WHERE name ^@ 'cam2/' LIMIT 3;
EXPLAIN (COSTS OFF) SELECT name FROM lake WHERE length(name) > 3 LIMIT 3;

-- projection: without the data column no payload byte is read
SELECT des.cache_reset();
SELECT s ->> 'rows' AS rows, s ->> 'scanned' AS scanned, (s ->> 'bytes')::bigint < 60 * 1000 AS no_payloads
FROM scan_io('SELECT name, size, meta FROM lake') s;
SELECT s ->> 'rows' AS rows, (s ->> 'bytes')::bigint >= 60 * 1000 AS payloads
FROM scan_io('SELECT name, md5(data) FROM lake') s;
-- payloads are read when something looks at them: length() and IS NULL do not
SELECT s ->> 'rows' AS rows, (s ->> 'bytes')::bigint < 60 * 1000 AS no_payloads
FROM scan_io('SELECT sum(length(data)) FROM lake WHERE data IS NOT NULL') s;
SELECT sum(length(data)) AS total, sum(length(data)) FILTER (WHERE md5(data) IS NOT NULL) AS read_total FROM lake;
-- lookups read one range per archive holding a name: adjacent entries coalesce
SELECT scan_io($$SELECT md5(data) FROM lake WHERE name = 'cam2/007'$$);
SELECT scan_io($$SELECT md5(data) FROM lake WHERE name = ANY (ARRAY['cam1/002', 'cam2/001', 'cam1/004', 'nope', 'cam1/002'])$$);
SELECT name, length(data) FROM lake WHERE name = ANY (ARRAY['cam1/002', 'cam2/001', 'cam1/004', 'nope', 'cam1/002']) ORDER BY name;
SELECT name FROM lake WHERE name = NULL;
SELECT count(*) FROM lake WHERE name = ANY (ARRAY[NULL, 'cam1/010']);
-- pruning: archives failing archive/day conditions are never opened
SELECT des.cache_reset();
SELECT scan_io($$SELECT name FROM lake WHERE day = '2025-01-02'$$);
SELECT scan_io($$SELECT name FROM lake WHERE archive LIKE '%/01.des' AND name LIKE 'cam1/%'$$);
SELECT scan_io($$SELECT name FROM lake WHERE day > current_date$$);
-- prefix filters, exact and rechecked
SELECT count(*) FILTER (WHERE name LIKE 'cam1/%') AS cam1, count(*) AS total FROM lake WHERE name LIKE 'cam1/%';
SELECT name FROM lake WHERE name LIKE 'cam_/01%' ORDER BY name;
SELECT name FROM lake WHERE name ^@ 'cam2/05' ORDER BY name;
SELECT count(*) FROM lake WHERE name LIKE 'cam1\_%';
-- LIMIT stops the scan: one archive, one chunk
SELECT des.cache_reset();
SELECT s ->> 'rows' AS rows, s ->> 'scanned' AS scanned FROM scan_io('SELECT name, md5(data) FROM lake LIMIT 3') s;
SELECT count(*) FROM (SELECT name FROM lake LIMIT 3 OFFSET 58) x;

-- joins look names up through the parameterized path
CREATE TABLE wanted (name text);
INSERT INTO wanted VALUES ('cam2/003'), ('cam1/010'), ('cam2/059'), ('absent'), ('cam1/010');
ANALYZE wanted;
EXPLAIN (COSTS OFF) SELECT w.name, l.data FROM wanted w JOIN lake l ON l.name = w.name;
SELECT w.name, length(l.data), regexp_replace(l.archive, '^.*/lake/', '') AS archive
FROM wanted w JOIN lake l ON l.name = w.name ORDER BY 1, 3;
-- one read per row found, however many archives are probed
SELECT des.cache_reset();
SET enable_memoize = off;
SELECT s ->> 'requests' AS requests, (s ->> 'bytes')::int AS bytes
FROM scan_io('SELECT md5(l.data) FROM wanted w JOIN lake l ON l.name = w.name') s;
RESET enable_memoize;
-- a lateral lookup, and a join on an expression of the outer side
SELECT w.name, x.size FROM wanted w, LATERAL (SELECT size FROM lake l WHERE l.name = w.name) x ORDER BY 1;
EXPLAIN (COSTS OFF) SELECT l.size FROM wanted w JOIN lake l ON l.name = lower(w.name);

-- a name joined to two outer relations; a join on a column that is not text is filtered, not looked up
CREATE TABLE wanted2 (name text);
INSERT INTO wanted2 VALUES ('cam1/010'), ('cam2/003');
SELECT l.name FROM wanted w, wanted2 v, lake l WHERE l.name = w.name AND l.name = v.name ORDER BY 1;
CREATE TABLE wanted_n (n name);
INSERT INTO wanted_n VALUES ('cam1/010');
EXPLAIN (COSTS OFF) SELECT l.size FROM wanted_n w JOIN lake l ON l.name = w.n;
SELECT l.size FROM wanted_n w JOIN lake l ON l.name = w.n;
-- a LIMIT that is not a constant is not pushed (it may change between executions)
SET my.lim = '2';
PREPARE lim AS SELECT count(*) FROM (SELECT name FROM lake LIMIT current_setting('my.lim')::int) s;
EXECUTE lim;
SET my.lim = '5';
EXECUTE lim;
DEALLOCATE lim;

-- cursors and rescans
BEGIN;
DECLARE c CURSOR FOR SELECT name FROM lake WHERE name LIKE 'cam2/%' ORDER BY name;
FETCH 2 FROM c;
FETCH 1 FROM c;
CLOSE c;
COMMIT;
SELECT (SELECT count(*) FROM lake l WHERE l.name LIKE w.name || '%') AS per_row FROM wanted w ORDER BY 1;

-- a cancelled scan (lookups and walks rescanned for every outer row) releases what it held
\set VERBOSITY terse
SET statement_timeout = '300ms';
SELECT count(*) FROM lake a, lake b, lake c, lake d,
       LATERAL (SELECT 1 FROM lake WHERE name = a.name OFFSET 0) x;
RESET statement_timeout;
\set VERBOSITY default
SELECT count(*) AS after_cancel FROM lake WHERE name = 'cam1/010';

-- memory stays bounded: 78 MB of payloads, all used, scanned with the backend's
-- memory measured from inside the scan every 500 rows
SELECT des.archive_write(:'dir' || '/big/' || (g % 4) || '.des', 'e' || g, convert_to(repeat(md5(g::text), 128), 'UTF8'), NULL ORDER BY 2) ->> 'entries' AS entries
FROM generate_series(1, 20000) g GROUP BY g % 4;
CREATE FOREIGN TABLE big (name text, data bytea) SERVER files OPTIONS (location '/tmp/pg_des_regress/fdw/big/');
SELECT count(*) AS rows, count(h) AS hashed, sum(length(data)) > 64 * 1024 * 1024 AS over_64mb_scanned,
       max(mem) < 32 * 1024 * 1024 AS under_32mb_held
FROM (SELECT data, md5(data) AS h,
             CASE WHEN substr(name, 2)::int % 500 = 0
                  THEN (SELECT sum(total_bytes) FROM pg_backend_memory_contexts) END AS mem
      FROM big) s;
DROP FOREIGN TABLE big;

-- wildcard characters in names are escaped with a backslash
SELECT des.archive_write(:'dir' || '/odd/x[1].des', 'odd', '\x01'::bytea, NULL) ->> 'entries' AS odd;
SELECT des.archive_write(:'dir' || '/odd/x1.des', 'plain', '\x02'::bytea, NULL) ->> 'entries' AS plain;
CREATE FOREIGN TABLE odd_exact (name text) SERVER files OPTIONS (location '/tmp/pg_des_regress/fdw/odd/x\[1\].des');
CREATE FOREIGN TABLE odd_glob (name text) SERVER files OPTIONS (location '/tmp/pg_des_regress/fdw/odd/x[1].des');
SELECT (SELECT name FROM odd_exact) AS exact, (SELECT name FROM odd_glob) AS glob;
CREATE FOREIGN TABLE odd_prefix (name text) SERVER files OPTIONS (location '/tmp/pg_des_regress/fdw/o*/');
SELECT try('SELECT * FROM odd_prefix');

-- LZ4 entries come back decompressed; external payloads are fetched
SELECT des.archive_write(:'dir' || '/mixed/m.des', name, data, NULL, '{"lz4": true, "external_threshold": 100000}') ->> 'entries'
FROM (VALUES ('z', convert_to(repeat('z', 20000), 'UTF8')), ('small', '\x0102'::bytea), ('e', ''::bytea),
             ('big', convert_to(repeat('b', 120000), 'UTF8'))) v(name, data);
CREATE FOREIGN TABLE mixed (name text, data bytea, size bigint, flags integer) SERVER files
    OPTIONS (location '/tmp/pg_des_regress/fdw/mixed/');
SELECT name, size, flags, length(data), md5(data) AS md5 FROM mixed ORDER BY name;
SELECT md5(convert_to(repeat('z', 20000), 'UTF8')) AS z, md5(convert_to(repeat('b', 120000), 'UTF8')) AS big;

-- verify 'on' checks each payload's BLAKE2b; a mismatch names the entry
SELECT des.archive_write(:'dir' || '/bad/b.des', name, data, NULL) ->> 'entries'
FROM (VALUES ('good', convert_to('good bytes', 'UTF8')), ('flipped', convert_to('AAAAAAAAAA', 'UTF8'))) v(name, data);
SELECT format('COPY (SELECT 1) TO PROGRAM %L',
              format('cat >/dev/null; printf B | dd of=%s bs=1 seek=%s conv=notrunc status=none', :'dir' || '/bad/b.des', data_offset + 3))
FROM des.archive_list(:'dir' || '/bad/b.des') WHERE name = 'flipped' \gexec
CREATE FOREIGN TABLE bad (name text, data bytea) SERVER files OPTIONS (location '/tmp/pg_des_regress/fdw/bad/b.des');
CREATE FOREIGN TABLE bad_checked (name text, data bytea) SERVER files
    OPTIONS (location '/tmp/pg_des_regress/fdw/bad/b.des', verify 'on');
SELECT name, convert_from(data, 'UTF8') FROM bad ORDER BY name;
SELECT name FROM bad_checked WHERE name = 'good';
SELECT regexp_replace(try('SELECT name, data FROM bad_checked'), '/tmp/\S*', '...', 'g') AS verify_error;
\set VERBOSITY default
\set ON_ERROR_STOP 0
SELECT data FROM bad_checked WHERE name = 'flipped';
\set ON_ERROR_STOP 1
-- a failed read whose error is caught is not retried for every row of its chunk
CREATE FUNCTION safe_md5(d bytea) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN md5(d);
EXCEPTION WHEN data_corrupted OR object_not_in_prerequisite_state THEN
    RETURN SQLSTATE;
END $$;
SELECT name, safe_md5(data) FROM bad_checked;
DROP FUNCTION safe_md5(bytea);
-- the scan released its archive when the error ended it: the next one works
SELECT count(*) FROM bad_checked WHERE name = 'good';

-- ANALYZE counts entries and samples the indexes
ANALYZE lake;
SELECT reltuples FROM pg_class WHERE relname = 'lake';
SELECT attname, null_frac FROM pg_stats WHERE tablename = 'lake' AND attname IN ('name', 'size', 'day') ORDER BY 1;

-- IMPORT FOREIGN SCHEMA: a table per day (with what is below it), or per archive
SELECT des.archive_write(:'dir' || '/lake/2025-01-02/deeper/00.des', 'deep', '\x03'::bytea, NULL) ->> 'entries' AS deep;
CREATE SCHEMA by_day;
IMPORT FOREIGN SCHEMA "/tmp/pg_des_regress/fdw/lake/" FROM SERVER files INTO by_day;
SELECT foreign_table_name, regexp_replace(option_value, '^.*/lake/', '') AS location
FROM information_schema.foreign_table_options WHERE foreign_table_schema = 'by_day' ORDER BY 1;
SELECT count(*) FROM by_day."2025-01-01";
CREATE SCHEMA by_archive;
IMPORT FOREIGN SCHEMA "/tmp/pg_des_regress/fdw/lake/" LIMIT TO ("2025-01-02/00") FROM SERVER files INTO by_archive
    OPTIONS (per 'archive', verify 'on');
SELECT foreign_table_name, regexp_replace(option_value, '^.*/lake/', '') AS value
FROM information_schema.foreign_table_options WHERE foreign_table_schema = 'by_archive' ORDER BY 1, 2;
SELECT count(*) FROM by_archive."2025-01-02/00";
SELECT try($$IMPORT FOREIGN SCHEMA "/tmp/pg_des_regress/fdw/lake" FROM SERVER files INTO by_day$$);
SELECT try($$IMPORT FOREIGN SCHEMA "/tmp/pg_des_regress/fdw/lake/" FROM SERVER files INTO by_day OPTIONS (per 'week')$$);
SELECT try($$IMPORT FOREIGN SCHEMA "/tmp/pg_des_regress/fdw/lake/" FROM SERVER files INTO by_day OPTIONS (shape 'round')$$);

-- read-only, with a pointer to the ingest path
SELECT try($$INSERT INTO lake (name) VALUES ('x')$$);
SELECT try($$UPDATE lake SET size = 0$$);
SELECT try($$DELETE FROM lake$$);
SELECT try($$TRUNCATE lake$$);
SELECT try($$COPY lake (name) FROM PROGRAM 'echo x'$$);

-- local archives need pg_read_server_files, checked for the querying role
CREATE ROLE fdw_nobody;
GRANT USAGE ON FOREIGN SERVER files TO fdw_nobody;
GRANT SELECT ON lake TO fdw_nobody;
CREATE VIEW lake_view AS SELECT name FROM lake;
GRANT SELECT ON lake_view TO fdw_nobody;
CREATE SCHEMA nobody_space AUTHORIZATION fdw_nobody;
SET ROLE fdw_nobody;
SELECT try('SELECT count(*) FROM lake');
SELECT try('SELECT count(*) FROM lake_view');
-- nor create a table over server files, even in a schema of its own
SELECT try($$CREATE FOREIGN TABLE nobody_space.files (name text) SERVER files OPTIONS (location '/etc/')$$);
RESET ROLE;
SELECT count(*) AS as_owner FROM lake_view;

DROP VIEW lake_view;
DROP SCHEMA nobody_space;
DROP OWNED BY fdw_nobody;
DROP ROLE fdw_nobody;
SELECT try($$IMPORT FOREIGN SCHEMA "/tmp/pg_des_regress/fdw/odd/" FROM SERVER files INTO by_day OPTIONS (per 'archive')$$) AS escaped;
SELECT count(*) AS one_row FROM by_day."x[1]";
SELECT des.archive_write(:'dir' || '/clash/2025-01-05.des', 'a', '\x01'::bytea, NULL) ->> 'entries' AS a;
SELECT des.archive_write(:'dir' || '/clash/2025-01-05/00.des', 'b', '\x01'::bytea, NULL) ->> 'entries' AS b;
SELECT try($$IMPORT FOREIGN SCHEMA "/tmp/pg_des_regress/fdw/clash/" FROM SERVER files INTO by_day$$) AS clash;
DROP SCHEMA by_day, by_archive CASCADE;
DROP SERVER files CASCADE;
DROP TABLE src, wanted, wanted2, wanted_n;
DROP FUNCTION scan_io(text);
