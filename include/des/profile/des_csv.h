/*
 * des_csv.h - CSV/TSV dialect sniffing and a streaming record reader for the
 * dataset profiler (PostgreSQL-free).
 *
 * Files come from anywhere (discovered datasets), so everything here treats
 * its input as hostile: memory is bounded by caller-given limits, every
 * failure is a des_error with a line and byte offset, never a crash or hang.
 * See docs/profiling.md for the heuristics and guarantees.
 *
 * Thread-safe: no global state; all state is in the caller's structures.
 */
#ifndef DES_CSV_H
#define DES_CSV_H

#include "des/common/des_error.h"

/* How a quote character inside a quoted field is written. */
typedef enum des_csv_escape
{
	DES_CSV_ESCAPE_DOUBLE = 0,	/* "" (RFC 4180) */
	DES_CSV_ESCAPE_BACKSLASH	/* \" and \<any byte>; "" still accepted */
} des_csv_escape;

typedef enum des_csv_newline
{
	DES_CSV_NEWLINE_LF = 0,
	DES_CSV_NEWLINE_CRLF,
	DES_CSV_NEWLINE_CR
} des_csv_newline;

typedef enum des_csv_encoding
{
	DES_CSV_ENCODING_ASCII = 0, /* 7-bit only (also valid UTF-8) */
	DES_CSV_ENCODING_UTF8,		/* valid UTF-8 with non-ASCII characters */
	DES_CSV_ENCODING_LATIN1		/* not UTF-8: fallback, one byte per character */
} des_csv_encoding;

/* What the reader needs; the sniffer fills it, a caller may also set it by hand. */
typedef struct des_csv_dialect
{
	unsigned char delimiter;
	unsigned char quote;		/* 0: no quoting */
	des_csv_escape escape;
	des_csv_newline newline;	/* for information: the reader accepts all three */
	bool		header;			/* record 1 holds column names */
	bool		bom;			/* the input starts with a UTF-8 BOM (the reader skips it) */
} des_csv_dialect;

/* RFC 4180: ',' '"' doubled quotes, CRLF, no header assumed, no BOM. */
extern des_csv_dialect des_csv_dialect_default(void);

/* Why sniffing failed, for callers that record failures by kind. */
typedef enum des_csv_failure
{
	DES_CSV_FAIL_NONE = 0,
	DES_CSV_FAIL_EMPTY,			/* no bytes, or only a BOM / blank lines */
	DES_CSV_FAIL_BINARY,		/* NUL or control bytes: binary data */
	DES_CSV_FAIL_UTF16,			/* a UTF-16 or UTF-32 byte-order mark */
	DES_CSV_FAIL_ONE_LINE,		/* a single record: nothing to compare */
	DES_CSV_FAIL_NO_LINE		/* no complete record within the sample */
} des_csv_failure;

/* Sniffer bounds: bytes and records of the sample that are looked at. */
#define DES_CSV_SNIFF_MAX_BYTES (1024u * 1024)
#define DES_CSV_SNIFF_MAX_ROWS 1000
#define DES_CSV_SNIFF_DEFAULT_BYTES (64u * 1024)

typedef struct des_csv_sniff
{
	des_csv_dialect dialect;
	des_csv_failure failure;	/* set when des_csv_sniff returns false */
	des_csv_encoding encoding;
	uint64_t	utf8_error_offset;	/* LATIN1: offset of the first byte that is not UTF-8 */
	uint64_t	fail_offset;	/* BINARY: offset of the first offending byte */
	uint32_t	fields;			/* the most frequent field count */
	uint32_t	rows;			/* complete records parsed in the sample */
	uint32_t	consistent_rows;	/* ... with the most frequent field count */
	double		confidence;		/* 0 .. 1: see docs/profiling.md */
	int			header_votes;	/* > 0: evidence for a header, < 0: against */
} des_csv_sniff;

/*
 * Decide the dialect from the first len bytes of a file (at most
 * DES_CSV_SNIFF_MAX_BYTES are looked at). complete: the sample is the whole
 * file (a last record without a line ending counts, an unterminated quote
 * rules out that quote character); otherwise the last, partial record is
 * ignored. False, with out->failure and err set, for an empty, binary,
 * UTF-16 or one-line input; invalid UTF-8 is not an error but reported as
 * encoding LATIN1 with the offset.
 */
extern bool des_csv_sniff_sample(const void *sample, size_t len, bool complete,
								 des_csv_sniff *out, des_error *err);

