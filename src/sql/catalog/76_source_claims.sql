-- Claims from foreign sources not yet settled (docs/pipeline.md, "Foreign
-- sources"): a row of a foreign table claimed by a marker's round (its
-- status set to the source's claiming value) and staged as an object, or
-- found with its name taken, in that round's transaction. The next round,
-- once this row is committed, sets the remote status to the claimed value
-- (or back to pending when the name was taken) and deletes the row. A
-- remote row left in the claiming value with no row here was claimed by a
-- round that did not commit, and is staged again.
CREATE TABLE des.source_claims (
    source_id  int NOT NULL REFERENCES des.sources (id) ON DELETE CASCADE,
    row_key    text NOT NULL,					-- the key column's value, as text
    object_id  bigint,							-- NULL: the name was already an object's
    claimed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_id, row_key)
);
COMMENT ON TABLE des.source_claims IS 'rows of foreign sources claimed and staged, whose remote status the next round settles';
