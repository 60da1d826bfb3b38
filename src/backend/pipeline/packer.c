/*
 * packer.c - the packers: des.packers static background workers that
 * turn marked objects, and rows staged in des.incoming, into containers (DES
 * archives) in des.storage.
 *
 * Before each step a packer ticks: it makes des.incoming rows final (see
 * incoming_tick). One step of a packer:
 *   1. lease (own transaction): des_internal.lease_shard picks a (day, shard) with
 *      work, SKIP LOCKED, and creates or resumes its one open container; or
 *      des_internal.lease_incoming hands out a range of final des.incoming
 *      rows with a container of its own (which of the two is tried first
 *      alternates);
 *   2. adopt: a resumed container whose archive is already stored complete
 *      (a crash came after the write, before the commit) and whose entries
 *      are exactly marked objects with those hashes is committed as it is;
 *   3. write (own transaction, holding the lease row): stream the shard's
 *      marked objects into the archive, deduplicating against committed
 *      blobs and within the container, then des_internal.commit_container records
 *      container, blobs and objects at once and frees the staged bytes (for
 *      des.incoming rows: hash each once, then des_internal.commit_incoming
 *      records them as packed objects; such a container is never adopted,
 *      but written again from its rows). After each step a packer empties
 *      des.incoming with TRUNCATE once every row in it is packed.
 * Container keys carry the lease token (des_internal.container_location): each lease
 * grant writes a key of its own, and only the key the container row holds at
 * its commit is ever read, so an upload that completes after its lease was
 * lost cannot replace a committed container (it lands on a key des.orphans
 * lists). Objects stay 'marked' until the commit: a kill -9 at any instant
 * leaves them to be packed again, and the archive either committed or an
 * open container the next lease resumes (adopting what is stored at its key).
 * Writing is local disk I/O; S3 storage is written to a local spool file
 * inside the transaction and uploaded outside it, before a new one commits.
 */
#include "pg_des.h"

#include <limits.h>
#include "pipeline/pipeline.h"

#include <blake2.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
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
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datum.h"
#include "mb/pg_wchar.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "catalog/namespace.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "des/format/des_format.h"
#include "des/io/des_local.h"
#include "des/format/des_writer.h"
#include "s3/s3.h"
#include "workers/workers.h"


int			des_packers = 1;
int			des_packer_naptime_ms = 1000;
int			des_container_max_bytes_kb = 256 * 1024;
int			des_container_max_entries = 100000;
int			des_container_max_age_ms = 60 * 1000;
int			des_lease_timeout_s = 600;
int			des_max_attempts = 5;
int			des_retry_base_delay_ms = 10 * 1000;
bool		des_packer_lz4 = false;

typedef enum PackerPhase
{
	PHASE_STOPPED = DES_WORKER_PHASE_STOPPED,
	PHASE_IDLE = DES_WORKER_PHASE_IDLE,
	PHASE_LEASING = DES_WORKER_PHASE_FIRST,
	PHASE_ADOPTING,
	PHASE_WRITING,
	PHASE_UPLOADING,
	PHASE_COMMITTING
} PackerPhase;

static const char *const phase_names[] = {
	"stopped", "idle", "leasing", "adopting", "writing", "uploading", "committing"
};

/* the packer's counters in its worker slot (errors are the framework's: failed steps) */
enum PackerCounter
{
	PACKER_CONTAINERS,			/* committed */
	PACKER_ADOPTED,				/* of which found complete after a crash */
	PACKER_OBJECTS,				/* packed, including deduplicated */
	PACKER_DEDUPLICATED,
	PACKER_BYTES,				/* archive bytes written */
	PACKER_DEAD,				/* objects sent to the dead-letter table */
	PACKER_LAST_COMMIT_AT		/* TimestampTz */
};

static DesWorkerKind packer_kind = {
	.type = "pg_des packer",
	.entry = "DesPackerMain",
	.max_workers = DES_MAX_PACKERS,
	.unavailable = "the packers need pg_des in shared_preload_libraries",
	.phase_names = phase_names,
	.n_phases = lengthof(phase_names),
};

static int	my_index = -1;
static char *holder = NULL;		/* "packer <n> pid <pid>": this process's leases */

/*
 * SIGTERM: finish the current step if it ends within des.shutdown_timeout;
 * check_shutdown abandons it at the next check after that, and the deadline
 * timer (workers/worker.c) terminates the packer wherever it is by then.
 */
static volatile sig_atomic_t shutdown_requested = false;
static TimestampTz shutdown_requested_at = 0;

void
DesPackerRegisterWorkers(void)
{
	DesRegisterWorkerKind(&packer_kind, des_packers);
}

static void
set_phase(PackerPhase p)
{
	DesWorkerSetPhase(p);
}

/* Raise if a SIGTERM came more than des.shutdown_timeout ago: the step is abandoned. */
static void
check_shutdown(const char *what)
{
	if (shutdown_requested && shutdown_requested_at == 0)
		shutdown_requested_at = GetCurrentTimestamp();	/* the grace period starts now */
	if (shutdown_requested &&
		(ProcDiePending ||		/* the deadline timer fired */
		 TimestampDifferenceExceeds(shutdown_requested_at, GetCurrentTimestamp(), des_shutdown_timeout_ms)))
	{
		ereport(LOG,
				(errmsg("packer abandons %s: shutting down", what),
				 errdetail("des.shutdown_timeout (%d ms) passed; the next packer resumes it.",
						   des_shutdown_timeout_ms)));
		CHECK_FOR_INTERRUPTS();
		ereport(ERROR,
				(errcode(ERRCODE_ADMIN_SHUTDOWN),
				 errmsg("packer abandons %s: shutting down", what)));
	}
	CHECK_FOR_INTERRUPTS();
}

static void
packer_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	if (!shutdown_requested)
	{
		shutdown_requested = true;
		DesWorkerStartShutdownDeadline();
	}
	SetLatch(MyLatch);
	errno = save_errno;
}

/* ---- small helpers ---- */

/* Remove "<path>.tmp.*" files: temporary files of earlier attempts at this archive. */
static void
remove_stale_temps(const char *path)
{
	char	   *dir = pstrdup(path);
	char	   *slash = strrchr(dir, '/');
	const char *base;
	char	   *prefix;
	DIR		   *d;
	struct dirent *de;

	if (slash == NULL)
		return;
	*slash = '\0';
	base = slash + 1;
	prefix = psprintf("%s" DES_LOCAL_TEMP_INFIX, base);
	d = AllocateDir(dir);
	if (d == NULL)
		return;					/* no directory yet: nothing to remove */
	while ((de = ReadDir(d, dir)) != NULL)
	{
		CHECK_FOR_INTERRUPTS();
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
		{
			char	   *p = psprintf("%s/%s", dir, de->d_name);

			if (unlink(p) != 0 && errno != ENOENT)
				ereport(WARNING,
						(errcode_for_file_access(),
						 errmsg("could not remove temporary file \"%s\": %m", p)));
		}
	}
	FreeDir(d);
}

/* ---- resources of one step, released by a reset callback on its context ---- */

typedef struct PackerStep
{
	/* the lease */
	DateADT		day;
	int			shard;
	int64		token;
	int64		container_id;
	char	   *location;		/* the container's key: adopted, or written */
	char	   *write_location; /* this lease's own key */
	bool		resumed;
	TimestampTz lease_until;	/* when another packer may take the lease */
	DesLocation *loc;
	char	   *path;			/* local file written: the archive, or the spool for S3 */
	/* open resources */
	des_writer *writer;
	des_sink	sink;
	bool		sink_open;
	des_reader *reader;
	des_source	source;
	bool		source_open;
	DesS3Sink  *s3_sink;
	DesS3Object *s3_object;
	DesS3Endpoint *ep;
	int			spool_fd;
	MemoryContextCallback cleanup;
	/* what goes into the commit */
	DesDatumVec	ids;			/* the objects written, in archive order */
	DesDatumVec	hashes;
	DesDatumVec	offsets;		/* where each one's bytes are (des_writer_entry) */
	DesDatumVec	lengths;
	DesDatumVec	flags;
	DesDatumVec	linked;
	DesDatumVec	failed;
	DesDatumVec	errors;
	int64		archive_size;
	char	   *etag;
	int64		named;			/* entries written: payloads, aliases and references */
	/* des.incoming: the range (from_id, to_id] is leased; upto is the last row read */
	bool		incoming;
	int64		range_id;
	int64		from_id;
	int64		to_id;
	int64		upto;
	DesDatumVec	sizes;			/* of the payloads written (ids) */
	DesDatumVec	linked_hashes;
	DesDatumVec	linked_sizes;
	/* the step itself */
	MemoryContext cxt;			/* the step's context: this struct, its lists */
	bool		leased;
	bool		adopted;
} PackerStep;

static void
step_cleanup(void *arg)
{
	PackerStep *st = arg;

	if (st->writer)
		des_writer_abort(st->writer);
	st->writer = NULL;
	if (st->reader)
		des_reader_close(st->reader);	/* before the source it reads from */
	st->reader = NULL;
	if (st->sink_open)
		des_local_sink_free(&st->sink);
	st->sink_open = false;
	if (st->s3_sink)
		DesS3SinkFree(st->s3_sink);	/* aborts an unfinished multipart upload */
	st->s3_sink = NULL;
	if (st->s3_object)
		DesS3ObjectFree(st->s3_object);
	st->s3_object = NULL;
	if (st->spool_fd >= 0)
		close(st->spool_fd);
	st->spool_fd = -1;
	if (st->source_open)
		des_local_source_close(&st->source);
	st->source_open = false;
}

