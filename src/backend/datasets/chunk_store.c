/*
 * chunk_store.c - file contents of versioned datasets: cut into
 * content-defined chunks (docs/chunking.md), each chunk stored once as a
 * blob (the keys of des.blobs, shared with the pipeline), the chunk list
 * recorded per repo in des.dataset_contents; and read back by byte range.
 *
 * New chunks stream into containers of the storage root's
 * "datasets/<database oid>/" directory (the storage root is the cluster's;
 * each database's catalog accounts for its own files), one open at a time, written in the caller's transaction: the
 * container's row and its blobs' rows are inserted by DesChunkStoreFinish,
 * so they commit or vanish with what refers to them. A container whose
 * transaction aborts after its file was completed is left in storage with no
 * row; its name carries the writing transaction's id
 * (datasets/<database oid>/YYYY-MM-DD/<container id>-x<xid>.des) so that des.orphans lists
 * it once that transaction is over, never while it may still commit.
 */
#include "pg_des.h"
#include "datasets/datasets.h"
#include "pipeline/pipeline.h"
#include "archive/archive.h"

#include <blake2.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "storage/fd.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "utils/memutils.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "des/chunk/des_chunker.h"
#include "des/format/des_format.h"
#include "des/format/des_writer.h"
#include "des/io/des_local.h"
#include "s3/s3.h"
#include "workers/workers.h"

typedef struct WrittenChunk
{
	unsigned char hash[DES_TREE_HASH_BYTES];	/* the key */
} WrittenChunk;

struct DesChunkStore
{
	MemoryContext cxt;
	MemoryContextCallback cleanup;
	des_chunk_params params;
	HTAB	   *written;		/* chunks written by this store (any of its containers) */

	/* the open container */
	bool		open;
	int64		container_id;
	char	   *location;
	DesLocation *loc;
	des_sink	sink;
	bool		sink_open;
	DesS3Sink  *s3_sink;
	des_writer *writer;
	DesDatumVec hashes;			/* its new blobs: hash, size, offset, stored size, flags, entry */
	DesDatumVec sizes;
	DesDatumVec offsets;
	DesDatumVec stored;
	DesDatumVec flags;
	DesDatumVec entries;
	uint64		bytes;

	/*
	 * Compaction (DesChunkStoreCompactInto): the blobs written are copies of
	 * blobs living in these containers, whose rows are re-pointed at the
	 * new container instead of inserted; its row says origin 'compaction'
	 * and the day of what it holds.
	 */
	Datum		compact_from;	/* bigint[], or 0 */
	DateADT		compact_day;
};

char	   *des_storage_server = NULL;

/*
 * A container's location, served (when on S3) by des.storage_server with the
 * extension owner's user mapping: never by a server the caller's session
 * names, so every role reads and writes the same storage.
 */
DesLocation *
DesStorageLocation(const char *location)
{
	DesLocation *loc = DesParseLocation(location);

	if (loc->kind == DES_LOCATION_S3)
	{
		if (des_storage_server == NULL || des_storage_server[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("des.storage_server is not set, and the storage \"%s\" is on S3", location),
					 errhint("Set des.storage_server (as a superuser) to the des_fdw server that serves des.storage, "
							 "with a user mapping for the extension's owner.")));
		loc->server = des_storage_server;
	}
	return loc;
}

void
DesDatasetsDefineSettings(void)
{
	DefineCustomStringVariable("des.storage_server",
							   "Foreign server (des_fdw) serving des.storage when it is an s3:// URL, for versioned datasets.",
							   "Its user mapping for the extension's owner is used: the dataset functions store and read as the owner.",
							   &des_storage_server, "", PGC_SUSET, 0, NULL, NULL, NULL);
}

void
DesChunkerParams(des_chunker_params *p)
{
	des_chunk_params d = des_chunk_params_default();

	p->algorithm = DES_CHUNK_VERSION;
	p->min_size = d.min_size;
	p->avg_size = d.avg_size;
	p->max_size = d.max_size;
}

static void
close_container(DesChunkStore *cs)
{
	if (cs->writer)
	{
		des_writer_abort(cs->writer);
		cs->writer = NULL;
	}
	if (cs->sink_open)
	{
		if (cs->s3_sink)
			DesS3SinkFree(cs->s3_sink);
		else
			des_local_sink_free(&cs->sink);
		cs->s3_sink = NULL;
		cs->sink_open = false;
	}
	cs->open = false;
}

static void
chunk_store_cleanup(void *arg)
{
	close_container((DesChunkStore *) arg);
}