/* Reader limits: memory is at most about max_record + 16 * max_fields bytes. */
typedef struct des_csv_limits
{
	uint32_t	max_field;		/* bytes of one field, after unescaping */
	uint32_t	max_record;		/* bytes of all fields of one record */
	uint32_t	max_fields;		/* fields of one record */
	bool		check_utf8;		/* invalid UTF-8 in a field is an error */
} des_csv_limits;

#define DES_CSV_LIMIT_UPPER (1024u * 1024 * 1024)	/* no limit above 1 GiB */
#define DES_CSV_FIELDS_UPPER (1u << 20)

/* 1 MiB fields, 16 MiB records, 16384 fields, no UTF-8 check. */
extern des_csv_limits des_csv_limits_default(void);

typedef struct des_csv_field
{
	uint32_t	off;			/* in des_csv_record.data */
	uint32_t	len;
	bool		quoted;			/* the field was quoted ("" is an empty string, not a missing value) */
} des_csv_field;

typedef struct des_csv_record
{
	const unsigned char *data;	/* the unescaped fields back to back (not NUL-terminated) */
	uint32_t	len;			/* bytes of data in use */
	const des_csv_field *fields;
	uint32_t	nfields;
	uint32_t	expected;		/* field count of record 1 (itself for record 1) */
	bool		ragged;			/* nfields != expected: the caller decides */
	uint64_t	number;			/* 1-based; blank lines are not records */
	uint64_t	line;			/* 1-based physical line where the record starts */
	uint64_t	offset;			/* byte offset of its first byte in the input */
} des_csv_record;

/*
 * Called for each record, in order; the record and its data are valid only
 * during the call. Returning false stops the reader with err (which the
 * callback fills) as its error.
 */
typedef bool (*des_csv_record_cb) (void *ctx, const des_csv_record *rec, des_error *err);

/* Opaque-ish: callers allocate it but touch no field. */
typedef struct des_csv_reader
{
	des_csv_dialect dialect;
	des_csv_limits limits;
	des_csv_record_cb cb;
	void	   *ctx;
	unsigned char special_unquoted[256];	/* bytes that end a run of plain field bytes */
	unsigned char special_quoted[256];
	int			state;
	uint64_t	cr_next;		/* offset just after the last \r (for \r\n as one line break) */
	bool		field_quoted;
	bool		failed;
	unsigned char bom_held[3];	/* bytes held while checking for a BOM */
	int			bom_state;		/* 0: checking, 1: done */
	int			bom_len;
	uint64_t	consumed;		/* input bytes consumed before the current piece */
	uint64_t	line;
	uint64_t	rec_line;
	uint64_t	rec_offset;
	uint64_t	quote_line;		/* where the open quote was, for "unterminated" */
	uint64_t	quote_offset;
	uint64_t	records;
	uint64_t	ragged;			/* records whose count differs from record 1's */
	uint32_t	expected;
	unsigned char *buf;			/* record buffer: grows up to max_record */
	uint32_t	len;
	uint32_t	cap;
	uint32_t	field_start;
	des_csv_field *fields;		/* grows up to max_fields */
	uint32_t	nfields;
	uint32_t	fields_cap;
	/* where the error was (valid after a false return) */
	uint64_t	err_line;
	uint64_t	err_offset;
} des_csv_reader;

/* DES_E_INVALID_ARGUMENT for a bad dialect (delimiter = quote, a line-break delimiter, ...) or limits. */
extern bool des_csv_reader_init(des_csv_reader *r, const des_csv_dialect *d, const des_csv_limits *lim,
								des_csv_record_cb cb, void *ctx, des_error *err);

/*
 * Feed the next piece of the input (any size, 0 included); cb runs for every
 * record that ends in it. False on an error (DES_E_TOO_LARGE for a limit,
 * DES_E_CORRUPT for invalid UTF-8, or the callback's), with err_line and
 * err_offset set; the reader then stays failed.
 */
extern bool des_csv_reader_feed(des_csv_reader *r, const void *data, size_t len, des_error *err);

/* End of input: the last record (without a line ending) goes to cb; an open quote is DES_E_CORRUPT. */
extern bool des_csv_reader_finish(des_csv_reader *r, des_error *err);

/* Release the buffers (the reader may be re-initialised afterwards). */
extern void des_csv_reader_free(des_csv_reader *r);

#endif
