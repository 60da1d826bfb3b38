-- A version of a dataset as a foreign table (des_fdw OPTIONS (ref ...)): one
-- row per file of what the ref names (a branch with its staged changes, a
-- label, a bundle id prefix, a branch at a time), compared with des.files
-- and des.read; lookups pushed down; the data read only when asked for; the
-- reader's level checked at each scan, one des.read_log row per scan; the
-- option validator. Bundle ids depend on the time of a commit, so they are
-- compared, never printed.
SET client_min_messages = warning;
CREATE FUNCTION fdr_try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '[0-9a-f]{8,64}', '<id>', 'g');
END $$;
-- the same, with the error's hint
CREATE FUNCTION fdr_try_hint(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    hint text;
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
    RETURN SQLSTATE || ': ' || SQLERRM || E'\n' || hint;
END $$;
GRANT EXECUTE ON FUNCTION fdr_try(text), fdr_try_hint(text) TO PUBLIC;
CREATE ROLE fdr_writer;
CREATE ROLE fdr_reader;
CREATE ROLE fdr_none;
SELECT des.context_create('fdr') > 0 AS created;
SELECT des.grant('context:fdr', 'fdr_writer', 'write');
CREATE SERVER fdr_files FOREIGN DATA WRAPPER des_fdw;

SET ROLE fdr_writer;
SELECT des.repo_create('fdr', 'files as a table', 'fdr') > 0 AS created;
SELECT des.grant('repo:fdr', 'fdr_reader', 'read');
-- version 1: small files, an empty one, a mode, and one large enough for several chunks
SELECT des.stage_many('fdr', 'main', ARRAY['a.txt', 'b.txt', 'docs/readme', 'docs/sub/deep.txt', 'empty', 'tools/run.sh'],
                      ARRAY['alpha', 'beta', 'read me', 'deep down', '', '#!/bin/sh']::bytea[],
                      ARRAY[420, 420, 420, 420, 420, 493]);
SELECT des.stage('fdr', 'main', 'big.bin', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 20000) i)::bytea)
       IS NOT NULL AS staged;
SELECT left(des.commit('fdr', 'main', 'first', 'v1'), 12) AS v1_prefix \gset
SELECT clock_timestamp() AS after_v1 \gset
SELECT pg_sleep(0.01);
-- version 2: a change, a removal, a new file
SELECT des.stage('fdr', 'main', 'a.txt', 'alpha, second') IS NOT NULL AS staged;
SELECT des.stage_remove('fdr', 'main', 'docs/sub');
SELECT des.stage('fdr', 'main', 'c.txt', 'gamma') IS NOT NULL AS staged;
SELECT des.commit('fdr', 'main', 'second', 'v2') IS NOT NULL AS committed;
RESET ROLE;

SELECT 'fdr/main@{' || :'after_v1' || '}' AS at_v1 \gset
CREATE FOREIGN TABLE fdr_main (path text, size bigint, data bytea) SERVER fdr_files OPTIONS (ref 'fdr/main');
CREATE FOREIGN TABLE fdr_v1 (path text, size bigint, data bytea, kind text, mode integer, content_hash text)
    SERVER fdr_files OPTIONS (ref 'fdr@v1');
CREATE FOREIGN TABLE fdr_by_id (path text, data bytea) SERVER fdr_files OPTIONS (ref :'v1_prefix');
CREATE FOREIGN TABLE fdr_at (content_hash text, path varchar) SERVER fdr_files OPTIONS (ref :'at_v1');
GRANT SELECT ON fdr_main, fdr_v1, fdr_by_id, fdr_at TO fdr_reader, fdr_none;

SET ROLE fdr_reader;
-- the branch: its head
SELECT path, size, md5(data) AS md5, md5(data) = md5(des.read('fdr/main', path)) AS same_as_read
  FROM fdr_main ORDER BY path COLLATE "C";
-- the label: every column, as des.files gives them
SELECT path, size, kind, mode, md5(data) AS md5 FROM fdr_v1 ORDER BY path COLLATE "C";
SELECT count(*) AS differ_from_files
  FROM fdr_v1 v FULL JOIN (SELECT * FROM des.files('fdr@v1') WHERE kind = 'file') f USING (path)
 WHERE v.size IS DISTINCT FROM f.size OR v.mode IS DISTINCT FROM f.mode
    OR v.content_hash IS DISTINCT FROM f.content_hash OR v.kind IS DISTINCT FROM f.kind;
