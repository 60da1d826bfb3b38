-- gros:// URIs (docs/lineage.md): the grammar is the core's (src/core/uri);
-- resolution into bundles comes with the versioning catalog.

CREATE OR REPLACE FUNCTION des.uri_parse(uri text,
                                         OUT repo text, OUT branch text, OUT tag_kind text, OUT tag text,
                                         OUT day date, OUT "position" bigint, OUT realtime boolean,
                                         OUT canonical text)
AS 'MODULE_PATHNAME', 'des_uri_parse_sql'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION des.uri_parse(text) IS
  'a gros://repo[/branch][:tag] URI taken apart: repo, branch (NULL: the default), tag kind (realtime, latest, date, position, name, name_or_id), the decoded tag, its day or position, whether it is a real-time dependency, the canonical text';

-- ---- the bundles of each branch in order (des.branch_history) ----

-- The first parent of a bundle as its history stands (des.squash may have
-- replaced the header's parents: history_parents, '{}' when none is kept).
CREATE OR REPLACE FUNCTION des_internal.first_parent(b des.dataset_bundles)
RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE	-- (no SET clause: so it is inlined; it names nothing to look up)
AS $$ SELECT (coalesce(b.history_parents, b.parents))[1] $$;
REVOKE ALL ON FUNCTION des_internal.first_parent(des.dataset_bundles) FROM PUBLIC;

-- Rebuild a branch's rows: its first-parent chain from its head, oldest
-- first. Runs as the owner (the functions that move branches do; so does
-- resolution when it finds the rows out of step).
CREATE OR REPLACE FUNCTION des_internal.branch_history_rebuild(repo bigint, branch_name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM des.branch_history h WHERE h.repo_id = repo AND h.branch = branch_name;
    INSERT INTO des.branch_history (repo_id, branch, position, bundle_id, committed_at)
    WITH RECURSIVE chain(id, depth) AS (
        SELECT br.head, 0 FROM des.dataset_branches br
         WHERE br.repo_id = repo AND br.name = branch_name AND br.head IS NOT NULL
        UNION ALL
        SELECT des_internal.first_parent(b), c.depth + 1
          FROM chain c JOIN des.dataset_bundles b ON b.repo_id = repo AND b.id = c.id
         WHERE des_internal.first_parent(b) IS NOT NULL
    )
    SELECT repo, branch_name, max(c.depth) OVER () - c.depth, c.id, b.created_at
      FROM chain c JOIN des.dataset_bundles b ON b.repo_id = repo AND b.id = c.id;
END $$;
REVOKE ALL ON FUNCTION des_internal.branch_history_rebuild(bigint, text) FROM PUBLIC;

-- A branch moved: a commit on its head (the new head's first parent is the
-- old head, whose row is the last) appends one row; anything else rebuilds.
CREATE OR REPLACE FUNCTION des_internal.branch_moved()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    nb des.dataset_bundles;
    last des.branch_history;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.head IS NOT DISTINCT FROM OLD.head AND NEW.name = OLD.name THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.head IS NOT NULL AND OLD.head IS NOT NULL AND NEW.name = OLD.name THEN
        SELECT * INTO nb FROM des.dataset_bundles b WHERE b.repo_id = NEW.repo_id AND b.id = NEW.head;
        SELECT * INTO last FROM des.branch_history h WHERE h.repo_id = NEW.repo_id AND h.branch = NEW.name
         ORDER BY h.position DESC LIMIT 1;
        IF nb.id IS NOT NULL AND last.bundle_id = OLD.head AND des_internal.first_parent(nb) = OLD.head THEN
            INSERT INTO des.branch_history (repo_id, branch, position, bundle_id, committed_at)
            VALUES (NEW.repo_id, NEW.name, last.position + 1, NEW.head, nb.created_at);
            RETURN NULL;
        END IF;
    END IF;
    PERFORM des_internal.branch_history_rebuild(NEW.repo_id, NEW.name);
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION des_internal.branch_moved() FROM PUBLIC;
CREATE OR REPLACE TRIGGER branch_moved AFTER INSERT OR UPDATE OF head, name ON des.dataset_branches
    FOR EACH ROW EXECUTE FUNCTION des_internal.branch_moved();

DROP POLICY IF EXISTS branch_history_visible ON des.branch_history;
CREATE POLICY branch_history_visible ON des.branch_history FOR SELECT
    USING (repo_id IN (SELECT r.id FROM des.repositories r));
GRANT SELECT ON des.branch_history TO PUBLIC;	-- rows: the policy above; written only as the owner

-- ---- runs ----

-- The run this session is in: des.run_id (set by des.run_begin, reset by
-- des.run_end and des.run_fail; a GUC, so a rolled-back des.run_begin
-- leaves none), if it is running and was begun by this very session
-- (backend pid and start: anyone may set the GUC, no one another's run).
CREATE OR REPLACE FUNCTION des_internal.current_run()
RETURNS uuid
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    setting text := current_setting('des.run_id', true);
    run uuid;
BEGIN
    IF setting IS NULL OR setting = '' THEN
        RETURN NULL;
    END IF;
    SELECT r.id INTO run FROM des.runs r
     WHERE r.id = setting::uuid AND r.state = 'running' AND r.pid = pg_backend_pid()
       AND r.backend_start = (SELECT a.backend_start FROM pg_stat_activity a WHERE a.pid = pg_backend_pid());
    RETURN run;
EXCEPTION WHEN invalid_text_representation THEN
    RETURN NULL;	-- not a uuid: no run
END $$;
REVOKE ALL ON FUNCTION des_internal.current_run() FROM PUBLIC;

CREATE OR REPLACE FUNCTION des.run_begin(job text)
RETURNS uuid
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    run uuid := gen_random_uuid();
    who regrole := des_internal.invoking_role();	-- (not session_user: inside a dispatched action, the job's owner)
BEGIN
    IF job IS NULL OR job = '' OR length(job) > 200 THEN
        RAISE EXCEPTION 'invalid job name "%"', job USING ERRCODE = 'invalid_name',
            DETAIL = 'A job name has 1 to 200 characters.';
    END IF;
    IF des_internal.current_run() IS NOT NULL THEN
        RAISE EXCEPTION 'this session is already in run %', current_setting('des.run_id')
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'End it first with des.run_end() or des.run_fail(error).';
    END IF;
    INSERT INTO des.jobs (name, owner) VALUES (job, who) ON CONFLICT (name) DO NOTHING;
    INSERT INTO des.runs (id, job, role, pid, backend_start)
    SELECT run, job, who, pg_backend_pid(), a.backend_start FROM pg_stat_activity a WHERE a.pid = pg_backend_pid();
    PERFORM set_config('des.run_id', run::text, false);
    RETURN run;
END $$;
COMMENT ON FUNCTION des.run_begin(text) IS
  'start a run of a job (created on its first run) in this session: until des.run_end, every read of a version is an input edge and every commit an output edge';
GRANT EXECUTE ON FUNCTION des.run_begin(text) TO PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.run_finish(state text, error text)
RETURNS uuid
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    run uuid := des_internal.current_run();
BEGIN
    IF run IS NULL THEN
        RAISE EXCEPTION 'this session is in no run' USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Start one with des.run_begin(job).';
    END IF;
    UPDATE des.runs r SET state = run_finish.state, error = run_finish.error, ended_at = clock_timestamp()
     WHERE r.id = run;
    PERFORM set_config('des.run_id', '', false);
    RETURN run;
END $$;
REVOKE ALL ON FUNCTION des_internal.run_finish(text, text) FROM PUBLIC;

-- Runs whose session ended without ending them: aborted, now (the trigger
-- dispatcher calls it when idle; an operator may too). How many.
CREATE OR REPLACE FUNCTION des_internal.runs_reap()
RETURNS int
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n int;
BEGIN
    UPDATE des.runs r SET state = 'aborted', ended_at = clock_timestamp(),
                          error = 'its session ended before des.run_end or des.run_fail'
     WHERE r.state = 'running'
       AND NOT EXISTS (SELECT FROM pg_stat_get_activity(r.pid) a WHERE a.backend_start = r.backend_start);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
REVOKE ALL ON FUNCTION des_internal.runs_reap() FROM PUBLIC;

CREATE OR REPLACE FUNCTION des.run_end()
RETURNS uuid
LANGUAGE sql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT des_internal.run_finish('completed', NULL) $$;
COMMENT ON FUNCTION des.run_end() IS 'end this session''s run as completed; returns its id';
GRANT EXECUTE ON FUNCTION des.run_end() TO PUBLIC;

CREATE OR REPLACE FUNCTION des.run_fail(error text)
RETURNS uuid
LANGUAGE sql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT des_internal.run_finish('failed', coalesce(error, 'failed')) $$;
COMMENT ON FUNCTION des.run_fail(text) IS 'end this session''s run as failed, with its error; returns its id';
GRANT EXECUTE ON FUNCTION des.run_fail(text) TO PUBLIC;

-- The branch a ref names, when it names one: gros://repo/branch..., or
-- repo/branch[@{time}]; NULL for a bundle id or a label.
CREATE OR REPLACE FUNCTION des_internal.ref_branch(ref text, repo bigint)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    u record;
BEGIN
    IF ref ~* '^gros://' THEN
        u := des.uri_parse(ref);
        IF u.tag_kind IN ('name', 'name_or_id') THEN
            RETURN u.branch;	-- a label: on the branch only if one was written
        END IF;
        RETURN coalesce(u.branch, (SELECT r.default_branch FROM des.repositories r WHERE r.id = repo));
    ELSIF strpos(ref, '/') > 0 AND (strpos(ref, '@') = 0 OR strpos(ref, '@') > strpos(ref, '/')) THEN
        RETURN split_part(substr(ref, strpos(ref, '/') + 1), '@', 1);
    END IF;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION des_internal.ref_branch(text, bigint) FROM PUBLIC;

-- Inputs: every logged read of a bundle inside a run (des.read_log is
-- written by each reading function, as the owner, for its caller).
CREATE OR REPLACE FUNCTION des_internal.read_logged()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    run uuid;
BEGIN
    IF NEW.bundle_id IS NULL THEN
        RETURN NULL;
    END IF;
    run := des_internal.current_run();
    IF run IS NOT NULL THEN
        INSERT INTO des.lineage_edges (run_id, direction, repo_id, bundle_id, branch, uri)
        VALUES (run, 'input', NEW.repo_id, NEW.bundle_id, des_internal.ref_branch(NEW.ref, NEW.repo_id), NEW.ref)
        ON CONFLICT DO NOTHING;
        IF NEW.ref ~* '^gros://' THEN
            PERFORM des_internal.subscribe_on_read(run, NEW.repo_id, NEW.ref);	-- no tag: a real-time dependency
        END IF;
    END IF;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION des_internal.read_logged() FROM PUBLIC;
CREATE OR REPLACE TRIGGER read_logged AFTER INSERT ON des.read_log
    FOR EACH ROW EXECUTE FUNCTION des_internal.read_logged();

-- Outputs: every commit (and merge) inside a run, from the reflog. With
-- des.lineage_mirror on, the day of the new version, and (inside a run)
-- the days of the versions the run read, go to the mirror's queue.
CREATE OR REPLACE FUNCTION des_internal.branch_logged()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    run uuid;
BEGIN
    IF NEW.new_head IS NULL OR NEW.reason NOT IN ('commit', 'merge') THEN
        RETURN NULL;
    END IF;
    run := des_internal.current_run();
    IF run IS NOT NULL THEN
        INSERT INTO des.lineage_edges (run_id, direction, repo_id, bundle_id, branch, uri)
        SELECT run, 'output', NEW.repo_id, NEW.new_head, NEW.branch,
               'gros://' || r.name || '/' || NEW.branch
          FROM des.repositories r WHERE r.id = NEW.repo_id
        ON CONFLICT DO NOTHING;
        INSERT INTO des.job_outputs (job, repo_id, branch)
        SELECT ru.job, NEW.repo_id, NEW.branch FROM des.runs ru WHERE ru.id = run
        ON CONFLICT DO NOTHING;
    END IF;
    IF current_setting('des.lineage_mirror', true) = 'on' THEN
        PERFORM des_internal.mirror_enqueue(NEW.repo_id, NEW.branch, NEW.new_head, run);
    END IF;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION des_internal.branch_logged() FROM PUBLIC;
CREATE OR REPLACE TRIGGER branch_logged AFTER INSERT ON des.branch_log
    FOR EACH ROW EXECUTE FUNCTION des_internal.branch_logged();

-- ---- the graph ----

-- The lineage around a version, breadth first, each bundle once at its
-- nearest depth (cycle-safe): upstream, the bundles the runs that committed
-- it read, and theirs; downstream, the bundles committed by the runs that
-- read it, and theirs. One row per (bundle, run) edge reached: the job and
-- run that connect it, the URI as read (upstream) or as committed to
-- (downstream). Through row-level security: only the repos the caller may
-- read.
-- One level of the walk: the edges from the frontier to bundles not seen yet.
CREATE OR REPLACE FUNCTION des_internal.lineage_step(frontier bytea[], seen bytea[], upstream boolean)
RETURNS TABLE (bundle bytea, repo text, branch text, job text, run uuid, uri text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT DISTINCT ON (far.bundle_id, far.run_id) far.bundle_id, r.name, far.branch, ru.job, far.run_id, far.uri
      FROM des.lineage_edges near
      JOIN des.lineage_edges far ON far.run_id = near.run_id
                                AND far.direction = CASE WHEN upstream THEN 'input' ELSE 'output' END
      JOIN des.runs ru ON ru.id = far.run_id
      JOIN des.repositories r ON r.id = far.repo_id
     WHERE near.bundle_id = ANY (frontier)
       AND near.direction = CASE WHEN upstream THEN 'output' ELSE 'input' END
       AND NOT far.bundle_id = ANY (seen)
     ORDER BY far.bundle_id, far.run_id, far.at
$$;
GRANT EXECUTE ON FUNCTION des_internal.lineage_step(bytea[], bytea[], boolean) TO PUBLIC;	-- reads with its caller's rights

CREATE OR REPLACE FUNCTION des_internal.lineage_walk(ref text, upstream boolean, max_depth int)
RETURNS TABLE (bundle_id text, repo text, branch text, job text, run_id uuid, depth int, uri text)
LANGUAGE plpgsql VOLATILE	-- (des.resolve may rebuild a branch's history)
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    start record;
    frontier bytea[];
    seen bytea[];
    level int := 0;
    bundles bytea[];
    repos text[];
    branches text[];
    jobs text[];
    runs uuid[];
    uris text[];
BEGIN
    IF max_depth IS NOT NULL AND max_depth < 0 THEN
        RAISE EXCEPTION 'depth must not be negative' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO start FROM des.resolve(ref);
    IF start.bundle_id IS NULL THEN
        RETURN;		-- a branch with no bundle yet: no lineage
    END IF;
    frontier := ARRAY[decode(start.bundle_id, 'hex')];
    seen := frontier;
    WHILE cardinality(frontier) > 0 AND (max_depth IS NULL OR level < max_depth) LOOP
        level := level + 1;
        -- the level's edges once, in the order they are returned
        SELECT coalesce(array_agg(s.bundle ORDER BY s.repo, s.branch, s.bundle, s.run), '{}'),
               array_agg(s.repo ORDER BY s.repo, s.branch, s.bundle, s.run),
               array_agg(s.branch ORDER BY s.repo, s.branch, s.bundle, s.run),
               array_agg(s.job ORDER BY s.repo, s.branch, s.bundle, s.run),
               array_agg(s.run ORDER BY s.repo, s.branch, s.bundle, s.run),
               array_agg(s.uri ORDER BY s.repo, s.branch, s.bundle, s.run)
          INTO bundles, repos, branches, jobs, runs, uris
          FROM des_internal.lineage_step(frontier, seen, upstream) s;
        RETURN QUERY SELECT encode(e.bundle, 'hex'), e.repo, e.branch, e.job, e.run, level, e.uri
                       FROM unnest(bundles, repos, branches, jobs, runs, uris) WITH ORDINALITY
                            AS e(bundle, repo, branch, job, run, uri, n)
                      ORDER BY e.n;
        frontier := ARRAY(SELECT DISTINCT b FROM unnest(bundles) b);
        seen := seen || frontier;
    END LOOP;
END $$;
GRANT EXECUTE ON FUNCTION des_internal.lineage_walk(text, boolean, int) TO PUBLIC;	-- reads with its caller's rights

CREATE OR REPLACE FUNCTION des.upstream(ref text, depth int DEFAULT NULL)
RETURNS TABLE (bundle_id text, repo text, branch text, job text, run_id uuid, depth int, uri text)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM des_internal.lineage_walk(ref, true, depth) $$;
COMMENT ON FUNCTION des.upstream(text, int) IS
  'the versions a version was made from: read by the runs that committed it, and so on (depth: how far; NULL: all), each at its nearest depth';
GRANT EXECUTE ON FUNCTION des.upstream(text, int) TO PUBLIC;

CREATE OR REPLACE FUNCTION des.downstream(ref text, depth int DEFAULT NULL)
RETURNS TABLE (bundle_id text, repo text, branch text, job text, run_id uuid, depth int, uri text)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM des_internal.lineage_walk(ref, false, depth) $$;
COMMENT ON FUNCTION des.downstream(text, int) IS
  'the versions made from a version: committed by the runs that read it, and so on (depth: how far; NULL: all), each at its nearest depth';
GRANT EXECUTE ON FUNCTION des.downstream(text, int) TO PUBLIC;

-- The per-version audit record of the GitOps lake's layout.
CREATE OR REPLACE FUNCTION des.audit(ref text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me record;
BEGIN
    SELECT * INTO me FROM des.resolve(ref);
    RETURN jsonb_build_object(
        'gros_ref', CASE WHEN me.bundle_id IS NULL THEN NULL
                         ELSE 'gros://' || me.repo || coalesce('/' || me.branch, '') || ':' || me.bundle_id END,
        'bundle_id', me.bundle_id,
        'upstreams', coalesce((SELECT jsonb_agg(jsonb_build_object('gros_ref', 'gros://' || u.repo || coalesce('/' || u.branch, '')
                                                                         || ':' || u.bundle_id,
                                                               'uri', u.uri, 'job', u.job, 'run_id', u.run_id)
                                                ORDER BY u.repo, u.branch, u.uri, u.job, u.bundle_id, u.run_id)
                                 FROM des.upstream(ref, 1) u), '[]'::jsonb),
        'downstreams', coalesce((SELECT jsonb_agg(jsonb_build_object('gros_ref', 'gros://' || d.repo || coalesce('/' || d.branch, '')
                                                                           || ':' || d.bundle_id,
                                                                 'uri', d.uri, 'job', d.job, 'run_id', d.run_id)
                                                  ORDER BY d.repo, d.branch, d.uri, d.job, d.bundle_id, d.run_id)
                                   FROM des.downstream(ref, 1) d), '[]'::jsonb));
END $$;
COMMENT ON FUNCTION des.audit(text) IS
  'the audit record of a version: {"gros_ref", "bundle_id", "upstreams": [...], "downstreams": [...]}, each with the job, run and URI';
GRANT EXECUTE ON FUNCTION des.audit(text) TO PUBLIC;

-- The neighbourhood of a version as Graphviz DOT: the runs up to depth
-- away (ellipses, labelled with their job), every version they read or
-- committed (boxes; the version asked about in bold), edges labelled with
-- the URI as read or committed to.
CREATE OR REPLACE FUNCTION des.lineage_dot(ref text, depth int DEFAULT 3)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me record;
    dot text;
BEGIN
    SELECT * INTO me FROM des.resolve(ref);
    IF me.bundle_id IS NULL THEN
        RETURN 'digraph lineage {}';
    END IF;
    WITH walk AS (
        SELECT w.*, true AS up FROM des.upstream(ref, depth) w
        UNION ALL
        SELECT w.*, false FROM des.downstream(ref, depth) w
    ), runs AS (
        SELECT DISTINCT w.run_id, w.job, ru.started_at FROM walk w JOIN des.runs ru ON ru.id = w.run_id
    ), edges AS (
        -- every input and output of the runs reached
        SELECT DISTINCT e.run_id, r.job, r.started_at, e.direction, encode(e.bundle_id, 'hex') AS bundle_id, e.uri,
               rp.name AS repo, e.branch
          FROM des.lineage_edges e JOIN runs r ON r.run_id = e.run_id JOIN des.repositories rp ON rp.id = e.repo_id
    ), versions AS (
        SELECT DISTINCT ON (x.bundle_id) x.bundle_id, x.repo, x.branch
          FROM (SELECT me.bundle_id, me.repo, me.branch, 0 AS pref
                UNION ALL
                SELECT e.bundle_id, e.repo, e.branch, CASE WHEN e.direction = 'output' THEN 1 ELSE 2 END FROM edges e) x
         ORDER BY x.bundle_id, x.pref, x.branch NULLS LAST
    )
    SELECT 'digraph lineage {' || E'\n  rankdir=LR;\n'
        || coalesce((SELECT string_agg(format('  %s [shape=box%s, label=%s];', to_json('v:' || v.bundle_id),
                                              CASE WHEN v.bundle_id = me.bundle_id THEN ', style=bold' ELSE '' END,
                                              to_json(v.repo || coalesce('/' || v.branch, '') || E'\n' || left(v.bundle_id, 12))),
                                       E'\n' ORDER BY v.repo, v.branch, v.bundle_id) FROM versions v), '') || E'\n'
        || coalesce((SELECT string_agg(format('  %s [shape=ellipse, label=%s];', to_json('r:' || r.run_id),
                                              to_json(r.job || E'\n' || left(r.run_id::text, 8))),
                                       E'\n' ORDER BY r.job, r.started_at, r.run_id) FROM runs r), '') || E'\n'
        || coalesce((SELECT string_agg(CASE WHEN e.direction = 'input'
                                            THEN format('  %s -> %s [label=%s];', to_json('v:' || e.bundle_id), to_json('r:' || e.run_id), to_json(e.uri))
                                            ELSE format('  %s -> %s [label=%s];', to_json('r:' || e.run_id), to_json('v:' || e.bundle_id), to_json(e.uri)) END,
                                       E'\n' ORDER BY e.direction, e.job, e.started_at, e.uri, e.bundle_id, e.run_id) FROM edges e), '')
        || E'\n}\n'
      INTO dot;
    RETURN dot;
END $$;
COMMENT ON FUNCTION des.lineage_dot(text, int) IS
  'the lineage around a version as Graphviz DOT text (dot -Tsvg): versions, runs with their jobs, edges labelled with the URI as read or committed to';
GRANT EXECUTE ON FUNCTION des.lineage_dot(text, int) TO PUBLIC;

-- ---- who sees what ----

-- edges: those of the repos one may read; runs and jobs: one's own, and
-- those with an edge one sees
DROP POLICY IF EXISTS lineage_edges_visible ON des.lineage_edges;
CREATE POLICY lineage_edges_visible ON des.lineage_edges FOR SELECT
    USING (repo_id IN (SELECT r.id FROM des.repositories r));
DROP POLICY IF EXISTS runs_visible ON des.runs;
CREATE POLICY runs_visible ON des.runs FOR SELECT
    USING (pg_has_role(current_user, role, 'MEMBER')
           OR EXISTS (SELECT FROM des.lineage_edges e WHERE e.run_id = id));
DROP POLICY IF EXISTS jobs_visible ON des.jobs;
CREATE POLICY jobs_visible ON des.jobs FOR SELECT
    USING (pg_has_role(current_user, owner, 'MEMBER')
           OR EXISTS (SELECT FROM des.runs r WHERE r.job = name));
GRANT SELECT ON des.jobs, des.runs, des.lineage_edges TO PUBLIC;	-- rows: the policies above; written only as the owner
