-- The bulk path into the pipeline (docs/pipeline.md, "Bulk loads"): rows
-- COPYed or INSERTed into des.incoming are packed straight from there. A row
-- is written once and never updated (nor deleted on its own, but by
-- des.delete before it is packed): the packer hashes
-- it while writing a container and records it in des.objects (a small row,
-- state 'packed') when the container commits; the table is emptied by
-- TRUNCATE once every row in it is packed. Nothing per row but the heap
-- tuple and its two index entries: this is what makes COPY into it cost
-- about what COPY into a plain table costs.

CREATE TABLE des.incoming (
    -- its object's id: always the default (see des.incoming_state); object
    -- ids follow time, so the packer reads the table in id order
    id    bigint NOT NULL,
    name  text NOT NULL,
    data  bytea NOT NULL,
    meta  jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT incoming_pkey PRIMARY KEY (id),
    -- unique among staged rows here; a name taken in des.objects is found
    -- when the row is packed (it then goes to des.incoming_rejects)
    CONSTRAINT incoming_name_key UNIQUE (name),
    CONSTRAINT incoming_name_valid CHECK (name <> '' AND octet_length(name) <= 65535),
    CONSTRAINT incoming_meta_object CHECK (jsonb_typeof(meta) = 'object')
);
-- payloads are compressed (or not) by the archive writer, not by TOAST
ALTER TABLE des.incoming ALTER COLUMN data SET STORAGE EXTERNAL;
COMMENT ON TABLE des.incoming IS
  'objects staged for packing by COPY or INSERT (name, data, meta); packed into containers, then recorded in des.objects';

-- One row: how far the packers have come through des.incoming. Rows are
-- packed in id order, and only up to final_upto: every transaction that
-- could still commit a row with a lower id has ended (a packer waits for
-- the transactions that held a lock on des.incoming when it drew the id
-- final_upto; inserting into the table takes that lock before a row's
-- default id is drawn). Rows with ids up to claimed_upto belong to a range
-- of des.incoming_ranges, or are packed (or rejected) already.
CREATE TABLE des.incoming_state (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    final_upto    bigint NOT NULL DEFAULT 0,
    claimed_upto  bigint NOT NULL DEFAULT 0,
    CONSTRAINT incoming_state_order CHECK (claimed_upto <= final_upto)
);
INSERT INTO des.incoming_state DEFAULT VALUES;
COMMENT ON TABLE des.incoming_state IS
  'the packers'' progress through des.incoming: rows final (final_upto), rows handed out in ranges (claimed_upto)';

-- The ranges of des.incoming rows (lo, hi] handed to packers and not packed
-- yet: each packer leases one, writes its rows into a container of its own
-- (container_id) and commits; several packers work at once on ranges of
-- their own. A range whose packer died is leased again (its container is
-- written again under the new lease's key). A commit that covers part of a
-- range (the container filled up by bytes) leaves the rest as a range.
CREATE TABLE des.incoming_ranges (
    id            bigint PRIMARY KEY,
    lo            bigint NOT NULL,
    hi            bigint NOT NULL,
    holder        text,
    expires_at    timestamptz,
    token         bigint NOT NULL DEFAULT 0,
    container_id  bigint UNIQUE,
    CONSTRAINT incoming_ranges_order CHECK (lo < hi),
    CONSTRAINT incoming_ranges_holder_expires CHECK ((holder IS NULL) = (expires_at IS NULL))
);
COMMENT ON TABLE des.incoming_ranges IS
  'ranges of des.incoming rows handed to packers and not packed yet, with the lease on each';


-- Rows that could not become objects: their name was taken in des.objects,
-- or the archive format refused the name or meta. Kept with their bytes
-- until someone deals with them (rename and INSERT them into des.incoming
-- again, or delete them).
CREATE TABLE des.incoming_rejects (
    id           bigint PRIMARY KEY,
    name         text NOT NULL,
    data         bytea NOT NULL,
    meta         jsonb NOT NULL,
    error        text NOT NULL,
    rejected_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE des.incoming_rejects ALTER COLUMN data SET STORAGE EXTERNAL;
COMMENT ON TABLE des.incoming_rejects IS 'des.incoming rows the packer could not make objects of, with why';

-- progress counters: anyone may see them
GRANT SELECT ON des.incoming_state TO PUBLIC;

-- No autovacuum: rows are never updated (nor deleted but by des.delete), so
-- it would reclaim nothing, and the packer's tick waits for every
-- transaction holding a lock that conflicts with inserting, a VACUUM's
-- included. (Anti-wraparound vacuums still run; TRUNCATE keeps the table small.)
ALTER TABLE des.incoming SET (autovacuum_enabled = false, toast.autovacuum_enabled = false);
-- which ids are in ranges being packed (bounds only): readers tell staged
-- rows from packed ones with their callers' rights
GRANT SELECT (lo, hi) ON des.incoming_ranges TO PUBLIC;
