/*
 * slots.c - kinds of worker and their slots in shared memory: registration,
 * sizing and initialisation (from the module's shmem hooks), counters, the
 * stats SRF helper and wake-ups.
 */
#include "pg_des.h"

#include "access/xact.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "workers/workers.h"

/* the kinds registered from _PG_init (in the postmaster; inherited by fork) */
static DesWorkerKind *kinds[DES_WORKER_MAX_KINDS];
static int	n_kinds = 0;

DesWorkerSlot *DesWorkerMySlot = NULL;

/*
 * Register count static workers running function, named "<type> 1" ..
 * "<type> N" (backend_type <type>); each gets its number as its argument.
 * They restart des.worker_restart_time after an error exit.
 */
static void
register_static_workers(const char *function, const char *type, int count)
{
	for (int i = 1; i <= count; i++)
	{
		BackgroundWorker w;

		memset(&w, 0, sizeof(w));
		w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		w.bgw_start_time = BgWorkerStart_RecoveryFinished;
		w.bgw_restart_time = des_worker_restart_s;
		snprintf(w.bgw_library_name, BGW_MAXLEN, "pg_des");
		snprintf(w.bgw_function_name, BGW_MAXLEN, "%s", function);
		snprintf(w.bgw_name, BGW_MAXLEN, "%s %d", type, i);
		snprintf(w.bgw_type, BGW_MAXLEN, "%s", type);
		w.bgw_main_arg = Int32GetDatum(i);
		RegisterBackgroundWorker(&w);
	}
}

/*
 * Register a kind from _PG_init while pg_des is being preloaded: its slots
 * are requested from the shmem hooks, and its count workers are started
 * unless des.workers is off or this is pg_upgrade (the slots exist anyway,
 * so its stats function shows the workers as not running).
 */
void
DesRegisterWorkerKind(DesWorkerKind *kind, int count)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	if (n_kinds >= DES_WORKER_MAX_KINDS)
		elog(ERROR, "too many kinds of pg_des worker (at most %d)", DES_WORKER_MAX_KINDS);
	kind->count = Min(Max(count, 0), kind->max_workers);
	kinds[n_kinds++] = kind;
	if (!IsBinaryUpgrade && des_workers_enabled)
		register_static_workers(kind->entry, kind->type, kind->count);
}

/* Shared memory of every registered kind's slots (from shmem_request_hook). */
Size
DesWorkersShmemSize(void)
{
	Size		size = 0;

	for (int k = 0; k < n_kinds; k++)
		size = add_size(size, CACHELINEALIGN(mul_size(sizeof(DesWorkerSlot), kinds[k]->max_workers)));	/* as ShmemInitStruct rounds */
	return size;
}

/* Attach (and on first use initialise) each kind's slots; the caller holds AddinShmemInitLock. */
void
DesWorkersShmemStartup(void)
{
	for (int k = 0; k < n_kinds; k++)
	{
		DesWorkerKind *kind = kinds[k];
		char		name[SHMEM_INDEX_KEYSIZE];
		bool		found;

		snprintf(name, sizeof(name), "%s slots", kind->type);
		kind->slots = ShmemInitStruct(name, sizeof(DesWorkerSlot) * kind->max_workers, &found);
		if (found)
			continue;
		for (int i = 0; i < kind->max_workers; i++)
		{
			DesWorkerSlot *s = &kind->slots[i];

			pg_atomic_init_u32(&s->pid, 0);
			pg_atomic_init_u32(&s->phase, DES_WORKER_PHASE_STOPPED);
			s->procno = -1;
			pg_atomic_init_u64(&s->iterations, 0);
			pg_atomic_init_u64(&s->units_done, 0);
			pg_atomic_init_u64(&s->errors, 0);
			pg_atomic_init_u64(&s->last_activity_at, 0);
			for (int c = 0; c < DES_WORKER_MAX_COUNTERS; c++)
				pg_atomic_init_u64(&s->counters[c], 0);
			SpinLockInit(&s->mutex);
			s->last_error[0] = '\0';
		}
	}
}

void
DesWorkerSetPhase(uint32 phase)
{
	if (DesWorkerMySlot)
		pg_atomic_write_u32(&DesWorkerMySlot->phase, phase);
}

/* Add n to one of this worker's own counters. */
void
DesWorkerCount(int counter, uint64 n)
{
	Assert(counter >= 0 && counter < DES_WORKER_MAX_COUNTERS);
	if (DesWorkerMySlot)
		pg_atomic_fetch_add_u64(&DesWorkerMySlot->counters[counter], n);
}

/* Set one of this worker's own counters (a timestamp, say). */
void
DesWorkerSetCounter(int counter, uint64 value)
{
	Assert(counter >= 0 && counter < DES_WORKER_MAX_COUNTERS);
	if (DesWorkerMySlot)
		pg_atomic_write_u64(&DesWorkerMySlot->counters[counter], value);
}

uint64
DesWorkerSlotCounter(DesWorkerSlot *slot, int counter)
{
	Assert(counter >= 0 && counter < DES_WORKER_MAX_COUNTERS);
	return pg_atomic_read_u64(&slot->counters[counter]);
}

