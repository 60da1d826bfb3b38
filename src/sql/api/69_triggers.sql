-- Real-time dependencies (docs/lineage.md): jobs subscribed to branches,
-- triggers enqueued by commits, the dispatcher's units (src/backend/lineage/
-- dispatcher.c), scheduled runs through pg_cron (des.job_run).

-- Who is asking, as SECURITY DEFINER functions cannot see it: the role of
-- SET ROLE (or the session's); inside a dispatched action, the job's owner.
CREATE OR REPLACE FUNCTION des_internal.invoking_role()
RETURNS regrole
AS 'MODULE_PATHNAME', 'des_invoking_role'
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
GRANT EXECUTE ON FUNCTION des_internal.invoking_role() TO PUBLIC;	-- answers only about its caller

CREATE OR REPLACE FUNCTION des_internal.action_check(action text)
RETURNS void
AS 'MODULE_PATHNAME', 'des_action_check'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION des_internal.action_check(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.wake_dispatchers_at_commit()
RETURNS void
AS 'MODULE_PATHNAME', 'des_wake_dispatchers_at_commit'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION des_internal.wake_dispatchers_at_commit() FROM PUBLIC;

-- A job one may change: one's own (as a member of its owner), or any for an
-- administrator of pg_des. Raises 42704 for an unknown job, 42501 otherwise.
CREATE OR REPLACE FUNCTION des_internal.job_of_invoker(job_name text)
RETURNS des.jobs
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    j des.jobs;
    who regrole := des_internal.invoking_role();
BEGIN
    SELECT * INTO j FROM des.jobs WHERE name = job_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'job "%" does not exist', job_name USING ERRCODE = 'undefined_object',
            HINT = 'Create it with des.job_create(name, action).';
    END IF;
    IF NOT pg_has_role(who, j.owner, 'MEMBER') AND NOT des_internal.role_is_administrator(who) THEN
        RAISE EXCEPTION 'job "%" belongs to %', job_name, j.owner USING ERRCODE = 'insufficient_privilege',
            DETAIL = 'Only its owner (or an administrator of pg_des) may change a job.';
    END IF;
    RETURN j;
END $$;
REVOKE ALL ON FUNCTION des_internal.job_of_invoker(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des.job_create(name text, action text DEFAULT NULL, "coalesce" boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    who regrole := des_internal.invoking_role();
BEGIN
    IF name IS NULL OR name = '' OR length(name) > 200 THEN
        RAISE EXCEPTION 'invalid job name "%"', name USING ERRCODE = 'invalid_name',
            DETAIL = 'A job name has 1 to 200 characters.';
    END IF;
    IF action IS NOT NULL THEN
        PERFORM des_internal.action_check(action);
    END IF;
    IF EXISTS (SELECT FROM des.jobs j WHERE j.name = job_create.name) THEN
        PERFORM des_internal.job_of_invoker(job_create.name);
        UPDATE des.jobs j SET action = job_create.action, coalesce_versions = coalesce(job_create."coalesce", false)
         WHERE j.name = job_create.name;
    ELSE
        INSERT INTO des.jobs (name, owner, action, coalesce_versions)
        VALUES (job_create.name, who, job_create.action, coalesce(job_create."coalesce", false));
    END IF;
    RETURN job_create.name;
END $$;
COMMENT ON FUNCTION des.job_create(text, text, boolean) IS
  'create a job, or redefine one''s own: its action (SQL run by the dispatcher, as its owner, for each trigger, the trigger as $1 jsonb) and whether versions arriving while a run is pending fold into one run of the newest';
GRANT EXECUTE ON FUNCTION des.job_create(text, text, boolean) TO PUBLIC;

CREATE OR REPLACE FUNCTION des.job_drop(name text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM des_internal.job_of_invoker(job_drop.name);
    DELETE FROM des.job_subscriptions s WHERE s.job = job_drop.name;
    DELETE FROM des.job_triggers t WHERE t.job = job_drop.name AND t.state IN ('pending', 'running');
    IF EXISTS (SELECT FROM des.runs r WHERE r.job = job_drop.name) THEN
        -- its runs stay in the lineage graph, under its name
        UPDATE des.jobs j SET action = NULL, coalesce_versions = false WHERE j.name = job_drop.name;
    ELSE
        DELETE FROM des.jobs j WHERE j.name = job_drop.name;
    END IF;
    RETURN true;
END $$;
COMMENT ON FUNCTION des.job_drop(text) IS
  'drop a job: its subscriptions and pending triggers go; a job that has runs keeps its name (without an action) for the lineage graph';
GRANT EXECUTE ON FUNCTION des.job_drop(text) TO PUBLIC;

-- ---- subscriptions ----

-- Would subscribing job to (repo, branch) make a cycle: job's outputs lead,
-- through subscribed jobs and their outputs, back to that branch? Returns
-- the cycle (job, gros://..., job, ..., gros://repo/branch) or NULL.
CREATE OR REPLACE FUNCTION des_internal.subscription_cycle(job_name text, repo bigint, branch_name text)
RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE reach(job, path, depth) AS (
        SELECT job_name, ARRAY[job_name], 0
        UNION ALL
        SELECT s.job, r.path || ('gros://' || rp.name || '/' || o.branch) || s.job, r.depth + 1
          FROM reach r
          JOIN des.job_outputs o ON o.job = r.job
          JOIN des.job_subscriptions s ON s.repo_id = o.repo_id AND s.branch = o.branch
          JOIN des.repositories rp ON rp.id = o.repo_id
         WHERE NOT s.job = ANY (r.path) AND r.depth < 100
    )
    SELECT r.path || ('gros://' || rp.name || '/' || branch_name)
      FROM reach r
      JOIN des.job_outputs o ON o.job = r.job AND o.repo_id = repo AND o.branch = branch_name
      JOIN des.repositories rp ON rp.id = repo
     ORDER BY r.depth
     LIMIT 1
$$;
REVOKE ALL ON FUNCTION des_internal.subscription_cycle(text, bigint, text) FROM PUBLIC;

-- The (repo, branch) a subscription URI names (gros://repo[/branch], no
-- tag), which who must be able to read: a repo they cannot see does not
-- exist for them.
CREATE OR REPLACE FUNCTION des_internal.subscription_target(uri text, who oid,
                                                            OUT repo_id bigint, OUT branch text, OUT canonical text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    u record;
    r des.repositories;
    level des.access_level;
    target record;
BEGIN
    IF uri IS NULL OR uri !~* '^gros://' THEN
        RAISE EXCEPTION 'a subscription names a branch by a gros:// URI, not "%"', uri
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Write gros://repo or gros://repo/branch.';
    END IF;
    u := des.uri_parse(uri);
    IF u.tag_kind <> 'realtime' THEN
        RAISE EXCEPTION 'a subscription follows a branch: "%" has a tag', uri
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A tag pins a version; only a URI without a tag is a real-time dependency.',
                  HINT = 'Write gros://repo or gros://repo/branch.';
    END IF;
    SELECT * INTO r FROM des.repositories rp WHERE rp.name = u.repo;
    level := CASE WHEN r.id IS NOT NULL THEN des_internal.level_of(r.context_id, r.id, who) END;
    IF level IS NULL THEN
        RAISE EXCEPTION 'repository "%" does not exist', u.repo USING ERRCODE = 'undefined_object';
    END IF;
    SELECT * INTO target FROM des.resolve(uri);	-- the branch exists
    repo_id := r.id;
    branch := target.branch;
    canonical := 'gros://' || r.name || '/' || target.branch;
END $$;
REVOKE ALL ON FUNCTION des_internal.subscription_target(text, oid) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des.subscribe(job text, uri text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t record;
    cycle text[];
    added int;
BEGIN
    IF NOT EXISTS (SELECT FROM des.jobs j WHERE j.name = subscribe.job) THEN
        PERFORM des.job_create(subscribe.job);
    END IF;
    PERFORM des_internal.job_of_invoker(subscribe.job);
    -- they must be able to read what they follow
    t := des_internal.subscription_target(uri, des_internal.invoking_role());
    -- one subscription at a time, so two cannot close a cycle together
    LOCK TABLE des.job_subscriptions IN SHARE ROW EXCLUSIVE MODE;
    cycle := des_internal.subscription_cycle(subscribe.job, t.repo_id, t.branch);
    IF cycle IS NOT NULL THEN
        RAISE EXCEPTION 'subscribing job "%" to % would make a cycle', subscribe.job, t.canonical
            USING ERRCODE = 'invalid_recursion',
                  DETAIL = 'Each commit would trigger the next: ' || array_to_string(cycle, ' -> ') || ' -> ' || subscribe.job || '.';
    END IF;
    INSERT INTO des.job_subscriptions (job, repo_id, branch, origin, uri)
    VALUES (subscribe.job, t.repo_id, t.branch, 'subscribe', subscribe.uri)
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS added = ROW_COUNT;
    RETURN added > 0;
END $$;
COMMENT ON FUNCTION des.subscribe(text, text) IS
  'subscribe a job to a branch (gros://repo[/branch], no tag): each bundle committed there triggers it once; refused (42P19) if it would make a cycle; false if already subscribed';
GRANT EXECUTE ON FUNCTION des.subscribe(text, text) TO PUBLIC;

CREATE OR REPLACE FUNCTION des.unsubscribe(job text, uri text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    u record;
    removed int;
BEGIN
    PERFORM des_internal.job_of_invoker(unsubscribe.job);
    IF uri IS NULL OR uri !~* '^gros://' THEN
        RAISE EXCEPTION 'a subscription names a branch by a gros:// URI, not "%"', uri
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    u := des.uri_parse(uri);
    DELETE FROM des.job_subscriptions s
     USING des.repositories r
     WHERE s.job = unsubscribe.job AND r.id = s.repo_id AND r.name = u.repo
       AND s.branch = coalesce(u.branch, r.default_branch);
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed > 0;
END $$;
COMMENT ON FUNCTION des.unsubscribe(text, text) IS 'end a job''s subscription to a branch; false if it had none';
GRANT EXECUTE ON FUNCTION des.unsubscribe(text, text) TO PUBLIC;

-- A run's read of a URI without a tag subscribes its job (origin 'read'),
-- unless that would make a cycle: then a warning, and no subscription.
CREATE OR REPLACE FUNCTION des_internal.subscribe_on_read(run uuid, repo bigint, ref text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    u record;
    job_name text;
    branch_name text;
    cycle text[];
BEGIN
    u := des.uri_parse(ref);
    IF NOT u.realtime THEN
        RETURN;
    END IF;
    SELECT r.job INTO job_name FROM des.runs r WHERE r.id = run;
    branch_name := coalesce(u.branch, (SELECT rp.default_branch FROM des.repositories rp WHERE rp.id = repo));
    IF EXISTS (SELECT FROM des.job_subscriptions s WHERE s.repo_id = repo AND s.branch = branch_name AND s.job = job_name) THEN
        RETURN;
    END IF;
    cycle := des_internal.subscription_cycle(job_name, repo, branch_name);
    IF cycle IS NOT NULL THEN
        RAISE WARNING 'job "%" read % without a tag but is not subscribed to it: that would make a cycle', job_name, ref
            USING DETAIL = 'Each commit would trigger the next: ' || array_to_string(cycle, ' -> ') || ' -> ' || job_name || '.';
        RETURN;
    END IF;
    INSERT INTO des.job_subscriptions (job, repo_id, branch, origin, uri)
    VALUES (job_name, repo, branch_name, 'read', ref)
    ON CONFLICT DO NOTHING;
END $$;
REVOKE ALL ON FUNCTION des_internal.subscribe_on_read(uuid, bigint, text) FROM PUBLIC;

-- ---- triggers ----

-- What a trigger says, as its action gets it ($1) and des.job_triggers shows it.
CREATE OR REPLACE FUNCTION des_internal.trigger_payload(t des.job_triggers)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'trigger_id', t.id,
        'job', t.job,
        'kind', t.kind,
        'repo', rp.name,
        'branch', t.branch,
        'bundle_id', encode(t.bundle_id, 'hex'),
        'uri', CASE WHEN t.kind = 'commit' THEN 'gros://' || rp.name || '/' || t.branch || ':' || encode(t.bundle_id, 'hex') END,
        'upstream', CASE WHEN t.kind = 'commit' THEN 'gros://' || rp.name || '/' || t.branch END,
        'enqueued_at', t.enqueued_at,
        'attempt', t.attempts,
        'chain', CASE WHEN cardinality(t.chain) > 0 THEN to_jsonb(t.chain) END,
        'coalesced', (SELECT jsonb_agg(encode(c.bundle_id, 'hex') ORDER BY c.id)
                        FROM des.job_triggers c WHERE c.coalesced_into = t.id),
        'payload', t.payload))
      FROM (SELECT t.repo_id) x LEFT JOIN des.repositories rp ON rp.id = x.repo_id
$$;
REVOKE ALL ON FUNCTION des_internal.trigger_payload(des.job_triggers) FROM PUBLIC;

-- The jobs whose runs led to a run: the chain of the trigger it ran for,
-- then its own job.
CREATE OR REPLACE FUNCTION des_internal.run_chain(run uuid)
RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(t.chain, '{}') || ru.job
      FROM des.runs ru LEFT JOIN des.job_triggers t ON t.id = ru.trigger_id
     WHERE ru.id = run
$$;
REVOKE ALL ON FUNCTION des_internal.run_chain(uuid) FROM PUBLIC;

-- A commit (or merge) on a branch: one trigger per subscribed job, in this
-- transaction (a rollback enqueues nothing; the unique key makes it once per
-- version), a NOTIFY des_trigger for each, and the dispatchers woken when
-- this commits. A job whose own run (or a run it triggered, and so on)
-- made the commit is not triggered: the chain stops cycles that the
-- subscriptions alone did not show.
CREATE OR REPLACE FUNCTION des_internal.triggers_enqueue()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    run uuid;
    chain text[] := '{}';
    woken boolean;
BEGIN
    IF NEW.new_head IS NULL OR NEW.reason NOT IN ('commit', 'merge') THEN
        RETURN NULL;
    END IF;
    IF NOT EXISTS (SELECT FROM des.job_subscriptions s WHERE s.repo_id = NEW.repo_id AND s.branch = NEW.branch) THEN
        RETURN NULL;
    END IF;
    run := des_internal.current_run();
    IF run IS NOT NULL THEN
        chain := des_internal.run_chain(run);
    END IF;
    WITH added AS (
        INSERT INTO des.job_triggers (job, kind, repo_id, branch, bundle_id, chain, state)
        SELECT s.job, 'commit', NEW.repo_id, NEW.branch, NEW.new_head, chain,
               CASE WHEN j.action IS NULL THEN 'notified' ELSE 'pending' END
          FROM des.job_subscriptions s JOIN des.jobs j ON j.name = s.job
         WHERE s.repo_id = NEW.repo_id AND s.branch = NEW.branch AND NOT s.job = ANY (chain)
         ORDER BY s.job
        ON CONFLICT DO NOTHING
        RETURNING id, job, state
    ), notified AS (
        SELECT pg_notify('des_trigger', json_build_object(
                   'trigger_id', a.id, 'job', a.job, 'repo', rp.name, 'branch', NEW.branch,
                   'bundle_id', encode(NEW.new_head, 'hex'), 'runs', a.state = 'pending')::text),
               a.state = 'pending' AS runs
          FROM added a, des.repositories rp WHERE rp.id = NEW.repo_id
    )
    SELECT bool_or(n.runs) INTO woken FROM notified n;
    IF woken THEN
        PERFORM des_internal.wake_dispatchers_at_commit();
    END IF;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION des_internal.triggers_enqueue() FROM PUBLIC;
CREATE OR REPLACE TRIGGER triggers_enqueue AFTER INSERT ON des.branch_log
    FOR EACH ROW EXECUTE FUNCTION des_internal.triggers_enqueue();

-- Run a job now (what a pg_cron schedule calls): a trigger of kind
-- 'request', with payload as its "payload"; its id.
CREATE OR REPLACE FUNCTION des.job_run(job text, payload jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    j des.jobs := des_internal.job_of_invoker(job);
    id bigint;
    chain text[] := '{}';
    run uuid := des_internal.current_run();
BEGIN
    IF j.action IS NULL THEN
        RAISE EXCEPTION 'job "%" has no action to run', job USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Give it one with des.job_create(name, action).';
    END IF;
    IF run IS NOT NULL THEN
        chain := des_internal.run_chain(run);
        IF job = ANY (chain) THEN
            RAISE EXCEPTION 'job "%" would trigger itself', job USING ERRCODE = 'invalid_recursion',
                DETAIL = 'This run descends from a run of it: ' || array_to_string(chain, ' -> ') || '.';
        END IF;
    END IF;
    INSERT INTO des.job_triggers (job, kind, payload, chain, state)
    VALUES (job, 'request', payload, chain, 'pending')
    RETURNING job_triggers.id INTO id;
    PERFORM pg_notify('des_trigger', json_build_object('trigger_id', id, 'job', job, 'runs', true)::text);
    PERFORM des_internal.wake_dispatchers_at_commit();
    RETURN id;
END $$;
COMMENT ON FUNCTION des.job_run(text, jsonb) IS
  'ask the dispatcher to run a job''s action now (when this transaction commits): what a pg_cron schedule calls; returns the trigger id';
GRANT EXECUTE ON FUNCTION des.job_run(text, jsonb) TO PUBLIC;

-- ---- the dispatcher's units (src/backend/lineage/dispatcher.c) ----

-- The next due trigger, claimed: state running, attempts + 1, committed
-- before its run. Claims of dispatchers that are gone (killed, crashed)
-- are taken back first; a coalescing job's pending versions of one
-- upstream fold into the newest; a trigger claimed max_attempts times
-- without finishing (it kills its dispatcher) goes to the dead letters.
-- Nothing due: id NULL, and next_due_ms until the next backoff ends.
CREATE OR REPLACE FUNCTION des_internal.trigger_claim(max_attempts int,
                                                     OUT id bigint, OUT owner oid, OUT action text, OUT next_due_ms bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t des.job_triggers;
    j des.jobs;
    newest bigint;
BEGIN
    UPDATE des.job_triggers x SET state = 'pending', claimed_pid = NULL, claimed_backend_start = NULL
     WHERE x.state = 'running'
       AND NOT EXISTS (SELECT FROM pg_stat_get_activity(x.claimed_pid) a WHERE a.backend_start = x.claimed_backend_start);
    LOOP
        SELECT * INTO t FROM des.job_triggers x
         WHERE x.state = 'pending' AND (x.not_before IS NULL OR x.not_before <= now())
         ORDER BY x.id
         LIMIT 1
           FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            next_due_ms := (SELECT ceil(extract(epoch FROM min(x.not_before) - now()) * 1000)::bigint
                              FROM des.job_triggers x WHERE x.state = 'pending' AND x.not_before > now());
            RETURN;
        END IF;
        SELECT * INTO j FROM des.jobs WHERE name = t.job;
        IF j.action IS NULL THEN
            UPDATE des.job_triggers x SET state = 'notified', finished_at = clock_timestamp() WHERE x.id = t.id;
            CONTINUE;
        END IF;
        IF j.coalesce_versions AND t.kind = 'commit' THEN
            SELECT max(g.id) INTO newest
              FROM (SELECT x.id FROM des.job_triggers x
                     WHERE x.job = t.job AND x.repo_id = t.repo_id AND x.branch = t.branch
                       AND x.kind = 'commit' AND x.state = 'pending'
                       FOR UPDATE SKIP LOCKED) g;
            IF newest <> t.id THEN
                UPDATE des.job_triggers x SET state = 'coalesced', coalesced_into = newest, finished_at = clock_timestamp()
                 WHERE x.job = t.job AND x.repo_id = t.repo_id AND x.branch = t.branch
                   AND x.kind = 'commit' AND x.state = 'pending' AND x.id < newest;
                SELECT * INTO t FROM des.job_triggers x WHERE x.id = newest;
            END IF;
        END IF;
        IF t.attempts >= max_attempts THEN
            PERFORM des_internal.trigger_bury(t.id, coalesce(t.last_error, 'claimed ' || t.attempts
                                                 || ' times without finishing: its dispatcher died each time'));
            CONTINUE;
        END IF;
        UPDATE des.job_triggers x
           SET state = 'running', attempts = x.attempts + 1, claimed_pid = pg_backend_pid(),
               claimed_backend_start = (SELECT a.backend_start FROM pg_stat_get_activity(pg_backend_pid()) a),
               started_at = clock_timestamp()
         WHERE x.id = t.id;
        id := t.id;
        owner := j.owner::oid;
        action := j.action;
        RETURN;
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION des_internal.trigger_claim(int) FROM PUBLIC;

-- A trigger to the dead letters (its last run, if any, failed with it).
CREATE OR REPLACE FUNCTION des_internal.trigger_bury(trigger_id bigint, error text)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE des.job_triggers x SET state = 'dead', last_error = trigger_bury.error, finished_at = clock_timestamp(),
                                  claimed_pid = NULL, claimed_backend_start = NULL
     WHERE x.id = trigger_bury.trigger_id;
    INSERT INTO des.trigger_dead_letters (trigger_id, job, error, attempts)
    SELECT x.id, x.job, trigger_bury.error, x.attempts FROM des.job_triggers x WHERE x.id = trigger_bury.trigger_id
    ON CONFLICT (trigger_id) DO UPDATE SET error = EXCLUDED.error, attempts = EXCLUDED.attempts, failed_at = now();
$$;
REVOKE ALL ON FUNCTION des_internal.trigger_bury(bigint, text) FROM PUBLIC;

-- Begin the run of a claimed trigger (as its job's owner, in this
-- dispatcher's session) and return what the action gets; NULL when the
-- trigger is no longer this dispatcher's to run.
CREATE OR REPLACE FUNCTION des_internal.trigger_start(trigger_id bigint)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t des.job_triggers;
    run uuid := gen_random_uuid();
BEGIN
    SELECT * INTO t FROM des.job_triggers x
     WHERE x.id = trigger_start.trigger_id AND x.state = 'running' AND x.claimed_pid = pg_backend_pid()
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    INSERT INTO des.runs (id, job, role, pid, backend_start, trigger_id)
    SELECT run, t.job, j.owner, pg_backend_pid(), a.backend_start, t.id
      FROM des.jobs j, pg_stat_get_activity(pg_backend_pid()) a WHERE j.name = t.job;
    PERFORM set_config('des.run_id', run::text, false);
    UPDATE des.job_triggers x SET run_id = run WHERE x.id = t.id RETURNING * INTO t;
    RETURN des_internal.trigger_payload(t) || jsonb_build_object('run_id', run);
END $$;
REVOKE ALL ON FUNCTION des_internal.trigger_start(bigint) FROM PUBLIC;

-- The end of a trigger's run: its run ended (whatever the action did with
-- it), the trigger done.
CREATE OR REPLACE FUNCTION des_internal.trigger_done(trigger_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE des.runs r SET state = 'completed', ended_at = clock_timestamp()
      FROM des.job_triggers x
     WHERE x.id = trigger_done.trigger_id AND r.id = x.run_id AND r.state = 'running';
    UPDATE des.job_triggers x SET state = 'done', finished_at = clock_timestamp(), last_error = NULL,
                                  claimed_pid = NULL, claimed_backend_start = NULL
     WHERE x.id = trigger_done.trigger_id;
    PERFORM set_config('des.run_id', '', false);
END $$;
REVOKE ALL ON FUNCTION des_internal.trigger_done(bigint) FROM PUBLIC;

-- A failed action: its run failed; the trigger retried after retry_base *
-- 2^(attempts - 1) (at most an hour), or, after max_attempts, dead.
CREATE OR REPLACE FUNCTION des_internal.trigger_failed(trigger_id bigint, error text, max_attempts int, retry_base interval)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t des.job_triggers;
BEGIN
    SELECT * INTO t FROM des.job_triggers x WHERE x.id = trigger_failed.trigger_id;
    UPDATE des.runs r SET state = 'failed', error = trigger_failed.error, ended_at = clock_timestamp()
     WHERE r.id = t.run_id AND r.state = 'running';
    PERFORM set_config('des.run_id', '', false);
    IF t.attempts >= max_attempts THEN
        PERFORM des_internal.trigger_bury(t.id, trigger_failed.error);
    ELSE
        UPDATE des.job_triggers x
           SET state = 'pending', last_error = trigger_failed.error, claimed_pid = NULL, claimed_backend_start = NULL,
               not_before = now() + least(retry_base * power(2, least(x.attempts - 1, 30)), interval '1 hour')
         WHERE x.id = t.id;
    END IF;
END $$;
REVOKE ALL ON FUNCTION des_internal.trigger_failed(bigint, text, int, interval) FROM PUBLIC;

-- Dead triggers back to pending, attempts from zero (all of one's jobs',
-- or those listed); how many.
CREATE OR REPLACE FUNCTION des.trigger_retry(ids bigint[] DEFAULT NULL)
RETURNS int
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    who regrole := des_internal.invoking_role();
    n int;
BEGIN
    WITH mine AS (
        SELECT x.id FROM des.job_triggers x JOIN des.jobs j ON j.name = x.job
         WHERE x.state = 'dead' AND (ids IS NULL OR x.id = ANY (ids))
           AND (pg_has_role(who, j.owner, 'MEMBER') OR des_internal.role_is_administrator(who))
    ), gone AS (
        DELETE FROM des.trigger_dead_letters d USING mine WHERE d.trigger_id = mine.id
    )
    UPDATE des.job_triggers x SET state = 'pending', attempts = 0, not_before = NULL, finished_at = NULL
      FROM mine WHERE x.id = mine.id;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        PERFORM des_internal.wake_dispatchers_at_commit();
    END IF;
    RETURN n;
END $$;
COMMENT ON FUNCTION des.trigger_retry(bigint[]) IS
  'run dead triggers again (of one''s own jobs; all of them, or the ids given): back to pending with attempts from zero; how many';
GRANT EXECUTE ON FUNCTION des.trigger_retry(bigint[]) TO PUBLIC;

-- ---- what is going on ----

CREATE OR REPLACE FUNCTION des.dispatcher_stats(OUT dispatcher int, OUT pid int, OUT actions_run bigint,
                                                OUT actions_failed bigint, OUT errors bigint, OUT last_action_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'des_dispatcher_stats'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION des.dispatcher_stats() IS
  'one row per configured trigger dispatcher: pid (NULL when not running), actions run and failed, errors of its own, since server start';

CREATE OR REPLACE FUNCTION des.wake_dispatchers()
RETURNS int
AS 'MODULE_PATHNAME', 'des_wake_dispatchers'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION des.wake_dispatchers() IS 'wake every running trigger dispatcher now; returns how many';
REVOKE ALL ON FUNCTION des.wake_dispatchers() FROM PUBLIC;

CREATE OR REPLACE VIEW des.stat_triggers WITH (security_invoker = true) AS
    SELECT j.name AS job, j.owner, j.action IS NOT NULL AS has_action, j.coalesce_versions,
           (SELECT count(*) FROM des.job_subscriptions s WHERE s.job = j.name) AS subscriptions,
           count(t.id) FILTER (WHERE t.state = 'pending') AS pending,
           count(t.id) FILTER (WHERE t.state = 'running') AS running,
           count(t.id) FILTER (WHERE t.state = 'done') AS done,
           count(t.id) FILTER (WHERE t.state = 'coalesced') AS coalesced,
           count(t.id) FILTER (WHERE t.state = 'dead') AS dead,
           count(t.id) FILTER (WHERE t.state = 'notified') AS notified,
           max(t.finished_at) FILTER (WHERE t.state = 'done') AS last_done_at
      FROM des.jobs j LEFT JOIN des.job_triggers t ON t.job = j.name
     GROUP BY j.name;
COMMENT ON VIEW des.stat_triggers IS 'per job: subscriptions, and its triggers by state';
GRANT SELECT ON des.stat_triggers TO PUBLIC;	-- rows: the policies of des.jobs and des.job_triggers

-- ---- who sees what ----

-- subscriptions, triggers and dead letters: those of one's own jobs (an
-- administrator's: all); written only through the functions above
DROP POLICY IF EXISTS job_subscriptions_visible ON des.job_subscriptions;
CREATE POLICY job_subscriptions_visible ON des.job_subscriptions FOR SELECT
    USING (EXISTS (SELECT FROM des.jobs j WHERE j.name = job AND pg_has_role(current_user, j.owner, 'MEMBER'))
           OR des_internal.is_administrator());
DROP POLICY IF EXISTS job_triggers_visible ON des.job_triggers;
CREATE POLICY job_triggers_visible ON des.job_triggers FOR SELECT
    USING (EXISTS (SELECT FROM des.jobs j WHERE j.name = job AND pg_has_role(current_user, j.owner, 'MEMBER'))
           OR des_internal.is_administrator());
DROP POLICY IF EXISTS trigger_dead_letters_visible ON des.trigger_dead_letters;
CREATE POLICY trigger_dead_letters_visible ON des.trigger_dead_letters FOR SELECT
    USING (EXISTS (SELECT FROM des.jobs j WHERE j.name = job AND pg_has_role(current_user, j.owner, 'MEMBER'))
           OR des_internal.is_administrator());
DROP POLICY IF EXISTS job_outputs_visible ON des.job_outputs;
CREATE POLICY job_outputs_visible ON des.job_outputs FOR SELECT
    USING (repo_id IN (SELECT r.id FROM des.repositories r));
GRANT SELECT ON des.job_outputs, des.job_subscriptions, des.job_triggers, des.trigger_dead_letters TO PUBLIC;
