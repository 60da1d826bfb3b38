-- Versions of datasets: staging, commits, reading (files, whole files and
-- byte ranges), history, branches, labels, refs, the read and write logs,
-- row-level security between tenants, and every error with its SQLSTATE.
-- Bundle ids depend on the time of the commit, so they are compared, never
-- printed.
SET client_min_messages = warning;
CREATE OR REPLACE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
GRANT EXECUTE ON FUNCTION try(text) TO PUBLIC;
CREATE ROLE v_writer;
CREATE ROLE v_reader;
CREATE ROLE v_other;
SELECT des.context_create('vt_a') > 0 AS a, des.context_create('vt_b') > 0 AS b;
SELECT des.grant('context:vt_a', 'v_writer', 'write');
SELECT des.grant('context:vt_b', 'v_other', 'write');

SET ROLE v_writer;
SELECT des.repo_create('ds', 'a dataset', 'vt_a') > 0 AS created;
SELECT des.grant('repo:ds', 'v_reader', 'read');
-- a new repo has its default branch, with no commit
SELECT repo, branch, head IS NULL AS empty, is_default, staged FROM des.branches WHERE repo = 'ds';
SELECT kind, bundle_id IS NULL AS no_bundle, root, staged FROM des.resolve('ds/main');

-- staging: the content hash is over the chunk list (the empty file's is fixed)
SELECT des.stage('ds', 'main', 'empty.txt', '');
SELECT length(des.stage('ds', 'main', 'data/a.txt', 'alpha')) AS hex_len;
SELECT des.stage('ds', 'main', 'data/big.bin', (SELECT string_agg(md5(i::text), '')::bytea FROM generate_series(1, 20000) i), 384) IS NOT NULL AS staged;
SELECT des.stage_many('ds', 'main', ARRAY['data/sub/b.txt', 'data/sub/c.txt', 'tools/run.sh'],
                      ARRAY['beta', 'gamma', '#!/bin/sh']::bytea[], ARRAY[420, 420, 493]);
-- reading a branch shows what is staged
SELECT path, kind, to_char(mode, 'FM999') AS mode, size, chunks FROM des.files('ds/main');
SELECT staged FROM des.branches WHERE repo = 'ds' AND branch = 'main';
SELECT convert_from(des.read('ds/main', 'data/a.txt'), 'UTF8') AS a;

-- the first commit
SELECT des.commit('ds', 'main', 'first version') AS c1 \gset
SELECT length(:'c1') AS id_len, :'c1' ~ '^[0-9a-f]{64}$' AS hex;
SELECT head = :'c1' AS moved, staged FROM des.branches WHERE repo = 'ds' AND branch = 'main';
SELECT kind, bundle_id = :'c1' AS same, staged FROM des.resolve('ds/main');
SELECT count(*) AS staged_rows FROM des.staged;
-- the bundle's id is the hash of its header, which names its root
SELECT encode(b.id, 'hex') = :'c1' AS id_ok, des.blake2b(b.header) = b.id AS header_hash_is_id,
       b.parents = '{}' AS no_parent, b.author = 'v_writer' AS author, b.message, b.total_size
  FROM des.dataset_bundles b WHERE encode(b.id, 'hex') = :'c1';
-- every directory is stored under its hash
SELECT count(*) AS dirs, bool_and(des.blake2b(d.encoding) = d.hash) AS hashes_ok FROM des.dataset_dirs d;
SELECT bool_and(des.blake2b(c.chunks) = c.hash) AS chunk_lists_ok FROM des.dataset_contents c;

-- reading: whole files, ranges (only the chunks covering them), by every kind of ref
SELECT md5(des.read(:'c1', 'data/big.bin')) = md5((SELECT string_agg(md5(i::text), '') FROM generate_series(1, 20000) i)) AS big_ok;
SELECT convert_from(des.read('ds/main', 'data/big.bin', 32, 32), 'UTF8') = md5('2') AS range_ok;
SELECT length(des.read('ds/main', 'data/big.bin', 639990, 100)) AS tail_len,
       length(des.read('ds/main', 'data/big.bin', 700000, 10)) AS past_end,
       length(des.read('ds/main', 'empty.txt')) AS empty_len;
SELECT convert_from(des.read(left(:'c1', 8), 'data/sub/b.txt'), 'UTF8') AS by_prefix,
       convert_from(des.read(:'c1', 'data/sub/c.txt'), 'UTF8') AS by_id;
SELECT path, length(data) AS len, md5(data) = md5(des.read('ds/main', path)) AS same
  FROM des.read_many('ds/main', ARRAY['data/sub/c.txt', 'data/a.txt', 'data/big.bin', 'data/a.txt']);
SELECT try($$SELECT * FROM des.read_many('ds/main', ARRAY['data/a.txt', 'nope'])$$);
SELECT try($$SELECT * FROM des.read_many('ds/main', ARRAY['data'])$$);
SELECT path, kind FROM des.files('ds/main', 'data/sub');
SELECT path, kind FROM des.files('ds/main', 'tools/run.sh');
SELECT count(*) FROM des.files('ds/main', 'nothing/here');

-- the second commit: an edit, a removal, a directory removed, and a label
SELECT des.stage('ds', 'main', 'data/a.txt', 'alpha, edited') IS NOT NULL AS staged;
SELECT des.stage_remove('ds', 'main', 'data/sub');
SELECT des.stage_remove('ds', 'main', 'empty.txt');
SELECT path, op FROM des.staged ORDER BY path;
SELECT path FROM des.files('ds/main') ORDER BY path;
SELECT des.commit('ds', 'main', 'second version', 'v2') AS c2 \gset
SELECT count(*) AS bundles, count(*) FILTER (WHERE parents = ARRAY[:'c1']) AS child_of_c1 FROM des.bundles WHERE repo = 'ds';
SELECT bundle_id = :'c2' AS first_is_c2, message FROM des.log('ds/main');
SELECT label, bundle_id = :'c2' AS on_c2 FROM des.labels WHERE repo = 'ds';
SELECT convert_from(des.read('ds@v2', 'data/a.txt'), 'UTF8') AS at_label,
       convert_from(des.read(:'c1', 'data/a.txt'), 'UTF8') AS at_c1;
-- the head at a time, from the reflog
SELECT pg_sleep(0.01);
SELECT now() AS between_commits \gset
SELECT des.stage('ds', 'main', 'data/a.txt', 'alpha, third') IS NOT NULL AS staged;
SELECT des.commit('ds', 'main', 'third') AS c3 \gset
SELECT bundle_id = :'c2' AS head_then FROM des.resolve('ds/main@{' || :'between_commits' || '}');
SELECT bundle_id = :'c3' AS head_now FROM des.resolve('ds/main');
SELECT branch, old_head IS NULL AS from_nothing, encode(new_head, 'hex') = :'c3' AS to_c3, reason
  FROM des.branch_log WHERE branch = 'main' ORDER BY id DESC LIMIT 1;
-- diff: path by path, only into directories whose hashes differ
SELECT path, change, kind, old_size, new_size, old_hash IS NOT NULL AS had, new_hash IS NOT NULL AS has
  FROM des.diff(:'c1', :'c2');
SELECT path, change FROM des.diff(:'c2', :'c1');
SELECT path, change, old_size, new_size FROM des.diff('ds@v2', 'ds/main');
SELECT count(*) AS none FROM des.diff(:'c3', 'ds/main');
SELECT try($$SELECT * FROM des.diff('ds/main', 'ds/nobranch')$$);

-- chunks are stored once: the unchanged big file added no blob
RESET ROLE;
SELECT count(*) AS blobs FROM des.blobs;
SELECT count(*) AS containers, bool_and(origin = 'datasets') AS datasets, bool_and(location ~ '/datasets/\d+/\d{4}-\d\d-\d\d/\d+-x\d+\.des$') AS named
  FROM des.containers;
SET ROLE v_writer;

-- branches and labels
SELECT des.branch_create('ds', 'feature/x');
SELECT des.branch_create('ds', 'old', 'ds@v2');
SELECT branch, head = :'c3' AS at_c3, head = :'c2' AS at_c2 FROM des.branches WHERE repo = 'ds' ORDER BY branch;
SELECT des.stage('ds', 'feature/x', 'new.txt', 'new') IS NOT NULL AS staged;
SELECT path FROM des.files('ds/feature/x') WHERE kind = 'file' ORDER BY path;
SELECT count(*) AS main_unchanged FROM des.files('ds/main') WHERE path = 'new.txt';
SELECT des.label_set('ds', 'v2', :'c1');
SELECT des.label_set('ds', 'stable', 'ds/main');
SELECT old_bundle = :'c2' AS from_c2, new_bundle = :'c1' AS to_c1 FROM des.label_history('ds', 'v2') ORDER BY at DESC LIMIT 1;
SELECT des.label_delete('ds', 'stable');
SELECT label FROM des.labels WHERE repo = 'ds';
SELECT count(*) AS moves FROM des.label_history('ds', 'stable');
SELECT des.branch_delete('ds', 'old');
SELECT branch FROM des.branches WHERE repo = 'ds' ORDER BY branch;
RESET ROLE;
SELECT des.branch_protect('ds', 'main');
SET ROLE v_writer;

-- errors, each with its SQLSTATE, nothing half-done
SELECT try($$SELECT des.stage('ds', 'feature/x', '../x', 'x')$$);
SELECT try($$SELECT des.stage('ds', 'feature/x', 'a//b', 'x')$$);
SELECT try($$SELECT des.stage('ds', 'feature/x', '/abs', 'x')$$);
SELECT try($$SELECT des.stage('ds', 'feature/x', 'a/./b', 'x')$$);
SELECT try($$SELECT des.stage('ds', 'feature/x', E'tab\there', 'x')$$);
SELECT try($$SELECT des.stage('ds', 'feature/x', 'ok.txt', 'x', 2048)$$);
SELECT try($$SELECT des.stage('ds', 'main', 'ok.txt', 'x')$$);
SELECT try($$SELECT des.stage('ds', 'nobranch', 'ok.txt', 'x')$$);
SELECT try($$SELECT des.stage('nope', 'main', 'ok.txt', 'x')$$);
SELECT try($$SELECT des.stage('ds', 'main', NULL, 'x')$$);
SELECT try($$SELECT des.stage_many('ds', 'main', ARRAY['a'], ARRAY['x', 'y']::bytea[])$$);
SELECT try($$SELECT des.stage_remove('ds', 'feature/x', 'no/such/file')$$);
SELECT try($$SELECT des.stage('ds', 'feature/x', 'data', 'a file over a directory')$$);
SELECT try($$SELECT des.stage_many('ds', 'feature/x', ARRAY['n/a', 'n/a'], ARRAY['x', 'y']::bytea[])$$);
SELECT try($$SELECT des.stage_many('ds', 'feature/x', ARRAY['n', 'n/a'], ARRAY['x', 'y']::bytea[])$$);
SELECT des.commit('ds', 'feature/x', 'adds new.txt') IS NOT NULL AS committed;
SELECT try($$SELECT des.commit('ds', 'feature/x', 'nothing')$$);
SELECT try($$SELECT des.commit('ds', 'main', 'protected')$$);
SELECT try($$SELECT des.stage('ds', 'feature/x', 'new.txt/deeper', 'x')$$) AS staged_conflict;
SELECT des.stage_remove('ds', 'feature/x', 'new.txt');
SELECT des.stage('ds', 'feature/x', 'new.txt/deeper', 'x') IS NOT NULL AS staged_after_removal;
SELECT des.unstage('ds', 'feature/x', 'new.txt') AS unstaged;
SELECT try($$SELECT des.read('ds/main', 'nope')$$);
SELECT try($$SELECT des.read('ds/main', 'data')$$);
SELECT try($$SELECT des.read('ds/main', 'data/a.txt', -1, 2)$$);
SELECT try($$SELECT des.read('0000000000', 'x')$$);
SELECT try($$SELECT des.read('ds', 'x')$$);
SELECT try($$SELECT des.read('ds/nobranch', 'x')$$);
SELECT try($$SELECT des.read('ds@nolabel', 'x')$$);
SELECT try($$SELECT des.read('ds/main@{not a time}', 'x')$$);
SELECT try($$SELECT des.read('ds/main@{1999-01-01}', 'x')$$);
SELECT try($$SELECT des.branch_create('ds', 'feature/x')$$);
SELECT try($$SELECT des.branch_create('ds', 'bad..name/..')$$);
SELECT try($$SELECT des.branch_create('ds', 'x', 'nope/main')$$);
SELECT try($$SELECT des.branch_delete('ds', 'main')$$);
SELECT try($$SELECT des.branch_delete('ds', 'none')$$);
SELECT des.branch_create('ds', 'frozen');
SELECT try($$SELECT des.branch_protect('ds', 'frozen')$$);
SELECT try($$SELECT des.branch_delete('ds', 'frozen')$$);
SELECT try($$SELECT des.label_set('ds', 'bad label', 'ds/main')$$);
SELECT try($$SELECT des.label_delete('ds', 'none')$$);
-- server directories need the server-file roles, as COPY does
SELECT try($$SELECT des.bundle_upload('ds', 'feature/x', '/tmp', 'from a server directory')$$);
SELECT try($$SELECT * FROM des.download('ds/main', '/tmp/pg_des_never_written')$$);
SELECT count(*) AS uploads_running FROM des.stat_uploads;
-- the tables are written only through the functions
SELECT try($$INSERT INTO des.dataset_branches (repo_id, name) SELECT id, 'direct' FROM des.repositories WHERE name = 'ds'$$);
SELECT try($$UPDATE des.dataset_branches SET head = NULL$$);
SELECT try($$DELETE FROM des.dataset_bundles$$);
SELECT try($$DELETE FROM des.read_log$$);

-- a reader reads, and may not write
SET ROLE v_reader;
SELECT count(*) > 0 AS sees_files FROM des.files('ds/main');
SELECT try($$SELECT des.stage('ds', 'feature/x', 'r.txt', 'x')$$);
SELECT try($$SELECT des.label_set('ds', 'mine', 'ds/main')$$);
SELECT try($$SELECT des.branch_protect('ds', 'main', false)$$);
SELECT try($$SELECT des.commit('ds', 'feature/x', 'x')$$);
SELECT count(*) AS own_reads FROM des.read_log;

-- another tenant sees nothing of it, through any function or table
SET ROLE v_other;
SELECT try($$SELECT * FROM des.files('ds/main')$$);
SELECT try($$SELECT des.read('$$ || :'c1' || $$', 'data/a.txt')$$) ~ '^42704: no bundle has id' AS by_id_unknown;
SELECT try($$SELECT des.read('$$ || left(:'c1', 12) || $$', 'data/a.txt')$$) ~ '^42704: no bundle has id' AS by_prefix_unknown;
SELECT (SELECT count(*) FROM des.dataset_bundles) AS bundles, (SELECT count(*) FROM des.dataset_dirs) AS dirs,
       (SELECT count(*) FROM des.dataset_contents) AS contents, (SELECT count(*) FROM des.dataset_branches) AS branches,
       (SELECT count(*) FROM des.dataset_labels) AS labels, (SELECT count(*) FROM des.staged) AS staged,
       (SELECT count(*) FROM des.branch_log) AS branch_log, (SELECT count(*) FROM des.label_log) AS label_log,
       (SELECT count(*) FROM des.read_log) AS read_log, (SELECT count(*) FROM des.bundles) AS bundles_view;
SELECT des.repo_create('other', '', 'vt_b') > 0 AS own_repo;
SELECT des.stage('other', 'main', 'x', 'alpha') IS NOT NULL AS staged;
SELECT des.commit('other', 'main', 'mine') IS NOT NULL AS committed;
SELECT path FROM des.files('other/main');
RESET ROLE;

-- the logs: every change and every read, with who and which function
SELECT role, action, detail - 'bundle' - 'head' AS detail FROM des.write_log
 WHERE repo_id = (SELECT id FROM des.repositories WHERE name = 'ds') ORDER BY id;
SELECT role, function, path, ref ~ '^[0-9a-f]+$' AS by_id, bundle_id IS NULL AS no_bundle
  FROM des.read_log WHERE repo_id = (SELECT id FROM des.repositories WHERE name = 'ds') ORDER BY id;

-- a rolled-back stage leaves no row; its completed container is an orphan
SELECT count(*) AS orphans_before FROM des.orphans() WHERE location ~ '/datasets/';
BEGIN;
SELECT des.stage('ds', 'feature/x', 'rolled/back.bin', 'bytes no one else has') IS NOT NULL AS staged;
SELECT count(*) AS orphans_while_writing FROM des.orphans() WHERE location ~ '/datasets/';
ROLLBACK;
SELECT count(*) AS staged_after FROM des.staged WHERE path = 'rolled/back.bin';
SELECT count(*) AS orphans_after FROM des.orphans() WHERE location ~ '/datasets/';
SELECT count(*) AS removed FROM des.orphans(remove => true) WHERE location ~ '/datasets/' AND removed;

-- a staged file names a stored content (checked per statement, as a
-- foreign key would check each row): rows naming none are refused, a good
-- row in the same statement with them; deleting a content deletes the
-- staged rows naming it (as ON DELETE CASCADE would)
SELECT des.stage('ds', 'feature/x', 'fk/kept.txt', 'bytes the rule keeps') IS NOT NULL AS staged;
SELECT try($$INSERT INTO des.staged (repo_id, branch, path, op, mode, size, content, staged_by)
             SELECT s.repo_id, s.branch, p.path, 'put', 420, 20, p.content, 'regress'
               FROM des.staged s,
                    (VALUES ('fk/good.txt', (SELECT content FROM des.staged WHERE path = 'fk/kept.txt')),
                            ('fk/none.txt', '\x00'::bytea || substr((SELECT content FROM des.staged WHERE path = 'fk/kept.txt'), 2))) p(path, content)
              WHERE s.path = 'fk/kept.txt'$$) AS insert_missing;
SELECT try($$UPDATE des.staged SET content = des.blake2b('no such content') WHERE path = 'fk/kept.txt'$$) AS update_missing;
SELECT count(*) AS fk_rows FROM des.staged WHERE path LIKE 'fk/%';
BEGIN;
DELETE FROM des.dataset_contents c USING des.staged s
 WHERE s.path = 'fk/kept.txt' AND c.repo_id = s.repo_id AND c.hash = s.content;
SELECT count(*) AS staged_left FROM des.staged WHERE path = 'fk/kept.txt';
ROLLBACK;
SELECT des.unstage('ds', 'feature/x', 'fk/kept.txt');

-- a repo's deletion takes its versions with it
SELECT des.repo_delete('other');
SELECT count(*) FROM des.dataset_bundles b WHERE NOT EXISTS (SELECT FROM des.repositories r WHERE r.id = b.repo_id);
