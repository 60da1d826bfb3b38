/*
 * des_jsonl.h - JSON lines for the dataset profiler (PostgreSQL-free): one
 * JSON object per line, each top-level member a column.
 *
 * The sniffer reads the start of a file and says whether it is JSON lines
 * (every complete non-blank line of the sample is a JSON object) and which
 * columns it has: the union of the objects' top-level keys, in the order
 * first seen. The reader then turns each line into a row of those columns,
 * in pieces of any size: a string member gives its decoded text, a number,
 * true or false its text, null a missing value, an object or array its JSON
 * text; a column a line lacks is missing; a key outside the columns makes
 * the row ragged (counted, ignored). Input is hostile: every line is
 * validated by the core's JSON parser (depth-bounded, strict), lines are at
 * most max_line bytes, memory is bounded by that.
 *
 * Thread-safe: no global state.
 */
#ifndef DES_JSONL_H
#define DES_JSONL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "des/common/des_error.h"
#include "des/profile/des_csv.h"

typedef struct des_jsonl_columns
{
	uint32_t	n;
	char	  **names;			/* decoded UTF-8, NUL-terminated */
	size_t	   *lens;
	uint64_t	lines;			/* object lines in the sample */
	bool		empty;			/* no line at all (the failure is then "empty") */
} des_jsonl_columns;

#define DES_JSONL_KEY_MAX 1024	/* longer keys are not columns */
#define DES_JSONL_SNIFF_LINES 1000

/*
 * Whether sample[0..len) starts JSON lines, and its columns (at most
 * max_columns: more is DES_E_TOO_LARGE). complete: the sample is the whole
 * file (its last line counts without a line break). False with err
 * (DES_E_CORRUPT naming the line) when a line is not a JSON object, or with
 * out->empty set when there is no line.
 */
extern bool des_jsonl_sniff(const void *sample, size_t len, bool complete, uint32_t max_columns,
							des_jsonl_columns *out, des_error *err);
extern void des_jsonl_columns_free(des_jsonl_columns *c);
/* Cheap test: the first non-blank byte (after a UTF-8 BOM) is '{'. */
extern bool des_jsonl_looks_like(const void *sample, size_t len);

/* A row: n fields laid out as in a CSV record (offsets into data), and the line's bytes. */
typedef bool (*des_jsonl_row_cb) (void *ctx, const unsigned char *data, const des_csv_field *fields, uint32_t n,
								  uint64_t line_bytes, des_error *err);

typedef struct des_jsonl_reader
{
	des_jsonl_row_cb cb;
	void	   *ctx;
	uint32_t	ncolumns;
	char	  **names;			/* the columns (borrowed from des_jsonl_columns) */
	size_t	   *lens;
	uint32_t   *slots;			/* open addressing: column index + 1 by key hash */
	uint32_t	nslots;
	uint32_t	max_line;
	bool		skip_first;		/* a window inside a file: drop up to the first line break */
	bool		first_line;		/* the file's first line is next (it may start with a BOM) */
	unsigned char *line;		/* the line being assembled */
	uint32_t	line_len;
	unsigned char *row;			/* decoded values, back to back */
	uint32_t	row_len;
	des_csv_field *fields;
	bool		extra;			/* this line has a key outside the columns */
	uint64_t	lines;			/* lines read (blank ones included) */
	uint64_t	rows;
	uint64_t	ragged;			/* rows with a key outside the columns */
	bool		failed;
	char		keybuf[DES_JSONL_KEY_MAX + 1];
} des_jsonl_reader;

/* max_line: longest line (bytes); skip_first: the input starts inside a line (a window). */
extern bool des_jsonl_reader_init(des_jsonl_reader *r, const des_jsonl_columns *columns, uint32_t max_line,
								  bool skip_first, des_jsonl_row_cb cb, void *ctx, des_error *err);
extern bool des_jsonl_reader_feed(des_jsonl_reader *r, const void *data, size_t len, des_error *err);
/* End of input: at_eof, the last line without a line break is a row; otherwise it is dropped (a window's cut). */
extern bool des_jsonl_reader_finish(des_jsonl_reader *r, bool at_eof, des_error *err);
extern void des_jsonl_reader_free(des_jsonl_reader *r);

#endif
