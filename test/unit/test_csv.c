/*
 * test_csv.c - unit tests of the CSV dialect sniffer and streaming reader
 * (profile area): every delimiter, quote styles, escapes, line endings, BOM,
 * header detection, the sniffer's errors; quoted fields, embedded line
 * breaks, ragged rows, limits with positions, unterminated quotes, streaming
 * in random pieces against one shot, a 100,000-row generated file.
 *
 * Usage: test_csv. Prints "csv: N passed, N failed".
 */
#include "unit.h"
#include "des/profile/des_csv.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

int			unit_passed,
			unit_failed;

/* ------------------------------------------------------------ helpers */

/* Records serialised as text: "line:offset:n[f1|f2|...]" one per line, quoted fields in <>. */
typedef struct out
{
	des_buf		text;
	uint64_t	records;
	uint64_t	ragged;
	uint64_t	last_line;
	uint32_t	last_nfields;
	uint32_t	max_nfields;
} out;

static bool
collect(void *ctx, const des_csv_record *rec, des_error *err)
{
	out		   *o = ctx;
	char		head[80];

	snprintf(head, sizeof(head), "%" PRIu64 ":%" PRIu64 ":%u[", rec->line, rec->offset, rec->nfields);
	des_buf_append(&o->text, head, strlen(head));
	for (uint32_t i = 0; i < rec->nfields; i++)
	{
		if (i)
			des_buf_putc(&o->text, '|');
		if (rec->fields[i].quoted)
			des_buf_putc(&o->text, '<');
		des_buf_append(&o->text, rec->data + rec->fields[i].off, rec->fields[i].len);
		if (rec->fields[i].quoted)
			des_buf_putc(&o->text, '>');
	}
	des_buf_append(&o->text, "]\n", 2);
	o->records++;
	o->ragged += rec->ragged;
	o->last_line = rec->line;
	o->last_nfields = rec->nfields;
	if (rec->nfields > o->max_nfields)
		o->max_nfields = rec->nfields;
	return true;
}

static uint64_t rng_state = 42;

