/*
 * s3_client.c - signed S3 requests over libcurl, from a backend.
 *
 * Rules kept here (see docs/s3.md): libcurl is initialised lazily once per
 * process; callbacks never palloc or ereport (they use malloc'd buffers and
 * report through the transfer struct); CURLOPT_NOSIGNAL is set because
 * PostgreSQL owns SIGALRM; transfers are interrupted within about 100 ms of a
 * cancel, terminate or statement_timeout; retries back off exponentially with
 * jitter on 5xx, 429 and network failures.
 */
#include "s3/s3.h"

#include <curl/curl.h>

#include "common/pg_prng.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/timestamp.h"

#include "des/s3/des_s3xml.h"


const char *const DesS3KindNames[DES_S3_NKINDS] = {
	"get", "get_range", "head", "put", "multipart_create", "multipart_upload_part",
	"multipart_complete", "multipart_abort", "delete", "list", "list_uploads"
};

static bool curl_ready = false;
static CURLM *multi = NULL;

static void
curl_cleanup_at_exit(int code, Datum arg)
{
	if (multi)
		curl_multi_cleanup(multi);
	multi = NULL;
	curl_global_cleanup();
}

void
DesS3Init(void)
{
	curl_version_info_data *v;

	if (curl_ready)
		return;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not initialize libcurl")));
	v = curl_version_info(CURLVERSION_NOW);
	if (v->version_num < 0x075500)	/* 7.85: CURLOPT_PROTOCOLS_STR */
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("libcurl %s is too old; pg_des needs 7.85 or later", v->version)));
	multi = curl_multi_init();
	if (multi == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl multi handle")));
	curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long) des_s3_max_connections);
	on_proc_exit(curl_cleanup_at_exit, (Datum) 0);
	curl_ready = true;
}

void
DesS3TransferInit(DesS3Transfer *t, DesS3Kind kind, const char *method,
				  const char *bucket, const char *key)
{
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->method = method;
	t->bucket = bucket;
	t->key = key ? key : "";
}

static void
release_handle(DesS3Transfer *t)
{
	if (t->easy)
	{
		if (multi)
			curl_multi_remove_handle(multi, (CURL *) t->easy);
		curl_easy_cleanup((CURL *) t->easy);
		t->easy = NULL;
	}
	if (t->headers_list)
	{
		curl_slist_free_all((struct curl_slist *) t->headers_list);
		t->headers_list = NULL;
	}
}

void
DesS3TransferFree(DesS3Transfer *t)
{
	release_handle(t);
	des_buf_free(&t->body_out);
}

/* ---- callbacks: no palloc, no ereport, no CHECK_FOR_INTERRUPTS ---- */

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	DesS3Transfer *t = userdata;
	size_t		n = size * nmemb;

	if (t->into != NULL && t->status >= 200 && t->status < 300)
	{
		if (t->received + n > t->into_cap)
		{
			t->overflow = true;
			return 0;
		}
		memcpy(t->into + t->received, ptr, n);
	}
	else if (!des_buf_append(&t->body_out, ptr, n))
		return 0;
	t->received += n;
	return n;
}

static void
copy_header_value(const char *v, size_t len, char *out, size_t cap)
{
	while (len > 0 && (*v == ' ' || *v == '\t'))
		v++, len--;
	while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
		len--;
	if (len >= cap)
		len = cap - 1;
	memcpy(out, v, len);
	out[len] = '\0';
}

