/*
 * profiler.c - the profiler workers (des.profilers of them): claim a
 * discovered dataset, profile it, store the profile.
 *
 * Each dataset goes through three steps, none holding a transaction open
 * across the reading and profiling:
 *   1. claim (one transaction, committed): des_internal.profile_claim()
 *      takes the next due dataset with FOR UPDATE SKIP LOCKED, marks it
 *      'profiling' with this backend's pid and start time (the claim) and
 *      counts the attempt; a claim whose backend is gone (killed, crashed)
 *      is taken back, and a dataset whose attempts are used up that way is
 *      left dead;
 *   2. profile (no transaction; reads in short ones, see profile_source.c);
 *   3. store or fail (one transaction): des_internal.profile_store() keeps
 *      the profile and columns only if the claim is still this backend's
 *      (so a claim taken back is never stored twice), or
 *      des_internal.profile_failed() records the failure's kind and message
 *      and schedules a retry with backoff, or leaves it dead.
 * A kill -9 at any point leaves at worst a stale claim, which the next
 * claim takes back: every dataset is profiled, and stored, once.
 * Recording a dataset wakes the profilers at commit.
 */
#include "pg_des.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "discovery/discovery.h"
#include "workers/workers.h"

#define DES_MAX_PROFILERS 16

enum
{
	PROFILE_STORED,
	PROFILE_FAILED,
	PROFILE_LAST_AT
};

enum
{
	PHASE_CLAIMING = DES_WORKER_PHASE_FIRST,
	PHASE_PROFILING,
	PHASE_STORING
};

static DesWorkerKind profiler_kind = {
	.type = "pg_des profiler",
	.entry = "DesProfilerMain",
	.max_workers = DES_MAX_PROFILERS,
	.unavailable = "the profilers need pg_des in shared_preload_libraries",
};

void
DesProfilerRegisterWorkers(void)
{
	DesRegisterWorkerKind(&profiler_kind, des_profilers);
}

static const char *const claim_query =
"SELECT id, owner, materialize, options, next_due_ms "
"FROM des_internal.profile_claim(pid => $1, started => $2, max_attempts => $3)";

static const char *const store_query =
"SELECT des_internal.profile_store(dataset => $1, pid => $2, started => $3, profile => $4, minhashes => $5)";

static const char *const failed_query =
"SELECT des_internal.profile_failed(dataset => $1, pid => $2, started => $3, kind => $4, message => $5, "
"max_attempts => $6, retry_base => $7)";

typedef struct Claimed
{
	char	   *id;				/* NULL: nothing claimed */
	Oid			owner;
	Jsonb	   *materialize;
	Jsonb	   *options;
	long		next_due_ms;	/* when nothing was claimed: until the next retry is due (-1: none) */
	DesProfileResult res;
	int			sqlerrcode;
	char	   *message;
} Claimed;

static void
claim_unit(void *arg)
{
	Claimed    *c = arg;
	Oid			types[3] = {INT4OID, TIMESTAMPTZOID, INT4OID};
	Datum		args[3];
	bool		isnull;
	MemoryContext outer = CurrentMemoryContext;
	Datum		id;

	c->id = NULL;
	c->next_due_ms = -1;
	if (!DesWorkerBegin("pg_des: claiming a dataset to profile"))
		return;
	args[0] = Int32GetDatum(MyProcPid);
	args[1] = TimestampTzGetDatum(MyStartTimestamp);
	args[2] = Int32GetDatum(des_profile_max_attempts);
	if (!DesSpiOneRow(claim_query, 3, types, args, NULL))
		elog(ERROR, "des_internal.profile_claim did not return a row");
	id = DesSpiGet(0, "id", &isnull);
	if (!isnull)
	{
		MemoryContext spi_cxt = MemoryContextSwitchTo(outer);
		Datum		options;

		c->id = TextDatumGetCString(id);
		c->owner = DatumGetObjectId(DesSpiGet(0, "owner", &isnull));
		c->materialize = DatumGetJsonbPCopy(DesSpiGet(0, "materialize", &isnull));
		options = DesSpiGet(0, "options", &isnull);
		c->options = isnull ? NULL : DatumGetJsonbPCopy(options);
		MemoryContextSwitchTo(spi_cxt);
	}
	else
	{
		Datum		due = DesSpiGet(0, "next_due_ms", &isnull);

		if (!isnull)
			c->next_due_ms = (long) Min(DatumGetInt64(due), (int64) INT_MAX);
	}
	DesWorkerCommit();
}

static void
profile_step(void *arg)
{
	Claimed    *c = arg;

	DesDebugPause("profile-read", NULL);
	DesProfileMaterialized(c->materialize, c->owner, c->options, true, &c->res);
	DesDebugPause("profile-store", NULL);
}