DesChunkStore *
DesChunkStoreCreate(MemoryContext cxt)
{
	DesChunkStore *cs = MemoryContextAllocZero(cxt, sizeof(DesChunkStore));
	HASHCTL		ctl;

	cs->cxt = cxt;
	cs->params = des_chunk_params_default();
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = DES_TREE_HASH_BYTES;
	ctl.entrysize = sizeof(WrittenChunk);
	ctl.hcxt = cxt;
	ctl.hash = DesBlake2bKeyHash;
	cs->written = hash_create("pg_des written chunks", 256, &ctl, HASH_ELEM | HASH_FUNCTION | HASH_CONTEXT);
	cs->cleanup.func = chunk_store_cleanup;
	cs->cleanup.arg = cs;
	MemoryContextRegisterResetCallback(cxt, &cs->cleanup);
	return cs;
}

static void
reset_pending(DesChunkStore *cs)
{
	cs->hashes.n = cs->sizes.n = cs->offsets.n = cs->stored.n = cs->flags.n = cs->entries.n = 0;
	cs->bytes = 0;
}

static void
open_container(DesChunkStore *cs)
{
	MemoryContext old = MemoryContextSwitchTo(cs->cxt);
	pg_time_t	now = (pg_time_t) time(NULL);
	struct pg_tm *tm = pg_gmtime(&now);
	des_writer_options opts;
	des_error	err;

	cs->container_id = DesNextId();
	cs->location = psprintf("%s/datasets/%u/%04d-%02d-%02d/" INT64_FORMAT "-x" UINT64_FORMAT ".des",
							DesStorageRoot(), MyDatabaseId, tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday,
							cs->container_id, U64FromFullTransactionId(GetTopFullTransactionId()));
	cs->loc = DesStorageLocation(cs->location);
	if (cs->loc->kind == DES_LOCATION_S3)
	{
		DesS3Endpoint *ep = DesS3EndpointForLocation(cs->loc);

		DesS3Init();
		if (!DesS3SinkOpen(ep, cs->loc->bucket, cs->loc->key, cs->location, &cs->sink, &cs->s3_sink, &err))
			DesReportError(&err, cs->location);
	}
	else if (!des_local_sink_open(cs->loc->path, &cs->sink, &err))
		DesReportError(&err, cs->location);
	cs->sink_open = true;
	des_writer_options_init(&opts);
	opts.names = DES_NAMES_STRICT;
	opts.external_threshold = 0;	/* chunks live inside their container: deleting it frees them all */
	if (!des_writer_open(&cs->sink, &opts, &cs->writer, &err))
	{
		cs->writer = NULL;
		DesReportError(&err, cs->location);
	}
	cs->open = true;
	reset_pending(cs);
	MemoryContextSwitchTo(old);
}