static size_t
header_cb(char *buf, size_t size, size_t nitems, void *userdata)
{
	DesS3Transfer *t = userdata;
	size_t		n = size * nitems;
	char		tmp[64];

	if (n > 5 && strncmp(buf, "HTTP/", 5) == 0)
	{
		/* a new response (after a 100 Continue, or a retry): reset */
		const char *sp = memchr(buf, ' ', n);

		t->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		t->etag[0] = t->request_id[0] = '\0';
		t->received = 0;
		t->body_out.len = 0;
		return n;
	}
	if (n > 5 && pg_strncasecmp(buf, "ETag:", 5) == 0)
		copy_header_value(buf + 5, n - 5, t->etag, sizeof(t->etag));
	else if (n > 17 && pg_strncasecmp(buf, "x-amz-request-id:", 17) == 0)
		copy_header_value(buf + 17, n - 17, t->request_id, sizeof(t->request_id));
	else if (n > 14 && pg_strncasecmp(buf, "Content-Range:", 14) == 0)
	{
		/* "bytes a-b/total" */
		const char *slash;

		copy_header_value(buf + 14, n - 14, tmp, sizeof(tmp));
		slash = strrchr(tmp, '/');
		if (slash && slash[1] != '*')
			t->total_size = strtoull(slash + 1, NULL, 10);
	}
	else if (n > 15 && pg_strncasecmp(buf, "Content-Length:", 15) == 0 && t->kind != DES_S3_GET_RANGE)
	{
		copy_header_value(buf + 15, n - 15, tmp, sizeof(tmp));
		t->total_size = strtoull(tmp, NULL, 10);
	}
	return n;
}

static int
progress_cb(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	/* abort on cancel, terminate or statement_timeout; reported after the transfer */
	return (QueryCancelPending || ProcDiePending) ? 1 : 0;
}

static size_t
read_cb(char *buffer, size_t size, size_t nitems, void *userdata)
{
	DesS3Transfer *t = userdata;
	size_t		n = Min(size * nitems, t->body_len - t->send_pos);

	memcpy(buffer, t->body + t->send_pos, n);
	t->send_pos += n;
	return n;
}

static int
seek_cb(void *userdata, curl_off_t offset, int origin)
{
	DesS3Transfer *t = userdata;

	if (origin != SEEK_SET || offset < 0 || (size_t) offset > t->body_len)
		return CURL_SEEKFUNC_FAIL;
	t->send_pos = (size_t) offset;
	return CURL_SEEKFUNC_OK;
}

/* ---- request construction ---- */

static bool
append_str(des_buf *b, const char *s)
{
	return des_buf_append(b, s, strlen(s));
}

static bool
push_header(struct curl_slist **hl, des_buf *line)
{
	struct curl_slist *nl;

	if (!des_buf_putc(line, '\0'))
		return false;
	nl = curl_slist_append(*hl, (const char *) line->data);
	if (nl == NULL)
		return false;
	*hl = nl;
	return true;
}

