/*
 * s3_storage.c - archives on S3: a reader source, a multipart writer sink,
 * external payloads and listings.
 *
 * Sources and sinks are called from the PostgreSQL-free core, so they never
 * throw: S3 failures become des_errors, and an interrupt becomes an error the
 * caller turns into the proper SQLSTATE with CHECK_FOR_INTERRUPTS().
 */
#include "pg_des.h"

#include <errno.h>
#include <stdlib.h>

#include "miscadmin.h"
#include "utils/memutils.h"

#include "des/s3/des_s3xml.h"
#include "s3/s3.h"


/* ---- reader source ---- */

static bool
s3_read_at(void *ctx, uint64_t off, void *buf, size_t len, des_error *err)
{
	uint64		length = len;
	unsigned char *b = buf;

	return DesS3FetchRanges((DesS3Object *) ctx, &off, &length, &b, 1, err);
}

/*
 * Read [offset, offset + len) of an object with one ranged GET, without
 * opening it first (no tail read, no ETag guard: the caller checks what it
 * got, e.g. against a hash). len > 0; buf holds len bytes.
 */
bool
DesS3ReadRange(const DesS3Endpoint *ep, const char *bucket, const char *key, const char *location,
			   uint64 offset, uint64 len, unsigned char *buf, des_error *err)
{
	DesS3Object o;

	/* an object known by its key only: no tail, no ETag */
	memset(&o, 0, sizeof(o));
	o.ep = ep;
	o.bucket = unconstify(char *, bucket);
	o.key = unconstify(char *, key);
	o.location = unconstify(char *, location);
	return DesS3FetchRanges(&o, &offset, &len, &buf, 1, err);
}

/*
 * Read n ranges of o, in parallel. Never throws (the reader source above is
 * called from the PostgreSQL-free core): failures are left in err.
 */
bool
DesS3FetchRanges(DesS3Object *o, const uint64 *offsets, const uint64 *lengths,
				 unsigned char **bufs, int n, des_error *err)
{
	DesS3Transfer *t;
	char	  (*ranges)[64];
	int		   *range_of;		/* transfer -> the range it reads */
	bool		ok = true;
	int			nt = 0;

	t = calloc(Max(n, 1), sizeof(DesS3Transfer));
	ranges = malloc(64 * Max(n, 1));
	range_of = malloc(sizeof(int) * Max(n, 1));
	if (t == NULL || ranges == NULL || range_of == NULL)
	{
		free(t);
		free(ranges);
		free(range_of);
		return des_fail(err, DES_E_NOMEM, "out of memory");
	}
	for (int i = 0; i < n; i++)
	{
		/* bytes the open already brought (in this call) cost no request */
		if (o->tail_fresh && offsets[i] >= o->tail_off && offsets[i] + lengths[i] <= o->tail_off + o->tail_len)
		{
			memcpy(bufs[i], o->tail + (offsets[i] - o->tail_off), lengths[i]);
			continue;
		}
		snprintf(ranges[i], 64, "bytes=%llu-%llu", (unsigned long long) offsets[i],
				 (unsigned long long) (offsets[i] + lengths[i] - 1));
		DesS3TransferInit(&t[nt], DES_S3_GET_RANGE, "GET", o->bucket, o->key);
		t[nt].headers[t[nt].nheaders++] = (des_kv) {"Range", ranges[i]};
		if (o->etag[0])
			t[nt].headers[t[nt].nheaders++] = (des_kv) {"If-Match", o->etag};
		t[nt].into = bufs[i];
		t[nt].into_cap = lengths[i];
		range_of[nt] = i;
		nt++;
	}
	if (nt > 0 && o->ep == NULL)
		ok = des_fail(err, DES_E_IO, "no S3 endpoint for \"%s\"", o->location);
	else if (nt > 0)
		(void) DesS3Perform(o->ep, t, nt, des_s3_max_connections);
	for (int i = 0; i < nt; i++)
	{
		if (ok && !(DesS3Ok(&t[i]) && t[i].received == t[i].into_cap))
		{
			ok = false;
			if (t[i].status == 412)
				des_fail_errno(err, ESTALE, "archive \"%s\" changed while it was being read", o->location);
			else if (t[i].status == 416)
				des_fail(err, DES_E_CORRUPT, "the range at offset %llu (%zu bytes) is past the end of the object",
						 (unsigned long long) offsets[range_of[i]], t[i].into_cap);
			else if (DesS3Ok(&t[i]))
				des_fail(err, DES_E_CORRUPT, "S3 returned %zu bytes for a range of %zu of \"%s\"",
						 t[i].received, t[i].into_cap, o->location);
			else
				DesS3FillError(&t[i], "ranged GET", o->location, err);
		}
		DesS3TransferFree(&t[i]);
	}
	o->requests += nt;
	free(t);
	free(ranges);
	free(range_of);
	return ok;
}

