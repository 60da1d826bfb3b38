/*
 * des_csv.c - CSV dialect sniffer and streaming record reader.
 *
 * The reader is a byte state machine fed in pieces of any size: no
 * look-ahead, so the records never depend on where the pieces end. Runs of
 * plain bytes are copied in bulk (a table lookup per byte), the only part
 * that matters for speed. The sniffer runs that same reader over the sample
 * with each candidate dialect and keeps the most consistent one, so the
 * dialect it reports parses the sample exactly as it was judged.
 */
#include "des/profile/des_csv.h"
#include "des/common/des_utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum
{
	ST_RECORD_START,			/* between records (blank lines are skipped here) */
	ST_FIELD_START,				/* after a delimiter */
	ST_UNQUOTED,
	ST_ESC_UNQUOTED,			/* after a backslash in an unquoted field */
	ST_QUOTED,
	ST_ESC_QUOTED,				/* after a backslash in a quoted field */
	ST_QUOTE_SEEN				/* a quote in a quoted field: the end, or the first of "" */
};

des_csv_dialect
des_csv_dialect_default(void)
{
	des_csv_dialect d = {',', '"', DES_CSV_ESCAPE_DOUBLE, DES_CSV_NEWLINE_CRLF, false, false};

	return d;
}

des_csv_limits
des_csv_limits_default(void)
{
	des_csv_limits l = {1024u * 1024, 16u * 1024 * 1024, 16384, false};

	return l;
}

/* ---------------------------------------------------------------- reader */

bool
des_csv_reader_init(des_csv_reader *r, const des_csv_dialect *d, const des_csv_limits *lim,
					des_csv_record_cb cb, void *ctx, des_error *err)
{
	unsigned char q = d->quote;

	memset(r, 0, sizeof(*r));
	if (d->delimiter == '\n' || d->delimiter == '\r' || d->delimiter == q ||
		(d->escape == DES_CSV_ESCAPE_BACKSLASH && (d->delimiter == '\\' || q == '\\')) ||
		q == '\n' || q == '\r')
		return des_fail(err, DES_E_INVALID_ARGUMENT,
						"invalid CSV dialect: delimiter 0x%02x, quote 0x%02x and escape must differ and not be line breaks",
						d->delimiter, q);
	if (lim->max_field == 0 || lim->max_record == 0 || lim->max_fields == 0 ||
		lim->max_record > DES_CSV_LIMIT_UPPER || lim->max_fields > DES_CSV_FIELDS_UPPER)
		return des_fail(err, DES_E_INVALID_ARGUMENT,
						"invalid CSV limits: max_field %u, max_record %u (1 .. %u), max_fields %u (1 .. %u)",
						lim->max_field, lim->max_record, DES_CSV_LIMIT_UPPER, lim->max_fields, DES_CSV_FIELDS_UPPER);
	r->dialect = *d;
	r->limits = *lim;
	r->cb = cb;
	r->ctx = ctx;
	r->line = 1;
	r->state = ST_RECORD_START;
	r->bom_state = d->bom ? 0 : 1;
	r->special_unquoted[d->delimiter] = 1;
	r->special_unquoted['\n'] = r->special_unquoted['\r'] = 1;
	r->special_quoted['\n'] = r->special_quoted['\r'] = 1;
	if (q != 0)
		r->special_quoted[q] = 1;
	if (d->escape == DES_CSV_ESCAPE_BACKSLASH)
		r->special_unquoted['\\'] = r->special_quoted['\\'] = 1;
	return true;
}

void
des_csv_reader_free(des_csv_reader *r)
{
	free(r->buf);
	free(r->fields);
	r->buf = NULL;
	r->fields = NULL;
	r->cap = r->fields_cap = 0;
}

static bool
fail_at(des_csv_reader *r, des_error *err, uint64_t line, uint64_t offset, des_error_code code,
		const char *what)
{
	r->failed = true;
	r->err_line = line;
	r->err_offset = offset;
	return des_fail(err, code, "CSV %s at line %llu (byte offset %llu)", what,
					(unsigned long long) line, (unsigned long long) offset);
}

