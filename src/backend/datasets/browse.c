/*
 * browse.c - reading a version: des.files (the tree, listed), des.read
 * (a file, or a byte range of it: only the chunks covering the range are
 * read). Every call records one row of des.read_log in the reading
 * transaction.
 */
#include "pg_des.h"
#include "datasets/datasets.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

typedef struct ChunkCount
{
	unsigned char hash[DES_TREE_HASH_BYTES];	/* the key */
	int64		n;
} ChunkCount;

typedef struct ListState
{
	Tuplestorestate *store;
	TupleDesc	desc;
	MemoryContext outer;
	int64		repo_id;
	HTAB	   *all_counts;		/* a whole listing: every content's chunk count, read at once */
} ListState;

/*
 * The chunk counts of every content of the repo, by one sequential read: for
 * a whole listing, cheaper than looking each file's up (an index probe per
 * file costs more than the rest of its row).
 */
static HTAB *
all_chunk_counts(int64 repo_id)
{
	HTAB	   *h;
	HASHCTL		ctl;
	Oid			types[1] = {INT8OID};
	Datum		args[1];

	args[0] = Int64GetDatum(repo_id);
	DesSpiExec("SELECT c.hash, c.chunk_count FROM des.dataset_contents c WHERE c.repo_id = $1",
			   1, types, args, NULL, true, SPI_OK_SELECT);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = DES_TREE_HASH_BYTES;
	ctl.entrysize = sizeof(ChunkCount);
	ctl.hcxt = CurrentMemoryContext;
	ctl.hash = DesBlake2bKeyHash;
	h = hash_create("pg_des all chunk counts", Max((long) SPI_processed, 16), &ctl, HASH_ELEM | HASH_FUNCTION | HASH_CONTEXT);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		bytea	   *hash = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
		ChunkCount *c;

		if (VARSIZE_ANY_EXHDR(hash) != DES_TREE_HASH_BYTES)
			continue;
		c = hash_search(h, VARDATA_ANY(hash), HASH_ENTER, NULL);
		c->n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
	return h;
}

/* Chunk counts of the files of one directory: one query. */
static HTAB *
chunk_counts(int64 repo_id, const des_tree_dir *dir)
{
	DesDatumVec want = {0};
	HTAB	   *h;
	HASHCTL		ctl;
	Oid			types[2] = {INT8OID, BYTEAARRAYOID};
	Datum		args[2];

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = DES_TREE_HASH_BYTES;
	ctl.entrysize = sizeof(ChunkCount);
	ctl.hcxt = CurrentMemoryContext;
	ctl.hash = DesBlake2bKeyHash;
	h = hash_create("pg_des chunk counts", Max(dir->count, 16), &ctl, HASH_ELEM | HASH_FUNCTION | HASH_CONTEXT);
	for (size_t i = 0; i < dir->count; i++)
		if (dir->entries[i].kind == DES_TREE_FILE)
			DesVecPush(&want, PointerGetDatum(DesHashBytea(dir->entries[i].hash)));
	if (want.n == 0)
		return h;
	args[0] = Int64GetDatum(repo_id);
	args[1] = DesVecArray(&want, BYTEAOID);
	DesSpiExec("SELECT c.hash, c.chunk_count FROM des.dataset_contents c WHERE c.repo_id = $1 AND c.hash = ANY ($2)",
			   2, types, args, NULL, true, SPI_OK_SELECT);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		unsigned char k[DES_TREE_HASH_BYTES];
		ChunkCount *c;

		DesByteaHash(DatumGetByteaPP(DesSpiGet(r, "hash", &isnull)), k);
		c = hash_search(h, k, HASH_ENTER, NULL);
		c->n = DatumGetInt64(DesSpiGet(r, "chunk_count", &isnull));
	}
	return h;
}

static void
emit_entry(ListState *ls, const char *path, const des_tree_entry *e, HTAB *counts)
{
	Datum		values[6];
	bool		nulls[6] = {0};
	char		hex[DES_TREE_HEX_LEN + 1];
	MemoryContext old = MemoryContextSwitchTo(ls->outer);

	values[0] = CStringGetTextDatum(path);
	values[1] = CStringGetTextDatum(e->kind == DES_TREE_FILE ? "file" : "dir");
	values[2] = Int32GetDatum((int32) e->mode);
	values[3] = Int64GetDatum((int64) e->size);
	if (e->kind == DES_TREE_FILE)
	{
		ChunkCount *c = hash_search(counts, e->hash, HASH_FIND, NULL);

		des_tree_hex(e->hash, hex);
		values[4] = CStringGetTextDatum(hex);
		if (c)
			values[5] = Int64GetDatum(c->n);
		else
			nulls[5] = true;
	}
	else
		nulls[4] = nulls[5] = true;
	tuplestore_putvalues(ls->store, ls->desc, values, nulls);
	MemoryContextSwitchTo(old);
}

