/*
 * location.c - parse archive locations and check server-file privileges.
 *
 * A location is an absolute server path or a file:// URL. Reading and writing
 * server files needs the same roles as COPY: pg_read_server_files and
 * pg_write_server_files (or superuser).
 */
#include "pg_des.h"

#include "access/xact.h"
#include "storage/proc.h"
#include "s3/s3.h"
#include "des/io/des_location.h"

#include "catalog/pg_authid.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"

/*
 * The grammar is des_location_parse (core); this raises its errors with the
 * SQLSTATEs, messages and hints the SQL functions have always given.
 */
static DesLocation *
parse_location(const char *location, bool allow_prefix)
{
	DesLocation *loc = palloc0(sizeof(DesLocation));
	des_location parsed;

	loc->original = pstrdup(location);
	if (!des_location_parse(location, allow_prefix, &parsed))
	{
		switch (parsed.status)
		{
			case DES_LOC_EMPTY:
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("archive location must not be empty")));
				break;
			case DES_LOC_FILE_NOT_ABSOLUTE:
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("file URL \"%s\" must name an absolute path on this server", location),
						 errhint("Write file:///absolute/path or file://localhost/absolute/path.")));
				break;
			case DES_LOC_BAD_PERCENT:
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid percent-encoding in location \"%s\"", location)));
				break;
			case DES_LOC_BAD_BUCKET:
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid S3 bucket name in location \"%s\"", location),
						 errhint("Write s3://bucket/key.")));
				break;
			case DES_LOC_BUCKET_ONLY:
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("S3 location \"%s\" names a bucket, not an object", location),
						 errhint("Write s3://bucket/key.")));
				break;
			case DES_LOC_KEY_TOO_LONG:
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("S3 object key in \"%s\" is longer than 1024 bytes", location)));
				break;
			case DES_LOC_S3_PREFIX:
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("archive location \"%s\" names a prefix, not an object", location),
						 errhint("Name the archive object, for example \"%sarchive.des\".", location)));
				break;
			case DES_LOC_BAD_SCHEME:
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unsupported URL scheme in location \"%s\"", location),
						 errhint("Use an absolute server path, a file:/// URL or an s3://bucket/key URL.")));
				break;
			case DES_LOC_RELATIVE:
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("relative archive path \"%s\" is not allowed", location),
						 errhint("Use an absolute server path, a file:/// URL or an s3://bucket/key URL.")));
				break;
			case DES_LOC_DIRECTORY:
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("archive location \"%s\" names a directory", location),
						 errhint("Name the archive file, for example \"%sarchive.des\".", location)));
				break;
			case DES_LOC_NOMEM:
				ereport(ERROR,
						(errcode(ERRCODE_OUT_OF_MEMORY),
						 errmsg("out of memory")));
				break;
			case DES_LOC_OK:
				break;
		}
		elog(ERROR, "location \"%s\" refused: %s", location, parsed.message);
	}
	if (parsed.kind == DES_LOC_S3)
	{
		loc->kind = DES_LOCATION_S3;
		loc->bucket = pstrdup(parsed.bucket);
		loc->key = pstrdup(parsed.key);
	}
	else
	{
		loc->kind = DES_LOCATION_LOCAL;
		loc->path = pstrdup(parsed.path);
	}
	des_location_free(&parsed);
	return loc;
}

DesLocation *
DesParseLocation(const char *location)
{
	return parse_location(location, false);
}

DesLocation *
DesParseLocationPrefix(const char *location)
{
	return parse_location(location, true);
}

text *
DesNameToText(const char *name, size_t len)
{
	char	   *s = pg_any_to_server(name, (int) len, PG_UTF8);

	return s == name ? cstring_to_text_with_len(name, (int) len) : cstring_to_text(s);
}

const char *
DesTextToUtf8(text *t, size_t *len)
{
	const char *s = VARDATA_ANY(t);
	int			n = VARSIZE_ANY_EXHDR(t);
	char	   *u = pg_server_to_any(s, n, PG_UTF8);

	*len = (u == s) ? (size_t) n : strlen(u);
	return u;
}

/*
 * Local files need the server-file roles; S3 locations need USAGE on the
 * foreign server, checked when its endpoint is resolved (s3_config.c).
 */
DesStatementId
DesCurrentStatement(void)
{
	DesStatementId id;

	id.lxid = MyProc ? MyProc->lxid : 0;
	id.start = (int64) GetCurrentStatementStartTimestamp();
	return id;
}

bool
DesSameStatement(DesStatementId a, DesStatementId b)
{
	return a.lxid == b.lxid && a.start == b.start;
}

Oid
DesLocationUser(const DesLocation *loc)
{
	return OidIsValid(loc->user) ? loc->user : GetUserId();
}

void
DesCheckReadAccess(const DesLocation *loc)
{
	if (loc->kind == DES_LOCATION_LOCAL &&
		!has_privs_of_role(DesLocationUser(loc), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to read archive \"%s\"", loc->original),
				 errdetail("Only roles with privileges of the \"pg_read_server_files\" role may read files on the server.")));
}

void
DesCheckWriteAccess(const DesLocation *loc)
{
	if (loc->kind == DES_LOCATION_LOCAL &&
		!has_privs_of_role(GetUserId(), ROLE_PG_WRITE_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to write archive \"%s\"", loc->original),
				 errdetail("Only roles with privileges of the \"pg_write_server_files\" role may write files on the server.")));
}

PG_FUNCTION_INFO_V1(des_location_check);
PG_FUNCTION_INFO_V1(des_check_read_access);

/*
 * Raise unless the current user may read this location itself: the marker
 * fetches sources registered by des.put_url with its own rights, so the
 * check is made when they are registered.
 */
Datum
des_check_read_access(PG_FUNCTION_ARGS)
{
	DesLocation *loc = DesParseLocation(text_to_cstring(PG_GETARG_TEXT_PP(0)));

	DesCheckReadAccess(loc);
	if (loc->kind == DES_LOCATION_S3)
		(void) DesS3EndpointForLocation(loc);	/* USAGE on the server, a user mapping */
	PG_RETURN_VOID();
}

/* Raise the location's parse error, if any (used by des.put_url). */
Datum
des_location_check(PG_FUNCTION_ARGS)
{
	(void) DesParseLocation(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}
