-- Reclaiming space: des.delete / des.delete_many of pipeline objects (log,
-- reference counts, errors), and the garbage collector: what a dry run
-- reports is what a real run then removes; blobs that a pipeline object or
-- a stored file content still needs stay; containers left empty leave the
-- catalog, then storage; locations outside the storage root are never
-- deleted; privileges and isolation levels.
SET client_min_messages = warning;
CREATE OR REPLACE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
\set dir '/tmp/pg_des_regress/gc'
-- no compaction until its own section (the packer units below write no files)
SET des.compact_threshold = 1;

-- a clean slate: what earlier tests left behind is collected first (the
-- packer tests' containers are outside the storage root: they stay pending)
SELECT count(*) >= 0 AS collected FROM des.gc(dry_run => false);
SELECT count(*) >= 0 AS flushed FROM des.gc(dry_run => false);
DELETE FROM des.gc_pending_deletes;
SELECT count(*) AS nothing_left FROM des.gc();

-- ---- pipeline objects: three, two with the same bytes, packed by the
-- packer's units into one container (as test pipeline_packer does)
SET des.shard_bits = 0;
SELECT des.put('gc/a', '\x0a0a'::bytea) > 0, des.put('gc/b', '\x0b0b0b'::bytea) > 0,
       des.put('gc/a-copy', '\x0a0a'::bytea) > 0;
SELECT des_internal.mark_batch(10) AS marked;
SELECT token FROM des_internal.lease_shard('gc', '1 min', :'dir', 3, 1000000, '1 hour') \gset
SELECT id AS cid, location AS cloc FROM des.containers WHERE state = 'writing' \gset
SELECT id AS a_id FROM des.objects WHERE name = 'gc/a' \gset
SELECT id AS b_id FROM des.objects WHERE name = 'gc/b' \gset
SELECT id AS copy_id FROM des.objects WHERE name = 'gc/a-copy' \gset
SELECT packed, deduplicated FROM des_internal.commit_container(:cid, :token, 400, NULL, ARRAY[:a_id, :b_id]::bigint[],
    ARRAY[des.blake2b('\x0a0a'), des.blake2b('\x0b0b0b')], '{32,34}', '{2,3}', '{0,0}', ARRAY[:copy_id]::bigint[],
    '{}', '{}', 5, '1 s');
SELECT encode(hash, 'hex') = encode(des.blake2b('\x0a0a'), 'hex') AS is_a, refcount
  FROM des.blobs WHERE container_id = :cid ORDER BY refcount DESC;
-- everything is referenced: nothing to collect
SELECT count(*) AS nothing FROM des.gc();

-- des.delete: by name; an unknown name is an error; the log says who
CREATE ROLE gc_deleter;
GRANT USAGE ON SCHEMA des TO gc_deleter;
GRANT SELECT, DELETE ON des.objects TO gc_deleter;
SET ROLE gc_deleter;
SELECT des.delete('gc/a-copy');
SELECT try($$SELECT des.delete('gc/none')$$);
SELECT try($$SELECT des.delete_many(ARRAY['gc/x', NULL])$$);
SELECT try($$SELECT des.gc()$$);
SELECT try($$SELECT * FROM des.object_log$$);
RESET ROLE;
SELECT role, action, name, state, size, encode(hash, 'hex') = encode(des.blake2b('\x0a0a'), 'hex') AS same_hash
  FROM des.object_log WHERE name LIKE 'gc/%' ORDER BY id;
-- the copy's reference is gone; 'gc/a' still holds the blob
SELECT refcount FROM des.blobs WHERE hash = des.blake2b('\x0a0a');
SELECT count(*) AS still_nothing FROM des.gc();
-- without a role's DELETE right on des.objects, des.delete is refused
CREATE ROLE gc_nobody;
GRANT USAGE ON SCHEMA des TO gc_nobody;
GRANT SELECT ON des.objects TO gc_nobody;
SET ROLE gc_nobody;
SELECT try($$SELECT des.delete('gc/a')$$);
RESET ROLE;

-- deleting 'gc/a': its blob is dead, the container keeps 'gc/b' (forget);
-- the dry run says so, and the real run does exactly that
SELECT des.delete_many(ARRAY['gc/a', 'gc/not-there']) AS deleted;
SELECT action, container_id = :cid AS ours, blobs, bytes FROM des.gc();
CREATE TEMP TABLE planned AS SELECT * FROM des.gc();
CREATE TEMP TABLE done AS SELECT * FROM des.gc(dry_run => false);
SELECT (SELECT count(*) FROM planned) AS planned, (SELECT count(*) FROM done) AS done,
       NOT EXISTS (SELECT * FROM planned EXCEPT SELECT * FROM done) AND NOT EXISTS (SELECT * FROM done EXCEPT SELECT * FROM planned)
         AS dry_run_was_exact;
SELECT count(*) AS blobs_left, bool_and(hash = des.blake2b('\x0b0b0b')) AS only_b FROM des.blobs WHERE container_id = :cid;
SELECT state, (SELECT count(*) FROM des.blobs bl WHERE bl.hash = o.hash) AS its_blob FROM des.objects o WHERE name = 'gc/b';
-- a committed container that a blob still lives in cannot be deleted by hand
SELECT replace(try(format('DELETE FROM des.containers WHERE id = %s', :cid)), :'cloc', '<location>') AS refused;
-- the last object: the container is deleted from the catalog; its file is
-- outside the storage root, so it is left there and the reason recorded
SELECT des.delete('gc/b');
DROP TABLE planned, done;
CREATE TEMP TABLE planned AS SELECT * FROM des.gc();
CREATE TEMP TABLE done AS SELECT * FROM des.gc(dry_run => false);
SELECT action, location = :'cloc' AS ours, blobs, bytes FROM done;
SELECT NOT EXISTS (SELECT * FROM planned EXCEPT SELECT * FROM done) AND NOT EXISTS (SELECT * FROM done EXCEPT SELECT * FROM planned)
         AS dry_run_was_exact;
SELECT count(*) AS container_rows FROM des.containers WHERE id = :cid;
SELECT count(*) AS pending FROM des.gc_pending_deletes WHERE location = :'cloc';
SELECT count(*) >= 0 AS flushed FROM des.gc(dry_run => false);
SELECT attempts, last_error LIKE 'not under the storage root%' AS outside_root FROM des.gc_pending_deletes WHERE location = :'cloc';
DELETE FROM des.gc_pending_deletes WHERE location = :'cloc';

-- ---- dataset contents keep their chunks; a deleted repo's do not
SELECT des.repo_create('gc_repo', 'collected') > 0 AS created;
-- (one call: both chunks in one container)
SELECT des.stage_many('gc_repo', 'main', '{one.txt,two.txt}', ARRAY['only in gc_repo, one', 'only in gc_repo, two']::bytea[]) AS staged;
SELECT des.commit('gc_repo', 'main', 'first') IS NOT NULL AS committed;
SELECT c.id AS rcid, c.location AS rcloc FROM des.containers c JOIN des.blobs b ON b.container_id = c.id
 WHERE b.hash = des.blake2b('only in gc_repo, one') \gset
SELECT (des.storage_stat(:'rcloc')).size > 0 AS file_there;
SELECT count(*) AS nothing_while_the_repo_lives FROM des.gc() WHERE container_id = :rcid;
-- a second repo with one of the same files: that chunk stays when the first goes
SELECT des.repo_create('gc_keep', 'keeps one chunk') > 0 AS created;
SELECT des.stage('gc_keep', 'main', 'same.txt', 'only in gc_repo, two') IS NOT NULL AS staged;
SELECT count(*) AS no_new_container FROM des.containers c
 WHERE c.origin = 'datasets' AND c.id > :rcid;
SELECT des.repo_delete('gc_repo');
-- 'one' is dead, 'two' lives on in gc_keep: the container stays
SELECT action, blobs, bytes > 0 AS some_bytes FROM des.gc() WHERE container_id = :rcid;
SELECT action, blobs FROM des.gc(dry_run => false) WHERE container_id = :rcid;
SELECT count(*) AS blobs_left FROM des.blobs WHERE container_id = :rcid;
SELECT des.read('gc_keep/main', 'same.txt') = 'only in gc_repo, two'::bytea AS staged_file_reads;
-- unstaged, the content is unreachable: it is pruned, then its chunk is dead
SELECT des.unstage('gc_keep', 'main', 'same.txt') AS unstaged;
SELECT action, blobs FROM des.gc() WHERE container_id = :rcid OR location = 'repo:gc_keep' ORDER BY action;
SELECT des.repo_delete('gc_keep');
SELECT action, blobs FROM des.gc(dry_run => false) WHERE container_id = :rcid;
SELECT count(*) AS container_rows FROM des.containers WHERE id = :rcid;
SELECT count(*) AS pending FROM des.gc_pending_deletes WHERE location = :'rcloc';
-- the file goes with the next run, after the removal committed
SELECT count(*) >= 0 AS flushed FROM des.gc(dry_run => false);
SELECT count(*) AS pending_after FROM des.gc_pending_deletes WHERE location = :'rcloc';
SELECT try(format('SELECT des.storage_stat(%L)', :'rcloc')) LIKE '58P01%' AS file_gone;

-- ---- compaction: a container mostly dead gets its live chunks copied
-- into a new one, and goes
RESET des.compact_threshold;
-- (what other tests left may not be readable: a group that fails only warns)
SET client_min_messages = error;
SELECT des.repo_create('gc_compact', 'compaction') > 0 AS created;
SELECT des.stage_many('gc_compact', 'main', ARRAY(SELECT format('f%s.txt', i) FROM generate_series(1, 10) i),
                      ARRAY(SELECT convert_to(repeat(format('file %s;', i), 100), 'UTF8') FROM generate_series(1, 10) i)) AS staged;
SELECT des.commit('gc_compact', 'main', 'ten') IS NOT NULL AS committed;
SELECT c.id AS ccid, c.location AS ccloc, c.entries FROM des.containers c JOIN des.blobs b ON b.container_id = c.id
 WHERE b.hash = des.blake2b(convert_to(repeat('file 1;', 100), 'UTF8')) \gset
SELECT :entries AS entries;
-- six files removed, and the bundle that had them squashed away
SELECT count(des.stage_remove('gc_compact', 'main', format('f%s.txt', i))) AS removed FROM generate_series(5, 10) i;
SELECT des.commit('gc_compact', 'main', 'four') IS NOT NULL AS committed;
SELECT des.retention_set('gc_compact', keep_last => 1);
SELECT action, message FROM des.squash('gc_compact', false) ORDER BY action;
-- the dry run: the contents pruned, six chunks forgotten, the container compacted (four moved)
SELECT action, blobs FROM des.gc() WHERE container_id = :ccid OR location = 'repo:gc_compact' ORDER BY action;
SELECT action, blobs, bytes > 0 AS bytes FROM des.gc(dry_run => false) WHERE container_id = :ccid OR location = 'repo:gc_compact' ORDER BY action;
SELECT count(*) AS old_container_rows FROM des.containers WHERE id = :ccid;
SELECT c.origin, c.entries, count(b.*) AS blobs FROM des.containers c JOIN des.blobs b ON b.container_id = c.id
 WHERE b.hash = des.blake2b(convert_to(repeat('file 1;', 100), 'UTF8')) GROUP BY c.origin, c.entries;
SELECT string_agg(path || '=' || (convert_from(des.read('gc_compact/main', path), 'UTF8') = repeat(format('file %s;', substr(path, 2, length(path) - 5)), 100))::text, ',' ORDER BY path)
         AS read_back
  FROM des.files('gc_compact/main') WHERE kind = 'file';
SELECT count(*) AS problems FROM des.verify_bundle('gc_compact/main');
-- a fresh copy is not compacted again
SELECT count(*) AS nothing_more FROM des.gc() WHERE action IN ('compact', 'merge');
SELECT count(*) >= 0 AS flushed FROM des.gc(dry_run => false);
SELECT try(format('SELECT des.storage_stat(%L)', :'ccloc')) LIKE '58P01%' AS old_file_gone;
SELECT des.repo_delete('gc_compact');
SET client_min_messages = warning;

-- a read and a compaction spanning more containers than a backend may
-- keep files open (maxAllocatedDescs, a few hundred): 400 pairs of files
-- staged one call each (a container each), read back in one call, then one
-- of each pair removed and the 400 half-dead containers compacted into one
SELECT des.repo_create('gc_many', 'many containers') > 0 AS created;
DO $$
BEGIN
    FOR i IN 1 .. 400 LOOP
        PERFORM des.stage_many('gc_many', 'main', ARRAY[format('a%s', i), format('b%s', i)],
                               ARRAY[convert_to(repeat(format('many a%s;', i), 20), 'UTF8'),
                                     convert_to(repeat(format('many b%s;', i), 20), 'UTF8')]);
    END LOOP;
END $$;
SELECT des.commit('gc_many', 'main', 'eight hundred') IS NOT NULL AS committed;
CREATE TEMP VIEW gc_many_containers AS
SELECT count(DISTINCT b.container_id) AS containers
  FROM des.files('gc_many/main') f
  JOIN des.dataset_contents dc ON dc.hash = decode(f.content_hash, 'hex')
       AND dc.repo_id = (SELECT r.id FROM des.repositories r WHERE r.name = 'gc_many')
 CROSS JOIN LATERAL des_internal.content_chunks(dc.chunks) h(hash)
  JOIN des.blobs b ON b.hash = h.hash
 WHERE f.kind = 'file';
SELECT containers FROM gc_many_containers;
SELECT count(*) AS read_back FROM des.read_many('gc_many/main', ARRAY(SELECT f.path FROM des.files('gc_many/main') f)) r
 WHERE r.data = convert_to(repeat(format('many %s;', r.path), 20), 'UTF8');
SELECT count(des.stage_remove('gc_many', 'main', format('b%s', i))) AS removed FROM generate_series(1, 400) i;
SELECT des.commit('gc_many', 'main', 'four hundred') IS NOT NULL AS committed;
SELECT des.retention_set('gc_many', keep_last => 1);
SELECT count(*) AS squashed FROM des.squash('gc_many', false) WHERE action = 'remove';
SET client_min_messages = error;
SELECT action, count(*), sum(blobs) AS blobs FROM des.gc(dry_run => false)
 WHERE action IN ('compact', 'failed') GROUP BY action ORDER BY action;
SELECT count(*) >= 0 AS flushed FROM des.gc(dry_run => false);
SET client_min_messages = warning;
SELECT containers AS containers_after FROM gc_many_containers;
SELECT count(*) AS read_back FROM des.read_many('gc_many/main', ARRAY(SELECT format('a%s', i) FROM generate_series(1, 400) i)) r
 WHERE r.data = convert_to(repeat(format('many %s;', r.path), 20), 'UTF8');
SELECT des.repo_delete('gc_many');
DROP VIEW gc_many_containers;
SET client_min_messages = error;
SELECT count(*) >= 0 AS collected FROM des.gc(dry_run => false);
SELECT count(*) >= 0 AS flushed FROM des.gc(dry_run => false);
SET client_min_messages = warning;

-- the runs are recorded
SELECT runs > 0 AS runs, dry_runs > 0 AS dry_runs, blobs_removed >= 3 AS blobs, containers_removed >= 2 AS containers,
       containers_deleted_from_storage >= 1 AS deleted, bytes_reclaimed > 0 AS bytes, pending_deletes
  FROM des.stat_gc;

-- only at READ COMMITTED: one snapshot would miss references committed meanwhile
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT try($$SELECT des.gc(dry_run => false)$$);
ROLLBACK;
-- des.gc_run commits: not inside a transaction block
BEGIN;
SELECT try($$CALL des.gc_run()$$);
ROLLBACK;
SELECT try($$CALL des.gc_run(0)$$);
CALL des.gc_run();
SELECT state, error FROM des.gc_runs ORDER BY id DESC LIMIT 1;


RESET des.shard_bits;
REVOKE ALL ON des.objects FROM gc_deleter, gc_nobody;
REVOKE ALL ON SCHEMA des FROM gc_deleter, gc_nobody;
DROP ROLE gc_deleter;
DROP ROLE gc_nobody;
