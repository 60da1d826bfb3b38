/*
 * test_sigv4.c - the SigV4 signer against AWS's published S3 examples
 * ("Examples: Signature Calculations in AWS Signature Version 4", S3 API
 * reference): same credentials, dates, headers and expected signatures.
 */
#include "unit.h"
#include "des/s3/des_sigv4.h"
#include "des/s3/des_s3xml.h"

#include <string.h>
#include <stdlib.h>
#include <time.h>

int			unit_passed,
			unit_failed;

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

static void
check_signature(const char *what, des_sigv4_request *req, const char *want_sig, const char *want_signed)
{
	des_buf		auth = {0},
				canon = {0};
	des_error	err;
	char		expect[400];

	req->amz_date = "20130524T000000Z";
	req->region = "us-east-1";
	req->service = "s3";
	req->access_key = AKID;
	req->secret_key = SECRET;
	snprintf(expect, sizeof(expect),
			 "AWS4-HMAC-SHA256 Credential=" AKID "/20130524/us-east-1/s3/aws4_request,SignedHeaders=%s,Signature=%s",
			 want_signed, want_sig);
	CHECK(des_sigv4_sign(req, &auth, &canon, &err), "%s: sign: %s", what, err.message);
	CHECK(auth.data && strcmp((char *) auth.data, expect) == 0, "%s:\n got  %s\n want %s\n canonical:\n%s",
		  what, auth.data ? (char *) auth.data : "", expect, canon.data ? (char *) canon.data : "");
	des_buf_free(&auth);
	des_buf_free(&canon);
}