/* Set the latch of every running worker of a kind; returns how many. */
int
DesWorkerWake(const DesWorkerKind *kind)
{
	int			n = 0;

	for (int i = 0; kind->slots && i < kind->count; i++)
	{
		int			procno = kind->slots[i].procno;

		if (procno >= 0 && pg_atomic_read_u32(&kind->slots[i].pid) != 0)
		{
			SetLatch(&ProcGlobal->allProcs[procno].procLatch);
			n++;
		}
	}
	return n;
}

/* ---- wake-ups at commit ---- */

/* the kinds to wake when this backend's transaction commits (a handful of kinds exist) */
#define WAKE_KINDS_MAX 8
static const DesWorkerKind *wake_kinds[WAKE_KINDS_MAX];
static int	n_wake_kinds = 0;
static bool wake_callback_registered = false;

static void
wake_xact_callback(XactEvent event, void *arg)
{
	if (n_wake_kinds == 0)
		return;
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
	{
		/* SetLatch only: no allocation, no error can happen here */
		for (int i = 0; i < n_wake_kinds; i++)
			(void) DesWorkerWake(wake_kinds[i]);
		n_wake_kinds = 0;
	}
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE)
		n_wake_kinds = 0;
}

/*
 * Wake the running workers of a kind when (and if) this transaction
 * commits: not before, since what they are to take is not visible until
 * then, and a rolled-back transaction wakes nobody.
 */
void
DesWorkerWakeAtCommit(const DesWorkerKind *kind)
{
	if (!wake_callback_registered)
	{
		RegisterXactCallback(wake_xact_callback, NULL);
		wake_callback_registered = true;
	}
	for (int i = 0; i < n_wake_kinds; i++)
		if (wake_kinds[i] == kind)
			return;
	if (n_wake_kinds == WAKE_KINDS_MAX)
		elog(ERROR, "more than %d kinds of worker to wake at commit", WAKE_KINDS_MAX);
	wake_kinds[n_wake_kinds++] = kind;
}

/* One row per configured worker of a kind: number, pid, then the kind's columns. */
void
DesWorkerStatsSRF(FunctionCallInfo fcinfo, const DesWorkerKind *kind, DesWorkerStatsRowFn row)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			natts;
	Datum	   *values;
	bool	   *nulls;

	if (kind->slots == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s", kind->unavailable)));
	InitMaterializedSRF(fcinfo, 0);
	natts = rsinfo->setDesc->natts;
	values = palloc(sizeof(Datum) * natts);
	nulls = palloc(sizeof(bool) * natts);
	for (int i = 0; i < kind->count; i++)
	{
		DesWorkerSlot *s = &kind->slots[i];
		uint32		pid = pg_atomic_read_u32(&s->pid);

		memset(values, 0, sizeof(Datum) * natts);
		memset(nulls, 0, sizeof(bool) * natts);
		values[0] = Int32GetDatum(i + 1);
		values[1] = Int32GetDatum((int32) pid);
		nulls[1] = pid == 0;
		row(s, values, nulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

/* The name of a slot's phase: the kind's own, or the ones every kind has. */
static const char *
phase_name(const DesWorkerKind *kind, uint32 phase)
{
	if (kind->phase_names && phase < (uint32) kind->n_phases)
		return kind->phase_names[phase];
	if (phase == DES_WORKER_PHASE_STOPPED)
		return "stopped";
	if (phase == DES_WORKER_PHASE_IDLE)
		return "idle";
	return "working";
}

PG_FUNCTION_INFO_V1(des_worker_stats);

/*
 * des.worker_stats(): one row per configured worker of every kind, with what
 * the framework keeps for all of them (the kinds' own counters are in their
 * stats functions). No rows when pg_des is not preloaded.
 */
Datum
des_worker_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int k = 0; k < n_kinds; k++)
	{
		const DesWorkerKind *kind = kinds[k];

		for (int i = 0; kind->slots && i < kind->count; i++)
		{
			DesWorkerSlot *s = &kind->slots[i];
			uint32		pid = pg_atomic_read_u32(&s->pid);
			uint64		last = pg_atomic_read_u64(&s->last_activity_at);
			char		error[DES_WORKER_ERROR_LEN];
			Datum		values[9];
			bool		nulls[9] = {0};

			SpinLockAcquire(&s->mutex);
			strlcpy(error, s->last_error, sizeof(error));
			SpinLockRelease(&s->mutex);
			values[0] = CStringGetTextDatum(kind->type);
			values[1] = Int32GetDatum(i + 1);
			values[2] = Int32GetDatum((int32) pid);
			nulls[2] = pid == 0;
			values[3] = CStringGetTextDatum(pid == 0 ? "stopped" : phase_name(kind, pg_atomic_read_u32(&s->phase)));
			values[4] = Int64GetDatum((int64) pg_atomic_read_u64(&s->iterations));
			values[5] = Int64GetDatum((int64) pg_atomic_read_u64(&s->units_done));
			values[6] = Int64GetDatum((int64) pg_atomic_read_u64(&s->errors));
			values[7] = CStringGetTextDatum(error);
			nulls[7] = error[0] == '\0';
			values[8] = TimestampTzGetDatum((TimestampTz) last);
			nulls[8] = last == 0;
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	PG_RETURN_VOID();
}