static void
reset_commit_lists(PackerStep *st)
{
	memset(&st->ids, 0, sizeof(DesDatumVec));
	memset(&st->hashes, 0, sizeof(DesDatumVec));
	memset(&st->offsets, 0, sizeof(DesDatumVec));
	memset(&st->lengths, 0, sizeof(DesDatumVec));
	memset(&st->flags, 0, sizeof(DesDatumVec));
	memset(&st->linked, 0, sizeof(DesDatumVec));
	memset(&st->failed, 0, sizeof(DesDatumVec));
	memset(&st->errors, 0, sizeof(DesDatumVec));
	memset(&st->sizes, 0, sizeof(DesDatumVec));
	memset(&st->linked_hashes, 0, sizeof(DesDatumVec));
	memset(&st->linked_sizes, 0, sizeof(DesDatumVec));
	st->upto = st->from_id;
	st->named = 0;
	st->archive_size = 0;
	st->etag = NULL;
}

static char *
spool_path(const PackerStep *st)
{
	/* one per lease grant: a late uploader still reading its own is undisturbed */
	return psprintf("%s/pg_des_spool/" INT64_FORMAT "-t" INT64_FORMAT ".des", DataDir,
					st->container_id, st->token);
}

/*
 * Remove the files of the spool directory that keep() does not claim (a
 * missing directory or file is no error; any other failure is a warning).
 */
static void
remove_spool_files(bool (*keep) (const char *name, void *arg), void *arg)
{
	char	   *dir = psprintf("%s/pg_des_spool", DataDir);
	DIR		   *d = AllocateDir(dir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = ReadDir(d, dir)) != NULL)
	{
		CHECK_FOR_INTERRUPTS();
		if (de->d_name[0] == '.' || keep(de->d_name, arg))
			continue;
		if (unlink(psprintf("%s/%s", dir, de->d_name)) != 0 && errno != ENOENT)
			ereport(WARNING,
					(errcode_for_file_access(),
					 errmsg("could not remove spool file \"%s/%s\": %m", dir, de->d_name)));
	}
	FreeDir(d);
}

/* keeps what is not a spool file of the container whose "<id>-t" prefix is arg */
static bool
not_of_container(const char *name, void *arg)
{
	return strncmp(name, (const char *) arg, strlen((const char *) arg)) != 0;
}

/*
 * Remove every spool file of a container (one per lease grant that wrote
 * it): after its commit, none is of use. An uploader still reading one keeps
 * its open descriptor.
 */
static void
remove_container_spools(int64 container_id)
{
	remove_spool_files(not_of_container, psprintf(INT64_FORMAT "-t", container_id));
}

/* ---- 1. lease ---- */

/*
 * Lease work (own transaction): a (day, shard) with des_internal.lease_shard,
 * or a range of des.incoming rows with des_internal.lease_incoming. Both take
 * the same settings and answer with the container to write; the leased
 * work's own columns are read by the caller's function.
 */
static bool
lease_work(PackerStep *st, const char *holder, bool incoming)
{
	Oid			types[7] = {TEXTOID, INTERVALOID, TEXTOID, INT4OID, INT8OID, INTERVALOID, INT4OID};
	Datum		args[7];
	bool		isnull;
	bool		got;
	MemoryContext step_cxt = CurrentMemoryContext;

	set_phase(PHASE_LEASING);
	if (!DesWorkerBegin(incoming ? "pg_des packer: leasing des.incoming rows" : "pg_des packer: leasing a (day, shard)"))
		return false;
	args[0] = CStringGetTextDatum(holder);
	args[1] = DesMsInterval((int64) des_lease_timeout_s * 1000);
	args[2] = CStringGetTextDatum(DesStorageRoot());
	args[3] = Int32GetDatum(des_container_max_entries);
	args[4] = Int64GetDatum((int64) des_container_max_bytes_kb * 1024);
	args[5] = DesMsInterval(des_container_max_age_ms);
	args[6] = Int32GetDatum(des_packers);
	if (incoming)
		got = DesSpiOneRow("SELECT day, -1 AS shard, token, container_id, location, resumed, write_location, "
						   "       range_id, from_id, to_id "
						   "FROM des_internal.lease_incoming(holder => $1, lease => $2, storage => $3, "
						   "max_entries => $4, max_bytes => $5, max_age => $6, packers => $7)", 7, types, args, NULL);
	else
		got = DesSpiOneRow("SELECT day, shard, token, container_id, location, resumed, write_location "
						   "FROM des_internal.lease_shard(holder => $1, lease => $2, storage => $3, "
						   "max_entries => $4, max_bytes => $5, max_age => $6)", 6, types, args, NULL);
	if (got)
	{
		MemoryContext spi = MemoryContextSwitchTo(step_cxt);

		st->incoming = incoming;
		st->day = DatumGetDateADT(DesSpiGet(0, "day", &isnull));
		st->shard = DatumGetInt32(DesSpiGet(0, "shard", &isnull));
		st->token = DatumGetInt64(DesSpiGet(0, "token", &isnull));
		st->container_id = DatumGetInt64(DesSpiGet(0, "container_id", &isnull));
		st->location = TextDatumGetCString(DesSpiGet(0, "location", &isnull));
		st->resumed = DatumGetBool(DesSpiGet(0, "resumed", &isnull));
		st->write_location = TextDatumGetCString(DesSpiGet(0, "write_location", &isnull));
		if (incoming)
		{
			st->range_id = DatumGetInt64(DesSpiGet(0, "range_id", &isnull));
			st->from_id = DatumGetInt64(DesSpiGet(0, "from_id", &isnull));
			st->to_id = DatumGetInt64(DesSpiGet(0, "to_id", &isnull));
			st->upto = st->from_id;
		}
		/* the lease runs from this transaction's now() */
		st->lease_until = GetCurrentTransactionStartTimestamp() + (int64) des_lease_timeout_s * USECS_PER_SEC;
		st->loc = DesParseLocation(st->location);
		st->path = st->loc->kind == DES_LOCATION_LOCAL ? st->loc->path : spool_path(st);
		MemoryContextSwitchTo(spi);
	}
	DesWorkerCommit();
	return got;
}

/* Give a lease back early (after an error): a unit of work (DesWorkerRunUnit). */
static void
release_lease(void *arg)
{
	PackerStep *st = arg;
	Oid			types[3] = {DATEOID, INT4OID, INT8OID};
	Datum		args[3] = {DateADTGetDatum(st->day), Int32GetDatum(st->shard), Int64GetDatum(st->token)};

	if (st->incoming)
	{
		Oid			itypes[2] = {INT8OID, INT8OID};
		Datum		iargs[2] = {Int64GetDatum(st->range_id), Int64GetDatum(st->token)};

		(void) SPI_execute_with_args("SELECT des_internal.release_incoming_lease(range_id => $1, token => $2)",
									 2, itypes, iargs, NULL, false, 0);
	}
	else
		(void) SPI_execute_with_args("SELECT des_internal.release_lease(day => $1, shard => $2, token => $3)", 3, types, args, NULL, false, 0);
}

/* ---- commit (inside the caller's transaction) ---- */

/* An object that cannot go into this container: recorded at the commit. */
static void
push_failure(PackerStep *st, int64 id, const char *message)
{
	DesVecPush(&st->failed, Int64GetDatum(id));
	DesVecPush(&st->errors, CStringGetTextDatum(message));
}

static const char changed_since_marking[] =
	"its staged bytes no longer have the BLAKE2b-256 recorded when it was marked (changed since)";

/* Where an entry's bytes are in the archive: recorded with its blob. */
static void
push_entry_location(PackerStep *st, uint64 data_offset, uint64 length, uint32 flags)
{
	DesVecPush(&st->offsets, Int64GetDatum((int64) data_offset));
	DesVecPush(&st->lengths, Int64GetDatum((int64) length));
	DesVecPush(&st->flags, Int32GetDatum((int32) flags));
}

