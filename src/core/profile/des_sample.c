/*
 * des_sample.c - seeded generator and Algorithm L reservoirs (see des_sample.h).
 */
#include "des/profile/des_sample.h"

#include <math.h>

void
des_random_seed(des_random *r, uint64_t seed)
{
	r->state = seed;
}

uint64_t
des_random_next(des_random *r)
{
	uint64_t	z = (r->state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

double
des_random_unit(des_random *r)
{
	/* 53 random bits, shifted off zero by half a step */
	return ((double) (des_random_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

uint64_t
des_random_below(des_random *r, uint64_t n)
{
	/* reject the top partial range so every residue is equally likely */
	uint64_t	limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t	x;

	do
		x = des_random_next(r);
	while (x >= limit);
	return x % n;
}

/* Algorithm L: the gap to the next item taken, then that item */
static void
schedule_next(des_reservoir *s)
{
	double		skip = floor(log(des_random_unit(&s->random)) / log1p(-s->w));

	/* w near 1 early on, tiny after very long streams: keep the arithmetic finite */
	if (!(skip >= 0) || skip > 1e18)
		skip = 1e18;
	s->next = s->seen + (uint64_t) skip + 1;
}

void
des_reservoir_init(des_reservoir *s, uint32_t capacity, uint64_t seed)
{
	s->capacity = capacity == 0 ? 1 : capacity;
	s->seen = 0;
	s->next = 0;
	s->w = 1.0;
	des_random_seed(&s->random, seed);
}

int64_t
des_reservoir_offer(des_reservoir *s)
{
	s->seen++;
	if (s->seen <= s->capacity)
	{
		if (s->seen == s->capacity)
		{
			s->w = exp(log(des_random_unit(&s->random)) / s->capacity);
			schedule_next(s);
		}
		return (int64_t) (s->seen - 1);
	}
	if (s->seen < s->next)
		return -1;
	s->w *= exp(log(des_random_unit(&s->random)) / s->capacity);
	schedule_next(s);
	return (int64_t) des_random_below(&s->random, s->capacity);
}

uint32_t
des_reservoir_size(const des_reservoir *s)
{
	return s->seen < s->capacity ? (uint32_t) s->seen : s->capacity;
}
