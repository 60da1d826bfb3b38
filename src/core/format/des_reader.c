/*
 * des_reader.c - DES v1 archive reader: open from the footer, validate, look up.
 *
 * Every number read from the file is checked before it is used as an offset,
 * a length or an allocation size, so a corrupt or hostile archive yields a
 * des_error and never a crash, a hang or an allocation larger than the file.
 */
#include "des/format/des_reader.h"
#include "des/format/des_json.h"

#include <blake2.h>
#include <stdarg.h>
#include <lz4frame.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct hash_slot
{
	uint32_t	entry_plus_one; /* 0 = empty */
	uint32_t	tag;			/* high bits of the name hash */
} hash_slot;

struct des_reader
{
	des_source	src;
	des_reader_limits limits;
	unsigned char header[DES_HEADER_SIZE];
	des_footer	footer;
	unsigned char *index;		/* copy of the INDEX region; names point into it */
	des_entry  *entries;
	uint64_t	count;
	hash_slot  *table;
	uint64_t	table_mask;
	uint64_t	duplicates;
	unsigned char *meta;		/* META region, loaded on demand */
	bool		meta_loaded;
	bool		header_checked;
};

static bool
check_header(des_reader *r, const unsigned char *h, des_error *err)
{
	if (memcmp(h, DES_HEADER_MAGIC, 8) != 0)
		return des_fail(err, DES_E_BAD_MAGIC, "header magic is not \"DESHEAD1\"");
	if (h[8] != DES_VERSION)
		return des_fail(err, DES_E_UNSUPPORTED, "header declares format version %u; only version 1 is supported",
						h[8]);
	memcpy(r->header, h, DES_HEADER_SIZE);
	r->header_checked = true;
	return true;
}

const des_footer *
des_reader_footer(const des_reader *r)
{
	return &r->footer;
}

const unsigned char *
des_reader_header(const des_reader *r)
{
	return r->header_checked ? r->header : NULL;
}

uint64_t
des_reader_size(const des_reader *r)
{
	return r->src.size;
}

const unsigned char *
des_reader_index_bytes(const des_reader *r, uint64_t *len)
{
	*len = r->footer.index_length;
	return r->index;
}

uint64_t
des_reader_count(const des_reader *r)
{
	return r->count;
}

const des_entry *
des_reader_entry(const des_reader *r, uint64_t i)
{
	return &r->entries[i];
}

uint64_t
des_reader_duplicate_count(const des_reader *r)
{
	return r->duplicates;
}

bool
des_reader_read_at(des_reader *r, uint64_t off, void *buf, size_t len, des_error *err)
{
	uint64_t	end;

	if (len == 0)
		return true;
	if (des_add_overflows(off, len, &end) || end > r->src.size)
		return des_fail(err, DES_E_CORRUPT, "read of %zu bytes at offset %llu is past the end of the archive (%llu bytes)",
						len, (unsigned long long) off, (unsigned long long) r->src.size);
	if (!r->src.read_at(r->src.ctx, off, buf, len, err))
		return false;
	if (!r->header_checked && off == 0 && len >= DES_HEADER_SIZE)
		return check_header(r, buf, err);
	return true;
}

/* Check a region lies within [16, size-72]. */
static bool
check_region(const char *what, uint64_t start, uint64_t len, uint64_t limit, des_error *err)
{
	uint64_t	end;

	if (start < DES_HEADER_SIZE || des_add_overflows(start, len, &end) || end > limit)
		return des_fail(err, DES_E_CORRUPT,
						"%s region (start %llu, length %llu) lies outside the archive body [16, %llu)",
						what, (unsigned long long) start, (unsigned long long) len,
						(unsigned long long) limit);
	return true;
}

static bool
parse_footer(const unsigned char *p, des_footer *f, des_error *err)
{
	if (memcmp(p, DES_FOOTER_MAGIC, 8) != 0)
		return des_fail(err, DES_E_BAD_MAGIC, "footer magic is not \"DESFOOT1\": not a DES archive, or truncated");
	f->version = p[8];
	memcpy(f->reserved, p + 9, 7);
	if (f->version != DES_VERSION)
		return des_fail(err, DES_E_UNSUPPORTED, "footer declares format version %u; only version 1 is supported",
						f->version);
	f->data_start = des_get_u64(p + 16);
	f->data_length = des_get_u64(p + 24);
	f->meta_start = des_get_u64(p + 32);
	f->meta_length = des_get_u64(p + 40);
	f->index_start = des_get_u64(p + 48);
	f->index_length = des_get_u64(p + 56);
	f->file_count = des_get_u64(p + 64);
	return true;
}

