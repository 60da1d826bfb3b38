-- Versions of datasets (docs/datasets.md, encodings in
-- docs/versioning-format.md): bundles (immutable commits), the directories
-- and chunk lists they name, branches and labels pointing at them with their
-- history, what is staged for the next commit, and who read what.
--
-- Only the extension's owner writes these tables: the des.* functions check
-- the caller's level on the repo, then write as the owner. Every role reads
-- them directly, through row-level security: the rows of the repos it may
-- read (des.repositories is itself filtered, so "repo_id IN (SELECT id FROM
-- des.repositories)" is exactly that).
--
-- Hashes and ids are raw 32-byte BLAKE2b-256 (bytea); the views show hex.

-- Directories (the Merkle tree of a bundle's files), once per repo and hash.
CREATE TABLE des.dataset_dirs (
    repo_id     bigint NOT NULL REFERENCES des.repositories (id) ON DELETE CASCADE,
    hash        bytea NOT NULL CHECK (length(hash) = 32),
    encoding    bytea NOT NULL,			-- the canonical encoding: its BLAKE2b-256 is hash
    total_size  bigint NOT NULL CHECK (total_size >= 0),
    PRIMARY KEY (repo_id, hash)
);
COMMENT ON TABLE des.dataset_dirs IS 'directories of bundles by hash (DESD encodings), once per repository';

-- Files' chunk lists, once per repo and content hash. The chunks are blobs
-- (des.blobs: the same keys), deduplicated across repos and with the pipeline.
CREATE TABLE des.dataset_contents (
    repo_id     bigint NOT NULL REFERENCES des.repositories (id) ON DELETE CASCADE,
    hash        bytea NOT NULL CHECK (length(hash) = 32),
    chunks      bytea NOT NULL,			-- the canonical chunk list (DESF): its BLAKE2b-256 is hash
    size        bigint NOT NULL CHECK (size >= 0),
    chunk_count bigint NOT NULL CHECK (chunk_count >= 0),
    PRIMARY KEY (repo_id, hash)
);
ALTER TABLE des.dataset_contents ALTER COLUMN chunks SET STORAGE EXTERNAL;	-- hashes do not compress
COMMENT ON TABLE des.dataset_contents IS 'file contents by content hash: their chunk lists (DESF encodings), once per repository';

CREATE TABLE des.dataset_bundles (
    id          bytea PRIMARY KEY CHECK (length(id) = 32),	-- BLAKE2b-256 of header
    repo_id     bigint NOT NULL REFERENCES des.repositories (id) ON DELETE CASCADE,
    header      bytea NOT NULL,			-- the canonical header (DESB)
    root        bytea NOT NULL,
    parents     bytea[] NOT NULL,		-- first: the branch's previous head; then merged bundles
    author      text NOT NULL,
    created_at  timestamptz NOT NULL,	-- the header's time
    message     text NOT NULL,
    total_size  bigint NOT NULL CHECK (total_size >= 0),
    chunker_algorithm int NOT NULL,
    chunk_min   int NOT NULL,
    chunk_avg   int NOT NULL,
    chunk_max   int NOT NULL,
    -- the parents history shows when des.squash removed some of the header's
    -- (each replaced by its nearest kept ancestors); NULL: the header's
    history_parents bytea[],
    CONSTRAINT dataset_bundles_repo_id UNIQUE (repo_id, id),		-- the target of (repo, bundle) keys
    -- the keys inside a repo all act on deletion, so a repo's deletion may
    -- remove its rows in any order (deferred keys cannot be: the rows are
    -- written in security-restricted operations, where none may be deferred)
    CONSTRAINT dataset_bundles_root FOREIGN KEY (repo_id, root) REFERENCES des.dataset_dirs (repo_id, hash)
        ON DELETE CASCADE
);
CREATE INDEX dataset_bundles_repo_time ON des.dataset_bundles (repo_id, created_at);
COMMENT ON TABLE des.dataset_bundles IS 'immutable versions of a repository: the id is the hash of the header, which names the root directory';

-- Branch names: what git allows, simplified: segments of letters, digits,
-- '.', '_', '-' separated by '/', no segment "." or "..", 1..200 bytes.
CREATE TABLE des.dataset_branches (
    repo_id     bigint NOT NULL REFERENCES des.repositories (id) ON DELETE CASCADE,
    name        text NOT NULL
                CONSTRAINT dataset_branches_name_valid CHECK (
                    name ~ '^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$' AND length(name) <= 200
                    AND name !~ '(^|/)\.\.?(/|$)'),
    head        bytea,						-- NULL: no commit yet
    protected   boolean NOT NULL DEFAULT false,	-- changed only by des.merge
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repo_id, name),
    CONSTRAINT dataset_branches_head FOREIGN KEY (repo_id, head) REFERENCES des.dataset_bundles (repo_id, id)
        ON DELETE SET NULL (head)
);
COMMENT ON TABLE des.dataset_branches IS 'branches: a name and its head bundle, moved by compare-and-swap (des.commit, des.merge)';

