/*
 * fdw_scan.c - des_fdw execution: streaming scans, lookups, EXPLAIN.
 *
 * A scan walks the matched archives one at a time. Rows without the data
 * column come straight from the in-memory index. With data, entries are
 * taken in chunks (bounded by count and bytes), their payloads read with one
 * read per coalesced range (parallel ranges on S3), then returned: memory
 * stays bounded however many archives there are.
 *
 * Lookups (name = x, name = ANY(xs), and the parameterized name = outer.x)
 * probe each matched archive's hash table; the archives stay pinned for the
 * scan so rescans of a nested loop do not reopen them. Everything the scan
 * holds (pins, buffers) belongs to its memory context: errors, cancellation
 * and early ends release it.
 */
#include "pg_des.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/expandeddatum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"

#include "des/io/des_local.h"
#include "fdw/des_fdw.h"
#include "s3/s3.h"

/* Chunk bounds for payload reads: entries and stored bytes (at least one entry). */
#define CHUNK_ENTRIES 4096
#define CHUNK_BYTES (8 * 1024 * 1024)
/* lookups keep their archives open across rescans up to this many archives */
#define MAX_KEPT_OPEN 64

typedef struct ScanArchive
{
	DesLocation *loc;
	DesOpenArchive *oa;			/* valid while pinned */
	DesArchivePin *pin;			/* pinned while open in this scan */
	Datum		archive_text;	/* the archive column's value */
} ScanArchive;

typedef struct DesFdwScanState
{
	DesFdwTable table;
	Oid			user;
	DesFdwLookup kind;
	char	   *prefix;			/* UTF-8 */
	size_t		prefix_len;
	int64		bound;			/* stop after this many rows; -1 none */
	uint32		needed;
	bool		need_data;
	ExprState  *lookup;
	ExprState  *archive_qual;
	TupleTableSlot *archive_slot;
	MemoryContext scan_cxt;		/* the scan's lifetime: listing, pins */
	MemoryContext rescan_cxt;	/* one execution: names, matched list */
	MemoryContext chunk_cxt;	/* one chunk of rows */

	/* S3: this scan's endpoint and credentials, bound to its objects before each use */
	DesS3Endpoint *ep;
	bool		keep_open;		/* lookups over few archives: stay open across rescans */

	/* archives: listed once per scan, matched per execution */
	bool		listed;
	DesFdwArchive *archives;
	ScanArchive *sa;
	int			narchives;
	int		   *matched;
	int			nmatched;

	/* position */
	bool		started;
	int			cur;			/* into matched; -1 before the first */
	ScanArchive *open;			/* the archive being read */
	uint64		next_entry;		/* walks: next index entry */
	int			next_name;		/* lookups: next name */
	char	  **names;			/* lookups: distinct names, UTF-8 */
	size_t	   *name_lens;
	int			nnames;

	/* the current chunk */
	uint64	   *chunk_idx;
	const unsigned char **chunk_bytes;	/* payloads, once loaded (into chunk memory) */
	size_t	   *chunk_len;
	bool		chunk_loaded;
	bool		chunk_load_tried;	/* a load began: if not loaded, it failed */
	uint64		chunk_generation;
	int			chunk_n;
	int			chunk_pos;
	des_buf    *decoded;

	int64		emitted;

	/* EXPLAIN ANALYZE */
	uint64		archives_scanned;
	uint64		archives_pruned;
	uint64		requests;
	uint64		bytes_read;

	/* error context */
	const char *err_archive;
	const des_entry *err_entry;
} DesFdwScanState;

static void
scan_error_callback(void *arg)
{
	DesFdwScanState *st = arg;

	if (st->err_archive == NULL)
		return;
	if (st->err_entry)
		errcontext("archive \"%s\", entry \"%.*s\"", st->err_archive,
				   (int) Min(st->err_entry->name_len, 200), st->err_entry->name);
	else
		errcontext("archive \"%s\"", st->err_archive);
}

/*
 * I/O done by lazy payload loads, which each scan counts for itself: another
 * scan's Iterate window subtracts them (a load may run inside it, when that
 * scan evaluates an expression over this scan's payloads).
 */
static uint64 lazy_load_requests;
static uint64 lazy_load_bytes;

static void
io_snapshot(uint64 *requests, uint64 *bytes)
{
	*requests = des_local_reads.calls + des_backend_io.requests - lazy_load_requests;
	*bytes = des_local_reads.bytes + des_backend_io.bytes_in - lazy_load_bytes;
}

