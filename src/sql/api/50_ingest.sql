-- The pipeline's catalog (see docs/pipeline.md). Objects arrive by des.put /
-- des.put_url; the marker and packer workers mark and pack them into
-- containers; content-addressed blobs record where each distinct payload
-- lives. Constraints keep the invariants in the database itself.

-- Column defaults that call functions: set here, after the functions exist
-- (the tables in catalog/ are created before any function).
ALTER TABLE des.containers ALTER COLUMN id SET DEFAULT des.next_id();
ALTER TABLE des.objects ALTER COLUMN id SET DEFAULT des.next_id();


-- blobs.container_id references des.containers. A REFERENCES constraint
-- checks each row with its own query (half the cost of recording a packed
-- container's blobs); these triggers check a whole statement's rows at once
-- and, like a foreign key, lock the containers they refer to against deletion.
CREATE OR REPLACE FUNCTION des_internal.blobs_check_containers()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    wanted bigint[];
    present bigint[];
    missing bigint;
BEGIN
    -- the statement's distinct containers (one pass over its rows), then one
    -- index probe and lock per container
    wanted := ARRAY(SELECT DISTINCT n.container_id FROM new_blobs n);
    present := ARRAY(SELECT c.id FROM des.containers c WHERE c.id = ANY (wanted) FOR KEY SHARE);
    IF cardinality(present) < cardinality(wanted) THEN
        SELECT w INTO missing FROM unnest(wanted) AS w WHERE w <> ALL (present) LIMIT 1;
        RAISE EXCEPTION 'insert or update on table "blobs" violates foreign key "blobs_container_id_fkey"'
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (container_id)=(%s) is not present in table "containers".', missing);
    END IF;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION des_internal.blobs_check_containers() FROM PUBLIC;
CREATE OR REPLACE TRIGGER blobs_container_exists AFTER INSERT ON des.blobs
    REFERENCING NEW TABLE AS new_blobs FOR EACH STATEMENT EXECUTE FUNCTION des_internal.blobs_check_containers();
CREATE OR REPLACE TRIGGER blobs_container_exists_on_update AFTER UPDATE ON des.blobs
    REFERENCING NEW TABLE AS new_blobs FOR EACH STATEMENT EXECUTE FUNCTION des_internal.blobs_check_containers();

-- the other side of that key: blobs refer only to committed containers
-- (commit_container records both at once); a committed container is deleted
-- only when no blob lives in it any more (des.gc), and never renumbered
CREATE OR REPLACE FUNCTION des_internal.containers_keep_committed()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.state = 'committed'
       AND EXISTS (SELECT FROM des.blobs b WHERE b.container_id = OLD.id) THEN
        RAISE EXCEPTION 'committed container "%" cannot be deleted', OLD.location
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = 'Blobs in des.blobs refer to it.',
                  HINT = 'des.gc deletes containers once no blob lives in them.';
    ELSIF TG_OP = 'UPDATE' AND NEW.id <> OLD.id THEN
        RAISE EXCEPTION 'the id of container "%" cannot change', OLD.location USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
REVOKE ALL ON FUNCTION des_internal.containers_keep_committed() FROM PUBLIC;
CREATE OR REPLACE TRIGGER containers_keep_committed BEFORE DELETE OR UPDATE OF id ON des.containers
    FOR EACH ROW EXECUTE FUNCTION des_internal.containers_keep_committed();

CREATE OR REPLACE FUNCTION des_internal.objects_leave_queues()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        TRUNCATE des.fetch_queue, des.mark_queue, des.pack_queue;
    ELSE
        DELETE FROM des.fetch_queue q USING gone g WHERE q.object_id = g.id;
        DELETE FROM des.mark_queue q USING gone g WHERE q.object_id = g.id;
        DELETE FROM des.pack_queue q USING gone g
         WHERE q.day = g.day AND q.shard = g.shard AND q.object_id = g.id;
    END IF;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION des_internal.objects_leave_queues() FROM PUBLIC;
CREATE OR REPLACE TRIGGER objects_leave_queues AFTER DELETE ON des.objects
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION des_internal.objects_leave_queues();
CREATE OR REPLACE TRIGGER objects_leave_queues_on_truncate AFTER TRUNCATE ON des.objects
    FOR EACH STATEMENT EXECUTE FUNCTION des_internal.objects_leave_queues();

-- Every new pending object gets its queue row from a trigger, whatever
-- inserted it (des.put, des.put_many, des.put_url, a source claim, COPY or an
-- INSERT by hand). A row trigger, not a statement trigger over a transition
-- table: that table would hold a copy of every inserted row, staged bytes
-- included (before TOAST), spilling large payloads to temporary files.
CREATE OR REPLACE FUNCTION des_internal.objects_enqueue()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.state = 'pending' THEN
        IF NEW.staged IS NOT NULL THEN
            INSERT INTO des.mark_queue (object_id, shard, created_at)
            VALUES (NEW.id, coalesce(NEW.shard, des.shard_of(NEW.name)), NEW.created_at);
        ELSIF NEW.source_url IS NOT NULL THEN
            INSERT INTO des.fetch_queue (object_id, created_at) VALUES (NEW.id, NEW.created_at);
        END IF;
    END IF;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION des_internal.objects_enqueue() FROM PUBLIC;
-- (only pending rows: objects the packer records from des.incoming arrive
-- packed, and a WHEN clause costs them no function call)
CREATE OR REPLACE TRIGGER objects_enqueue AFTER INSERT ON des.objects
    FOR EACH ROW WHEN (NEW.state = 'pending') EXECUTE FUNCTION des_internal.objects_enqueue();

-- Put pending objects that have no queue row into the queue of their next
-- step (mark when their bytes are staged, fetch when registered by URL):
-- des.retry_dead uses it, and so can an operator who took rows out by hand.
-- Idempotent: objects queued already, or not pending, are left alone.
CREATE OR REPLACE FUNCTION des_internal.enqueue(ids bigint[], not_before timestamptz[] DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- plans for the table as it is now, not as it was when a generic plan was made
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    n bigint;
    m bigint;
BEGIN
    -- not_before[i] (NULL: now) is when ids[i] may be worked on: a retry's backoff
    INSERT INTO des.mark_queue (object_id, shard, created_at, not_before)
    SELECT o.id, coalesce(o.shard, des.shard_of(o.name)), o.created_at, x.not_before
      FROM unnest(ids, not_before) AS x(id, not_before) JOIN des.objects o ON o.id = x.id
     WHERE o.state = 'pending' AND o.staged IS NOT NULL
    ON CONFLICT (object_id) DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    INSERT INTO des.fetch_queue (object_id, created_at, not_before)
    SELECT o.id, o.created_at, x.not_before
      FROM unnest(ids, not_before) AS x(id, not_before) JOIN des.objects o ON o.id = x.id
     WHERE o.state = 'pending' AND o.staged IS NULL AND o.source_url IS NOT NULL
    ON CONFLICT (object_id) DO NOTHING;
    GET DIAGNOSTICS m = ROW_COUNT;
    RETURN n + m;
END $$;
COMMENT ON FUNCTION des_internal.enqueue(bigint[], timestamptz[]) IS
  'queue pending objects for their next step (mark or fetch); returns how many were queued';
REVOKE ALL ON FUNCTION des_internal.enqueue(bigint[], timestamptz[]) FROM PUBLIC;

-- ---- ingest and read ----

-- the one insert behind des.put and des.put_url (it needs no more rights than INSERT on des.objects)
-- The rules for a new object's name and meta, in one place for every ingest
-- function: raises invalid_parameter_value saying what is wrong (detail, if
-- given, says which object). Callers run it only for objects that
-- des_internal.object_needs_check flags, so the common case costs one expression.
CREATE OR REPLACE FUNCTION des_internal.check_object(name text, meta jsonb, data_size bigint, detail text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    problem text;
    hint text;
BEGIN
    IF meta IS NULL OR jsonb_typeof(meta) <> 'object' THEN
        problem := 'object meta must be a JSON object';
    ELSIF name = '' THEN
        problem := 'object name must not be empty';
        hint := 'Pass NULL to get a generated name.';
    -- the archive format owns these keys of an entry's meta
    ELSIF meta ?| ARRAY['blake2b', 'compression', 'is_external', 'external_key', 'des_ref', 'des_id'] THEN
        problem := 'object meta must not use the keys blake2b, compression, is_external, external_key, des_ref or des_id';
        hint := 'The archive writer sets them for every entry (des_ref and des_id: the packers).';
    -- archives store "size" in each entry's meta and readers trust it
    ELSIF meta ? 'size' AND (jsonb_typeof(meta -> 'size') <> 'number' OR (meta ->> 'size') !~ '^[0-9]+$') THEN
        problem := 'object meta "size" must be a whole number of bytes';
    ELSIF data_size IS NOT NULL AND meta ? 'size' AND meta -> 'size' <> to_jsonb(data_size) THEN
        problem := format('object meta "size" is %s, but the data has %s bytes', meta -> 'size', data_size);
        hint := 'Leave "size" out of meta; archives record every entry''s size themselves.';
    ELSE
        RETURN;
    END IF;
    -- (RAISE options cannot be NULL, and an empty one would still be shown)
    IF detail IS NULL AND hint IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = problem, ERRCODE = 'invalid_parameter_value';
    ELSIF detail IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = problem, ERRCODE = 'invalid_parameter_value', HINT = hint;
    ELSIF hint IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = problem, ERRCODE = 'invalid_parameter_value', DETAIL = detail;
    ELSE
        RAISE EXCEPTION USING MESSAGE = problem, ERRCODE = 'invalid_parameter_value', DETAIL = detail, HINT = hint;
    END IF;
END $$;
COMMENT ON FUNCTION des_internal.check_object(text, jsonb, bigint, text) IS
  'raise if a new object''s name or meta breaks the rules of the archive format';
GRANT EXECUTE ON FUNCTION des_internal.check_object(text, jsonb, bigint, text) TO PUBLIC;	-- des.put, des.put_many and des.put_url check names and meta with it, with their caller's rights

-- Whether des_internal.check_object could object: true for anything out of the
-- ordinary (an empty name, meta that is not an object or uses a key the
-- format owns or "size"). Plain SQL, so callers' queries inline it.
CREATE OR REPLACE FUNCTION des_internal.object_needs_check(name text, meta jsonb)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(name = '', false) OR meta IS NULL OR jsonb_typeof(meta) <> 'object'
           OR meta ?| ARRAY['blake2b', 'compression', 'is_external', 'external_key', 'des_ref', 'des_id', 'size']
$$;
GRANT EXECUTE ON FUNCTION des_internal.object_needs_check(text, jsonb) TO PUBLIC;	-- des.put and des.put_many call it with their caller's rights

CREATE OR REPLACE FUNCTION des_internal.insert_object(name text, meta jsonb, staged bytea, source_url text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_id bigint;
BEGIN
    IF des_internal.object_needs_check(name, meta) IS NOT FALSE THEN
        PERFORM des_internal.check_object(name, meta, length(staged));
    END IF;
    new_id := des.next_id();
    name := coalesce(name, new_id::text);
    IF des_internal.incoming_name_taken(ARRAY[name]) IS NOT NULL THEN
        RAISE EXCEPTION 'an object named "%" already exists', name
            USING ERRCODE = 'unique_violation',
                  DETAIL = 'It is staged in des.incoming.',
                  HINT = 'Object names are unique; choose another name, or pass NULL to get a generated one.';
    END IF;
    -- ON CONFLICT rather than an exception block: no subtransaction per call
    INSERT INTO des.objects (id, name, shard, size, meta, staged, source_url)
    VALUES (new_id, name, des.shard_of(name), length(staged), meta, staged, source_url)
    ON CONFLICT ON CONSTRAINT objects_name_key DO NOTHING
    RETURNING id INTO new_id;
    IF new_id IS NULL THEN
        RAISE EXCEPTION 'an object named "%" already exists', name
            USING ERRCODE = 'unique_violation',
                  HINT = 'Object names are unique; choose another name, or pass NULL to get a generated one.';
    END IF;
    RETURN new_id;
END $$;
GRANT EXECUTE ON FUNCTION des_internal.insert_object(text, jsonb, bytea, text) TO PUBLIC;	-- des.put and des.put_url insert through it with their caller's rights (the caller needs INSERT on des.objects)

CREATE OR REPLACE FUNCTION des.put(name text, data bytea, meta jsonb DEFAULT '{}')
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF data IS NULL THEN
        RAISE EXCEPTION 'object data must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    RETURN des_internal.insert_object(name, meta, data, NULL);
END $$;
COMMENT ON FUNCTION des.put(text, bytea, jsonb) IS
  'stage an object; returns its id (a NULL name takes the id, in decimal, as its name)';

-- Many objects in one statement: one INSERT for all of them (a des.put call
-- costs a statement of its own per object). All or nothing. The arrays are
-- unnested in select lists (ProjectSet), which stream their elements: in
-- FROM (a function scan) every row, payload included, would first be copied
-- into a tuplestore. (Elements are counted from 1 whatever the arrays' lower
-- bounds, as unnest does.)
CREATE OR REPLACE FUNCTION des.put_many(names text[], data bytea[], metas jsonb[] DEFAULT NULL)
RETURNS TABLE (name text, id bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n int := coalesce(cardinality(names), 0);
    ids bigint[];
    bad record;
    bad_i int;
    key_detail text;
    violated text;
BEGIN
    IF coalesce(cardinality(data), 0) <> n OR (metas IS NOT NULL AND cardinality(metas) <> n) THEN
        RAISE EXCEPTION 'names, data and metas must have the same length' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF n = 0 THEN
        RETURN;
    END IF;
    metas := coalesce(metas, array_fill('{}'::jsonb, ARRAY[n]));
    -- (each statement that reads data copies the array: only two do)
    bad_i := array_position(data, NULL);
    IF bad_i IS NOT NULL THEN
        RAISE EXCEPTION 'object data must not be NULL' USING ERRCODE = 'null_value_not_allowed',
            DETAIL = format('Element %s of data is NULL.', bad_i);
    END IF;
    FOR bad IN
        SELECT x.name, x.meta, x.i
          FROM (SELECT unnest(names) AS name, unnest(metas) AS meta, generate_series(1, n) AS i) x
         WHERE des_internal.object_needs_check(x.name, x.meta) IS NOT FALSE
    LOOP
        PERFORM des_internal.check_object(bad.name, bad.meta, octet_length(data[array_lower(data, 1) + bad.i - 1]),
                                 format('Element %s, named %s.', bad.i, coalesce(quote_literal(bad.name), 'NULL')));
    END LOOP;
    -- ids first, in the order given (a NULL name becomes its object's id)
    ids := ARRAY(SELECT des.next_id() FROM generate_series(1, n));
    violated := des_internal.incoming_name_taken(names);
    IF violated IS NOT NULL THEN
        RAISE EXCEPTION 'an object of this batch has a name that is taken' USING ERRCODE = 'unique_violation',
            DETAIL = format('An object named %s is staged in des.incoming.', quote_literal(violated)),
            HINT = 'Object names are unique, also within a batch; choose others, or pass NULL names to get generated ones.';
    END IF;
    BEGIN
        INSERT INTO des.objects (id, name, shard, size, meta, staged)
        SELECT x.id, coalesce(x.name, x.id::text), des.shard_of(coalesce(x.name, x.id::text)),
               length(x.bytes), x.meta, x.bytes
          FROM (SELECT unnest(ids) AS id, unnest(names) AS name, unnest(data) AS bytes, unnest(metas) AS meta) x;
    EXCEPTION WHEN unique_violation THEN
        GET STACKED DIAGNOSTICS key_detail = PG_EXCEPTION_DETAIL, violated = CONSTRAINT_NAME;
        IF violated IS DISTINCT FROM 'objects_name_key' THEN
            RAISE;
        END IF;
        RAISE EXCEPTION 'an object of this batch has a name that is taken' USING ERRCODE = 'unique_violation',
            DETAIL = key_detail,
            HINT = 'Object names are unique, also within a batch; choose others, or pass NULL names to get generated ones.';
    END;
    RETURN QUERY SELECT coalesce(x.name, x.id::text), x.id FROM unnest(names, ids) AS x(name, id);
END $$;
COMMENT ON FUNCTION des.put_many(text[], bytea[], jsonb[]) IS
  'stage many objects in one statement, all or nothing; returns (name, id) in the order given';

CREATE OR REPLACE FUNCTION des.put_url(name text, url text, meta jsonb DEFAULT '{}')
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF url IS NULL THEN
        RAISE EXCEPTION 'object URL must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- the location must parse (local path, file:// or s3://), and the caller must be
    -- allowed to read it: the marker fetches it later with its own rights
    PERFORM des_internal.check_read_access(url);
    RETURN des_internal.insert_object(name, meta, NULL, url);
END $$;
COMMENT ON FUNCTION des.put_url(text, text, jsonb) IS
  'register an existing local or S3 object to be packed without sending its bytes; returns the id';

CREATE OR REPLACE FUNCTION des_internal.check_read_access(location text)
RETURNS void
AS 'MODULE_PATHNAME', 'des_check_read_access'
LANGUAGE C STRICT VOLATILE;
GRANT EXECUTE ON FUNCTION des_internal.check_read_access(text) TO PUBLIC;	-- des.put_url checks the caller's right to read the URL with it

CREATE OR REPLACE FUNCTION des_internal.location_check(location text)
RETURNS void
AS 'MODULE_PATHNAME', 'des_location_check'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION des_internal.location_check(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des.stat(name text,
    OUT id bigint, OUT state des.object_state, OUT size bigint, OUT hash bytea,
    OUT shard int, OUT day date, OUT location text, OUT entry text, OUT source_url text,
    OUT created_at timestamptz)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    SELECT o.id, o.state, o.size, o.hash, o.shard, o.day, c.location, b.entry, o.source_url, o.created_at
      INTO id, state, size, hash, shard, day, location, entry, source_url, created_at
      FROM des.objects o
      LEFT JOIN des.blobs b ON o.state = 'packed' AND b.hash = o.hash
      LEFT JOIN des.containers c ON c.id = b.container_id
     WHERE o.name = stat.name;
    -- staged in des.incoming, for those who may read it (one snapshot for
    -- the whole function: packed meanwhile, it was found above)
    IF NOT FOUND AND has_table_privilege('des.incoming', 'SELECT') THEN
        SELECT i.id, 'pending', octet_length(i.data), des.shard_of(i.name), des_internal.id_time(i.id)
          INTO id, state, size, shard, created_at
          FROM des.incoming i
         WHERE i.name = stat.name AND des_internal.incoming_staged(i.id);
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no object named "%"', stat.name USING ERRCODE = 'undefined_object';
    END IF;
END $$;
COMMENT ON FUNCTION des.stat(text) IS 'state, size, hash and (once packed) container location of an object';

-- A blob's bytes from where des.blobs says they are in its archive: one read
-- (local) or one ranged GET (S3), no index, checked against the hash. NULL
-- for blobs it does not read this way (LZ4, external): des.get then reads
-- through the index.
CREATE OR REPLACE FUNCTION des_internal.read_blob(location text, data_offset bigint, stored_size bigint, flags int, hash bytea)
RETURNS bytea
AS 'MODULE_PATHNAME', 'des_read_blob'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION des_internal.read_blob(text, bigint, bigint, int, bytea) IS
  'the bytes of a blob stored plainly in an archive, read at its recorded offset and checked against its hash; NULL for LZ4 or external blobs';
GRANT EXECUTE ON FUNCTION des_internal.read_blob(text, bigint, bigint, int, bytea) TO PUBLIC;	-- des.get reads through it with its caller's rights (it checks read access to the location itself)

CREATE OR REPLACE FUNCTION des.get(name text)
RETURNS bytea
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o record;
BEGIN
    SELECT ob.state, ob.staged, ob.source_url, c.location, b.entry, b.data_offset, b.stored_size, b.flags, b.hash
      INTO o
      FROM des.objects ob
      LEFT JOIN des.blobs b ON ob.state = 'packed' AND b.hash = ob.hash
      LEFT JOIN des.containers c ON c.id = b.container_id AND c.state = 'committed'
     WHERE ob.name = get.name;
    -- staged in des.incoming, for those who may read it (one snapshot for
    -- the whole function: packed meanwhile, it was found above)
    IF NOT FOUND AND has_table_privilege('des.incoming', 'SELECT') THEN
        SELECT 'pending'::des.object_state AS state, i.data AS staged INTO o
          FROM des.incoming i
         WHERE i.name = get.name AND des_internal.incoming_staged(i.id);
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no object named "%"', get.name USING ERRCODE = 'undefined_object';
    END IF;
    IF o.staged IS NOT NULL THEN
        RETURN o.staged;
    ELSIF o.location IS NOT NULL THEN
        -- straight from the blob's place (stored plainly), else through the archive's index
        RETURN coalesce(des_internal.read_blob(o.location, o.data_offset, o.stored_size, o.flags, o.hash),
                        des.archive_read(o.location, o.entry));
    ELSIF o.state = 'dead' THEN
        RAISE EXCEPTION 'object "%" is in the dead-letter table', get.name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'See des.dead_letters; des.retry_dead() returns it to the pipeline.';
    ELSE
        RAISE EXCEPTION 'object "%" is registered from % and not packed yet', get.name, o.source_url
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Its bytes are read when the packer fetches the source.';
    END IF;
END $$;
COMMENT ON FUNCTION des.get(text) IS 'the bytes of an object, wherever they are: staged or in a committed container';

CREATE OR REPLACE FUNCTION des.get_many(names text[])
RETURNS TABLE (name text, data bytea)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
BEGIN
    -- staged objects straight from the catalog
    RETURN QUERY SELECT o.name, o.staged FROM des.objects o
                  WHERE o.name = ANY (names) AND o.staged IS NOT NULL;
    -- and from des.incoming, for those who may read it (one snapshot for the
    -- whole function: each object once, here or among the packed ones)
    IF has_table_privilege('des.incoming', 'SELECT') THEN
        RETURN QUERY SELECT i.name, i.data FROM des.incoming i
                      WHERE i.name = ANY (names) AND des_internal.incoming_staged(i.id);
    END IF;
    -- packed objects: one batched, coalesced read per container
    FOR c IN
        SELECT ct.location, array_agg(b.entry) AS entries,
               jsonb_object_agg(b.entry, to_jsonb(array_agg_names.names)) AS names_by_entry
          FROM (SELECT o.hash, array_agg(o.name) AS names
                  FROM des.objects o WHERE o.name = ANY (names) AND o.state = 'packed'
                 GROUP BY o.hash) array_agg_names
          JOIN des.blobs b ON b.hash = array_agg_names.hash
          JOIN des.containers ct ON ct.id = b.container_id AND ct.state = 'committed'
         GROUP BY ct.location
    LOOP
        RETURN QUERY
            SELECT n.value, r.data
              FROM des.archive_read(c.location, c.entries) r,
                   jsonb_array_elements_text(c.names_by_entry -> r.name) n(value);
    END LOOP;
END $$;
COMMENT ON FUNCTION des.get_many(text[]) IS
  'the bytes of many objects: staged ones from the catalog, packed ones with one batched read per container';

-- ---- marking: the marker worker's unit of work ----

CREATE OR REPLACE FUNCTION des_internal.mark_batch(batch_size int DEFAULT 1000, min_age interval DEFAULT '0 s')
RETURNS int
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
-- Every statement here has an index path, and it is the right one at any
-- table size: a claim walks mark_queue_order (never sorts a whole shard), and
-- = ANY (claimed) is an index probe per id (never a scan of the queue or of
-- des.objects). Statistics cannot be trusted to say so: a burst of puts is
-- marked before autovacuum has analyzed the queue, and a cached generic plan
-- made while the tables were small would never be redone.
SET plan_cache_mode = force_custom_plan
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_sort = off
AS $$
DECLARE
    max_shard int;
    quota int;
    marked int;
    claimed bigint[];
BEGIN
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- shards present in the queue (an index probe, not a scan)
    SELECT max(q.shard) INTO max_shard FROM des.mark_queue q;
    IF max_shard IS NULL THEN
        RETURN 0;
    END IF;
    -- every shard gets the same quota, so a busy shard cannot starve the others;
    -- rows locked by someone else are skipped, never waited for
    quota := greatest(1, ceil(batch_size::numeric / (max_shard + 1))::int);
    claimed := ARRAY(
        SELECT c.object_id
          FROM generate_series(0, max_shard) AS s(shard),
               LATERAL (SELECT q.object_id
                          FROM des.mark_queue q
                         WHERE q.shard = s.shard
                           AND q.created_at <= now() - min_age
                           AND (q.not_before IS NULL OR q.not_before <= now())
                         ORDER BY q.created_at, q.object_id
                         LIMIT quota
                           FOR UPDATE SKIP LOCKED) c
         LIMIT batch_size);
    -- quota that emptier shards left unused goes to the others, so a batch is
    -- full while there is a backlog (the worker sleeps only after a short one)
    IF cardinality(claimed) < batch_size THEN
        claimed := claimed || ARRAY(
            SELECT q.object_id
              FROM des.mark_queue q
             WHERE q.created_at <= now() - min_age
               AND (q.not_before IS NULL OR q.not_before <= now())
               AND q.object_id <> ALL (claimed)
             ORDER BY q.shard, q.created_at, q.object_id
             LIMIT batch_size - cardinality(claimed)
               FOR UPDATE SKIP LOCKED);
    END IF;
    -- = ANY of an array: an index probe per row, never a scan of the table;
    -- the update of des.objects is a HOT one (it changes no indexed column)
    WITH unqueued AS (
        DELETE FROM des.mark_queue q WHERE q.object_id = ANY (claimed)
    ), done AS (
        UPDATE des.objects o
           SET state = 'marked',
               hash = des.blake2b(o.staged),
               size = length(o.staged),
               day = (o.created_at AT TIME ZONE 'UTC')::date,
               shard = coalesce(o.shard, des.shard_of(o.name)),
               updated_at = now()
         WHERE o.id = ANY (claimed) AND o.state = 'pending' AND o.staged IS NOT NULL
        RETURNING o.id, o.day, o.shard, o.size, o.created_at
    ), queued AS (
        INSERT INTO des.pack_queue (day, shard, object_id, size, created_at)
        SELECT d.day, d.shard, d.id, d.size, d.created_at FROM done d
        RETURNING 1
    )
    SELECT count(*) INTO marked FROM queued;
    RETURN marked;
END $$;
COMMENT ON FUNCTION des_internal.mark_batch(int, interval) IS
  'mark up to batch_size staged pending objects older than min_age: claim with SKIP LOCKED, fairly across shards, hash, assign the day';
REVOKE ALL ON FUNCTION des_internal.mark_batch(int, interval) FROM PUBLIC;
