/*
 * des_profile.c - the dataset profiler (see des_profile.h; what each figure
 * means and how exact it is: docs/profiling.md).
 */
#include "des/profile/des_profile.h"
#include "des/common/des_utf8.h"
#include "des/profile/des_cluster.h"
#include "des/profile/des_sample.h"
#include "des/profile/des_semantic.h"
#include "des/profile/des_topk.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAMPLE_TEXT_MAX 140		/* characters of a sample value (Auctus's) */
#define TOP_SHOWN 5				/* values and words in a plot */

/* the finest unit a column's instants are written in */
#define TIME_SECOND 0x01
#define TIME_MINUTE 0x02
#define TIME_HOUR	0x04
#define TIME_DAY	0x08		/* a day of month other than 1 */
#define TIME_MONTH	0x10		/* a month other than January */

/* semantic pattern counters */
enum
{
	PAT_URL, PAT_EMAIL, PAT_FILENAME, PAT_POINT, PAT_ADMIN, PAT_COUNT
};

typedef struct value_sample
{
	des_reservoir res;
	double	   *v;				/* allocated when the first value arrives */
} value_sample;

typedef struct point_sample
{
	des_reservoir res;
	double	   *xy;				/* lon, lat pairs */
	uint64_t	points;
	double		lon_min,
				lon_max,
				lat_min,
				lat_max;
} point_sample;

typedef struct profile_column
{
	char	   *name;
	size_t		name_len;
	int			name_hints;		/* DES_NAME_* */
	des_column_stats stats;
	des_topk	values;			/* of non-float, non-instant values */
	des_topk	words;			/* of text values */
	uint64_t	patterns[PAT_COUNT];
	uint64_t	zero_one;		/* integers 0 and 1 (booleans for Auctus) */
	uint64_t	year_like;		/* integers 1000 to 2200 */
	uint64_t	in_lat_range,
				in_lon_range;
	unsigned	time_units;
	value_sample numbers;
	value_sample instants;
	point_sample points;		/* WKT points */
	/* this row's number, for latitude/longitude pairs */
	bool		row_has_number;
	double		row_number;
} profile_column;

typedef struct coordinate_pair
{
	uint32_t	lat,
				lon;
	point_sample points;
} coordinate_pair;

typedef struct sample_row
{
	uint64_t	row;			/* 1-based number of the row among those read */
	des_buf		csv;			/* the row as one CSV line, values truncated */
} sample_row;

struct des_profile
{
	des_profile_options o;
	uint32_t	ncolumns;
	bool		columns_set;
	profile_column *columns;
	coordinate_pair *pairs;
	uint32_t	npairs;
	uint64_t	rows;
	uint64_t	ragged;
	des_reservoir row_res;
	sample_row *sample;
	/* bytes per row, for the estimate when sampled (Welford) */
	uint64_t	sized_rows;
	double		row_bytes_mean,
				row_bytes_m2;
	uint64_t	header_bytes;
	/* per window: rows and bytes measured; across windows, Welford of their bytes per row */
	uint64_t	window_rows;
	double		window_bytes;
	uint64_t	sized_windows;
	double		window_mean,
				window_m2;
	/* CSV window state */
	des_csv_reader reader;
	bool		reader_open;
	bool		skip_to_newline;
	bool		header_pending;
	bool		window_has_record;
	uint64_t	prev_offset;
	uint64_t	window_offset;
	uint64_t	windows;
	uint64_t	csv_error_line;
	/* results of finish */
	bool		finished;
	bool		estimated;
	double		rows_estimate,
				rows_low,
				rows_high;
	des_buf		scratch;
};

des_profile_options
des_profile_options_default(void)
{
	des_profile_options o;

	memset(&o, 0, sizeof(o));
	o.type_threshold = DES_COLUMN_DEFAULT_THRESHOLD;
	o.categorical_ratio = 0.10;
	o.free_text_ratio = 0.5;
	o.hll_p = DES_HLL_DEFAULT_P;
	o.minhash_k = DES_MINHASH_DEFAULT_K;
	o.topk_counters = DES_TOPK_DEFAULT_COUNTERS;
	o.sample_rows = 20;
	o.histogram_bins = 10;
	o.reservoir = 1024;
	o.max_columns = 2048;
	o.seed = 0;
	o.value_options = 0;
	o.csv_limits = des_csv_limits_default();
	return o;
}

/* distinct, reproducible seeds for each reservoir */
static uint64_t
derive_seed(uint64_t seed, uint64_t which)
{
	des_random	r;

	des_random_seed(&r, seed ^ (which * UINT64_C(0x9e3779b97f4a7c15)));
	return des_random_next(&r);
}

