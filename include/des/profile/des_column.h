/*
 * des_column.h - the running statistics of one column for the dataset
 * profiler (PostgreSQL-free): fed each value's text once, in bounded memory
 * (the sketches' fixed size), whatever the number of rows.
 *
 * Kept: how many values of each kind (des_value.h); for numbers (integers
 * and floats) their count, minimum, maximum, mean and variance (Welford's
 * updates, stable for long columns); for dates and date-times their earliest
 * and latest instants; how many texts have four words or more (free text,
 * Auctus's rule); the distinct count (HyperLogLog) and the MinHash of the
 * non-missing values' bytes. From them, the structural type: the kind at
 * least `threshold` (0.98 by default, Auctus's) of the non-missing values
 * have, integers counting as floats when floats are needed, dates as
 * date-times; else text.
 *
 * Thread-safe: no global state.
 */
#ifndef DES_COLUMN_H
#define DES_COLUMN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "des/common/des_error.h"
#include "des/profile/des_sketch.h"
#include "des/profile/des_value.h"

#define DES_COLUMN_DEFAULT_THRESHOLD 0.98

typedef struct des_column_options
{
	int			hll_p;			/* DES_HLL_DEFAULT_P */
	int			minhash_k;		/* DES_MINHASH_DEFAULT_K */
	int			value_options;	/* des_value_classify's */
} des_column_options;

extern des_column_options des_column_options_default(void);

typedef struct des_column_stats
{
	uint64_t	values;			/* every value given, missing ones included */
	uint64_t	kinds[DES_VALUE_TEXT + 1];	/* by des_value_kind */
	uint64_t	numbers;		/* integers and floats */
	double		num_min,
				num_max,
				num_mean,
				num_m2;			/* Welford: sum of squared differences from the mean */
	uint64_t	instants;		/* dates and date-times */
	double		time_min,
				time_max;		/* seconds since 1970-01-01 UTC */
	uint64_t	words4;			/* texts of four words or more */
	int			value_options;
	des_hll		distinct;
	des_minhash minhash;
} des_column_stats;

extern bool des_column_init(des_column_stats *c, const des_column_options *o, des_error *err);
extern void des_column_free(des_column_stats *c);
extern void des_column_add(des_column_stats *c, const char *text, size_t len);
/* The same with the value already classified (with c's value options) and hashed (des_sketch_hash). */
extern void des_column_add_classified(des_column_stats *c, const char *text, size_t len, const des_value *value,
									  uint64_t hash);

/* Non-missing values; their share of all values that were missing (0 with no value). */
extern uint64_t des_column_present(const des_column_stats *c);
extern double des_column_missing_ratio(const des_column_stats *c);
/* The structural type (MISSING when every value is missing). */
extern des_value_kind des_column_structural_type(const des_column_stats *c, double threshold);
/* The population standard deviation of the numbers (0 with fewer than two). */
extern double des_column_stddev(const des_column_stats *c);
/* Free text: at least half of the non-missing values have four words or more. */
extern bool des_column_is_free_text(const des_column_stats *c);

#endif
