/*
 * test_sketch.c - unit tests of the profiler's sketches (profile area):
 * HyperLogLog estimates against exact distinct counts from 0 to 2,000,000
 * values (within three standard errors), duplicates, merges equal to the
 * sketch of the union, precision limits; MinHash Jaccard and containment
 * estimates against exact set overlaps; serialisation round trips, and
 * every kind of corrupt input refused.
 *
 * Usage: test_sketch. Prints "sketch: N passed, N failed".
 */
#include "unit.h"
#include "des/profile/des_sketch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int			unit_passed,
			unit_failed;

/* the text of value i, as a column's values are fed: bytes, not a number */
static size_t
value(uint64_t i, char *buf)
{
	return (size_t) snprintf(buf, 32, "value-%llu", (unsigned long long) i);
}

static void
test_hll_accuracy(void)
{
	static const uint64_t sizes[] = {0, 1, 2, 10, 100, 1000, 5000, 20000, 40000, 100000, 500000, 2000000};
	des_error	err;

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
	{
		des_hll		h;
		char		buf[32];
		double		e;
		double		tolerance;

		CHECK(des_hll_init(&h, DES_HLL_DEFAULT_P, &err), "init: %s", err.message);
		for (uint64_t i = 0; i < sizes[s]; i++)
			des_hll_add(&h, buf, value(i, buf));
		e = des_hll_estimate(&h);
		/*
		 * three standard errors of 1.04 / sqrt(2^14); for a few values, within
		 * one (two of ten values may share a register: it happens here)
		 */
		tolerance = sizes[s] <= 10 ? 1.0 : 3 * 1.04 / sqrt(16384.0) * (double) sizes[s];
		CHECK(fabs(e - (double) sizes[s]) <= tolerance, "%llu distinct values estimated %.1f (tolerance %.1f)",
			  (unsigned long long) sizes[s], e, tolerance);
		des_hll_free(&h);
	}
}

static void
test_hll_duplicates_merge(void)
{
	des_hll		a,
				b,
				all;
	des_error	err;
	char		buf[32];

	des_hll_init(&a, 12, &err);
	des_hll_init(&b, 12, &err);
	des_hll_init(&all, 12, &err);
	/* a: 0 .. 59,999 three times over; b: 40,000 .. 99,999 */
	for (int round = 0; round < 3; round++)
		for (uint64_t i = 0; i < 60000; i++)
			des_hll_add(&a, buf, value(i, buf));
	for (uint64_t i = 40000; i < 100000; i++)
		des_hll_add(&b, buf, value(i, buf));
	for (uint64_t i = 0; i < 100000; i++)
		des_hll_add(&all, buf, value(i, buf));
	CHECK(fabs(des_hll_estimate(&a) - 60000) <= 3 * 1.04 / 64 * 60000, "duplicates do not count: %.0f",
		  des_hll_estimate(&a));
	CHECK(des_hll_merge(&a, &b, &err), "merge: %s", err.message);
	CHECK(memcmp(a.regs, all.regs, 4096) == 0, "the merge is the sketch of the union, register for register");
	des_hll_free(&b);
	des_hll_init(&b, 13, &err);
	CHECK(!des_hll_merge(&a, &b, &err) && err.code == DES_E_INVALID_ARGUMENT, "precisions must match");
	des_hll_free(&a);
	des_hll_free(&b);
	des_hll_free(&all);
	CHECK(!des_hll_init(&a, 3, &err) && err.code == DES_E_INVALID_ARGUMENT, "precision 3 refused");
	CHECK(!des_hll_init(&a, 19, &err) && err.code == DES_E_INVALID_ARGUMENT, "precision 19 refused");
	/* the extreme hashes: a register at the maximum rank, and the highest register */
	des_hll_init(&a, 4, &err);
	des_hll_add_hash(&a, 0);
	des_hll_add_hash(&a, UINT64_MAX);
	CHECK(a.regs[0] == 61 && a.regs[15] == 1, "hash 0 gives rank 61 in register 0, all ones rank 1 in register 15: %u %u",
		  a.regs[0], a.regs[15]);
	CHECK(isfinite(des_hll_estimate(&a)) && des_hll_estimate(&a) > 0, "a register at the maximum still estimates");
	des_hll_free(&a);
}

