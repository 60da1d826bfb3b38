/*
 * s3.h - the s3 area: S3 requests from a backend with libcurl (s3_client.c),
 * endpoints and credentials (s3_config.c), objects as archive sources, sinks
 * and listings (s3_storage.c), the shared index cache (index_cache.c).
 *
 * DesS3Perform runs a batch of requests concurrently on one multi handle and
 * never throws: retries, backoff and interrupt checks happen inside, and each
 * transfer's outcome is left in its DesS3Transfer. Callers raise errors
 * afterwards (DesS3ReportError), so a longjmp never crosses libcurl.
 */
#ifndef DES_S3_H
#define DES_S3_H

#include "pg_des.h"

#include "datatype/timestamp.h"
#include "des/format/des_writer.h"
#include "des/s3/des_sigv4.h"

/*
 * Room for an ETag or a request id as S3 returns them (quoted hex of a
 * multipart ETag is about 40 bytes; longer values are cut, never overrun).
 */
#define DES_S3_TOKEN_CAP 130

/*
 * Most requests of one operation in flight at once: the maximum of
 * des.s3_max_connections and des.s3_upload_parallel, and the size of the
 * callers' fixed windows of range reads.
 */
#define DES_S3_MAX_PARALLEL 64

typedef enum DesS3Kind
{
	DES_S3_GET,
	DES_S3_GET_RANGE,
	DES_S3_HEAD,
	DES_S3_PUT,
	DES_S3_MULTIPART_CREATE,
	DES_S3_MULTIPART_UPLOAD,
	DES_S3_MULTIPART_COMPLETE,
	DES_S3_MULTIPART_ABORT,
	DES_S3_DELETE,
	DES_S3_LIST,
	DES_S3_LIST_UPLOADS,
	DES_S3_NKINDS
} DesS3Kind;

extern const char *const DesS3KindNames[DES_S3_NKINDS];

/* Where and as whom: resolved from the foreign server and user mapping. */
typedef struct DesS3Endpoint
{
	char	   *server_name;
	bool		https;
	char	   *host;			/* host[:port] of the endpoint */
	bool		path_style;
	char	   *region;
	char	   *access_key;
	char	   *secret_key;
	char	   *session_token;	/* NULL if none */
} DesS3Endpoint;

typedef struct DesS3Transfer
{
	/* request */
	DesS3Kind	kind;
	const char *method;
	const char *bucket;
	const char *key;			/* "" for bucket-level requests */
	des_kv		query[6];
	int			nquery;
	des_kv		headers[4];
	int			nheaders;
	const unsigned char *body;
	size_t		body_len;
	/* response body: into a caller buffer of known size, or a growable one */
	unsigned char *into;
	size_t		into_cap;
	des_buf		body_out;		/* malloc'd; free with DesS3TransferFree */
	/* outcome */
	bool		done;
	long		status;			/* HTTP status, 0 when no response */
	int			curl_code;
	char		curl_error[256];
	char		etag[DES_S3_TOKEN_CAP];
	char		request_id[DES_S3_TOKEN_CAP];
	uint64		total_size;		/* from Content-Range, or Content-Length */
	size_t		received;
	int			attempts;
	bool		overflow;		/* response larger than the caller buffer */
	bool		interrupted;
	/* internal */
	void	   *easy;
	void	   *headers_list;
	size_t		send_pos;
	TimestampTz retry_at;
} DesS3Transfer;

extern void DesS3TransferInit(DesS3Transfer *t, DesS3Kind kind, const char *method,
							  const char *bucket, const char *key);
extern void DesS3TransferFree(DesS3Transfer *t);

/*
 * Run the transfers, at most max_parallel at once. Returns false if it
 * stopped because of an interrupt (the caller then CHECK_FOR_INTERRUPTS()).
 * A transfer succeeded if 200 <= status < 300.
 */
extern bool DesS3Perform(const DesS3Endpoint *ep, DesS3Transfer *xfers, int n, int max_parallel);

static inline bool
DesS3Ok(const DesS3Transfer *t)
{
	return t->status >= 200 && t->status < 300 && !t->overflow;
}

/* Initialise libcurl for this process (may raise an error: call before the core runs). */
extern void DesS3Init(void);

/* Fill a des_error (no throw) for a failed transfer; DesReportError raises it. */
extern void DesS3FillError(const DesS3Transfer *t, const char *what, const char *location, des_error *err);

