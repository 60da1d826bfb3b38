/*
 * des_uri.c - parse and format gros:// URIs (docs/lineage.md).
 *
 * One pass left to right, component by component: the repo, then the branch,
 * then the tag. Within a component the characters and percent-encodings are
 * checked first (the component cannot be decoded otherwise), then the decoded
 * value's rules. Errors on a decoded byte point at its first byte in the input
 * (the '%' of an escape), so the position always lies in what the user wrote.
 * Every comparison is ASCII-only: the result does not depend on the locale.
 */
#include "des/uri/des_uri.h"

#include "des/common/des_chars.h"
#include "des/common/des_utf8.h"
#include "des/tree/des_tree.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* an id prefix here is what the tree area accepts as one */
_Static_assert(DES_URI_ID_MIN_PREFIX == DES_BUNDLE_ID_MIN_PREFIX && DES_URI_ID_MAX == DES_TREE_HEX_LEN,
			   "gros:// id prefixes and bundle ids disagree");

/* A component of the input, text[start, end), and its decoded bytes. */
typedef struct component
{
	const char *text;
	size_t		start;
	size_t		end;
	const char *what;			/* "repo name", "branch name", "tag" */
	char	   *out;			/* decoded, NUL-terminated */
	size_t		n;
} component;

static bool uri_fail(des_uri *uri, des_error *err, des_error_code code, size_t pos, const char *fmt,...)
			__attribute__((format(printf, 5, 6)));

static bool
uri_fail(des_uri *uri, des_error *err, des_error_code code, size_t pos, const char *fmt,...)
{
	char		msg[384];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	memset(uri, 0, sizeof(*uri));
	uri->error_pos = pos;
	return des_fail(err, code, "%s at byte %zu", msg, pos);
}

/* The input offset of decoded byte k of c (c->end for k == c->n). */
static size_t
input_pos(const component *c, size_t k)
{
	size_t		pos = c->start;

	for (size_t j = 0; j < k && pos < c->end; j++)
		pos += c->text[pos] == '%' ? 3 : 1;
	return pos;
}

static bool
is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/*
 * The ASCII characters a component may hold as they are (RFC 3986's
 * unreserved, sub-delims and '@'); '/' and ':' are decided by the caller.
 */
static bool
is_literal(unsigned char c)
{
	return is_alnum(c) || (c != '\0' && strchr("-._~!$&'()*+,;=@", c) != NULL);
}

/*
 * Check the characters of text[start, len) up to the first byte of stop
 * (a set of delimiters, "" for none) and return its offset in *end.
 * Non-ASCII bytes pass: they are UTF-8 checked once decoded (IRI-style input).
 */
static bool
scan(const char *text, size_t start, size_t len, const char *stop, bool slash_ok,
	 size_t *end, des_uri *uri, des_error *err)
{
	const unsigned char *u = (const unsigned char *) text;
	size_t		i;

	for (i = start; i < len; i++)
	{
		unsigned char c = u[i];

		if (c != '\0' && strchr(stop, c) != NULL)
			break;
		if (c == '%')
		{
			if (i + 2 >= len || des_hex_value(u[i + 1]) < 0 || des_hex_value(u[i + 2]) < 0)
				return uri_fail(uri, err, DES_E_INVALID_ARGUMENT, i,
								"invalid percent-encoding (write %%XX with two hex digits; %%25 for '%%')");
			i += 2;
		}
		else if (c >= 0x80 || is_literal(c) || (c == '/' && slash_ok))
			continue;
		else if (c == '?')
			return uri_fail(uri, err, DES_E_INVALID_ARGUMENT, i,
							"unexpected '?': gros:// URIs have no query (percent-encode it as %%3F)");
		else if (c == '#')
			return uri_fail(uri, err, DES_E_INVALID_ARGUMENT, i,
							"unexpected '#': gros:// URIs have no fragment (percent-encode it as %%23)");
		else if (c == ':')
			return uri_fail(uri, err, DES_E_INVALID_ARGUMENT, i,
							"unexpected second ':' (percent-encode a ':' in a tag as %%3A)");
		else if (c < 0x20 || c == 0x7f)
			return uri_fail(uri, err, DES_E_INVALID_ARGUMENT, i,
							"unexpected control character 0x%02X", c);
		else
			return uri_fail(uri, err, DES_E_INVALID_ARGUMENT, i,
							"unexpected character '%c' (percent-encode it as %%%02X)", c, c);
	}
	*end = i;
	return true;
}