void
DesFdwBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fs = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	RangeTblEntry *rte = exec_rt_fetch(fs->scan.scanrelid, estate);
	DesFdwScanState *st = palloc0(sizeof(DesFdwScanState));
	List	   *fp = fs->fdw_private;
	char	   *prefix;

	node->fdw_state = st;
	DesFdwTableLoad(node->ss.ss_currentRelation, &st->table);
	if (st->table.ref)
	{
		/* the files of a dataset's version: fdw_ref.c; their CSV rows: fdw_csv.c (both states start with a DesFdwTable too) */
		if (st->table.has_format)
			DesFdwCsvBeginForeignScan(node, eflags, &st->table);
		else
			DesFdwRefBeginForeignScan(node, eflags, &st->table);
		return;
	}
	st->user = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
	st->kind = (DesFdwLookup) intVal(list_nth(fp, DES_FP_LOOKUP));
	prefix = strVal(list_nth(fp, DES_FP_PREFIX));
	st->bound = intVal(list_nth(fp, DES_FP_LIMIT));
	st->needed = (uint32) intVal(list_nth(fp, DES_FP_NEEDED));
	st->need_data = (st->needed & (1U << DES_COL_DATA)) != 0;
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;
	if (prefix[0])
	{
		const char *u = pg_server_to_any(prefix, strlen(prefix), PG_UTF8);

		st->prefix = pstrdup(u);
		st->prefix_len = strlen(u);
	}
	st->lookup = ExecInitExpr(list_nth(fs->fdw_exprs, DES_FE_LOOKUP), &node->ss.ps);
	st->archive_qual = ExecInitQual(list_nth(fs->fdw_exprs, DES_FE_ARCHIVE_QUALS), &node->ss.ps);
	/* the same slot type as the scan slot: archive quals are compiled for it */
	st->archive_slot = ExecInitExtraTupleSlot(estate, RelationGetDescr(node->ss.ss_currentRelation),
											  node->ss.ss_ScanTupleSlot->tts_ops);
	st->scan_cxt = AllocSetContextCreate(estate->es_query_cxt, "des_fdw scan", ALLOCSET_DEFAULT_SIZES);
	st->rescan_cxt = AllocSetContextCreate(st->scan_cxt, "des_fdw execution", ALLOCSET_DEFAULT_SIZES);
	st->chunk_cxt = AllocSetContextCreate(st->scan_cxt, "des_fdw chunk", ALLOCSET_DEFAULT_SIZES);
	st->decoded = DesBufInContext(st->scan_cxt);
	st->cur = -1;
}

/* Does the archive pass the archive-level conditions? */
static bool
archive_matches(ForeignScanState *node, DesFdwScanState *st, const DesFdwArchive *a)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	TupleTableSlot *slot = st->archive_slot;
	AttrNumber	at = st->table.attno[DES_COL_ARCHIVE];
	AttrNumber	dt = st->table.attno[DES_COL_DAY];
	bool		ok;

	if (st->archive_qual == NULL)
		return true;
	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
	if (at)
	{
		slot->tts_values[at - 1] = CStringGetTextDatum(a->location);
		slot->tts_isnull[at - 1] = false;
	}
	if (dt && a->has_day)
	{
		slot->tts_values[dt - 1] = DateADTGetDatum(a->day);
		slot->tts_isnull[dt - 1] = false;
	}
	ExecStoreVirtualTuple(slot);
	econtext->ecxt_scantuple = slot;
	ok = ExecQual(st->archive_qual, econtext);
	ResetExprContext(econtext);
	return ok;
}

/* Add one name (a text datum) to the lookup list. */
static void
add_name(DesFdwScanState *st, Datum d, int *cap)
{
	text	   *t = DatumGetTextPP(d);
	size_t		len;
	const char *u = DesTextToUtf8(t, &len);

	if (st->nnames == *cap)
	{
		*cap *= 2;
		st->names = repalloc_huge(st->names, sizeof(char *) * *cap);
		st->name_lens = repalloc_huge(st->name_lens, sizeof(size_t) * *cap);
	}
	st->names[st->nnames] = (char *) u;
	st->name_lens[st->nnames] = len;
	st->nnames++;
}

static int
cmp_names(const void *a, const void *b, void *arg)
{
	DesFdwScanState *st = arg;
	int			i = *(const int *) a,
				j = *(const int *) b;
	size_t		n = Min(st->name_lens[i], st->name_lens[j]);
	int			c = memcmp(st->names[i], st->names[j], n);

	if (c != 0)
		return c;
	return (st->name_lens[i] > st->name_lens[j]) - (st->name_lens[i] < st->name_lens[j]);
}