void
DesS3ObjectFree(DesS3Object *o)
{
	if (o == NULL)
		return;
	free(o->tail);
	free(o->bucket);
	free(o->key);
	free(o->location);
	free(o);
}

/*
 * Open an object for reading with one request: a suffix range GET of the
 * last des.s3_tail_read bytes, which also tells the size and ETag and usually
 * covers footer and index. With if_none_match, a 304 leaves *unchanged set
 * and nothing else done.
 */
bool
DesS3ObjectOpen(const DesS3Endpoint *ep, const char *bucket, const char *key, const char *location,
				const char *if_none_match, DesS3Object **out, bool *unchanged, des_error *err)
{
	DesS3Transfer t;
	char		range[64];
	DesS3Object *o;
	bool		ok = false;

	*out = NULL;
	if (unchanged)
		*unchanged = false;
	snprintf(range, sizeof(range), "bytes=-%llu", (unsigned long long) des_s3_tail_read_kb * 1024);
	DesS3TransferInit(&t, DES_S3_GET_RANGE, "GET", bucket, key);
	t.headers[t.nheaders++] = (des_kv) {"Range", range};
	if (if_none_match && if_none_match[0])
		t.headers[t.nheaders++] = (des_kv) {"If-None-Match", if_none_match};
	(void) DesS3Perform(ep, &t, 1, 1);
	if (t.status == 304)
	{
		if (unchanged)
			*unchanged = true;
		DesS3TransferFree(&t);
		return true;
	}
	o = calloc(1, sizeof(DesS3Object));
	if (o == NULL)
	{
		DesS3TransferFree(&t);
		return des_fail(err, DES_E_NOMEM, "out of memory");
	}
	o->bucket = strdup(bucket);
	o->key = strdup(key);
	o->location = strdup(location);
	o->ep = ep;
	if (t.status == 416)
	{
		/* a suffix range of an empty object: nothing to read */
		ok = true;
		o->size = 0;
	}
	else if (DesS3Ok(&t))
	{
		o->tail_len = t.body_out.len;
		o->size = t.status == 206 ? t.total_size : t.body_out.len;
		if (o->tail_len > o->size)
			des_fail(err, DES_E_CORRUPT, "S3 returned more bytes than the object has for \"%s\"", location);
		else
		{
			o->tail_off = o->size - o->tail_len;
			o->tail = (unsigned char *) t.body_out.data;	/* take ownership */
			t.body_out.data = NULL;
			t.body_out.len = t.body_out.cap = 0;
			strlcpy(o->etag, t.etag, sizeof(o->etag));
			o->tail_fresh = true;
			ok = true;
		}
	}
	else
		DesS3FillError(&t, "GET", location, err);
	o->requests = 1;
	DesS3TransferFree(&t);
	if (!ok || !o->bucket || !o->key || !o->location)
	{
		if (ok)
			des_fail(err, DES_E_NOMEM, "out of memory");
		DesS3ObjectFree(o);
		return false;
	}
	*out = o;
	return true;
}

void
DesS3ObjectSource(DesS3Object *o, des_source *src)
{
	src->read_at = s3_read_at;
	src->size = o->size;
	src->ctx = o;
}

bool
DesS3ObjectRevalidate(DesS3Object *o, des_error *err)
{
	DesS3Object *fresh = NULL;
	bool		unchanged = false;

	if (o->tail_fresh)
		return true;
	if (!DesS3ObjectOpen(o->ep, o->bucket, o->key, o->location, o->etag, &fresh, &unchanged, err))
		return false;
	if (!unchanged)
	{
		DesS3ObjectFree(fresh);
		return des_fail_errno(err, ESTALE, "archive \"%s\" changed since its index was read", o->location);
	}
	o->tail_fresh = true;
	o->requests++;
	return true;
}

/*
 * External payloads: key relative to the bucket; one GET of the whole
 * object. The archive is confirmed current first, so a stale cached index
 * never leads to another version's payload.
 */
