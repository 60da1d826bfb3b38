-- OpenLineage (docs/lineage.md, "OpenLineage"): the runs as OpenLineage
-- 2-0-2 run events, for Marquez and every other consumer of the standard.

-- The datasets of a run's edges in one direction: one per (repo, branch,
-- bundle), named repo/branch (or repo, for a bundle read by id or label)
-- in the namespace "gros", with its version (the bundle id) and its data
-- source (the gros:// URI of the branch; branch names need no escaping:
-- their characters are all unreserved in URIs), and its schema when files of
-- that version were profiled.
CREATE OR REPLACE FUNCTION des_internal.openlineage_datasets(run uuid, dir text, producer text)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(jsonb_agg(d.dataset ORDER BY d.name, d.version), '[]'::jsonb)
      FROM (SELECT DISTINCT ON (rp.name, e.branch, e.bundle_id)
                   rp.name || coalesce('/' || e.branch, '') AS name, encode(e.bundle_id, 'hex') AS version,
                   jsonb_build_object(
                       'namespace', 'gros',
                       'name', rp.name || coalesce('/' || e.branch, ''),
                       'facets', jsonb_build_object(
                           'version', jsonb_build_object(
                               '_producer', producer,
                               '_schemaURL', 'https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet',
                               'datasetVersion', encode(e.bundle_id, 'hex')),
                           'dataSource', jsonb_build_object(
                               '_producer', producer,
                               '_schemaURL', 'https://openlineage.io/spec/facets/1-0-1/DatasourceDatasetFacet.json#/$defs/DatasourceDatasetFacet',
                               'name', 'gros://' || rp.name,
                               'uri', 'gros://' || rp.name || coalesce('/' || e.branch, '')))
                       || CASE WHEN sch.fields IS NULL THEN '{}'::jsonb
                               ELSE jsonb_build_object('schema', jsonb_build_object(
                                   '_producer', producer,
                                   '_schemaURL', 'https://openlineage.io/spec/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet',
                                   'fields', sch.fields)) END) AS dataset
              FROM des.lineage_edges e JOIN des.repositories rp ON rp.id = e.repo_id
              -- the schema, when files of that version were profiled (docs/discovery.md): their
              -- columns, each once (the first file by path that has it), with the profiled type
              LEFT JOIN LATERAL (
                  SELECT jsonb_agg(jsonb_build_object('name', f.name, 'type', f.type, 'description', 'in ' || f.path,
                                                      'ordinal_position', f.ord) ORDER BY f.ord) AS fields
                    FROM (SELECT c.name, c.type, c.path, row_number() OVER (ORDER BY c.path, c.position) AS ord
                            FROM (SELECT DISTINCT ON (dc.name) dc.name, split_part(dc.structural_type, '/', 4) AS type,
                                         d.materialize ->> 'path' AS path, dc.position
                                    FROM des.discovered_datasets d JOIN des.discovered_columns dc ON dc.dataset = d.id
                                   WHERE d.state = 'profiled' AND d.materialize ->> 'kind' = 'bundle'
                                     AND d.materialize ->> 'repo' = rp.name
                                     AND d.materialize ->> 'ref' LIKE '%:' || encode(e.bundle_id, 'hex')
                                   ORDER BY dc.name, d.materialize ->> 'path', dc.position) c) f) sch ON true
             WHERE e.run_id = run AND e.direction = dir
             ORDER BY rp.name, e.branch, e.bundle_id, e.at) d
