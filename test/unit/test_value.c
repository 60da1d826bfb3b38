/*
 * test_value.c - unit tests of the profiler's value classifier (profile
 * area): every kind and the forms it must and must not take, numbers against
 * strtod/strtoll, dates and date-times against the C library's timegm (an
 * independent calendar), every day of 1900-2100, surrounding blanks, bytes
 * that are not text.
 *
 * Usage: test_value. Prints "value: N passed, N failed".
 */
#define _GNU_SOURCE
#include "unit.h"
#include "des/profile/des_value.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int			unit_passed,
			unit_failed;

static des_value
classify(const char *s, int options)
{
	des_value	v;

	des_value_classify(s, strlen(s), options, &v);
	return v;
}

static void
expect_kind(const char *s, des_value_kind kind, int options)
{
	des_value	v = classify(s, options);

	CHECK(v.kind == kind, "\"%s\" is %s, not %s", s, des_value_kind_name(v.kind), des_value_kind_name(kind));
}

static double
utc(int y, int m, int d, int hh, int mm, int ss)
{
	struct tm	t = {0};

	t.tm_year = y - 1900;
	t.tm_mon = m - 1;
	t.tm_mday = d;
	t.tm_hour = hh;
	t.tm_min = mm;
	t.tm_sec = ss;
	return (double) timegm(&t);
}

