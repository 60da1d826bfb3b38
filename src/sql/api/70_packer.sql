-- Failures, retries and the dead-letter table; the packer's units of work
-- (lease, commit) and what it leaves in storage. See docs/pipeline.md.

-- ---- failures: exponential backoff, then the dead-letter table ----

CREATE OR REPLACE FUNCTION des_internal.fail_objects(ids bigint[], errors text[], max_attempts int, retry_base interval,
                                 unfetched_only boolean DEFAULT false)
RETURNS int
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan  -- index probes for = ANY (ids), whatever the tables' size at first use
AS $$
DECLARE
    dead int;
    f_ids bigint[];
    f_dead boolean[];
    f_days date[];
    f_shards int[];
    f_retry_at timestamptz[];
BEGIN
    IF cardinality(ids) IS DISTINCT FROM cardinality(errors) THEN
        RAISE EXCEPTION 'ids and errors must have the same length' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF cardinality(ids) = 0 THEN
        RETURN 0;
    END IF;
    -- back to pending after retry_base * 2^attempts (at most an hour), or dead
    WITH f AS (SELECT DISTINCT ON (u.id) u.id, u.error FROM unnest(ids, errors) AS u(id, error)),
    failed AS (
        UPDATE des.objects o
           SET attempts = o.attempts + 1,
               last_error = f.error,
               state = CASE WHEN o.attempts + 1 >= max_attempts THEN 'dead' ELSE 'pending' END::des.object_state,
               updated_at = now()
          FROM f
         WHERE o.id = ANY (ids) AND o.id = f.id AND o.state IN ('pending', 'marked')
           -- a failed fetch never touches an object another marker has fetched meanwhile
           AND (NOT unfetched_only OR (o.state = 'pending' AND o.staged IS NULL))
        RETURNING o.id, o.state, o.attempts, o.day, o.shard
    )
    SELECT array_agg(x.id), array_agg(x.state = 'dead'), array_agg(x.day), array_agg(x.shard),
           array_agg(now() + least(retry_base * power(2, least(x.attempts - 1, 30)), interval '1 hour'))
      INTO f_ids, f_dead, f_days, f_shards, f_retry_at
      FROM failed x;
    IF f_ids IS NULL THEN
        RETURN 0;
    END IF;
    -- out of the queue they were in; the retried ones back into mark (or
    -- fetch, when their bytes were never read) with their backoff time
    DELETE FROM des.pack_queue q USING unnest(f_days, f_shards, f_ids) AS f(day, shard, id)
     WHERE q.day = f.day AND q.shard = f.shard AND q.object_id = f.id;
    DELETE FROM des.mark_queue q WHERE q.object_id = ANY (f_ids);
    DELETE FROM des.fetch_queue q WHERE q.object_id = ANY (f_ids);
    PERFORM des_internal.enqueue(f_ids, f_retry_at);	-- the dead ones are not pending: left out
    WITH buried AS (
        INSERT INTO des.dead_letters AS d (object_id, error, attempts)
        SELECT o.id, o.last_error, o.attempts
          FROM unnest(f_ids, f_dead) AS f(id, dead) JOIN des.objects o ON o.id = f.id
         WHERE f.dead
        ON CONFLICT (object_id) DO UPDATE SET error = excluded.error, attempts = excluded.attempts, failed_at = now()
        RETURNING 1
    )
    SELECT count(*) INTO dead FROM buried;
    RETURN dead;
END $$;
COMMENT ON FUNCTION des_internal.fail_objects(bigint[], text[], int, interval, boolean) IS
  'record a failed attempt per object: retry after retry_base * 2^attempts, or the dead-letter table after max_attempts';
