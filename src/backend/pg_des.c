/*
 * pg_des.c - module entry point and settings.
 */
#include "pg_des.h"

#include <limits.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "s3_client.h"
#include "s3_storage.h"
#include "worker_common.h"

PG_MODULE_MAGIC;

int			des_read_coalesce_gap_kb = 4;
int			des_s3_read_coalesce_gap_kb = 256;
int			des_read_max_span_kb = 8192;
int			des_reader_cache_entries = 8;
bool		des_workers_enabled = true;

void		_PG_init(void);

/* des.storage: empty, an absolute directory, a file:// URL or an s3:// URL */
static bool
check_storage(char **newval, void **extra, GucSource source)
{
	const char *v = *newval;

	if (v == NULL || v[0] == '\0' || v[0] == '/' ||
		pg_strncasecmp(v, "file:///", 8) == 0 || pg_strncasecmp(v, "s3://", 5) == 0)
		return true;
	GUC_check_errdetail("des.storage must be an absolute directory, a file:/// URL or an s3://bucket/prefix URL.");
	return false;
}

void
_PG_init(void)
{
	DefineCustomIntVariable("des.read_coalesce_gap",
							"Largest hole between two requested entries that a batch read of a local archive covers with one read.",
							"Copying a page of unneeded bytes costs about what another system call does.",
							&des_read_coalesce_gap_kb, 4, 0, 1024 * 1024,
							PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("des.s3_read_coalesce_gap",
							"Largest hole between two requested entries that a batch read of an S3 archive covers with one request.",
							"Transferring a few hundred kilobytes costs less than another request's latency.",
							&des_s3_read_coalesce_gap_kb, 256, 0, 1024 * 1024,
							PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("des.read_max_span",
							"Largest single read a batch read issues.",
							NULL,
							&des_read_max_span_kb, 8192, 64, 1024 * 1024,
							PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("des.reader_cache_entries",
							"Number of archives whose index each backend keeps open.",
							"0 closes every archive at the end of the call that opened it.",
							&des_reader_cache_entries, 8, 0, 64,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("des.default_server",
							   "Foreign server (des_fdw) whose endpoint and user mapping serve s3:// locations.",
							   NULL,
							   &des_default_server, "", PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("des.s3_connect_timeout",
							"Time allowed to connect to the S3 endpoint.",
							NULL,
							&des_s3_connect_timeout_ms, 10000, 100, 600000,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("des.s3_low_speed_time",
							"A transfer that moves no byte for this long is abandoned (and retried).",
							NULL,
							&des_s3_low_speed_time_s, 30, 1, 3600,
							PGC_USERSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("des.s3_max_retries",
							"Retries of an S3 request after HTTP 500, 502, 503, 504, 408 or 429, a timeout or a connection failure.",
							NULL,
							&des_s3_max_retries, 4, 0, 20,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("des.s3_retry_base_delay",
							"Base delay between retries: the n-th retry waits between base*2^(n-1) and base*2^n, at most 10 s.",
							NULL,
							&des_s3_retry_base_ms, 100, 1, 10000,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("des.s3_max_connections",
							"Concurrent requests of one operation (parallel range reads).",
							NULL,
							&des_s3_max_connections, 8, 1, 64,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("des.s3_sign_payload",
							 "Sign the SHA-256 of uploaded bytes (else UNSIGNED-PAYLOAD).",
							 NULL,
							 &des_s3_sign_payload, true, PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("des.s3_tail_read",
							"Bytes read from the end of an S3 archive when opening it (covers footer and, usually, the index).",
							NULL,
							&des_s3_tail_read_kb, 1024, 1, 1024 * 1024,
							PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("des.s3_part_size",
							"Part size of multipart uploads (S3 requires at least 5 MB).",
							NULL,
							&des_s3_part_size_mb, 8, 5, 5120,
							PGC_USERSET, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineCustomIntVariable("des.s3_upload_parallel",
							"Parts of one multipart upload sent at the same time.",
							NULL,
							&des_s3_upload_parallel, 4, 1, 64,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("des.s3_list_page_size",
							"Keys asked for per ListObjectsV2 request (S3 returns at most 1000).",
							NULL,
							&des_s3_list_page_size, 1000, 1, 1000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("des.index_cache_size",
							"Shared memory for the indexes of S3 archives, shared by all sessions (0 disables).",
							"Needs pg_des in shared_preload_libraries; takes effect at server start.",
							&des_index_cache_size_kb, 65536, 0, 64 * 1024 * 1024,
							PGC_POSTMASTER, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("des.node_id",
							"Node id embedded in generated ids (distinct per server that shares a namespace).",
							NULL,
							&des_node_id, 0, 0, 1023,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("des.shard_bits",
							"Shards are numbered 0 .. 2^des.shard_bits - 1.",
							NULL,
							&des_shard_bits, 4, 0, 16,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("des.workers",
							 "Start pg_des's background workers (when preloaded).",
							 "Off leaves only the SQL functions: nothing is marked or packed in the background.",
							 &des_workers_enabled, true, PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("des.database",
							   "Database the background workers connect to (pg_des must be created there).",
							   NULL,
							   &des_database, "postgres", PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("des.marker_naptime",
							"Pause of the marker between batches when there is no backlog.",
							NULL,
							&des_marker_naptime_ms, 1000, 10, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("des.marker_batch_size",
							"Objects the marker claims and marks per transaction.",
							NULL,
							&des_marker_batch_size, 1000, 1, 1000000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("des.marker_min_age",
							"The marker leaves objects younger than this alone.",
							NULL,
							&des_marker_min_age_ms, 0, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("des.worker_restart_time",
							"Seconds before the postmaster restarts a background worker that exited with an error.",
							NULL,
							&des_worker_restart_s, 10, 1, 3600,
							PGC_POSTMASTER, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("des.markers",
							"Number of marker background workers.",
							NULL,
							&des_markers, 1, 0, 16,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("des.marker_rate_limit",
							"Most objects the markers mark per second, together (token bucket; 0 = no limit).",
							NULL,
							&des_marker_rate_limit, 0, 0, INT_MAX,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("des.source_claim_batch",
							"Objects registered by URL the marker claims and fetches per round.",
							NULL,
							&des_source_claim_batch, 16, 1, 10000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("des.packers",
							"Number of packer background workers.",
							NULL,
							&des_packers, 1, 0, 16,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("des.storage",
							   "Where the packers write containers: a local directory or s3://bucket/prefix.",
							   "Empty means the directory pg_des_storage in the data directory.",
							   &des_storage, "", PGC_SIGHUP, 0, check_storage, NULL, NULL);
	DefineCustomIntVariable("des.packer_naptime",
							"Pause of a packer when no (day, shard) has work.",
							NULL,
							&des_packer_naptime_ms, 1000, 10, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("des.container_max_bytes",
							"A container is finished when its payloads reach this size.",
							NULL,
							&des_container_max_bytes_kb, 256 * 1024, 1, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("des.container_max_entries",
							"A container is finished when it holds this many entries.",
							NULL,
							&des_container_max_entries, 100000, 1, 100000000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("des.container_max_age",
							"Marked objects wait at most this long for a container to fill before it is written.",
							"A past day's objects are packed at once.",
							&des_container_max_age_ms, 60 * 1000, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("des.lease_timeout",
							"How long a packer's lease on a (day, shard) lasts before another packer may take it.",
							NULL,
							&des_lease_timeout_s, 600, 1, 86400,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("des.max_attempts",
							"Failed attempts after which an object goes to the dead-letter table.",
							NULL,
							&des_max_attempts, 5, 1, 1000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("des.retry_base_delay",
							"Delay before the first retry of a failed object; it doubles with each attempt (at most an hour).",
							NULL,
							&des_retry_base_delay_ms, 10 * 1000, 0, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("des.shutdown_timeout",
							"On SIGTERM, a worker finishes its current step if it can within this time, else abandons it.",
							NULL,
							&des_shutdown_timeout_ms, 10 * 1000, 0, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomBoolVariable("des.packer_lz4",
							 "Packers LZ4-compress entries that shrink (flag 0x02; only pg_des reads such entries).",
							 NULL,
							 &des_packer_lz4, false, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("des.debug_pause_at",
							   "Crash tests only: workers stop at this named point until killed.",
							   "Points: after_lease, mid_write, after_write, mid_upload, after_upload (packer); mid_fetch (marker).",
							   &des_debug_pause_at, "", PGC_SIGHUP,
							   GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL, NULL, NULL, NULL);
	MarkGUCPrefixReserved("des");

	if (process_shared_preload_libraries_in_progress)
	{
		DesShmemInit();
		if (!IsBinaryUpgrade && des_workers_enabled)
		{
			DesRegisterWorkers();
			DesRegisterPackers();
		}
	}
}