static bool
build_table(des_reader *r, des_error *err)
{
	uint64_t	cap = 16;

	while (cap < r->count * 2)
		cap <<= 1;
	r->table = calloc(cap, sizeof(hash_slot));
	if (r->table == NULL)
		return des_fail(err, DES_E_NOMEM, "out of memory for the name table of %llu entries",
						(unsigned long long) r->count);
	r->table_mask = cap - 1;
	for (uint64_t i = 0; i < r->count; i++)
	{
		const des_entry *e = &r->entries[i];
		uint64_t	h = des_name_hash(e->name, e->name_len);
		uint32_t	tag = (uint32_t) (h >> 32);
		uint64_t	pos = h & r->table_mask;

		for (;;)
		{
			hash_slot  *s = &r->table[pos];

			if (s->entry_plus_one == 0)
			{
				s->entry_plus_one = (uint32_t) (i + 1);
				s->tag = tag;
				break;
			}
			if (s->tag == tag)
			{
				const des_entry *o = &r->entries[s->entry_plus_one - 1];

				if (o->name_len == e->name_len && memcmp(o->name, e->name, e->name_len) == 0)
				{
					/* the reference reader keeps the last entry of a name */
					s->entry_plus_one = (uint32_t) (i + 1);
					r->duplicates++;
					break;
				}
			}
			pos = (pos + 1) & r->table_mask;
		}
	}
	return true;
}