/* Evaluate the lookup expression: the distinct names to look up. */
static void
evaluate_names(ForeignScanState *node, DesFdwScanState *st)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	bool		isnull;
	Datum		v;
	int			cap = 16;

	st->names = palloc(sizeof(char *) * cap);
	st->name_lens = palloc(sizeof(size_t) * cap);
	st->nnames = 0;
	v = ExecEvalExpr(st->lookup, econtext, &isnull);
	if (isnull)
		return;
	if (st->kind == DES_LOOKUP_NAME)
		add_name(st, v, &cap);
	else
	{
		ArrayType  *arr = DatumGetArrayTypeP(v);
		Datum	   *elems;
		bool	   *nulls;
		int			n;
		int		   *order;
		char	  **names;
		size_t	   *lens;
		int			kept = 0;

		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		for (int i = 0; i < n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			if (!nulls[i])
				add_name(st, elems[i], &cap);
		}
		if (st->nnames < 2)
			return;
		/* distinct names only: a name asked twice is still one row */
		order = palloc(sizeof(int) * st->nnames);
		for (int i = 0; i < st->nnames; i++)
			order[i] = i;
		qsort_arg(order, st->nnames, sizeof(int), cmp_names, st);
		names = palloc(sizeof(char *) * st->nnames);
		lens = palloc(sizeof(size_t) * st->nnames);
		for (int i = 0; i < st->nnames; i++)
		{
			if (i > 0 && cmp_names(&order[i - 1], &order[i], st) == 0)
				continue;
			names[kept] = st->names[order[i]];
			lens[kept] = st->name_lens[order[i]];
			kept++;
		}
		st->names = names;
		st->name_lens = lens;
		st->nnames = kept;
	}
}

static bool
is_lookup(const DesFdwScanState *st)
{
	return st->kind == DES_LOOKUP_NAME || st->kind == DES_LOOKUP_NAMES;
}

/* First use in an execution: list (once), match archives, evaluate names. */
static void
start_execution(ForeignScanState *node, DesFdwScanState *st)
{
	MemoryContext old;

	if (!st->listed)
	{
		old = MemoryContextSwitchTo(st->scan_cxt);
		st->archives = DesFdwListArchives(st->table.location, st->table.server, st->user, &st->narchives);
		st->sa = palloc0(sizeof(ScanArchive) * Max(st->narchives, 1));
		for (int i = 0; i < st->narchives; i++)
		{
			st->sa[i].loc = DesFdwArchiveLocation(&st->archives[i], st->table.server, st->user);
			st->sa[i].oa = palloc0(sizeof(DesOpenArchive));
			st->sa[i].pin = DesArchivePinCreate(st->scan_cxt);
			/* local paths are bytes: refuse what the database encoding cannot hold */
			(void) pg_verifymbstr(st->archives[i].location, strlen(st->archives[i].location), false);
			st->sa[i].archive_text = CStringGetTextDatum(st->archives[i].location);
		}
		st->listed = true;
		MemoryContextSwitchTo(old);
	}
	MemoryContextReset(st->rescan_cxt);
	old = MemoryContextSwitchTo(st->rescan_cxt);
	st->matched = palloc(sizeof(int) * Max(st->narchives, 1));
	st->nmatched = 0;
	for (int i = 0; i < st->narchives; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (archive_matches(node, st, &st->archives[i]))
			st->matched[st->nmatched++] = i;
		else
			st->archives_pruned++;
	}
	if (st->kind == DES_LOOKUP_NAME || st->kind == DES_LOOKUP_NAMES)
		evaluate_names(node, st);
	MemoryContextSwitchTo(old);
	/* each pinned local archive holds a file descriptor: keep only a few open */
	st->keep_open = is_lookup(st) && st->nmatched <= MAX_KEPT_OPEN;
	st->cur = -1;
	st->open = NULL;
	st->chunk_n = st->chunk_pos = 0;
	st->emitted = 0;
	st->started = true;
}

/*
 * A cached S3 object is shared with whatever else opens it (and each open
 * points it at that caller's endpoint, allocated in that caller's memory):
 * point it back at this scan's endpoint before this scan uses it.
 */
static void
bind_endpoint(DesFdwScanState *st, ScanArchive *sa)
{
	if (sa->oa->s3 == NULL)
		return;
	if (st->ep == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(st->scan_cxt);

		st->ep = DesS3EndpointForServerUser(st->table.server, st->user);
		MemoryContextSwitchTo(old);
	}
	sa->oa->s3->ep = st->ep;
}

