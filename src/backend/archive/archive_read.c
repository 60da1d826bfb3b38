/*
 * archive_read.c - SQL functions that read DES archives:
 * des.archive_list, des.archive_read (one name or a batch), des.archive_info,
 * des.archive_verify.
 */
#include "pg_des.h"
#include "archive/archive.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "des/format/des_json.h"
#include "des/io/des_local.h"
#include "s3/s3.h"

#include <errno.h>

/* settings: see DesArchiveDefineSettings() */
int			des_read_coalesce_gap_kb = 4;
int			des_s3_read_coalesce_gap_kb = 256;
int			des_read_max_span_kb = 8192;
int			des_reader_cache_entries = 8;

PG_FUNCTION_INFO_V1(des_archive_list);
PG_FUNCTION_INFO_V1(des_archive_read);
PG_FUNCTION_INFO_V1(des_archive_read_many);
PG_FUNCTION_INFO_V1(des_archive_info);
PG_FUNCTION_INFO_V1(des_archive_verify);

/* Error context: which archive and entry a failure is about. */
typedef struct ReadErrorContext
{
	const char *location;
	const des_entry *entry;
} ReadErrorContext;

static void
read_error_callback(void *arg)
{
	ReadErrorContext *rc = arg;

	if (rc->location == NULL)
		return;
	if (rc->entry)
		errcontext("archive \"%s\", entry \"%.*s\", offset %llu",
				   rc->location, (int) Min(rc->entry->name_len, 200), rc->entry->name,
				   (unsigned long long) rc->entry->data_offset);
	else
		errcontext("archive \"%s\"", rc->location);
}

static const DesLocation *
open_for_read(text *location_text, bool verify, bool revalidate, DesOpenArchive *oa)
{
	DesLocation *loc = DesParseLocation(text_to_cstring(location_text));

	DesCheckReadAccess(loc);
	DesOpenArchiveForRead(loc, verify, revalidate, oa);
	return loc;
}

/* A read failed because the S3 object was replaced after we cached its index. */
bool
DesErrorIsStale(const des_error *err)
{
	return err->code == DES_E_IO && err->sys_errno == ESTALE;
}

bytea *
DesBytesToBytea(const unsigned char *data, size_t len)
{
	bytea	   *b;

	if (len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("entry of %zu bytes is too large for a bytea value", len)));
	b = palloc(VARHDRSZ + len);
	SET_VARSIZE(b, VARHDRSZ + len);
	if (len)
		memcpy(VARDATA(b), data, len);
	return b;
}

/*
 * Meta text as jsonb; NULL when the stored meta is not a JSON object jsonb
 * accepts (\u0000 and lone surrogates are valid JSON but not valid jsonb).
 */
Datum
DesMetaToJsonb(const char *meta, size_t len, bool *isnull)
{
	char	   *cstr;

	if (!des_json_jsonb_compatible(meta, len))
	{
		*isnull = true;
		return (Datum) 0;
	}
	*isnull = false;
	cstr = pg_any_to_server(meta, (int) len, PG_UTF8);	/* ASCII from our writer */
	if (cstr == meta)
		cstr = pnstrdup(meta, len);
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(cstr));
}