REVOKE ALL ON FUNCTION des_internal.fail_objects(bigint[], text[], int, interval, boolean) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des.retry_dead(ids bigint[] DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    back_ids bigint[];
BEGIN
    WITH d AS (
        DELETE FROM des.dead_letters dl WHERE ids IS NULL OR dl.object_id = ANY (ids) RETURNING dl.object_id
    ), back AS (
        UPDATE des.objects o
           SET state = 'pending', attempts = 0, updated_at = now()
          FROM d
         WHERE o.id = d.object_id AND o.state = 'dead'
        RETURNING o.id
    )
    SELECT array_agg(back.id) INTO back_ids FROM back;
    PERFORM des_internal.enqueue(back_ids);
    RETURN coalesce(cardinality(back_ids), 0);
END $$;
COMMENT ON FUNCTION des.retry_dead(bigint[]) IS
  'return dead-lettered objects (all, or the given ids) to the pipeline with a fresh attempt count';
REVOKE ALL ON FUNCTION des.retry_dead(bigint[]) FROM PUBLIC;	-- an operator's action

-- ---- objects registered by URL: the marker fetches them outside any transaction ----

CREATE OR REPLACE FUNCTION des_internal.claim_fetches(batch_size int, lease interval)
RETURNS TABLE (id bigint, source_url text, meta jsonb)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH claimed AS (
        UPDATE des.fetch_queue q
           SET claimed_until = now() + lease
          FROM (SELECT c.object_id FROM des.fetch_queue c
                 WHERE (c.not_before IS NULL OR c.not_before <= now())
                   AND (c.claimed_until IS NULL OR c.claimed_until <= now())
                 ORDER BY c.object_id
                 LIMIT batch_size
                   FOR UPDATE SKIP LOCKED) c
         WHERE q.object_id = c.object_id
        RETURNING q.object_id
    )
    SELECT o.id, o.source_url, o.meta
      FROM claimed c JOIN des.objects o ON o.id = c.object_id
     WHERE o.state = 'pending' AND o.staged IS NULL
$$;
COMMENT ON FUNCTION des_internal.claim_fetches(int, interval) IS
  'claim objects registered by URL for fetching, oldest first, with a lease (an expired claim is taken again)';
REVOKE ALL ON FUNCTION des_internal.claim_fetches(int, interval) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.stage_fetched(id bigint, data bytea)
RETURNS boolean
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    -- the bytes are in: from the fetch queue to the mark queue
    WITH staged AS (
        UPDATE des.objects o
           SET staged = data, size = length(data), updated_at = now()
         WHERE o.id = stage_fetched.id AND o.state = 'pending' AND o.staged IS NULL
        RETURNING o.id, o.shard, o.created_at
    ), unqueued AS (
        DELETE FROM des.fetch_queue q USING staged s WHERE q.object_id = s.id
    ), queued AS (
        INSERT INTO des.mark_queue (object_id, shard, created_at)
        SELECT s.id, s.shard, s.created_at FROM staged s
        ON CONFLICT (object_id) DO NOTHING
    )
    SELECT true FROM staged
$$;
COMMENT ON FUNCTION des_internal.stage_fetched(bigint, bytea) IS
  'keep the fetched bytes of an object registered by URL; the marker then marks it like any staged object';
REVOKE ALL ON FUNCTION des_internal.stage_fetched(bigint, bytea) FROM PUBLIC;

-- ---- the packer's units of work ----

-- Container keys are a function of (storage, day, shard, seq, lease token):
-- every lease grant writes under a key of its own, and only the key recorded
-- in des.containers.location when the container commits is ever read. A
-- writer whose lease ran out (an upload that completed late, say) can only
-- ever write its own key, never the one another packer committed; what it
-- leaves there is listed by des.orphans once the container is committed.
CREATE OR REPLACE FUNCTION des_internal.container_location(storage text, day date, shard int, seq int, lease_token bigint)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT rtrim(storage, '/') || '/' || to_char(day, 'YYYY-MM-DD') || '/'
           -- at least two digits for the shard and six for the sequence, never cut
           || CASE WHEN shard < 10 THEN '0' ELSE '' END || shard::text || '-'
           || CASE WHEN seq < 1000000 THEN lpad(seq::text, 6, '0') ELSE seq::text END
           || '-t' || lease_token::text || '.des'
$$;
COMMENT ON FUNCTION des_internal.container_location(text, date, int, int, bigint) IS
  'where the packer holding lease token T writes container seq of (day, shard): <storage>/YYYY-MM-DD/NN-SSSSSS-tT.des';
REVOKE ALL ON FUNCTION des_internal.container_location(text, date, int, int, bigint) FROM PUBLIC;

-- Lease one (day, shard) that has work: an open container to finish, or
-- marked objects enough for a container (by count or bytes), waiting longer
-- than max_age, or of a past day. Locked rows and live leases are skipped.
CREATE OR REPLACE FUNCTION des_internal.lease_shard(holder text, lease interval, storage text,
                                max_entries int, max_bytes bigint, max_age interval,
                                OUT day date, OUT shard int, OUT token bigint,
                                OUT container_id bigint, OUT location text, OUT resumed boolean,
                                OUT write_location text)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cand record;
    n bigint;
    bytes numeric;
    oldest timestamptz;
    next_seq int;
    today date := (now() AT TIME ZONE 'UTC')::date;
BEGIN
    FOR cand IN
        -- distinct (day, shard) in the pack queue: a skip scan of its primary key
        WITH RECURSIVE marked(day, shard) AS (
            (SELECT q.day, q.shard FROM des.pack_queue q ORDER BY q.day, q.shard LIMIT 1)
            UNION ALL
            SELECT nxt.day, nxt.shard
              FROM marked m,
                   LATERAL (SELECT q.day, q.shard FROM des.pack_queue q
                             WHERE (q.day, q.shard) > (m.day, m.shard)
                             ORDER BY q.day, q.shard LIMIT 1) nxt
        )
        SELECT m.day, m.shard FROM marked m
        UNION
        SELECT c.day, c.shard FROM des.containers c WHERE c.state <> 'committed' AND c.origin = 'packer'
        ORDER BY 1, 2
    LOOP
        -- a (day, shard) gets its lease row the first time it has work; a
        -- concurrent first insert of the same row (another packer's short
        -- lease transaction) is the only thing this can wait for
        IF NOT EXISTS (SELECT FROM des.shard_leases l WHERE l.day = cand.day AND l.shard = cand.shard) THEN
            INSERT INTO des.shard_leases (day, shard) VALUES (cand.day, cand.shard) ON CONFLICT DO NOTHING;
        END IF;
        -- token: what this grant's token will be (its key carries it)
        SELECT l.token + 1 INTO token FROM des.shard_leases l
          WHERE l.day = cand.day AND l.shard = cand.shard
            AND (l.expires_at IS NULL OR l.expires_at <= now())
            FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;

        SELECT c.id, c.location, c.seq INTO container_id, location, next_seq
          FROM des.containers c
         WHERE c.day = cand.day AND c.shard = cand.shard AND c.state <> 'committed';
        resumed := FOUND;
        IF NOT resumed THEN
            -- cheap tests first: a past day, or the first object (ids follow time) waited long enough
            SELECT q.created_at INTO oldest FROM des.pack_queue q
             WHERE q.day = cand.day AND q.shard = cand.shard
             ORDER BY q.object_id LIMIT 1;
            CONTINUE WHEN NOT FOUND;
            IF NOT (cand.day < today OR oldest <= now() - max_age) THEN
                -- enough for a full container? (reads at most max_entries index entries)
                SELECT count(*), sum(x.size) INTO n, bytes
                  FROM (SELECT q.size FROM des.pack_queue q
                         WHERE q.day = cand.day AND q.shard = cand.shard
                         ORDER BY q.object_id LIMIT max_entries) x;
                CONTINUE WHEN NOT (n >= max_entries OR bytes >= max_bytes);
            END IF;
            SELECT coalesce(max(c.seq) + 1, 0) INTO next_seq
              FROM des.containers c WHERE c.day = cand.day AND c.shard = cand.shard;
            location := des_internal.container_location(storage, cand.day, cand.shard, next_seq, token);
            INSERT INTO des.containers (location, day, shard, seq, state)
            VALUES (location, cand.day, cand.shard, next_seq, 'writing')
            RETURNING id INTO container_id;
        END IF;
        -- A resumed container keeps its key until this holder writes
        -- (des_internal.container_attempt): what an earlier holder stored there may be
        -- adopted first. The new key stays in the container's own storage.
        write_location := CASE WHEN resumed
            THEN des_internal.container_location(regexp_replace(location, '/[0-9]{4}-[0-9]{2}-[0-9]{2}/[^/]*$', ''),
                                        cand.day, cand.shard, next_seq, token)
            ELSE location END;

        UPDATE des.shard_leases l
           SET holder = lease_shard.holder, expires_at = now() + lease, token = lease_shard.token
         WHERE l.day = cand.day AND l.shard = cand.shard;
        day := cand.day;
        shard := cand.shard;
        RETURN NEXT;
        RETURN;
    END LOOP;
END $$;
COMMENT ON FUNCTION des_internal.lease_shard(text, interval, text, int, bigint, interval) IS
  'the packer''s claim: lease a (day, shard) with work, creating or resuming its open container';
REVOKE ALL ON FUNCTION des_internal.lease_shard(text, interval, text, int, bigint, interval) FROM PUBLIC;

-- Hold the lease for the rest of the transaction; false if it was lost (expired and taken).
CREATE OR REPLACE FUNCTION des_internal.hold_lease(day date, shard int, token bigint)
RETURNS boolean
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT FROM des.shard_leases l
                    WHERE l.day = hold_lease.day AND l.shard = hold_lease.shard AND l.token = hold_lease.token
                      FOR UPDATE)