$$;
REVOKE ALL ON FUNCTION des_internal.openlineage_datasets(uuid, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION des_internal.openlineage_datasets(uuid, text, text) TO PUBLIC;	-- reads with its caller's rights

-- The event type of a run's end: COMPLETE, FAIL, or ABORT (its session ended before the run did).
CREATE OR REPLACE FUNCTION des_internal.openlineage_end_type(state text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE state WHEN 'completed' THEN 'COMPLETE' WHEN 'aborted' THEN 'ABORT' ELSE 'FAIL' END $$;
GRANT EXECUTE ON FUNCTION des_internal.openlineage_end_type(text) TO PUBLIC;

-- One run event: START, or its end (COMPLETE, FAIL or ABORT) with the versions read and committed.
CREATE OR REPLACE FUNCTION des_internal.openlineage_event(r des.runs, event_type text)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH p AS (
        SELECT current_setting('des.openlineage_namespace') AS ns,
               'urn:pg_des:' || (SELECT x.extversion FROM pg_extension x WHERE x.extname = 'pg_des') AS producer
    )
    SELECT jsonb_build_object(
               'eventTime', CASE WHEN event_type = 'START' THEN r.started_at ELSE r.ended_at END,
               'producer', p.producer,
               'schemaURL', 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent',
               'eventType', event_type,
               'run', jsonb_build_object(
                   'runId', r.id,
                   'facets', CASE WHEN event_type = 'FAIL' THEN jsonb_build_object(
                                  'errorMessage', jsonb_build_object(
                                      '_producer', p.producer,
                                      '_schemaURL', 'https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet',
                                      'message', coalesce(r.error, 'failed'),
                                      'programmingLanguage', 'SQL'))
                                  ELSE '{}'::jsonb END),
               'job', jsonb_build_object(
                   'namespace', p.ns,
                   'name', r.job,
                   'facets', jsonb_build_object(
                       'jobType', jsonb_build_object(
                           '_producer', p.producer,
                           '_schemaURL', 'https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet',
                           'processingType', 'BATCH',
                           'integration', 'PG_DES',
                           'jobType', 'JOB'))),
               -- the datasets once the run is over: what it read and committed
               'inputs', CASE WHEN event_type = 'START' THEN '[]'::jsonb
                              ELSE des_internal.openlineage_datasets(r.id, 'input', p.producer) END,
               'outputs', CASE WHEN event_type = 'START' THEN '[]'::jsonb
                               ELSE des_internal.openlineage_datasets(r.id, 'output', p.producer) END)
      FROM p
$$;
REVOKE ALL ON FUNCTION des_internal.openlineage_event(des.runs, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION des_internal.openlineage_event(des.runs, text) TO PUBLIC;	-- reads with its caller's rights

CREATE OR REPLACE FUNCTION des.openlineage_events(since timestamptz DEFAULT NULL)
RETURNS TABLE (event_time timestamptz, run_id uuid, event_type text, event jsonb)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ev.at, (ev.r).id, ev.type, des_internal.openlineage_event(ev.r, ev.type)
      FROM (SELECT r, r.started_at AS at, 'START' AS type, 0 AS ord FROM des.runs r
            UNION ALL
            SELECT r, r.ended_at, des_internal.openlineage_end_type(r.state), 1
              FROM des.runs r WHERE r.state <> 'running') ev
     WHERE since IS NULL OR ev.at > since
     ORDER BY ev.at, (ev.r).id, ev.ord
$$;
COMMENT ON FUNCTION des.openlineage_events(timestamptz) IS
  'the runs as OpenLineage 2-0-2 run events (START, then COMPLETE or FAIL with the versions read and committed), those after since; through row-level security';
GRANT EXECUTE ON FUNCTION des.openlineage_events(timestamptz) TO PUBLIC;

-- ---- the push (des.openlineage_url): an outbox the dispatcher sends ----

-- A run begins or ends: its event is queued in the same transaction (when
-- a push URL is set), and the dispatchers are woken at commit.
CREATE OR REPLACE FUNCTION des_internal.openlineage_enqueue()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF coalesce(current_setting('des.openlineage_url', true), '') = '' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO des.openlineage_outbox (run_id, event_type) VALUES (NEW.id, 'START') ON CONFLICT DO NOTHING;
    END IF;
    IF NEW.state <> 'running' AND (TG_OP = 'INSERT' OR OLD.state = 'running') THEN
        INSERT INTO des.openlineage_outbox (run_id, event_type)
        VALUES (NEW.id, des_internal.openlineage_end_type(NEW.state)) ON CONFLICT DO NOTHING;
    END IF;
    PERFORM des_internal.wake_dispatchers_at_commit();
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION des_internal.openlineage_enqueue() FROM PUBLIC;
CREATE OR REPLACE TRIGGER openlineage_enqueue AFTER INSERT OR UPDATE OF state ON des.runs
    FOR EACH ROW EXECUTE FUNCTION des_internal.openlineage_enqueue();

-- The dispatcher's units: claim up to n due events (a lease, attempts + 1)
-- with their JSON; then each sent (its row goes) or failed (backoff, or
-- after max_attempts the dead letters, with the event as it was).
CREATE OR REPLACE FUNCTION des_internal.openlineage_claim(n int, lease interval)
RETURNS TABLE (run_id uuid, event_type text, attempts int, event text)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH due AS (
        SELECT o.run_id, o.event_type FROM des.openlineage_outbox o
         WHERE o.not_before IS NULL OR o.not_before <= now()
         ORDER BY o.enqueued_at, o.event_type DESC	-- a run's START before its end
         LIMIT n
           FOR UPDATE SKIP LOCKED
    ), claimed AS (
        UPDATE des.openlineage_outbox o SET attempts = o.attempts + 1, not_before = now() + lease
          FROM due WHERE o.run_id = due.run_id AND o.event_type = due.event_type
        RETURNING o.run_id, o.event_type, o.attempts, o.enqueued_at
    )
    SELECT c.run_id, c.event_type, c.attempts, des_internal.openlineage_event(r, c.event_type)::text
      FROM claimed c JOIN des.runs r ON r.id = c.run_id
     ORDER BY c.enqueued_at, c.event_type DESC
$$;
REVOKE ALL ON FUNCTION des_internal.openlineage_claim(int, interval) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.openlineage_next_due()
RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT greatest(ceil(extract(epoch FROM min(coalesce(o.not_before, now())) - now()) * 1000)::bigint, 0)
      FROM des.openlineage_outbox o
$$;
REVOKE ALL ON FUNCTION des_internal.openlineage_next_due() FROM PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.openlineage_sent(runs uuid[], types text[])
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    DELETE FROM des.openlineage_outbox o
     USING unnest(runs, types) AS s(run_id, event_type)
     WHERE o.run_id = s.run_id AND o.event_type = s.event_type;
$$;
REVOKE ALL ON FUNCTION des_internal.openlineage_sent(uuid[], text[]) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.openlineage_failed(run uuid, type text, error text, event text,
                                                          max_attempts int, retry_base interval)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o des.openlineage_outbox;
BEGIN
    SELECT * INTO o FROM des.openlineage_outbox x WHERE x.run_id = run AND x.event_type = type;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF o.attempts >= max_attempts THEN
        INSERT INTO des.openlineage_dead_letters (run_id, event_type, event, error, attempts)
        VALUES (run, type, event::jsonb, error, o.attempts)
        ON CONFLICT (run_id, event_type) DO UPDATE
           SET event = EXCLUDED.event, error = EXCLUDED.error, attempts = EXCLUDED.attempts, failed_at = now();
        DELETE FROM des.openlineage_outbox x WHERE x.run_id = run AND x.event_type = type;
    ELSE
        UPDATE des.openlineage_outbox x
           SET last_error = error,
               not_before = now() + least(retry_base * power(2, least(x.attempts - 1, 30)), interval '1 hour')
         WHERE x.run_id = run AND x.event_type = type;
    END IF;
END $$;
REVOKE ALL ON FUNCTION des_internal.openlineage_failed(uuid, text, text, text, int, interval) FROM PUBLIC;

-- Dead events back into the outbox (all, or those of the runs given); how many.
CREATE OR REPLACE FUNCTION des.openlineage_retry(runs uuid[] DEFAULT NULL)
RETURNS int
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n int;
BEGIN
    WITH gone AS (
        DELETE FROM des.openlineage_dead_letters d WHERE runs IS NULL OR d.run_id = ANY (runs)
        RETURNING d.run_id, d.event_type
    )
    INSERT INTO des.openlineage_outbox (run_id, event_type)
    SELECT g.run_id, g.event_type FROM gone g JOIN des.runs r ON r.id = g.run_id
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM des_internal.wake_dispatchers_at_commit();
    RETURN n;
END $$;
COMMENT ON FUNCTION des.openlineage_retry(uuid[]) IS
  'send dead OpenLineage events again (all, or those of the runs given): back into the outbox; how many';
REVOKE ALL ON FUNCTION des.openlineage_retry(uuid[]) FROM PUBLIC;	-- an operator's action
