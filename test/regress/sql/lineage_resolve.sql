-- gros:// URIs resolved into bundles (des.resolve, and every function that
-- takes a ref): each tag kind, by day and position across many commits, the
-- branch history kept by commits, merges, branch creation and des.squash,
-- and every error.
SET client_min_messages = warning;
CREATE OR REPLACE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    detail text;
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RETURN SQLSTATE || ': ' || SQLERRM || CASE WHEN detail <> '' THEN ' / ' || detail ELSE '' END;
END $$;
-- the ids of a repo's bundles as v1, v2, ... (in commit order), for readable output
CREATE TEMP TABLE v (n int, id text);
CREATE FUNCTION vname(id text) RETURNS text LANGUAGE sql AS $$
    SELECT coalesce((SELECT 'v' || v.n FROM v WHERE v.id = vname.id), id)
$$;

SELECT des.repo_create('lin', 'lineage resolution') > 0 AS created;
-- twelve commits on main, each changing one file
DO $$
BEGIN
    FOR i IN 1 .. 12 LOOP
        PERFORM des.stage('lin', 'main', 'data.csv', convert_to(format('day,amount\n%s,%s\n', i, i * 10), 'UTF8'));
        INSERT INTO v VALUES (i, des.commit('lin', 'main', format('version %s', i)));
    END LOOP;
END $$;
SELECT count(*) AS bundles FROM v;
-- the branch's history, kept by the commits: positions 0..11 in commit order
SELECT bool_and(vname(encode(h.bundle_id, 'hex')) = 'v' || (h.position + 1)) AS in_order, count(*) AS positions
  FROM des.branch_history h JOIN des.repositories r ON r.id = h.repo_id WHERE r.name = 'lin' AND h.branch = 'main';

-- every tag kind
SELECT u AS uri, vname(r.bundle_id) AS bundle, r.repo, r.branch, r.kind, r.tag_kind, r.realtime, r.staged
  FROM unnest(ARRAY['gros://lin', 'gros://lin/main', 'gros://lin:', 'gros://lin/main:latest', 'GROS://lin/main:latest',
                    'gros://lin/main:0', 'gros://lin/main:1', 'gros://lin/main:11', 'gros://lin/main:-1',
                    'gros://lin/main:-2', 'gros://lin/main:-12', 'gros://lin:3']) u,
       LATERAL des.resolve(u) r;
-- a label, and an id prefix (a name of 8+ hex digits: a label first, else an id)
SELECT des.label_set('lin', 'release-1', 'gros://lin/main:4');
SELECT des.label_set('lin', 'cafe0000', 'gros://lin/main:0');
-- (the prefix is 8 digits or more, up to its first letter: all digits would be a position)
SELECT (SELECT id FROM v WHERE n = 7) AS v7,
       (SELECT left(id, greatest(8, length(substring(id FROM '^[0-9]*[a-f]')))) FROM v WHERE n = 7) AS v7short \gset
SELECT replace(replace(u, :'v7', '<v7>'), :'v7short', '<v7 prefix>') AS uri, vname(r.bundle_id) AS bundle, r.tag_kind, r.realtime
  FROM unnest(ARRAY['gros://lin:release-1', 'gros://lin/main:release-1', 'gros://lin:cafe0000',
                    'gros://lin:' || :'v7short', 'gros://lin:' || :'v7']) u,
       LATERAL des.resolve(u) r;

-- days: the commits above happened now; as if made on four days, three a day
-- (the times a commit records cannot be chosen: the test moves them)
UPDATE des.branch_history h SET committed_at = timestamptz '2024-02-27 09:00 UTC' + (h.position / 3) * interval '1 day'
                                              + (h.position % 3) * interval '4 hours'
  FROM des.repositories r WHERE r.id = h.repo_id AND r.name = 'lin';
SELECT u AS uri, vname(r.bundle_id) AS bundle, r.tag_kind
  FROM unnest(ARRAY['gros://lin/main:2024-02-27', 'gros://lin/main:2024-02-28', 'gros://lin/main:2024-02-29',
                    'gros://lin/main:2024-03-01']) u,
       LATERAL des.resolve(u) r;
