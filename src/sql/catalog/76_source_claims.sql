-- Claims from foreign sources not yet settled (docs/pipeline.md, "Foreign
-- sources"): the rows of a foreign table one marker's round claimed (their
-- status set to the source's claiming value) and staged as objects, or
-- found with their name taken, in that round's transaction: one row per
-- round, the keys and their objects side by side (a round's 1,000 claims
-- are one row written and one deleted, not 1,000 of each). The next round,
-- once this row is committed, sets the remote statuses to the claimed value
-- (or back to pending where the name was taken) and deletes the row. A
-- remote row left in the claiming value and named by no row here was
-- claimed by a round that did not commit, and is staged again. Rounds of
-- one share of one source take turns (an advisory lock), so a key is in
-- one row at most.
CREATE TABLE des.source_claims (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_id  int NOT NULL REFERENCES des.sources (id) ON DELETE CASCADE,
    part       int NOT NULL DEFAULT 0,		-- the share of the keys (des.sources.claimers) the round claimed from
    row_keys   text[] NOT NULL,				-- the key column's values, as text
    object_ids bigint[] NOT NULL,			-- each key's object; NULL: the name was already an object's
    claimed_at timestamptz NOT NULL DEFAULT now(),
    claimed_in bigint NOT NULL DEFAULT pg_catalog.txid_current(),	-- settled only by a later transaction
    CONSTRAINT source_claims_paired CHECK (cardinality(row_keys) = cardinality(object_ids) AND cardinality(row_keys) > 0)
);
CREATE INDEX source_claims_source ON des.source_claims (source_id, part);
COMMENT ON TABLE des.source_claims IS 'rounds of claims from foreign sources, staged, whose remote statuses the next round settles';
