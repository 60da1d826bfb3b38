-- Sources: a table of the user's whose rows the marker claims into the
-- pipeline, as the DES marker did against source catalogs. See
-- docs/pipeline.md, "Sources".

CREATE TABLE des.sources (
    id             int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    relation       regclass NOT NULL UNIQUE,
    name_column    name NOT NULL,
    data_column    name,
    url_column     name,
    meta_column    name,
    status_column  name NOT NULL,
    age_column     name,
    pending_value  text NOT NULL,
    claimed_value  text NOT NULL,
    min_age        interval NOT NULL DEFAULT '0 s',
    registered_by  regrole NOT NULL,
    enabled        boolean NOT NULL DEFAULT true,
    last_claim_at  timestamptz,
    last_error     text,
    failures       int NOT NULL DEFAULT 0,	-- failed rounds in a row (backoff)
    retry_at       timestamptz,			-- after a failure: not claimed from before
    -- foreign tables (compare-and-set claims, docs/pipeline.md "Foreign sources"); NULL for plain tables
    key_column     name,
    claiming_value text,					-- the status between the claim and its object's commit
    use_returning  boolean,				-- the wrapper returns updated rows (UPDATE ... RETURNING)
    claimers       int NOT NULL DEFAULT 1	-- foreign tables: markers claiming at once, each its share of the keys
                   CONSTRAINT sources_claimers CHECK (claimers BETWEEN 1 AND 16),
    CONSTRAINT sources_one_payload CHECK ((data_column IS NULL) <> (url_column IS NULL)),
    CONSTRAINT sources_values_differ CHECK (pending_value <> claimed_value),
    CONSTRAINT sources_foreign CHECK ((key_column IS NULL) = (claiming_value IS NULL)
                                     AND (key_column IS NULL) = (use_returning IS NULL)
                                     AND claiming_value NOT IN (pending_value, claimed_value))
);
COMMENT ON TABLE des.sources IS 'tables of the user''s the marker claims rows from (des.register_source)';
