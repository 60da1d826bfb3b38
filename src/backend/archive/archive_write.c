/*
 * archive_write.c - des.archive_write(location, name, data, meta [, options]):
 * an aggregate that streams its rows into one DES archive.
 *
 * The writer lives in the aggregate's memory context; a reset callback on that
 * context aborts it, so an error or cancel anywhere in the query removes the
 * temporary file and leaves no partial archive behind.
 */
#include "pg_des.h"
#include "archive/archive.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "des/io/des_local.h"
#include "des/format/des_writer.h"
#include "s3/s3.h"

PG_FUNCTION_INFO_V1(des_archive_write_transfn);
PG_FUNCTION_INFO_V1(des_archive_write_finalfn);

typedef struct ArchiveWriteState
{
	DesLocation *location;
	des_writer_options options;
	des_sink	sink;
	bool		sink_open;
	DesS3Sink  *s3_sink;		/* S3 locations */
	des_writer *writer;			/* NULL once finished or aborted */
	bool		finished;
	Datum		summary;		/* jsonb, after finish */
	Jsonb	   *options_given;	/* to check that every row passes the same options */
	MemoryContextCallback cleanup;
} ArchiveWriteState;

static void
archive_write_cleanup(void *arg)
{
	ArchiveWriteState *st = arg;

	if (st->writer)
	{
		des_writer_abort(st->writer);
		st->writer = NULL;
	}
	if (st->sink_open)
	{
		if (st->s3_sink)
			DesS3SinkFree(st->s3_sink);
		else
			des_local_sink_free(&st->sink);
		st->s3_sink = NULL;
		st->sink_open = false;
	}
}

static bool
option_bool(JsonbValue *v, const char *key)
{
	if (v->type != jbvBool)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("archive_write option \"%s\" must be a boolean", key)));
	return v->val.boolean;
}

static int64
option_int(JsonbValue *v, const char *key, int64 min, int64 max)
{
	int64		n;

	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("archive_write option \"%s\" must be a number", key)));
	n = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric)));
	if (n < min || n > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("archive_write option \"%s\" must be between " INT64_FORMAT " and " INT64_FORMAT,
						key, min, max)));
	return n;
}

static char *
option_string(JsonbValue *v, const char *key)
{
	if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("archive_write option \"%s\" must be a string", key)));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

static void
parse_options(Jsonb *opts, des_writer_options *o, char **prefix)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	if (!JB_ROOT_IS_OBJECT(opts))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("archive_write options must be a JSON object")));
	it = JsonbIteratorInit(&opts->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE)
			continue;
		if (strcmp(key, "blake2b") == 0)
			o->blake2b = option_bool(&v, key);
		else if (strcmp(key, "lz4") == 0)
			o->lz4 = option_bool(&v, key);
		else if (strcmp(key, "lz4_level") == 0)
			o->lz4_level = (int) option_int(&v, key, 0, 12);
		else if (strcmp(key, "external_threshold") == 0)
			o->external_threshold = (uint64) option_int(&v, key, 0, PG_INT64_MAX);
		else if (strcmp(key, "external_prefix") == 0)
			*prefix = option_string(&v, key);
		else if (strcmp(key, "names") == 0)
		{
			char	   *p = option_string(&v, key);

			if (strcmp(p, "strict") == 0)
				o->names = DES_NAMES_STRICT;
			else if (strcmp(p, "reference") == 0)
				o->names = DES_NAMES_REFERENCE;
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("archive_write option \"names\" must be \"strict\" or \"reference\"")));
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown archive_write option \"%s\"", key),
					 errhint("Valid options are blake2b, lz4, lz4_level, external_threshold, external_prefix and names.")));
	}
}

/*
 * Default key prefix of external payloads: one folder per archive, named
 * after it. Local: "<dir name>/<stem>"; S3: the archive key without ".des".
 */
