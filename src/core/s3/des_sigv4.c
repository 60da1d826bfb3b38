/*
 * des_sigv4.c - AWS Signature Version 4 signing with OpenSSL.
 */
#include "des/s3/des_sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char hexdig[] = "0123456789abcdef";

void
des_sha256_hex(const void *data, size_t len, char out[DES_SHA256_HEX_LEN + 1])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
	{
		out[2 * i] = hexdig[md[i] >> 4];
		out[2 * i + 1] = hexdig[md[i] & 15];
	}
	out[64] = '\0';
}

void
des_amz_date(long long unix_seconds, char out[17])
{
	time_t		t = (time_t) unix_seconds;
	struct tm	tm;

	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

bool
des_uri_encode(des_buf *out, const char *s, size_t len, bool keep_slash)
{
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		/* ASCII only: isalnum() would follow the locale (Latin-1 letters in a LATIN1 database) */
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/'))
		{
			if (!des_buf_putc(out, c))
				return false;
		}
		else
		{
			char		e[3] = {'%', "0123456789ABCDEF"[c >> 4], "0123456789ABCDEF"[c & 15]};

			if (!des_buf_append(out, e, 3))
				return false;
		}
	}
	return true;
}

typedef struct encoded_kv
{
	des_buf		name;
	des_buf		value;
} encoded_kv;

/* Byte order of two buffers; an empty one has data NULL, which memcmp must not see. */
static int
cmp_bufs(const des_buf *x, const des_buf *y)
{
	size_t		n = x->len < y->len ? x->len : y->len;
	int			c = n ? memcmp(x->data, y->data, n) : 0;

	if (c != 0)
		return c;
	return x->len < y->len ? -1 : (x->len > y->len);
}

static int
cmp_encoded(const void *a, const void *b)
{
	const encoded_kv *x = a;
	const encoded_kv *y = b;
	int			c = cmp_bufs(&x->name, &y->name);

	return c != 0 ? c : cmp_bufs(&x->value, &y->value);
}

bool
des_sigv4_query_string(const des_kv *query, int nquery, des_buf *out)
{
	encoded_kv *kv;
	bool		ok = true;

	if (nquery == 0)
		return true;
	kv = calloc(nquery, sizeof(encoded_kv));
	if (kv == NULL)
		return false;
	for (int i = 0; i < nquery && ok; i++)
		ok = des_uri_encode(&kv[i].name, query[i].name, strlen(query[i].name), false) &&
			des_uri_encode(&kv[i].value, query[i].value, strlen(query[i].value), false);
	if (ok)
		qsort(kv, nquery, sizeof(encoded_kv), cmp_encoded);
	for (int i = 0; i < nquery && ok; i++)
		ok = (i == 0 || des_buf_putc(out, '&')) &&
			des_buf_append(out, kv[i].name.data, kv[i].name.len) &&
			des_buf_putc(out, '=') &&
			des_buf_append(out, kv[i].value.data, kv[i].value.len);
	for (int i = 0; i < nquery; i++)
	{
		des_buf_free(&kv[i].name);
		des_buf_free(&kv[i].value);
	}
	free(kv);
	return ok;
}

typedef struct canon_header
{
	char	   *name;			/* lowercase */
	des_buf		value;			/* trimmed, inner runs of spaces collapsed */
} canon_header;

static int
cmp_header(const void *a, const void *b)
{
	return strcmp(((const canon_header *) a)->name, ((const canon_header *) b)->name);
}

static bool
add_header(canon_header *h, const char *name, const char *value)
{
	size_t		n = strlen(name);
	const char *v = value;
	const char *end = value + strlen(value);
	bool		space = false;

	h->name = malloc(n + 1);
	if (h->name == NULL)
		return false;
	for (size_t i = 0; i < n; i++)
		h->name[i] = (name[i] >= 'A' && name[i] <= 'Z') ? name[i] + ('a' - 'A') : name[i];
	h->name[n] = '\0';
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	for (; v < end; v++)
	{
		if (*v == ' ' || *v == '\t')
		{
			space = true;
			continue;
		}
		if (space && !des_buf_putc(&h->value, ' '))
			return false;
		space = false;
		if (!des_buf_putc(&h->value, (unsigned char) *v))
			return false;
	}
	return true;
}

static void
hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen, unsigned char out[32])
{
	unsigned int len = 32;

	HMAC(EVP_sha256(), key, (int) keylen, msg, msglen, out, &len);
}