/* Open the next matched archive; false when there is none. */
static bool
next_archive(DesFdwScanState *st)
{
	ScanArchive *sa;

	/* walks release each archive when done; lookups over few archives keep them */
	if (st->open && !st->keep_open)
		DesArchivePinRelease(st->open->pin);
	st->open = NULL;
	if (++st->cur >= st->nmatched)
		return false;
	sa = &st->sa[st->matched[st->cur]];
	st->err_archive = sa->loc->original;
	st->err_entry = NULL;
	if (!DesArchivePinned(sa->pin))
	{
		/* what the open allocates (with des.reader_cache_entries = 0, a callback) lives per execution */
		MemoryContext old = MemoryContextSwitchTo(st->rescan_cxt);

		if (st->archives_scanned == 0)
			DesCheckReadAccess(sa->loc);
		/* confirm a cached S3 index once per statement, before any of its rows is returned */
		DesOpenArchiveForRead(sa->loc, st->table.verify, true, sa->oa);
		if (sa->oa->s3 && !sa->oa->s3->tail_fresh)
		{
			des_error	err;

			/* built from the shared index cache without a request: check it */
			if (!DesS3ObjectRevalidate(sa->oa->s3, &err))
			{
				if (!DesErrorIsStale(&err))
					DesReportError(&err, sa->loc->original);
				DesReaderCacheEvict(sa->loc);
				DesOpenArchiveForRead(sa->loc, st->table.verify, true, sa->oa);
			}
		}
		DesArchivePinSet(sa->pin, sa->oa);
		MemoryContextSwitchTo(old);
	}
	bind_endpoint(st, sa);
	st->archives_scanned++;
	st->open = sa;
	st->next_entry = 0;
	st->next_name = 0;
	return true;
}

/* Is entry i of r hidden by a later entry of the same name (the reader's rule)? */
bool
DesFdwEntryShadowed(des_reader *r, uint64 i)
{
	const des_entry *e;

	if (des_reader_duplicate_count(r) == 0)
		return false;
	e = des_reader_entry(r, i);
	return des_reader_find(r, e->name, e->name_len) != (int64) i;
}

/*
 * Column c of entry i of r, an entry of archive a (whose archive column value
 * is archive_text). Not for the data column. False with err when the META
 * region cannot be read.
 */
bool
DesFdwEntryColumn(des_reader *r, uint64 i, DesFdwColumn c, const DesFdwArchive *a, Datum archive_text,
				  Datum *value, bool *isnull, des_error *err)
{
	const des_entry *e = des_reader_entry(r, i);

	*isnull = false;
	switch (c)
	{
		case DES_COL_NAME:
			*value = PointerGetDatum(DesNameToText(e->name, e->name_len));
			break;
		case DES_COL_SIZE:
			{
				uint64_t	size;

				if (!des_reader_payload_size(r, i, &size, err))
					return false;
				*value = Int64GetDatum((int64) size);
				break;
			}
		case DES_COL_META:
			{
				const char *meta;
				size_t		mlen;

				if (!des_reader_meta(r, i, &meta, &mlen, err))
					return false;
				*value = DesMetaToJsonb(meta, mlen, isnull);
				break;
			}
		case DES_COL_BLAKE2B:
			{
				char		hex[65];
				bool		found;

				if (!des_reader_stored_blake2b(r, i, hex, &found, err))
					return false;
				*isnull = !found;
				if (found)
					*value = DirectFunctionCall2(binary_decode, CStringGetTextDatum(hex),
												 CStringGetTextDatum("hex"));
				break;
			}
		case DES_COL_FLAGS:
			*value = Int32GetDatum((int32) e->flags);
			break;
		case DES_COL_DATA_OFFSET:
			*value = Int64GetDatum((int64) e->data_offset);
			break;
		case DES_COL_ARCHIVE:
			*value = archive_text;
			break;
		case DES_COL_DAY:
			*isnull = !a->has_day;
			*value = DateADTGetDatum(a->day);
			break;
		case DES_COL_DATA:
		case DES_NCOLS:
			elog(ERROR, "des_fdw: no index value for column %d", (int) c);
	}
	return true;
}