-- the day in another time zone: 2024-02-28 17:00 UTC is 2024-02-29 in Tokyo
SET des.lineage_timezone = 'Asia/Tokyo';
SELECT vname((des.resolve('gros://lin/main:2024-02-29')).bundle_id) AS tokyo_feb29,
       vname((des.resolve('gros://lin/main:2024-02-28')).bundle_id) AS tokyo_feb28;
SELECT try($$SET des.lineage_timezone = 'Mars/Olympus'$$) AS bad_zone;
RESET des.lineage_timezone;

-- every function that takes a ref takes a URI
SELECT convert_from(des.read('gros://lin/main:2', 'data.csv'), 'UTF8') AS read_v3;
SELECT string_agg(path, ',') AS files FROM des.files('gros://lin:-1');
SELECT convert_from(r.data, 'UTF8') AS read_many_v12 FROM des.read_many('gros://lin', ARRAY['data.csv']) r;
SELECT count(*) AS changes FROM des.diff('gros://lin/main:0', 'gros://lin/main:latest');
-- the read log keeps the URI as written
SELECT ref, function FROM des.read_log l JOIN des.repositories r ON r.id = l.repo_id
 WHERE r.name = 'lin' AND ref LIKE 'gros:%' ORDER BY l.id;

-- a branch: created from a position, its history is its first-parent chain
SELECT des.branch_create('lin', 'feature/q1', 'gros://lin/main:5') IS NULL AS branch_created;
SELECT u AS uri, vname(r.bundle_id) AS bundle, r.branch
  FROM unnest(ARRAY['gros://lin/feature/q1', 'gros://lin/feature%2Fq1:0', 'gros://lin/feature/q1:-1']) u,
       LATERAL des.resolve(u) r;
SELECT des.stage('lin', 'feature/q1', 'q1.csv', convert_to('q\n1\n', 'UTF8')) IS NOT NULL AS staged;
INSERT INTO v VALUES (13, des.commit('lin', 'feature/q1', 'q1 work'));
SELECT vname((des.resolve('gros://lin/feature/q1:-1')).bundle_id) AS q1_latest,
       vname((des.resolve('gros://lin/feature/q1:6')).bundle_id) AS q1_pos6,
       vname((des.resolve('gros://lin/main:-1')).bundle_id) AS main_unchanged;
-- merged into main: a merge bundle's first parent is main's old head, so it is appended
INSERT INTO v SELECT 14, des.merge('lin', 'feature/q1', 'main', 'merge q1');
SELECT vname((des.resolve('gros://lin/main:-1')).bundle_id) AS main_latest,
       vname((des.resolve('gros://lin/main:12')).bundle_id) AS main_pos12,
       vname((des.resolve('gros://lin/main:-2')).bundle_id) AS main_before;
-- rows out of step with the head (as after a restore) are rebuilt on resolution
DELETE FROM des.branch_history h USING des.repositories r WHERE r.id = h.repo_id AND r.name = 'lin' AND h.branch = 'main';
SELECT vname((des.resolve('gros://lin/main:0')).bundle_id) AS rebuilt_first;
SELECT count(*) AS rebuilt_rows FROM des.branch_history h JOIN des.repositories r ON r.id = h.repo_id
 WHERE r.name = 'lin' AND h.branch = 'main';
-- only the last row lost: the history ends short of the head, and is rebuilt
DELETE FROM des.branch_history h USING des.repositories r WHERE r.id = h.repo_id AND r.name = 'lin' AND h.branch = 'main'
   AND h.position = 12;
SELECT vname((des.resolve('gros://lin/main:-1')).bundle_id) AS latest_after_loss,
       vname((des.resolve('gros://lin/main:12')).bundle_id) AS pos12_after_loss;
-- a day and a position of every row agree with the table itself (the index lookups beside SQL)
SELECT count(*) AS rows_checked,
       bool_and(vname((des.resolve('gros://lin/main:' || h.position)).bundle_id) = vname(encode(h.bundle_id, 'hex'))) AS positions_agree,
       bool_and(vname((des.resolve('gros://lin/main:' || (h.position - 13))).bundle_id) = vname(encode(h.bundle_id, 'hex'))) AS negatives_agree
  FROM des.branch_history h JOIN des.repositories r ON r.id = h.repo_id WHERE r.name = 'lin' AND h.branch = 'main';
