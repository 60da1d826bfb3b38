/*
 * errors.c - map core errors to PostgreSQL errors with specific SQLSTATEs.
 */
#include "pg_des.h"
#include "module/module.h"

#include <errno.h>

#include "miscadmin.h"

void
DesReportError(const des_error *err, const char *location)
{
	/* a core call that failed because of a cancel or terminate reports that */
	CHECK_FOR_INTERRUPTS();
	if (err->code == DES_E_IO && err->sys_errno == ESTALE)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("archive \"%s\": %s", location, err->message),
				 errhint("The archive was replaced while it was being read; run the statement again.")));
	if (err->sqlstate != 0)
		ereport(ERROR,
				(errcode(err->sqlstate),
				 errmsg("archive \"%s\": %s", location, err->message),
				 err->sqlstate == ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION ?
				 errhint("Check the access key and secret in the user mapping of the S3 server (the foreign table's server, or des.default_server).") :
				 err->sqlstate == ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION ?
				 errhint("Check the endpoint of the foreign server and that it is reachable.") : 0));
	switch (err->code)
	{
		case DES_E_NOT_FOUND:
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FILE),
					 errmsg("archive \"%s\": %s", location, err->message)));
			break;
		case DES_E_IO:
			errno = err->sys_errno;
			ereport(ERROR,
					(err->sys_errno ? errcode_for_file_access() : errcode(ERRCODE_IO_ERROR),
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