static bool
s3_external_open(void *ctx, const char *key, des_source *src, des_error *err)
{
	DesS3Object *archive = ctx;
	DesS3Object *o;
	DesS3Transfer t;
	char	   *loc;

	if (!DesS3ObjectRevalidate(archive, err))
		return false;
	o = calloc(1, sizeof(DesS3Object));

	if (o == NULL || (loc = malloc(strlen(archive->bucket) + strlen(key) + 8)) == NULL)
	{
		free(o);
		return des_fail(err, DES_E_NOMEM, "out of memory");
	}
	sprintf(loc, "s3://%s/%s", archive->bucket, key);
	o->location = loc;
	o->bucket = strdup(archive->bucket);
	o->key = strdup(key);
	DesS3TransferInit(&t, DES_S3_GET, "GET", archive->bucket, key);
	(void) DesS3Perform(archive->ep, &t, 1, 1);
	if (!DesS3Ok(&t))
	{
		DesS3FillError(&t, "GET of external payload", loc, err);
		DesS3TransferFree(&t);
		DesS3ObjectFree(o);
		return false;
	}
	o->tail = (unsigned char *) t.body_out.data;
	o->tail_len = o->size = t.body_out.len;
	o->tail_off = 0;
	o->tail_fresh = true;
	t.body_out.data = NULL;
	DesS3TransferFree(&t);
	DesS3ObjectSource(o, src);
	return true;
}

static void
s3_external_close(void *ctx, des_source *src)
{
	DesS3ObjectFree((DesS3Object *) src->ctx);
	src->ctx = NULL;
}

const des_external_resolver *
DesS3Resolver(des_external_resolver *r, DesS3Object *archive)
{
	r->open = s3_external_open;
	r->close = s3_external_close;
	r->ctx = archive;
	return r;
}

/* ---- writer sink: multipart upload ---- */

typedef struct PendingPart
{
	unsigned char *data;
	size_t		len;
	int			number;
} PendingPart;

struct DesS3Sink
{
	const DesS3Endpoint *ep;
	char	   *bucket;
	char	   *key;
	char	   *location;
	size_t		part_size;
	int			parallel;
	unsigned char *part;		/* part being filled */
	size_t		part_len;
	PendingPart *pending;		/* filled parts not yet uploaded */
	int			npending;
	int			next_number;
	char	   *upload_id;		/* multipart upload in progress */
	des_buf		completed;		/* <Part> elements of uploaded parts */
	char	  **externals;		/* keys PUT by this sink: removed on abort */
	int			nexternals;
	bool		committed;
};

static bool
sink_oom(des_error *err)
{
	return des_fail(err, DES_E_NOMEM, "out of memory");
}

static bool
start_multipart(DesS3Sink *s, des_error *err)
{
	DesS3Transfer t;
	des_buf		id = {0};
	size_t		pos = 0;
	bool		ok;

	DesS3TransferInit(&t, DES_S3_MULTIPART_CREATE, "POST", s->bucket, s->key);
	t.query[t.nquery++] = (des_kv) {"uploads", ""};
	t.headers[t.nheaders++] = (des_kv) {"Content-Type", "application/octet-stream"};
	(void) DesS3Perform(s->ep, &t, 1, 1);
	ok = DesS3Ok(&t) &&
		des_xml_next_text((const char *) t.body_out.data, t.body_out.len, &pos, "UploadId", &id) &&
		id.len > 0 && des_buf_putc(&id, '\0');
	if (!ok)
	{
		if (DesS3Ok(&t))
		{
			des_fail(err, DES_E_IO, "S3 did not return an UploadId for \"%s\"", s->location);
			err->sqlstate = ERRCODE_FDW_ERROR;
		}
		else
			DesS3FillError(&t, "starting the multipart upload", s->location, err);
		des_buf_free(&id);
	}
	else
		s->upload_id = (char *) id.data;
	DesS3TransferFree(&t);
	return ok;
}

