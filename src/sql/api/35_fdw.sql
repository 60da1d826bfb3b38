-- des_fdw: DES archives (local or on S3) as read-only foreign tables, with
-- lookups, prefix filters, archive pruning and LIMIT pushed into the scan.
-- See docs/fdw.md.

-- options of servers (endpoints), user mappings (credentials) and foreign
-- tables (locations), checked by src/backend/fdw/fdw_options.c
CREATE OR REPLACE FUNCTION des.fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME', 'des_fdw_validator'
LANGUAGE C STRICT;

CREATE OR REPLACE FUNCTION des.fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME', 'des_fdw_handler'
LANGUAGE C STRICT;

-- The wrapper is created once (by the install script or the update that
-- introduced it); its handler and validator are the functions above.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_foreign_data_wrapper WHERE fdwname = 'des_fdw') THEN
        CREATE FOREIGN DATA WRAPPER des_fdw HANDLER des.fdw_handler VALIDATOR des.fdw_validator;
    END IF;
END
$$;
COMMENT ON FOREIGN DATA WRAPPER des_fdw IS 'DES archives, local or on S3-compatible object storage, as foreign tables';
