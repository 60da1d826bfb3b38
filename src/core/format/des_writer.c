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
#include <sys/mman.h>

#define HUGE_PAGE_BYTES ((size_t) 2 * 1024 * 1024)

/* filter: 64-byte blocks (a cache line each), 4 bits set per name, one block per 64 names at most */
#define FILTER_MIN_BITS 5
#define FILTER_NAMES_PER_BLOCK 64
#define TABLE_BATCH 1024		/* names added before they go into the table */
#define PREFETCH_AHEAD 16

struct des_writer
{
	des_sink	sink;
	des_writer_options opt;
	char	   *prefix;			/* copy of external_prefix without trailing '/' */
	uint64_t	data_length;	/* bytes in the DATA region so far */
	des_buf		meta;
	des_buf		index;			/* entries with meta offsets relative to META start */
	uint64_t   *name_pos;		/* per entry: offset of its name_len field in index */
	uint64_t   *name_hash;		/* per entry: des_name_hash of its name */
	uint64_t	name_pos_cap;	/* entries name_pos and name_hash have room for */

	/*
	 * Duplicate names. A probe of a hash table over a million names is a
	 * cache miss per entry, the largest cost of adding a small entry; so
	 * every name goes into a Bloom filter small enough to stay in cache,
	 * and into the table only in batches (entries in_table..entries-1 are
	 * not in it yet), inserted with prefetching. The table is probed only
	 * when the filter says a name may be there already.
	 */
	uint64_t   *table;			/* open addressing: (hash tag << 32) | (entry + 1); 0 = empty */
	uint64_t	table_mask;
	unsigned	table_bits;		/* table_mask + 1 == 1 << table_bits */
	uint64_t	in_table;		/* entries inserted into the table */
	uint64_t   *filter;			/* blocked Bloom filter: 2^filter_bits blocks of 8 words */
	unsigned	filter_bits;
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

/*
 * A zeroed table of 2^bits slots. From 2 MiB on it asks for huge pages: each
 * probe of a large table is a random access, and with 4 KiB pages most were
 * a TLB miss as well as a cache miss.
 */
static uint64_t *
alloc_table(unsigned bits)
{
	size_t		bytes = ((size_t) 1 << bits) * sizeof(uint64_t);
	void	   *p;

	if (bytes < HUGE_PAGE_BYTES)
		return calloc((size_t) 1 << bits, sizeof(uint64_t));
	if (posix_memalign(&p, HUGE_PAGE_BYTES, bytes) != 0)
		return NULL;
#ifdef MADV_HUGEPAGE
	(void) madvise(p, bytes, MADV_HUGEPAGE);	/* advice only: without it the table works as well */
#endif
	memset(p, 0, bytes);
	return p;
}

static void
writer_free(des_writer *w)
{
	free(w->prefix);
	des_buf_free(&w->meta);
	des_buf_free(&w->index);
	des_buf_free(&w->scratch);
	free(w->name_pos);
	free(w->name_hash);
	free(w->table);
	free(w->filter);
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
	w->table_bits = 10;
	w->table_mask = 1023;
	w->table = alloc_table(w->table_bits);
	w->filter_bits = FILTER_MIN_BITS;
	w->filter = alloc_table(w->filter_bits + 3);
	if (w->prefix == NULL || w->table == NULL || w->filter == NULL)
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

/*
 * A name's home slot comes from the top bits of its hash, which its slot
 * value keeps as the tag: growing the table then needs no name (reading
 * every name back was a cache miss per entry), and slots move in order.
 */
static inline uint64_t
home_slot(uint64_t hash, unsigned bits)
{
	return hash >> (64 - bits);
}

static bool
grow_table(des_writer *w, des_error *err)
{
	unsigned	newbits = w->table_bits + 1;
	uint64_t	newmask = (UINT64_C(1) << newbits) - 1;
	uint64_t   *t = alloc_table(newbits);

	if (t == NULL)
		return des_fail(err, DES_E_NOMEM, "out of memory");
	for (uint64_t i = 0; i <= w->table_mask; i++)
	{
		uint64_t	v = w->table[i];
		uint64_t	pos;

		if (v == 0)
			continue;
		/* the tag is the hash's top 32 bits; a larger table needs more of it (kept per entry) */
		if (newbits <= 32)
			pos = (v >> 32) >> (32 - newbits);
		else
			pos = home_slot(w->name_hash[(v & 0xFFFFFFFFULL) - 1], newbits);
		while (t[pos] != 0)
			pos = (pos + 1) & newmask;
		t[pos] = v;
	}
	free(w->table);
	w->table = t;
	w->table_mask = newmask;
	w->table_bits = newbits;
	return true;
}

/*
 * The slot for name: empty, or holding the same name. The stored hash tag
 * spares the name comparison (a cache miss) on most occupied slots.
 */
static uint64_t
find_slot(const des_writer *w, const char *name, size_t len, uint64_t hash)
{
	uint64_t	pos = home_slot(hash, w->table_bits);
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

static inline uint64_t *
filter_block(uint64_t *filter, unsigned bits, uint64_t hash)
{
	/* the block from the hash's low bits; the table's home slot takes its high bits */
	return filter + (hash & ((UINT64_C(1) << bits) - 1)) * 8;
}

/* bit i of the name: word (3 bits) and bit (6 bits) of the block, from hash bits 28..63 */
static inline unsigned
filter_bit(uint64_t hash, int i)
{
	return (unsigned) (hash >> (28 + 9 * i)) & 511;
}

static inline bool
filter_may_hold(const des_writer *w, uint64_t hash)
{
	const uint64_t *b = filter_block(w->filter, w->filter_bits, hash);

	for (int i = 0; i < 4; i++)
	{
		unsigned	k = filter_bit(hash, i);

		if (!(b[k >> 6] & (UINT64_C(1) << (k & 63))))
			return false;
	}
	return true;
}

static inline void
filter_add(uint64_t *filter, unsigned bits, uint64_t hash)
{
	uint64_t   *b = filter_block(filter, bits, hash);

	for (int i = 0; i < 4; i++)
	{
		unsigned	k = filter_bit(hash, i);

		b[k >> 6] |= UINT64_C(1) << (k & 63);
	}
}

/* Room in the filter for one more name: doubled and refilled from name_hash when full. */
static bool
filter_reserve(des_writer *w, des_error *err)
{
	unsigned	bits = w->filter_bits;
	uint64_t   *f;

	if (w->sum.entries + 1 <= (UINT64_C(1) << bits) * FILTER_NAMES_PER_BLOCK)
		return true;
	bits++;
	f = alloc_table(bits + 3);
	if (f == NULL)
		return des_fail(err, DES_E_NOMEM, "out of memory");
	for (uint64_t i = 0; i < w->sum.entries; i++)
		filter_add(f, bits, w->name_hash[i]);
	free(w->filter);
	w->filter = f;
	w->filter_bits = bits;
	return true;
}

/* Insert the entries not in the table yet, fetching slots ahead (their names are known to differ). */
static bool
flush_table(des_writer *w, des_error *err)
{
	uint64_t	n = w->sum.entries;

	while (n * 2 > w->table_mask + 1)
		if (!grow_table(w, err))
			return false;
	for (uint64_t e = w->in_table; e < n; e++)
	{
		uint64_t	pos;

		if (e + PREFETCH_AHEAD < n)
			__builtin_prefetch(&w->table[home_slot(w->name_hash[e + PREFETCH_AHEAD], w->table_bits)], 1);
		pos = home_slot(w->name_hash[e], w->table_bits);
		while (w->table[pos] != 0)
			pos = (pos + 1) & w->table_mask;
		w->table[pos] = slot_value(w->name_hash[e], e);
	}
	w->in_table = n;
	return true;
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

/* n in decimal into out (at least 21 bytes), returning its length: snprintf was a visible share of a small entry's cost */
static size_t
format_u64(uint64_t n, char *out)
{
	char		tmp[20];
	size_t		len = 0;

	do
	{
		tmp[len++] = (char) ('0' + n % 10);
		n /= 10;
	} while (n != 0);
	for (size_t i = 0; i < len; i++)
		out[i] = tmp[len - 1 - i];
	return len;
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

/*
 * Add one entry. alias makes it an entry over the bytes of an earlier one:
 * data is NULL, len the payload's size, and nothing is stored.
 * known_blake2b, when given, is the payload's hash as the caller computed it
 * (required for an alias when hashes are recorded): it is not computed again.
 */
static bool
add_entry(des_writer *w, const char *name, size_t name_len,
		  const void *data, size_t len,
		  const char *meta, size_t meta_len,
		  bool force_external, const unsigned char *expected_blake2b,
		  const des_writer_entry *alias, const unsigned char *known_blake2b, des_error *err)
{
	unsigned char digest[DES_BLAKE2B_BYTES];
	const char *problem;
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
	/* the name's filter block is fetched while the name is checked */
	hash = des_name_hash(name, name_len);
	__builtin_prefetch(filter_block(w->filter, w->filter_bits, hash));
	external = alias == NULL &&
		(force_external || (w->opt.external_threshold > 0 && len >= w->opt.external_threshold));
	problem = (w->opt.names == DES_NAMES_REFERENCE && !external) ?
		des_name_problem_reference(name, name_len) : des_name_problem(name, name_len);
	if (problem != NULL)
		return des_fail(err, DES_E_INVALID_NAME, "entry name \"%.*s\" %s",
						(int) (name_len > 200 ? 200 : name_len), name, problem);
	if (w->sum.entries >= UINT32_MAX - 1)
		return des_fail(err, DES_E_TOO_LARGE, "an archive holds at most %u entries", UINT32_MAX - 1);
	if (filter_may_hold(w, hash))
	{
		/* perhaps a duplicate (or one of the filter's rare false alarms): ask the table */
		if (!flush_table(w, err))
			return false;
		if (w->table[find_slot(w, name, name_len, hash)] != 0)
			return des_fail(err, DES_E_DUPLICATE_NAME, "entry name \"%.*s\" is already in this archive",
							(int) (name_len > 200 ? 200 : name_len), name);
	}
	else if (w->sum.entries - w->in_table >= TABLE_BATCH && !flush_table(w, err))
		return false;
	/* room for the entry's bookkeeping before anything is stored */
	if (!filter_reserve(w, err))
		return false;
	if (w->sum.entries == w->name_pos_cap)
	{
		uint64_t	ncap = w->name_pos_cap ? w->name_pos_cap * 2 : 1024;
		uint64_t   *np = realloc(w->name_pos, ncap * sizeof(uint64_t));

		if (np == NULL)
			return des_fail(err, DES_E_NOMEM, "out of memory");
		w->name_pos = np;
		np = realloc(w->name_hash, ncap * sizeof(uint64_t));
		if (np == NULL)
			return des_fail(err, DES_E_NOMEM, "out of memory");
		w->name_hash = np;
		w->name_pos_cap = ncap;
	}

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
	if (known_blake2b != NULL)
		memcpy(digest, known_blake2b, DES_BLAKE2B_BYTES);
	else if (alias == NULL && (w->opt.blake2b || expected_blake2b != NULL))
		blake2b(digest, data, NULL, DES_BLAKE2B_BYTES, len, 0);
	if (expected_blake2b != NULL && memcmp(digest, expected_blake2b, DES_BLAKE2B_BYTES) != 0)
	{
		w->meta.len = meta_start;
		return des_fail(err, DES_E_HASH_MISMATCH,
						"payload of entry \"%.*s\" does not have the BLAKE2b-256 it was expected to have",
						(int) (name_len > 200 ? 200 : name_len), name);
	}

	if (alias != NULL)
		compressed = (alias->flags & DES_FLAG_COMPRESSED) != 0;
	else if (w->opt.lz4 && !external && len > 0)
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
		size_t		num_len = format_u64(len, num);

		if (!meta_key(&w->meta, meta_start, "size") || !des_buf_append(&w->meta, num, num_len))
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

	/* payload (an alias stores none: its index entry points at the earlier bytes) */
	if (alias != NULL)
	{
		data_offset = alias->data_offset;
		stored_len = alias->length;
		w->sum.alias_entries++;
	}
	else if (!external)
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
	if (compressed && alias == NULL)
		w->sum.compressed_entries++;

	/* index entry; meta offset is relative until finish */
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
	w->name_hash[w->sum.entries] = hash;
	filter_add(w->filter, w->filter_bits, hash);
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
	return add_entry(w, name, name_len, data, len, meta, meta_len, force_external, NULL, NULL, NULL, err);
}

bool
des_writer_add_verified(des_writer *w, const char *name, size_t name_len,
						const void *data, size_t len,
						const char *meta, size_t meta_len,
						const unsigned char expected_blake2b[DES_BLAKE2B_BYTES], des_error *err)
{
	return add_entry(w, name, name_len, data, len, meta, meta_len, false, expected_blake2b, NULL, NULL, err);
}

bool
des_writer_add_hashed(des_writer *w, const char *name, size_t name_len,
					  const void *data, size_t len,
					  const char *meta, size_t meta_len,
					  const unsigned char blake2b[DES_BLAKE2B_BYTES], des_error *err)
{
	return add_entry(w, name, name_len, data, len, meta, meta_len, false, NULL, NULL, blake2b, err);
}

bool
des_writer_add_alias(des_writer *w, const char *name, size_t name_len,
					 const des_writer_entry *target, uint64_t payload_len,
					 const unsigned char blake2b[DES_BLAKE2B_BYTES],
					 const char *meta, size_t meta_len, des_error *err)
{
	if (w->failed)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "the archive writer failed earlier and must be aborted");
	if (target == NULL || (target->flags & DES_FLAG_EXTERNAL) ||
		(target->flags & ~(uint32_t) DES_FLAG_COMPRESSED) != 0 ||
		target->data_offset < DES_HEADER_SIZE || target->data_offset > DES_HEADER_SIZE + w->data_length ||
		target->length > DES_HEADER_SIZE + w->data_length - target->data_offset)
		return des_fail(err, DES_E_INVALID_ARGUMENT,
						"entry \"%.*s\" can only share the bytes of an entry stored inside this archive",
						(int) (name_len > 200 ? 200 : name_len), name);
	if (!(target->flags & DES_FLAG_COMPRESSED) && payload_len != target->length)
		return des_fail(err, DES_E_INVALID_ARGUMENT,
						"entry \"%.*s\" has %llu bytes, the entry whose bytes it shares %llu",
						(int) (name_len > 200 ? 200 : name_len), name,
						(unsigned long long) payload_len, (unsigned long long) target->length);
	if (w->opt.blake2b && blake2b == NULL)
		return des_fail(err, DES_E_INVALID_ARGUMENT,
						"entry \"%.*s\" needs its payload's BLAKE2b: this archive records one for every entry",
						(int) (name_len > 200 ? 200 : name_len), name);
	return add_entry(w, name, name_len, NULL, (size_t) payload_len, meta, meta_len, false, NULL, target, blake2b, err);
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
