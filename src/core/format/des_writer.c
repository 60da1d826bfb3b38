/*
 * des_writer.c - streaming DES v1 writer.
 *
 * Output is byte-identical to the reference writer when hashing and
 * compression are off: payloads in insertion order from offset 16, compact
 * ASCII-escaped meta with "size" appended (then "is_external"/"external_key"
 * for external entries), index entries in insertion order, then the footer.
 */
#include "des/format/des_writer.h"
#include "des/format/des_json.h"

#include <blake2.h>
#include <lz4frame.h>
#include <stdio.h>
#include <stdlib.h>

struct des_writer
{
	des_sink	sink;
	des_writer_options opt;
	char	   *prefix;			/* copy of external_prefix without trailing '/' */
	uint64_t	data_length;	/* bytes in the DATA region so far */
	des_buf		meta;
	des_buf		index;			/* entries with meta offsets relative to META start */
	uint64_t   *name_pos;		/* per entry: offset of its name_len field in index */
	uint64_t	name_pos_cap;
	uint64_t   *table;			/* open addressing: (hash tag << 32) | (entry + 1); 0 = empty */
	uint64_t	table_mask;
	des_writer_summary sum;
	des_buf		scratch;		/* compression output, external keys */
	des_writer_entry last;		/* where the last entry added went */
	bool		failed;			/* a sink write failed: only abort is allowed */
};

void
des_writer_options_init(des_writer_options *o)
{
	memset(o, 0, sizeof(*o));
	o->blake2b = true;
	o->lz4 = false;
	o->external_threshold = DES_DEFAULT_EXTERNAL_THRESHOLD;
}

static void
writer_free(des_writer *w)
{
	free(w->prefix);
	des_buf_free(&w->meta);
	des_buf_free(&w->index);
	des_buf_free(&w->scratch);
	free(w->name_pos);
	free(w->table);
	free(w);
}

/* Bytes go straight to the sink: every sink buffers for itself (des_sink). */
static bool
emit(des_writer *w, const void *p, size_t n, des_error *err)
{
	if (n == 0)
		return true;
	if (!w->sink.write(w->sink.ctx, p, n, err))
	{
		w->failed = true;
		return false;
	}
	return true;
}

bool
des_writer_open(const des_sink *sink, const des_writer_options *opt,
				des_writer **out, des_error *err)
{
	des_writer *w = calloc(1, sizeof(*w));
	unsigned char header[DES_HEADER_SIZE] = {0};
	const char *prefix;
	size_t		plen;

	*out = NULL;
	if (w == NULL)
		return des_fail(err, DES_E_NOMEM, "out of memory");
	w->sink = *sink;
	if (opt)
		w->opt = *opt;
	else
		des_writer_options_init(&w->opt);
	prefix = w->opt.external_prefix ? w->opt.external_prefix : "";
	plen = strlen(prefix);
	while (plen > 0 && prefix[plen - 1] == '/')
		plen--;
	if (plen > 0 && des_key_problem(prefix, plen) != NULL)
	{
		des_fail(err, DES_E_INVALID_ARGUMENT, "external prefix \"%s\" %s", prefix,
				 des_key_problem(prefix, plen));
		writer_free(w);
		return false;
	}
	w->prefix = strndup(prefix, plen);
	w->table_mask = 1023;
	w->table = calloc(w->table_mask + 1, sizeof(uint64_t));
	if (w->prefix == NULL || w->table == NULL)
	{
		writer_free(w);
		return des_fail(err, DES_E_NOMEM, "out of memory");
	}
	w->opt.external_prefix = NULL;	/* the caller's string may not outlive us */
	memcpy(header, DES_HEADER_MAGIC, 8);
	header[8] = DES_VERSION;
	if (!emit(w, header, sizeof(header), err))
	{
		w->sink.abort(w->sink.ctx);
		writer_free(w);
		return false;
	}
	*out = w;
	return true;
}

static const char *
entry_name_at(const des_writer *w, uint64_t entry, uint16_t *len)
{
	const unsigned char *p = w->index.data + w->name_pos[entry];

	*len = des_get_u16(p);
	return (const char *) p + 2;
}

static inline uint64_t
slot_value(uint64_t hash, uint64_t entry)
{
	return (hash & 0xFFFFFFFF00000000ULL) | (entry + 1);
}

static bool
grow_table(des_writer *w, des_error *err)
{
	uint64_t	newmask = w->table_mask * 2 + 1;
	uint64_t   *t = calloc(newmask + 1, sizeof(uint64_t));

	if (t == NULL)
		return des_fail(err, DES_E_NOMEM, "out of memory");
	for (uint64_t i = 0; i <= w->table_mask; i++)
	{
		uint64_t	v = w->table[i];
		uint16_t	len;
		const char *nm;
		uint64_t	pos;

		if (v == 0)
			continue;
		nm = entry_name_at(w, (v & 0xFFFFFFFFULL) - 1, &len);
		pos = des_name_hash(nm, len) & newmask;
		while (t[pos] != 0)
			pos = (pos + 1) & newmask;
		t[pos] = v;
	}
	free(w->table);
	w->table = t;
	w->table_mask = newmask;
	return true;
}

