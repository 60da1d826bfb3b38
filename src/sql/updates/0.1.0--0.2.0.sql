-- pg_des 0.1.0 -> 0.2.0. The Makefile appends every file of src/sql/api/ to
-- this one, so functions, views, triggers and grants end as a fresh install
-- makes them; this part changes only what api/ cannot replay.
\echo Use "ALTER EXTENSION pg_des UPDATE" to load this file. \quit

-- What only pg_des itself calls moves to schema des_internal (the workers'
-- units of work, trigger functions, aggregate support functions, helpers of
-- the public functions); api/ then states each one's EXECUTE grant.
CREATE SCHEMA des_internal;
GRANT USAGE ON SCHEMA des_internal TO PUBLIC;
ALTER FUNCTION des.archive_write_finalfn(internal) SET SCHEMA des_internal;
ALTER FUNCTION des.archive_write_transfn(internal,text,text,bytea,jsonb) SET SCHEMA des_internal;
ALTER FUNCTION des.archive_write_transfn(internal,text,text,bytea,jsonb,jsonb) SET SCHEMA des_internal;
ALTER FUNCTION des.blobs_check_containers() SET SCHEMA des_internal;
ALTER FUNCTION des.check_object(text,jsonb,bigint,text) SET SCHEMA des_internal;
ALTER FUNCTION des.check_read_access(text) SET SCHEMA des_internal;
ALTER FUNCTION des.claim_source_rows(regclass,name,name,name,name,name,name,text,text,interval,integer) SET SCHEMA des_internal;
ALTER FUNCTION des.commit_container(bigint,bigint,bigint,text,bigint[],bytea[],bigint[],bigint[],integer[],bigint[],bigint[],text[],integer,interval) SET SCHEMA des_internal;
ALTER FUNCTION des.container_attempt(bigint,bigint,text) SET SCHEMA des_internal;
ALTER FUNCTION des.container_location(text,date,integer,integer,bigint) SET SCHEMA des_internal;
ALTER FUNCTION des.container_uploading(bigint,bigint,bigint,integer) SET SCHEMA des_internal;
ALTER FUNCTION des.containers_keep_committed() SET SCHEMA des_internal;
ALTER FUNCTION des.enqueue(bigint[],timestamp with time zone[]) SET SCHEMA des_internal;
ALTER FUNCTION des.fail_objects(bigint[],text[],integer,interval,boolean) SET SCHEMA des_internal;
ALTER FUNCTION des.hold_lease(date,integer,bigint) SET SCHEMA des_internal;
ALTER FUNCTION des.insert_object(text,jsonb,bytea,text) SET SCHEMA des_internal;
ALTER FUNCTION des.lease_shard(text,interval,text,integer,bigint,interval) SET SCHEMA des_internal;
ALTER FUNCTION des.location_check(text) SET SCHEMA des_internal;
ALTER FUNCTION des.mark_batch(integer,interval) SET SCHEMA des_internal;
ALTER FUNCTION des.object_needs_check(text,jsonb) SET SCHEMA des_internal;
ALTER FUNCTION des.objects_enqueue() SET SCHEMA des_internal;
ALTER FUNCTION des.objects_leave_queues() SET SCHEMA des_internal;
ALTER FUNCTION des.read_blob(text,bigint,bigint,integer,bytea) SET SCHEMA des_internal;
ALTER FUNCTION des.release_lease(date,integer,bigint) SET SCHEMA des_internal;
ALTER FUNCTION des.source_column_type(regclass,name) SET SCHEMA des_internal;
ALTER FUNCTION des.sources_check_registrar() SET SCHEMA des_internal;
ALTER FUNCTION des.storage_root() SET SCHEMA des_internal;

-- des.wake_marker() is des.wake_markers() now, of the same shape as des.wake_packers().
DROP FUNCTION des.wake_marker();

-- "source" now means a registered table only; objects registered by URL are
-- fetched: des.claim_sources -> des_internal.claim_fetches, des.stage_source
-- -> des_internal.stage_fetched, des.claim_sources_rows ->
-- des_internal.claim_source_tables (api/ creates them).
DROP FUNCTION des.claim_sources(integer, interval);
DROP FUNCTION des.stage_source(bigint, bytea);
DROP FUNCTION des.claim_sources_rows(integer);
-- and so the marker's counters: sources_fetched -> fetched, source_failures
-- -> fetch_failures, source_table_rows -> source_rows (new result columns:
-- CREATE OR REPLACE cannot change them)
DROP VIEW des.stat_marker;
DROP FUNCTION des.marker_stats();

-- Tenancy of versioned datasets: contexts, repos, grants, the write log.
--@include catalog/65_tenancy.sql

-- Containers written by the dataset functions (no day/shard lease); the
-- column comes last here as in catalog/50_pipeline.sql.
ALTER TABLE des.containers ALTER COLUMN shard DROP NOT NULL;
-- (added empty, then filled: a column added with its default would keep that
-- default as the column's "missing value", which a fresh install has not)
ALTER TABLE des.containers ADD COLUMN origin text;
UPDATE des.containers SET origin = 'packer';
ALTER TABLE des.containers
    ALTER COLUMN origin SET DEFAULT 'packer',
    ALTER COLUMN origin SET NOT NULL,
    ADD CONSTRAINT containers_origin_valid CHECK (origin IN ('packer', 'incoming', 'datasets', 'compaction')),
    ADD CONSTRAINT containers_packer_shard CHECK (origin <> 'packer' OR shard IS NOT NULL);
-- the stored bytes of a container's entries (unknown for those committed before)
ALTER TABLE des.containers ADD COLUMN data_bytes bigint CHECK (data_bytes >= 0);

-- The bulk path: des.incoming and the packer's progress through it.
--@include catalog/52_incoming.sql

-- Versions of datasets: bundles, trees, branches, labels, staging, read log.
--@include catalog/68_versioning.sql

-- Lineage: the bundles of each branch in order (gros:// resolution).
--@include catalog/69_lineage.sql

-- Discovery: discoverers, the datasets found and their profiles.
--@include catalog/72_discovery.sql

-- Reclaiming space: the deletion log, GC's runs and pending storage deletes.
--@include catalog/80_gc.sql

-- Foreign tables as sources: compare-and-set claims settled by the next
-- round, and backoff for every source.
-- (failures without a default first: a default on ADD COLUMN is kept as the
-- column's "missing value", which a fresh install does not have)
ALTER TABLE des.sources
    ADD COLUMN failures int,
    ADD COLUMN retry_at timestamptz,
    ADD COLUMN key_column name,
    ADD COLUMN claiming_value text,
    ADD COLUMN use_returning boolean,
    ADD CONSTRAINT sources_foreign CHECK ((key_column IS NULL) = (claiming_value IS NULL)
                                         AND (key_column IS NULL) = (use_returning IS NULL)
                                         AND claiming_value NOT IN (pending_value, claimed_value));
ALTER TABLE des.sources ADD COLUMN claimers int;
UPDATE des.sources SET failures = 0, claimers = 1;
ALTER TABLE des.sources ALTER COLUMN failures SET DEFAULT 0, ALTER COLUMN failures SET NOT NULL,
    ALTER COLUMN claimers SET DEFAULT 1, ALTER COLUMN claimers SET NOT NULL,
    ADD CONSTRAINT sources_claimers CHECK (claimers BETWEEN 1 AND 16);
--@include catalog/76_source_claims.sql
-- des.register_source takes key_column, claiming_value and use_returning (api/ creates it)
DROP FUNCTION des.register_source(regclass, name, name, name, name, text, text, name, interval, name);