/* Upload all pending parts, des.s3_upload_parallel at a time. */
static bool
flush_parts(DesS3Sink *s, des_error *err)
{
	DesS3Transfer *t;
	char		(*numbers)[16];
	bool		ok = true;

	if (s->npending == 0)
		return true;
	if (s->upload_id == NULL && !start_multipart(s, err))
		return false;
	t = calloc(s->npending, sizeof(DesS3Transfer));
	numbers = calloc(s->npending, 16);
	if (t == NULL || numbers == NULL)
	{
		free(t);
		free(numbers);
		return sink_oom(err);
	}
	for (int i = 0; i < s->npending; i++)
	{
		snprintf(numbers[i], 16, "%d", s->pending[i].number);
		DesS3TransferInit(&t[i], DES_S3_MULTIPART_UPLOAD, "PUT", s->bucket, s->key);
		t[i].query[t[i].nquery++] = (des_kv) {"partNumber", numbers[i]};
		t[i].query[t[i].nquery++] = (des_kv) {"uploadId", s->upload_id};
		t[i].body = s->pending[i].data;
		t[i].body_len = s->pending[i].len;
	}
	(void) DesS3Perform(s->ep, t, s->npending, s->parallel);
	for (int i = 0; i < s->npending; i++)
	{
		char		line[256];

		if (ok && (!DesS3Ok(&t[i]) || t[i].etag[0] == '\0'))
		{
			if (DesS3Ok(&t[i]))
			{
				des_fail(err, DES_E_IO, "S3 returned no ETag for part %d of \"%s\"", s->pending[i].number, s->location);
				err->sqlstate = ERRCODE_FDW_ERROR;
			}
			else
				DesS3FillError(&t[i], "uploading a part", s->location, err);
			ok = false;
		}
		if (ok)
		{
			snprintf(line, sizeof(line), "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>",
					 s->pending[i].number, t[i].etag);
			if (!des_buf_append(&s->completed, line, strlen(line)))
				ok = sink_oom(err);
		}
		DesS3TransferFree(&t[i]);
		free(s->pending[i].data);
		s->pending[i].data = NULL;
	}
	s->npending = 0;
	free(t);
	free(numbers);
	return ok;
}

/* Move the part being filled to the pending list; upload when enough are pending. */
static bool
seal_part(DesS3Sink *s, des_error *err)
{
	if (s->part_len == 0)
		return true;
	s->pending[s->npending].data = s->part;
	s->pending[s->npending].len = s->part_len;
	s->pending[s->npending].number = ++s->next_number;
	s->npending++;
	s->part = NULL;
	s->part_len = 0;
	if (s->npending == s->parallel)
		return flush_parts(s, err);
	return true;
}

static bool
sink_write(void *ctx, const void *buf, size_t len, des_error *err)
{
	DesS3Sink  *s = ctx;
	const unsigned char *p = buf;

	while (len > 0)
	{
		size_t		n;

		if (s->part == NULL && (s->part = malloc(s->part_size)) == NULL)
			return sink_oom(err);
		n = Min(len, s->part_size - s->part_len);
		memcpy(s->part + s->part_len, p, n);
		s->part_len += n;
		p += n;
		len -= n;
		if (s->part_len == s->part_size && !seal_part(s, err))
			return false;
		if (InterruptPending && (QueryCancelPending || ProcDiePending))
			return des_fail(err, DES_E_IO, "upload of \"%s\" was interrupted", s->location);
	}
	return true;
}

static bool
put_object(const DesS3Endpoint *ep, const char *bucket, const char *key, const char *location,
		   const void *data, size_t len, des_error *err)
{
	DesS3Transfer t;
	bool		ok;

	DesS3TransferInit(&t, DES_S3_PUT, "PUT", bucket, key);
	t.headers[t.nheaders++] = (des_kv) {"Content-Type", "application/octet-stream"};
	t.body = data;
	t.body_len = len;
	(void) DesS3Perform(ep, &t, 1, 1);
	ok = DesS3Ok(&t);
	if (!ok)
		DesS3FillError(&t, "PUT", location, err);
	DesS3TransferFree(&t);
	return ok;
}

