/*
 * pg_des.h - shared declarations of the backend glue.
 */
#ifndef PG_DES_H
#define PG_DES_H

#include "postgres.h"

#include "des/des_error.h"
#include "des/des_reader.h"

/* GUCs (pg_des.c) */
extern int	des_read_coalesce_gap_kb;
extern int	des_read_max_span_kb;
extern int	des_reader_cache_entries;

/* A parsed archive location. */
typedef enum DesLocationKind
{
	DES_LOCATION_LOCAL
} DesLocationKind;

typedef struct DesLocation
{
	DesLocationKind kind;
	char	   *original;		/* as the user wrote it, for messages */
	char	   *path;			/* local absolute path */
} DesLocation;

/* location.c */
extern DesLocation *DesParseLocation(const char *location);
extern void DesCheckReadAccess(const DesLocation *loc);
extern void DesCheckWriteAccess(const DesLocation *loc);

/* errors.c: raise an ERROR for a failed core call */
extern void DesReportError(const des_error *err, const char *location) pg_attribute_noreturn();

/* reader_cache.c: readers kept open per backend, revalidated on each use */
typedef struct DesOpenArchive
{
	des_reader *reader;
	const DesLocation *location;
	des_external_resolver resolver;
	des_read_options options;
} DesOpenArchive;

extern void DesOpenArchiveForRead(const DesLocation *loc, bool verify_hashes, DesOpenArchive *out);
extern void DesReaderCacheReset(void);

/*
 * Entry names are UTF-8 in archives: convert to and from the database
 * encoding (verifying them: a NUL or invalid byte is an error).
 */
extern text *DesNameToText(const char *name, size_t len);
extern const char *DesTextToUtf8(text *t, size_t *len);

/* Free a malloc'd core buffer when the given memory context goes away. */
extern des_buf *DesBufInContext(MemoryContext cxt);

#endif