SELECT count(*) AS files, bool_and(md5(data) = md5(des.read('fdr@v1', path))) AS same_as_read FROM fdr_v1;
-- a bundle id prefix and the branch at a time both name version 1
SELECT (SELECT array_agg(path || ':' || md5(data) ORDER BY path COLLATE "C") FROM fdr_by_id)
     = (SELECT array_agg(path || ':' || md5(data) ORDER BY path COLLATE "C") FROM fdr_v1) AS by_id_is_v1;
SELECT (SELECT array_agg(path || ':' || content_hash ORDER BY path COLLATE "C") FROM fdr_at)
     = (SELECT array_agg(path || ':' || content_hash ORDER BY path COLLATE "C") FROM fdr_v1) AS at_time_is_v1;
RESET ROLE;
-- a gros:// URI as the ref: the first bundle of main by position (v1), read in a run: an input edge
CREATE FOREIGN TABLE fdr_uri (path text, data bytea) SERVER fdr_files OPTIONS (ref 'gros://fdr/main:0');
SELECT des.run_begin('fdw-reader') IS NOT NULL AS run_begun;
SELECT (SELECT array_agg(path || ':' || md5(data) ORDER BY path COLLATE "C") FROM fdr_uri)
     = (SELECT array_agg(path || ':' || md5(data) ORDER BY path COLLATE "C") FROM fdr_v1) AS uri_is_v1;
SELECT des.run_end() IS NOT NULL AS run_ended;
SELECT e.uri, e.branch, r.job FROM des.lineage_edges e JOIN des.runs r ON r.id = e.run_id WHERE r.job = 'fdw-reader' ORDER BY e.uri;
DROP FOREIGN TABLE fdr_uri;
DELETE FROM des.jobs WHERE name = 'fdw-reader';

-- staged changes show on the branch (as des.files reads it), not on the label
SET ROLE fdr_writer;
SELECT des.stage('fdr', 'main', 'staged/new.txt', 'not committed') IS NOT NULL AS staged;
SELECT des.stage_remove('fdr', 'main', 'b.txt');
SET ROLE fdr_reader;
SELECT path, size, convert_from(data, 'UTF8') AS content FROM fdr_main WHERE size < 100 ORDER BY path COLLATE "C";
SELECT (SELECT array_agg(path ORDER BY path COLLATE "C") FROM fdr_main)
     = (SELECT array_agg(path ORDER BY path COLLATE "C") FROM des.files('fdr/main') WHERE kind = 'file') AS same_as_files;
SELECT count(*) AS on_label FROM fdr_v1 WHERE path LIKE 'staged/%';

-- lookups: path = x and path IN (...) are pushed down; a prefix prunes the walk
EXPLAIN (COSTS OFF) SELECT path, data FROM fdr_main WHERE path = 'staged/new.txt';
SELECT path, convert_from(data, 'UTF8') AS content FROM fdr_main WHERE path = 'staged/new.txt';
EXPLAIN (COSTS OFF) SELECT path FROM fdr_v1 WHERE path IN ('a.txt', 'docs/sub/deep.txt', 'nowhere', 'docs');
SELECT path, size, md5(data) AS md5 FROM fdr_v1 WHERE path IN ('a.txt', 'docs/sub/deep.txt', 'nowhere', 'docs', 'a.txt')
 ORDER BY path COLLATE "C";
-- a path no version can have, and NULL, find nothing
SELECT count(*) AS none FROM fdr_v1 WHERE path = ANY (ARRAY['../a.txt', NULL, '']);
SELECT count(*) AS none FROM fdr_v1 WHERE path = '/a.txt';
EXPLAIN (COSTS OFF) SELECT path FROM fdr_v1 WHERE path LIKE 'docs/%';
SELECT path FROM fdr_v1 WHERE path LIKE 'docs/%' ORDER BY path COLLATE "C";
SELECT path FROM fdr_v1 WHERE path LIKE 'd%t' ORDER BY path COLLATE "C";
-- a lookup on the inner side of a nested loop: rescanned with each outer value (one read_log row per scan)
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT v.p, t.size FROM (VALUES ('a.txt'), ('c.txt'), ('empty')) v(p)
  CROSS JOIN LATERAL (SELECT size FROM fdr_v1 WHERE path = v.p OFFSET 0) t;
