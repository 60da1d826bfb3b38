/*
 * fdw_ref.c - des_fdw tables over a version of a dataset: OPTIONS (ref
 * 'repo/main') shows one row per file of what the ref names (a bundle, a
 * branch with its staged changes, a branch at a time, a label), with the
 * columns of des.files and the file's bytes (docs/datasets.md "Foreign
 * tables").
 *
 * The scan is des.files and des.read_many as an executor node: at its first
 * row it resolves the ref for the current user (DesResolveRef: the caller's
 * read level, then the extension's owner reads) and adds one des.read_log
 * row; then it walks the tree depth first, one directory fetched when the
 * walk enters it, and returns files in batches. With the data column, a
 * batch's chunk lists are read in one query and where their chunks are in
 * one more, then the bytes are read with containers kept open (the batched
 * chunk reader). path = x and path = ANY(xs) are lookups in the tree, path
 * LIKE 'p%' prunes the walk to the directories that can hold such paths.
 *
 * Every step that reads the catalog of versions runs inside SPI and as the
 * owner, and ends before the row is returned (PG_FINALLY restores the
 * caller). What the scan keeps lives in its memory context, a child of the
 * query's: errors release it with the query.
 */
#include "pg_des.h"

#include "access/sysattr.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "datasets/datasets.h"
#include "fdw/des_fdw.h"

/* a batch: at most this many files, and (reading data) about this many bytes */
#define BATCH_FILES 1024
#define BATCH_BYTES (16 * 1024 * 1024)
/* rows guessed for a version (no statistics: ANALYZE skips ref tables) */
#define GUESS_FILES 1000

/* ForeignScan.fdw_private of a ref table, by position */
enum
{
	REF_FP_LOOKUP,				/* Integer: DesFdwLookup */
	REF_FP_PREFIX,				/* String: prefix */
	REF_FP_LIMIT,				/* Integer: rows to stop after, -1 none */
	REF_FP_NEEDED,				/* Integer: bit (1 << DesFdwRefColumn) per column read */
	REF_FP_PUSHED,				/* List of String: pushed conditions, for EXPLAIN */
	REF_FP_COUNT
};

/* Planner state (baserel->fdw_private): starts with the table, as DesFdwPlanState does. */
typedef struct RefPlanState
{
	DesFdwTable table;
	DesFdwNameCondition cond;	/* the best name condition of the restrictions */
	uint32		needed;
} RefPlanState;

/* A directory the walk is in. */
typedef struct WalkFrame
{
	des_tree_entry *entries;	/* a copy (names point into the tree reader's memory) */
	size_t		count;
	size_t		pos;
	char	   *path;			/* its path ("" for the root) */
} WalkFrame;

/* A file of the current batch. */
typedef struct BatchFile
{
	char	   *path;
	uint32		mode;
	uint64		size;
	unsigned char hash[DES_TREE_HASH_BYTES];
	bytea	   *data;			/* read only when the data column is needed */
} BatchFile;

typedef struct RefScanState
{
	DesFdwTable table;			/* first: fdw_scan.c dispatches on table.ref */
	DesFdwLookup kind;
	char	   *prefix;
	int64		bound;
	uint32		needed;
	bool		need_data;
	ExprState  *lookup;
	MemoryContext scan_cxt;		/* the scan: the resolved ref, its directories, the walk */
	MemoryContext names_cxt;	/* one execution's lookup paths */
	MemoryContext batch_cxt;	/* one batch of files and their bytes */
	const char *err_path;		/* the file being read, for the error context */

	bool		resolved;
	DesResolvedRef ref;

	/* one execution (rescans start again, without resolving again) */
	bool		started;
	bool		done;
	WalkFrame  *stack;
	int			depth;
	int			stack_cap;
	char	  **names;			/* lookups: distinct paths */
	int			nnames;
	int			next_name;
	int64		emitted;

	BatchFile  *batch;
	int			nbatch;
	int			batch_pos;

	/* EXPLAIN ANALYZE */
	uint64		batches;
	uint64		bytes_read;
} RefScanState;

static bool
ref_wants(const DesFdwTable *t, uint32 needed, DesFdwRefColumn c)
{
	return t->ref_attno[c] != 0 && (needed & (1U << c)) != 0;
}