bool
des_reader_open(const des_source *src, const des_reader_limits *limits,
				des_reader **out, des_error *err)
{
	des_reader *r;
	unsigned char fbuf[DES_FOOTER_SIZE];
	des_footer *f;
	uint64_t	body_end;
	uint64_t	pos;

	*out = NULL;
	if (src->size == 0)
		return des_fail(err, DES_E_CORRUPT, "archive is empty (0 bytes)");
	if (src->size < DES_HEADER_SIZE + DES_FOOTER_SIZE)
		return des_fail(err, DES_E_CORRUPT, "archive is %llu bytes, smaller than header and footer (88 bytes)",
						(unsigned long long) src->size);
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return des_fail(err, DES_E_NOMEM, "out of memory");
	r->src = *src;
	if (limits)
		r->limits = *limits;
	f = &r->footer;

	if (!src->read_at(src->ctx, src->size - DES_FOOTER_SIZE, fbuf, DES_FOOTER_SIZE, err) ||
		!parse_footer(fbuf, f, err))
		goto fail;
	if (!r->limits.defer_header_check)
	{
		unsigned char h[DES_HEADER_SIZE];

		if (!src->read_at(src->ctx, 0, h, DES_HEADER_SIZE, err) || !check_header(r, h, err))
			goto fail;
	}

	body_end = src->size - DES_FOOTER_SIZE;
	if (!check_region("data", f->data_start, f->data_length, body_end, err) ||
		!check_region("meta", f->meta_start, f->meta_length, body_end, err) ||
		!check_region("index", f->index_start, f->index_length, body_end, err))
		goto fail;
	if (f->data_start + f->data_length > f->meta_start ||
		f->meta_start + f->meta_length > f->index_start)
	{
		des_fail(err, DES_E_CORRUPT, "regions overlap or are out of order (data %llu+%llu, meta %llu+%llu, index %llu+%llu)",
				 (unsigned long long) f->data_start, (unsigned long long) f->data_length,
				 (unsigned long long) f->meta_start, (unsigned long long) f->meta_length,
				 (unsigned long long) f->index_start, (unsigned long long) f->index_length);
		goto fail;
	}
	/* Bound the count before allocating anything sized by it. */
	if (f->file_count > f->index_length / DES_ENTRY_FIXED_SIZE || f->file_count > UINT32_MAX - 1)
	{
		des_fail(err, DES_E_CORRUPT, "file_count %llu cannot fit in an index of %llu bytes",
				 (unsigned long long) f->file_count, (unsigned long long) f->index_length);
		goto fail;
	}
	if (r->limits.max_index_bytes && f->index_length > r->limits.max_index_bytes)
	{
		des_fail(err, DES_E_TOO_LARGE, "index of %llu bytes exceeds the limit of %llu bytes",
				 (unsigned long long) f->index_length, (unsigned long long) r->limits.max_index_bytes);
		goto fail;
	}
	r->index = malloc(f->index_length ? f->index_length : 1);
	r->entries = malloc((f->file_count ? f->file_count : 1) * sizeof(des_entry));
	if (r->index == NULL || r->entries == NULL)
	{
		des_fail(err, DES_E_NOMEM, "out of memory reading an index of %llu bytes",
				 (unsigned long long) f->index_length);
		goto fail;
	}
	if (!src->read_at(src->ctx, f->index_start, r->index, f->index_length, err))
		goto fail;

	pos = 0;
	for (uint64_t i = 0; i < f->file_count; i++)
	{
		des_entry  *e = &r->entries[i];
		const unsigned char *p;
		uint64_t	end;

		if (f->index_length - pos < 2)
		{
			des_fail(err, DES_E_CORRUPT, "index ends inside entry %llu of %llu",
					 (unsigned long long) i, (unsigned long long) f->file_count);
			goto fail;
		}
		e->name_len = des_get_u16(r->index + pos);
		if (f->index_length - pos - 2 < (uint64_t) e->name_len + 36)
		{
			des_fail(err, DES_E_CORRUPT, "index ends inside entry %llu of %llu",
					 (unsigned long long) i, (unsigned long long) f->file_count);
			goto fail;
		}
		e->name = (const char *) r->index + pos + 2;
		p = r->index + pos + 2 + e->name_len;
		e->data_offset = des_get_u64(p);
		e->data_length = des_get_u64(p + 8);
		e->meta_offset = des_get_u64(p + 16);
		e->meta_length = des_get_u64(p + 24);
		e->flags = des_get_u32(p + 32);
		pos += 38 + (uint64_t) e->name_len;

		if (des_add_overflows(e->meta_offset, e->meta_length, &end) ||
			e->meta_offset < f->meta_start || end > f->meta_start + f->meta_length)
		{
			des_fail(err, DES_E_CORRUPT, "entry %llu \"%.*s\": meta range %llu+%llu lies outside the meta region",
					 (unsigned long long) i, (int) (e->name_len > 200 ? 200 : e->name_len), e->name,
					 (unsigned long long) e->meta_offset, (unsigned long long) e->meta_length);
			goto fail;
		}
		if (!(e->flags & DES_FLAG_EXTERNAL) &&
			(des_add_overflows(e->data_offset, e->data_length, &end) ||
			 e->data_offset < f->data_start || end > f->data_start + f->data_length))
		{
			des_fail(err, DES_E_CORRUPT, "entry %llu \"%.*s\": data range %llu+%llu lies outside the data region",
					 (unsigned long long) i, (int) (e->name_len > 200 ? 200 : e->name_len), e->name,
					 (unsigned long long) e->data_offset, (unsigned long long) e->data_length);
			goto fail;
		}
	}
	if (pos != f->index_length)
	{
		des_fail(err, DES_E_CORRUPT, "index has %llu bytes left over after file_count (%llu) entries",
				 (unsigned long long) (f->index_length - pos), (unsigned long long) f->file_count);
		goto fail;
	}
	r->count = f->file_count;
	if (!build_table(r, err))
		goto fail;
	*out = r;
	return true;

fail:
	des_reader_close(r);
	return false;
}

void
des_reader_close(des_reader *r)
{
	if (r == NULL)
		return;
	free(r->index);
	free(r->entries);
	free(r->table);
	free(r->meta);
	free(r);
}

int64_t
des_reader_find(const des_reader *r, const char *name, size_t len)
{
	uint64_t	h;
	uint32_t	tag;
	uint64_t	pos;

	if (r->count == 0 || len > DES_MAX_NAME_LEN)
		return -1;
	h = des_name_hash(name, len);
	tag = (uint32_t) (h >> 32);
	pos = h & r->table_mask;
	for (;;)
	{
		const hash_slot *s = &r->table[pos];

		if (s->entry_plus_one == 0)
			return -1;
		if (s->tag == tag)
		{
			const des_entry *e = &r->entries[s->entry_plus_one - 1];

			if (e->name_len == len && memcmp(e->name, name, len) == 0)
				return (int64_t) s->entry_plus_one - 1;
		}
		pos = (pos + 1) & r->table_mask;
	}
}