-- Every move of a branch: the reflog, also what repo/branch@{time} reads.
CREATE TABLE des.branch_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repo_id     bigint NOT NULL REFERENCES des.repositories (id) ON DELETE CASCADE,
    branch      text NOT NULL,
    old_head    bytea,
    new_head    bytea,					-- NULL: the branch was deleted
    role        name NOT NULL,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    reason      text NOT NULL			-- create, commit, merge, delete
);
CREATE INDEX branch_log_branch ON des.branch_log (repo_id, branch, at);
COMMENT ON TABLE des.branch_log IS 'every move of every branch (the reflog): old and new head, who, when, why';

CREATE TABLE des.dataset_labels (
    repo_id     bigint NOT NULL REFERENCES des.repositories (id) ON DELETE CASCADE,
    name        text NOT NULL
                CONSTRAINT dataset_labels_name_valid CHECK (name ~ '^[A-Za-z0-9._-]{1,100}$' AND name !~ '^\.+$'),
    bundle_id   bytea NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repo_id, name),
    CONSTRAINT dataset_labels_bundle FOREIGN KEY (repo_id, bundle_id) REFERENCES des.dataset_bundles (repo_id, id)
        ON DELETE CASCADE
);
COMMENT ON TABLE des.dataset_labels IS 'named pointers to bundles (des.label_set); their history is des.label_log';

CREATE TABLE des.label_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repo_id     bigint NOT NULL REFERENCES des.repositories (id) ON DELETE CASCADE,
    label       text NOT NULL,
    old_bundle  bytea,
    new_bundle  bytea,					-- NULL: the label was deleted
    role        name NOT NULL,
    at          timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX label_log_label ON des.label_log (repo_id, label, at);
COMMENT ON TABLE des.label_log IS 'every move of every label: from where to where, who, when';

-- What the next commit of a branch changes: one row per path. The bytes of
-- a staged file are already stored (chunks in containers, its chunk list
-- in des.dataset_contents); the row names them.
CREATE TABLE des.staged (
    repo_id     bigint NOT NULL,
    branch      text NOT NULL,
    path        text NOT NULL,
    op          text NOT NULL CHECK (op IN ('put', 'remove')),
    mode        int CHECK (mode BETWEEN 0 AND 511),
    size        bigint CHECK (size >= 0),
    content     bytea,
    staged_by   name NOT NULL,
    staged_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repo_id, branch, path),
    CONSTRAINT staged_branch FOREIGN KEY (repo_id, branch) REFERENCES des.dataset_branches (repo_id, name) ON DELETE CASCADE,
    -- content: a des.dataset_contents row of the repo (checked per statement:
    -- api/68_versioning.sql, staged_contents_exist)
    CONSTRAINT staged_put_complete CHECK ((op = 'put') = (mode IS NOT NULL AND size IS NOT NULL AND content IS NOT NULL))
);
COMMENT ON TABLE des.staged IS 'changes staged for the next commit of a branch (des.stage, des.stage_remove): one row per path';

-- Every read through the functions: who read what, when, from where.
CREATE TABLE des.read_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    role        name NOT NULL,			-- as it was called then
    reader      regrole NOT NULL,		-- who, by OID: a later role of the same name is someone else
    repo_id     bigint NOT NULL REFERENCES des.repositories (id) ON DELETE CASCADE,
    ref         text NOT NULL,			-- as the reader wrote it
    bundle_id   bytea,					-- what it named (a branch's head: its staged changes are read too); NULL: no commit yet
    path        text,					-- NULL: the whole bundle or the listing
    function    text NOT NULL,
    application_name text NOT NULL DEFAULT ''
);
CREATE INDEX read_log_repo ON des.read_log (repo_id, at);
COMMENT ON TABLE des.read_log IS 'every read of a bundle through des.files, des.read, des.read_many, des.download: who, when, what, which application';

ALTER TABLE des.dataset_dirs ENABLE ROW LEVEL SECURITY;
ALTER TABLE des.dataset_contents ENABLE ROW LEVEL SECURITY;
ALTER TABLE des.dataset_bundles ENABLE ROW LEVEL SECURITY;
ALTER TABLE des.dataset_branches ENABLE ROW LEVEL SECURITY;
ALTER TABLE des.branch_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE des.dataset_labels ENABLE ROW LEVEL SECURITY;
ALTER TABLE des.label_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE des.staged ENABLE ROW LEVEL SECURITY;
ALTER TABLE des.read_log ENABLE ROW LEVEL SECURITY;

SELECT pg_catalog.pg_extension_config_dump('des.dataset_dirs', '');
SELECT pg_catalog.pg_extension_config_dump('des.dataset_contents', '');
SELECT pg_catalog.pg_extension_config_dump('des.dataset_bundles', '');
SELECT pg_catalog.pg_extension_config_dump('des.dataset_branches', '');
SELECT pg_catalog.pg_extension_config_dump('des.branch_log', '');
SELECT pg_catalog.pg_extension_config_dump('des.dataset_labels', '');
SELECT pg_catalog.pg_extension_config_dump('des.label_log', '');
SELECT pg_catalog.pg_extension_config_dump('des.staged', '');
SELECT pg_catalog.pg_extension_config_dump('des.read_log', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('des.branch_log', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('des.label_log', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('des.read_log', 'id')::regclass, '');
