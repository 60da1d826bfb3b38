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
	printf("topk: %d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}