static void
test_hll_serialize(void)
{
	des_hll		h,
				back;
	des_error	err;
	char		buf[32];
	unsigned char *out;
	size_t		n;

	des_hll_init(&h, 10, &err);
	for (uint64_t i = 0; i < 5000; i++)
		des_hll_add(&h, buf, value(i, buf));
	n = des_hll_serialized_size(&h);
	CHECK(n == 5 + 1024, "size %zu", n);
	out = malloc(n + 1);
	des_hll_serialize(&h, out);
	CHECK(des_hll_deserialize(out, n, &back, &err), "round trip: %s", err.message);
	CHECK(back.p == 10 && memcmp(back.regs, h.regs, 1024) == 0, "the same registers");
	CHECK(des_hll_estimate(&back) == des_hll_estimate(&h), "the same estimate");
	des_hll_free(&back);
	CHECK(!des_hll_deserialize(out, n - 1, &back, &err) && err.code == DES_E_CORRUPT, "short: %s", err.message);
	CHECK(!des_hll_deserialize(out, 3, &back, &err) && err.code == DES_E_CORRUPT, "no header");
	out[n] = 0;
	CHECK(!des_hll_deserialize(out, n + 1, &back, &err) && err.code == DES_E_CORRUPT, "long");
	out[5 + 7] = 64 - 10 + 2;
	CHECK(!des_hll_deserialize(out, n, &back, &err) && err.code == DES_E_CORRUPT, "a register beyond the maximum rank: %s",
		  err.message);
	out[5 + 7] = 1;
	out[4] = 30;
	CHECK(!des_hll_deserialize(out, n, &back, &err) && err.code == DES_E_CORRUPT, "a precision out of range");
	out[4] = 10;
	out[0] = 'X';
	CHECK(!des_hll_deserialize(out, n, &back, &err) && err.code == DES_E_CORRUPT, "another magic");
	CHECK(back.regs == NULL, "nothing kept from a refused input");
	free(out);
	des_hll_free(&h);
}

/* A = [0, na), B = [start, start + nb): exact Jaccard and containment of A in B */
static void
minhash_case(uint64_t na, uint64_t start, uint64_t nb, int k)
{
	des_minhash a,
				b;
	des_hll		ha,
				hb;
	des_error	err;
	char		buf[32];
	uint64_t	lo = start,
				hi = na < start + nb ? na : start + nb;
	double		inter = hi > lo ? (double) (hi - lo) : 0.0;
	double		exact_j = inter / ((double) na + (double) nb - inter);
	double		exact_c = inter / (double) na;
	double		j,
				c,
				se = sqrt(exact_j * (1 - exact_j) / k) + 1e-9;

	des_minhash_init(&a, k, &err);
	des_minhash_init(&b, k, &err);
	des_hll_init(&ha, DES_HLL_DEFAULT_P, &err);
	des_hll_init(&hb, DES_HLL_DEFAULT_P, &err);
	for (uint64_t i = 0; i < na; i++)
	{
		size_t		n = value(i, buf);

		des_minhash_add(&a, buf, n);
		des_hll_add(&ha, buf, n);
	}
	for (uint64_t i = start; i < start + nb; i++)
	{
		size_t		n = value(i, buf);

		des_minhash_add(&b, buf, n);
		des_hll_add(&hb, buf, n);
	}
	CHECK(des_minhash_jaccard(&a, &b, &j, &err), "jaccard: %s", err.message);
	/* four standard errors, plus the estimate's granularity */
	CHECK(fabs(j - exact_j) <= 4 * se + 1.0 / k, "A=%llu B=%llu from %llu (k=%d): Jaccard %.4f, exact %.4f",
		  (unsigned long long) na, (unsigned long long) nb, (unsigned long long) start, k, j, exact_j);
	c = des_minhash_containment(j, des_hll_estimate(&ha), des_hll_estimate(&hb));
	/* the Jaccard error carried through c = J (|A| + |B|) / ((1 + J) |A|), plus the distinct counts' */
	CHECK(fabs(c - exact_c) <= (4 * se + 1.0 / k) * ((double) na + (double) nb) / (double) na + 0.05,
		  "containment %.3f, exact %.3f", c, exact_c);
	des_minhash_free(&a);
	des_minhash_free(&b);
	des_hll_free(&ha);
	des_hll_free(&hb);
}

