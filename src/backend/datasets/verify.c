/*
 * verify.c - des.verify_bundle(ref): a bundle recomputed from storage, as
 * docs/versioning-format.md "Verifying a bundle from its id" says: the
 * header hashes to the id and decodes (and the row's columns say what it
 * says); the root and every directory hash to their hashes and decode;
 * every file's chunk list hashes to its content hash and its lengths add up
 * to the entry's size; every chunk's bytes, read from its container, hash
 * to its id; every directory's size is the total of its entries.
 *
 * Each problem is a row (path, problem); none means the bundle verified.
 * What is missing (a row of a table, a container file) or wrong is a
 * problem, not an error, so one run reports every problem it can reach
 * (below a directory that is missing or corrupt nothing can be reached).
 * A directory, chunk list or chunk met again (equal hashes: equal bytes) is
 * verified once per call. A chunk is read into one buffer, never a whole
 * file.
 */
#include "pg_des.h"
#include "datasets/datasets.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

/* A directory or chunk list met before in this call: whether it verified, and its size. */
typedef struct Seen
{
	unsigned char hash[DES_TREE_HASH_BYTES];	/* the key */
	bool		ok;
	uint64		size;
} Seen;

typedef struct Verify
{
	MemoryContext cxt;			/* the call's */
	Tuplestorestate *store;
	TupleDesc	desc;
	MemoryContext outer;
	int64		repo_id;
	HTAB	   *dirs;			/* Seen: by directory hash; size: the total of its entries */
	HTAB	   *contents;		/* Seen: by content hash; size: the sum of its chunk lengths */
	HTAB	   *chunks;			/* Seen: by chunk id (ok unused) */
	MemoryContext chunk_cxt;	/* reset for every chunk read */
	unsigned char *buf;			/* one chunk's bytes */
	uint32		buf_cap;
} Verify;

static void problem(Verify *v, const char *path, const char *fmt,...) pg_attribute_printf(3, 4);

static void
problem(Verify *v, const char *path, const char *fmt,...)
{
	Datum		values[2];
	bool		nulls[2] = {false, false};
	StringInfoData text;
	MemoryContext old = MemoryContextSwitchTo(v->outer);

	initStringInfo(&text);
	for (;;)
	{
		va_list		ap;
		int			needed;

		va_start(ap, fmt);
		needed = appendStringInfoVA(&text, fmt, ap);
		va_end(ap);
		if (needed == 0)
			break;
		enlargeStringInfo(&text, needed);
	}
	if (path)
		values[0] = CStringGetTextDatum(path);
	else
		nulls[0] = true;
	values[1] = CStringGetTextDatum(text.data);
	tuplestore_putvalues(v->store, v->desc, values, nulls);
	MemoryContextSwitchTo(old);
}

