-- S3 storage: the des_fdw foreign-data wrapper holds endpoints (servers) and
-- credentials (user mappings); des.default_server picks the server used for
-- s3:// locations. The wrapper itself is created in 35_fdw.sql.

CREATE OR REPLACE FUNCTION des.s3_stats()
RETURNS TABLE (kind text, requests bigint, errors bigint, retries bigint,
               bytes_in bigint, bytes_out bigint, shared boolean)
AS 'MODULE_PATHNAME', 'des_s3_stats'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION des.s3_stats() IS
  'S3 requests by kind since the last reset (cluster-wide when pg_des is preloaded, else this session)';

CREATE OR REPLACE VIEW des.stat_s3 AS SELECT * FROM des.s3_stats();
COMMENT ON VIEW des.stat_s3 IS 'S3 requests, errors, retries and bytes by request kind (des.s3_stats)';

CREATE OR REPLACE FUNCTION des.s3_stats_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'des_s3_stats_reset'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION des.s3_stats_reset() FROM PUBLIC;

CREATE OR REPLACE FUNCTION des.cache_stats()
RETURNS TABLE (hits bigint, misses bigint, evictions bigint, entries bigint, index_bytes bigint,
               shared_hits bigint, shared_misses bigint, shared_evictions bigint,
               shared_entries bigint, shared_bytes bigint)
AS 'MODULE_PATHNAME', 'des_cache_stats'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION des.cache_stats() IS
  'this session''s archive cache, and the cluster-wide shared index cache of S3 archives (NULL when not preloaded)';

CREATE OR REPLACE VIEW des.stat_cache AS SELECT * FROM des.cache_stats();
COMMENT ON VIEW des.stat_cache IS 'archive index caches: this session''s readers and the shared index cache of S3 archives (des.cache_stats)';

CREATE OR REPLACE FUNCTION des.cache_reset(include_shared boolean DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'des_cache_reset'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION des.cache_reset(boolean) IS
  'close every archive this session keeps open and zero its counters; with include_shared (superuser), also empty the shared index cache';

CREATE OR REPLACE FUNCTION des.storage_list(location text, delimiter text DEFAULT NULL)
RETURNS TABLE (location text, size bigint, etag text, is_prefix boolean)
AS 'MODULE_PATHNAME', 'des_storage_list'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;
COMMENT ON FUNCTION des.storage_list(text, text) IS
  'objects (and, with a delimiter, common prefixes) under a local or s3:// prefix';

CREATE OR REPLACE FUNCTION des.storage_stat(location text, OUT size bigint, OUT etag text)
AS 'MODULE_PATHNAME', 'des_storage_stat'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION des.storage_stat(text) IS 'size (and on S3 the ETag) of one stored object';

CREATE OR REPLACE FUNCTION des.storage_delete(location text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'des_storage_delete'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION des.storage_delete(text) IS
  'remove one stored object (archive or external payload); needs write access';

CREATE OR REPLACE FUNCTION des.storage_uploads(location text)
RETURNS TABLE (location text, upload_id text, initiated timestamptz)
AS 'MODULE_PATHNAME', 'des_storage_uploads'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION des.storage_uploads(text) IS
  'incomplete multipart uploads under an s3:// prefix (ListMultipartUploads): parts stored but no object; none for local storage';

CREATE OR REPLACE FUNCTION des.storage_abort_upload(location text, upload_id text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'des_storage_abort_upload'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION des.storage_abort_upload(text, text) IS
  'abort an incomplete multipart upload (its parts are deleted); false if S3 knows no such upload; needs write access';
