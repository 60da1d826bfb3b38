-- Rebuilding a lost pipeline catalog from storage alone (docs/pipeline.md,
-- "Rebuilding the catalog from storage"): every container the packers wrote
-- names every object packed into it (payload, alias or reference entry, each
-- with the object's id in des_id), so des.containers, des.blobs and
-- des.objects can be made again from the archives.

CREATE OR REPLACE FUNCTION des.rebuild_catalog(storage text DEFAULT NULL,
    OUT containers bigint, OUT blobs bigint, OUT objects bigint, OUT skipped_files bigint, OUT unresolved bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    root text := rtrim(coalesce(storage, des_internal.storage_root()), '/');
    c record;
BEGIN
    IF EXISTS (SELECT FROM des.objects) OR EXISTS (SELECT FROM des.blobs) OR EXISTS (SELECT FROM des.containers) THEN
        RAISE EXCEPTION 'des.rebuild_catalog needs an empty pipeline catalog'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'des.objects, des.blobs or des.containers has rows.',
                  HINT = 'It restores a lost catalog; it never merges into one.';
    END IF;
    -- The packers' containers: <root>/YYYY-MM-DD/NN-SSSSSS-tT.des (a day and
    -- shard) and <root>/YYYY-MM-DD/incoming-<id>-tT.des (des.incoming rows).
    -- The key of the highest lease token is the one that was committed;
    -- lower tokens are earlier attempts (orphans), left alone.
    CREATE TEMP TABLE rebuild_files ON COMMIT DROP AS
    SELECT f.location, f.size, f.day, f.shard, f.seq, f.incoming_id, f.token,
           row_number() OVER (PARTITION BY f.day, f.shard, f.seq, f.incoming_id ORDER BY f.token DESC) AS attempt
      FROM (SELECT s.location, s.size,
                   coalesce(p[1], q[1])::date AS day, p[2]::int AS shard, coalesce(p[3]::int, 0) AS seq,
                   q[2]::bigint AS incoming_id, coalesce(p[4], q[3])::bigint AS token
              FROM des.storage_list(root || '/') s,
                   LATERAL (SELECT regexp_match(s.location, '/([0-9]{4}-[0-9]{2}-[0-9]{2})/([0-9]{2,})-([0-9]{6,})-t([0-9]+)[.]des$') AS p,
                                   regexp_match(s.location, '/([0-9]{4}-[0-9]{2}-[0-9]{2})/incoming-([0-9]+)-t([0-9]+)[.]des$') AS q) m
             WHERE NOT s.is_prefix AND (p IS NOT NULL OR q IS NOT NULL)
               AND NOT starts_with(s.location, root || '/datasets/')) f;
    SELECT count(*) FILTER (WHERE attempt > 1) INTO skipped_files FROM rebuild_files;
    DELETE FROM rebuild_files WHERE attempt > 1;

    CREATE TEMP TABLE rebuild_entries (container_id bigint, location text, day date, name text,
                                       data_offset bigint, stored bigint, flags int, meta jsonb) ON COMMIT DROP;
    FOR c IN SELECT f.*, coalesce(f.incoming_id, des.next_id()) AS id FROM rebuild_files f ORDER BY f.day, f.location LOOP
        INSERT INTO des.containers (id, location, day, shard, seq, state, size, entries, data_bytes, committed_at, origin)
        VALUES (c.id, c.location, c.day, c.shard, c.seq, 'committed', c.size, 0, 0, now(),
                CASE WHEN c.incoming_id IS NULL THEN 'packer' ELSE 'incoming' END);
        INSERT INTO rebuild_entries
        SELECT c.id, c.location, c.day, l.name, l.data_offset, l.size, l.flags, l.meta
          FROM des.archive_list(c.location) l;
    END LOOP;
    containers := (SELECT count(*) FROM rebuild_files);

    -- each entry: an object (des_id), the hash and size of its bytes (its own,
    -- or those its des_ref names); payload entries (not references) whose range
    -- comes first in their container hold the bytes
    CREATE TEMP TABLE rebuild_objects ON COMMIT DROP AS
    SELECT e.*, (e.meta ->> 'des_id')::bigint AS object_id, e.meta ? 'des_ref' AS is_ref,
           decode(coalesce(e.meta -> 'des_ref' ->> 'blake2b', e.meta ->> 'blake2b'), 'hex') AS hash,
           coalesce((e.meta -> 'des_ref' ->> 'size')::bigint, (e.meta ->> 'size')::bigint) AS size,
           row_number() OVER (PARTITION BY e.container_id, e.data_offset, e.stored ORDER BY e.name) = 1
             AND NOT e.meta ? 'des_ref' AS holds_bytes
      FROM rebuild_entries e
     WHERE e.meta ? 'des_id';

    -- the blobs: one per distinct payload, where a container holds its bytes
    INSERT INTO des.blobs (hash, container_id, entry, size, data_offset, stored_size, flags, refcount)
    SELECT DISTINCT ON (o.hash) o.hash, o.container_id, o.name, o.size, o.data_offset, o.stored, o.flags, 0
      FROM rebuild_objects o
     WHERE o.holds_bytes AND o.hash IS NOT NULL AND length(o.hash) = 32
     ORDER BY o.hash, o.container_id;
    GET DIAGNOSTICS blobs = ROW_COUNT;
    UPDATE des.containers ct
       SET entries = x.n, data_bytes = x.bytes
      FROM (SELECT b.container_id, count(*) AS n, sum(b.stored_size) AS bytes FROM des.blobs b GROUP BY b.container_id) x
     WHERE ct.id = x.container_id;

    -- the objects: one per name, the one with the latest id (a name used again
    -- after a deletion), whose bytes a blob holds
    INSERT INTO des.objects (id, name, state, shard, day, size, hash, meta, created_at, updated_at)
    SELECT o.object_id, o.name, 'packed', des.shard_of(o.name), o.day, o.size, o.hash,
           o.meta - ARRAY['des_id', 'des_ref', 'size', 'blake2b', 'compression'],
           des_internal.id_time(o.object_id), now()
      FROM (SELECT DISTINCT ON (r.name) r.* FROM rebuild_objects r ORDER BY r.name, r.object_id DESC) o
     WHERE EXISTS (SELECT FROM des.blobs b WHERE b.hash = o.hash);
    GET DIAGNOSTICS objects = ROW_COUNT;
    unresolved := (SELECT count(DISTINCT r.name) FROM rebuild_objects r) - objects;
    UPDATE des.blobs b SET refcount = x.n
      FROM (SELECT o.hash, count(*) AS n FROM des.objects o GROUP BY o.hash) x
     WHERE b.hash = x.hash;
END $$;
COMMENT ON FUNCTION des.rebuild_catalog(text) IS
  'rebuild a lost pipeline catalog (containers, blobs, packed objects) from the packers'' containers in storage (default des.storage)';
REVOKE ALL ON FUNCTION des.rebuild_catalog(text) FROM PUBLIC;	-- an operator's action: it writes the whole catalog
