-- OpenLineage (docs/lineage.md, "OpenLineage"): the runs as OpenLineage
-- 2-0-2 run events, for Marquez and every other consumer of the standard.

-- The datasets of a run's edges in one direction: one per (repo, branch,
-- bundle), named repo/branch (or repo, for a bundle read by id or label)
-- in the namespace "gros", with its version (the bundle id) and its data
-- source (the gros:// URI of the branch; branch names need no escaping:
-- their characters are all unreserved in URIs).
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
                               'uri', 'gros://' || rp.name || coalesce('/' || e.branch, '')))) AS dataset
              FROM des.lineage_edges e JOIN des.repositories rp ON rp.id = e.repo_id
             WHERE e.run_id = run AND e.direction = dir
             ORDER BY rp.name, e.branch, e.bundle_id, e.at) d
$$;
REVOKE ALL ON FUNCTION des_internal.openlineage_datasets(uuid, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION des_internal.openlineage_datasets(uuid, text, text) TO PUBLIC;	-- reads with its caller's rights

CREATE OR REPLACE FUNCTION des.openlineage_events(since timestamptz DEFAULT NULL)
RETURNS TABLE (event_time timestamptz, run_id uuid, event_type text, event jsonb)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH p AS (
        SELECT current_setting('des.openlineage_namespace') AS ns,
               'urn:pg_des:' || (SELECT x.extversion FROM pg_extension x WHERE x.extname = 'pg_des') AS producer
    ), ev AS (
        SELECT r.id, r.job, r.started_at AS at, 'START' AS type, 0 AS ord, r.error FROM des.runs r
        UNION ALL
        SELECT r.id, r.job, r.ended_at, CASE r.state WHEN 'completed' THEN 'COMPLETE' ELSE 'FAIL' END, 1, r.error
          FROM des.runs r WHERE r.state <> 'running'
    )
    SELECT ev.at, ev.id, ev.type,
           jsonb_build_object(
               'eventTime', ev.at,
               'producer', p.producer,
               'schemaURL', 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent',
               'eventType', ev.type,
               'run', jsonb_build_object(
                   'runId', ev.id,
                   'facets', CASE WHEN ev.type = 'FAIL' THEN jsonb_build_object(
                                  'errorMessage', jsonb_build_object(
                                      '_producer', p.producer,
                                      '_schemaURL', 'https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet',
                                      'message', coalesce(ev.error, 'failed'),
                                      'programmingLanguage', 'SQL'))
                                  ELSE '{}'::jsonb END),
               'job', jsonb_build_object(
                   'namespace', p.ns,
                   'name', ev.job,
                   'facets', jsonb_build_object(
                       'jobType', jsonb_build_object(
                           '_producer', p.producer,
                           '_schemaURL', 'https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet',
                           'processingType', 'BATCH',
                           'integration', 'PG_DES',
                           'jobType', 'JOB'))),
               -- the datasets once the run is over: what it read and committed
               'inputs', CASE WHEN ev.type = 'START' THEN '[]'::jsonb
                              ELSE des_internal.openlineage_datasets(ev.id, 'input', p.producer) END,
               'outputs', CASE WHEN ev.type = 'START' THEN '[]'::jsonb
                               ELSE des_internal.openlineage_datasets(ev.id, 'output', p.producer) END)
      FROM ev, p
     WHERE since IS NULL OR ev.at > since
     ORDER BY ev.at, ev.id, ev.ord
$$;
COMMENT ON FUNCTION des.openlineage_events(timestamptz) IS
  'the runs as OpenLineage 2-0-2 run events (START, then COMPLETE or FAIL with the versions read and committed), those after since; through row-level security';
GRANT EXECUTE ON FUNCTION des.openlineage_events(timestamptz) TO PUBLIC;
