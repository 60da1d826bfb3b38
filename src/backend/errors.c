/*
 * errors.c - map core errors to PostgreSQL errors with specific SQLSTATEs.
 */
#include "pg_des.h"

#include <errno.h>

#include "miscadmin.h"

void
DesReportError(const des_error *err, const char *location)
{
	/* a core call that failed because of a cancel or terminate reports that */
	CHECK_FOR_INTERRUPTS();
	if (err->sqlstate != 0)
		ereport(ERROR,
				(errcode(err->sqlstate),
				 errmsg("archive \"%s\": %s", location, err->message)));
	switch (err->code)
	{
		case DES_E_IO:
		case DES_E_NOT_FOUND:
			errno = err->sys_errno;
			ereport(ERROR,
					(err->sys_errno ? errcode_for_file_access() : errcode(ERRCODE_UNDEFINED_FILE),
					 errmsg("archive \"%s\": %s", location, err->message)));
			break;
		case DES_E_NOMEM:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("archive \"%s\": %s", location, err->message)));
			break;
		case DES_E_BAD_MAGIC:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("\"%s\" is not a valid DES archive: %s", location, err->message)));
			break;
		case DES_E_CORRUPT:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("DES archive \"%s\" is corrupt: %s", location, err->message),
					 errhint("Run des.archive_verify() on the archive for a full report.")));
			break;
		case DES_E_HASH_MISMATCH:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("DES archive \"%s\": checksum mismatch", location),
					 errdetail("%s", err->message)));
			break;
		case DES_E_INVALID_NAME:
		case DES_E_INVALID_META:
		case DES_E_INVALID_ARGUMENT:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("archive \"%s\": %s", location, err->message)));
			break;
		case DES_E_DUPLICATE_NAME:
			ereport(ERROR,
					(errcode(ERRCODE_UNIQUE_VIOLATION),
					 errmsg("archive \"%s\": %s", location, err->message),
					 errhint("Entry names must be unique within an archive.")));
			break;
		case DES_E_TOO_LARGE:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("archive \"%s\": %s", location, err->message)));
			break;
		case DES_E_UNSUPPORTED:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("archive \"%s\": %s", location, err->message)));
			break;
		case DES_OK:
			break;
	}
	elog(ERROR, "unexpected DES error code %d: %s", (int) err->code, err->message);
}