/* Requests (retries included) and bytes received by this backend, ever. */
typedef struct DesIoCounters
{
	uint64		requests;
	uint64		bytes_in;
} DesIoCounters;
extern DesIoCounters des_backend_io;

/* Request accounting (shared memory when preloaded, else this backend's). */
extern void DesS3StatsRecord(DesS3Kind kind, uint64 bytes_in, uint64 bytes_out, bool retry, bool error);

/* s3_config.c */
extern DesS3Endpoint *DesS3EndpointForServerUser(const char *server_name, Oid userid);
extern DesS3Endpoint *DesS3EndpointForLocation(const DesLocation *loc);

/* GUCs */
extern int	des_s3_connect_timeout_ms;
extern int	des_s3_low_speed_time_s;
extern int	des_s3_max_retries;
extern int	des_s3_retry_base_ms;
extern int	des_s3_max_connections;
extern bool des_s3_sign_payload;


/* ---- S3 objects as archive sources, sinks and listings (s3_storage.c) ---- */

/* An object opened for reading: malloc'd, so it can outlive a query in a cache. */
typedef struct DesS3Object
{
	const DesS3Endpoint *ep;	/* set before every use: credentials are per call */
	char	   *bucket;
	char	   *key;
	char	   *location;
	uint64		size;
	char		etag[DES_S3_TOKEN_CAP];
	unsigned char *tail;		/* the last bytes, read at open */
	uint64		tail_off;
	size_t		tail_len;
	/*
	 * True while the tail is known to be the current object's bytes: set by
	 * the open or a 304 revalidation in this call; cleared when a cached
	 * object is reused without revalidation. Only then may reads be served
	 * from the tail without a (If-Match guarded) request.
	 */
	bool		tail_fresh;
	uint64		requests;
} DesS3Object;

extern bool DesS3ObjectOpen(const DesS3Endpoint *ep, const char *bucket, const char *key,
							const char *location, const char *if_none_match,
							DesS3Object **out, bool *unchanged, des_error *err);
extern void DesS3ObjectSource(DesS3Object *o, des_source *src);
extern void DesS3ObjectFree(DesS3Object *o);
/* Confirm with a conditional request that o is unchanged; ESTALE error if it changed. */
extern bool DesS3ObjectRevalidate(DesS3Object *o, des_error *err);
extern const des_external_resolver *DesS3Resolver(des_external_resolver *r, DesS3Object *archive);

/* Read n ranges of o in parallel (bounded by des.s3_max_connections), If-Match guarded. */
extern bool DesS3FetchRanges(DesS3Object *o, const uint64 *offsets, const uint64 *lengths,
							 unsigned char **bufs, int n, des_error *err);

/* One ranged GET of an object that is not opened (no ETag guard). */
extern bool DesS3ReadRange(const DesS3Endpoint *ep, const char *bucket, const char *key, const char *location,
						   uint64 offset, uint64 len, unsigned char *buf, des_error *err);

typedef struct DesS3Sink DesS3Sink;

extern bool DesS3SinkOpen(const DesS3Endpoint *ep, const char *bucket, const char *key,
						  const char *location, des_sink *sink, DesS3Sink **out, des_error *err);
extern void DesS3SinkFree(DesS3Sink *s);

typedef void (*DesS3ListCallback) (void *arg, const char *key, uint64 size, const char *etag, bool is_prefix);
extern bool DesS3List(const DesS3Endpoint *ep, const char *bucket, const char *prefix,
					  const char *delimiter, DesS3ListCallback cb, void *arg, des_error *err);

/* incomplete multipart uploads under a prefix (ListMultipartUploads) */
typedef void (*DesS3UploadCallback) (void *arg, const char *key, const char *upload_id, const char *initiated);
extern bool DesS3ListUploads(const DesS3Endpoint *ep, const char *bucket, const char *prefix,
							 DesS3UploadCallback cb, void *arg, des_error *err);
/* AbortMultipartUpload: true if aborted, false if S3 knows no such upload */
extern bool DesS3AbortUpload(const DesS3Endpoint *ep, const char *bucket, const char *key,
							 const char *upload_id, const char *location, des_error *err, bool *found);

extern int	des_s3_tail_read_kb;
extern int	des_s3_part_size_mb;
extern int	des_s3_upload_parallel;
extern int	des_s3_list_page_size;

/* settings (module/pg_des.c) */
extern char *des_default_server;

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

/* s3_config.c: the area's settings */
extern void DesS3DefineSettings(void);

#endif
