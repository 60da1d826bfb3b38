/*
 * test_topk.c - unit tests of the Space-Saving top values (profile area):
 * the frequent values of a stream buried in noise come out first, in order,
 * with counts that bracket the true ones (count - error <= true <= count);
 * a stream with fewer values than counters is counted exactly; long values
 * are kept truncated but counted by their whole bytes; limits.
 *
 * Usage: test_topk. Prints "topk: N passed, N failed".
 */
#include "unit.h"
#include "des/profile/des_topk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int			unit_passed,
			unit_failed;

/* N of a counter holding "value-N" (its text is not NUL-terminated) */
static int
value_number(const des_topk_counter *c)
{
	char		s[DES_TOPK_TEXT_MAX + 1];

	memcpy(s, c->text, c->text_len);
	s[c->text_len] = '\0';
	return atoi(s + 6);
}

int
main(void)
{
	des_topk	t;
	des_topk_counter top[8];
	des_error	err;
	char		buf[200];
	static const char *names[] = {"a", "b", "c", "d", "e"};
	static const uint64_t freq[] = {5000, 3000, 1000, 800, 500};
	uint64_t	left[5];
	size_t		n;

	/* five frequent values interleaved with 20,000 values seen once, 64 counters */
	CHECK(des_topk_init(&t, 64, &err), "init: %s", err.message);
	memcpy(left, freq, sizeof(left));
	for (int i = 0; i < 20000; i++)
	{
		snprintf(buf, sizeof(buf), "noise-%d", i);
		des_topk_add(&t, buf, strlen(buf));
		for (int k = 0; k < 5; k++)
			if (left[k] > 0 && (i % 2 == 0 || k == 0))
			{
				des_topk_add(&t, names[k], 1);
				left[k]--;
			}
	}
	for (int k = 0; k < 5; k++)
		for (; left[k] > 0; left[k]--)
			des_topk_add(&t, names[k], 1);
	CHECK(t.total == 20000 + 10300, "total %llu", (unsigned long long) t.total);
	n = des_topk_top(&t, 5, top);
	CHECK(n == 5, "five top values: %zu", n);
	for (int k = 0; k < 5 && k < (int) n; k++)
	{
		CHECK(top[k].text_len == 1 && top[k].text[0] == names[k][0], "top %d is \"%s\": \"%.*s\"", k + 1, names[k],
			  (int) top[k].text_len, top[k].text);
		CHECK(top[k].count - top[k].error <= freq[k] && freq[k] <= top[k].count,
			  "\"%s\": %llu - %llu <= %llu <= %llu", names[k], (unsigned long long) top[k].count,
			  (unsigned long long) top[k].error, (unsigned long long) freq[k], (unsigned long long) top[k].count);
	}
	des_topk_free(&t);

	/* fewer distinct values than counters: exact */
	des_topk_init(&t, 8, &err);
	for (int i = 0; i < 1000; i++)
	{
		snprintf(buf, sizeof(buf), "v%d", i % 5);
		des_topk_add(&t, buf, strlen(buf));
	}
	des_topk_add(&t, "v4", 2);
	n = des_topk_top(&t, 8, top);
	CHECK(n == 5 && top[0].count == 201 && top[0].error == 0 && memcmp(top[0].text, "v4", 2) == 0,
		  "exact counts: %.*s %llu", (int) top[0].text_len, top[0].text, (unsigned long long) top[0].count);
	CHECK(top[1].count == 200 && memcmp(top[1].text, "v0", 2) == 0 && top[4].count == 200 &&
		  memcmp(top[4].text, "v3", 2) == 0, "ties ordered by bytes");
	des_topk_free(&t);

	/* a long value: kept truncated, counted whole (two long values differing past the kept bytes are two) */
	des_topk_init(&t, 4, &err);
	memset(buf, 'x', sizeof(buf));
	des_topk_add(&t, buf, 180);
	des_topk_add(&t, buf, 180);
	buf[170] = 'y';
	des_topk_add(&t, buf, 180);
	n = des_topk_top(&t, 4, top);
	CHECK(n == 2 && top[0].count == 2 && top[0].len == 180 && top[0].text_len == DES_TOPK_TEXT_MAX,
		  "long values: %zu counters, first %llu of length %llu kept %u", n, (unsigned long long) top[0].count,
		  (unsigned long long) top[0].len, top[0].text_len);
	CHECK(des_topk_top(&t, 0, top) == 0, "asking for none gives none");
	des_topk_free(&t);

	CHECK(!des_topk_init(&t, 3, &err) && err.code == DES_E_INVALID_ARGUMENT && t.counters == NULL, "3 counters refused");
	CHECK(!des_topk_init(&t, 5000, &err) && err.code == DES_E_INVALID_ARGUMENT, "5000 counters refused");
	des_topk_init(&t, 4, &err);
	CHECK(des_topk_top(&t, 4, top) == 0, "an empty stream has no top value");
	des_topk_free(&t);
	/*
	 * Skewed random streams (value v with weight 1/(v+1), 2,000 values,
	 * 100,000 draws) against exact counts, for several counter budgets: the
	 * counts add up to the stream, every counter brackets its value's true
	 * count, and every value above N/m holds a counter (the guarantees, with
	 * the index and heap doing what a scan did)
	 */
	for (int m = 4; m <= 256; m *= 4)
	{
		static uint64_t truth[2000];
		des_topk_counter all[256];
		uint64_t	x = 0x2545F4914F6CDD1DULL + (uint64_t) m,
					sum = 0;
		int			bad = 0,
					missing = 0;
		double		harmonic = 0;

		memset(truth, 0, sizeof(truth));
		for (int v = 0; v < 2000; v++)
			harmonic += 1.0 / (v + 1);
		des_topk_init(&t, m, &err);
		for (int i = 0; i < 100000; i++)
		{
			double		u,
						acc = 0;
			int			v = 0;

			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			u = (double) (x >> 11) / 9007199254740992.0 * harmonic;
			while (v < 1999 && (acc += 1.0 / (v + 1)) < u)
				v++;
			truth[v]++;
			n = (size_t) snprintf(buf, sizeof(buf), "value-%d", v);
			des_topk_add(&t, buf, n);
		}
		n = des_topk_top(&t, (size_t) m, all);
		for (size_t i = 0; i < n; i++)
		{
			int			v = value_number(&all[i]);

			sum += all[i].count;
			if (!(all[i].count - all[i].error <= truth[v] && truth[v] <= all[i].count))
				bad++;
		}
		for (int v = 0; v < 2000; v++)
			if (truth[v] > 100000 / (uint64_t) m)
			{
				bool		found = false;

				for (size_t i = 0; i < n; i++)
					found |= value_number(&all[i]) == v;
				missing += !found;
			}
		CHECK(n == (size_t) m && sum == 100000, "m=%d: %zu counters summing to %llu", m, n, (unsigned long long) sum);
		CHECK(bad == 0, "m=%d: %d counters do not bracket the true count", m, bad);
		CHECK(missing == 0, "m=%d: %d values above N/m without a counter", m, missing);
		des_topk_free(&t);
	}

	printf("topk: %d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}
