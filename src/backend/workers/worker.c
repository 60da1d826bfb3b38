/*
 * worker.c - what every pg_des background worker does the same way: the
 * main loop, one transaction per unit of work with SPI, a ready check before
 * it, error isolation around it, the shutdown deadline, crash-test pause
 * points (test builds), the area's settings and SPI helpers.
 */
#include "pg_des.h"

#include <signal.h>
#include <time.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/snapmgr.h"

#include "workers/workers.h"

/* settings: see DesWorkersDefineSettings() */
bool		des_workers_enabled = true;
char	   *des_database = NULL;
int			des_worker_restart_s = 10;

char	   *des_storage = NULL;
int			des_shutdown_timeout_ms = 10 * 1000;

/*
 * The shutdown deadline. A worker that finishes its step on SIGTERM (the
 * packer) must still exit within des.shutdown_timeout, whatever it is doing
 * then: a stalled transfer, a lock wait, a slow query. A POSIX timer armed by
 * the SIGTERM handler (timer_settime is async-signal-safe) raises SIGUSR2,
 * which bgworkers otherwise ignore, when the time is up; its handler does
 * what die() does. From then on the worker is terminating: libcurl's progress
 * callback and the transfer loop see ProcDiePending and abort within about a
 * second, and the next CHECK_FOR_INTERRUPTS() exits with FATAL (57P01).
 * (SIGALRM is not used: PostgreSQL's timeout.c owns it.)
 */
static timer_t shutdown_timer;
static bool shutdown_timer_created = false;

