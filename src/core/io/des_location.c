/*
 * des_location.c - parse archive locations and S3 endpoints.
 *
 * The checks run in a fixed order (the backend's error for a location is the
 * first one that fails), and every comparison is ASCII-only so the result does
 * not depend on the process locale.
 */
#include "des/io/des_location.h"
#include "des/common/des_chars.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char bucket_chars[] =
"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_";

static bool loc_fail(des_location *loc, des_location_status status, size_t pos, const char *fmt,...)
			__attribute__((format(printf, 4, 5)));

static bool
loc_fail(des_location *loc, des_location_status status, size_t pos, const char *fmt,...)
{
	va_list		ap;

	free(loc->path);
	free(loc->bucket);
	free(loc->key);
	loc->path = loc->bucket = loc->key = NULL;
	loc->status = status;
	loc->error_pos = pos;
	va_start(ap, fmt);
	vsnprintf(loc->message, sizeof(loc->message), fmt, ap);
	va_end(ap);
	return false;
}

/* ASCII case-insensitive prefix test. */
static bool
has_prefix_ci(const char *s, const char *prefix)
{
	for (; *prefix; s++, prefix++)
	{
		unsigned char a = (unsigned char) *s;
		unsigned char b = (unsigned char) *prefix;

		if (a >= 'A' && a <= 'Z')
			a += 'a' - 'A';
		if (b >= 'A' && b <= 'Z')
			b += 'a' - 'A';
		if (a != b)
			return false;		/* also stops at the end of s */
	}
	return true;
}

