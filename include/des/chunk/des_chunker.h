/*
 * des_chunker.h - content-defined chunking (FastCDC) for versioned datasets
 * (PostgreSQL-free).
 *
 * A file is cut where the content says so, not at fixed offsets, so an
 * insertion or deletion changes only the chunks around the edit and every
 * other chunk keeps its id (BLAKE2b-256 of its bytes) and is deduplicated.
 *
 * Algorithm (FastCDC, Xia et al., USENIX ATC 2016 / IEEE TPDS 2020), version
 * DES_CHUNK_VERSION, described in docs/chunking.md:
 *   - a chunk's first min - 1 bytes are skipped (no cut can fall there);
 *   - from its min-th byte on, a 64-bit gear hash h = (h << 1) + GEAR[byte]
 *     is rolled (h starts at 0 in each chunk) and the chunk ends after the
 *     byte at which the top bits of h are all zero: the top log2(avg) + 2
 *     bits while the chunk is shorter than avg, the top log2(avg) - 2 bits
 *     from avg on (normalized chunking, level 2);
 *   - a chunk that reaches max bytes ends there.
 * So every chunk but the last of a stream is min..max bytes long.
 *
 * The gear table and these rules decide where every chunk of every stored
 * version falls: they never change within a version number. Callers record
 * DES_CHUNK_VERSION and the three parameters beside what they chunk (a
 * bundle), and chunk new versions of it with the same ones.
 *
 * Everything here is thread-safe: the table is constant and all state is in
 * the caller's des_chunker / des_chunk_hasher.
 */
#ifndef DES_CHUNKER_H
#define DES_CHUNKER_H

#include "des/common/des_error.h"

#include <blake2.h>

/* The algorithm as recorded beside the parameters; bumped on any change of cut points. */
#define DES_CHUNK_VERSION 1
#define DES_CHUNK_ALGORITHM "fastcdc-gear64-nc2"

/* Parameter bounds (bytes): DES_CHUNK_MIN_LOWER <= min < avg < max <= DES_CHUNK_MAX_UPPER, avg a power of two. */
#define DES_CHUNK_MIN_LOWER 64
#define DES_CHUNK_MAX_UPPER (64u * 1024 * 1024)

#define DES_CHUNK_DEFAULT_MIN (16u * 1024)
#define DES_CHUNK_DEFAULT_AVG (64u * 1024)
#define DES_CHUNK_DEFAULT_MAX (256u * 1024)

/* A chunk id: BLAKE2b-256 (unkeyed) of the chunk's bytes. */
#define DES_CHUNK_ID_BYTES 32

typedef struct des_chunk_params
{
	uint32_t	min_size;
	uint32_t	avg_size;		/* a power of two: it sets the mask bit counts */
	uint32_t	max_size;
} des_chunk_params;

/* The defaults, 16 / 64 / 256 KiB. */
extern des_chunk_params des_chunk_params_default(void);

/* DES_E_INVALID_ARGUMENT, with the parameter and bound named, unless p is within the bounds above. */
extern bool des_chunk_params_check(const des_chunk_params *p, des_error *err);

/* Entry i of the fixed gear table (tests and docs pin it). */
extern uint64_t des_chunk_gear(unsigned i);

/*
 * Streaming chunker: feed the stream's bytes in pieces of any size; cut
 * points come out the same as if the whole stream had been given at once.
 * No data is copied or kept: the state is the current chunk's length so
 * far and the rolling hash.
 */
typedef struct des_chunker
{
	des_chunk_params params;
	uint64_t	mask_small;		/* top bits tested while the chunk is shorter than avg */
	uint64_t	mask_large;		/* ... and from avg on */
	uint64_t	hash;			/* gear hash of the current chunk (from its min-th byte) */
	uint64_t	pending;		/* bytes of the current chunk consumed so far */
	uint64_t	offset;			/* stream offset of the current chunk's first byte */
} des_chunker;

/* Validate p (as des_chunk_params_check) and start a stream. */
extern bool des_chunker_init(des_chunker *c, const des_chunk_params *p, des_error *err);

/* Start a new stream with the same parameters. */
extern void des_chunker_reset(des_chunker *c);

/*
 * Consume data[0 .. len) up to and including the next cut point, if any.
 * Returns the number of bytes consumed. If a chunk ends after them, *chunk_len
 * is its length (which includes bytes of earlier calls) and the next call
 * starts a new chunk; otherwise (all len bytes consumed, no cut) *chunk_len
 * is 0. Call again with the rest of the buffer until it is used up.
 */
extern size_t des_chunker_next(des_chunker *c, const void *data, size_t len, uint64_t *chunk_len);

/*
 * End of the stream: returns the length of the last chunk (shorter than min
 * possibly; 0 if the stream ended at a cut or was empty) and resets c.
 */
extern uint64_t des_chunker_finish(des_chunker *c);

/*
 * The first chunk of a buffer that starts at a chunk boundary, with len the
 * whole rest of the stream: its length (len itself if no cut is found before
 * the end). The one-shot form of des_chunker_next.
 */
extern size_t des_chunk_first(const des_chunker *c, const void *data, size_t len);

/* A chunk found: stream offset, length and (if asked for) id. */
typedef struct des_chunk
{
	uint64_t	offset;
	uint64_t	length;
	unsigned char id[DES_CHUNK_ID_BYTES];	/* zero when ids were not asked for */
} des_chunk;

/* Called once per chunk, in stream order; false stops, with err filled. */
typedef bool (*des_chunk_cb) (void *ctx, const des_chunk *chunk, des_error *err);

/*
 * One shot over a whole buffer: call cb for each chunk, with its id if
 * with_ids (BLAKE2b-256 of the chunk, computed right after the cut while the
 * bytes are still in cache). False on invalid parameters or when cb fails.
 */
extern bool des_chunk_buffer(const des_chunk_params *p, const void *data, size_t len, bool with_ids,
							 des_chunk_cb cb, void *ctx, des_error *err);

/*
 * Streaming chunking and hashing in one pass: the hot path for a file read
 * in pieces. Each piece is hashed as it is scanned, so no chunk is buffered.
 */
typedef struct des_chunk_hasher
{
	des_chunker chunker;
	blake2b_state b2;
	des_chunk_cb cb;
	void	   *ctx;
} des_chunk_hasher;

extern bool des_chunk_hasher_init(des_chunk_hasher *h, const des_chunk_params *p,
								  des_chunk_cb cb, void *ctx, des_error *err);

/* Feed a piece of the stream: cb runs for every chunk that ends in it. */
extern bool des_chunk_hasher_update(des_chunk_hasher *h, const void *data, size_t len, des_error *err);

/* End of the stream: cb runs for the last chunk, if any; the hasher restarts. */
extern bool des_chunk_hasher_finish(des_chunk_hasher *h, des_error *err);

#endif
