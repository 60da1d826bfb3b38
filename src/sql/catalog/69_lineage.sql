-- Lineage (docs/lineage.md): what gros:// URIs resolve through.
--
-- The bundles of each branch in order, so that a URI's position tag (0 the
-- first, -1 the latest) and day tag are one index lookup, not a walk of the
-- history: the branch's first-parent chain from its head (the parents as
-- des.squash left them), position 0 the oldest. Kept by a trigger on
-- des.dataset_branches: a commit appends one row; any other move (create,
-- reset, a merge whose first parent is not the old head) and des.squash
-- rebuild the branch's rows; a resolution that finds the rows out of step
-- with the head (a restore from a dump) rebuilds them too.
CREATE TABLE des.branch_history (
    repo_id      bigint NOT NULL,
    branch       text NOT NULL,
    position     bigint NOT NULL CHECK (position >= 0),
    bundle_id    bytea NOT NULL,
    committed_at timestamptz NOT NULL,	-- the bundle's time (its header's)
    PRIMARY KEY (repo_id, branch, position),
    CONSTRAINT branch_history_branch FOREIGN KEY (repo_id, branch) REFERENCES des.dataset_branches (repo_id, name)
        ON DELETE CASCADE,
    CONSTRAINT branch_history_bundle FOREIGN KEY (repo_id, bundle_id) REFERENCES des.dataset_bundles (repo_id, id)
        ON DELETE CASCADE
);
CREATE INDEX branch_history_time ON des.branch_history (repo_id, branch, committed_at, position);	-- a day's last: one index row
CREATE INDEX branch_history_bundle ON des.branch_history (repo_id, bundle_id);
COMMENT ON TABLE des.branch_history IS 'the bundles of each branch, oldest first (its first-parent chain): what gros:// day and position tags resolve through';

ALTER TABLE des.branch_history ENABLE ROW LEVEL SECURITY;
-- (not dumped: derived from the bundles and branches, rebuilt by the
-- trigger and, when found out of step with a branch's head, on resolution)

-- Jobs and their runs (des.run_begin / des.run_end / des.run_fail), and
-- the lineage edges: each bundle a run read (input) or committed (output).
CREATE TABLE des.jobs (
    name        text PRIMARY KEY CHECK (name <> '' AND length(name) <= 200),
    owner       regrole NOT NULL,		-- who created it: its action runs as this role
    created_at  timestamptz NOT NULL DEFAULT now(),
    action      text,					-- SQL the trigger dispatcher runs, the trigger as $1 (jsonb); NULL: none
    coalesce_versions boolean NOT NULL DEFAULT false	-- fold versions that arrive while a run is pending
);
COMMENT ON TABLE des.jobs IS 'jobs whose runs read and write versions (des.job_create, or a first des.run_begin)';

CREATE TABLE des.runs (
    id            uuid PRIMARY KEY,
    job           text NOT NULL REFERENCES des.jobs (name) ON DELETE CASCADE,
    role          regrole NOT NULL,			-- who ran it
    pid           int NOT NULL,				-- its backend, with backend_start: a run whose session ended is abandoned
    backend_start timestamptz NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    ended_at      timestamptz,
    state         text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'completed', 'failed', 'aborted')),	-- aborted: its session ended first
    error         text,
    trigger_id    bigint,					-- the trigger (des.job_triggers) the dispatcher ran it for
    CONSTRAINT runs_ended CHECK ((state = 'running') = (ended_at IS NULL))
);
CREATE INDEX runs_job ON des.runs (job, started_at);
COMMENT ON TABLE des.runs IS 'runs of jobs: who, when, how they ended';