static uint64_t
rng(void)
{
	uint64_t	z = (rng_state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Read s with d in pieces of at most maxpiece bytes (0: one shot); the text in o (NUL-terminated). */
static bool
read_csv(const des_csv_dialect *d, const des_csv_limits *lim, const void *s, size_t n, size_t maxpiece,
		 out *o, des_error *err, des_csv_reader *keep)
{
	des_csv_reader r;
	bool		ok = true;

	memset(o, 0, sizeof(*o));
	memset(err, 0, sizeof(*err));
	if (!des_csv_reader_init(&r, d, lim, collect, o, err))
		return false;
	for (size_t off = 0; ok && off < n;)
	{
		size_t		piece = maxpiece ? 1 + rng() % maxpiece : n;

		if (piece > n - off)
			piece = n - off;
		ok = des_csv_reader_feed(&r, (const char *) s + off, piece, err);
		off += piece;
	}
	if (ok)
		ok = des_csv_reader_finish(&r, err);
	des_buf_putc(&o->text, '\0');
	if (keep)
		*keep = r;
	des_csv_reader_free(&r);
	return ok;
}

static des_csv_dialect
dialect(unsigned char delim, unsigned char quote, des_csv_escape esc)
{
	des_csv_dialect d = des_csv_dialect_default();

	d.delimiter = delim;
	d.quote = quote;
	d.escape = esc;
	return d;
}

/* Read s one shot with d and compare the serialised records. */
static void
expect_records(const char *what, des_csv_dialect d, const char *s, const char *want)
{
	des_csv_limits lim = des_csv_limits_default();
	out			o;
	des_error	err;
	bool		ok = read_csv(&d, &lim, s, strlen(s), 0, &o, &err, NULL);

	CHECK(ok, "%s: %s", what, err.message);
	CHECK(ok && strcmp((char *) o.text.data, want) == 0, "%s: got\n%s\nwant\n%s", what,
		  o.text.data ? (char *) o.text.data : "", want);
	/* and byte by byte: the same records */
	if (ok)
	{
		out			o1;
		bool		ok1 = read_csv(&d, &lim, s, strlen(s), 1, &o1, &err, NULL);

		CHECK(ok1 && strcmp((char *) o1.text.data, (char *) o.text.data) == 0, "%s: byte by byte differs", what);
		des_buf_free(&o1.text);
	}
	des_buf_free(&o.text);
}

static bool
sniff(const char *s, des_csv_sniff *sn, des_error *err)
{
	memset(err, 0, sizeof(*err));
	return des_csv_sniff_sample(s, strlen(s), true, sn, err);
}

/* ------------------------------------------------------------ sniffer */

static void
test_sniff_delimiters(void)
{
	const unsigned char delims[] = {',', ';', '\t', '|', ':', ' '};

	for (size_t i = 0; i < sizeof(delims); i++)
	{
		char		s[512];
		unsigned char c = delims[i];
		des_csv_sniff sn;
		des_error	err;
		bool		ok;

		snprintf(s, sizeof(s),
				 "id%cname%cprice\n1%calpha%c1.5\n2%cbeta%c2.25\n3%cgamma%c3\n4%cdelta%c4.75\n5%cepsilon%c10\n",
				 c, c, c, c, c, c, c, c, c, c, c, c);
		ok = sniff(s, &sn, &err);
		CHECK(ok && sn.dialect.delimiter == c, "delimiter 0x%02x: got 0x%02x (%s)", c, sn.dialect.delimiter, err.message);
		CHECK(ok && sn.fields == 3 && sn.rows == 6 && sn.consistent_rows == 6, "delimiter 0x%02x: %u fields, %u rows",
			  c, sn.fields, sn.rows);
		CHECK(ok && sn.dialect.header, "delimiter 0x%02x: header expected (votes %d)", c, sn.header_votes);
		CHECK(ok && sn.confidence > 0.5 && sn.confidence <= 1.0, "delimiter 0x%02x: confidence %.2f", c, sn.confidence);
		CHECK(ok && sn.encoding == DES_CSV_ENCODING_ASCII && sn.dialect.newline == DES_CSV_NEWLINE_LF,
			  "delimiter 0x%02x: encoding/newline", c);
	}

	/* semicolons with decimal commas: ';' is the consistent one */
	{
		des_csv_sniff sn;
		des_error	err;
		bool		ok = sniff("name;price;qty\nfoo;1,5;3\nbar;2,25;4\nbaz;3;5\nqux;10,125;6\n", &sn, &err);

		CHECK(ok && sn.dialect.delimiter == ';', "decimal commas: got '%c'", sn.dialect.delimiter);
	}
	/* times in a comma file: ',' wins over ':' */
	{
		des_csv_sniff sn;
		des_error	err;
		bool		ok = sniff("id,at\n1,12:30:00\n2,13:45:10\n3,08:00:00\n", &sn, &err);

		CHECK(ok && sn.dialect.delimiter == ',', "times: got '%c'", sn.dialect.delimiter);
	}
	/* text with spaces in a comma file */
	{
		des_csv_sniff sn;
		des_error	err;
		bool		ok = sniff("title,year\nthe big sleep,1946\nsome like it hot,1959\nvertigo,1958\n", &sn, &err);

		CHECK(ok && sn.dialect.delimiter == ',', "spaces in text: got '%c'", sn.dialect.delimiter);
	}
	/* one column, no delimiter at all: ',' with low confidence */
	{
		des_csv_sniff sn;
		des_error	err;
		bool		ok = sniff("name\nalice\nbob\ncarol\n", &sn, &err);

		CHECK(ok && sn.fields == 1 && sn.confidence < 0.5, "one column: %u fields, confidence %.2f", sn.fields,
			  sn.confidence);
	}
}

static void
test_sniff_quotes(void)
{
	des_csv_sniff sn;
	des_error	err;
	bool		ok;

	/* quoted fields with delimiters and doubled quotes */
	ok = sniff("name,comment,n\n\"Smith, J\",\"said \"\"hi\"\"\",1\n\"Doe, A\",\"ok\",2\nLee,\"a, b, c\",3\n", &sn, &err);
	CHECK(ok && sn.dialect.delimiter == ',' && sn.dialect.quote == '"' && sn.dialect.escape == DES_CSV_ESCAPE_DOUBLE,
		  "double quotes: '%c' '%c' %d (%s)", sn.dialect.delimiter, sn.dialect.quote, sn.dialect.escape, err.message);
	CHECK(ok && sn.fields == 3 && sn.consistent_rows == 4, "double quotes: %u fields, %u consistent", sn.fields,
		  sn.consistent_rows);

	/* single quotes */
	ok = sniff("a;b;c\n'x;1';2;3\n'y;2';4;5\n'z';6;7\n", &sn, &err);
	CHECK(ok && sn.dialect.delimiter == ';' && sn.dialect.quote == '\'', "single quotes: '%c' '%c'",
		  sn.dialect.delimiter, sn.dialect.quote);

	/* no quotes at all: '"' reported (it changes nothing) */
	ok = sniff("a,b\n1,2\n3,4\n", &sn, &err);
	CHECK(ok && sn.dialect.quote == '"', "no quotes: quote 0x%02x", sn.dialect.quote);

	/* an unbalanced quote in a complete file: no quoting */
	ok = sniff("size,n\n\"5 inch,1\n6,2\n7,3\n", &sn, &err);
	CHECK(ok && sn.dialect.quote == 0 && sn.dialect.delimiter == ',', "unbalanced: quote 0x%02x delim '%c'",
		  sn.dialect.quote, sn.dialect.delimiter);

	/* backslash escapes */
	ok = sniff("id,text\n1,\"say \\\"hi\\\" now\"\n2,\"a \\\"b\\\", c\"\n3,\"plain\"\n4,\"x \\\"y\\\"\"\n", &sn, &err);
	CHECK(ok && sn.dialect.escape == DES_CSV_ESCAPE_BACKSLASH && sn.dialect.quote == '"',
		  "backslash escape: escape %d quote '%c' (%s)", sn.dialect.escape, sn.dialect.quote, err.message);
	/* doubled quotes with a stray backslash elsewhere stay doubled */
	ok = sniff("id,text\n1,\"say \"\"hi\"\" now\"\n2,\"c:\\\\dir\"\n3,\"plain\"\n", &sn, &err);
	CHECK(ok && sn.dialect.escape == DES_CSV_ESCAPE_DOUBLE, "doubled escape: escape %d", sn.dialect.escape);
}

static void
test_sniff_lines_bom_encoding(void)
{
	des_csv_sniff sn;
	des_error	err;
	bool		ok;

	ok = sniff("a,b\r\n1,2\r\n3,4\r\n", &sn, &err);
	CHECK(ok && sn.dialect.newline == DES_CSV_NEWLINE_CRLF && sn.rows == 3, "CRLF: %d rows %u", sn.dialect.newline,
		  sn.rows);
	ok = sniff("a,b\r1,2\r3,4\r", &sn, &err);
	CHECK(ok && sn.dialect.newline == DES_CSV_NEWLINE_CR && sn.rows == 3, "CR: %d rows %u", sn.dialect.newline, sn.rows);
	ok = sniff("a,b\n1,2\n3,4", &sn, &err);
	CHECK(ok && sn.dialect.newline == DES_CSV_NEWLINE_LF && sn.rows == 3, "LF, no final newline: %d rows %u",
		  sn.dialect.newline, sn.rows);

	ok = sniff("\xEF\xBB\xBFname,n\nx,1\ny,2\n", &sn, &err);
	CHECK(ok && sn.dialect.bom && sn.dialect.header, "BOM: bom %d header %d", sn.dialect.bom, sn.dialect.header);

	ok = sniff("name,n\ncaf\xC3\xA9,1\nna\xC3\xAFve,2\n", &sn, &err);
	CHECK(ok && sn.encoding == DES_CSV_ENCODING_UTF8, "UTF-8: encoding %d", sn.encoding);
	ok = sniff("name,n\ncaf\xE9,1\nna\xEFve,2\n", &sn, &err);
	CHECK(ok && sn.encoding == DES_CSV_ENCODING_LATIN1 && sn.utf8_error_offset == 10,
		  "Latin-1: encoding %d offset %" PRIu64, sn.encoding, sn.utf8_error_offset);
	/* a sequence cut by the end of a partial sample is not an error */
	{
		const char	s[] = "name,n\ncaf\xC3\xA9,1\nx,2\ny\xC3";

		memset(&err, 0, sizeof(err));
		ok = des_csv_sniff_sample(s, sizeof(s) - 1, false, &sn, &err);
		CHECK(ok && sn.encoding == DES_CSV_ENCODING_UTF8 && sn.rows == 3, "cut UTF-8: encoding %d rows %u (%s)",
			  sn.encoding, sn.rows, err.message);
		ok = des_csv_sniff_sample(s, sizeof(s) - 1, true, &sn, &err);
		CHECK(ok && sn.encoding == DES_CSV_ENCODING_LATIN1 && sn.utf8_error_offset == sizeof(s) - 2,
			  "cut UTF-8 at EOF: encoding %d offset %" PRIu64, sn.encoding, sn.utf8_error_offset);
	}
}

static void
test_sniff_header(void)
{
	static const struct
	{
		const char *s;
		bool		header;
	}			cases[] = {
		{"id,name,price\n1,alpha,1.5\n2,beta,2.5\n3,gamma,3\n", true},	/* text over numbers */
		{"1,alpha,1.5\n2,beta,2.5\n3,gamma,3\n", false},	/* numbers in row 1 */
		{"day,value\n2024-01-01,3\n2024-01-02,4\n", true},	/* text over dates */
		{"2024-01-01,3\n2024-01-02,4\n2024-01-03,5\n", false},
		{"sku,city\nAB12,paris\nCD34,london\nEF56,rome\n", true},	/* constant-length codes */
		{"AB12,paris\nCD34,london\nEF56,rome\n", false},	/* row 1 like the rest */
		{"name,city\nalice,paris\nbob,london\n", true},	/* no evidence: distinct, not repeated */
		{"a,b\na,c\nd,e\n", false},		/* row 1's value recurs below */
		{",x,y\n0,1,2\n1,3,4\n", true},	/* an empty first header cell (an index column) */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		des_csv_sniff sn;
		des_error	err;
		bool		ok = sniff(cases[i].s, &sn, &err);

		CHECK(ok && sn.dialect.header == cases[i].header, "header case %zu: got %d (votes %d, %s)", i,
			  sn.dialect.header, sn.header_votes, err.message);
	}
}

static void
test_sniff_errors(void)
{
	static const struct
	{
		const char *s;
		size_t		n;
		des_csv_failure f;
		des_error_code code;
		const char *msg;
	}			cases[] = {
		{"", 0, DES_CSV_FAIL_EMPTY, DES_E_CORRUPT, "empty"},
		{"\n\r\n  \n", 6, DES_CSV_FAIL_EMPTY, DES_E_CORRUPT, "empty"},
		{"\xEF\xBB\xBF", 3, DES_CSV_FAIL_EMPTY, DES_E_CORRUPT, "empty"},
		{"a,b,c\n", 6, DES_CSV_FAIL_ONE_LINE, DES_E_CORRUPT, "single line"},
		{"a,b,c", 5, DES_CSV_FAIL_ONE_LINE, DES_E_CORRUPT, "single line"},
		{"\xFF\xFE" "a\0,\0b\0", 8, DES_CSV_FAIL_UTF16, DES_E_UNSUPPORTED, "UTF-16"},
		{"\xFE\xFF\0a\0,\0b", 8, DES_CSV_FAIL_UTF16, DES_E_UNSUPPORTED, "UTF-16"},
		{"a\0,\0b\0\n\0", 8, DES_CSV_FAIL_BINARY, DES_E_UNSUPPORTED, "NUL byte at offset 1"},
		{"\x7F" "ELF\x02\x01\x01\x03\x04\x05\x06\x07\x08\x0e\x0f\x10\x11", 17, DES_CSV_FAIL_BINARY, DES_E_UNSUPPORTED,
		"control bytes"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		des_csv_sniff sn;
		des_error	err;
		bool		ok;

		memset(&err, 0, sizeof(err));
		ok = des_csv_sniff_sample(cases[i].s, cases[i].n, true, &sn, &err);
		CHECK(!ok && sn.failure == cases[i].f && err.code == cases[i].code && strstr(err.message, cases[i].msg),
			  "error case %zu: ok %d failure %d code %d message \"%s\"", i, ok, sn.failure, err.code, err.message);
	}
	/* a first line longer than the sample */
	{
		char	   *s = malloc(70000);
		des_csv_sniff sn;
		des_error	err;
		bool		ok;

		memset(s, 'x', 70000);
		ok = des_csv_sniff_sample(s, 70000, false, &sn, &err);
		CHECK(!ok && sn.failure == DES_CSV_FAIL_NO_LINE, "no complete line: failure %d", sn.failure);
		free(s);
	}
}

/* ------------------------------------------------------------ reader */

static void
test_reader_basics(void)
{
	des_csv_dialect d = dialect(',', '"', DES_CSV_ESCAPE_DOUBLE);

	expect_records("plain", d, "a,b,c\n1,2,3\n", "1:0:3[a|b|c]\n2:6:3[1|2|3]\n");
	expect_records("no final newline", d, "a,b\n1,2", "1:0:2[a|b]\n2:4:2[1|2]\n");
	expect_records("empty fields", d, "a,,c\n,,\n", "1:0:3[a||c]\n2:5:3[||]\n");
	expect_records("quoted delimiter", d, "\"x,y\",z\n", "1:0:2[<x,y>|z]\n");
	expect_records("doubled quotes", d, "\"say \"\"hi\"\"\",2\n", "1:0:2[<say \"hi\">|2]\n");
	expect_records("quoted empty", d, "\"\",x\n", "1:0:2[<>|x]\n");
	expect_records("embedded newlines", d, "a,\"l1\nl2\r\nl3\",b\nc,d,e\n",
				   "1:0:3[a|<l1\nl2\r\nl3>|b]\n4:16:3[c|d|e]\n");
	expect_records("CRLF", d, "a,b\r\n1,2\r\n", "1:0:2[a|b]\n2:5:2[1|2]\n");
	expect_records("CR", d, "a,b\r1,2\r", "1:0:2[a|b]\n2:4:2[1|2]\n");
	expect_records("blank lines skipped", d, "a,b\n\n\r\n1,2\n\n", "1:0:2[a|b]\n4:7:2[1|2]\n");
	expect_records("quote mid-field is data", d, "ab\"c,d\n", "1:0:2[ab\"c|d]\n");
	expect_records("data after closing quote", d, "\"ab\"c,d\n", "1:0:2[<abc>|d]\n");
	expect_records("BOM kept as data without the flag", d, "\xEF\xBB\xBFx,y\n", "1:0:2[\xEF\xBB\xBFx|y]\n");
	d.bom = true;
	expect_records("BOM skipped", d, "\xEF\xBB\xBFx,y\n", "1:3:2[x|y]\n");
	expect_records("no BOM despite the flag", d, "\xEF\xBBx,y\n", "1:0:2[\xEF\xBBx|y]\n");
	d.bom = false;
	expect_records("trailing delimiter", d, "a,b,\n", "1:0:3[a|b|]\n");

	d = dialect(',', '"', DES_CSV_ESCAPE_BACKSLASH);
	expect_records("backslash quote", d, "\"a \\\"b\\\" c\",x\n", "1:0:2[<a \"b\" c>|x]\n");
	expect_records("backslash delimiter", d, "a\\,b,c\n", "1:0:2[a,b|c]\n");
	expect_records("backslash newline", d, "a\\\nb,c\nd,e\n", "1:0:2[a\nb|c]\n3:7:2[d|e]\n");
	expect_records("backslash at the end", d, "a,b\\", "1:0:2[a|b\\]\n");

	d = dialect('\t', 0, DES_CSV_ESCAPE_DOUBLE);
	expect_records("TSV no quoting", d, "\"a\tb\"\n", "1:0:2[\"a|b\"]\n");
	d = dialect(';', '\'', DES_CSV_ESCAPE_DOUBLE);
	expect_records("single quote", d, "'a;b';'it''s'\n", "1:0:2[<a;b>|<it's>]\n");
}

static void
test_reader_ragged_and_errors(void)
{
	des_csv_dialect d = dialect(',', '"', DES_CSV_ESCAPE_DOUBLE);
	des_csv_limits lim = des_csv_limits_default();
	des_csv_reader r;
	out			o;
	des_error	err;
	bool		ok;
	const char *s;

	/* ragged rows are reported, not errors */
	s = "a,b,c\n1,2\n3,4,5,6\n7,8,9\n";
	ok = read_csv(&d, &lim, s, strlen(s), 0, &o, &err, NULL);
	CHECK(ok && o.records == 4 && o.ragged == 2, "ragged: %" PRIu64 " records, %" PRIu64 " ragged", o.records, o.ragged);
	des_buf_free(&o.text);

	/* unterminated quote: the line where it opened */
	s = "a,b\n1,2\n3,\"open\nmore\nstill\n";
	ok = read_csv(&d, &lim, s, strlen(s), 0, &o, &err, &r);
	CHECK(!ok && err.code == DES_E_CORRUPT && r.err_line == 3 && r.err_offset == 10 &&
		  strstr(err.message, "line 3 (byte offset 10)") && strstr(err.message, "not closed"),
		  "unterminated: %s (line %" PRIu64 ")", err.message, r.err_line);
	CHECK(o.records == 2, "unterminated: %" PRIu64 " records before", o.records);
	des_buf_free(&o.text);

	/* field limit */
	lim.max_field = 8;
	s = "a,b\n1,123456789\n";
	ok = read_csv(&d, &lim, s, strlen(s), 0, &o, &err, &r);
	CHECK(!ok && err.code == DES_E_TOO_LARGE && r.err_line == 2 && r.err_offset == 14 &&
		  strstr(err.message, "field 2 longer than 8 bytes at line 2 (byte offset 14)"), "field limit: %s", err.message);
	des_buf_free(&o.text);
	/* the same, byte by byte: the same position */
	ok = read_csv(&d, &lim, s, strlen(s), 1, &o, &err, &r);
	CHECK(!ok && r.err_line == 2 && r.err_offset == 14, "field limit streamed: %s", err.message);
	des_buf_free(&o.text);
	/* a quoted field over the limit, across lines */
	s = "x\n\"ab\ncd\nefgh\"\n";
	ok = read_csv(&d, &lim, s, strlen(s), 0, &o, &err, &r);
	CHECK(!ok && err.code == DES_E_TOO_LARGE && r.err_line == 4 && r.err_offset == 11, "quoted field limit: %s",
		  err.message);
	des_buf_free(&o.text);

	/* record limit */
	lim = des_csv_limits_default();
	lim.max_record = 10;
	s = "abc,def\nabcd,efgh,ijk\n";
	ok = read_csv(&d, &lim, s, strlen(s), 0, &o, &err, &r);
	CHECK(!ok && err.code == DES_E_TOO_LARGE && r.err_line == 2 && r.err_offset == 20 &&
		  strstr(err.message, "record longer than 10 bytes"), "record limit: %s", err.message);
	CHECK(o.records == 1, "record limit: records before %" PRIu64, o.records);
	des_buf_free(&o.text);

	/* field-count limit */
	lim = des_csv_limits_default();
	lim.max_fields = 3;
	s = "a,b,c\n1,2,3,4\n";
	ok = read_csv(&d, &lim, s, strlen(s), 0, &o, &err, &r);
	CHECK(!ok && err.code == DES_E_TOO_LARGE && r.err_line == 2 && strstr(err.message, "more than 3 fields"),
		  "fields limit: %s", err.message);
	des_buf_free(&o.text);
	/* the reader stays failed */
	CHECK(!des_csv_reader_feed(&r, "x", 1, &err), "feed after an error must fail");

	/* UTF-8 check */
	lim = des_csv_limits_default();
	lim.check_utf8 = true;
	s = "a,b\ncaf\xC3\xA9,1\nx,caf\xE9\n";
	ok = read_csv(&d, &lim, s, strlen(s), 0, &o, &err, &r);
	CHECK(!ok && err.code == DES_E_CORRUPT && r.err_line == 3 && r.err_offset == 12 &&
		  strstr(err.message, "field 2 of the record at line 3") && strstr(err.message, "byte 3 of the field"),
		  "UTF-8 check: %s", err.message);
	des_buf_free(&o.text);

	/* fuzz regressions: all-empty records carry a non-NULL data pointer (with the UTF-8 check on) */
	s = ",\n,,\n";
	ok = read_csv(&d, &lim, s, strlen(s), 0, &o, &err, NULL);
	CHECK(ok && o.records == 2 && strcmp((char *) o.text.data, "1:0:2[|]\n2:2:3[||]\n") == 0, "empty records: %s",
		  err.message);
	des_buf_free(&o.text);
	/* ... and the first byte over either limit is reported, however the input is cut */
	lim = des_csv_limits_default();
	lim.max_field = 1;
	lim.max_record = 1;
	s = "a,bz\n";
	for (size_t piece = 0; piece <= 1; piece++)
	{
		ok = read_csv(&d, &lim, s, strlen(s), piece, &o, &err, &r);
		CHECK(!ok && r.err_offset == 2 && strstr(err.message, "record longer than 1 bytes"),
			  "first limit byte (pieces %zu): %s", piece, err.message);
		des_buf_free(&o.text);
	}
	lim = des_csv_limits_default();
	lim.check_utf8 = true;

	/* invalid dialects and limits */
	d = dialect(',', ',', DES_CSV_ESCAPE_DOUBLE);
	CHECK(!des_csv_reader_init(&r, &d, &lim, collect, &o, &err) && err.code == DES_E_INVALID_ARGUMENT,
		  "delimiter = quote accepted");
	d = dialect('\n', '"', DES_CSV_ESCAPE_DOUBLE);
	CHECK(!des_csv_reader_init(&r, &d, &lim, collect, &o, &err), "newline delimiter accepted");
	d = dialect('\\', '"', DES_CSV_ESCAPE_BACKSLASH);
	CHECK(!des_csv_reader_init(&r, &d, &lim, collect, &o, &err), "backslash delimiter with backslash escape accepted");
	d = dialect(',', '"', DES_CSV_ESCAPE_DOUBLE);
	lim.max_record = DES_CSV_LIMIT_UPPER + 1;
	CHECK(!des_csv_reader_init(&r, &d, &lim, collect, &o, &err), "huge limit accepted");
}

/* A generated CSV of n rows: numbers, text with quotes, delimiters and newlines, dates. */
static char *
generate(size_t rows, size_t *len, bool crlf)
{
	des_buf		b = {0};
	const char *eol = crlf ? "\r\n" : "\n";

	des_buf_append(&b, "id,name,amount,day,note", 23);
	des_buf_append(&b, eol, strlen(eol));
	for (size_t i = 0; i < rows; i++)
	{
		char		line[256];
		int			n;
		uint64_t	v = rng();

		switch (v % 4)
		{
			case 0:
				n = snprintf(line, sizeof(line), "%zu,item%zu,%.2f,2024-%02d-%02d,plain%s", i, i,
							 (double) (v % 100000) / 100, (int) (v % 12) + 1, (int) (v % 28) + 1, eol);
				break;
			case 1:
				n = snprintf(line, sizeof(line), "%zu,\"Smith, J\",%d,2023-01-%02d,\"said \"\"hi\"\"\"%s", i,
							 (int) (v % 1000), (int) (v % 28) + 1, eol);
				break;
			case 2:
				n = snprintf(line, sizeof(line), "%zu,\"two\nlines\",-%d.5,2022-12-31,%s", i, (int) (v % 77), eol);
				break;
			default:
				n = snprintf(line, sizeof(line), "%zu,,,,\"\"%s", i, eol);
				break;
		}
		des_buf_append(&b, line, n);
	}
	*len = b.len;
	return (char *) b.data;
}

typedef struct check_big
{
	uint64_t	rows;
	uint64_t	bad;
	uint64_t	newlines_in_fields;
	uint64_t	last_line;
} check_big;

static bool
big_record(void *ctx, const des_csv_record *rec, des_error *err)
{
	check_big  *c = ctx;

	if (rec->nfields != 5 || rec->ragged || rec->line <= c->last_line)
		c->bad++;
	if (rec->number > 1)
	{
		/* field 0 is the row index */
		char		id[24];
		uint32_t	n = rec->fields[0].len < 23 ? rec->fields[0].len : 23;

		memcpy(id, rec->data + rec->fields[0].off, n);
		id[n] = '\0';
		if (strtoull(id, NULL, 10) != rec->number - 2)
			c->bad++;
		if (memchr(rec->data + rec->fields[1].off, '\n', rec->fields[1].len))
			c->newlines_in_fields++;
	}
	c->rows++;
	c->last_line = rec->line;
	return true;
}

static void
test_reader_streaming_and_big(void)
{
	des_csv_limits lim = des_csv_limits_default();
	size_t		len;
	char	   *s = generate(2000, &len, false);
	des_csv_dialect d = dialect(',', '"', DES_CSV_ESCAPE_DOUBLE);
	out			one;
	des_error	err;
	bool		ok = read_csv(&d, &lim, s, len, 0, &one, &err, NULL);
	int			same = 0;

	CHECK(ok && one.records == 2001, "one shot: %" PRIu64 " records (%s)", one.records, err.message);
	for (int trial = 0; trial < 40; trial++)
	{
		size_t		maxpiece = trial < 10 ? (size_t) trial + 1 : 1 + rng() % 5000;
		out			o;

		if (read_csv(&d, &lim, s, len, maxpiece, &o, &err, NULL) && o.text.len == one.text.len &&
			memcmp(o.text.data, one.text.data, o.text.len) == 0)
			same++;
		des_buf_free(&o.text);
	}
	CHECK(same == 40, "streaming in random pieces: %d of 40 equal to one shot", same);
	free(s);

	/* the sniffer on the generated file, from a partial sample */
	{
		des_csv_sniff sn;

		s = generate(5000, &len, true);
		memset(&err, 0, sizeof(err));
		ok = des_csv_sniff_sample(s, DES_CSV_SNIFF_DEFAULT_BYTES, false, &sn, &err);
		CHECK(ok && sn.dialect.delimiter == ',' && sn.dialect.quote == '"' && sn.dialect.header &&
			  sn.dialect.newline == DES_CSV_NEWLINE_CRLF && sn.fields == 5 && sn.consistent_rows == sn.rows &&
			  sn.confidence > 0.9,
			  "sniff generated: '%c' '%c' header %d newline %d fields %u rows %u/%u confidence %.2f (%s)",
			  sn.dialect.delimiter, sn.dialect.quote, sn.dialect.header, sn.dialect.newline, sn.fields,
			  sn.consistent_rows, sn.rows, sn.confidence, err.message);
		free(s);
	}

	/* 100,000 rows, streamed in 64 KiB pieces */
	{
		des_csv_reader r;
		check_big	c = {0};

		s = generate(100000, &len, false);
		ok = des_csv_reader_init(&r, &d, &lim, big_record, &c, &err);
		for (size_t off = 0; ok && off < len; off += 65536)
			ok = des_csv_reader_feed(&r, s + off, len - off < 65536 ? len - off : 65536, &err);
		ok = ok && des_csv_reader_finish(&r, &err);
		CHECK(ok && c.rows == 100001 && c.bad == 0 && c.newlines_in_fields > 20000,
			  "100,000 rows: %" PRIu64 " records, %" PRIu64 " bad, %" PRIu64 " with newlines (%s)", c.rows, c.bad,
			  c.newlines_in_fields, err.message);
		CHECK(r.records == 100001 && r.ragged == 0, "100,000 rows: reader counts %" PRIu64 "/%" PRIu64, r.records,
			  r.ragged);
		CHECK(r.cap <= 4096 && r.fields_cap <= 64, "memory: record buffer %u, fields %u", r.cap, r.fields_cap);
		des_csv_reader_free(&r);
		free(s);
	}
	des_buf_free(&one.text);
}

int
main(void)
{
	test_sniff_delimiters();
	test_sniff_quotes();
	test_sniff_lines_bom_encoding();
	test_sniff_header();
	test_sniff_errors();
	test_reader_basics();
	test_reader_ragged_and_errors();
	test_reader_streaming_and_big();
	printf("csv: %d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}
