/*
 * fuzz_sigv4.c - libFuzzer target for SigV4 canonicalisation.
 *
 * Input: one flags byte, then NUL-separated fields: method, host, path,
 * payload hash, x-amz-date, region, service, access key, secret key, session
 * token, then query (name, value) and header (name, value) pairs; a missing
 * field takes a realistic default. The flags give the number of query
 * parameters and headers and whether a session token is signed.
 *
 * Invariants: des_uri_encode writes only unreserved characters (and '/' when
 * kept) and %XX with upper-case hex, and decodes back to its input; the
 * canonical query string is the same for any order of the parameters and has
 * one name=value per parameter; signing is deterministic, fails only for a
 * malformed x-amz-date, and its canonical request and Authorization value
 * have the shape SigV4 defines (method, encoded path and query on the first
 * lines, one line per signed header, the signed-header list, the payload
 * hash; Credential=key/date/region/service/aws4_request, the same header
 * list, a 64-hex-digit signature).
 */
#include "des/s3/des_sigv4.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) { fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

#define NFIXED 10
#define MAXQ 7
#define MAXH 7

static const char *const defaults[NFIXED] = {
	"GET", "127.0.0.1:59001", "/pgdes-test/data/a.des", DES_EMPTY_SHA256, "20130524T000000Z",
	"us-east-1", "s3", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "token"
};

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;					/* lower-case hex is not what SigV4 wants */
}

static bool
unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		c == '-' || c == '_' || c == '.' || c == '~';
}

static void
check_uri_encode(const char *s, size_t len, bool keep_slash)
{
	des_buf		b = {0};
	size_t		j = 0;

	REQUIRE(des_uri_encode(&b, s, len, keep_slash));
	REQUIRE(b.len >= len && b.len <= 3 * len);
	for (size_t i = 0; i < b.len; i++, j++)
	{
		unsigned char c = b.data[i];

		REQUIRE(j < len);
		if (c == '%')
		{
			int			h,
						l;

			REQUIRE(i + 2 < b.len);
			h = hexval((char) b.data[i + 1]);
			l = hexval((char) b.data[i + 2]);
			REQUIRE(h >= 0 && l >= 0);
			REQUIRE((unsigned char) s[j] == (unsigned) (h * 16 + l));
			/* what may stay is never encoded */
			REQUIRE(!unreserved((unsigned char) s[j]) && !(keep_slash && s[j] == '/'));
			i += 2;
		}
		else
		{
			REQUIRE(unreserved(c) || (keep_slash && c == '/'));
			REQUIRE((unsigned char) s[j] == c);
		}
	}
	REQUIRE(j == len);
	des_buf_free(&b);
}

static void
check_query(const des_kv *q, int n)
{
	des_buf		a = {0},
				b = {0};
	des_kv		rev[MAXQ];
	size_t		parts = 1,
				eqs = 0;

	for (int i = 0; i < n; i++)
		rev[i] = q[n - 1 - i];
	REQUIRE(des_sigv4_query_string(q, n, &a));
	REQUIRE(des_sigv4_query_string(rev, n, &b));
	REQUIRE(a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0));
	if (n == 0)
		REQUIRE(a.len == 0);
	else
	{
		for (size_t i = 0; i < a.len; i++)
		{
			parts += a.data[i] == '&';
			eqs += a.data[i] == '=';
			REQUIRE(a.data[i] == '&' || a.data[i] == '=' || a.data[i] == '%' || unreserved(a.data[i]));
		}
		REQUIRE(parts == (size_t) n && eqs == (size_t) n);
	}
	des_buf_free(&a);
	des_buf_free(&b);
}