des_profile *
des_profile_create(const des_profile_options *o, des_error *err)
{
	des_profile *p;

	if (!(o->type_threshold > 0 && o->type_threshold <= 1) || !(o->categorical_ratio >= 0 && o->categorical_ratio <= 1)
		|| !(o->free_text_ratio > 0 && o->free_text_ratio <= 1))
	{
		des_fail(err, DES_E_INVALID_ARGUMENT, "profile thresholds must be between 0 and 1");
		return NULL;
	}
	if (o->sample_rows > 10000 || o->histogram_bins < 1 || o->histogram_bins > 1000 || o->reservoir < 16
		|| o->reservoir > (1u << 20) || o->max_columns < 1 || o->max_columns > 100000)
	{
		des_fail(err, DES_E_INVALID_ARGUMENT,
				 "profile sizes out of range (sample rows <= 10000, bins 1 to 1000, reservoir 16 to 2^20, "
				 "columns 1 to 100000)");
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
	{
		des_fail(err, DES_E_NOMEM, "out of memory for a profile");
		return NULL;
	}
	p->o = *o;
	des_reservoir_init(&p->row_res, o->sample_rows == 0 ? 1 : o->sample_rows, derive_seed(o->seed, 1));
	if (o->sample_rows > 0)
	{
		p->sample = calloc(o->sample_rows, sizeof(sample_row));
		if (p->sample == NULL)
		{
			free(p);
			des_fail(err, DES_E_NOMEM, "out of memory for a profile");
			return NULL;
		}
	}
	return p;
}

static void
free_column(profile_column *c)
{
	free(c->name);
	des_column_free(&c->stats);
	des_topk_free(&c->values);
	des_topk_free(&c->words);
	free(c->numbers.v);
	free(c->instants.v);
	free(c->points.xy);
}

void
des_profile_destroy(des_profile *p)
{
	if (p == NULL)
		return;
	for (uint32_t i = 0; i < p->ncolumns; i++)
		free_column(&p->columns[i]);
	free(p->columns);
	for (uint32_t i = 0; i < p->npairs; i++)
		free(p->pairs[i].points.xy);
	free(p->pairs);
	if (p->sample)
		for (uint32_t i = 0; i < p->o.sample_rows; i++)
			des_buf_free(&p->sample[i].csv);
	free(p->sample);
	if (p->reader_open)
		des_csv_reader_free(&p->reader);
	des_buf_free(&p->scratch);
	free(p);
}

static void
point_sample_init(point_sample *s, uint32_t capacity, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	des_reservoir_init(&s->res, capacity, seed);
}

/* lat/long columns paired by name: each latitude with the one longitude whose name matches */
static bool
pair_coordinates(des_profile *p, des_error *err)
{
	p->pairs = calloc(p->ncolumns, sizeof(coordinate_pair));
	if (p->pairs == NULL)
		return des_fail(err, DES_E_NOMEM, "out of memory for a profile");
	for (uint32_t i = 0; i < p->ncolumns; i++)
	{
		profile_column *a = &p->columns[i];

		if (!(a->name_hints & DES_NAME_LATITUDE))
			continue;
		for (uint32_t j = 0; j < p->ncolumns; j++)
		{
			profile_column *b = &p->columns[j];
			bool		taken = false;

			if (j == i || !(b->name_hints & DES_NAME_LONGITUDE))
				continue;
			for (uint32_t k = 0; k < p->npairs; k++)
				taken |= p->pairs[k].lon == j;
			if (taken || !des_semantic_names_pair(a->name, a->name_len, b->name, b->name_len))
				continue;
			p->pairs[p->npairs].lat = i;
			p->pairs[p->npairs].lon = j;
			point_sample_init(&p->pairs[p->npairs].points, p->o.reservoir, derive_seed(p->o.seed, 1000003 + i));
			p->npairs++;
			break;
		}
	}
	return true;
}

bool
des_profile_set_columns(des_profile *p, const char *const *names, const size_t *lens, uint32_t n, des_error *err)
{
	des_column_options co = des_column_options_default();

	if (p->columns_set)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "the profile's columns are already set");
	if (n == 0)
		return des_fail(err, DES_E_CORRUPT, "no columns");
	if (n > p->o.max_columns)
		return des_fail(err, DES_E_TOO_LARGE, "%u columns, more than the %u profiled", n, p->o.max_columns);
	co.hll_p = p->o.hll_p;
	co.minhash_k = p->o.minhash_k;
	co.value_options = p->o.value_options;
	p->columns = calloc(n, sizeof(profile_column));
	if (p->columns == NULL)
		return des_fail(err, DES_E_NOMEM, "out of memory for %u columns", n);
	p->columns_set = true;
	for (uint32_t i = 0; i < n; i++)
	{
		profile_column *c = &p->columns[i];
		char		generated[32];
		const char *name = names ? names[i] : generated;
		size_t		len = names ? lens[i] : (size_t) snprintf(generated, sizeof(generated), "column %u", i + 1);

		c->name = malloc(len + 1);
		if (c->name == NULL)
			return des_fail(err, DES_E_NOMEM, "out of memory for %u columns", n);
		memcpy(c->name, name, len);
		c->name[len] = '\0';
		c->name_len = len;
		p->ncolumns = i + 1;	/* from here on, destroy frees it */
		if (!des_column_init(&c->stats, &co, err) || !des_topk_init(&c->values, p->o.topk_counters, err)
			|| !des_topk_init(&c->words, p->o.topk_counters, err))
			return false;
		c->name_hints = des_semantic_name(c->name, len);
		des_reservoir_init(&c->numbers.res, p->o.reservoir, derive_seed(p->o.seed, 10 + 3 * (uint64_t) i));
		des_reservoir_init(&c->instants.res, p->o.reservoir, derive_seed(p->o.seed, 11 + 3 * (uint64_t) i));
		point_sample_init(&c->points, p->o.reservoir, derive_seed(p->o.seed, 12 + 3 * (uint64_t) i));
	}
	return pair_coordinates(p, err);
}

static bool
sample_value(value_sample *s, double v, uint32_t capacity)
{
	int64_t		slot;

	if (s->v == NULL && (s->v = malloc(sizeof(double) * capacity)) == NULL)
		return false;
	slot = des_reservoir_offer(&s->res);
	if (slot >= 0)
		s->v[slot] = v;
	return true;
}

static bool
sample_point(point_sample *s, double lon, double lat, uint32_t capacity)
{
	int64_t		slot;

	if (s->xy == NULL && (s->xy = malloc(sizeof(double) * 2 * capacity)) == NULL)
		return false;
	if (s->points == 0 || lon < s->lon_min)
		s->lon_min = lon;
	if (s->points == 0 || lon > s->lon_max)
		s->lon_max = lon;
	if (s->points == 0 || lat < s->lat_min)
		s->lat_min = lat;
	if (s->points == 0 || lat > s->lat_max)
		s->lat_max = lat;
	s->points++;
	slot = des_reservoir_offer(&s->res);
	if (slot >= 0)
	{
		s->xy[2 * slot] = lon;
		s->xy[2 * slot + 1] = lat;
	}
	return true;
}

