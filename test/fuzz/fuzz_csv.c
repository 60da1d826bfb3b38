/*
 * fuzz_csv.c - libFuzzer target for the CSV sniffer and streaming reader.
 *
 * Input: a 4-byte header, then the bytes of a "file".
 *   byte 0      bit 0: the sample is the whole file (complete); bits 1-7:
 *               piece-size seed
 *   byte 1      the fixed dialect: bits 0-2 delimiter (, ; \t | : space \\ x),
 *               bits 3-4 quote (" ' none ,), bit 5 backslash escape, bit 6 BOM
 *               (some combinations are invalid and must be refused)
 *   byte 2      limits: max_field = 1 + (low 4 bits) * 16, max_record =
 *               max_field * (1 + high 4 bits); 0xFF: the defaults
 *   byte 3      max_fields = 1 + value; bit 7 of it also turns the UTF-8 check on
 *
 * Invariants: no crash, UB or hang; the sniffer fails exactly with a failure
 * kind and a message, succeeds with a dialect the reader accepts and a
 * confidence in [0, 1]; reading (with the sniffed dialect, and with the fixed
 * one and small limits) one shot and in pseudo-random pieces gives the same
 * records and the same error at the same position; every field lies in its
 * record's buffer, fields are back to back, within the limits; the buffers
 * never grow beyond the limits; records and error positions lie within the
 * input and its line count.
 */
#include "des/profile/des_csv.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) { fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

typedef struct run
{
	des_buf		text;			/* the records, serialised */
	const des_csv_limits *lim;
	size_t		input_len;
	uint64_t	lines;			/* physical lines of the input (an upper bound for record lines) */
	uint64_t	last_offset;
	uint64_t	records;
} run;

static bool
on_record(void *ctx, const des_csv_record *rec, des_error *err)
{
	run		   *r = ctx;
	uint32_t	expect_off = 0;

	REQUIRE(rec->len <= r->lim->max_record);
	REQUIRE(rec->nfields >= 1 && rec->nfields <= r->lim->max_fields);
	for (uint32_t i = 0; i < rec->nfields; i++)
	{
		REQUIRE(rec->fields[i].off == expect_off);
		REQUIRE(rec->fields[i].len <= r->lim->max_field);
		REQUIRE((uint64_t) rec->fields[i].off + rec->fields[i].len <= rec->len);
		expect_off += rec->fields[i].len;
	}
	REQUIRE(expect_off == rec->len);
	REQUIRE(rec->number == r->records + 1);
	REQUIRE(rec->offset < r->input_len);
	REQUIRE(r->records == 0 || rec->offset > r->last_offset);
	REQUIRE(rec->line >= 1 && rec->line <= r->lines);
	REQUIRE(rec->ragged == (rec->nfields != rec->expected));
	r->records++;
	r->last_offset = rec->offset;
	des_buf_append(&r->text, &rec->line, sizeof(rec->line));
	des_buf_append(&r->text, &rec->offset, sizeof(rec->offset));
	des_buf_append(&r->text, &rec->nfields, sizeof(rec->nfields));
	for (uint32_t i = 0; i < rec->nfields; i++)
		des_buf_putc(&r->text, rec->fields[i].quoted);
	des_buf_append(&r->text, rec->data, rec->len);
	return true;
}

typedef struct outcome
{
	bool		ok;
	des_error	err;
	uint64_t	err_line;
	uint64_t	err_offset;
	run			r;
} outcome;

/* Read in pieces of 1 .. maxpiece bytes (0: one shot). */
static void
read_all(const des_csv_dialect *d, const des_csv_limits *lim, const uint8_t *in, size_t len, uint64_t lines,
		 size_t maxpiece, uint32_t seed, outcome *o)
{
	des_csv_reader rd;

	memset(o, 0, sizeof(*o));
	o->r.lim = lim;
	o->r.input_len = len;
	o->r.lines = lines;
	REQUIRE(des_csv_reader_init(&rd, d, lim, on_record, &o->r, &o->err));
	o->ok = true;
	for (size_t off = 0; o->ok && off < len;)
	{
		size_t		piece = len - off;

		if (maxpiece)
		{
			seed = seed * 1103515245u + 12345u;
			piece = 1 + (seed >> 8) % maxpiece;
			if (piece > len - off)
				piece = len - off;
		}
		o->ok = des_csv_reader_feed(&rd, in + off, piece, &o->err);
		/* bounded memory, whatever the input */
		REQUIRE(rd.cap <= lim->max_record);
		REQUIRE(rd.fields_cap <= lim->max_fields);
		off += piece;
	}
	if (o->ok)
		o->ok = des_csv_reader_finish(&rd, &o->err);
	if (!o->ok)
	{
		REQUIRE(o->err.code != DES_OK && o->err.message[0] != '\0');
		REQUIRE(o->err.code == DES_E_TOO_LARGE || o->err.code == DES_E_CORRUPT);
		REQUIRE(rd.err_offset <= len);
		REQUIRE(rd.err_line >= 1 && rd.err_line <= lines);
		o->err_line = rd.err_line;
		o->err_offset = rd.err_offset;
		REQUIRE(!des_csv_reader_feed(&rd, in, len, &o->err));
	}
	des_csv_reader_free(&rd);
}

