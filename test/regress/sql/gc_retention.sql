-- Retention of versioned datasets: rules per repo and per branch, labels,
-- des.squash (dry run, then real: removed bundles, parents rewritten to the
-- nearest kept ancestor, everything kept still reads and verifies), and
-- des.gc then pruning the trees and chunks only removed bundles had.
-- Errors and privileges. Bundle ids depend on time: compared, never printed.
SET client_min_messages = warning;
CREATE OR REPLACE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
GRANT EXECUTE ON FUNCTION try(text) TO PUBLIC;
CREATE ROLE ret_writer;
SELECT des.context_create('ret_ctx') > 0 AS ctx;
SELECT des.grant('context:ret_ctx', 'ret_writer', 'write');

-- history: main c1..c5 (c2 labelled), dev branched at c3 with d1, d2; every
-- commit rewrites data.txt with bytes of its own and adds a file naming it
SELECT des.repo_create('ret', 'retention', 'ret_ctx') > 0 AS created;
CREATE FUNCTION ret_commit(branch text, name text) RETURNS text LANGUAGE sql AS $$
    SELECT des.stage('ret', branch, 'data.txt', convert_to('the bytes of ' || name || ' only', 'UTF8')) IS NOT NULL
           AND des.stage('ret', branch, name || '.txt', convert_to(name, 'UTF8')) IS NOT NULL
           AND des.commit('ret', branch, name) IS NOT NULL;
    SELECT name;
$$;
SELECT ret_commit('main', 'c1'), ret_commit('main', 'c2'), ret_commit('main', 'c3');
SELECT des.label_set('ret', 'v2', (SELECT bundle_id FROM des.log('ret/main') WHERE message = 'c2'));
SELECT des.branch_create('ret', 'dev', 'ret/main');
SELECT ret_commit('main', 'c4'), ret_commit('main', 'c5'), ret_commit('dev', 'd1'), ret_commit('dev', 'd2');
CREATE TEMP TABLE ids AS SELECT message AS name, bundle_id FROM des.log('ret/main') UNION SELECT message, bundle_id FROM des.log('ret/dev');
SELECT count(*) AS bundles FROM ids;

-- no rule: squash keeps everything
SELECT count(*) AS nothing_to_squash FROM des.squash('ret');

-- rules: the repo keeps the last 2, dev only its last one
SELECT des.retention_set('ret', keep_last => 2);
SELECT des.retention_set('ret', 'dev', keep_last => 1);
SELECT repo, branch, keep_last, keep_within, keep_labels FROM des.retention WHERE repo = 'ret' ORDER BY branch NULLS FIRST;