/* Every entry below the directory hash, in tree order (a directory before what it holds). */
static void
list_dir(ListState *ls, DesTreeReader *tr, const unsigned char hash[DES_TREE_HASH_BYTES], const char *prefix)
{
	des_tree_dir dir;
	HTAB	   *counts;
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "des.files directory", ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();
	DesTreeGet(tr, hash, &dir);
	PG_TRY();
	{
		counts = ls->all_counts ? ls->all_counts : chunk_counts(ls->repo_id, &dir);
		for (size_t i = 0; i < dir.count; i++)
		{
			const des_tree_entry *e = &dir.entries[i];
			char	   *path = prefix[0] ? psprintf("%s/%.*s", prefix, (int) e->name_len, e->name)
				: pnstrdup(e->name, e->name_len);

			CHECK_FOR_INTERRUPTS();
			emit_entry(ls, path, e, counts);
			if (e->kind == DES_TREE_DIR)
				list_dir(ls, tr, e->hash, path);
		}
	}
	PG_FINALLY();
	{
		des_tree_dir_free(&dir);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

PG_FUNCTION_INFO_V1(des_files);

/* des.files(ref, prefix DEFAULT NULL) -> (path, kind, mode, size, content_hash, chunks) */
Datum
des_files(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ListState	ls;
	DesOwnerScope scope = {0};
	DesResolvedRef r;
	char	   *ref;
	char	   *prefix;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("des.files needs a ref")));
	ref = text_to_cstring(PG_GETARG_TEXT_PP(0));
	prefix = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	InitMaterializedSRF(fcinfo, 0);
	ls.store = rsinfo->setResult;
	ls.desc = rsinfo->setDesc;
	ls.outer = CurrentMemoryContext;
	ls.all_counts = NULL;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PG_TRY();
	{
		DesResolveRef(ref, "read", true, &r, &scope);
		ls.repo_id = r.repo.id;
		if (prefix == NULL)
		{
			ls.all_counts = all_chunk_counts(r.repo.id);
			list_dir(&ls, r.tree, r.root, "");
		}
		else
		{
			des_tree_entry e;

			DesCheckPath(prefix);
			if (DesTreeLookup(r.tree, r.root, prefix, &e))
			{
				if (e.kind == DES_TREE_DIR)
					list_dir(&ls, r.tree, e.hash, prefix);
				else
				{
					des_tree_dir one = {0};

					one.count = 1;
					one.entries = &e;
					emit_entry(&ls, prefix, &e, chunk_counts(r.repo.id, &one));
				}
			}
		}
		DesLogRead(&scope, &r.repo, ref, r.has_bundle ? r.bundle : NULL, prefix, "des.files");
	}
	PG_FINALLY();
	{
		DesOwnerEnd(&scope);
	}
	PG_END_TRY();
	SPI_finish();
	return (Datum) 0;
}

/* The entry of the file at path, or the errors of a bad path, an absent one or a directory. */
static void
lookup_file(DesResolvedRef *r, const char *path, des_tree_entry *e)
{
	DesCheckPath(path);
	if (!DesTreeLookup(r->tree, r->root, path, e))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("path \"%s\" is not in %s", path, r->ref)));
	if (e->kind != DES_TREE_FILE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("path \"%s\" of %s is a directory", path, r->ref),
				 errhint("des.files lists what it holds.")));
}

/* The file at path (whole, or the range), as a bytea. */
static bytea *
read_file(DesResolvedRef *r, const char *path, int64 offset, int64 length, bool whole)
{
	des_tree_entry e;
	bytea	   *list;
	StringInfoData out;

	lookup_file(r, path, &e);
	if (whole)
	{
		offset = 0;
		length = (int64) e.size;
	}
	if ((uint64) Min(length, (int64) e.size) > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("file \"%s\" has " UINT64_FORMAT " bytes, more than a bytea holds", path, e.size),
				 errhint("Read it in ranges with des.read(ref, path, offset, length).")));
	list = DesContentChunks(r->repo.id, e.hash);
	initStringInfo(&out);
	/* the bytes go straight into the result: a bytea header first */
	appendStringInfoSpaces(&out, VARHDRSZ);
	DesReadFileRange((const unsigned char *) VARDATA_ANY(list), VARSIZE_ANY_EXHDR(list), (uint64) offset,
					 (uint64) length, &out);
	SET_VARSIZE(out.data, out.len);
	return (bytea *) out.data;
}

PG_FUNCTION_INFO_V1(des_read);