/* The next entry of the open archive to return, or -1 when it has no more. */
static int64
next_candidate(DesFdwScanState *st)
{
	des_reader *r = st->open->oa->reader;

	if (is_lookup(st))
	{
		while (st->next_name < st->nnames)
		{
			int			k = st->next_name++;
			int64		idx;

			if ((k & 1023) == 0)
				CHECK_FOR_INTERRUPTS();
			idx = des_reader_find(r, st->names[k], st->name_lens[k]);

			if (idx >= 0)
				return idx;
		}
		return -1;
	}
	while (st->next_entry < des_reader_count(r))
	{
		uint64		i = st->next_entry++;
		const des_entry *e = des_reader_entry(r, i);

		if ((i & 4095) == 0)
			CHECK_FOR_INTERRUPTS();
		if (st->kind == DES_LOOKUP_PREFIX &&
			(e->name_len < st->prefix_len || memcmp(e->name, st->prefix, st->prefix_len) != 0))
			continue;
		if (DesFdwEntryShadowed(r, i))
			continue;
		return (int64) i;
	}
	return -1;
}

static void
report(DesFdwScanState *st, des_error *err)
{
	if (DesErrorIsStale(err))
	{
		DesReaderCacheEvict(st->open->loc);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("archive \"%s\" was replaced during the scan", st->open->loc->original),
				 errhint("Run the query again: it will read the new archive.")));
	}
	DesReportError(err, st->open->loc->original);
}

/*
 * Fill the next chunk from the open archive: candidates up to the bounds.
 * With the data column, the chunk's reads are planned (coalesced ranges, in
 * offset order, which is the order rows are returned in) but not done: the
 * payloads are read, all at once, the first time any of them is looked at
 * (see load_chunk), so length(data) or data IS NULL read nothing.
 */
static void
fill_chunk(DesFdwScanState *st)
{
	DesOpenArchive *oa = st->open->oa;
	des_reader *r = oa->reader;
	uint64	   *idx;
	int			n = 0;
	uint64		bytes = 0;
	int			max_n = CHUNK_ENTRIES;
	des_error	err;
	MemoryContext old;

	MemoryContextReset(st->chunk_cxt);
	st->chunk_generation++;
	st->chunk_loaded = false;
	st->chunk_load_tried = false;
	old = MemoryContextSwitchTo(st->chunk_cxt);
	if (st->bound >= 0)
		max_n = (int) Min((int64) max_n, Max(st->bound - st->emitted, 1));
	idx = palloc(sizeof(uint64) * max_n);
	while (n < max_n && (n == 0 || bytes < CHUNK_BYTES))
	{
		int64		i = next_candidate(st);

		if (i < 0)
			break;
		idx[n++] = (uint64) i;
		if (st->need_data && (des_reader_entry(r, i)->flags & DES_FLAG_COMPRESSED))
		{
			uint64_t	size;

			/* bound what is decompressed, not what is stored */
			if (!des_reader_payload_size(r, i, &size, &err))
				report(st, &err);
			bytes += size;
		}
		else
			bytes += des_reader_entry(r, i)->data_length;
	}
	st->chunk_idx = idx;
	st->chunk_n = n;
	st->chunk_pos = 0;
	st->chunk_bytes = NULL;
	if (n == 0 || !st->need_data)
	{
		MemoryContextSwitchTo(old);
		return;
	}

	st->chunk_bytes = palloc0(sizeof(unsigned char *) * n);
	st->chunk_len = palloc0(sizeof(size_t) * n);
	MemoryContextSwitchTo(old);
}

typedef struct IdxPos
{
	uint64		idx;
	int			pos;
} IdxPos;

static int
cmp_idxpos(const void *a, const void *b)
{
	uint64		x = ((const IdxPos *) a)->idx,
				y = ((const IdxPos *) b)->idx;

	return (x > y) - (x < y);
}

/* Where in the chunk entry idx is (map sorted by idx). */
static int
chunk_pos_of(const IdxPos *map, int n, uint64 idx)
{
	IdxPos		key = {idx, 0};
	const IdxPos *hit = bsearch(&key, map, n, sizeof(IdxPos), cmp_idxpos);

	Assert(hit != NULL);
	return hit->pos;
}

/* The payload just decoded, copied into chunk memory. */
static const unsigned char *
copy_decoded(DesFdwScanState *st)
{
	unsigned char *p = palloc_extended(Max(st->decoded->len, 1), MCXT_ALLOC_HUGE);

	if (st->decoded->len)
		memcpy(p, st->decoded->data, st->decoded->len);
	return p;
}

