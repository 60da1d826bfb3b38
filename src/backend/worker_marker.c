/*
 * worker_marker.c - the marker: a static background worker that marks pending
 * objects with des.mark_batch, one transaction per batch.
 *
 * Registered from shared_preload_libraries; connects to des.database. Each
 * iteration checks that the extension exists there and that the server is
 * not in recovery, runs one batch in its own transaction (an error is
 * reported, counted, and the loop goes on), then sleeps des.marker_naptime on
 * its latch unless the batch was full (a backlog: go on at once). SIGTERM
 * ends it at the next interrupt check; SIGHUP reloads settings; postmaster
 * death ends it. Marking happens inside one transaction and does no I/O
 * outside the database, so a crash at any instant leaves every object either
 * marked or still pending: nothing is lost or done twice.
 */
#include "pg_des.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "access/xlog.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

char	   *des_database = NULL;
int			des_marker_naptime_ms = 1000;
int			des_marker_batch_size = 1000;
int			des_marker_min_age_ms = 0;
int			des_worker_restart_s = 10;

typedef struct MarkerShared
{
	pg_atomic_uint32 pid;
	pg_atomic_uint64 batches;
	pg_atomic_uint64 marked;
	pg_atomic_uint64 errors;
	pg_atomic_uint64 last_batch_at;	/* TimestampTz */
	int			procno;			/* for wake-ups; -1 when not running */
} MarkerShared;

static MarkerShared *marker = NULL;

Size
DesMarkerShmemSize(void)
{
	return MAXALIGN(sizeof(MarkerShared));
}

void
DesMarkerShmemStartup(void)
{
	bool		found;

	marker = ShmemInitStruct("pg_des marker", sizeof(MarkerShared), &found);
	if (!found)
	{
		pg_atomic_init_u32(&marker->pid, 0);
		pg_atomic_init_u64(&marker->batches, 0);
		pg_atomic_init_u64(&marker->marked, 0);
		pg_atomic_init_u64(&marker->errors, 0);
		pg_atomic_init_u64(&marker->last_batch_at, 0);
		marker->procno = -1;
	}
}

void
DesRegisterWorkers(void)
{
	BackgroundWorker w;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = des_worker_restart_s;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "pg_des");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "DesMarkerMain");
	snprintf(w.bgw_name, BGW_MAXLEN, "pg_des marker");
	snprintf(w.bgw_type, BGW_MAXLEN, "pg_des marker");
	RegisterBackgroundWorker(&w);
}

/* One batch in its own transaction; returns how many objects it marked. */
static int
marker_run_batch(void)
{
	int			marked = 0;
	bool		ready;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	/* the extension may not exist (yet) in des.database, or be being created */
	ready = !RecoveryInProgress() && !creating_extension &&
		OidIsValid(get_extension_oid("pg_des", true));
	if (ready)
	{
		Oid			argtypes[2] = {INT4OID, INTERVALOID};
		Datum		args[2];
		char	   *q = "SELECT des.mark_batch($1, $2)";
		bool		isnull;

		args[0] = Int32GetDatum(des_marker_batch_size);
		args[1] = DirectFunctionCall3(interval_in, CStringGetDatum(psprintf("%d ms", des_marker_min_age_ms)),
									  ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
		pgstat_report_activity(STATE_RUNNING, q);
		debug_query_string = q;
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute_with_args(q, 2, argtypes, args, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "des.mark_batch did not return a row");
		marked = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		SPI_finish();
		debug_query_string = NULL;
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(true);
	pgstat_report_activity(STATE_IDLE, NULL);
	return ready ? marked : -1;
}

PGDLLEXPORT void DesMarkerMain(Datum arg);

static void
marker_exit(int code, Datum arg)
{
	marker->procno = -1;
	pg_atomic_write_u32(&marker->pid, 0);
}

void
DesMarkerMain(Datum arg)
{
	MemoryContext loop_cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(des_database, NULL, 0);
	pgstat_report_appname("pg_des marker");
	pg_atomic_write_u32(&marker->pid, (uint32) MyProcPid);
	marker->procno = MyProc->pgprocno;
	before_shmem_exit(marker_exit, (Datum) 0);
	loop_cxt = AllocSetContextCreate(TopMemoryContext, "pg_des marker loop", ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		volatile int marked = -1;	/* set inside PG_TRY, read after it */

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		MemoryContextReset(loop_cxt);
		MemoryContextSwitchTo(loop_cxt);
		PG_TRY();
		{
			marked = marker_run_batch();
		}
		PG_CATCH();
		{
			/* a failed batch is reported and counted; the worker goes on */
			if (ProcDiePending)
				PG_RE_THROW();
			HOLD_INTERRUPTS();
			MemoryContextSwitchTo(loop_cxt);
			EmitErrorReport();
			AbortCurrentTransaction();
			FlushErrorState();
			debug_query_string = NULL;
			pgstat_report_activity(STATE_IDLE, NULL);
			RESUME_INTERRUPTS();
			pg_atomic_fetch_add_u64(&marker->errors, 1);
			marked = -1;
		}
		PG_END_TRY();
		MemoryContextSwitchTo(loop_cxt);
		if (marked >= 0)
		{
			pg_atomic_fetch_add_u64(&marker->batches, 1);
			pg_atomic_fetch_add_u64(&marker->marked, (uint64) marked);
			pg_atomic_write_u64(&marker->last_batch_at, (uint64) GetCurrentTimestamp());
		}
		/* a full batch means a backlog: go on without sleeping */
		if (marked < des_marker_batch_size)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 des_marker_naptime_ms, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
}

PG_FUNCTION_INFO_V1(des_marker_stats);
PG_FUNCTION_INFO_V1(des_wake_marker);

/* The marker's counters since server start (NULL pid when it is not running). */
Datum
des_marker_stats(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {0};
	uint32		pid;
	uint64		last;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (marker == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the marker needs pg_des in shared_preload_libraries")));
	pid = pg_atomic_read_u32(&marker->pid);
	last = pg_atomic_read_u64(&marker->last_batch_at);
	values[0] = Int32GetDatum((int32) pid);
	nulls[0] = pid == 0;
	values[1] = Int64GetDatum((int64) pg_atomic_read_u64(&marker->batches));
	values[2] = Int64GetDatum((int64) pg_atomic_read_u64(&marker->marked));
	values[3] = Int64GetDatum((int64) pg_atomic_read_u64(&marker->errors));
	values[4] = TimestampTzGetDatum((TimestampTz) last);
	nulls[4] = last == 0;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* Wake the marker now instead of at the end of its nap. */
Datum
des_wake_marker(PG_FUNCTION_ARGS)
{
	int			procno;

	if (marker == NULL || (procno = marker->procno) < 0 || pg_atomic_read_u32(&marker->pid) == 0)
		PG_RETURN_BOOL(false);
	SetLatch(&ProcGlobal->allProcs[procno].procLatch);
	PG_RETURN_BOOL(true);
}
