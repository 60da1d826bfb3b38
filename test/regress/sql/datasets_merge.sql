-- Merges of branches (des.merge: nothing to do, fast-forwards, three-way
-- merges with and without conflicts, the strategies, protected targets) and
-- verification of bundles from storage (des.verify_bundle, on good and on
-- corrupted data), with every error and its SQLSTATE. Bundle ids depend on
-- the time of a commit, so they are compared, never printed; the problems
-- found print hashes and container locations masked.
SET client_min_messages = warning;
CREATE OR REPLACE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- the same, with the error's detail
CREATE FUNCTION try_detail(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    detail text;
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RETURN SQLSTATE || ': ' || SQLERRM || E'\n' || detail;
END $$;
-- a branch's files and their contents
CREATE FUNCTION files_of(ref text) RETURNS TABLE (path text, mode text, content text) LANGUAGE sql AS $$
    SELECT f.path, to_char(f.mode, 'FM999'), convert_from(des.read(ref, f.path), 'UTF8')
      FROM des.files(ref) f WHERE f.kind = 'file' ORDER BY f.path COLLATE "C"
$$;
-- what des.verify_bundle finds (path: NULL for the bundle's header and row, '' for the root
-- directory), hashes and container locations masked
CREATE FUNCTION problems(ref text) RETURNS TABLE (path text, problem text) LANGUAGE sql AS $$
    SELECT quote_nullable(v.path), regexp_replace(regexp_replace(v.problem, '[0-9a-f]{64}', '<hash>', 'g'),
                                  '"[^"]*/datasets/[^"]*"', '"<container>"', 'g')
      FROM des.verify_bundle(ref) v ORDER BY v.path COLLATE "C" NULLS FIRST, 2
$$;
GRANT EXECUTE ON FUNCTION try(text), try_detail(text), files_of(text), problems(text) TO PUBLIC;
CREATE ROLE m_writer;
CREATE ROLE m_reader;
CREATE ROLE m_other;
SELECT des.context_create('mt') > 0 AS mt, des.context_create('mt_other') > 0 AS mt_other;
SELECT des.grant('context:mt', 'm_writer', 'write');
SELECT des.grant('context:mt_other', 'm_other', 'write');

SET ROLE m_writer;
SELECT des.repo_create('mg', 'merges', 'mt') > 0 AS created;
SELECT des.grant('repo:mg', 'm_reader', 'read');
-- branches made before the first commit have no commit either
SELECT des.branch_create('mg', 'empty'), des.branch_create('mg', 'fresh');
SELECT des.stage_many('mg', 'main', ARRAY['a.txt', 'b.txt', 'docs/readme', 'docs/old', 'lib/x', 'lib/y', 'tools/run.sh'],
                      ARRAY['alpha', 'beta', 'read me', 'old', 'x', 'y', '#!/bin/sh']::bytea[],
                      ARRAY[420, 420, 420, 420, 420, 420, 493]);
SELECT des.commit('mg', 'main', 'base') AS base \gset

-- nothing to merge: the source has no commit
SELECT try($$SELECT des.merge('mg', 'empty', 'main', 'nothing')$$);
-- a target with no commit is fast-forwarded
SELECT des.merge('mg', 'main', 'fresh', 'into an empty branch') = :'base' AS fast_forward;
SELECT head = :'base' AS at_base FROM des.branches WHERE repo = 'mg' AND branch = 'fresh';

-- fast-forward: the target is an ancestor of the source
SELECT des.branch_create('mg', 'ff');
SELECT des.stage('mg', 'ff', 'ff.txt', 'fast') IS NOT NULL AS staged;
SELECT des.commit('mg', 'ff', 'on ff') AS ff1 \gset
SELECT des.merge('mg', 'ff', 'main', 'not used by a fast-forward') = :'ff1' AS fast_forward;
SELECT head = :'ff1' AS moved FROM des.branches WHERE repo = 'mg' AND branch = 'main';
SELECT count(*) AS no_new_bundle FROM des.bundles WHERE repo = 'mg' AND message = 'not used by a fast-forward';
SELECT encode(old_head, 'hex') = :'base' AS from_base, encode(new_head, 'hex') = :'ff1' AS to_ff1, reason, role
  FROM des.branch_log WHERE branch = 'main' AND repo_id = (SELECT id FROM des.repositories WHERE name = 'mg')
 ORDER BY id DESC LIMIT 1;

-- already merged: the source is the target's head or an ancestor of it; nothing changes
SELECT des.branch_create('mg', 'old', :'base');
SELECT des.merge('mg', 'ff', 'main', 'again') = :'ff1' AS unchanged,
       des.merge('mg', 'old', 'main', 'an ancestor') = :'ff1' AS unchanged_too,
       des.merge('mg', 'main', 'main', 'itself') = :'ff1' AS itself;
SELECT count(*) AS merges_logged FROM des.write_log WHERE action = 'merge'
   AND repo_id = (SELECT id FROM des.repositories WHERE name = 'mg');

-- a three-way merge: both branches changed since their merge base (ff1)
SELECT des.branch_create('mg', 'feature');
SELECT des.stage_many('mg', 'feature', ARRAY['a.txt', 'docs/added', 'lib/z', 'same.txt', 'new/deep/file.txt'],
                      ARRAY['alpha, from feature', 'added', 'z', 'same', 'deep']::bytea[]);
SELECT des.stage('mg', 'feature', 'tools/run.sh', '#!/bin/sh', 448) IS NOT NULL AS mode_only;
SELECT des.stage_remove('mg', 'feature', 'docs/old');
SELECT des.commit('mg', 'feature', 'feature work') AS f1 \gset
SELECT des.stage('mg', 'main', 'b.txt', 'beta, from main') IS NOT NULL AS staged;
SELECT des.stage('mg', 'main', 'same.txt', 'same') IS NOT NULL AS same_change;
SELECT des.stage_remove('mg', 'main', 'docs');
SELECT des.stage_remove('mg', 'main', 'lib/x');
SELECT des.commit('mg', 'main', 'main work') AS m1 \gset
-- something staged on the target stays staged
SELECT des.stage('mg', 'main', 'staged.txt', 'not committed') IS NOT NULL AS staged;
SELECT des.merge('mg', 'feature', 'main', 'merge feature') AS mg1 \gset
SELECT :'mg1' NOT IN (:'m1', :'f1') AS new_bundle;
SELECT head = :'mg1' AS moved, staged FROM des.branches WHERE repo = 'mg' AND branch = 'main';
SELECT parents = ARRAY[:'m1', :'f1'] AS two_parents, author, message FROM des.bundles WHERE id = :'mg1';
-- each side's changes are in, "docs" keeps what feature added in it although main removed it
SELECT * FROM files_of(:'mg1');
SELECT path, change FROM des.diff(:'m1', :'mg1');
SELECT path, change FROM des.diff(:'f1', :'mg1');
SELECT path FROM des.files('mg/main') WHERE path = 'staged.txt';
SELECT des.unstage('mg', 'main', 'staged.txt') AS unstaged;
SELECT bundle_id = :'mg1' AS newest, message FROM des.log('mg/main') LIMIT 1;
SELECT (SELECT total_size FROM des.bundles WHERE id = :'mg1') = (SELECT sum(size) FROM des.files(:'mg1') WHERE kind = 'file') AS total_ok;
-- merging again changes nothing; the other way round is a fast-forward
SELECT des.merge('mg', 'feature', 'main', 'again') = :'mg1' AS unchanged;
SELECT des.merge('mg', 'main', 'feature', 'catch up') = :'mg1' AS fast_forward;

-- conflicts: paths changed differently on both sides
SELECT des.branch_create('mg', 'c');
SELECT des.stage_many('mg', 'c', ARRAY['a.txt', 'clash', 'lib/y', 'c-only.txt'],
                      ARRAY['alpha, from c', 'a file on c', 'y, from c', 'c']::bytea[]);
SELECT des.stage_remove('mg', 'c', 'b.txt');
SELECT des.commit('mg', 'c', 'c work') AS c1 \gset
SELECT des.stage_many('mg', 'main', ARRAY['a.txt', 'b.txt', 'clash/inner', 'main-only.txt'],
                      ARRAY['alpha, from main', 'beta, again', 'a directory on main', 'main']::bytea[]);
-- lib: a file on main, while c changed lib/y in it
SELECT des.stage_remove('mg', 'main', 'lib/y'), des.stage_remove('mg', 'main', 'lib/z');
SELECT des.stage('mg', 'main', 'lib', 'lib is a file now') IS NOT NULL AS staged;
SELECT des.commit('mg', 'main', 'main again') AS m2 \gset
SELECT des.branch_create('mg', 'main2');
SELECT try_detail($$SELECT des.merge('mg', 'c', 'main', 'conflicting')$$);
SELECT head = :'m2' AS unchanged FROM des.branches WHERE repo = 'mg' AND branch = 'main';
-- strategy 'ours' keeps the target's side of each conflict, the rest merges
SELECT des.merge('mg', 'c', 'main', 'ours wins', 'ours') AS ours \gset
SELECT * FROM files_of(:'ours');
-- strategy 'theirs' takes the source's side
SELECT des.merge('mg', 'c', 'main2', 'theirs win', 'theirs') AS theirs \gset
SELECT * FROM files_of(:'theirs');
SELECT message, parents = ARRAY[:'m2', :'c1'] AS two_parents FROM des.bundles WHERE id IN (:'ours', :'theirs') ORDER BY message;
SELECT count(*) AS problems FROM des.verify_bundle(:'ours');
-- unrelated histories merge against the empty tree: what both added alike is no conflict
SELECT des.stage('mg', 'empty', 'a.txt', 'alpha') IS NOT NULL AS same_as_base,
       des.stage('mg', 'empty', 'unrelated.txt', 'u') IS NOT NULL AS staged;
SELECT des.commit('mg', 'empty', 'a history of its own') IS NOT NULL AS committed;
SELECT des.merge('mg', 'empty', 'fresh', 'unrelated') IS NOT NULL AS merged;
SELECT * FROM files_of('mg/fresh');

-- a protected branch refuses commits but accepts merges
RESET ROLE;
SELECT des.branch_protect('mg', 'main');
SET ROLE m_writer;
SELECT des.branch_create('mg', 'p1'), des.branch_create('mg', 'p2');
SELECT des.stage('mg', 'p1', 'p1.txt', 'p1') IS NOT NULL AS staged, des.stage('mg', 'p2', 'p2.txt', 'p2') IS NOT NULL AS staged;
SELECT des.commit('mg', 'p1', 'p1') IS NOT NULL AS committed, des.commit('mg', 'p2', 'p2') IS NOT NULL AS committed;
SELECT try($$SELECT des.stage('mg', 'main', 'direct.txt', 'direct')$$);
SELECT try($$SELECT des.commit('mg', 'main', 'direct')$$);
SELECT des.merge('mg', 'p1', 'main', 'p1 in') = (SELECT head FROM des.branches WHERE repo = 'mg' AND branch = 'p1') AS fast_forward;
SELECT des.merge('mg', 'p2', 'main', 'p2 in') IS NOT NULL AS merged;
SELECT path FROM files_of('mg/main') WHERE path LIKE 'p_.txt';
SELECT protected FROM des.branches WHERE repo = 'mg' AND branch = 'main';

-- errors
SELECT try($$SELECT des.merge('nope', 'c', 'main', 'x')$$);
SELECT try($$SELECT des.merge('mg', 'nobranch', 'main', 'x')$$);
SELECT try($$SELECT des.merge('mg', 'c', 'nobranch', 'x')$$);
SELECT try($$SELECT des.merge('mg', 'c', 'main', 'x', 'mine')$$);
SELECT try($$SELECT des.merge('mg', 'c', 'main', NULL)$$);
SET ROLE m_reader;
SELECT try($$SELECT des.merge('mg', 'c', 'main', 'x')$$);
SET ROLE m_other;
SELECT try($$SELECT des.merge('mg', 'c', 'main', 'x')$$);
RESET ROLE;

-- the logs: every merge that did something, with its kind, strategy and conflicts
-- (has_base: NULL for a fast-forward, false for unrelated histories)
SELECT role, detail - 'bundle' - 'base' AS detail, detail->>'base' <> '' AS has_base FROM des.write_log
 WHERE action = 'merge' AND repo_id = (SELECT id FROM des.repositories WHERE name = 'mg') ORDER BY id;
SELECT detail->>'base' = :'ff1' AS base_is_ff1 FROM des.write_log
 WHERE action = 'merge' AND detail->>'bundle' = :'mg1' AND detail ? 'base';
SELECT reason, count(*) FROM des.branch_log
 WHERE repo_id = (SELECT id FROM des.repositories WHERE name = 'mg') GROUP BY reason ORDER BY reason;

-- ---- verification ----
SET ROLE m_writer;
SELECT des.repo_create('vf', 'verified', 'mt') > 0 AS created;
SELECT des.grant('repo:vf', 'm_reader', 'read');
SELECT des.branch_create('vf', 'nothing');
-- separate calls: each file's chunks in a container of their own; "copy" and "sub/deeper" are the same directory
SELECT des.stage('vf', 'main', 'a-copy.txt', 'verify: one') IS NOT NULL AS staged;
SELECT des.stage('vf', 'main', 'top.txt', 'verify: top') IS NOT NULL AS staged;
SELECT des.stage('vf', 'main', 'sub/one.txt', 'verify: one') IS NOT NULL AS staged;
SELECT des.stage('vf', 'main', 'sub/deeper/two.txt', 'verify: two!!') IS NOT NULL AS staged;
SELECT des.stage('vf', 'main', 'copy/two.txt', 'verify: two!!') IS NOT NULL AS staged;
SELECT des.stage('vf', 'main', 'big.bin', (SELECT string_agg(md5('verify' || i), '')::bytea FROM generate_series(1, 20000) i)) IS NOT NULL AS staged;
SELECT des.commit('vf', 'main', 'to verify', 'v1') AS v1 \gset
SELECT chunks > 1 AS several_chunks FROM des.files('vf/main') WHERE path = 'big.bin';
-- a good bundle: no row, by every kind of ref
SELECT count(*) AS by_branch FROM des.verify_bundle('vf/main');
SELECT count(*) AS by_label FROM des.verify_bundle('vf@v1');
SELECT count(*) AS by_id FROM des.verify_bundle(:'v1');
SELECT count(*) AS by_prefix FROM des.verify_bundle(left(:'v1', 10));
SELECT count(*) AS merged FROM des.verify_bundle(:'mg1');
-- a branch is its head: staged changes are not verified
SELECT des.stage('vf', 'main', 'staged-only.txt', 'x') IS NOT NULL AS staged;
SELECT count(*) AS listed_with_staged FROM des.files('vf/main') WHERE path = 'staged-only.txt';
SELECT count(*) AS head_only FROM des.verify_bundle('vf/main');
SELECT des.unstage('vf', 'main', 'staged-only.txt') AS unstaged;
SELECT try($$SELECT * FROM des.verify_bundle('vf/nothing')$$);
SELECT try($$SELECT * FROM des.verify_bundle('vf/nobranch')$$);
SELECT try($$SELECT * FROM des.verify_bundle(NULL)$$);
SET ROLE m_reader;
SELECT count(*) AS reader_verifies FROM des.verify_bundle('vf/main');
SET ROLE m_other;
SELECT try($$SELECT * FROM des.verify_bundle('vf/main')$$);
SELECT try($$SELECT * FROM des.verify_bundle('$$ || :'v1' || $$')$$) ~ '^42704: no bundle has id' AS by_id_unknown;
RESET ROLE;
SELECT role, ref ~ '^[0-9a-f]+$' AS by_id, encode(bundle_id, 'hex') = :'v1' AS bundle, path
  FROM des.read_log WHERE function = 'des.verify_bundle'
   AND repo_id = (SELECT id FROM des.repositories WHERE name = 'vf') ORDER BY id;

-- corruption, as a superuser, each undone: every problem is a row, not an error
SELECT id AS vf FROM des.repositories WHERE name = 'vf' \gset
SELECT content_hash AS top FROM des.files('vf/main') WHERE path = 'top.txt' \gset
SELECT content_hash AS two FROM des.files('vf/main') WHERE path = 'copy/two.txt' \gset
-- the bundle row: its header, and columns that must say what it says
BEGIN;
UPDATE des.dataset_bundles SET message = 'tampered', total_size = total_size + 1 WHERE id = decode(:'v1', 'hex');
SELECT * FROM problems('vf/main');
ROLLBACK;
BEGIN;
UPDATE des.dataset_bundles SET header = header || '\x00'::bytea WHERE id = decode(:'v1', 'hex');
SELECT * FROM problems('vf/main');
ROLLBACK;
-- directories: another's encoding (the shared directory is verified once, at its first path), one missing, a wrong size
BEGIN;
UPDATE des.dataset_dirs SET encoding = (SELECT b.header FROM des.dataset_bundles b WHERE b.id = decode(:'v1', 'hex'))
 WHERE repo_id = :vf AND total_size = 13;
SELECT * FROM problems('vf/main');
ROLLBACK;
BEGIN;
DELETE FROM des.dataset_dirs WHERE repo_id = :vf AND total_size = 13;
SELECT * FROM problems('vf/main');
ROLLBACK;
BEGIN;
UPDATE des.dataset_dirs SET total_size = 12 WHERE repo_id = :vf AND total_size = 13;
SELECT * FROM problems('vf/main');
ROLLBACK;
-- chunk lists: another file's list, one missing, a wrong size column
BEGIN;
UPDATE des.dataset_contents SET chunks = (SELECT c.chunks FROM des.dataset_contents c WHERE c.repo_id = :vf AND c.hash = decode(:'two', 'hex'))
 WHERE repo_id = :vf AND hash = decode(:'top', 'hex');
DELETE FROM des.dataset_contents WHERE repo_id = :vf AND hash = decode(:'two', 'hex');
SELECT * FROM problems('vf/main');
ROLLBACK;
BEGIN;
UPDATE des.dataset_contents SET size = size + 1, chunk_count = chunk_count + 1 WHERE repo_id = :vf AND hash = decode(:'top', 'hex');
SELECT * FROM problems('vf/main');
ROLLBACK;
-- chunks: des.blobs pointing at other bytes (a chunk shared by two files is read once), recorded with
-- another size, or missing; a container file that is gone
BEGIN;
UPDATE des.blobs SET data_offset = data_offset + 1 WHERE hash = des.blake2b('verify: one');
UPDATE des.blobs SET stored_size = stored_size + 1 WHERE hash = des.blake2b('verify: top');
DELETE FROM des.blobs WHERE hash = des.blake2b('verify: two!!');
SELECT * FROM problems('vf/main');
ROLLBACK;
BEGIN;
UPDATE des.containers SET location = location || '.gone'
 WHERE id = (SELECT container_id FROM des.blobs WHERE hash = des.blake2b('verify: top'));
SELECT * FROM problems('vf/main');
ROLLBACK;
-- the bytes of the big file's chunks, read back after the rollback
SELECT count(*) AS verified_again FROM des.verify_bundle('vf/main');
