/*
 * storage_list.c - des.storage_list(location, delimiter): what is stored under
 * a prefix, locally or on S3 (ListObjectsV2 with pagination).
 */
#include "pg_des.h"

#include <dirent.h>
#include <sys/stat.h>

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "s3_storage.h"

PG_FUNCTION_INFO_V1(des_storage_list);

typedef struct ListState
{
	ReturnSetInfo *rsinfo;
	const char *bucket;
} ListState;

static void
emit(ListState *ls, const char *location, int64 size, const char *etag, bool is_prefix)
{
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
	tuplestore_putvalues(ls->rsinfo->setResult, ls->rsinfo->setDesc, values, nulls);
}

static void
s3_item(void *arg, const char *key, uint64 size, const char *etag, bool is_prefix)
{
	ListState  *ls = arg;
	char	   *loc = psprintf("s3://%s/%s", ls->bucket, key);

	emit(ls, loc, (int64) size, etag, is_prefix);
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

		if (lstat(names[i], &st) != 0)
			continue;			/* vanished meanwhile */
		if (S_ISDIR(st.st_mode))
		{
			char	   *withslash = psprintf("%s/", names[i]);

			if (strncmp(withslash, prefix, Min(strlen(prefix), strlen(withslash))) != 0)
				continue;
			if (one_level && strlen(withslash) > strlen(prefix))
				emit(ls, withslash, 0, NULL, true);
			else
				list_local(ls, names[i], prefix, one_level);
		}
		else if (S_ISREG(st.st_mode) && strncmp(names[i], prefix, strlen(prefix)) == 0)
			emit(ls, names[i], (int64) st.st_size, NULL, false);
	}
}

Datum
des_storage_list(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DesLocation *loc;
	char	   *delimiter = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	ListState	ls;

	/* not STRICT because the delimiter may be NULL; the location may not */
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("location must not be NULL")));
	loc = DesParseLocationPrefix(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	InitMaterializedSRF(fcinfo, 0);
	ls.rsinfo = rsinfo;
	ls.bucket = loc->bucket;
	if (delimiter && strcmp(delimiter, "/") != 0 && loc->kind == DES_LOCATION_LOCAL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("local listings support only the delimiter \"/\"")));
	DesCheckReadAccess(loc);
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
	return (Datum) 0;
}
