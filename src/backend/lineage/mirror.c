/*
 * mirror.c - the lineage mirror (des.lineage_mirror): the audit records
 * written to storage in the GitOps lake's key layout, by the trigger
 * dispatcher (docs/lineage.md, "The mirror in storage").
 *
 * For each day of a branch in des.lineage_mirror_queue (enqueued by the
 * commits that change it), one unit claims it with a lease and computes its
 * files (des_internal.mirror_claim), committed; the files are then written
 * under the storage root outside any transaction, each through a sink that
 * makes it appear whole (a temporary file renamed, or one S3 PUT); a last
 * unit removes the day from the queue (unless a commit enqueued it again
 * meanwhile) or records the failure with a backoff. A writer killed at any
 * point leaves the day queued: its lease ends and it is written again,
 * whole, overwriting what was there.
 */
#include "pg_des.h"

#include <limits.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "datasets/datasets.h"
#include "des/format/des_writer.h"
#include "des/io/des_local.h"
#include "lineage/lineage.h"
#include "s3/s3.h"
#include "workers/workers.h"

bool		des_lineage_mirror = false;

/* a claimed day is the writer's for this long; then another pass takes it again */
#define MIRROR_LEASE_MS (5 * 60 * 1000)

static const char *const claim_query =
"SELECT repo_id, branch, day, enqueued_at, prefix, metadata, downstream_names, downstream_bodies, next_due_ms "
"FROM des_internal.mirror_claim(lease => $1)";
static const char *const done_query =
"SELECT des_internal.mirror_done(repo => $1, branch_name => $2, day => $3, enqueued => $4)";
static const char *const failed_query =
"SELECT des_internal.mirror_failed(repo => $1, branch_name => $2, day => $3, error => $4, retry_base => $5)";

/* One file to write: where, and what. */
typedef struct MirrorFile
{
	char	   *location;
	DesLocation *loc;
	DesS3Endpoint *ep;			/* S3: resolved while the claim's transaction was open */
	char	   *body;
} MirrorFile;

typedef struct MirrorDay
{
	bool		claimed;
	long		next_due_ms;	/* nothing claimed: until the next lease or backoff ends (-1: none) */
	Datum		repo_id;
	char	   *branch;
	Datum		day;
	Datum		enqueued_at;
	MirrorFile *files;
	int			nfiles;
	char	   *error;			/* a failed write's message */
} MirrorDay;

static void
add_file(MirrorDay *d, const char *key, const char *body)
{
	MirrorFile *f = &d->files[d->nfiles++];

	f->location = psprintf("%s/%s", DesStorageRoot(), key);
	f->loc = DesStorageLocation(f->location);
	if (f->loc->kind == DES_LOCATION_S3)
	{
		DesS3Init();
		f->ep = DesS3EndpointForLocation(f->loc);
	}
	f->body = pstrdup(body);
}

/* Unit 1: claim a day and compute its files (committed: the lease holds even if the writer dies). */
static void
claim_unit(void *arg)
{
	MirrorDay  *d = arg;
	Oid			argtypes[1] = {INTERVALOID};
	Datum		args[1] = {DesMsInterval(MIRROR_LEASE_MS)};
	MemoryContext outer = CurrentMemoryContext;
	bool		isnull;
	Datum		v;

	d->claimed = false;
	d->next_due_ms = -1;
	if (!DesWorkerBegin(claim_query))
		return;
	if (!DesSpiOneRow(claim_query, 1, argtypes, args, NULL))
		elog(ERROR, "des_internal.mirror_claim did not return a row");
	v = DesSpiGet(0, "repo_id", &isnull);
	if (isnull)
	{
		Datum		due = DesSpiGet(0, "next_due_ms", &isnull);

		if (!isnull)
			d->next_due_ms = (long) Min(DatumGetInt64(due), (int64) INT_MAX);
		DesWorkerCommit();
		return;
	}
	{
		MemoryContext spi_cxt = MemoryContextSwitchTo(outer);
		char	   *prefix;
		char	   *day_text;
		Datum	   *names;
		Datum	   *bodies;
		int			nnames,
					nbodies;

		d->repo_id = v;
		d->branch = TextDatumGetCString(DesSpiGet(0, "branch", &isnull));
		d->day = DesSpiGet(0, "day", &isnull);
		d->enqueued_at = DesSpiGet(0, "enqueued_at", &isnull);
		prefix = TextDatumGetCString(DesSpiGet(0, "prefix", &isnull));
		day_text = DatumGetCString(DirectFunctionCall1(date_out, d->day));
		deconstruct_array(DatumGetArrayTypePCopy(DesSpiGet(0, "downstream_names", &isnull)), TEXTOID, -1, false,
						  TYPALIGN_INT, &names, NULL, &nnames);
		deconstruct_array(DatumGetArrayTypePCopy(DesSpiGet(0, "downstream_bodies", &isnull)), TEXTOID, -1, false,
						  TYPALIGN_INT, &bodies, NULL, &nbodies);
		if (nnames != nbodies)
			elog(ERROR, "des_internal.mirror_claim returned %d downstream names and %d bodies", nnames, nbodies);
		d->files = palloc(sizeof(MirrorFile) * (1 + nnames));
		d->nfiles = 0;
		add_file(d, psprintf("%s/metadata/%s.json", prefix, day_text),
				 TextDatumGetCString(DesSpiGet(0, "metadata", &isnull)));
		for (int i = 0; i < nnames; i++)
			add_file(d, psprintf("%s/downstreams/%s", prefix, TextDatumGetCString(names[i])),
					 TextDatumGetCString(bodies[i]));
		d->claimed = true;
		MemoryContextSwitchTo(spi_cxt);
	}
	DesWorkerCommit();
}

