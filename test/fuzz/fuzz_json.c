/*
 * fuzz_json.c - libFuzzer target for the JSON meta parser.
 *
 * The input is entry meta as a caller gives it to the writer or as a hostile
 * archive stores it. It goes through what the writer and the readers do with
 * meta: compaction with the known-key bits, lookups of the keys pg_des reads
 * (size, is_external, external_key, blake2b, compression) and their decoding,
 * and the jsonb compatibility check; then des_json_append_string on the same
 * bytes as a caller-supplied string.
 *
 * Invariants: validation agrees across entry points (compact, find_key and
 * jsonb_compatible accept the same texts); compaction is idempotent, prints
 * only ASCII and keeps the keys, their values and the jsonb verdict; a failed
 * compaction leaves the output buffer as it was; a string appended with
 * des_json_append_string decodes back to the same bytes.
 */
#include "des/format/des_json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) { fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

static const char *const keys[] = {"size", "is_external", "external_key", "blake2b", "compression", "i"};

/* Look every key up in text; decode the values as the reader does. */
static void
lookups(const char *text, size_t len, bool valid, des_json_span *values, bool *found)
{
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
	{
		des_error	err;
		bool		f = false;
		des_json_span v = {0};
		bool		ok = des_json_find_key(text, len, keys[k], &f, &v, &err);

		REQUIRE(ok == valid);
		if (!ok)
		{
			REQUIRE(err.code == DES_E_INVALID_META && err.message[0] != '\0');
			continue;
		}
		found[k] = f;
		values[k] = v;
		if (!f)
			continue;
		REQUIRE(v.ptr >= text && v.len > 0 && v.ptr + v.len <= text + len);
		{
			uint64_t	n;
			char		small[8],
						big[1024];
			size_t		nl = 0,
						bl = 0;
			bool		s_ok = des_json_span_string(v, small, sizeof(small), &nl);
			bool		b_ok = des_json_span_string(v, big, sizeof(big), &bl);

			(void) des_json_span_uint64(v, &n);
			(void) des_json_span_is_true(v);
			if (s_ok)
				REQUIRE(b_ok && nl == bl && nl < sizeof(small) && memcmp(small, big, nl) == 0 && small[nl] == '\0');
			if (b_ok)
				REQUIRE(bl < sizeof(big) && big[bl] == '\0' && v.ptr[0] == '"');
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *in = malloc(size ? size : 1);
	des_buf		out = {0},
				again = {0};
	des_error	err;
	unsigned	bits = 0,
				bits2 = 0;
	bool		valid;
	bool		found[6] = {0},
				found2[6] = {0};
	des_json_span values[6] = {{0}},
				values2[6] = {{0}};

	memcpy(in, data, size);

	/* a failed compaction must leave what the buffer held */
	REQUIRE(des_buf_append(&out, "prefix", 6));
	valid = des_json_compact_object(in, size, &out, &bits, &err);
	REQUIRE(out.len >= 6 && memcmp(out.data, "prefix", 6) == 0);
	if (!valid)
		REQUIRE(out.len == 6 && (err.code == DES_E_INVALID_META || err.code == DES_E_NOMEM));
	lookups(in, size, valid, values, found);
	if (!valid)
		REQUIRE(!des_json_jsonb_compatible(in, size));
	else
	{
		const char *c = (const char *) out.data + 6;
		size_t		clen = out.len - 6;

		for (size_t i = 0; i < clen; i++)
			REQUIRE(c[i] >= 0x20 && c[i] <= 0x7e);
		REQUIRE(c[0] == '{' && c[clen - 1] == '}');
		/* idempotent, same keys, same jsonb verdict */
		REQUIRE(des_json_compact_object(c, clen, &again, &bits2, &err));
		REQUIRE(again.len == clen && memcmp(again.data, c, clen) == 0 && bits2 == bits);
		REQUIRE(des_json_jsonb_compatible(in, size) == des_json_jsonb_compatible(c, clen));
		lookups(c, clen, true, values2, found2);
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		{
			REQUIRE(found[k] == found2[k]);
			if (found[k])
			{
				/* a value is the same JSON either way: compare the compacted forms */
				des_buf		a = {0},
							b = {0};
				char		wrap_a[] = "{\"v\":";

				REQUIRE(des_buf_append(&a, wrap_a, 5) && des_buf_append(&a, values[k].ptr, values[k].len) && des_buf_putc(&a, '}'));
				REQUIRE(des_buf_append(&b, wrap_a, 5) && des_buf_append(&b, values2[k].ptr, values2[k].len) && des_buf_putc(&b, '}'));
				again.len = 0;
				REQUIRE(des_json_compact_object((const char *) a.data, a.len, &again, NULL, &err));
				REQUIRE(again.len == b.len && memcmp(again.data, b.data, b.len) == 0);
				des_buf_free(&a);
				des_buf_free(&b);
			}
		}
		REQUIRE(((bits & DES_JSON_HAS_SIZE) != 0) == found[0]);
		REQUIRE(((bits & DES_JSON_HAS_EXTERNAL_KEY) != 0) == found[2]);
	}

	/* the input as a caller's string: valid UTF-8 round-trips */
	out.len = 0;
	if (des_json_append_string(&out, in, size))
	{
		des_json_span v = {(const char *) out.data, out.len};
		char	   *back = malloc(size + 1);
		size_t		n = 0;

		REQUIRE(des_json_span_string(v, back, size + 1, &n) && n == size && memcmp(back, in, size) == 0);
		free(back);
	}
	des_buf_free(&out);
	des_buf_free(&again);
	free(in);
	return 0;
}
