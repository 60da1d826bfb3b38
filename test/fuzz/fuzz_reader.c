/*
 * fuzz_reader.c - libFuzzer target for the DES v1 reader.
 *
 * Treats the input as an archive: open, look every entry up by name, read and
 * decode every payload with hash verification, plan a batch read, and run the
 * full verification. Any crash, sanitizer report, leak or hang is a bug; a
 * des_error is the expected outcome for garbage.
 */
#include "des/des_local.h"
#include "des/des_reader.h"

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
	des_reader_limits limits = {64 << 20, 64 << 20};
	uint64_t   *all;
	uint64_t	n;
	des_batch_plan plan;

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