void
DesChunkStoreFinish(DesChunkStore *cs)
{
	des_writer_summary sum;
	des_error	err;
	des_writer *w;
	Oid			types[7] = {INT8OID, TEXTOID, INT8OID, INT4OID, INT8OID, DATEOID, TEXTOID};
	Datum		args[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	Oid			btypes[7] = {INT8OID, BYTEAARRAYOID, TEXTARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT4ARRAYOID};
	Datum		bargs[7];

	if (!cs->open)
		return;
	w = cs->writer;
	cs->writer = NULL;			/* finish frees it, even on failure */
	if (!des_writer_finish(w, &sum, &err))
		DesReportError(&err, cs->location);
	/* the file is complete and durable: its rows, in this transaction */
	args[0] = Int64GetDatum(cs->container_id);
	args[1] = CStringGetTextDatum(cs->location);
	args[2] = Int64GetDatum((int64) sum.archive_bytes);
	args[3] = Int32GetDatum((int32) sum.entries);
	{
		int64		data_bytes = 0;

		for (int i = 0; i < cs->stored.n; i++)
			data_bytes += DatumGetInt64(cs->stored.v[i]);
		args[4] = Int64GetDatum(data_bytes);
	}
	/* a compaction's container is of the day of what it holds; a dataset function's, of today (UTC) */
	args[5] = cs->compact_from ? DateADTGetDatum(cs->compact_day) : (Datum) 0;
	args[6] = CStringGetTextDatum(cs->compact_from ? "compaction" : "datasets");
	nulls[5] = cs->compact_from ? ' ' : 'n';
	DesSpiExec("INSERT INTO des.containers (id, location, day, shard, seq, state, size, entries, committed_at, origin, data_bytes) "
			   "VALUES ($1, $2, COALESCE($6, (pg_catalog.now() AT TIME ZONE 'UTC')::pg_catalog.date), NULL, 0, 'committed', "
			   "$3, $4, pg_catalog.now(), $7, $5)", 7, types, args, nulls, false, SPI_OK_INSERT);
	bargs[0] = Int64GetDatum(cs->container_id);
	bargs[1] = DesVecArray(&cs->hashes, BYTEAOID);
	bargs[2] = DesVecArray(&cs->entries, TEXTOID);
	bargs[3] = DesVecArray(&cs->sizes, INT8OID);
	bargs[4] = DesVecArray(&cs->offsets, INT8OID);
	bargs[5] = DesVecArray(&cs->stored, INT8OID);
	bargs[6] = DesVecArray(&cs->flags, INT4OID);
	if (cs->compact_from)
	{
		Oid			rtypes[8] = {INT8OID, BYTEAARRAYOID, TEXTARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID,
		INT4ARRAYOID, INT8ARRAYOID};
		Datum		rargs[8];

		/*
		 * The copies take over: each blob still living where it was copied
		 * from now lives here (one deleted or moved meanwhile is left alone;
		 * its copy is dead bytes). The UPDATE locks the rows it changes.
		 */
		memcpy(rargs, bargs, sizeof(Datum) * 7);
		rargs[7] = cs->compact_from;
		DesSpiExec("UPDATE des.blobs b SET container_id = $1, entry = u.e, data_offset = u.o, stored_size = u.st, flags = u.f "
				   "  FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4), "
				   "                  pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7)) AS u(h, e, s, o, st, f) "
				   " WHERE b.hash = u.h AND b.size = u.s AND b.container_id = ANY ($8)",
				   8, rtypes, rargs, NULL, false, SPI_OK_UPDATE);
		close_container(cs);
		reset_pending(cs);
		return;
	}

	/*
	 * A chunk another transaction stored meanwhile keeps its first copy. Its
	 * row is locked all the same (DO UPDATE locks what it does not update;
	 * DO NOTHING would not): the garbage collector cannot remove it before
	 * this transaction's reference to it commits.
	 */
	DesSpiExec("INSERT INTO des.blobs AS b (hash, container_id, entry, size, data_offset, stored_size, flags) "
			   "SELECT h, $1, e, s, o, st, f FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4), "
			   "pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7)) AS u(h, e, s, o, st, f) "
			   "ON CONFLICT (hash) DO UPDATE SET flags = b.flags WHERE false", 7, btypes, bargs, NULL, false,
			   SPI_OK_INSERT);
	close_container(cs);
	reset_pending(cs);
}

/* the chunker's callback: no ereport or palloc here (the core is between calls) */
bool
DesCollectChunk(void *ctx, const des_chunk *chunk, des_error *err)
{
	DesChunkList *l = ctx;

	if (l->n == l->cap)
		return des_fail(err, DES_E_CORRUPT, "the chunker produced more chunks than the data allows");
	l->chunks[l->n++] = *chunk;
	return true;
}

void
DesChunkBuffer(const des_chunk_params *params, const unsigned char *data, size_t len, DesChunkList *l)
{
	des_error	err;

	l->cap = len / params->min_size + 2;
	l->n = 0;
	l->chunks = palloc(sizeof(des_chunk) * l->cap);
	if (!des_chunk_buffer(params, data, len, true, DesCollectChunk, l, &err))
		DesReportTreeError(&err, "could not chunk the file");
}

/* A set of 32-byte hashes in the current memory context. */
static HTAB *
hash_set(long size)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = DES_TREE_HASH_BYTES;
	ctl.entrysize = DES_TREE_HASH_BYTES;
	ctl.hcxt = CurrentMemoryContext;
	ctl.hash = DesBlake2bKeyHash;
	return hash_create("pg_des hash set", Max(size, 16), &ctl, HASH_ELEM | HASH_FUNCTION | HASH_CONTEXT);
}

/* The hashes of the last SPI result's first column, as a set. */
static HTAB *
result_set(void)
{
	HTAB	   *set = hash_set((long) SPI_processed);

	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		unsigned char h[DES_TREE_HASH_BYTES];

		DesByteaHash(DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull)), h);
		hash_search(set, h, HASH_ENTER, NULL);
	}
	return set;
}