static char *
dup_range(const char *s, size_t n)
{
	char	   *p = malloc(n + 1);

	if (p)
	{
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

/* Percent-decode a file URL path s (at offset base in the input) into loc->path. */
static bool
percent_decode(des_location *loc, const char *s, size_t base)
{
	size_t		n = strlen(s);
	char	   *o;

	loc->path = malloc(n + 1);
	if (loc->path == NULL)
		return loc_fail(loc, DES_LOC_NOMEM, 0, "out of memory");
	o = loc->path;
	for (size_t i = 0; i < n;)
	{
		if (s[i] == '%')
		{
			int			h = s[i + 1] ? des_hex_value(s[i + 1]) : -1;
			int			l = (h >= 0 && s[i + 2]) ? des_hex_value(s[i + 2]) : -1;

			if (h < 0 || l < 0 || (h == 0 && l == 0))
				return loc_fail(loc, DES_LOC_BAD_PERCENT, base + i,
								h == 0 && l == 0 ? "%%00 (a NUL byte) in a file URL" : "invalid percent-encoding in a file URL");
			*o++ = (char) (h * 16 + l);
			i += 3;
		}
		else
			*o++ = s[i++];
	}
	*o = '\0';
	return true;
}

static bool
parse_s3(const char *location, bool allow_prefix, des_location *loc)
{
	const char *b = location + 5;
	const char *slash = strchr(b, '/');
	size_t		blen = slash ? (size_t) (slash - b) : strlen(b);
	size_t		good = strspn(b, bucket_chars);
	size_t		klen;

	loc->kind = DES_LOC_S3;
	if (good < blen)
		return loc_fail(loc, DES_LOC_BAD_BUCKET, 5 + good, "invalid character in the S3 bucket name");
	if (blen == 0)
		return loc_fail(loc, DES_LOC_BAD_BUCKET, 5, "empty S3 bucket name");
	if (blen > DES_S3_MAX_BUCKET_LEN)
		return loc_fail(loc, DES_LOC_BAD_BUCKET, 5 + DES_S3_MAX_BUCKET_LEN,
						"S3 bucket name longer than %d bytes", DES_S3_MAX_BUCKET_LEN);
	klen = slash ? strlen(slash + 1) : 0;
	if (!allow_prefix && klen == 0)
		return loc_fail(loc, DES_LOC_BUCKET_ONLY, 5 + blen + (slash ? 1 : 0),
						"S3 location names a bucket, not an object");
	if (klen > DES_S3_MAX_KEY_LEN)
		return loc_fail(loc, DES_LOC_KEY_TOO_LONG, 5 + blen + 1 + DES_S3_MAX_KEY_LEN,
						"S3 object key longer than %d bytes", DES_S3_MAX_KEY_LEN);
	loc->is_prefix = klen == 0 || slash[klen] == '/';
	if (!allow_prefix && loc->is_prefix)
		return loc_fail(loc, DES_LOC_S3_PREFIX, 5 + blen + klen,
						"S3 location names a prefix, not an object");
	loc->bucket = dup_range(b, blen);
	loc->key = dup_range(slash ? slash + 1 : "", klen);
	if (loc->bucket == NULL || loc->key == NULL)
		return loc_fail(loc, DES_LOC_NOMEM, 0, "out of memory");
	return true;
}

bool
des_location_parse(const char *location, bool allow_prefix, des_location *loc)
{
	size_t		len = strlen(location);
	const char *scheme;

	memset(loc, 0, sizeof(*loc));
	if (len == 0)
		return loc_fail(loc, DES_LOC_EMPTY, 0, "empty location");
	if (has_prefix_ci(location, "file:"))
	{
		const char *rest = location + 5;

		/* file:/path, file:///path and file://localhost/path (RFC 8089) */
		if (strncmp(rest, "//", 2) == 0)
		{
			rest += 2;
			if (has_prefix_ci(rest, "localhost/"))
				rest += 9;
		}
		loc->kind = DES_LOC_LOCAL;
		if (rest[0] != '/')
			return loc_fail(loc, DES_LOC_FILE_NOT_ABSOLUTE, rest - location,
							"a file URL must name an absolute path on this server");
		if (!percent_decode(loc, rest, rest - location))
			return false;
	}
	else if (has_prefix_ci(location, "s3://"))
		return parse_s3(location, allow_prefix, loc);
	else if ((scheme = strstr(location, "://")) != NULL)
		return loc_fail(loc, DES_LOC_BAD_SCHEME, scheme - location, "unsupported URL scheme");
	else if (location[0] != '/')
		return loc_fail(loc, DES_LOC_RELATIVE, 0, "relative path");
	else
	{
		loc->kind = DES_LOC_LOCAL;
		loc->path = dup_range(location, len);
		if (loc->path == NULL)
			return loc_fail(loc, DES_LOC_NOMEM, 0, "out of memory");
	}
	/* a local path: never empty here, it starts with '/' */
	loc->is_prefix = loc->path[strlen(loc->path) - 1] == '/';
	if (!allow_prefix && loc->is_prefix)
		return loc_fail(loc, DES_LOC_DIRECTORY, len - 1, "location names a directory");
	return true;
}

void
des_location_free(des_location *loc)
{
	free(loc->path);
	free(loc->bucket);
	free(loc->key);
	loc->path = loc->bucket = loc->key = NULL;
}

static bool
ep_fail(des_endpoint *ep, size_t pos, const char *msg)
{
	ep->error_pos = pos;
	snprintf(ep->message, sizeof(ep->message), "%s", msg);
	return false;
}

bool
des_endpoint_parse(const char *url, des_endpoint *ep)
{
	size_t		h,
				len;

	memset(ep, 0, sizeof(*ep));
	if (has_prefix_ci(url, "https://"))
	{
		ep->https = true;
		h = 8;
	}
	else if (has_prefix_ci(url, "http://"))
		h = 7;
	else
		return ep_fail(ep, 0, "the endpoint must start with http:// or https://");
	len = strlen(url + h);
	if (len > 0 && url[h + len - 1] == '/')
		len--;
	if (len == 0)
		return ep_fail(ep, h, "the endpoint has no host");
	for (size_t i = h; i < h + len; i++)
		if (url[i] == '/' || url[i] == '@' || url[i] == '?')
			return ep_fail(ep, i, url[i] == '/' ? "the endpoint has a path" :
						   url[i] == '@' ? "the endpoint has user information" : "the endpoint has a query");
	ep->host_start = h;
	ep->host_len = len;
	return true;
}
