/*
 * des_cluster.c - coverage ranges and boxes by k-means (see des_cluster.h).
 */
#include "des/profile/des_cluster.h"
#include "des/profile/des_sample.h"

#include <math.h>
#include <string.h>

static double
box_extent(const des_box *b, int dim)
{
	double		e = 1;

	for (int d = 0; d < dim; d++)
		e *= b->hi[d] - b->lo[d];
	return e;
}

static double
sq_dist(const double *a, const double *b, int dim)
{
	double		s = 0;

	for (int d = 0; d < dim; d++)
		s += (a[d] - b[d]) * (a[d] - b[d]);
	return s;
}

/* no more than a tenth of the whole extent apart in every dimension */
static bool
boxes_close(const des_box *a, const des_box *b, const double *span, int dim)
{
	for (int d = 0; d < dim; d++)
	{
		double		gap = fmax(b->lo[d] - a->hi[d], a->lo[d] - b->hi[d]);

		if (gap > 0.1 * span[d])
			return false;
	}
	return true;
}

/*
 * Up to DES_CLUSTER_MAX boxes around n points of dim 1 or 2: k-means (k-means++
 * seeding, seeded generator, 20 rounds), then boxes merged while a union's
 * extent is at most 1.5 times the sum of the two (clusters that touch or
 * nearly so are one range), and while two are no more than a tenth of the
 * whole extent apart. Fewer than DES_CLUSTER_MIN_POINTS points make one box. Returns
 * the number of boxes.
 */
int
des_cluster_boxes(const double *pts, uint32_t n, int dim, uint64_t seed, des_box *out, uint8_t *assign)
{
	double		centers[DES_CLUSTER_MAX][2];
	double		span[2];
	int			k = 0,
				nb;
	des_random	r;

	if (n == 0)
		return 0;
	des_random_seed(&r, seed);
	memcpy(centers[k++], pts + dim * des_random_below(&r, n), sizeof(double) * dim);
	while (k < DES_CLUSTER_MAX && n >= DES_CLUSTER_MIN_POINTS)
	{
		double		total = 0,
					pick;
		uint32_t	chosen = 0;

		for (uint32_t i = 0; i < n; i++)
		{
			double		best = INFINITY;

			for (int c = 0; c < k; c++)
				best = fmin(best, sq_dist(pts + dim * i, centers[c], dim));
			total += best;
		}
		if (!(total > 0))
			break;				/* every point is on a center */
		pick = des_random_unit(&r) * total;
		for (uint32_t i = 0; i < n; i++)
		{
			double		best = INFINITY;

			for (int c = 0; c < k; c++)
				best = fmin(best, sq_dist(pts + dim * i, centers[c], dim));
			chosen = i;
			if ((pick -= best) <= 0)
				break;
		}
		memcpy(centers[k++], pts + dim * chosen, sizeof(double) * dim);
	}
	for (int round = 0; round < 20; round++)
	{
		double		sum[DES_CLUSTER_MAX][2] = {{0}};
		uint32_t	cnt[DES_CLUSTER_MAX] = {0};
		bool		moved = false;

		for (uint32_t i = 0; i < n; i++)
		{
			int			best = 0;

			for (int c = 1; c < k; c++)
				if (sq_dist(pts + dim * i, centers[c], dim) < sq_dist(pts + dim * i, centers[best], dim))
					best = c;
			moved |= round == 0 || assign[i] != best;
			assign[i] = (uint8_t) best;
			cnt[best]++;
			for (int d = 0; d < dim; d++)
				sum[best][d] += pts[dim * i + d];
		}
		for (int c = 0; c < k; c++)
			if (cnt[c] > 0)
				for (int d = 0; d < dim; d++)
					centers[c][d] = sum[c][d] / cnt[c];
		if (!moved)
			break;
	}
	nb = 0;
	for (int d = 0; d < dim; d++)
	{
		double		lo = INFINITY,
					hi = -INFINITY;

		for (uint32_t i = 0; i < n; i++)
		{
			lo = fmin(lo, pts[dim * i + d]);
			hi = fmax(hi, pts[dim * i + d]);
		}
		span[d] = hi - lo;
	}
	for (int c = 0; c < k; c++)
	{
		des_box		b = {{INFINITY, INFINITY}, {-INFINITY, -INFINITY}, 0};

		for (uint32_t i = 0; i < n; i++)
			if (assign[i] == c)
			{
				b.n++;
				for (int d = 0; d < dim; d++)
				{
					b.lo[d] = fmin(b.lo[d], pts[dim * i + d]);
					b.hi[d] = fmax(b.hi[d], pts[dim * i + d]);
				}
			}
		if (b.n > 0)
			out[nb++] = b;
	}
	for (bool merged = true; merged && nb > 1;)
	{
		merged = false;
		for (int a = 0; a < nb && !merged; a++)
			for (int b = a + 1; b < nb && !merged; b++)
			{
				des_box		u = out[a];

				for (int d = 0; d < dim; d++)
				{
					u.lo[d] = fmin(u.lo[d], out[b].lo[d]);
					u.hi[d] = fmax(u.hi[d], out[b].hi[d]);
				}
				u.n += out[b].n;
				if (box_extent(&u, dim) <= 1.5 * (box_extent(&out[a], dim) + box_extent(&out[b], dim))
					|| boxes_close(&out[a], &out[b], span, dim))
				{
					out[a] = u;
					out[b] = out[--nb];
					merged = true;
				}
			}
	}
	/* in increasing order of the first coordinate */
	for (int a = 1; a < nb; a++)
		for (int b = a; b > 0 && out[b].lo[0] < out[b - 1].lo[0]; b--)
		{
			des_box		t = out[b];

			out[b] = out[b - 1];
			out[b - 1] = t;
		}
	return nb;
}