/* Append n field bytes; at is the input offset of the first, for the error. */
static __attribute__((noinline)) bool
append_slow(des_csv_reader *r, const unsigned char *p, size_t n, uint64_t at, des_error *err)
{
	size_t		flen = r->len - r->field_start;
	size_t		froom = r->limits.max_field - flen,
				rroom = r->limits.max_record - r->len;

	/*
	 * Report the first byte that breaks a limit, the field's on a tie: the
	 * same whichever way the input was cut into pieces.
	 */
	if (n > froom && froom <= rroom)
	{
		char		what[96];

		snprintf(what, sizeof(what), "field %u longer than %u bytes", r->nfields + 1, r->limits.max_field);
		return fail_at(r, err, r->line, at + froom, DES_E_TOO_LARGE, what);
	}
	if (n > rroom)
	{
		char		what[96];

		snprintf(what, sizeof(what), "record longer than %u bytes", r->limits.max_record);
		return fail_at(r, err, r->line, at + rroom, DES_E_TOO_LARGE, what);
	}
	if (r->len + n > r->cap)
	{
		/* double, but never beyond the limit: memory stays bounded by max_record */
		size_t		want = r->cap ? (size_t) r->cap * 2 : 4096;
		unsigned char *nb;

		while (want < r->len + n)
			want *= 2;
		if (want > r->limits.max_record)
			want = r->limits.max_record;
		nb = realloc(r->buf, want);
		if (nb == NULL)
		{
			r->failed = true;
			return des_fail(err, DES_E_NOMEM, "out of memory for a CSV record of %zu bytes", want);
		}
		r->buf = nb;
		r->cap = (uint32_t) want;
	}
	memcpy(r->buf + r->len, p, n);
	r->len += (uint32_t) n;
	return true;
}

/* The hot path inline: room in the buffer, and below both limits. */
static inline bool
append(des_csv_reader *r, const unsigned char *p, size_t n, uint64_t at, des_error *err)
{
	if (n <= (size_t) r->cap - r->len && n <= r->limits.max_field - (r->len - r->field_start) &&
		n <= r->limits.max_record - r->len)
	{
		memcpy(r->buf + r->len, p, n);
		r->len += (uint32_t) n;
		return true;
	}
	return append_slow(r, p, n, at, err);
}

static __attribute__((noinline)) bool
end_field_slow(des_csv_reader *r, uint64_t at, des_error *err)
{
	if (r->nfields == r->limits.max_fields)
	{
		char		what[64];

		snprintf(what, sizeof(what), "record with more than %u fields", r->limits.max_fields);
		return fail_at(r, err, r->line, at, DES_E_TOO_LARGE, what);
	}
	if (r->nfields == r->fields_cap)
	{
		size_t		want = r->fields_cap ? (size_t) r->fields_cap * 2 : 64;
		des_csv_field *nf;

		if (want > r->limits.max_fields)
			want = r->limits.max_fields;
		nf = realloc(r->fields, want * sizeof(des_csv_field));
		if (nf == NULL)
		{
			r->failed = true;
			return des_fail(err, DES_E_NOMEM, "out of memory for %zu CSV fields", want);
		}
		r->fields = nf;
		r->fields_cap = (uint32_t) want;
	}
	r->fields[r->nfields].off = r->field_start;
	r->fields[r->nfields].len = r->len - r->field_start;
	r->fields[r->nfields].quoted = r->field_quoted;
	r->nfields++;
	r->field_start = r->len;
	r->field_quoted = false;
	return true;
}

static inline bool
end_field(des_csv_reader *r, uint64_t at, des_error *err)
{
	if (r->nfields < r->fields_cap)
	{
		/* fields_cap never exceeds max_fields: no limit check needed here */
		des_csv_field *f = &r->fields[r->nfields++];

		f->off = r->field_start;
		f->len = r->len - r->field_start;
		f->quoted = r->field_quoted;
		r->field_start = r->len;
		r->field_quoted = false;
		return true;
	}
	return end_field_slow(r, at, err);
}

/* Is f all valid UTF-8? The ASCII run is checked 8 bytes at a time first. */
static bool
utf8_ok(const unsigned char *p, size_t n, size_t *bad)
{
	const unsigned char *s = p,
			   *end = p + n;

	while (s < end)
	{
		uint32_t	cp;

		if (end - s >= 8)
		{
			uint64_t	w;

			memcpy(&w, s, 8);
			if ((w & 0x8080808080808080ULL) == 0)
			{
				s += 8;
				continue;
			}
		}
		if (*s < 0x80)
		{
			s++;
			continue;
		}
		if (!des_utf8_decode(&s, end, &cp))
		{
			*bad = (size_t) (s - p);
			return false;
		}
	}
	return true;
}

