/*
 * storage_uploads.c - incomplete multipart uploads on S3 from SQL:
 * des.storage_uploads (ListMultipartUploads with pagination) and
 * des.storage_abort_upload (AbortMultipartUpload). A writer that dies
 * between starting and completing an upload leaves its parts stored (and
 * billed) but invisible to listings of objects; these find and remove them.
 * Local storage has no such uploads (a dead local writer leaves a temporary
 * file, which des.orphans lists).
 */
#include "pg_des.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "s3/s3.h"

PG_FUNCTION_INFO_V1(des_storage_uploads);
PG_FUNCTION_INFO_V1(des_storage_abort_upload);

typedef struct UploadListState
{
	DesStorageUploadCallback cb;
	void	   *arg;
	const char *bucket;
} UploadListState;

/*
 * S3's Initiated ("2026-12-07T06:30:00.000Z") as a timestamptz; 0 and false
 * when it is absent or not that shape (the caller then does not know the age).
 */
static bool
parse_initiated(const char *s, TimestampTz *out)
{
	int			y, mo, d, h, mi, sec;
	int			n = 0;

	if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
		return false;
	for (const char *p = s + n; *p; p++)
		if (!(*p == '.' || *p == 'Z' || (*p >= '0' && *p <= '9')))
			return false;
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return false;
	*out = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(s),
												   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
	return true;
}

static void
s3_upload(void *arg, const char *key, const char *upload_id, const char *initiated)
{
	UploadListState *ls = arg;
	char	   *loc = psprintf("s3://%s/%s", ls->bucket, key);
	TimestampTz at = 0;
	bool		known = parse_initiated(initiated, &at);

	ls->cb(ls->arg, loc, upload_id, known ? &at : NULL);
	pfree(loc);
}

/* The incomplete multipart uploads under loc (a prefix). The caller checks read access. */
void
DesStorageListUploads(const DesLocation *loc, DesStorageUploadCallback cb, void *arg)
{
	UploadListState ls;
	DesS3Endpoint *ep;
	des_error	err;

	if (loc->kind != DES_LOCATION_S3)
		return;
	ls.cb = cb;
	ls.arg = arg;
	ls.bucket = loc->bucket;
	ep = DesS3EndpointForLocation(loc);
	DesS3Init();
	if (!DesS3ListUploads(ep, loc->bucket, loc->key, s3_upload, &ls, &err))
		DesReportError(&err, loc->original);
}

/* Abort one upload: true if it was there. The caller checks write access. */
bool
DesStorageAbortUpload(const DesLocation *loc, const char *upload_id)
{
	DesS3Endpoint *ep;
	des_error	err;
	bool		found;

	if (loc->kind != DES_LOCATION_S3)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" is not on S3: only S3 has multipart uploads", loc->original)));
	if (upload_id[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the upload id must not be empty")));
	ep = DesS3EndpointForLocation(loc);
	DesS3Init();
	if (!DesS3AbortUpload(ep, loc->bucket, loc->key, upload_id, loc->original, &err, &found))
		DesReportError(&err, loc->original);
	return found;
}

static void
emit_upload(void *arg, const char *location, const char *upload_id, const TimestampTz *initiated)
{
	ReturnSetInfo *rsinfo = arg;
	Datum		values[3];
	bool		nulls[3] = {0};

	values[0] = CStringGetTextDatum(location);
	values[1] = CStringGetTextDatum(upload_id);
	if (initiated)
		values[2] = TimestampTzGetDatum(*initiated);
	else
		nulls[2] = true;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* A set-returning function's rows (location, upload_id, initiated): the uploads under loc. */
void
DesStorageUploadsSRF(FunctionCallInfo fcinfo, const DesLocation *loc)
{
	InitMaterializedSRF(fcinfo, 0);
	DesStorageListUploads(loc, emit_upload, fcinfo->resultinfo);
}

/* des.storage_uploads(location): (location, upload_id, initiated) */
Datum
des_storage_uploads(PG_FUNCTION_ARGS)
{
	DesLocation *loc = DesParseLocationPrefix(text_to_cstring(PG_GETARG_TEXT_PP(0)));

	DesCheckReadAccess(loc);
	DesStorageUploadsSRF(fcinfo, loc);
	return (Datum) 0;
}

/* des.storage_abort_upload(location, upload_id): whether it was there */
Datum
des_storage_abort_upload(PG_FUNCTION_ARGS)
{
	DesLocation *loc = DesParseLocation(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	char	   *upload_id = text_to_cstring(PG_GETARG_TEXT_PP(1));

	DesCheckWriteAccess(loc);
	PG_RETURN_BOOL(DesStorageAbortUpload(loc, upload_id));
}