-- the dry run: c1, c3, d1 go (c2 stays: labelled; c4, c5 by main's rule; d2
-- is dev's head); the parents of c2, c4 and d2 are rewritten
SELECT s.action, i.name, (SELECT string_agg(j.name, ',' ORDER BY j.name) FROM unnest(s.parents) p JOIN ids j ON j.bundle_id = p) AS parents
  FROM des.squash('ret') s JOIN ids i ON i.bundle_id = s.bundle_id ORDER BY s.action, i.name;
SELECT count(*) AS still_all FROM des.bundles WHERE repo = 'ret';

-- not an administrator: neither rules nor squash
SET ROLE ret_writer;
SELECT try($$SELECT des.squash('ret', false)$$);
SELECT try($$SELECT des.retention_set('ret', keep_last => 1)$$);
SELECT try($$DELETE FROM des.dataset_retention$$), (SELECT count(*) FROM des.retention) AS rules_seen;
RESET ROLE;

-- the real run
SELECT s.action, i.name FROM des.squash('ret', dry_run => false) s JOIN ids i ON i.bundle_id = s.bundle_id ORDER BY 1, 2;
SELECT (SELECT string_agg(i.name, ',' ORDER BY i.name) FROM des.bundles b JOIN ids i ON i.bundle_id = b.id WHERE b.repo = 'ret') AS kept;
-- history now: main c5, c4, c2; dev d2, c2
SELECT string_agg(message, ',' ORDER BY created_at DESC) AS main_log FROM des.log('ret/main');
SELECT string_agg(message, ',' ORDER BY created_at DESC) AS dev_log FROM des.log('ret/dev');
-- ids did not change: every kept bundle verifies from its id (the header
-- keeps its parents; history_parents has the new ones)
SELECT i.name, count(v.*) AS problems FROM des.bundles b JOIN ids i ON i.bundle_id = b.id
  LEFT JOIN LATERAL des.verify_bundle(b.id) v ON true WHERE b.repo = 'ret' GROUP BY i.name ORDER BY i.name;
SELECT i.name, cardinality(d.parents) AS header_parents, cardinality(d.history_parents) AS history_parents
  FROM des.dataset_bundles d JOIN ids i ON i.bundle_id = encode(d.id, 'hex') WHERE d.history_parents IS NOT NULL ORDER BY 1;
-- the files of kept bundles read back; a removed bundle is gone
SELECT convert_from(des.read('ret/main', 'data.txt'), 'UTF8') AS head, convert_from(des.read('ret@v2', 'data.txt'), 'UTF8') AS v2,
       convert_from(des.read('ret/main', 'c1.txt'), 'UTF8') AS c1_file_in_head;
SELECT try(format('SELECT des.files(%L)', (SELECT bundle_id FROM ids WHERE name = 'c3'))) LIKE '42704%' AS c3_gone;
SELECT action, detail FROM des.write_log WHERE action = 'squash' AND repo_id = (SELECT id FROM des.repositories WHERE name = 'ret');
-- a merge base across removed history: dev into main (three-way: c2 is the
-- base now; both changed data.txt, so it conflicts unless a side is chosen)
SELECT try($$SELECT des.merge('ret', 'dev', 'main', 'dev into main')$$) LIKE '23000%' AS conflict;
SELECT des.merge('ret', 'dev', 'main', 'dev into main', 'theirs') IS NOT NULL AS merged;
SELECT convert_from(des.read('ret/main', 'data.txt'), 'UTF8') AS data_on_main, convert_from(des.read('ret/main', 'd2.txt'), 'UTF8') AS d2_on_main;

-- des.gc prunes what only removed bundles named: the data.txt of c1, c3
-- and d1 (and their trees); their chunks then go. c2's stays (labelled).
CREATE TEMP TABLE chunks AS SELECT n, des.blake2b(convert_to('the bytes of ' || n || ' only', 'UTF8')) AS h
  FROM unnest('{c1,c2,c3,c4,c5,d1,d2}'::text[]) n;
SELECT string_agg(n, ',' ORDER BY n) AS stored FROM chunks WHERE EXISTS (SELECT FROM des.blobs b WHERE b.hash = h);
SELECT action, location, blobs > 0 AS some FROM des.gc() WHERE action = 'prune' AND location = 'repo:ret';
SELECT action, location FROM des.gc(dry_run => false) WHERE action = 'prune' AND location = 'repo:ret';
SELECT string_agg(n, ',' ORDER BY n) AS stored FROM chunks WHERE EXISTS (SELECT FROM des.blobs b WHERE b.hash = h);
SELECT convert_from(des.read('ret@v2', 'data.txt'), 'UTF8') AS v2_still_reads;
SELECT count(*) AS nothing_left FROM des.gc() WHERE location = 'repo:ret';

-- keep_labels => false: a label on a bundle no rule keeps goes with it, in its history
SELECT des.label_set('ret', 'old', (SELECT bundle_id FROM des.log('ret/main') WHERE message = 'c4' LIMIT 1));
SELECT ret_commit('main', 'c6'), ret_commit('main', 'c7');
SELECT des.retention_set('ret', keep_last => 1, keep_labels => false);
SELECT des.retention_delete('ret', 'dev');
SELECT s.action, s.message FROM des.squash('ret', false) s WHERE s.action = 'remove' ORDER BY s.created_at;
SELECT label FROM des.labels WHERE repo = 'ret' ORDER BY 1;
SELECT label, old_bundle IS NOT NULL AS had, new_bundle IS NULL AS removed FROM des.label_log
 WHERE repo_id = (SELECT id FROM des.repositories WHERE name = 'ret') AND new_bundle IS NULL ORDER BY label;

-- keep_within: everything here is younger than a day
SELECT des.retention_set('ret', keep_within => '1 day');
SELECT count(*) AS none_older_than_a_day FROM des.squash('ret') WHERE action = 'remove';

-- rule errors
SELECT try($$SELECT des.retention_set('ret')$$);
SELECT try($$SELECT des.retention_set('ret', keep_last => 0)$$);
SELECT try($$SELECT des.retention_set('ret', 'nope', keep_last => 1)$$);
SELECT try($$SELECT des.retention_set('nope', keep_last => 1)$$);
SELECT try($$SELECT des.squash('nope')$$);
SELECT des.retention_delete('ret') AS had_rule, des.retention_delete('ret') AS had_it_again;

SELECT des.repo_delete('ret');
SELECT count(*) >= 0 AS collected FROM des.gc(dry_run => false);
DROP FUNCTION ret_commit(text, text);
DROP ROLE ret_writer;
