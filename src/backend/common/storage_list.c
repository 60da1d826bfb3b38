/*
 * storage_list.c - storage operations from SQL, locally or on S3:
 * des.storage_list (ListObjectsV2 with pagination), des.storage_stat (HEAD)
 * and des.storage_delete (DELETE).
 */
#include "pg_des.h"
#include "archive/archive.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "s3/s3.h"

PG_FUNCTION_INFO_V1(des_storage_list);

/* Where a listing's items go. */
typedef struct ListState
{
	DesStorageListCallback cb;
	void	   *arg;
	const char *bucket;
} ListState;

static void
s3_item(void *arg, const char *key, uint64 size, const char *etag, bool is_prefix)
{
	ListState  *ls = arg;
	char	   *loc = psprintf("s3://%s/%s", ls->bucket, key);

	ls->cb(ls->arg, loc, (int64) size, etag, is_prefix);
	pfree(loc);
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* List dir (recursively unless one_level), keeping paths that start with prefix. */
static void
list_local(ListState *ls, const char *dir, const char *prefix, bool one_level)
{
	DIR		   *d = AllocateDir(dir);
	struct dirent *de;
	char	  **names = NULL;
	int			n = 0,
				cap = 0;

	if (d == NULL)
	{
		if (errno == ENOENT)
			return;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open directory \"%s\": %m", dir)));
	}
	while ((de = ReadDir(d, dir)) != NULL)
	{
		CHECK_FOR_INTERRUPTS();
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap)
		{
			cap = cap ? cap * 2 : 64;
			names = names ? repalloc(names, cap * sizeof(char *)) : palloc(cap * sizeof(char *));
		}
		names[n++] = psprintf("%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", de->d_name);
	}
	FreeDir(d);
	if (n > 1)
		qsort(names, n, sizeof(char *), cmp_names);
	for (int i = 0; i < n; i++)
	{
		struct stat st;

		CHECK_FOR_INTERRUPTS();
		if (lstat(names[i], &st) != 0)
			continue;			/* vanished meanwhile */
		if (S_ISDIR(st.st_mode))
		{
			char	   *withslash = psprintf("%s/", names[i]);

			if (strncmp(withslash, prefix, Min(strlen(prefix), strlen(withslash))) != 0)
				continue;
			if (one_level && strlen(withslash) > strlen(prefix))
				ls->cb(ls->arg, withslash, 0, NULL, true);
			else
				list_local(ls, names[i], prefix, one_level);
		}
		else if (S_ISREG(st.st_mode) && strncmp(names[i], prefix, strlen(prefix)) == 0)
			ls->cb(ls->arg, names[i], (int64) st.st_size, NULL, false);
	}
}

/*
 * Everything stored under loc (a prefix: what starts with it), recursively,
 * or with delimiter "/" one level (deeper levels reported once as prefixes).
 * The caller checks read access.
 */
void
DesStorageList(const DesLocation *loc, const char *delimiter, DesStorageListCallback cb, void *arg)
{
	ListState	ls;

	ls.cb = cb;
	ls.arg = arg;
	ls.bucket = loc->bucket;
	if (delimiter && strcmp(delimiter, "/") != 0 && loc->kind == DES_LOCATION_LOCAL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("local listings support only the delimiter \"/\"")));
	if (loc->kind == DES_LOCATION_S3)
	{
		DesS3Endpoint *ep = DesS3EndpointForLocation(loc);
		des_error	err;

		DesS3Init();
		if (!DesS3List(ep, loc->bucket, loc->key, delimiter, s3_item, &ls, &err))
			DesReportError(&err, loc->original);
	}
	else
	{
		const char *slash = strrchr(loc->path, '/');
		char	   *dir = slash == loc->path ? pstrdup("/") : pnstrdup(loc->path, slash - loc->path);

		list_local(&ls, dir, loc->path, delimiter != NULL);
	}
}

