/*
 * discover_list.c - what a discoverer finds, listed with its owner's rights:
 * des_internal.discover_list(kind, config, owner) returns rows of
 * (dataset_id, materialize, metadata) that des.discover records.
 *
 *   directory  config {"path": "/abs/dir", "globs": ["*.csv", ...]}: the
 *              files below a server directory (pg_read_server_files, as
 *              COPY); version = size and modification time
 *   s3         config {"location": "s3://bucket/prefix/", "server": "...",
 *              "globs": [...]}: the objects below a prefix (ListObjectsV2
 *              through the owner's user mapping); version = ETag
 *   des        config {"location": archive or prefix, "archives": glob,
 *              "server": "...", "globs": [...]}: entries of DES archives,
 *              local or S3 (through the server, or des.default_server);
 *              version = the archive's ETag and the entry's offset
 *   bundle     config {"repo": "...", "branch": null, "globs": [...]}: the
 *              files of a branch's head (the owner's read level); version =
 *              the file's content hash, so a new version of the repo with a
 *              changed file makes its dataset new again
 *   table      config {"schemas": ["public", ...]}: the tables, views and
 *              foreign tables the owner can SELECT; version = the relation's
 *              file and its rows inserted, updated and deleted
 *   function   config {"function": "schema.name"}: whatever rows the
 *              function returns, called as the owner; with "query_function"
 *              (a function of one text argument), des.search also calls it
 *              with its keywords (des_internal.discover_query)
 * Globs match the path below the prefix with fnmatch(3) (a '*' stays
 * within one directory unless the glob starts with "**" + "/"); the default
 * globs are *.csv, *.tsv and *.jsonl in any directory.
 *
 * The listing runs as the owner (SPI queries in a security-restricted
 * operation; storage listings checked against the owner's rights), never
 * with the rights of the SECURITY DEFINER function that records the rows.
 * A function discoverer is stopped by des.discover_timeout.
 */
#include "pg_des.h"

#include <fnmatch.h>
#include <sys/stat.h>

#include "access/htup_details.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/syscache.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "discovery/discovery.h"

int			des_discover_timeout_ms = 5 * 60 * 1000;

typedef struct ListOut
{
	ReturnSetInfo *rsinfo;
	List	   *globs;			/* of char * */
	const char *prefix;			/* of locations: removed to make dataset ids */
	const char *server;			/* S3: the server, or NULL */
	bool		local;
	int64		found;
} ListOut;

static char *
config_string(Jsonb *config, const char *key)
{
	JsonbValue *v = DesJsonbMember(config, key);

	if (v == NULL)
		return NULL;
	if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("discoverer setting \"%s\" must be a string", key)));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* config's "globs" (an array of strings, or one string), default *.csv, *.tsv and *.jsonl anywhere */
static List *
config_globs(Jsonb *config)
{
	JsonbValue *v = DesJsonbMember(config, "globs");
	List	   *globs = NIL;

	if (v == NULL)
	{
		static const char *const dflt[] = {"*.csv", "**/*.csv", "*.tsv", "**/*.tsv", "*.jsonl", "**/*.jsonl"};

		for (size_t i = 0; i < lengthof(dflt); i++)
			globs = lappend(globs, pstrdup(dflt[i]));
		return globs;
	}
	if (v->type == jbvString)
		return list_make1(pnstrdup(v->val.string.val, v->val.string.len));
	if (v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
	{
		JsonbIterator *it = JsonbIteratorInit(v->val.binary.data);
		JsonbValue	e;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
		{
			if (tok != WJB_ELEM)
				continue;
			if (e.type != jbvString)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("discoverer setting \"globs\" must be an array of strings")));
			globs = lappend(globs, pnstrdup(e.val.string.val, e.val.string.len));
		}
		return globs;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("discoverer setting \"globs\" must be an array of strings")));
	return NIL;
}

/* "**" + "/x" also matches x at the top; '*' never crosses a '/' */
static bool
glob_match(List *globs, const char *path)
{
	ListCell   *lc;

	foreach(lc, globs)
	{
		const char *g = lfirst(lc);

		if (fnmatch(g, path, FNM_PATHNAME) == 0)
			return true;
		if (strncmp(g, "**/", 3) == 0 && (fnmatch(g + 3, path, FNM_PATHNAME) == 0 ||
										  (strchr(path, '/') && fnmatch(g + 3, strrchr(path, '/') + 1, 0) == 0)))
			return true;
	}
	return false;
}