/* Build, sign and configure an easy handle for t. Returns false only on OOM. */
static bool
setup_transfer(const DesS3Endpoint *ep, DesS3Transfer *t)
{
	CURL	   *h;
	des_buf		host = {0},
				path = {0},
				url = {0},
				auth = {0},
				line = {0};
	des_sigv4_request req = {0};
	des_error	err;
	char		date[17];
	char		payload_hash[DES_SHA256_HEX_LEN + 1];
	struct curl_slist *hl = NULL;
	bool		ok = true;

	release_handle(t);
	t->status = 0;
	t->received = 0;
	t->overflow = false;
	t->send_pos = 0;
	t->body_out.len = 0;
	t->etag[0] = t->request_id[0] = t->curl_error[0] = '\0';
	t->curl_code = 0;

	/* host and path by addressing style */
	if (ep->path_style || t->bucket == NULL || t->bucket[0] == '\0')
	{
		ok &= append_str(&host, ep->host);
		ok &= des_buf_putc(&path, '/');
		if (t->bucket && t->bucket[0])
		{
			ok &= append_str(&path, t->bucket);
			if (t->key[0] || t->nquery == 0)
				ok &= des_buf_putc(&path, '/');
		}
	}
	else
	{
		ok &= append_str(&host, t->bucket) && des_buf_putc(&host, '.') && append_str(&host, ep->host);
		ok &= des_buf_putc(&path, '/');
	}
	ok &= append_str(&path, t->key) && des_buf_putc(&path, '\0') && des_buf_putc(&host, '\0');
	if (!ok)
		goto oom;

	des_amz_date((long long) time(NULL), date);
	if (t->body_len > 0 && des_s3_sign_payload)
		des_sha256_hex(t->body, t->body_len, payload_hash);
	else if (t->body_len > 0)
		strlcpy(payload_hash, DES_UNSIGNED_PAYLOAD, sizeof(payload_hash));
	else
		strlcpy(payload_hash, DES_EMPTY_SHA256, sizeof(payload_hash));

	req.method = t->method;
	req.host = (const char *) host.data;
	req.path = (const char *) path.data;
	req.query = t->query;
	req.nquery = t->nquery;
	req.headers = NULL;
	req.nheaders = 0;
	req.payload_sha256 = payload_hash;
	req.amz_date = date;
	req.region = ep->region;
	req.service = "s3";
	req.access_key = ep->access_key;
	req.secret_key = ep->secret_key;
	req.session_token = ep->session_token;
	if (!des_sigv4_sign(&req, &auth, NULL, &err))
		goto oom;

	ok = append_str(&url, ep->https ? "https://" : "http://") &&
		append_str(&url, (const char *) host.data) &&
		des_uri_encode(&url, (const char *) path.data, path.len - 1, true);
	if (ok && t->nquery > 0)
		ok = des_buf_putc(&url, '?') && des_sigv4_query_string(t->query, t->nquery, &url);
	ok = ok && des_buf_putc(&url, '\0');
	if (!ok)
		goto oom;

	/* headers: the signed ones, then the caller's unsigned ones (Range, ...) */
#define ADD_HEADER(...) \
	do { \
		line.len = 0; \
		if (!(__VA_ARGS__) || !push_header(&hl, &line)) \
			goto oom; \
	} while (0)
	ADD_HEADER(append_str(&line, "Authorization: ") && des_buf_append(&line, auth.data, auth.len));
	ADD_HEADER(append_str(&line, "x-amz-date: ") && append_str(&line, date));
	ADD_HEADER(append_str(&line, "x-amz-content-sha256: ") && append_str(&line, payload_hash));
	if (ep->session_token)
		ADD_HEADER(append_str(&line, "x-amz-security-token: ") && append_str(&line, ep->session_token));
	for (int i = 0; i < t->nheaders; i++)
		ADD_HEADER(append_str(&line, t->headers[i].name) && append_str(&line, ": ") &&
				   append_str(&line, t->headers[i].value));
	ADD_HEADER(append_str(&line, "Expect:"));	/* no 100-continue round trip */
#undef ADD_HEADER

	h = curl_easy_init();
	if (h == NULL)
		goto oom;
	t->easy = h;
	t->headers_list = hl;
	hl = NULL;
	curl_easy_setopt(h, CURLOPT_URL, (const char *) url.data);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, (struct curl_slist *) t->headers_list);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long) des_s3_connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long) des_s3_low_speed_time_s);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t->curl_error);
	curl_easy_setopt(h, CURLOPT_PRIVATE, t);
	if (strcmp(t->method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else if (strcmp(t->method, "PUT") == 0)
	{
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(h, CURLOPT_READDATA, t);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_cb);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, t);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t) t->body_len);
	}
	else if (strcmp(t->method, "POST") == 0)
	{
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *) t->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) t->body_len);
	}
	else if (strcmp(t->method, "GET") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, t->method);
	t->attempts++;
	des_buf_free(&host);
	des_buf_free(&path);
	des_buf_free(&url);
	des_buf_free(&line);
	if (auth.data)
		memset(auth.data, 0, auth.cap);
	des_buf_free(&auth);
	return true;

oom:
	if (hl)
		curl_slist_free_all(hl);
	des_buf_free(&host);
	des_buf_free(&path);
	des_buf_free(&url);
	des_buf_free(&line);
	des_buf_free(&auth);
	return false;
}