$$;
REVOKE ALL ON FUNCTION des_internal.hold_lease(date, int, bigint) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.release_lease(day date, shard int, token bigint)
RETURNS boolean
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE des.shard_leases l SET holder = NULL, expires_at = NULL
     WHERE l.day = release_lease.day AND l.shard = release_lease.shard AND l.token = release_lease.token
    RETURNING true
$$;
REVOKE ALL ON FUNCTION des_internal.release_lease(date, int, bigint) FROM PUBLIC;

-- One transaction records a written container: its entries become blobs, the
-- objects in it and those deduplicated against existing blobs become packed
-- (their staged bytes freed), failures are recorded, the lease is released.
-- A container with no entries is dropped. Raises if the lease was lost or
-- if an entry is not a marked object of this (day, shard) with that hash.
-- Entries are given by object id, in archive order (the packer read them by
-- id; adoption maps the stored names to ids first), each with its hash and
-- where the archive's index puts its bytes (offset, stored size, flags).
CREATE OR REPLACE FUNCTION des_internal.commit_container(container_id bigint, lease_token bigint,
                                     archive_size bigint, archive_etag text,
                                     ids bigint[], hashes bytea[],
                                     offsets bigint[], stored_sizes bigint[], entry_flags int[],
                                     linked bigint[],
                                     failed bigint[], errors text[],
                                     max_attempts int, retry_base interval,
                                     OUT packed int, OUT deduplicated int, OUT dead int)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan  -- index probes for = ANY (ids), whatever the tables' size at first use
