-- Scrub (docs/gc.md): stored data read back and checked against its hashes.

-- Is this blob in a scrub's sample (a share of the hash space, so the same
-- blobs each time)? The one rule for des.scrub and scrub_container.
CREATE OR REPLACE FUNCTION des_internal.in_scrub_sample(hash bytea, sample float8)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT get_byte(hash, 0) * 256 + get_byte(hash, 1) < sample * 65536 $$;
REVOKE ALL ON FUNCTION des_internal.in_scrub_sample(bytea, float8) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.scrub_container(container_id bigint, sample float8)
RETURNS TABLE (hash bytea, problem text)
AS 'MODULE_PATHNAME', 'des_scrub_container'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION des_internal.scrub_container(bigint, float8) IS
  'read back the blobs of a container (a sample: the share of hashes) and check each against its hash: a row per blob that fails';
REVOKE ALL ON FUNCTION des_internal.scrub_container(bigint, float8) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.scrub_repair(hash bytea, container_id bigint, data bytea)
RETURNS boolean
AS 'MODULE_PATHNAME', 'des_scrub_repair'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION des_internal.scrub_repair(bytea, bigint, bytea) IS
  'store data anew (only if it has this hash) and re-point the blob that lived in container_id there';
REVOKE ALL ON FUNCTION des_internal.scrub_repair(bytea, bigint, bytea) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.scrub_find_copy(hash bytea, location text, names text[])
RETURNS bytea
AS 'MODULE_PATHNAME', 'des_scrub_find_copy'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION des_internal.scrub_find_copy(bytea, text, text[]) IS
  'the bytes of the first of these entries of the archive at location that have this BLAKE2b-256, read through its index; NULL if none has them';
REVOKE ALL ON FUNCTION des_internal.scrub_find_copy(bytea, text, text[]) FROM PUBLIC;

-- des.scrub(scope, sample): scope 'all', 'pipeline' (the packer's
-- containers), 'datasets' (the dataset functions' and compaction's), or
-- 'container:<id>'; sample: the share of blobs read (by hash, so the same
-- sample each time; 1: all). Every blob that does not read back as its hash
-- is a row (and a row of des.scrub_results), naming the pipeline objects and
-- repos that have it; one with an intact copy somewhere is repaired: stored
-- anew, re-pointed. Copies: the same bytes staged again (a pipeline object
-- put again and not packed yet), else an entry with those bytes, by the
-- names they were stored under (the blob's entry, the packed objects that
-- have them), in: its own container read through its index (a recorded
-- place that is wrong), the files des.gc removed and has not deleted yet
-- (what compaction and merging copied from), the packer's containers of
-- the days and shards of those objects (a copy a concurrent packer wrote).
CREATE OR REPLACE FUNCTION des.scrub(scope text DEFAULT 'all', sample float8 DEFAULT 1.0)
RETURNS TABLE (location text, hash text, problem text, objects text[], repos text[], repaired boolean)
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
    found_h bytea[];
    found_p text[];
    failure text;
    h bytea;
    intact bytea;
    names text[];
    place record;
BEGIN
    IF sample IS NULL OR sample <= 0 OR sample > 1 THEN
        RAISE EXCEPTION 'des.scrub: sample must be in (0, 1]' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF scope IS NULL OR NOT (scope IN ('all', 'pipeline', 'datasets') OR scope ~ '^container:[0-9]{1,18}$') THEN
        RAISE EXCEPTION 'des.scrub: scope must be all, pipeline, datasets or container:<id>, not %', coalesce(quote_literal(scope), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR c IN
        SELECT ct.id, ct.location FROM des.containers ct
         WHERE ct.state = 'committed'
           AND CASE WHEN scope = 'all' THEN true
                    WHEN scope = 'pipeline' THEN ct.origin IN ('packer', 'incoming')
                    WHEN scope = 'datasets' THEN ct.origin NOT IN ('packer', 'incoming')
                    ELSE ct.id = substr(scope, 11)::bigint END
         ORDER BY ct.id
    LOOP
        BEGIN
            SELECT coalesce(array_agg(s.hash ORDER BY s.hash), '{}'), coalesce(array_agg(s.problem ORDER BY s.hash), '{}')
              INTO found_h, found_p
              FROM des_internal.scrub_container(c.id, sample) s;
        EXCEPTION WHEN OTHERS THEN
            -- the container cannot be read at all (gone, cut short): every blob of the sample
            failure := SQLERRM;
            SELECT coalesce(array_agg(b.hash ORDER BY b.hash), '{}'), coalesce(array_agg('unreadable: ' || failure ORDER BY b.hash), '{}')
              INTO found_h, found_p
              FROM des.blobs b
             WHERE b.container_id = c.id AND des_internal.in_scrub_sample(b.hash, sample);
        END;
        FOR i IN 1 .. coalesce(cardinality(found_h), 0) LOOP
            h := found_h[i];
            location := c.location;
            hash := encode(h, 'hex');
            problem := found_p[i];
            objects := ARRAY(SELECT o.name FROM des.objects o WHERE o.hash = h AND o.state = 'packed' ORDER BY o.name);
            repos := ARRAY(SELECT DISTINCT r.name FROM des.dataset_contents dc JOIN des.repositories r ON r.id = dc.repo_id,
                                  des_internal.content_chunks(dc.chunks) AS ch(id)
                            WHERE ch.id = h ORDER BY r.name);
            -- an intact copy: the same bytes staged again (a pipeline object not packed yet)
            intact := (SELECT o.staged FROM des.objects o
                        WHERE o.staged IS NOT NULL AND (o.hash = h OR (o.hash IS NULL AND des.blake2b(o.staged) = h))
                        LIMIT 1);
            -- else an entry with these bytes in another place (see above)
            IF intact IS NULL THEN
                names := ARRAY(SELECT b.entry FROM des.blobs b WHERE b.hash = h
                               UNION SELECT o.name FROM des.objects o WHERE o.hash = h AND o.state = 'packed');
                FOR place IN
                    SELECT c.location AS location
                    UNION
                    SELECT g.location FROM des.gc_pending_deletes g
                    UNION
                    SELECT ct.location FROM des.objects o
                      JOIN des.containers ct ON ct.day = o.day AND ct.shard = o.shard
                     WHERE o.hash = h AND o.state = 'packed' AND ct.origin IN ('packer', 'incoming') AND ct.state = 'committed'
                LOOP
                    BEGIN
                        intact := des_internal.scrub_find_copy(h, place.location, names);
                    EXCEPTION WHEN OTHERS THEN
                        intact := NULL;		-- that place cannot be read: the next one
                    END;
                    EXIT WHEN intact IS NOT NULL;
                END LOOP;
            END IF;
            repaired := intact IS NOT NULL AND des_internal.scrub_repair(h, c.id, intact);
            INSERT INTO des.scrub_results (container_id, location, hash, problem, objects, repos, repaired)
            VALUES (c.id, c.location, h, found_p[i], scrub.objects, scrub.repos, scrub.repaired);
            RETURN NEXT;
        END LOOP;
    END LOOP;
END $$;
COMMENT ON FUNCTION des.scrub(text, float8) IS
  'read stored blobs back (scope: all, pipeline, datasets, container:<id>; sample: share of hashes) and check them: a row per blob damaged, misplaced or unreadable, with the objects and repos that have it; repaired from an intact copy when there is one: staged again, or an entry with those bytes in another stored archive (des.scrub_results keeps them)';
REVOKE ALL ON FUNCTION des.scrub(text, float8) FROM PUBLIC;	-- an operator's action