static bool
load_meta(des_reader *r, des_error *err)
{
	if (r->meta_loaded)
		return true;
	r->meta = malloc(r->footer.meta_length ? r->footer.meta_length : 1);
	if (r->meta == NULL)
		return des_fail(err, DES_E_NOMEM, "out of memory reading a meta region of %llu bytes",
						(unsigned long long) r->footer.meta_length);
	if (!des_reader_read_at(r, r->footer.meta_start, r->meta, r->footer.meta_length, err))
	{
		free(r->meta);
		r->meta = NULL;
		return false;
	}
	r->meta_loaded = true;
	return true;
}

bool
des_reader_meta(des_reader *r, uint64_t i, const char **meta, size_t *len, des_error *err)
{
	const des_entry *e = &r->entries[i];

	if (!load_meta(r, err))
		return false;
	*meta = (const char *) r->meta + (e->meta_offset - r->footer.meta_start);
	*len = e->meta_length;
	return true;
}

static bool
entry_fail(des_error *err, des_error_code code, const des_entry *e, const char *what)
{
	return des_fail(err, code, "entry \"%.*s\": %s",
					(int) (e->name_len > 200 ? 200 : e->name_len), e->name, what);
}

/* Find a top-level key in entry i's meta; a malformed meta is corruption. */
static bool
meta_key(des_reader *r, uint64_t i, const char *key, bool *found, des_json_span *v, des_error *err)
{
	const char *m;
	size_t		mlen;
	des_error	jerr;

	if (!des_reader_meta(r, i, &m, &mlen, err))
		return false;
	if (!des_json_find_key(m, mlen, key, found, v, &jerr))
		return entry_fail(err, DES_E_CORRUPT, &r->entries[i], "meta is not a valid JSON object");
	return true;
}

bool
des_reader_payload_size(des_reader *r, uint64_t i, uint64_t *size, des_error *err)
{
	const des_entry *e = &r->entries[i];
	bool		found;
	des_json_span v;

	if (!(e->flags & DES_FLAG_COMPRESSED))
	{
		*size = e->data_length;
		return true;
	}
	if (!meta_key(r, i, "size", &found, &v, err))
		return false;
	if (!found || !des_json_span_uint64(v, size))
		return entry_fail(err, DES_E_CORRUPT, e, "compressed entry has no valid \"size\" in its meta");
	return true;
}

static bool
check_payload_limit(des_reader *r, const des_entry *e, uint64_t n, des_error *err)
{
	if ((r->limits.max_payload_bytes && n > r->limits.max_payload_bytes) || n > SIZE_MAX / 2)
		return des_fail(err, DES_E_TOO_LARGE, "entry \"%.*s\" is %llu bytes, over the limit of %llu bytes",
						(int) (e->name_len > 200 ? 200 : e->name_len), e->name,
						(unsigned long long) n, (unsigned long long) r->limits.max_payload_bytes);
	return true;
}

static bool
fetch_external(des_reader *r, uint64_t i, const des_read_options *opt, des_buf *out, des_error *err)
{
	const des_entry *e = &r->entries[i];
	bool		found;
	des_json_span v;
	char		key[4096 + 1];
	size_t		klen;
	const char *problem;
	des_source	xs;
	bool		ok;

	if (!meta_key(r, i, "external_key", &found, &v, err))
		return false;
	if (!found || !des_json_span_string(v, key, sizeof(key), &klen))
		return entry_fail(err, DES_E_CORRUPT, e, "external entry has no valid \"external_key\" in its meta");
	if ((problem = des_key_problem(key, klen)) != NULL)
		return des_fail(err, DES_E_CORRUPT, "entry \"%.*s\": external_key \"%s\" %s",
						(int) (e->name_len > 200 ? 200 : e->name_len), e->name, key, problem);
	if (opt == NULL || opt->external == NULL)
		return des_fail(err, DES_E_UNSUPPORTED, "entry \"%.*s\" is external (%s) and no storage is available to fetch it",
						(int) (e->name_len > 200 ? 200 : e->name_len), e->name, key);
	if (!opt->external->open(opt->external->ctx, key, &xs, err))
		return false;
	if (xs.size != e->data_length)
	{
		opt->external->close(opt->external->ctx, &xs);
		return des_fail(err, DES_E_CORRUPT, "external payload \"%s\" of entry \"%.*s\" has %llu bytes; the index says %llu",
						key, (int) (e->name_len > 200 ? 200 : e->name_len), e->name,
						(unsigned long long) xs.size, (unsigned long long) e->data_length);
	}
	out->len = 0;
	if (!des_buf_reserve(out, e->data_length))
	{
		opt->external->close(opt->external->ctx, &xs);
		return des_fail(err, DES_E_NOMEM, "out of memory");
	}
	ok = e->data_length == 0 || xs.read_at(xs.ctx, 0, out->data, e->data_length, err);
	opt->external->close(opt->external->ctx, &xs);
	if (ok)
		out->len = e->data_length;
	return ok;
}

