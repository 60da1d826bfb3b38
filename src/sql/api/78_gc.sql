-- Reclaiming space (docs/gc.md): deleting pipeline objects, and the garbage
-- collector that removes blobs nothing refers to and containers no blob
-- lives in.
--
-- What keeps a blob live: a pipeline object with its hash (packed, or
-- marked and about to link to it), or a stored file content (any repo's
-- des.dataset_contents row: bundles and staged files name contents) having
-- it as a chunk. Transactions still writing cannot be seen, so whoever
-- relies on an existing blob locks it first (the dataset chunk store: FOR
-- KEY SHARE on the blobs it deduplicates against, and ON CONFLICT DO UPDATE
-- where it meets one; the packer: the UPDATE of the blob's count that
-- commits its links). GC then decides in three steps, in one transaction:
-- candidates from one snapshot (one mark of the whole store); a FOR UPDATE
-- SKIP LOCKED lock on them (a blob someone holds is left for the next
-- run); a look again with a new snapshot, taken after the locks, so that
-- every reference committed before is seen and none can come after: a
-- writer that wants a locked blob waits, then finds it gone and stores its
-- bytes again. The look again reads only what was written since the
-- candidates' snapshot (rows whose xmin is that new, as references are
-- made by writing: a new row naming the candidate, or a new version of the
-- candidate's own row), not the whole store. Containers go the same way:
-- locked, found empty again, their rows deleted and their files queued
-- (des.gc_pending_deletes), deleted from storage only once that has
-- committed.

-- ---- deleting pipeline objects ----

CREATE OR REPLACE FUNCTION des_internal.objects_deleted()
RETURNS trigger
AS 'MODULE_PATHNAME', 'des_objects_deleted'
LANGUAGE C
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION des_internal.objects_deleted() FROM PUBLIC;	-- a trigger (firing needs no EXECUTE)
CREATE OR REPLACE TRIGGER objects_deleted AFTER DELETE ON des.objects
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION des_internal.objects_deleted();

