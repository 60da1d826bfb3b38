/*
 * fuzz_chunk.c - libFuzzer target for the content-defined chunker.
 *
 * Input: an 8-byte header, then the data to chunk.
 *   byte 0      flags: bit 0 = take the parameters raw (bytes 1-6 as three
 *               16-bit sizes scaled by 64, often invalid) instead of mapped
 *               into a valid, small range; bits 1-7 = piece-size seed
 *   bytes 1-2   min, bytes 3 avg bits, bytes 4-5 max (mapped or raw)
 *   bytes 6-7   largest piece size for streaming (1 + value)
 *
 * Invariants: parameters are accepted exactly when 64 <= min < avg < max <=
 * 64 MiB with avg a power of two, else DES_E_INVALID_ARGUMENT; chunks are
 * contiguous, sum to the input length, each within [min, max] but the last
 * (1 .. max); des_chunker_next fed in pseudo-random pieces cuts exactly where
 * one shot does; the streaming hasher gives the same chunks and ids, and each
 * id is BLAKE2b-256 of the chunk's bytes.
 */
#include "des/chunk/des_chunker.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) { fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

typedef struct list
{
	des_chunk  *c;
	size_t		n;
	size_t		cap;			/* every chunk but the last has at least 64 bytes */
} list;

static bool
collect(void *ctx, const des_chunk *chunk, des_error *err)
{
	list	   *l = ctx;

	REQUIRE(l->n < l->cap);
	l->c[l->n++] = *chunk;
	return true;
}

static bool
valid(uint32_t min, uint32_t avg, uint32_t max)
{
	return min >= 64 && max <= 64u * 1024 * 1024 && min < avg && avg < max && (avg & (avg - 1)) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	des_chunk_params p;
	des_chunker c;
	des_chunk_hasher h;
	des_error	err;
	list		ref = {0},
				viah = {0};
	const uint8_t *in;
	size_t		len,
				maxpiece,
				k = 0;
	uint32_t	rng;
	uint64_t	sum = 0;

	if (size < 8)
		return 0;
	if (data[0] & 1)
	{
		p.min_size = (uint32_t) (data[1] | data[2] << 8) * 64;
		p.avg_size = data[3] < 32 ? UINT32_C(1) << data[3] : (uint32_t) data[3] * 64;
		p.max_size = (uint32_t) (data[4] | data[5] << 8) * 1024;
	}
	else
	{
		/* valid and small, so that a 64 KiB input has many chunks */
		p.avg_size = UINT32_C(128) << (data[3] % 8);
		p.min_size = 64 + (data[1] | data[2] << 8) % (p.avg_size - 64);
		p.max_size = p.avg_size + 1 + (data[4] | data[5] << 8) % (4 * p.avg_size);
	}
	maxpiece = 1 + (data[6] | data[7] << 8);
	rng = data[0] >> 1;
	in = data + 8;
	len = size - 8;

	memset(&err, 0, sizeof(err));
	if (!des_chunker_init(&c, &p, &err))
	{
		REQUIRE(!valid(p.min_size, p.avg_size, p.max_size));
		REQUIRE(err.code == DES_E_INVALID_ARGUMENT && err.message[0] != '\0');
		REQUIRE(!des_chunk_params_check(&p, &err));
		return 0;
	}
	REQUIRE(valid(p.min_size, p.avg_size, p.max_size));

	ref.cap = viah.cap = len / 64 + 2;
	ref.c = malloc(sizeof(des_chunk) * ref.cap);
	viah.c = malloc(sizeof(des_chunk) * viah.cap);
	REQUIRE(des_chunk_buffer(&p, in, len, true, collect, &ref, &err));

	/* bounds, contiguity, ids */
	for (size_t i = 0; i < ref.n; i++)
	{
		unsigned char id[DES_CHUNK_ID_BYTES];

		REQUIRE(ref.c[i].offset == sum);
		REQUIRE(ref.c[i].length >= 1 && ref.c[i].length <= p.max_size);
		if (i + 1 < ref.n)
			REQUIRE(ref.c[i].length >= p.min_size);
		blake2b(id, in + sum, NULL, DES_CHUNK_ID_BYTES, ref.c[i].length, 0);
		REQUIRE(memcmp(id, ref.c[i].id, DES_CHUNK_ID_BYTES) == 0);
		sum += ref.c[i].length;
	}
	REQUIRE(sum == len);
	REQUIRE(len > 0 || ref.n == 0);

	/* streaming in pseudo-random pieces, through both APIs at once */
	REQUIRE(des_chunk_hasher_init(&h, &p, collect, &viah, &err));
	for (size_t off = 0; off < len;)
	{
		size_t		piece,
					used = 0;

		rng = rng * 1103515245u + 12345u;
		piece = 1 + (rng >> 8) % maxpiece;
		if (piece > len - off)
			piece = len - off;
		REQUIRE(des_chunk_hasher_update(&h, in + off, piece, &err));
		while (used < piece)
		{
			uint64_t	clen;
			size_t		n = des_chunker_next(&c, in + off + used, piece - used, &clen);

			REQUIRE(n <= piece - used);
			used += n;
			if (clen == 0)
				REQUIRE(used == piece);
			else
			{
				REQUIRE(k < ref.n && ref.c[k].length == clen && ref.c[k].offset + clen == off + used);
				k++;
			}
		}
		off += piece;
	}
	{
		uint64_t	last = des_chunker_finish(&c);

		if (last != 0)
		{
			REQUIRE(k < ref.n && ref.c[k].length == last);
			k++;
		}
	}
	REQUIRE(k == ref.n);
	REQUIRE(des_chunk_hasher_finish(&h, &err));
	REQUIRE(viah.n == ref.n && (ref.n == 0 || memcmp(viah.c, ref.c, ref.n * sizeof(des_chunk)) == 0));

	/* the first chunk on its own */
	REQUIRE(des_chunk_first(&c, in, len) == (ref.n ? ref.c[0].length : 0));

	free(ref.c);
	free(viah.c);
	return 0;
}
