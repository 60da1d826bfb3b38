/*
 * fuzz_profile.c - libFuzzer target for the dataset profiler: any bytes as
 * a CSV file.
 *
 * Input: byte 0 chooses the run: bit 0 read the file as windows (two, at
 * offsets from byte 1) instead of whole; bits 1-3 the piece size; bit 4 no
 * header; then the file.
 *
 * Invariants: no crash, UB, hang or unbounded memory (small limits: 64
 * columns, 4 KiB fields); the sniffer refuses the file or the profile is
 * built; whatever rows were read, the JSON written is one valid object
 * (jansson reads it) with nb_profiled_rows the rows given, nb_columns the
 * columns, every column's missing ratio in [0, 1], distinct counts at most
 * the rows, and with windows an estimate whose bounds hold it.
 */
#include "des/profile/des_profile.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) { fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

static bool
feed(des_profile *p, const uint8_t *s, size_t len, size_t piece, des_error *err)
{
	for (size_t off = 0; off < len; off += piece)
		if (!des_profile_csv_feed(p, s + off, len - off < piece ? len - off : piece, err))
			return false;
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	des_csv_sniff sn;
	des_error	err;
	des_profile_options o = des_profile_options_default();
	des_profile *p;
	des_buf		out = {0};
	json_t	   *j,
			   *c;
	size_t		piece,
				i;
	bool		windows,
				ok;

	if (size < 2)
		return 0;
	windows = data[0] & 1;
	piece = (size_t) 1 << (2 * ((data[0] >> 1) & 7));
	o.max_columns = 64;
	o.csv_limits.max_field = 4096;
	o.csv_limits.max_record = 65536;
	o.csv_limits.max_fields = 64;
	o.sample_rows = 5;
	o.reservoir = 64;
	if (!des_csv_sniff_sample(data + 2, size - 2, true, &sn, &err))
		return 0;
	if (data[0] & 16)
		sn.dialect.header = false;
	p = des_profile_create(&o, &err);
	REQUIRE(p != NULL);
	if (!windows)
		ok = des_profile_csv_begin(p, &sn.dialect, 0, &err) && feed(p, data + 2, size - 2, piece, &err)
			&& des_profile_csv_end(p, true, &err);
	else
	{
		size_t		len = size - 2,
					second = len ? data[1] % len : 0;

		ok = des_profile_csv_begin(p, &sn.dialect, 0, &err) && feed(p, data + 2, second / 2, piece, &err)
			&& des_profile_csv_end(p, second / 2 == len, &err)
			&& des_profile_csv_begin(p, &sn.dialect, second, &err)
			&& feed(p, data + 2 + second, len - second, piece, &err) && des_profile_csv_end(p, true, &err);
	}
	if (!ok)
	{
		REQUIRE(err.message[0] != '\0');
		des_profile_destroy(p);
		return 0;
	}
	REQUIRE(des_profile_finish(p, windows ? size - 2 : 0, &err));
	REQUIRE(des_profile_json(p, &out, &err));
	j = json_loadb((const char *) out.data, out.len, 0, NULL);
	REQUIRE(j != NULL && json_is_object(j));
	REQUIRE((uint64_t) json_integer_value(json_object_get(j, "nb_profiled_rows")) == des_profile_rows(p));
	REQUIRE((uint32_t) json_integer_value(json_object_get(j, "nb_columns")) == des_profile_column_count(p));
	json_array_foreach(json_object_get(j, "columns"), i, c)
	{
		double		m = json_number_value(json_object_get(c, "missing_values_ratio"));

		REQUIRE(m >= 0 && m <= 1);
		REQUIRE((uint64_t) json_integer_value(json_object_get(c, "num_distinct_values")) <= des_profile_rows(p));
	}
	if (json_is_true(json_object_get(j, "nb_rows_estimated")))
	{
		json_t	   *b = json_object_get(j, "nb_rows_bounds");
		json_int_t	n = json_integer_value(json_object_get(j, "nb_rows"));

		REQUIRE(json_integer_value(json_array_get(b, 0)) <= n && n <= json_integer_value(json_array_get(b, 1)));
	}
	json_decref(j);
	des_buf_free(&out);
	des_profile_destroy(p);
	return 0;
}