static bool
end_record(des_csv_reader *r, uint64_t at, des_error *err)
{
	des_csv_record rec;

	if (!end_field(r, at, err))
		return false;
	r->records++;
	if (r->records == 1)
		r->expected = r->nfields;
	if (r->limits.check_utf8)
	{
		for (uint32_t i = 0; i < r->nfields; i++)
		{
			size_t		bad;

			if (r->fields[i].len > 0 && !utf8_ok(r->buf + r->fields[i].off, r->fields[i].len, &bad))
			{
				r->failed = true;
				r->err_line = r->rec_line;
				r->err_offset = r->rec_offset;
				return des_fail(err, DES_E_CORRUPT,
								"CSV field %u of the record at line %llu (byte offset %llu) is not valid UTF-8 (byte %zu of the field)",
								i + 1, (unsigned long long) r->rec_line, (unsigned long long) r->rec_offset, bad);
			}
		}
	}
	rec.data = r->buf ? r->buf : (const unsigned char *) "";	/* never NULL, even when all fields are empty */
	rec.len = r->len;
	rec.fields = r->fields;
	rec.nfields = r->nfields;
	rec.expected = r->expected;
	rec.ragged = r->nfields != r->expected;
	rec.number = r->records;
	rec.line = r->rec_line;
	rec.offset = r->rec_offset;
	if (rec.ragged)
		r->ragged++;
	r->len = 0;
	r->field_start = 0;
	r->nfields = 0;
	if (r->cb && !r->cb(r->ctx, &rec, err))
	{
		r->failed = true;
		r->err_line = rec.line;
		r->err_offset = rec.offset;
		return false;
	}
	return true;
}

/*
 * Count a line break at input offset at: \r, \n, and \r\n as one. The \r is
 * remembered by position, so that no other byte needs to clear a flag.
 */
static inline void
line_break(des_csv_reader *r, unsigned char c, uint64_t at)
{
	if (c == '\r')
		r->cr_next = at + 1;
	else if (r->cr_next == at && at != 0)
		return;
	r->line++;
}

static bool
process(des_csv_reader *r, const unsigned char *p, size_t n, des_error *err)
{
	const unsigned char q = r->dialect.quote;
	const unsigned char delim = r->dialect.delimiter;
	size_t		i = 0;

	while (i < n)
	{
		unsigned char c = p[i];
		uint64_t	at = r->consumed + i;

		switch (r->state)
		{
			case ST_RECORD_START:
				if (c == '\n' || c == '\r')
				{
					/* a blank line, or the \n of a \r\n: no record */
					line_break(r, c, at);
					i++;
					continue;
				}
				r->rec_line = r->line;
				r->rec_offset = at;
				__attribute__((fallthrough));
			case ST_FIELD_START:
				if (c == q && q != 0)
				{
					r->state = ST_QUOTED;
					r->field_quoted = true;
					r->quote_line = r->line;
					r->quote_offset = at;
					i++;
				}
				else
					r->state = ST_UNQUOTED;
				continue;
			case ST_UNQUOTED:
				{
					size_t		j = i;

					while (j < n && !r->special_unquoted[p[j]])
						j++;
					if (j > i)
					{
						if (!append(r, p + i, j - i, at, err))
							return false;
						i = j;
						continue;
					}
				}
				if (c == delim)
				{
					if (!end_field(r, at, err))
						return false;
					/* the next field is unquoted unless it starts with the quote: skip a dispatch */
					r->state = i + 1 < n && (q == 0 || p[i + 1] != q) ? ST_UNQUOTED : ST_FIELD_START;
				}
				else if (c == '\n' || c == '\r')
				{
					/* end_record first: the record's line is where it started */
					if (!end_record(r, at, err))
						return false;
					line_break(r, c, at);
					r->state = ST_RECORD_START;
				}
				else			/* the backslash */
					r->state = ST_ESC_UNQUOTED;
				i++;
				continue;
			case ST_ESC_UNQUOTED:
			case ST_ESC_QUOTED:
				/* any byte after a backslash is itself, a line break included */
				if (c == '\n' || c == '\r')
					line_break(r, c, at);
				if (!append(r, &c, 1, at, err))
					return false;
				r->state = r->state == ST_ESC_QUOTED ? ST_QUOTED : ST_UNQUOTED;
				i++;
				continue;
			case ST_QUOTED:
				{
					size_t		j = i;

					while (j < n && !r->special_quoted[p[j]])
						j++;
					if (j > i)
					{
						if (!append(r, p + i, j - i, at, err))
							return false;
						i = j;
						continue;
					}
				}
				if (c == q)
					r->state = ST_QUOTE_SEEN;
				else if (c == '\n' || c == '\r')
				{
					line_break(r, c, at);
					if (!append(r, &c, 1, at, err))
						return false;
				}
				else
					r->state = ST_ESC_QUOTED;
				i++;
				continue;
			case ST_QUOTE_SEEN:
				if (c == q)
				{
					/* "" inside quotes: one quote */
					if (!append(r, &c, 1, at, err))
						return false;
					r->state = ST_QUOTED;
					i++;
				}
				else if (c == delim)
				{
					if (!end_field(r, at, err))
						return false;
					r->state = ST_FIELD_START;
					i++;
				}
				else if (c == '\n' || c == '\r')
				{
					if (!end_record(r, at, err))
						return false;
					line_break(r, c, at);
					r->state = ST_RECORD_START;
					i++;
				}
				else
				{
					/* "ab"c: lenient, as Python's csv: the rest is plain field data */
					r->state = ST_UNQUOTED;
				}
				continue;
		}
	}
	return true;
}