char *
DesDefaultExternalPrefix(const DesLocation *loc)
{
	char	   *p;
	char	   *result;

	p = loc->kind == DES_LOCATION_S3 ? des_archive_stem(loc->key) : des_local_default_prefix(loc->path);
	if (p == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	result = pstrdup(p);
	free(p);
	return result;
}

static ArchiveWriteState *
start_archive(MemoryContext aggcxt, const char *location, Jsonb *options)
{
	MemoryContext old = MemoryContextSwitchTo(aggcxt);
	ArchiveWriteState *st = palloc0(sizeof(ArchiveWriteState));
	char	   *prefix = NULL;
	des_error	err;

	st->location = DesParseLocation(location);
	DesCheckWriteAccess(st->location);
	des_writer_options_init(&st->options);
	if (options)
	{
		parse_options(options, &st->options, &prefix);
		st->options_given = (Jsonb *) PG_DETOAST_DATUM_COPY(JsonbPGetDatum(options));
	}

	st->cleanup.func = archive_write_cleanup;
	st->cleanup.arg = st;
	MemoryContextRegisterResetCallback(aggcxt, &st->cleanup);

	if (prefix == NULL)
		prefix = DesDefaultExternalPrefix(st->location);
	if (st->location->kind == DES_LOCATION_S3)
	{
		DesS3Endpoint *ep = DesS3EndpointForLocation(st->location);

		DesS3Init();
		if (!DesS3SinkOpen(ep, st->location->bucket, st->location->key, st->location->original,
						   &st->sink, &st->s3_sink, &err))
			DesReportError(&err, location);
	}
	else if (!des_local_sink_open(st->location->path, &st->sink, &err))
		DesReportError(&err, location);
	st->sink_open = true;
	st->options.external_prefix = prefix;
	if (!des_writer_open(&st->sink, &st->options, &st->writer, &err))
	{
		st->writer = NULL;
		DesReportError(&err, location);
	}
	MemoryContextSwitchTo(old);
	return st;
}

Datum
des_archive_write_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	ArchiveWriteState *st;
	text	   *name;
	bytea	   *data;
	char	   *meta = NULL;
	size_t		meta_len = 0;
	des_error	err;
	const char *uname;
	size_t		uname_len;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("des_internal.archive_write_transfn called in non-aggregate context")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("archive location must not be NULL")));
	st = PG_ARGISNULL(0) ? NULL : (ArchiveWriteState *) PG_GETARG_POINTER(0);
	if (st == NULL)
		st = start_archive(aggcxt, text_to_cstring(PG_GETARG_TEXT_PP(1)),
						   (PG_NARGS() > 5 && !PG_ARGISNULL(5)) ? PG_GETARG_JSONB_P(5) : NULL);
	else
	{
		char	   *loc = text_to_cstring(PG_GETARG_TEXT_PP(1));
		Jsonb	   *opts = (PG_NARGS() > 5 && !PG_ARGISNULL(5)) ? PG_GETARG_JSONB_P(5) : NULL;

		if ((opts == NULL) != (st->options_given == NULL) ||
			(opts != NULL && (VARSIZE(opts) != VARSIZE(st->options_given) ||
							  memcmp(opts, st->options_given, VARSIZE(opts)) != 0)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("archive_write options changed between rows of one archive"),
					 errhint("Pass the same options on every row, for example as a constant.")));

		if (strcmp(loc, st->location->original) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("archive location changed from \"%s\" to \"%s\" within one des.archive_write call",
							st->location->original, loc),
					 errhint("Group rows by location, for example with GROUP BY, to write several archives.")));
	}
	if (st->writer == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("archive \"%s\" was already finished", st->location->original)));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("entry name must not be NULL"),
				 errhint("Give every row a name; archives look entries up by name.")));
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("entry data must not be NULL")));
	name = PG_GETARG_TEXT_PP(2);
	data = PG_GETARG_BYTEA_PP(3);
	uname = DesTextToUtf8(name, &uname_len);
	if (!PG_ARGISNULL(4))
	{
		Jsonb	   *jb = PG_GETARG_JSONB_P(4);

		if (!JB_ROOT_IS_OBJECT(jb))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("entry meta must be a JSON object")));
		meta = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
		meta = pg_server_to_any(meta, strlen(meta), PG_UTF8);
		meta_len = strlen(meta);
	}
	if (!des_writer_add(st->writer, uname, uname_len,
						VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data),
						meta, meta_len, false, &err))
		DesReportError(&err, st->location->original);
	PG_RETURN_POINTER(st);
}

Datum
des_archive_write_finalfn(PG_FUNCTION_ARGS)
{
	ArchiveWriteState *st;
	des_writer_summary sum;
	des_error	err;
	des_writer *w;
	StringInfoData s;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();		/* no rows: nothing written */
	st = (ArchiveWriteState *) PG_GETARG_POINTER(0);
	if (st->finished)
		PG_RETURN_DATUM(st->summary);
	w = st->writer;
	st->writer = NULL;			/* finish frees it, even on failure */
	if (!des_writer_finish(w, &sum, &err))
		DesReportError(&err, st->location->original);
	st->finished = true;
	initStringInfo(&s);
	appendStringInfoString(&s, "{\"location\": ");
	escape_json(&s, st->location->original);
	appendStringInfo(&s, ", \"entries\": " UINT64_FORMAT ", \"bytes\": " UINT64_FORMAT
					 ", \"payload_bytes\": " UINT64_FORMAT ", \"stored_bytes\": " UINT64_FORMAT
					 ", \"external_entries\": " UINT64_FORMAT ", \"compressed_entries\": " UINT64_FORMAT "}",
					 sum.entries, sum.archive_bytes, sum.payload_bytes, sum.stored_bytes,
					 sum.external_entries, sum.compressed_entries);
	st->summary = DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data));
	PG_RETURN_DATUM(st->summary);
}
