-- Background workers (registered from shared_preload_libraries): counters and wake-ups.

-- What the worker framework keeps for every worker of every kind; each
-- kind's own counters are in its stats function below.
CREATE OR REPLACE FUNCTION des.worker_stats(OUT kind text, OUT worker int, OUT pid int, OUT phase text,
                                            OUT iterations bigint, OUT units_done bigint, OUT errors bigint,
                                            OUT last_error text, OUT last_activity_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'des_worker_stats'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION des.worker_stats() IS
  'one row per configured worker of every kind (backend_type, number, pid, phase, loop iterations, units of work committed, errors, the last error, the last commit); no rows when pg_des is not preloaded';

CREATE OR REPLACE VIEW des.stat_workers AS SELECT * FROM des.worker_stats();
COMMENT ON VIEW des.stat_workers IS 'every background worker of pg_des: what it is doing, its units of work and its last error';

CREATE OR REPLACE FUNCTION des.marker_stats(OUT marker int, OUT pid int, OUT batches bigint, OUT marked bigint,
                                 OUT errors bigint, OUT last_batch_at timestamptz,
                                 OUT fetched bigint, OUT fetch_failures bigint,
                                 OUT source_rows bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'des_marker_stats'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION des.marker_stats() IS
  'one row per marker (des.markers): pid (NULL when not running) and counters since server start';

CREATE OR REPLACE VIEW des.stat_marker AS SELECT * FROM des.marker_stats();

CREATE OR REPLACE FUNCTION des.wake_markers()
RETURNS int
AS 'MODULE_PATHNAME', 'des_wake_markers'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION des.wake_markers() IS 'wake every running marker now; returns how many';
REVOKE ALL ON FUNCTION des.wake_markers() FROM PUBLIC;	-- grant it to the roles that load data

CREATE OR REPLACE FUNCTION des.packer_stats(OUT packer int, OUT pid int, OUT phase text,
                                 OUT containers bigint, OUT adopted bigint, OUT objects bigint,
                                 OUT deduplicated bigint, OUT bytes bigint, OUT dead bigint,
                                 OUT errors bigint, OUT last_commit_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'des_packer_stats'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION des.packer_stats() IS
  'one row per packer (des.packers): pid (NULL when not running), what it is doing, counters since server start';

CREATE OR REPLACE FUNCTION des.wake_packers()
RETURNS int
AS 'MODULE_PATHNAME', 'des_wake_packers'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION des.wake_packers() IS 'wake every running packer now; returns how many';
REVOKE ALL ON FUNCTION des.wake_packers() FROM PUBLIC;	-- grant it to the roles that load data

CREATE OR REPLACE FUNCTION des_internal.storage_root()
RETURNS text
AS 'MODULE_PATHNAME', 'des_storage_root'
LANGUAGE C STRICT STABLE;
COMMENT ON FUNCTION des_internal.storage_root() IS 'where packers write containers: des.storage, or pg_des_storage in the data directory';
REVOKE ALL ON FUNCTION des_internal.storage_root() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION des_internal.storage_root() TO pg_read_all_settings;	-- it shows the data directory, as the data_directory setting does: granted with that setting to pg_read_all_settings (so pg_monitor), for des.health and des.stat_storage

CREATE OR REPLACE VIEW des.stat_packer AS SELECT * FROM des.packer_stats();
