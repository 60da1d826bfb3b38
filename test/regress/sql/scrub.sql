-- Scrub: stored blobs read back and checked; a flipped byte is found (the
-- repos that have the chunk named), repaired from an intact copy (the same
-- bytes put again into the pipeline); a deleted container makes every blob
-- of it unreadable; a chunk damaged after compaction moved it is repaired
-- from the file compaction copied it from (removed, not deleted yet);
-- results are kept; errors and privileges.
SET client_min_messages = warning;
CREATE OR REPLACE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE FUNCTION shell(cmd text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('COPY (SELECT 1) TO PROGRAM %L', 'cat >/dev/null; ' || cmd);
END $$;

SELECT des.repo_create('scrub_repo', 'scrubbed') > 0 AS created;
SELECT des.stage_many('scrub_repo', 'main', '{a.txt,b.txt,c.txt}',
                      ARRAY['scrub bytes a', 'scrub bytes b', 'scrub bytes c']::bytea[]) AS staged;
SELECT des.commit('scrub_repo', 'main', 'three') IS NOT NULL AS committed;
SELECT c.id AS sid, c.location AS sloc FROM des.containers c JOIN des.blobs b ON b.container_id = c.id
 WHERE b.hash = des.blake2b('scrub bytes a') \gset
SELECT count(*) AS intact FROM des.scrub('container:' || :sid);

-- a byte of b.txt's chunk flipped on disk
SELECT data_offset AS boff FROM des.blobs WHERE hash = des.blake2b('scrub bytes b') \gset
SELECT shell(format('printf X | dd of=%s bs=1 seek=%s conv=notrunc 2>/dev/null', :'sloc', :boff));
SELECT location = :'sloc' AS ours, hash = encode(des.blake2b('scrub bytes b'), 'hex') AS b, split_part(problem, ':', 1) AS problem,
       objects, repos, repaired
  FROM des.scrub('container:' || :sid);
SELECT split_part(try($$SELECT des.read('scrub_repo/main', 'b.txt')$$), ':', 1) AS read_fails;
-- the same bytes put again into the pipeline: an intact copy, so the next scrub repairs
SELECT des.put('scrub/b-again', 'scrub bytes b'::bytea) > 0 AS put;
SELECT split_part(problem, ':', 1) AS problem, repaired FROM des.scrub('container:' || :sid);
SELECT convert_from(des.read('scrub_repo/main', 'b.txt'), 'UTF8') AS b_reads_again, count(*) AS problems
  FROM des.verify_bundle('scrub_repo/main');
SELECT count(*) AS clean_now FROM des.scrub('datasets') WHERE location = :'sloc';

-- the container deleted: its blobs are unreadable
SELECT shell(format('rm -f %s', :'sloc'));
SELECT split_part(problem, ':', 1) AS problem, count(*) AS blobs, bool_or(repaired) AS repaired
  FROM des.scrub('container:' || :sid) GROUP BY 1;
SELECT count(*) AS results, count(*) FILTER (WHERE repaired) AS repaired FROM des.scrub_results WHERE location = :'sloc';

-- a container that cannot be read is not compacted: des.gc_run leaves it
-- (a warning and a 'failed' row), does not try it again, and finishes
SET des.compact_threshold = 0.3;
SELECT action, blobs FROM des.gc() WHERE container_id = :sid;
SET client_min_messages = error;
CALL des.gc_run();
SET client_min_messages = warning;
RESET des.compact_threshold;
SELECT state, error FROM des.gc_runs ORDER BY id DESC LIMIT 1;
SELECT count(*) AS still_there FROM des.containers WHERE id = :sid;

-- an intact copy in another archive: compaction moved x.txt's chunk out of
-- a container left two-thirds dead; that container's file waits for its
-- deletion (the next des.gc deletes it), and still has the bytes
SELECT des.repo_create('scrub_copy', 'copies') > 0 AS created;
SELECT des.stage_many('scrub_copy', 'main', '{x.txt,y.txt,z.txt}',
                      ARRAY['copy bytes x', 'copy bytes y', 'copy bytes z']::bytea[]) AS staged;
SELECT des.commit('scrub_copy', 'main', 'three') IS NOT NULL AS committed;
SELECT c.id AS old_cid, c.location AS old_loc FROM des.containers c JOIN des.blobs b ON b.container_id = c.id
 WHERE b.hash = des.blake2b('copy bytes x') \gset
SELECT des.stage_remove('scrub_copy', 'main', 'y.txt'), des.stage_remove('scrub_copy', 'main', 'z.txt');
SELECT des.commit('scrub_copy', 'main', 'one left') IS NOT NULL AS committed;
SELECT des.retention_set('scrub_copy', keep_last => 1);
SELECT count(*) AS squashed FROM des.squash('scrub_copy', false);
SELECT action FROM des.gc(dry_run => false) WHERE container_id = :old_cid ORDER BY action;
SELECT c.id AS new_cid, c.location AS new_loc, b.data_offset AS xoff
  FROM des.blobs b JOIN des.containers c ON c.id = b.container_id WHERE b.hash = des.blake2b('copy bytes x') \gset
SELECT :new_cid <> :old_cid AS moved, count(*) AS old_file_queued FROM des.gc_pending_deletes WHERE location = :'old_loc';
-- x's bytes flipped in their new place: found, and repaired from the old file
SELECT shell(format('printf X | dd of=%s bs=1 seek=%s conv=notrunc 2>/dev/null', :'new_loc', :xoff));
SELECT split_part(problem, ':', 1) AS problem, repaired FROM des.scrub('container:' || :new_cid);
SELECT convert_from(des.read('scrub_copy/main', 'x.txt'), 'UTF8') AS x_reads_again, count(*) AS problems
  FROM des.verify_bundle('scrub_copy/main');
-- with no copy anywhere (the old file deleted): found, not repaired
SELECT container_id AS rep_cid FROM des.blobs WHERE hash = des.blake2b('copy bytes x') \gset
SELECT location AS rep_loc, data_offset AS roff FROM des.containers c JOIN des.blobs b ON b.container_id = c.id
 WHERE b.hash = des.blake2b('copy bytes x') \gset
SELECT shell(format('rm -f %s', :'old_loc'));
SELECT shell(format('printf X | dd of=%s bs=1 seek=%s conv=notrunc 2>/dev/null', :'rep_loc', :roff));
SELECT split_part(problem, ':', 1) AS problem, repaired FROM des.scrub('container:' || :rep_cid);
SELECT des.repo_delete('scrub_copy');

-- errors; an operator's function
SELECT try($$SELECT des.scrub(sample => 0)$$);
SELECT try($$SELECT des.scrub('everything')$$);
CREATE ROLE scrub_nobody;
SET ROLE scrub_nobody;
SELECT try($$SELECT des.scrub()$$);
RESET ROLE;
DROP ROLE scrub_nobody;

DELETE FROM des.objects WHERE name = 'scrub/b-again';
SELECT des.repo_delete('scrub_repo');
SET client_min_messages = error;
SELECT count(*) >= 0 AS collected FROM des.gc(dry_run => false);
SET client_min_messages = warning;
DROP FUNCTION shell(text);
