/*
 * des_cluster.h - where a column's values lie, for the dataset profiler
 * (PostgreSQL-free): up to three ranges (1-D: numbers, instants) or
 * bounding boxes (2-D: longitude, latitude) around a sample of points, as
 * Auctus reports coverage: k-means with k-means++ seeding from a seeded
 * generator (the same points give the same boxes), then clusters that
 * nearly touch merged back into one.
 *
 * Thread-safe: no global state.
 */
#ifndef DES_CLUSTER_H
#define DES_CLUSTER_H

#include <stdint.h>

#define DES_CLUSTER_MAX 3				/* ranges or boxes at most */
#define DES_CLUSTER_MIN_POINTS 20		/* fewer points: one box */

typedef struct des_box
{
	double		lo[2],
				hi[2];
	uint32_t	n;				/* points in it */
} des_box;

/*
 * Boxes around n points of dim 1 or 2 (pts: n x dim doubles), in increasing
 * order of their low first coordinate; assign (n bytes) is scratch space,
 * left holding each point's cluster. Returns how many boxes (0 when n is 0).
 */
extern int	des_cluster_boxes(const double *pts, uint32_t n, int dim, uint64_t seed, des_box *out, uint8_t *assign);

#endif
