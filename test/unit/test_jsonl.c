/*
 * test_jsonl.c - unit tests of JSON lines for the profiler (profile area):
 * the sniffer (the union of the keys in first-seen order, a line that is not
 * an object named by its number, empty input, a BOM, too many keys), the
 * reader (decoded strings with escapes, numbers, booleans, null as missing,
 * nested values as their JSON, absent and extra keys, CRLF and blank lines,
 * any piece size giving the same rows, windows that start inside a line and
 * drop the line they cut, the line limit), and a profile of JSON lines whose
 * figures are computed here.
 *
 * Usage: test_jsonl. Prints "jsonl: N passed, N failed".
 */
#include "unit.h"
#include "des/profile/des_jsonl.h"
#include "des/profile/des_profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int			unit_passed,
			unit_failed;

/* every row as "a=x|b=|c=..." lines, missing values as "-" */
typedef struct rows
{
	char		text[8192];
	const des_jsonl_columns *cols;
	uint64_t	bytes;
} rows;

static bool
collect(void *ctx, const unsigned char *data, const des_csv_field *fields, uint32_t n, uint64_t line_bytes,
		des_error *err)
{
	rows	   *r = ctx;
	size_t		len = strlen(r->text);

	(void) err;
	r->bytes += line_bytes;
	for (uint32_t i = 0; i < n; i++)
		len += (size_t) snprintf(r->text + len, sizeof(r->text) - len, "%s%s=%.*s", i ? "|" : "", r->cols->names[i],
								 fields[i].len == 0 && !fields[i].quoted ? 1 : (int) fields[i].len,
								 fields[i].len == 0 && !fields[i].quoted ? "-" : (const char *) data + fields[i].off);
	snprintf(r->text + len, sizeof(r->text) - len, "\n");
	return true;
}

static bool
read_all(const char *input, size_t len, const des_jsonl_columns *cols, size_t piece, bool skip_first, bool at_eof,
		 rows *out, uint64_t *ragged, des_error *err)
{
	des_jsonl_reader r;
	bool		ok = true;

	memset(out, 0, sizeof(*out));
	out->cols = cols;
	if (!des_jsonl_reader_init(&r, cols, 256, skip_first, collect, out, err))
		return false;
	for (size_t off = 0; off < len && ok; off += piece)
		ok = des_jsonl_reader_feed(&r, input + off, len - off < piece ? len - off : piece, err);
	if (ok)
		ok = des_jsonl_reader_finish(&r, at_eof, err);
	if (ragged)
		*ragged = r.ragged;
	des_jsonl_reader_free(&r);
	return ok;
}

static bool
profile_row(void *ctx, const unsigned char *data, const des_csv_field *fields, uint32_t n, uint64_t line_bytes,
			des_error *err)
{
	des_profile_count_row_bytes(ctx, line_bytes);
	return des_profile_add_row(ctx, data, fields, n, err);
}