static void
check_streaming(const des_csv_dialect *d, const des_csv_limits *lim, const uint8_t *in, size_t len,
				uint64_t lines, size_t maxpiece, uint32_t seed)
{
	outcome		one,
				pieces;

	read_all(d, lim, in, len, lines, 0, 0, &one);
	read_all(d, lim, in, len, lines, maxpiece, seed, &pieces);
	REQUIRE(one.ok == pieces.ok);
	REQUIRE(one.r.records == pieces.r.records);
	REQUIRE(one.r.text.len == pieces.r.text.len);
	REQUIRE(one.r.text.len == 0 || memcmp(one.r.text.data, pieces.r.text.data, one.r.text.len) == 0);
	if (!one.ok)
	{
		REQUIRE(one.err.code == pieces.err.code);
		REQUIRE(one.err_line == pieces.err_line && one.err_offset == pieces.err_offset);
		REQUIRE(strcmp(one.err.message, pieces.err.message) == 0);
	}
	des_buf_free(&one.r.text);
	des_buf_free(&pieces.r.text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char delims[] = {',', ';', '\t', '|', ':', ' ', '\\', 'x'};
	static const unsigned char quotes[] = {'"', '\'', 0, ','};
	des_csv_sniff sn;
	des_csv_dialect d;
	des_csv_limits lim = des_csv_limits_default(),
				small;
	des_error	err;
	des_csv_reader probe;
	const uint8_t *in;
	size_t		len,
				maxpiece;
	uint64_t	lines = 1;
	uint32_t	seed;
	bool		complete;

	if (size < 4)
		return 0;
	complete = data[0] & 1;
	seed = data[0] >> 1;
	maxpiece = 1 + seed % 97;
	in = data + 4;
	len = size - 4;
	for (size_t i = 0; i < len; i++)
		lines += in[i] == '\r' || (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'));

	/* 1. sniff */
	memset(&err, 0, sizeof(err));
	if (des_csv_sniff_sample(in, len, complete, &sn, &err))
	{
		REQUIRE(sn.failure == DES_CSV_FAIL_NONE);
		REQUIRE(sn.confidence >= 0 && sn.confidence <= 1);
		REQUIRE(sn.rows >= 2 && sn.consistent_rows <= sn.rows && sn.fields >= 1);
		REQUIRE(sn.encoding != DES_CSV_ENCODING_LATIN1 || sn.utf8_error_offset < len);
		REQUIRE(des_csv_reader_init(&probe, &sn.dialect, &lim, NULL, NULL, &err));
		des_csv_reader_free(&probe);
		check_streaming(&sn.dialect, &lim, in, len, lines, maxpiece, seed);
	}
	else
	{
		REQUIRE(sn.failure != DES_CSV_FAIL_NONE);
		REQUIRE(err.code != DES_OK && err.message[0] != '\0');
		REQUIRE(sn.fail_offset <= len);
	}

	/* 2. a fixed dialect and small limits */
	d = des_csv_dialect_default();
	d.delimiter = delims[data[1] & 7];
	d.quote = quotes[(data[1] >> 3) & 3];
	d.escape = (data[1] & 0x20) ? DES_CSV_ESCAPE_BACKSLASH : DES_CSV_ESCAPE_DOUBLE;
	d.bom = (data[1] & 0x40) != 0;
	small = lim;
	if (data[2] != 0xFF)
	{
		small.max_field = 1 + (data[2] & 15) * 16;
		small.max_record = small.max_field * (1 + (data[2] >> 4));
	}
	small.max_fields = 1 + data[3];
	small.check_utf8 = (data[3] & 0x80) != 0;
	memset(&err, 0, sizeof(err));
	if (!des_csv_reader_init(&probe, &d, &small, NULL, NULL, &err))
	{
		REQUIRE(err.code == DES_E_INVALID_ARGUMENT);
		REQUIRE(d.delimiter == d.quote || (d.escape == DES_CSV_ESCAPE_BACKSLASH && d.delimiter == '\\'));
		return 0;
	}
	des_csv_reader_free(&probe);
	check_streaming(&d, &small, in, len, lines, maxpiece, seed);
	return 0;
}