Datum
des_archive_list(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DesOpenArchive oa;
	const DesLocation *loc;
	uint64		n;
	ErrorContextCallback errcb;
	ReadErrorContext rc = {0};
	des_error	err;
	MemoryContext rowcxt;
	MemoryContext oldcxt;
	const char *meta;
	size_t		mlen;

	InitMaterializedSRF(fcinfo, 0);
	for (int attempt = 0;; attempt++)
	{
		loc = open_for_read(PG_GETARG_TEXT_PP(0), false, true, &oa);
		/* all I/O of a listing is the META region: read it now, retrying once if replaced */
		if (des_reader_count(oa.reader) == 0 || des_reader_meta(oa.reader, 0, &meta, &mlen, &err))
			break;
		if (DesErrorIsStale(&err) && attempt == 0)
		{
			DesReaderCacheEvict(loc);
			continue;
		}
		DesReportError(&err, loc->original);
	}
	rc.location = loc->original;
	errcb.callback = read_error_callback;
	errcb.arg = &rc;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "des archive_list row", ALLOCSET_DEFAULT_SIZES);
	n = des_reader_count(oa.reader);
	for (uint64 i = 0; i < n; i++)
	{
		const des_entry *e = des_reader_entry(oa.reader, i);
		Datum		values[6];
		bool		nulls[6] = {0};
		uint64_t	size;

		CHECK_FOR_INTERRUPTS();
		rc.entry = e;
		oldcxt = MemoryContextSwitchTo(rowcxt);
		if (!des_reader_meta(oa.reader, i, &meta, &mlen, &err) ||
			!des_reader_payload_size(oa.reader, i, &size, &err))
			DesReportError(&err, loc->original);
		values[0] = PointerGetDatum(DesNameToText(e->name, e->name_len));
		values[1] = Int64GetDatum((int64) size);
		values[2] = Int32GetDatum((int32) e->flags);
		values[3] = DesMetaToJsonb(meta, mlen, &nulls[3]);
		values[4] = Int64GetDatum((int64) e->data_offset);
		values[5] = Int64GetDatum((int64) e->meta_offset);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(rowcxt);
	}
	error_context_stack = errcb.previous;
	return (Datum) 0;
}

Datum
des_archive_read(PG_FUNCTION_ARGS)
{
	DesOpenArchive oa;
	const DesLocation *loc;
	text	   *name = PG_GETARG_TEXT_PP(1);
	bool		verify = PG_GETARG_BOOL(2);
	int64		idx;
	des_buf    *out;
	des_error	err;
	ErrorContextCallback errcb;
	ReadErrorContext rc = {0};
	const char *uname;
	size_t		ulen;

	out = DesBufInContext(CurrentMemoryContext);
	for (int attempt = 0;; attempt++)
	{
		loc = open_for_read(PG_GETARG_TEXT_PP(0), verify, false, &oa);
		uname = DesTextToUtf8(name, &ulen);
		idx = des_reader_find(oa.reader, uname, ulen);
		/* answers without a request (absent name, 0-byte entry): confirm the cached index first */
		if (oa.s3 && (idx < 0 || (des_reader_entry(oa.reader, idx)->data_length == 0 &&
								  !(des_reader_entry(oa.reader, idx)->flags & DES_FLAG_EXTERNAL))) &&
			!DesS3ObjectRevalidate(oa.s3, &err))
		{
			if (DesErrorIsStale(&err) && attempt == 0)
			{
				DesReaderCacheEvict(loc);
				continue;
			}
			DesReportError(&err, loc->original);
		}
		if (idx < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("entry \"%s\" not found in archive \"%s\"", text_to_cstring(name), loc->original)));
		rc.location = loc->original;
		rc.entry = des_reader_entry(oa.reader, idx);
		errcb.callback = read_error_callback;
		errcb.arg = &rc;
		errcb.previous = error_context_stack;
		error_context_stack = &errcb;
		if (des_reader_get(oa.reader, idx, &oa.options, out, &err))
		{
			error_context_stack = errcb.previous;
			break;
		}
		error_context_stack = errcb.previous;
		if (DesErrorIsStale(&err) && attempt == 0)
		{
			DesReaderCacheEvict(loc);
			continue;
		}
		DesReportError(&err, loc->original);
	}
	PG_RETURN_BYTEA_P(DesBytesToBytea(out->data, out->len));
}

/*
 * Batch read: distinct requested names, looked up in the in-memory index,
 * read with one read per coalesced range. Rows come in this order: entries
 * stored in the archive by offset, then external and 0-byte entries in
 * request order, then names absent from the archive with NULL data.
 */
/* Read a window of planned ranges: in parallel on S3, one read each locally. */
bool
DesFetchPlannedRanges(DesOpenArchive *oa, const des_batch_plan *plan, size_t first, size_t n,
			 unsigned char **bufs, des_error *err)
{
	if (oa->s3 != NULL)
	{
		uint64	   *off = palloc(sizeof(uint64) * n);
		uint64	   *len = palloc(sizeof(uint64) * n);

		for (size_t k = 0; k < n; k++)
		{
			off[k] = plan->ranges[first + k].offset;
			len[k] = plan->ranges[first + k].length;
		}
		return DesS3FetchRanges(oa->s3, off, len, bufs, (int) n, err);
	}
	for (size_t k = 0; k < n; k++)
	{
		CHECK_FOR_INTERRUPTS();
		if (!des_reader_read_at(oa->reader, plan->ranges[first + k].offset, bufs[k],
								plan->ranges[first + k].length, err))
			return false;
	}
	return true;
}


