/*
 * test_profile.c - unit tests of the dataset profiler (profile area):
 * seeded sampling (Algorithm L reservoirs are uniform), clustering into
 * coverage boxes, and whole profiles of generated CSV files checked against
 * figures computed here independently (two-pass mean and deviation, exact
 * minimum, maximum, missing ratio, distinct counts, histogram bins), the
 * semantic types of columns built to have them, the sample rows, row-count
 * estimates from windows, reproducibility by seed, and hostile input (bytes
 * that are not UTF-8, NUL, ragged rows, too many columns). The JSON is read
 * back with jansson, an independent parser.
 *
 * Usage: test_profile. Prints "profile: N passed, N failed".
 */
#include "unit.h"
#include "des/profile/des_cluster.h"
#include "des/profile/des_profile.h"
#include "des/profile/des_sample.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int			unit_passed,
			unit_failed;

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double
uniform(double lo, double hi)
{
	return lo + (hi - lo) * ((double) (next() >> 11) / 9007199254740992.0);
}

/* ---- reservoirs and clusters ---- */

static void
test_reservoir(void)
{
	/* 100 items into 10 slots, 20,000 times: each item kept about 2,000 times */
	static int	kept[100];
	int			worst = 0,
				in_order = 1;
	des_reservoir r;

	for (int run = 0; run < 20000; run++)
	{
		int			slot_item[10];

		des_reservoir_init(&r, 10, (uint64_t) run + 1);
		for (int i = 0; i < 100; i++)
		{
			int64_t		s = des_reservoir_offer(&r);

			if (i < 10)
				in_order &= s == i;
			if (s >= 0)
				slot_item[s] = i;
		}
		for (int s = 0; s < 10; s++)
			kept[slot_item[s]]++;
	}
	CHECK(in_order, "the first items fill the slots in order");
	for (int i = 0; i < 100; i++)
		if (abs(kept[i] - 2000) > worst)
			worst = abs(kept[i] - 2000);
	/* binomial(20000, 0.1): standard deviation 42; 5 of them */
	CHECK(worst < 212, "every item kept 2000 +- 212 times: worst off by %d", worst);
	CHECK(des_reservoir_size(&r) == 10 && r.seen == 100, "size and count");

	/* a long stream draws few random numbers: the state changes only when an item is taken */
	{
		uint64_t	taken = 0;

		des_reservoir_init(&r, 100, 7);
		for (int i = 0; i < 1000000; i++)
			taken += des_reservoir_offer(&r) >= 0;
		/* expected k (1 + ln(n / k)) = 100 (1 + ln 10000) = 1021 */
		CHECK(taken > 800 && taken < 1300, "%llu of 1,000,000 taken (about 1,021 expected)", (unsigned long long) taken);
	}
	{
		des_random	a,
					b;
		int			same = 1;

		des_random_seed(&a, 42);
		des_random_seed(&b, 42);
		for (int i = 0; i < 100; i++)
			same &= des_random_next(&a) == des_random_next(&b);
		CHECK(same, "the same seed, the same numbers");
		for (int i = 0; i < 10000; i++)
		{
			double		u = des_random_unit(&a);

			if (!(u > 0 && u < 1))
				same = 0;
			if (des_random_below(&a, 7) >= 7)
				same = 0;
		}
		CHECK(same, "unit in (0, 1) and below(7) < 7");
	}
}

