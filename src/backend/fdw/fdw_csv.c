/*
 * fdw_csv.c - des_fdw tables over the CSV files of a version of a dataset:
 * OPTIONS (uri 'gros://sales', path 'daily/day-*.csv', format 'csv',
 * header 'true') shows the rows of every file of the version whose path matches,
 * typed by the table's own columns (docs/datasets.md "CSV foreign tables").
 * The tabular read of the GitOps lake (pd.read_csv('gros://...')) in SQL.
 *
 * At its first row the scan resolves the ref for the current user
 * (DesResolveRef), adds one des.read_log row (so a run records the version
 * read as an input edge) and lists the matching files by walking the tree
 * (fnmatch(3) with FNM_PATHNAME, as archive globs: '*' stays within a path
 * component; directories that cannot hold a match are not entered). Then
 * each file is read in pieces of PIECE_BYTES through the chunk reader
 * (coalesced reads, every chunk checked against its id), and each piece is
 * parsed by the core's streaming CSV reader (src/core/profile/des_csv.c,
 * fuzzed), which hands over whole records; a record may span pieces. The
 * records of a piece are copied into the piece's memory; the executor's
 * rows are made from them one at a time, converting only the columns the
 * query reads with each column type's input function. Errors name the
 * file, the line and the column.
 *
 * As in fdw_ref.c, every step that reads the catalog runs inside SPI and as
 * the extension's owner, and ends before a row is returned. The core reader
 * keeps its buffers in malloc'd memory: a reset callback of the scan's
 * memory context frees them, even when the query ends in an error.
 */
#include "pg_des.h"

#include <fnmatch.h>

#include "access/sysattr.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "foreign/fdwapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "datasets/datasets.h"
#include "des/profile/des_csv.h"
#include "fdw/des_fdw.h"

/* bytes of a file read and parsed per step */
#define PIECE_BYTES (1024 * 1024)
/* rows guessed for a table (no statistics) */
#define GUESS_ROWS 10000

/* ForeignScan.fdw_private of a CSV table: the attribute numbers the query reads */
enum
{
	CSV_FP_NEEDED,				/* List of Integer: attnos read */
	CSV_FP_COUNT
};

/* A file of the version whose path matches. */
typedef struct CsvFile
{
	char	   *path;
	uint64		size;
	unsigned char hash[DES_TREE_HASH_BYTES];
} CsvFile;

/* A record of the current piece, copied out of the reader. */
typedef struct CsvRow
{
	uint64		line;			/* where it starts in its file */
	uint32		nfields;
	des_csv_field *fields;
	unsigned char *data;
} CsvRow;

/* How a column of the table is made from its field. */
typedef struct CsvColumn
{
	AttrNumber	attno;
	int			field;			/* its field in the record: the position among the table's columns */
	bool		needed;
	FmgrInfo	in;
	Oid			ioparam;
	int32		typmod;
	const char *name;
} CsvColumn;

typedef struct CsvScanState
{
	DesFdwTable table;			/* first: fdw_scan.c dispatches on table.ref and table.format */
	MemoryContext scan_cxt;		/* the scan: the resolved ref, the files, the reader */
	MemoryContext piece_cxt;	/* one piece's bytes and rows */
	CsvColumn  *cols;
	int			ncols;			/* the table's columns (not dropped): the fields a record must have */
	bool		check_utf8;		/* the core checks UTF-8 (a UTF8 database); else pg_verifymbstr */

	bool		resolved;
	DesResolvedRef ref;
	CsvFile    *files;
	int			nfiles;

	/* one execution */
	int			next_file;		/* the file after the current one */
	CsvFile    *cur;			/* the file being read, or NULL */
	uint64		offset;			/* of the next piece */
	bytea	   *chunks;			/* its chunk list */
	des_csv_reader reader;
	bool		reader_live;	/* reader holds malloc'd buffers */
	bool		done;
	CsvRow	   *rows;
	int			nrows;
	int			rows_cap;
	int			row_pos;

	/* the error context */
	const char *err_file;
	uint64		err_line;
	const char *err_column;

	/* EXPLAIN ANALYZE */
	uint64		files_read;
	uint64		bytes_read;
	uint64		rows_read;
} CsvScanState;