/* a gros:// URI component: unreserved bytes as they are, the rest %XX */
static char *
uri_component(const char *s)
{
	StringInfoData b;

	initStringInfo(&b);
	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			*p == '-' || *p == '.' || *p == '_' || *p == '~')
			appendStringInfoChar(&b, (char) *p);
		else
			appendStringInfo(&b, "%%%02X", *p);
	}
	return b.data;
}

static Jsonb *
jsonb_from_text(StringInfo s)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s->data)));
}

static void
put_row(ListOut *out, const char *dataset_id, StringInfo materialize, StringInfo metadata)
{
	Datum		values[3];
	bool		nulls[3] = {0};

	values[0] = CStringGetTextDatum(dataset_id);
	values[1] = JsonbPGetDatum(jsonb_from_text(materialize));
	values[2] = JsonbPGetDatum(jsonb_from_text(metadata));
	tuplestore_putvalues(out->rsinfo->setResult, out->rsinfo->setDesc, values, nulls);
	out->found++;
}

static void
storage_item(void *arg, const char *location, int64 size, const char *etag, bool is_prefix)
{
	ListOut    *out = arg;
	const char *rel = location + strlen(out->prefix);
	StringInfoData m,
				md;
	const char *base;

	CHECK_FOR_INTERRUPTS();
	if (is_prefix || strncmp(location, out->prefix, strlen(out->prefix)) != 0 || rel[0] == '\0' ||
		!glob_match(out->globs, rel))
		return;
	base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
	initStringInfo(&m);
	appendStringInfoString(&m, "{\"kind\":\"storage\",\"location\":");
	escape_json(&m, location);
	if (out->server)
	{
		appendStringInfoString(&m, ",\"server\":");
		escape_json(&m, out->server);
	}
	appendStringInfoChar(&m, '}');
	initStringInfo(&md);
	appendStringInfoString(&md, "{\"name\":");
	escape_json(&md, base);
	appendStringInfo(&md, ",\"size\":" INT64_FORMAT ",\"version\":", size);
	if (etag && etag[0])
		escape_json(&md, etag);
	else if (out->local)
	{
		struct stat st;

		if (stat(location, &st) == 0)
			appendStringInfo(&md, "\"%lld.%09ld\"", (long long) st.st_mtim.tv_sec, (long) st.st_mtim.tv_nsec);
		else
			appendStringInfoString(&md, "null");
	}
	else
		appendStringInfoString(&md, "null");
	appendStringInfoChar(&md, '}');
	put_row(out, rel, &m, &md);
}

static void
list_storage(ListOut *out, const char *location, Oid owner)
{
	DesLocation *loc;
	char	   *prefix = pstrdup(location);

	if (prefix[strlen(prefix) - 1] != '/')
		prefix = psprintf("%s/", prefix);
	loc = DesParseLocationPrefix(prefix);
	loc->user = owner;
	loc->server = (char *) out->server;
	out->prefix = loc->kind == DES_LOCATION_LOCAL ? loc->path : prefix;
	out->local = loc->kind == DES_LOCATION_LOCAL;
	DesCheckReadAccess(loc);
	DesStorageList(loc, NULL, storage_item, out);
}