bool
des_csv_reader_feed(des_csv_reader *r, const void *data, size_t len, des_error *err)
{
	const unsigned char *p = data;
	static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};

	if (r->failed)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "CSV reader used after an error");
	/* a BOM may arrive split across pieces: hold up to 3 bytes until decided */
	while (r->bom_state == 0 && len > 0)
	{
		r->bom_held[r->bom_len++] = *p++;
		len--;
		if (r->bom_held[r->bom_len - 1] != bom[r->bom_len - 1])
		{
			/* not a BOM after all: the held bytes are data */
			int			held = r->bom_len;

			r->bom_state = 1;
			if (!process(r, r->bom_held, held, err))
				return false;
			r->consumed += held;
		}
		else if (r->bom_len == 3)
		{
			r->bom_state = 1;
			r->consumed += 3;
		}
	}
	if (len == 0)
		return true;
	if (!process(r, p, len, err))
		return false;
	r->consumed += len;
	return true;
}

bool
des_csv_reader_finish(des_csv_reader *r, des_error *err)
{
	uint64_t	at;

	if (r->failed)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "CSV reader used after an error");
	if (r->bom_state == 0)
	{
		int			held = r->bom_len;

		r->bom_state = 1;
		if (held > 0 && !process(r, r->bom_held, held, err))
			return false;
		r->consumed += held;
	}
	at = r->consumed;
	switch (r->state)
	{
		case ST_QUOTED:
		case ST_ESC_QUOTED:
			r->failed = true;
			r->err_line = r->quote_line;
			r->err_offset = r->quote_offset;
			return des_fail(err, DES_E_CORRUPT,
							"CSV quoted field opened at line %llu (byte offset %llu) is not closed at the end of the input",
							(unsigned long long) r->quote_line, (unsigned long long) r->quote_offset);
		case ST_ESC_UNQUOTED:
			{
				/* a backslash at the very end stands for itself */
				unsigned char bs = '\\';

				if (!append(r, &bs, 1, at - 1, err))
					return false;
			}
			__attribute__((fallthrough));
		case ST_FIELD_START:
		case ST_UNQUOTED:
		case ST_QUOTE_SEEN:
			if (!end_record(r, at, err))
				return false;
			break;
		default:
			break;
	}
	r->state = ST_RECORD_START;
	return true;
}

/* --------------------------------------------------------------- sniffer */

static const unsigned char delimiters[] = {',', '\t', ';', '|', ':', ' '};
static const unsigned char quotes[] = {'"', '\'', 0};

#define HEADER_ROWS 20			/* rows whose values the header vote looks at */
#define HEADER_COLS 256			/* columns it looks at */
#define MAX_COUNTS 64			/* distinct field counts tallied */

