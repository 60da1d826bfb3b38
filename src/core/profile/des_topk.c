/*
 * des_topk.c - Space-Saving top values (see des_topk.h). Counters are
 * looked up by a linear scan of their hashes: m is small (64 by default),
 * and the scan is over one array of 64-bit words.
 */
#include "des/profile/des_topk.h"
#include "des/profile/des_sketch.h"

#include <stdlib.h>
#include <string.h>

bool
des_topk_init(des_topk *t, int m, des_error *err)
{
	memset(t, 0, sizeof(*t));
	if (m < DES_TOPK_MIN_COUNTERS || m > DES_TOPK_MAX_COUNTERS)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "%d top-value counters is outside %d to %d", m,
						DES_TOPK_MIN_COUNTERS, DES_TOPK_MAX_COUNTERS);
	t->counters = calloc((size_t) m, sizeof(des_topk_counter));
	if (t->counters == NULL)
		return des_fail(err, DES_E_NOMEM, "out of memory for %d top-value counters", m);
	t->m = (uint32_t) m;
	return true;
}

void
des_topk_free(des_topk *t)
{
	free(t->counters);
	t->counters = NULL;
}

static void
set_value(des_topk_counter *c, uint64_t hash, const void *value, size_t len)
{
	c->hash = hash;
	c->len = len;
	c->text_len = (uint32_t) (len < DES_TOPK_TEXT_MAX ? len : DES_TOPK_TEXT_MAX);
	memcpy(c->text, value, c->text_len);
}

void
des_topk_add(des_topk *t, const void *value, size_t len)
{
	uint64_t	h = des_sketch_hash(value, len);
	des_topk_counter *min = NULL;

	t->total++;
	for (uint32_t i = 0; i < t->used; i++)
	{
		des_topk_counter *c = &t->counters[i];

		if (c->hash == h && c->len == len)
		{
			c->count++;
			return;
		}
		if (min == NULL || c->count < min->count)
			min = c;
	}
	if (t->used < t->m)
	{
		des_topk_counter *c = &t->counters[t->used++];

		set_value(c, h, value, len);
		c->count = 1;
		c->error = 0;
		return;
	}
	/* all taken: the least counted is replaced, its count the new value's error */
	min->error = min->count;
	min->count++;
	set_value(min, h, value, len);
}

static int
cmp_counter(const void *a, const void *b)
{
	const des_topk_counter *x = a,
			   *y = b;
	uint32_t	n;
	int			c;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if (x->error != y->error)
		return x->error < y->error ? -1 : 1;
	n = x->text_len < y->text_len ? x->text_len : y->text_len;
	c = memcmp(x->text, y->text, n);
	if (c != 0)
		return c;
	return x->text_len < y->text_len ? -1 : x->text_len > y->text_len ? 1 : 0;
}

size_t
des_topk_top(const des_topk *t, size_t n, des_topk_counter *out)
{
	des_topk_counter *all;
	size_t		k = n < t->used ? n : t->used;

	if (k == 0)
		return 0;
	all = malloc(sizeof(des_topk_counter) * t->used);
	if (all == NULL)
		return 0;
	memcpy(all, t->counters, sizeof(des_topk_counter) * t->used);
	qsort(all, t->used, sizeof(des_topk_counter), cmp_counter);
	memcpy(out, all, sizeof(des_topk_counter) * k);
	free(all);
	return k;
}