/* rows of a query run as the owner, each (dataset_id text, materialize jsonb, metadata jsonb) */
static void
list_query(ListOut *out, Oid owner, const char *query, int nargs, Oid *types, Datum *args, int timeout_ms)
{
	Oid			saved_user;
	int			saved_sec;
	volatile int rc = 0;
	TimestampTz started;

	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(owner)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the owner of the discoverer (role %u) no longer exists", owner)));
	GetUserIdAndSecContext(&saved_user, &saved_sec);
	SetUserIdAndSecContext(owner, saved_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/*
	 * As statement_timeout would: the cancel comes at the function's next
	 * interrupt check. It is turned into an error of its own (54000), so that
	 * callers can record it as the discoverer's, where a cancel by the user
	 * stays a cancel.
	 */
	started = GetCurrentTimestamp();
	if (timeout_ms > 0)
		enable_timeout_after(STATEMENT_TIMEOUT, timeout_ms);
	PG_TRY();
	{
		rc = SPI_execute_with_args(query, nargs, types, args, NULL, true, 0);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		if (timeout_ms > 0)
			disable_timeout(STATEMENT_TIMEOUT, false);
		MemoryContextSwitchTo(out->rsinfo->econtext->ecxt_per_query_memory);
		edata = CopyErrorData();
		/* the interrupt handler resets the timeout's indicator: ours if it came after our time */
		if (timeout_ms <= 0 || edata->sqlerrcode != ERRCODE_QUERY_CANCELED ||
			!TimestampDifferenceExceeds(started, GetCurrentTimestamp(), timeout_ms - 1))
		{
			FreeErrorData(edata);
			PG_RE_THROW();
		}
		FlushErrorState();
		edata->sqlerrcode = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
		edata->message = psprintf("the discoverer ran longer than its %d ms", timeout_ms);
		edata->detail = NULL;
		edata->context = NULL;
		ReThrowError(edata);
	}
	PG_END_TRY();
	if (timeout_ms > 0)
		disable_timeout(STATEMENT_TIMEOUT, false);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "discovery query failed: %s", SPI_result_code_string(rc));
	if (SPI_tuptable->tupdesc->natts < 3 ||
		SPI_gettypeid(SPI_tuptable->tupdesc, 1) != TEXTOID ||
		SPI_gettypeid(SPI_tuptable->tupdesc, 2) != JSONBOID ||
		SPI_gettypeid(SPI_tuptable->tupdesc, 3) != JSONBOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("a discoverer must return rows of (dataset_id text, materialize jsonb, metadata jsonb)")));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		bool		n0,
					n1,
					n2;
		Datum		id = SPI_getbinval(t, SPI_tuptable->tupdesc, 1, &n0),
					m = SPI_getbinval(t, SPI_tuptable->tupdesc, 2, &n1),
					md = SPI_getbinval(t, SPI_tuptable->tupdesc, 3, &n2);
		Datum		values[3];
		bool		nulls[3] = {false, false, n2};

		CHECK_FOR_INTERRUPTS();
		if (n1 || !JB_ROOT_IS_OBJECT(DatumGetJsonbP(m)) || (!n2 && !JB_ROOT_IS_OBJECT(DatumGetJsonbP(md))))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("row %llu of the discoverer has no materialize object, or a metadata that is not an object",
							(unsigned long long) i + 1)));
		values[0] = n0 ? (Datum) 0 : datumCopy(id, false, -1);
		nulls[0] = n0;
		values[1] = datumCopy(m, false, -1);
		values[2] = n2 ? (Datum) 0 : datumCopy(md, false, -1);
		tuplestore_putvalues(out->rsinfo->setResult, out->rsinfo->setDesc, values, nulls);
		out->found++;
	}
	SPI_finish();
	SetUserIdAndSecContext(saved_user, saved_sec);
}

/*
 * The entries of DES archives: config "location" is one archive (ending in
 * .des) or a prefix whose archives ("archives" glob, *.des anywhere by
 * default) are listed; entries whose names match the globs are datasets,
 * id "<archive below the prefix>:<entry>", read later as ranges of their
 * archive (materialize kind des). Listed as the owner (des.storage_list and
 * des.archive_list check its rights).
 */