/* What one trial parse of the sample found. */
typedef struct trial
{
	uint32_t	rows;
	uint32_t	counts[MAX_COUNTS];	/* field count ... */
	uint32_t	count_rows[MAX_COUNTS]; /* ... and how many rows had it */
	uint32_t	ncounts;
	uint32_t	quoted_fields;
	uint32_t	irregular;		/* quoted fields with data after the closing quote */
	bool		unterminated;
	bool		failed;
	uint32_t	mode;			/* most frequent field count */
	uint32_t	mode_rows;
	/* for the header vote (final parse only) */
	bool		keep;
	uint32_t	kept;
	char	   *cells[HEADER_ROWS + 1];	/* each row's fields, \0-separated */
	uint32_t	cell_n[HEADER_ROWS + 1];
	size_t		cell_len[HEADER_ROWS + 1];
} trial;

static bool
trial_record(void *ctx, const des_csv_record *rec, des_error *err)
{
	trial	   *t = ctx;
	uint32_t	k;

	if (t->rows == DES_CSV_SNIFF_MAX_ROWS)
		return true;
	t->rows++;
	for (k = 0; k < t->ncounts && t->counts[k] != rec->nfields; k++)
		;
	if (k == t->ncounts && k < MAX_COUNTS)
	{
		t->counts[k] = rec->nfields;
		t->ncounts++;
	}
	if (k < MAX_COUNTS)
		t->count_rows[k]++;
	for (uint32_t i = 0; i < rec->nfields; i++)
		t->quoted_fields += rec->fields[i].quoted;
	if (t->keep && t->kept <= HEADER_ROWS)
	{
		/* copy the fields, \0-terminated, for the header vote */
		size_t		sz = rec->len + rec->nfields;
		char	   *c = malloc(sz ? sz : 1);

		if (c == NULL)
			return des_fail(err, DES_E_NOMEM, "out of memory while sniffing a CSV header");
		for (uint32_t i = 0, o = 0; i < rec->nfields; i++)
		{
			if (rec->fields[i].len)
				memcpy(c + o, rec->data + rec->fields[i].off, rec->fields[i].len);
			o += rec->fields[i].len;
			c[o++] = '\0';
		}
		t->cells[t->kept] = c;
		t->cell_n[t->kept] = rec->nfields;
		t->cell_len[t->kept] = sz;
		t->kept++;
	}
	return true;
}

static void
trial_free(trial *t)
{
	for (uint32_t i = 0; i < t->kept; i++)
		free(t->cells[i]);
	t->kept = 0;
}

/* Count data after a closing quote: reparse-free, from the reader's lenient path. */
static uint32_t
count_irregular(const unsigned char *s, size_t n, const des_csv_dialect *d)
{
	/* a closing quote followed by neither quote, delimiter nor line break */
	uint32_t	irregular = 0;
	bool		in_quotes = false,
				field_start = true;

	if (d->quote == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = s[i];

		if (in_quotes)
		{
			if (c == '\\' && d->escape == DES_CSV_ESCAPE_BACKSLASH)
				i++;
			else if (c == d->quote)
			{
				if (i + 1 < n && s[i + 1] == d->quote)
					i++;
				else
				{
					in_quotes = false;
					if (i + 1 < n && s[i + 1] != d->delimiter && s[i + 1] != '\n' && s[i + 1] != '\r')
						irregular++;
				}
			}
			field_start = false;
		}
		else if (c == d->quote && field_start)
			in_quotes = true;
		else
		{
			if (c == '\\' && d->escape == DES_CSV_ESCAPE_BACKSLASH)
				i++;
			field_start = c == d->delimiter || c == '\n' || c == '\r';
		}
	}
	return irregular;
}

static bool
run_trial(const unsigned char *s, size_t n, bool complete, const des_csv_dialect *d, trial *t, des_error *err)
{
	des_csv_reader r;
	des_csv_limits lim = {(uint32_t) n + 1, (uint32_t) n + 1,
		n + 1 < DES_CSV_FIELDS_UPPER ? (uint32_t) n + 1 : DES_CSV_FIELDS_UPPER, false};
	des_error	e;
	bool		ok;

	/* the sample bounds every record: these limits are never hit */
	if (!des_csv_reader_init(&r, d, &lim, trial_record, t, &e))
		return des_fail(err, DES_E_INVALID_ARGUMENT, "%s", e.message);
	ok = des_csv_reader_feed(&r, s, n, &e);
	if (ok && complete)
	{
		ok = des_csv_reader_finish(&r, &e);
		if (!ok && e.code == DES_E_CORRUPT)
			t->unterminated = true;
	}
	des_csv_reader_free(&r);
	if (!ok && e.code == DES_E_NOMEM)
		return des_fail(err, DES_E_NOMEM, "%s", e.message);
	t->failed = !ok;
	t->irregular = count_irregular(s, n, d);
	for (uint32_t k = 0; k < t->ncounts; k++)
		if (t->count_rows[k] > t->mode_rows ||
			(t->count_rows[k] == t->mode_rows && t->counts[k] > t->mode))
		{
			t->mode = t->counts[k];
			t->mode_rows = t->count_rows[k];
		}
	return true;
}