/* Columns exprs read, as bits (1 << DesFdwRefColumn); all for a whole-row reference. */
static uint32
ref_needed_columns(const DesFdwTable *t, Index relid, List *exprs)
{
	Bitmapset  *attrs = NULL;
	uint32		needed = 0;

	pull_varattnos((Node *) exprs, relid, &attrs);
	if (bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs))
		return (1U << DES_RCOL_COUNT) - 1;
	for (int c = 0; c < DES_RCOL_COUNT; c++)
		if (t->ref_attno[c] != 0 && bms_is_member(t->ref_attno[c] - FirstLowInvalidHeapAttributeNumber, attrs))
			needed |= 1U << c;
	return needed;
}

/* ---- planning ---- */

void
DesFdwRefGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, DesFdwTable *t)
{
	RefPlanState *ps = palloc0(sizeof(RefPlanState));
	List	   *exprs = list_copy(baserel->reltarget->exprs);
	List	   *quals = NIL;
	ListCell   *lc;
	double		cap = -1;

	ps->table = *t;
	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *ri = lfirst(lc);
		DesFdwNameCondition nc;

		exprs = lappend(exprs, ri->clause);
		quals = lappend(quals, ri);
		if (!DesFdwMatchNameCondition(root, ri->clause, baserel->relid, t->ref_attno[DES_RCOL_PATH], &nc))
			continue;
		if (DesFdwBetterCondition(&ps->cond, &nc, false))
			ps->cond = nc;
		if (nc.kind != DES_LOOKUP_PREFIX)
			cap = cap < 0 ? nc.nnames : Min(cap, nc.nnames);
	}
	ps->needed = ref_needed_columns(t, baserel->relid, exprs);
	baserel->tuples = GUESS_FILES;
	baserel->rows = clamp_row_est(GUESS_FILES * clauselist_selectivity(root, quals, baserel->relid, JOIN_INNER, NULL));
	/* paths are unique in a version: a lookup gives at most one row per path */
	if (cap >= 0)
		baserel->rows = clamp_row_est(Min(baserel->rows, cap));
	baserel->fdw_private = ps;
}

void
DesFdwRefGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel)
{
	RefPlanState *ps = baserel->fdw_private;
	bool		lookup = ps->cond.kind == DES_LOOKUP_NAME || ps->cond.kind == DES_LOOKUP_NAMES;
	double		examined = lookup ? ps->cond.nnames : GUESS_FILES;
	/* resolving the ref: a few queries; each directory or lookup: about a page */
	Cost		startup = 10 * seq_page_cost;
	Cost		run = examined * (cpu_operator_cost + seq_page_cost / 10) + baserel->rows * cpu_tuple_cost;

	if (ref_wants(&ps->table, ps->needed, DES_RCOL_DATA))
		run += baserel->rows * 4 * seq_page_cost;
	add_path(baserel, (Path *) create_foreignscan_path(root, baserel, NULL, baserel->rows, startup,
													   startup + run, NIL, baserel->lateral_relids, NULL, NIL));
}

ForeignScan *
DesFdwRefGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, List *tlist, List *scan_clauses,
						Plan *outer_plan)
{
	RefPlanState *ps = baserel->fdw_private;
	AttrNumber	path_attno = ps->table.ref_attno[DES_RCOL_PATH];
	List	   *local = NIL;
	DesFdwNameCondition best = {0};
	RestrictInfo *best_ri = NULL;
	ListCell   *lc;
	int64		bound;
	uint32		needed;
	List	   *fdw_private;

	foreach(lc, scan_clauses)
	{
		RestrictInfo *ri = lfirst(lc);
		DesFdwNameCondition nc;

		if (ri->pseudoconstant)
			continue;			/* a gating Result node checks these */
		if (DesFdwMatchNameCondition(root, ri->clause, baserel->relid, path_attno, &nc) &&
			DesFdwBetterCondition(&best, &nc, false))
		{
			if (best_ri)
				local = lappend(local, best_ri->clause);
			best = nc;
			best_ri = ri;
			continue;
		}
		local = lappend(local, ri->clause);
	}
	if (best.kind != DES_LOOKUP_NONE && !best.exact)
		local = lappend(local, best_ri->clause);	/* the prefix narrows; the filter decides */
	bound = local == NIL ? DesFdwScanBound(root, baserel) : -1;
	needed = ref_needed_columns(&ps->table, baserel->relid,
								list_concat(list_copy(baserel->reltarget->exprs), local));

	fdw_private = NIL;
	fdw_private = lappend(fdw_private, makeInteger(best.kind));
	fdw_private = lappend(fdw_private, makeString(best.prefix ? best.prefix : pstrdup("")));
	fdw_private = lappend(fdw_private, makeInteger((int) bound));
	fdw_private = lappend(fdw_private, makeInteger((int) needed));
	fdw_private = lappend(fdw_private, DesFdwDescribePushed(root, "path", &best, bound));
	return make_foreignscan(tlist, local, baserel->relid,
							list_make1(best.kind == DES_LOOKUP_NAME || best.kind == DES_LOOKUP_NAMES ? best.other : NULL),
							fdw_private, NIL, NIL, outer_plan);
}