static void
test_minhash(void)
{
	des_minhash a,
				b,
				back;
	des_error	err;
	double		j;
	char		buf[32];
	unsigned char *out;
	size_t		n;

	minhash_case(10000, 0, 10000, 128);			/* the same set: 1 */
	minhash_case(10000, 10000, 10000, 128);		/* disjoint: 0 */
	minhash_case(10000, 5000, 10000, 128);		/* a third */
	minhash_case(1000, 0, 100000, 128);			/* A inside a much larger B: containment 1 */
	minhash_case(20000, 15000, 20000, 256);
	minhash_case(5000, 2500, 5000, 1024);

	des_minhash_init(&a, 64, &err);
	des_minhash_init(&b, 64, &err);
	CHECK(des_minhash_is_empty(&a), "a new MinHash is empty");
	CHECK(des_minhash_jaccard(&a, &b, &j, &err) && j == 0.0, "two empty sets: 0");
	for (uint64_t i = 0; i < 500; i++)
		des_minhash_add(&a, buf, value(i, buf));
	for (uint64_t i = 0; i < 500; i++)
		des_minhash_add(&a, buf, value(i, buf));
	for (uint64_t i = 0; i < 500; i++)
		des_minhash_add(&b, buf, value(i, buf));
	CHECK(des_minhash_jaccard(&a, &b, &j, &err) && j == 1.0, "duplicates change nothing: %.3f", j);
	for (uint64_t i = 500; i < 1000; i++)
		des_minhash_add(&b, buf, value(i, buf));
	CHECK(des_minhash_merge(&a, &b, &err) && memcmp(a.mins, b.mins, 64 * 8) == 0, "a merge is the union");
	n = des_minhash_serialized_size(&a);
	CHECK(n == 8 + 64 * 8, "size %zu", n);
	out = malloc(n);
	des_minhash_serialize(&a, out);
	CHECK(des_minhash_deserialize(out, n, &back, &err) && back.k == 64 && memcmp(back.mins, a.mins, 64 * 8) == 0,
		  "round trip");
	des_minhash_free(&back);
	CHECK(!des_minhash_deserialize(out, n - 8, &back, &err) && err.code == DES_E_CORRUPT, "short: %s", err.message);
	out[4] = 8;
	CHECK(!des_minhash_deserialize(out, 8 + 8 * 8, &back, &err) && err.code == DES_E_CORRUPT, "a size below 16");
	out[4] = 64;
	out[2] = 'X';
	CHECK(!des_minhash_deserialize(out, n, &back, &err) && err.code == DES_E_CORRUPT, "another magic");
	CHECK(back.mins == NULL, "nothing kept from a refused input");
	free(out);
	des_minhash_free(&b);
	des_minhash_init(&b, 32, &err);
	CHECK(!des_minhash_jaccard(&a, &b, &j, &err) && err.code == DES_E_INVALID_ARGUMENT, "sizes must match");
	CHECK(!des_minhash_merge(&a, &b, &err) && err.code == DES_E_INVALID_ARGUMENT, "sizes must match to merge");
	des_minhash_free(&a);
	des_minhash_free(&b);
	CHECK(!des_minhash_init(&a, 8, &err) && err.code == DES_E_INVALID_ARGUMENT, "size 8 refused");
	CHECK(des_minhash_containment(0.5, 0, 10) == 0.0 && des_minhash_containment(1.0, 5, 10) == 1.0 &&
		  fabs(des_minhash_containment(1.0 / 3.0, 100, 100) - 0.5) < 1e-9,
		  "containment: 0 for an empty set, clamped to 1, J = 1/3 of equal sets is half");
}

int
main(void)
{
	test_hll_accuracy();
	test_hll_duplicates_merge();
	test_hll_serialize();
	test_minhash();
	printf("sketch: %d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}