static bool
sink_commit(void *ctx, des_error *err)
{
	DesS3Sink  *s = ctx;
	DesS3Transfer t;
	des_buf		body = {0};
	bool		ok;

	if (s->upload_id == NULL && s->npending == 0)
	{
		/* small archive: one PUT, atomic as any S3 PUT */
		ok = put_object(s->ep, s->bucket, s->key, s->location, s->part ? s->part : (unsigned char *) "",
						s->part_len, err);
		s->committed = ok;
		return ok;
	}
	if (!seal_part(s, err) || !flush_parts(s, err))
		return false;
	if (!des_buf_append(&body, "<CompleteMultipartUpload>", 25) ||
		!des_buf_append(&body, s->completed.data, s->completed.len) ||
		!des_buf_append(&body, "</CompleteMultipartUpload>", 26))
	{
		des_buf_free(&body);
		return sink_oom(err);
	}
	DesS3TransferInit(&t, DES_S3_MULTIPART_COMPLETE, "POST", s->bucket, s->key);
	t.query[t.nquery++] = (des_kv) {"uploadId", s->upload_id};
	t.headers[t.nheaders++] = (des_kv) {"Content-Type", "application/xml"};
	t.body = body.data;
	t.body_len = body.len;
	(void) DesS3Perform(s->ep, &t, 1, 1);
	/* S3 may answer 200 with an <Error> body when completion fails late */
	ok = DesS3Ok(&t) && !(t.body_out.len > 0 &&
						  memmem(t.body_out.data, t.body_out.len, "<Error>", 7) != NULL);
	if (!ok)
	{
		if (DesS3Ok(&t))
			t.status = 500;		/* report the embedded error */
		DesS3FillError(&t, "completing the multipart upload", s->location, err);
	}
	else
	{
		free(s->upload_id);
		s->upload_id = NULL;
		s->committed = true;
	}
	DesS3TransferFree(&t);
	des_buf_free(&body);
	return ok;
}

/*
 * Abort the multipart upload. External payloads already PUT are left in
 * place: their keys may also be those of a visible older version of this
 * archive, which must keep its payloads (des.storage_list shows leftovers).
 */
static void
sink_abort(void *ctx)
{
	DesS3Sink  *s = ctx;
	int			n = s->upload_id ? 1 : 0;
	DesS3Transfer *t;
	int			k = 0;

	if (n == 0 || s->committed)
		return;
	t = calloc(n, sizeof(DesS3Transfer));
	if (t == NULL)
		return;
	if (s->upload_id)
	{
		DesS3TransferInit(&t[k], DES_S3_MULTIPART_ABORT, "DELETE", s->bucket, s->key);
		t[k].query[t[k].nquery++] = (des_kv) {"uploadId", s->upload_id};
		k++;
	}
	/* best effort: an abandoned upload is also reclaimed by bucket lifecycle rules */
	(void) DesS3Perform(s->ep, t, n, s->parallel);
	for (int i = 0; i < n; i++)
		DesS3TransferFree(&t[i]);
	free(t);
	free(s->upload_id);
	s->upload_id = NULL;
}

static bool
sink_put_external(void *ctx, const char *key, const void *data, size_t len, des_error *err)
{
	DesS3Sink  *s = ctx;
	char	  **ext = realloc(s->externals, (s->nexternals + 1) * sizeof(char *));
	char	   *loc;
	bool		ok;

	if (ext == NULL)
		return sink_oom(err);
	s->externals = ext;
	if ((s->externals[s->nexternals] = strdup(key)) == NULL)
		return sink_oom(err);
	loc = malloc(strlen(s->bucket) + strlen(key) + 8);
	if (loc == NULL)
		return sink_oom(err);
	sprintf(loc, "s3://%s/%s", s->bucket, key);
	s->nexternals++;
	ok = put_object(s->ep, s->bucket, key, loc, data, len, err);
	free(loc);
	return ok;
}

bool
DesS3SinkOpen(const DesS3Endpoint *ep, const char *bucket, const char *key, const char *location,
			  des_sink *sink, DesS3Sink **out, des_error *err)
{
	DesS3Sink  *s = calloc(1, sizeof(DesS3Sink));

	*out = NULL;
	if (s == NULL)
		return sink_oom(err);
	s->ep = ep;
	s->bucket = strdup(bucket);
	s->key = strdup(key);
	s->location = strdup(location);
	s->part_size = (size_t) Max(des_s3_part_size_mb, 5) * 1024 * 1024;
	s->parallel = Max(des_s3_upload_parallel, 1);
	s->pending = calloc(s->parallel, sizeof(PendingPart));
	if (!s->bucket || !s->key || !s->location || !s->pending)
	{
		DesS3SinkFree(s);
		return sink_oom(err);
	}
	sink->write = sink_write;
	sink->commit = sink_commit;
	sink->abort = sink_abort;
	sink->put_external = sink_put_external;
	sink->ctx = s;
	*out = s;
	return true;
}

