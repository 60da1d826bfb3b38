/*
 * uri.c - des.uri_parse(uri): a gros:// URI taken apart by the core's
 * grammar (src/core/uri), with its errors raised as SQLSTATEs; and
 * des.lineage_timezone, the time zone of day tags. Resolving a URI into a
 * bundle is DesResolveRef's (datasets/refs.c).
 */
#include "pg_des.h"
#include "lineage/lineage.h"

#include <ctype.h>

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/memutils.h"

#include "pgtime.h"
#include "utils/guc.h"

char	   *des_lineage_timezone = NULL;
static char *des_run_id = NULL;
static char *des_openlineage_namespace = NULL;

/* Raise a URI's parse error: what and where, with its own SQLSTATE. */
void
DesReportUriError(const char *uri, const des_uri *parsed, const des_error *err)
{
	char	   *detail = pstrdup(err->message);

	/* the core's message is a phrase; DETAIL is a sentence */
	detail[0] = (char) toupper((unsigned char) detail[0]);
	ereport(ERROR,
			(errcode(err->code == DES_E_INVALID_NAME ? ERRCODE_INVALID_NAME : ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid gros URI \"%s\"", uri),
			 errdetail("%s.", detail),
			 errhint("Write gros://repo[/branch][:tag]; see docs/lineage.md.")));
}

PG_FUNCTION_INFO_V1(des_uri_parse_sql);

/* des.uri_parse(uri) → (repo, branch, tag_kind, tag, day, "position", realtime, canonical) */
Datum
des_uri_parse_sql(PG_FUNCTION_ARGS)
{
	text	   *arg = PG_GETARG_TEXT_PP(0);
	char	   *uri = text_to_cstring(arg);
	des_uri		parsed;
	des_error	err;
	des_buf    *canonical;
	TupleDesc	tupdesc;
	Datum		values[8];
	bool		nulls[8] = {0};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "des.uri_parse must return a record");
	if (!des_uri_parse(VARDATA_ANY(arg), VARSIZE_ANY_EXHDR(arg), &parsed, &err))
		DesReportUriError(uri, &parsed, &err);
	canonical = DesBufInContext(CurrentMemoryContext);
	if (!des_uri_format(&parsed, canonical, &err))
		DesReportError(&err, uri);

	values[0] = CStringGetTextDatum(parsed.repo);
	values[1] = CStringGetTextDatum(parsed.branch);
	nulls[1] = !parsed.has_branch;
	values[2] = CStringGetTextDatum(des_uri_tag_kind_name(parsed.tag_kind));
	values[3] = CStringGetTextDatum(parsed.tag);
	nulls[3] = parsed.tag_kind == DES_URI_REALTIME;
	if (parsed.tag_kind == DES_URI_DATE)
		values[4] = DateADTGetDatum(date2j(parsed.year, parsed.month, parsed.day) - POSTGRES_EPOCH_JDATE);
	else
		nulls[4] = true;
	values[5] = Int64GetDatum((int64) parsed.position);
	nulls[5] = parsed.tag_kind != DES_URI_POSITION;
	values[6] = BoolGetDatum(parsed.tag_kind == DES_URI_REALTIME);
	values[7] = PointerGetDatum(cstring_to_text_with_len((const char *) canonical->data, canonical->len));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

static bool
check_timezone(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || pg_tzset(*newval) == NULL)
	{
		GUC_check_errdetail("\"%s\" is not a time zone this server knows.", *newval ? *newval : "");
		return false;
	}
	return true;
}

/* an OpenLineage namespace: not empty, at most 200 characters, no control characters */
static bool
check_namespace(char **newval, void **extra, GucSource source)
{
	const char *v = *newval;
	size_t		len = v ? strlen(v) : 0;

	if (len == 0 || len > 200)
	{
		GUC_check_errdetail("An OpenLineage namespace has 1 to 200 characters.");
		return false;
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char) v[i] < 0x20 || v[i] == 0x7f)
		{
			GUC_check_errdetail("An OpenLineage namespace has no control characters.");
			return false;
		}
	return true;
}

void
DesLineageDefineSettings(void)
{
	DefineCustomStringVariable("des.lineage_timezone",
							   "Time zone of the day tags of gros:// URIs (gros://repo/branch:YYYY-MM-DD).",
							   "A day tag names the last bundle committed on that day in this time zone.",
							   &des_lineage_timezone, "UTC", PGC_USERSET, 0, check_timezone, NULL, NULL);
	DefineCustomStringVariable("des.run_id",
							   "The run this session is in (set by des.run_begin, reset by des.run_end and des.run_fail).",
							   "Reads and commits are recorded as the run's inputs and outputs only when the run was begun "
							   "by this very session.",
							   &des_run_id, "", PGC_USERSET, GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);
	DefineCustomStringVariable("des.openlineage_namespace",
							   "OpenLineage namespace of pg_des's jobs (des.openlineage_events).",
							   NULL,
							   &des_openlineage_namespace, "pg_des", PGC_USERSET, 0, check_namespace, NULL, NULL);
}
