/*
 * shmem.c - pg_des shared memory: request accounting (and later caches).
 *
 * Available when pg_des is in shared_preload_libraries; otherwise counters
 * are kept per backend and des.s3_stats() says so.
 */
#include "pg_des.h"
#include "module/module.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"

#include "datasets/datasets.h"
#include "s3/s3.h"
#include "workers/workers.h"

typedef struct DesS3Counters
{
	pg_atomic_uint64 requests[DES_S3_NKINDS];
	pg_atomic_uint64 errors[DES_S3_NKINDS];
	pg_atomic_uint64 retries[DES_S3_NKINDS];
	pg_atomic_uint64 bytes_in[DES_S3_NKINDS];
	pg_atomic_uint64 bytes_out[DES_S3_NKINDS];
} DesS3Counters;

typedef struct DesSharedState
{
	DesS3Counters s3;
} DesSharedState;

static DesSharedState *shared = NULL;
static DesSharedState local_state;	/* when not preloaded */
static bool local_initialized = false;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
init_counters(DesSharedState *st)
{
	for (int k = 0; k < DES_S3_NKINDS; k++)
	{
		pg_atomic_init_u64(&st->s3.requests[k], 0);
		pg_atomic_init_u64(&st->s3.errors[k], 0);
		pg_atomic_init_u64(&st->s3.retries[k], 0);
		pg_atomic_init_u64(&st->s3.bytes_in[k], 0);
		pg_atomic_init_u64(&st->s3.bytes_out[k], 0);
	}
}

static void
des_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(CACHELINEALIGN(sizeof(DesSharedState)));	/* ShmemInitStruct rounds to cache lines */
	RequestAddinShmemSpace(DesIdGeneratorShmemSize());
	RequestAddinShmemSpace(DesWorkersShmemSize());
	RequestAddinShmemSpace(DesUploadProgressShmemSize());
	DesIdGeneratorRequest();
	DesIndexCacheRequest();
}

static void
des_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("pg_des", sizeof(DesSharedState), &found);
	if (!found)
		init_counters(shared);
	DesIdGeneratorStartup();
	DesWorkersShmemStartup();
	DesUploadProgressShmemStartup();
	DesIndexCacheStartup();
	LWLockRelease(AddinShmemInitLock);
}

void
DesShmemInit(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = des_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = des_shmem_startup;
}

static DesSharedState *
state(void)
{
	if (shared)
		return shared;
	if (!local_initialized)
	{
		init_counters(&local_state);
		local_initialized = true;
	}
	return &local_state;
}

void
DesS3StatsRecord(DesS3Kind kind, uint64 bytes_in, uint64 bytes_out, bool retry, bool error)
{
	DesSharedState *st = state();

	/* this backend's own count, for EXPLAIN ANALYZE of a scan */
	des_backend_io.requests++;
	if (!retry)
		des_backend_io.bytes_in += bytes_in;

	if (retry)
	{
		pg_atomic_fetch_add_u64(&st->s3.retries[kind], 1);
		return;
	}
	pg_atomic_fetch_add_u64(&st->s3.requests[kind], 1);
	if (error)
		pg_atomic_fetch_add_u64(&st->s3.errors[kind], 1);
	pg_atomic_fetch_add_u64(&st->s3.bytes_in[kind], bytes_in);
	pg_atomic_fetch_add_u64(&st->s3.bytes_out[kind], bytes_out);
}

DesIoCounters des_backend_io;

PG_FUNCTION_INFO_V1(des_s3_stats);
PG_FUNCTION_INFO_V1(des_s3_stats_reset);

Datum
des_s3_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DesSharedState *st = state();

	InitMaterializedSRF(fcinfo, 0);
	for (int k = 0; k < DES_S3_NKINDS; k++)
	{
		Datum		values[7];
		bool		nulls[7] = {0};

		values[0] = CStringGetTextDatum(DesS3KindNames[k]);
		values[1] = Int64GetDatum((int64) pg_atomic_read_u64(&st->s3.requests[k]));
		values[2] = Int64GetDatum((int64) pg_atomic_read_u64(&st->s3.errors[k]));
		values[3] = Int64GetDatum((int64) pg_atomic_read_u64(&st->s3.retries[k]));
		values[4] = Int64GetDatum((int64) pg_atomic_read_u64(&st->s3.bytes_in[k]));
		values[5] = Int64GetDatum((int64) pg_atomic_read_u64(&st->s3.bytes_out[k]));
		values[6] = BoolGetDatum(shared != NULL);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

Datum
des_s3_stats_reset(PG_FUNCTION_ARGS)
{
	DesSharedState *st = state();

	for (int k = 0; k < DES_S3_NKINDS; k++)
	{
		pg_atomic_write_u64(&st->s3.requests[k], 0);
		pg_atomic_write_u64(&st->s3.errors[k], 0);
		pg_atomic_write_u64(&st->s3.retries[k], 0);
		pg_atomic_write_u64(&st->s3.bytes_in[k], 0);
		pg_atomic_write_u64(&st->s3.bytes_out[k], 0);
	}
	PG_RETURN_VOID();
}
