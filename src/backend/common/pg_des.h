/*
 * pg_des.h - what every area of the backend glue shares (the common area:
 * locations and access checks, names and ids, storage listing, error
 * reporting, statement identity, UTF-8 names). Each area has its own header
 * for the rest: module/module.h, archive/archive.h, s3/s3.h, fdw/des_fdw.h,
 * workers/workers.h, pipeline/pipeline.h.
 */
#ifndef PG_DES_H
#define PG_DES_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "des/common/des_error.h"
#include "des/format/des_reader.h"

/* names.c: Snowflake-style ids and shards */
extern int	des_node_id;
extern int	des_shard_bits;
extern Size DesIdGeneratorShmemSize(void);
extern void DesIdGeneratorRequest(void);
extern void DesIdGeneratorStartup(void);
extern int64 DesNextId(void);
extern int	DesShardOf(const char *utf8, size_t len, int bits);

/* A parsed archive location. */
typedef enum DesLocationKind
{
	DES_LOCATION_LOCAL,
	DES_LOCATION_S3
} DesLocationKind;

typedef struct DesLocation
{
	DesLocationKind kind;
	char	   *original;		/* as the user wrote it, for messages */
	char	   *path;			/* local absolute path */
	char	   *bucket;			/* S3 */
	char	   *key;			/* S3 object key ("" for the bucket root) */
	/* set by des_fdw: the foreign table's server and checking user */
	char	   *server;			/* S3 server; NULL = des.default_server */
	Oid			user;			/* InvalidOid = the current user */
} DesLocation;

/* location.c */
extern DesLocation *DesParseLocation(const char *location);
/* as DesParseLocation, but a trailing '/' (a prefix to list) is allowed */
extern DesLocation *DesParseLocationPrefix(const char *location);
extern void DesCheckReadAccess(const DesLocation *loc);
/* loc->user, or the current user */
extern Oid	DesLocationUser(const DesLocation *loc);
extern void DesCheckWriteAccess(const DesLocation *loc);

/*
 * This statement, as a value: caches that may be reused within one statement
 * (the planner and the executor of the same query) compare it.
 */
typedef struct DesStatementId
{
	uint32		lxid;
	int64		start;
} DesStatementId;
extern DesStatementId DesCurrentStatement(void);
extern bool DesSameStatement(DesStatementId a, DesStatementId b);

/* storage_list.c */
typedef void (*DesStorageListCallback) (void *arg, const char *location, int64 size,
										const char *etag, bool is_prefix);
extern void DesStorageList(const DesLocation *loc, const char *delimiter,
						   DesStorageListCallback cb, void *arg);
/* Remove one stored object (no privilege check): whether a local file was there (S3: true). */
extern bool DesStorageDelete(const DesLocation *loc);

/* storage_uploads.c: incomplete multipart uploads (S3; none locally) */
typedef void (*DesStorageUploadCallback) (void *arg, const char *location, const char *upload_id,
										  const TimestampTz *initiated);
extern void DesStorageListUploads(const DesLocation *loc, DesStorageUploadCallback cb, void *arg);
extern bool DesStorageAbortUpload(const DesLocation *loc, const char *upload_id);
extern void DesStorageUploadsSRF(FunctionCallInfo fcinfo, const DesLocation *loc);

/* errors.c: raise an ERROR for a failed core call */
extern void DesReportError(const des_error *err, const char *location) pg_attribute_noreturn();

/*
 * Entry names are UTF-8 in archives: convert to and from the database
 * encoding (verifying them: a NUL or invalid byte is an error).
 */
extern text *DesNameToText(const char *name, size_t len);
extern const char *DesTextToUtf8(text *t, size_t *len);

/* Free a malloc'd core buffer when the given memory context goes away. */
extern des_buf *DesBufInContext(MemoryContext cxt);

/* names.c: des.node_id, des.shard_bits */
extern void DesNamesDefineSettings(void);

#endif