static void
free_reader(CsvScanState *st)
{
	if (st->reader_live)
	{
		des_csv_reader_free(&st->reader);
		st->reader_live = false;
	}
}

/* the reset callback of the scan's memory: the core reader's malloc'd buffers go with it */
static void
reader_reset_callback(void *arg)
{
	free_reader((CsvScanState *) arg);
}

static void
csv_error_callback(void *arg)
{
	CsvScanState *st = arg;

	if (st->err_file && st->err_column)
		errcontext("foreign table over \"%s\", file \"%s\", line " UINT64_FORMAT ", column %s",
				   st->table.ref, st->err_file, st->err_line, st->err_column);
	else if (st->err_file && st->err_line > 0)
		errcontext("foreign table over \"%s\", file \"%s\", line " UINT64_FORMAT,
				   st->table.ref, st->err_file, st->err_line);
	else if (st->err_file)
		errcontext("foreign table over \"%s\", file \"%s\"", st->table.ref, st->err_file);
	else
		errcontext("foreign table over \"%s\"", st->table.ref);
}

/* ---- planning ---- */

typedef struct CsvPlanState
{
	DesFdwTable table;
} CsvPlanState;

void
DesFdwCsvGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, DesFdwTable *t)
{
	CsvPlanState *ps = palloc0(sizeof(CsvPlanState));
	List	   *quals = NIL;
	ListCell   *lc;

	ps->table = *t;
	foreach(lc, baserel->baserestrictinfo)
		quals = lappend(quals, lfirst(lc));
	baserel->tuples = GUESS_ROWS;
	baserel->rows = clamp_row_est(GUESS_ROWS * clauselist_selectivity(root, quals, baserel->relid, JOIN_INNER, NULL));
	baserel->fdw_private = ps;
}

void
DesFdwCsvGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel)
{
	/* resolving and listing: a few queries; each row: its bytes read and parsed */
	Cost		startup = 10 * seq_page_cost;
	Cost		run = baserel->tuples * (seq_page_cost / 50 + cpu_tuple_cost + 4 * cpu_operator_cost);

	add_path(baserel, (Path *) create_foreignscan_path(root, baserel, NULL, baserel->rows, startup,
													   startup + run, NIL, baserel->lateral_relids, NULL, NIL));
}

ForeignScan *
DesFdwCsvGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, List *tlist, List *scan_clauses,
						Plan *outer_plan)
{
	List	   *local = extract_actual_clauses(scan_clauses, false);
	Bitmapset  *attrs = NULL;
	List	   *needed = NIL;
	int			k = -1;

	/* the columns read: those of the target list and of the filters */
	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid, &attrs);
	pull_varattnos((Node *) local, baserel->relid, &attrs);
	if (bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs))
		needed = list_make1(makeInteger(0));	/* a whole-row reference: every column */
	else
		while ((k = bms_next_member(attrs, k)) >= 0)
			if (k + FirstLowInvalidHeapAttributeNumber > 0)
				needed = lappend(needed, makeInteger(k + FirstLowInvalidHeapAttributeNumber));
	return make_foreignscan(tlist, local, baserel->relid, NIL, list_make1(needed), NIL, NIL, outer_plan);
}

/* ---- the scan ---- */

