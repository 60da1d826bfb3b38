/*
 * des_topk.c - Space-Saving top values (see des_topk.h). Counters are
 * found by hash through a small open-addressing index, so a hit costs one
 * probe and an increment, and a miss takes a least counted counter from a
 * stack refilled by an occasional scan (see pop_least), where a scan of all
 * m counters for every value cost m comparisons in a column with many
 * distinct values.
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
	/* an index of at least 4m slots keeps linear probes short */
	t->slots = 16;
	while (t->slots < 4 * (uint32_t) m)
		t->slots *= 2;
	t->counters = calloc((size_t) m, sizeof(des_topk_counter));
	t->least = calloc((size_t) m, sizeof(uint32_t));
	t->index = calloc(t->slots, sizeof(uint32_t));
	if (t->counters == NULL || t->least == NULL || t->index == NULL)
	{
		des_topk_free(t);
		return des_fail(err, DES_E_NOMEM, "out of memory for %d top-value counters", m);
	}
	t->m = (uint32_t) m;
	return true;
}

void
des_topk_free(des_topk *t)
{
	free(t->counters);
	free(t->least);
	free(t->index);
	t->counters = NULL;
	t->least = t->index = NULL;
}

static void
set_value(des_topk_counter *c, uint64_t hash, const void *value, size_t len)
{
	c->hash = hash;
	c->len = len;
	c->text_len = (uint32_t) (len < DES_TOPK_TEXT_MAX ? len : DES_TOPK_TEXT_MAX);
	memcpy(c->text, value, c->text_len);
}

/* ---- the index: hash -> counter, open addressing with linear probing (slot value: counter + 1) ---- */

static uint32_t
index_find(const des_topk *t, uint64_t hash, uint64_t len)
{
	uint32_t	mask = t->slots - 1;

	for (uint32_t s = (uint32_t) hash & mask;; s = (s + 1) & mask)
	{
		uint32_t	c = t->index[s];

		if (c == 0)
			return UINT32_MAX;
		if (t->counters[c - 1].hash == hash && t->counters[c - 1].len == len)
			return c - 1;
	}
}

static void
index_insert(des_topk *t, uint32_t counter)
{
	uint32_t	mask = t->slots - 1;
	uint32_t	s = (uint32_t) t->counters[counter].hash & mask;

	while (t->index[s] != 0)
		s = (s + 1) & mask;
	t->index[s] = counter + 1;
}

/* remove a counter's slot, shifting later slots of its probe run back (no tombstones) */
static void
index_remove(des_topk *t, uint32_t counter)
{
	uint32_t	mask = t->slots - 1;
	uint32_t	s = (uint32_t) t->counters[counter].hash & mask;

	while (t->index[s] != counter + 1)
		s = (s + 1) & mask;
	for (uint32_t next = (s + 1) & mask; t->index[next] != 0; next = (next + 1) & mask)
	{
		uint32_t	home = (uint32_t) t->counters[t->index[next] - 1].hash & mask;

		/* the entry at next may move to s if s lies on its probe path from home */
		if (((next - home) & mask) >= ((next - s) & mask))
		{
			t->index[s] = t->index[next];
			s = next;
		}
	}
	t->index[s] = 0;
}

/*
 * ---- the least counted: a stack of counters that had the least count ----
 * Counts only grow, so the least count only grows too: a counter still at
 * the least count when popped is a true minimum, one that grew since is
 * dropped, and an empty stack is refilled by one scan with every counter at
 * the new least count (many, in the streams where misses are frequent).
 */
static uint32_t
pop_least(des_topk *t)
{
	for (;;)
	{
		while (t->nleast > 0)
		{
			uint32_t	c = t->least[--t->nleast];

			if (t->counters[c].count == t->least_count)
				return c;
		}
		t->least_count = UINT64_MAX;
		for (uint32_t i = 0; i < t->used; i++)
			if (t->counters[i].count < t->least_count)
				t->least_count = t->counters[i].count;
		for (uint32_t i = 0; i < t->used; i++)
			if (t->counters[i].count == t->least_count)
				t->least[t->nleast++] = i;
	}
}

void
des_topk_add(des_topk *t, const void *value, size_t len)
{
	des_topk_add_hashed(t, value, len, des_sketch_hash(value, len));
}

void
des_topk_add_hashed(des_topk *t, const void *value, size_t len, uint64_t h)
{
	uint32_t	c = index_find(t, h, len);

	t->total++;
	if (c != UINT32_MAX)
	{
		t->counters[c].count++;
		return;
	}
	if (t->used < t->m)
	{
		c = t->used++;
		set_value(&t->counters[c], h, value, len);
		t->counters[c].count = 1;
		t->counters[c].error = 0;
		index_insert(t, c);
		/* the stack is refilled by a scan when next needed */
		t->nleast = 0;
		return;
	}
	/* all taken: a least counted one is replaced, its count the new value's error */
	c = pop_least(t);
	index_remove(t, c);
	t->counters[c].error = t->counters[c].count;
	t->counters[c].count++;
	set_value(&t->counters[c], h, value, len);
	index_insert(t, c);
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
