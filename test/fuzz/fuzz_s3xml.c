/*
 * fuzz_s3xml.c - libFuzzer target for the S3 XML scanner, as the backend uses it.
 *
 * The input is a response body from a buggy or hostile S3 server. It is read
 * the way the backend reads its responses, with the same element names and
 * loops: an error's Code, Message and RequestId (s3_client.c classify), a
 * multipart upload's UploadId and a CompleteMultipartUpload's embedded
 * <Error> (s3_storage.c), and a ListObjectsV2 page (s3_storage.c DesS3List:
 * every Contents with its Key, Size and ETag, every CommonPrefixes' Prefix,
 * IsTruncated and NextContinuationToken), and a ListMultipartUploads page
 * (s3_storage.c DesS3ListUploads: every Upload's Key, UploadId and
 * Initiated, NextKeyMarker and NextUploadIdMarker).
 *
 * Invariants: every element span lies inside the text it was found in, starts
 * with '<' and ends with '>', and iteration always moves forward (so the
 * backend's loops end); decoded text is never longer than its element; the
 * scanner gives the same answer twice.
 */
#define _GNU_SOURCE
#include "des/s3/des_s3xml.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) { fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

/* des_xml_next_element plus the invariants; *pos must move forward. */
static bool
next_element(const char *xml, size_t len, size_t *pos, const char *name, size_t *start, size_t *end)
{
	size_t		before = *pos;
	size_t		s2,
				e2,
				p2 = *pos;
	bool		found = des_xml_next_element(xml, len, pos, name, start, end);

	REQUIRE(des_xml_next_element(xml, len, &p2, name, &s2, &e2) == found);
	if (!found)
		return false;
	REQUIRE(s2 == *start && e2 == *end && p2 == *pos);
	REQUIRE(*start >= before && *start < *end && *end <= len);
	REQUIRE(*pos == *end && *pos > before);
	REQUIRE(xml[*start] == '<' && xml[*end - 1] == '>');
	return true;
}

/* des_xml_next_text plus the invariants. */
static bool
next_text(const char *xml, size_t len, size_t *pos, const char *name, des_buf *out)
{
	size_t		before = *pos;
	size_t		p2 = *pos,
				s,
				e;
	bool		found = des_xml_next_text(xml, len, pos, name, out);

	if (!found)
		return false;
	REQUIRE(*pos > before && *pos <= len);
	/* the element it decoded is the next element of that name */
	REQUIRE(des_xml_next_element(xml, len, &p2, name, &s, &e) && e == *pos);
	REQUIRE(out->len <= e - s);
	return true;
}

/* s3_client.c classify(): each field searched from the start of the body. */
static void
error_response(const char *xml, size_t len, des_buf *b)
{
	static const char *const fields[] = {"Code", "Message", "RequestId"};
	char		code[64];

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
	{
		size_t		pos = 0;

		if (next_text(xml, len, &pos, fields[i], b))
			snprintf(code, sizeof(code), "%.*s", (int) b->len, (const char *) b->data);
	}
}

/* s3_storage.c start_multipart() and complete_multipart() */
static void
multipart_responses(const char *xml, size_t len, des_buf *b)
{
	size_t		pos = 0;

	if (next_text(xml, len, &pos, "UploadId", b) && b->len > 0)
		REQUIRE(des_buf_putc(b, '\0'));
	(void) memmem(xml, len, "<Error>", 7);
}

/* s3_storage.c DesS3List(): one ListObjectsV2 page. */
static void
list_page(const char *xml, size_t len, des_buf *field, des_buf *token)
{
	size_t		pos = 0,
				start,
				end;
	bool		more;
	unsigned	n = 0;

	while (next_element(xml, len, &pos, "Contents", &start, &end))
	{
		size_t		p2 = 0;
		uint64_t	size = 0;
		char		etag[130] = "";
		char	   *key;

		REQUIRE(++n <= len);
		if (!next_text(xml + start, end - start, &p2, "Key", field))
			continue;
		key = strndup((const char *) field->data, field->len);
		p2 = 0;
		if (next_text(xml + start, end - start, &p2, "Size", field) && des_buf_putc(field, 0))
			size = strtoull((const char *) field->data, NULL, 10);
		p2 = 0;
		if (next_text(xml + start, end - start, &p2, "ETag", field))
			snprintf(etag, sizeof(etag), "%.*s", (int) (field->len < 128 ? field->len : 128), (const char *) field->data);
		(void) size;
		free(key);
	}
	pos = 0;
	n = 0;
	while (next_element(xml, len, &pos, "CommonPrefixes", &start, &end))
	{
		size_t		p2 = 0;

		REQUIRE(++n <= len);
		if (next_text(xml + start, end - start, &p2, "Prefix", field))
			free(strndup((const char *) field->data, field->len));
	}
	pos = 0;
	more = next_text(xml, len, &pos, "IsTruncated", field) &&
		field->len == 4 && memcmp(field->data, "true", 4) == 0;
	pos = 0;
	token->len = 0;
	if (more && next_text(xml, len, &pos, "NextContinuationToken", field))
	{
		REQUIRE(des_buf_append(token, field->data, field->len));
		REQUIRE(des_buf_putc(token, '\0'));
	}
}

/* s3_storage.c DesS3ListUploads(): one ListMultipartUploads page. */
static void
uploads_page(const char *xml, size_t len, des_buf *field, des_buf *marker)
{
	size_t		pos = 0,
				start,
				end;
	unsigned	n = 0;

	while (next_element(xml, len, &pos, "Upload", &start, &end))
	{
		size_t		p2 = 0;

		REQUIRE(++n <= len);
		if (!next_text(xml + start, end - start, &p2, "Key", field))
			continue;
		free(strndup((const char *) field->data, field->len));
		p2 = 0;
		if (!next_text(xml + start, end - start, &p2, "UploadId", field) || field->len == 0)
			continue;
		free(strndup((const char *) field->data, field->len));
		p2 = 0;
		if (next_text(xml + start, end - start, &p2, "Initiated", field))
			free(strndup((const char *) field->data, field->len));
	}
	pos = 0;
	if (next_text(xml, len, &pos, "IsTruncated", field) && field->len == 4 && memcmp(field->data, "true", 4) == 0)
	{
		marker->len = 0;
		pos = 0;
		if (next_text(xml, len, &pos, "NextKeyMarker", field) && field->len > 0)
		{
			REQUIRE(des_buf_append(marker, field->data, field->len));
			REQUIRE(des_buf_putc(marker, '\0'));
		}
		pos = 0;
		(void) next_text(xml, len, &pos, "NextUploadIdMarker", field);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly size bytes, so ASan sees any read past the body */
	char	   *xml = malloc(size ? size : 1);
	des_buf		b = {0},
				token = {0};

	memcpy(xml, data, size);
	error_response(xml, size, &b);
	multipart_responses(xml, size, &b);
	list_page(xml, size, &b, &token);
	uploads_page(xml, size, &b, &token);
	des_buf_free(&b);
	des_buf_free(&token);
	free(xml);
	return 0;
}
