/*
 * des_tree_file.c - a file's content hash: BLAKE2b-256 of its chunk list.
 *
 *   "DESF" | u8 version 1 | u64 count | count x (id[32] | u32 length)
 *
 * The lengths are in the hash, so the hash fixes the file's size as well as
 * its bytes; the empty file is the list of no chunk.
 */
#include "des/tree/des_tree.h"

#include <blake2.h>
#include <string.h>

#include "des/format/des_format.h"

#define FILE_HEADER_SIZE	13	/* magic, version, count */
#define CHUNK_REF_SIZE		36	/* id, length */

_Static_assert(sizeof(((des_file_hasher *) 0)->state) >= sizeof(blake2b_state),
			   "des_file_hasher too small for a blake2b_state");

static void
header(unsigned char hdr[FILE_HEADER_SIZE], uint64_t count)
{
	memcpy(hdr, DES_TREE_FILE_MAGIC, 4);
	hdr[4] = DES_TREE_VERSION;
	des_put_u64(hdr + 5, count);
}

/* Add one chunk's length to a running size: >= 1 byte, total <= 2^63 - 1. */
static bool
add_length(uint64_t *size, uint64_t i, uint32_t length, des_error_code code, des_error *err)
{
	if (length == 0)
		return des_fail(err, code, "chunk %llu has length 0", (unsigned long long) i);
	if (*size + length > (uint64_t) DES_TREE_MAX_SIZE)
		return des_fail(err, code == DES_E_CORRUPT ? code : DES_E_TOO_LARGE,
						"chunk %llu makes the file larger than 2^63 - 1 bytes", (unsigned long long) i);
	*size += length;
	return true;
}

void
des_file_hasher_init(des_file_hasher *h, uint64_t chunk_count)
{
	unsigned char hdr[FILE_HEADER_SIZE];

	blake2b_init((blake2b_state *) h->state.bytes, DES_TREE_HASH_BYTES);
	header(hdr, chunk_count);
	blake2b_update((blake2b_state *) h->state.bytes, hdr, sizeof(hdr));
	h->expected = chunk_count;
	h->seen = 0;
	h->size = 0;
}

bool
des_file_hasher_add(des_file_hasher *h, const unsigned char id[DES_TREE_HASH_BYTES], uint32_t length,
					des_error *err)
{
	unsigned char rec[CHUNK_REF_SIZE];

	if (h->seen == h->expected)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "more chunks than the %llu announced",
						(unsigned long long) h->expected);
	if (!add_length(&h->size, h->seen, length, DES_E_INVALID_ARGUMENT, err))
		return false;
	memcpy(rec, id, DES_TREE_HASH_BYTES);
	des_put_u32(rec + DES_TREE_HASH_BYTES, length);
	blake2b_update((blake2b_state *) h->state.bytes, rec, sizeof(rec));
	h->seen++;
	return true;
}

bool
des_file_hasher_final(des_file_hasher *h, unsigned char out[DES_TREE_HASH_BYTES], uint64_t *size,
					  des_error *err)
{
	if (h->seen != h->expected)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "%llu chunks given, %llu announced",
						(unsigned long long) h->seen, (unsigned long long) h->expected);
	blake2b_final((blake2b_state *) h->state.bytes, out, DES_TREE_HASH_BYTES);
	if (size != NULL)
		*size = h->size;
	return true;
}

bool
des_file_hash(const des_chunk_ref *chunks, size_t count, unsigned char out[DES_TREE_HASH_BYTES],
			  uint64_t *size, des_error *err)
{
	des_file_hasher h;

	des_file_hasher_init(&h, count);
	for (size_t i = 0; i < count; i++)
		if (!des_file_hasher_add(&h, chunks[i].id, chunks[i].length, err))
			return false;
	return des_file_hasher_final(&h, out, size, err);
}

bool
des_file_encode(const des_chunk_ref *chunks, size_t count, des_buf *out, uint64_t *size, des_error *err)
{
	unsigned char hdr[FILE_HEADER_SIZE];
	size_t		start = out->len;
	uint64_t	total = 0;

	header(hdr, count);
	/* reserved whole, so the appends below cannot fail */
	if (count > (SIZE_MAX - FILE_HEADER_SIZE) / CHUNK_REF_SIZE ||
		!des_buf_reserve(out, FILE_HEADER_SIZE + count * CHUNK_REF_SIZE))
		return des_fail(err, DES_E_NOMEM, "out of memory encoding a list of %zu chunks", count);
	des_buf_append(out, hdr, sizeof(hdr));
	for (size_t i = 0; i < count; i++)
	{
		unsigned char rec[CHUNK_REF_SIZE];

		if (!add_length(&total, i, chunks[i].length, DES_E_INVALID_ARGUMENT, err))
		{
			out->len = start;
			return false;
		}
		memcpy(rec, chunks[i].id, DES_TREE_HASH_BYTES);
		des_put_u32(rec + DES_TREE_HASH_BYTES, chunks[i].length);
		des_buf_append(out, rec, sizeof(rec));
	}
	if (size != NULL)
		*size = total;
	return true;
}

bool
des_file_decode(const unsigned char *data, size_t len, uint64_t *count, uint64_t *size, des_error *err)
{
	uint64_t	n,
				total = 0;

	if (len < 5 || memcmp(data, DES_TREE_FILE_MAGIC, 4) != 0)
		return des_fail(err, DES_E_BAD_MAGIC, "not a chunk-list encoding (magic \"DESF\" expected)");
	if (data[4] != DES_TREE_VERSION)
		return des_fail(err, DES_E_UNSUPPORTED, "chunk-list encoding version %u (this reader knows 1)", data[4]);
	if (len < FILE_HEADER_SIZE)
		return des_fail(err, DES_E_CORRUPT, "chunk-list encoding truncated in its header (%zu bytes)", len);
	n = des_get_u64(data + 5);
	/* the length is exact: no division remainder, no trailing bytes */
	if ((len - FILE_HEADER_SIZE) % CHUNK_REF_SIZE != 0 || n != (len - FILE_HEADER_SIZE) / CHUNK_REF_SIZE)
		return des_fail(err, DES_E_CORRUPT, "chunk list claims %llu chunks but has %zu bytes (%llu expected)",
						(unsigned long long) n, len,
						n <= (SIZE_MAX - FILE_HEADER_SIZE) / CHUNK_REF_SIZE ?
						(unsigned long long) (FILE_HEADER_SIZE + n * CHUNK_REF_SIZE) : 0ULL);
	for (uint64_t i = 0; i < n; i++)
		if (!add_length(&total, i, des_get_u32(data + FILE_HEADER_SIZE + i * CHUNK_REF_SIZE + DES_TREE_HASH_BYTES),
						DES_E_CORRUPT, err))
			return false;
	*count = n;
	if (size != NULL)
		*size = total;
	return true;
}

void
des_file_chunk(const unsigned char *data, uint64_t i, des_chunk_ref *chunk)
{
	const unsigned char *p = data + FILE_HEADER_SIZE + i * CHUNK_REF_SIZE;

	memcpy(chunk->id, p, DES_TREE_HASH_BYTES);
	chunk->length = des_get_u32(p + DES_TREE_HASH_BYTES);
}