void
DesFdwCsvBeginForeignScan(ForeignScanState *node, int eflags, DesFdwTable *t)
{
	ForeignScan *fs = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	TupleDesc	desc = RelationGetDescr(node->ss.ss_currentRelation);
	List	   *needed = list_nth(fs->fdw_private, CSV_FP_NEEDED);
	bool		all = false;
	CsvScanState *st = palloc0(sizeof(CsvScanState));
	MemoryContextCallback *cb;
	ListCell   *lc;

	node->fdw_state = st;
	st->table = *t;
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;
	st->scan_cxt = AllocSetContextCreate(estate->es_query_cxt, "des_fdw csv scan", ALLOCSET_DEFAULT_SIZES);
	st->piece_cxt = AllocSetContextCreate(st->scan_cxt, "des_fdw csv piece", ALLOCSET_DEFAULT_SIZES);
	cb = MemoryContextAlloc(st->scan_cxt, sizeof(MemoryContextCallback));
	cb->func = reader_reset_callback;
	cb->arg = st;
	MemoryContextRegisterResetCallback(st->scan_cxt, cb);
	st->check_utf8 = GetDatabaseEncoding() == PG_UTF8;

	foreach(lc, needed)
		all |= intVal(lfirst(lc)) == 0;
	st->cols = MemoryContextAllocZero(st->scan_cxt, sizeof(CsvColumn) * Max(desc->natts, 1));
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		CsvColumn  *c;
		Oid			infunc;

		if (att->attisdropped)
			continue;
		c = &st->cols[st->ncols];
		c->attno = att->attnum;
		c->field = st->ncols++;
		c->name = MemoryContextStrdup(st->scan_cxt, NameStr(att->attname));
		c->typmod = att->atttypmod;
		c->needed = all;
		foreach(lc, needed)
			c->needed |= intVal(lfirst(lc)) == att->attnum;
		if (c->needed)
		{
			getTypeInputInfo(att->atttypid, &infunc, &c->ioparam);
			fmgr_info_cxt(infunc, &c->in, st->scan_cxt);
		}
	}
}

/* Does the directory at dir (n components) lie on the way to a match of pattern? */
static bool
dir_may_match(const char *pattern, const char *dir)
{
	int			components = 1;
	const char *p;
	char	   *head;
	bool		ok;

	for (p = dir; *p; p++)
		components += *p == '/';
	/* the pattern's first components, as many as the directory has */
	for (p = pattern; *p; p++)
		if (*p == '/' && --components == 0)
			break;
	if (*p == '\0')
		return false;			/* the pattern has no component left for a file below */
	head = pnstrdup(pattern, p - pattern);
	ok = fnmatch(head, dir, FNM_PATHNAME) == 0;
	pfree(head);
	return ok;
}

static int
cmp_file_path(const void *a, const void *b)
{
	return strcmp(((const CsvFile *) a)->path, ((const CsvFile *) b)->path);
}

/* Directories still to list, with their paths. */
typedef struct PendingDirs
{
	struct
	{
		unsigned char hash[DES_TREE_HASH_BYTES];
		char	   *path;
	}		   *v;
	int			n;
	int			cap;
} PendingDirs;

/* The entries of one directory: subdirectories that may hold a match to dirs, matching files to the scan's. */
static void
take_entries(CsvScanState *st, const des_tree_dir *dir, const char *dirpath, PendingDirs *dirs, int *files_cap)
{
	for (size_t i = 0; i < dir->count; i++)
	{
		const des_tree_entry *e = &dir->entries[i];
		char	   *path = dirpath[0] ? psprintf("%s/%.*s", dirpath, (int) e->name_len, e->name)
			: pnstrdup(e->name, e->name_len);

		if (e->kind == DES_TREE_DIR && dir_may_match(st->table.path_glob, path))
		{
			if (dirs->n == dirs->cap)
			{
				dirs->cap *= 2;
				dirs->v = repalloc(dirs->v, sizeof(*dirs->v) * dirs->cap);
			}
			memcpy(dirs->v[dirs->n].hash, e->hash, DES_TREE_HASH_BYTES);
			dirs->v[dirs->n++].path = path;
			continue;
		}
		if (e->kind != DES_TREE_DIR && fnmatch(st->table.path_glob, path, FNM_PATHNAME) == 0)
		{
			CsvFile    *f;

			if (st->nfiles == *files_cap)
			{
				*files_cap *= 2;
				st->files = repalloc(st->files, sizeof(CsvFile) * *files_cap);
			}
			f = &st->files[st->nfiles++];
			f->path = MemoryContextStrdup(st->scan_cxt, path);
			f->size = e->size;
			memcpy(f->hash, e->hash, DES_TREE_HASH_BYTES);
		}
		pfree(path);
	}
}