static void
store_unit(void *arg)
{
	Claimed    *c = arg;
	Oid			types[5] = {TEXTOID, INT4OID, TIMESTAMPTZOID, JSONBOID, BYTEAARRAYOID};
	Datum		args[5];
	DesDatumVec minhashes = {0};

	if (!DesWorkerBegin("pg_des: storing a profile"))
		return;
	for (int i = 0; i < c->res.ncolumns; i++)
		DesVecPush(&minhashes, PointerGetDatum(c->res.minhash[i]));
	args[0] = CStringGetTextDatum(c->id);
	args[1] = Int32GetDatum(MyProcPid);
	args[2] = TimestampTzGetDatum(MyStartTimestamp);
	args[3] = JsonbPGetDatum(c->res.profile);
	args[4] = DesVecArray(&minhashes, BYTEAOID);
	if (SPI_execute_with_args(store_query, 5, types, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "des_internal.profile_store failed");
	DesWorkerCommit();
	DesWorkerCount(PROFILE_STORED, 1);
	DesWorkerSetCounter(PROFILE_LAST_AT, (uint64) GetCurrentTimestamp());
}

static void
failed_unit(void *arg)
{
	Claimed    *c = arg;
	Oid			types[7] = {TEXTOID, INT4OID, TIMESTAMPTZOID, TEXTOID, TEXTOID, INT4OID, INTERVALOID};
	Datum		args[7];

	if (!DesWorkerBegin("pg_des: recording a profiling failure"))
		return;
	args[0] = CStringGetTextDatum(c->id);
	args[1] = Int32GetDatum(MyProcPid);
	args[2] = TimestampTzGetDatum(MyStartTimestamp);
	args[3] = CStringGetTextDatum(DesProfileFailureKind(c->sqlerrcode));
	args[4] = CStringGetTextDatum(c->message ? c->message : "(no message)");
	args[5] = Int32GetDatum(des_profile_max_attempts);
	args[6] = DesMsInterval(des_profile_retry_base_ms);
	if (SPI_execute_with_args(failed_query, 7, types, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "des_internal.profile_failed failed");
	DesWorkerCommit();
	DesWorkerCount(PROFILE_FAILED, 1);
}

static long
profiler_iterate(MemoryContext loop_cxt)
{
	Claimed		c;

	memset(&c, 0, sizeof(c));
	DesWorkerSetPhase(PHASE_CLAIMING);
	if (!DesWorkerGuard(claim_unit, &c, NULL, 0) || c.id == NULL)
	{
		long		nap = des_profiler_naptime_ms;

		DesWorkerSetPhase(DES_WORKER_PHASE_IDLE);
		if (c.next_due_ms >= 0 && c.next_due_ms < nap)
			nap = Max(c.next_due_ms, 10);
		return nap;
	}
	DesWorkerSetPhase(PHASE_PROFILING);
	pgstat_report_activity(STATE_RUNNING, psprintf("pg_des: profiling dataset %s", c.id));
	if (DesWorkerGuardError(profile_step, &c, NULL, DES_WORKER_EXPECTED_ERROR, &c.sqlerrcode, &c.message))
	{
		DesWorkerSetPhase(PHASE_STORING);
		(void) DesWorkerGuard(store_unit, &c, NULL, 0);
	}
	else
		(void) DesWorkerGuard(failed_unit, &c, NULL, 0);
	pgstat_report_activity(STATE_IDLE, NULL);
	return 0;
}

static const DesWorkerLoop profiler_loop = {
	.iterate = profiler_iterate,
};

PGDLLEXPORT void DesProfilerMain(Datum arg);

void
DesProfilerMain(Datum arg)
{
	DesWorkerRun(&profiler_kind, arg, &profiler_loop);
}

static void
profiler_stats_row(DesWorkerSlot *s, Datum *values, bool *nulls)
{
	uint64		last = DesWorkerSlotCounter(s, PROFILE_LAST_AT);

	values[2] = Int64GetDatum((int64) DesWorkerSlotCounter(s, PROFILE_STORED));
	values[3] = Int64GetDatum((int64) DesWorkerSlotCounter(s, PROFILE_FAILED));
	values[4] = Int64GetDatum((int64) pg_atomic_read_u64(&s->errors));
	values[5] = TimestampTzGetDatum((TimestampTz) last);
	nulls[5] = last == 0;
}

PG_FUNCTION_INFO_V1(des_profiler_stats);

/* des.profiler_stats(): one row per configured profiler, counters since server start. */
Datum
des_profiler_stats(PG_FUNCTION_ARGS)
{
	DesWorkerStatsSRF(fcinfo, &profiler_kind, profiler_stats_row);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(des_wake_profilers);

/* des.wake_profilers(): wake every running profiler now; how many. */
Datum
des_wake_profilers(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(DesWorkerWake(&profiler_kind));
}

/* ---- wake-ups at commit ---- */

PG_FUNCTION_INFO_V1(des_wake_profilers_at_commit);

/* des_internal.wake_profilers_at_commit(): wake the profilers when (and if) this transaction commits. */
Datum
des_wake_profilers_at_commit(PG_FUNCTION_ARGS)
{
	DesWorkerWakeAtCommit(&profiler_kind);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(des_backend_start);

/* des_internal.backend_start(): this backend's start, the second half of a claim (with its pid). */
Datum
des_backend_start(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(MyStartTimestamp);
}