/* words of a text value, lower case, 3+ bytes of letters, digits or non-ASCII */
static void
add_words(des_topk *t, const char *text, size_t len)
{
	char		w[64];
	size_t		n = 0;

	for (size_t i = 0; i <= len; i++)
	{
		unsigned char ch = i < len ? (unsigned char) text[i] : ' ';
		bool		in_word = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch >= 0x80
			|| (ch >= 'A' && ch <= 'Z');

		if (in_word)
		{
			if (n < sizeof(w))
				w[n] = (char) (ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
			n++;
		}
		else if (n > 0)
		{
			if (n >= 3 && n <= sizeof(w))
				des_topk_add(t, w, n);
			n = 0;
		}
	}
}

static void
note_time_units(profile_column *c, const des_value *v)
{
	if (v->kind == DES_VALUE_DATETIME)
	{
		double		whole = floor(v->number);
		int64_t		day_seconds = (int64_t) whole % 86400;

		if (day_seconds < 0)
			day_seconds += 86400;
		if (whole != v->number || day_seconds % 60 != 0)
			c->time_units |= TIME_SECOND;
		else if (day_seconds % 3600 != 0)
			c->time_units |= TIME_MINUTE;
		else if (day_seconds != 0)
			c->time_units |= TIME_HOUR;
	}
	if (v->day != 1)
		c->time_units |= TIME_DAY;
	if (v->month != 1)
		c->time_units |= TIME_MONTH;
}

static bool
add_value(des_profile *p, profile_column *c, const char *text, size_t len)
{
	des_value	v;
	uint64_t	h;
	uint32_t	cap = p->o.reservoir;

	c->row_has_number = false;
	des_value_classify(text, len, p->o.value_options, &v);
	if (v.kind == DES_VALUE_MISSING)
	{
		c->stats.values++;
		c->stats.kinds[DES_VALUE_MISSING]++;
		return true;
	}
	h = des_sketch_hash(text, len);
	des_column_add_classified(&c->stats, text, len, &v, h);
	switch (v.kind)
	{
		case DES_VALUE_INTEGER:
			if (v.integer == 0 || v.integer == 1)
				c->zero_one++;
			if (v.integer >= 1000 && v.integer <= 2200)
				c->year_like++;
			des_topk_add_hashed(&c->values, text, len, h);
			/* FALLTHROUGH */
		case DES_VALUE_FLOAT:
			if (v.number >= -90 && v.number <= 90)
				c->in_lat_range++;
			if (v.number >= -180 && v.number <= 180)
				c->in_lon_range++;
			c->row_has_number = true;
			c->row_number = v.number;
			return sample_value(&c->numbers, v.number, cap);
		case DES_VALUE_BOOLEAN:
			des_topk_add_hashed(&c->values, text, len, h);
			return true;
		case DES_VALUE_DATE:
		case DES_VALUE_DATETIME:
			note_time_units(c, &v);
			return sample_value(&c->instants, v.number, cap);
		case DES_VALUE_TEXT:
			{
				double		lon,
							lat;
				int			bits = des_semantic_value(text, len, &lon, &lat);

				if (bits & DES_SEM_URL)
					c->patterns[PAT_URL]++;
				if (bits & DES_SEM_EMAIL)
					c->patterns[PAT_EMAIL]++;
				if (bits & DES_SEM_FILENAME)
					c->patterns[PAT_FILENAME]++;
				if ((bits & DES_SEM_POINT) && !sample_point(&c->points, lon, lat, cap))
					return false;
				if (bits & DES_SEM_POINT)
					c->patterns[PAT_POINT]++;
				if (bits & DES_SEM_ADMIN)
					c->patterns[PAT_ADMIN]++;
				des_topk_add_hashed(&c->values, text, len, h);
				add_words(&c->words, text, len);
				return true;
			}
		default:
			return true;
	}
}

/* n bytes of s holding at most max UTF-8 characters (cut at a character boundary) */
static size_t
truncate_chars(const unsigned char *s, size_t len, size_t max)
{
	size_t		chars = 0;

	for (size_t i = 0; i < len; i++)
		if ((s[i] & 0xC0) != 0x80 && chars++ == max)
			return i;
	return len;
}

static bool
append_csv_field(des_buf *b, const unsigned char *s, size_t len)
{
	bool		quote = false;

	for (size_t i = 0; i < len && !quote; i++)
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
	if (!quote)
		return des_buf_append(b, s, len);
	if (!des_buf_putc(b, '"'))
		return false;
	for (size_t i = 0; i < len; i++)
		if ((s[i] == '"' && !des_buf_putc(b, '"')) || !des_buf_putc(b, s[i]))
			return false;
	return des_buf_putc(b, '"');
}

static bool
keep_sample_row(des_profile *p, const unsigned char *data, const des_csv_field *fields, uint32_t n)
{
	int64_t		slot;
	sample_row *s;

	if (p->o.sample_rows == 0)
		return true;
	slot = des_reservoir_offer(&p->row_res);
	if (slot < 0)
		return true;
	s = &p->sample[slot];
	s->row = p->rows;
	s->csv.len = 0;
	for (uint32_t i = 0; i < p->ncolumns; i++)
	{
		const unsigned char *f = i < n ? data + fields[i].off : (const unsigned char *) "";
		size_t		len = i < n ? fields[i].len : 0;

		if ((i > 0 && !des_buf_putc(&s->csv, ',')) ||
			!append_csv_field(&s->csv, f, truncate_chars(f, len, SAMPLE_TEXT_MAX)))
			return false;
	}
	return true;
}

bool
des_profile_add_row(des_profile *p, const unsigned char *data, const des_csv_field *fields, uint32_t n,
					des_error *err)
{
	if (p->finished)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "the profile is finished");
	if (!p->columns_set && !des_profile_set_columns(p, NULL, NULL, n, err))
		return false;
	p->rows++;
	if (n != p->ncolumns)
		p->ragged++;
	for (uint32_t i = 0; i < p->ncolumns; i++)
	{
		profile_column *c = &p->columns[i];
		bool		ok = i < n ? add_value(p, c, (const char *) data + fields[i].off, fields[i].len)
			: add_value(p, c, "", 0);

		if (!ok)
			return des_fail(err, DES_E_NOMEM, "out of memory for a column's sample");
	}
	for (uint32_t k = 0; k < p->npairs; k++)
	{
		coordinate_pair *pr = &p->pairs[k];
		profile_column *la = &p->columns[pr->lat],
				   *lo = &p->columns[pr->lon];

		if (la->row_has_number && lo->row_has_number && la->row_number >= -90 && la->row_number <= 90
			&& lo->row_number >= -180 && lo->row_number <= 180
			&& !sample_point(&pr->points, lo->row_number, la->row_number, p->o.reservoir))
			return des_fail(err, DES_E_NOMEM, "out of memory for a column's sample");
	}
	if (!keep_sample_row(p, data, fields, n))
		return des_fail(err, DES_E_NOMEM, "out of memory for the sample rows");
	return true;
}

/* ---- CSV windows ---- */

static void
note_row_bytes(des_profile *p, uint64_t bytes)
{
	double		delta = (double) bytes - p->row_bytes_mean;

	p->sized_rows++;
	p->row_bytes_mean += delta / (double) p->sized_rows;
	p->row_bytes_m2 += delta * ((double) bytes - p->row_bytes_mean);
	p->window_rows++;
	p->window_bytes += (double) bytes;
}