/* List one directory (its entries are malloc'd by the decoder: freed even on error). */
static void
list_dir(CsvScanState *st, const unsigned char hash[DES_TREE_HASH_BYTES], const char *path, PendingDirs *dirs,
		 int *files_cap)
{
	des_tree_dir dir;

	DesTreeGet(st->ref.tree, hash, &dir);
	PG_TRY();
	{
		take_entries(st, &dir, path, dirs, files_cap);
	}
	PG_FINALLY();
	{
		des_tree_dir_free(&dir);
	}
	PG_END_TRY();
}

/* The files of the version that match the table's path, in path order. Run as the owner. */
static void
list_files(CsvScanState *st)
{
	PendingDirs dirs;
	int			files_cap = 16;

	dirs.cap = 16;
	dirs.v = palloc(sizeof(*dirs.v) * dirs.cap);
	memcpy(dirs.v[0].hash, st->ref.root, DES_TREE_HASH_BYTES);
	dirs.v[0].path = pstrdup("");
	dirs.n = 1;
	st->files = MemoryContextAlloc(st->scan_cxt, sizeof(CsvFile) * files_cap);
	st->nfiles = 0;
	while (dirs.n > 0)
	{
		unsigned char hash[DES_TREE_HASH_BYTES];
		char	   *path;

		CHECK_FOR_INTERRUPTS();
		dirs.n--;
		memcpy(hash, dirs.v[dirs.n].hash, DES_TREE_HASH_BYTES);
		path = dirs.v[dirs.n].path;
		list_dir(st, hash, path, &dirs, &files_cap);
		pfree(path);
	}
	pfree(dirs.v);
	/* in path order, whatever the walk's */
	if (st->nfiles > 1)
		qsort(st->files, st->nfiles, sizeof(CsvFile), cmp_file_path);
}

/*
 * The core reader's callback: copy the record into the piece's memory (the
 * reader's own buffer is reused for the next one). A header record is
 * skipped. (palloc here could only fail with out-of-memory, whose error
 * leaves the reader; its buffers are then freed with the scan's memory.)
 */
static bool
take_record(void *ctx, const des_csv_record *rec, des_error *err)
{
	CsvScanState *st = ctx;
	CsvRow	   *row;

	if (st->table.header && rec->number == 1)
		return true;
	if (st->nrows == st->rows_cap)
	{
		st->rows_cap = Max(st->rows_cap * 2, 256);
		st->rows = st->rows ? repalloc(st->rows, sizeof(CsvRow) * st->rows_cap)
			: MemoryContextAlloc(st->piece_cxt, sizeof(CsvRow) * st->rows_cap);
	}
	row = &st->rows[st->nrows++];
	row->line = rec->line;
	row->nfields = rec->nfields;
	row->fields = MemoryContextAlloc(st->piece_cxt, sizeof(des_csv_field) * Max(rec->nfields, 1));
	memcpy(row->fields, rec->fields, sizeof(des_csv_field) * rec->nfields);
	row->data = MemoryContextAlloc(st->piece_cxt, Max(rec->len, 1));
	memcpy(row->data, rec->data, rec->len);
	return true;
}

/* The core reader's error, with the file and line, as an ERROR. */
static void
report_csv_error(CsvScanState *st, const des_error *err)
{
	st->err_line = st->reader.err_line;
	st->err_column = NULL;
	ereport(ERROR,
			(errcode(err->code == DES_E_TOO_LARGE ? ERRCODE_PROGRAM_LIMIT_EXCEEDED
					 : err->code == DES_E_CORRUPT && strstr(err->message, "not valid UTF-8") ? ERRCODE_CHARACTER_NOT_IN_REPERTOIRE
					 : ERRCODE_BAD_COPY_FILE_FORMAT),
			 errmsg("file \"%s\" is not valid %s: %s", st->cur->path,
					st->table.format_is_tsv ? "TSV" : "CSV", err->message)));
}

