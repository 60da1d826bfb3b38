/*
 * archive.h - the archive area: des.archive_* functions, the per-backend
 * reader cache and its pins, batch reads, BLAKE2b.
 */
#ifndef DES_ARCHIVE_H
#define DES_ARCHIVE_H

#include "pg_des.h"

#include "des/format/des_reader.h"

/* settings (module/pg_des.c) */
extern int	des_read_coalesce_gap_kb;
extern int	des_s3_read_coalesce_gap_kb;
extern int	des_read_max_span_kb;
extern int	des_reader_cache_entries;

/* archive_write.c */
extern char *DesDefaultExternalPrefix(const DesLocation *loc);

/* reader_cache.c: readers kept open per backend, revalidated on each use */
typedef struct DesOpenArchive
{
	struct OpenedArchive *opened;	/* the cache's holder (for pins) */
	des_reader *reader;
	struct DesS3Object *s3;		/* S3 archives: for parallel range reads */
	const DesLocation *location;
	des_external_resolver resolver;
	des_read_options options;
} DesOpenArchive;

/*
 * Open (or reuse) the reader for loc. For S3, revalidate asks for a
 * conditional request before reusing a cached index; without it, data reads
 * themselves detect a replaced object (If-Match) and fail with errno ESTALE
 * in the des_error, after which the caller evicts and retries once.
 */
extern void DesOpenArchiveForRead(const DesLocation *loc, bool verify_hashes, bool revalidate,
								  DesOpenArchive *out);
extern void DesReaderCacheEvict(const DesLocation *loc);

/*
 * A pin keeps an opened archive usable beyond later opens (which may evict it
 * from the cache) until released, set to another archive, or until the
 * memory context it was created in is reset or deleted. One pin can be set
 * and released any number of times.
 */
typedef struct DesArchivePin DesArchivePin;
extern DesArchivePin *DesArchivePinCreate(MemoryContext cxt);
extern void DesArchivePinSet(DesArchivePin *pin, const DesOpenArchive *oa);
extern bool DesArchivePinned(const DesArchivePin *pin);
extern void DesArchivePinRelease(DesArchivePin *pin);
extern void DesReaderCacheReset(void);

/* archive_read.c: stored meta as jsonb; NULL when jsonb cannot hold it */
extern Datum DesMetaToJsonb(const char *meta, size_t len, bool *isnull);
/* Read planned ranges [first, first+n): in parallel on S3, one read each locally. */
extern bool DesFetchPlannedRanges(DesOpenArchive *oa, const des_batch_plan *plan, size_t first, size_t n,
								  unsigned char **bufs, des_error *err);
/* A payload as bytea (an error if it is too large for one). */
extern bytea *DesBytesToBytea(const unsigned char *data, size_t len);
/* A read failed because the S3 object was replaced after its index was cached. */
extern bool DesErrorIsStale(const des_error *err);

/* archive_read.c: the area's settings */
extern void DesArchiveDefineSettings(void);

#endif