static void
test_clusters(void)
{
	static double pts[600 * 2];
	static uint8_t assign[600];
	des_box		boxes[DES_CLUSTER_MAX];
	int			n;

	/* three separate squares */
	for (int i = 0; i < 600; i++)
	{
		double		cx = i % 3 == 0 ? -120 : i % 3 == 1 ? 0 : 100;

		pts[2 * i] = uniform(cx, cx + 5);
		pts[2 * i + 1] = uniform(cx / 4, cx / 4 + 5);
	}
	n = des_cluster_boxes(pts, 600, 2, 1, boxes, assign);
	CHECK(n == 3, "three squares give three boxes: %d", n);
	if (n == 3)
		CHECK(boxes[0].lo[0] >= -120 && boxes[0].hi[0] <= -115 && boxes[1].lo[0] >= 0 && boxes[1].hi[0] <= 5
			  && boxes[2].lo[0] >= 100 && boxes[2].hi[0] <= 105 && boxes[0].n == 200 && boxes[2].n == 200,
			  "each box holds its square: [%g, %g] %u, [%g, %g], [%g, %g] %u", boxes[0].lo[0], boxes[0].hi[0],
			  boxes[0].n, boxes[1].lo[0], boxes[1].hi[0], boxes[2].lo[0], boxes[2].hi[0], boxes[2].n);
	/* one uniform square: one box */
	for (int i = 0; i < 600; i++)
	{
		pts[2 * i] = uniform(0, 10);
		pts[2 * i + 1] = uniform(0, 10);
	}
	n = des_cluster_boxes(pts, 600, 2, 1, boxes, assign);
	CHECK(n == 1 && boxes[0].n == 600, "a uniform square is one box: %d", n);
	/* 1-D: two ranges far apart, and few points */
	for (int i = 0; i < 600; i++)
		pts[i] = i < 300 ? uniform(0, 1) : uniform(1000, 1001);
	n = des_cluster_boxes(pts, 600, 1, 1, boxes, assign);
	CHECK(n == 2 && boxes[0].hi[0] <= 1 && boxes[1].lo[0] >= 1000, "two ranges: %d", n);
	n = des_cluster_boxes(pts + 290, 19, 1, 1, boxes, assign);
	CHECK(n == 1, "fewer than %d points: one range", DES_CLUSTER_MIN_POINTS);
	CHECK(des_cluster_boxes(pts, 0, 1, 1, boxes, assign) == 0, "no point, no range");
}

/* ---- whole profiles ---- */

typedef struct expected
{
	int			rows;
	double		amount_sum,
				amount_sq;
	int			amount_n,
				amount_missing;
	double		amount_min,
				amount_max;
	double		amounts[20000];
	int			cats[5];
	double		lat_min,
				lat_max,
				lon_min,
				lon_max;
} expected;

static expected ex;

static const char *const categories[] = {"red", "green", "blue", "cyan", "grey"};

/* a CSV of n rows, with the figures this test expects computed along */
static char *
make_csv(int n, size_t *len)
{
	size_t		cap = (size_t) n * 300 + 1000,
				off = 0;
	char	   *s = malloc(cap);

	memset(&ex, 0, sizeof(ex));
	off += (size_t) snprintf(s + off, cap - off,
							 "id,colour,amount,day,ts,pickup_lat,pickup_lon,comment,flag,site,email,file,year,note\n");
	for (int i = 0; i < n; i++)
	{
		int			c = (int) (next() % 5);
		double		amount = round(uniform(-100, 900) * 100) / 100;
		double		lat = round(uniform(40, 41) * 1e5) / 1e5,
					lon = round(uniform(-74, -73) * 1e5) / 1e5;
		bool		missing = next() % 100 < 3;
		char		amount_text[32] = "";

		if (!missing)
		{
			snprintf(amount_text, sizeof(amount_text), "%.2f", amount);
			amount = strtod(amount_text, NULL);
			ex.amounts[ex.amount_n++] = amount;
			ex.amount_sum += amount;
			if (ex.amount_n == 1 || amount < ex.amount_min)
				ex.amount_min = amount;
			if (ex.amount_n == 1 || amount > ex.amount_max)
				ex.amount_max = amount;
		}
		else
			ex.amount_missing++;
		ex.cats[c]++;
		if (i == 0 || lat < ex.lat_min)
			ex.lat_min = lat;
		if (i == 0 || lat > ex.lat_max)
			ex.lat_max = lat;
		if (i == 0 || lon < ex.lon_min)
			ex.lon_min = lon;
		if (i == 0 || lon > ex.lon_max)
			ex.lon_max = lon;
		off += (size_t) snprintf(s + off, cap - off,
								 "%d,%s,%s,2021-%02d-%02d,2021-03-04 %02d:%02d,%.5f,%.5f,\"a few words, here %d\",%s,"
								 "https://example.org/%d,user%d@example.com,/data/f%d.csv,%d,%s\n",
								 i + 1, categories[c], amount_text, 1 + i % 12, 1 + i % 28, i % 24, i % 60, lat, lon,
								 i, i % 2 ? "yes" : "no", i, i, i, 1990 + i % 30, i % 7 ? "plain" : "");
	}
	ex.rows = n;
	*len = off;
	return s;
}