AS $$
DECLARE
    c record;
    n_entries int := coalesce(cardinality(ids), 0);
    flipped_n int;
    present bytea[];
    -- the written objects: flipped to packed, out of the pack queue, into
    -- des.blobs (%s: what to do about a hash that is there already)
    record_written constant text := $q$
        WITH written AS (
            SELECT * FROM unnest($1, $2, $3, $4, $5) AS w(id, hash, data_offset, stored_size, flags)
        ), flipped AS (
            UPDATE des.objects o
               SET state = 'packed', staged = NULL, updated_at = now()
             WHERE o.id = ANY ($1) AND o.state = 'marked' AND o.day = $6 AND o.shard = $7
            RETURNING o.id, o.name, o.hash, o.size
        ), unqueued AS (
            DELETE FROM des.pack_queue q WHERE q.day = $6 AND q.shard = $7 AND q.object_id = ANY ($1)
        ), stored AS (
            INSERT INTO des.blobs AS b (hash, container_id, entry, size, data_offset, stored_size, flags, refcount)
            SELECT f.hash, $8, f.name, f.size, w.data_offset, w.stored_size, w.flags, 1
              FROM flipped f JOIN written w ON w.id = f.id AND w.hash = f.hash
            %s
        )
        SELECT count(*) FROM flipped f JOIN written w ON w.id = f.id AND w.hash = f.hash$q$;