static void
emit(void *arg, const char *location, int64 size, const char *etag, bool is_prefix)
{
	ReturnSetInfo *rsinfo = arg;
	Datum		values[4];
	bool		nulls[4] = {0};

	values[0] = CStringGetTextDatum(location);
	values[1] = Int64GetDatum(size);
	if (etag && etag[0])
		values[2] = CStringGetTextDatum(etag);
	else
		nulls[2] = true;
	values[3] = BoolGetDatum(is_prefix);
	if (is_prefix)
		nulls[1] = true;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

Datum
des_storage_list(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DesLocation *loc;
	char	   *delimiter = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));

	/* not STRICT because the delimiter may be NULL; the location may not */
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("location must not be NULL")));
	loc = DesParseLocationPrefix(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	InitMaterializedSRF(fcinfo, 0);
	DesCheckReadAccess(loc);
	DesStorageList(loc, delimiter, emit, rsinfo);
	return (Datum) 0;
}

/* ---- des.storage_stat(location) and des.storage_delete(location) ---- */

PG_FUNCTION_INFO_V1(des_storage_stat);
PG_FUNCTION_INFO_V1(des_storage_delete);

/* size and ETag of one object (HEAD on S3, stat locally) */
Datum
des_storage_stat(PG_FUNCTION_ARGS)
{
	DesLocation *loc = DesParseLocation(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {0};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	DesCheckReadAccess(loc);
	if (loc->kind == DES_LOCATION_S3)
	{
		DesS3Endpoint *ep = DesS3EndpointForLocation(loc);
		DesS3Transfer t;
		des_error	err;

		DesS3Init();
		DesS3TransferInit(&t, DES_S3_HEAD, "HEAD", loc->bucket, loc->key);
		(void) DesS3Perform(ep, &t, 1, 1);
		if (!DesS3Ok(&t))
		{
			DesS3FillError(&t, "HEAD", loc->original, &err);
			DesS3TransferFree(&t);
			DesReportError(&err, loc->original);
		}
		values[0] = Int64GetDatum((int64) t.total_size);
		values[1] = CStringGetTextDatum(t.etag);
		nulls[1] = t.etag[0] == '\0';
		DesS3TransferFree(&t);
	}
	else
	{
		struct stat st;

		if (stat(loc->path, &st) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not stat \"%s\": %m", loc->path)));
		values[0] = Int64GetDatum((int64) st.st_size);
		nulls[1] = true;
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * Remove one object. Locally: true if a file was removed, false if there was
 * none. On S3, DELETE succeeds whether or not the key existed: true. The
 * caller has checked the right to (or is pg_des itself, deleting its own).
 */
bool
DesStorageDelete(const DesLocation *loc)
{
	if (loc->kind == DES_LOCATION_S3)
	{
		DesS3Endpoint *ep = DesS3EndpointForLocation(loc);
		DesS3Transfer t;
		des_error	err;

		DesS3Init();
		DesS3TransferInit(&t, DES_S3_DELETE, "DELETE", loc->bucket, loc->key);
		(void) DesS3Perform(ep, &t, 1, 1);
		if (!DesS3Ok(&t))
		{
			DesS3FillError(&t, "DELETE", loc->original, &err);
			DesS3TransferFree(&t);
			DesReportError(&err, loc->original);
		}
		DesS3TransferFree(&t);
		DesReaderCacheEvict(loc);
		return true;
	}
	if (unlink(loc->path) != 0)
	{
		if (errno == ENOENT)
			return false;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not remove \"%s\": %m", loc->path)));
	}
	DesReaderCacheEvict(loc);
	return true;
}

Datum
des_storage_delete(PG_FUNCTION_ARGS)
{
	DesLocation *loc = DesParseLocation(text_to_cstring(PG_GETARG_TEXT_PP(0)));

	DesCheckWriteAccess(loc);
	PG_RETURN_BOOL(DesStorageDelete(loc));
}