/* The commit of a container of des.incoming rows (des_internal.commit_incoming). */
static void
commit_incoming(PackerStep *st)
{
	Oid			types[16] = {INT8OID, INT8OID, INT8OID, TEXTOID, INT8OID,
		INT8ARRAYOID, BYTEAARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT4ARRAYOID,
	INT8ARRAYOID, BYTEAARRAYOID, INT8ARRAYOID, INT8ARRAYOID, TEXTARRAYOID};
	Datum		args[16];
	char		nulls[16];
	bool		isnull;

	set_phase(PHASE_COMMITTING);
	memset(nulls, ' ', sizeof(nulls));
	args[0] = Int64GetDatum(st->range_id);
	args[1] = Int64GetDatum(st->token);
	args[2] = Int64GetDatum(st->archive_size);
	args[3] = st->etag ? CStringGetTextDatum(st->etag) : (Datum) 0;
	nulls[3] = st->etag ? ' ' : 'n';
	args[4] = Int64GetDatum(st->upto);
	args[5] = DesVecArray(&st->ids, INT8OID);
	args[6] = DesVecArray(&st->hashes, BYTEAOID);
	args[7] = DesVecArray(&st->sizes, INT8OID);
	args[8] = DesVecArray(&st->offsets, INT8OID);
	args[9] = DesVecArray(&st->lengths, INT8OID);
	args[10] = DesVecArray(&st->flags, INT4OID);
	args[11] = DesVecArray(&st->linked, INT8OID);
	args[12] = DesVecArray(&st->linked_hashes, BYTEAOID);
	args[13] = DesVecArray(&st->linked_sizes, INT8OID);
	args[14] = DesVecArray(&st->failed, INT8OID);
	args[15] = DesVecArray(&st->errors, TEXTOID);
	if (!DesSpiOneRow("SELECT packed, deduplicated, rejected FROM "
					  "des_internal.commit_incoming(range_id => $1, lease_token => $2, archive_size => $3, "
					  "archive_etag => $4, upto => $5, ids => $6, hashes => $7, sizes => $8, offsets => $9, "
					  "stored_sizes => $10, entry_flags => $11, linked => $12, linked_hashes => $13, "
					  "linked_sizes => $14, failed => $15, errors => $16)",
					  16, types, args, nulls))
		elog(ERROR, "des_internal.commit_incoming returned no row");
	if (st->archive_size > 0)		/* (a container kept: payloads, or references only) */
	{
		DesWorkerCount(PACKER_CONTAINERS, 1);
		DesWorkerCount(PACKER_BYTES, (uint64) st->archive_size);
	}
	DesWorkerCount(PACKER_OBJECTS, (uint64) DatumGetInt32(DesSpiGet(0, "packed", &isnull)));
	DesWorkerCount(PACKER_DEDUPLICATED, (uint64) DatumGetInt32(DesSpiGet(0, "deduplicated", &isnull)));
	DesWorkerCount(PACKER_DEAD, (uint64) DatumGetInt32(DesSpiGet(0, "rejected", &isnull)));
	DesWorkerSetCounter(PACKER_LAST_COMMIT_AT, (uint64) GetCurrentTimestamp());
}

static void
commit_container(PackerStep *st, bool adopted)
{
	Oid			types[14] = {INT8OID, INT8OID, INT8OID, TEXTOID, INT8ARRAYOID, BYTEAARRAYOID,
		INT8ARRAYOID, INT8ARRAYOID, INT4ARRAYOID, INT8ARRAYOID, INT8ARRAYOID, TEXTARRAYOID,
	INT4OID, INTERVALOID};
	Datum		args[14];
	char		nulls[14];
	bool		isnull;
	int64		packed,
				dedup,
				dead;

	if (st->incoming)
	{
		commit_incoming(st);
		return;
	}
	set_phase(PHASE_COMMITTING);
	memset(nulls, ' ', sizeof(nulls));
	args[0] = Int64GetDatum(st->container_id);
	args[1] = Int64GetDatum(st->token);
	args[2] = Int64GetDatum(st->archive_size);
	args[3] = st->etag ? CStringGetTextDatum(st->etag) : (Datum) 0;
	nulls[3] = st->etag ? ' ' : 'n';
	args[4] = DesVecArray(&st->ids, INT8OID);
	args[5] = DesVecArray(&st->hashes, BYTEAOID);
	args[6] = DesVecArray(&st->offsets, INT8OID);
	args[7] = DesVecArray(&st->lengths, INT8OID);
	args[8] = DesVecArray(&st->flags, INT4OID);
	args[9] = DesVecArray(&st->linked, INT8OID);
	args[10] = DesVecArray(&st->failed, INT8OID);
	args[11] = DesVecArray(&st->errors, TEXTOID);
	args[12] = Int32GetDatum(des_max_attempts);
	args[13] = DesMsInterval(des_retry_base_delay_ms);
	if (!DesSpiOneRow("SELECT packed, deduplicated, dead FROM "
					  "des_internal.commit_container(container_id => $1, lease_token => $2, archive_size => $3, "
					  "archive_etag => $4, ids => $5, hashes => $6, offsets => $7, stored_sizes => $8, "
					  "entry_flags => $9, linked => $10, failed => $11, errors => $12, "
					  "max_attempts => $13, retry_base => $14)",
					  14, types, args, nulls))
		elog(ERROR, "des_internal.commit_container returned no row");
	packed = DatumGetInt32(DesSpiGet(0, "packed", &isnull));
	dedup = DatumGetInt32(DesSpiGet(0, "deduplicated", &isnull));
	dead = DatumGetInt32(DesSpiGet(0, "dead", &isnull));
	if (st->archive_size > 0)		/* (a container kept: payloads, or references only) */
	{
		DesWorkerCount(PACKER_CONTAINERS, 1);
		DesWorkerCount(PACKER_BYTES, (uint64) st->archive_size);
		if (adopted)
			DesWorkerCount(PACKER_ADOPTED, 1);
	}
	DesWorkerCount(PACKER_OBJECTS, (uint64) packed);
	DesWorkerCount(PACKER_DEDUPLICATED, (uint64) dedup);
	DesWorkerCount(PACKER_DEAD, (uint64) dead);
	DesWorkerSetCounter(PACKER_LAST_COMMIT_AT, (uint64) GetCurrentTimestamp());
}

/* ---- 2. adopt a complete archive a crash left uncommitted ---- */

/* Open the reader of a stored container; false (logged) if it is not a complete archive. */
static bool
open_stored_reader(PackerStep *st, const des_source *src, bool remote)
{
	des_error	err;
	des_reader_limits limits = {0};

	limits.defer_header_check = remote;
	if (!des_reader_open(src, &limits, &st->reader, &err))
	{
		st->reader = NULL;
		ereport(LOG,
				(errmsg("pg_des packer: rewriting incomplete container \"%s\"", st->location),
				 errdetail("%s", err.message)));
		return false;
	}
	return true;
}

/* An entry of a stored archive by its data range: the names that share it (aliases) are linked objects, as are reference entries. */
typedef struct StoredRange
{
	uint64		data_offset;	/* key, with data_length */
	uint64		data_length;
	unsigned char hash[DES_BLAKE2B_BYTES];
} StoredRange;

/*
 * The entries of the stored archive (local: opened here; S3: already open),
 * as the objects of those names; false if one of the names is no object's
 * (then the archive is written again). An entry over the same bytes as an
 * earlier one (with the same hash) is an object linked to that blob.
 */
static bool
read_stored_entries(PackerStep *st, bool s3)
{
	des_error	err;
	uint64		n;
	DesDatumVec names = {0};
	DesDatumVec is_alias = {0};
	Oid			types[1] = {TEXTARRAYOID};
	Datum		args[1];
	HTAB	   *ranges;
	HASHCTL		hctl;

	if (!s3)
	{
		if (!des_local_source_open(st->path, &st->source, &err))
			return false;		/* not there (or unreadable): write it again */
		st->source_open = true;
		if (!open_stored_reader(st, &st->source, false))
			return false;
	}
	n = des_reader_count(st->reader);
	if (n == 0)
		return false;
	memset(&hctl, 0, sizeof(hctl));
	hctl.keysize = 2 * sizeof(uint64);
	hctl.entrysize = sizeof(StoredRange);
	hctl.hcxt = CurrentMemoryContext;
	ranges = hash_create("pg_des packer stored ranges", 1024, &hctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	for (uint64 i = 0; i < n; i++)
	{
		const des_entry *e = des_reader_entry(st->reader, i);
		bool		found;
		char		hex[65];
		bytea	   *hash;
		uint64		key[2];
		StoredRange *range;

		check_shutdown("adopting a container");
		/* a reference entry (bytes of an earlier container): a linked object */
		if (e->data_length == 0)
		{
			const char *m;
			size_t		ml;

			if (!des_reader_meta(st->reader, i, &m, &ml, &err))
				return false;
			if (ml > 11 && memcmp(m, "{\"des_ref\":", 11) == 0)
			{
				DesVecPush(&names, PointerGetDatum(DesNameToText(e->name, e->name_len)));
				DesVecPush(&is_alias, BoolGetDatum(true));
				continue;
			}
		}
		/* every entry the packer writes records its BLAKE2b: one without is not ours */
		if (!des_reader_stored_blake2b(st->reader, i, hex, &found, &err) || !found)
			return false;
		hash = palloc(VARHDRSZ + 32);
		SET_VARSIZE(hash, VARHDRSZ + 32);
		if (hex_decode(hex, 64, VARDATA(hash)) != 32)
			return false;
		DesVecPush(&names, PointerGetDatum(DesNameToText(e->name, e->name_len)));
		key[0] = e->data_offset;
		key[1] = e->data_length;
		range = hash_search(ranges, key, HASH_ENTER, &found);
		if (found)
		{
			/* an alias the packer wrote for a duplicate: same bytes, so the same hash */
			if (memcmp(range->hash, VARDATA(hash), DES_BLAKE2B_BYTES) != 0)
				return false;
			DesVecPush(&is_alias, BoolGetDatum(true));
			continue;
		}
		memcpy(range->hash, VARDATA(hash), DES_BLAKE2B_BYTES);
		DesVecPush(&is_alias, BoolGetDatum(false));
		DesVecPush(&st->hashes, PointerGetDatum(hash));
		push_entry_location(st, e->data_offset, e->data_length, e->flags);
	}
	st->archive_size = (int64) des_reader_size(st->reader);

	args[0] = DesVecArray(&names, TEXTOID);
	if (SPI_execute_with_args("SELECT o.id FROM unnest($1) WITH ORDINALITY AS w(name, n) "
							  "LEFT JOIN des.objects o ON o.name = w.name ORDER BY w.n",
							  1, types, args, NULL, true, 0) != SPI_OK_SELECT ||
		SPI_processed != n)
		elog(ERROR, "could not look up the objects of container \"%s\"", st->location);
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		id = DesSpiGet(i, "id", &isnull);

		/* no such object: the archive is not this catalog's, write it again */
		if (isnull)
			return false;
		if (DatumGetBool(is_alias.v[i]))
			DesVecPush(&st->linked, id);
		else
			DesVecPush(&st->ids, id);
	}
	return true;
}

