/*
 * marker.c - the marker: a static background worker that marks pending
 * objects with des_internal.mark_batch, one transaction per batch.
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

#include <limits.h>
#include "pipeline/pipeline.h"

#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "access/xlog.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "s3/s3.h"
#include "workers/workers.h"

int			des_marker_naptime_ms = 1000;
int			des_marker_batch_size = 1000;
int			des_marker_min_age_ms = 0;
int			des_marker_rate_limit = 0;
int			des_fetch_batch = 16;

/* des.marker_rate_limit: a token bucket holding at most one second of marking */
static double rate_tokens = 0;
static TimestampTz rate_refilled_at = 0;

/* the marker's counters in its worker slot (errors are the framework's: failed rounds) */
enum MarkerCounter
{
	MARKER_BATCHES,
	MARKER_MARKED,
	MARKER_SOURCES,				/* objects registered by URL fetched and staged */
	MARKER_SOURCE_FAILURES,
	MARKER_TABLE_ROWS,			/* rows claimed from registered source tables */
	MARKER_LAST_BATCH_AT		/* TimestampTz */
};

int			des_markers = 1;

static DesWorkerKind marker_kind = {
	.type = "pg_des marker",
	.entry = "DesMarkerMain",
	.max_workers = DES_MAX_MARKERS,
	.unavailable = "the marker needs pg_des in shared_preload_libraries",
};

/* des.markers markers: all claim with SKIP LOCKED, so they never take the same work */
void
DesMarkerRegisterWorkers(void)
{
	DesRegisterWorkerKind(&marker_kind, des_markers);
}

/*
 * The marker's SQL units, called with named arguments and read by column
 * name (docs/development.md); each text is also the activity
 * pg_stat_activity shows while it runs.
 */
static const char *const mark_batch_query =
"SELECT des_internal.mark_batch(batch_size => $1, min_age => $2) AS marked";
static const char *const claim_tables_query =
"SELECT des_internal.claim_source_tables(batch_size => $1) AS claimed";
static const char *const claim_fetches_query =
"SELECT id, source_url, meta FROM des_internal.claim_fetches(batch_size => $1, lease => $2)";

/* One batch of at most limit objects in its own transaction; returns how many it marked (-1: not ready). */
static int
marker_run_batch(int limit)
{
	Oid			argtypes[2] = {INT4OID, INTERVALOID};
	Datum		args[2];
	bool		isnull;
	int			marked;

	if (!DesWorkerBegin(mark_batch_query))
		return -1;
	args[0] = Int32GetDatum(limit);
	args[1] = DesMsInterval(des_marker_min_age_ms);
	if (!DesSpiOneRow(mark_batch_query, 2, argtypes, args, NULL))
		elog(ERROR, "des_internal.mark_batch did not return a row");
	marked = DatumGetInt32(DesSpiGet(0, "marked", &isnull));
	DesWorkerCommit();
	return marked;
}

/* One round over the registered source tables (des.register_source); returns rows claimed. */
static int
marker_run_source_tables(void)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1];
	bool		isnull;
	int			claimed;

	if (!DesWorkerBegin(claim_tables_query))
		return 0;
	args[0] = Int32GetDatum(des_marker_batch_size);
	if (!DesSpiOneRow(claim_tables_query, 1, argtypes, args, NULL))
		elog(ERROR, "des_internal.claim_source_tables did not return a row");
	claimed = DatumGetInt32(DesSpiGet(0, "claimed", &isnull));
	DesWorkerCommit();
	DesWorkerCount(MARKER_TABLE_ROWS, (uint64) claimed);
	return claimed;
}

/* ---- objects registered by URL: claim (one transaction), fetch (none), stage (one) ---- */

typedef struct SourceClaim
{
	int64		id;
	char	   *url;
	Jsonb	   *meta;
	DesLocation *loc;
	DesS3Endpoint *ep;			/* S3 URLs: resolved inside the claim transaction */
	bytea	   *data;			/* fetched bytes, or NULL with error set */
	char	   *error;
} SourceClaim;

