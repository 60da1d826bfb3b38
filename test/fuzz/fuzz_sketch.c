/*
 * fuzz_sketch.c - libFuzzer target for the profiler's stored sketches
 * (HyperLogLog and MinHash deserialisation: a sketch read back from the
 * catalog is outside input).
 *
 * Input: byte 0 chooses the kind (even: HyperLogLog, odd: MinHash), the rest
 * is the serialised sketch.
 *
 * Invariants: no crash, UB or leak; a refused input keeps nothing and says
 * DES_E_CORRUPT; an accepted one serialises back to exactly the input, its
 * estimate is finite and not negative (HyperLogLog), its Jaccard similarity
 * with itself is 1 unless it is empty (MinHash), and merging it into itself
 * changes nothing.
 */
#include "des/profile/des_sketch.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) { fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	des_error	err;

	if (size < 1)
		return 0;
	if ((data[0] & 1) == 0)
	{
		des_hll		h;

		if (!des_hll_deserialize(data + 1, size - 1, &h, &err))
		{
			REQUIRE(err.code == DES_E_CORRUPT && h.regs == NULL);
			return 0;
		}
		{
			size_t		n = des_hll_serialized_size(&h);
			unsigned char *out = malloc(n);
			double		e = des_hll_estimate(&h);
			des_hll		copy;

			REQUIRE(n == size - 1);
			des_hll_serialize(&h, out);
			REQUIRE(memcmp(out, data + 1, n) == 0);
			REQUIRE(isfinite(e) && e >= 0.0);
			REQUIRE(des_hll_deserialize(out, n, &copy, &err));
			REQUIRE(des_hll_merge(&h, &copy, &err));
			REQUIRE(memcmp(h.regs, copy.regs, (size_t) 1 << h.p) == 0);
			des_hll_free(&copy);
			free(out);
		}
		des_hll_free(&h);
	}
	else
	{
		des_minhash m;
		double		j;

		if (!des_minhash_deserialize(data + 1, size - 1, &m, &err))
		{
			REQUIRE(err.code == DES_E_CORRUPT && m.mins == NULL);
			return 0;
		}
		{
			size_t		n = des_minhash_serialized_size(&m);
			unsigned char *out = malloc(n);
			des_minhash copy;

			REQUIRE(n == size - 1);
			des_minhash_serialize(&m, out);
			REQUIRE(memcmp(out, data + 1, n) == 0);
			REQUIRE(des_minhash_jaccard(&m, &m, &j, &err));
			REQUIRE(des_minhash_is_empty(&m) ? j == 0.0 : j == 1.0);
			REQUIRE(des_minhash_deserialize(out, n, &copy, &err));
			REQUIRE(des_minhash_merge(&m, &copy, &err));
			REQUIRE(memcmp(m.mins, copy.mins, 8 * (size_t) m.k) == 0);
			des_minhash_free(&copy);
			free(out);
		}
		des_minhash_free(&m);
	}
	return 0;
}
