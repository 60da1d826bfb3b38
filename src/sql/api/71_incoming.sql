-- The bulk path (catalog/52_incoming.sql, docs/pipeline.md "Bulk loads"):
-- the packer's units of work over des.incoming, and what readers see of it.

-- rows get their object's id from the default (functions exist only now)
ALTER TABLE des.incoming ALTER COLUMN id SET DEFAULT des.next_id();

-- The time an id was made (des.id_info(id).created, as plain SQL that
-- callers' queries inline): 41 bits of milliseconds since 2024 above 22 bits
-- of node and sequence.
CREATE OR REPLACE FUNCTION des_internal.id_time(id bigint)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT timestamptz '2024-01-01 00:00:00+00' + (id >> 22) * interval '1 millisecond'
$$;
GRANT EXECUTE ON FUNCTION des_internal.id_time(bigint) TO PUBLIC;	-- des.stat inlines it with its caller's rights

-- Whether the des.incoming row with this id is staged: not packed, nor
-- rejected (those are in no range any more; deleted rows are gone). Plain
-- SQL, so callers' queries inline it; one snapshot answers for the row and
-- for des.objects, as a commit changes both.
CREATE OR REPLACE FUNCTION des_internal.incoming_staged(row_id bigint)
RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT incoming_staged.row_id > (SELECT s.claimed_upto FROM des.incoming_state s)
           OR EXISTS (SELECT FROM des.incoming_ranges r
                       WHERE incoming_staged.row_id > r.lo AND incoming_staged.row_id <= r.hi)
$$;
GRANT EXECUTE ON FUNCTION des_internal.incoming_staged(bigint) TO PUBLIC;	-- des.get, des.stat and des.get_many inline it with their callers' rights

-- Where the packer holding lease token T writes the container of des.incoming rows:
-- <storage>/YYYY-MM-DD/incoming-<container id>-t<T>.des
CREATE OR REPLACE FUNCTION des_internal.incoming_container_location(storage text, day date, container_id bigint, lease_token bigint)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT rtrim(storage, '/') || '/' || to_char(day, 'YYYY-MM-DD') || '/incoming-'
           || container_id::text || '-t' || lease_token::text || '.des'
$$;
REVOKE ALL ON FUNCTION des_internal.incoming_container_location(text, date, bigint, bigint) FROM PUBLIC;

-- Whether des.incoming holds rows past final_upto that a tick could make final.
CREATE OR REPLACE FUNCTION des_internal.incoming_needs_tick()
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- (max: the index's last entry, whatever the table's statistics say; it is never analyzed)
    SELECT coalesce((SELECT max(i.id) FROM des.incoming i) > (SELECT s.final_upto FROM des.incoming_state s), false)
$$;
REVOKE ALL ON FUNCTION des_internal.incoming_needs_tick() FROM PUBLIC;

-- A tick is done: every row with an id up to upto is committed or never will
-- be (the packer waited for the transactions that could still insert one).
CREATE OR REPLACE FUNCTION des_internal.incoming_advance(upto bigint)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE des.incoming_state s SET final_upto = upto WHERE s.final_upto < upto
$$;
REVOKE ALL ON FUNCTION des_internal.incoming_advance(bigint) FROM PUBLIC;

-- Lease work on des.incoming: a range whose packer is gone (its container
-- written again), or a new range of final rows after claimed_upto, enough
-- for a container (max_entries rows, or max_bytes), or whose first row
-- waited longer than max_age; a backlog is cut into a range for each of
-- the packers. The rows are those with ids in (from_id, to_id].
CREATE OR REPLACE FUNCTION des_internal.lease_incoming(holder text, lease interval, storage text,
                                max_entries int, max_bytes bigint, max_age interval, packers int DEFAULT 1,
                                OUT range_id bigint, OUT token bigint, OUT container_id bigint,
                                OUT location text, OUT resumed boolean, OUT write_location text,
                                OUT day date, OUT from_id bigint, OUT to_id bigint)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s record;
    r record;
    first_id bigint;
    n bigint;
    share int;
    bytes numeric;
    lo bigint;
    hi bigint;
    hi_next bigint;
BEGIN
    -- a range free to lease (made by another lease, or whose packer is gone):
    -- ranges being written are locked, and skipped
    SELECT * INTO r FROM des.incoming_ranges ir
     WHERE ir.expires_at IS NULL OR ir.expires_at <= now()
     ORDER BY ir.lo LIMIT 1
       FOR UPDATE SKIP LOCKED;
    IF FOUND THEN
        range_id := r.id;
        token := r.token + 1;
        from_id := r.lo;
        to_id := r.hi;
        SELECT c.id, c.location, c.day INTO container_id, location, day
          FROM des.containers c WHERE c.id = r.container_id AND c.state <> 'committed';
        resumed := FOUND;
    ELSE
        -- new ranges: one lease at a time makes them (a des.delete holding
        -- the progress row back makes this wait for the next round)
        SELECT * INTO s FROM des.incoming_state st FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            RETURN;
        END IF;
        SELECT i.id INTO first_id FROM des.incoming i
         WHERE i.id > s.claimed_upto AND i.id <= s.final_upto ORDER BY i.id LIMIT 1;
        IF NOT FOUND THEN
            -- every row up to final_upto is committed: none is left there
            -- (deleted before it was packed)
            IF s.claimed_upto < s.final_upto THEN
                UPDATE des.incoming_state st SET claimed_upto = st.final_upto;
            END IF;
            RETURN;
        END IF;
        -- Enough for a container (a full one by count, or by bytes), or
        -- waited long enough? Reads at most max_entries x packers rows.
        SELECT count(*) INTO n
          FROM (SELECT FROM des.incoming i
                 WHERE i.id > s.claimed_upto AND i.id <= s.final_upto
                 ORDER BY i.id LIMIT max_entries::bigint * greatest(packers, 1)) x;
        -- a backlog is cut into a range for each of the packers (at least
        -- 1,000 rows each, at most max_entries), made here all at once
        share := least(max_entries, greatest(1000, ceil(n::numeric / greatest(packers, 1))))::int;
        IF n < max_entries AND des_internal.id_time(first_id) > now() - max_age THEN
            SELECT sum(octet_length(x.data)) INTO bytes
              FROM (SELECT i.data FROM des.incoming i
                     WHERE i.id > s.claimed_upto AND i.id <= s.final_upto
                     ORDER BY i.id LIMIT share) x;
            IF bytes < max_bytes THEN
                RETURN;		-- the container may still fill
            END IF;
        END IF;
        from_id := s.claimed_upto;
        FOR k IN REVERSE ceil(n::numeric / share)::int .. 1 LOOP
            -- ranges from the last: the first one is leased below
            lo := CASE WHEN k = 1 THEN s.claimed_upto
                       ELSE (SELECT i.id FROM des.incoming i
                              WHERE i.id > s.claimed_upto AND i.id <= s.final_upto
                              ORDER BY i.id OFFSET (k - 1)::bigint * share - 1 LIMIT 1) END;
            hi := coalesce(hi_next, CASE WHEN n < max_entries::bigint * greatest(packers, 1) THEN s.final_upto
                                         ELSE (SELECT i.id FROM des.incoming i
                                                WHERE i.id > s.claimed_upto AND i.id <= s.final_upto
                                                ORDER BY i.id OFFSET n - 1 LIMIT 1) END);
            range_id := des.next_id();
            INSERT INTO des.incoming_ranges (id, lo, hi) VALUES (range_id, lo, hi);
            IF hi_next IS NULL THEN
                UPDATE des.incoming_state st SET claimed_upto = hi;
            END IF;
            hi_next := lo;
            to_id := hi;
        END LOOP;
        token := 1;
        resumed := false;
    END IF;
    IF NOT resumed THEN
        day := (now() AT TIME ZONE 'UTC')::date;
        container_id := des.next_id();
        location := des_internal.incoming_container_location(storage, day, container_id, token);
        INSERT INTO des.containers (id, location, day, shard, seq, state, origin)
        VALUES (container_id, location, day, NULL, 0, 'writing', 'incoming');
    END IF;
    -- a resumed container is written again under this lease's own key
    write_location := CASE WHEN resumed
        THEN des_internal.incoming_container_location(regexp_replace(location, '/[0-9]{4}-[0-9]{2}-[0-9]{2}/[^/]*$', ''),
                                                      day, container_id, token)
        ELSE location END;
    UPDATE des.incoming_ranges ir
       SET holder = lease_incoming.holder, expires_at = now() + lease, token = lease_incoming.token,
           container_id = lease_incoming.container_id
     WHERE ir.id = range_id;
    RETURN NEXT;
END $$;
COMMENT ON FUNCTION des_internal.lease_incoming(text, interval, text, int, bigint, interval, int) IS
  'a packer''s claim on des.incoming: a range whose packer is gone, or a new range of final rows enough for a container';
REVOKE ALL ON FUNCTION des_internal.lease_incoming(text, interval, text, int, bigint, interval, int) FROM PUBLIC;

-- Hold the lease on a range for the rest of the transaction; false if it was lost.
CREATE OR REPLACE FUNCTION des_internal.hold_incoming_lease(range_id bigint, token bigint)
RETURNS boolean
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT FROM des.incoming_ranges r
                    WHERE r.id = hold_incoming_lease.range_id AND r.token = hold_incoming_lease.token FOR UPDATE)
