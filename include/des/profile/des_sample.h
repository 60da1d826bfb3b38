/*
 * des_sample.h - seeded random sampling for the dataset profiler
 * (PostgreSQL-free): a small pseudo-random generator (splitmix64: seeded, so
 * a profile of the same bytes is the same profile), and reservoir sampling
 * by Li's Algorithm L (1994), which draws random numbers only when an item
 * is taken: O(k (1 + log(n / k))) draws for n items, so a 1 GiB file costs
 * a few thousand draws, not one per row.
 *
 * A reservoir of capacity k keeps a uniform random sample of k items of a
 * stream of unknown length: des_reservoir_offer says, for each new item,
 * whether it is kept and in which slot (the caller owns the slots).
 *
 * Thread-safe: no global state.
 */
#ifndef DES_SAMPLE_H
#define DES_SAMPLE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct des_random
{
	uint64_t	state;
} des_random;

extern void des_random_seed(des_random *r, uint64_t seed);
extern uint64_t des_random_next(des_random *r);
/* Uniform in (0, 1): never 0, so its logarithm is finite. */
extern double des_random_unit(des_random *r);
/* Uniform in [0, n) (n > 0), without modulo bias. */
extern uint64_t des_random_below(des_random *r, uint64_t n);

typedef struct des_reservoir
{
	uint32_t	capacity;		/* k */
	uint64_t	seen;			/* items offered */
	uint64_t	next;			/* the 1-based number of the next item taken once full */
	double		w;				/* Algorithm L's running weight */
	des_random	random;
} des_reservoir;

extern void des_reservoir_init(des_reservoir *s, uint32_t capacity, uint64_t seed);
/*
 * Offer the next item: -1 when it is not kept, else the slot (0 to
 * capacity - 1) it goes into, replacing what was there. The first capacity
 * items fill slots 0, 1, ... in order.
 */
extern int64_t des_reservoir_offer(des_reservoir *s);
/* How many slots hold an item: min(seen, capacity). */
extern uint32_t des_reservoir_size(const des_reservoir *s);

#endif
