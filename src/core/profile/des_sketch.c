/*
 * des_sketch.c - HyperLogLog and MinHash sketches of value sets (see
 * des_sketch.h).
 *
 * HyperLogLog: register j = the hash's top p bits; its value, the position
 * of the first 1 bit in the remaining 64 - p bits (64 - p + 1 when they are
 * all 0). The estimate is Ertl's "improved raw estimator" (O. Ertl, "New
 * cardinality estimation algorithms for HyperLogLog sketches", 2017), from
 * the histogram of register values through his sigma and tau series: unlike
 * the original estimator it needs neither linear counting for small sets nor
 * empirical bias tables.
 *
 * MinHash: one permutation hashing with optimal densification (see
 * des_sketch.h): the bin is the high bits of the value's 64-bit hash times k,
 * the value kept the murmur3 finalizer of the hash; an empty bin, when
 * compared, takes the value of the first non-empty bin of a fixed probe
 * sequence of its own (the same for every sketch, so equal sets densify
 * equally).
 */
#include "des/profile/des_sketch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

uint64_t
des_sketch_hash(const void *value, size_t len)
{
	return XXH3_64bits(value, len);
}

/* ---- HyperLogLog ---- */

bool
des_hll_init(des_hll *h, int p, des_error *err)
{
	memset(h, 0, sizeof(*h));
	if (p < DES_HLL_MIN_P || p > DES_HLL_MAX_P)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "HyperLogLog precision %d is outside %d to %d", p,
						DES_HLL_MIN_P, DES_HLL_MAX_P);
	h->regs = calloc((size_t) 1 << p, 1);
	if (h->regs == NULL)
		return des_fail(err, DES_E_NOMEM, "out of memory for a HyperLogLog of precision %d", p);
	h->p = (uint8_t) p;
	return true;
}

void
des_hll_free(des_hll *h)
{
	free(h->regs);
	h->regs = NULL;
}

void
des_hll_add_hash(des_hll *h, uint64_t hash)
{
	unsigned	q = 64 - h->p;
	uint64_t	j = hash >> q;
	uint64_t	rest = hash & ((UINT64_C(1) << q) - 1);
	uint8_t		rank = rest == 0 ? (uint8_t) (q + 1) : (uint8_t) (__builtin_clzll(rest) - h->p + 1);

	if (rank > h->regs[j])
		h->regs[j] = rank;
}

void
des_hll_add(des_hll *h, const void *value, size_t len)
{
	des_hll_add_hash(h, des_sketch_hash(value, len));
}

/* Ertl's sigma(x) = x + sum_k x^(2^k) 2^(k-1), for the empty registers' share */
static double
ertl_sigma(double x)
{
	double		y = 1.0,
				z = x,
				z_old;

	if (x == 1.0)
		return INFINITY;
	do
	{
		x *= x;
		z_old = z;
		z += x * y;
		y += y;
	} while (z != z_old);
	return z;
}

/* Ertl's tau(x), for the share of registers at the maximum value */
static double
ertl_tau(double x)
{
	double		y = 1.0,
				z = 1.0 - x,
				z_old;

	if (x == 0.0 || x == 1.0)
		return 0.0;
	do
	{
		x = sqrt(x);
		z_old = z;
		y *= 0.5;
		z -= (1.0 - x) * (1.0 - x) * y;
	} while (z != z_old);
	return z / 3.0;
}

double
des_hll_estimate(const des_hll *h)
{
	unsigned	q = 64 - h->p;
	double		m = (double) ((size_t) 1 << h->p);
	uint64_t	count[66] = {0};	/* registers per value, 0 .. q + 1 */
	double		z;

	for (size_t j = 0; j < ((size_t) 1 << h->p); j++)
		count[h->regs[j]]++;
	if (count[0] == (uint64_t) m)
		return 0.0;
	z = m * ertl_tau(1.0 - (double) count[q + 1] / m);
	for (unsigned k = q; k >= 1; k--)
		z = 0.5 * (z + (double) count[k]);
	z += m * ertl_sigma((double) count[0] / m);
	return (m * m / (2.0 * log(2.0))) / z;
}