/* ---- the scan ---- */

void
DesFdwRefBeginForeignScan(ForeignScanState *node, int eflags, DesFdwTable *t)
{
	ForeignScan *fs = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	List	   *fp = fs->fdw_private;
	RefScanState *st = palloc0(sizeof(RefScanState));

	node->fdw_state = st;
	st->table = *t;
	st->kind = (DesFdwLookup) intVal(list_nth(fp, REF_FP_LOOKUP));
	st->prefix = strVal(list_nth(fp, REF_FP_PREFIX));
	st->bound = intVal(list_nth(fp, REF_FP_LIMIT));
	st->needed = (uint32) intVal(list_nth(fp, REF_FP_NEEDED));
	st->need_data = ref_wants(&st->table, st->needed, DES_RCOL_DATA);
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;
	st->lookup = ExecInitExpr(linitial(fs->fdw_exprs), &node->ss.ps);
	st->scan_cxt = AllocSetContextCreate(estate->es_query_cxt, "des_fdw ref scan", ALLOCSET_DEFAULT_SIZES);
	st->names_cxt = AllocSetContextCreate(st->scan_cxt, "des_fdw ref names", ALLOCSET_SMALL_SIZES);
	st->batch_cxt = AllocSetContextCreate(st->scan_cxt, "des_fdw ref batch", ALLOCSET_DEFAULT_SIZES);
}

static void
ref_error_callback(void *arg)
{
	RefScanState *st = arg;

	if (st->err_path)
		errcontext("foreign table over ref \"%s\", file \"%s\"", st->table.ref, st->err_path);
	else
		errcontext("foreign table over ref \"%s\"", st->table.ref);
}

static bool
is_lookup(const RefScanState *st)
{
	return st->kind == DES_LOOKUP_NAME || st->kind == DES_LOOKUP_NAMES;
}