CREATE TABLE des.lineage_edges (
    run_id      uuid NOT NULL REFERENCES des.runs (id) ON DELETE CASCADE,
    direction   text NOT NULL CHECK (direction IN ('input', 'output')),
    repo_id     bigint NOT NULL REFERENCES des.repositories (id) ON DELETE CASCADE,
    bundle_id   bytea NOT NULL CHECK (length(bundle_id) = 32),
    branch      text,					-- the branch read or committed to (NULL: a bundle named by id or label)
    uri         text NOT NULL,			-- the ref or URI as written (outputs: gros://repo/branch)
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (run_id, direction, repo_id, bundle_id, uri)
);
CREATE INDEX lineage_edges_bundle ON des.lineage_edges (bundle_id, direction) INCLUDE (run_id);
COMMENT ON TABLE des.lineage_edges IS 'the lineage graph: which run read (input) or committed (output) which bundle, and the URI as written';

-- The branches each job's runs have committed to: the edges of the job graph
-- that subscriptions do not say, which a new subscription must not close
-- into a cycle (kept by the output-edge trigger, so the check does not scan
-- every edge).
CREATE TABLE des.job_outputs (
    job         text NOT NULL REFERENCES des.jobs (name) ON DELETE CASCADE,
    repo_id     bigint NOT NULL REFERENCES des.repositories (id) ON DELETE CASCADE,
    branch      text NOT NULL,
    first_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job, repo_id, branch)
);
CREATE INDEX job_outputs_branch ON des.job_outputs (repo_id, branch);
COMMENT ON TABLE des.job_outputs IS 'the branches each job''s runs have committed to (for the cycle check of des.subscribe)';

-- Real-time dependencies: a job subscribed to a branch gets a trigger for
-- every bundle committed there (des.subscribe, or a run's read of a URI
-- without a tag).
CREATE TABLE des.job_subscriptions (
    job         text NOT NULL REFERENCES des.jobs (name) ON DELETE CASCADE,
    repo_id     bigint NOT NULL REFERENCES des.repositories (id) ON DELETE CASCADE,
    branch      text NOT NULL,
    origin      text NOT NULL CHECK (origin IN ('subscribe', 'read')),	-- des.subscribe, or a run's read
    uri         text NOT NULL,			-- as written
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repo_id, branch, job)
);
CREATE INDEX job_subscriptions_job ON des.job_subscriptions (job);
COMMENT ON TABLE des.job_subscriptions IS 'which jobs a commit on a branch triggers';

-- One row per (job, upstream version): enqueued by the commit itself, so a
-- rolled-back commit triggers nothing and a version triggers a job once.
CREATE TABLE des.job_triggers (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job         text NOT NULL REFERENCES des.jobs (name) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('commit', 'request')),	-- a subscribed commit, or des.job_run
    repo_id     bigint REFERENCES des.repositories (id) ON DELETE CASCADE,
    branch      text,
    bundle_id   bytea,
    payload     jsonb,					-- des.job_run's argument
    chain       text[] NOT NULL DEFAULT '{}',	-- the jobs whose runs led to it (a job is never in its own chain)
    enqueued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    state       text NOT NULL CHECK (state IN ('pending', 'running', 'done', 'dead', 'coalesced', 'notified')),
    attempts    int NOT NULL DEFAULT 0,
    not_before  timestamptz,			-- backoff after a failed attempt
    claimed_pid int,					-- the dispatcher running it, with its backend start
    claimed_backend_start timestamptz,
    started_at  timestamptz,
    finished_at timestamptz,
    run_id      uuid,					-- its last run (des.runs)
    coalesced_into bigint REFERENCES des.job_triggers (id) ON DELETE SET NULL,
    last_error  text,
    CONSTRAINT job_triggers_commit CHECK ((kind = 'commit') = (bundle_id IS NOT NULL AND repo_id IS NOT NULL AND branch IS NOT NULL)),
    CONSTRAINT job_triggers_once UNIQUE (job, repo_id, branch, bundle_id)
);
CREATE INDEX job_triggers_due ON des.job_triggers (id) WHERE state IN ('pending', 'running');
CREATE INDEX job_triggers_job ON des.job_triggers (job, state);
CREATE INDEX job_triggers_enqueued ON des.job_triggers (enqueued_at);
COMMENT ON TABLE des.job_triggers IS 'each job triggered by each upstream version (once), or run on request; its state, attempts and last run';