void
DesS3SinkFree(DesS3Sink *s)
{
	if (s == NULL)
		return;
	if (!s->committed)
		sink_abort(s);
	for (int i = 0; i < s->npending; i++)
		free(s->pending[i].data);
	for (int i = 0; i < s->nexternals; i++)
		free(s->externals[i]);
	free(s->externals);
	free(s->pending);
	free(s->part);
	free(s->upload_id);
	des_buf_free(&s->completed);
	free(s->bucket);
	free(s->key);
	free(s->location);
	free(s);
}

/* ---- listing ---- */

bool
DesS3List(const DesS3Endpoint *ep, const char *bucket, const char *prefix, const char *delimiter,
		  DesS3ListCallback cb, void *arg, des_error *err)
{
	des_buf		token = {0};
	des_buf		field = {0};
	bool		ok = true;
	bool		more = true;
	char		location[64];
	char		page_size[16];

	snprintf(location, sizeof(location), "s3://%.40s/", bucket);
	snprintf(page_size, sizeof(page_size), "%d", des_s3_list_page_size);
	while (ok && more)
	{
		DesS3Transfer t;
		size_t		pos = 0,
					start,
					end;
		const char *xml;
		size_t		xlen;

		CHECK_FOR_INTERRUPTS();
		DesS3TransferInit(&t, DES_S3_LIST, "GET", bucket, "");
		t.query[t.nquery++] = (des_kv) {"list-type", "2"};
		t.query[t.nquery++] = (des_kv) {"prefix", prefix};
		t.query[t.nquery++] = (des_kv) {"max-keys", page_size};
		if (delimiter && delimiter[0])
			t.query[t.nquery++] = (des_kv) {"delimiter", delimiter};
		if (token.len > 0)
			t.query[t.nquery++] = (des_kv) {"continuation-token", (const char *) token.data};
		(void) DesS3Perform(ep, &t, 1, 1);
		if (!DesS3Ok(&t))
		{
			DesS3FillError(&t, "listing", location, err);
			DesS3TransferFree(&t);
			ok = false;
			break;
		}
		xml = (const char *) t.body_out.data;
		xlen = t.body_out.len;
		while (des_xml_next_element(xml, xlen, &pos, "Contents", &start, &end))
		{
			size_t		p2 = 0;
			char	   *key;
			uint64		size = 0;
			char		etag[DES_S3_TOKEN_CAP] = "";

			if (!des_xml_next_text(xml + start, end - start, &p2, "Key", &field))
				continue;
			key = pnstrdup((const char *) field.data, field.len);
			p2 = 0;
			if (des_xml_next_text(xml + start, end - start, &p2, "Size", &field) && des_buf_putc(&field, 0))
				size = strtoull((const char *) field.data, NULL, 10);
			p2 = 0;
			if (des_xml_next_text(xml + start, end - start, &p2, "ETag", &field))
				snprintf(etag, sizeof(etag), "%.*s", (int) Min(field.len, 128), (const char *) field.data);
			cb(arg, key, size, etag, false);
		}
		pos = 0;
		while (des_xml_next_element(xml, xlen, &pos, "CommonPrefixes", &start, &end))
		{
			size_t		p2 = 0;

			if (des_xml_next_text(xml + start, end - start, &p2, "Prefix", &field))
				cb(arg, pnstrdup((const char *) field.data, field.len), 0, "", true);
		}
		pos = 0;
		more = des_xml_next_text(xml, xlen, &pos, "IsTruncated", &field) &&
			field.len == 4 && memcmp(field.data, "true", 4) == 0;
		pos = 0;
		token.len = 0;
		if (more && !(des_xml_next_text(xml, xlen, &pos, "NextContinuationToken", &field) &&
					  des_buf_append(&token, field.data, field.len) && des_buf_putc(&token, '\0')))
		{
			des_fail(err, DES_E_IO, "S3 listing of \"%s\" is truncated but has no continuation token", location);
			err->sqlstate = ERRCODE_FDW_ERROR;
			ok = false;
		}
		DesS3TransferFree(&t);
	}
	des_buf_free(&token);
	des_buf_free(&field);
	return ok;
}

/* ---- incomplete multipart uploads ---- */