/* Start reading the next file: its chunk list and a new reader. Run as the owner. */
static void
open_file(CsvScanState *st)
{
	des_csv_dialect d = des_csv_dialect_default();
	des_csv_limits lim = des_csv_limits_default();
	des_error	err;
	MemoryContext old;

	st->cur = &st->files[st->next_file++];
	st->err_file = st->cur->path;
	st->err_line = 0;
	st->offset = 0;
	d.delimiter = (unsigned char) st->table.delimiter;
	d.quote = (unsigned char) st->table.quote;
	d.escape = DES_CSV_ESCAPE_DOUBLE;
	d.header = st->table.header;
	lim.check_utf8 = st->check_utf8;
	lim.max_fields = Max(lim.max_fields, (uint32) st->ncols + 1);
	free_reader(st);
	if (!des_csv_reader_init(&st->reader, &d, &lim, take_record, st, &err))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("the CSV options of foreign table over \"%s\" are not usable: %s", st->table.ref, err.message)));
	st->reader_live = true;
	old = MemoryContextSwitchTo(st->scan_cxt);
	if (st->chunks)
		pfree(st->chunks);
	st->chunks = NULL;
	if (st->cur->size > 0)
	{
		/* (SPI calls return in SPI's memory: the list must outlive the step) */
		bytea	   *list = DesContentChunks(st->ref.repo.id, st->cur->hash);

		st->chunks = MemoryContextAlloc(st->scan_cxt, VARSIZE_ANY(list));
		memcpy(st->chunks, list, VARSIZE_ANY(list));
	}
	MemoryContextSwitchTo(old);
	st->files_read++;
}

/*
 * The next piece of rows: on the first step of the scan, resolve the ref for
 * the current user, log the read and list the files; then read and parse
 * pieces until some rows come or the last file ends. One SPI connection,
 * working as the owner, for the whole step.
 */
static void
next_piece(CsvScanState *st)
{
	DesOwnerScope scope = {0};

	MemoryContextReset(st->piece_cxt);
	st->rows = NULL;
	st->nrows = st->rows_cap = st->row_pos = 0;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PG_TRY();
	{
		MemoryContextSwitchTo(st->scan_cxt);
		if (!st->resolved)
		{
			/* as the caller: its level on the repo; then as the owner */
			DesResolveRef(st->table.ref, "read", true, &st->ref, &scope);
			DesLogRead(&scope, &st->ref.repo, st->table.ref, st->ref.has_bundle ? st->ref.bundle : NULL,
					   st->table.path_glob, "des_fdw");
			list_files(st);
			st->resolved = true;
		}
		else
			DesOwnerBegin(&scope);
		while (st->nrows == 0 && !st->done)
		{
			des_error	err;

			CHECK_FOR_INTERRUPTS();
			if (st->cur == NULL)
			{
				if (st->next_file >= st->nfiles)
				{
					st->done = true;
					break;
				}
				open_file(st);
			}
			if (st->offset < st->cur->size)
			{
				StringInfoData piece;
				uint64		want = Min((uint64) PIECE_BYTES, st->cur->size - st->offset);
				DesChunkReader *reader;

				MemoryContextSwitchTo(st->piece_cxt);
				initStringInfo(&piece);
				reader = DesChunkReaderCreate();
				DesChunkReaderReadRange(reader, (const unsigned char *) VARDATA_ANY(st->chunks),
										VARSIZE_ANY_EXHDR(st->chunks), st->offset, want, &piece);
				DesChunkReaderEnd(reader);
				if ((uint64) piece.len != want)
					ereport(ERROR,
							(errcode(ERRCODE_DATA_CORRUPTED),
							 errmsg("file \"%s\" has " UINT64_FORMAT " bytes, its chunks fewer", st->cur->path,
									st->cur->size)));
				st->offset += want;
				st->bytes_read += want;
				if (!des_csv_reader_feed(&st->reader, piece.data, piece.len, &err))
					report_csv_error(st, &err);
			}
			if (st->offset >= st->cur->size)
			{
				if (!des_csv_reader_finish(&st->reader, &err))
					report_csv_error(st, &err);
				free_reader(st);
				st->cur = NULL;
			}
		}
	}
	PG_FINALLY();
	{
		DesOwnerEnd(&scope);
	}
	PG_END_TRY();
	SPI_finish();
}

