/*
 * uploads.c - the multipart uploads des.gc aborts: those a writer that died
 * left under the storage root. Listed and aborted through the server
 * des.gc deletes with (des.storage_server when set, else des.default_server:
 * both name the same storage root). Which of them are abandoned (older than
 * des.gc_upload_min_age, and no container being written there) is decided
 * in SQL (des_internal.gc_stale_uploads, 78_gc.sql).
 */
#include "gc/gc.h"
#include "datasets/datasets.h"

#include "utils/builtins.h"
#include "utils/guc.h"

PG_FUNCTION_INFO_V1(des_gc_uploads);
PG_FUNCTION_INFO_V1(des_gc_abort_upload);

int			des_gc_upload_min_age_s = 86400;

static DesLocation *
gc_location(const char *location, bool prefix)
{
	DesLocation *loc = prefix ? DesParseLocationPrefix(location) : DesParseLocation(location);

	if (loc->kind == DES_LOCATION_S3 && des_storage_server != NULL && des_storage_server[0] != '\0')
		loc->server = des_storage_server;
	return loc;
}

/* des_internal.gc_uploads(root): every incomplete upload under root */
Datum
des_gc_uploads(PG_FUNCTION_ARGS)
{
	DesStorageUploadsSRF(fcinfo, gc_location(text_to_cstring(PG_GETARG_TEXT_PP(0)), true));
	return (Datum) 0;
}

/* des_internal.gc_abort_upload(location, upload_id): whether it was there */
Datum
des_gc_abort_upload(PG_FUNCTION_ARGS)
{
	DesLocation *loc = gc_location(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);

	PG_RETURN_BOOL(DesStorageAbortUpload(loc, text_to_cstring(PG_GETARG_TEXT_PP(1))));
}

void
DesGcDefineUploadSettings(void)
{
	DefineCustomIntVariable("des.gc_upload_min_age",
							"Age from which des.gc aborts an incomplete multipart upload under the storage root.",
							"Uploads of containers still being written are never aborted; this also spares a writer "
							"between starting its upload and recording its container.",
							&des_gc_upload_min_age_s, 86400, 0, INT_MAX, PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);
}
