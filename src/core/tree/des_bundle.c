/*
 * des_bundle.c - the bundle header (an immutable commit) and its id.
 *
 *   "DESB" | u8 version 1 | root[32]
 *   | u16 parent_count | parent_count x id[32]
 *   | u8 author_len | author | i64 time_us
 *   | u32 message_len | message
 *   | u16 chunker algorithm | u32 min | u32 avg | u32 max
 *
 * id = lower-case hex of BLAKE2b-256 of these bytes. The root hash pins every
 * directory, file and chunk below it, so the id verifies the whole bundle.
 */
#include "des/tree/des_tree.h"

#include <string.h>

#include "des/common/des_utf8.h"
#include "des/format/des_format.h"

#define BUNDLE_MIN_SIZE (5 + 32 + 2 + 1 + 8 + 4 + 14)	/* with no parent, author or message */

/* UTF-8 validity; controls refused when !allow_controls, NUL always. Offset of the first bad byte or len. */
static size_t
utf8_problem(const char *s, size_t len, bool allow_controls)
{
	const unsigned char *p = (const unsigned char *) s,
			   *end;

	if (len == 0)				/* s may be NULL */
		return 0;
	end = p + len;
	while (p < end)
	{
		const unsigned char *at = p;
		uint32_t	cp;

		if (!des_utf8_decode(&p, end, &cp) || cp == 0 || (!allow_controls && (cp < 0x20 || cp == 0x7f)))
			return (size_t) (at - (const unsigned char *) s);
	}
	return len;
}

/* Field rules shared by the encoder (caller input) and the decoder (stored data). */
static bool
check_header(const des_bundle_header *h, des_error_code code, des_error *err)
{
	size_t		bad;

	if (h->parent_count > DES_BUNDLE_MAX_PARENTS)
		return des_fail(err, code, "bundle has %zu parents, more than %d", h->parent_count, DES_BUNDLE_MAX_PARENTS);
	/* a commit never names the same parent twice; n is small, so quadratic is fine */
	for (size_t i = 0; i < h->parent_count; i++)
		for (size_t j = 0; j < i; j++)
			if (memcmp(h->parents + i * DES_TREE_HASH_BYTES, h->parents + j * DES_TREE_HASH_BYTES,
					   DES_TREE_HASH_BYTES) == 0)
				return des_fail(err, code, "bundle parent %zu repeats parent %zu", i, j);
	if (h->author_len == 0 || h->author_len > DES_BUNDLE_MAX_AUTHOR)
		return des_fail(err, code, "bundle author is %zu bytes (1 to %d allowed)", h->author_len,
						DES_BUNDLE_MAX_AUTHOR);
	if ((bad = utf8_problem(h->author, h->author_len, false)) != h->author_len)
		return des_fail(err, code, "bundle author is not valid UTF-8 without control characters at byte %zu", bad);
	if (h->message_len > DES_BUNDLE_MAX_MESSAGE)
		return des_fail(err, code, "bundle message is %zu bytes, more than %u", h->message_len,
						DES_BUNDLE_MAX_MESSAGE);
	if ((bad = utf8_problem(h->message, h->message_len, true)) != h->message_len)
		return des_fail(err, code, "bundle message is not valid UTF-8 without NUL at byte %zu", bad);
	if (h->chunker.algorithm == 0)
		return des_fail(err, code, "bundle chunker algorithm is 0 (versions start at 1)");
	if (h->chunker.min_size == 0 || h->chunker.min_size > h->chunker.avg_size ||
		h->chunker.avg_size > h->chunker.max_size)
		return des_fail(err, code, "bundle chunker sizes %u/%u/%u are not 1 <= min <= avg <= max",
						h->chunker.min_size, h->chunker.avg_size, h->chunker.max_size);
	return true;
}

bool
des_bundle_encode(const des_bundle_header *h, des_buf *out, des_error *err)
{
	unsigned char b[32 + 14];
	size_t		start = out->len;

	if (!check_header(h, DES_E_INVALID_ARGUMENT, err))
		return false;
	memcpy(b, DES_BUNDLE_MAGIC, 4);
	b[4] = DES_TREE_VERSION;
	if (!des_buf_append(out, b, 5) ||
		!des_buf_append(out, h->root, DES_TREE_HASH_BYTES))
		goto nomem;
	des_put_u16(b, (uint16_t) h->parent_count);
	if (!des_buf_append(out, b, 2) ||
		!des_buf_append(out, h->parents, h->parent_count * DES_TREE_HASH_BYTES) ||
		!des_buf_putc(out, (unsigned char) h->author_len) ||
		!des_buf_append(out, h->author, h->author_len))
		goto nomem;
	/* two's complement: times before 1970 are negative */
	des_put_u64(b, (uint64_t) h->time_us);
	des_put_u32(b + 8, (uint32_t) h->message_len);
	if (!des_buf_append(out, b, 12) ||
		!des_buf_append(out, h->message, h->message_len))
		goto nomem;
	des_put_u16(b, h->chunker.algorithm);
	des_put_u32(b + 2, h->chunker.min_size);
	des_put_u32(b + 6, h->chunker.avg_size);
	des_put_u32(b + 10, h->chunker.max_size);
	if (!des_buf_append(out, b, 14))
		goto nomem;
	return true;
nomem:
	out->len = start;
	return des_fail(err, DES_E_NOMEM, "out of memory encoding a bundle header");
}