int
main(void)
{
	des_jsonl_columns cols;
	des_error	err;
	rows		a,
				b;
	uint64_t	ragged = 0;
	static const char input[] =
		"{\"id\": 1, \"name\": \"caf\\u00e9\", \"ok\": true}\r\n"
		"\n"
		"{\"name\": \"x\\\"y\", \"id\": 2, \"tags\": [1, {\"a\": 2}], \"ok\": null}\n"
		"  \n"
		"{\"id\": 3, \"extra\": \"?\", \"name\": \"\"}\n"
		"{\"id\": 4}";

	/* the sniffer: the union of the keys, first seen first */
	CHECK(des_jsonl_sniff(input, sizeof(input) - 1, true, 100, &cols, &err), "sniff: %s", err.message);
	CHECK(cols.n == 5 && strcmp(cols.names[0], "id") == 0 && strcmp(cols.names[1], "name") == 0 &&
		  strcmp(cols.names[2], "ok") == 0 && strcmp(cols.names[3], "tags") == 0 && strcmp(cols.names[4], "extra") == 0 &&
		  cols.lines == 4, "columns id, name, ok, tags, extra of 4 lines: %u columns", cols.n);

	/* the reader, one shot and byte by byte */
	CHECK(read_all(input, sizeof(input) - 1, &cols, sizeof(input), false, true, &a, &ragged, &err), "read: %s", err.message);
	CHECK(strcmp(a.text,
				 "id=1|name=caf\xc3\xa9|ok=true|tags=-|extra=-\n"
				 "id=2|name=x\"y|ok=-|tags=[1, {\"a\": 2}]|extra=-\n"
				 "id=3|name=|ok=-|tags=-|extra=?\n"
				 "id=4|name=-|ok=-|tags=-|extra=-\n") == 0, "rows:\n%s", a.text);
	CHECK(ragged == 0, "every key is a column: no ragged row");
	CHECK(read_all(input, sizeof(input) - 1, &cols, 1, false, true, &b, NULL, &err) && strcmp(a.text, b.text) == 0,
		  "the same rows byte by byte");
	CHECK(read_all(input, sizeof(input) - 1, &cols, 7, false, true, &b, NULL, &err) && strcmp(a.text, b.text) == 0 &&
		  a.bytes == b.bytes, "and in pieces of 7 bytes, with the same line bytes");
	/* a window: starts inside the first line, drops the one it cuts at its end */
	CHECK(read_all(input + 10, sizeof(input) - 1 - 10 - 5, &cols, 64, true, false, &b, NULL, &err) &&
		  strcmp(b.text, "id=2|name=x\"y|ok=-|tags=[1, {\"a\": 2}]|extra=-\nid=3|name=|ok=-|tags=-|extra=?\n") == 0,
		  "a window: the first partial line skipped, the cut last line dropped:\n%s", b.text);
	des_jsonl_columns_free(&cols);

	/* columns from the first line only: a later key makes the row ragged */
	{
		static const char two[] = "{\"a\": 1}\n{\"a\": 2, \"b\": 3}\n";
		des_jsonl_columns one;

		CHECK(des_jsonl_sniff(two, 9, false, 100, &one, &err) && one.n == 1, "a sample of one line: one column");
		CHECK(read_all(two, sizeof(two) - 1, &one, 100, false, true, &b, &ragged, &err) && ragged == 1 &&
			  strcmp(b.text, "a=1\na=2\n") == 0, "an extra key: the row is ragged, the key ignored");
		des_jsonl_columns_free(&one);
	}

	/* refusals */
	{
		static const char bad[] = "{\"a\": 1}\n{\"a\": }\n";
		static const char notobj[] = "{\"a\": 1}\n[1, 2]\n";
		static const char bom[] = "\xef\xbb\xbf{\"k\": \"v\"}\n";
		des_jsonl_columns c;

		CHECK(!des_jsonl_sniff(bad, sizeof(bad) - 1, true, 100, &c, &err) && err.code == DES_E_CORRUPT &&
			  strstr(err.message, "line 2") != NULL, "invalid JSON on line 2: %s", err.message);
		CHECK(!des_jsonl_sniff(notobj, sizeof(notobj) - 1, true, 100, &c, &err) && strstr(err.message, "line 2") &&
			  strstr(err.message, "not a JSON object"), "an array line: %s", err.message);
		CHECK(!des_jsonl_sniff("\n \n", 3, true, 100, &c, &err) && c.empty, "blank input is empty");
		CHECK(!des_jsonl_sniff("{\"a\":1,\"b\":2,\"c\":3}\n", 20, true, 2, &c, &err) && err.code == DES_E_TOO_LARGE,
			  "more keys than columns allowed: %s", err.message);
		CHECK(des_jsonl_sniff(bom, sizeof(bom) - 1, true, 100, &c, &err) && c.n == 1 &&
			  read_all(bom, sizeof(bom) - 1, &c, 4, false, true, &b, NULL, &err) && strcmp(b.text, "k=v\n") == 0,
			  "a UTF-8 BOM is skipped");
		CHECK(!read_all("{\"k\": \"0123456789012345678901234567890123456789012345678901234567890123456789"
						"0123456789012345678901234567890123456789012345678901234567890123456789"
						"0123456789012345678901234567890123456789012345678901234567890123456789"
						"0123456789012345678901234567890123456789012345678901234567890123456789\"}\n",
						292, &c, 50, false, true, &b, NULL, &err) && err.code == DES_E_TOO_LARGE,
			  "a line above the limit: %s", err.message);
		CHECK(!read_all(bad, sizeof(bad) - 1, &c, 3, false, true, &b, NULL, &err) && strstr(err.message, "line 2"),
			  "the reader names the bad line too: %s", err.message);
		CHECK(des_jsonl_looks_like(bom, sizeof(bom) - 1) && des_jsonl_looks_like("  \n{", 4) &&
			  !des_jsonl_looks_like("a,b\n", 4) && !des_jsonl_looks_like("", 0), "what looks like JSON lines");
		des_jsonl_columns_free(&c);
	}

	/* a profile of JSON lines: numbers are numbers, strings text, figures as computed here */
	{
		char		buf[64 * 1024];
		size_t		len = 0;
		des_jsonl_columns c;
		des_jsonl_reader r;
		des_profile_options o = des_profile_options_default();
		des_profile *p = des_profile_create(&o, &err);
		des_buf		out = {0};
		double		sum = 0;

		for (int i = 1; i <= 500; i++)
		{
			len += (size_t) snprintf(buf + len, sizeof(buf) - len,
									 "{\"n\": %d, \"x\": %d.5, \"when\": \"2024-02-%02d\", \"s\": \"v%d\"}\n", i, i % 7,
									 1 + i % 28, i % 3);
			sum += i % 7 + 0.5;
		}
		CHECK(des_jsonl_sniff(buf, len, true, 100, &c, &err) && c.n == 4, "sniff: %s", err.message);
		CHECK(des_profile_set_columns(p, (const char *const *) c.names, c.lens, c.n, &err), "columns");
		/* through the reader into the profile */
		des_jsonl_reader_init(&r, &c, 1024, false, profile_row, p, &err);
		CHECK(des_jsonl_reader_feed(&r, buf, len, &err) && des_jsonl_reader_finish(&r, true, &err), "fed: %s",
			  err.message);
		des_jsonl_reader_free(&r);
		CHECK(des_profile_finish(p, 0, &err) && des_profile_json(p, &out, &err), "profile: %s", err.message);
		{
			char	   *j = strndup((const char *) out.data, out.len);
			char		mean[64];

			snprintf(mean, sizeof(mean), "\"mean\":%.15g", sum / 500);
			CHECK(strstr(j, "\"nb_rows\":500") && strstr(j, "\"name\":\"n\",\"structural_type\":\"http://schema.org/Integer\"") &&
				  strstr(j, "\"name\":\"x\",\"structural_type\":\"http://schema.org/Float\"") && strstr(j, mean) &&
				  strstr(j, "\"temporal_resolution\":\"day\"") && strstr(j, "http://schema.org/Enumeration"),
				  "500 rows, integer n, float x with mean %s, dates by the day, a categorical s:\n%.600s", mean, j);
			free(j);
		}
		des_buf_free(&out);
		des_profile_destroy(p);
		des_jsonl_columns_free(&c);
	}

	printf("jsonl: %d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}