bool
des_sigv4_sign(const des_sigv4_request *req, des_buf *authorization,
			   des_buf *canonical, des_error *err)
{
	des_buf		creq = {0};
	des_buf		sts = {0};
	des_buf		signed_names = {0};
	int			nh = req->nheaders + 3 + (req->session_token ? 1 : 0);
	canon_header *h = calloc(nh, sizeof(canon_header));
	int			k = 0;
	bool		ok = true;
	char		date[9];
	char		creq_hash[DES_SHA256_HEX_LEN + 1];
	unsigned char key[32],
				sig[32];
	char		sighex[65];
	des_buf		secret = {0};

	if (h == NULL)
		return des_fail(err, DES_E_NOMEM, "out of memory");
	if (strlen(req->amz_date) != 16)
	{
		free(h);
		return des_fail(err, DES_E_INVALID_ARGUMENT, "x-amz-date must be YYYYMMDDTHHMMSSZ");
	}
	memcpy(date, req->amz_date, 8);
	date[8] = '\0';

	ok = add_header(&h[k++], "host", req->host) &&
		add_header(&h[k++], "x-amz-content-sha256", req->payload_sha256) &&
		add_header(&h[k++], "x-amz-date", req->amz_date);
	if (ok && req->session_token)
		ok = add_header(&h[k++], "x-amz-security-token", req->session_token);
	for (int i = 0; ok && i < req->nheaders; i++)
		ok = add_header(&h[k++], req->headers[i].name, req->headers[i].value);
	if (ok)
		qsort(h, k, sizeof(canon_header), cmp_header);

	/* canonical request */
	ok = ok && des_buf_append(&creq, req->method, strlen(req->method)) && des_buf_putc(&creq, '\n') &&
		des_uri_encode(&creq, req->path, strlen(req->path), true) && des_buf_putc(&creq, '\n') &&
		des_sigv4_query_string(req->query, req->nquery, &creq) && des_buf_putc(&creq, '\n');
	for (int i = 0; ok && i < k; i++)
		ok = des_buf_append(&creq, h[i].name, strlen(h[i].name)) && des_buf_putc(&creq, ':') &&
			des_buf_append(&creq, h[i].value.data, h[i].value.len) && des_buf_putc(&creq, '\n');
	for (int i = 0; ok && i < k; i++)
		ok = (i == 0 || des_buf_putc(&signed_names, ';')) &&
			des_buf_append(&signed_names, h[i].name, strlen(h[i].name));
	ok = ok && des_buf_putc(&creq, '\n') &&
		des_buf_append(&creq, signed_names.data, signed_names.len) && des_buf_putc(&creq, '\n') &&
		des_buf_append(&creq, req->payload_sha256, strlen(req->payload_sha256));

	if (ok)
	{
		des_sha256_hex(creq.data, creq.len, creq_hash);
		ok = des_buf_append(&sts, "AWS4-HMAC-SHA256\n", 17) &&
			des_buf_append(&sts, req->amz_date, 16) && des_buf_putc(&sts, '\n') &&
			des_buf_append(&sts, date, 8) && des_buf_putc(&sts, '/') &&
			des_buf_append(&sts, req->region, strlen(req->region)) && des_buf_putc(&sts, '/') &&
			des_buf_append(&sts, req->service, strlen(req->service)) &&
			des_buf_append(&sts, "/aws4_request\n", 14) &&
			des_buf_append(&sts, creq_hash, 64);
	}
	if (ok)
	{
		ok = des_buf_append(&secret, "AWS4", 4) &&
			des_buf_append(&secret, req->secret_key, strlen(req->secret_key));
		if (ok)
		{
			hmac_sha256(secret.data, secret.len, date, 8, key);
			hmac_sha256(key, 32, req->region, strlen(req->region), key);
			hmac_sha256(key, 32, req->service, strlen(req->service), key);
			hmac_sha256(key, 32, "aws4_request", 12, key);
			hmac_sha256(key, 32, sts.data, sts.len, sig);
			for (int i = 0; i < 32; i++)
			{
				sighex[2 * i] = hexdig[sig[i] >> 4];
				sighex[2 * i + 1] = hexdig[sig[i] & 15];
			}
			sighex[64] = '\0';
		}
		/* the secret and derived key must not linger in freed memory */
		if (secret.data)
			OPENSSL_cleanse(secret.data, secret.cap);
		OPENSSL_cleanse(key, sizeof(key));
	}
	if (ok)
	{
		/* the credential scope in full: it must be the one signed above, however long */
		authorization->len = 0;
		ok = des_buf_append(authorization, "AWS4-HMAC-SHA256 Credential=", 28) &&
			des_buf_append(authorization, req->access_key, strlen(req->access_key)) &&
			des_buf_putc(authorization, '/') &&
			des_buf_append(authorization, date, 8) && des_buf_putc(authorization, '/') &&
			des_buf_append(authorization, req->region, strlen(req->region)) && des_buf_putc(authorization, '/') &&
			des_buf_append(authorization, req->service, strlen(req->service)) &&
			des_buf_append(authorization, "/aws4_request", 13) &&
			des_buf_append(authorization, ",SignedHeaders=", 15) &&
			des_buf_append(authorization, signed_names.data, signed_names.len) &&
			des_buf_append(authorization, ",Signature=", 11) &&
			des_buf_append(authorization, sighex, 64) &&
			des_buf_putc(authorization, '\0');
		if (ok)
			authorization->len--;
	}
	if (ok && canonical)
	{
		canonical->len = 0;
		ok = des_buf_append(canonical, creq.data, creq.len) && des_buf_putc(canonical, '\0');
		if (ok)
			canonical->len--;
	}
	for (int i = 0; i < k; i++)
	{
		free(h[i].name);
		des_buf_free(&h[i].value);
	}
	free(h);
	des_buf_free(&creq);
	des_buf_free(&sts);
	des_buf_free(&signed_names);
	des_buf_free(&secret);
	if (!ok)
		return des_fail(err, DES_E_NOMEM, "out of memory signing a request");
	return true;
}
