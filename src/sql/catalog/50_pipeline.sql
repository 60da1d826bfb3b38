-- The pipeline's catalog (see docs/pipeline.md). Objects arrive by des.put /
-- des.put_url; the marker and packer workers mark and pack them into
-- containers; content-addressed blobs record where each distinct payload
-- lives. Constraints keep the invariants in the database itself.

CREATE TYPE des.object_state AS ENUM ('pending', 'marked', 'packed', 'dead');

CREATE TABLE des.containers (
    id           bigint PRIMARY KEY,
    location     text NOT NULL UNIQUE,
    day          date NOT NULL,
    shard        int CHECK (shard >= 0),		-- NULL for datasets' containers
    seq          int NOT NULL DEFAULT 0 CHECK (seq >= 0),
    state        text NOT NULL DEFAULT 'writing'
                 CHECK (state IN ('writing', 'uploading', 'committed')),
    size         bigint CHECK (size >= 0),
    entries      int CHECK (entries >= 0),
    etag         text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    committed_at timestamptz,
    -- who wrote it: a packer (for a day and shard, or of des.incoming rows), a dataset function
    -- (des.stage, des.commit, ...: in the transaction that records its
    -- blobs), or des.gc compacting containers (copies of live blobs)
    origin       text NOT NULL DEFAULT 'packer' CONSTRAINT containers_origin_valid CHECK (origin IN ('packer', 'incoming', 'datasets', 'compaction')),
    -- the stored bytes of its entries when it was committed (NULL: committed
    -- before pg_des 0.2.0): what des.gc compares the live blobs' bytes with
    data_bytes   bigint CHECK (data_bytes >= 0),
    CONSTRAINT containers_packer_shard CHECK (origin <> 'packer' OR shard IS NOT NULL),
    CONSTRAINT containers_committed_at CHECK ((state = 'committed') = (committed_at IS NOT NULL)),
    CONSTRAINT containers_committed_complete CHECK (state <> 'committed' OR (size IS NOT NULL AND entries IS NOT NULL)),
    CONSTRAINT containers_sequence UNIQUE (day, shard, seq)
);
-- a (day, shard) has at most one container being written: the one its lease holder resumes
CREATE UNIQUE INDEX containers_one_open ON des.containers (day, shard) WHERE state <> 'committed';
COMMENT ON TABLE des.containers IS 'archives written by the packer, one per (day, shard, sequence)';

CREATE TABLE des.blobs (
    hash         bytea PRIMARY KEY CHECK (length(hash) = 32),
    -- a foreign key, checked per statement (blobs_container_exists below)
    container_id bigint NOT NULL,
    entry        text NOT NULL,
    size         bigint NOT NULL CHECK (size >= 0),
    -- where the entry's bytes are in the archive, as its index says, so a
    -- blob can be located without reading the archive's index
    data_offset  bigint NOT NULL CHECK (data_offset >= 0),
    stored_size  bigint NOT NULL CHECK (stored_size >= 0),
    flags        int NOT NULL DEFAULT 0 CHECK (flags >= 0),
    refcount     bigint NOT NULL DEFAULT 0 CHECK (refcount >= 0),
    created_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE des.blobs IS 'distinct payloads by BLAKE2b-256, with the container entry that holds them';

CREATE TABLE des.objects (
    id              bigint PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    state           des.object_state NOT NULL DEFAULT 'pending',
    shard           int CHECK (shard >= 0),
    day             date,
    size            bigint CHECK (size >= 0),
    hash            bytea CHECK (hash IS NULL OR length(hash) = 32),
    meta            jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(meta) = 'object'),
    staged          bytea,
    source_url      text,
    attempts        int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- names become archive entry names: 1..65535 bytes
    CONSTRAINT objects_name_valid CHECK (name <> '' AND octet_length(name) <= 65535),
    CONSTRAINT objects_unpacked_have_bytes
        CHECK (state NOT IN ('pending', 'marked') OR staged IS NOT NULL OR source_url IS NOT NULL),
    CONSTRAINT objects_marked_complete
        CHECK (state <> 'marked' OR (shard IS NOT NULL AND day IS NOT NULL AND hash IS NOT NULL AND size IS NOT NULL)),
    CONSTRAINT objects_packed_complete
        CHECK (state <> 'packed' OR (hash IS NOT NULL AND staged IS NULL))
)
-- Only id and name are indexed, and pages keep room for a second version
-- of their rows: marking and packing an object are then HOT updates, which
-- touch no index. (The work queues below say which objects wait for what.)
WITH (fillfactor = 50);
COMMENT ON TABLE des.objects IS 'every object by name: staged bytes or a source URL until packed';
-- payloads are compressed (or not) by the archive writer, not twice by TOAST
ALTER TABLE des.objects ALTER COLUMN staged SET STORAGE EXTERNAL;

-- ---- the work queues ----
-- An object waiting for a worker has one row in the queue of its next step,
-- taken out when the step is done: fetch (registered by URL, bytes not read
-- yet), mark (staged, to be hashed), pack (marked, to be written into a
-- container of its day and shard). Workers claim queue rows with SKIP LOCKED.
-- The rows are written only by the pipeline's functions; deleting an object
-- takes it out of its queue (objects_leave_queues).
CREATE TABLE des.fetch_queue (
    object_id     bigint PRIMARY KEY,
    created_at    timestamptz NOT NULL,
    not_before    timestamptz,          -- backoff after a failed attempt
    claimed_until timestamptz           -- a marker is fetching it until then
);
COMMENT ON TABLE des.fetch_queue IS 'objects registered by URL whose bytes the marker has not read yet';

CREATE TABLE des.mark_queue (
    object_id   bigint PRIMARY KEY,
    shard       int NOT NULL,
    created_at  timestamptz NOT NULL,
    not_before  timestamptz             -- backoff after a failed attempt
);
-- the marker's order: oldest first, shard by shard
CREATE INDEX mark_queue_order ON des.mark_queue (shard, created_at, object_id);
COMMENT ON TABLE des.mark_queue IS 'staged objects waiting for the marker';

CREATE TABLE des.pack_queue (
    day        date NOT NULL,
    shard      int NOT NULL,
    object_id  bigint NOT NULL,
    size       bigint NOT NULL,
    created_at timestamptz NOT NULL,
    marked_at  timestamptz NOT NULL DEFAULT now(),
    -- the packer's order: a (day, shard) at a time, oldest first (ids follow time)
    PRIMARY KEY (day, shard, object_id)
);
COMMENT ON TABLE des.pack_queue IS 'marked objects waiting for a packer, by day and shard';

CREATE TABLE des.shard_leases (
    day        date NOT NULL,
    shard      int NOT NULL CHECK (shard >= 0),
    holder     text,
    expires_at timestamptz,
    token      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, shard),
    CONSTRAINT shard_leases_holder_expires CHECK ((holder IS NULL) = (expires_at IS NULL))
);
COMMENT ON TABLE des.shard_leases IS 'which packer works on a (day, shard), until when; token counts the leases granted';

CREATE TABLE des.dead_letters (
    object_id  bigint PRIMARY KEY REFERENCES des.objects (id) ON DELETE CASCADE,
    error      text NOT NULL,
    attempts   int NOT NULL,
    failed_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE des.dead_letters IS 'objects that failed des.max_attempts times; des.retry_dead() returns them';