static int
cmp_cstring(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The lookup's distinct paths (in scan memory); NULLs name nothing. */
static void
evaluate_names(ForeignScanState *node, RefScanState *st)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	MemoryContext old;
	bool		isnull;
	Datum		v;
	int			kept = 0;

	/* each rescan evaluates them again: the previous ones go */
	MemoryContextReset(st->names_cxt);
	old = MemoryContextSwitchTo(st->names_cxt);
	v = ExecEvalExpr(st->lookup, econtext, &isnull);

	st->nnames = 0;
	st->next_name = 0;
	st->names = NULL;
	if (!isnull && st->kind == DES_LOOKUP_NAME)
	{
		st->names = palloc(sizeof(char *));
		st->names[st->nnames++] = TextDatumGetCString(v);
	}
	else if (!isnull)
	{
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		deconstruct_array(DatumGetArrayTypeP(v), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		st->names = palloc(sizeof(char *) * Max(n, 1));
		for (int i = 0; i < n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			if (!nulls[i])
				st->names[st->nnames++] = TextDatumGetCString(elems[i]);
		}
	}
	/* a path asked twice is still one row */
	if (st->nnames > 1)
	{
		qsort(st->names, st->nnames, sizeof(char *), cmp_cstring);
		for (int i = 0; i < st->nnames; i++)
			if (kept == 0 || strcmp(st->names[kept - 1], st->names[i]) != 0)
				st->names[kept++] = st->names[i];
		st->nnames = kept;
	}
	MemoryContextSwitchTo(old);
}

/* Enter the directory hash at path: a frame with a copy of its entries. Run as the owner. */
static void
push_dir(RefScanState *st, const unsigned char hash[DES_TREE_HASH_BYTES], const char *path)
{
	des_tree_dir dir;
	WalkFrame  *f;

	if (st->depth == st->stack_cap)
	{
		st->stack_cap = Max(st->stack_cap * 2, 16);
		st->stack = st->stack ? repalloc(st->stack, sizeof(WalkFrame) * st->stack_cap)
			: MemoryContextAlloc(st->scan_cxt, sizeof(WalkFrame) * st->stack_cap);
	}
	f = &st->stack[st->depth];
	memset(f, 0, sizeof(*f));
	/* fetched (if not kept yet) with its temporaries in the caller's memory */
	DesTreeGet(st->ref.tree, hash, &dir);
	/* the decoded entries are malloc'd: copied into the scan's memory, then freed, even on error */
	PG_TRY();
	{
		f->entries = MemoryContextAlloc(st->scan_cxt, sizeof(des_tree_entry) * Max(dir.count, 1));
		if (dir.count)
			memcpy(f->entries, dir.entries, sizeof(des_tree_entry) * dir.count);
		f->count = dir.count;
		f->path = MemoryContextStrdup(st->scan_cxt, path);
	}
	PG_FINALLY();
	{
		des_tree_dir_free(&dir);
	}
	PG_END_TRY();
	st->depth++;
}

static void
pop_dir(RefScanState *st)
{
	WalkFrame  *f = &st->stack[--st->depth];

	pfree(f->entries);
	pfree(f->path);
}

/* Can paths below the directory dir (its path) start with prefix? */
static bool
dir_may_match(const char *dir, const char *prefix)
{
	size_t		dl = strlen(dir),
				pl = strlen(prefix);

	/* below dir, every path starts with "dir/" */
	if (pl <= dl)
		return strncmp(dir, prefix, pl) == 0;
	return strncmp(dir, prefix, dl) == 0 && prefix[dl] == '/';
}

static void
add_file(RefScanState *st, const char *path, const des_tree_entry *e)
{
	MemoryContext old = MemoryContextSwitchTo(st->batch_cxt);
	BatchFile  *b = &st->batch[st->nbatch++];

	b->path = pstrdup(path);
	b->mode = e->mode;
	b->size = e->size;
	memcpy(b->hash, e->hash, DES_TREE_HASH_BYTES);
	b->data = NULL;
	MemoryContextSwitchTo(old);
}

/* Is the batch full (files and, reading data, bytes)? */
static bool
batch_full(const RefScanState *st, int max_files, uint64 bytes)
{
	return st->nbatch >= max_files || (st->need_data && bytes >= BATCH_BYTES);
}

/* The next files of the walk into the batch. Run as the owner. */
static void
walk(RefScanState *st, int max_files)
{
	uint64		bytes = 0;

	while (st->depth > 0 && !batch_full(st, max_files, bytes))
	{
		WalkFrame  *f = &st->stack[st->depth - 1];
		const des_tree_entry *e;
		char	   *path;

		CHECK_FOR_INTERRUPTS();
		if (f->pos >= f->count)
		{
			pop_dir(st);
			continue;
		}
		e = &f->entries[f->pos++];
		path = f->path[0] ? psprintf("%s/%.*s", f->path, (int) e->name_len, e->name)
			: pnstrdup(e->name, e->name_len);
		if (e->kind == DES_TREE_DIR)
		{
			if (st->kind != DES_LOOKUP_PREFIX || dir_may_match(path, st->prefix))
				push_dir(st, e->hash, path);
		}
		else if (st->kind != DES_LOOKUP_PREFIX || strncmp(path, st->prefix, strlen(st->prefix)) == 0)
		{
			add_file(st, path, e);
			bytes += e->size;
		}
		pfree(path);
	}
	if (st->depth == 0)
		st->done = true;
}

/* The next looked-up paths that are files of the version. Run as the owner. */
static void
look_up(RefScanState *st, int max_files)
{
	uint64		bytes = 0;

	while (st->next_name < st->nnames && !batch_full(st, max_files, bytes))
	{
		const char *path = st->names[st->next_name++];
		des_tree_entry e;
		des_error	err;
		size_t		bad;

		CHECK_FOR_INTERRUPTS();
		/* a path that breaks the rules is in no version: no row, not an error */
		if (!des_tree_path_check(path, strlen(path), &bad, &err))
			continue;
		if (DesTreeLookup(st->ref.tree, st->ref.root, path, &e) && e.kind == DES_TREE_FILE)
		{
			add_file(st, path, &e);
			bytes += e.size;
		}
	}
	if (st->next_name >= st->nnames)
		st->done = true;
}

typedef struct ListOf
{
	unsigned char hash[DES_TREE_HASH_BYTES];	/* the key: a content hash */
	bytea	   *list;			/* its chunk list (DESF) */
} ListOf;

/*
 * The bytes of the batch's files: their chunk lists in one query, where all
 * their chunks are in one more, then the reads, each container opened once
 * (every chunk checked against its id). Run as the owner.
 */
static void
load_data(RefScanState *st)
{
	MemoryContext old = MemoryContextSwitchTo(st->batch_cxt);
	DesDatumVec want = {0};
	Oid			types[2] = {INT8OID, BYTEAARRAYOID};
	Datum		args[2];
	HTAB	   *lists;
	HASHCTL		ctl;
	DesChunkReader *reader;
	unsigned char *ids = NULL;
	size_t		nids = 0,
				ids_cap = 0;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = DES_TREE_HASH_BYTES;
	ctl.entrysize = sizeof(ListOf);
	ctl.hcxt = st->batch_cxt;
	ctl.hash = DesBlake2bKeyHash;
	lists = hash_create("des_fdw chunk lists", Max(st->nbatch, 16), &ctl, HASH_ELEM | HASH_FUNCTION | HASH_CONTEXT);
	for (int i = 0; i < st->nbatch; i++)
	{
		bool		found;

		if (st->batch[i].size > MaxAllocSize - VARHDRSZ)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("file \"%s\" has " UINT64_FORMAT " bytes, more than a bytea holds", st->batch[i].path,
							st->batch[i].size),
					 errhint("Leave the data column out, and read the file in ranges with des.read(ref, path, offset, length).")));
		if (st->batch[i].size == 0)
			continue;
		hash_search(lists, st->batch[i].hash, HASH_ENTER, &found);
		if (!found)
			DesVecPush(&want, PointerGetDatum(DesHashBytea(st->batch[i].hash)));
	}
	if (want.n > 0)
	{
		args[0] = Int64GetDatum(st->ref.repo.id);
		args[1] = DesVecArray(&want, BYTEAOID);
		DesSpiExec("SELECT c.hash, c.chunks FROM des.dataset_contents c WHERE c.repo_id = $1 AND c.hash = ANY ($2)",
				   2, types, args, NULL, true, SPI_OK_SELECT);
		/* SPI returns in its own memory: the lists are kept in the batch's */
		MemoryContextSwitchTo(st->batch_cxt);
		for (uint64 row = 0; row < SPI_processed; row++)
		{
			bool		isnull;
			unsigned char h[DES_TREE_HASH_BYTES];
			unsigned char check[DES_TREE_HASH_BYTES];
			bytea	   *list = DatumGetByteaPCopy(SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 2,
														   &isnull));
			ListOf	   *l;
			uint64_t	count,
						size;
			des_error	err;

			DesByteaHash(DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 1,
													   &isnull)), h);
			des_tree_hash(VARDATA_ANY(list), VARSIZE_ANY_EXHDR(list), check);
			if (memcmp(check, h, DES_TREE_HASH_BYTES) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("a stored chunk list does not have its content hash")));
			l = hash_search(lists, h, HASH_FIND, NULL);
			if (l == NULL)
				continue;
			l->list = list;
			/* every chunk id of the batch, to locate them all at once */
			if (!des_file_decode((const unsigned char *) VARDATA_ANY(list), VARSIZE_ANY_EXHDR(list), &count, &size,
								 &err))
				DesReportTreeError(&err, "stored chunk list");
			if (nids + count > ids_cap)
			{
				ids_cap = Max(ids_cap * 2, nids + count + 64);
				ids = ids ? repalloc_huge(ids, ids_cap * DES_TREE_HASH_BYTES)
					: palloc_extended(ids_cap * DES_TREE_HASH_BYTES, MCXT_ALLOC_HUGE);
			}
			for (uint64_t i = 0; i < count; i++)
			{
				des_chunk_ref c;

				des_file_chunk((const unsigned char *) VARDATA_ANY(list), i, &c);
				memcpy(ids + (nids++) * DES_TREE_HASH_BYTES, c.id, DES_TREE_HASH_BYTES);
			}
		}
		SPI_freetuptable(SPI_tuptable);
	}
	MemoryContextSwitchTo(st->batch_cxt);
	reader = DesChunkReaderCreate();
	if (nids > 0)
		DesChunkReaderLocate(reader, ids, nids);
	for (int i = 0; i < st->nbatch; i++)
	{
		BatchFile  *b = &st->batch[i];
		StringInfoData buf;

		CHECK_FOR_INTERRUPTS();
		st->err_path = b->path;
		/* (SPI calls return in SPI's memory: the bytes must outlive the step) */
		MemoryContextSwitchTo(st->batch_cxt);
		initStringInfo(&buf);
		enlargeStringInfo(&buf, VARHDRSZ + (int) b->size);
		appendStringInfoSpaces(&buf, VARHDRSZ);
		if (b->size > 0)
		{
			ListOf	   *l = hash_search(lists, b->hash, HASH_FIND, NULL);

			if (l == NULL || l->list == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("the chunk list of file \"%s\" is not stored", b->path)));
			DesChunkReaderReadRange(reader, (const unsigned char *) VARDATA_ANY(l->list), VARSIZE_ANY_EXHDR(l->list),
									0, b->size, &buf);
		}
		if ((uint64) (buf.len - VARHDRSZ) != b->size)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("file \"%s\" has " UINT64_FORMAT " bytes, its chunks %d", b->path, b->size,
							buf.len - VARHDRSZ)));
		SET_VARSIZE(buf.data, buf.len);
		b->data = (bytea *) buf.data;
		st->bytes_read += b->size;
	}
	st->err_path = NULL;
	DesChunkReaderEnd(reader);
	MemoryContextSwitchTo(old);
}

