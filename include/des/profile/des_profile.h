/*
 * des_profile.h - the dataset profiler (PostgreSQL-free): rows in, a
 * profile out, in one streaming pass and bounded memory.
 *
 * Rows come from a CSV/TSV stream (des_profile_csv_*: the sniffed dialect,
 * the whole file or seeded random windows of it) or from any other reader
 * that hands over rows of fields (des_profile_add_row: tables read through
 * SPI, JSON lines). For every column it keeps des_column's statistics, the
 * top values and top words (Space-Saving), a seeded reservoir of numbers and
 * one of instants (histograms, coverage ranges), counts of the semantic
 * patterns (des_semantic.h), and the finest time unit written; for the
 * dataset, a seeded reservoir of rows (the sample) and of the points of each
 * latitude/longitude pair and WKT point column (spatial coverage).
 *
 * des_profile_json writes the profile in the shape of Auctus's metadata
 * (nb_rows, nb_profiled_rows, columns[] with structural_type,
 * semantic_types, missing_values_ratio, num_distinct_values, mean, stddev,
 * coverage, plot, ...; spatial_coverage, temporal_coverage, sample,
 * attribute_keywords, types), so Auctus's clients read it. docs/profiling.md
 * says how each field is computed and how exact it is.
 *
 * Memory: about 40 KiB per column at the defaults (HyperLogLog 16 KiB,
 * top values and words 2 x 11 KiB, reservoirs 2 x 8 KiB, MinHash 1 KiB),
 * plus the sample rows; columns beyond max_columns are an error.
 *
 * Not thread-safe per profile (one profile, one thread); no global state.
 */
#ifndef DES_PROFILE_H
#define DES_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "des/common/des_error.h"
#include "des/profile/des_column.h"
#include "des/profile/des_csv.h"

typedef struct des_profile_options
{
	double		type_threshold;		/* 0.98: share of non-missing values a type needs */
	double		categorical_ratio;	/* 0.10: categorical when distinct <= ratio x non-missing */
	double		free_text_ratio;	/* 0.5: free text when this share has 4+ words */
	int			hll_p;				/* DES_HLL_DEFAULT_P */
	int			minhash_k;			/* DES_MINHASH_DEFAULT_K */
	int			topk_counters;		/* DES_TOPK_DEFAULT_COUNTERS */
	uint32_t	sample_rows;		/* 20 */
	uint32_t	histogram_bins;		/* 10 */
	uint32_t	reservoir;			/* 1024 numbers (and instants, points) kept per column */
	uint32_t	max_columns;		/* 2048 */
	uint64_t	seed;				/* 0: the profile of the same rows is the same */
	int			value_options;		/* des_value_classify's */
	des_csv_limits csv_limits;
} des_profile_options;

extern des_profile_options des_profile_options_default(void);

typedef struct des_profile des_profile;

extern des_profile *des_profile_create(const des_profile_options *o, des_error *err);
extern void des_profile_destroy(des_profile *p);

/*
 * The column names (before any row). Without them the first row decides the
 * column count and the names are "column 1", "column 2", ...
 */
extern bool des_profile_set_columns(des_profile *p, const char *const *names, const size_t *lens, uint32_t n,
									des_error *err);

/*
 * One row: n fields laid out as in a CSV record (offsets into data). Missing
 * trailing fields are missing values; extra fields are ignored, and both
 * count as ragged rows. A field that is NULL in the source has len 0 and
 * quoted false (a quoted "" is an empty string, which is missing too).
 */
extern bool des_profile_add_row(des_profile *p, const unsigned char *data, const des_csv_field *fields, uint32_t n,
								des_error *err);

/*
 * CSV: a contiguous window of the file starting at byte offset, fed in
 * pieces. At offset 0 the dialect's header (if any) names the columns;
 * windows elsewhere start after their first line break. at_eof: the window
 * reaches the end of the file (its last record counts); else the record the
 * window cuts is dropped.
 */
extern bool des_profile_csv_begin(des_profile *p, const des_csv_dialect *d, uint64_t offset, des_error *err);
extern bool des_profile_csv_feed(des_profile *p, const void *data, size_t len, des_error *err);
extern bool des_profile_csv_end(des_profile *p, bool at_eof, des_error *err);
/*
 * For rows given with des_profile_add_row from windows of a file (JSON
 * lines): count one row's bytes, and close a window, so that
 * des_profile_finish(p, total_bytes) can estimate the row count.
 */
extern void des_profile_count_row_bytes(des_profile *p, uint64_t bytes);
extern void des_profile_end_window(des_profile *p);

/* Where the last CSV error was (after a false return), 0 when none. */
extern uint64_t des_profile_csv_error_line(const des_profile *p);

/*
 * No more rows. total_bytes: the size of the whole source when only part of
 * it was read (the row count is then estimated from the bytes per row, with
 * 95% bounds); 0 when every row was read.
 */
extern bool des_profile_finish(des_profile *p, uint64_t total_bytes, des_error *err);

/*
 * After des_profile_finish: the source's row count as the caller knows or
 * estimated it (a table read by a sample of its pages: the table's count,
 * with its bounds), in place of the profile's own.
 */
extern void des_profile_set_row_estimate(des_profile *p, double rows, double low, double high);

/* The profile as one JSON object (ASCII, compact), appended to out. After des_profile_finish. */
extern bool des_profile_json(des_profile *p, des_buf *out, des_error *err);

/* For the catalog: the columns, their statistics (HyperLogLog and MinHash included), rows read. */
extern uint32_t des_profile_column_count(const des_profile *p);
extern const char *des_profile_column_name(const des_profile *p, uint32_t i, size_t *len);
extern const des_column_stats *des_profile_column_stats(const des_profile *p, uint32_t i);
extern uint64_t des_profile_rows(const des_profile *p);

#endif
