-- des_fdw: DES archives (local or on S3) as read-only foreign tables, with
-- lookups, prefix filters, archive pruning and LIMIT pushed into the scan.
-- See docs/fdw.md.

CREATE FUNCTION des.fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME', 'des_fdw_handler'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER des_fdw HANDLER des.fdw_handler VALIDATOR des.fdw_validator;
COMMENT ON FOREIGN DATA WRAPPER des_fdw IS 'DES archives, local or on S3-compatible object storage, as foreign tables';