static void
list_des_entries(ListOut *out, Jsonb *config, Oid owner)
{
	char	   *location = config_string(config, "location");
	char	   *archives = config_string(config, "archives");
	char	   *server = config_string(config, "server");
	List	   *globs = config_globs(config);
	int			guc_level = -1;
	List	   *archive_globs;
	bool		one;
	char	   *prefix;
	Oid			types[1] = {TEXTOID};
	Datum		args[1];
	Oid			saved_user;
	int			saved_sec;
	MemoryContext outer = CurrentMemoryContext;

	if (location == NULL || location[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a des discoverer needs \"location\" in its config: an archive or a prefix of archives")));
	one = strlen(location) > 4 && strcmp(location + strlen(location) - 4, ".des") == 0;
	prefix = one ? location : (location[strlen(location) - 1] == '/' ? location : psprintf("%s/", location));
	archive_globs = archives ? list_make1(archives) : list_make2(pstrdup("*.des"), pstrdup("**/*.des"));
	args[0] = CStringGetTextDatum(prefix);
	/* the listing and des.archive_list of s3:// locations use the discoverer's server */
	if (server != NULL)
	{
		guc_level = NewGUCNestLevel();
		(void) set_config_option("des.default_server", server, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
								 false);
	}
	GetUserIdAndSecContext(&saved_user, &saved_sec);
	SetUserIdAndSecContext(owner, saved_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(one ?
							  "SELECT $1 AS archive, NULL::text AS etag" :
							  "SELECT s.location AS archive, s.etag FROM des.storage_list($1) s WHERE NOT s.is_prefix "
							  "ORDER BY s.location",
							  1, types, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the archives below %s", prefix);
	{
		SPITupleTable *archives_found = SPI_tuptable;
		uint64		n = SPI_processed;

		for (uint64 a = 0; a < n; a++)
		{
			bool		isnull;
			char	   *archive = TextDatumGetCString(SPI_getbinval(archives_found->vals[a], archives_found->tupdesc, 1, &isnull));
			Datum		etag_d = SPI_getbinval(archives_found->vals[a], archives_found->tupdesc, 2, &isnull);
			char	   *etag = isnull ? NULL : TextDatumGetCString(etag_d);
			const char *rel = one ? (strrchr(archive, '/') ? strrchr(archive, '/') + 1 : archive)
				: archive + (strncmp(archive, prefix, strlen(prefix)) == 0 ? strlen(prefix) : 0);

			CHECK_FOR_INTERRUPTS();
			if (!one && !glob_match(archive_globs, rel))
				continue;
			args[0] = CStringGetTextDatum(archive);
			/*
			 * payloads lie back to back from offset 16, then the metas: an
			 * entry's stored length (a compressed one's frame) runs to the
			 * next payload, or to the first meta
			 */
			if (SPI_execute_with_args("WITH l AS (SELECT * FROM des.archive_list($1)) "
									  "SELECT l.name, coalesce(lead(l.data_offset) OVER w, (SELECT min(m.meta_offset) FROM l m)) "
									  "           - l.data_offset AS stored, l.flags, l.data_offset "
									  "  FROM l WHERE l.data_offset > 0 WINDOW w AS (ORDER BY l.data_offset) ORDER BY l.data_offset",
									  1, types, args, NULL, true, 0) != SPI_OK_SELECT)
				elog(ERROR, "could not list the entries of %s", archive);
			for (uint64 e = 0; e < SPI_processed; e++)
			{
				HeapTuple	t = SPI_tuptable->vals[e];
				char	   *name = TextDatumGetCString(SPI_getbinval(t, SPI_tuptable->tupdesc, 1, &isnull));
				int64		size = DatumGetInt64(SPI_getbinval(t, SPI_tuptable->tupdesc, 2, &isnull));
				int32		flags = DatumGetInt32(SPI_getbinval(t, SPI_tuptable->tupdesc, 3, &isnull));
				int64		offset = DatumGetInt64(SPI_getbinval(t, SPI_tuptable->tupdesc, 4, &isnull));
				StringInfoData m,
							md;
				MemoryContext spi;

				if (!glob_match(globs, name))
					continue;
				spi = MemoryContextSwitchTo(out->rsinfo->econtext->ecxt_per_query_memory);
				initStringInfo(&m);
				appendStringInfoString(&m, "{\"kind\":\"des\",\"location\":");
				escape_json(&m, archive);
				appendStringInfoString(&m, ",\"name\":");
				escape_json(&m, name);
				appendStringInfo(&m, ",\"data_offset\":" INT64_FORMAT ",\"stored_size\":" INT64_FORMAT ",\"flags\":%d",
								 offset, size, flags);
				if (server != NULL)
				{
					appendStringInfoString(&m, ",\"server\":");
					escape_json(&m, server);
				}
				appendStringInfoChar(&m, '}');
				initStringInfo(&md);
				appendStringInfoString(&md, "{\"name\":");
				escape_json(&md, name);
				appendStringInfo(&md, ",\"size\":" INT64_FORMAT ",\"version\":", size);
				escape_json(&md, psprintf("%s@" INT64_FORMAT, etag ? etag : "", offset));
				appendStringInfoString(&md, ",\"archive\":");
				escape_json(&md, archive);
				appendStringInfoChar(&md, '}');
				put_row(out, psprintf("%s:%s", rel, name), &m, &md);
				MemoryContextSwitchTo(spi);
			}
		}
	}
	SPI_finish();
	SetUserIdAndSecContext(saved_user, saved_sec);
	if (guc_level >= 0)
		AtEOXact_GUC(true, guc_level);
	MemoryContextSwitchTo(outer);
}

/* "SELECT * FROM fn" with fn looked up as a function of the given argument types, quoted as the catalog has it */
static char *
function_call(const char *fn, const char *argtypes, const char *args)
{
	Oid			types[1] = {TEXTOID};
	Datum		a[1];
	bool		isnull;
	char	   *q;
	MemoryContext outer = CurrentMemoryContext;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	a[0] = CStringGetTextDatum(psprintf("%s(%s)", fn, argtypes));
	if (SPI_execute_with_args("SELECT p.oid::regproc::text FROM pg_catalog.pg_proc p WHERE p.oid = $1::regprocedure",
							  1, types, a, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not look up the function %s", fn);
	q = psprintf("SELECT * FROM %s(%s)",
				 TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)), args);
	q = MemoryContextStrdup(outer, q);
	SPI_finish();
	return q;
}

PG_FUNCTION_INFO_V1(des_discover_query);

/*
 * des_internal.discover_query(config jsonb, owner regrole, keywords text,
 * budget_ms int): on-demand discovery, the rows a function discoverer's
 * "query_function" returns for a search's keywords, called as the owner and
 * stopped after budget_ms.
 */
Datum
des_discover_query(PG_FUNCTION_ARGS)
{
	Jsonb	   *config = PG_GETARG_JSONB_P(0);
	Oid			owner = PG_GETARG_OID(1);
	text	   *keywords = PG_GETARG_TEXT_PP(2);
	int32		budget = PG_GETARG_INT32(3);
	char	   *fn = config_string(config, "query_function");
	ListOut		out = {0};
	Oid			types[1] = {TEXTOID};
	Datum		args[1];

	InitMaterializedSRF(fcinfo, 0);
	out.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	if (fn == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the discoverer has no \"query_function\"")));
	args[0] = PointerGetDatum(keywords);
	list_query(&out, owner, function_call(fn, "text", "$1"), 1, types, args, Max(budget, 1));
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(des_discover_list);

