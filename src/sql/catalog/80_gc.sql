-- Reclaiming space (docs/gc.md): deletions of pipeline objects, retention
-- rules of datasets, what the garbage collector removed and what it still
-- has to delete from storage.

-- GC asks "which blobs live in this container" for every container it
-- looks at, and deleting a container checks that none does.
CREATE INDEX blobs_container ON des.blobs (container_id);

-- Every deletion of a pipeline object (des.delete, des.delete_many, or a
-- DELETE by hand): who, when, which object and what it held. Written by the
-- deletion trigger as the extension's owner, for the role that deleted.
CREATE TABLE des.object_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    role        name NOT NULL,			-- as it was called then
    action      text NOT NULL CHECK (action IN ('delete')),
    object_id   bigint NOT NULL,
    name        text NOT NULL,
    state       des.object_state NOT NULL,
    size        bigint,
    hash        bytea
);
CREATE INDEX object_log_name ON des.object_log (name, at);
COMMENT ON TABLE des.object_log IS 'every deletion of a pipeline object: who, when, which object (name, id, size, hash)';

-- Files in storage whose container rows GC removed: deleted from storage
-- after that removal committed, outside the transaction that made it, then
-- taken out of here. A crash in between leaves the row: the next run deletes
-- again (deleting what is gone already is no error).
CREATE TABLE des.gc_pending_deletes (
    location     text PRIMARY KEY,
    container_id bigint NOT NULL,
    origin       text NOT NULL,		-- the container's: which server deletes it (docs/gc.md)
    size         bigint,
    reason       text NOT NULL CHECK (reason IN ('empty', 'compacted')),
    queued_at    timestamptz NOT NULL DEFAULT now(),
    -- the transaction that removed the row: a snapshot older than its
    -- commit may still read the file, which is deleted only after
    after_xid    xid NOT NULL DEFAULT pg_current_xact_id()::xid,
    attempts     int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error   text
);
COMMENT ON TABLE des.gc_pending_deletes IS 'stored containers no catalog row points to any more, waiting to be deleted from storage';

-- One row per run of des.gc / des.gc_run: what it found and removed.
CREATE TABLE des.gc_runs (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at        timestamptz,
    role               name NOT NULL DEFAULT current_user,
    dry_run            boolean NOT NULL,
    state              text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done', 'failed')),
    blobs_removed      bigint NOT NULL DEFAULT 0,
    blob_bytes         bigint NOT NULL DEFAULT 0,	-- stored bytes of the removed blobs
    containers_removed bigint NOT NULL DEFAULT 0,
    container_bytes    bigint NOT NULL DEFAULT 0,	-- sizes of the containers removed from the catalog
    storage_deleted    bigint NOT NULL DEFAULT 0,	-- containers deleted from storage by this run
    storage_bytes      bigint NOT NULL DEFAULT 0,
    uploads_aborted    bigint NOT NULL DEFAULT 0,	-- incomplete multipart uploads aborted (S3)
    error              text
);
COMMENT ON TABLE des.gc_runs IS 'runs of the garbage collector (des.gc, des.gc_run): what each found and removed';

-- Retention rules of versioned datasets (des.retention_set): per repo
-- (branch '') and per branch, which bundles des.squash keeps.
CREATE TABLE des.dataset_retention (
    repo_id     bigint NOT NULL REFERENCES des.repositories (id) ON DELETE CASCADE,
    branch      text NOT NULL DEFAULT '',		-- '': the repo's rule, for branches without their own
    keep_last   int CHECK (keep_last >= 1),
    keep_within interval CHECK (keep_within > interval '0'),
    keep_labels boolean NOT NULL DEFAULT true,
    set_by      name NOT NULL,
    set_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repo_id, branch),
    CONSTRAINT dataset_retention_keeps CHECK (keep_last IS NOT NULL OR keep_within IS NOT NULL)
);
COMMENT ON TABLE des.dataset_retention IS 'retention rules of versioned datasets: which bundles des.squash keeps, per repo and per branch';
ALTER TABLE des.dataset_retention ENABLE ROW LEVEL SECURITY;

-- What des.scrub found: one row per blob that did not read back as its hash
-- (damaged or misplaced bytes, a container gone or unreadable), with what
-- refers to it, and whether it was repaired from an intact copy.
CREATE TABLE des.scrub_results (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    found_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    container_id bigint NOT NULL,
    location     text NOT NULL,
    hash         bytea NOT NULL,
    problem      text NOT NULL,
    objects      text[] NOT NULL,		-- names of the pipeline objects with these bytes
    repos        text[] NOT NULL,		-- repos with a file content that has this chunk
    repaired     boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE des.scrub_results IS 'blobs des.scrub found damaged or missing, what refers to them, and whether they were repaired';

SELECT pg_catalog.pg_extension_config_dump('des.dataset_retention', '');
SELECT pg_catalog.pg_extension_config_dump('des.scrub_results', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('des.scrub_results', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump('des.object_log', '');
SELECT pg_catalog.pg_extension_config_dump('des.gc_pending_deletes', '');
SELECT pg_catalog.pg_extension_config_dump('des.gc_runs', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('des.object_log', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('des.gc_runs', 'id')::regclass, '');
