/*
 * des_sigv4.h - AWS Signature Version 4 for S3 requests (PostgreSQL-free).
 *
 * The caller supplies the request's method, host, key path, query parameters
 * (unencoded), extra headers to sign, and the payload hash; the signer builds
 * the canonical request exactly as S3 expects (each path segment URI-encoded
 * once, query parameters sorted and encoded, header values trimmed) and
 * returns the Authorization header value.
 */
#ifndef DES_SIGV4_H
#define DES_SIGV4_H

#include "des/common/des_error.h"

#define DES_SHA256_HEX_LEN 64
#define DES_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define DES_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

typedef struct des_kv
{
	const char *name;
	const char *value;
} des_kv;

typedef struct des_sigv4_request
{
	const char *method;			/* "GET", "PUT", ... */
	const char *host;			/* Host header value, with ":port" when not default */
	const char *path;			/* unencoded absolute path: "/bucket/key" or "/key" */
	const des_kv *query;		/* unencoded parameters; value "" for "?uploads" */
	int			nquery;
	const des_kv *headers;		/* extra headers to sign (host, x-amz-date and
								 * x-amz-content-sha256 are added by the signer) */
	int			nheaders;
	const char *payload_sha256; /* hex, or DES_UNSIGNED_PAYLOAD */
	const char *amz_date;		/* "YYYYMMDDTHHMMSSZ" */
	const char *region;
	const char *service;		/* "s3" */
	const char *access_key;
	const char *secret_key;
	const char *session_token;	/* NULL when none; signed as x-amz-security-token */
} des_sigv4_request;

/*
 * Fill authorization (the Authorization header value). canonical, if not
 * NULL, receives the canonical request (for debugging and tests).
 */
extern bool des_sigv4_sign(const des_sigv4_request *req, des_buf *authorization,
						   des_buf *canonical, des_error *err);

/* RFC 3986 encoding as SigV4 wants it: unreserved kept, the rest %XX; '/' kept if keep_slash. */
extern bool des_uri_encode(des_buf *out, const char *s, size_t len, bool keep_slash);

/* The canonical query string (sorted, encoded): used for the URL too, so both agree. */
extern bool des_sigv4_query_string(const des_kv *query, int nquery, des_buf *out);

/* Lowercase hex SHA-256 of data into out[65]. */
extern void des_sha256_hex(const void *data, size_t len, char out[DES_SHA256_HEX_LEN + 1]);

/* "YYYYMMDDTHHMMSSZ" for a Unix time. */
extern void des_amz_date(long long unix_seconds, char out[17]);

#endif
