-- Runs and the lineage graph: reads inside a run are input edges (the bundle
-- resolved and the URI as written), commits output edges; des.upstream and
-- des.downstream walk the graph (cycle-safe, depth-limited), des.audit
-- gives a version's record, des.lineage_dot its neighbourhood.
SET client_min_messages = warning;
CREATE OR REPLACE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE TEMP TABLE rv (name text, id text);
CREATE FUNCTION rname(id text) RETURNS text LANGUAGE sql AS $$
    SELECT coalesce((SELECT rv.name FROM rv WHERE rv.id = rname.id), id)
$$;
CREATE FUNCTION lin_put(repo text, path text, body text, label text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM des.stage(repo, 'main', path, convert_to(body, 'UTF8'));
    INSERT INTO rv VALUES (label, des.commit(repo, 'main', label));
END $$;

SELECT des.repo_create('raw', 'raw files') > 0, des.repo_create('clean', 'cleaned') > 0, des.repo_create('report', 'reports') > 0;
SELECT lin_put('raw', 'sales.csv', E'day,amount\n1,10\n', 'raw1');
SELECT lin_put('raw', 'sales.csv', E'day,amount\n1,10\n2,20\n', 'raw2');

-- outside a run: in the read log only
SELECT count(*) AS read_outside FROM des.files('gros://raw');
SELECT count(*) AS edges FROM des.lineage_edges;

-- a cleaning job: reads raw (following it, and pinned at a position), writes clean
SELECT des.run_begin('clean-sales') IS NOT NULL AS begun;
SELECT regexp_replace(try($$SELECT des.run_begin('other')$$), 'run [0-9a-f-]{36}', 'run <id>') AS nested;
SELECT convert_from(des.read('gros://raw', 'sales.csv'), 'UTF8') AS read_latest;
SELECT count(*) AS files FROM des.files('gros://raw/main:0');
SELECT count(*) AS files_again FROM des.files('gros://raw');		-- the same edge is recorded once
SELECT lin_put('clean', 'sales.csv', E'day,amount\n2,20\n', 'clean1');
SELECT des.run_end() IS NOT NULL AS ended;
SELECT try($$SELECT des.run_end()$$) AS no_run;
SELECT r.job, r.state, e.direction, rname(encode(e.bundle_id, 'hex')) AS bundle, e.branch, e.uri
  FROM des.lineage_edges e JOIN des.runs r ON r.id = e.run_id ORDER BY e.direction, e.uri;

-- a report job reads clean by a label and raw by day, writes report; it fails after committing
SELECT des.label_set('clean', 'q1', 'gros://clean');
SELECT des.run_begin('report') IS NOT NULL AS begun;
SELECT count(*) FROM des.files('gros://clean:q1');
SELECT count(*) FROM des.files('gros://raw/main:' || to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD'));
SELECT count(*) FROM des.files('clean/main');		-- a plain ref is an input too
SELECT lin_put('report', 'q1.txt', 'total 20', 'report1');
SELECT des.run_fail('the printer is on fire') IS NOT NULL AS failed;
SELECT job, state, error FROM des.runs ORDER BY started_at;

-- a rolled-back run_begin leaves no run behind
BEGIN;
SELECT des.run_begin('rolled-back') IS NOT NULL AS begun;
ROLLBACK;
SELECT current_setting('des.run_id') = '' AS no_run_after_rollback, count(*) AS runs FROM des.runs WHERE job = 'rolled-back';
-- des.run_id set by hand names no run of this session: nothing is recorded
SET des.run_id = '00000000-0000-0000-0000-000000000000';
SELECT count(*) FROM des.files('gros://raw');
RESET des.run_id;
SELECT count(*) AS edges FROM des.lineage_edges;

-- the graph (today's date in a URI shown as <today>)
SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS today \gset
SELECT rname(bundle_id) AS bundle, repo, branch, job, depth, replace(uri, :'today', '<today>') AS uri
  FROM des.upstream('gros://report') ORDER BY depth, repo, uri;
SELECT rname(bundle_id) AS bundle, repo, branch, job, depth, replace(uri, :'today', '<today>') AS uri
  FROM des.upstream('gros://report', 1) ORDER BY depth, repo, uri;
SELECT rname(bundle_id) AS bundle, repo, branch, job, depth, uri FROM des.downstream('gros://raw/main:0') ORDER BY depth, repo, uri;
SELECT rname(bundle_id) AS bundle, depth FROM des.downstream('gros://raw/main:-1', 0);
SELECT try($$SELECT * FROM des.downstream('gros://raw', -1)$$) AS negative_depth;
-- a cycle: a job reads report and writes raw, which the first job read: the walk ends
SELECT des.run_begin('backfill') IS NOT NULL;
SELECT count(*) FROM des.files('gros://report');
SELECT lin_put('raw', 'sales.csv', E'day,amount\n1,10\n2,20\n3,30\n', 'raw3');
SELECT des.run_end() IS NOT NULL;
SELECT des.run_begin('clean-sales') IS NOT NULL;
SELECT count(*) FROM des.files('gros://raw');
SELECT lin_put('clean', 'sales.csv', E'day,amount\n2,20\n3,30\n', 'clean2');
SELECT des.run_end() IS NOT NULL;
SELECT rname(bundle_id) AS bundle, depth, job FROM des.upstream('gros://clean') ORDER BY depth, bundle;

-- the audit record and the DOT text
SELECT regexp_replace(jsonb_pretty(des.audit('gros://clean/main:0') #- '{bundle_id}' #- '{gros_ref}'
                    #- '{upstreams,0,run_id}' #- '{upstreams,1,run_id}' #- '{downstreams,0,run_id}'), '[0-9a-f]{64}', '<id>', 'g') AS audit;
SELECT (SELECT string_agg(rname(split_part(u ->> 'gros_ref', ':', 3)), ',' ORDER BY u ->> 'uri')
          FROM jsonb_array_elements(des.audit('gros://clean/main:0') -> 'upstreams') u) AS audit_upstreams;
SELECT des.audit('gros://clean/main:0') ->> 'gros_ref' = 'gros://clean/main:' || (SELECT id FROM rv WHERE name = 'clean1') AS gros_ref_ok;
SELECT replace(regexp_replace(regexp_replace(regexp_replace(des.lineage_dot('gros://clean/main:0', 1),
                      '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<run>', 'g'),
                      '[0-9a-f]{64}|[0-9a-f]{12}', '<id>', 'g'), '\\n[0-9a-f]{8}"', '\\n<run>"', 'g'), :'today', '<today>') AS dot;

-- the runs as OpenLineage events (their schema: test/openlineage, with ajv)
SELECT event_type, event->'job'->>'namespace' AS ns, event->'job'->>'name' AS job,
       (SELECT string_agg(d->>'name' || '@' || rname(d->'facets'->'version'->>'datasetVersion'), ' ' ORDER BY d->>'name', rname(d->'facets'->'version'->>'datasetVersion'))
          FROM jsonb_array_elements(event->'inputs') d) AS inputs,
       (SELECT string_agg(d->>'name' || '@' || rname(d->'facets'->'version'->>'datasetVersion'), ' ')
          FROM jsonb_array_elements(event->'outputs') d) AS outputs,
       event->'run'->'facets'->'errorMessage'->>'message' AS error
  FROM des.openlineage_events() ORDER BY event_time, event_type DESC;
SET des.openlineage_namespace = 'lake';
SELECT DISTINCT event->'job'->>'namespace' AS ns FROM des.openlineage_events();
SELECT try($$SET des.openlineage_namespace = ''$$) AS empty_namespace;
RESET des.openlineage_namespace;

-- what others see: nothing of repos they may not read
CREATE ROLE lineage_stranger;
SET ROLE lineage_stranger;
SELECT count(*) AS edges_seen FROM des.lineage_edges;
SELECT count(*) AS runs_seen FROM des.runs;
SELECT count(*) AS events_seen FROM des.openlineage_events();
SELECT try($$SELECT * FROM des.upstream('gros://report')$$) AS upstream_of_unreadable;
RESET ROLE;
DROP ROLE lineage_stranger;

SELECT des.repo_delete('raw'), des.repo_delete('clean'), des.repo_delete('report');
SELECT count(*) AS edges_left FROM des.lineage_edges;
DELETE FROM des.jobs;
DROP FUNCTION rname(text);
DROP FUNCTION lin_put(text, text, text, text);