/* Append one new chunk to the open container (opening one if needed) and remember it. */
static void
write_chunk(DesChunkStore *cs, const des_chunk *c, const unsigned char *data)
{
	char		name[DES_TREE_HEX_LEN + 1];
	des_writer_entry where;
	des_error	err;
	MemoryContext old;

	if (!cs->open)
		open_container(cs);
	des_tree_hex(c->id, name);
	if (!des_writer_add(cs->writer, name, DES_TREE_HEX_LEN, data + c->offset, c->length, NULL, 0, false, &err))
		DesReportError(&err, cs->location);
	des_writer_last_entry(cs->writer, &where);
	old = MemoryContextSwitchTo(cs->cxt);
	DesVecPush(&cs->hashes, PointerGetDatum(DesHashBytea(c->id)));
	DesVecPush(&cs->entries, CStringGetTextDatum(name));
	DesVecPush(&cs->sizes, Int64GetDatum((int64) c->length));
	DesVecPush(&cs->offsets, Int64GetDatum((int64) where.data_offset));
	DesVecPush(&cs->stored, Int64GetDatum((int64) where.length));
	DesVecPush(&cs->flags, Int32GetDatum((int32) where.flags));
	MemoryContextSwitchTo(old);
	hash_search(cs->written, c->id, HASH_ENTER, NULL);
	cs->bytes += c->length;
	if (cs->bytes >= (uint64) des_container_max_bytes_kb * 1024 ||
		cs->hashes.n >= des_container_max_entries)
		DesChunkStoreFinish(cs);
}

void
DesChunkStoreCompactInto(DesChunkStore *cs, Datum from_containers, DateADT day)
{
	cs->compact_from = from_containers;
	cs->compact_day = day;
}

void
DesChunkStorePutBlob(DesChunkStore *cs, const unsigned char hash[DES_TREE_HASH_BYTES], const unsigned char *data,
					 size_t len)
{
	des_chunk	c;

	memset(&c, 0, sizeof(c));
	memcpy(c.id, hash, DES_TREE_HASH_BYTES);
	c.offset = 0;
	c.length = len;
	write_chunk(cs, &c, data);
}

/*
 * Store a batch of files: each is cut and hashed, then one query finds the
 * contents the repo has already (their chunks are stored), one the chunks
 * stored already (by any repo or the pipeline), the new chunks are written,
 * and one statement records the new chunk lists. Gives each file's content
 * hash.
 */
