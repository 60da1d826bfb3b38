/*
 * test_column.c - unit tests of one column's running statistics (profile
 * area): kind counts, missing ratio, number minimum, maximum, mean and
 * standard deviation against a two-pass computation in the test, instants,
 * free text, distinct counts, the structural type at the 98% threshold and
 * around it.
 *
 * Usage: test_column. Prints "column: N passed, N failed".
 */
#include "unit.h"
#include "des/profile/des_column.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int			unit_passed,
			unit_failed;

static void
add(des_column_stats *c, const char *s)
{
	des_column_add(c, s, strlen(s));
}

static des_column_stats
fresh(void)
{
	des_column_stats c;
	des_column_options o = des_column_options_default();
	des_error	err;

	if (!des_column_init(&c, &o, &err))
	{
		printf("init: %s\n", err.message);
		exit(1);
	}
	return c;
}

int
main(void)
{
	des_column_stats c;
	char		buf[64];

	/* numbers: 100,000 values with a known pattern; mean and deviation two-pass here */
	{
		double		sum = 0,
					sq = 0,
					mean,
					lo = INFINITY,
					hi = -INFINITY;
		int			n = 100000;

		c = fresh();
		for (int i = 0; i < n; i++)
		{
			double		x = (i % 7 == 0) ? (double) (i % 1000) : (i % 1000) / 8.0 - 50.0;

			if (i % 7 == 0)
				snprintf(buf, sizeof(buf), "%d", i % 1000);
			else
				snprintf(buf, sizeof(buf), "%.3f", x);
			add(&c, buf);
			sum += x;
			lo = fmin(lo, x);
			hi = fmax(hi, x);
		}
		mean = sum / n;
		for (int i = 0; i < n; i++)
		{
			double		x = (i % 7 == 0) ? (double) (i % 1000) : (i % 1000) / 8.0 - 50.0;

			sq += (x - mean) * (x - mean);
		}
		CHECK(c.numbers == (uint64_t) n && c.values == (uint64_t) n, "counts %llu", (unsigned long long) c.numbers);
		CHECK(c.num_min == lo && c.num_max == hi, "min %g max %g (expected %g %g)", c.num_min, c.num_max, lo, hi);
		CHECK(fabs(c.num_mean - mean) < 1e-9 * fabs(mean) + 1e-9, "mean %.12g, two-pass %.12g", c.num_mean, mean);
		CHECK(fabs(des_column_stddev(&c) - sqrt(sq / n)) < 1e-9 * sqrt(sq / n), "stddev %.12g, two-pass %.12g",
			  des_column_stddev(&c), sqrt(sq / n));
		CHECK(des_column_structural_type(&c, DES_COLUMN_DEFAULT_THRESHOLD) == DES_VALUE_FLOAT, "integers and floats: float");
		/* each residue r of 1,000 is written both ways, "%d" and "%.3f": 2,000 distinct texts */
		CHECK(fabs(des_hll_estimate(&c.distinct) - 2000) < 3 * 0.0081 * 2000, "about 2,000 distinct texts: %.0f",
			  des_hll_estimate(&c.distinct));
		des_column_free(&c);
	}

	/* the 98% rule: 98 integers and 2 texts are integers; 97 and 3 are text; missing values do not count */
	c = fresh();
	for (int i = 0; i < 98; i++)
	{
		snprintf(buf, sizeof(buf), "%d", i);
		add(&c, buf);
	}
	add(&c, "n/a?");
	add(&c, "x");
	for (int i = 0; i < 50; i++)
		add(&c, "");
	CHECK(des_column_structural_type(&c, 0.98) == DES_VALUE_INTEGER, "98 of 100 present: integer");
	CHECK(fabs(des_column_missing_ratio(&c) - 50.0 / 150.0) < 1e-12, "missing ratio %g", des_column_missing_ratio(&c));
	CHECK(des_column_present(&c) == 100, "100 present");
	add(&c, "y-not");
	CHECK(des_column_structural_type(&c, 0.98) == DES_VALUE_TEXT, "98 of 101: text");
	CHECK(des_column_structural_type(&c, 0.9) == DES_VALUE_INTEGER, "at 0.9: integer");
	des_column_free(&c);

	/* instants: dates and date-times, earliest and latest */
	c = fresh();
	add(&c, "2024-01-02");
	add(&c, "2023-12-31T23:00:00Z");
	add(&c, "2024-03-01 12:00");
	add(&c, "NA");
	CHECK(c.instants == 3 && c.time_min == 1704063600.0 && c.time_max == 1709294400.0, "instants %g .. %g", c.time_min,
		  c.time_max);
	CHECK(des_column_structural_type(&c, 0.98) == DES_VALUE_DATETIME, "dates and date-times: datetime");
	des_column_free(&c);
	c = fresh();
	add(&c, "2024-01-02");
	add(&c, "2024-01-03");
	CHECK(des_column_structural_type(&c, 0.98) == DES_VALUE_DATE, "dates only: date");
	des_column_free(&c);

	/* booleans, all missing, free text */
	c = fresh();
	add(&c, "yes");
	add(&c, "No");
	add(&c, "TRUE");
	CHECK(des_column_structural_type(&c, 0.98) == DES_VALUE_BOOLEAN && c.kinds[DES_VALUE_BOOLEAN] == 3, "booleans");
	des_column_free(&c);
	c = fresh();
	add(&c, "");
	add(&c, "null");
	CHECK(des_column_structural_type(&c, 0.98) == DES_VALUE_MISSING && des_column_missing_ratio(&c) == 1.0,
		  "all missing: missing");
	CHECK(des_hll_estimate(&c.distinct) == 0 && des_minhash_is_empty(&c.minhash), "missing values are not sketched");
	des_column_free(&c);
	c = fresh();
	add(&c, "the quick brown fox jumps");
	add(&c, "over the lazy dog");
	add(&c, "short text");
	add(&c, "x");
	CHECK(c.words4 == 2 && des_column_is_free_text(&c), "half with four words or more: free text");
	add(&c, "y");
	CHECK(!des_column_is_free_text(&c), "less than half: not free text");
	des_column_free(&c);

	/* bad options */
	{
		des_column_options o = des_column_options_default();
		des_error	err;

		o.minhash_k = 2;
		CHECK(!des_column_init(&c, &o, &err) && err.code == DES_E_INVALID_ARGUMENT && c.distinct.regs == NULL,
			  "a MinHash too small is refused, nothing kept");
	}
	printf("column: %d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}
