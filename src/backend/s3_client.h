/*
 * s3_client.h - S3 requests from a backend with libcurl.
 *
 * DesS3Perform runs a batch of requests concurrently on one multi handle and
 * never throws: retries, backoff and interrupt checks happen inside, and each
 * transfer's outcome is left in its DesS3Transfer. Callers raise errors
 * afterwards (DesS3ReportError), so a longjmp never crosses libcurl.
 */
#ifndef DES_S3_CLIENT_H
#define DES_S3_CLIENT_H

#include "pg_des.h"

#include "datatype/timestamp.h"
#include "des/des_sigv4.h"

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
	char		etag[130];
	char		request_id[130];
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

#endif