TupleTableSlot *
DesFdwCsvIterateForeignScan(ForeignScanState *node)
{
	CsvScanState *st = node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	MemoryContext tuple_cxt = node->ss.ps.ps_ExprContext->ecxt_per_tuple_memory;
	ErrorContextCallback errcb;
	CsvRow	   *row;
	MemoryContext old;

	ExecClearTuple(slot);
	errcb.callback = csv_error_callback;
	errcb.arg = st;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	while (st->row_pos >= st->nrows)
	{
		if (st->done)
		{
			error_context_stack = errcb.previous;
			return slot;
		}
		next_piece(st);
	}
	row = &st->rows[st->row_pos++];
	st->rows_read++;
	st->err_line = row->line;
	if (row->nfields != (uint32) st->ncols)
		ereport(ERROR,
				(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
				 errmsg("line " UINT64_FORMAT " of file \"%s\" has %u fields, the table %d columns",
						row->line, st->err_file, row->nfields, st->ncols),
				 errhint("Each record of the files gives one row: its fields are the table's columns, in order.")));
	memset(slot->tts_isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
	old = MemoryContextSwitchTo(tuple_cxt);
	for (int i = 0; i < st->ncols; i++)
	{
		CsvColumn  *c = &st->cols[i];
		const des_csv_field *f = &row->fields[c->field];
		const char *raw = (const char *) row->data + f->off;
		char	   *text;

		if (!c->needed)
			continue;
		/* NULL: an unquoted field equal to the null string (by default, an empty one) */
		if (!f->quoted && (st->table.null_string ? (strlen(st->table.null_string) == f->len &&
													memcmp(raw, st->table.null_string, f->len) == 0)
						   : f->len == 0))
			continue;
		st->err_column = c->name;
		if (!st->check_utf8)
			(void) pg_verifymbstr(raw, f->len, false);
		text = pnstrdup(raw, f->len);
		slot->tts_values[c->attno - 1] = InputFunctionCall(&c->in, text, c->ioparam, c->typmod);
		slot->tts_isnull[c->attno - 1] = false;
	}
	st->err_column = NULL;
	MemoryContextSwitchTo(old);
	error_context_stack = errcb.previous;
	return ExecStoreVirtualTuple(slot);
}

void
DesFdwCsvReScanForeignScan(ForeignScanState *node)
{
	CsvScanState *st = node->fdw_state;

	/* again from the first file, with the ref resolved (and logged) once per scan */
	free_reader(st);
	st->cur = NULL;
	st->next_file = 0;
	st->done = false;
	st->nrows = st->row_pos = 0;
	st->rows = NULL;
	MemoryContextReset(st->piece_cxt);
}

void
DesFdwCsvEndForeignScan(ForeignScanState *node)
{
	CsvScanState *st = node->fdw_state;

	if (st->scan_cxt)
	{
		MemoryContextDelete(st->scan_cxt);	/* the reset callback frees the reader */
		st->scan_cxt = NULL;
	}
}

void
DesFdwCsvExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	CsvScanState *st = node->fdw_state;

	ExplainPropertyText("Ref", st->table.ref, es);
	ExplainPropertyText("Files", st->table.path_glob, es);
	ExplainPropertyText("Format", st->table.format_is_tsv ? "tsv" : "csv", es);
	if (es->analyze)
	{
		ExplainPropertyInteger("Files Read", NULL, (int64) st->files_read, es);
		ExplainPropertyInteger("Bytes Read", NULL, (int64) st->bytes_read, es);
	}
}