BEGIN
    IF cardinality(ids) IS DISTINCT FROM cardinality(hashes) OR cardinality(ids) IS DISTINCT FROM cardinality(offsets)
       OR cardinality(ids) IS DISTINCT FROM cardinality(stored_sizes)
       OR cardinality(ids) IS DISTINCT FROM cardinality(entry_flags) THEN
        RAISE EXCEPTION 'ids, hashes, offsets, stored_sizes and entry_flags must have the same length'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- the lease row first, then the container row: the order the write transaction takes them in
    SELECT ct.day, ct.shard INTO c FROM des.containers ct WHERE ct.id = container_id;
    IF FOUND AND NOT des_internal.hold_lease(c.day, c.shard, lease_token) THEN
        RAISE EXCEPTION 'the lease on day % shard % was lost', to_char(c.day, 'YYYY-MM-DD'), c.shard
            USING ERRCODE = 'serialization_failure',
                  DETAIL = 'It expired and another packer took it; that packer finishes the container.';
    END IF;
    SELECT ct.id, ct.day, ct.shard, ct.state, ct.location INTO c
      FROM des.containers ct WHERE ct.id = container_id FOR UPDATE;
    IF NOT FOUND OR c.state = 'committed' THEN
        RAISE EXCEPTION 'container % is not open', container_id USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF NOT des_internal.hold_lease(c.day, c.shard, lease_token) THEN
        RAISE EXCEPTION 'the lease on day % shard % was lost', to_char(c.day, 'YYYY-MM-DD'), c.shard
            USING ERRCODE = 'serialization_failure',
                  DETAIL = 'It expired and another packer took it; that packer finishes the container.';
    END IF;

    -- The written objects: HOT updates of des.objects, out of the pack queue,
    -- into des.blobs. Whether each one was a marked object of this (day,
    -- shard) with the hash the archive records is counted afterwards; a
    -- mismatch raises, which undoes all of it. The blobs are new (the packer
    -- linked every hash it found in des.blobs instead of writing it), so a
    -- plain INSERT records them. Only a concurrent packer can have committed
    -- the same bytes since: then the statement is run again with ON CONFLICT
    -- (this copy stays unused, the existing blob gains the reference). The
    -- exception block costs one subtransaction per container; ON CONFLICT
    -- would cost an extra index probe per blob. (The statement is planned
    -- at each call, as the = ANY probes need.)
    IF n_entries > 0 THEN
        IF (SELECT count(DISTINCT i) FROM unnest(ids) AS i) <> n_entries
           OR (SELECT count(DISTINCT h) FROM unnest(hashes) AS h) <> n_entries THEN
            RAISE EXCEPTION 'container "%" does not match the catalog', c.location
                USING ERRCODE = 'data_corrupted',
                      DETAIL = 'An object or a hash is given twice, or without a value: a container holds each blob once.';
        END IF;
        BEGIN
            EXECUTE format(record_written, '') INTO flipped_n
              USING ids, hashes, offsets, stored_sizes, entry_flags, c.day, c.shard, c.id;
        EXCEPTION WHEN unique_violation THEN
            EXECUTE format(record_written, 'ON CONFLICT (hash) DO UPDATE SET refcount = b.refcount + 1') INTO flipped_n
              USING ids, hashes, offsets, stored_sizes, entry_flags, c.day, c.shard, c.id;
        END;
        IF flipped_n <> n_entries THEN
            RAISE EXCEPTION 'container "%" does not match the catalog', c.location
                USING ERRCODE = 'data_corrupted',
                      DETAIL = format('%s of its %s entries are marked objects of (%s, %s) with that hash.',
                                      flipped_n, n_entries, to_char(c.day, 'YYYY-MM-DD'), c.shard);
        END IF;
    END IF;
    packed := n_entries;

    -- Deduplicated objects: linked to a blob stored already (or just now).
    -- The blobs' counts are raised first: that UPDATE locks them, so a
    -- garbage collector holding one is waited out and a blob it removed is
    -- not found. Only objects whose blob is there (and now stays: it has
    -- their reference) are flipped; the others stay marked in the pack queue,
    -- and the next container writes their bytes.
    WITH wanted AS (
        SELECT o.hash, count(*) AS n FROM des.objects o
         WHERE o.id = ANY (linked) AND o.state = 'marked'
         GROUP BY o.hash
    ), refs AS (
        UPDATE des.blobs b SET refcount = b.refcount + w.n
          FROM wanted w
         WHERE b.hash = w.hash
        RETURNING b.hash
    )
    SELECT coalesce(array_agg(r.hash), '{}') INTO present FROM refs r;
    WITH flipped AS (
        UPDATE des.objects o
           SET state = 'packed', staged = NULL, updated_at = now()
         WHERE o.id = ANY (linked) AND o.state = 'marked' AND o.hash = ANY (present)
        RETURNING o.id, o.hash, o.day, o.shard
    ), unqueued AS (
        DELETE FROM des.pack_queue q USING flipped f
         WHERE q.day = f.day AND q.shard = f.shard AND q.object_id = f.id
    )
    SELECT count(*) INTO deduplicated FROM flipped;
    packed := packed + deduplicated;

    dead := des_internal.fail_objects(coalesce(failed, '{}'), coalesce(errors, '{}'), max_attempts, retry_base);

    IF n_entries = 0 THEN
        -- no payload was written: queue rows of objects that are no longer
        -- marked (changed by hand) would bring the packer back here at every lease
        DELETE FROM des.pack_queue q
         WHERE q.day = c.day AND q.shard = c.shard
           AND NOT EXISTS (SELECT FROM des.objects o WHERE o.id = q.object_id AND o.state = 'marked');
    END IF;
    -- no archive stored: nothing to keep (one of reference entries only is
    -- kept, as it names its objects)
    IF n_entries = 0 AND coalesce(archive_size, 0) = 0 THEN
        DELETE FROM des.containers ct WHERE ct.id = c.id;
    ELSE
        UPDATE des.containers ct
           SET state = 'committed', size = archive_size, entries = n_entries,
               data_bytes = (SELECT coalesce(sum(x), 0) FROM unnest(stored_sizes) AS x),
               etag = archive_etag, committed_at = now()
         WHERE ct.id = c.id;
    END IF;
    UPDATE des.shard_leases l SET holder = NULL, expires_at = NULL
     WHERE l.day = c.day AND l.shard = c.shard;