SELECT v.p, t.size FROM (VALUES ('a.txt'), ('c.txt'), ('empty')) v(p)
  CROSS JOIN LATERAL (SELECT size FROM fdr_v1 WHERE path = v.p OFFSET 0) t ORDER BY v.p;
-- a join condition is not pushed down: the listing is read once, then joined
EXPLAIN (COSTS OFF) SELECT v.p, t.size FROM (VALUES ('a.txt'), ('c.txt')) v(p) JOIN fdr_v1 t ON t.path = v.p;
-- the data is read only when the data column is needed
EXPLAIN (COSTS OFF) SELECT count(*) FROM fdr_main;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM fdr_v1;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT sum(length(data)) FROM fdr_v1;
SELECT count(*) AS files, sum(size) AS bytes FROM fdr_v1;
SELECT path FROM fdr_v1 ORDER BY path COLLATE "C" LIMIT 2;
RESET ROLE;

-- the reader's level is checked at each scan, as des.files checks it: a
-- role without read level sees no repo (nor its bundles), whatever its
-- table privileges
SET ROLE fdr_none;
SELECT fdr_try($$SELECT count(*) FROM fdr_main$$);
SELECT fdr_try($$SELECT count(*) FROM fdr_v1$$);
SELECT fdr_try($$SELECT count(*) FROM fdr_by_id$$);
SELECT fdr_try($$SELECT count(*) FROM des.files('fdr/main')$$);
SELECT fdr_try($$SELECT * FROM fdr_at WHERE path = 'a.txt'$$);
RESET ROLE;
-- the level is the current user's, at the scan: a grant takes effect at the next scan
SELECT des.grant('repo:fdr', 'fdr_none', 'read');
SET ROLE fdr_none;
SELECT count(*) AS now_readable FROM fdr_main;
RESET ROLE;
SELECT des.revoke('repo:fdr', 'fdr_none');
SET ROLE fdr_none;
SELECT fdr_try($$SELECT count(*) FROM fdr_main$$);
RESET ROLE;

-- refs that name nothing, or are no ref
CREATE FOREIGN TABLE fdr_bad1 (path text) SERVER fdr_files OPTIONS (ref 'fdr');
CREATE FOREIGN TABLE fdr_bad2 (path text) SERVER fdr_files OPTIONS (ref 'fdr@nolabel');
CREATE FOREIGN TABLE fdr_bad3 (path text) SERVER fdr_files OPTIONS (ref 'fdr/nobranch');
CREATE FOREIGN TABLE fdr_bad4 (path text) SERVER fdr_files OPTIONS (ref 'nosuchrepo/main');
CREATE FOREIGN TABLE fdr_bad5 (path text) SERVER fdr_files OPTIONS (ref 'fdr/main@{not a time}');
SELECT fdr_try($$SELECT * FROM fdr_bad1$$);
SELECT fdr_try($$SELECT * FROM fdr_bad2$$);
SELECT fdr_try($$SELECT * FROM fdr_bad3$$);
SELECT fdr_try($$SELECT * FROM fdr_bad4$$);
SELECT fdr_try($$SELECT * FROM fdr_bad5$$);
-- a branch with no commit yet: its staged files only
SET ROLE fdr_writer;
SELECT des.branch_create('fdr', 'fresh', 'fdr@v1');
SELECT des.repo_create('fdr_empty', '', 'fdr') > 0 AS created;
SELECT des.stage('fdr_empty', 'main', 'only.txt', 'staged only') IS NOT NULL AS staged;
RESET ROLE;
CREATE FOREIGN TABLE fdr_empty (path text, data bytea) SERVER fdr_files OPTIONS (ref 'fdr_empty/main');
SELECT path, convert_from(data, 'UTF8') AS content FROM fdr_empty;