int
main(void)
{
	/* GET Object with a Range header */
	{
		des_kv		h[] = {{"Range", "bytes=0-9"}};
		des_sigv4_request r = {0};

		r.method = "GET";
		r.host = "examplebucket.s3.amazonaws.com";
		r.path = "/test.txt";
		r.headers = h;
		r.nheaders = 1;
		r.payload_sha256 = DES_EMPTY_SHA256;
		check_signature("GET object", &r, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
						"host;range;x-amz-content-sha256;x-amz-date");
	}
	/* PUT Object: a key needing encoding, a Date and a storage-class header */
	{
		des_kv		h[] = {{"Date", "Fri, 24 May 2013 00:00:00 GMT"}, {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
		des_sigv4_request r = {0};
		char		payload_hash[65];

		des_sha256_hex("Welcome to Amazon S3.", 21, payload_hash);
		CHECK(strcmp(payload_hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072") == 0,
			  "payload hash %s", payload_hash);
		r.method = "PUT";
		r.host = "examplebucket.s3.amazonaws.com";
		r.path = "/test$file.text";
		r.headers = h;
		r.nheaders = 2;
		r.payload_sha256 = payload_hash;
		check_signature("PUT object", &r, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
						"date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class");
	}
	/* GET Bucket lifecycle: a subresource query parameter without value */
	{
		des_kv		q[] = {{"lifecycle", ""}};
		des_sigv4_request r = {0};

		r.method = "GET";
		r.host = "examplebucket.s3.amazonaws.com";
		r.path = "/";
		r.query = q;
		r.nquery = 1;
		r.payload_sha256 = DES_EMPTY_SHA256;
		check_signature("GET lifecycle", &r, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
						"host;x-amz-content-sha256;x-amz-date");
	}
	/* List objects: query parameters sorted by name */
	{
		des_kv		q[] = {{"prefix", "J"}, {"max-keys", "2"}};
		des_sigv4_request r = {0};

		r.method = "GET";
		r.host = "examplebucket.s3.amazonaws.com";
		r.path = "/";
		r.query = q;
		r.nquery = 2;
		r.payload_sha256 = DES_EMPTY_SHA256;
		check_signature("list objects", &r, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
						"host;x-amz-content-sha256;x-amz-date");
	}
	/* encoding helpers */
	{
		des_buf		b = {0};
		des_kv		q[] = {{"prefix", "a b/c+d"}, {"delimiter", "/"}, {"continuation-token", "x=y"}};

		CHECK(des_uri_encode(&b, "a b/é~", strlen("a b/é~"), true) && b.len == 13 &&
			  memcmp(b.data, "a%20b/%C3%A9~", 13) == 0, "uri encode: %.*s", (int) b.len, b.data);
		b.len = 0;
		CHECK(des_sigv4_query_string(q, 3, &b) && des_buf_putc(&b, 0) &&
			  strcmp((char *) b.data, "continuation-token=x%3Dy&delimiter=%2F&prefix=a%20b%2Fc%2Bd") == 0,
			  "query string: %s", b.data);
		/* regression (fuzz_sigv4): sorting compared empty names and values with memcmp(NULL, ...) */
		{
			des_kv		e[] = {{"uploads", ""}, {"", "z"}, {"uploads", "1"}, {"", ""}};

			b.len = 0;
			CHECK(des_sigv4_query_string(e, 4, &b) && des_buf_putc(&b, 0) &&
				  strcmp((char *) b.data, "=&=z&uploads=&uploads=1") == 0, "empty names and values sort first: %s", b.data);
		}
		des_buf_free(&b);
	}
	/* regression (fuzz_sigv4): a long region or service was cut from the Credential scope (a 256-byte buffer) */
	{
		char		region[301];
		des_sigv4_request r = {0};
		des_buf		auth = {0};
		des_buf		want = {0};
		des_error	err;

		memset(region, 'r', 300);
		region[300] = '\0';
		r.method = "GET";
		r.host = "h";
		r.path = "/";
		r.payload_sha256 = DES_EMPTY_SHA256;
		r.amz_date = "20130524T000000Z";
		r.region = region;
		r.service = "s3";
		r.access_key = AKID;
		r.secret_key = SECRET;
		CHECK(des_buf_append(&want, "/20130524/", 10) && des_buf_append(&want, region, 300) &&
			  des_buf_append(&want, "/s3/aws4_request,SignedHeaders=", 31) && des_buf_putc(&want, 0), "oom");
		CHECK(des_sigv4_sign(&r, &auth, NULL, &err) && strstr((char *) auth.data, (char *) want.data) != NULL,
			  "long region kept whole in the credential scope: %.80s...", auth.data ? (char *) auth.data : "");
		des_buf_free(&auth);
		des_buf_free(&want);
	}
	/* encoding does not depend on the locale: every non-ASCII byte is %XX */
	{
		des_buf		b = {0};
		bool		all = true;

		for (int c = 0x80; c <= 0xff; c++)
		{
			char		in = (char) c;
			char		want[4];

			snprintf(want, sizeof(want), "%%%02X", c);
			b.len = 0;
			all = all && des_uri_encode(&b, &in, 1, true) && b.len == 3 && memcmp(b.data, want, 3) == 0;
		}
		CHECK(all, "bytes 0x80-0xff are percent-encoded");
		des_buf_free(&b);
	}
	{
		char		d[17];

		des_amz_date(1369353600, d);
		CHECK(strcmp(d, "20130524T000000Z") == 0, "amz date %s", d);
	}
	/* S3 XML responses */
	{
		const char *e = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
			"<Message>The specified key does not exist &amp; never did &#233;&#x1F600;</Message>"
			"<Key>a&lt;b</Key><RequestId>4442587FB7D0A2F9</RequestId></Error>";
		const char *l = "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name>"
			"<IsTruncated>true</IsTruncated><Contents><Key>x/1.des</Key><Size>10</Size><ETag>&quot;abc&quot;</ETag></Contents>"
			"<Contents><Key>x/2.des</Key><Size>20</Size><ETag>\"def\"</ETag></Contents>"
			"<CommonPrefixes><Prefix>x/sub/</Prefix></CommonPrefixes><NextContinuationToken>tok/+=</NextContinuationToken>"
			"<Empty/></ListBucketResult>";
		des_buf		t = {0};
		size_t		pos = 0,
					s,
					en;
		int			n = 0;

		CHECK(des_xml_next_text(e, strlen(e), &pos, "Code", &t) && t.len == 9 && memcmp(t.data, "NoSuchKey", 9) == 0, "Code");
		pos = 0;
		CHECK(des_xml_next_text(e, strlen(e), &pos, "Message", &t) && des_buf_putc(&t, 0) &&
			  strcmp((char *) t.data, "The specified key does not exist & never did \xc3\xa9\xf0\x9f\x98\x80") == 0,
			  "Message entities: %s", t.data);
		pos = 0;
		CHECK(des_xml_next_text(e, strlen(e), &pos, "Key", &t) && t.len == 3 && memcmp(t.data, "a<b", 3) == 0, "Key");
		pos = 0;
		CHECK(!des_xml_next_text(e, strlen(e), &pos, "UploadId", &t), "absent element");
		pos = 0;
		while (des_xml_next_element(l, strlen(l), &pos, "Contents", &s, &en))
		{
			size_t		p2 = 0;

			n++;
			CHECK(des_xml_next_text(l + s, en - s, &p2, "Key", &t) && t.len == 7, "contents key");
		}
		CHECK(n == 2, "two Contents (%d)", n);
		pos = 0;
		CHECK(des_xml_next_text(l, strlen(l), &pos, "NextContinuationToken", &t) && t.len == 6, "token");
		pos = 0;
		CHECK(des_xml_next_text(l, strlen(l), &pos, "Empty", &t) && t.len == 0, "empty element");
		/* regression (fuzz_s3xml): an empty element's text had data NULL, and the backend copies it with pnstrdup */
		{
			des_buf		fresh = {0};

			CHECK(des_xml_next_text("<Key/>", 6, &(size_t){0}, "Key", &fresh) && fresh.len == 0 && fresh.data != NULL,
				  "empty element text is an empty string, not NULL");
			des_buf_free(&fresh);
			CHECK(des_xml_next_text("<Key></Key>", 11, &(size_t){0}, "Key", &fresh) && fresh.len == 0 && fresh.data != NULL,
				  "empty text is an empty string, not NULL");
			des_buf_free(&fresh);
		}
		/* regression (fuzz_s3xml): runs of '<' or "</" made every scan quadratic (minutes for 64 kB) */
		{
			size_t		n = 1 << 20;
			char	   *big = malloc(n + 40);
			clock_t		t0 = clock();
			bool		none = true;

			memset(big, '<', n);
			none = none && !des_xml_next_text(big, n, &(size_t){0}, "Code", &t);
			for (size_t i = 0; i + 1 < n; i += 2)
				big[i + 1] = '/';
			memcpy(big, "<Code>x", 7);
			none = none && !des_xml_next_text(big, n, &(size_t){0}, "Code", &t);
			memcpy(big + n, "</Code>", 7);
			CHECK(none && des_xml_next_element(big, n + 7, &(size_t){0}, "Code", &s, &en) && s == 0 && en == n + 7,
				  "1 MiB of '<' and \"</\" scanned");
			CHECK(clock() - t0 < 2 * CLOCKS_PER_SEC, "the scans are linear (%.1f s)", (double) (clock() - t0) / CLOCKS_PER_SEC);
			free(big);
		}
		/* a name stops at '<', and so does an end tag without '>' */
		CHECK(des_xml_next_text("<a<Code>x</Code>", 16, &(size_t){0}, "Code", &t) && t.len == 1 && t.data[0] == 'x' &&
			  des_xml_next_text("<Code>y</Co</Code>", 18, &(size_t){0}, "Code", &t) == false &&
			  des_xml_next_element("<Code>y</Co</Code>", 18, &(size_t){0}, "Code", &s, &en) && en == 18,
			  "'<' ends names");
		/* numeric character references are digits only (strtoul took signs, spaces and 0x) */
		CHECK(des_xml_next_text("<a>&#65;&#x42;&#x1f600;</a>", 27, &(size_t){0}, "a", &t) && t.len == 6 &&
			  memcmp(t.data, "AB\xf0\x9f\x98\x80", 6) == 0, "numeric references");
		{
			static const char *const bad[] = {"<a>&#x0x41;</a>", "<a>&#+65;</a>", "<a>&# 65;</a>", "<a>&#x-41;</a>",
			"<a>&#x;</a>", "<a>&#;</a>", "<a>&#x 41;</a>", "<a>&#6a;</a>", "<a>&#1114112;</a>", "<a>&#xD800;</a>"};

			for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
				CHECK(!des_xml_next_text(bad[i], strlen(bad[i]), &(size_t){0}, "a", &t), "refused: %s", bad[i]);
		}
		pos = 0;
		CHECK(!des_xml_next_text("<a>&bogus;</a>", 14, &pos, "a", &t) &&
			  !des_xml_next_text("<a>&#0;</a>", 11, &(size_t){0}, "a", &t) &&
			  !des_xml_next_text("<a>unterminated", 15, &(size_t){0}, "a", &t), "malformed XML refused");
		des_buf_free(&t);
	}
	printf("sigv4: %d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}