CREATE TABLE des.trigger_dead_letters (
    trigger_id  bigint PRIMARY KEY REFERENCES des.job_triggers (id) ON DELETE CASCADE,
    job         text NOT NULL,
    error       text NOT NULL,
    attempts    int NOT NULL,
    failed_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE des.trigger_dead_letters IS 'triggers whose action failed des.trigger_max_attempts times; des.trigger_retry() runs them again';

-- The lineage mirror (des.lineage_mirror): the (repo, branch, day) whose
-- audit files in storage (dependency/{repo}/{branch}/{day}/...) must be
-- written again, by the trigger dispatcher, outside any transaction.
CREATE TABLE des.lineage_mirror_queue (
    repo_id     bigint NOT NULL REFERENCES des.repositories (id) ON DELETE CASCADE,
    branch      text NOT NULL,
    day         date NOT NULL,
    enqueued_at timestamptz NOT NULL DEFAULT clock_timestamp(),	-- a newer enqueue keeps the row for another pass
    attempts    int NOT NULL DEFAULT 0,
    not_before  timestamptz,			-- a claim's lease, or the backoff after a failure
    last_error  text,
    PRIMARY KEY (repo_id, branch, day)
);
COMMENT ON TABLE des.lineage_mirror_queue IS 'days of branches whose lineage files in storage the dispatcher writes again (des.lineage_mirror)';
ALTER TABLE des.lineage_mirror_queue ENABLE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('des.lineage_mirror_queue', '');

-- OpenLineage push (des.openlineage_url): each run's events, queued by the
-- run's own transactions, sent by the trigger dispatcher; those that
-- failed des.trigger_max_attempts times wait in the dead letters.
CREATE TABLE des.openlineage_outbox (
    run_id      uuid NOT NULL REFERENCES des.runs (id) ON DELETE CASCADE,
    event_type  text NOT NULL CHECK (event_type IN ('START', 'COMPLETE', 'FAIL', 'ABORT')),
    enqueued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    attempts    int NOT NULL DEFAULT 0,
    not_before  timestamptz,			-- a claim's lease, or the backoff after a failure
    last_error  text,
    PRIMARY KEY (run_id, event_type)
);
COMMENT ON TABLE des.openlineage_outbox IS 'OpenLineage events to send to des.openlineage_url';
CREATE TABLE des.openlineage_dead_letters (
    run_id      uuid NOT NULL,
    event_type  text NOT NULL,
    event       jsonb NOT NULL,			-- as it was to be sent
    error       text NOT NULL,
    attempts    int NOT NULL,
    failed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, event_type)
);
COMMENT ON TABLE des.openlineage_dead_letters IS 'OpenLineage events that could not be sent; des.openlineage_retry() queues them again';
ALTER TABLE des.openlineage_outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE des.openlineage_dead_letters ENABLE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('des.openlineage_outbox', '');
SELECT pg_catalog.pg_extension_config_dump('des.openlineage_dead_letters', '');

ALTER TABLE des.jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE des.job_outputs ENABLE ROW LEVEL SECURITY;
ALTER TABLE des.job_subscriptions ENABLE ROW LEVEL SECURITY;
ALTER TABLE des.job_triggers ENABLE ROW LEVEL SECURITY;
ALTER TABLE des.trigger_dead_letters ENABLE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('des.job_outputs', '');
SELECT pg_catalog.pg_extension_config_dump('des.job_subscriptions', '');
SELECT pg_catalog.pg_extension_config_dump('des.job_triggers', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('des.job_triggers', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump('des.trigger_dead_letters', '');
ALTER TABLE des.runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE des.lineage_edges ENABLE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('des.jobs', '');
SELECT pg_catalog.pg_extension_config_dump('des.runs', '');
SELECT pg_catalog.pg_extension_config_dump('des.lineage_edges', '');