END $$;
COMMENT ON FUNCTION des_internal.commit_container(bigint, bigint, bigint, text, bigint[], bytea[], bigint[], bigint[], int[], bigint[], bigint[], text[], int, interval) IS
  'the packer''s commit: container, blobs and objects in one transaction, under the lease';
REVOKE ALL ON FUNCTION des_internal.commit_container(bigint, bigint, bigint, text, bigint[], bytea[], bigint[], bigint[], int[], bigint[], bigint[], text[], int, interval) FROM PUBLIC;

-- The open container's row, locked, for the holder of its lease; a lost
-- lease (expired and taken, or the container committed meanwhile) is a
-- serialization failure (40001): the caller's step is abandoned and retried.
CREATE OR REPLACE FUNCTION des_internal.hold_open_container(container_id bigint, lease_token bigint,
                                                            OUT day date, OUT shard int, OUT seq int, OUT origin text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    held boolean;
BEGIN
    SELECT ct.day, ct.shard, ct.seq, ct.origin INTO day, shard, seq, origin FROM des.containers ct
     WHERE ct.id = container_id AND ct.state <> 'committed' FOR UPDATE;
    -- (a container of des.incoming rows is under the lease on des.incoming)
    held := FOUND AND CASE WHEN origin = 'incoming' THEN des_internal.hold_incoming_container(container_id, lease_token)
                           ELSE des_internal.hold_lease(day, shard, lease_token) END;
    IF NOT held THEN
        RAISE EXCEPTION 'the lease on container % was lost', container_id USING ERRCODE = 'serialization_failure';
    END IF;
END $$;
REVOKE ALL ON FUNCTION des_internal.hold_open_container(bigint, bigint) FROM PUBLIC;

-- An open container whose upload is on its way (S3: written to a spool file).
CREATE OR REPLACE FUNCTION des_internal.container_uploading(container_id bigint, lease_token bigint, archive_size bigint, entries int)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM des_internal.hold_open_container(container_id, lease_token);
    UPDATE des.containers ct SET state = 'uploading', size = archive_size, entries = container_uploading.entries
     WHERE ct.id = container_id;
END $$;
REVOKE ALL ON FUNCTION des_internal.container_uploading(bigint, bigint, bigint, int) FROM PUBLIC;

-- A resumed container that this lease holder writes again, under its own
-- key (write_location of des_internal.lease_shard): committed before any byte is
-- written, so that a crash after the write still finds the archive to adopt.
-- Only the holder of the current token can move the key; the late write of an
-- earlier holder lands on a key nothing refers to any more.
CREATE OR REPLACE FUNCTION des_internal.container_attempt(container_id bigint, lease_token bigint, location text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
    key text;
BEGIN
    SELECT * INTO c FROM des_internal.hold_open_container(container_id, lease_token);
    key := CASE WHEN c.origin = 'incoming'
                THEN des_internal.incoming_container_location('', c.day, container_id, lease_token)
                ELSE des_internal.container_location('', c.day, c.shard, c.seq, lease_token) END;
    IF right(container_attempt.location, length(key)) IS DISTINCT FROM key THEN
        RAISE EXCEPTION 'location "%" is not the key of container % under lease token %',
                        container_attempt.location, container_id, lease_token
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE des.containers ct SET location = container_attempt.location, state = 'writing', size = NULL, entries = NULL
     WHERE ct.id = container_id;
END $$;
COMMENT ON FUNCTION des_internal.container_attempt(bigint, bigint, text) IS
  'the packer''s new attempt at a resumed container: its key becomes this lease''s own';
REVOKE ALL ON FUNCTION des_internal.container_attempt(bigint, bigint, text) FROM PUBLIC;

-- ---- dedup and storage housekeeping ----

CREATE OR REPLACE FUNCTION des.dedup_stats(OUT packed_objects bigint, OUT blobs bigint, OUT logical_bytes numeric,
                                OUT stored_bytes numeric, OUT saved_bytes numeric, OUT dedup_ratio numeric)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(sum(b.refcount), 0)::bigint, count(*),
           coalesce(sum(b.size * b.refcount), 0), coalesce(sum(b.size), 0),
           coalesce(sum(b.size * (b.refcount - 1)), 0),
           round(coalesce(sum(b.size * b.refcount), 0) / nullif(sum(b.size), 0), 3)
      FROM des.blobs b WHERE b.refcount > 0
$$;
COMMENT ON FUNCTION des.dedup_stats() IS
  'what deduplication saved: objects packed, distinct blobs, bytes as stored by objects vs in containers';

CREATE OR REPLACE VIEW des.stat_dedup AS SELECT * FROM des.dedup_stats();
COMMENT ON VIEW des.stat_dedup IS 'packed objects, distinct blobs, logical and stored bytes, the deduplication ratio (des.dedup_stats)';

-- Files and keys under the storage root that no catalog row accounts for:
-- left by crashed writes that recovery did not reach, or put there by hand.
-- Only remove => true deletes them. An open container's current key and its
-- temporary files are never listed; the keys of its earlier attempts (each
-- lease grant writes its own) are, since nothing will read them.
-- Is location a dataset function's container (or its temporary file) whose
-- writing transaction, named in it (datasets/<db>/<day>/<id>-x<xid>.des), is
-- still in progress? (A transaction id from another cluster is not.)
CREATE OR REPLACE FUNCTION des_internal.written_in_progress(location text)
RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    x xid8 := substring(location from '/datasets/[0-9]+/[^/]+/[0-9]+-x([0-9]{1,19})[.]des')::xid8;
BEGIN
    -- (NULL for a transaction older than the commit log keeps: long over)
    RETURN x IS NOT NULL AND coalesce(pg_xact_status(x) = 'in progress', false);
EXCEPTION WHEN invalid_parameter_value THEN
    RETURN false;	-- "in the future": not a transaction of this cluster
END $$;
REVOKE ALL ON FUNCTION des_internal.written_in_progress(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des.orphans(storage text DEFAULT NULL, remove boolean DEFAULT false)
RETURNS TABLE (location text, size bigint, removed boolean)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    root text := rtrim(coalesce(storage, des_internal.storage_root()), '/');
    r record;
BEGIN
    -- each re-check below must see rows committed since the listing began:
    -- only READ COMMITTED gives each statement a new snapshot
    IF remove AND current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'des.orphans removes only at the READ COMMITTED isolation level'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('This transaction runs at %s, where a container committed meanwhile would look orphaned.',
                                  upper(current_setting('transaction_isolation')));
    END IF;
    IF remove AND root <> rtrim(des_internal.storage_root(), '/') THEN
        RAISE EXCEPTION 'des.orphans removes only under the storage root "%"', des_internal.storage_root()
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'List another root without remove, and delete what you choose with des.storage_delete().';
    END IF;
    FOR r IN
        SELECT s.location, s.size FROM des.storage_list(root || '/') s
         WHERE NOT s.is_prefix
           AND NOT EXISTS (SELECT FROM des.containers c WHERE c.location = s.location)
           -- a dataset function's container (or its temporary file), while
           -- the transaction that writes it may still commit its row
           AND NOT des_internal.written_in_progress(s.location)
           -- a container des.gc removed: its file is deleted by des.gc, once
           -- no snapshot that may still read it remains (docs/gc.md)
           AND NOT EXISTS (SELECT FROM des.gc_pending_deletes g WHERE g.location = s.location)
           -- the dataset containers of other databases are theirs to account for
           AND NOT (starts_with(s.location, root || '/datasets/')
                    AND NOT starts_with(s.location, root || '/datasets/' ||
                                        (SELECT d.oid FROM pg_database d WHERE d.datname = current_database()) || '/'))
           -- the temporary files of a container being written (DES_LOCAL_TEMP_INFIX
           -- of des_local.h), and external payloads
           AND NOT EXISTS (SELECT FROM des.containers c
                            WHERE (c.state <> 'committed' AND starts_with(s.location, c.location || '.tmp.'))
                               OR starts_with(s.location, left(c.location, -4) || '/'))
         ORDER BY 1
    LOOP
        location := r.location;
        size := r.size;
        -- look again with a fresh snapshot: a packer may have created this
        -- container (its row comes before its file) since the listing began
        CONTINUE WHEN EXISTS (SELECT FROM des.containers c
                               WHERE c.location = r.location
                                  OR starts_with(r.location, c.location || '.tmp.'));
        removed := remove AND des.storage_delete(r.location);
        RETURN NEXT;
    END LOOP;
END $$;
COMMENT ON FUNCTION des.orphans(text, boolean) IS
  'stored objects under the storage root (default des.storage) with no catalog row; remove => true deletes them';
REVOKE ALL ON FUNCTION des.orphans(text, boolean) FROM PUBLIC;	-- an operator's action: it lists and deletes stored objects