static bool
retryable(const DesS3Transfer *t)
{
	if (t->interrupted || t->overflow)
		return false;
	if (t->status == 0)
	{
		/* network failures are worth retrying; name resolution and TLS set-up are not */
		switch (t->curl_code)
		{
			case CURLE_ABORTED_BY_CALLBACK:
			case CURLE_COULDNT_RESOLVE_HOST:
			case CURLE_SSL_CONNECT_ERROR:
			case CURLE_PEER_FAILED_VERIFICATION:
			case CURLE_SSL_CERTPROBLEM:
			case CURLE_SSL_CIPHER:
			case CURLE_SSL_CACERT_BADFILE:
			case CURLE_UNSUPPORTED_PROTOCOL:
			case CURLE_URL_MALFORMAT:
				return false;
			default:
				return true;
		}
	}
	return t->status == 500 || t->status == 502 || t->status == 503 || t->status == 504 ||
		t->status == 429 || t->status == 408;
}

static long
backoff_ms(int attempt)
{
	long		base = (long) des_s3_retry_base_ms << Min(attempt, 10);
	long		cap = 10000;
	long		b = Min(base, cap);

	/* full jitter in [b/2, b] */
	return b / 2 + (long) (pg_prng_double(&pg_global_prng_state) * (double) (b / 2 + 1));
}

bool
DesS3Perform(const DesS3Endpoint *ep, DesS3Transfer *xfers, int n, int max_parallel)
{
	int			running = 0;
	int			remaining = n;
	bool		interrupted = false;

	DesS3Init();
	if (max_parallel < 1)
		max_parallel = 1;
	curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long) Max(max_parallel, des_s3_max_connections));
	for (int i = 0; i < n; i++)
	{
		xfers[i].done = false;
		xfers[i].attempts = 0;
		xfers[i].retry_at = 0;
	}

	/* nothing in this loop throws: interrupts end it and are reported by the caller */
	while (remaining > 0)
	{
		TimestampTz now = GetCurrentTimestamp();
		long		wait_ms = 100;
		CURLMsg    *msg;
		int			msgs;
		int			still;

		/* start what can start: new transfers, and retries whose time has come */
		for (int i = 0; i < n && running < max_parallel; i++)
		{
			DesS3Transfer *t = &xfers[i];

			if (t->done || t->easy != NULL)
				continue;
			if (t->attempts > 0 && t->retry_at > now)
			{
				wait_ms = Min(wait_ms, (long) ((t->retry_at - now) / 1000) + 1);
				continue;
			}
			if (!setup_transfer(ep, t))
			{
				t->done = true;
				t->status = 0;
				strlcpy(t->curl_error, "out of memory building the request", sizeof(t->curl_error));
				remaining--;
				continue;
			}
			if (t->attempts > 1)
				DesS3StatsRecord(t->kind, 0, 0, true, false);
			curl_multi_add_handle(multi, (CURL *) t->easy);
			running++;
		}
		curl_multi_perform(multi, &still);
		while ((msg = curl_multi_info_read(multi, &msgs)) != NULL)
		{
			DesS3Transfer *t;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &t);
			t->curl_code = (int) msg->data.result;
			if (msg->data.result != CURLE_OK)
			{
				if (!t->overflow)
					t->status = 0;
				if (msg->data.result == CURLE_ABORTED_BY_CALLBACK)
					t->interrupted = true;
			}
			release_handle(t);
			running--;
			if (retryable(t) && t->attempts <= des_s3_max_retries)
			{
				t->retry_at = GetCurrentTimestamp() + backoff_ms(t->attempts) * 1000;
				continue;
			}
			t->done = true;
			remaining--;
			/* 304 and 412 answer conditional requests: expected, not errors */
			DesS3StatsRecord(t->kind, t->received, t->body_len, false,
							 !((t->status >= 200 && t->status < 300) || t->status == 304 || t->status == 412));
			if (t->interrupted)
				interrupted = true;
		}
		if (remaining == 0)
			break;
		if (interrupted || QueryCancelPending || ProcDiePending)
		{
			interrupted = true;
			break;
		}
		if (running > 0)
		{
			pgstat_report_wait_start(PG_WAIT_EXTENSION);
			curl_multi_poll(multi, NULL, 0, (int) wait_ms, NULL);
			pgstat_report_wait_end();
		}
		else
		{
			/* only retries pending: sleep on the latch so signals wake us */
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 wait_ms, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
	for (int i = 0; i < n; i++)
		release_handle(&xfers[i]);
	if (interrupted)
	{
		for (int i = 0; i < n; i++)
			if (!xfers[i].done)
			{
				xfers[i].done = true;
				xfers[i].interrupted = true;
			}
	}
	return !interrupted;
}

