-- Background workers (registered from shared_preload_libraries): counters and wake-ups.

CREATE FUNCTION des.marker_stats(OUT pid int, OUT batches bigint, OUT marked bigint,
                                 OUT errors bigint, OUT last_batch_at timestamptz)
AS 'MODULE_PATHNAME', 'des_marker_stats'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION des.marker_stats() IS 'the marker worker: pid (NULL when not running) and counters since server start';

CREATE VIEW des.stat_marker AS SELECT * FROM des.marker_stats();

CREATE FUNCTION des.wake_marker()
RETURNS boolean
AS 'MODULE_PATHNAME', 'des_wake_marker'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION des.wake_marker() IS 'wake the marker now; false when it is not running';