int
main(void)
{
	static const char *missing[] = {"", " ", "\t", "NA", "na", "N/A", "n/a", "NaN", "null", "NULL", "None", "nil", "-", "?", "  null  "};
	static const char *booleans_true[] = {"true", "TRUE", "True", "yes", "Y", "t"};
	static const char *booleans_false[] = {"false", "No", "F", "n"};
	static const char *texts[] = {"007", "00", "1,234", "1.2.3", "v1.2", "abc", "1e", "e5", "--1", "+-1", "1-2", "0x1F",
		"inf", "infinity", "12:30", "2023-02-29", "2023-13-01", "2023-00-10", "2023-01-32", "2023/01-02", "31.02.2024",
		"2024-01-01T25:00", "2024-01-01T10:60", "2024-01-01 10:00 UTC", "2024-01-01T10:00+25:00", "2024-01-01T10:00:00.",
		"20240101T", "1 2", "yes please", "1.0.", "."};
	des_value	v;
	char		buf[64];

	for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++)
		expect_kind(missing[i], DES_VALUE_MISSING, 0);
	for (size_t i = 0; i < sizeof(booleans_true) / sizeof(booleans_true[0]); i++)
	{
		v = classify(booleans_true[i], 0);
		CHECK(v.kind == DES_VALUE_BOOLEAN && v.boolean, "\"%s\" is true", booleans_true[i]);
	}
	for (size_t i = 0; i < sizeof(booleans_false) / sizeof(booleans_false[0]); i++)
	{
		v = classify(booleans_false[i], 0);
		CHECK(v.kind == DES_VALUE_BOOLEAN && !v.boolean, "\"%s\" is false", booleans_false[i]);
	}
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		expect_kind(texts[i], DES_VALUE_TEXT, 0);

	/* integers against strtoll, floats against strtod */
	{
		static const char *ints[] = {"0", "-0", "7", "-42", "+42", "123456789012345678", "-999999999999999999"};
		static const char *floats[] = {"1.5", "-0.25", ".5", "5.", "1e3", "1E-3", "-2.5e+10", "3.14159265358979",
			"1234567890123456789", "0.0"};

		for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		{
			v = classify(ints[i], 0);
			CHECK(v.kind == DES_VALUE_INTEGER && v.integer == strtoll(ints[i], NULL, 10) &&
				  v.number == (double) strtoll(ints[i], NULL, 10), "\"%s\" is the integer %lld", ints[i],
				  (long long) strtoll(ints[i], NULL, 10));
		}
		for (size_t i = 0; i < sizeof(floats) / sizeof(floats[0]); i++)
		{
			v = classify(floats[i], 0);
			CHECK(v.kind == DES_VALUE_FLOAT && v.number == strtod(floats[i], NULL), "\"%s\" is the float %g", floats[i],
				  strtod(floats[i], NULL));
		}
		/* the fast path for up to 15 digits is exact: 200,000 random decimals against strtod */
		{
			uint64_t	x = 88172645463325252ULL;
			int			bad = 0;
			char		buf[40];

			for (int i = 0; i < 200000; i++)
			{
				int			digits,
							point,
							n = 0;

				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				digits = 1 + (int) (x % 17);
				point = (int) ((x >> 8) % (uint64_t) (digits + 1));
				if ((x >> 16) & 1)
					buf[n++] = '-';
				for (int d = 0; d < digits; d++)
				{
					if (d == point)
						buf[n++] = '.';
					x ^= x << 13, x ^= x >> 7, x ^= x << 17;
					buf[n++] = (char) ('0' + x % 10);
				}
				if (point == digits)
					buf[n++] = '.';
				buf[n] = '\0';
				v = classify(buf, 0);
				if (v.kind == DES_VALUE_FLOAT && v.number != strtod(buf, NULL))
				{
					if (bad++ < 5)
						printf("\"%s\": %.17g, strtod %.17g\n", buf, v.number, strtod(buf, NULL));
				}
			}
			CHECK(bad == 0, "%d of 200,000 decimals differ from strtod", bad);
		}
		expect_kind("1e999", DES_VALUE_TEXT, 0);	/* not finite */
		v = classify("  12  ", 0);
		CHECK(v.kind == DES_VALUE_INTEGER && v.integer == 12, "blanks around are ignored");
	}

	/* every day of 1900-2100 in the dash form, and a sample in the others, against timegm */
	{
		int			bad = 0,
					days = 0;

		for (int y = 1900; y <= 2100; y++)
			for (int m = 1; m <= 12; m++)
				for (int d = 1; d <= 31; d++)
				{
					struct tm	t = {0};
					bool		real;

					t.tm_year = y - 1900;
					t.tm_mon = m - 1;
					t.tm_mday = d;
					timegm(&t);
					real = t.tm_mday == d;	/* timegm normalises an invalid day into the next month */
					snprintf(buf, sizeof(buf), "%04d-%02d-%02d", y, m, d);
					v = classify(buf, 0);
					if (real != (v.kind == DES_VALUE_DATE) || (real && v.number != utc(y, m, d, 0, 0, 0)))
						bad++;
					days += real;
				}
		CHECK(bad == 0, "%d of the days 1900-2100 classified or placed wrongly", bad);
		CHECK(days == 73414, "%d real days in 1900-2100", days);
	}
	v = classify("2024/02/29", 0);
	CHECK(v.kind == DES_VALUE_DATE && v.number == utc(2024, 2, 29, 0, 0, 0) && v.year == 2024 && v.month == 2 && v.day == 29,
		  "YYYY/MM/DD");
	v = classify("29.02.2024", 0);
	CHECK(v.kind == DES_VALUE_DATE && v.number == utc(2024, 2, 29, 0, 0, 0), "DD.MM.YYYY");
	expect_kind("20240229", DES_VALUE_INTEGER, 0);
	v = classify("20240229", DES_VALUE_COMPACT_DATES);
	CHECK(v.kind == DES_VALUE_DATE && v.number == utc(2024, 2, 29, 0, 0, 0), "YYYYMMDD when asked");
	expect_kind("30240229", DES_VALUE_INTEGER, DES_VALUE_COMPACT_DATES);
	expect_kind("20230229", DES_VALUE_INTEGER, DES_VALUE_COMPACT_DATES);	/* not a day: an integer */

	/* date-times, with and without offsets */
	v = classify("2024-03-01T12:34:56Z", 0);
	CHECK(v.kind == DES_VALUE_DATETIME && v.has_offset && v.number == utc(2024, 3, 1, 12, 34, 56), "ISO with Z");
	v = classify("2024-03-01 12:34", 0);
	CHECK(v.kind == DES_VALUE_DATETIME && !v.has_offset && v.number == utc(2024, 3, 1, 12, 34, 0), "with a space, no seconds");
	v = classify("2024-03-01T12:34:56.250+02:00", 0);
	CHECK(v.kind == DES_VALUE_DATETIME && fabs(v.number - (utc(2024, 3, 1, 10, 34, 56) + 0.25)) < 1e-6,
		  "a fraction and an offset east: %.3f", v.number);
	v = classify("2024-03-01T23:30-0530", 0);
	CHECK(v.kind == DES_VALUE_DATETIME && v.number == utc(2024, 3, 2, 5, 0, 0), "an offset west without a colon");
	v = classify("2024-03-01T00:00:00+05", 0);
	CHECK(v.kind == DES_VALUE_DATETIME && v.number == utc(2024, 2, 29, 19, 0, 0), "an offset in hours");
	CHECK(v.year == 2024 && v.month == 3 && v.day == 1, "the date as written");

	/* bytes that are not text */
	{
		static const char nul_inside[] = {'1', '\0', '2'};
		static const char high[] = {'1', (char) 0xff};

		des_value_classify(nul_inside, sizeof(nul_inside), 0, &v);
		CHECK(v.kind == DES_VALUE_TEXT, "a NUL inside: text");
		des_value_classify(high, sizeof(high), 0, &v);
		CHECK(v.kind == DES_VALUE_TEXT, "a high byte: text");
		des_value_classify(NULL, 0, 0, &v);
		CHECK(v.kind == DES_VALUE_MISSING, "no bytes: missing");
	}
	CHECK(des_days_from_civil(1970, 1, 1) == 0 && des_days_from_civil(2000, 3, 1) == 11017 &&
		  des_days_from_civil(1, 1, 1) == -719162, "days from 1970-01-01");
	printf("value: %d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}