static bool
csv_record(void *ctx, const des_csv_record *rec, des_error *err)
{
	des_profile *p = ctx;

	if (p->window_has_record)
		note_row_bytes(p, rec->offset - p->prev_offset);
	if (p->header_pending)
	{
		const char **names = malloc(sizeof(char *) * (rec->nfields ? rec->nfields : 1));
		size_t	   *lens = malloc(sizeof(size_t) * (rec->nfields ? rec->nfields : 1));
		bool		ok;

		p->header_pending = false;
		p->window_has_record = false;
		if (names == NULL || lens == NULL)
		{
			free(names);
			free(lens);
			return des_fail(err, DES_E_NOMEM, "out of memory for the header");
		}
		for (uint32_t i = 0; i < rec->nfields; i++)
		{
			names[i] = (const char *) rec->data + rec->fields[i].off;
			lens[i] = rec->fields[i].len;
		}
		ok = des_profile_set_columns(p, names, lens, rec->nfields, err);
		free(names);
		free(lens);
		/* the header's bytes are not a row's: measured when the next record starts */
		p->header_bytes = UINT64_MAX;
		p->prev_offset = rec->offset;
		return ok;
	}
	if (p->header_bytes == UINT64_MAX)
	{
		p->header_bytes = rec->offset - p->prev_offset;
		p->window_has_record = false;
	}
	p->window_has_record = true;
	p->prev_offset = rec->offset;
	return des_profile_add_row(p, rec->data, rec->fields, rec->nfields, err);
}

bool
des_profile_csv_begin(des_profile *p, const des_csv_dialect *d, uint64_t offset, des_error *err)
{
	if (p->reader_open)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "a CSV window is already open");
	if (p->finished)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "the profile is finished");
	if (!des_csv_reader_init(&p->reader, d, &p->o.csv_limits, csv_record, p, err))
		return false;
	p->reader_open = true;
	p->skip_to_newline = offset > 0;
	p->header_pending = offset == 0 && d->header && !p->columns_set;
	p->window_has_record = false;
	p->prev_offset = 0;
	p->window_rows = 0;
	p->window_bytes = 0;
	p->window_offset = offset;
	p->windows++;
	return true;
}

bool
des_profile_csv_feed(des_profile *p, const void *data, size_t len, des_error *err)
{
	const unsigned char *s = data;

	if (!p->reader_open)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "no CSV window is open");
	if (p->skip_to_newline)
	{
		const unsigned char *nl = memchr(s, '\n', len);

		if (nl == NULL)
			return true;
		len -= (size_t) (nl + 1 - s);
		s = nl + 1;
		p->skip_to_newline = false;
	}
	if (!des_csv_reader_feed(&p->reader, s, len, err))
	{
		p->csv_error_line = p->reader.err_line;
		return false;
	}
	return true;
}

bool
des_profile_csv_end(des_profile *p, bool at_eof, des_error *err)
{
	bool		ok = true;

	if (!p->reader_open)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "no CSV window is open");
	if (at_eof)
	{
		ok = des_csv_reader_finish(&p->reader, err);
		if (!ok)
			p->csv_error_line = p->reader.err_line;
		else if (p->window_has_record)
			note_row_bytes(p, p->reader.consumed - p->prev_offset);
	}
	else if (p->window_has_record && p->reader.rec_offset > p->prev_offset)
		note_row_bytes(p, p->reader.rec_offset - p->prev_offset);
	des_csv_reader_free(&p->reader);
	p->reader_open = false;
	des_profile_end_window(p);
	if (ok && !p->columns_set)
		p->header_pending = false;
	return ok;
}

void
des_profile_count_row_bytes(des_profile *p, uint64_t bytes)
{
	note_row_bytes(p, bytes);
}

void
des_profile_end_window(des_profile *p)
{
	if (p->window_rows > 0)
	{
		double		m = p->window_bytes / (double) p->window_rows,
					delta = m - p->window_mean;

		p->sized_windows++;
		p->window_mean += delta / (double) p->sized_windows;
		p->window_m2 += delta * (m - p->window_mean);
	}
	p->window_rows = 0;
	p->window_bytes = 0;
}

uint64_t
des_profile_csv_error_line(const des_profile *p)
{
	return p->csv_error_line;
}

/* the 97.5% quantile of Student's t with df degrees of freedom (1.96 beyond 30) */
static double
t975(uint64_t df)
{
	static const double t[] = {0, 12.71, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201,
		2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052,
	2.048, 2.045, 2.042};

	return df >= 1 && df <= 30 ? t[df] : 1.96;
}

bool
des_profile_finish(des_profile *p, uint64_t total_bytes, des_error *err)
{
	if (p->reader_open)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "a CSV window is still open");
	p->finished = true;
	p->rows_estimate = (double) p->rows;
	p->estimated = false;
	if (total_bytes > 0 && p->sized_rows >= 2 && p->row_bytes_mean > 0)
	{
		double		bytes = (double) total_bytes - (p->header_bytes != UINT64_MAX ? (double) p->header_bytes : 0);

		/*
		 * Rows of one window are not independent draws (row sizes drift
		 * through a file), so the margin of the mean row size is the larger
		 * of the rows' and the windows' (Student's t over the window means)
		 */
		double		margin = 1.96 * sqrt(p->row_bytes_m2 / (double) (p->sized_rows - 1) / (double) p->sized_rows);
		double		lo_mean,
					hi_mean;

		if (p->sized_windows >= 2)
			margin = fmax(margin, t975(p->sized_windows - 1) *
						  sqrt(p->window_m2 / (double) (p->sized_windows - 1) / (double) p->sized_windows));
		lo_mean = p->row_bytes_mean - margin;
		hi_mean = p->row_bytes_mean + margin;
		p->estimated = true;
		p->rows_estimate = fmax(bytes / p->row_bytes_mean, (double) p->rows);
		p->rows_low = fmax(bytes / hi_mean, (double) p->rows);
		p->rows_high = lo_mean > 0 ? fmax(bytes / lo_mean, p->rows_estimate) : p->rows_estimate * 2;
	}
	return true;
}

void
des_profile_set_row_estimate(des_profile *p, double rows, double low, double high)
{
	double		read = (double) p->rows;

	p->estimated = true;
	p->rows_estimate = fmax(rows, read);
	p->rows_low = fmax(fmin(low, p->rows_estimate), read);
	p->rows_high = fmax(high, p->rows_estimate);
}

/* ---- reading the results ---- */

uint32_t
des_profile_column_count(const des_profile *p)
{
	return p->ncolumns;
}

const char *
des_profile_column_name(const des_profile *p, uint32_t i, size_t *len)
{
	*len = p->columns[i].name_len;
	return p->columns[i].name;
}

const des_column_stats *
des_profile_column_stats(const des_profile *p, uint32_t i)
{
	return &p->columns[i].stats;
}

uint64_t
des_profile_rows(const des_profile *p)
{
	return p->rows;
}

/* ---- JSON ---- */

typedef struct json_out
{
	des_buf    *b;
	bool		ok;
} json_out;

static void
put(json_out *j, const char *s)
{
	if (j->ok)
		j->ok = des_buf_append(j->b, s, strlen(s));
}

/*
 * text from a file as a JSON string, ASCII with \u escapes: bytes that are
 * not UTF-8 are read as Latin-1 (the sniffer's fallback), and NUL becomes
 * U+FFFD (jsonb refuses \u0000)
 */