/* Read the current chunk's payloads, range by range (parallel ranges on S3). */
static void
load_chunk(DesFdwScanState *st)
{
	DesOpenArchive *oa = st->open->oa;
	des_reader *r = oa->reader;
	des_batch_plan *plan;
	des_error	err;
	size_t		window = (size_t) Min(Max(des_s3_max_connections, 1), DES_S3_MAX_PARALLEL);
	MemoryContext old = MemoryContextSwitchTo(st->chunk_cxt);
	ErrorContextCallback errcb;
	uint64		req0,
				bytes0,
				req1,
				bytes1;
	IdxPos	   *map;
	int			n = st->chunk_n;

	/*
	 * A failed load is not retried: its error may have been caught (a
	 * plpgsql EXCEPTION block), and retrying per row would re-read the chunk
	 * and pile up its buffers.
	 */
	if (st->chunk_load_tried)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("payloads of archive \"%s\" could not be read earlier in this scan",
						st->open->loc->original),
				 errhint("See the first error of the scan.")));
	st->chunk_load_tried = true;
	/* this may run outside IterateForeignScan (when a payload is first used) */
	errcb.callback = scan_error_callback;
	errcb.arg = st;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	io_snapshot(&req0, &bytes0);
	bind_endpoint(st, st->open);

	/* the reads, planned only now: coalesced ranges in offset order */
	plan = palloc0(sizeof(des_batch_plan));
	{
		MemoryContextCallback *cb = palloc0(sizeof(MemoryContextCallback));

		cb->func = (MemoryContextCallbackFunction) des_batch_plan_free;
		cb->arg = plan;
		MemoryContextRegisterResetCallback(st->chunk_cxt, cb);
	}
	if (!des_reader_plan_batch(r, st->chunk_idx, n,
							   (uint64) (oa->s3 ? des_s3_read_coalesce_gap_kb : des_read_coalesce_gap_kb) * 1024,
							   (uint64) des_read_max_span_kb * 1024, plan, &err))
		report(st, &err);
	map = palloc(sizeof(IdxPos) * n);
	for (int k = 0; k < n; k++)
	{
		map[k].idx = st->chunk_idx[k];
		map[k].pos = k;
	}
	qsort(map, n, sizeof(IdxPos), cmp_idxpos);
	for (size_t w = 0; w < plan->nranges; w += (oa->s3 ? window : 1))
	{
		size_t		nr = oa->s3 ? Min(window, plan->nranges - w) : 1;
		unsigned char *bufs[DES_S3_MAX_PARALLEL];

		CHECK_FOR_INTERRUPTS();
		/* the ranges stay in chunk memory: payloads are copied out of them once, when used */
		for (size_t k = 0; k < nr; k++)
			bufs[k] = palloc_extended(Max(plan->ranges[w + k].length, 1), MCXT_ALLOC_HUGE);
		st->err_entry = des_reader_entry(r, plan->entries[plan->ranges[w].first]);
		if (!DesFetchPlannedRanges(oa, plan, w, nr, bufs, &err))
			report(st, &err);
		for (size_t k = 0; k < nr; k++)
		{
			const des_read_range *range = &plan->ranges[w + k];

			for (size_t j = range->first; j < range->first + range->count; j++)
			{
				uint64		e_idx = plan->entries[j];
				const des_entry *e = des_reader_entry(r, e_idx);
				const unsigned char *stored = bufs[k] + (e->data_offset - range->offset);

				int			pos = chunk_pos_of(map, n, e_idx);

				st->err_entry = e;
				if (e->flags == 0 && !oa->options.verify_hash)
				{
					st->chunk_bytes[pos] = stored;
					st->chunk_len[pos] = e->data_length;
				}
				else
				{
					if (!des_reader_decode(r, e_idx, stored, &oa->options, st->decoded, &err))
						report(st, &err);
					st->chunk_bytes[pos] = copy_decoded(st);
					st->chunk_len[pos] = st->decoded->len;
				}
			}
		}
	}
	for (size_t k = 0; k < plan->ndirect; k++)
	{
		uint64		e_idx = plan->direct[k];

		CHECK_FOR_INTERRUPTS();
		st->err_entry = des_reader_entry(r, e_idx);
		if (!des_reader_decode(r, e_idx, NULL, &oa->options, st->decoded, &err))
			report(st, &err);
		st->chunk_bytes[chunk_pos_of(map, n, e_idx)] = copy_decoded(st);
		st->chunk_len[chunk_pos_of(map, n, e_idx)] = st->decoded->len;
	}
	st->err_entry = NULL;
	st->chunk_loaded = true;
	io_snapshot(&req1, &bytes1);
	st->requests += req1 - req0;
	st->bytes_read += bytes1 - bytes0;
	lazy_load_requests += req1 - req0;
	lazy_load_bytes += bytes1 - bytes0;
	error_context_stack = errcb.previous;
	MemoryContextSwitchTo(old);
}