void
DesChunkStorePutFiles(DesChunkStore *cs, int64 repo_id, DesFileIn *files, int n)
{
	DesChunkList *lists = palloc(sizeof(DesChunkList) * Max(n, 1));
	bytea	  **encodings = palloc(sizeof(bytea *) * Max(n, 1));
	uint64	   *sizes = palloc(sizeof(uint64) * Max(n, 1));
	bool	   *todo = palloc0(sizeof(bool) * Max(n, 1));
	DesDatumVec want = {0};
	HTAB	   *have_contents,
			   *have_chunks,
			   *batch_contents;
	Oid			types[2] = {INT8OID, BYTEAARRAYOID};
	Datum		args[2];
	des_error	err;

	for (int f = 0; f < n; f++)
	{
		des_chunk_ref *refs;
		des_buf    *enc = DesBufInContext(CurrentMemoryContext);
		uint64_t	size;

		CHECK_FOR_INTERRUPTS();
		DesChunkBuffer(&cs->params, files[f].data, files[f].len, &lists[f]);
		refs = palloc(sizeof(des_chunk_ref) * Max(lists[f].n, 1));
		for (size_t i = 0; i < lists[f].n; i++)
		{
			memcpy(refs[i].id, lists[f].chunks[i].id, DES_TREE_HASH_BYTES);
			refs[i].length = (uint32) lists[f].chunks[i].length;
		}
		if (!des_file_encode(refs, lists[f].n, enc, &size, &err))
			DesReportTreeError(&err, "could not encode the chunk list");
		des_tree_hash(enc->data, enc->len, files[f].hash);
		encodings[f] = palloc(VARHDRSZ + enc->len);
		SET_VARSIZE(encodings[f], VARHDRSZ + enc->len);
		memcpy(VARDATA(encodings[f]), enc->data, enc->len);
		sizes[f] = size;
		pfree(refs);
		DesVecPush(&want, PointerGetDatum(DesHashBytea(files[f].hash)));
	}

	/*
	 * Contents the repo has: their chunks are stored. Locked (key share)
	 * until this transaction ends, as the chunks below: the garbage
	 * collector cannot remove a content this transaction relies on.
	 */
	args[0] = Int64GetDatum(repo_id);
	args[1] = DesVecArray(&want, BYTEAOID);
	DesSpiExec("SELECT c.hash FROM des.dataset_contents c WHERE c.repo_id = $1 AND c.hash = ANY ($2) FOR KEY SHARE",
			   2, types, args, NULL, false, SPI_OK_SELECT);
	have_contents = result_set();
	batch_contents = hash_set(n);
	want.n = 0;
	for (int f = 0; f < n; f++)
	{
		bool		dup;

		if (hash_search(have_contents, files[f].hash, HASH_FIND, NULL))
			continue;
		hash_search(batch_contents, files[f].hash, HASH_ENTER, &dup);
		if (dup)
			continue;			/* the same content twice in the batch */
		todo[f] = true;
		for (size_t i = 0; i < lists[f].n; i++)
			if (!hash_search(cs->written, lists[f].chunks[i].id, HASH_FIND, NULL))
				DesVecPush(&want, PointerGetDatum(DesHashBytea(lists[f].chunks[i].id)));
	}

	/* chunks stored already, by anyone */
	if (want.n > 0)
	{
		Oid			btypes[1] = {BYTEAARRAYOID};
		Datum		bargs[1];

		bargs[0] = DesVecArray(&want, BYTEAOID);
		/*
		 * Locked (key share) until this transaction ends: the garbage
		 * collector removes only blobs it can lock for update, so a chunk
		 * relied on here cannot be removed before the reference to it
		 * commits; one it is removing right now is waited for, then not
		 * found, and stored again.
		 */
		DesSpiExec("SELECT b.hash FROM des.blobs b WHERE b.hash = ANY ($1) FOR KEY SHARE", 1, btypes, bargs, NULL,
				   false, SPI_OK_SELECT);
		have_chunks = result_set();
	}
	else
		have_chunks = hash_set(1);

	/* the new chunks, then the new chunk lists */
	{
		DesDatumVec hashes = {0},
					chunk_lists = {0},
					lens = {0},
					counts = {0};

		for (int f = 0; f < n; f++)
		{
			if (!todo[f])
				continue;
			for (size_t i = 0; i < lists[f].n; i++)
			{
				const des_chunk *c = &lists[f].chunks[i];

				CHECK_FOR_INTERRUPTS();
				if (hash_search(have_chunks, c->id, HASH_FIND, NULL) ||
					hash_search(cs->written, c->id, HASH_FIND, NULL))
					continue;
				write_chunk(cs, c, files[f].data);
			}
			DesVecPush(&hashes, PointerGetDatum(DesHashBytea(files[f].hash)));
			DesVecPush(&chunk_lists, PointerGetDatum(encodings[f]));
			DesVecPush(&lens, Int64GetDatum((int64) sizes[f]));
			DesVecPush(&counts, Int64GetDatum((int64) lists[f].n));
		}
		if (hashes.n > 0)
		{
			Oid			itypes[5] = {INT8OID, BYTEAARRAYOID, BYTEAARRAYOID, INT8ARRAYOID, INT8ARRAYOID};
			Datum		iargs[5];

			iargs[0] = Int64GetDatum(repo_id);
			iargs[1] = DesVecArray(&hashes, BYTEAOID);
			iargs[2] = DesVecArray(&chunk_lists, BYTEAOID);
			iargs[3] = DesVecArray(&lens, INT8OID);
			iargs[4] = DesVecArray(&counts, INT8OID);
			/* (one stored meanwhile is locked, not replaced: see DesChunkStoreFinish) */
			DesSpiExec("INSERT INTO des.dataset_contents AS x (repo_id, hash, chunks, size, chunk_count) "
					   "SELECT $1, h, c, s, n FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), "
					   "pg_catalog.unnest($4), pg_catalog.unnest($5)) AS u(h, c, s, n) "
					   "ON CONFLICT (repo_id, hash) DO UPDATE SET size = x.size WHERE false",
					   5, itypes, iargs, NULL, false, SPI_OK_INSERT);
		}
	}
}

void
DesChunkStorePutFile(DesChunkStore *cs, int64 repo_id, const unsigned char *data, size_t len,
					 unsigned char content_hash[DES_TREE_HASH_BYTES])
{
	DesFileIn	f;

	f.data = data;
	f.len = len;
	DesChunkStorePutFiles(cs, repo_id, &f, 1);
	memcpy(content_hash, f.hash, DES_TREE_HASH_BYTES);
}

/* ---- reading ---- */


/*
 * a local container kept open between reads (closed by DesChunkReaderEnd, or
 * at abort); at most READER_MAX_OPEN at once: a backend may hold only a few
 * hundred transient files (maxAllocatedDescs), and a read spanning more
 * containers than that (a merge of a day's small containers, a download of
 * files from many) would otherwise fail
 */
#define READER_MAX_OPEN 64

typedef struct OpenContainer
{
	char		location[MAXPGPATH];	/* the key */
	int			fd;
	off_t		size;
} OpenContainer;