static bool
lz4_decompress(des_reader *r, uint64_t i, const unsigned char *src, size_t srclen,
			   des_buf *out, des_error *err)
{
	const des_entry *e = &r->entries[i];
	LZ4F_dctx  *dctx;
	LZ4F_frameInfo_t info;
	size_t		consumed = srclen;
	size_t		code;
	uint64_t	declared;
	size_t		in_pos;
	size_t		out_pos = 0;

	if (!des_reader_payload_size(r, i, &declared, err) || !check_payload_limit(r, e, declared, err))
		return false;
	if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
		return des_fail(err, DES_E_NOMEM, "cannot create an LZ4 decompression context");
	code = LZ4F_getFrameInfo(dctx, &info, src, &consumed);
	if (LZ4F_isError(code) || info.contentSize != declared)
	{
		LZ4F_freeDecompressionContext(dctx);
		return entry_fail(err, DES_E_CORRUPT, e, "LZ4 frame header is invalid or disagrees with the meta size");
	}
	out->len = 0;
	if (!des_buf_reserve(out, declared ? declared : 1))
	{
		LZ4F_freeDecompressionContext(dctx);
		return des_fail(err, DES_E_NOMEM, "out of memory");
	}
	in_pos = consumed;
	while (in_pos < srclen)
	{
		size_t		in_sz = srclen - in_pos;
		size_t		out_sz = declared - out_pos;

		code = LZ4F_decompress(dctx, out->data + out_pos, &out_sz, src + in_pos, &in_sz, NULL);
		if (LZ4F_isError(code))
		{
			LZ4F_freeDecompressionContext(dctx);
			return entry_fail(err, DES_E_CORRUPT, e, "LZ4 data is corrupt");
		}
		in_pos += in_sz;
		out_pos += out_sz;
		if (code == 0)
			break;
		if (in_sz == 0 && out_sz == 0)
		{
			/* no progress: output full but frame not finished */
			LZ4F_freeDecompressionContext(dctx);
			return entry_fail(err, DES_E_CORRUPT, e, "LZ4 frame decompresses to more than its declared size");
		}
	}
	LZ4F_freeDecompressionContext(dctx);
	if (code != 0 || in_pos != srclen || out_pos != declared)
		return entry_fail(err, DES_E_CORRUPT, e, "LZ4 frame is truncated or has trailing bytes");
	out->len = out_pos;
	return true;
}

bool
des_reader_stored_blake2b(des_reader *r, uint64_t i, char hex[2 * DES_BLAKE2B_BYTES + 1], bool *found,
						  des_error *err)
{
	des_json_span v;

	if (!meta_key(r, i, "blake2b", found, &v, err))
		return false;
	if (!*found)
		return true;
	if (!des_json_span_string(v, hex, 2 * DES_BLAKE2B_BYTES + 1, NULL) || strlen(hex) != 2 * DES_BLAKE2B_BYTES)
		return entry_fail(err, DES_E_CORRUPT, &r->entries[i], "meta \"blake2b\" is not a 64-digit hex string");
	for (int k = 0; k < 2 * DES_BLAKE2B_BYTES; k++)
		if (hex[k] >= 'A' && hex[k] <= 'F')
			hex[k] += 'a' - 'A';
	return true;
}