Datum
des_discover_list(PG_FUNCTION_ARGS)
{
	char	   *kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Jsonb	   *config = PG_GETARG_JSONB_P(1);
	Oid			owner = PG_GETARG_OID(2);
	ListOut		out = {0};

	InitMaterializedSRF(fcinfo, 0);
	out.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	if (strcmp(kind, "directory") == 0 || strcmp(kind, "s3") == 0)
	{
		char	   *location = config_string(config, strcmp(kind, "directory") == 0 ? "path" : "location");

		if (location == NULL || location[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a %s discoverer needs \"%s\" in its config", kind,
							strcmp(kind, "directory") == 0 ? "path" : "location")));
		if (strcmp(kind, "directory") == 0 && location[0] != '/')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a directory discoverer's path must be absolute: \"%s\"", location)));
		if (strcmp(kind, "s3") == 0 && strncmp(location, "s3://", 5) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("an s3 discoverer's location must start with s3://: \"%s\"", location)));
		out.globs = config_globs(config);
		out.server = config_string(config, "server");
		list_storage(&out, location, owner);
	}
	else if (strcmp(kind, "des") == 0)
		list_des_entries(&out, config, owner);
	else if (strcmp(kind, "bundle") == 0)
	{
		char	   *repo = config_string(config, "repo");
		char	   *branch = config_string(config, "branch");
		Oid			types[1] = {TEXTOID};
		Datum		args[1];
		List	   *globs = config_globs(config);
		Oid			saved_user;
		int			saved_sec;
		bool		isnull;
		char	   *ref;

		if (repo == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a bundle discoverer needs \"repo\" in its config")));
		GetUserIdAndSecContext(&saved_user, &saved_sec);
		SetUserIdAndSecContext(owner, saved_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		/* the head of the branch, pinned by its id: every file listed is of that one version */
		args[0] = CStringGetTextDatum(psprintf("gros://%s%s%s:latest", uri_component(repo), branch ? "/" : "",
											   branch ? uri_component(branch) : ""));
		if (SPI_execute_with_args("SELECT r.branch, r.bundle_id FROM des.resolve($1) r",
								  1, types, args, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not resolve the repo's branch");
		ref = psprintf("gros://%s:%s", uri_component(repo),
					   TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)));
		branch = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		args[0] = CStringGetTextDatum(ref);
		if (SPI_execute_with_args("SELECT path, size, content_hash FROM des.files($1) WHERE kind = 'file'",
								  1, types, args, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not list the files of %s", ref);
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	t = SPI_tuptable->vals[i];
			char	   *path = TextDatumGetCString(SPI_getbinval(t, SPI_tuptable->tupdesc, 1, &isnull));
			int64		size = DatumGetInt64(SPI_getbinval(t, SPI_tuptable->tupdesc, 2, &isnull));
			Datum		hash = SPI_getbinval(t, SPI_tuptable->tupdesc, 3, &isnull);
			StringInfoData m,
						md;
			MemoryContext spi = MemoryContextSwitchTo(out.rsinfo->econtext->ecxt_per_query_memory);

			CHECK_FOR_INTERRUPTS();
			out.globs = globs;
			if (glob_match(globs, path))
			{
				initStringInfo(&m);
				appendStringInfoString(&m, "{\"kind\":\"bundle\",\"ref\":");
				escape_json(&m, ref);
				appendStringInfoString(&m, ",\"path\":");
				escape_json(&m, path);
				appendStringInfoString(&m, ",\"repo\":");
				escape_json(&m, repo);
				appendStringInfoString(&m, ",\"branch\":");
				escape_json(&m, branch);
				appendStringInfoChar(&m, '}');
				initStringInfo(&md);
				appendStringInfoString(&md, "{\"name\":");
				escape_json(&md, path);
				appendStringInfo(&md, ",\"size\":" INT64_FORMAT ",\"version\":", size);
				if (isnull)
					appendStringInfoString(&md, "null");
				else
					escape_json(&md, TextDatumGetCString(hash));
				appendStringInfoString(&md, ",\"source\":");
				escape_json(&md, ref);
				appendStringInfoChar(&md, '}');
				put_row(&out, psprintf("%s/%s", repo, path), &m, &md);
			}
			MemoryContextSwitchTo(spi);
		}
		SPI_finish();
		SetUserIdAndSecContext(saved_user, saved_sec);
	}
	else if (strcmp(kind, "table") == 0)
	{
		Oid			types[2] = {OIDOID, JSONBOID};
		Datum		args[2];

		args[0] = ObjectIdGetDatum(owner);
		args[1] = JsonbPGetDatum(config);
		list_query(&out, owner,
				   "SELECT c.oid::regclass::text, "
				   "       jsonb_build_object('kind', 'table', 'relation', c.oid::regclass::text), "
				   "       jsonb_build_object('name', c.relname, 'schema', n.nspname, "
				   "           'description', obj_description(c.oid, 'pg_class'), "
				   "           'size', CASE WHEN c.relkind IN ('r', 'm', 'p') THEN pg_total_relation_size(c.oid) END, "
				   "           'version', c.relfilenode::text || ':' || coalesce(s.n_tup_ins + s.n_tup_upd + s.n_tup_del, 0)::text "
				   "               || ':' || coalesce(c.reltuples, -1)::text) "
				   "  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
				   "  LEFT JOIN pg_catalog.pg_stat_all_tables s ON s.relid = c.oid "
				   " WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') AND NOT c.relispartition "
				   "   AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'des', 'des_internal', 'cron') "
				   "   AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%' "
				   "   AND ($2 -> 'schemas' IS NULL OR n.nspname IN (SELECT jsonb_array_elements_text($2 -> 'schemas'))) "
				   "   AND has_schema_privilege($1, n.oid, 'USAGE') AND has_table_privilege($1, c.oid, 'SELECT') "
				   " ORDER BY 1",
				   2, types, args, 0);
	}
	else if (strcmp(kind, "function") == 0)
	{
		char	   *fn = config_string(config, "function");
		char	   *query;

		if (fn == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a function discoverer needs \"function\" in its config")));
		query = function_call(fn, "", "");
		list_query(&out, owner, query, 0, NULL, NULL, des_discover_timeout_ms);
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("discoverers of kind \"%s\" cannot run yet", kind),
				 errhint("Kinds: directory, s3, des, bundle, table, function.")));
	return (Datum) 0;
}