/*
 * The data column's value: an expanded object that knows its size from the
 * index and reads its bytes (with the rest of its chunk) only when flattened,
 * that is when anything looks at them. It lives in the chunk's memory, as the
 * bytes would; the scan stays on the chunk until the next row is asked for.
 */
typedef struct LazyPayload
{
	ExpandedObjectHeader hdr;
	DesFdwScanState *st;
	uint64		generation;		/* the chunk it belongs to */
	int			pos;
	Size		flat_size;		/* VARHDRSZ + payload bytes */
} LazyPayload;

static Size
lazy_get_flat_size(ExpandedObjectHeader *eohptr)
{
	return ((LazyPayload *) eohptr)->flat_size;
}

static void
lazy_flatten_into(ExpandedObjectHeader *eohptr, void *result, Size allocated_size)
{
	LazyPayload *lp = (LazyPayload *) eohptr;
	DesFdwScanState *st = lp->st;
	size_t		len;

	if (st->chunk_generation != lp->generation || st->open == NULL)
		elog(ERROR, "des_fdw payload used after its scan moved on");
	if (!st->chunk_loaded)
		load_chunk(st);
	len = st->chunk_len[lp->pos];
	if (len + VARHDRSZ != allocated_size)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("DES archive \"%s\": entry payload is %zu bytes, its recorded size %zu",
						st->open->loc->original, len, allocated_size - VARHDRSZ)));
	SET_VARSIZE(result, allocated_size);
	if (len)
		memcpy(VARDATA(result), st->chunk_bytes[lp->pos], len);
}

static const ExpandedObjectMethods lazy_payload_methods = {
	lazy_get_flat_size,
	lazy_flatten_into
};

static Datum
lazy_payload(DesFdwScanState *st, int pos)
{
	des_reader *r = st->open->oa->reader;
	uint64		i = st->chunk_idx[pos];
	LazyPayload *lp;
	uint64_t	size;
	des_error	err;

	if (!des_reader_payload_size(r, i, &size, &err))
		report(st, &err);
	if (size > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("entry of " UINT64_FORMAT " bytes is too large for a bytea value", (uint64) size)));
	lp = MemoryContextAllocZero(st->chunk_cxt, sizeof(LazyPayload));
	EOH_init_header(&lp->hdr, &lazy_payload_methods, st->chunk_cxt);
	lp->st = st;
	lp->generation = st->chunk_generation;
	lp->pos = pos;
	lp->flat_size = VARHDRSZ + (Size) size;
	/* read-only: nothing may take it over or free it */
	return EOHPGetRODatum(&lp->hdr);
}

static void
set_column(TupleTableSlot *slot, const DesFdwScanState *st, DesFdwColumn c, Datum v, bool isnull)
{
	AttrNumber	a = st->table.attno[c];

	if (a == 0)
		return;
	slot->tts_values[a - 1] = v;
	slot->tts_isnull[a - 1] = isnull;
}

static bool
wants(const DesFdwScanState *st, DesFdwColumn c)
{
	return st->table.attno[c] != 0 && (st->needed & (1U << c)) != 0;
}