/* One attempt of a batch read; false (with err) when a read failed. */
static bool
read_many_attempt(FunctionCallInfo fcinfo, DesOpenArchive *oa, const DesLocation *loc, bool verify,
				  ReadErrorContext *rc, des_error *err)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ArrayType  *names = PG_GETARG_ARRAYTYPE_P(1);
	Datum	   *elems;
	bool	   *elem_nulls;
	int			nelems;
	uint64	   *found;
	int			nfound = 0;
	text	  **missing;
	int			nmissing = 0;
	des_batch_plan *plan;
	des_buf    *decoded;
	MemoryContext rowcxt;
	bool	   *seen;
	int		   *missing_set;
	uint64		missing_mask;
	unsigned char *local_buf = NULL;
	size_t		local_buf_size = 0;
	size_t		window = (size_t) Min(Max(des_s3_max_connections, 1), DES_S3_MAX_PARALLEL);

	if (ARR_NDIM(names) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("names must be a one-dimensional array")));
	deconstruct_array(names, TEXTOID, -1, false, TYPALIGN_INT, &elems, &elem_nulls, &nelems);
	found = palloc(sizeof(uint64) * Max(nelems, 1));
	missing = palloc(sizeof(text *) * Max(nelems, 1));
	seen = palloc0(sizeof(bool) * Max(des_reader_count(oa->reader), 1));
	/* absent names are de-duplicated through a small hash set (request order kept) */
	missing_mask = 15;
	while (missing_mask + 1 < (uint64) nelems * 2)
		missing_mask = missing_mask * 2 + 1;
	missing_set = palloc0(sizeof(int) * (missing_mask + 1));
	for (int k = 0; k < nelems; k++)
	{
		text	   *t;
		int64		idx;
		const char *uname;
		size_t		ulen;

		CHECK_FOR_INTERRUPTS();
		if (elem_nulls[k])
			continue;
		t = DatumGetTextPP(elems[k]);
		uname = DesTextToUtf8(t, &ulen);
		idx = des_reader_find(oa->reader, uname, ulen);
		if (idx < 0)
		{
			uint64		pos = des_name_hash(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)) & missing_mask;

			for (;;)
			{
				int			m = missing_set[pos];

				if (m == 0)
				{
					missing[nmissing++] = t;
					missing_set[pos] = nmissing;
					break;
				}
				if (VARSIZE_ANY_EXHDR(missing[m - 1]) == VARSIZE_ANY_EXHDR(t) &&
					memcmp(VARDATA_ANY(missing[m - 1]), VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)) == 0)
					break;
				pos = (pos + 1) & missing_mask;
			}
		}
		else if (!seen[idx])
		{
			seen[idx] = true;
			found[nfound++] = (uint64) idx;
		}
	}

	plan = palloc0(sizeof(des_batch_plan));
	{
		MemoryContextCallback *cb = palloc0(sizeof(MemoryContextCallback));

		cb->func = (MemoryContextCallbackFunction) des_batch_plan_free;
		cb->arg = plan;
		MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	}
	if (!des_reader_plan_batch(oa->reader, found, nfound,
							   (uint64) (oa->s3 ? des_s3_read_coalesce_gap_kb : des_read_coalesce_gap_kb) * 1024,
							   (uint64) des_read_max_span_kb * 1024, plan, err))
		DesReportError(err, loc->original);

	/*
	 * Answers that need no request (absent names, 0-byte entries) come from
	 * the cached index: on S3 confirm first that it is still current.
	 */
	if (oa->s3 && (nmissing > 0 || plan->ndirect > 0) && !DesS3ObjectRevalidate(oa->s3, err))
		return false;
	decoded = DesBufInContext(CurrentMemoryContext);
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "des archive_read batch", ALLOCSET_DEFAULT_SIZES);
	for (size_t w = 0; w < plan->nranges; w += (oa->s3 ? window : 1))
	{
		size_t		n = Min(window, plan->nranges - w);
		MemoryContext oldcxt = MemoryContextSwitchTo(rowcxt);
		unsigned char *bufs[DES_S3_MAX_PARALLEL];

		CHECK_FOR_INTERRUPTS();
		rc->entry = des_reader_entry(oa->reader, plan->entries[plan->ranges[w].first]);
		if (oa->s3 != NULL)
		{
			/* parallel requests: a buffer each */
			for (size_t k = 0; k < n; k++)
				bufs[k] = palloc_extended(Max(plan->ranges[w + k].length, 1), MCXT_ALLOC_HUGE);
		}
		else
		{
			/* local reads go one at a time: one buffer, reused (no page faults per range) */
			n = 1;
			if (plan->ranges[w].length > local_buf_size)
			{
				MemoryContext c = MemoryContextSwitchTo(oldcxt);

				if (local_buf)
					pfree(local_buf);
				local_buf_size = Max(plan->ranges[w].length, 65536);
				local_buf = palloc_extended(local_buf_size, MCXT_ALLOC_HUGE);
				MemoryContextSwitchTo(c);
			}
			bufs[0] = local_buf;
		}
		if (!DesFetchPlannedRanges(oa, plan, w, n, bufs, err))
		{
			MemoryContextSwitchTo(oldcxt);
			return false;
		}
		for (size_t r = 0; r < n; r++)
		{
			const des_read_range *range = &plan->ranges[w + r];

			for (size_t k = range->first; k < range->first + range->count; k++)
			{
				uint64		idx = plan->entries[k];
				const des_entry *e = des_reader_entry(oa->reader, idx);
				const unsigned char *stored = bufs[r] + (e->data_offset - range->offset);
				Datum		values[2];
				bool		nulls[2] = {0};

				rc->entry = e;
				values[0] = PointerGetDatum(DesNameToText(e->name, e->name_len));
				if (e->flags == 0 && !verify)
					values[1] = PointerGetDatum(DesBytesToBytea(stored, e->data_length));
				else
				{
					if (!des_reader_decode(oa->reader, idx, stored, &oa->options, decoded, err))
						DesReportError(err, loc->original);
					values[1] = PointerGetDatum(DesBytesToBytea(decoded->data, decoded->len));
				}
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			}
		}
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(rowcxt);
	}
	for (size_t k = 0; k < plan->ndirect; k++)
	{
		uint64		idx = plan->direct[k];
		const des_entry *e = des_reader_entry(oa->reader, idx);
		Datum		values[2];
		bool		nulls[2] = {0};
		MemoryContext oldcxt = MemoryContextSwitchTo(rowcxt);

		CHECK_FOR_INTERRUPTS();
		rc->entry = e;
		if (!des_reader_decode(oa->reader, idx, NULL, &oa->options, decoded, err))
		{
			MemoryContextSwitchTo(oldcxt);
			if (DesErrorIsStale(err))
				return false;
			DesReportError(err, loc->original);
		}
		values[0] = PointerGetDatum(DesNameToText(e->name, e->name_len));
		values[1] = PointerGetDatum(DesBytesToBytea(decoded->data, decoded->len));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(rowcxt);
	}
	for (int k = 0; k < nmissing; k++)
	{
		Datum		values[2] = {PointerGetDatum(missing[k]), (Datum) 0};
		bool		nulls[2] = {false, true};

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return true;
}

