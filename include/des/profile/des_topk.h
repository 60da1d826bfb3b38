/*
 * des_topk.h - the most frequent values of a column for the dataset
 * profiler (PostgreSQL-free): the Space-Saving algorithm (Metwally, Agrawal
 * and El Abbadi, 2005) over m counters, in memory bounded by m whatever the
 * number of values.
 *
 * Guarantees, after N values: every value that occurred more than N / m
 * times holds a counter; a counter's count is at least the value's true
 * count and at most its true count plus its error (the count of the counter
 * it replaced). Values are identified by their 64-bit hash (XXH3) and
 * length; each counter keeps the first DES_TOPK_TEXT_MAX bytes of its value
 * for display (Auctus truncates sample values to 140 characters too).
 *
 * Thread-safe: no global state.
 */
#ifndef DES_TOPK_H
#define DES_TOPK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "des/common/des_error.h"

#define DES_TOPK_MIN_COUNTERS 4
#define DES_TOPK_MAX_COUNTERS 4096
#define DES_TOPK_DEFAULT_COUNTERS 64
#define DES_TOPK_TEXT_MAX 140

typedef struct des_topk_counter
{
	uint64_t	hash;
	uint64_t	len;			/* the value's full length */
	uint64_t	count;			/* at least the true count */
	uint64_t	error;			/* count - error is at most the true count */
	uint32_t	text_len;		/* bytes kept: min(len, DES_TOPK_TEXT_MAX) */
	char		text[DES_TOPK_TEXT_MAX];
} des_topk_counter;

typedef struct des_topk
{
	uint32_t	m;				/* counters */
	uint32_t	used;
	uint64_t	total;			/* values added */
	des_topk_counter *counters;
	uint32_t   *least;			/* counters that had the least count (see des_topk.c) */
	uint32_t	nleast;
	uint64_t	least_count;
	uint32_t   *index;			/* hash -> counter + 1 (0: empty), open addressing */
	uint32_t	slots;			/* of index: a power of two, at least 4m */
} des_topk;

extern bool des_topk_init(des_topk *t, int m, des_error *err);
extern void des_topk_free(des_topk *t);
extern void des_topk_add(des_topk *t, const void *value, size_t len);
/* The same with the value's des_sketch_hash already computed. */
extern void des_topk_add_hashed(des_topk *t, const void *value, size_t len, uint64_t hash);
/* Up to n counters, most frequent first (ties: smaller error, then bytes), into out; how many. */
extern size_t des_topk_top(const des_topk *t, size_t n, des_topk_counter *out);

#endif