static void
shutdown_deadline_handler(SIGNAL_ARGS)
{
	int			save_errno = errno;

	InterruptPending = true;
	ProcDiePending = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

/* Create the deadline timer (once, in normal context: timer_create is not signal-safe). */
void
DesWorkerPrepareShutdownDeadline(void)
{
	struct sigevent sev;

	if (shutdown_timer_created)
		return;
	pqsignal(SIGUSR2, shutdown_deadline_handler);
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGUSR2;
	if (timer_create(CLOCK_MONOTONIC, &sev, &shutdown_timer) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not create the shutdown timer: %m")));
	shutdown_timer_created = true;
}

/* Start the clock: called from a SIGTERM handler, so signal-safe only. */
void
DesWorkerStartShutdownDeadline(void)
{
	struct itimerspec its;
	long		ms = des_shutdown_timeout_ms;

	if (!shutdown_timer_created)
	{
		/* no timer: terminate at once rather than never */
		shutdown_deadline_handler(0);
		return;
	}
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (ms % 1000) * 1000000L;
	if (ms == 0)
		its.it_value.tv_nsec = 1;	/* zero would disarm the timer */
	(void) timer_settime(shutdown_timer, 0, &its, NULL);
}

/* ---- the main loop ---- */

static void
worker_exit(int code, Datum arg)
{
	if (DesWorkerMySlot)
	{
		DesWorkerMySlot->procno = -1;
		pg_atomic_write_u32(&DesWorkerMySlot->phase, DES_WORKER_PHASE_STOPPED);
		pg_atomic_write_u32(&DesWorkerMySlot->pid, 0);
	}
}

/*
 * The main function of every kind (worker_spi's skeleton): signals, then the
 * connection to des.database, the worker's slot, then iterations, each in a
 * loop context reset before it, with a nap on the latch between them.
 */
void
DesWorkerRun(DesWorkerKind *kind, Datum main_arg, const DesWorkerLoop *loop)
{
	int			number = DatumGetInt32(main_arg);
	MemoryContext loop_cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, loop->sigterm ? loop->sigterm : die);
	if (loop->shutdown_deadline)
		DesWorkerPrepareShutdownDeadline();
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(des_database, NULL, 0);
	if (kind->slots == NULL || number < 1 || number > kind->max_workers)
		elog(FATAL, "%s %d has no slot in shared memory", kind->type, number);
	pgstat_report_appname(psprintf("%s %d", kind->type, number));
	DesWorkerMySlot = &kind->slots[number - 1];
	pg_atomic_write_u32(&DesWorkerMySlot->pid, (uint32) MyProcPid);
	DesWorkerMySlot->procno = MyProc->pgprocno;
	DesWorkerSetPhase(DES_WORKER_PHASE_IDLE);
	before_shmem_exit(worker_exit, (Datum) 0);
	if (loop->start)
		loop->start(number);
	loop_cxt = AllocSetContextCreate(TopMemoryContext, "pg_des worker loop", ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		long		nap_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		MemoryContextReset(loop_cxt);
		MemoryContextSwitchTo(loop_cxt);
		pg_atomic_fetch_add_u64(&DesWorkerMySlot->iterations, 1);
		nap_ms = loop->iterate(loop_cxt);
		MemoryContextSwitchTo(loop_cxt);
		if (nap_ms > 0)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 nap_ms, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
}

/* ---- units of work ---- */

/* where the caller of DesWorkerBegin was: a commit leaves TopMemoryContext current */
static MemoryContext unit_outer_cxt = NULL;

static bool
pg_des_ready(void)
{
	return !RecoveryInProgress() && !creating_extension &&
		OidIsValid(get_extension_oid("pg_des", true));
}

/*
 * Start the transaction of one unit of work with SPI connected. Returns
 * false, with nothing left open, when pg_des is not usable in this database
 * yet: not created, being created, or the server is in recovery.
 */
bool
DesWorkerBegin(const char *activity)
{
	unit_outer_cxt = CurrentMemoryContext;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (!pg_des_ready())
	{
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(unit_outer_cxt);
		unit_outer_cxt = NULL;
		return false;
	}
	pgstat_report_activity(STATE_RUNNING, activity);
	debug_query_string = activity;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	return true;
}

/* Commit what DesWorkerBegin started. */
void
DesWorkerCommit(void)
{
	SPI_finish();
	if (ActiveSnapshotSet())
		PopActiveSnapshot();
	CommitTransactionCommand();
	if (unit_outer_cxt)
		MemoryContextSwitchTo(unit_outer_cxt);
	unit_outer_cxt = NULL;
	debug_query_string = NULL;
	pgstat_report_stat(true);
	pgstat_report_activity(STATE_IDLE, NULL);
	if (DesWorkerMySlot)
	{
		pg_atomic_fetch_add_u64(&DesWorkerMySlot->units_done, 1);
		pg_atomic_write_u64(&DesWorkerMySlot->last_activity_at, (uint64) GetCurrentTimestamp());
	}
}

static void
record_error(const char *message)
{
	DesWorkerSlot *s = DesWorkerMySlot;

	if (s == NULL)
		return;
	pg_atomic_fetch_add_u64(&s->errors, 1);
	SpinLockAcquire(&s->mutex);
	strlcpy(s->last_error, message ? message : "(no message)", sizeof(s->last_error));
	SpinLockRelease(&s->mutex);
}

/*
 * Run fn with its errors isolated: an ERROR is reported, whatever
 * transaction is open is rolled back, the error is counted and kept in the
 * worker's slot (unless flags say it is expected), and false is returned:
 * the worker goes on. on_error, if given, runs first, to release what fn
 * holds outside the transaction (files, uploads), even when a shutdown
 * request then re-throws the error and the worker exits; it runs with
 * interrupts held and must not throw. True when fn returned.
 */
bool
DesWorkerGuard(DesWorkerFn fn, void *arg, DesWorkerFn on_error, int flags)
{
	return DesWorkerGuardError(fn, arg, on_error, flags, NULL, NULL);
}

/*
 * DesWorkerGuard that also says what the error was: its SQLSTATE and
 * message (palloc'd in the caller's context), for units that record
 * failures by kind.
 */
bool
DesWorkerGuardError(DesWorkerFn fn, void *arg, DesWorkerFn on_error, int flags, int *sqlerrcode, char **message)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = true;

	PG_TRY();
	{
		fn(arg);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		/*
		 * Interrupts are held from here: a cancel reaching a check inside the
		 * cleanup (on_error frees sinks, aborts uploads) would raise an error
		 * with no handler left, which is FATAL half-way through it.
		 */
		HOLD_INTERRUPTS();
		if (on_error)
			on_error(arg);
		if (ProcDiePending)
		{
			RESUME_INTERRUPTS();
			PG_RE_THROW();
		}
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		EmitErrorReport();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(cxt);	/* the abort leaves TopMemoryContext current */
		FlushErrorState();
		unit_outer_cxt = NULL;
		debug_query_string = NULL;
		pgstat_report_activity(STATE_IDLE, NULL);
		if (!(flags & DES_WORKER_EXPECTED_ERROR))
			record_error(edata->message);
		if (sqlerrcode)
			*sqlerrcode = edata->sqlerrcode;
		if (message)
			*message = pstrdup(edata->message ? edata->message : "(no message)");
		FreeErrorData(edata);
		RESUME_INTERRUPTS();
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	return ok;
}

typedef struct UnitCall
{
	const char *activity;
	DesWorkerFn fn;
	void	   *arg;
	bool		committed;
} UnitCall;

static void
run_unit(void *arg)
{
	UnitCall   *u = arg;

	if (!DesWorkerBegin(u->activity))
		return;
	u->fn(u->arg);
	DesWorkerCommit();
	u->committed = true;
}

/*
 * One unit of work in its own transaction with SPI connected and its errors
 * isolated (DesWorkerGuard). True when it committed; false when pg_des is
 * not ready here or the unit failed.
 */
bool
DesWorkerRunUnit(const char *activity, DesWorkerFn fn, void *arg)
{
	UnitCall	u = {activity, fn, arg, false};

	return DesWorkerGuard(run_unit, &u, NULL, 0) && u.committed;
}

/* The storage root of the pipeline: des.storage, or <data directory>/pg_des_storage. */
char *
DesStorageRoot(void)
{
	size_t		len;

	if (des_storage == NULL || des_storage[0] == '\0')
		return psprintf("%s/pg_des_storage", DataDir);
	if (pg_strncasecmp(des_storage, "file:", 5) == 0)
	{
		/* one spelling for local storage: the path (as des.storage_list reports it) */
		char	   *path = DesParseLocationPrefix(des_storage)->path;

		len = strlen(path);
		while (len > 1 && path[len - 1] == '/')
			len--;
		return pnstrdup(path, len);
	}
	len = strlen(des_storage);
	while (len > 1 && des_storage[len - 1] == '/')
		len--;
	return pnstrdup(des_storage, len);
}

/* Run a query that returns one row; returns false when it returns none. */
bool
DesSpiOneRow(const char *query, int nargs, Oid *argtypes, Datum *args, const char *nulls)
{
	int			rc = SPI_execute_with_args(query, nargs, argtypes, args, nulls, false, 1);

	if (rc != SPI_OK_SELECT && rc != SPI_OK_UPDATE_RETURNING && rc != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "query failed (%s): %s", SPI_result_code_string(rc), query);
	return SPI_processed == 1;
}

/*
 * Results of SQL units are read by column name (see docs/development.md):
 * the number of a column of the last SPI result, or an error naming it.
 */
int
DesSpiColumnNumber(const char *column)
{
	int			fno = SPI_fnumber(SPI_tuptable->tupdesc, column);

	if (fno <= 0)
		elog(ERROR, "the query's result has no column \"%s\"", column);
	return fno;
}

/* The value of a column, by name, in row row of the last SPI result. */
Datum
DesSpiGet(uint64 row, const char *column, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, DesSpiColumnNumber(column), isnull);
}

void
DesVecPush(DesDatumVec *d, Datum x)
{
	if (d->n == d->cap)
	{
		d->cap = d->cap ? d->cap * 2 : 64;
		d->v = d->v ? repalloc(d->v, sizeof(Datum) * d->cap) : palloc(sizeof(Datum) * d->cap);
	}
	d->v[d->n++] = x;
}

Datum
DesVecArray(const DesDatumVec *d, Oid elemtype)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_array(d->v, d->n, elemtype, typlen, typbyval, typalign));
}