static json_t *
profile_csv(const char *csv, size_t len, const des_profile_options *o, size_t piece, char **text)
{
	des_csv_sniff sn;
	des_error	err;
	des_profile *p;
	des_buf		out = {0};
	json_t	   *j;
	json_error_t jerr;

	if (o->seed == 12345)
	{
		/* no sniffing (it refuses NUL bytes): the default dialect with a header */
		sn.dialect = des_csv_dialect_default();
		sn.dialect.header = true;
	}
	else if (!des_csv_sniff_sample(csv, len < 65536 ? len : 65536, len < 65536, &sn, &err))
	{
		printf("sniff: %s\n", err.message);
		return NULL;
	}
	p = des_profile_create(o, &err);
	if (p == NULL || !des_profile_csv_begin(p, &sn.dialect, 0, &err))
		return NULL;
	for (size_t off = 0; off < len; off += piece)
		if (!des_profile_csv_feed(p, csv + off, len - off < piece ? len - off : piece, &err))
		{
			printf("feed: %s\n", err.message);
			return NULL;
		}
	if (!des_profile_csv_end(p, true, &err) || !des_profile_finish(p, 0, &err) || !des_profile_json(p, &out, &err))
	{
		printf("profile: %s\n", err.message);
		return NULL;
	}
	des_profile_destroy(p);
	j = json_loadb((const char *) out.data, out.len, 0, &jerr);
	if (j == NULL)
		printf("jansson: %s at %d: %.*s\n", jerr.text, jerr.position, (int) out.len, (const char *) out.data);
	if (text)
	{
		*text = malloc(out.len + 1);
		memcpy(*text, out.data, out.len);
		(*text)[out.len] = '\0';
	}
	des_buf_free(&out);
	return j;
}

static json_t *
column(json_t *profile, const char *name)
{
	json_t	   *cols = json_object_get(profile, "columns");
	size_t		i;
	json_t	   *c;

	json_array_foreach(cols, i, c)
		if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
		return c;
	return NULL;
}

static bool
has_type(json_t *col, const char *uri)
{
	size_t		i;
	json_t	   *t;

	json_array_foreach(json_object_get(col, "semantic_types"), i, t)
		if (strcmp(json_string_value(t), uri) == 0)
		return true;
	return false;
}