/* Files in the next batch: BATCH_FILES, or fewer for a LIMIT. */
static int
batch_limit(const RefScanState *st)
{
	if (st->bound >= 0)
		return (int) Min((int64) BATCH_FILES, Max(st->bound - st->emitted, 1));
	return BATCH_FILES;
}

/*
 * The next batch: on the first of the scan, resolve the ref for the current
 * user and log the read; then walk or look up, and read the data. One SPI
 * connection, working as the owner, for the whole step.
 */
static void
next_batch(ForeignScanState *node, RefScanState *st)
{
	DesOwnerScope scope = {0};
	ErrorContextCallback errcb;

	errcb.callback = ref_error_callback;
	errcb.arg = st;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	st->err_path = NULL;
	MemoryContextReset(st->batch_cxt);
	st->nbatch = st->batch_pos = 0;
	st->batch = MemoryContextAlloc(st->batch_cxt, sizeof(BatchFile) * BATCH_FILES);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PG_TRY();
	{
		MemoryContextSwitchTo(st->scan_cxt);
		if (!st->resolved)
		{
			/* as the caller: its level on the repo; then as the owner */
			DesResolveRef(st->table.ref, "read", true, &st->ref, &scope);
			DesLogRead(&scope, &st->ref.repo, st->table.ref, st->ref.has_bundle ? st->ref.bundle : NULL, NULL,
					   "des_fdw");
			st->resolved = true;
		}
		else
			DesOwnerBegin(&scope);
		/* what a step allocates goes with the batch (kept directories: the tree reader's memory) */
		MemoryContextSwitchTo(st->batch_cxt);
		if (!st->started)
		{
			st->started = true;
			st->depth = 0;
			if (!is_lookup(st))
				push_dir(st, st->ref.root, "");
		}
		if (is_lookup(st))
			look_up(st, batch_limit(st));
		else
			walk(st, batch_limit(st));
		if (st->need_data && st->nbatch > 0)
		{
			load_data(st);
			st->batches++;
		}
	}
	PG_FINALLY();
	{
		DesOwnerEnd(&scope);
	}
	PG_END_TRY();
	SPI_finish();
	error_context_stack = errcb.previous;
}