/*
 * Batch read: distinct requested names, looked up in the in-memory index,
 * read with one read per coalesced range (on S3, up to
 * des.s3_max_connections ranges in parallel). Rows come in this order:
 * entries stored in the archive by offset, then external and 0-byte entries
 * in request order, then names absent from the archive with NULL data.
 */
Datum
des_archive_read_many(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bool		verify = PG_GETARG_BOOL(2);
	ErrorContextCallback errcb;
	ReadErrorContext rc = {0};

	InitMaterializedSRF(fcinfo, 0);
	errcb.callback = read_error_callback;
	errcb.arg = &rc;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	for (int attempt = 0;; attempt++)
	{
		DesOpenArchive oa;
		const DesLocation *loc = open_for_read(PG_GETARG_TEXT_PP(0), verify, false, &oa);
		des_error	err;

		rc.location = loc->original;
		rc.entry = NULL;
		if (read_many_attempt(fcinfo, &oa, loc, verify, &rc, &err))
			break;
		if (DesErrorIsStale(&err) && attempt == 0)
		{
			tuplestore_clear(rsinfo->setResult);
			DesReaderCacheEvict(loc);
			continue;
		}
		DesReportError(&err, loc->original);
	}
	error_context_stack = errcb.previous;
	return (Datum) 0;
}