static bool
check_hash(des_reader *r, uint64_t i, const unsigned char *data, size_t len, bool *had_hash,
		   des_error *err)
{
	const des_entry *e = &r->entries[i];
	char		hex[2 * DES_BLAKE2B_BYTES + 1];
	unsigned char digest[DES_BLAKE2B_BYTES];
	static const char hexd[] = "0123456789abcdef";
	char		got[2 * DES_BLAKE2B_BYTES + 1];

	if (!des_reader_stored_blake2b(r, i, hex, had_hash, err))
		return false;
	if (!*had_hash)
		return true;
	blake2b(digest, data, NULL, DES_BLAKE2B_BYTES, len, 0);
	for (int k = 0; k < DES_BLAKE2B_BYTES; k++)
	{
		got[2 * k] = hexd[digest[k] >> 4];
		got[2 * k + 1] = hexd[digest[k] & 15];
	}
	got[2 * DES_BLAKE2B_BYTES] = '\0';
	if (memcmp(got, hex, 2 * DES_BLAKE2B_BYTES) != 0)
		return des_fail(err, DES_E_HASH_MISMATCH, "entry \"%.*s\": BLAKE2b of payload is %s, meta says %s",
						(int) (e->name_len > 200 ? 200 : e->name_len), e->name, got, hex);
	return true;
}

bool
des_reader_decode(des_reader *r, uint64_t i, const unsigned char *stored,
				  const des_read_options *opt, des_buf *out, des_error *err)
{
	const des_entry *e = &r->entries[i];
	des_buf		raw = {0};
	const unsigned char *src;
	size_t		srclen;

	if (e->flags & DES_FLAG_ENCRYPTED)
		return entry_fail(err, DES_E_UNSUPPORTED, e, "encrypted entries (flag 0x04) are not supported");
	if (!check_payload_limit(r, e, e->data_length, err))
		return false;

	if (e->flags & DES_FLAG_EXTERNAL)
	{
		if (!fetch_external(r, i, opt, (e->flags & DES_FLAG_COMPRESSED) ? &raw : out, err))
		{
			des_buf_free(&raw);
			return false;
		}
		src = (e->flags & DES_FLAG_COMPRESSED) ? raw.data : out->data;
		srclen = (e->flags & DES_FLAG_COMPRESSED) ? raw.len : out->len;
	}
	else
	{
		src = stored;
		srclen = e->data_length;
		if (!(e->flags & DES_FLAG_COMPRESSED))
		{
			out->len = 0;
			if (!des_buf_append(out, stored, srclen))
				return des_fail(err, DES_E_NOMEM, "out of memory");
		}
	}
	if (e->flags & DES_FLAG_COMPRESSED)
	{
		bool		ok = lz4_decompress(r, i, src, srclen, out, err);

		des_buf_free(&raw);
		if (!ok)
			return false;
	}
	if (opt && opt->verify_hash)
	{
		bool		had;

		if (!check_hash(r, i, out->data, out->len, &had, err))
			return false;
	}
	return true;
}

bool
des_reader_get(des_reader *r, uint64_t i, const des_read_options *opt, des_buf *out, des_error *err)
{
	const des_entry *e = &r->entries[i];
	unsigned char *stored = NULL;
	bool		ok;

	if (!(e->flags & DES_FLAG_EXTERNAL) && e->data_length > 0)
	{
		if (!check_payload_limit(r, e, e->data_length, err))
			return false;
		stored = malloc(e->data_length);
		if (stored == NULL)
			return des_fail(err, DES_E_NOMEM, "out of memory");
		if (!des_reader_read_at(r, e->data_offset, stored, e->data_length, err))
		{
			free(stored);
			return false;
		}
	}
	ok = des_reader_decode(r, i, stored, opt, out, err);
	free(stored);
	return ok;
}

typedef struct offset_key
{
	uint64_t	offset;
	uint64_t	length;
	uint64_t	entry;
} offset_key;

static int
cmp_offset_key(const void *a, const void *b)
{
	const offset_key *ka = a;
	const offset_key *kb = b;

	if (ka->offset != kb->offset)
		return ka->offset < kb->offset ? -1 : 1;
	if (ka->length != kb->length)
		return ka->length < kb->length ? -1 : 1;
	return 0;
}

void
des_batch_plan_free(des_batch_plan *plan)
{
	free(plan->entries);
	free(plan->ranges);
	free(plan->direct);
	memset(plan, 0, sizeof(*plan));
}

