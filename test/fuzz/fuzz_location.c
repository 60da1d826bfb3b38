/*
 * fuzz_location.c - libFuzzer target for the location and endpoint grammar.
 *
 * The input is a location string as a user writes it (the backend gets it as
 * a NUL-free C string: the input is cut at its first NUL) and, the same bytes,
 * an S3 server's endpoint option.
 *
 * Invariants: a refusal points inside the input and allocates nothing; what
 * is accepted for an object is accepted the same as a prefix; an S3 result
 * has a bucket of 1 to 255 allowed characters and a key of at most 1024 bytes
 * and spells the input again as "s3://" bucket "/" key; a local result is an
 * absolute NUL-free path, equal to the input for a plain path and, for a
 * file: URL, parsed again to the same path once percent-encoded; an endpoint
 * host is non-empty, inside the input, and has no '/', '@' or '?'.
 */
#include "des/io/des_location.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) { fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

static void
check_location(const char *s, size_t len, bool allow_prefix, des_location *loc)
{
	bool		ok = des_location_parse(s, allow_prefix, loc);

	if (!ok)
	{
		REQUIRE(loc->status != DES_LOC_OK && loc->message[0] != '\0');
		REQUIRE(loc->error_pos <= len);
		REQUIRE(loc->path == NULL && loc->bucket == NULL && loc->key == NULL);
		if (allow_prefix)
			REQUIRE(loc->status != DES_LOC_BUCKET_ONLY && loc->status != DES_LOC_S3_PREFIX &&
					loc->status != DES_LOC_DIRECTORY);
		return;
	}
	REQUIRE(loc->status == DES_LOC_OK);
	if (loc->kind == DES_LOC_S3)
	{
		size_t		bl = strlen(loc->bucket),
					kl = strlen(loc->key);

		REQUIRE(loc->path == NULL && strncasecmp(s, "s3://", 5) == 0);
		REQUIRE(bl >= 1 && bl <= DES_S3_MAX_BUCKET_LEN && strspn(loc->bucket,
																 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == bl);
		REQUIRE(kl <= DES_S3_MAX_KEY_LEN);
		REQUIRE(loc->is_prefix == (kl == 0 || loc->key[kl - 1] == '/'));
		REQUIRE(allow_prefix || !loc->is_prefix);
		/* "s3://" bucket ["/" key] is the input again */
		REQUIRE(memcmp(s + 5, loc->bucket, bl) == 0);
		REQUIRE((5 + bl == len && kl == 0) ||
				(s[5 + bl] == '/' && 5 + bl + 1 + kl == len && memcmp(s + 6 + bl, loc->key, kl) == 0));
	}
	else
	{
		size_t		pl = strlen(loc->path);

		REQUIRE(loc->bucket == NULL && loc->key == NULL);
		REQUIRE(pl >= 1 && loc->path[0] == '/' && pl <= len);
		REQUIRE(loc->is_prefix == (loc->path[pl - 1] == '/'));
		REQUIRE(allow_prefix || !loc->is_prefix);
		if (strncasecmp(s, "file:", 5) != 0)
			REQUIRE(pl == len && memcmp(s, loc->path, len) == 0);
		else
		{
			/* re-encode every byte but unreserved ones and '/': same path */
			char	   *url = malloc(8 + 3 * pl + 1);
			char	   *o = url;
			des_location again;

			o += sprintf(o, "file://");
			for (size_t i = 0; i < pl; i++)
			{
				unsigned char c = (unsigned char) loc->path[i];

				if (c == '/' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
					*o++ = (char) c;
				else
					o += sprintf(o, "%%%02X", c);
			}
			*o = '\0';
			REQUIRE(des_location_parse(url, allow_prefix, &again));
			REQUIRE(again.kind == DES_LOC_LOCAL && strcmp(again.path, loc->path) == 0);
			des_location_free(&again);
			free(url);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t		len = strnlen((const char *) data, size);
	char	   *s = malloc(len + 1);
	des_location obj,
				pre;
	des_endpoint ep;
	bool		obj_ok;

	memcpy(s, data, len);
	s[len] = '\0';

	check_location(s, len, false, &obj);
	obj_ok = obj.status == DES_LOC_OK;
	check_location(s, len, true, &pre);
	/* an object location is also a valid prefix, with the same parts */
	if (obj_ok)
	{
		REQUIRE(pre.status == DES_LOC_OK && pre.kind == obj.kind && pre.is_prefix == obj.is_prefix);
		if (obj.kind == DES_LOC_S3)
			REQUIRE(strcmp(obj.bucket, pre.bucket) == 0 && strcmp(obj.key, pre.key) == 0);
		else
			REQUIRE(strcmp(obj.path, pre.path) == 0);
	}
	else if (pre.status != DES_LOC_OK)
		REQUIRE(pre.status == obj.status && pre.error_pos == obj.error_pos);
	des_location_free(&obj);
	des_location_free(&pre);

	if (des_endpoint_parse(s, &ep))
	{
		REQUIRE(ep.host_len >= 1 && ep.host_start + ep.host_len <= len);
		REQUIRE(ep.host_start == (ep.https ? 8u : 7u));
		REQUIRE(strncasecmp(s, ep.https ? "https://" : "http://", ep.host_start) == 0);
		for (size_t i = ep.host_start; i < ep.host_start + ep.host_len; i++)
			REQUIRE(s[i] != '/' && s[i] != '@' && s[i] != '?');
		REQUIRE(ep.host_start + ep.host_len == len ||
				(ep.host_start + ep.host_len + 1 == len && s[len - 1] == '/'));
	}
	else
		REQUIRE(ep.error_pos <= len && ep.message[0] != '\0');
	free(s);
	return 0;
}
