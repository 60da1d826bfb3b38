/*
 * des_jsonl.c - JSON lines: the sniffer and the streaming reader (see
 * des_jsonl.h). Each line is validated and taken apart by the core's JSON
 * parser (des_json_object_members); keys are matched to columns through a
 * small open-addressing table of their hashes.
 */
#include "des/profile/des_jsonl.h"
#include "des/format/des_json.h"
#include "des/profile/des_sketch.h"

#include <stdlib.h>
#include <string.h>

bool
des_jsonl_looks_like(const void *sample, size_t len)
{
	const unsigned char *s = sample;
	size_t		i = 0;

	if (len >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
		i = 3;
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
		i++;
	return i < len && s[i] == '{';
}

static bool
blank_line(const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* ---- the sniffer ---- */

typedef struct sniff_ctx
{
	des_jsonl_columns *out;
	uint32_t	max_columns;
	uint32_t	cap;
	char		key[DES_JSONL_KEY_MAX + 1];
} sniff_ctx;

static bool
sniff_member(void *arg, des_json_span key, des_json_span value, des_error *err)
{
	sniff_ctx  *c = arg;
	des_jsonl_columns *out = c->out;
	size_t		klen;

	(void) value;
	if (!des_json_span_string(key, c->key, sizeof(c->key), &klen))
		return true;			/* a key too long to be a column: its rows will be ragged */
	for (uint32_t i = 0; i < out->n; i++)
		if (out->lens[i] == klen && memcmp(out->names[i], c->key, klen) == 0)
			return true;
	if (out->n == c->max_columns)
		return des_fail(err, DES_E_TOO_LARGE, "JSON lines with more than %u distinct keys", c->max_columns);
	if (out->n == c->cap)
	{
		uint32_t	cap = c->cap ? 2 * c->cap : 16;
		char	  **names = realloc(out->names, sizeof(char *) * cap);
		size_t	   *lens;

		if (names == NULL)
			return des_fail(err, DES_E_NOMEM, "out of memory for JSON keys");
		out->names = names;
		lens = realloc(out->lens, sizeof(size_t) * cap);
		if (lens == NULL)
			return des_fail(err, DES_E_NOMEM, "out of memory for JSON keys");
		out->lens = lens;
		c->cap = cap;
	}
	out->names[out->n] = malloc(klen + 1);
	if (out->names[out->n] == NULL)
		return des_fail(err, DES_E_NOMEM, "out of memory for JSON keys");
	memcpy(out->names[out->n], c->key, klen + 1);
	out->lens[out->n] = klen;
	out->n++;
	return true;
}

bool
des_jsonl_sniff(const void *sample, size_t len, bool complete, uint32_t max_columns, des_jsonl_columns *out,
				des_error *err)
{
	const unsigned char *s = sample;
	size_t		pos = 0;
	uint64_t	line = 0;
	sniff_ctx	c;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.out = out;
	c.max_columns = max_columns;
	if (len >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
		pos = 3;
	while (pos < len && out->lines < DES_JSONL_SNIFF_LINES)
	{
		const unsigned char *nl = memchr(s + pos, '\n', len - pos);
		size_t		end = nl ? (size_t) (nl - s) : len;

		if (nl == NULL && !complete)
			break;				/* the sample cut this line */
		line++;
		if (!blank_line(s + pos, end - pos))
		{
			if (!des_json_object_members((const char *) s + pos, end - pos, "a JSON line", sniff_member, &c, err))
			{
				des_error	e = *err;

				des_jsonl_columns_free(out);
				return des_fail(err, e.code, "line %llu: %s", (unsigned long long) line, e.message);
			}
			out->lines++;
		}
		pos = end + 1;
	}
	if (out->lines == 0)
	{
		des_jsonl_columns_free(out);
		out->empty = true;
		return des_fail(err, DES_E_CORRUPT, "empty JSON lines input: no complete line in the sample");
	}
	return true;
}

void
des_jsonl_columns_free(des_jsonl_columns *c)
{
	for (uint32_t i = 0; i < c->n; i++)
		free(c->names[i]);
	free(c->names);
	free(c->lens);
	c->names = NULL;
	c->lens = NULL;
	c->n = 0;
}

/* ---- the reader ---- */

static uint32_t
key_slot_hash(const char *key, size_t len)
{
	return (uint32_t) des_sketch_hash(key, len);
}

bool
des_jsonl_reader_init(des_jsonl_reader *r, const des_jsonl_columns *columns, uint32_t max_line, bool skip_first,
					  des_jsonl_row_cb cb, void *ctx, des_error *err)
{
	memset(r, 0, sizeof(*r));
	if (max_line < 16 || max_line > DES_CSV_LIMIT_UPPER)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "JSON line limit %u is out of range", max_line);
	r->cb = cb;
	r->ctx = ctx;
	r->ncolumns = columns->n;
	r->names = columns->names;
	r->lens = columns->lens;
	r->max_line = max_line;
	r->skip_first = skip_first;
	r->first_line = !skip_first;
	r->nslots = 16;
	while (r->nslots < 2 * columns->n + 1)
		r->nslots *= 2;
	r->slots = calloc(r->nslots, sizeof(uint32_t));
	r->line = malloc((size_t) max_line + 1);
	r->row = malloc((size_t) max_line + 1);
	r->fields = calloc(columns->n ? columns->n : 1, sizeof(des_csv_field));
	if (r->slots == NULL || r->line == NULL || r->row == NULL || r->fields == NULL)
	{
		des_jsonl_reader_free(r);
		return des_fail(err, DES_E_NOMEM, "out of memory for a JSON lines reader");
	}
	for (uint32_t i = 0; i < columns->n; i++)
	{
		uint32_t	s = key_slot_hash(columns->names[i], columns->lens[i]) & (r->nslots - 1);

		while (r->slots[s] != 0)
			s = (s + 1) & (r->nslots - 1);
		r->slots[s] = i + 1;
	}
	return true;
}

void
des_jsonl_reader_free(des_jsonl_reader *r)
{
	free(r->slots);
	free(r->line);
	free(r->row);
	free(r->fields);
	r->slots = NULL;
	r->line = r->row = NULL;
	r->fields = NULL;
}

static int64_t
column_of(const des_jsonl_reader *r, const char *key, size_t len)
{
	uint32_t	s = key_slot_hash(key, len) & (r->nslots - 1);

	for (; r->slots[s] != 0; s = (s + 1) & (r->nslots - 1))
	{
		uint32_t	i = r->slots[s] - 1;

		if (r->lens[i] == len && memcmp(r->names[i], key, len) == 0)
			return i;
	}
	return -1;
}

static bool
row_member(void *arg, des_json_span key, des_json_span value, des_error *err)
{
	des_jsonl_reader *r = arg;
	size_t		klen;
	int64_t		col;
	des_csv_field *f;

	(void) err;
	if (!des_json_span_string(key, r->keybuf, sizeof(r->keybuf), &klen) ||
		(col = column_of(r, r->keybuf, klen)) < 0)
	{
		r->extra = true;
		return true;
	}
	f = &r->fields[col];
	f->off = r->row_len;
	f->quoted = false;
	if (value.len == 4 && memcmp(value.ptr, "null", 4) == 0)
		f->len = 0;
	else if (value.ptr[0] == '"')
	{
		size_t		n = 0;

		/* decoded text is never longer than its JSON: the row buffer holds a whole line */
		if (!des_json_span_string(value, (char *) r->row + r->row_len, (size_t) r->max_line + 1 - r->row_len, &n))
			n = 0;
		f->len = (uint32_t) n;
		f->quoted = true;
	}
	else
	{
		memcpy(r->row + r->row_len, value.ptr, value.len);
		f->len = (uint32_t) value.len;
	}
	r->row_len += f->len;
	return true;
}

static bool
end_line(des_jsonl_reader *r, des_error *err)
{
	uint32_t	len = r->line_len;

	unsigned char *text = r->line;

	r->lines++;
	r->line_len = 0;
	if (len > 0 && r->line[len - 1] == '\r')
		len--;
	if (r->first_line && len >= 3 && text[0] == 0xEF && text[1] == 0xBB && text[2] == 0xBF)
	{
		text += 3;				/* a UTF-8 byte-order mark */
		len -= 3;
	}
	r->first_line = false;
	if (blank_line(text, len))
		return true;
	r->row_len = 0;
	r->extra = false;
	for (uint32_t i = 0; i < r->ncolumns; i++)
	{
		r->fields[i].off = 0;
		r->fields[i].len = 0;
		r->fields[i].quoted = false;
	}
	if (!des_json_object_members((const char *) text, len, "a JSON line", row_member, r, err))
	{
		des_error	e = *err;

		r->failed = true;
		return des_fail(err, e.code, "line %llu: %s", (unsigned long long) r->lines, e.message);
	}
	r->rows++;
	if (r->extra)
		r->ragged++;
	if (!r->cb(r->ctx, r->row, r->fields, r->ncolumns, (uint64_t) len + 1, err))
	{
		r->failed = true;
		return false;
	}
	return true;
}

bool
des_jsonl_reader_feed(des_jsonl_reader *r, const void *data, size_t len, des_error *err)
{
	const unsigned char *s = data;

	if (r->failed)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "the JSON lines reader has failed");
	while (len > 0)
	{
		const unsigned char *nl = memchr(s, '\n', len);
		size_t		n = nl ? (size_t) (nl - s) : len;

		if (r->skip_first)
		{
			if (nl == NULL)
				return true;
			r->skip_first = false;
		}
		else
		{
			if ((uint64_t) r->line_len + n > r->max_line)
			{
				r->failed = true;
				return des_fail(err, DES_E_TOO_LARGE, "line %llu: longer than %u bytes",
								(unsigned long long) r->lines + 1, r->max_line);
			}
			memcpy(r->line + r->line_len, s, n);
			r->line_len += (uint32_t) n;
			if (nl && !end_line(r, err))
				return false;
		}
		if (nl == NULL)
			break;
		s = nl + 1;
		len -= n + 1;
	}
	return true;
}

bool
des_jsonl_reader_finish(des_jsonl_reader *r, bool at_eof, des_error *err)
{
	if (r->failed)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "the JSON lines reader has failed");
	if (at_eof && r->line_len > 0 && !r->skip_first)
		return end_line(r, err);
	r->line_len = 0;
	return true;
}