static HTAB *
seen_table(const char *name)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = DES_TREE_HASH_BYTES;
	ctl.entrysize = sizeof(Seen);
	ctl.hcxt = CurrentMemoryContext;
	return hash_create(name, 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

static char *
hex_of(const unsigned char hash[DES_TREE_HASH_BYTES])
{
	char	   *hex = palloc(DES_TREE_HEX_LEN + 1);

	des_tree_hex(hash, hex);
	return hex;
}

static char *
child_path(const char *prefix, const des_tree_entry *e)
{
	return prefix[0] ? psprintf("%s/%.*s", prefix, (int) e->name_len, e->name) : pnstrdup(e->name, e->name_len);
}

/* bytea as a copy in the current context (SPI's results are freed early) */
static bytea *
copy_bytea(Datum d)
{
	return DatumGetByteaPCopy(d);
}

/* ---- the bundle's row and header ---- */

/*
 * The header and the row's columns; gives the root to walk (the header's,
 * when it decodes) and the row's total_size. False if the bundle is not
 * stored.
 */
static bool
verify_header(Verify *v, const unsigned char id[DES_TREE_HASH_BYTES], unsigned char root[DES_TREE_HASH_BYTES],
			  int64 *total_size)
{
	Oid			types[2] = {INT8OID, BYTEAOID};
	Datum		args[2];
	bool		isnull;
	bytea	   *header;
	bytea	   *root_col;
	ArrayType  *parents_col;
	char	   *author_col,
			   *message_col;
	TimestampTz created_col;
	int32		algorithm_col,
				min_col,
				avg_col,
				max_col;
	unsigned char check[DES_TREE_HASH_BYTES];
	des_bundle_header h;
	des_error	err;

	args[0] = Int64GetDatum(v->repo_id);
	args[1] = PointerGetDatum(DesHashBytea(id));
	DesSpiExec("SELECT b.header, b.root, b.parents, b.author, b.created_at, b.message, b.total_size, "
			   "b.chunker_algorithm, b.chunk_min, b.chunk_avg, b.chunk_max "
			   "FROM des.dataset_bundles b WHERE b.repo_id = $1 AND b.id = $2",
			   2, types, args, NULL, true, SPI_OK_SELECT);
	if (SPI_processed == 0)
	{
		problem(v, NULL, "bundle %s is not stored", hex_of(id));
		return false;
	}
	header = copy_bytea(DesSpiGet(0, "header", &isnull));
	root_col = copy_bytea(DesSpiGet(0, "root", &isnull));
	parents_col = DatumGetArrayTypePCopy(DesSpiGet(0, "parents", &isnull));
	author_col = TextDatumGetCString(DesSpiGet(0, "author", &isnull));
	created_col = DatumGetTimestampTz(DesSpiGet(0, "created_at", &isnull));
	message_col = TextDatumGetCString(DesSpiGet(0, "message", &isnull));
	*total_size = DatumGetInt64(DesSpiGet(0, "total_size", &isnull));
	algorithm_col = DatumGetInt32(DesSpiGet(0, "chunker_algorithm", &isnull));
	min_col = DatumGetInt32(DesSpiGet(0, "chunk_min", &isnull));
	avg_col = DatumGetInt32(DesSpiGet(0, "chunk_avg", &isnull));
	max_col = DatumGetInt32(DesSpiGet(0, "chunk_max", &isnull));
	SPI_freetuptable(SPI_tuptable);

	if (VARSIZE_ANY_EXHDR(root_col) == DES_TREE_HASH_BYTES)
		memcpy(root, VARDATA_ANY(root_col), DES_TREE_HASH_BYTES);
	else
		memset(root, 0, DES_TREE_HASH_BYTES);
	des_tree_hash(VARDATA_ANY(header), VARSIZE_ANY_EXHDR(header), check);
	if (memcmp(check, id, DES_TREE_HASH_BYTES) != 0)
		problem(v, NULL, "the header does not hash to the bundle's id");
	if (!des_bundle_decode((const unsigned char *) VARDATA_ANY(header), VARSIZE_ANY_EXHDR(header), &h, &err))
	{
		problem(v, NULL, "the header does not decode: %s", err.message);
		return true;
	}

	/* the columns say what the header says (reads use some of them) */
	if (VARSIZE_ANY_EXHDR(root_col) != DES_TREE_HASH_BYTES ||
		memcmp(VARDATA_ANY(root_col), h.root, DES_TREE_HASH_BYTES) != 0)
		problem(v, NULL, "column root of des.dataset_bundles does not match the header");
	memcpy(root, h.root, DES_TREE_HASH_BYTES);
	{
		Datum	   *elems;
		bool	   *elem_nulls;
		int			n;
		bool		same;

		deconstruct_array(parents_col, BYTEAOID, -1, false, TYPALIGN_INT, &elems, &elem_nulls, &n);
		same = (size_t) n == h.parent_count;
		for (int i = 0; same && i < n; i++)
		{
			bytea	   *p = elem_nulls[i] ? NULL : DatumGetByteaPP(elems[i]);

			same = p && VARSIZE_ANY_EXHDR(p) == DES_TREE_HASH_BYTES &&
				memcmp(VARDATA_ANY(p), h.parents + (size_t) i * DES_TREE_HASH_BYTES, DES_TREE_HASH_BYTES) == 0;
		}
		if (!same)
			problem(v, NULL, "column parents of des.dataset_bundles does not match the header");
	}
	if (strlen(author_col) != h.author_len || memcmp(author_col, h.author, h.author_len) != 0)
		problem(v, NULL, "column author of des.dataset_bundles does not match the header");
	if (strlen(message_col) != h.message_len || memcmp(message_col, h.message, h.message_len) != 0)
		problem(v, NULL, "column message of des.dataset_bundles does not match the header");
	if ((int64) created_col + ((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY) != h.time_us)
		problem(v, NULL, "column created_at of des.dataset_bundles does not match the header");
	if (algorithm_col != h.chunker.algorithm || min_col != (int32) h.chunker.min_size ||
		avg_col != (int32) h.chunker.avg_size || max_col != (int32) h.chunker.max_size)
		problem(v, NULL, "the chunker columns of des.dataset_bundles do not match the header");
	return true;
}

/* ---- chunks ---- */

/* Errors of storage, which are a chunk's problem; any other error goes on. */
static bool
storage_error(int sqlerrcode)
{
	return ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_SYSTEM_ERROR ||
		ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_FDW_ERROR ||
		sqlerrcode == ERRCODE_DATA_CORRUPTED ||
		sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE;
}

/*
 * Read and check one chunk; NULL if it is good, else its problem. A storage
 * error (a container missing or too short, an S3 failure) is caught in a
 * subtransaction and becomes the problem.
 */
static char *
check_chunk(Verify *v, const DesChunkPlace *place, uint32 length)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	char	   *volatile result = NULL;

	if (v->buf_cap < length)
	{
		v->buf = v->buf ? repalloc(v->buf, length) : MemoryContextAlloc(v->cxt, length);
		v->buf_cap = length;
	}
	MemoryContextReset(v->chunk_cxt);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(v->chunk_cxt);
	PG_TRY();
	{
		char	   *p;

		switch (DesReadChunk(place, length, v->buf, &p))
		{
			case DES_CHUNK_OK:
				break;
			case DES_CHUNK_BAD_PLACE:
				result = MemoryContextStrdup(cxt, p);
				break;
			case DES_CHUNK_BAD_BYTES:
				result = MemoryContextStrdup(cxt, psprintf("its bytes in \"%s\" do not hash to its id",
														   place->location));
				break;
		}
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (!storage_error(edata->sqlerrcode))
			ReThrowError(edata);
		result = edata->message;
	}
	PG_END_TRY();
	return result;
}

/* ---- files ---- */

/* A stored chunk list, as fetched for the files of one directory. */
typedef struct ListRow
{
	unsigned char hash[DES_TREE_HASH_BYTES];	/* the key: the content hash */
	bytea	   *chunks;
	int64		size;
	int64		chunk_count;
} ListRow;

/* The stored chunk lists of the files of dir not met yet: one query. */
static HTAB *
fetch_lists(Verify *v, const des_tree_dir *dir)
{
	DesDatumVec want = {0};
	HTAB	   *rows;
	HASHCTL		ctl;
	Oid			types[2] = {INT8OID, BYTEAARRAYOID};
	Datum		args[2];

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = DES_TREE_HASH_BYTES;
	ctl.entrysize = sizeof(ListRow);
	ctl.hcxt = CurrentMemoryContext;
	rows = hash_create("pg_des chunk lists", Max(dir->count, 16), &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	for (size_t i = 0; i < dir->count; i++)
		if (dir->entries[i].kind == DES_TREE_FILE && !hash_search(v->contents, dir->entries[i].hash, HASH_FIND, NULL))
			DesVecPush(&want, PointerGetDatum(DesHashBytea(dir->entries[i].hash)));
	if (want.n == 0)
		return rows;
	args[0] = Int64GetDatum(v->repo_id);
	args[1] = DesVecArray(&want, BYTEAOID);
	DesSpiExec("SELECT c.hash, c.chunks, c.size, c.chunk_count FROM des.dataset_contents c "
			   "WHERE c.repo_id = $1 AND c.hash = ANY ($2)", 2, types, args, NULL, true, SPI_OK_SELECT);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		unsigned char h[DES_TREE_HASH_BYTES];
		ListRow    *row;

		DesByteaHash(DatumGetByteaPP(DesSpiGet(r, "hash", &isnull)), h);
		row = hash_search(rows, h, HASH_ENTER, NULL);
		row->chunks = copy_bytea(DesSpiGet(r, "chunks", &isnull));
		row->size = DatumGetInt64(DesSpiGet(r, "size", &isnull));
		row->chunk_count = DatumGetInt64(DesSpiGet(r, "chunk_count", &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
	return rows;
}

/*
 * A file's chunk list: stored, hashing to the content hash, decoding, adding
 * up to the entry's size. Gives the list to read the chunks of when it is
 * met for the first time and good, else NULL.
 */
static bytea *
verify_list(Verify *v, const des_tree_entry *e, const char *path, HTAB *rows, uint64 *count)
{
	bool		found;
	Seen	   *seen = hash_search(v->contents, e->hash, HASH_ENTER, &found);
	ListRow    *row;
	unsigned char check[DES_TREE_HASH_BYTES];
	uint64_t	n,
				size;
	des_error	err;

	if (found)
	{
		if (seen->ok && seen->size != e->size)
			problem(v, path, "content %s: the entry says " UINT64_FORMAT " bytes, its chunk list " UINT64_FORMAT,
					hex_of(e->hash), e->size, seen->size);
		return NULL;
	}
	seen->ok = false;
	row = hash_search(rows, e->hash, HASH_FIND, NULL);
	if (row == NULL)
	{
		problem(v, path, "content %s: its chunk list is not stored", hex_of(e->hash));
		return NULL;
	}
	des_tree_hash(VARDATA_ANY(row->chunks), VARSIZE_ANY_EXHDR(row->chunks), check);
	if (memcmp(check, e->hash, DES_TREE_HASH_BYTES) != 0)
	{
		problem(v, path, "content %s: the stored chunk list does not hash to it", hex_of(e->hash));
		return NULL;
	}
	if (!des_file_decode((const unsigned char *) VARDATA_ANY(row->chunks), VARSIZE_ANY_EXHDR(row->chunks),
						 &n, &size, &err))
	{
		problem(v, path, "content %s: the chunk list does not decode: %s", hex_of(e->hash), err.message);
		return NULL;
	}
	seen->ok = true;
	seen->size = size;
	if (size != e->size)
		problem(v, path, "content %s: the entry says " UINT64_FORMAT " bytes, its chunk list " UINT64_FORMAT,
				hex_of(e->hash), e->size, (uint64) size);
	if ((uint64) row->size != size)
		problem(v, path, "content %s: column size of des.dataset_contents says " INT64_FORMAT " bytes, its chunk list " UINT64_FORMAT,
				hex_of(e->hash), row->size, (uint64) size);
	if ((uint64) row->chunk_count != n)
		problem(v, path, "content %s: column chunk_count of des.dataset_contents says " INT64_FORMAT ", its chunk list has " UINT64_FORMAT,
				hex_of(e->hash), row->chunk_count, (uint64) n);
	*count = n;
	return row->chunks;
}

/* ---- directories ---- */

typedef struct FileToRead
{
	const char *path;
	bytea	   *list;
	uint64		count;
} FileToRead;

/*
 * The files of a decoded directory: chunk lists first (one query), then
 * the chunks met for the first time (one query for their places, then a
 * read of each).
 */
static void
verify_files(Verify *v, const des_tree_dir *dir, const char *path)
{
	HTAB	   *rows = fetch_lists(v, dir);
	FileToRead *files = palloc(sizeof(FileToRead) * Max(dir->count, 1));
	int			nfiles = 0;
	DesDatumVec ids = {0};
	HTAB	   *places;

	for (size_t i = 0; i < dir->count; i++)
	{
		const des_tree_entry *e = &dir->entries[i];
		char	   *p;
		uint64		count = 0;
		bytea	   *list;

		if (e->kind != DES_TREE_FILE)
			continue;
		p = child_path(path, e);
		list = verify_list(v, e, p, rows, &count);
		if (list == NULL)
			continue;
		files[nfiles].path = p;
		files[nfiles].list = list;
		files[nfiles].count = count;
		nfiles++;
		for (uint64 c = 0; c < count; c++)
		{
			des_chunk_ref ref;
			bool		found;
			Seen	   *seen;

			des_file_chunk((const unsigned char *) VARDATA_ANY(list), c, &ref);
			seen = hash_search(v->chunks, ref.id, HASH_ENTER, &found);
			if (!found)
			{
				seen->ok = false;	/* pending: read below */
				DesVecPush(&ids, PointerGetDatum(DesHashBytea(ref.id)));
			}
		}
	}
	places = DesChunkPlaces(&ids);
	if (ids.n > 0)
		SPI_freetuptable(SPI_tuptable);

	/* each chunk once: the first file that has it reads it */
	for (int f = 0; f < nfiles; f++)
	{
		for (uint64 c = 0; c < files[f].count; c++)
		{
			des_chunk_ref ref;
			bool		found;
			DesChunkPlace *place;
			Seen	   *seen;
			char	   *bad;

			CHECK_FOR_INTERRUPTS();
			des_file_chunk((const unsigned char *) VARDATA_ANY(files[f].list), c, &ref);
			seen = hash_search(v->chunks, ref.id, HASH_FIND, NULL);
			if (seen == NULL || seen->ok)
				continue;		/* (not pending: a chunk met in an earlier directory) */
			seen->ok = true;	/* done */
			place = hash_search(places, ref.id, HASH_FIND, &found);
			if (!found)
			{
				problem(v, files[f].path, "chunk %s is not stored: des.blobs has no row for it in a committed container",
						hex_of(ref.id));
				continue;
			}
			bad = check_chunk(v, place, ref.length);
			if (bad)
				problem(v, files[f].path, "chunk %s: %s", hex_of(ref.id), bad);
		}
	}
}

/* A directory whose entries total sum, where its entry (the root: the bundle row) says expected. */
static void
check_dir_size(Verify *v, const unsigned char hash[DES_TREE_HASH_BYTES], const char *path, uint64 expected,
			   uint64 sum)
{
	if (sum == expected)
		return;
	if (path[0])
		problem(v, path, "directory %s: its entry says " UINT64_FORMAT " bytes, its entries total " UINT64_FORMAT,
				hex_of(hash), expected, sum);
	else
		problem(v, path, "directory %s (the root): column total_size of des.dataset_bundles says " UINT64_FORMAT " bytes, its entries total " UINT64_FORMAT,
				hex_of(hash), expected, sum);
}

static void verify_dir(Verify *v, const unsigned char hash[DES_TREE_HASH_BYTES], const char *path, uint64 expected);

/* What a decoded directory holds: its sizes, its files, its subdirectories. */
static void
verify_entries(Verify *v, const des_tree_dir *dir, const unsigned char hash[DES_TREE_HASH_BYTES], const char *path,
			   uint64 expected, int64 total_col, Seen *seen)
{
	uint64		sum = 0;
	bool		overflow = false;

	for (size_t i = 0; i < dir->count; i++)
		overflow = overflow || des_add_overflows(sum, dir->entries[i].size, &sum) || sum > DES_TREE_MAX_SIZE;
	if (overflow)
		problem(v, path, "directory %s: its entries total more than 2^63 - 1 bytes", hex_of(hash));
	else
	{
		seen->ok = true;
		seen->size = sum;
		check_dir_size(v, hash, path, expected, sum);
		if ((uint64) total_col != sum)
			problem(v, path, "directory %s: column total_size of des.dataset_dirs says " INT64_FORMAT " bytes, its entries total " UINT64_FORMAT,
					hex_of(hash), total_col, sum);
	}
	verify_files(v, dir, path);
	for (size_t i = 0; i < dir->count; i++)
	{
		const des_tree_entry *e = &dir->entries[i];

		if (e->kind == DES_TREE_DIR)
			verify_dir(v, e->hash, child_path(path, e), e->size);
	}
}

/*
 * verify_entries, then the decoded entries (malloc'd) are freed, on every
 * path (PG_CATCH, not PG_FINALLY: gcc takes the latter's flag for clobbered
 * here)
 */
static void
verify_decoded(Verify *v, des_tree_dir *dir, const unsigned char hash[DES_TREE_HASH_BYTES], const char *path,
			   uint64 expected, int64 total_col, Seen *seen)
{
	PG_TRY();
	{
		verify_entries(v, dir, hash, path, expected, total_col, seen);
	}
	PG_CATCH();
	{
		des_tree_dir_free(dir);
		PG_RE_THROW();
	}
	PG_END_TRY();
	des_tree_dir_free(dir);
}

/*
 * The directory hash at path, and everything below it. expected: the size
 * its entry in its parent says (the root: the bundle's total_size).
 */
static void
verify_dir(Verify *v, const unsigned char hash[DES_TREE_HASH_BYTES], const char *path, uint64 expected)
{
	bool		found;
	Seen	   *seen = hash_search(v->dirs, hash, HASH_ENTER, &found);
	Oid			types[2] = {INT8OID, BYTEAOID};
	Datum		args[2];
	bool		isnull;
	bytea	   *enc;
	int64		total_col;
	unsigned char check[DES_TREE_HASH_BYTES];
	des_tree_dir dir = {0};
	des_error	err;
	MemoryContext cxt,
				old;

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();
	if (found)
	{
		if (seen->ok)
			check_dir_size(v, hash, path, expected, seen->size);
		return;
	}
	seen->ok = false;
	args[0] = Int64GetDatum(v->repo_id);
	args[1] = PointerGetDatum(DesHashBytea(hash));
	DesSpiExec("SELECT d.encoding, d.total_size FROM des.dataset_dirs d WHERE d.repo_id = $1 AND d.hash = $2",
			   2, types, args, NULL, true, SPI_OK_SELECT);
	if (SPI_processed == 0)
	{
		problem(v, path, "directory %s is not stored", hex_of(hash));
		return;
	}
	/* what is below this directory lives in its own context */
	cxt = AllocSetContextCreate(CurrentMemoryContext, "des.verify_bundle directory", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	enc = copy_bytea(DesSpiGet(0, "encoding", &isnull));
	total_col = DatumGetInt64(DesSpiGet(0, "total_size", &isnull));
	SPI_freetuptable(SPI_tuptable);
	des_tree_hash(VARDATA_ANY(enc), VARSIZE_ANY_EXHDR(enc), check);
	if (memcmp(check, hash, DES_TREE_HASH_BYTES) != 0)
		problem(v, path, "directory %s: the stored encoding does not hash to it", hex_of(hash));
	else if (!des_tree_dir_decode((const unsigned char *) VARDATA_ANY(enc), VARSIZE_ANY_EXHDR(enc), &dir, &err))
		problem(v, path, "directory %s does not decode: %s", hex_of(hash), err.message);
	else
		verify_decoded(v, &dir, hash, path, expected, total_col, seen);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

PG_FUNCTION_INFO_V1(des_verify_bundle);

/* des.verify_bundle(ref) -> (path, problem): none if the bundle verifies */
Datum
des_verify_bundle(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Verify		v;
	DesOwnerScope scope = {0};
	DesResolvedRef r;
	char	   *ref;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("des.verify_bundle needs a ref")));
	ref = text_to_cstring(PG_GETARG_TEXT_PP(0));
	InitMaterializedSRF(fcinfo, 0);
	memset(&v, 0, sizeof(v));
	v.store = rsinfo->setResult;
	v.desc = rsinfo->setDesc;
	v.outer = CurrentMemoryContext;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PG_TRY();
	{
		unsigned char root[DES_TREE_HASH_BYTES];
		int64		total;

		/* a branch: its head, not what is staged on it */
		DesResolveRef(ref, "read", false, &r, &scope);
		if (!r.has_bundle)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("ref \"%s\" names no bundle yet", ref),
					 errdetail("The branch has no commit.")));
		v.cxt = CurrentMemoryContext;
		v.repo_id = r.repo.id;
		v.dirs = seen_table("pg_des verified directories");
		v.contents = seen_table("pg_des verified chunk lists");
		v.chunks = seen_table("pg_des verified chunks");
		v.chunk_cxt = AllocSetContextCreate(CurrentMemoryContext, "des.verify_bundle chunk", ALLOCSET_DEFAULT_SIZES);
		if (verify_header(&v, r.bundle, root, &total))
			verify_dir(&v, root, "", (uint64) total);
		DesLogRead(&scope, &r.repo, ref, r.bundle, NULL, "des.verify_bundle");
	}
	PG_FINALLY();
	{
		DesOwnerEnd(&scope);
	}
	PG_END_TRY();
	SPI_finish();
	return (Datum) 0;
}