static void
append_json_key(StringInfo s, const char *key, bool *first)
{
	if (!*first)
		appendStringInfoString(s, ", ");
	*first = false;
	escape_json(s, key);
	appendStringInfoString(s, ": ");
}

Datum
des_archive_info(PG_FUNCTION_ARGS)
{
	DesOpenArchive oa;
	const DesLocation *loc = open_for_read(PG_GETARG_TEXT_PP(0), false, true, &oa);
	const des_footer *f = des_reader_footer(oa.reader);
	StringInfoData s;
	bool		first = true;
	uint64		n = des_reader_count(oa.reader);
	uint64		ext = 0,
				comp = 0,
				stored = 0;

	for (uint64 i = 0; i < n; i++)
	{
		const des_entry *e = des_reader_entry(oa.reader, i);

		if (e->flags & DES_FLAG_EXTERNAL)
			ext++;
		else
			stored += e->data_length;
		if (e->flags & DES_FLAG_COMPRESSED)
			comp++;
	}
	initStringInfo(&s);
	appendStringInfoChar(&s, '{');
	append_json_key(&s, "location", &first);
	escape_json(&s, loc->original);
	append_json_key(&s, "archive_bytes", &first);
	appendStringInfo(&s, UINT64_FORMAT, des_reader_size(oa.reader));
	append_json_key(&s, "header", &first);
	if (des_reader_header(oa.reader))
		appendStringInfo(&s, "{\"magic\": \"DESHEAD1\", \"version\": %d}", des_reader_header(oa.reader)[8]);
	else
		appendStringInfoString(&s, "{\"checked\": false}");
	append_json_key(&s, "footer", &first);
	appendStringInfo(&s, "{\"magic\": \"DESFOOT1\", \"version\": %d, \"data_start\": " UINT64_FORMAT
					 ", \"data_length\": " UINT64_FORMAT ", \"meta_start\": " UINT64_FORMAT
					 ", \"meta_length\": " UINT64_FORMAT ", \"index_start\": " UINT64_FORMAT
					 ", \"index_length\": " UINT64_FORMAT ", \"file_count\": " UINT64_FORMAT "}",
					 f->version, f->data_start, f->data_length, f->meta_start, f->meta_length,
					 f->index_start, f->index_length, f->file_count);
	append_json_key(&s, "entries", &first);
	appendStringInfo(&s, UINT64_FORMAT, n);
	append_json_key(&s, "duplicates", &first);
	appendStringInfo(&s, UINT64_FORMAT, des_reader_duplicate_count(oa.reader));
	append_json_key(&s, "external_entries", &first);
	appendStringInfo(&s, UINT64_FORMAT, ext);
	append_json_key(&s, "compressed_entries", &first);
	appendStringInfo(&s, UINT64_FORMAT, comp);
	append_json_key(&s, "stored_bytes", &first);
	appendStringInfo(&s, UINT64_FORMAT, stored);
	appendStringInfoChar(&s, '}');
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data)));
}

static bool
interrupt_pending(void)
{
	return InterruptPending;
}

typedef struct VerifyCollector
{
	ReturnSetInfo *rsinfo;
} VerifyCollector;

static void
verify_row(void *ctx, const char *check, bool ok, const char *detail)
{
	VerifyCollector *vc = ctx;
	Datum		values[3];
	bool		nulls[3] = {0};

	values[0] = CStringGetTextDatum(check);
	values[1] = BoolGetDatum(ok);
	values[2] = CStringGetTextDatum(detail);
	tuplestore_putvalues(vc->rsinfo->setResult, vc->rsinfo->setDesc, values, nulls);
}

