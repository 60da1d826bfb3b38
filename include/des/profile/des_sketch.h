/*
 * des_sketch.h - sketches of a column's values for the dataset profiler
 * (PostgreSQL-free): distinct counts (HyperLogLog, with Ertl's improved
 * estimator: no bias tables, accurate from one value to billions) and set
 * resemblance for join search (MinHash: Jaccard similarity and containment
 * of two columns' value sets).
 *
 * Values are hashed with XXH3 (64 bits). Sketches merge (the union of the
 * value sets) and serialise to a small versioned byte format, which
 * des_*_deserialize checks completely before trusting: a stored sketch is
 * outside input (fuzzed by test/fuzz/fuzz_sketch.c).
 *
 * Errors: HyperLogLog with 2^p registers has a relative standard error of
 * about 1.04 / sqrt(2^p): 0.81% at the default p = 14 (16 KiB). A MinHash of
 * k values estimates a Jaccard similarity J with a standard error of about
 * sqrt(J (1 - J) / k): at most 0.044 at the default k = 128.
 *
 * Thread-safe: no global state.
 */
#ifndef DES_SKETCH_H
#define DES_SKETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "des/common/des_error.h"

/* ---- HyperLogLog ---- */

#define DES_HLL_MIN_P 4
#define DES_HLL_MAX_P 18
#define DES_HLL_DEFAULT_P 14

typedef struct des_hll
{
	uint8_t		p;				/* 2^p registers */
	uint8_t    *regs;			/* each: 1 + leading zeros of the hash's other 64 - p bits (0: empty) */
} des_hll;

/* DES_E_INVALID_ARGUMENT for p outside [DES_HLL_MIN_P, DES_HLL_MAX_P]; DES_E_NOMEM. */
extern bool des_hll_init(des_hll *h, int p, des_error *err);
extern void des_hll_free(des_hll *h);
extern void des_hll_add_hash(des_hll *h, uint64_t hash);
extern void des_hll_add(des_hll *h, const void *value, size_t len);
/* The estimated number of distinct values added. */
extern double des_hll_estimate(const des_hll *h);
/* into becomes the sketch of the union; DES_E_INVALID_ARGUMENT if the precisions differ. */
extern bool des_hll_merge(des_hll *into, const des_hll *from, des_error *err);

/* Serialised: "DHL1", p, then the 2^p registers. */
extern size_t des_hll_serialized_size(const des_hll *h);
extern void des_hll_serialize(const des_hll *h, unsigned char *out);
/* DES_E_CORRUPT for anything but a well-formed sketch (into a fresh h, freed on failure). */
extern bool des_hll_deserialize(const void *data, size_t len, des_hll *h, des_error *err);

/* ---- MinHash ---- */

#define DES_MINHASH_MIN_K 16
#define DES_MINHASH_MAX_K 1024
#define DES_MINHASH_DEFAULT_K 128

/*
 * One-permutation hashing (Li, Owen and Zhang, 2012): a value's hash picks
 * one of k bins and the bin keeps the least mixed hash, so adding a value
 * costs one comparison, not k hash functions; empty bins are filled at
 * comparison time by optimal densification (Shrivastava, 2017), so small
 * sets compare as well as with k independent hash functions.
 */
typedef struct des_minhash
{
	uint32_t	k;				/* bins */
	uint64_t   *mins;			/* the least value in each (UINT64_MAX: empty) */
} des_minhash;

extern bool des_minhash_init(des_minhash *m, int k, des_error *err);
extern void des_minhash_free(des_minhash *m);
extern void des_minhash_add_hash(des_minhash *m, uint64_t hash);
extern void des_minhash_add(des_minhash *m, const void *value, size_t len);
extern bool des_minhash_is_empty(const des_minhash *m);
/* The k bins after densification (what comparisons and LSH band keys use) into out[k]. */
extern void des_minhash_densified(const des_minhash *m, uint64_t *out);
/* The estimated Jaccard similarity |A n B| / |A u B|; DES_E_INVALID_ARGUMENT if k differs. Two empty sets: 0. */
extern bool des_minhash_jaccard(const des_minhash *a, const des_minhash *b, double *jaccard, des_error *err);
/*
 * The estimated containment of A in B, |A n B| / |A|, from the Jaccard
 * similarity and the two sets' distinct counts (from their HyperLogLogs):
 * |A n B| = J (|A| + |B|) / (1 + J), clamped to [0, 1].
 */
extern double des_minhash_containment(double jaccard, double distinct_a, double distinct_b);
extern bool des_minhash_merge(des_minhash *into, const des_minhash *from, des_error *err);

/* Serialised: "DMH2", k (4 bytes, little-endian), then k minima (8 bytes each, little-endian). */
extern size_t des_minhash_serialized_size(const des_minhash *m);
extern void des_minhash_serialize(const des_minhash *m, unsigned char *out);
extern bool des_minhash_deserialize(const void *data, size_t len, des_minhash *m, des_error *err);

/* The 64-bit hash of a value both sketches use (XXH3). */
extern uint64_t des_sketch_hash(const void *value, size_t len);

#endif