static HTAB *places_table(long size);

struct DesChunkReader
{
	HTAB	   *places;			/* hash -> DesChunkPlace */
	HTAB	   *open;			/* location -> OpenContainer */
	DesDatumVec pending;		/* ids noted to locate (DesChunkReaderCollect) */
};

DesChunkReader *
DesChunkReaderCreate(void)
{
	DesChunkReader *r = palloc0(sizeof(DesChunkReader));
	HASHCTL		ctl;

	r->places = places_table(256);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = MAXPGPATH;
	ctl.entrysize = sizeof(OpenContainer);
	ctl.hcxt = CurrentMemoryContext;
	r->open = hash_create("pg_des open containers", 16, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	return r;
}

void
DesChunkReaderEnd(DesChunkReader *r)
{
	HASH_SEQ_STATUS it;
	OpenContainer *oc;

	hash_seq_init(&it, r->open);
	while ((oc = hash_seq_search(&it)) != NULL)
		CloseTransientFile(oc->fd);
	hash_destroy(r->open);
	hash_destroy(r->places);
}

/* Add the places of the chunks ids (bytea) to places: one query. */
static void
fill_places(HTAB *places, const DesDatumVec *ids, MemoryContext cxt)
{
	Oid			types[1] = {BYTEAARRAYOID};
	Datum		args[1];

	if (ids->n == 0)
		return;
	args[0] = DesVecArray(ids, BYTEAOID);
	DesSpiExec("SELECT b.hash, c.location, b.entry, b.data_offset, b.stored_size, b.flags "
			   "FROM des.blobs b JOIN des.containers c ON c.id = b.container_id "
			   "WHERE b.hash = ANY ($1) AND c.state = 'committed'", 1, types, args, NULL, true, SPI_OK_SELECT);
	for (uint64 row = 0; row < SPI_processed; row++)
	{
		bool		isnull;
		unsigned char h[DES_TREE_HASH_BYTES];
		DesChunkPlace *b;
		MemoryContext old = MemoryContextSwitchTo(cxt);

		DesByteaHash(DatumGetByteaPP(DesSpiGet(row, "hash", &isnull)), h);
		b = hash_search(places, h, HASH_ENTER, NULL);
		b->location = TextDatumGetCString(DesSpiGet(row, "location", &isnull));
		b->entry = TextDatumGetCString(DesSpiGet(row, "entry", &isnull));
		b->offset = DatumGetInt64(DesSpiGet(row, "data_offset", &isnull));
		b->stored = DatumGetInt64(DesSpiGet(row, "stored_size", &isnull));
		b->flags = DatumGetInt32(DesSpiGet(row, "flags", &isnull));
		MemoryContextSwitchTo(old);
	}
}

static HTAB *
places_table(long size)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = DES_TREE_HASH_BYTES;
	ctl.entrysize = sizeof(DesChunkPlace);
	ctl.hcxt = CurrentMemoryContext;
	ctl.hash = DesBlake2bKeyHash;
	return hash_create("pg_des chunk places", Max(size, 16), &ctl, HASH_ELEM | HASH_FUNCTION | HASH_CONTEXT);
}

HTAB *
DesChunkPlaces(const DesDatumVec *ids)
{
	HTAB	   *places = places_table(ids->n);

	fill_places(places, ids, CurrentMemoryContext);
	return places;
}

/* Where the chunks of ids[0..n) are: one query for those not located yet. */
void
DesChunkReaderLocate(DesChunkReader *r, const unsigned char *ids, size_t n)
{
	DesDatumVec want = {0};

	for (size_t i = 0; i < n; i++)
		if (!hash_search(r->places, ids + i * DES_TREE_HASH_BYTES, HASH_FIND, NULL))
			DesVecPush(&want, PointerGetDatum(DesHashBytea(ids + i * DES_TREE_HASH_BYTES)));
	fill_places(r->places, &want, GetMemoryChunkContext(r));
}