static void
fetch_local(SourceClaim *c)
{
	int			fd = open(c->loc->path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	size_t		done = 0;

	if (fd < 0)
	{
		c->error = psprintf("could not open \"%s\": %s", c->url, strerror(errno));
		return;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
	{
		c->error = psprintf("\"%s\" is not a regular file", c->url);
		close(fd);
		return;
	}
	if ((Size) sb.st_size > MaxAllocSize - VARHDRSZ)
	{
		c->error = psprintf("\"%s\" has %lld bytes, more than an object can hold (1 GB)",
							c->url, (long long) sb.st_size);
		close(fd);
		return;
	}
	c->data = palloc(VARHDRSZ + sb.st_size);
	while (done < (size_t) sb.st_size)
	{
		ssize_t		n = read(fd, VARDATA(c->data) + done, sb.st_size - done);

		CHECK_FOR_INTERRUPTS();
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
		{
			c->error = n < 0 ? psprintf("could not read \"%s\": %s", c->url, strerror(errno))
				: psprintf("\"%s\" shrank while being read", c->url);
			c->data = NULL;
			close(fd);
			return;
		}
		done += n;
	}
	close(fd);
	SET_VARSIZE(c->data, VARHDRSZ + done);
}

static void
fetch_s3(SourceClaim *c)
{
	DesS3Object *o;
	bool		unchanged;
	des_error	err;
	uint64		off = 0;
	unsigned char *buf;

	if (!DesS3ObjectOpen(c->ep, c->loc->bucket, c->loc->key, c->url, NULL, &o, &unchanged, &err))
	{
		c->error = pstrdup(err.message);
		return;
	}
	if (o->size > MaxAllocSize - VARHDRSZ)
	{
		c->error = psprintf("\"%s\" has " UINT64_FORMAT " bytes, more than an object can hold (1 GB)",
							c->url, o->size);
		DesS3ObjectFree(o);
		return;
	}
	c->data = palloc(VARHDRSZ + o->size);
	SET_VARSIZE(c->data, VARHDRSZ + o->size);
	buf = (unsigned char *) VARDATA(c->data);
	if (o->size > 0 && !DesS3FetchRanges(o, &off, &o->size, &buf, 1, &err))
	{
		c->error = pstrdup(err.message);
		c->data = NULL;
	}
	DesS3ObjectFree(o);
}

/* Claim, fetch and stage one round of URL objects; returns how many were claimed. */
static int
marker_run_sources(MemoryContext round_cxt)
{
	Oid			types[2] = {INT4OID, INTERVALOID};
	Datum		args[2];
	SourceClaim *claims;
	int			n;
	DesDatumVec failed_ids = {0},
				failed_errors = {0};
	ResourceOwner owner;

	if (!DesWorkerBegin(claim_fetches_query))
		return 0;
	args[0] = Int32GetDatum(des_fetch_batch);
	args[1] = DesMsInterval((int64) des_lease_timeout_s * 1000);
	if (SPI_execute_with_args(claim_fetches_query,
							  2, types, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "des_internal.claim_fetches failed");
	n = (int) SPI_processed;
	claims = MemoryContextAllocZero(round_cxt, sizeof(SourceClaim) * Max(n, 1));
	owner = CurrentResourceOwner;
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		MemoryContext old = MemoryContextSwitchTo(round_cxt);

		claims[i].id = DatumGetInt64(DesSpiGet(i, "id", &isnull));
		claims[i].url = TextDatumGetCString(DesSpiGet(i, "source_url", &isnull));
		claims[i].meta = DatumGetJsonbPCopy(DesSpiGet(i, "meta", &isnull));
		/*
		 * An unusable URL (bad syntax, unknown server or mapping: catalog
		 * lookups) fails this object alone. The lookups run in a
		 * subtransaction, so that after an error the claim's transaction is
		 * rolled back to a clean state before it goes on.
		 */
		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(round_cxt);
		PG_TRY();
		{
			claims[i].loc = DesParseLocation(claims[i].url);
			if (claims[i].loc->kind == DES_LOCATION_S3)
				claims[i].ep = DesS3EndpointForLocation(claims[i].loc);
			ReleaseCurrentSubTransaction();
		}
		PG_CATCH();
		{
			ErrorData  *ed;

			MemoryContextSwitchTo(round_cxt);
			ed = CopyErrorData();
			/*
			 * Only what is wrong with this URL fails this object; a cancel,
			 * shutdown, lack of memory or a lock or statement timeout is the
			 * round's, and must not cost the object one of its attempts.
			 */
			if (QueryCancelPending || ProcDiePending ||
				ed->sqlerrcode == ERRCODE_QUERY_CANCELED ||
				ERRCODE_TO_CATEGORY(ed->sqlerrcode) == ERRCODE_INSUFFICIENT_RESOURCES ||
				ERRCODE_TO_CATEGORY(ed->sqlerrcode) == ERRCODE_OPERATOR_INTERVENTION ||
				ERRCODE_TO_CATEGORY(ed->sqlerrcode) == ERRCODE_PROGRAM_LIMIT_EXCEEDED ||
				ed->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
				PG_RE_THROW();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			claims[i].error = ed->message;
			claims[i].loc = NULL;
			claims[i].ep = NULL;
		}
		PG_END_TRY();
		MemoryContextSwitchTo(round_cxt);
		CurrentResourceOwner = owner;
		MemoryContextSwitchTo(old);
	}
	DesWorkerCommit();
	if (n == 0)
		return 0;

	/* outside any transaction: read the bytes */
	MemoryContextSwitchTo(round_cxt);
	DesDebugPause("mid_fetch", NULL);
	for (int i = 0; i < n; i++)
	{
		SourceClaim *c = &claims[i];

		CHECK_FOR_INTERRUPTS();
		if (c->loc == NULL)
			continue;
		pgstat_report_activity(STATE_RUNNING, psprintf("pg_des marker: fetching %s", c->url));
		if (c->loc->kind == DES_LOCATION_S3)
		{
			DesS3Init();
			fetch_s3(c);
		}
		else
			fetch_local(c);
	}
	pgstat_report_activity(STATE_IDLE, NULL);

	if (!DesWorkerBegin("pg_des marker: staging fetched sources"))
		return n;
	for (int i = 0; i < n; i++)
	{
		SourceClaim *c = &claims[i];
		JsonbValue *size;

		/* compared as numeric: a huge or fractional "size" is a mismatch, not an error */
		if (c->data && (size = getKeyJsonValueFromContainer(&c->meta->root, "size", 4, NULL)) != NULL &&
			(size->type != jbvNumeric ||
			 DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(size->val.numeric),
											   NumericGetDatum(int64_to_numeric((int64) VARSIZE_ANY_EXHDR(c->data))))) != 0))
			c->error = psprintf("meta \"size\" does not match the %d bytes of \"%s\"",
								(int) VARSIZE_ANY_EXHDR(c->data), c->url);
		if (c->error == NULL)
		{
			Oid			st[2] = {INT8OID, BYTEAOID};
			Datum		sa[2] = {Int64GetDatum(c->id), PointerGetDatum(c->data)};

			if (SPI_execute_with_args("SELECT des_internal.stage_fetched(id => $1, data => $2)", 2, st, sa, NULL, false, 0) != SPI_OK_SELECT)
				elog(ERROR, "des_internal.stage_fetched failed");
		}
		else
		{
			MemoryContext old = MemoryContextSwitchTo(round_cxt);

			DesVecPush(&failed_ids, Int64GetDatum(c->id));
			DesVecPush(&failed_errors, CStringGetTextDatum(c->error));
			MemoryContextSwitchTo(old);
		}
	}
	if (failed_ids.n > 0)
	{
		Oid			ft[5] = {INT8ARRAYOID, TEXTARRAYOID, INT4OID, INTERVALOID, BOOLOID};
		Datum		fa[5];

		fa[0] = DesVecArray(&failed_ids, INT8OID);
		fa[1] = DesVecArray(&failed_errors, TEXTOID);
		fa[2] = Int32GetDatum(des_max_attempts);
		fa[3] = DesMsInterval(des_retry_base_delay_ms);
		fa[4] = BoolGetDatum(true);	/* only objects still waiting for their bytes */
		if (SPI_execute_with_args("SELECT des_internal.fail_objects(ids => $1, errors => $2, max_attempts => $3, "
								  "retry_base => $4, unfetched_only => $5)", 5, ft, fa, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "des_internal.fail_objects failed");
		DesWorkerCount(MARKER_SOURCE_FAILURES, (uint64) failed_ids.n);
	}
	DesWorkerCount(MARKER_SOURCES, (uint64) (n - failed_ids.n));
	DesWorkerCommit();
	return n;
}

/* How many objects the rate limit allows now (des_marker_batch_size when unlimited). */
static int
rate_allowance(long *wait_ms)
{
	TimestampTz now = GetCurrentTimestamp();
	double		rate = (double) des_marker_rate_limit / Max(des_markers, 1);	/* shared by the markers */

	*wait_ms = 0;
	if (des_marker_rate_limit <= 0)
		return des_marker_batch_size;
	if (rate_refilled_at == 0)
		rate_tokens = Min(Max(rate, 1), des_marker_batch_size);
	else	/* the bucket holds a second's worth, and at least one object, or a rate below 1/s would never mark */
		rate_tokens = Min(Max(rate, 1), rate_tokens + rate * (double) (now - rate_refilled_at) / USECS_PER_SEC);
	rate_refilled_at = now;
	if (rate_tokens < 1)
	{
		*wait_ms = (long) ceil((1 - rate_tokens) * 1000.0 / rate);
		return 0;
	}
	return (int) Min((double) des_marker_batch_size, floor(rate_tokens));
}

/*
 * Source claims still held when a marker starts may belong to a previous
 * process that died mid-fetch: they are freed at once. A claim of another
 * marker that is alive is freed too; at worst that object is fetched twice,
 * and staging is idempotent (des_internal.stage_fetched only fills empty bytes).
 */
static void
release_source_claims(void)
{
	if (!DesWorkerBegin("pg_des marker: releasing claims of a previous run"))
		return;
	if (SPI_execute("UPDATE des.fetch_queue SET claimed_until = NULL "
					"WHERE claimed_until IS NOT NULL", false, 0) < 0)
		elog(ERROR, "could not release source claims");
	DesWorkerCommit();
}

/*
 * The marker commits without waiting for the WAL flush: a batch lost in a
 * crash leaves its objects pending and they are marked again, so durability
 * of the last batches buys nothing, while a flush per batch bounds the rate.
 * (Packers commit synchronously: their commits are few, and a durable
 * container row is what lets recovery adopt a stored archive.)
 */
static void
marker_start(int number)
{
	SetConfigOption("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION);
}

/* what the rounds of this marker process remember between iterations */
static bool claims_released = false;
static bool backlog = false;	/* the last batch was full */
static int	fetched = 0;		/* URL objects of the last sources round */
static int	from_tables = 0;	/* source-table rows of the last sources round */
static TimestampTz sources_at = 0;	/* when sources were last looked at */

typedef struct MarkerRound
{
	MemoryContext cxt;
	int			allowance;		/* objects the rate limit allows in this batch */
	int			marked;			/* -1: no batch ran */
} MarkerRound;

/* One round: sources when due, then one batch; an error fails the whole round. */
static void
marker_round(void *arg)
{
	MarkerRound *r = arg;

	if (!claims_released)
	{
		release_source_claims();
		claims_released = true;
	}
	/*
	 * While a backlog is being marked (the last batch was full), the
	 * source tables and URLs are looked at once per naptime, not
	 * before every batch: their two transactions would halve the rate.
	 */
	if (!backlog || from_tables > 0 || fetched > 0 ||
		TimestampDifferenceExceeds(sources_at, GetCurrentTimestamp(), des_marker_naptime_ms))
	{
		from_tables = marker_run_source_tables();
		fetched = marker_run_sources(r->cxt);
		sources_at = GetCurrentTimestamp();
	}
	MemoryContextSwitchTo(r->cxt);
	if (r->allowance > 0)
		r->marked = marker_run_batch(r->allowance);
}

/* One iteration of the marker; returns how long to nap (0: a backlog, go on). */
static long
marker_iterate(MemoryContext loop_cxt)
{
	MarkerRound r = {loop_cxt, 0, -1};
	long		wait_ms = des_marker_naptime_ms;

	r.allowance = rate_allowance(&wait_ms);
	/* a failed round is reported and counted; the worker goes on */
	if (!DesWorkerGuard(marker_round, &r, NULL, 0))
		r.marked = -1;
	backlog = r.marked >= 0 && r.marked == r.allowance;
	if (r.marked >= 0)
	{
		DesWorkerCount(MARKER_BATCHES, 1);
		DesWorkerCount(MARKER_MARKED, (uint64) r.marked);
		DesWorkerSetCounter(MARKER_LAST_BATCH_AT, (uint64) GetCurrentTimestamp());
		if (des_marker_rate_limit > 0)
			rate_tokens -= r.marked;
	}
	/* a full batch (or round of sources) means a backlog: go on without sleeping */
	if (r.allowance == 0 ||
		(r.marked < r.allowance && fetched < des_fetch_batch && from_tables < des_marker_batch_size))
		return r.allowance == 0 ? wait_ms : des_marker_naptime_ms;
	return 0;
}

static const DesWorkerLoop marker_loop = {
	.start = marker_start,
	.iterate = marker_iterate,
};

PGDLLEXPORT void DesMarkerMain(Datum arg);

void
DesMarkerMain(Datum arg)
{
	DesWorkerRun(&marker_kind, arg, &marker_loop);
}

PG_FUNCTION_INFO_V1(des_marker_stats);
/* des.wake_marker() of release 0.1.0, whose install script still names it */
PG_FUNCTION_INFO_V1(des_wake_marker);

static void
marker_stats_row(DesWorkerSlot *s, Datum *values, bool *nulls)
{
	uint64		last = DesWorkerSlotCounter(s, MARKER_LAST_BATCH_AT);

	values[2] = Int64GetDatum((int64) DesWorkerSlotCounter(s, MARKER_BATCHES));
	values[3] = Int64GetDatum((int64) DesWorkerSlotCounter(s, MARKER_MARKED));
	values[4] = Int64GetDatum((int64) pg_atomic_read_u64(&s->errors));
	values[5] = TimestampTzGetDatum((TimestampTz) last);
	nulls[5] = last == 0;
	values[6] = Int64GetDatum((int64) DesWorkerSlotCounter(s, MARKER_SOURCES));
	values[7] = Int64GetDatum((int64) DesWorkerSlotCounter(s, MARKER_SOURCE_FAILURES));
	values[8] = Int64GetDatum((int64) DesWorkerSlotCounter(s, MARKER_TABLE_ROWS));
}

/* One row per configured marker: pid (NULL when not running) and counters since server start. */
Datum
des_marker_stats(PG_FUNCTION_ARGS)
{
	DesWorkerStatsSRF(fcinfo, &marker_kind, marker_stats_row);
	return (Datum) 0;
}

/* Wake every running marker now instead of at the end of its nap; false if none runs. */
Datum
des_wake_marker(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(DesWorkerWake(&marker_kind) > 0);
}

/* des.wake_markers(): how many running markers were woken (des.wake_packers' shape). */
PG_FUNCTION_INFO_V1(des_wake_markers);

Datum
des_wake_markers(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(DesWorkerWake(&marker_kind));
}

/* The settings of this area (called from _PG_init). */
void
DesMarkerDefineSettings(void)
{
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
	/* a server-start setting exists only when preloaded (defining it later is FATAL) */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("des.markers",
								"Number of marker background workers.",
								NULL,
								&des_markers, 1, 0, DES_MAX_MARKERS,
								PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("des.marker_rate_limit",
							"Most objects the markers mark per second, together (token bucket; 0 = no limit).",
							NULL,
							&des_marker_rate_limit, 0, 0, INT_MAX,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("des.fetch_batch",
							"Objects registered by URL the marker claims and fetches per round.",
							NULL,
							&des_fetch_batch, 16, 1, 10000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
}