/* ---- errors ---- */

typedef struct S3ErrorInfo
{
	int			sqlstate;
	char		code[64];
	char		message[256];
	char		request_id[DES_S3_TOKEN_CAP];
} S3ErrorInfo;

static void
classify(const DesS3Transfer *t, S3ErrorInfo *info)
{
	des_buf		b = {0};
	size_t		pos = 0;

	memset(info, 0, sizeof(*info));
	strlcpy(info->request_id, t->request_id, sizeof(info->request_id));
	if (t->body_out.len > 0)
	{
		if (des_xml_next_text((const char *) t->body_out.data, t->body_out.len, &pos, "Code", &b))
			snprintf(info->code, sizeof(info->code), "%.*s", (int) b.len, (const char *) b.data);
		pos = 0;
		if (des_xml_next_text((const char *) t->body_out.data, t->body_out.len, &pos, "Message", &b))
			snprintf(info->message, sizeof(info->message), "%.*s", (int) b.len, (const char *) b.data);
		pos = 0;
		if (info->request_id[0] == '\0' &&
			des_xml_next_text((const char *) t->body_out.data, t->body_out.len, &pos, "RequestId", &b))
			snprintf(info->request_id, sizeof(info->request_id), "%.*s", (int) b.len, (const char *) b.data);
	}
	des_buf_free(&b);
	if (info->code[0] == '\0' && t->status == 404)
		strlcpy(info->code, t->key[0] ? "NoSuchKey" : "NoSuchBucket", sizeof(info->code));

	if (t->status == 0)
		info->sqlstate = ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION;
	else if (strcmp(info->code, "NoSuchKey") == 0 || strcmp(info->code, "NoSuchBucket") == 0 ||
			 strcmp(info->code, "NoSuchUpload") == 0)
		info->sqlstate = ERRCODE_UNDEFINED_FILE;
	else if (strcmp(info->code, "SignatureDoesNotMatch") == 0 || strcmp(info->code, "InvalidAccessKeyId") == 0 ||
			 strcmp(info->code, "ExpiredToken") == 0 || strcmp(info->code, "InvalidToken") == 0 ||
			 strcmp(info->code, "RequestTimeTooSkewed") == 0)
		info->sqlstate = ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
	else if (strcmp(info->code, "AccessDenied") == 0 || t->status == 403)
		info->sqlstate = ERRCODE_INSUFFICIENT_PRIVILEGE;
	else if (strcmp(info->code, "InvalidRange") == 0)
		info->sqlstate = ERRCODE_DATA_CORRUPTED;
	else
		info->sqlstate = ERRCODE_FDW_ERROR;
}

void
DesS3FillError(const DesS3Transfer *t, const char *what, const char *location, des_error *err)
{
	S3ErrorInfo info;

	classify(t, &info);
	if (t->interrupted)
		des_fail(err, DES_E_IO, "%s of \"%s\" was interrupted", what, location);
	else if (t->overflow)
		des_fail(err, DES_E_CORRUPT, "%s of \"%s\": server sent more bytes than requested", what, location);
	else if (t->status == 0)
		des_fail(err, DES_E_IO, "%s of \"%s\" failed after %d attempt(s): %s", what, location,
				 t->attempts, t->curl_error[0] ? t->curl_error : curl_easy_strerror((CURLcode) t->curl_code));
	else
		des_fail(err, info.code[0] && strcmp(info.code, "NoSuchKey") == 0 ? DES_E_NOT_FOUND : DES_E_IO,
				 "%s of \"%s\" failed: HTTP %ld %s%s%s (request id %s, %d attempt(s))", what, location,
				 t->status, info.code[0] ? info.code : "error", info.message[0] ? ": " : "", info.message,
				 info.request_id[0] ? info.request_id : "none", t->attempts);
	if (!t->overflow)
		err->sqlstate = info.sqlstate;
}

