/*
 * fuzz_reader.c - libFuzzer target for the DES v1 reader.
 *
 * Treats the input as an archive: open, look every entry up by name, read and
 * decode every payload with hash verification, plan a batch read, and run the
 * full verification. The same bytes are also fed to the other parsers of
 * untrusted input: the JSON meta compactor/key lookup and the S3 XML scanner
 * (server responses). Any crash, sanitizer report, leak or hang is a bug; a
 * des_error is the expected outcome for garbage.
 */
#include "des/format/des_json.h"
#include "des/io/des_local.h"
#include "des/s3/des_s3xml.h"
#include "des/format/des_reader.h"

#include <stdint.h>
#include <stdlib.h>

static void
ignore_report(void *ctx, const char *check, bool ok, const char *detail)
{
	(void) ctx;
	(void) check;
	(void) ok;
	(void) detail;
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	des_source	src;
	des_reader *r;
	des_error	err;
	des_buf		out = {0};
	des_read_options ro = {true, NULL, NULL};
	des_reader_limits limits = {.max_index_bytes = 64 << 20, .max_payload_bytes = 64 << 20};
	uint64_t   *all;
	uint64_t	n;
	des_batch_plan plan;

	/* JSON meta and S3 XML parsers */
	{
		des_buf		b = {0};
		unsigned	keys;
		bool		found;
		des_json_span v;
		size_t		pos = 0,
					st,
					en;
		static const char *const names[] = {"Code", "Message", "UploadId", "Key", "Contents", "NextContinuationToken"};

		(void) des_json_compact_object((const char *) data, size, &b, &keys, &err);
		if (des_json_find_key((const char *) data, size, "external_key", &found, &v, &err) && found)
		{
			char		key[256];
			uint64_t	n;

			(void) des_json_span_string(v, key, sizeof(key), NULL);
			(void) des_json_span_uint64(v, &n);
		}
		(void) des_json_jsonb_compatible((const char *) data, size);
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		{
			pos = 0;
			while (des_xml_next_text((const char *) data, size, &pos, names[k], &b))
				;
			pos = 0;
			while (des_xml_next_element((const char *) data, size, &pos, names[k], &st, &en))
				if (en <= st || en > size)
					abort();
		}
		des_buf_free(&b);
	}

	des_memory_source(&src, data, size);
	if (!des_reader_open(&src, &limits, &r, &err))
		return 0;
	n = des_reader_count(r);
	all = malloc((n ? n : 1) * sizeof(uint64_t));
	for (uint64_t i = 0; i < n; i++)
	{
		const des_entry *e = des_reader_entry(r, i);
		int64_t		k = des_reader_find(r, e->name, e->name_len);
		uint64_t	psize;

		if (k < 0 || (uint64_t) k < i)
			abort();			/* every name must be found, at itself or a later duplicate */
		(void) des_reader_payload_size(r, i, &psize, &err);
		(void) des_reader_get(r, i, &ro, &out, &err);
		all[i] = i;
	}
	if (des_reader_plan_batch(r, all, n, 4096, 1 << 20, &plan, &err))
	{
		for (size_t k = 0; k < plan.nranges; k++)
		{
			unsigned char *buf = malloc(plan.ranges[k].length ? plan.ranges[k].length : 1);

			if (des_reader_read_at(r, plan.ranges[k].offset, buf, plan.ranges[k].length, &err))
				for (size_t j = plan.ranges[k].first; j < plan.ranges[k].first + plan.ranges[k].count; j++)
					(void) des_reader_decode(r, plan.entries[j],
											 buf + (des_reader_entry(r, plan.entries[j])->data_offset - plan.ranges[k].offset),
											 &ro, &out, &err);
			free(buf);
		}
		des_batch_plan_free(&plan);
	}
	des_reader_verify(r, &ro, ignore_report, NULL);
	free(all);
	des_buf_free(&out);
	des_reader_close(r);
	return 0;
}