/* pread of a plain chunk from a local container, kept open for the next */
static void
read_local_chunk(DesChunkReader *r, const DesChunkPlace *b, const char *path, uint32 length, unsigned char *dest)
{
	bool		found;
	OpenContainer *oc;
	size_t		done = 0;

	if (strlen(b->location) >= MAXPGPATH)
		ereport(ERROR, (errcode(ERRCODE_NAME_TOO_LONG), errmsg("container location \"%s\" is too long", b->location)));
	oc = hash_search(r->open, b->location, HASH_FIND, NULL);
	if (oc == NULL && hash_get_num_entries(r->open) >= READER_MAX_OPEN)
	{
		/* reads go in container order: closing them all costs little */
		HASH_SEQ_STATUS it;
		OpenContainer *old;

		hash_seq_init(&it, r->open);
		while ((old = hash_seq_search(&it)) != NULL)
		{
			CloseTransientFile(old->fd);
			hash_search(r->open, old->location, HASH_REMOVE, NULL);
		}
	}
	oc = hash_search(r->open, b->location, HASH_ENTER, &found);
	if (!found)
	{
		struct stat st;

		oc->fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
		if (oc->fd < 0)
		{
			hash_search(r->open, b->location, HASH_REMOVE, NULL);
			ereport(ERROR, (errcode_for_file_access(), errmsg("could not open container \"%s\": %m", b->location)));
		}
		if (fstat(oc->fd, &st) != 0)
			ereport(ERROR, (errcode_for_file_access(), errmsg("could not stat container \"%s\": %m", b->location)));
		oc->size = st.st_size;
	}
	if (b->offset < DES_HEADER_SIZE || b->offset + (int64) length > (int64) oc->size)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("chunk at offset %lld (%u bytes) is outside container \"%s\"", (long long) b->offset,
						length, b->location)));
	while (done < length)
	{
		ssize_t		got = pg_pread(oc->fd, dest + done, length - done, b->offset + done);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read %u bytes at offset %lld of container \"%s\": %m", length,
							(long long) b->offset, b->location)));
		done += got;
	}
}

/*
 * Read one chunk from its place into dest and check it against its id (r:
 * a reader keeping local containers open; NULL: one read each). Not OK:
 * *problem says what is wrong. Storage errors are raised.
 */
static DesChunkCheck
read_place(DesChunkReader *r, const DesChunkPlace *b, uint32 length, unsigned char *dest, char **problem)
{
	unsigned char digest[DES_TREE_HASH_BYTES];

	*problem = NULL;
	if (b->flags == 0)
	{
		DesLocation *loc = DesStorageLocation(b->location);

		if (b->stored != (int64) length)
		{
			*problem = psprintf("chunk of %u bytes is recorded with %lld stored bytes in \"%s\"",
								length, (long long) b->stored, b->location);
			return DES_CHUNK_BAD_PLACE;
		}
		if (r && loc->kind != DES_LOCATION_S3)
			read_local_chunk(r, b, loc->path, length, dest);
		else
			DesReadArchiveRange(loc, b->location, b->offset, length, (char *) dest);
	}
	else
	{
		/* compressed or external: through the archive's index */
		DesOpenArchive oa;
		des_buf    *out = DesBufInContext(CurrentMemoryContext);
		des_error	err;
		int64_t		idx;

		DesOpenArchiveForRead(DesStorageLocation(b->location), false, false, &oa);
		idx = des_reader_find(oa.reader, b->entry, strlen(b->entry));
		if (idx < 0)
		{
			*problem = psprintf("archive \"%s\" has no entry \"%s\"", b->location, b->entry);
			return DES_CHUNK_BAD_PLACE;
		}
		if (!des_reader_get(oa.reader, (uint64_t) idx, &oa.options, out, &err))
			DesReportError(&err, b->location);
		if (out->len != length)
		{
			*problem = psprintf("entry \"%s\" of \"%s\" has %zu bytes, the chunk %u", b->entry, b->location,
								out->len, length);
			return DES_CHUNK_BAD_PLACE;
		}
		memcpy(dest, out->data, length);
	}
	blake2b(digest, dest, NULL, DES_TREE_HASH_BYTES, length, 0);
	if (memcmp(digest, b->hash, DES_TREE_HASH_BYTES) != 0)
	{
		*problem = psprintf("the bytes of chunk %s in \"%s\" do not have its BLAKE2b-256", b->entry, b->location);
		return DES_CHUNK_BAD_BYTES;
	}
	return DES_CHUNK_OK;
}

DesChunkCheck
DesReadChunk(const DesChunkPlace *place, uint32 length, unsigned char *dest, char **problem)
{
	return read_place(NULL, place, length, dest, problem);
}

/* The bytes of one located chunk (verified against its id), into dest. */
void
DesChunkReaderRead(DesChunkReader *r, const unsigned char id[DES_TREE_HASH_BYTES], uint32 length, unsigned char *dest)
{
	DesChunkPlace *b = hash_search(r->places, id, HASH_FIND, NULL);
	char	   *problem;

	if (b == NULL)
	{
		char		hex[DES_TREE_HEX_LEN + 1];

		des_tree_hex(id, hex);
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("chunk %s is not stored", hex),
				 errdetail("des.blobs has no row for it.")));
	}
	if (read_place(r, b, length, dest, &problem) != DES_CHUNK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s", problem),
				 errhint("des.verify_bundle checks every chunk of a bundle.")));
}