/* Decode c->text[c->start, c->end) into c->out (cap bytes at most). */
static bool
decode(component *c, size_t cap, des_uri *uri, des_error *err)
{
	const unsigned char *u = (const unsigned char *) c->text;
	size_t		n = 0;

	for (size_t i = c->start; i < c->end; n++)
	{
		if (n == cap)
			return uri_fail(uri, err, strcmp(c->what, "tag") == 0 ? DES_E_INVALID_ARGUMENT : DES_E_INVALID_NAME,
							i, "%s is longer than %zu bytes", c->what, cap);
		if (u[i] == '%')
		{
			/* scan() checked the two hex digits */
			c->out[n] = (char) (des_hex_value(u[i + 1]) * 16 + des_hex_value(u[i + 2]));
			i += 3;
		}
		else
			c->out[n] = (char) u[i++];
	}
	c->out[n] = '\0';
	c->n = n;
	return true;
}

/* Repo names: what des.repo_create accepts (1..100 of [A-Za-z0-9._-], not only dots). */
static bool
check_repo(const component *c, des_uri *uri, des_error *err)
{
	bool		only_dots = true;

	if (c->n == 0)
		return uri_fail(uri, err, DES_E_INVALID_NAME, c->start, "repo name is empty");
	for (size_t k = 0; k < c->n; k++)
	{
		unsigned char ch = (unsigned char) c->out[k];

		if (!is_alnum(ch) && ch != '.' && ch != '_' && ch != '-')
			return uri_fail(uri, err, DES_E_INVALID_NAME, input_pos(c, k),
							"repo name has a character other than a letter, digit, '.', '_' or '-'");
		only_dots &= ch == '.';
	}
	if (only_dots)
		return uri_fail(uri, err, DES_E_INVALID_NAME, c->start, "repo name is only dots");
	return true;
}

/*
 * Branch and label names: the path rules of dataset files (versioning-format.md)
 * within 255 bytes: valid UTF-8, no control character, '/'-separated segments
 * that are non-empty and not "." or "..". Empty names are refused by callers.
 */
static bool
check_name(const component *c, des_uri *uri, des_error *err)
{
	const unsigned char *u = (const unsigned char *) c->out;
	size_t		seg = 0;

	for (size_t k = 0; k <= c->n;)
	{
		if (k == c->n || u[k] == '/')
		{
			size_t		len = k - seg;

			if (len == 0 && seg == 0)
				return uri_fail(uri, err, DES_E_INVALID_NAME, input_pos(c, 0),
								"%s starts with '/'", c->what);
			if (len == 0 && k == c->n)
				return uri_fail(uri, err, DES_E_INVALID_NAME, input_pos(c, k - 1),
								"%s ends with '/'", c->what);
			if (len == 0)
				return uri_fail(uri, err, DES_E_INVALID_NAME, input_pos(c, k),
								"%s has an empty segment (\"//\")", c->what);
			if ((len == 1 && u[seg] == '.') || (len == 2 && u[seg] == '.' && u[seg + 1] == '.'))
				return uri_fail(uri, err, DES_E_INVALID_NAME, input_pos(c, seg),
								"%s has a \"%s\" segment", c->what, len == 1 ? "." : "..");
			if (k == c->n)
				break;
			seg = ++k;
		}
		else if (u[k] < 0x20 || u[k] == 0x7f)
			return uri_fail(uri, err, DES_E_INVALID_NAME, input_pos(c, k),
							"%s contains a control character (0x%02X)", c->what, u[k]);
		else if (u[k] < 0x80)
			k++;
		else
		{
			const unsigned char *p = u + k;
			uint32_t	cp;

			if (!des_utf8_decode(&p, u + c->n, &cp))
				return uri_fail(uri, err, DES_E_INVALID_NAME, input_pos(c, k),
								"%s is not valid UTF-8", c->what);
			k = (size_t) (p - u);
		}
	}
	return true;
}