/* What verify holds open; released by a reset callback, even on error. */
typedef struct VerifyResources
{
	des_reader *reader;
	des_source	local;
	bool		local_open;
	DesS3Object *s3;
	MemoryContextCallback cb;
} VerifyResources;

static void
release_verify(void *arg)
{
	VerifyResources *vr = arg;

	des_reader_close(vr->reader);
	vr->reader = NULL;
	if (vr->local_open)
		des_local_source_close(&vr->local);
	vr->local_open = false;
	DesS3ObjectFree(vr->s3);
	vr->s3 = NULL;
}

/*
 * Never raises for a damaged archive: an archive that cannot even be opened
 * yields one failed "open" row with the reason.
 */
Datum
des_archive_verify(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DesLocation *loc;
	des_source	src;
	des_error	err;
	des_external_resolver res;
	des_read_options opt = {true, NULL, interrupt_pending};
	des_reader_limits limits = {0, MaxAllocSize, false};
	VerifyCollector vc;
	VerifyResources *vr = palloc0(sizeof(VerifyResources));

	InitMaterializedSRF(fcinfo, 0);
	vc.rsinfo = rsinfo;
	vr->cb.func = release_verify;
	vr->cb.arg = vr;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &vr->cb);
	loc = DesParseLocation(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	DesCheckReadAccess(loc);
	if (loc->kind == DES_LOCATION_S3)
	{
		DesS3Endpoint *ep = DesS3EndpointForLocation(loc);

		DesS3Init();
		if (!DesS3ObjectOpen(ep, loc->bucket, loc->key, loc->original, NULL, &vr->s3, NULL, &err))
			DesReportError(&err, loc->original);
		limits.defer_header_check = vr->s3->tail_off > 0;
		DesS3ObjectSource(vr->s3, &src);
		opt.external = DesS3Resolver(&res, vr->s3);
	}
	else
	{
		if (!des_local_source_open(loc->path, &vr->local, &err))
			DesReportError(&err, loc->original);
		vr->local_open = true;
		src = vr->local;
		opt.external = des_local_resolver(&res, loc->path);
	}
	if (!des_reader_open(&src, &limits, &vr->reader, &err))
	{
		CHECK_FOR_INTERRUPTS();
		verify_row(&vc, "open", false, err.message);
		return (Datum) 0;
	}
	/* the core polls interrupt_pending and stops; CHECK_FOR_INTERRUPTS follows */
	des_reader_verify(vr->reader, &opt, verify_row, &vc);
	CHECK_FOR_INTERRUPTS();
	return (Datum) 0;
}

/* The settings of this area (called from _PG_init). */
void
DesArchiveDefineSettings(void)
{
	DefineCustomBoolVariable("des.direct_io",
							 "Write local archives larger than 8 MB with O_DIRECT, past the page cache.",
							 "On file systems that refuse O_DIRECT the page cache is used whatever this says.",
							 &des_local_direct_io, true, PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("des.read_coalesce_gap",
							"Largest hole between two requested entries that a batch read of a local archive covers with one read.",
							"Copying a page of unneeded bytes costs about what another system call does.",
							&des_read_coalesce_gap_kb, 4, 0, 1024 * 1024,
							PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("des.s3_read_coalesce_gap",
							"Largest hole between two requested entries that a batch read of an S3 archive covers with one request.",
							"Transferring a few hundred kilobytes costs less than another request's latency.",
							&des_s3_read_coalesce_gap_kb, 256, 0, 1024 * 1024,
							PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("des.read_max_span",
							"Largest single read a batch read issues.",
							NULL,
							&des_read_max_span_kb, 8192, 64, 1024 * 1024,
							PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("des.reader_cache_entries",
							"Number of archives whose index each backend keeps open.",
							"0 closes every archive at the end of the call that opened it.",
							&des_reader_cache_entries, 8, 0, 64,
							PGC_USERSET, 0, NULL, NULL, NULL);
}