bool
des_bundle_decode(const unsigned char *data, size_t len, des_bundle_header *h, des_error *err)
{
	size_t		pos = 5;

	memset(h, 0, sizeof(*h));
	if (len < 5 || memcmp(data, DES_BUNDLE_MAGIC, 4) != 0)
		return des_fail(err, DES_E_BAD_MAGIC, "not a bundle header (magic \"DESB\" expected)");
	if (data[4] != DES_TREE_VERSION)
		return des_fail(err, DES_E_UNSUPPORTED, "bundle header version %u (this reader knows 1)", data[4]);
	/*
	 * Each variable part is length-checked against what remains, counting the
	 * fixed fields still to come, so no read passes the end.
	 */
	if (len < BUNDLE_MIN_SIZE)
		goto truncated;
	memcpy(h->root, data + pos, DES_TREE_HASH_BYTES);
	pos += DES_TREE_HASH_BYTES;
	h->parent_count = des_get_u16(data + pos);
	pos += 2;
	if (h->parent_count > DES_BUNDLE_MAX_PARENTS)
		return des_fail(err, DES_E_CORRUPT, "bundle has %zu parents, more than %d", h->parent_count,
						DES_BUNDLE_MAX_PARENTS);
	if (len - pos < h->parent_count * DES_TREE_HASH_BYTES + 1 + 8 + 4 + 14)
		goto truncated;
	h->parents = data + pos;
	pos += h->parent_count * DES_TREE_HASH_BYTES;
	h->author_len = data[pos++];
	if (len - pos < h->author_len + 8 + 4 + 14)
		goto truncated;
	h->author = (const char *) data + pos;
	pos += h->author_len;
	h->time_us = (int64_t) des_get_u64(data + pos);
	pos += 8;
	h->message_len = des_get_u32(data + pos);
	pos += 4;
	if (len - pos < 14 || len - pos - 14 < h->message_len)
		goto truncated;
	h->message = (const char *) data + pos;
	pos += h->message_len;
	h->chunker.algorithm = des_get_u16(data + pos);
	h->chunker.min_size = des_get_u32(data + pos + 2);
	h->chunker.avg_size = des_get_u32(data + pos + 6);
	h->chunker.max_size = des_get_u32(data + pos + 10);
	pos += 14;
	if (pos != len)
		return des_fail(err, DES_E_CORRUPT, "bundle header has %zu bytes after its end", len - pos);
	return check_header(h, DES_E_CORRUPT, err);
truncated:
	return des_fail(err, DES_E_CORRUPT, "bundle header truncated (%zu bytes)", len);
}

void
des_tree_hex(const unsigned char hash[DES_TREE_HASH_BYTES], char out[DES_TREE_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < DES_TREE_HASH_BYTES; i++)
	{
		out[2 * i] = digits[hash[i] >> 4];
		out[2 * i + 1] = digits[hash[i] & 15];
	}
	out[DES_TREE_HEX_LEN] = '\0';
}

static int
lower_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

bool
des_bundle_id_prefix_check(const char *s, size_t len, size_t *bad_offset, des_error *err)
{
	/* ids are spelled in lower case only, so a prefix matches with a plain comparison */
	for (size_t i = 0; i < len && i < DES_TREE_HEX_LEN; i++)
		if (lower_hex(s[i]) < 0)
		{
			if (bad_offset != NULL)
				*bad_offset = i;
			return des_fail(err, DES_E_INVALID_ARGUMENT,
							"id has a character that is not a lower-case hex digit at byte %zu", i);
		}
	if (len < DES_BUNDLE_ID_MIN_PREFIX || len > DES_TREE_HEX_LEN)
	{
		if (bad_offset != NULL)
			*bad_offset = len < DES_BUNDLE_ID_MIN_PREFIX ? len : DES_TREE_HEX_LEN;
		return des_fail(err, DES_E_INVALID_ARGUMENT, "id is %zu hex digits (8 to 64 allowed)", len);
	}
	return true;
}

bool
des_tree_unhex(const char *s, size_t len, unsigned char hash[DES_TREE_HASH_BYTES], des_error *err)
{
	if (len != DES_TREE_HEX_LEN)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "hash is %zu characters, not 64 hex digits", len);
	for (size_t i = 0; i < DES_TREE_HASH_BYTES; i++)
	{
		int			hi = lower_hex(s[2 * i]),
					lo = lower_hex(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return des_fail(err, DES_E_INVALID_ARGUMENT,
							"hash has a character that is not a lower-case hex digit at byte %zu",
							hi < 0 ? 2 * i : 2 * i + 1);
		hash[i] = (unsigned char) (hi << 4 | lo);
	}
	return true;
}

bool
des_bundle_id(const des_bundle_header *h, char id[DES_TREE_HEX_LEN + 1], des_error *err)
{
	des_buf		enc = {0};
	unsigned char hash[DES_TREE_HASH_BYTES];

	if (!des_bundle_encode(h, &enc, err))
	{
		des_buf_free(&enc);
		return false;
	}
	des_tree_hash(enc.data, enc.len, hash);
	des_tree_hex(hash, id);
	des_buf_free(&enc);
	return true;
}