bool
des_hll_merge(des_hll *into, const des_hll *from, des_error *err)
{
	if (into->p != from->p)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "HyperLogLogs of precisions %d and %d cannot merge", into->p,
						from->p);
	for (size_t j = 0; j < ((size_t) 1 << into->p); j++)
		if (from->regs[j] > into->regs[j])
			into->regs[j] = from->regs[j];
	return true;
}

size_t
des_hll_serialized_size(const des_hll *h)
{
	return 5 + ((size_t) 1 << h->p);
}

void
des_hll_serialize(const des_hll *h, unsigned char *out)
{
	memcpy(out, "DHL1", 4);
	out[4] = h->p;
	memcpy(out + 5, h->regs, (size_t) 1 << h->p);
}

bool
des_hll_deserialize(const void *data, size_t len, des_hll *h, des_error *err)
{
	const unsigned char *b = data;
	unsigned	p;

	memset(h, 0, sizeof(*h));
	if (len < 5 || memcmp(b, "DHL1", 4) != 0)
		return des_fail(err, DES_E_CORRUPT, "not a HyperLogLog sketch (magic \"DHL1\" expected)");
	p = b[4];
	if (p < DES_HLL_MIN_P || p > DES_HLL_MAX_P)
		return des_fail(err, DES_E_CORRUPT, "HyperLogLog sketch of precision %u (%d to %d expected)", p,
						DES_HLL_MIN_P, DES_HLL_MAX_P);
	if (len != 5 + ((size_t) 1 << p))
		return des_fail(err, DES_E_CORRUPT, "HyperLogLog sketch of precision %u has %zu bytes, not %zu", p, len,
						5 + ((size_t) 1 << p));
	for (size_t j = 0; j < ((size_t) 1 << p); j++)
		if (b[5 + j] > 64 - p + 1)
			return des_fail(err, DES_E_CORRUPT, "HyperLogLog register %zu holds %u, more than %u", j, b[5 + j],
							64 - p + 1);
	if (!des_hll_init(h, (int) p, err))
		return false;
	memcpy(h->regs, b + 5, (size_t) 1 << p);
	return true;
}

/* ---- MinHash ---- */

/* the murmur3 64-bit finalizer: a bijection that mixes every bit */
static inline uint64_t
fmix64(uint64_t x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64_C(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return x;
}

/* the probe sequence of densification: bin i's attempt a (fixed: sketches of different runs compare) */
static inline uint32_t
probe_bin(uint32_t i, uint32_t attempt, uint32_t k)
{
	uint64_t	z = UINT64_C(0x9e3779b97f4a7c15) * (((uint64_t) i << 32 | attempt) + 1);

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	z ^= z >> 31;
	return (uint32_t) (((unsigned __int128) z * k) >> 64);
}

bool
des_minhash_init(des_minhash *m, int k, des_error *err)
{
	memset(m, 0, sizeof(*m));
	if (k < DES_MINHASH_MIN_K || k > DES_MINHASH_MAX_K)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "MinHash size %d is outside %d to %d", k, DES_MINHASH_MIN_K,
						DES_MINHASH_MAX_K);
	m->mins = malloc(sizeof(uint64_t) * (size_t) k);
	if (m->mins == NULL)
		return des_fail(err, DES_E_NOMEM, "out of memory for a MinHash of %d values", k);
	for (int i = 0; i < k; i++)
		m->mins[i] = UINT64_MAX;
	m->k = (uint32_t) k;
	return true;
}

void
des_minhash_free(des_minhash *m)
{
	free(m->mins);
	m->mins = NULL;
}

void
des_minhash_add_hash(des_minhash *m, uint64_t hash)
{
	/* one permutation: the hash's high bits choose the bin, its mix is the value ranked */
	uint32_t	bin = (uint32_t) (((unsigned __int128) hash * m->k) >> 64);
	uint64_t	v = fmix64(hash);

	if (v < m->mins[bin])
		m->mins[bin] = v;
}

void
des_minhash_add(des_minhash *m, const void *value, size_t len)
{
	des_minhash_add_hash(m, des_sketch_hash(value, len));
}