static double
num(json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

static const char *
str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static void
test_full_profile(void)
{
	size_t		len;
	char	   *csv = make_csv(5000, &len);
	des_profile_options o = des_profile_options_default();
	json_t	   *p,
			   *c;
	double		mean,
				var = 0;
	char	   *text1,
			   *text2;

	o.reservoir = 8192;			/* every value kept: histograms exact */
	p = profile_csv(csv, len, &o, 4093, &text1);
	CHECK(p != NULL, "a profile");
	if (p == NULL)
		return;
	CHECK(num(p, "nb_rows") == 5000 && num(p, "nb_profiled_rows") == 5000 && num(p, "nb_columns") == 14
		  && json_is_false(json_object_get(p, "nb_rows_estimated")), "rows and columns");

	/* amount: against two-pass figures */
	mean = ex.amount_sum / ex.amount_n;
	for (int i = 0; i < ex.amount_n; i++)
		var += (ex.amounts[i] - mean) * (ex.amounts[i] - mean);
	c = column(p, "amount");
	CHECK(c && strcmp(str(c, "structural_type"), "http://schema.org/Float") == 0, "amount is a float");
	CHECK(fabs(num(c, "mean") - mean) <= 1e-9 * fabs(mean) && fabs(num(c, "stddev") - sqrt(var / ex.amount_n)) <= 1e-9 * sqrt(var / ex.amount_n),
		  "mean %.10g (%.10g), stddev %.10g (%.10g)", num(c, "mean"), mean, num(c, "stddev"), sqrt(var / ex.amount_n));
	CHECK(num(c, "min") == ex.amount_min && num(c, "max") == ex.amount_max, "min %g max %g", num(c, "min"), num(c, "max"));
	CHECK(fabs(num(c, "missing_values_ratio") - ex.amount_missing / 5000.0) < 1e-12, "missing ratio %g (%g)",
		  num(c, "missing_values_ratio"), ex.amount_missing / 5000.0);
	{
		json_t	   *bins = json_object_get(json_object_get(c, "plot"), "data");
		int			counted[10] = {0},
					ok = json_array_size(bins) == 10;
		double		width = (ex.amount_max - ex.amount_min) / 10;

		for (int i = 0; i < ex.amount_n; i++)
		{
			int			b = (int) ((ex.amounts[i] - ex.amount_min) / width);

			counted[b > 9 ? 9 : b]++;
		}
		for (int b = 0; b < 10 && ok; b++)
			ok = num(json_array_get(bins, b), "count") == counted[b];
		CHECK(ok && strcmp(str(json_object_get(c, "plot"), "type"), "histogram_numerical") == 0,
			  "10 histogram bins with exact counts");
	}
	/* distinct counts: exact 5000 ids, 5 colours */
	c = column(p, "id");
	CHECK(fabs(num(c, "num_distinct_values") - 5000) <= 5000 * 0.025, "ids: %g distinct (5000)", num(c, "num_distinct_values"));
	CHECK(has_type(c, "http://schema.org/identifier"), "id is an identifier");
	c = column(p, "colour");
	CHECK(num(c, "num_distinct_values") == 5 && has_type(c, "http://schema.org/Enumeration"), "colour: 5 values, categorical");
	{
		json_t	   *bins = json_object_get(json_object_get(c, "plot"), "data");
		int			ok = json_array_size(bins) == 5;

		for (size_t b = 0; b < json_array_size(bins) && ok; b++)
			for (int k = 0; k < 5; k++)
				if (strcmp(str(json_array_get(bins, b), "bin"), categories[k]) == 0)
					ok = num(json_array_get(bins, b), "count") == ex.cats[k];
		CHECK(ok, "the colours' exact counts in the categorical plot");
	}
	CHECK(has_type(column(p, "day"), "http://schema.org/DateTime")
		  && strcmp(str(column(p, "day"), "temporal_resolution"), "day") == 0, "day: dates by the day");
	CHECK(strcmp(str(column(p, "ts"), "temporal_resolution"), "minute") == 0, "ts: to the minute");
	CHECK(has_type(column(p, "pickup_lat"), "http://schema.org/latitude")
		  && has_type(column(p, "pickup_lon"), "http://schema.org/longitude"), "latitude and longitude");
	CHECK(has_type(column(p, "comment"), "http://schema.org/Text"), "comment: free text");
	CHECK(has_type(column(p, "flag"), "http://schema.org/Boolean"), "flag: boolean");
	CHECK(has_type(column(p, "site"), "http://schema.org/URL"), "site: URLs");
	CHECK(has_type(column(p, "email"), "http://schema.org/email"), "email: addresses");
	CHECK(has_type(column(p, "file"), "https://metadata.datadrivendiscovery.org/types/FileName"), "file: file names");
	CHECK(has_type(column(p, "year"), "http://schema.org/DateTime")
		  && strcmp(str(column(p, "year"), "temporal_resolution"), "year") == 0, "year: temporal by the year");
	CHECK(fabs(num(column(p, "note"), "missing_values_ratio") - 715.0 / 5000) < 1e-12, "note: 1 in 7 missing");

	/* spatial coverage: one box, the exact extent */
	{
		json_t	   *sc = json_array_get(json_object_get(p, "spatial_coverage"), 0);
		json_t	   *coords = json_object_get(json_object_get(json_array_get(json_object_get(sc, "ranges"), 0), "range"),
											 "coordinates");

		CHECK(json_array_size(json_object_get(p, "spatial_coverage")) == 1 && strcmp(str(sc, "type"), "latlong") == 0
			  && json_number_value(json_array_get(json_array_get(coords, 0), 0)) == ex.lon_min
			  && json_number_value(json_array_get(json_array_get(coords, 0), 1)) == ex.lat_max
			  && json_number_value(json_array_get(json_array_get(coords, 1), 0)) == ex.lon_max
			  && json_number_value(json_array_get(json_array_get(coords, 1), 1)) == ex.lat_min,
			  "the pickup box is the points' exact extent");
	}
	CHECK(json_array_size(json_object_get(p, "temporal_coverage")) == 3, "three temporal columns (day, ts, year): %zu",
		  json_array_size(json_object_get(p, "temporal_coverage")));
	/* the sample: header and 20 rows of the file, in file order */
	{
		const char *sample = str(p, "sample");
		int			lines = 0,
					in_file = 0;
		long		last = 0;
		bool		ordered = true;

		for (const char *l = sample; *l; l = strchr(l, '\n') + 1)
		{
			size_t		n = (size_t) (strchr(l, '\n') - l);
			char	   *line = strndup(l, n + 1);

			lines++;
			in_file += strstr(csv, line) != NULL;
			if (lines > 1)
			{
				ordered &= atol(line) > last;
				last = atol(line);
			}
			free(line);
		}
		CHECK(lines == 21 && in_file == 21 && ordered, "sample: %d lines, %d found in the file, ordered %d", lines,
			  in_file, ordered);
	}
	/* the same bytes in other pieces and the same seed: the same profile */
	p = (json_decref(p), profile_csv(csv, len, &o, 77, &text2));
	CHECK(p && strcmp(text1, text2) == 0, "the same profile from pieces of another size");
	free(text2);
	o.seed = 99;
	json_decref(p);
	p = profile_csv(csv, len, &o, 4096, &text2);
	CHECK(p && strcmp(str(p, "sample"), "") != 0 && strcmp(text1, text2) != 0, "another seed, another sample");
	json_decref(p);
	free(text1);
	free(text2);

	/* windows: four tenths of the file, the row count estimated with bounds around the truth */
	{
		des_csv_sniff sn;
		des_error	err;
		des_profile *pr;
		des_buf		out = {0};
		json_t	   *w;
		size_t		win = len / 10;

		o = des_profile_options_default();
		des_csv_sniff_sample(csv, 65536, false, &sn, &err);
		pr = des_profile_create(&o, &err);
		for (int k = 0; k < 4; k++)
		{
			size_t		start = k == 0 ? 0 : (size_t) k * len / 4;
			size_t		n = start + win > len ? len - start : win;

			CHECK(des_profile_csv_begin(pr, &sn.dialect, start, &err) && des_profile_csv_feed(pr, csv + start, n, &err)
				  && des_profile_csv_end(pr, start + n == len, &err), "window %d: %s", k, err.message);
		}
		CHECK(des_profile_finish(pr, len, &err) && des_profile_json(pr, &out, &err), "windows: %s", err.message);
		w = json_loadb((const char *) out.data, out.len, 0, NULL);
		CHECK(w && json_is_true(json_object_get(w, "nb_rows_estimated")) && num(w, "nb_profiled_rows") < 2100
			  && num(json_object_get(w, "nb_rows_bounds"), "x") == 0, "estimated from about 2000 rows: %g",
			  num(w, "nb_profiled_rows"));
		if (w)
		{
			double		lo = json_number_value(json_array_get(json_object_get(w, "nb_rows_bounds"), 0)),
						hi = json_number_value(json_array_get(json_object_get(w, "nb_rows_bounds"), 1));

			CHECK(lo <= 5000 && 5000 <= hi && hi - lo < 500 && fabs(num(w, "nb_rows") - 5000) < 250,
				  "5000 rows estimated %g in [%g, %g]", num(w, "nb_rows"), lo, hi);
			CHECK(strcmp(str(column(w, "id"), "structural_type"), "http://schema.org/Integer") == 0
				  && num(w, "ragged_rows") == 0, "windows start at whole records");
		}
		json_decref(w);
		des_buf_free(&out);
		des_profile_destroy(pr);
	}
	free(csv);
}

static void
test_hostile(void)
{
	des_profile_options o = des_profile_options_default();
	des_error	err;
	des_profile *p;
	json_t	   *j;
	static const char latin1[] = "name,v\ncaf\xe9,1\n\"nul\0here\",2\nshort\nlong,3,4,5\n";

	o.seed = 12345;
	j = profile_csv(latin1, sizeof(latin1) - 1, &o, 5, NULL);
	o.seed = 0;
	CHECK(j != NULL, "bytes that are not UTF-8 and a NUL still give JSON jansson reads");
	if (j)
	{
		const char *sample = str(j, "sample");

		CHECK(strstr(sample, "caf\xc3\xa9") != NULL && strstr(sample, "nul\xef\xbf\xbdhere") != NULL,
			  "Latin-1 read as such, NUL as U+FFFD: %s", sample);
		CHECK(num(j, "ragged_rows") == 2 && num(j, "nb_rows") == 4, "two ragged rows of four");
		CHECK(fabs(num(column(j, "v"), "missing_values_ratio") - 0.25) < 1e-12, "the short row's value is missing");
	}
	json_decref(j);

	o.max_columns = 3;
	p = des_profile_create(&o, &err);
	{
		const char *names[] = {"a", "b", "c", "d"};
		size_t		lens[] = {1, 1, 1, 1};

		CHECK(!des_profile_set_columns(p, names, lens, 4, &err) && err.code == DES_E_TOO_LARGE, "4 columns > 3: %s",
			  err.message);
	}
	des_profile_destroy(p);
	o = des_profile_options_default();
	o.type_threshold = 1.5;
	CHECK(des_profile_create(&o, &err) == NULL && err.code == DES_E_INVALID_ARGUMENT, "a threshold above 1 refused");
	o = des_profile_options_default();
	p = des_profile_create(&o, &err);
	CHECK(!des_profile_json(p, &(des_buf) {0}, &err) && err.code == DES_E_INVALID_ARGUMENT, "json before finish refused");
	CHECK(des_profile_finish(p, 0, &err), "an empty profile finishes");
	{
		des_buf		out = {0};

		CHECK(des_profile_json(p, &out, &err) && (j = json_loadb((const char *) out.data, out.len, 0, NULL)) != NULL
			  && num(j, "nb_rows") == 0 && num(j, "nb_columns") == 0, "and is valid JSON with no rows");
		json_decref(j);
		des_buf_free(&out);
	}
	des_profile_destroy(p);

	/* a column of country and state names */
	{
		static const char places[] = "place,n\nFrance,1\nTexas,2\nontario,3\nJapan,4\nFrance,5\n";

		j = profile_csv(places, sizeof(places) - 1, &o, 1000, NULL);
		CHECK(j && has_type(column(j, "place"), "http://schema.org/AdministrativeArea"), "place: administrative areas");
		json_decref(j);
	}

	/* one date a month: month resolution; a missing-only column */
	{
		static const char months[] =
			"m,empty\n2020-01-01,\n2020-02-01,\n2020-03-01,\n2020-04-01,\n2020-05-01,\n2020-06-01,\n";

		j = profile_csv(months, sizeof(months) - 1, &o, 1000, NULL);
		CHECK(j && strcmp(str(column(j, "m"), "temporal_resolution"), "month") == 0, "first days of months: month");
		CHECK(j && !has_type(column(j, "m"), "http://schema.org/AdministrativeArea"), "dates are no places");
		CHECK(j && strcmp(str(column(j, "empty"), "structural_type"),
						  "https://metadata.datadrivendiscovery.org/types/MissingData") == 0, "an empty column: missing data");
		json_decref(j);
	}
}

int
main(void)
{
	test_reservoir();
	test_clusters();
	test_full_profile();
	test_hostile();
	printf("profile: %d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}
