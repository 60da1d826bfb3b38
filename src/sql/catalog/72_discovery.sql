-- Discovery, profiling and dataset search (docs/discovery.md): Datamart
-- (Auctus) inside the database. Discoverers find datasets and record how to
-- read each again (materialize); profiler workers claim them with SKIP
-- LOCKED, profile them with the core's profiler and store the profile; the
-- search runs on PostgreSQL's full-text search and GIN.

-- Where datasets come from: a kind built in, or a SQL function.
CREATE TABLE des.discoverers (
    name        text PRIMARY KEY CHECK (name ~ '^[a-z0-9_][a-z0-9_-]{0,62}$'),	-- no '.': ids are discoverer.dataset_id
    kind        text NOT NULL CHECK (kind IN ('directory', 's3', 'des', 'bundle', 'table', 'function', 'manual')),
    config      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(config) = 'object'),
    schedule    text,					-- a cron expression: a pg_cron job runs des.discover(name)
    owner       regrole NOT NULL,		-- who registered it: it discovers with this role's rights
    created_at  timestamptz NOT NULL DEFAULT now(),
    last_run_at timestamptz,
    last_found  int,					-- datasets the last run saw
    last_new    int,					-- of which new or changed (queued for profiling)
    last_gone   int,					-- datasets it had that the source no longer has (marked deleted)
    last_error  text					-- the last run's error (NULL: it succeeded)
);
COMMENT ON TABLE des.discoverers IS 'where datasets come from (des.discoverer_create); each run (des.discover) records what it found';

-- The datasets found, their state in the profiling queue, and their profile.
CREATE TABLE des.discovered_datasets (
    id              text PRIMARY KEY,	-- discoverer.dataset_id
    discoverer      text NOT NULL REFERENCES des.discoverers (name) ON DELETE CASCADE,
    dataset_id      text NOT NULL CHECK (dataset_id <> '' AND length(dataset_id) <= 1000),
    owner           regrole NOT NULL,	-- who recorded it: profiled with this role's rights, visible to its members
    name            text NOT NULL,
    description     text,
    materialize     jsonb NOT NULL CHECK (jsonb_typeof(materialize) = 'object'),	-- how to read it again
    metadata        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    source_size     bigint,				-- with source_version: what incremental re-discovery compares
    source_version  text,				-- ETag, mtime or bundle id
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'profiling', 'profiled', 'failed', 'dead', 'deleted')),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_by      int,				-- the profiling backend's pid, with its start: a claim outlives no session
    claim_started   timestamptz,
    failure_kind    text CHECK (failure_kind IN ('too_big', 'empty', 'unparsable', 'unreachable', 'timeout',
                                                 'forbidden', 'error')),
    failure_message text,
    profile         jsonb,				-- Auctus's metadata shape (des.profile(id) adds the rest)
    profiled_at     timestamptz,
    profile_count   int NOT NULL DEFAULT 0,	-- profiles stored, ever (re-profiling adds one)
    kept_copy       text,				-- the pipeline object holding the bytes (des.keep_copy), when any
    discovered_at   timestamptz NOT NULL DEFAULT now(),
    seen_at         timestamptz NOT NULL DEFAULT now(),	-- the last discovery run that found it
    deleted_at      timestamptz,
    search          tsvector NOT NULL DEFAULT ''::tsvector,	-- name, description, column names, keywords
    UNIQUE (discoverer, dataset_id),
    CONSTRAINT discovered_claim CHECK ((state = 'profiling') = (claimed_by IS NOT NULL))
);
CREATE INDEX discovered_queue ON des.discovered_datasets (next_attempt_at) WHERE state = 'pending';
CREATE INDEX discovered_profiling ON des.discovered_datasets (claimed_by) WHERE state = 'profiling';
CREATE INDEX discovered_search ON des.discovered_datasets USING gin (search);
COMMENT ON TABLE des.discovered_datasets IS 'datasets found by discoverers: how to read them, their place in the profiling queue, their profile';

