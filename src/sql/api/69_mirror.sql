-- The lineage mirror (docs/lineage.md, "The mirror in storage"): with
-- des.lineage_mirror on, the audit records also written to storage in the
-- GitOps lake's key layout, so tools built for that layout keep working:
--   dependency/{repo}/{branch}/{day}/metadata/{day}.json
--       the audit record of the branch's last version of that day
--   dependency/{repo}/{branch}/{day}/downstreams/{urlencoded repo/branch}
--       one per branch made from that version: its versions, jobs and runs
-- Commits enqueue the days whose files change (des.lineage_mirror_queue,
-- in the committing transaction); the trigger dispatcher writes them
-- (src/backend/lineage/mirror.c), outside any transaction.

-- The day of a bundle of a repo, in des.lineage_timezone (what a day tag names).
CREATE OR REPLACE FUNCTION des_internal.bundle_day(repo bigint, bundle bytea)
RETURNS date
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (b.created_at AT TIME ZONE current_setting('des.lineage_timezone'))::date
      FROM des.dataset_bundles b WHERE b.repo_id = repo AND b.id = bundle
$$;
REVOKE ALL ON FUNCTION des_internal.bundle_day(bigint, bytea) FROM PUBLIC;

-- A commit's days to write again: the new version's; inside a run, also
-- those of the versions the run read (they gain a downstream). The
-- dispatchers are woken when this commits.
CREATE OR REPLACE FUNCTION des_internal.mirror_enqueue(repo bigint, branch_name text, head bytea, run uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO des.lineage_mirror_queue AS q (repo_id, branch, day)
    SELECT x.repo_id, x.branch, x.day
      FROM (SELECT repo AS repo_id, branch_name AS branch, des_internal.bundle_day(repo, head) AS day
            UNION
            SELECT e.repo_id, e.branch, des_internal.bundle_day(e.repo_id, e.bundle_id)
              FROM des.lineage_edges e
             WHERE run IS NOT NULL AND e.run_id = run AND e.direction = 'input' AND e.branch IS NOT NULL) x
     WHERE x.day IS NOT NULL
    ON CONFLICT (repo_id, branch, day) DO UPDATE
       SET enqueued_at = clock_timestamp(), attempts = 0, not_before = NULL, last_error = NULL;
    PERFORM des_internal.wake_dispatchers_at_commit();
END $$;
REVOKE ALL ON FUNCTION des_internal.mirror_enqueue(bigint, text, bytea, uuid) FROM PUBLIC;

-- What the files of a (repo, branch, day) say: the key prefix under the
-- storage root, the metadata record, and one downstream file per branch
-- made from that day's last version (names: the url-encoded repo/branch).
-- No row when the branch has no version that day (any more).
CREATE OR REPLACE FUNCTION des_internal.mirror_files(repo bigint, branch_name text, day date,
                                                    OUT prefix text, OUT metadata text,
                                                    OUT downstream_names text[], OUT downstream_bodies text[])
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    repo_name text := (SELECT r.name FROM des.repositories r WHERE r.id = repo);
    uri text;
    record jsonb;
BEGIN
    IF repo_name IS NULL OR NOT EXISTS (SELECT FROM des.branch_history h WHERE h.repo_id = repo AND h.branch = branch_name
                                          AND (h.committed_at AT TIME ZONE current_setting('des.lineage_timezone'))::date = day) THEN
        RETURN;
    END IF;
    uri := 'gros://' || repo_name || '/' || branch_name || ':' || to_char(day, 'YYYY-MM-DD');
    record := des.audit(uri);
    prefix := 'dependency/' || repo_name || '/' || branch_name || '/' || to_char(day, 'YYYY-MM-DD');
    metadata := jsonb_pretty(record);
    SELECT coalesce(array_agg(d.name ORDER BY d.name), '{}'), coalesce(array_agg(d.body ORDER BY d.name), '{}')
      INTO downstream_names, downstream_bodies
      FROM (SELECT replace(dn.repo || '/' || dn.branch, '/', '%2F') AS name,
                   jsonb_pretty(jsonb_agg(jsonb_build_object(
                                    'gros_ref', 'gros://' || dn.repo || '/' || dn.branch || ':' || dn.bundle_id,
                                    'uri', dn.uri, 'job', dn.job, 'run_id', dn.run_id)
                                ORDER BY dn.bundle_id, dn.run_id)) AS body
              FROM des.downstream(uri, 1) dn
             WHERE dn.branch IS NOT NULL
             GROUP BY dn.repo, dn.branch) d;
    RETURN NEXT;
END $$;
REVOKE ALL ON FUNCTION des_internal.mirror_files(bigint, text, date) FROM PUBLIC;

-- The dispatcher's units: claim the oldest due day (a lease of lease, so a
-- writer that dies leaves it to be taken again), then done (the row goes,
-- unless enqueued again meanwhile) or failed (backoff).
CREATE OR REPLACE FUNCTION des_internal.mirror_claim(lease interval,
                                                    OUT repo_id bigint, OUT branch text, OUT day date,
                                                    OUT enqueued_at timestamptz, OUT prefix text, OUT metadata text,
                                                    OUT downstream_names text[], OUT downstream_bodies text[],
                                                    OUT next_due_ms bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    q des.lineage_mirror_queue;
    f record;
BEGIN
    LOOP
        SELECT * INTO q FROM des.lineage_mirror_queue x
         WHERE x.not_before IS NULL OR x.not_before <= now()
         ORDER BY x.enqueued_at
         LIMIT 1
           FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            next_due_ms := (SELECT ceil(extract(epoch FROM min(x.not_before) - now()) * 1000)::bigint
                              FROM des.lineage_mirror_queue x WHERE x.not_before > now());
            RETURN;
        END IF;
        SELECT * INTO f FROM des_internal.mirror_files(q.repo_id, q.branch, q.day);
        IF f.prefix IS NULL THEN
            DELETE FROM des.lineage_mirror_queue x WHERE x.repo_id = q.repo_id AND x.branch = q.branch AND x.day = q.day;
            CONTINUE;	-- no version that day (any more): nothing to write
        END IF;
        UPDATE des.lineage_mirror_queue x SET attempts = x.attempts + 1, not_before = now() + lease
         WHERE x.repo_id = q.repo_id AND x.branch = q.branch AND x.day = q.day;
        repo_id := q.repo_id;
        branch := q.branch;
        day := q.day;
        enqueued_at := q.enqueued_at;
        prefix := f.prefix;
        metadata := f.metadata;
        downstream_names := f.downstream_names;
        downstream_bodies := f.downstream_bodies;
        RETURN;
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION des_internal.mirror_claim(interval) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.mirror_done(repo bigint, branch_name text, day date, enqueued timestamptz)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    DELETE FROM des.lineage_mirror_queue x
     WHERE x.repo_id = repo AND x.branch = branch_name AND x.day = mirror_done.day AND x.enqueued_at = enqueued;
$$;
REVOKE ALL ON FUNCTION des_internal.mirror_done(bigint, text, date, timestamptz) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.mirror_failed(repo bigint, branch_name text, day date, error text, retry_base interval)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE des.lineage_mirror_queue x
       SET last_error = error,
           not_before = now() + least(retry_base * power(2, least(x.attempts - 1, 30)), interval '1 hour')
     WHERE x.repo_id = repo AND x.branch = branch_name AND x.day = mirror_failed.day;
$$;
REVOKE ALL ON FUNCTION des_internal.mirror_failed(bigint, text, date, text, interval) FROM PUBLIC;

-- Everything again (after turning the mirror on, or to repair storage):
-- every day of every branch that has a version; how many were queued.
CREATE OR REPLACE FUNCTION des.lineage_mirror_all()
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    INSERT INTO des.lineage_mirror_queue AS q (repo_id, branch, day)
    SELECT DISTINCT h.repo_id, h.branch, (h.committed_at AT TIME ZONE current_setting('des.lineage_timezone'))::date
      FROM des.branch_history h
    ON CONFLICT (repo_id, branch, day) DO UPDATE
       SET enqueued_at = clock_timestamp(), attempts = 0, not_before = NULL, last_error = NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM des_internal.wake_dispatchers_at_commit();
    RETURN n;
END $$;
COMMENT ON FUNCTION des.lineage_mirror_all() IS
  'queue every day of every branch for the lineage mirror (dependency/... in storage), e.g. after turning des.lineage_mirror on; how many';
REVOKE ALL ON FUNCTION des.lineage_mirror_all() FROM PUBLIC;	-- an operator's action