/* Fill slot with entry chunk[pos]. */
static void
store_row(DesFdwScanState *st, TupleTableSlot *slot, int pos)
{
	des_reader *r = st->open->oa->reader;
	uint64		i = st->chunk_idx[pos];
	const des_entry *e = des_reader_entry(r, i);
	des_error	err;
	MemoryContext old = MemoryContextSwitchTo(st->chunk_cxt);

	st->err_entry = e;
	memset(slot->tts_isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
	for (int c = 0; c < DES_NCOLS; c++)
	{
		Datum		v;
		bool		isnull;

		if (!wants(st, (DesFdwColumn) c))
			continue;
		if (c == DES_COL_DATA)
			set_column(slot, st, DES_COL_DATA, lazy_payload(st, pos), false);
		else if (DesFdwEntryColumn(r, i, (DesFdwColumn) c, &st->archives[st->matched[st->cur]],
									st->open->archive_text, &v, &isnull, &err))
			set_column(slot, st, (DesFdwColumn) c, v, isnull);
		else
			report(st, &err);
	}
	st->err_entry = NULL;
	MemoryContextSwitchTo(old);
	ExecStoreVirtualTuple(slot);
}

TupleTableSlot *
DesFdwIterateForeignScan(ForeignScanState *node)
{
	DesFdwScanState *st = node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	ErrorContextCallback errcb;
	uint64		req0,
				bytes0,
				req1,
				bytes1;

	if (st->table.ref && st->table.has_format)
		return DesFdwCsvIterateForeignScan(node);
	if (st->table.ref)
		return DesFdwRefIterateForeignScan(node);
	ExecClearTuple(slot);
	errcb.callback = scan_error_callback;
	errcb.arg = st;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	io_snapshot(&req0, &bytes0);
	if (!st->started)
		start_execution(node, st);
	else if (st->open)
		bind_endpoint(st, st->open);
	while (st->bound < 0 || st->emitted < st->bound)
	{
		CHECK_FOR_INTERRUPTS();
		if (st->chunk_pos < st->chunk_n)
		{
			store_row(st, slot, st->chunk_pos++);
			st->emitted++;
			break;
		}
		if (st->open)
		{
			fill_chunk(st);
			if (st->chunk_n > 0)
				continue;
		}
		if (!next_archive(st))
			break;
	}
	io_snapshot(&req1, &bytes1);
	st->requests += req1 - req0;
	st->bytes_read += bytes1 - bytes0;
	error_context_stack = errcb.previous;
	return slot;
}

void
DesFdwReScanForeignScan(ForeignScanState *node)
{
	DesFdwScanState *st = node->fdw_state;

	if (st->table.ref)
	{
		if (st->table.has_format)
			DesFdwCsvReScanForeignScan(node);
		else
			DesFdwRefReScanForeignScan(node);
		return;
	}
	/* walks release their open archive now; lookups over few archives keep theirs */
	if (st->open && !st->keep_open)
		DesArchivePinRelease(st->open->pin);
	st->open = NULL;
	st->started = false;
	st->chunk_n = st->chunk_pos = 0;
}

void
DesFdwEndForeignScan(ForeignScanState *node)
{
	DesFdwScanState *st = node->fdw_state;

	if (st && st->table.ref)
	{
		if (st->table.has_format)
			DesFdwCsvEndForeignScan(node);
		else
			DesFdwRefEndForeignScan(node);
		return;
	}
	/* pins and buffers go with the scan's context */
	if (st && st->scan_cxt)
	{
		MemoryContextDelete(st->scan_cxt);
		st->scan_cxt = NULL;
	}
}

void
DesFdwExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	ForeignScan *fs = (ForeignScan *) node->ss.ps.plan;
	DesFdwScanState *st = node->fdw_state;
	List	   *fp = fs->fdw_private;
	List	   *archive_quals;
	ListCell   *lc;

	/* (a version's scan has its own fdw_private and fdw_exprs) */
	if (st->table.ref)
	{
		if (st->table.has_format)
			DesFdwCsvExplainForeignScan(node, es);
		else
			DesFdwRefExplainForeignScan(node, es);
		return;
	}
	archive_quals = list_nth(fs->fdw_exprs, DES_FE_ARCHIVE_QUALS);
	ExplainPropertyText("Location", st->table.location, es);
	if (es->format == EXPLAIN_FORMAT_TEXT)
		ExplainPropertyText("Archives", psprintf("%d of %d listed at planning",
												 intVal(list_nth(fp, DES_FP_MATCHED)),
												 intVal(list_nth(fp, DES_FP_LISTED))), es);
	else
	{
		ExplainPropertyInteger("Archives Listed", NULL, intVal(list_nth(fp, DES_FP_LISTED)), es);
		ExplainPropertyInteger("Archives Matched", NULL, intVal(list_nth(fp, DES_FP_MATCHED)), es);
	}
	if (archive_quals != NIL)
	{
		List	   *ctx = set_deparse_context_plan(es->deparse_cxt, (Plan *) fs, NIL);
		Node	   *qual = (Node *) make_ands_explicit(archive_quals);

		ExplainPropertyText("Archive Filter", deparse_expression(qual, ctx, es->verbose, false), es);
	}
	foreach(lc, (List *) list_nth(fp, DES_FP_PUSHED))
		ExplainPropertyText("Pushed", strVal(lfirst(lc)), es);
	if (!st->need_data)
		ExplainPropertyText("Payloads", "not read (index only)", es);
	if (st->table.verify)
		ExplainPropertyText("Verify", "BLAKE2b of each payload", es);
	if (es->analyze)
	{
		ExplainPropertyInteger("Archives Scanned", NULL, (int64) st->archives_scanned, es);
		ExplainPropertyInteger("Archives Pruned", NULL, (int64) st->archives_pruned, es);
		ExplainPropertyInteger("Read Requests", NULL, (int64) st->requests, es);
		ExplainPropertyInteger("Bytes Read", NULL, (int64) st->bytes_read, es);
	}
}