/* Write one object whole: a temporary file renamed into place, or one S3 PUT. */
static bool
put_object(const MirrorFile *f, des_error *err)
{
	des_sink	sink;
	DesS3Sink  *s3 = NULL;
	bool		ok;
	size_t		len = strlen(f->body);

	if (f->loc->kind == DES_LOCATION_S3)
	{
		if (!DesS3SinkOpen(f->ep, f->loc->bucket, f->loc->key, f->location, &sink, &s3, err))
			return false;
	}
	else if (!des_local_sink_open(f->loc->path, &sink, err))
		return false;
	ok = sink.write(sink.ctx, f->body, len, err) && sink.commit(sink.ctx, err);
	if (!ok)
		sink.abort(sink.ctx);
	if (s3)
		DesS3SinkFree(s3);
	else
		des_local_sink_free(&sink);
	return ok;
}

/* Unit 2 (outside any transaction): the day's files. */
static void
write_files(void *arg)
{
	MirrorDay  *d = arg;

	for (int i = 0; i < d->nfiles; i++)
	{
		des_error	err;

		CHECK_FOR_INTERRUPTS();
		DesDebugPause("mirror_mid_write", NULL);
		if (!put_object(&d->files[i], &err))
		{
			d->error = psprintf("%s: %s", d->files[i].location, err.message);
			return;
		}
	}
}

/* Unit 3: the day done (unless enqueued again meanwhile), or its failure with a backoff. */
static void
finish_unit(void *arg)
{
	MirrorDay  *d = arg;
	Datum		args[5];

	if (!DesWorkerBegin(d->error ? failed_query : done_query))
		return;
	args[0] = d->repo_id;
	args[1] = CStringGetTextDatum(d->branch);
	args[2] = d->day;
	if (d->error == NULL)
	{
		Oid			types[4] = {INT8OID, TEXTOID, DATEOID, TIMESTAMPTZOID};

		args[3] = d->enqueued_at;
		if (SPI_execute_with_args(done_query, 4, types, args, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "des_internal.mirror_done failed");
	}
	else
	{
		Oid			types[5] = {INT8OID, TEXTOID, DATEOID, TEXTOID, INTERVALOID};

		args[3] = CStringGetTextDatum(d->error);
		args[4] = DesMsInterval(10 * 1000);
		if (SPI_execute_with_args(failed_query, 5, types, args, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "des_internal.mirror_failed failed");
	}
	DesWorkerCommit();
}

/*
 * Up to max days of the mirror's queue, each in its three steps; returns
 * how many were written, and in *next_due_ms when the next one is due
 * (-1: nothing waits). Called by the dispatcher when it has no trigger due.
 */
int
DesLineageMirrorRound(int max, long *next_due_ms)
{
	int			written = 0;

	*next_due_ms = -1;
	for (int i = 0; i < max; i++)
	{
		MirrorDay	d = {0};

		CHECK_FOR_INTERRUPTS();
		if (!DesWorkerGuard(claim_unit, &d, NULL, 0))
			return written;
		if (!d.claimed)
		{
			*next_due_ms = d.next_due_ms;
			return written;
		}
		if (!DesWorkerGuard(write_files, &d, NULL, 0) && d.error == NULL)
			d.error = pstrdup("the write failed (see the server log)");
		if (d.error)
			ereport(LOG,
					(errmsg("pg_des dispatcher: could not write the lineage mirror: %s", d.error)));
		if (DesWorkerGuard(finish_unit, &d, NULL, 0) && d.error == NULL)
			written++;
	}
	*next_due_ms = 0;			/* more may be due */
	return written;
}