bool
des_reader_plan_batch(const des_reader *r, const uint64_t *idx, size_t n,
					  uint64_t max_gap, uint64_t max_span,
					  des_batch_plan *plan, des_error *err)
{
	memset(plan, 0, sizeof(*plan));
	plan->entries = malloc((n ? n : 1) * sizeof(uint64_t));
	plan->direct = malloc((n ? n : 1) * sizeof(uint64_t));
	plan->ranges = malloc((n ? n : 1) * sizeof(des_read_range));
	if (!plan->entries || !plan->direct || !plan->ranges)
	{
		des_batch_plan_free(plan);
		return des_fail(err, DES_E_NOMEM, "out of memory planning a batch of %zu reads", n);
	}
	for (size_t k = 0; k < n; k++)
	{
		const des_entry *e = &r->entries[idx[k]];

		if ((e->flags & DES_FLAG_EXTERNAL) || e->data_length == 0)
			plan->direct[plan->ndirect++] = idx[k];
		else
			plan->entries[plan->nentries++] = idx[k];
	}
	if (plan->nentries > 1)
	{
		offset_key *keys = malloc(plan->nentries * sizeof(offset_key));

		if (keys == NULL)
		{
			des_batch_plan_free(plan);
			return des_fail(err, DES_E_NOMEM, "out of memory planning a batch of %zu reads", n);
		}
		for (size_t k = 0; k < plan->nentries; k++)
		{
			const des_entry *e = &r->entries[plan->entries[k]];

			keys[k].offset = e->data_offset;
			keys[k].length = e->data_length;
			keys[k].entry = plan->entries[k];
		}
		qsort(keys, plan->nentries, sizeof(offset_key), cmp_offset_key);
		for (size_t k = 0; k < plan->nentries; k++)
			plan->entries[k] = keys[k].entry;
		free(keys);
	}
	for (size_t k = 0; k < plan->nentries; k++)
	{
		const des_entry *e = &r->entries[plan->entries[k]];
		uint64_t	end = e->data_offset + e->data_length;
		des_read_range *cur = plan->nranges ? &plan->ranges[plan->nranges - 1] : NULL;

		if (cur != NULL)
		{
			uint64_t	cur_end = cur->offset + cur->length;
			uint64_t	new_end = end > cur_end ? end : cur_end;

			if (e->data_offset <= cur_end + max_gap && new_end - cur->offset <= max_span)
			{
				cur->length = new_end - cur->offset;
				cur->count++;
				continue;
			}
		}
		cur = &plan->ranges[plan->nranges++];
		cur->offset = e->data_offset;
		cur->length = e->data_length;
		cur->first = k;
		cur->count = 1;
	}
	return true;
}

/* ---- verification ---- */

typedef struct verify_state
{
	des_verify_report report;
	void	   *ctx;
} verify_state;

static void
vreport(verify_state *vs, const char *check, bool ok, const char *fmt,...)
	__attribute__((format(printf, 4, 5)));

static void
vreport(verify_state *vs, const char *check, bool ok, const char *fmt,...)
{
	char		detail[1024];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	vs->report(vs->ctx, check, ok, detail);
}

