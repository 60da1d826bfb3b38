/*
 * pg_des.h - shared declarations of the backend glue.
 */
#ifndef PG_DES_H
#define PG_DES_H

#include "postgres.h"

#include "des/des_error.h"
#include "des/des_reader.h"

/* shmem.c */
extern void DesShmemInit(void);

/* worker_marker.c */
extern bool des_workers_enabled;
extern char *des_database;
extern int	des_marker_naptime_ms;
extern int	des_marker_batch_size;
extern int	des_marker_min_age_ms;
extern int	des_worker_restart_s;
extern Size DesMarkerShmemSize(void);
extern void DesMarkerShmemStartup(void);
extern void DesRegisterWorkers(void);
extern int	des_markers;
extern int	des_marker_rate_limit;
extern int	des_source_claim_batch;

/* worker_packer.c */
extern int	des_packers;
extern int	des_packer_naptime_ms;
extern int	des_container_max_bytes_kb;
extern int	des_container_max_entries;
extern int	des_container_max_age_ms;
extern int	des_lease_timeout_s;
extern int	des_max_attempts;
extern int	des_retry_base_delay_ms;
extern int	des_shutdown_timeout_ms;
extern bool des_packer_lz4;
extern Size DesPackerShmemSize(void);
extern void DesPackerShmemStartup(void);
extern void DesRegisterPackers(void);

/* names.c: Snowflake-style ids and shards */
extern int	des_node_id;
extern int	des_shard_bits;
extern Size DesIdGeneratorShmemSize(void);
extern void DesIdGeneratorRequest(void);
extern void DesIdGeneratorStartup(void);
extern int64 DesNextId(void);
extern int	DesShardOf(const char *utf8, size_t len, int bits);

/* index_cache.c: S3 archive indexes shared by all backends (when preloaded) */
extern int	des_index_cache_size_kb;
extern void DesIndexCacheRequest(void);
extern void DesIndexCacheStartup(void);
extern bool DesIndexCacheLookup(const char *key, char *etag, size_t etag_cap, uint64 *object_size,
								uint64 *blob_offset, unsigned char **blob, uint64 *blob_length);
extern void DesIndexCacheStore(const char *key, const char *etag, uint64 object_size,
							   uint64 blob_offset, const unsigned char *blob, uint64 blob_length);
extern void DesIndexCacheRemove(const char *key);
extern void DesIndexCacheClear(void);
extern bool DesIndexCacheStats(int64 *hits, int64 *misses, int64 *evictions, int64 *entries, int64 *bytes);

/* GUCs (pg_des.c, s3_config.c) */
extern char *des_default_server;
extern int	des_read_coalesce_gap_kb;
extern int	des_s3_read_coalesce_gap_kb;
extern int	des_read_max_span_kb;
extern int	des_reader_cache_entries;

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

/* archive_write.c */
extern char *DesDefaultExternalPrefix(const DesLocation *loc);

/* errors.c: raise an ERROR for a failed core call */
extern void DesReportError(const des_error *err, const char *location) pg_attribute_noreturn();

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

/*
 * Entry names are UTF-8 in archives: convert to and from the database
 * encoding (verifying them: a NUL or invalid byte is an error).
 */
extern text *DesNameToText(const char *name, size_t len);
extern const char *DesTextToUtf8(text *t, size_t *len);

/* Free a malloc'd core buffer when the given memory context goes away. */
extern des_buf *DesBufInContext(MemoryContext cxt);

/* archive_read.c: stored meta as jsonb; NULL when jsonb cannot hold it */
extern Datum DesMetaToJsonb(const char *meta, size_t len, bool *isnull);
/* Read planned ranges [first, first+n): in parallel on S3, one read each locally. */
extern bool DesFetchPlannedRanges(DesOpenArchive *oa, const des_batch_plan *plan, size_t first, size_t n,
								  unsigned char **bufs, des_error *err);
/* A payload as bytea (an error if it is too large for one). */
extern bytea *DesBytesToBytea(const unsigned char *data, size_t len);
/* A read failed because the S3 object was replaced after its index was cached. */
extern bool DesErrorIsStale(const des_error *err);

#endif