TupleTableSlot *
DesFdwRefIterateForeignScan(ForeignScanState *node)
{
	RefScanState *st = node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	const DesFdwTable *t = &st->table;
	BatchFile  *b;
	char		hex[DES_TREE_HEX_LEN + 1];

	ExecClearTuple(slot);
	if (!st->started && is_lookup(st) && st->names == NULL)
		evaluate_names(node, st);
	while (st->batch_pos >= st->nbatch)
	{
		CHECK_FOR_INTERRUPTS();
		if (st->done || (st->bound >= 0 && st->emitted >= st->bound))
			return slot;
		next_batch(node, st);
	}
	b = &st->batch[st->batch_pos++];
	st->emitted++;
	memset(slot->tts_isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
	if (ref_wants(t, st->needed, DES_RCOL_PATH))
	{
		slot->tts_values[t->ref_attno[DES_RCOL_PATH] - 1] = CStringGetTextDatum(b->path);
		slot->tts_isnull[t->ref_attno[DES_RCOL_PATH] - 1] = false;
	}
	if (ref_wants(t, st->needed, DES_RCOL_SIZE))
	{
		slot->tts_values[t->ref_attno[DES_RCOL_SIZE] - 1] = Int64GetDatum((int64) b->size);
		slot->tts_isnull[t->ref_attno[DES_RCOL_SIZE] - 1] = false;
	}
	if (ref_wants(t, st->needed, DES_RCOL_DATA))
	{
		slot->tts_values[t->ref_attno[DES_RCOL_DATA] - 1] = PointerGetDatum(b->data);
		slot->tts_isnull[t->ref_attno[DES_RCOL_DATA] - 1] = false;
	}
	if (ref_wants(t, st->needed, DES_RCOL_KIND))
	{
		slot->tts_values[t->ref_attno[DES_RCOL_KIND] - 1] = CStringGetTextDatum("file");
		slot->tts_isnull[t->ref_attno[DES_RCOL_KIND] - 1] = false;
	}
	if (ref_wants(t, st->needed, DES_RCOL_MODE))
	{
		slot->tts_values[t->ref_attno[DES_RCOL_MODE] - 1] = Int32GetDatum((int32) b->mode);
		slot->tts_isnull[t->ref_attno[DES_RCOL_MODE] - 1] = false;
	}
	if (ref_wants(t, st->needed, DES_RCOL_CONTENT_HASH))
	{
		des_tree_hex(b->hash, hex);
		slot->tts_values[t->ref_attno[DES_RCOL_CONTENT_HASH] - 1] = CStringGetTextDatum(hex);
		slot->tts_isnull[t->ref_attno[DES_RCOL_CONTENT_HASH] - 1] = false;
	}
	return ExecStoreVirtualTuple(slot);
}

void
DesFdwRefReScanForeignScan(ForeignScanState *node)
{
	RefScanState *st = node->fdw_state;

	/* again from the start, with the ref resolved (and logged) once per scan */
	while (st->depth > 0)
		pop_dir(st);
	st->started = false;
	st->done = false;
	st->names = NULL;
	st->nnames = st->next_name = 0;
	st->emitted = 0;
	st->nbatch = st->batch_pos = 0;
	MemoryContextReset(st->batch_cxt);
}

void
DesFdwRefEndForeignScan(ForeignScanState *node)
{
	RefScanState *st = node->fdw_state;

	if (st->scan_cxt)
	{
		MemoryContextDelete(st->scan_cxt);
		st->scan_cxt = NULL;
	}
}

void
DesFdwRefExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	ForeignScan *fs = (ForeignScan *) node->ss.ps.plan;
	RefScanState *st = node->fdw_state;
	ListCell   *lc;

	ExplainPropertyText("Ref", st->table.ref, es);
	foreach(lc, (List *) list_nth(fs->fdw_private, REF_FP_PUSHED))
		ExplainPropertyText("Pushed", strVal(lfirst(lc)), es);
	if (!st->need_data)
		ExplainPropertyText("Data", "not read", es);
	if (es->analyze)
	{
		ExplainPropertyInteger("Data Batches", NULL, (int64) st->batches, es);
		ExplainPropertyInteger("Bytes Read", NULL, (int64) st->bytes_read, es);
	}
}
