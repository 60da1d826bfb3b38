-- DES v1 archives from SQL: write, list, read, inspect, verify.
-- Server-file access is checked in C against pg_read_server_files /
-- pg_write_server_files, as COPY does.

CREATE OR REPLACE FUNCTION des_internal.archive_write_transfn(internal, location text, name text, data bytea, meta jsonb)
RETURNS internal
AS 'MODULE_PATHNAME', 'des_archive_write_transfn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION des_internal.archive_write_transfn(internal, text, text, bytea, jsonb) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.archive_write_transfn(internal, location text, name text, data bytea, meta jsonb, options jsonb)
RETURNS internal
AS 'MODULE_PATHNAME', 'des_archive_write_transfn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION des_internal.archive_write_transfn(internal, text, text, bytea, jsonb, jsonb) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.archive_write_finalfn(internal)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'des_archive_write_finalfn'
LANGUAGE C CALLED ON NULL INPUT PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION des_internal.archive_write_finalfn(internal) FROM PUBLIC;

CREATE OR REPLACE AGGREGATE des.archive_write(location text, name text, data bytea, meta jsonb) (
    SFUNC = des_internal.archive_write_transfn,
    STYPE = internal,
    FINALFUNC = des_internal.archive_write_finalfn,
    FINALFUNC_MODIFY = READ_WRITE
);
COMMENT ON AGGREGATE des.archive_write(text, text, bytea, jsonb) IS
  'write the aggregated rows as one DES v1 archive at location; returns a summary';

CREATE OR REPLACE AGGREGATE des.archive_write(location text, name text, data bytea, meta jsonb, options jsonb) (
    SFUNC = des_internal.archive_write_transfn,
    STYPE = internal,
    FINALFUNC = des_internal.archive_write_finalfn,
    FINALFUNC_MODIFY = READ_WRITE
);
COMMENT ON AGGREGATE des.archive_write(text, text, bytea, jsonb, jsonb) IS
  'write the aggregated rows as one DES v1 archive with options (blake2b, lz4, lz4_level, external_threshold, external_prefix, names)';

CREATE OR REPLACE FUNCTION des.archive_list(location text)
RETURNS TABLE (name text, size bigint, flags int, meta jsonb, data_offset bigint, meta_offset bigint)
AS 'MODULE_PATHNAME', 'des_archive_list'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION des.archive_list(text) IS 'entries of a DES archive, in index order';

CREATE OR REPLACE FUNCTION des.archive_read(location text, name text, verify boolean DEFAULT false)
RETURNS bytea
AS 'MODULE_PATHNAME', 'des_archive_read'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION des.archive_read(text, text, boolean) IS
  'payload of one entry; with verify, its stored BLAKE2b is checked';

CREATE OR REPLACE FUNCTION des.archive_read(location text, names text[], verify boolean DEFAULT false)
RETURNS TABLE (name text, data bytea)
AS 'MODULE_PATHNAME', 'des_archive_read_many'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION des.archive_read(text, text[], boolean) IS
  'payloads of many entries with coalesced reads; absent names give NULL data';

CREATE OR REPLACE FUNCTION des.archive_info(location text)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'des_archive_info'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION des.archive_info(text) IS 'header, footer and entry statistics of a DES archive';

CREATE OR REPLACE FUNCTION des.archive_verify(location text)
RETURNS TABLE ("check" text, ok boolean, detail text)
AS 'MODULE_PATHNAME', 'des_archive_verify'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION des.archive_verify(text) IS
  'full check of a DES archive: structure, bounds, names, duplicates, meta, payloads, hashes';