-- options: ref and location exclude each other, an empty ref, verify is for archives, the hint lists ref
SELECT fdr_try($$CREATE FOREIGN TABLE fdr_both (path text) SERVER fdr_files OPTIONS (ref 'fdr/main', location '/tmp/x.des')$$);
SELECT fdr_try($$CREATE FOREIGN TABLE fdr_both (path text) SERVER fdr_files OPTIONS (location '/tmp/x.des', ref 'fdr/main')$$);
SELECT fdr_try($$ALTER FOREIGN TABLE fdr_main OPTIONS (ADD location '/tmp/x.des')$$);
SELECT fdr_try($$CREATE FOREIGN TABLE fdr_empty_ref (path text) SERVER fdr_files OPTIONS (ref '')$$);
SELECT fdr_try($$CREATE FOREIGN TABLE fdr_verify (path text) SERVER fdr_files OPTIONS (ref 'fdr/main', verify 'true')$$);
SELECT fdr_try_hint($$CREATE FOREIGN TABLE fdr_typo (path text) SERVER fdr_files OPTIONS (refs 'fdr/main')$$);
SELECT fdr_try($$CREATE SERVER fdr_server_ref FOREIGN DATA WRAPPER des_fdw OPTIONS (ref 'fdr/main')$$);
-- a table may move from a location to a ref
CREATE FOREIGN TABLE fdr_moved (path text, size bigint) SERVER fdr_files OPTIONS (location '/tmp/x.des');
ALTER FOREIGN TABLE fdr_moved OPTIONS (DROP location, ADD ref 'fdr@v2');
SELECT count(*) AS v2_files FROM fdr_moved;
-- columns: by name, with the types of des.files
CREATE FOREIGN TABLE fdr_badcol (path text, name text) SERVER fdr_files OPTIONS (ref 'fdr/main');
CREATE FOREIGN TABLE fdr_badtype (path text, size integer) SERVER fdr_files OPTIONS (ref 'fdr/main');
SELECT fdr_try_hint($$SELECT * FROM fdr_badcol$$);
SELECT fdr_try($$SELECT * FROM fdr_badtype$$);
-- read-only, and ANALYZE skips it
SELECT fdr_try($$INSERT INTO fdr_main (path) VALUES ('x')$$);
ANALYZE fdr_main;

-- the read log: one row per scan, function des_fdw, the bundle each ref named
-- (the branch: its head), for the role that scanned
SELECT role, ref, path, count(*) AS scans
  FROM (SELECT role, path, CASE ref WHEN :'v1_prefix' THEN '<id prefix of v1>' WHEN :'at_v1' THEN 'fdr/main@{<after v1>}'
                                    ELSE ref END AS ref
          FROM des.read_log WHERE function = 'des_fdw') l
 GROUP BY role, ref, path ORDER BY role, ref COLLATE "C";
SELECT bool_and(l.bundle_id = b.id) AS bundles_named
  FROM des.read_log l JOIN des.dataset_labels lb ON lb.repo_id = l.repo_id AND lb.name = 'v1'
  JOIN des.dataset_bundles b ON b.id = lb.bundle_id
 WHERE l.function = 'des_fdw' AND l.ref IN ('fdr@v1', :'v1_prefix', :'at_v1');
SELECT bool_and(l.bundle_id = br.head) AS branch_head_named
  FROM des.read_log l JOIN des.dataset_branches br ON br.repo_id = l.repo_id AND br.name = 'main'
 WHERE l.function = 'des_fdw' AND l.ref = 'fdr/main';
SELECT count(*) FILTER (WHERE bundle_id IS NULL) AS no_commit_yet FROM des.read_log WHERE ref = 'fdr_empty/main';
-- a scan in a transaction that rolls back leaves no row
BEGIN;
SELECT count(*) FROM fdr_v1;
ROLLBACK;
SELECT count(*) AS v1_scans FROM des.read_log WHERE function = 'des_fdw' AND ref = 'fdr@v1';

DROP FOREIGN TABLE fdr_main, fdr_v1, fdr_by_id, fdr_at, fdr_bad1, fdr_bad2, fdr_bad3, fdr_bad4, fdr_bad5, fdr_empty,
    fdr_moved, fdr_badcol, fdr_badtype;
DROP SERVER fdr_files;