-- Each profiled column, for filters and join search: the MinHash of its
-- values and its LSH band keys (GIN), its range for numeric and temporal
-- overlap.
CREATE TABLE des.discovered_columns (
    dataset         text NOT NULL REFERENCES des.discovered_datasets (id) ON DELETE CASCADE,
    position        int NOT NULL,		-- 0-based, as Auctus's column_indexes
    name            text NOT NULL,
    structural_type text NOT NULL,
    semantic_types  text[] NOT NULL DEFAULT '{}',
    num_distinct    bigint,
    missing_ratio   float8,
    range_min       float8,				-- numbers, or instants as epoch seconds
    range_max       float8,
    minhash         bytea,				-- des_minhash "DMH2" of the non-missing values
    lsh             bigint[],			-- band keys of the MinHash (des.minhash_bands)
    PRIMARY KEY (dataset, position)
);
CREATE INDEX discovered_columns_lsh ON des.discovered_columns USING gin (lsh);
CREATE INDEX discovered_columns_types ON des.discovered_columns USING gin (semantic_types);
CREATE INDEX discovered_columns_name ON des.discovered_columns (lower(name));	-- union search, column filters
CREATE INDEX discovered_columns_range ON des.discovered_columns
    USING gist (numrange(range_min::numeric, range_max::numeric, '[]')) WHERE range_min IS NOT NULL;
COMMENT ON TABLE des.discovered_columns IS 'the profiled columns of each dataset: types, ranges, MinHash and LSH keys for join search';

-- What people said about a dataset or a column (des.annotate): it wins over
-- what the profiler detected, and survives re-profiling.
CREATE TABLE des.dataset_annotations (
    dataset      text NOT NULL REFERENCES des.discovered_datasets (id) ON DELETE CASCADE,
    column_name  text NOT NULL DEFAULT '',	-- '': the dataset itself
    annotation   jsonb NOT NULL CHECK (jsonb_typeof(annotation) = 'object'),
    annotated_by regrole NOT NULL,
    annotated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dataset, column_name)
);
COMMENT ON TABLE des.dataset_annotations IS 'manual annotations of datasets and columns, applied over the detected profile';

-- A role sees the datasets of the roles it is a member of (it could read
-- them: they were discovered and are profiled with their recorder's rights).
ALTER TABLE des.discoverers ENABLE ROW LEVEL SECURITY;
ALTER TABLE des.discovered_datasets ENABLE ROW LEVEL SECURITY;
ALTER TABLE des.discovered_columns ENABLE ROW LEVEL SECURITY;
ALTER TABLE des.dataset_annotations ENABLE ROW LEVEL SECURITY;
CREATE POLICY discoverers_member ON des.discoverers FOR SELECT USING (pg_has_role(owner, 'USAGE'));
CREATE POLICY discovered_member ON des.discovered_datasets FOR SELECT USING (pg_has_role(owner, 'USAGE'));
CREATE POLICY discovered_columns_member ON des.discovered_columns FOR SELECT
    USING (EXISTS (SELECT 1 FROM des.discovered_datasets d WHERE d.id = dataset));
CREATE POLICY annotations_member ON des.dataset_annotations FOR SELECT
    USING (EXISTS (SELECT 1 FROM des.discovered_datasets d WHERE d.id = dataset));
GRANT SELECT ON des.discoverers, des.discovered_datasets, des.discovered_columns, des.dataset_annotations TO PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('des.discoverers', 'WHERE name <> ''manual''');
SELECT pg_catalog.pg_extension_config_dump('des.discovered_datasets', '');
SELECT pg_catalog.pg_extension_config_dump('des.discovered_columns', '');
SELECT pg_catalog.pg_extension_config_dump('des.dataset_annotations', '');

-- The discoverer datasets recorded outside any discoverer's run belong to.
INSERT INTO des.discoverers (name, kind, owner) VALUES ('manual', 'manual', current_user::regrole);