bool
DesS3ListUploads(const DesS3Endpoint *ep, const char *bucket, const char *prefix,
				 DesS3UploadCallback cb, void *arg, des_error *err)
{
	des_buf		key_marker = {0};
	des_buf		id_marker = {0};
	des_buf		field = {0};
	bool		ok = true;
	bool		more = true;
	char		location[64];
	char		page_size[16];

	snprintf(location, sizeof(location), "s3://%.40s/", bucket);
	snprintf(page_size, sizeof(page_size), "%d", Min(des_s3_list_page_size, 1000));
	while (ok && more)
	{
		DesS3Transfer t;
		size_t		pos = 0,
					start,
					end;
		const char *xml;
		size_t		xlen;

		CHECK_FOR_INTERRUPTS();
		DesS3TransferInit(&t, DES_S3_LIST_UPLOADS, "GET", bucket, "");
		t.query[t.nquery++] = (des_kv) {"uploads", ""};
		t.query[t.nquery++] = (des_kv) {"prefix", prefix};
		t.query[t.nquery++] = (des_kv) {"max-uploads", page_size};
		if (key_marker.len > 0)
		{
			t.query[t.nquery++] = (des_kv) {"key-marker", (const char *) key_marker.data};
			if (id_marker.len > 0)
				t.query[t.nquery++] = (des_kv) {"upload-id-marker", (const char *) id_marker.data};
		}
		(void) DesS3Perform(ep, &t, 1, 1);
		if (!DesS3Ok(&t))
		{
			DesS3FillError(&t, "listing the multipart uploads", location, err);
			DesS3TransferFree(&t);
			ok = false;
			break;
		}
		xml = (const char *) t.body_out.data;
		xlen = t.body_out.len;
		while (des_xml_next_element(xml, xlen, &pos, "Upload", &start, &end))
		{
			size_t		p2 = 0;
			char	   *key;
			char	   *id;

			if (!des_xml_next_text(xml + start, end - start, &p2, "Key", &field))
				continue;
			key = pnstrdup((const char *) field.data, field.len);
			p2 = 0;
			if (!des_xml_next_text(xml + start, end - start, &p2, "UploadId", &field) || field.len == 0)
				continue;
			id = pnstrdup((const char *) field.data, field.len);
			p2 = 0;
			if (des_xml_next_text(xml + start, end - start, &p2, "Initiated", &field))
				cb(arg, key, id, pnstrdup((const char *) field.data, field.len));
			else
				cb(arg, key, id, NULL);
		}
		pos = 0;
		more = des_xml_next_text(xml, xlen, &pos, "IsTruncated", &field) &&
			field.len == 4 && memcmp(field.data, "true", 4) == 0;
		if (more)
		{
			key_marker.len = 0;
			id_marker.len = 0;
			pos = 0;
			if (!(des_xml_next_text(xml, xlen, &pos, "NextKeyMarker", &field) && field.len > 0 &&
				  des_buf_append(&key_marker, field.data, field.len) && des_buf_putc(&key_marker, '\0')))
			{
				des_fail(err, DES_E_IO, "S3 listing of the multipart uploads of \"%s\" is truncated but has no NextKeyMarker", location);
				err->sqlstate = ERRCODE_FDW_ERROR;
				ok = false;
			}
			pos = 0;
			if (ok && des_xml_next_text(xml, xlen, &pos, "NextUploadIdMarker", &field) && field.len > 0 &&
				!(des_buf_append(&id_marker, field.data, field.len) && des_buf_putc(&id_marker, '\0')))
			{
				des_fail(err, DES_E_NOMEM, "out of memory listing multipart uploads");
				ok = false;
			}
		}
		DesS3TransferFree(&t);
	}
	des_buf_free(&key_marker);
	des_buf_free(&id_marker);
	des_buf_free(&field);
	return ok;
}

bool
DesS3AbortUpload(const DesS3Endpoint *ep, const char *bucket, const char *key,
				 const char *upload_id, const char *location, des_error *err, bool *found)
{
	DesS3Transfer t;
	bool		ok = true;

	DesS3TransferInit(&t, DES_S3_MULTIPART_ABORT, "DELETE", bucket, key);
	t.query[t.nquery++] = (des_kv) {"uploadId", upload_id};
	(void) DesS3Perform(ep, &t, 1, 1);
	*found = true;
	if (!DesS3Ok(&t))
	{
		des_buf		code = {0};
		size_t		pos = 0;

		if (t.status == 404 &&
			des_xml_next_text((const char *) t.body_out.data, t.body_out.len, &pos, "Code", &code) &&
			code.len == 12 && memcmp(code.data, "NoSuchUpload", 12) == 0)
			*found = false;
		else
		{
			DesS3FillError(&t, "aborting the multipart upload", location, err);
			ok = false;
		}
		des_buf_free(&code);
	}
	DesS3TransferFree(&t);
	return ok;
}