static bool
all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_digit((unsigned char) s[i]))
			return false;
	return true;
}

/* DIGITS "-" DIGITS "-" DIGITS: reserved for dates, so it must be a valid one. */
static bool
looks_like_date(const char *s, size_t n)
{
	const char *d1 = memchr(s, '-', n);
	const char *d2 = d1 ? memchr(d1 + 1, '-', n - (size_t) (d1 + 1 - s)) : NULL;

	return d2 != NULL && all_digits(s, (size_t) (d1 - s)) &&
		all_digits(d1 + 1, (size_t) (d2 - d1 - 1)) &&
		all_digits(d2 + 1, n - (size_t) (d2 + 1 - s));
}

static int
days_in_month(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool		leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

static int
digits_value(const char *s, size_t n)
{
	int			v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

static bool
parse_date(const component *c, des_uri *uri, des_error *err)
{
	const char *s = c->out;
	int			y,
				m,
				d;

	if (c->n != 10 || s[4] != '-' || s[7] != '-')
		return uri_fail(uri, err, DES_E_INVALID_ARGUMENT, c->start,
						"a date tag is written YYYY-MM-DD");
	y = digits_value(s, 4);
	m = digits_value(s + 5, 2);
	d = digits_value(s + 8, 2);
	/* year 0 does not exist in the calendar PostgreSQL's date type uses */
	if (y == 0)
		return uri_fail(uri, err, DES_E_INVALID_ARGUMENT, input_pos(c, 0), "year 0000 out of range");
	if (m < 1 || m > 12)
		return uri_fail(uri, err, DES_E_INVALID_ARGUMENT, input_pos(c, 5), "month %02d out of range", m);
	if (d < 1 || d > days_in_month(y, m))
		return uri_fail(uri, err, DES_E_INVALID_ARGUMENT, input_pos(c, 8),
						"day %02d out of range for %04d-%02d", d, y, m);
	uri->tag_kind = DES_URI_DATE;
	uri->year = y;
	uri->month = m;
	uri->day = d;
	return true;
}

/* ["+" / "-"] DIGITS: reserved for positions; one spelling per value. */
static bool
parse_position(const component *c, des_uri *uri, des_error *err)
{
	const char *s = c->out;
	bool		neg = s[0] == '-';
	size_t		first = (s[0] == '-' || s[0] == '+') ? 1 : 0;
	uint64_t	limit = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
	uint64_t	v = 0;

	if (s[0] == '+')
		return uri_fail(uri, err, DES_E_INVALID_ARGUMENT, input_pos(c, 0),
						"a position has no '+' sign");
	if (s[first] == '0' && c->n > first + 1)
		return uri_fail(uri, err, DES_E_INVALID_ARGUMENT, input_pos(c, first),
						"a position has no leading zero");
	if (neg && c->n == 2 && s[1] == '0')
		return uri_fail(uri, err, DES_E_INVALID_ARGUMENT, input_pos(c, 0),
						"-0 is not a position (0 is the first bundle, -1 the latest)");
	for (size_t k = first; k < c->n; k++)
	{
		uint64_t	digit = (uint64_t) (s[k] - '0');

		if (v > (limit - digit) / 10)
			return uri_fail(uri, err, DES_E_INVALID_ARGUMENT, input_pos(c, k),
							"position out of range (a 64-bit integer)");
		v = v * 10 + digit;
	}
	uri->tag_kind = DES_URI_POSITION;
	/* -(2^63) has no positive int64: negate in unsigned arithmetic */
	uri->position = neg ? (int64_t) (0 - v) : (int64_t) v;
	return true;
}

static bool
is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_digit((unsigned char) s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return false;
	return true;
}

/* ASCII case-insensitive equality with a lower-case word. */
static bool
equal_ci(const char *s, size_t n, const char *word)
{
	if (n != strlen(word))
		return false;
	for (size_t i = 0; i < n; i++)
	{
		unsigned char a = (unsigned char) s[i];

		if (a >= 'A' && a <= 'Z')
			a += 'a' - 'A';
		if (a != (unsigned char) word[i])
			return false;
	}
	return true;
}

/* Classify a decoded, non-empty tag; the order is the precedence. */
static bool
classify_tag(const component *c, des_uri *uri, des_error *err)
{
	const char *s = c->out;
	size_t		n = c->n;

	if (n == 6 && memcmp(s, "latest", 6) == 0)
	{
		uri->tag_kind = DES_URI_LATEST;
		return true;
	}
	/* so that "Latest" cannot be a label that reads like the keyword */
	if (equal_ci(s, n, "latest"))
		return uri_fail(uri, err, DES_E_INVALID_ARGUMENT, c->start,
						"tag \"%s\" is reserved (write latest in lower case)", s);
	if (looks_like_date(s, n))
		return parse_date(c, uri, err);
	if (all_digits(s + (s[0] == '-' || s[0] == '+'), n - (s[0] == '-' || s[0] == '+')))
		return parse_position(c, uri, err);
	if (!check_name(c, uri, err))
		return false;
	/* an all-digit prefix was taken as a position above */
	uri->tag_kind = n >= DES_URI_ID_MIN_PREFIX && n <= DES_URI_ID_MAX && is_lower_hex(s, n) ?
		DES_URI_NAME_OR_ID : DES_URI_NAME;
	return true;
}

bool
des_uri_parse(const char *text, size_t len, des_uri *out, des_error *err)
{
	const size_t scheme_len = strlen(DES_URI_SCHEME);
	des_uri		uri;
	component	c;
	size_t		i;

	memset(&uri, 0, sizeof(uri));
	if (len == 0)
		return uri_fail(out, err, DES_E_INVALID_ARGUMENT, 0, "URI is empty");
	if (len > DES_URI_MAX_LEN)
		return uri_fail(out, err, DES_E_INVALID_ARGUMENT, DES_URI_MAX_LEN,
						"URI is longer than %d bytes", DES_URI_MAX_LEN);
	for (i = 0; i < scheme_len; i++)
	{
		unsigned char a = i < len ? (unsigned char) text[i] : 0;

		if (a >= 'A' && a <= 'Z')
			a += 'a' - 'A';
		if (a != (unsigned char) DES_URI_SCHEME[i])
			return uri_fail(out, err, DES_E_INVALID_ARGUMENT, i, "URI does not start with \"gros://\"");
	}

	/* repo: up to the first '/' or ':' */
	c.text = text;
	c.start = i;
	c.what = "repo name";
	c.out = uri.repo;
	if (!scan(text, c.start, len, "/:", false, &c.end, out, err) ||
		!decode(&c, DES_URI_MAX_REPO, out, err) || !check_repo(&c, out, err))
		return false;
	i = c.end;

	/* branch: after the '/', up to the first ':'; a literal '/' belongs to it */
	if (i < len && text[i] == '/')
	{
		c.start = i + 1;
		c.what = "branch name";
		c.out = uri.branch;
		if (!scan(text, c.start, len, ":", true, &c.end, out, err) ||
			!decode(&c, DES_URI_MAX_NAME, out, err))
			return false;
		if (c.n == 0)
			return uri_fail(out, err, DES_E_INVALID_NAME, c.start,
							"branch name is empty (leave out the '/' for the default branch)");
		if (!check_name(&c, out, err))
			return false;
		uri.has_branch = true;
		i = c.end;
	}

	/* tag: after the ':', to the end; a second ':' is an error */
	if (i < len)
	{
		/* scan() stopped the repo or branch at ':' only */
		c.start = i + 1;
		c.what = "tag";
		c.out = uri.tag;
		if (!scan(text, c.start, len, "", true, &c.end, out, err) ||
			!decode(&c, DES_URI_MAX_NAME, out, err))
			return false;
		if (c.n > 0)
		{
			c.what = "label name";
			if (!classify_tag(&c, &uri, err))
			{
				*out = uri;		/* uri_fail zeroed uri and set its error_pos */
				return false;
			}
		}
	}
	*out = uri;
	return true;
}

/* Append s[0, n) percent-encoding what a component cannot hold as is. */
static bool
append_encoded(des_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++)
	{
		unsigned char ch = (unsigned char) s[i];

		if (is_literal(ch) || ch == '/')
		{
			if (!des_buf_putc(b, ch))
				return false;
		}
		else
		{
			char		e[3] = {'%', hex[ch >> 4], hex[ch & 15]};

			if (!des_buf_append(b, e, 3))
				return false;
		}
	}
	return true;
}

bool
des_uri_format(const des_uri *uri, des_buf *out, des_error *err)
{
	size_t		mark = out->len;
	des_uri		again;
	des_error	perr;

	/* the arrays are NUL-terminated within their size, or the value is not a parsed one */
	if (memchr(uri->repo, '\0', sizeof(uri->repo)) == NULL ||
		memchr(uri->branch, '\0', sizeof(uri->branch)) == NULL ||
		memchr(uri->tag, '\0', sizeof(uri->tag)) == NULL)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "URI part not NUL-terminated");
	if (!des_buf_append(out, DES_URI_SCHEME, strlen(DES_URI_SCHEME)) ||
		!append_encoded(out, uri->repo, strlen(uri->repo)) ||
		(uri->has_branch &&
		 (!des_buf_putc(out, '/') || !append_encoded(out, uri->branch, strlen(uri->branch)))) ||
		(uri->tag_kind != DES_URI_REALTIME &&
		 (!des_buf_putc(out, ':') || !append_encoded(out, uri->tag, strlen(uri->tag)))) ||
		!des_buf_putc(out, '\0'))
	{
		out->len = mark;
		return des_fail(err, DES_E_NOMEM, "out of memory formatting a gros:// URI");
	}
	out->len--;
	/* refuse what would not read back as itself (inconsistent fields, a bad name) */
	if (!des_uri_parse((const char *) out->data + mark, out->len - mark, &again, &perr))
	{
		out->len = mark;
		out->data[mark] = '\0';
		return des_fail(err, DES_E_INVALID_ARGUMENT, "not a valid gros:// URI value: %s", perr.message);
	}
	if (!des_uri_equal(uri, &again))
	{
		out->len = mark;
		out->data[mark] = '\0';
		return des_fail(err, DES_E_INVALID_ARGUMENT,
						"not a valid gros:// URI value: its fields disagree with its text");
	}
	return true;
}

bool
des_uri_equal(const des_uri *a, const des_uri *b)
{
	if (strcmp(a->repo, b->repo) != 0 || a->has_branch != b->has_branch ||
		strcmp(a->branch, b->branch) != 0 || a->tag_kind != b->tag_kind ||
		strcmp(a->tag, b->tag) != 0)
		return false;
	if (a->tag_kind == DES_URI_DATE &&
		(a->year != b->year || a->month != b->month || a->day != b->day))
		return false;
	if (a->tag_kind == DES_URI_POSITION && a->position != b->position)
		return false;
	return true;
}

const char *
des_uri_tag_kind_name(des_uri_tag_kind kind)
{
	switch (kind)
	{
		case DES_URI_REALTIME:
			return "realtime";
		case DES_URI_LATEST:
			return "latest";
		case DES_URI_DATE:
			return "date";
		case DES_URI_POSITION:
			return "position";
		case DES_URI_NAME:
			return "name";
		case DES_URI_NAME_OR_ID:
			return "name_or_id";
	}
	return "unknown";
}
