/*
 * des_location.h - the grammar of archive locations and S3 endpoints
 * (PostgreSQL-free).
 *
 * A location is an absolute server path ("/abs/a.des"), a file: URL
 * ("file:/p", "file:///p", "file://localhost/p", percent-encoded) or an S3 URL
 * ("s3://bucket/key"; schemes are case-insensitive). With allow_prefix a
 * trailing '/' names a directory or key prefix to list. An endpoint is
 * "http[s]://host[:port][/]".
 *
 * The parsers never allocate on failure and report a code, a message and the
 * byte offset in the input where the problem is, so the backend can raise its
 * own errors with their SQLSTATEs and the fuzzers can check the positions.
 */
#ifndef DES_LOCATION_H
#define DES_LOCATION_H

#include <stdbool.h>
#include <stddef.h>

#define DES_S3_MAX_BUCKET_LEN 255
#define DES_S3_MAX_KEY_LEN 1024

typedef enum des_location_kind
{
	DES_LOC_LOCAL,
	DES_LOC_S3
} des_location_kind;

typedef enum des_location_status
{
	DES_LOC_OK = 0,
	DES_LOC_EMPTY,				/* "" */
	DES_LOC_FILE_NOT_ABSOLUTE,	/* file: URL whose path is not absolute (or another host) */
	DES_LOC_BAD_PERCENT,		/* bad %XX in a file: URL, or %00 */
	DES_LOC_BAD_BUCKET,			/* s3:// bucket empty, too long or with a bad character */
	DES_LOC_BUCKET_ONLY,		/* s3://bucket or s3://bucket/ where an object is needed */
	DES_LOC_KEY_TOO_LONG,		/* S3 key longer than DES_S3_MAX_KEY_LEN bytes */
	DES_LOC_S3_PREFIX,			/* s3://bucket/prefix/ where an object is needed */
	DES_LOC_BAD_SCHEME,			/* some other "scheme://" */
	DES_LOC_RELATIVE,			/* not absolute, no scheme */
	DES_LOC_DIRECTORY,			/* local path ending in '/' where a file is needed */
	DES_LOC_NOMEM				/* allocation failed */
} des_location_status;

typedef struct des_location
{
	des_location_kind kind;
	char	   *path;			/* LOCAL: absolute path, percent-decoded (malloc) */
	char	   *bucket;			/* S3 (malloc) */
	char	   *key;			/* S3: object key, "" for the bucket root (malloc) */
	bool		is_prefix;		/* ends in '/' (or an empty S3 key): a directory or prefix */
	/* on failure */
	des_location_status status;
	size_t		error_pos;		/* byte offset in the input */
	char		message[128];
} des_location;

/*
 * Parse a NUL-terminated location. On success fills loc (free it with
 * des_location_free) and returns true; on failure returns false with
 * status, error_pos and message set and nothing allocated.
 */
extern bool des_location_parse(const char *location, bool allow_prefix, des_location *loc);
extern void des_location_free(des_location *loc);

typedef struct des_endpoint
{
	bool		https;
	size_t		host_start;		/* "host[:port]" is url[host_start, host_start + host_len) */
	size_t		host_len;
	size_t		error_pos;		/* on failure: byte offset in the input */
	char		message[128];
} des_endpoint;

/* Parse "http[s]://host[:port][/]" (no path, user info or query); allocates nothing. */
extern bool des_endpoint_parse(const char *url, des_endpoint *ep);

#endif
