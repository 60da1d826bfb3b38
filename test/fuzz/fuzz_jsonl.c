/*
 * fuzz_jsonl.c - libFuzzer target for JSON lines (the profiler's sniffer and
 * streaming reader): any bytes as a file.
 *
 * Input: byte 0 is the piece size seed (bits 0-3) and whether the input is
 * read as a window starting inside a line (bit 4); then the file.
 *
 * Invariants: no crash, UB, hang or unbounded memory; the sniffer fails with
 * a message or gives at most 64 columns; reading one shot and in pieces
 * gives the same rows and the same error; every row has the sniffed column
 * count, each field within the row buffer; rows never outnumber lines.
 */
#include "des/profile/des_jsonl.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) { fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

#define MAX_LINE 4096

typedef struct run
{
	uint64_t	digest;			/* of every row's fields, in order */
	uint64_t	rows;
	uint32_t	ncolumns;
} run;

static bool
row(void *ctx, const unsigned char *data, const des_csv_field *fields, uint32_t n, uint64_t line_bytes, des_error *err)
{
	run		   *r = ctx;

	(void) err;
	REQUIRE(n == r->ncolumns);
	REQUIRE(line_bytes >= 1 && line_bytes <= MAX_LINE + 1);
	for (uint32_t i = 0; i < n; i++)
	{
		REQUIRE(fields[i].off <= MAX_LINE && fields[i].len <= MAX_LINE - fields[i].off);
		for (uint32_t k = 0; k < fields[i].len; k++)
			r->digest = (r->digest ^ data[fields[i].off + k]) * 1099511628211ULL;
		r->digest = (r->digest ^ (fields[i].quoted ? 0x100 : 0x200)) * 1099511628211ULL;
	}
	r->rows++;
	return true;
}

static bool
read_file(const des_jsonl_columns *c, const uint8_t *s, size_t len, size_t piece, bool window, run *out,
		  des_error *err, uint64_t *lines)
{
	des_jsonl_reader r;
	bool		ok = true;

	memset(out, 0, sizeof(*out));
	out->ncolumns = c->n;
	out->digest = 1469598103934665603ULL;
	REQUIRE(des_jsonl_reader_init(&r, c, MAX_LINE, window, row, out, err));
	for (size_t off = 0; off < len && ok; off += piece)
		ok = des_jsonl_reader_feed(&r, s + off, len - off < piece ? len - off : piece, err);
	if (ok)
		ok = des_jsonl_reader_finish(&r, !window, err);
	*lines = r.lines;
	REQUIRE(out->rows <= r.lines);
	des_jsonl_reader_free(&r);
	return ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	des_jsonl_columns c;
	des_error	err,
				err2;
	run			one,
				pieces;
	uint64_t	lines1,
				lines2;
	size_t		piece;
	bool		window,
				ok1,
				ok2;

	if (size < 1)
		return 0;
	piece = 1 + (size_t) (data[0] & 15) * 3;
	window = (data[0] & 16) != 0;
	data++;
	size--;
	(void) des_jsonl_looks_like(data, size);
	if (!des_jsonl_sniff(data, size, true, 64, &c, &err))
	{
		REQUIRE(err.message[0] != '\0');
		REQUIRE(c.n == 0);
		return 0;
	}
	REQUIRE(c.n <= 64 && c.lines >= 1);
	ok1 = read_file(&c, data, size, size ? size : 1, window, &one, &err, &lines1);
	ok2 = read_file(&c, data, size, piece, window, &pieces, &err2, &lines2);
	REQUIRE(ok1 == ok2);
	if (ok1)
		REQUIRE(one.rows == pieces.rows && one.digest == pieces.digest);
	else
		REQUIRE(err.code == err2.code && strcmp(err.message, err2.message) == 0);
	des_jsonl_columns_free(&c);
	return 0;
}
