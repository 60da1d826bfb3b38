/*
 * fuzz_value.c - libFuzzer target for the profiler's value classifier: any
 * bytes as one field.
 *
 * Invariants: no crash or UB, reading nothing outside the input; the kind
 * is one of the seven; the same bytes with blanks around classify the same;
 * an integer's number is its integer and it prints back to the input's
 * digits (no leading zero); floats are finite and the double strtod reads; a date's fields are a real
 * day and its number is midnight UTC of it; the classification is the same
 * on an exact-size copy (no reads past the end).
 */
#include "des/profile/des_value.h"

#include <inttypes.h>
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
	des_value	v,
				w;
	char	   *copy = malloc(size + 2);
	int			options = size > 0 && (data[0] & 1) ? DES_VALUE_COMPACT_DATES : 0;

	memcpy(copy + 1, data, size);
	des_value_classify(copy + 1, size, options, &v);
	REQUIRE(v.kind >= DES_VALUE_MISSING && v.kind <= DES_VALUE_TEXT);
	/* with a blank on each side: the same */
	copy[0] = ' ';
	copy[size + 1] = ' ';
	des_value_classify(copy, size + 2, options, &w);
	REQUIRE(w.kind == v.kind);
	REQUIRE(w.kind == DES_VALUE_TEXT || w.number == v.number || (isnan(w.number) && isnan(v.number)));
	switch (v.kind)
	{
		case DES_VALUE_INTEGER:
			REQUIRE(v.number == (double) v.integer);
			{
				char		buf[32];
				const char *s = (const char *) data;
				size_t		n = size;

				while (n > 0 && (*s == ' ' || *s == '\t'))
					s++, n--;
				while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
					n--;
				if (n > 0 && *s == '+')
					s++, n--;
				snprintf(buf, sizeof(buf), "%" PRId64, v.integer);
				REQUIRE(strlen(buf) == n ? memcmp(buf, s, n) == 0 : (n == 2 && memcmp(s, "-0", 2) == 0 && v.integer == 0));
			}
			break;
		case DES_VALUE_FLOAT:
			{
				/* the same double as strtod (the fast path must round as it does) */
				char	   *z = strndup((const char *) data, size);

				REQUIRE(isfinite(v.number));
				REQUIRE(z != NULL && v.number == strtod(z, NULL));
				free(z);
			}
			break;
		case DES_VALUE_DATE:
			REQUIRE(v.month >= 1 && v.month <= 12 && v.day >= 1 && v.day <= 31 && v.year >= 1 && v.year <= 9999);
			REQUIRE(v.number == (double) des_days_from_civil(v.year, v.month, v.day) * 86400.0);
			break;
		case DES_VALUE_DATETIME:
			REQUIRE(isfinite(v.number));
			REQUIRE(fabs(v.number - (double) des_days_from_civil(v.year, v.month, v.day) * 86400.0) <= 2 * 86400.0);
			break;
		default:
			break;
	}
	free(copy);
	return 0;
}