static void
put_string(json_out *j, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *) s,
			   *end = p + len;
	char		esc[16];

	if (!j->ok || !(j->ok = des_buf_putc(j->b, '"')))
		return;
	while (p < end && j->ok)
	{
		uint32_t	cp;

		if (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
		{
			const unsigned char *run = p;

			while (p < end && *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
				p++;
			j->ok = des_buf_append(j->b, run, (size_t) (p - run));
			continue;
		}
		if (!des_utf8_decode(&p, end, &cp))
			cp = *p++;
		if (cp == 0)
			cp = 0xFFFD;
		if (cp == '"' || cp == '\\')
			snprintf(esc, sizeof(esc), "\\%c", (char) cp);
		else if (cp >= 0x10000)
			snprintf(esc, sizeof(esc), "\\u%04x\\u%04x", 0xD800 + ((cp - 0x10000) >> 10),
					 0xDC00 + ((cp - 0x10000) & 0x3FF));
		else
			snprintf(esc, sizeof(esc), "\\u%04x", cp);
		j->ok = des_buf_append(j->b, esc, strlen(esc));
	}
	if (j->ok)
		j->ok = des_buf_putc(j->b, '"');
}

/* the shortest of %.15g, %.17g that reads back as the same double; null for non-finite */
static void
put_number(json_out *j, double v)
{
	char		s[40];

	if (!isfinite(v))
	{
		put(j, "null");
		return;
	}
	snprintf(s, sizeof(s), "%.15g", v);
	if (strtod(s, NULL) != v)
		snprintf(s, sizeof(s), "%.17g", v);
	put(j, s);
}

static void
put_uint(json_out *j, uint64_t v)
{
	char		s[24];

	snprintf(s, sizeof(s), "%" PRIu64, v);
	put(j, s);
}

/* an instant as ISO 8601 UTC text */
static void
put_instant(json_out *j, double seconds)
{
	char		s[96];
	double		days_f = floor(seconds / 86400.0);
	int64_t		days = (int64_t) days_f;
	int64_t		rem = (int64_t) (seconds - days_f * 86400.0);
	/* civil_from_days (Hinnant) */
	int64_t		z = days + 719468;
	int64_t		era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t		doe = z - era * 146097;
	int64_t		yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t		doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t		mp = (5 * doy + 2) / 153;
	int64_t		d = doy - (153 * mp + 2) / 5 + 1;
	int64_t		m = mp < 10 ? mp + 3 : mp - 9;
	int64_t		y = yoe + era * 400 + (m <= 2);

	if (!isfinite(seconds) || fabs(seconds) > 1e14)
	{
		put(j, "null");
		return;
	}
	snprintf(s, sizeof(s), "\"%04" PRId64 "-%02" PRId64 "-%02" PRId64 "T%02" PRId64 ":%02" PRId64 ":%02" PRId64 "Z\"",
			 y, m, d, rem / 3600, rem / 60 % 60, rem % 60);
	put(j, s);
}

static const char *const TYPE_MISSING = "https://metadata.datadrivendiscovery.org/types/MissingData";
static const char *const TYPE_INTEGER = "http://schema.org/Integer";
static const char *const TYPE_FLOAT = "http://schema.org/Float";
static const char *const TYPE_TEXT = "http://schema.org/Text";
static const char *const TYPE_BOOLEAN = "http://schema.org/Boolean";
static const char *const TYPE_DATETIME = "http://schema.org/DateTime";
static const char *const TYPE_CATEGORICAL = "http://schema.org/Enumeration";
static const char *const TYPE_ID = "http://schema.org/identifier";
static const char *const TYPE_LATITUDE = "http://schema.org/latitude";
static const char *const TYPE_LONGITUDE = "http://schema.org/longitude";
static const char *const TYPE_URL = "http://schema.org/URL";
static const char *const TYPE_EMAIL = "http://schema.org/email";
static const char *const TYPE_FILENAME = "https://metadata.datadrivendiscovery.org/types/FileName";
static const char *const TYPE_POINT = "http://schema.org/GeoCoordinates";
static const char *const TYPE_ADMIN = "http://schema.org/AdministrativeArea";

/* what the profile concluded about a column */
typedef struct column_verdict
{
	des_value_kind structural;
	const char *structural_uri;
	const char *semantic[12];
	int			nsemantic;
	bool		categorical,
				free_text,
				boolean,
				temporal,		/* date/date-time, or a year */
				year,
				latitude,
				longitude,
				point;
	double		distinct;
	uint64_t	matching;		/* values of the structural type */
} column_verdict;

static void
judge_column(const des_profile *p, const profile_column *c, column_verdict *v)
{
	uint64_t	present = des_column_present(&c->stats);
	double		need = p->o.type_threshold * (double) present;
	const uint64_t *k = c->stats.kinds;

	memset(v, 0, sizeof(*v));
	v->structural = des_column_structural_type(&c->stats, p->o.type_threshold);
	v->distinct = present == 0 ? 0 : fmin(round(des_hll_estimate(&c->stats.distinct)), (double) present);
	switch (v->structural)
	{
		case DES_VALUE_MISSING:
			v->structural_uri = TYPE_MISSING;
			break;
		case DES_VALUE_INTEGER:
			v->structural_uri = TYPE_INTEGER;
			v->matching = k[DES_VALUE_INTEGER];
			break;
		case DES_VALUE_FLOAT:
			v->structural_uri = TYPE_FLOAT;
			v->matching = k[DES_VALUE_INTEGER] + k[DES_VALUE_FLOAT];
			break;
		case DES_VALUE_BOOLEAN:
			/* Auctus: a Text column with the Boolean semantic type */
			v->structural_uri = TYPE_TEXT;
			v->matching = k[DES_VALUE_BOOLEAN];
			break;
		case DES_VALUE_DATE:
		case DES_VALUE_DATETIME:
			v->structural_uri = TYPE_TEXT;
			v->matching = k[DES_VALUE_DATE] + (v->structural == DES_VALUE_DATETIME ? k[DES_VALUE_DATETIME] : 0);
			break;
		default:
			v->structural_uri = TYPE_TEXT;
			v->matching = present;
			break;
	}
	if (present == 0)
		return;
	if (v->structural == DES_VALUE_BOOLEAN
		|| (v->structural == DES_VALUE_INTEGER && (double) (c->zero_one + k[DES_VALUE_BOOLEAN]) >= need))
	{
		v->boolean = true;
		v->semantic[v->nsemantic++] = TYPE_BOOLEAN;
	}
	if (v->structural == DES_VALUE_TEXT && (double) c->stats.words4 >= p->o.free_text_ratio * (double) present)
	{
		v->free_text = true;
		v->semantic[v->nsemantic++] = TYPE_TEXT;
	}
	if (v->structural == DES_VALUE_DATE || v->structural == DES_VALUE_DATETIME)
	{
		v->temporal = true;
		v->semantic[v->nsemantic++] = TYPE_DATETIME;
	}
	else if (v->structural == DES_VALUE_INTEGER && (c->name_hints & DES_NAME_YEAR)
			 && (double) c->year_like >= need)
	{
		v->temporal = v->year = true;
		v->semantic[v->nsemantic++] = TYPE_DATETIME;
	}
	if (!v->free_text && !v->temporal && !v->boolean
		&& (v->structural == DES_VALUE_TEXT || v->structural == DES_VALUE_INTEGER)
		&& v->distinct <= p->o.categorical_ratio * (double) present)
	{
		v->categorical = true;
		v->semantic[v->nsemantic++] = TYPE_CATEGORICAL;
	}
	if ((v->structural == DES_VALUE_INTEGER || v->structural == DES_VALUE_TEXT) && !v->categorical && !v->free_text
		&& !v->year && (c->name_hints & DES_NAME_ID))
		v->semantic[v->nsemantic++] = TYPE_ID;
	if (v->structural == DES_VALUE_FLOAT || v->structural == DES_VALUE_INTEGER)
	{
		if ((c->name_hints & DES_NAME_LATITUDE) && (double) c->in_lat_range >= need)
		{
			v->latitude = true;
			v->semantic[v->nsemantic++] = TYPE_LATITUDE;
		}
		if ((c->name_hints & DES_NAME_LONGITUDE) && (double) c->in_lon_range >= need)
		{
			v->longitude = true;
			v->semantic[v->nsemantic++] = TYPE_LONGITUDE;
		}
	}
	if (v->structural == DES_VALUE_TEXT)
	{
		if ((double) c->patterns[PAT_URL] >= need)
			v->semantic[v->nsemantic++] = TYPE_URL;
		if ((double) c->patterns[PAT_EMAIL] >= need)
			v->semantic[v->nsemantic++] = TYPE_EMAIL;
		if ((double) c->patterns[PAT_FILENAME] >= need)
			v->semantic[v->nsemantic++] = TYPE_FILENAME;
		if ((double) c->patterns[PAT_POINT] >= need)
		{
			v->point = true;
			v->semantic[v->nsemantic++] = TYPE_POINT;
		}
		if ((double) c->patterns[PAT_ADMIN] >= need)
			v->semantic[v->nsemantic++] = TYPE_ADMIN;
	}
}

static const char *
resolution_name(const profile_column *c, const column_verdict *v)
{
	if (v->year)
		return "year";
	if (c->time_units & TIME_SECOND)
		return "second";
	if (c->time_units & TIME_MINUTE)
		return "minute";
	if (c->time_units & TIME_HOUR)
		return "hour";
	if (c->time_units & TIME_DAY)
		return "day";
	if (c->time_units & TIME_MONTH)
		return "month";
	return "year";
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : x > y;
}

/* seconds since 1970 of January 1st of a year */
static double
year_instant(double year)
{
	int			y = (int) year;

	if (y < 1 || y > 9999)
		return NAN;
	return (double) des_days_from_civil(y, 1, 1) * 86400.0;
}

/*
 * coverage ranges (gte/lte), and the histogram: bins of equal width over
 * [lo, hi], counted in the reservoir and scaled to total (exact when every
 * value is in the reservoir)
 */
static void
put_ranges_and_plot(des_profile *p, json_out *j, const char *key, const value_sample *s, uint64_t total, double lo,
					double hi, bool as_time, bool years, uint64_t seed, bool with_plot)
{
	uint32_t	n = des_reservoir_size(&s->res);
	des_box		boxes[DES_CLUSTER_MAX];
	int			nb;
	uint8_t    *assign;
	double	   *sorted;
	uint32_t	bins = p->o.histogram_bins;
	double		scale;

	if (s->v == NULL || n == 0)
		return;
	assign = malloc(n);
	sorted = malloc(sizeof(double) * n);
	if (assign == NULL || sorted == NULL)
	{
		free(assign);
		free(sorted);
		j->ok = false;
		return;
	}
	memcpy(sorted, s->v, sizeof(double) * n);
	qsort(sorted, n, sizeof(double), cmp_double);
	nb = des_cluster_boxes(sorted, n, 1, seed, boxes, assign);
	/* the outer ends are the exact extremes, not the sample's */
	if (nb > 0)
	{
		boxes[0].lo[0] = lo;
		boxes[nb - 1].hi[0] = hi;
	}
	put(j, ",\"");
	put(j, key);
	put(j, "\":[");
	for (int b = 0; b < nb; b++)
	{
		put(j, b ? ",{\"range\":{\"gte\":" : "{\"range\":{\"gte\":");
		put_number(j, years ? year_instant(boxes[b].lo[0]) : boxes[b].lo[0]);
		put(j, ",\"lte\":");
		put_number(j, years ? year_instant(boxes[b].hi[0]) : boxes[b].hi[0]);
		put(j, "}}");
	}
	put(j, "]");
	if (with_plot)
	{
		uint64_t   *counts = calloc(bins, sizeof(uint64_t));
		double		width = (hi - lo) / bins;
		uint64_t	given = 0;

		if (counts == NULL)
		{
			free(assign);
			free(sorted);
			j->ok = false;
			return;
		}
		for (uint32_t i = 0; i < n; i++)
		{
			int64_t		b = width > 0 ? (int64_t) ((sorted[i] - lo) / width) : 0;

			counts[b < 0 ? 0 : b >= (int64_t) bins ? bins - 1 : b]++;
		}
		scale = (double) total / n;
		put(j, as_time ? ",\"plot\":{\"type\":\"histogram_temporal\",\"data\":["
			: ",\"plot\":{\"type\":\"histogram_numerical\",\"data\":[");
		for (uint32_t b = 0; b < bins; b++)
		{
			/* scaled counts that add up to total: the last bin takes the rounding */
			uint64_t	c = b + 1 == bins ? total - given : (uint64_t) llround(counts[b] * scale);

			if (c > total - given)
				c = total - given;
			given += c;
			put(j, b ? ",{\"count\":" : "{\"count\":");
			put_uint(j, c);
			put(j, ",\"bin_start\":");
			if (as_time)
				put_instant(j, lo + b * width);
			else
				put_number(j, lo + b * width);
			put(j, ",\"bin_end\":");
			if (as_time)
				put_instant(j, b + 1 == bins ? hi : lo + (b + 1) * width);
			else
				put_number(j, b + 1 == bins ? hi : lo + (b + 1) * width);
			put(j, "}");
			if (width <= 0)
				break;			/* one value: one bin */
		}
		put(j, "]}");
		free(counts);
	}
	free(assign);
	free(sorted);
}

static void
put_top(json_out *j, const des_topk *t, const char *type)
{
	des_topk_counter top[TOP_SHOWN];
	size_t		n = des_topk_top(t, TOP_SHOWN, top);

	put(j, ",\"plot\":{\"type\":\"");
	put(j, type);
	put(j, "\",\"data\":[");
	for (size_t i = 0; i < n; i++)
	{
		put(j, i ? ",{\"bin\":" : "{\"bin\":");
		put_string(j, top[i].text, truncate_chars((const unsigned char *) top[i].text, top[i].text_len,
												  SAMPLE_TEXT_MAX));
		put(j, ",\"count\":");
		put_uint(j, top[i].count);
		put(j, "}");
	}
	put(j, "]}");
}

static void
put_column(des_profile *p, json_out *j, uint32_t i, const column_verdict *v)
{
	profile_column *c = &p->columns[i];
	const des_column_stats *s = &c->stats;
	uint64_t	present = des_column_present(s);

	put(j, i ? ",{\"name\":" : "{\"name\":");
	put_string(j, c->name, c->name_len);
	put(j, ",\"structural_type\":");
	put_string(j, v->structural_uri, strlen(v->structural_uri));
	put(j, ",\"semantic_types\":[");
	for (int t = 0; t < v->nsemantic; t++)
	{
		if (t)
			put(j, ",");
		put_string(j, v->semantic[t], strlen(v->semantic[t]));
	}
	put(j, "],\"value_kind\":");
	put_string(j, des_value_kind_name(v->structural), strlen(des_value_kind_name(v->structural)));
	put(j, ",\"missing_values_ratio\":");
	put_number(j, des_column_missing_ratio(s));
	put(j, ",\"unclean_values_ratio\":");
	put_number(j, s->values ? (double) (present - v->matching) / (double) s->values : 0);
	put(j, ",\"num_distinct_values\":");
	put_uint(j, (uint64_t) v->distinct);
	if ((v->structural == DES_VALUE_INTEGER || v->structural == DES_VALUE_FLOAT) && s->numbers > 0)
	{
		put(j, ",\"mean\":");
		put_number(j, s->num_mean);
		put(j, ",\"stddev\":");
		put_number(j, des_column_stddev(s));
		put(j, ",\"min\":");
		put_number(j, s->num_min);
		put(j, ",\"max\":");
		put_number(j, s->num_max);
	}
	if (v->temporal && !v->year && s->instants > 0)
	{
		put(j, ",\"min\":");
		put_instant(j, s->time_min);
		put(j, ",\"max\":");
		put_instant(j, s->time_max);
		put(j, ",\"temporal_resolution\":\"");
		put(j, resolution_name(c, v));
		put(j, "\"");
	}
	else if (v->year)
		put(j, ",\"temporal_resolution\":\"year\"");
	if (v->temporal && !v->year)
		put_ranges_and_plot(p, j, "coverage", &c->instants, s->instants, s->time_min, s->time_max, true, false,
							derive_seed(p->o.seed, 50 + i), true);
	else if (v->structural == DES_VALUE_INTEGER || v->structural == DES_VALUE_FLOAT)
	{
		/* a categorical integer column is plotted by its values */
		put_ranges_and_plot(p, j, "coverage", &c->numbers, s->numbers, s->num_min, s->num_max, false, v->year,
							derive_seed(p->o.seed, 50 + i), !v->categorical);
		if (v->categorical)
			put_top(j, &c->values, "histogram_categorical");
	}
	else if (v->categorical || v->boolean)
		put_top(j, &c->values, "histogram_categorical");
	else if (v->structural == DES_VALUE_TEXT)
		put_top(j, &c->words, "histogram_text");
	put(j, "}");
}

static void
put_box_list(json_out *j, const point_sample *s, uint64_t seed)
{
	uint32_t	n = des_reservoir_size(&s->res);
	des_box		boxes[DES_CLUSTER_MAX];
	uint8_t    *assign = malloc(n ? n : 1);
	int			nb;

	if (assign == NULL)
	{
		j->ok = false;
		return;
	}
	nb = des_cluster_boxes(s->xy, n, 2, seed, boxes, assign);
	free(assign);
	/* one box: the exact extent, not the sample's */
	if (nb == 1)
	{
		boxes[0].lo[0] = s->lon_min;
		boxes[0].hi[0] = s->lon_max;
		boxes[0].lo[1] = s->lat_min;
		boxes[0].hi[1] = s->lat_max;
	}
	put(j, ",\"ranges\":[");
	for (int b = 0; b < nb; b++)
	{
		put(j, b ? ",{\"range\":{\"type\":\"envelope\",\"coordinates\":[["
			: "{\"range\":{\"type\":\"envelope\",\"coordinates\":[[");
		put_number(j, boxes[b].lo[0]);
		put(j, ",");
		put_number(j, boxes[b].hi[1]);
		put(j, "],[");
		put_number(j, boxes[b].hi[0]);
		put(j, ",");
		put_number(j, boxes[b].lo[1]);
		put(j, "]]}}");
	}
	put(j, "]");
}

static int
cmp_sample_row(const void *a, const void *b)
{
	uint64_t	x = (*(const sample_row *const *) a)->row,
				y = (*(const sample_row *const *) b)->row;

	return x < y ? -1 : x > y;
}

typedef struct keyword_ctx
{
	json_out   *j;
	des_buf		seen;			/* NUL-separated words already written */
	int			n;
} keyword_ctx;

static void
put_keyword(void *ctx, const char *w, size_t len)
{
	keyword_ctx *k = ctx;

	for (size_t off = 0; off < k->seen.len;)
	{
		size_t		l = strlen((const char *) k->seen.data + off);

		if (l == len && memcmp(k->seen.data + off, w, len) == 0)
			return;
		off += l + 1;
	}
	if (!des_buf_append(&k->seen, w, len) || !des_buf_putc(&k->seen, '\0'))
	{
		k->j->ok = false;
		return;
	}
	put(k->j, k->n++ ? "," : "");
	put_string(k->j, w, len);
}

bool
des_profile_json(des_profile *p, des_buf *out, des_error *err)
{
	json_out	j = {out, true};
	column_verdict *verdicts;
	bool		numerical = false,
				categorical = false,
				spatial = false,
				temporal = false,
				first;
	keyword_ctx kw;

	if (!p->finished)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "the profile is not finished");
	verdicts = calloc(p->ncolumns ? p->ncolumns : 1, sizeof(column_verdict));
	if (verdicts == NULL)
		return des_fail(err, DES_E_NOMEM, "out of memory for the profile");
	put(&j, "{\"nb_rows\":");
	put_uint(&j, (uint64_t) llround(p->rows_estimate));
	put(&j, ",\"nb_profiled_rows\":");
	put_uint(&j, p->rows);
	put(&j, ",\"nb_rows_estimated\":");
	put(&j, p->estimated ? "true" : "false");
	if (p->estimated)
	{
		put(&j, ",\"nb_rows_bounds\":[");
		put_uint(&j, (uint64_t) floor(p->rows_low));
		put(&j, ",");
		put_uint(&j, (uint64_t) ceil(p->rows_high));
		put(&j, "]");
	}
	put(&j, ",\"nb_columns\":");
	put_uint(&j, p->ncolumns);
	put(&j, ",\"ragged_rows\":");
	put_uint(&j, p->ragged);
	put(&j, ",\"columns\":[");
	for (uint32_t i = 0; i < p->ncolumns; i++)
	{
		judge_column(p, &p->columns[i], &verdicts[i]);
		put_column(p, &j, i, &verdicts[i]);
		numerical |= verdicts[i].structural == DES_VALUE_INTEGER || verdicts[i].structural == DES_VALUE_FLOAT;
		categorical |= verdicts[i].categorical || verdicts[i].boolean;
		temporal |= verdicts[i].temporal;
	}
	put(&j, "],\"spatial_coverage\":[");
	first = true;
	for (uint32_t k = 0; k < p->npairs; k++)
	{
		coordinate_pair *pr = &p->pairs[k];

		if (!verdicts[pr->lat].latitude || !verdicts[pr->lon].longitude || pr->points.points == 0)
			continue;
		put(&j, first ? "{\"type\":\"latlong\",\"column_names\":[" : ",{\"type\":\"latlong\",\"column_names\":[");
		first = false;
		spatial = true;
		put_string(&j, p->columns[pr->lat].name, p->columns[pr->lat].name_len);
		put(&j, ",");
		put_string(&j, p->columns[pr->lon].name, p->columns[pr->lon].name_len);
		put(&j, "],\"column_indexes\":[");
		put_uint(&j, pr->lat);
		put(&j, ",");
		put_uint(&j, pr->lon);
		put(&j, "]");
		put_box_list(&j, &pr->points, derive_seed(p->o.seed, 90 + k));
		put(&j, "}");
	}
	for (uint32_t i = 0; i < p->ncolumns; i++)
	{
		if (!verdicts[i].point || p->columns[i].points.points == 0)
			continue;
		put(&j, first ? "{\"type\":\"point\",\"column_names\":[" : ",{\"type\":\"point\",\"column_names\":[");
		first = false;
		spatial = true;
		put_string(&j, p->columns[i].name, p->columns[i].name_len);
		put(&j, "],\"column_indexes\":[");
		put_uint(&j, i);
		put(&j, "]");
		put_box_list(&j, &p->columns[i].points, derive_seed(p->o.seed, 95 + i));
		put(&j, "}");
	}
	put(&j, "],\"temporal_coverage\":[");
	first = true;
	for (uint32_t i = 0; i < p->ncolumns; i++)
	{
		profile_column *c = &p->columns[i];
		const value_sample *s = verdicts[i].year ? &c->numbers : &c->instants;
		uint64_t	n = verdicts[i].year ? c->stats.numbers : c->stats.instants;
		double		lo = verdicts[i].year ? c->stats.num_min : c->stats.time_min,
					hi = verdicts[i].year ? c->stats.num_max : c->stats.time_max;

		if (!verdicts[i].temporal || n == 0)
			continue;
		put(&j, first ? "{\"type\":\"datetime\",\"column_names\":[" : ",{\"type\":\"datetime\",\"column_names\":[");
		first = false;
		put_string(&j, c->name, c->name_len);
		put(&j, "],\"column_indexes\":[");
		put_uint(&j, i);
		put(&j, "],\"column_types\":[\"http://schema.org/DateTime\"]");
		put_ranges_and_plot(p, &j, "ranges", s, n, lo, hi, false, verdicts[i].year, derive_seed(p->o.seed, 50 + i), false);
		put(&j, ",\"temporal_resolution\":\"");
		put(&j, resolution_name(c, &verdicts[i]));
		put(&j, "\"}");
	}
	put(&j, "],\"sample\":");
	{
		des_buf    *csv = &p->scratch;
		uint32_t	n = des_reservoir_size(&p->row_res);
		sample_row **order = malloc(sizeof(sample_row *) * (n ? n : 1));

		if (order == NULL)
			j.ok = false;
		csv->len = 0;
		for (uint32_t i = 0; i < p->ncolumns && j.ok; i++)
			j.ok = (i == 0 || des_buf_putc(csv, ',')) &&
				append_csv_field(csv, (const unsigned char *) p->columns[i].name, p->columns[i].name_len);
		if (j.ok && p->o.sample_rows > 0 && p->rows > 0 && order)
		{
			for (uint32_t i = 0; i < n; i++)
				order[i] = &p->sample[i];
			qsort(order, n, sizeof(sample_row *), cmp_sample_row);
			for (uint32_t i = 0; i < n && j.ok; i++)
				j.ok = des_buf_putc(csv, '\n') && des_buf_append(csv, order[i]->csv.data, order[i]->csv.len);
		}
		if (j.ok)
			j.ok = des_buf_putc(csv, '\n');
		free(order);
		put_string(&j, csv->data ? (const char *) csv->data : "", csv->len);
	}
	put(&j, ",\"attribute_keywords\":[");
	memset(&kw, 0, sizeof(kw));
	kw.j = &j;
	for (uint32_t i = 0; i < p->ncolumns; i++)
		des_semantic_name_words(p->columns[i].name, p->columns[i].name_len, put_keyword, &kw);
	des_buf_free(&kw.seen);
	put(&j, "],\"types\":[");
	first = true;
	if (numerical)
		put(&j, "\"numerical\""), first = false;
	if (categorical)
		put(&j, first ? "\"categorical\"" : ",\"categorical\""), first = false;
	if (spatial)
		put(&j, first ? "\"spatial\"" : ",\"spatial\""), first = false;
	if (temporal)
		put(&j, first ? "\"temporal\"" : ",\"temporal\"");
	put(&j, "]}");
	free(verdicts);
	if (!j.ok)
		return des_fail(err, DES_E_NOMEM, "out of memory writing the profile");
	return true;
}