/* Locate the chunks of a chunk list (validated) covering [offset, offset + length). */
static void
covering(const unsigned char *list, uint64_t count, uint64 offset, uint64 length, uint64_t *first, uint64_t *last)
{
	uint64_t	pos = 0;

	*first = 1;
	*last = 0;
	for (uint64_t i = 0; i < count && pos < offset + length; i++)
	{
		des_chunk_ref c;

		des_file_chunk(list, i, &c);
		if (pos + c.length > offset)
		{
			if (*first > *last)
				*first = i;
			*last = i;
		}
		pos += c.length;
	}
}

void
DesChunkReaderCollect(DesChunkReader *r, const unsigned char *list, size_t list_len)
{
	uint64_t	count,
				size;
	des_error	err;
	MemoryContext old;

	if (!des_file_decode(list, list_len, &count, &size, &err))
		DesReportTreeError(&err, "stored chunk list");
	old = MemoryContextSwitchTo(GetMemoryChunkContext(r));
	for (uint64_t i = 0; i < count; i++)
	{
		des_chunk_ref c;

		des_file_chunk(list, i, &c);
		if (!hash_search(r->places, c.id, HASH_FIND, NULL))
			DesVecPush(&r->pending, PointerGetDatum(DesHashBytea(c.id)));
	}
	MemoryContextSwitchTo(old);
}

void
DesChunkReaderLocatePending(DesChunkReader *r)
{
	fill_places(r->places, &r->pending, GetMemoryChunkContext(r));
	r->pending.n = 0;
}

void
DesChunkReaderLocateFile(DesChunkReader *r, const unsigned char *list, size_t list_len)
{
	uint64_t	count,
				size;
	des_error	err;
	unsigned char *ids;

	if (!des_file_decode(list, list_len, &count, &size, &err))
		DesReportTreeError(&err, "stored chunk list");
	ids = palloc(DES_TREE_HASH_BYTES * Max(count, 1));
	for (uint64_t i = 0; i < count; i++)
	{
		des_chunk_ref c;

		des_file_chunk(list, i, &c);
		memcpy(ids + i * DES_TREE_HASH_BYTES, c.id, DES_TREE_HASH_BYTES);
	}
	DesChunkReaderLocate(r, ids, count);
	pfree(ids);
}

void
DesChunkReaderReadRange(DesChunkReader *r, const unsigned char *list, size_t list_len, uint64 offset, uint64 length,
						StringInfo out)
{
	uint64_t	count,
				size,
				pos = 0,
				first,
				last;
	des_error	err;
	unsigned char *buf = NULL;
	uint32		buf_cap = 0;

	if (!des_file_decode(list, list_len, &count, &size, &err))
		DesReportTreeError(&err, "stored chunk list");
	if (offset >= size || length == 0)
		return;
	if (length > size - offset)
		length = size - offset;
	covering(list, count, offset, length, &first, &last);
	{
		unsigned char *ids = palloc(DES_TREE_HASH_BYTES * (last - first + 1));

		for (uint64_t i = first; i <= last; i++)
		{
			des_chunk_ref c;

			des_file_chunk(list, i, &c);
			memcpy(ids + (i - first) * DES_TREE_HASH_BYTES, c.id, DES_TREE_HASH_BYTES);
		}
		DesChunkReaderLocate(r, ids, last - first + 1);
		pfree(ids);
	}
	for (uint64_t i = 0; i <= last; i++)
	{
		des_chunk_ref c;
		uint64		from,
					to;

		CHECK_FOR_INTERRUPTS();
		des_file_chunk(list, i, &c);
		if (i < first)
		{
			pos += c.length;
			continue;
		}
		if (buf_cap < c.length)
		{
			buf = buf ? repalloc(buf, c.length) : palloc(c.length);
			buf_cap = c.length;
		}
		DesChunkReaderRead(r, c.id, c.length, buf);
		from = offset > pos ? offset - pos : 0;
		to = Min((uint64) c.length, offset + length - pos);
		appendBinaryStringInfo(out, (const char *) buf + from, (int) (to - from));
		pos += c.length;
	}
	if (buf)
		pfree(buf);
}

void
DesReadFileRange(const unsigned char *list, size_t list_len, uint64 offset, uint64 length, StringInfo out)
{
	DesChunkReader *r = DesChunkReaderCreate();

	DesChunkReaderReadRange(r, list, list_len, offset, length, out);
	DesChunkReaderEnd(r);
}