/* The S3 endpoint of the storage (a catalog lookup: in a short transaction). */
static void
resolve_endpoint(PackerStep *st, MemoryContext step_cxt)
{
	if (st->ep)
		return;
	if (!DesWorkerBegin("pg_des packer: resolving the S3 endpoint"))
	{
		elog(ERROR, "pg_des is not usable in this database");
	}
	MemoryContextSwitchTo(step_cxt);
	st->ep = DesS3EndpointForLocation(st->loc);
	DesWorkerCommit();
	DesS3Init();
}

/* S3: read a stored container's index, outside any transaction. */
static bool
read_stored_s3_entries(PackerStep *st, MemoryContext step_cxt)
{
	des_error	err;
	bool		unchanged;
	des_source	src;

	resolve_endpoint(st, step_cxt);
	if (!DesS3ObjectOpen(st->ep, st->loc->bucket, st->loc->key, st->location, NULL,
						 &st->s3_object, &unchanged, &err))
		return false;			/* not uploaded (or not readable): write it again */
	DesS3ObjectSource(st->s3_object, &src);
	if (!open_stored_reader(st, &src, true))
		return false;
	/* load the META region now (one range read), not inside the transaction */
	if (des_reader_count(st->reader) > 0)
	{
		const char *meta;
		size_t		meta_len;

		if (!des_reader_meta(st->reader, 0, &meta, &meta_len, &err))
			return false;
	}
	st->etag = pstrdup(st->s3_object->etag);
	return true;
}

/* The adoption's transaction: commit the stored archive if it is exactly these objects. */
static void
adopt_transaction(void *arg)
{
	PackerStep *st = arg;

	if (!DesWorkerBegin("pg_des packer: adopting a stored container"))
		return;
	if (read_stored_entries(st, st->loc->kind == DES_LOCATION_S3))
	{
		commit_container(st, true);
		st->adopted = true;
	}
	DesWorkerCommit();
}

static bool
adopt_step(PackerStep *st, MemoryContext step_cxt)
{
	bool		s3 = st->loc->kind == DES_LOCATION_S3;

	set_phase(PHASE_ADOPTING);
	if (s3 && !read_stored_s3_entries(st, step_cxt))
	{
		step_cleanup(st);
		reset_commit_lists(st);
		return false;
	}
	st->adopted = false;
	/* an archive that does not match the catalog fails here: it is rolled back and written again */
	if (!DesWorkerGuard(adopt_transaction, st, NULL, DES_WORKER_EXPECTED_ERROR))
		st->adopted = false;
	MemoryContextSwitchTo(step_cxt);
	step_cleanup(st);
	if (!st->adopted)
		reset_commit_lists(st);
	else if (s3)
		remove_container_spools(st->container_id);	/* the uploads' spool files */
	return st->adopted;
}

/* ---- 3. write ---- */

static bool
writer_error_is_per_object(const des_error *err)
{
	return err->code == DES_E_INVALID_NAME || err->code == DES_E_INVALID_META ||
		err->code == DES_E_DUPLICATE_NAME || err->code == DES_E_HASH_MISMATCH;
}

/* A payload written into this container: where its bytes are, for the names that share them. */
typedef struct WrittenBlob
{
	unsigned char hash[DES_BLAKE2B_BYTES];	/* key */
	des_writer_entry where;
	bool		stored;			/* written (not only entered before the write) */
} WrittenBlob;

/* Open the container's archive writer at st->path; returns the table of payloads written into it, by hash. */
static HTAB *
open_container_writer(PackerStep *st, MemoryContext step_cxt)
{
	des_writer_options opts;
	des_error	err;
	HASHCTL		hctl;

	des_writer_options_init(&opts);
	opts.names = DES_NAMES_REFERENCE;	/* object names are keys: any the format holds */
	opts.blake2b = true;
	opts.lz4 = des_packer_lz4;
	opts.external_threshold = 0;	/* objects (at most 1 GB) live inside their container */

	MemoryContextSwitchTo(step_cxt);
	remove_stale_temps(st->path);
	if (!des_local_sink_open(st->path, &st->sink, &err))
		DesReportError(&err, st->location);
	st->sink_open = true;
	if (!des_writer_open(&st->sink, &opts, &st->writer, &err))
	{
		st->writer = NULL;
		DesReportError(&err, st->location);
	}
	memset(&hctl, 0, sizeof(hctl));
	hctl.keysize = DES_BLAKE2B_BYTES;
	hctl.entrysize = sizeof(WrittenBlob);
	hctl.hcxt = step_cxt;
	return hash_create("pg_des packer hashes", 1024, &hctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/*
 * The meta of an object's entry: "des_id" (the object's id, so that the
 * catalog can be rebuilt from storage: des.rebuild_catalog) first, then the
 * object's own meta (UTF-8 JSON object text; des_id is refused in it).
 */
/* Close an object whose first members buf holds with the members of the JSON object text meta. */
static void
append_members(StringInfo buf, const char *meta)
{
	const char *rest = meta;

	while (*rest == ' ' || *rest == '\t' || *rest == '\n' || *rest == '\r')
		rest++;
	if (*rest == '{')
		rest++;
	while (*rest == ' ' || *rest == '\t' || *rest == '\n' || *rest == '\r')
		rest++;
	if (*rest != '}')
		appendStringInfoChar(buf, ',');
	appendStringInfoString(buf, rest);
}

static char *
object_meta(const char *meta, int64 id)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"des_id\":" INT64_FORMAT, id);
	append_members(&buf, meta);
	return buf.data;
}

/*
 * The meta of a reference entry: an object whose bytes an earlier container
 * holds gets an empty entry of its own, so that the container lists every
 * object packed into it (docs/format.md, "Entries that refer to another
 * container"). des_ref comes first and names the bytes' BLAKE2b-256, size,
 * container and entry; the object's own meta (UTF-8 JSON text) follows.
 */
static char *
reference_meta(const char *meta, const unsigned char digest[DES_BLAKE2B_BYTES], int64 size,
			   const char *location, const char *entry)
{
	StringInfoData buf;
	char		hex[2 * DES_BLAKE2B_BYTES + 1];
	char	   *loc8 = pg_server_to_any(location, strlen(location), PG_UTF8);
	char	   *entry8 = pg_server_to_any(entry, strlen(entry), PG_UTF8);

	hex[hex_encode((const char *) digest, DES_BLAKE2B_BYTES, hex)] = '\0';
	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"des_ref\":{\"blake2b\":\"%s\",\"size\":" INT64_FORMAT ",\"container\":", hex, size);
	escape_json(&buf, loc8);
	appendStringInfoString(&buf, ",\"entry\":");
	escape_json(&buf, entry8);
	appendStringInfoChar(&buf, '}');
	append_members(&buf, meta);
	return buf.data;
}

/*
 * The entry of a linked object (its bytes stored already, not written
 * again): an alias over them when this container holds them (here), a
 * reference entry when an earlier container does (location, entry). Returns
 * 1 if an entry was added, 0 if none was due, -1 if the writer refused the
 * object (pushed as failed).
 */
static int
add_linked_entry(PackerStep *st, int64 id, const char *uname, size_t uname_len, const char *meta,
				 const unsigned char digest[DES_BLAKE2B_BYTES], int64 size, const WrittenBlob *here,
				 const char *location, const char *entry, MemoryContext step_cxt)
{
	des_error	err;
	bool		ok;

	if (here != NULL)
		ok = des_writer_add_alias(st->writer, uname, uname_len, &here->where, (uint64) size, digest,
								  meta, strlen(meta), &err);
	else if (location != NULL)
	{
		char	   *rmeta = reference_meta(meta, digest, size, location, entry);

		ok = des_writer_add(st->writer, uname, uname_len, "", 0, rmeta, strlen(rmeta), false, &err);
	}
	else
		return 0;
	if (ok)
		return 1;
	if (!writer_error_is_per_object(&err))
		DesReportError(&err, st->location);
	{
		MemoryContext old = MemoryContextSwitchTo(step_cxt);

		push_failure(st, id, err.message);
		MemoryContextSwitchTo(old);
	}
	return -1;
}