Datum
DesMsInterval(int64 ms)
{
	Interval   *iv = palloc0(sizeof(Interval));

	iv->time = ms * 1000;
	return IntervalPGetDatum(iv);
}

#ifdef DES_TEST_HOOKS
char	   *des_debug_pause_at = NULL;

/*
 * Crash tests: when des.debug_pause_at names this point, stay here (visible
 * in pg_stat_activity) until killed. Settings are not reloaded meanwhile, so
 * a test can reset the setting, reload, then kill -9 the paused worker.
 */
void
DesDebugPause(const char *point, void (*check) (const char *what))
{
	if (des_debug_pause_at == NULL || strcmp(des_debug_pause_at, point) != 0)
		return;
	pgstat_report_activity(STATE_RUNNING, psprintf("pg_des: paused at %s (des.debug_pause_at)", point));
	for (;;)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 100, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		if (check)
			check(point);		/* a worker's own shutdown rule (des.shutdown_timeout) */
		CHECK_FOR_INTERRUPTS();
	}
}
#endif							/* DES_TEST_HOOKS */

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

/* The settings of this area (called from _PG_init). */
void
DesWorkersDefineSettings(void)
{
	/* a server-start setting exists only when preloaded (defining it later is FATAL) */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomBoolVariable("des.workers",
								 "Start pg_des's background workers (when preloaded).",
								 "Off leaves only the SQL functions: nothing is marked or packed in the background.",
								 &des_workers_enabled, true, PGC_POSTMASTER, 0, NULL, NULL, NULL);
	/* a server-start setting exists only when preloaded (defining it later is FATAL) */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomStringVariable("des.database",
								   "Database the background workers connect to (pg_des must be created there).",
								   NULL,
								   &des_database, "postgres", PGC_POSTMASTER, 0, NULL, NULL, NULL);
	/* a server-start setting exists only when preloaded (defining it later is FATAL) */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("des.worker_restart_time",
								"Seconds before the postmaster restarts a background worker that exited with an error.",
								NULL,
								&des_worker_restart_s, 10, 1, 3600,
								PGC_POSTMASTER, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("des.shutdown_timeout",
							"On SIGTERM, a worker finishes its current step if it can within this time, else abandons it.",
							NULL,
							&des_shutdown_timeout_ms, 10 * 1000, 0, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomStringVariable("des.storage",
							   "Where the packers write containers: a local directory or s3://bucket/prefix.",
							   "Empty means the directory pg_des_storage in the data directory.",
							   &des_storage, "", PGC_SIGHUP, 0, check_storage, NULL, NULL);
#ifdef DES_TEST_HOOKS
	DefineCustomStringVariable("des.debug_pause_at",
							   "Crash tests only: workers and dataset functions stop at this named point until killed.",
							   "Points: after_lease, mid_write, after_write, mid_upload, after_upload (packer); mid_fetch (marker); dataset_upload_stored, dataset_commit_bundle_made, dataset_stage_stored (any backend).",
							   &des_debug_pause_at, "", PGC_SIGHUP,
							   GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL, NULL, NULL, NULL);
#endif
}