/*
 * How well a dialect explains the sample, 0 .. 1: the share of rows with the
 * most frequent field count, less the share of quoted fields it had to read
 * leniently; 0 if that count is 1 (the delimiter does not occur) or an
 * unterminated quote swallowed the rest of a complete file.
 */
static double
trial_score(const trial *t)
{
	double		s;

	if (t->rows == 0 || t->mode < 2 || t->unterminated || t->failed)
		return 0;
	s = (double) t->mode_rows / t->rows - (double) t->irregular / t->rows;
	return s < 0 ? 0 : s;
}

/* Value types for the header vote. */
enum
{
	V_EMPTY, V_NUMBER, V_DATE, V_TEXT
};

static bool
is_number(const char *s)
{
	const char *p = s;
	bool		digits = false;

	if (*p == '-' || *p == '+')
		p++;
	while (*p >= '0' && *p <= '9')
		p++, digits = true;
	if (*p == '.' || *p == ',')
	{
		p++;
		while (*p >= '0' && *p <= '9')
			p++, digits = true;
	}
	if (digits && (*p == 'e' || *p == 'E'))
	{
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return digits && *p == '\0';
}

/* YYYY-MM-DD, YYYY/MM/DD, DD/MM/YYYY, DD.MM.YYYY, then anything (a time) after a space or T. */
static bool
is_date(const char *s)
{
	int			d[3] = {0},
				n[3] = {0},
				part = 0;
	char		sep = 0;
	const char *p = s;

	for (; *p && part < 3; p++)
	{
		if (*p >= '0' && *p <= '9')
		{
			if (++n[part] > 4)
				return false;
			d[part] = d[part] * 10 + (*p - '0');
		}
		else if ((*p == '-' || *p == '/' || *p == '.') && part < 2 && n[part] > 0 && (sep == 0 || sep == *p))
		{
			sep = *p;
			part++;
		}
		else
			break;
	}
	if (part != 2 || n[2] == 0 || (*p != '\0' && *p != ' ' && *p != 'T'))
		return false;
	if (n[0] == 4)
		return d[1] >= 1 && d[1] <= 12 && d[2] >= 1 && d[2] <= 31 && n[2] <= 2;
	if (n[2] == 4)
		return d[0] >= 1 && d[0] <= 31 && d[1] >= 1 && d[1] <= 31 && n[0] <= 2 && n[1] <= 2;
	return false;
}

static int
value_type(const char *s)
{
	while (*s == ' ')
		s++;
	if (*s == '\0')
		return V_EMPTY;
	if (is_number(s))
		return V_NUMBER;
	if (is_date(s))
		return V_DATE;
	return V_TEXT;
}

static const char *
cell(const trial *t, uint32_t row, uint32_t col)
{
	const char *c = t->cells[row];

	for (uint32_t i = 0; i < col; i++)
		c += strlen(c) + 1;
	return c;
}

/*
 * Does row 0 name the columns? In the spirit of Python's csv.Sniffer.has_header:
 * per column, the type (number, date) or the constant length of the values
 * below row 0 is compared with row 0's value: different votes for a header,
 * the same votes against. A number or date in row 0 rules a header out. With
 * no vote at all (all-text columns of varying length), row 0 is a header if
 * its values are distinct and none recurs in its column below: names rarely
 * repeat as data.
 */
static int
header_vote(const trial *t, uint32_t fields, bool *header)
{
	int			votes = 0;
	bool		recurs = false,
				distinct = true,
				any = false;

	*header = false;
	if (t->kept < 2 || t->cell_n[0] != fields)
		return 0;
	for (uint32_t col = 0; col < fields && col < HEADER_COLS; col++)
	{
		const char *h = cell(t, 0, col);
		int			ht = value_type(h),
					ctype = -1;
		size_t		clen = (size_t) -1;
		bool		same_type = true,
					same_len = true;
		uint32_t	seen = 0;

		if (ht == V_NUMBER || ht == V_DATE)
			return -100;		/* a header holds no numbers or dates */
		any |= ht != V_EMPTY;
		for (uint32_t c2 = 0; c2 < col; c2++)
			if (ht != V_EMPTY && strcmp(cell(t, 0, c2), h) == 0)
				distinct = false;
		for (uint32_t row = 1; row < t->kept; row++)
		{
			const char *v;
			int			vt;

			if (t->cell_n[row] != fields)
				continue;
			v = cell(t, row, col);
			vt = value_type(v);
			if (strcmp(v, h) == 0 && ht != V_EMPTY)
				recurs = true;
			if (vt == V_EMPTY)
				continue;
			if (ctype == -1)
				ctype = vt;
			else if (ctype != vt)
				same_type = false;
			if (clen == (size_t) -1)
				clen = strlen(v);
			else if (clen != strlen(v))
				same_len = false;
			seen++;
		}
		if (seen == 0 || ht == V_EMPTY)
			continue;
		if (same_type && (ctype == V_NUMBER || ctype == V_DATE))
			votes++;			/* row 0 is text above numbers or dates */
		else if (same_len && seen >= 2)
			votes += strlen(h) != clen ? 1 : -1;
	}
	if (!any)
		return votes;
	if (votes > 0)
		*header = true;
	else if (votes == 0)
		*header = distinct && !recurs;
	return votes;
}

bool
des_csv_sniff_sample(const void *sample, size_t len, bool complete, des_csv_sniff *out, des_error *err)
{
	const unsigned char *s = sample;
	size_t		n = len,
				ctrl = 0,
				start = 0;
	size_t		crlf = 0,
				cr = 0,
				lf = 0;
	bool		backslash_quote = false;
	double		best = -1,
				second = -1;
	des_csv_dialect d = des_csv_dialect_default(),
				bestd = d;
	trial		bt;

	memset(out, 0, sizeof(*out));
	if (n > DES_CSV_SNIFF_MAX_BYTES)
	{
		n = DES_CSV_SNIFF_MAX_BYTES;
		complete = false;
	}
	if (n >= 2 && ((s[0] == 0xFF && s[1] == 0xFE) || (s[0] == 0xFE && s[1] == 0xFF)))
	{
		out->failure = DES_CSV_FAIL_UTF16;
		return des_fail(err, DES_E_UNSUPPORTED, "binary or UTF-16, not profiled: a UTF-16 byte-order mark at byte 0");
	}
	if (n >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
	{
		out->dialect.bom = true;
		start = 3;
	}

	/* encoding and line endings in one pass */
	for (size_t i = start; i < n; i++)
	{
		unsigned char c = s[i];

		if (c == 0)
		{
			out->failure = DES_CSV_FAIL_BINARY;
			out->fail_offset = i;
			return des_fail(err, DES_E_UNSUPPORTED, "binary or UTF-16, not profiled: a NUL byte at offset %zu", i);
		}
		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') || c == 0x7F)
		{
			/* a few control bytes happen in text; many mean binary */
			if (ctrl++ == 0)
				out->fail_offset = i;
		}
		else if (c == '\r')
		{
			if (i + 1 < n && s[i + 1] == '\n')
				crlf++, i++;
			else if (i + 1 < n || complete)
				cr++;
		}
		else if (c == '\n')
			lf++;
		else if (c == '\\' && i + 2 < n && (s[i + 1] == '"' || s[i + 1] == '\''))
			backslash_quote = true;
	}
	if (ctrl * 100 > n - start)
	{
		out->failure = DES_CSV_FAIL_BINARY;
		return des_fail(err, DES_E_UNSUPPORTED,
						"binary or UTF-16, not profiled: %zu control bytes in the first %zu, the first at offset %llu",
						ctrl, n, (unsigned long long) out->fail_offset);
	}
	out->fail_offset = 0;
	{
		size_t		bad;
		bool		ascii = true;

		for (size_t i = start; i < n && ascii; i++)
			ascii = s[i] < 0x80;
		out->encoding = ascii ? DES_CSV_ENCODING_ASCII : DES_CSV_ENCODING_UTF8;
		if (!ascii && !utf8_ok(s + start, n - start, &bad))
		{
			/* a sequence cut by the end of a partial sample is not an error */
			bool		cut = !complete && n - start - bad < 4 && (s[start + bad] & 0xC0) == 0xC0;

			for (size_t k = start + bad + 1; cut && k < n; k++)
				cut = (s[k] & 0xC0) == 0x80;
			if (!cut)
			{
				out->encoding = DES_CSV_ENCODING_LATIN1;
				out->utf8_error_offset = start + bad;
			}
		}
	}
	{
		size_t		blank = 0;

		for (size_t i = start; i < n; i++)
			blank += s[i] == '\n' || s[i] == '\r' || s[i] == ' ' || s[i] == '\t';
		if (blank == n - start)
		{
			out->failure = DES_CSV_FAIL_EMPTY;
			return des_fail(err, DES_E_CORRUPT, "empty CSV input: %s", n == 0 ? "no bytes" : "no data, only blank lines or a BOM");
		}
	}
	out->dialect.newline = crlf >= lf && crlf >= cr && crlf > 0 ? DES_CSV_NEWLINE_CRLF :
		cr > lf ? DES_CSV_NEWLINE_CR : DES_CSV_NEWLINE_LF;

	/* every delimiter x quote (x escape, if \" occurs) candidate: parse, score, keep the best */
	for (int esc = 0; esc <= (backslash_quote ? 1 : 0); esc++)
		for (size_t di = 0; di < sizeof(delimiters); di++)
			for (size_t qi = 0; qi < sizeof(quotes); qi++)
			{
				trial		t;
				double		sc;

				memset(&t, 0, sizeof(t));
				d.delimiter = delimiters[di];
				d.quote = quotes[qi];
				d.escape = esc ? DES_CSV_ESCAPE_BACKSLASH : DES_CSV_ESCAPE_DOUBLE;
				d.bom = out->dialect.bom;
				if (!run_trial(s, n, complete, &d, &t, err))
					return false;
				/* an apostrophe no field is quoted with would be reported for nothing */
				if (d.quote == '\'' && t.quoted_fields == 0)
					continue;
				/* ties go to the earlier candidate: '"' when no field is quoted */
				sc = trial_score(&t);
				if (d.delimiter == ' ')
					sc *= 0.9;	/* spaces are common inside text: the last resort */
				if (sc > best)
				{
					if (bestd.delimiter != d.delimiter)
						second = best;
					best = sc;
					bestd = d;
				}
				else if (d.delimiter != bestd.delimiter && sc > second)
					second = sc;
			}
	if (best <= 0)
	{
		/* no delimiter makes a consistent table: read one column */
		bestd.delimiter = ',';
		bestd.quote = '"';
		bestd.escape = DES_CSV_ESCAPE_DOUBLE;
		best = 0;
	}
	bestd.bom = out->dialect.bom;
	bestd.newline = out->dialect.newline;

	/* the final parse with the dialect chosen keeps the first rows for the header vote */
	memset(&bt, 0, sizeof(bt));
	bt.keep = true;
	if (!run_trial(s, n, complete, &bestd, &bt, err))
	{
		trial_free(&bt);
		return false;
	}
	out->rows = bt.rows;
	out->fields = bt.mode;
	out->consistent_rows = bt.mode_rows;
	if (bt.rows == 0)
	{
		trial_free(&bt);
		out->failure = DES_CSV_FAIL_NO_LINE;
		return des_fail(err, DES_E_CORRUPT, "no complete CSV line in the first %zu bytes", n);
	}
	if (bt.rows == 1)
	{
		trial_free(&bt);
		out->failure = DES_CSV_FAIL_ONE_LINE;
		if (complete)
			return des_fail(err, DES_E_CORRUPT, "CSV input has a single line: its dialect cannot be told");
		return des_fail(err, DES_E_CORRUPT, "only one complete CSV line in the first %zu bytes", n);
	}
	out->header_votes = header_vote(&bt, bt.mode, &bestd.header);
	trial_free(&bt);
	out->dialect = bestd;

	/*
	 * Confidence: the score, scaled down when few rows back it (under 10) and
	 * when another delimiter came close (a margin under 0.2).
	 */
	{
		double		c = best;

		if (bt.rows < 10)
			c *= 0.5 + 0.05 * bt.rows;
		if (second > 0 && best - second < 0.2)
			c *= 0.5 + 2.5 * (best - second);
		if (best == 0)
			c = 0.25 * ((double) bt.mode_rows / bt.rows);	/* one column: a guess */
		out->confidence = c;
	}
	return true;
}