static void
write_entries(PackerStep *st, MemoryContext step_cxt)
{
	Oid			types[2] = {DATEOID, INT4OID};
	Datum		args[2] = {DateADTGetDatum(st->day), Int32GetDatum(st->shard)};
	des_error	err;
	Portal		cursor;
	HTAB	   *seen = open_container_writer(st, step_cxt);
	MemoryContext row_cxt = AllocSetContextCreate(step_cxt, "pg_des packer row", ALLOCSET_DEFAULT_SIZES);
	int64		bytes = 0;
	int			aliases = 0;
	bool		full = false;

	/* the shard's pack queue; OFFSET 0 keeps one index probe per queue row, whatever the statistics say */
	cursor = SPI_cursor_open_with_args(NULL,
									   "SELECT o.id, o.name, o.hash, o.meta::text AS meta, o.staged, "
									   "       r.location IS NOT NULL AS in_blobs, r.location AS ref_location, r.entry AS ref_entry "
									   "  FROM des.pack_queue q, "
									   "       LATERAL (SELECT * FROM des.objects o "
									   "                 WHERE o.id = q.object_id OFFSET 0) o "
									   "       LEFT JOIN LATERAL (SELECT c.location, b.entry FROM des.blobs b "
									   "                            JOIN des.containers c ON c.id = b.container_id "
									   "                           WHERE b.hash = o.hash) r ON true "
									   " WHERE q.day = $1 AND q.shard = $2 AND o.state = 'marked' "
									   " ORDER BY q.object_id",
									   2, types, args, NULL, true, CURSOR_OPT_NO_SCROLL);
	while (!full)
	{
		int			c_id,
					c_name,
					c_hash,
					c_meta,
					c_staged,
					c_in_blobs,
					c_ref_location,
					c_ref_entry;

		SPI_cursor_fetch(cursor, true, 256);
		if (SPI_processed == 0)
			break;
		/* columns by name, looked up once per fetch rather than per row */
		c_id = DesSpiColumnNumber("id");
		c_name = DesSpiColumnNumber("name");
		c_hash = DesSpiColumnNumber("hash");
		c_meta = DesSpiColumnNumber("meta");
		c_staged = DesSpiColumnNumber("staged");
		c_in_blobs = DesSpiColumnNumber("in_blobs");
		c_ref_location = DesSpiColumnNumber("ref_location");
		c_ref_entry = DesSpiColumnNumber("ref_entry");
		for (uint64 r = 0; r < SPI_processed && !full; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleDesc	td = SPI_tuptable->tupdesc;
			bool		isnull;
			int64		id = DatumGetInt64(SPI_getbinval(tup, td, c_id, &isnull));
			bytea	   *hash = DatumGetByteaPP(SPI_getbinval(tup, td, c_hash, &isnull));
			bool		in_blobs = DatumGetBool(SPI_getbinval(tup, td, c_in_blobs, &isnull));
			bool		dup_here;
			int			linked;
			WrittenBlob *written = NULL;
			des_writer_entry where;
			text	   *name;
			char	   *meta;
			bytea	   *data;
			const char *uname = NULL;
			size_t		uname_len = 0;

			check_shutdown("a container");
			MemoryContextReset(row_cxt);
			MemoryContextSwitchTo(row_cxt);
			data = DatumGetByteaPP(SPI_getbinval(tup, td, c_staged, &isnull));
			if (VARSIZE_ANY_EXHDR(hash) != DES_BLAKE2B_BYTES)	/* (a CHECK constraint forbids it) */
				elog(ERROR, "object " INT64_FORMAT " has a hash of %zu bytes", id, VARSIZE_ANY_EXHDR(hash));
			dup_here = false;
			if (!in_blobs)
			{
				written = hash_search(seen, VARDATA_ANY(hash), HASH_ENTER, &dup_here);
				if (!dup_here)
					written->stored = false;
			}
			/* the entry's name and meta: every object gets an entry here */
			name = DatumGetTextPP(SPI_getbinval(tup, td, c_name, &isnull));
			meta = TextDatumGetCString(SPI_getbinval(tup, td, c_meta, &isnull));
			uname = DesTextToUtf8(name, &uname_len);
			meta = object_meta(pg_server_to_any(meta, strlen(meta), PG_UTF8), id);
			if (in_blobs || dup_here)
			{
				unsigned char digest[DES_BLAKE2B_BYTES];

				/*
				 * Its bytes are stored already: link, do not write again. But
				 * only bytes that still have the hash they were marked with
				 * are those bytes (see below).
				 */
				blake2b(digest, VARDATA_ANY(data), NULL, DES_BLAKE2B_BYTES, VARSIZE_ANY_EXHDR(data), 0);
				if (memcmp(digest, VARDATA_ANY(hash), DES_BLAKE2B_BYTES) != 0)
				{
					MemoryContextSwitchTo(step_cxt);
					push_failure(st, id, changed_since_marking);
					continue;
				}

				/*
				 * The object gets an entry of its own, so the archive lists
				 * every name it holds: an alias over bytes written into this
				 * container a moment ago (no byte stored twice), or a
				 * reference to an earlier container's.
				 */
				linked = add_linked_entry(st, id, uname, uname_len, meta, digest, VARSIZE_ANY_EXHDR(data),
										  dup_here && written->stored ? written : NULL,
										  in_blobs ? TextDatumGetCString(SPI_getbinval(tup, td, c_ref_location, &isnull)) : NULL,
										  in_blobs ? TextDatumGetCString(SPI_getbinval(tup, td, c_ref_entry, &isnull)) : NULL,
										  step_cxt);
				if (linked < 0)
					continue;
				aliases += linked;
				MemoryContextSwitchTo(step_cxt);
				DesVecPush(&st->linked, Int64GetDatum(id));
				full = st->ids.n + aliases >= des_container_max_entries;
				continue;
			}

			/*
			 * Written only if the bytes still have the hash the marker
			 * recorded: that hash becomes the blob's key, which later objects
			 * are deduplicated against. Bytes changed by hand since marking
			 * send the object back to be marked again. (The writer hashes
			 * the payload anyway, for the entry's meta.)
			 */
			if (!des_writer_add_verified(st->writer, uname, uname_len, VARDATA_ANY(data),
										 VARSIZE_ANY_EXHDR(data), meta, strlen(meta),
										 (const unsigned char *) VARDATA_ANY(hash), &err))
			{
				if (!writer_error_is_per_object(&err))
					DesReportError(&err, st->location);
				/* this object cannot be archived: it fails alone, the rest goes on */
				(void) hash_search(seen, VARDATA_ANY(hash), HASH_REMOVE, NULL);
				MemoryContextSwitchTo(step_cxt);
				push_failure(st, id, err.code == DES_E_HASH_MISMATCH ? changed_since_marking : err.message);
				continue;
			}
			bytes += VARSIZE_ANY_EXHDR(data);
			MemoryContextSwitchTo(step_cxt);
			DesVecPush(&st->ids, Int64GetDatum(id));
			DesVecPush(&st->hashes, PointerGetDatum(DatumGetByteaPCopy(PointerGetDatum(hash))));
			des_writer_last_entry(st->writer, &where);
			written->where = where;
			written->stored = true;
			push_entry_location(st, where.data_offset, where.length, where.flags);
			if (st->ids.n == 1)
				DesDebugPause("mid_write", check_shutdown);
			full = st->ids.n + aliases >= des_container_max_entries ||
				bytes >= (int64) des_container_max_bytes_kb * 1024;
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(cursor);
	MemoryContextSwitchTo(step_cxt);
	MemoryContextDelete(row_cxt);
	st->named = st->ids.n + aliases;
}

/* A payload committed before, by hash: where it is (for reference entries). */
typedef struct StoredBlob
{
	unsigned char hash[DES_BLAKE2B_BYTES];	/* key */
	char	   *location;
	char	   *entry;
} StoredBlob;

/* A BLAKE2b-256 as a bytea, for the commit's arrays. */
static bytea *
digest_bytea(const unsigned char digest[DES_BLAKE2B_BYTES])
{
	bytea	   *h = palloc(VARHDRSZ + DES_BLAKE2B_BYTES);

	SET_VARSIZE(h, VARHDRSZ + DES_BLAKE2B_BYTES);
	memcpy(VARDATA(h), digest, DES_BLAKE2B_BYTES);
	return h;
}

/*
 * The container of des.incoming rows (from_id, to_id], read in id order:
 * each payload is hashed here, once (the writer records that hash), and
 * looked up among the committed blobs a fetch at a time. A payload stored
 * already is not written again (an alias entry when its bytes are in this
 * container); a row the writer refuses is rejected at the commit. st->upto
 * is the last row read: the container covers the rows up to it.
 */
static void
write_incoming_entries(PackerStep *st, MemoryContext step_cxt)
{
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		args[2] = {Int64GetDatum(st->from_id), Int64GetDatum(st->to_id)};
	des_error	err;
	Portal		cursor;
	HTAB	   *seen = open_container_writer(st, step_cxt);
	HTAB	   *stored_before;
	HASHCTL		hctl;
	MemoryContext batch_cxt = AllocSetContextCreate(step_cxt, "pg_des packer batch", ALLOCSET_DEFAULT_SIZES);
	int64		bytes = 0;
	int			entries = 0;
	bool		full = false;

	memset(&hctl, 0, sizeof(hctl));
	hctl.keysize = DES_BLAKE2B_BYTES;
	hctl.entrysize = sizeof(StoredBlob);
	hctl.hcxt = batch_cxt;
	/*
	 * (des_ref and des_id are the packers' keys in entries' meta: an
	 * object's own meta must not use them.)
	 */
	cursor = SPI_cursor_open_with_args(NULL,
									   "SELECT i.id, i.name, i.meta::text AS meta, i.data, i.meta ?| ARRAY['des_ref', 'des_id'] AS uses_ref "
									   "  FROM des.incoming i WHERE i.id > $1 AND i.id <= $2 ORDER BY i.id",
									   2, types, args, NULL, true, CURSOR_OPT_NO_SCROLL);
	while (!full)
	{
		SPITupleTable *batch;
		uint64		n;
		unsigned char (*digests)[DES_BLAKE2B_BYTES];
		DesDatumVec	probe = {0};
		int			c_id,
					c_name,
					c_meta,
					c_data,
					c_uses_ref;
		DesDatumVec	names = {0};
		HTAB	   *taken;
		HASHCTL		nctl;
		Oid			ptypes[1] = {BYTEAARRAYOID};
		Oid			ntypes[1] = {TEXTARRAYOID};
		Datum		pargs[1];

		SPI_cursor_fetch(cursor, true, 256);
		if (SPI_processed == 0)
		{
			st->upto = st->to_id;	/* every row of the range read: the container covers it all */
			break;
		}
		batch = SPI_tuptable;
		n = SPI_processed;
		c_id = DesSpiColumnNumber("id");
		c_name = DesSpiColumnNumber("name");
		c_meta = DesSpiColumnNumber("meta");
		c_data = DesSpiColumnNumber("data");
		c_uses_ref = DesSpiColumnNumber("uses_ref");
		MemoryContextReset(batch_cxt);
		MemoryContextSwitchTo(batch_cxt);
		/* hash the fetch, then one probe of des.blobs for all of it */
		digests = palloc(n * DES_BLAKE2B_BYTES);
		for (uint64 r = 0; r < n; r++)
		{
			bool		isnull;
			bytea	   *data = DatumGetByteaPP(SPI_getbinval(batch->vals[r], batch->tupdesc, c_data, &isnull));

			CHECK_FOR_INTERRUPTS();
			blake2b(digests[r], VARDATA_ANY(data), NULL, DES_BLAKE2B_BYTES, VARSIZE_ANY_EXHDR(data), 0);
			DesVecPush(&probe, PointerGetDatum(digest_bytea(digests[r])));
			DesVecPush(&names, SPI_getbinval(batch->vals[r], batch->tupdesc, c_name, &isnull));
		}
		stored_before = hash_create("pg_des packer stored blobs", 256, &hctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		pargs[0] = DesVecArray(&probe, BYTEAOID);
		if (SPI_execute_with_args("SELECT b.hash, c.location, b.entry FROM des.blobs b "
								  "  JOIN des.containers c ON c.id = b.container_id WHERE b.hash = ANY ($1)",
								  1, ptypes, pargs, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not look up blobs");
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			bool		isnull;
			HeapTuple	t = SPI_tuptable->vals[r];
			bytea	   *h = DatumGetByteaPP(SPI_getbinval(t, SPI_tuptable->tupdesc, 1, &isnull));
			StoredBlob *b;

			if (VARSIZE_ANY_EXHDR(h) != DES_BLAKE2B_BYTES)
				continue;
			b = hash_search(stored_before, VARDATA_ANY(h), HASH_ENTER, NULL);
			b->location = TextDatumGetCString(SPI_getbinval(t, SPI_tuptable->tupdesc, 2, &isnull));
			b->entry = TextDatumGetCString(SPI_getbinval(t, SPI_tuptable->tupdesc, 3, &isnull));
		}
		SPI_freetuptable(SPI_tuptable);
		/* names objects have already: those rows are rejected before they are written */
		memset(&nctl, 0, sizeof(nctl));
		nctl.keysize = sizeof(int64);
		nctl.entrysize = sizeof(int64);
		nctl.hcxt = batch_cxt;
		taken = hash_create("pg_des packer taken names", 16, &nctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		pargs[0] = DesVecArray(&names, TEXTOID);
		if (SPI_execute_with_args("SELECT w.n FROM unnest($1::text[]) WITH ORDINALITY AS w(name, n) "
								  " WHERE EXISTS (SELECT FROM des.objects o WHERE o.name = w.name)",
								  1, ntypes, pargs, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not look up object names");
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			bool		isnull;
			int64		k = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull)) - 1;

			(void) hash_search(taken, &k, HASH_ENTER, NULL);
		}
		SPI_freetuptable(SPI_tuptable);

		for (uint64 r = 0; r < n && !full; r++)
		{
			HeapTuple	tup = batch->vals[r];
			TupleDesc	td = batch->tupdesc;
			bool		isnull;
			int64		id = DatumGetInt64(SPI_getbinval(tup, td, c_id, &isnull));
			bytea	   *data = DatumGetByteaPP(SPI_getbinval(tup, td, c_data, &isnull));
			char	   *meta = TextDatumGetCString(SPI_getbinval(tup, td, c_meta, &isnull));
			size_t		uname_len;
			const char *uname = DesTextToUtf8(DatumGetTextPP(SPI_getbinval(tup, td, c_name, &isnull)), &uname_len);
			size_t		len = VARSIZE_ANY_EXHDR(data);
			bool		dup_here = false;
			WrittenBlob *written = NULL;
			StoredBlob *before;
			int			linked;
			int64		k = (int64) r;
			bool		name_taken = hash_search(taken, &k, HASH_FIND, NULL) != NULL;

			check_shutdown("a container");
			st->upto = id;
			meta = object_meta(pg_server_to_any(meta, strlen(meta), PG_UTF8), id);
			if (DatumGetBool(SPI_getbinval(tup, td, c_uses_ref, &isnull)) || name_taken)
			{
				char	   *why = name_taken ?
					psprintf("an object named %s exists",
							 quote_literal_cstr(TextDatumGetCString(SPI_getbinval(tup, td, c_name, &isnull)))) :
					"object meta must not use the keys des_ref or des_id (the packers' keys)";

				MemoryContextSwitchTo(step_cxt);
				push_failure(st, id, why);
				MemoryContextSwitchTo(batch_cxt);
				continue;
			}
			before = hash_search(stored_before, digests[r], HASH_FIND, NULL);
			if (before == NULL)
			{
				written = hash_search(seen, digests[r], HASH_ENTER, &dup_here);
				if (!dup_here)
					written->stored = false;
			}
			if (written == NULL || dup_here)
			{
				/* stored already: an alias over those bytes, or a reference to them */
				linked = add_linked_entry(st, id, uname, uname_len, meta, digests[r], (int64) len,
										  dup_here && written->stored ? written : NULL,
										  before ? before->location : NULL, before ? before->entry : NULL, step_cxt);
				if (linked < 0)
					continue;
				entries += linked;
				MemoryContextSwitchTo(step_cxt);
				DesVecPush(&st->linked, Int64GetDatum(id));
				DesVecPush(&st->linked_hashes, PointerGetDatum(digest_bytea(digests[r])));
				DesVecPush(&st->linked_sizes, Int64GetDatum((int64) len));
				MemoryContextSwitchTo(batch_cxt);
				full = entries >= des_container_max_entries;
				continue;
			}
			if (!des_writer_add_hashed(st->writer, uname, uname_len, VARDATA_ANY(data), len,
									   meta, strlen(meta), digests[r], &err))
			{
				if (!writer_error_is_per_object(&err))
					DesReportError(&err, st->location);
				(void) hash_search(seen, digests[r], HASH_REMOVE, NULL);
				MemoryContextSwitchTo(step_cxt);
				push_failure(st, id, err.message);
				MemoryContextSwitchTo(batch_cxt);
				continue;
			}
			bytes += len;
			entries++;
			MemoryContextSwitchTo(step_cxt);
			DesVecPush(&st->ids, Int64GetDatum(id));
			DesVecPush(&st->hashes, PointerGetDatum(digest_bytea(digests[r])));
			DesVecPush(&st->sizes, Int64GetDatum((int64) len));
			des_writer_last_entry(st->writer, &written->where);
			written->stored = true;
			push_entry_location(st, written->where.data_offset, written->where.length, written->where.flags);
			MemoryContextSwitchTo(batch_cxt);
			if (st->ids.n == 1)
				DesDebugPause("mid_write", check_shutdown);
			full = entries >= des_container_max_entries || bytes >= (int64) des_container_max_bytes_kb * 1024;
		}
		SPI_freetuptable(batch);
	}
	SPI_cursor_close(cursor);
	MemoryContextSwitchTo(step_cxt);
	MemoryContextDelete(batch_cxt);
	st->named = entries;
}

/* Finish (or drop, when empty) the archive; true if one was stored at st->path. */
static bool
finish_archive(PackerStep *st)
{
	des_writer *w = st->writer;
	des_writer_summary sum;
	des_error	err;

	st->writer = NULL;			/* finish and abort free it, even on failure */
	/* (a container of reference entries only is kept: it names its objects) */
	if (st->named == 0)
	{
		des_writer_abort(w);
		/* an earlier attempt may have stored an archive there */
		if (unlink(st->path) != 0 && errno != ENOENT)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not remove \"%s\": %m", st->path)));
		return false;
	}
	if (!des_writer_finish(w, &sum, &err))
		DesReportError(&err, st->location);
	st->archive_size = (int64) sum.archive_bytes;
	return true;
}

/* S3: upload the spool file, then commit in a new transaction. */
static void
upload_and_commit(PackerStep *st, MemoryContext step_cxt)
{
	des_error	err;
	char	   *buf;
	bool		unchanged;
	ssize_t		n;

	set_phase(PHASE_UPLOADING);
	resolve_endpoint(st, step_cxt);
	MemoryContextSwitchTo(step_cxt);
	pgstat_report_activity(STATE_RUNNING, psprintf("pg_des packer: uploading %s", st->location));
	st->spool_fd = open(st->path, O_RDONLY | O_CLOEXEC);
	if (st->spool_fd < 0)
	{
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open spool file \"%s\": %m", st->path)));
	}
	if (!DesS3SinkOpen(st->ep, st->loc->bucket, st->loc->key, st->location, &st->sink, &st->s3_sink, &err))
		DesReportError(&err, st->location);
	buf = palloc(1024 * 1024);
	while ((n = read(st->spool_fd, buf, 1024 * 1024)) != 0)
	{
		check_shutdown("an upload");
		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read spool file \"%s\": %m", st->path)));
		}
		if (!st->sink.write(st->sink.ctx, buf, (size_t) n, &err))
			DesReportError(&err, st->location);
	}
	DesDebugPause("mid_upload", check_shutdown);
	/*
	 * No row lock is held during an upload. Another packer that takes the
	 * lease writes a key of its own, so completing late cannot harm it; but
	 * an upload that would complete past the lease is abandoned (aborting
	 * the multipart upload) rather than left for des.orphans.
	 */
	if (GetCurrentTimestamp() >= st->lease_until - 5 * USECS_PER_SEC)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("packer abandons the upload of \"%s\": its lease ran out", st->location),
				 errhint("Raise des.lease_timeout above the time an upload takes.")));
	if (!st->sink.commit(st->sink.ctx, &err))
		DesReportError(&err, st->location);
	DesS3SinkFree(st->s3_sink);
	st->s3_sink = NULL;
	close(st->spool_fd);
	st->spool_fd = -1;
	/* the stored object's ETag, and a check that it is the whole archive */
	if (!DesS3ObjectOpen(st->ep, st->loc->bucket, st->loc->key, st->location, NULL,
						 &st->s3_object, &unchanged, &err))
		DesReportError(&err, st->location);
	if ((int64) st->s3_object->size != st->archive_size)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("uploaded container \"%s\" has " UINT64_FORMAT " bytes, not " INT64_FORMAT,
						st->location, st->s3_object->size, st->archive_size)));
	st->etag = pstrdup(st->s3_object->etag);
	DesS3ObjectFree(st->s3_object);
	st->s3_object = NULL;
	DesDebugPause("after_upload", check_shutdown);

	if (!DesWorkerBegin("pg_des packer: committing an uploaded container"))
		return;
	commit_container(st, false);
	DesWorkerCommit();
	remove_container_spools(st->container_id);
}