static bool
has_newline(const char *s)
{
	return strchr(s, '\n') != NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *buf;
	const char *field[NFIXED + 2 * (MAXQ + MAXH)];
	int			nfields = 0;
	int			nq,
				nh;
	bool		token;
	des_kv		q[MAXQ],
				h[MAXH];
	des_sigv4_request r = {0};
	des_buf		auth1 = {0},
				auth2 = {0},
				canon1 = {0},
				canon2 = {0},
				expect = {0};
	des_error	err;
	bool		ok1,
				ok2;

	if (size < 1)
		return 0;
	nq = data[0] & 7;
	nh = (data[0] >> 3) & 7;
	token = (data[0] & 0x40) != 0;

	/* NUL-separated fields (a final field ends at the end of the input) */
	buf = malloc(size);
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	for (size_t i = 0, start = 0; i < size && nfields < (int) (sizeof(field) / sizeof(field[0])); i++)
		if (buf[i] == '\0')
		{
			field[nfields++] = buf + start;
			start = i + 1;
			if (start >= size - 1)
				break;
		}
	for (int i = nfields; i < (int) (sizeof(field) / sizeof(field[0])); i++)
		field[i] = i < NFIXED ? defaults[i] : (i % 2 == 0 ? "x-amz-meta-k" : "v");
	for (int i = 0; i < nq; i++)
		q[i] = (des_kv) {field[NFIXED + 2 * i], field[NFIXED + 2 * i + 1]};
	for (int i = 0; i < nh; i++)
		h[i] = (des_kv) {field[NFIXED + 2 * MAXQ + 2 * i], field[NFIXED + 2 * MAXQ + 2 * i + 1]};

	r.method = field[0];
	r.host = field[1];
	r.path = field[2];
	r.payload_sha256 = field[3];
	r.amz_date = field[4];
	r.region = field[5];
	r.service = field[6];
	r.access_key = field[7];
	r.secret_key = field[8];
	r.session_token = token ? field[9] : NULL;
	r.query = q;
	r.nquery = nq;
	r.headers = h;
	r.nheaders = nh;

	check_uri_encode(r.path, strlen(r.path), true);
	check_uri_encode(r.path, strlen(r.path), false);
	check_query(q, nq);

	ok1 = des_sigv4_sign(&r, &auth1, &canon1, &err);
	ok2 = des_sigv4_sign(&r, &auth2, NULL, &err);
	REQUIRE(ok1 == ok2);
	REQUIRE(ok1 == (strlen(r.amz_date) == 16));
	if (ok1)
	{
		const char *c = (const char *) canon1.data;
		const char *sh;
		const char *last;
		size_t		shlen;
		int			k = 3 + nh + (token ? 1 : 0);
		bool		names_clean;

		/* deterministic, NUL-terminated */
		REQUIRE(auth1.len == auth2.len && memcmp(auth1.data, auth2.data, auth1.len) == 0);
		REQUIRE(auth1.data[auth1.len] == '\0' && canon1.data[canon1.len] == '\0');
		canon2.len = 0;
		REQUIRE(des_sigv4_sign(&r, &auth2, &canon2, &err));
		REQUIRE(canon1.len == canon2.len && memcmp(canon1.data, canon2.data, canon1.len) == 0);

		/* method, encoded path, query string */
		REQUIRE(des_buf_append(&expect, r.method, strlen(r.method)) && des_buf_putc(&expect, '\n'));
		REQUIRE(des_uri_encode(&expect, r.path, strlen(r.path), true) && des_buf_putc(&expect, '\n'));
		REQUIRE(des_sigv4_query_string(q, nq, &expect) && des_buf_putc(&expect, '\n'));
		REQUIRE(canon1.len > expect.len && memcmp(c, expect.data, expect.len) == 0);

		/* ends with "\n" signed-headers "\n" payload hash */
		REQUIRE(canon1.len >= strlen(r.payload_sha256) &&
				strcmp(c + canon1.len - strlen(r.payload_sha256), r.payload_sha256) == 0);
		/* with a newline in the payload hash or a header name the lines cannot be told apart */
		names_clean = !has_newline(r.payload_sha256);

		for (int i = 0; i < nh; i++)
			names_clean = names_clean && !has_newline(h[i].name);
		if (names_clean)
		{
			last = c + canon1.len - strlen(r.payload_sha256) - 1;
			REQUIRE(*last == '\n');
			sh = last;
			while (sh > c && sh[-1] != '\n')
				sh--;
			shlen = last - sh;
			/* one ';' between each of the k names */
			{
				int			semis = 0;

				for (size_t i = 0; i < shlen; i++)
					semis += sh[i] == ';';
				if (!has_newline(r.method) && !has_newline(r.host) && !has_newline(r.amz_date) &&
					!(token && has_newline(r.session_token)))
				{
					bool		clean = true;
					int			lines = 0;

					for (int i = 0; i < nh; i++)
						clean = clean && !has_newline(h[i].name) && !has_newline(h[i].value) && !strchr(h[i].name, ';');
					if (clean)
					{
						REQUIRE(semis == k - 1);
						for (size_t i = 0; i < canon1.len; i++)
							lines += c[i] == '\n';
						REQUIRE(lines == k + 5);
					}
				}
			}

			/* Authorization: Credential=key/date/region/service/aws4_request,SignedHeaders=...,Signature=hex */
			expect.len = 0;
			REQUIRE(des_buf_append(&expect, "AWS4-HMAC-SHA256 Credential=", 28) &&
					des_buf_append(&expect, r.access_key, strlen(r.access_key)) && des_buf_putc(&expect, '/') &&
					des_buf_append(&expect, r.amz_date, 8) && des_buf_putc(&expect, '/') &&
					des_buf_append(&expect, r.region, strlen(r.region)) && des_buf_putc(&expect, '/') &&
					des_buf_append(&expect, r.service, strlen(r.service)) &&
					des_buf_append(&expect, "/aws4_request,SignedHeaders=", 28) &&
					des_buf_append(&expect, sh, shlen) && des_buf_append(&expect, ",Signature=", 11));
			REQUIRE(auth1.len == expect.len + 64 && memcmp(auth1.data, expect.data, expect.len) == 0);
			for (size_t i = expect.len; i < auth1.len; i++)
				REQUIRE((auth1.data[i] >= '0' && auth1.data[i] <= '9') || (auth1.data[i] >= 'a' && auth1.data[i] <= 'f'));
		}
	}
	des_buf_free(&auth1);
	des_buf_free(&auth2);
	des_buf_free(&canon1);
	des_buf_free(&canon2);
	des_buf_free(&expect);
	free(buf);
	return 0;
}