$$;
REVOKE ALL ON FUNCTION des_internal.hold_incoming_lease(bigint, bigint) FROM PUBLIC;

-- The same for the range a container of des.incoming rows is written for
-- (des_internal.hold_open_container).
CREATE OR REPLACE FUNCTION des_internal.hold_incoming_container(container_id bigint, token bigint)
RETURNS boolean
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT FROM des.incoming_ranges r
                    WHERE r.container_id = hold_incoming_container.container_id
                      AND r.token = hold_incoming_container.token FOR UPDATE)
$$;
REVOKE ALL ON FUNCTION des_internal.hold_incoming_container(bigint, bigint) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.release_incoming_lease(range_id bigint, token bigint)
RETURNS boolean
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE des.incoming_ranges r SET holder = NULL, expires_at = NULL
     WHERE r.id = release_incoming_lease.range_id AND r.token = release_incoming_lease.token
    RETURNING true
$$;
REVOKE ALL ON FUNCTION des_internal.release_incoming_lease(bigint, bigint) FROM PUBLIC;

-- One transaction records a container written from the rows of a leased
-- range (lo, upto]: each row becomes a packed object (a small row in
-- des.objects: no bytes), each payload written a blob, objects whose bytes
-- were stored already add a reference to their blob, rows the writer
-- refused and rows whose name (or id) is taken in des.objects go to
-- des.incoming_rejects, and the range is done up to upto. Rows are given by
-- id: written (archive order, with hash, size and where the archive's index
-- puts the bytes), linked (hash and size), failed (with the writer's error).
-- Raises if the lease was lost, or if a blob a row was linked to is gone
-- (des.gc removed it meanwhile): the container is then written again.
CREATE OR REPLACE FUNCTION des_internal.commit_incoming(range_id bigint, lease_token bigint,
                                     archive_size bigint, archive_etag text, upto bigint,
                                     ids bigint[], hashes bytea[], sizes bigint[],
                                     offsets bigint[], stored_sizes bigint[], entry_flags int[],
                                     linked bigint[], linked_hashes bytea[], linked_sizes bigint[],
                                     failed bigint[], errors text[],
                                     OUT packed int, OUT deduplicated int, OUT rejected int)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
-- the statement below joins the arrays with a range of des.incoming: one
-- hash join over one pass of the range, not an index probe per row, in
-- memory (a container's rows, some MB; not spilled to temporary files)
SET enable_nestloop = off
SET plan_cache_mode = force_custom_plan
SET work_mem = '64MB'
AS $$
DECLARE
    s record;
    rg record;
    c record;
    n_written int := coalesce(cardinality(ids), 0);
    taken bigint[] := '{}';
    conflict text := '';
    violated text;
    counts record;
    attempt int := 0;
BEGIN
    -- the progress row first, shared: commits of several packers run at
    -- once, and des.delete of staged rows (which locks it for update) waits
    -- for them, or they for it: a row is deleted or packed, never both; then
    -- the range, then the container
    SELECT * INTO s FROM des.incoming_state st FOR SHARE;
    SELECT * INTO rg FROM des.incoming_ranges r WHERE r.id = range_id FOR UPDATE;
    IF NOT FOUND OR rg.token IS DISTINCT FROM lease_token THEN
        RAISE EXCEPTION 'the lease on des.incoming rows was lost'
            USING ERRCODE = 'serialization_failure',
                  DETAIL = 'It expired and another packer took it; that packer writes the container again.';
    END IF;
    SELECT ct.id, ct.day, ct.state, ct.location, ct.origin INTO c
      FROM des.containers ct WHERE ct.id = rg.container_id FOR UPDATE;
    IF NOT FOUND OR c.state = 'committed' OR c.origin <> 'incoming' THEN
        RAISE EXCEPTION 'container % is not an open container of des.incoming', rg.container_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF upto < rg.lo OR upto > rg.hi THEN
        RAISE EXCEPTION 'rows up to % are not in the leased range (%, %]', upto, rg.lo, rg.hi
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF coalesce(cardinality(hashes), 0) <> n_written OR coalesce(cardinality(sizes), 0) <> n_written
       OR coalesce(cardinality(offsets), 0) <> n_written OR coalesce(cardinality(stored_sizes), 0) <> n_written
       OR coalesce(cardinality(entry_flags), 0) <> n_written
       OR coalesce(cardinality(linked_hashes), 0) <> coalesce(cardinality(linked), 0)
       OR coalesce(cardinality(linked_sizes), 0) <> coalesce(cardinality(linked), 0)
       OR coalesce(cardinality(errors), 0) <> coalesce(cardinality(failed), 0) THEN
        RAISE EXCEPTION 'the arrays describing container % differ in length', c.location
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- rows the writer refused
    INSERT INTO des.incoming_rejects (id, name, data, meta, error)
    SELECT i.id, i.name, i.data, i.meta, f.error
      FROM unnest(failed, errors) AS f(id, error) JOIN des.incoming i ON i.id = f.id
     WHERE i.id > rg.lo AND i.id <= upto;

    -- Objects and blobs in one statement, one pass over the rows. A name
    -- taken in des.objects (by des.put since the row was staged) or a blob a
    -- concurrent packer recorded first is rare: the statement then fails,
    -- and runs again without those rows (they are rejected) or adding to
    -- that blob's references.
    LOOP
        attempt := attempt + 1;
        BEGIN
            EXECUTE format($q$
                WITH e AS (
                    SELECT x.id, x.hash, x.size, x.off, x.stored, x.flags, true AS written
                      FROM unnest($1::bigint[], $2::bytea[], $3::bigint[], $4::bigint[], $5::bigint[], $6::int[])
                           AS x(id, hash, size, off, stored, flags)
                    UNION ALL
                    SELECT y.id, y.hash, y.size, NULL, NULL, NULL, false
                      FROM unnest($7::bigint[], $8::bytea[], $9::bigint[]) AS y(id, hash, size)
                ), r AS MATERIALIZED (
                    SELECT i.id, i.name, i.meta, e.hash, e.size, e.off, e.stored, e.flags, e.written
                      FROM des.incoming i JOIN e ON e.id = i.id
                     WHERE i.id > $10 AND i.id <= $11
                ), o AS (
                    INSERT INTO des.objects (id, name, state, shard, day, size, hash, meta, created_at, updated_at)
                    SELECT r.id, r.name, 'packed', des.shard_of(r.name), $12, r.size, r.hash, r.meta,
                           des_internal.id_time(r.id), now()
                      FROM r WHERE r.id <> ALL ($13)
                    RETURNING hash
                ), refs AS (
                    SELECT o.hash, count(*) AS n FROM o GROUP BY o.hash
                ), b AS (
                    INSERT INTO des.blobs AS bl (hash, container_id, entry, size, data_offset, stored_size, flags, refcount)
                    SELECT r.hash, $14, r.name, r.size, r.off, r.stored, r.flags, coalesce(refs.n, 0)
                      FROM r LEFT JOIN refs ON refs.hash = r.hash
                     WHERE r.written
                     ORDER BY r.hash	-- (index entries in key order: fewer pages touched)
                    %s
                    RETURNING 1
                ), l AS (
                    UPDATE des.blobs bl SET refcount = bl.refcount + refs.n
                      FROM refs
                     WHERE bl.hash = refs.hash
                       AND refs.hash NOT IN (SELECT r.hash FROM r WHERE r.written)
                    RETURNING 1
                )
                SELECT (SELECT count(*) FROM o) AS objects, (SELECT count(*) FROM b) AS blobs,
                       (SELECT count(*) FROM l) AS linked_blobs,
                       (SELECT count(*) FROM refs WHERE refs.hash NOT IN (SELECT r.hash FROM r WHERE r.written)) AS linked_wanted,
                       (SELECT count(*) FROM r WHERE NOT r.written AND r.id <> ALL ($13)) AS deduplicated
            $q$, conflict)
            INTO counts
            USING ids, hashes, sizes, offsets, stored_sizes, entry_flags,
                  linked, linked_hashes, linked_sizes,
                  rg.lo, upto, c.day, taken, c.id;
            EXIT;
        EXCEPTION WHEN unique_violation THEN
            GET STACKED DIAGNOSTICS violated = CONSTRAINT_NAME;
            IF attempt > 3 THEN
                RAISE;
            ELSIF violated = 'blobs_pkey' THEN
                conflict := 'ON CONFLICT (hash) DO UPDATE SET refcount = bl.refcount + EXCLUDED.refcount';
            ELSIF violated IN ('objects_name_key', 'objects_pkey') THEN
                taken := taken || ARRAY(
                    SELECT i.id FROM des.incoming i
                     WHERE i.id > rg.lo AND i.id <= upto AND i.id <> ALL (taken)
                       AND (i.id = ANY (ids) OR i.id = ANY (linked))
                       AND EXISTS (SELECT FROM des.objects o WHERE o.name = i.name OR o.id = i.id));
            ELSE
                RAISE;
            END IF;
        END;
    END LOOP;
    IF counts.linked_blobs <> counts.linked_wanted THEN
        RAISE EXCEPTION 'a blob that objects of container "%" were linked to is gone', c.location
            USING ERRCODE = 'serialization_failure',
                  DETAIL = 'des.gc removed it while the container was written; it is written again.';
    END IF;
    INSERT INTO des.incoming_rejects (id, name, data, meta, error)
    SELECT i.id, i.name, i.data, i.meta, format('an object named %s exists', quote_literal(i.name))
      FROM des.incoming i
     WHERE i.id = ANY (taken);

    packed := counts.objects;
    deduplicated := counts.deduplicated;
    rejected := coalesce(cardinality(failed), 0) + cardinality(taken);
    -- (no archive stored: nothing to keep; one of reference entries only is
    -- kept, as it names its objects)
    IF n_written = 0 AND coalesce(archive_size, 0) = 0 THEN
        DELETE FROM des.containers ct WHERE ct.id = c.id;
    ELSE
        UPDATE des.containers ct
           SET state = 'committed', size = archive_size, entries = n_written,
               data_bytes = (SELECT coalesce(sum(x), 0) FROM unnest(stored_sizes) AS x),
               etag = archive_etag, committed_at = now()
         WHERE ct.id = c.id;
    END IF;
    -- the range is done, or its rest (the container filled up) is a range to lease again
    IF upto >= rg.hi THEN
        DELETE FROM des.incoming_ranges r WHERE r.id = rg.id;
    ELSE
        UPDATE des.incoming_ranges r SET lo = upto, holder = NULL, expires_at = NULL, container_id = NULL
         WHERE r.id = rg.id;
    END IF;
END $$;
COMMENT ON FUNCTION des_internal.commit_incoming(bigint, bigint, bigint, text, bigint, bigint[], bytea[], bigint[], bigint[], bigint[], int[], bigint[], bytea[], bigint[], bigint[], text[]) IS
  'the packer''s commit of a container of des.incoming rows: objects, blobs, rejects and progress in one transaction';
REVOKE ALL ON FUNCTION des_internal.commit_incoming(bigint, bigint, bigint, text, bigint, bigint[], bytea[], bigint[], bigint[], bigint[], int[], bigint[], bytea[], bigint[], bigint[], text[]) FROM PUBLIC;

-- Empty des.incoming once every row in it is packed: TRUNCATE, so that no
-- row was ever deleted one by one. It needs a moment when no transaction
-- uses the table; it does not wait long for one (false: try again later).
CREATE OR REPLACE FUNCTION des_internal.incoming_truncate()
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '50ms'
AS $$
BEGIN
    -- nothing to do, or rows left to pack (as far as can be seen without the lock)
    IF NOT EXISTS (SELECT FROM des.incoming)
       OR EXISTS (SELECT FROM des.incoming_ranges)
       OR (SELECT max(i.id) FROM des.incoming i) > (SELECT s.claimed_upto FROM des.incoming_state s) THEN
        RETURN false;
    END IF;
    BEGIN
        LOCK TABLE des.incoming IN ACCESS EXCLUSIVE MODE;
    EXCEPTION WHEN lock_not_available THEN
        RETURN false;
    END;
    -- with the lock, every row is committed: is each one packed? (a range
    -- leased meanwhile is a row lock's wait away from its commit)
    IF EXISTS (SELECT FROM des.incoming_ranges)
       OR (SELECT max(i.id) FROM des.incoming i) > (SELECT s.claimed_upto FROM des.incoming_state s) THEN
        RETURN false;
    END IF;
    TRUNCATE des.incoming;
    RETURN true;
END $$;
REVOKE ALL ON FUNCTION des_internal.incoming_truncate() FROM PUBLIC;

-- What the packer has to do on des.incoming, and what it could not do.
CREATE OR REPLACE VIEW des.stat_incoming AS
SELECT (SELECT count(*) FROM des.incoming i WHERE des_internal.incoming_staged(i.id)) AS staged,
       (SELECT count(*) FROM des.incoming i WHERE i.id <= s.final_upto AND des_internal.incoming_staged(i.id)) AS final,
       (SELECT count(*) FROM des.incoming i WHERE NOT des_internal.incoming_staged(i.id)) AS packed_not_truncated,
       (SELECT count(*) FROM des.incoming_rejects) AS rejected,
       (SELECT count(*) FROM des.incoming_ranges) AS ranges,
       (SELECT count(*) FROM des.incoming_ranges r WHERE r.expires_at > now()) AS ranges_leased,
       s.final_upto, s.claimed_upto
  FROM des.incoming_state s;
COMMENT ON VIEW des.stat_incoming IS
  'des.incoming: rows waiting (staged; final: visible to the packers), rows packed or rejected and not yet truncated, rejects, ranges being packed';

-- The first of these names that a staged row of des.incoming holds (NULL:
-- none): des.put, des.put_many and des.put_url refuse such names at once,
-- whatever the caller may read. (A row staged concurrently with such a put
-- is found when it is packed, and rejected.)
CREATE OR REPLACE FUNCTION des_internal.incoming_name_taken(names text[])
RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    -- (a packed row's name is an object's: the put's own insert meets it)
    SELECT i.name FROM des.incoming i
     WHERE i.name = ANY (names) AND des_internal.incoming_staged(i.id)
     LIMIT 1
$$;
COMMENT ON FUNCTION des_internal.incoming_name_taken(text[]) IS
  'the first of these names a staged row of des.incoming holds, or NULL';
GRANT EXECUTE ON FUNCTION des_internal.incoming_name_taken(text[]) TO PUBLIC;	-- the put functions check names with it (it tells only whether a name is taken)

-- des.delete of staged rows: the rows not packed yet, as of now. The
-- progress row is locked (FOR UPDATE) to the end of the caller's
-- transaction: a packer's commit takes it (FOR SHARE) and records only the
-- rows still there, so a row is either packed (then deleted as an object)
-- or deleted here, never both.
CREATE OR REPLACE FUNCTION des_internal.incoming_delete(names text[])
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    IF NOT has_table_privilege('des.incoming', 'DELETE') THEN
        RETURN 0;	-- (staged rows are deleted with the caller's rights; none of them are theirs)
    END IF;
    PERFORM des_internal.incoming_lock_for_delete();
    -- (rows packed are objects now; rejected ones are des.incoming_rejects' to delete)
    DELETE FROM des.incoming i WHERE i.name = ANY (names) AND des_internal.incoming_staged(i.id);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
GRANT EXECUTE ON FUNCTION des_internal.incoming_delete(text[]) TO PUBLIC;	-- des.delete calls it with its caller's rights (the DELETE needs the caller's privilege on des.incoming)

CREATE OR REPLACE FUNCTION des_internal.incoming_lock_for_delete()
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- (only for those who may delete staged rows: the lock holds the packers' commits back)
    IF NOT has_table_privilege(des_internal.invoking_role(), 'des.incoming', 'DELETE') THEN
        RAISE EXCEPTION 'permission denied for table incoming' USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM FROM des.incoming_state s FOR UPDATE;
END $$;
GRANT EXECUTE ON FUNCTION des_internal.incoming_lock_for_delete() TO PUBLIC;	-- des_internal.incoming_delete locks the lease row with it; it refuses roles without DELETE on des.incoming

-- Every object in the shape of des.objects, wherever it is: the rows of
-- des.objects and the rows staged in des.incoming (state 'pending', their
-- bytes as staged). With the caller's rights on both tables.
CREATE OR REPLACE VIEW des.all_objects WITH (security_invoker = true) AS
SELECT o.id, o.name, o.state, o.shard, o.day, o.size, o.hash, o.meta, o.staged, o.source_url,
       o.attempts, o.last_error, o.created_at, o.updated_at
  FROM des.objects o
UNION ALL
SELECT i.id, i.name, 'pending'::des.object_state, des.shard_of(i.name), NULL::date, octet_length(i.data)::bigint,
       NULL::bytea, i.meta, i.data, NULL::text, 0, NULL::text, des_internal.id_time(i.id), des_internal.id_time(i.id)
  FROM des.incoming i
 WHERE des_internal.incoming_staged(i.id);
COMMENT ON VIEW des.all_objects IS
  'every object in the shape of des.objects: its rows and the rows staged in des.incoming (pending)';