/*
 * S3: delete the key an earlier attempt at a container of des.incoming rows
 * may have uploaded (such containers are written again, never adopted), with
 * no transaction open. Nothing refers to that key any more; a failure is
 * only logged (des.orphans then lists the key).
 */
static void
delete_abandoned_key(PackerStep *st, const DesLocation *old_loc, MemoryContext step_cxt)
{
	DesS3Transfer t;
	des_error	err;

	resolve_endpoint(st, step_cxt);
	MemoryContextSwitchTo(step_cxt);
	DesS3TransferInit(&t, DES_S3_DELETE, "DELETE", old_loc->bucket, old_loc->key);
	(void) DesS3Perform(st->ep, &t, 1, 1);
	if (!DesS3Ok(&t))
	{
		DesS3FillError(&t, "DELETE", old_loc->original, &err);
		ereport(WARNING,
				(errmsg("pg_des packer: could not delete the abandoned container \"%s\": %s",
						old_loc->original, err.message)));
	}
	DesS3TransferFree(&t);
}

/*
 * Write under this lease's own key. A resumed container moves its key there
 * in a transaction of its own (committed before any byte is written, so a
 * crash after the write finds the archive to adopt); the key it leaves is
 * never read again.
 */
static bool
begin_attempt(PackerStep *st, MemoryContext step_cxt)
{
	Oid			types[3] = {INT8OID, INT8OID, TEXTOID};
	Datum		args[3];
	char	   *old_path = st->loc->kind == DES_LOCATION_LOCAL ? st->loc->path : NULL;
	DesLocation *old_loc = st->loc;

	if (strcmp(st->location, st->write_location) != 0)
	{
		if (!DesWorkerBegin("pg_des packer: writing a resumed container under a new key"))
			return false;
		args[0] = Int64GetDatum(st->container_id);
		args[1] = Int64GetDatum(st->token);
		args[2] = CStringGetTextDatum(st->write_location);
		if (SPI_execute_with_args("SELECT des_internal.container_attempt(container_id => $1, lease_token => $2, location => $3)",
								  3, types, args, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "des_internal.container_attempt failed");
		DesWorkerCommit();
		MemoryContextSwitchTo(step_cxt);
		st->location = st->write_location;
		st->loc = DesParseLocation(st->location);
		st->path = st->loc->kind == DES_LOCATION_LOCAL ? st->loc->path : spool_path(st);
		if (old_path)
		{
			remove_stale_temps(old_path);	/* an earlier attempt's, at the old key */
			/* a container of des.incoming rows is written again, never adopted: what is there goes */
			if (st->incoming && unlink(old_path) != 0 && errno != ENOENT)
				ereport(WARNING,
						(errcode_for_file_access(),
						 errmsg("could not remove \"%s\": %m", old_path)));
		}
		else if (st->incoming)
			delete_abandoned_key(st, old_loc, step_cxt);
	}
	return true;
}

static void
write_step(PackerStep *st, MemoryContext step_cxt)
{
	bool		stored;
	Oid			types[3] = {DATEOID, INT4OID, INT8OID};
	Datum		args[3] = {DateADTGetDatum(st->day), Int32GetDatum(st->shard), Int64GetDatum(st->token)};
	Oid			itypes[2] = {INT8OID, INT8OID};
	Datum		iargs[2] = {Int64GetDatum(st->range_id), Int64GetDatum(st->token)};
	bool		isnull;
	char	   *activity;

	set_phase(PHASE_WRITING);
	if (!begin_attempt(st, step_cxt))
		return;
	activity = psprintf("pg_des packer: writing %s", st->location);
	if (!DesWorkerBegin(activity))
		return;
	/* hold the lease row until the commit: no other packer can take it meanwhile */
	if (!(st->incoming ?
		  DesSpiOneRow("SELECT des_internal.hold_incoming_lease(range_id => $1, token => $2) AS held",
					   2, itypes, iargs, NULL) :
		  DesSpiOneRow("SELECT des_internal.hold_lease(day => $1, shard => $2, token => $3) AS held",
					   3, types, args, NULL)) ||
		!DatumGetBool(DesSpiGet(0, "held", &isnull)))
	{
		ereport(LOG,
				(errmsg("pg_des packer: lease on container \"%s\" was lost; leaving it to its new holder",
						st->location)));
		DesWorkerCommit();
		return;
	}
	if (st->incoming)
		write_incoming_entries(st, step_cxt);
	else
		write_entries(st, step_cxt);
	stored = finish_archive(st);
	step_cleanup(st);
	DesDebugPause("after_write", check_shutdown);
	if (st->loc->kind == DES_LOCATION_LOCAL || !stored)
		commit_container(st, false);
	else
	{
		/* S3: the spool file is complete; upload it with no transaction open */
		Oid			utypes[4] = {INT8OID, INT8OID, INT8OID, INT4OID};
		Datum		uargs[4] = {Int64GetDatum(st->container_id), Int64GetDatum(st->token),
		Int64GetDatum(st->archive_size), Int32GetDatum(st->ids.n)};

		if (SPI_execute_with_args("SELECT des_internal.container_uploading(container_id => $1, lease_token => $2, "
								  "archive_size => $3, entries => $4)",
								  4, utypes, uargs, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "des_internal.container_uploading failed");
	}
	DesWorkerCommit();
	if (st->loc->kind == DES_LOCATION_S3 && stored)
		upload_and_commit(st, step_cxt);
}

/* ---- des.incoming ---- */

/*
 * A tick makes des.incoming rows final: every row with an id up to upto is
 * committed, or never will be. Rows take their ids from the column default,
 * inside an INSERT or COPY that holds a lock on the table: so once the
 * transactions holding such a lock when upto was drawn have ended, no row
 * with a lower id can appear. (Waiting for them is checked at each
 * iteration, never blocking; the candidate lives in this process only.)
 */
static int64 tick_upto = 0;
static VirtualTransactionId *tick_waits = NULL;
static int	tick_n_waits = 0;

static void
incoming_tick(void *arg)
{
	bool		isnull;
	int			still = 0;

	(void) arg;
	if (tick_upto == 0)
	{
		Oid			relid;
		LOCKTAG		tag;
		VirtualTransactionId *holders;
		int			n;

		relid = get_relname_relid("incoming", get_namespace_oid("des", true));
		if (!OidIsValid(relid) ||
			!DesSpiOneRow("SELECT des_internal.incoming_needs_tick() AS needs", 0, NULL, NULL, NULL) ||
			!DatumGetBool(DesSpiGet(0, "needs", &isnull)))
			return;
		/* the id first, then who holds the lock: any row with a lower id is theirs or committed */
		tick_upto = DesNextId();
		SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
		holders = GetLockConflicts(&tag, ShareLock, &n);
		tick_waits = MemoryContextAlloc(TopMemoryContext, sizeof(VirtualTransactionId) * (n + 1));
		tick_n_waits = 0;
		for (int i = 0; i < n && VirtualTransactionIdIsValid(holders[i]); i++)
			tick_waits[tick_n_waits++] = holders[i];
	}
	for (int i = 0; i < tick_n_waits; i++)
		if (!VirtualXactLock(tick_waits[i], false))
			tick_waits[still++] = tick_waits[i];
	tick_n_waits = still;
	if (still > 0)
		return;
	{
		Oid			types[1] = {INT8OID};
		Datum		args[1] = {Int64GetDatum(tick_upto)};

		if (SPI_execute_with_args("SELECT des_internal.incoming_advance(upto => $1)", 1, types, args, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "des_internal.incoming_advance failed");
	}
	pfree(tick_waits);
	tick_waits = NULL;
	tick_upto = 0;
}

/* Empty des.incoming when every row in it is packed (des_internal.incoming_truncate). */
static void
incoming_truncate(void *arg)
{
	(void) arg;
	if (SPI_execute("SELECT des_internal.incoming_truncate()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "des_internal.incoming_truncate failed");
}

/* ---- the loop ---- */

/*
 * The step (run by DesWorkerGuard): lease a (day, shard), or the rows of
 * des.incoming (which comes first alternates, so that neither starves the
 * other), then adopt or write. A container of des.incoming rows is never
 * adopted: a resumed one is written again from the rows.
 */
static bool incoming_first = false;

static void
step_run(void *arg)
{
	PackerStep *st = arg;

	incoming_first = !incoming_first;
	st->leased = lease_work(st, holder, incoming_first);
	if (!st->leased)
		st->leased = lease_work(st, holder, !incoming_first);
	if (st->leased)
	{
		DesDebugPause("after_lease", check_shutdown);
		if (st->incoming || !(st->resumed && adopt_step(st, st->cxt)))
			write_step(st, st->cxt);
	}
}

/* On an error in the step, before the rollback: close what it has open outside the transaction. */
static void
step_failed(void *arg)
{
	PackerStep *st = arg;

	if (st->leased)
		step_cleanup(st);
}

/* One step; true if it did work (so the next one should follow at once). */
static bool
packer_step(MemoryContext step_cxt)
{
	PackerStep *st = palloc0(sizeof(PackerStep));

	st->spool_fd = -1;
	st->cxt = step_cxt;
	st->cleanup.func = step_cleanup;
	st->cleanup.arg = st;
	MemoryContextRegisterResetCallback(step_cxt, &st->cleanup);

	if (!DesWorkerGuard(step_run, st, step_failed, 0) && st->leased)
	{
		/* an S3 attempt's spool file: the next lease writes its own */
		if (st->loc && st->loc->kind == DES_LOCATION_S3 && st->path &&
			unlink(st->path) != 0 && errno != ENOENT)
			ereport(WARNING,
					(errcode_for_file_access(),
					 errmsg("could not remove spool file \"%s\": %m", st->path)));
		/* give the lease back so the work is retried now, not at its expiry */
		(void) DesWorkerRunUnit("pg_des packer: releasing a lease", release_lease, st);
		st->leased = false;
	}
	set_phase(PHASE_IDLE);
	return st->leased;
}

/* keeps "<container id>-t<lease token>.des" of a container that is still open (SPI connected) */
static bool
of_open_container(const char *name, void *arg)
{
	char	   *end;
	long long	id = strtoll(name, &end, 10);
	Oid			types[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum((int64) id)};

	if (end != name && strncmp(end, "-t", 2) == 0)
		(void) strtoll(end + 2, &end, 10);
	return end != name && strcmp(end, ".des") == 0 &&
		DesSpiOneRow("SELECT FROM des.containers WHERE id = $1 AND state <> 'committed'",
					 1, types, args, NULL);
}

/*
 * Spool files (S3 storage) of containers that are no longer open: left by a
 * crash after the commit, or by a container since dropped. Files of open
 * containers are kept: their lease holder overwrites or uploads them.
 */
static void
remove_stale_spool_files(void)
{
	remove_spool_files(of_open_container, NULL);
}

/* At start (a unit of work): leases this packer's previous process held are free at once. */
static void
release_own_leases(void *arg)
{
	Oid			types[1] = {TEXTOID};
	Datum		args[1];

	args[0] = CStringGetTextDatum(psprintf("packer %d %%", my_index));
	if (SPI_execute_with_args("UPDATE des.shard_leases SET holder = NULL, expires_at = NULL "
							  "WHERE holder LIKE $1", 1, types, args, NULL, false, 0) < 0 ||
		SPI_execute_with_args("UPDATE des.incoming_ranges SET holder = NULL, expires_at = NULL "
							  "WHERE holder LIKE $1", 1, types, args, NULL, false, 0) < 0)
		elog(ERROR, "could not release leases");
	remove_stale_spool_files();
}

static void
packer_start(int number)
{
	my_index = number;
	holder = MemoryContextStrdup(TopMemoryContext, psprintf("packer %d pid %d", my_index, MyProcPid));
}

static bool released = false;	/* the leases of a previous run */

/* One iteration of a packer; returns how long to nap (0: go on at once). */
static long
packer_iterate(MemoryContext loop_cxt)
{
	MemoryContext step_cxt;
	bool		worked;

	if (shutdown_requested)
		proc_exit(1);
	if (!released)
	{
		released = DesWorkerRunUnit("pg_des packer: releasing leases of a previous run",
									release_own_leases, NULL);
		if (!released)
			return shutdown_requested ? 0 : des_packer_naptime_ms;
	}
	/* a child of the loop context: deleted (its reset callback run) before the next step */
	(void) DesWorkerRunUnit("pg_des packer: making des.incoming rows final", incoming_tick, NULL);
	step_cxt = AllocSetContextCreate(loop_cxt, "pg_des packer step", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(step_cxt);
	worked = packer_step(step_cxt);
	(void) DesWorkerRunUnit("pg_des packer: emptying des.incoming", incoming_truncate, NULL);
	return (worked || shutdown_requested) ? 0 : des_packer_naptime_ms;
}

static const DesWorkerLoop packer_loop = {
	.sigterm = packer_sigterm,
	.shutdown_deadline = true,
	.start = packer_start,
	.iterate = packer_iterate,
};

PGDLLEXPORT void DesPackerMain(Datum arg);

void
DesPackerMain(Datum arg)
{
	DesWorkerRun(&packer_kind, arg, &packer_loop);
}

PG_FUNCTION_INFO_V1(des_packer_stats);
PG_FUNCTION_INFO_V1(des_wake_packers);
PG_FUNCTION_INFO_V1(des_storage_root);

static void
packer_stats_row(DesWorkerSlot *s, Datum *values, bool *nulls)
{
	uint64		last = DesWorkerSlotCounter(s, PACKER_LAST_COMMIT_AT);
	uint32		phase = pg_atomic_read_u32(&s->phase);

	values[2] = CStringGetTextDatum(phase_names[phase <= PHASE_COMMITTING ? phase : PHASE_IDLE]);
	values[3] = Int64GetDatum((int64) DesWorkerSlotCounter(s, PACKER_CONTAINERS));
	values[4] = Int64GetDatum((int64) DesWorkerSlotCounter(s, PACKER_ADOPTED));
	values[5] = Int64GetDatum((int64) DesWorkerSlotCounter(s, PACKER_OBJECTS));
	values[6] = Int64GetDatum((int64) DesWorkerSlotCounter(s, PACKER_DEDUPLICATED));
	values[7] = Int64GetDatum((int64) DesWorkerSlotCounter(s, PACKER_BYTES));
	values[8] = Int64GetDatum((int64) DesWorkerSlotCounter(s, PACKER_DEAD));
	values[9] = Int64GetDatum((int64) pg_atomic_read_u64(&s->errors));
	values[10] = TimestampTzGetDatum((TimestampTz) last);
	nulls[10] = last == 0;
}

/* One row per configured packer: pid (NULL when not running), phase, counters. */
Datum
des_packer_stats(PG_FUNCTION_ARGS)
{
	DesWorkerStatsSRF(fcinfo, &packer_kind, packer_stats_row);
	return (Datum) 0;
}

/* Wake every running packer now; returns how many were woken. */
Datum
des_wake_packers(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(DesWorkerWake(&packer_kind));
}

Datum
des_storage_root(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(DesStorageRoot()));
}

/* The settings of this area (called from _PG_init). */
void
DesPackerDefineSettings(void)
{
	/* a server-start setting exists only when preloaded (defining it later is FATAL) */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("des.packers",
								"Number of packer background workers.",
								NULL,
								&des_packers, 1, 0, DES_MAX_PACKERS,
								PGC_POSTMASTER, 0, NULL, NULL, NULL);
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
	DefineCustomBoolVariable("des.packer_lz4",
							 "Packers LZ4-compress entries that shrink (flag 0x02; only pg_des reads such entries).",
							 NULL,
							 &des_packer_lz4, false, PGC_SIGHUP, 0, NULL, NULL, NULL);
}
