/*
 * dispatcher.c - the trigger dispatcher: a static background worker that
 * runs the actions of jobs triggered by commits on the branches they are
 * subscribed to (or by des.job_run), each in its own transaction, as the
 * job's owner (docs/lineage.md, "Real-time dependencies").
 *
 * A trigger is enqueued by the committing transaction itself (the trigger
 * des_internal.triggers_enqueue on des.branch_log), which also asks for the
 * dispatchers to be woken when it commits: their latches are set from the
 * commit callback here, so an action starts within milliseconds of the
 * commit, not at the next poll. Each trigger then takes two transactions:
 * the claim (des_internal.trigger_claim: state running, attempts + 1,
 * committed), then the run (des_internal.trigger_start begins a run of the
 * job, the action runs in a subtransaction as the owner in a
 * security-restricted operation, and des_internal.trigger_done or
 * trigger_failed records the outcome). The action's effects and the
 * trigger's "done" commit together, so a kill -9 at any instant either
 * loses the whole run (the claim is found stale and the trigger runs again)
 * or keeps it: a trigger's action takes effect exactly once. A trigger that
 * keeps killing its dispatcher stops after des.trigger_max_attempts claims.
 */
#include "pg_des.h"

#include <limits.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "parser/parser.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "lineage/lineage.h"
#include "workers/workers.h"

#define DES_MAX_DISPATCHERS 8

int			des_dispatchers = 1;
int			des_dispatcher_naptime_ms = 10 * 1000;
int			des_trigger_max_attempts = 5;
int			des_trigger_retry_base_ms = 10 * 1000;
int			des_trigger_action_timeout_ms = 0;

/* at most this many triggers per iteration, so settings reloads and interrupts get their turn */
#define DISPATCH_ROUND 100

enum DispatcherCounter
{
	DISPATCH_RUN,				/* actions that committed */
	DISPATCH_FAILED,			/* actions that raised an error (retried or dead) */
	DISPATCH_LAST_AT			/* TimestampTz of the last action's end */
};

static DesWorkerKind dispatcher_kind = {
	.type = "pg_des dispatcher",
	.entry = "DesDispatcherMain",
	.max_workers = DES_MAX_DISPATCHERS,
	.unavailable = "the trigger dispatcher needs pg_des in shared_preload_libraries",
};

void
DesDispatcherRegisterWorkers(void)
{
	DesRegisterWorkerKind(&dispatcher_kind, des_dispatchers);
}

/*
 * The role a dispatched action runs as, while it runs (InvalidOid
 * otherwise): what des_internal.invoking_role() answers then, so that a job
 * created or a run begun by an action belongs to the action's owner, never
 * to the dispatcher's own (superuser) session.
 */
static Oid	acting_role = InvalidOid;

/* ---- wake-ups at commit ---- */

PG_FUNCTION_INFO_V1(des_wake_dispatchers_at_commit);

/*
 * des_internal.wake_dispatchers_at_commit(): when this transaction commits
 * (not before: the triggers are not visible until then, and a rolled-back
 * commit must wake nobody), set the latch of every running dispatcher.
 */