void
des_reader_verify(des_reader *r, const des_read_options *opt, des_verify_report report, void *ctx)
{
	verify_state vs = {report, ctx};
	const des_footer *f = &r->footer;
	des_error	err;
	uint64_t	bad_names = 0,
				unsafe_names = 0,
				bad_meta = 0,
				size_mismatch = 0,
				hashed = 0,
				hash_bad = 0,
				read_bad = 0,
				externals = 0,
				compressed = 0,
				unknown_flags = 0;
	char		first_problem[600] = "";
	char		first_hash[600] = "";
	char		first_read[600] = "";
	bool		reserved_zero = true;
	des_buf		payload = {0};
	des_read_options ropt = {false, opt ? opt->external : NULL, NULL};
	uint64_t	checked = 0;

	if (!r->header_checked)
	{
		unsigned char h[DES_HEADER_SIZE];

		if (!des_reader_read_at(r, 0, h, DES_HEADER_SIZE, &err) ||
			(!r->header_checked && !check_header(r, h, &err)))
		{
			vreport(&vs, "header", false, "%s", err.message);
			return;
		}
	}
	for (int k = 9; k < 16; k++)
		reserved_zero &= (r->header[k] == 0);
	for (int k = 0; k < 7; k++)
		reserved_zero &= (f->reserved[k] == 0);
	vreport(&vs, "header", true, "magic DESHEAD1, version 1");
	vreport(&vs, "footer", true, "magic DESFOOT1, version 1, %llu entries",
			(unsigned long long) f->file_count);
	vreport(&vs, "reserved bytes", reserved_zero, reserved_zero ? "all zero" : "header or footer reserved bytes are not zero");
	vreport(&vs, "regions", true, "data %llu+%llu, meta %llu+%llu, index %llu+%llu within %llu bytes",
			(unsigned long long) f->data_start, (unsigned long long) f->data_length,
			(unsigned long long) f->meta_start, (unsigned long long) f->meta_length,
			(unsigned long long) f->index_start, (unsigned long long) f->index_length,
			(unsigned long long) r->src.size);
	vreport(&vs, "index", true, "%llu entries parsed, matching file_count", (unsigned long long) r->count);
	vreport(&vs, "duplicates", r->duplicates == 0,
			r->duplicates == 0 ? "no duplicate names" : "%llu duplicate name(s); lookups return the last entry of a name",
			(unsigned long long) r->duplicates);

	if (!load_meta(r, &err))
	{
		vreport(&vs, "meta", false, "%s", err.message);
		return;
	}
	for (uint64_t i = 0; i < r->count; i++)
	{
		const des_entry *e = &r->entries[i];
		const char *m = (const char *) r->meta + (e->meta_offset - f->meta_start);
		bool		found;
		des_json_span v;
		uint64_t	sz;
		const char *np = des_name_problem_reference(e->name, e->name_len);

		if (opt && opt->interrupted && opt->interrupted())
			break;
		checked++;
		if (np != NULL)
		{
			if (bad_names++ == 0)
				snprintf(first_problem, sizeof(first_problem), "entry %llu name %s",
						 (unsigned long long) i, np);
		}
		else if (des_name_problem(e->name, e->name_len) != NULL)
			unsafe_names++;
		if (e->flags & ~DES_FLAGS_KNOWN)
			unknown_flags++;
		if (e->flags & DES_FLAG_EXTERNAL)
			externals++;
		if (e->flags & DES_FLAG_COMPRESSED)
			compressed++;
		if (!des_json_find_key(m, e->meta_length, "size", &found, &v, &err))
		{
			bad_meta++;
			continue;
		}
		if (!(e->flags & DES_FLAG_COMPRESSED) && (!found || !des_json_span_uint64(v, &sz) || sz != e->data_length))
			size_mismatch++;
		if (!des_reader_get(r, i, &ropt, &payload, &err))
		{
			if (read_bad++ == 0)
				snprintf(first_read, sizeof(first_read), "%s", err.message);
			continue;
		}
		{
			bool		had;

			if (!check_hash(r, i, payload.data, payload.len, &had, &err))
			{
				hash_bad++;
				if (first_hash[0] == '\0')
					snprintf(first_hash, sizeof(first_hash), "%s", err.message);
			}
			else if (had)
				hashed++;
		}
	}
	des_buf_free(&payload);
	if (checked < r->count)
	{
		vreport(&vs, "interrupted", false, "stopped after %llu of %llu entries",
				(unsigned long long) checked, (unsigned long long) r->count);
		return;
	}
	if (bad_names == 0)
		vreport(&vs, "names", true, "all names valid UTF-8; %llu not safe as file paths (\".\", \"..\", control characters or a leading \"/\")",
				(unsigned long long) unsafe_names);
	else
		vreport(&vs, "names", false, "%llu invalid name(s); first: %s",
				(unsigned long long) bad_names, first_problem);
	vreport(&vs, "flags", unknown_flags == 0, "%llu external, %llu compressed, %llu with unknown flag bits",
			(unsigned long long) externals, (unsigned long long) compressed,
			(unsigned long long) unknown_flags);
	vreport(&vs, "meta", bad_meta == 0 && size_mismatch == 0,
			"%llu invalid JSON meta, %llu with a \"size\" different from the data length",
			(unsigned long long) bad_meta, (unsigned long long) size_mismatch);
	vreport(&vs, "payloads", read_bad == 0,
			read_bad == 0 ? "all payloads readable" : "%llu unreadable; first: %s",
			(unsigned long long) read_bad, first_read);
	if (hash_bad == 0)
		vreport(&vs, "hashes", true, "%llu BLAKE2b checked, %llu without a stored hash",
				(unsigned long long) hashed,
				(unsigned long long) (r->count - hashed - read_bad - bad_meta));
	else
		vreport(&vs, "hashes", false, "%llu mismatch(es); first: %s",
				(unsigned long long) hash_bad, first_hash);
}