/* des.read(ref, path) and des.read(ref, path, offset, length) -> bytea */
Datum
des_read(PG_FUNCTION_ARGS)
{
	MemoryContext outer = CurrentMemoryContext;
	DesOwnerScope scope = {0};
	DesResolvedRef r;
	char	   *ref,
			   *path;
	bool		whole = PG_NARGS() < 4;
	int64		offset = whole || PG_ARGISNULL(2) ? 0 : PG_GETARG_INT64(2);
	int64		length = whole || PG_ARGISNULL(3) ? 0 : PG_GETARG_INT64(3);
	bytea	   *volatile result = NULL;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || (!whole && (PG_ARGISNULL(2) || PG_ARGISNULL(3))))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("des.read needs a ref and a path (and an offset and a length)")));
	ref = text_to_cstring(PG_GETARG_TEXT_PP(0));
	path = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (!whole)
	{
		if (offset < 0 || length < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("des.read: offset and length must not be negative")));
	}
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PG_TRY();
	{
		bytea	   *b;

		DesResolveRef(ref, "read", true, &r, &scope);
		b = read_file(&r, path, offset, length, whole);
		DesLogRead(&scope, &r.repo, ref, r.has_bundle ? r.bundle : NULL, path, "des.read");
		result = MemoryContextAlloc(outer, VARSIZE(b));
		memcpy(result, b, VARSIZE(b));
	}
	PG_FINALLY();
	{
		DesOwnerEnd(&scope);
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_BYTEA_P(result);
}

PG_FUNCTION_INFO_V1(des_read_many);

/*
 * des.read_many(ref, paths[]) -> (path, data): the files in one call, in the
 * order given (a path twice: twice); the chunk lists in one query, where
 * their chunks are in one more, each container opened once. An absent path
 * or a directory is an error, as for des.read.
 */
Datum
des_read_many(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DesOwnerScope scope = {0};
	DesResolvedRef r;
	char	   *ref;
	Datum	   *paths;
	bool	   *path_nulls;
	int			n;
	MemoryContext outer;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("des.read_many needs a ref and paths")));
	ref = text_to_cstring(PG_GETARG_TEXT_PP(0));
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), TEXTOID, -1, false, TYPALIGN_INT, &paths, &path_nulls, &n);
	InitMaterializedSRF(fcinfo, 0);
	outer = CurrentMemoryContext;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PG_TRY();
	{
		des_tree_entry *entries = palloc(sizeof(des_tree_entry) * Max(n, 1));
		char	  **strs = palloc(sizeof(char *) * Max(n, 1));
		DesDatumVec want = {0};
		HTAB	   *lists;
		DesChunkReader *reader;

		DesResolveRef(ref, "read", true, &r, &scope);
		for (int i = 0; i < n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			if (path_nulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("des.read_many: path %d is NULL", i + 1)));
			strs[i] = TextDatumGetCString(paths[i]);
			lookup_file(&r, strs[i], &entries[i]);
			DesVecPush(&want, PointerGetDatum(DesHashBytea(entries[i].hash)));
		}
		/* the chunk lists, then where all their chunks are: two queries */
		reader = DesChunkReaderCreate();
		lists = DesContentLists(r.repo.id, &want, reader);
		for (int i = 0; i < n; i++)
		{
			DesContentList *l = hash_search(lists, entries[i].hash, HASH_FIND, NULL);
			StringInfoData buf;
			Datum		values[2];
			bool		nulls[2] = {false, false};
			MemoryContext old;

			CHECK_FOR_INTERRUPTS();
			if (l == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("the chunk list of file \"%s\" is not stored", strs[i])));
			if (entries[i].size > MaxAllocSize - VARHDRSZ)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("file \"%s\" has " UINT64_FORMAT " bytes, more than a bytea holds", strs[i],
								entries[i].size)));
			initStringInfo(&buf);
			appendStringInfoSpaces(&buf, VARHDRSZ);
			DesChunkReaderReadRange(reader, (const unsigned char *) VARDATA_ANY(l->list), VARSIZE_ANY_EXHDR(l->list),
									0, entries[i].size, &buf);
			SET_VARSIZE(buf.data, buf.len);
			old = MemoryContextSwitchTo(outer);
			values[0] = CStringGetTextDatum(strs[i]);
			values[1] = PointerGetDatum(buf.data);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			MemoryContextSwitchTo(old);
			pfree(buf.data);
		}
		DesChunkReaderEnd(reader);
		DesLogRead(&scope, &r.repo, ref, r.has_bundle ? r.bundle : NULL, NULL, "des.read_many");
	}
	PG_FINALLY();
	{
		DesOwnerEnd(&scope);
	}
	PG_END_TRY();
	SPI_finish();
	return (Datum) 0;
}