Datum
des_wake_dispatchers_at_commit(PG_FUNCTION_ARGS)
{
	DesWorkerWakeAtCommit(&dispatcher_kind);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(des_invoking_role);

/*
 * des_internal.invoking_role(): who is asking, as SECURITY DEFINER functions
 * cannot see it: the role of SET ROLE (or the session's), unchanged by
 * security-definer calls; inside a dispatched action, the job's owner.
 */
Datum
des_invoking_role(PG_FUNCTION_ARGS)
{
	PG_RETURN_OID(OidIsValid(acting_role) ? acting_role : GetOuterUserId());
}

PG_FUNCTION_INFO_V1(des_action_check);

/* des_internal.action_check(sql): a job's action must at least parse (its syntax error, with position). */
Datum
des_action_check(PG_FUNCTION_ARGS)
{
	char	   *sql = text_to_cstring(PG_GETARG_TEXT_PP(0));
	MemoryContext cxt = CurrentMemoryContext;
	List	   *volatile stmts = NIL;

	PG_TRY();
	{
		stmts = raw_parser(sql, RAW_PARSE_DEFAULT);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/* the parser's position is in the action, not in the statement that passed it */
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		ereport(ERROR,
				(errcode(edata->sqlerrcode),
				 errmsg("the action is not valid SQL: %s", edata->message),
				 edata->cursorpos > 0 ? errdetail("At character %d of the action.", edata->cursorpos) : 0));
	}
	PG_END_TRY();
	if (stmts == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a job's action must contain at least one SQL statement")));
	PG_RETURN_VOID();
}

/* ---- the worker ---- */

static const char *const claim_query =
"SELECT id, owner, action, next_due_ms FROM des_internal.trigger_claim(max_attempts => $1)";
static const char *const start_query =
"SELECT des_internal.trigger_start(trigger_id => $1) AS payload";
static const char *const done_query =
"SELECT des_internal.trigger_done(trigger_id => $1)";
static const char *const failed_query =
"SELECT des_internal.trigger_failed(trigger_id => $1, error => $2, max_attempts => $3, retry_base => $4)";

typedef struct Claimed
{
	int64		id;				/* 0: nothing claimed */
	Oid			owner;
	char	   *action;
	long		next_due_ms;	/* when nothing was claimed: until the next backoff ends (-1: none) */
} Claimed;

/* Unit 1: claim the next due trigger (committed: the attempt counts even if the run is killed). */
static void
claim_unit(void *arg)
{
	Claimed    *c = arg;
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(des_trigger_max_attempts)};
	bool		isnull;
	MemoryContext outer = CurrentMemoryContext;

	c->id = 0;
	c->next_due_ms = -1;
	if (!DesWorkerBegin(claim_query))
		return;
	if (!DesSpiOneRow(claim_query, 1, argtypes, args, NULL))
		elog(ERROR, "des_internal.trigger_claim did not return a row");
	{
		Datum		id = DesSpiGet(0, "id", &isnull);

		if (!isnull)
		{
			MemoryContext spi_cxt = MemoryContextSwitchTo(outer);

			c->id = DatumGetInt64(id);
			c->owner = DatumGetObjectId(DesSpiGet(0, "owner", &isnull));
			c->action = TextDatumGetCString(DesSpiGet(0, "action", &isnull));
			MemoryContextSwitchTo(spi_cxt);
		}
		else
		{
			Datum		due = DesSpiGet(0, "next_due_ms", &isnull);

			if (!isnull)
				c->next_due_ms = (long) Min(DatumGetInt64(due), (int64) INT_MAX);
		}
	}
	DesWorkerCommit();
}

/*
 * Run the action as its owner: the owner's rights (a security-restricted
 * operation, as for a materialized view's refresh: it cannot SET ROLE back
 * or leave state in the dispatcher's session), settings it changes undone
 * after it, the trigger as $1. Errors propagate to the caller.
 */
static void
run_action_as_owner(const Claimed *c, Datum payload)
{
	Oid			save_userid;
	int			save_sec;
	int			save_nestlevel;
	Oid			argtypes[1] = {JSONBOID};
	Datum		args[1] = {payload};
	int			rc;

	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(c->owner)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the owner of the job (role %u) no longer exists", c->owner)));
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(c->owner, save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	acting_role = c->owner;
	save_nestlevel = NewGUCNestLevel();
	/*
	 * des.trigger_action_timeout, as statement_timeout would (which a
	 * background worker's SPI calls do not arm): the cancel comes at the
	 * action's next interrupt check, as an error, and the trigger is retried
	 * like any failed action. Disarmed on error by the subtransaction's abort
	 * path in run_unit.
	 */
	if (des_trigger_action_timeout_ms > 0)
		enable_timeout_after(STATEMENT_TIMEOUT, des_trigger_action_timeout_ms);
	rc = SPI_execute_with_args(c->action, 1, argtypes, args, NULL, false, 0);
	if (des_trigger_action_timeout_ms > 0)
		disable_timeout(STATEMENT_TIMEOUT, false);
	if (rc < 0)
		elog(ERROR, "the action failed: %s", SPI_result_code_string(rc));
	AtEOXact_GUC(false, save_nestlevel);
	acting_role = InvalidOid;
	SetUserIdAndSecContext(save_userid, save_sec);
}

/* A failed attempt at trigger id: retried after a backoff, or buried (in a unit's transaction). */
static void
record_failure(int64 id, const char *error)
{
	Oid			argtypes[4] = {INT8OID, TEXTOID, INT4OID, INTERVALOID};
	Datum		args[4];

	args[0] = Int64GetDatum(id);
	args[1] = CStringGetTextDatum(error);
	args[2] = Int32GetDatum(des_trigger_max_attempts);
	args[3] = DesMsInterval(des_trigger_retry_base_ms);
	if (SPI_execute_with_args(failed_query, 4, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "des_internal.trigger_failed failed");
}

typedef struct RunCall
{
	Claimed    *claimed;
	bool		succeeded;
} RunCall;

/*
 * Unit 2: begin the run, the action in a subtransaction, then done or
 * failed (with backoff or the dead letters), all in one transaction.
 */
static void
run_unit(void *arg)
{
	RunCall    *r = arg;
	Claimed    *c = r->claimed;
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1];
	bool		isnull;
	Datum		payload;
	MemoryContext cxt;
	ResourceOwner owner;
	char	   *volatile error = NULL;
	char	   *activity = psprintf("pg_des: running trigger %lld of a job", (long long) c->id);

	r->succeeded = false;
	if (!DesWorkerBegin(activity))
		return;
	args[0] = Int64GetDatum(c->id);
	if (!DesSpiOneRow(start_query, 1, argtypes, args, NULL))
		elog(ERROR, "des_internal.trigger_start did not return a row");
	payload = DesSpiGet(0, "payload", &isnull);
	if (isnull)
	{
		/* no longer ours to run (taken back as stale by another dispatcher, or gone) */
		DesWorkerCommit();
		return;
	}
	payload = PointerGetDatum(PG_DETOAST_DATUM_COPY(payload));

	cxt = CurrentMemoryContext;
	owner = CurrentResourceOwner;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		run_action_as_owner(c, payload);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		acting_role = InvalidOid;
		if (des_trigger_action_timeout_ms > 0)
			disable_timeout(STATEMENT_TIMEOUT, false);
		if (ProcDiePending)
			PG_RE_THROW();		/* shutting down: the whole run goes, the claim is found stale */
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		error = edata->sqlerrcode == ERRCODE_SUCCESSFUL_COMPLETION ? pstrdup(edata->message)
			: psprintf("%s (SQLSTATE %s)", edata->message, unpack_sql_state(edata->sqlerrcode));
		ereport(LOG,
				(errmsg("pg_des dispatcher: the action of trigger %lld failed: %s", (long long) c->id, error)));
		FreeErrorData(edata);
	}
	PG_END_TRY();

	if (error == NULL)
	{
		if (SPI_execute_with_args(done_query, 1, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "des_internal.trigger_done failed");
		r->succeeded = true;
	}
	else
	{
		record_failure(c->id, error);
	}
	DesDebugPause("dispatch_before_commit", NULL);
	DesWorkerCommit();
	DesWorkerCount(r->succeeded ? DISPATCH_RUN : DISPATCH_FAILED, 1);
	DesWorkerSetCounter(DISPATCH_LAST_AT, (uint64) GetCurrentTimestamp());
}

/*
 * After a run unit failed outside the action (its transaction rolled back,
 * the claim still says running, by this live dispatcher): the trigger is
 * released as a failed attempt, so that it is retried (or buried) rather
 * than held until the dispatcher restarts.
 */
static void
release_unit(void *arg)
{
	Claimed    *c = arg;

	if (!DesWorkerBegin(failed_query))
		return;
	record_failure(c->id, "the dispatcher failed while running it (see the server log)");
	DesWorkerCommit();
}

/* Runs whose session ended without ending them become aborted (des_internal.runs_reap). */
static const char *const reap_query = "SELECT des_internal.runs_reap() AS reaped";

static void
reap_unit(void *arg)
{
	(void) arg;
	if (SPI_execute(reap_query, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "des_internal.runs_reap failed");
}

/* at most this often: a look at every running run and at pg_stat_activity */
#define REAP_INTERVAL_MS (10 * 1000)
static TimestampTz last_reap = 0;

static long
dispatcher_iterate(MemoryContext loop_cxt)
{
	for (int i = 0; i < DISPATCH_ROUND; i++)
	{
		Claimed		c = {0};
		RunCall		r = {&c, false};

		CHECK_FOR_INTERRUPTS();
		if (!DesWorkerGuard(claim_unit, &c, NULL, 0))
			return des_dispatcher_naptime_ms;
		if (c.id == 0)
		{
			long		nap = des_dispatcher_naptime_ms;
			long		mirror_due = -1;

			long		push_due = -1;

			if (TimestampDifferenceExceeds(last_reap, GetCurrentTimestamp(), REAP_INTERVAL_MS))
			{
				(void) DesWorkerRunUnit(reap_query, reap_unit, NULL);
				last_reap = GetCurrentTimestamp();
			}

			/* no trigger due: the lineage mirror's writes, the OpenLineage push */
			if (des_lineage_mirror)
			{
				(void) DesLineageMirrorRound(DISPATCH_ROUND, &mirror_due);
				if (mirror_due == 0)
					return 0;	/* more may be due */
			}
			if (des_openlineage_url && des_openlineage_url[0])
			{
				(void) DesOpenLineagePushRound(DISPATCH_ROUND / 10, &push_due);
				if (push_due == 0)
					return 0;
			}
			if (c.next_due_ms >= 0)
				nap = Min(nap, c.next_due_ms);
			if (mirror_due >= 0)
				nap = Min(nap, mirror_due);
			if (push_due >= 0)
				nap = Min(nap, push_due);
			return Max(nap, 1L);
		}
		DesWorkerSetPhase(DES_WORKER_PHASE_FIRST);
		if (!DesWorkerGuard(run_unit, &r, NULL, 0))
			(void) DesWorkerGuard(release_unit, &c, NULL, 0);
		DesWorkerSetPhase(DES_WORKER_PHASE_IDLE);
		MemoryContextReset(loop_cxt);
	}
	return 0;					/* more may be due: go on at once */
}

static const DesWorkerLoop dispatcher_loop = {
	.iterate = dispatcher_iterate,
};

PGDLLEXPORT void DesDispatcherMain(Datum arg);

void
DesDispatcherMain(Datum arg)
{
	DesWorkerRun(&dispatcher_kind, arg, &dispatcher_loop);
}

static void
dispatcher_stats_row(DesWorkerSlot *s, Datum *values, bool *nulls)
{
	uint64		last = DesWorkerSlotCounter(s, DISPATCH_LAST_AT);

	values[2] = Int64GetDatum((int64) DesWorkerSlotCounter(s, DISPATCH_RUN));
	values[3] = Int64GetDatum((int64) DesWorkerSlotCounter(s, DISPATCH_FAILED));
	values[4] = Int64GetDatum((int64) pg_atomic_read_u64(&s->errors));
	values[5] = TimestampTzGetDatum((TimestampTz) last);
	nulls[5] = last == 0;
}

PG_FUNCTION_INFO_V1(des_dispatcher_stats);

/* des.dispatcher_stats(): one row per configured dispatcher, counters since server start. */
Datum
des_dispatcher_stats(PG_FUNCTION_ARGS)
{
	DesWorkerStatsSRF(fcinfo, &dispatcher_kind, dispatcher_stats_row);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(des_wake_dispatchers);

/* des.wake_dispatchers(): wake every running dispatcher now; how many. */
Datum
des_wake_dispatchers(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(DesWorkerWake(&dispatcher_kind));
}

/* des.openlineage_url: empty, or an http(s) URL */
static bool
check_openlineage_url(char **newval, void **extra, GucSource source)
{
	const char *v = *newval;

	if (v == NULL || v[0] == '\0' || pg_strncasecmp(v, "http://", 7) == 0 || pg_strncasecmp(v, "https://", 8) == 0)
		return true;
	GUC_check_errdetail("des.openlineage_url must be empty or an http:// or https:// URL.");
	return false;
}

/* The settings of the dispatcher (from DesLineageDefineSettings). */
void
DesDispatcherDefineSettings(void)
{
	/* a server-start setting exists only when preloaded (defining it later is FATAL) */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("des.dispatchers",
								"Number of trigger dispatcher background workers (they run jobs' actions).",
								NULL,
								&des_dispatchers, 1, 0, DES_MAX_DISPATCHERS,
								PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("des.dispatcher_naptime",
							"Longest pause of an idle dispatcher (commits wake it at once; this is the fallback).",
							NULL,
							&des_dispatcher_naptime_ms, 10 * 1000, 10, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomBoolVariable("des.lineage_mirror",
							 "Also write the lineage's audit records to storage, in the GitOps lake's key layout (dependency/...).",
							 "The trigger dispatcher writes them after each commit that changes them.",
							 &des_lineage_mirror, false, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("des.openlineage_url",
							   "Endpoint the dispatcher POSTs each run's OpenLineage events to (Marquez: http://host:5000/api/v1/lineage); empty: none.",
							   NULL,
							   &des_openlineage_url, "", PGC_SIGHUP, 0, check_openlineage_url, NULL, NULL);
	/* the token itself is in no setting: reloads log changed values, and catalogs show per-role settings */
	DefineCustomStringVariable("des.openlineage_token_file",
							   "File holding the bearer token sent with the OpenLineage events (read at each round); empty: none.",
							   NULL,
							   &des_openlineage_token_file, "", PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("des.openlineage_timeout",
							"Longest time one OpenLineage event may take to send.",
							NULL,
							&des_openlineage_timeout_ms, 10 * 1000, 100, 600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("des.trigger_max_attempts",
							"Attempts at a trigger's action before it goes to des.trigger_dead_letters.",
							NULL,
							&des_trigger_max_attempts, 5, 1, 1000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("des.trigger_action_timeout",
							"Longest a job's action may run; then it is canceled and counts as a failed attempt (0: no limit).",
							NULL,
							&des_trigger_action_timeout_ms, 0, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("des.trigger_retry_base",
							"Wait before the first retry of a failed action; doubled at each attempt, at most an hour.",
							NULL,
							&des_trigger_retry_base_ms, 10 * 1000, 0, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
}