bool
des_minhash_is_empty(const des_minhash *m)
{
	for (uint32_t i = 0; i < m->k; i++)
		if (m->mins[i] != UINT64_MAX)
			return false;
	return true;
}

/* the value of bin i after densification: an empty bin borrows from the first non-empty bin it probes */
static uint64_t
densified(const des_minhash *m, uint32_t i)
{
	for (uint32_t attempt = 0; m->mins[i] == UINT64_MAX; attempt++)
	{
		uint32_t	j = probe_bin(i, attempt, m->k);

		if (m->mins[j] != UINT64_MAX)
			return m->mins[j];
		if (attempt > 64 * m->k)
			break;				/* not reached with one non-empty bin: a guard only */
	}
	return m->mins[i];
}

void
des_minhash_densified(const des_minhash *m, uint64_t *out)
{
	for (uint32_t i = 0; i < m->k; i++)
		out[i] = densified(m, i);
}

bool
des_minhash_jaccard(const des_minhash *a, const des_minhash *b, double *jaccard, des_error *err)
{
	uint32_t	same = 0;

	if (a->k != b->k)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "MinHashes of sizes %u and %u cannot be compared", a->k, b->k);
	if (des_minhash_is_empty(a) || des_minhash_is_empty(b))
	{
		*jaccard = 0.0;
		return true;
	}
	for (uint32_t i = 0; i < a->k; i++)
		if (densified(a, i) == densified(b, i))
			same++;
	*jaccard = (double) same / (double) a->k;
	return true;
}

double
des_minhash_containment(double jaccard, double distinct_a, double distinct_b)
{
	double		inter;

	if (distinct_a <= 0.0 || jaccard <= 0.0)
		return 0.0;
	inter = jaccard * (distinct_a + distinct_b) / (1.0 + jaccard);
	if (inter > distinct_a)
		return 1.0;
	return inter / distinct_a;
}

bool
des_minhash_merge(des_minhash *into, const des_minhash *from, des_error *err)
{
	if (into->k != from->k)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "MinHashes of sizes %u and %u cannot merge", into->k, from->k);
	for (uint32_t i = 0; i < into->k; i++)
		if (from->mins[i] < into->mins[i])
			into->mins[i] = from->mins[i];
	return true;
}

size_t
des_minhash_serialized_size(const des_minhash *m)
{
	return 8 + 8 * (size_t) m->k;
}

void
des_minhash_serialize(const des_minhash *m, unsigned char *out)
{
	memcpy(out, "DMH2", 4);
	for (int b = 0; b < 4; b++)
		out[4 + b] = (unsigned char) (m->k >> (8 * b));
	for (uint32_t i = 0; i < m->k; i++)
		for (int b = 0; b < 8; b++)
			out[8 + 8 * (size_t) i + b] = (unsigned char) (m->mins[i] >> (8 * b));
}

bool
des_minhash_deserialize(const void *data, size_t len, des_minhash *m, des_error *err)
{
	const unsigned char *p = data;
	uint32_t	k = 0;

	memset(m, 0, sizeof(*m));
	if (len < 8 || memcmp(p, "DMH2", 4) != 0)
		return des_fail(err, DES_E_CORRUPT, "not a MinHash sketch (magic \"DMH2\" expected)");
	for (int b = 0; b < 4; b++)
		k |= (uint32_t) p[4 + b] << (8 * b);
	if (k < DES_MINHASH_MIN_K || k > DES_MINHASH_MAX_K)
		return des_fail(err, DES_E_CORRUPT, "MinHash sketch of size %u (%d to %d expected)", k, DES_MINHASH_MIN_K,
						DES_MINHASH_MAX_K);
	if (len != 8 + 8 * (size_t) k)
		return des_fail(err, DES_E_CORRUPT, "MinHash sketch of size %u has %zu bytes, not %zu", k, len,
						8 + 8 * (size_t) k);
	if (!des_minhash_init(m, (int) k, err))
		return false;
	for (uint32_t i = 0; i < k; i++)
	{
		uint64_t	v = 0;

		for (int b = 0; b < 8; b++)
			v |= (uint64_t) p[8 + 8 * (size_t) i + b] << (8 * b);
		m->mins[i] = v;
	}
	return true;
}