CREATE OR REPLACE FUNCTION des.delete(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    -- with the caller's rights: DELETE on des.objects
    DELETE FROM des.objects o WHERE o.name = delete.name;
    GET DIAGNOSTICS n = ROW_COUNT;
    -- else a row staged in des.incoming, not packed yet; or packed while
    -- this waited for the packer's commit (that lock came first): then an
    -- object after all
    IF n = 0 THEN
        n := des_internal.incoming_delete(ARRAY[delete.name]);
    END IF;
    IF n = 0 THEN
        DELETE FROM des.objects o WHERE o.name = delete.name;
        GET DIAGNOSTICS n = ROW_COUNT;
    END IF;
    IF n = 0 THEN
        RAISE EXCEPTION 'no object named "%"', delete.name USING ERRCODE = 'undefined_object';
    END IF;
END $$;
COMMENT ON FUNCTION des.delete(text) IS
  'delete a pipeline object by name (logged in des.object_log); its bytes go when des.gc finds them unreferenced';

CREATE OR REPLACE FUNCTION des.delete_many(names text[])
RETURNS bigint
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
    m bigint;
    done text[];
BEGIN
    IF array_position(names, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'des.delete_many: names must not contain NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    WITH gone AS (DELETE FROM des.objects o WHERE o.name IN (SELECT unnest(names)) RETURNING o.name)
    SELECT coalesce(array_agg(g.name), '{}') INTO done FROM gone g;
    n := cardinality(done);
    -- the others: rows staged in des.incoming (a name is in one place or
    -- the other), then objects packed from there while this waited for the
    -- packer's commit
    IF n < cardinality(names) THEN
        names := ARRAY(SELECT x FROM unnest(names) x WHERE x <> ALL (done));
        n := n + des_internal.incoming_delete(names);
        DELETE FROM des.objects o WHERE o.name IN (SELECT unnest(names));
        GET DIAGNOSTICS m = ROW_COUNT;
        n := n + m;
    END IF;
    RETURN n;
END $$;
COMMENT ON FUNCTION des.delete_many(text[]) IS
  'delete the pipeline objects of these names (absent names are skipped); returns how many were deleted';

-- ---- the mark ----

CREATE OR REPLACE FUNCTION des_internal.content_chunks(chunks bytea)
RETURNS SETOF bytea
AS 'MODULE_PATHNAME', 'des_content_chunks'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
ROWS 16;
COMMENT ON FUNCTION des_internal.content_chunks(bytea) IS
  'the chunk ids of a stored chunk list (DESF), in file order';
GRANT EXECUTE ON FUNCTION des_internal.content_chunks(bytea) TO PUBLIC;	-- pure: decodes what the caller already reads

CREATE OR REPLACE FUNCTION des_internal.dir_children(encoding bytea)
RETURNS TABLE (kind int, hash bytea)
AS 'MODULE_PATHNAME', 'des_dir_children'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
ROWS 32;
COMMENT ON FUNCTION des_internal.dir_children(bytea) IS
  'what a stored directory (DESD) names: files (kind 1, content hash) and subdirectories (kind 2, directory hash)';
GRANT EXECUTE ON FUNCTION des_internal.dir_children(bytea) TO PUBLIC;	-- pure: decodes what the caller already reads

-- The transaction id from which on a transaction may be one a snapshot
-- taken now does not see (the snapshot's xmin, as an xid): a row version
-- whose xmin is as new or newer (age(xmin) <= age(this)) may have been
-- written after that snapshot. (Ages are measured from one point per
-- transaction; frozen rows have the largest age.)
CREATE OR REPLACE FUNCTION des_internal.gc_snapshot_xmin()
RETURNS xid
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (pg_snapshot_xmin(pg_current_snapshot())::text::numeric % 4294967296)::text::xid
$$;
REVOKE ALL ON FUNCTION des_internal.gc_snapshot_xmin() FROM PUBLIC;

-- The directories (kind 2) every bundle's tree reaches and the file
-- contents (kind 1) they and the staged files name, as the statement's
-- snapshot sees it; since: only what the bundles and directories written
-- from that transaction id on reach (the sweeps' look after their locks).
-- Each directory is visited once (the recursive UNION remembers the
-- visited: memory proportional to the directories reached, in work_mem);
-- contents are not de-duplicated (the anti-joins that use them need not).
CREATE OR REPLACE FUNCTION des_internal.gc_tree_walk(since xid DEFAULT NULL)
RETURNS TABLE (repo_id bigint, kind int, hash bytea)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
ROWS 100000
AS $$
    WITH RECURSIVE dirs(repo_id, hash) AS (
        SELECT b.repo_id, b.root FROM des.dataset_bundles b
         WHERE since IS NULL OR age(b.xmin) <= age(since)
      UNION
        SELECT d.repo_id, d.hash FROM des.dataset_dirs d
         WHERE since IS NOT NULL AND age(d.xmin) <= age(since)
      UNION
        SELECT l.repo_id, c.hash FROM dirs l
          JOIN des.dataset_dirs d ON d.repo_id = l.repo_id AND d.hash = l.hash,
               des_internal.dir_children(d.encoding) c
         WHERE c.kind = 2
    )
    SELECT l.repo_id, 2, l.hash FROM dirs l
    UNION ALL
    SELECT l.repo_id, 1, c.hash FROM dirs l
      JOIN des.dataset_dirs d ON d.repo_id = l.repo_id AND d.hash = l.hash,
           des_internal.dir_children(d.encoding) c
     WHERE c.kind = 1
    UNION ALL
    SELECT s.repo_id, 1, s.content FROM des.staged s WHERE s.content IS NOT NULL
$$;
REVOKE ALL ON FUNCTION des_internal.gc_tree_walk(xid) FROM PUBLIC;

-- The directories and file contents of every repo that no bundle's tree
-- and no staged file reaches, as the statement's snapshot sees it (what
-- des.squash or a deleted branch's history left), with where their rows are.
CREATE OR REPLACE FUNCTION des_internal.gc_unreachable_trees()
RETURNS TABLE (repo_id bigint, kind text, hash bytea, bytes bigint, row_at tid)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH live AS MATERIALIZED (
        SELECT * FROM des_internal.gc_tree_walk()
    )
    SELECT d.repo_id, 'dir', d.hash, octet_length(d.encoding)::bigint, d.ctid FROM des.dataset_dirs d
     WHERE NOT EXISTS (SELECT FROM live l WHERE l.kind = 2 AND l.repo_id = d.repo_id AND l.hash = d.hash)
    UNION ALL
    SELECT c.repo_id, 'content', c.hash, octet_length(c.chunks)::bigint, c.ctid FROM des.dataset_contents c
     WHERE NOT EXISTS (SELECT FROM live l WHERE l.kind = 1 AND l.repo_id = c.repo_id AND l.hash = c.hash)
$$;
REVOKE ALL ON FUNCTION des_internal.gc_unreachable_trees() FROM PUBLIC;

-- The blobs nothing refers to, as the query's snapshot sees it, with
-- where their rows are. One hash join against all objects and all chunk
-- lists: memory is work_mem (larger joins spill), never proportional to
-- the store. trees_swept: count only the contents the tree sweep would
-- leave (what a dry run reports, as the real run sweeps trees first).
-- (plpgsql, one query run to its end: it may use parallel workers, which a
-- SQL function's query, read row by row, may not.)
CREATE OR REPLACE FUNCTION des_internal.gc_unreferenced(trees_swept boolean DEFAULT false)
RETURNS TABLE (hash bytea, container_id bigint, stored_size bigint, row_at tid)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY EXECUTE format(
        '%s
         SELECT b.hash, b.container_id, b.stored_size, b.ctid
           FROM des.blobs b
          WHERE NOT EXISTS (SELECT FROM des.objects o WHERE o.hash = b.hash)
            AND NOT EXISTS (SELECT FROM des.dataset_contents c, des_internal.content_chunks(c.chunks) AS ch(id)
                             WHERE ch.id = b.hash %s)',
        CASE WHEN trees_swept THEN
            'WITH gone AS MATERIALIZED (SELECT t.repo_id, t.hash FROM des_internal.gc_unreachable_trees() t
                                         WHERE t.kind = ''content'')' ELSE '' END,
        CASE WHEN trees_swept THEN
            'AND NOT EXISTS (SELECT FROM gone g WHERE g.repo_id = c.repo_id AND g.hash = c.hash)' ELSE '' END);
END $$;
REVOKE ALL ON FUNCTION des_internal.gc_unreferenced(boolean) FROM PUBLIC;

-- What a run would do now: per repo, 'prune' (its unreachable directories
-- and contents go; blobs: how many, bytes: their encodings); per container,
-- 'delete' (no live blob would be left: its row goes, then its file), or
-- 'forget' (its dead blobs' rows go; the bytes stay until the container is
-- compacted). blobs: dead blobs in it; bytes: the container's size (delete)
-- or the dead blobs' stored bytes (forget). Committed containers no blob
-- lives in at all are 'delete' too.
CREATE OR REPLACE FUNCTION des_internal.gc_plan()
RETURNS TABLE (action text, container_id bigint, location text, blobs bigint, bytes bigint)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH dead AS (
        SELECT d.container_id, count(*) AS n, sum(d.stored_size)::bigint AS bytes
          FROM des_internal.gc_unreferenced(true) d
         GROUP BY d.container_id
    ), held AS (
        SELECT b.container_id, count(*) AS total FROM des.blobs b GROUP BY b.container_id
    )
    SELECT 'prune', NULL::bigint, 'repo:' || r.name, count(*), sum(t.bytes)::bigint
      FROM des_internal.gc_unreachable_trees() t JOIN des.repositories r ON r.id = t.repo_id
     GROUP BY r.name
    UNION ALL
    SELECT CASE WHEN coalesce(h.total, 0) > coalesce(d.n, 0) THEN 'forget' ELSE 'delete' END,
           c.id, c.location, coalesce(d.n, 0),
           CASE WHEN coalesce(h.total, 0) > coalesce(d.n, 0) THEN d.bytes ELSE coalesce(c.size, 0) END
      FROM des.containers c
      LEFT JOIN dead d ON d.container_id = c.id
      LEFT JOIN held h ON h.container_id = c.id
     WHERE c.state = 'committed' AND (d.n IS NOT NULL OR h.total IS NULL)
    UNION ALL
    SELECT p.action, p.container_id, p.location, p.blobs, p.bytes FROM des_internal.gc_compaction_plan(true) p
    UNION ALL
    SELECT 'abort upload', NULL::bigint, u.location, NULL::bigint, NULL::bigint FROM des_internal.gc_stale_uploads() u
$$;
REVOKE ALL ON FUNCTION des_internal.gc_plan() FROM PUBLIC;

-- ---- the sweep ----

-- Every sweep (trees, blobs, compaction) decides with a snapshot taken
-- after its locks: only READ COMMITTED gives each statement a new one.
CREATE OR REPLACE FUNCTION des_internal.gc_require_read_committed()
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'the garbage collector runs only at the READ COMMITTED isolation level'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('This transaction runs at %s: its one snapshot would miss references committed while it decides.',
                                  upper(current_setting('transaction_isolation')));
    END IF;
END $$;
REVOKE ALL ON FUNCTION des_internal.gc_require_read_committed() FROM PUBLIC;

-- One row of a run's work added to its totals in des.gc_runs: blobs removed
-- (delete, forget), their bytes (forget), containers removed and their
-- sizes (delete, compact, merge), multipart uploads aborted; prune and
-- failed rows add nothing.
CREATE OR REPLACE FUNCTION des_internal.gc_account(run bigint, action text, blobs bigint, bytes bigint)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE des.gc_runs g
       SET blobs_removed = g.blobs_removed + CASE WHEN action IN ('delete', 'forget') THEN blobs ELSE 0 END,
           blob_bytes = g.blob_bytes + CASE WHEN action = 'forget' THEN bytes ELSE 0 END,
           containers_removed = g.containers_removed + CASE WHEN action IN ('delete', 'compact', 'merge') THEN 1 ELSE 0 END,
           container_bytes = g.container_bytes + CASE WHEN action IN ('delete', 'compact', 'merge') THEN bytes ELSE 0 END,
           uploads_aborted = g.uploads_aborted + CASE WHEN action = 'abort upload' THEN 1 ELSE 0 END
     WHERE g.id = run
$$;
REVOKE ALL ON FUNCTION des_internal.gc_account(bigint, text, bigint, bigint) FROM PUBLIC;

-- The rows of table tbl at these places, locked (FOR UPDATE SKIP LOCKED:
-- one someone holds is left out), and where they are. By their places: a
-- TID scan (a sequential scan, which the planner picks for many places,
-- reads every row of the table).
CREATE OR REPLACE FUNCTION des_internal.gc_lock_rows(tbl regclass, places tid[])
RETURNS tid[]
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
DECLARE
    locked tid[];
BEGIN
    EXECUTE format('SELECT ARRAY(SELECT x.ctid FROM %s x WHERE x.ctid = ANY ($1) FOR UPDATE OF x SKIP LOCKED)', tbl)
       INTO locked USING places;
    RETURN locked;
END $$;
REVOKE ALL ON FUNCTION des_internal.gc_lock_rows(regclass, tid[]) FROM PUBLIC;

-- Remove the directories and contents gc_sweep_trees locked (since: the
-- oldest transaction its candidates' snapshot may not see), looked at again
-- with a snapshot taken after the locks. Whatever was written since the
-- candidates' snapshot is one of: a new version of a candidate's row (at
-- another place, which gc_lock_rows does not lock; a place reused since
-- holds a row whose xmin is that new: left alone), or a bundle, directory
-- or staged file that may reach a candidate (walked: what it reaches
-- stays). Rows written before cannot have changed what is reachable but by
-- being removed. The rest goes. One 'prune' row per repo.
CREATE OR REPLACE FUNCTION des_internal.gc_prune_trees(since xid, dirs tid[], contents tid[])
RETURNS TABLE (action text, container_id bigint, location text, blobs bigint, bytes bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM des_internal.gc_require_read_committed();
    RETURN QUERY
    WITH fresh AS MATERIALIZED (
        SELECT * FROM des_internal.gc_tree_walk(since)
    ), gone_dirs AS (
        DELETE FROM des.dataset_dirs x
         WHERE x.ctid = ANY (dirs) AND age(x.xmin) > age(since)
           AND NOT EXISTS (SELECT FROM fresh f WHERE f.kind = 2 AND f.repo_id = x.repo_id AND f.hash = x.hash)
        RETURNING x.repo_id, octet_length(x.encoding)::bigint AS bytes
    ), gone_contents AS (
        DELETE FROM des.dataset_contents x
         WHERE x.ctid = ANY (contents) AND age(x.xmin) > age(since)
           AND NOT EXISTS (SELECT FROM fresh f WHERE f.kind = 1 AND f.repo_id = x.repo_id AND f.hash = x.hash)
        RETURNING x.repo_id, octet_length(x.chunks)::bigint AS bytes
    ), gone AS (
        SELECT * FROM gone_dirs UNION ALL SELECT * FROM gone_contents
    )
    SELECT 'prune'::text, NULL::bigint, 'repo:' || r.name, count(*), sum(g.bytes)::bigint
      FROM gone g JOIN des.repositories r ON r.id = g.repo_id
     GROUP BY r.name;
END $$;
REVOKE ALL ON FUNCTION des_internal.gc_prune_trees(xid, tid[], tid[]) FROM PUBLIC;

-- Remove the unreachable directories and contents of every repo, in the
-- caller's transaction: candidates (one walk of every tree), locked where
-- they are (FOR UPDATE SKIP LOCKED: a writer reusing one holds it, and it
-- waits for the next run), then des_internal.gc_prune_trees.
CREATE OR REPLACE FUNCTION des_internal.gc_sweep_trees()
RETURNS TABLE (action text, container_id bigint, location text, blobs bigint, bytes bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    since xid;
    cand_dirs tid[];
    cand_contents tid[];
BEGIN
    PERFORM des_internal.gc_require_read_committed();
    -- (taken before the candidates' snapshot: no later than its xmin)
    since := des_internal.gc_snapshot_xmin();
    SELECT coalesce(array_agg(t.row_at) FILTER (WHERE t.kind = 'dir'), '{}'),
           coalesce(array_agg(t.row_at) FILTER (WHERE t.kind = 'content'), '{}')
      INTO cand_dirs, cand_contents
      FROM des_internal.gc_unreachable_trees() t;
    IF cardinality(cand_dirs) + cardinality(cand_contents) = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT * FROM des_internal.gc_prune_trees(
        since,
        des_internal.gc_lock_rows('des.dataset_dirs', cand_dirs),
        des_internal.gc_lock_rows('des.dataset_contents', cand_contents));
END $$;
REVOKE ALL ON FUNCTION des_internal.gc_sweep_trees() FROM PUBLIC;

-- The containers among ids (NULL: all committed ones) that no blob lives in:
-- locked (a blob being pointed at one holds a key-share lock on it, which
-- FOR UPDATE waits out), found empty again, their rows deleted and their
-- files queued for deletion from storage (reason: why they are empty).
CREATE OR REPLACE FUNCTION des_internal.gc_drop_empty_containers(ids bigint[], reason text)
RETURNS TABLE (container_id bigint, location text, size bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT ct.id, ct.location, ct.size, ct.origin FROM des.containers ct
         WHERE ct.state = 'committed' AND (ids IS NULL OR ct.id = ANY (ids))
           AND NOT EXISTS (SELECT FROM des.blobs b WHERE b.container_id = ct.id)
         ORDER BY ct.id
           FOR UPDATE OF ct SKIP LOCKED
    LOOP
        CONTINUE WHEN EXISTS (SELECT FROM des.blobs b WHERE b.container_id = c.id);
        INSERT INTO des.gc_pending_deletes (location, container_id, origin, size, reason)
        VALUES (c.location, c.id, c.origin, c.size, reason)
        ON CONFLICT ON CONSTRAINT gc_pending_deletes_pkey DO NOTHING;
        DELETE FROM des.containers ct WHERE ct.id = c.id;
        container_id := c.id;
        location := c.location;
        size := coalesce(c.size, 0);
        RETURN NEXT;
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION des_internal.gc_drop_empty_containers(bigint[], text) FROM PUBLIC;

-- Decide and lock a batch of dead blobs (at most max_blobs; NULL: all one
-- mark finds), in container order so that containers empty together:
-- candidates from one statement's snapshot (since: the oldest transaction
-- it may not see), then locked where they are (FOR UPDATE SKIP LOCKED: a
-- blob someone holds is left for the next run). candidates: how many the
-- mark found (fewer than max_blobs: the last batch).
CREATE OR REPLACE FUNCTION des_internal.gc_lock_dead_blobs(max_blobs bigint DEFAULT NULL,
                                                       OUT since xid, OUT candidates bigint, OUT locked tid[])
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cands tid[];
BEGIN
    PERFORM des_internal.gc_require_read_committed();
    since := des_internal.gc_snapshot_xmin();
    cands := ARRAY(SELECT u.row_at FROM des_internal.gc_unreferenced() u ORDER BY u.container_id
                    LIMIT max_blobs);
    candidates := cardinality(cands);
    locked := des_internal.gc_lock_rows('des.blobs', cands);
END $$;
REVOKE ALL ON FUNCTION des_internal.gc_lock_dead_blobs(bigint) FROM PUBLIC;

-- The chunks of the file contents written from transaction since on (few:
-- what was stored while a sweep decided).
CREATE OR REPLACE FUNCTION des_internal.gc_fresh_chunks(since xid)
RETURNS TABLE (id bytea)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
ROWS 100
AS $$
    SELECT ch.id FROM des.dataset_contents x, des_internal.content_chunks(x.chunks) AS ch(id)
     WHERE age(x.xmin) <= age(since)
$$;
REVOKE ALL ON FUNCTION des_internal.gc_fresh_chunks(xid) FROM PUBLIC;

-- Remove the dead blobs des_internal.gc_lock_dead_blobs locked (since,
-- locked: what it returned), then every committed container left without
-- a blob, in the caller's transaction (see the top of this file). A locked
-- blob is looked at again with a snapshot taken after the locks: every new
-- reference to a blob is either a new version of its row (the packer's
-- count, compaction's new place: at another place, so not locked by
-- gc_lock_rows; a place reused since holds a row whose xmin is that new,
-- left alone) or a file content written since (its chunks stay). Returns
-- what was done, in gc_plan's shape.
CREATE OR REPLACE FUNCTION des_internal.gc_sweep(since xid, locked tid[])
RETURNS TABLE (action text, container_id bigint, location text, blobs bigint, bytes bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    swept_ids bigint[];
    swept_n bigint[];
    swept_bytes bigint[];
    c record;
BEGIN
    PERFORM des_internal.gc_require_read_committed();
    WITH gone AS (
        DELETE FROM des.blobs b
         WHERE b.ctid = ANY (locked) AND age(b.xmin) > age(since)
           AND NOT EXISTS (SELECT FROM des_internal.gc_fresh_chunks(since) f WHERE f.id = b.hash)
        RETURNING b.container_id, b.stored_size
    ), per_container AS (
        SELECT g.container_id, count(*) AS n, sum(g.stored_size)::bigint AS bytes FROM gone g GROUP BY g.container_id
    )
    SELECT coalesce(array_agg(p.container_id ORDER BY p.container_id), '{}'),
           coalesce(array_agg(p.n ORDER BY p.container_id), '{}'),
           coalesce(array_agg(p.bytes ORDER BY p.container_id), '{}')
      INTO swept_ids, swept_n, swept_bytes
      FROM per_container p;

    -- containers left without a blob (or that never had one)
    FOR c IN SELECT * FROM des_internal.gc_drop_empty_containers(NULL, 'empty') LOOP
        action := 'delete';
        container_id := c.container_id;
        location := c.location;
        blobs := coalesce(swept_n[array_position(swept_ids, c.container_id)], 0);
        bytes := c.size;
        RETURN NEXT;
    END LOOP;
    FOR c IN
        SELECT s.container_id, ct.location, s.n, s.bytes
          FROM unnest(swept_ids, swept_n, swept_bytes) AS s(container_id, n, bytes)
          JOIN des.containers ct ON ct.id = s.container_id
         ORDER BY s.container_id
    LOOP
        action := 'forget';
        container_id := c.container_id;
        location := c.location;
        blobs := c.n;
        bytes := c.bytes;
        RETURN NEXT;
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION des_internal.gc_sweep(xid, tid[]) FROM PUBLIC;

-- ---- compaction ----

CREATE OR REPLACE FUNCTION des_internal.compact(containers bigint[], day date, OUT blobs bigint, OUT bytes bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'des_compact'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION des_internal.compact(bigint[], date) IS
  'copy the live blobs of these containers into new ones (read back and checked first) and re-point them there';
REVOKE ALL ON FUNCTION des_internal.compact(bigint[], date) FROM PUBLIC;

-- Containers worth rewriting, with what they hold that lives: 'compact'
-- (the share of its entries, or of its bytes, that no live blob uses is at
-- least des.compact_threshold) and 'merge' (a packer's container of a day that is
-- over, smaller than half of des.container_max_bytes, in a (day, shard)
-- with another such container or one to compact). Each (day, shard) is
-- rewritten into as few new containers as des.container_max_bytes allows.
-- before_sweep: as if the blob sweep had run (a dry run).
CREATE OR REPLACE FUNCTION des_internal.gc_compaction_plan(before_sweep boolean)
RETURNS TABLE (action text, container_id bigint, location text, blobs bigint, bytes bigint, day date, shard int)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH dead AS MATERIALIZED (
        SELECT u.hash FROM des_internal.gc_unreferenced(true) u WHERE before_sweep
    ), live AS (
        SELECT b.container_id, count(*) AS n, sum(b.stored_size) AS bytes FROM des.blobs b
         WHERE NOT EXISTS (SELECT FROM dead d WHERE d.hash = b.hash)
         GROUP BY b.container_id
    ), c AS (
        SELECT ct.id, ct.location, ct.size, ct.day, ct.shard, l.n,
               -- some entry is dead, and dead entries are the share of its entries or of its bytes
               -- (a fresh copy has no dead entry: what was compacted is not compacted again)
               -- (bytes: of its entries' data, when known; headers and indexes are not dead bytes)
               ct.entries > l.n
                 AND ((ct.entries - l.n)::float8 / ct.entries >= current_setting('des.compact_threshold')::float8
                      OR (ct.data_bytes > 0
                          AND (ct.data_bytes - l.bytes)::float8 / ct.data_bytes >= current_setting('des.compact_threshold')::float8))
                 AS mostly_dead,
               ct.origin IN ('packer', 'incoming') AND ct.day < (now() AT TIME ZONE 'UTC')::date
                 AND l.bytes < pg_size_bytes(current_setting('des.container_max_bytes')) / 2 AS small
          FROM des.containers ct JOIN live l ON l.container_id = ct.id
         WHERE ct.state = 'committed'
    ), grp AS (
        SELECT c.day, c.shard, count(*) FILTER (WHERE c.mostly_dead) AS n_dead, count(*) FILTER (WHERE c.mostly_dead OR c.small) AS n
          FROM c GROUP BY c.day, c.shard
    )
    SELECT CASE WHEN c.mostly_dead THEN 'compact' ELSE 'merge' END, c.id, c.location, c.n, c.size, c.day, c.shard
      FROM c JOIN grp g ON g.day = c.day AND g.shard IS NOT DISTINCT FROM c.shard
     WHERE (c.mostly_dead OR c.small) AND (g.n_dead > 0 OR g.n >= 2)
$$;
REVOKE ALL ON FUNCTION des_internal.gc_compaction_plan(boolean) FROM PUBLIC;

-- Rewrite them, (day, shard) by (day, shard), in the caller's transaction
-- (but for groups holding a container in skip: des.gc_run's failed ones):
-- the copies re-pointed (des_internal.compact), then each old container no
-- blob lives in any more leaves the catalog, its file queued for deletion.
-- A container a concurrent run compacted already holds no blob and goes the
-- same way; blobs moved meanwhile stay where they are.
CREATE OR REPLACE FUNCTION des_internal.gc_compact(max_groups int DEFAULT NULL, skip bigint[] DEFAULT '{}')
RETURNS TABLE (action text, container_id bigint, location text, blobs bigint, bytes bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g record;
    c record;
BEGIN
    PERFORM des_internal.gc_require_read_committed();
    FOR g IN
        SELECT p.day, p.shard, array_agg(p.container_id ORDER BY p.container_id) AS ids,
               array_agg(p.action ORDER BY p.container_id) AS actions, array_agg(p.blobs ORDER BY p.container_id) AS moved
          FROM des_internal.gc_compaction_plan(false) p
         GROUP BY p.day, p.shard
        HAVING NOT (array_agg(p.container_id) && skip)
         ORDER BY p.day, p.shard
         LIMIT max_groups
    LOOP
        -- a group that cannot be copied (a container unreadable or damaged:
        -- every byte is checked) is left as it is, with a warning and a
        -- 'failed' row; the other groups go on
        BEGIN
            PERFORM FROM des_internal.compact(g.ids, g.day);
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'des.gc could not compact containers %: %', g.ids, SQLERRM
                USING ERRCODE = SQLSTATE;
            action := 'failed';
            container_id := g.ids[1];
            location := SQLERRM;
            blobs := NULL;
            bytes := NULL;
            RETURN NEXT;
            CONTINUE;
        END;
        FOR c IN SELECT * FROM des_internal.gc_drop_empty_containers(g.ids, 'compacted') LOOP
            action := g.actions[array_position(g.ids, c.container_id)];
            container_id := c.container_id;
            location := c.location;
            blobs := g.moved[array_position(g.ids, c.container_id)];
            bytes := c.size;
            RETURN NEXT;
        END LOOP;
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION des_internal.gc_compact(int, bigint[]) FROM PUBLIC;

-- A real run's catalog part: trees first (what they free, the blob sweep
-- then finds dead), then blobs and containers.
CREATE OR REPLACE FUNCTION des_internal.gc_sweep_all()
RETURNS TABLE (action text, container_id bigint, location text, blobs bigint, bytes bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    dead record;
BEGIN
    RETURN QUERY SELECT * FROM des_internal.gc_sweep_trees() t ORDER BY t.location;
    dead := des_internal.gc_lock_dead_blobs();
    RETURN QUERY SELECT * FROM des_internal.gc_sweep(dead.since, dead.locked) s ORDER BY s.container_id;
    RETURN QUERY SELECT * FROM des_internal.gc_compact() c ORDER BY c.container_id;
    RETURN QUERY SELECT * FROM des_internal.gc_abort_stale_uploads();
END $$;
REVOKE ALL ON FUNCTION des_internal.gc_sweep_all() FROM PUBLIC;

-- Delete from storage the containers whose rows are gone (committed before
-- this statement), at most max_deletes of them; returns (deleted, bytes).
-- Never a location that a container row names again, never one outside
-- the storage root.
CREATE OR REPLACE FUNCTION des_internal.gc_delete_file(location text, origin text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'des_gc_delete_file'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION des_internal.gc_delete_file(text, text) IS
  'delete the file of a container des.gc removed, through the server that wrote it (origin packer: des.default_server; else des.storage_server)';
REVOKE ALL ON FUNCTION des_internal.gc_delete_file(text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.gc_flush(max_deletes int DEFAULT NULL, OUT deleted bigint, OUT bytes bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    root text := rtrim(des_internal.storage_root(), '/') || '/';
    p record;
BEGIN
    deleted := 0;
    bytes := 0;
    FOR p IN
        SELECT * FROM des.gc_pending_deletes g
         -- no snapshot taken before the removal committed may read it any more
         WHERE NOT EXISTS (SELECT FROM pg_stat_activity a
                            WHERE a.pid <> pg_backend_pid() AND a.backend_xmin IS NOT NULL
                              AND age(a.backend_xmin) >= age(g.after_xid))
           AND NOT EXISTS (SELECT FROM pg_prepared_xacts x WHERE age(x.transaction) >= age(g.after_xid))
         ORDER BY g.queued_at, g.location
         LIMIT max_deletes
           FOR UPDATE SKIP LOCKED
    LOOP
        IF EXISTS (SELECT FROM des.containers ct WHERE ct.location = p.location) THEN
            DELETE FROM des.gc_pending_deletes g WHERE g.location = p.location;	-- a container again: not ours to delete
            CONTINUE;
        END IF;
        IF NOT starts_with(p.location, root) THEN
            UPDATE des.gc_pending_deletes g
               SET attempts = g.attempts + 1,
                   last_error = format('not under the storage root "%s": left in place', root)
             WHERE g.location = p.location;
            CONTINUE;
        END IF;
        BEGIN
            PERFORM des_internal.gc_delete_file(p.location, p.origin);
            PERFORM des_internal.debug_pause('gc_storage_deleted');
            DELETE FROM des.gc_pending_deletes g WHERE g.location = p.location;
            deleted := deleted + 1;
            bytes := bytes + coalesce(p.size, 0);
        EXCEPTION WHEN OTHERS THEN
            UPDATE des.gc_pending_deletes g SET attempts = g.attempts + 1, last_error = SQLERRM
             WHERE g.location = p.location;
        END;
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION des_internal.gc_flush(int) FROM PUBLIC;

-- ---- incomplete multipart uploads ----

CREATE OR REPLACE FUNCTION des_internal.gc_uploads(root text)
RETURNS TABLE (location text, upload_id text, initiated timestamptz)
AS 'MODULE_PATHNAME', 'des_gc_uploads'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION des_internal.gc_uploads(text) IS
  'incomplete multipart uploads under root, listed through the server des.gc deletes with (des.storage_server, else des.default_server)';
REVOKE ALL ON FUNCTION des_internal.gc_uploads(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.gc_abort_upload(location text, upload_id text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'des_gc_abort_upload'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION des_internal.gc_abort_upload(text, text) IS
  'abort one multipart upload through the server des.gc deletes with; false if it was gone';
REVOKE ALL ON FUNCTION des_internal.gc_abort_upload(text, text) FROM PUBLIC;

-- The uploads a writer that died left under the storage root (S3 only):
-- older than des.gc_upload_min_age, and not the key of a container still
-- being written (a packer's open container, or a dataset function's whose
-- transaction is in progress). An upload of unknown age is left alone. A
-- listing that fails is a warning and no rows: nothing is aborted then.
CREATE OR REPLACE FUNCTION des_internal.gc_stale_uploads()
RETURNS TABLE (location text, upload_id text, initiated timestamptz)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    root text := rtrim(des_internal.storage_root(), '/') || '/';
BEGIN
    IF NOT starts_with(root, 's3://') THEN
        RETURN;
    END IF;
    BEGIN
        RETURN QUERY
            SELECT u.location, u.upload_id, u.initiated
              FROM des_internal.gc_uploads(root) u
             WHERE u.initiated <= now() - current_setting('des.gc_upload_min_age')::interval
               AND NOT EXISTS (SELECT FROM des.containers c WHERE c.location = u.location AND c.state <> 'committed')
               AND NOT des_internal.written_in_progress(u.location)
             ORDER BY u.location, u.upload_id;
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'des.gc could not list the multipart uploads under "%": %', root, SQLERRM
            USING ERRCODE = SQLSTATE;
    END;
END $$;
REVOKE ALL ON FUNCTION des_internal.gc_stale_uploads() FROM PUBLIC;

-- Abort them: an 'abort upload' row for each (blobs, bytes: NULL), a
-- warning and a 'failed' row for one that could not be aborted.
CREATE OR REPLACE FUNCTION des_internal.gc_abort_stale_uploads()
RETURNS TABLE (action text, container_id bigint, location text, blobs bigint, bytes bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    u record;
BEGIN
    FOR u IN SELECT * FROM des_internal.gc_stale_uploads() LOOP
        container_id := NULL;
        blobs := NULL;
        bytes := NULL;
        BEGIN
            PERFORM des_internal.gc_abort_upload(u.location, u.upload_id);
            action := 'abort upload';
            location := u.location;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'des.gc could not abort the multipart upload % of "%": %', u.upload_id, u.location, SQLERRM
                USING ERRCODE = SQLSTATE;
            action := 'failed';
            location := SQLERRM;
        END;
        RETURN NEXT;
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION des_internal.gc_abort_stale_uploads() FROM PUBLIC;

-- ---- the entry points ----

CREATE OR REPLACE FUNCTION des_internal.debug_pause(point text)
RETURNS void
AS 'MODULE_PATHNAME', 'des_debug_pause'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION des_internal.debug_pause(text) IS
  'crash tests: wait here forever when des.debug_pause_at names this point (builds with DES_TEST_HOOKS only; otherwise nothing)';
REVOKE ALL ON FUNCTION des_internal.debug_pause(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des.gc(dry_run boolean DEFAULT true)
RETURNS TABLE (action text, container_id bigint, location text, blobs bigint, bytes bigint)
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    run bigint;
    flushed_n bigint := 0;
    flushed_bytes bigint := 0;
    r record;
BEGIN
    IF dry_run IS NULL THEN
        RAISE EXCEPTION 'des.gc: dry_run must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    INSERT INTO des.gc_runs (role, dry_run) VALUES (session_user, dry_run) RETURNING id INTO run;
    IF NOT dry_run THEN
        -- files of containers removed by earlier, committed runs
        SELECT f.deleted, f.bytes INTO flushed_n, flushed_bytes FROM des_internal.gc_flush() f;
    END IF;
    FOR r IN EXECUTE CASE WHEN dry_run THEN 'SELECT * FROM des_internal.gc_plan() ORDER BY container_id NULLS FIRST, location'
                          ELSE 'SELECT * FROM des_internal.gc_sweep_all()' END
    LOOP
        action := r.action;
        container_id := r.container_id;
        location := r.location;
        blobs := r.blobs;
        bytes := r.bytes;
        PERFORM des_internal.gc_account(run, r.action, r.blobs, r.bytes);
        RETURN NEXT;
    END LOOP;
    UPDATE des.gc_runs g
       SET finished_at = clock_timestamp(), state = 'done', storage_deleted = flushed_n, storage_bytes = flushed_bytes
     WHERE g.id = run;
END $$;
COMMENT ON FUNCTION des.gc(boolean) IS
  'garbage collection: what would go (dry_run, the default) or removing it: dead blobs, and containers left empty (their files are deleted from storage once this commits: by the next des.gc or des.gc_run)';
REVOKE ALL ON FUNCTION des.gc(boolean) FROM PUBLIC;	-- an operator's action

-- The scheduled form (pg_cron: SELECT cron.schedule('pg_des gc', '17 3 * * *', 'CALL des.gc_run()')):
-- batches of batch_size candidate blobs (each costs one mark of the whole store), each in its own transaction, then
-- the storage deletes, each after its removal committed. Errors are
-- recorded in des.gc_runs; what a failed or killed run left, the next one
-- finishes. Only as a top-level CALL (it commits), by the extension's owner
-- or a superuser: a procedure that commits can be neither SECURITY DEFINER
-- nor have a SET clause (every name in it is qualified instead).
CREATE OR REPLACE PROCEDURE des.gc_run(batch_size int DEFAULT 1000000)
LANGUAGE plpgsql
AS $$
DECLARE
    run bigint;
    batch record;
    r record;
    f record;
    swept int;
    failure text;
    failed_groups bigint[] := '{}';
BEGIN
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'des.gc_run: batch_size must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO des.gc_runs (role, dry_run) VALUES (session_user, false) RETURNING id INTO run;
    COMMIT;
    -- (COMMIT cannot run inside a block with an exception handler: each
    -- step catches its own error, the commits are outside)
    -- the trees of every repo (what squash and deleted branches left)
    BEGIN
        PERFORM FROM des_internal.gc_sweep_trees();
    EXCEPTION WHEN OTHERS THEN
        failure := SQLERRM;
    END;
    IF failure IS NULL THEN
        COMMIT;
    END IF;
    WHILE failure IS NULL LOOP
        BEGIN
            -- one batch: candidates in container order, so that containers empty together
            batch := des_internal.gc_lock_dead_blobs(batch_size);
            PERFORM des_internal.debug_pause('gc_decided');
            swept := 0;
            FOR r IN SELECT * FROM des_internal.gc_sweep(batch.since, batch.locked) LOOP
                swept := swept + 1;
                PERFORM des_internal.gc_account(run, r.action, r.blobs, r.bytes);
            END LOOP;
            PERFORM des_internal.debug_pause('gc_swept');
        EXCEPTION WHEN OTHERS THEN
            failure := SQLERRM;
        END;
        EXIT WHEN failure IS NOT NULL;
        COMMIT;
        PERFORM des_internal.debug_pause('gc_committed');
        -- done when a batch was not full, or removed nothing (all of it held by others)
        EXIT WHEN batch.candidates < batch_size OR swept = 0;
    END LOOP;
    -- compaction: a (day, shard) per transaction; a group that could not
    -- be copied (a 'failed' row, with a warning) is not tried again this run
    WHILE failure IS NULL LOOP
        BEGIN
            swept := 0;
            FOR r IN SELECT * FROM des_internal.gc_compact(1, failed_groups) LOOP
                swept := swept + 1;
                IF r.action = 'failed' THEN
                    failed_groups := failed_groups || r.container_id;
                END IF;
                PERFORM des_internal.gc_account(run, r.action, r.blobs, r.bytes);
            END LOOP;
        EXCEPTION WHEN OTHERS THEN
            failure := SQLERRM;
        END;
        EXIT WHEN failure IS NOT NULL;
        COMMIT;
        EXIT WHEN swept = 0;
    END LOOP;
    -- multipart uploads left by writers that died (S3): no lock is held
    -- while S3 is asked, only this run's row is written
    IF failure IS NULL THEN
        BEGIN
            FOR r IN SELECT * FROM des_internal.gc_abort_stale_uploads() LOOP
                PERFORM des_internal.gc_account(run, r.action, r.blobs, r.bytes);
            END LOOP;
        EXCEPTION WHEN OTHERS THEN
            failure := SQLERRM;
        END;
        IF failure IS NULL THEN
            COMMIT;
        END IF;
    END IF;
    WHILE failure IS NULL LOOP
        BEGIN
            f := des_internal.gc_flush(100);
            UPDATE des.gc_runs g SET storage_deleted = g.storage_deleted + f.deleted, storage_bytes = g.storage_bytes + f.bytes
             WHERE g.id = run;
        EXCEPTION WHEN OTHERS THEN
            failure := SQLERRM;
        END;
        EXIT WHEN failure IS NOT NULL;
        COMMIT;
        EXIT WHEN f.deleted < 100;
    END LOOP;
    IF failure IS NULL THEN
        UPDATE des.gc_runs g SET finished_at = clock_timestamp(), state = 'done' WHERE g.id = run;
    ELSE
        ROLLBACK;
        UPDATE des.gc_runs g SET finished_at = clock_timestamp(), state = 'failed', error = failure WHERE g.id = run;
    END IF;
    COMMIT;
END $$;
COMMENT ON PROCEDURE des.gc_run(int) IS
  'garbage collection in batches, each committed, then the storage deletes: what a schedule (pg_cron) calls';
REVOKE ALL ON PROCEDURE des.gc_run(int) FROM PUBLIC;	-- an operator's action

CREATE OR REPLACE VIEW des.stat_gc AS
SELECT (SELECT count(*) FROM des.gc_runs g WHERE NOT g.dry_run) AS runs,
       (SELECT count(*) FROM des.gc_runs g WHERE g.dry_run) AS dry_runs,
       (SELECT max(g.started_at) FROM des.gc_runs g WHERE NOT g.dry_run) AS last_run_at,
       (SELECT g.state FROM des.gc_runs g WHERE NOT g.dry_run ORDER BY g.id DESC LIMIT 1) AS last_state,
       (SELECT coalesce(sum(g.blobs_removed), 0) FROM des.gc_runs g WHERE NOT g.dry_run)::bigint AS blobs_removed,
       (SELECT coalesce(sum(g.containers_removed), 0) FROM des.gc_runs g WHERE NOT g.dry_run)::bigint AS containers_removed,
       (SELECT coalesce(sum(g.storage_deleted), 0) FROM des.gc_runs g WHERE NOT g.dry_run)::bigint AS containers_deleted_from_storage,
       (SELECT coalesce(sum(g.storage_bytes), 0) FROM des.gc_runs g WHERE NOT g.dry_run)::bigint AS bytes_reclaimed,
       (SELECT count(*) FROM des.gc_pending_deletes) AS pending_deletes,
       (SELECT coalesce(sum(g.uploads_aborted), 0) FROM des.gc_runs g WHERE NOT g.dry_run)::bigint AS uploads_aborted,
       (SELECT g.error FROM des.gc_runs g WHERE g.error IS NOT NULL ORDER BY g.id DESC LIMIT 1) AS last_error,
       (SELECT p.last_error FROM des.gc_pending_deletes p WHERE p.last_error IS NOT NULL
         ORDER BY p.queued_at DESC LIMIT 1) AS last_delete_error;
COMMENT ON VIEW des.stat_gc IS 'garbage collection: runs, what they removed and reclaimed, storage deletes still pending, the last errors';