-- a commit and resolutions in one transaction: the new bundle is the latest at once, and gone after a rollback
BEGIN;
SELECT des.stage('lin', 'main', 'data.csv', convert_to('day,amount\n99,990\n', 'UTF8')) IS NOT NULL AS staged;
INSERT INTO v SELECT 99, des.commit('lin', 'main', 'uncommitted');
SELECT vname((des.resolve('gros://lin/main:-1')).bundle_id) AS latest_in_transaction,
       vname((des.resolve('gros://lin/main:13')).bundle_id) AS pos13_in_transaction,
       vname((des.resolve('gros://lin/main:' || to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD'))).bundle_id) AS today_in_transaction;
ROLLBACK;
SELECT vname((des.resolve('gros://lin/main:-1')).bundle_id) AS latest_after_rollback,
       try($$SELECT des.resolve('gros://lin/main:13')$$) AS pos13_after_rollback;

-- des.squash renumbers: keep the last 3 bundles (and the labelled ones)
SELECT des.retention_set('lin', keep_last => 3, keep_labels => false);
SELECT count(*) AS removed FROM des.squash('lin', false) WHERE action = 'remove';
SELECT h.position, vname(encode(h.bundle_id, 'hex')) AS bundle
  FROM des.branch_history h JOIN des.repositories r ON r.id = h.repo_id
 WHERE r.name = 'lin' AND h.branch = 'main' ORDER BY h.position;
SELECT vname((des.resolve('gros://lin/main:0')).bundle_id) AS first_after_squash;

-- errors: each says what is wrong
SELECT try($$SELECT des.resolve('gros://nosuch')$$) AS unknown_repo;
SELECT try($$SELECT des.resolve('gros://lin/nosuch')$$) AS unknown_branch;
SELECT try($$SELECT des.resolve('gros://lin/nosuch:0')$$) AS unknown_branch_position;
SELECT try($$SELECT des.resolve('gros://lin:no-such-label')$$) AS unknown_label;
SELECT try($$SELECT des.resolve('gros://lin:deadbeef00')$$) AS unknown_label_or_id;
SELECT try($$SELECT des.resolve('gros://lin/main:1999-12-31')$$) AS day_without_bundle;
SELECT try($$SELECT des.resolve('gros://lin/main:99')$$) AS position_past_the_end;
SELECT try($$SELECT des.resolve('gros://lin/main:-99')$$) AS position_before_the_start;
SELECT try($$SELECT des.resolve('gros://lin/main:2024-02-30')$$) AS no_such_date;
SELECT try($$SELECT des.resolve('gros://lin/ma in')$$) AS malformed;
SELECT try($$SELECT des.files('gros://lin:a:b')$$) AS malformed_in_files;
-- a repo with no commit yet: following it is fine, a position or a day is not
SELECT des.repo_create('lin_empty', 'nothing yet') > 0 AS created;
SELECT r.bundle_id IS NULL AS no_bundle_yet, r.realtime, r.branch FROM des.resolve('gros://lin_empty') r;
SELECT try($$SELECT des.resolve('gros://lin_empty:0')$$) AS empty_position;
SELECT try($$SELECT des.resolve('gros://lin_empty:2024-01-01')$$) AS empty_day;
SELECT count(*) AS empty_files FROM des.files('gros://lin_empty:latest');
SELECT des.repo_delete('lin_empty');
-- a repo one may not read is not there
CREATE ROLE lin_stranger;
SET ROLE lin_stranger;
SELECT try($$SELECT des.resolve('gros://lin')$$) AS stranger;
RESET ROLE;
DROP ROLE lin_stranger;

SELECT id AS lin_id FROM des.repositories WHERE name = 'lin' \gset
SELECT des.repo_delete('lin');
SELECT count(*) AS history_left FROM des.branch_history WHERE repo_id = :lin_id;
DROP FUNCTION vname(text);