/*
 * The slot for name: empty, or holding the same name. The stored hash tag
 * spares the name comparison (a cache miss) on most occupied slots.
 */
static uint64_t
find_slot(const des_writer *w, const char *name, size_t len, uint64_t hash)
{
	uint64_t	pos = hash & w->table_mask;
	uint64_t	tag = hash & 0xFFFFFFFF00000000ULL;

	for (;;)
	{
		uint64_t	v = w->table[pos];
		uint16_t	olen;
		const char *o;

		if (v == 0)
			return pos;
		if ((v & 0xFFFFFFFF00000000ULL) == tag)
		{
			o = entry_name_at(w, (v & 0xFFFFFFFFULL) - 1, &olen);
			if (olen == len && memcmp(o, name, len) == 0)
				return pos;
		}
		pos = (pos + 1) & w->table_mask;
	}
}

static void
hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char hexd[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++)
	{
		out[2 * i] = hexd[in[i] >> 4];
		out[2 * i + 1] = hexd[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Append ,"key": or "key": depending on whether the object already has members. */
static bool
meta_key(des_buf *m, size_t obj_start, const char *key)
{
	if (m->len > obj_start + 1 && !des_buf_putc(m, ','))
		return false;
	return des_buf_putc(m, '"') && des_buf_append(m, key, strlen(key)) &&
		des_buf_append(m, "\":", 2);
}

static bool
compress_lz4(des_writer *w, const void *data, size_t len, des_error *err)
{
	LZ4F_preferences_t prefs;
	size_t		bound;
	size_t		n;

	memset(&prefs, 0, sizeof(prefs));
	prefs.frameInfo.contentSize = len;
	prefs.compressionLevel = w->opt.lz4_level;
	bound = LZ4F_compressFrameBound(len, &prefs);
	w->scratch.len = 0;
	if (!des_buf_reserve(&w->scratch, bound))
		return des_fail(err, DES_E_NOMEM, "out of memory compressing %zu bytes", len);
	n = LZ4F_compressFrame(w->scratch.data, bound, data, len, &prefs);
	if (LZ4F_isError(n))
		return des_fail(err, DES_E_INVALID_ARGUMENT, "LZ4 compression failed: %s", LZ4F_getErrorName(n));
	w->scratch.len = n;
	return true;
}

static bool
add_entry(des_writer *w, const char *name, size_t name_len,
		  const void *data, size_t len,
		  const char *meta, size_t meta_len,
		  bool force_external, const unsigned char *expected_blake2b, des_error *err)
{
	unsigned char digest[DES_BLAKE2B_BYTES];
	const char *problem;
	uint64_t	slot;
	uint64_t	hash;
	size_t		meta_start = w->meta.len;
	size_t		index_start = w->index.len;
	unsigned	keys = 0;
	bool		external;
	bool		compressed = false;
	const void *stored = data;
	size_t		stored_len = len;
	uint64_t	data_offset = 0;
	unsigned char fixed[36];
	char		num[32];

	if (w->failed)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "the archive writer failed earlier and must be aborted");
	external = force_external || (w->opt.external_threshold > 0 && len >= w->opt.external_threshold);
	problem = (w->opt.names == DES_NAMES_REFERENCE && !external) ?
		des_name_problem_reference(name, name_len) : des_name_problem(name, name_len);
	if (problem != NULL)
		return des_fail(err, DES_E_INVALID_NAME, "entry name \"%.*s\" %s",
						(int) (name_len > 200 ? 200 : name_len), name, problem);
	if (w->sum.entries >= UINT32_MAX - 1)
		return des_fail(err, DES_E_TOO_LARGE, "an archive holds at most %u entries", UINT32_MAX - 1);
	if ((w->sum.entries + 1) * 2 > w->table_mask + 1 && !grow_table(w, err))
		return false;
	hash = des_name_hash(name, name_len);
	slot = find_slot(w, name, name_len, hash);
	if (w->table[slot] != 0)
		return des_fail(err, DES_E_DUPLICATE_NAME, "entry name \"%.*s\" is already in this archive",
						(int) (name_len > 200 ? 200 : name_len), name);

	/* meta: caller's object, compacted, with our keys appended */
	if (meta != NULL && meta_len > 0)
	{
		if (!des_json_compact_object(meta, meta_len, &w->meta, &keys, err))
			return false;
		if (keys & (DES_JSON_HAS_IS_EXTERNAL | DES_JSON_HAS_EXTERNAL_KEY |
					DES_JSON_HAS_BLAKE2B | DES_JSON_HAS_COMPRESSION))
		{
			w->meta.len = meta_start;
			return des_fail(err, DES_E_INVALID_META,
							"meta of entry \"%.*s\" uses a reserved key (is_external, external_key, blake2b or compression)",
							(int) (name_len > 200 ? 200 : name_len), name);
		}
		if (keys & DES_JSON_HAS_SIZE)
		{
			bool		found;
			des_json_span v;
			uint64_t	given;

			/* kept as the reference does, but it must be the truth: readers rely on it */
			if (!des_json_find_key((const char *) w->meta.data + meta_start, w->meta.len - meta_start,
								   "size", &found, &v, err) ||
				!des_json_span_uint64(v, &given) || given != len)
			{
				w->meta.len = meta_start;
				return des_fail(err, DES_E_INVALID_META,
								"meta of entry \"%.*s\" has a \"size\" that is not its payload length (%zu)",
								(int) (name_len > 200 ? 200 : name_len), name, len);
			}
		}
		w->meta.len--;			/* drop the closing brace; we append members */
	}
	else if (!des_buf_putc(&w->meta, '{'))
		goto oom;

	/* hashed before anything is stored, so a payload that fails the check leaves no trace */
	if (w->opt.blake2b || expected_blake2b != NULL)
		blake2b(digest, data, NULL, DES_BLAKE2B_BYTES, len, 0);
	if (expected_blake2b != NULL && memcmp(digest, expected_blake2b, DES_BLAKE2B_BYTES) != 0)
	{
		w->meta.len = meta_start;
		return des_fail(err, DES_E_HASH_MISMATCH,
						"payload of entry \"%.*s\" does not have the BLAKE2b-256 it was expected to have",
						(int) (name_len > 200 ? 200 : name_len), name);
	}

	if (w->opt.lz4 && !external && len > 0)
	{
		if (!compress_lz4(w, data, len, err))
		{
			w->meta.len = meta_start;
			return false;
		}
		if (w->scratch.len < len)
		{
			compressed = true;
			stored = w->scratch.data;
			stored_len = w->scratch.len;
		}
	}

	if (!(keys & DES_JSON_HAS_SIZE))
	{
		snprintf(num, sizeof(num), "%llu", (unsigned long long) len);
		if (!meta_key(&w->meta, meta_start, "size") || !des_buf_append(&w->meta, num, strlen(num)))
			goto oom;
	}
	if (external)
	{
		des_buf		key = {0};
		bool		ok;

		if ((!des_buf_append(&key, w->prefix, strlen(w->prefix))) ||
			(w->prefix[0] && !des_buf_putc(&key, '/')) ||
			!des_buf_append(&key, DES_EXTERNAL_FOLDER "/", strlen(DES_EXTERNAL_FOLDER) + 1) ||
			!des_buf_append(&key, name, name_len) || !des_buf_putc(&key, '\0'))
		{
			des_buf_free(&key);
			goto oom;
		}
		ok = meta_key(&w->meta, meta_start, "is_external") && des_buf_append(&w->meta, "true", 4) &&
			meta_key(&w->meta, meta_start, "external_key") &&
			des_json_append_string(&w->meta, (const char *) key.data, key.len - 1);
		if (!ok)
		{
			des_buf_free(&key);
			goto oom;
		}
		if (!w->sink.put_external(w->sink.ctx, (const char *) key.data, data, len, err))
		{
			des_buf_free(&key);
			w->meta.len = meta_start;
			return false;
		}
		des_buf_free(&key);
		w->sum.external_entries++;
	}
	if (compressed)
	{
		if (!meta_key(&w->meta, meta_start, "compression") || !des_buf_append(&w->meta, "\"lz4\"", 5))
			goto oom;
	}
	if (w->opt.blake2b)
	{
		char		hex[2 * DES_BLAKE2B_BYTES + 3];

		hex[0] = '"';
		hex_encode(digest, DES_BLAKE2B_BYTES, hex + 1);
		hex[2 * DES_BLAKE2B_BYTES + 1] = '"';
		if (!meta_key(&w->meta, meta_start, "blake2b") ||
			!des_buf_append(&w->meta, hex, 2 * DES_BLAKE2B_BYTES + 2))
			goto oom;
	}
	if (!des_buf_putc(&w->meta, '}'))
		goto oom;

	/* payload */
	if (!external)
	{
		data_offset = DES_HEADER_SIZE + w->data_length;
		if (!emit(w, stored, stored_len, err))
		{
			w->meta.len = meta_start;
			return false;
		}
		w->data_length += stored_len;
		w->sum.stored_bytes += stored_len;
	}
	if (compressed)
		w->sum.compressed_entries++;

	/* index entry; meta offset is relative until finish */
	if (w->sum.entries == w->name_pos_cap)
	{
		uint64_t	ncap = w->name_pos_cap ? w->name_pos_cap * 2 : 1024;
		uint64_t   *np = realloc(w->name_pos, ncap * sizeof(uint64_t));

		if (np == NULL)
			goto oom;
		w->name_pos = np;
		w->name_pos_cap = ncap;
	}
	des_put_u64(fixed, data_offset);
	des_put_u64(fixed + 8, external ? len : stored_len);
	des_put_u64(fixed + 16, meta_start);
	des_put_u64(fixed + 24, w->meta.len - meta_start);
	des_put_u32(fixed + 32, (external ? DES_FLAG_EXTERNAL : 0) | (compressed ? DES_FLAG_COMPRESSED : 0));
	{
		unsigned char nl[2];

		des_put_u16(nl, (uint16_t) name_len);
		if (!des_buf_append(&w->index, nl, 2) || !des_buf_append(&w->index, name, name_len) ||
			!des_buf_append(&w->index, fixed, sizeof(fixed)))
		{
			w->index.len = index_start;
			goto oom;
		}
	}
	w->name_pos[w->sum.entries] = index_start;
	w->table[slot] = slot_value(hash, w->sum.entries);
	w->last.data_offset = data_offset;
	w->last.length = external ? len : stored_len;
	w->last.flags = (external ? DES_FLAG_EXTERNAL : 0) | (compressed ? DES_FLAG_COMPRESSED : 0);
	w->sum.entries++;
	w->sum.payload_bytes += len;
	return true;

oom:
	w->meta.len = meta_start;
	return des_fail(err, DES_E_NOMEM, "out of memory adding entry \"%.*s\"",
					(int) (name_len > 200 ? 200 : name_len), name);
}

bool
des_writer_add(des_writer *w, const char *name, size_t name_len,
			   const void *data, size_t len,
			   const char *meta, size_t meta_len,
			   bool force_external, des_error *err)
{
	return add_entry(w, name, name_len, data, len, meta, meta_len, force_external, NULL, err);
}

bool
des_writer_add_verified(des_writer *w, const char *name, size_t name_len,
						const void *data, size_t len,
						const char *meta, size_t meta_len,
						const unsigned char expected_blake2b[DES_BLAKE2B_BYTES], des_error *err)
{
	return add_entry(w, name, name_len, data, len, meta, meta_len, false, expected_blake2b, err);
}

void
des_writer_last_entry(const des_writer *w, des_writer_entry *entry)
{
	*entry = w->last;
}

void
des_writer_progress(const des_writer *w, des_writer_summary *summary)
{
	*summary = w->sum;
	summary->archive_bytes = DES_HEADER_SIZE + w->data_length;
}

bool
des_writer_finish(des_writer *w, des_writer_summary *summary, des_error *err)
{
	uint64_t	meta_start = DES_HEADER_SIZE + w->data_length;
	uint64_t	index_start = meta_start + w->meta.len;
	unsigned char footer[DES_FOOTER_SIZE] = {0};

	if (w->failed)
	{
		des_writer_abort(w);
		return des_fail(err, DES_E_INVALID_ARGUMENT, "the archive writer failed earlier");
	}
	/* make meta offsets absolute */
	for (uint64_t i = 0; i < w->sum.entries; i++)
	{
		unsigned char *p = w->index.data + w->name_pos[i];
		unsigned char *mo = p + 2 + des_get_u16(p) + 16;

		des_put_u64(mo, des_get_u64(mo) + meta_start);
	}
	memcpy(footer, DES_FOOTER_MAGIC, 8);
	footer[8] = DES_VERSION;
	des_put_u64(footer + 16, DES_HEADER_SIZE);
	des_put_u64(footer + 24, w->data_length);
	des_put_u64(footer + 32, meta_start);
	des_put_u64(footer + 40, w->meta.len);
	des_put_u64(footer + 48, index_start);
	des_put_u64(footer + 56, w->index.len);
	des_put_u64(footer + 64, w->sum.entries);

	if (!emit(w, w->meta.data, w->meta.len, err) ||
		!emit(w, w->index.data, w->index.len, err) ||
		!emit(w, footer, sizeof(footer), err) ||
		!w->sink.commit(w->sink.ctx, err))
	{
		des_writer_abort(w);
		return false;
	}
	if (summary)
	{
		*summary = w->sum;
		summary->archive_bytes = index_start + w->index.len + DES_FOOTER_SIZE;
	}
	writer_free(w);
	return true;
}

void
des_writer_abort(des_writer *w)
{
	if (w == NULL)
		return;
	w->sink.abort(w->sink.ctx);
	writer_free(w);
}
