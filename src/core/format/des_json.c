/*
 * des_json.c - strict JSON validation, compaction and top-level key lookup.
 *
 * Why not a JSON library: we must re-emit the caller's text byte-for-byte in
 * the reference writer's style (keys in the caller's order, numbers verbatim,
 * Python's ensure_ascii escaping), which DOM libraries do not preserve.
 */
#include "des/format/des_json.h"
#include "des/common/des_chars.h"
#include "des/common/des_utf8.h"

#include <string.h>

typedef struct json_parser
{
	const unsigned char *p;
	const unsigned char *end;
	des_buf    *out;			/* NULL: validate only */
	des_error  *err;
	bool		oom;
	const unsigned char *start;	/* of the text, for error offsets */
	/* top-level key lookup */
	const char *want_key;
	size_t		want_len;
	bool		found;
	des_json_span found_value;
	unsigned	keys_found;
	bool		jsonb_incompatible;	/* \u0000 or an unpaired surrogate seen */
	/* top-level members handed to a callback (des_json_object_members) */
	des_json_member_fn member_fn;
	void	   *member_ctx;
	const char *what;			/* for messages: "entry meta" unless set */
} json_parser;

static const char hexdigits[] = "0123456789abcdef";

static bool parse_value(json_parser *ps, int depth);

static bool
bad(json_parser *ps, const char *what)
{
	if (ps->what)
		return des_fail(ps->err, DES_E_CORRUPT, "invalid JSON in %s: %s at byte %zu", ps->what, what,
						(size_t) (ps->p - ps->start));
	return des_fail(ps->err, DES_E_INVALID_META, "invalid JSON in entry meta: %s", what);
}

static bool
emit(json_parser *ps, const void *s, size_t n)
{
	if (ps->out && !des_buf_append(ps->out, s, n))
	{
		ps->oom = true;
		return des_fail(ps->err, DES_E_NOMEM, "out of memory while formatting entry meta");
	}
	return true;
}

static bool
emitc(json_parser *ps, unsigned char c)
{
	if (ps->out && !des_buf_putc(ps->out, c))
	{
		ps->oom = true;
		return des_fail(ps->err, DES_E_NOMEM, "out of memory while formatting entry meta");
	}
	return true;
}

static void
skip_ws(json_parser *ps)
{
	while (ps->p < ps->end &&
		   (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

/* Emit one code point as the reference does: printable ASCII verbatim, the rest escaped. */
static bool
emit_codepoint(json_parser *ps, uint32_t cp)
{
	char		tmp[12];

	if (ps->out == NULL)
		return true;
	switch (cp)
	{
		case '"':
			return emit(ps, "\\\"", 2);
		case '\\':
			return emit(ps, "\\\\", 2);
		case '\n':
			return emit(ps, "\\n", 2);
		case '\r':
			return emit(ps, "\\r", 2);
		case '\t':
			return emit(ps, "\\t", 2);
		case '\b':
			return emit(ps, "\\b", 2);
		case '\f':
			return emit(ps, "\\f", 2);
	}
	if (cp >= 0x20 && cp <= 0x7e)
		return emitc(ps, (unsigned char) cp);
	if (cp >= 0x10000)
	{
		uint32_t	v = cp - 0x10000;

		if (!emit_codepoint(ps, 0xD800 | (v >> 10)))
			return false;
		return emit_codepoint(ps, 0xDC00 | (v & 0x3FF));
	}
	tmp[0] = '\\';
	tmp[1] = 'u';
	tmp[2] = hexdigits[(cp >> 12) & 0xF];
	tmp[3] = hexdigits[(cp >> 8) & 0xF];
	tmp[4] = hexdigits[(cp >> 4) & 0xF];
	tmp[5] = hexdigits[cp & 0xF];
	return emit(ps, tmp, 6);
}

/*
 * Parse a string; re-emit it escaped. If decoded != NULL, also decode up to
 * decoded_cap bytes into it (for top-level key comparison); *decoded_len is
 * set to the full decoded length even when truncated.
 */
static bool
parse_string(json_parser *ps, char *decoded, size_t decoded_cap, size_t *decoded_len)
{
	size_t		dlen = 0;

	if (ps->p >= ps->end || *ps->p != '"')
		return bad(ps, "expected a string");
	ps->p++;
	if (!emitc(ps, '"'))
		return false;
	for (;;)
	{
		uint32_t	cp;

		if (ps->p >= ps->end)
			return bad(ps, "unterminated string");
		if (*ps->p == '"')
		{
			ps->p++;
			break;
		}
		if (*ps->p < 0x20)
			return bad(ps, "control character in string");
		if (*ps->p == '\\')
		{
			unsigned char e;

			if (ps->end - ps->p < 2)
				return bad(ps, "unterminated escape");
			e = ps->p[1];
			ps->p += 2;
			switch (e)
			{
				case '"':
					cp = '"';
					break;
				case '\\':
					cp = '\\';
					break;
				case '/':
					cp = '/';
					break;
				case 'b':
					cp = '\b';
					break;
				case 'f':
					cp = '\f';
					break;
				case 'n':
					cp = '\n';
					break;
				case 'r':
					cp = '\r';
					break;
				case 't':
					cp = '\t';
					break;
				case 'u':
					{
						int			h0,
									h1,
									h2,
									h3;

						if (ps->end - ps->p < 4)
							return bad(ps, "truncated \\u escape");
						h0 = des_hex_value(ps->p[0]);
						h1 = des_hex_value(ps->p[1]);
						h2 = des_hex_value(ps->p[2]);
						h3 = des_hex_value(ps->p[3]);
						if ((h0 | h1 | h2 | h3) < 0)
							return bad(ps, "bad \\u escape");
						cp = (uint32_t) ((h0 << 12) | (h1 << 8) | (h2 << 4) | h3);
						ps->p += 4;
						if (cp >= 0xD800 && cp <= 0xDBFF && ps->end - ps->p >= 6 &&
							ps->p[0] == '\\' && ps->p[1] == 'u')
						{
							int			l0 = des_hex_value(ps->p[2]),
										l1 = des_hex_value(ps->p[3]),
										l2 = des_hex_value(ps->p[4]),
										l3 = des_hex_value(ps->p[5]);
							uint32_t	lo = 0;

							if ((l0 | l1 | l2 | l3) >= 0)
								lo = (uint32_t) ((l0 << 12) | (l1 << 8) | (l2 << 4) | l3);
							if (lo >= 0xDC00 && lo <= 0xDFFF)
							{
								/* a pair: one code point (re-emitted as the same pair) */
								cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
								ps->p += 6;
							}
						}
						if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
							ps->jsonb_incompatible = true;

						/*
						 * A lone surrogate is passed through as one escaped
						 * unit, as Python does.
						 */
						break;
					}
				default:
					return bad(ps, "unknown escape");
			}
		}
		else if (!des_utf8_decode(&ps->p, ps->end, &cp))
			return bad(ps, "invalid UTF-8 in string");
		if (!emit_codepoint(ps, cp))
			return false;
		if (decoded)
		{
			/* store as UTF-8 (lone surrogate halves stored raw; only used for compares) */
			unsigned char u[4];
			int			n = des_utf8_encode(cp, u);

			for (int i = 0; i < n; i++)
			{
				if (dlen < decoded_cap)
					decoded[dlen] = (char) u[i];
				dlen++;
			}
		}
	}
	if (decoded_len)
		*decoded_len = dlen;
	return emitc(ps, '"');
}

static bool
parse_number(json_parser *ps)
{
	const unsigned char *start = ps->p;

	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	if (ps->p >= ps->end)
		return bad(ps, "truncated number");
	if (*ps->p == '0')
		ps->p++;
	else if (*ps->p >= '1' && *ps->p <= '9')
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	else
		return bad(ps, "invalid number");
	if (ps->p < ps->end && *ps->p == '.')
	{
		ps->p++;
		if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
			return bad(ps, "invalid number fraction");
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E'))
	{
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
			return bad(ps, "invalid number exponent");
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	return emit(ps, start, ps->p - start);
}

static bool
parse_literal(json_parser *ps, const char *lit)
{
	size_t		n = strlen(lit);

	if ((size_t) (ps->end - ps->p) < n || memcmp(ps->p, lit, n) != 0)
		return bad(ps, "unexpected token");
	ps->p += n;
	return emit(ps, lit, n);
}

static bool
parse_container(json_parser *ps, int depth, bool is_object)
{
	bool		first = true;
	unsigned char close = is_object ? '}' : ']';

	if (depth >= DES_JSON_MAX_DEPTH)
		return bad(ps, "nesting too deep");
	ps->p++;					/* opening bracket, checked by caller */
	if (!emitc(ps, is_object ? '{' : '['))
		return false;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close)
	{
		ps->p++;
		return emitc(ps, close);
	}
	for (;;)
	{
		char		keybuf[64];
		size_t		keylen = 0;

		skip_ws(ps);
		if (!first && !emitc(ps, ','))
			return false;
		first = false;
		if (is_object)
		{
			bool		top = (depth == 0);
			const unsigned char *kstart = ps->p;
			des_json_span key_raw;

			if (!parse_string(ps, top ? keybuf : NULL, sizeof(keybuf), &keylen))
				return false;
			key_raw.ptr = (const char *) kstart;
			key_raw.len = (size_t) (ps->p - kstart);
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':')
				return bad(ps, "expected ':' after object key");
			ps->p++;
			if (!emitc(ps, ':'))
				return false;
			skip_ws(ps);
			if (top)
			{
				const unsigned char *vstart = ps->p;
				static const struct
				{
					const char *k;
					unsigned	bit;
				}			known[] = {
					{"size", DES_JSON_HAS_SIZE},
					{"is_external", DES_JSON_HAS_IS_EXTERNAL},
					{"external_key", DES_JSON_HAS_EXTERNAL_KEY},
					{"blake2b", DES_JSON_HAS_BLAKE2B},
					{"compression", DES_JSON_HAS_COMPRESSION},
				};

				if (!parse_value(ps, depth + 1))
					return false;
				if (ps->member_fn)
				{
					des_json_span value_raw = {(const char *) vstart, (size_t) (ps->p - vstart)};

					if (!ps->member_fn(ps->member_ctx, key_raw, value_raw, ps->err))
						return false;
				}
				for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
					if (keylen == strlen(known[i].k) && memcmp(keybuf, known[i].k, keylen) == 0)
						ps->keys_found |= known[i].bit;
				if (ps->want_key && keylen == ps->want_len && keylen <= sizeof(keybuf) &&
					memcmp(keybuf, ps->want_key, keylen) == 0)
				{
					ps->found = true;
					ps->found_value.ptr = (const char *) vstart;
					ps->found_value.len = ps->p - vstart;
				}
			}
			else if (!parse_value(ps, depth + 1))
				return false;
		}
		else if (!parse_value(ps, depth + 1))
			return false;
		skip_ws(ps);
		if (ps->p >= ps->end)
			return bad(ps, "unterminated object or array");
		if (*ps->p == ',')
		{
			ps->p++;
			continue;
		}
		if (*ps->p == close)
		{
			ps->p++;
			return emitc(ps, close);
		}
		return bad(ps, "expected ',' or closing bracket");
	}
}

static bool
parse_value(json_parser *ps, int depth)
{
	skip_ws(ps);
	if (ps->p >= ps->end)
		return bad(ps, "unexpected end of text");
	switch (*ps->p)
	{
		case '{':
			return parse_container(ps, depth, true);
		case '[':
			return parse_container(ps, depth, false);
		case '"':
			return parse_string(ps, NULL, 0, NULL);
		case 't':
			return parse_literal(ps, "true");
		case 'f':
			return parse_literal(ps, "false");
		case 'n':
			return parse_literal(ps, "null");
		default:
			return parse_number(ps);
	}
}

static bool
parse_top_object(json_parser *ps)
{
	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p != '{')
		return bad(ps, ps->what ? "not a JSON object" : "meta must be a JSON object");
	if (!parse_container(ps, 0, true))
		return false;
	skip_ws(ps);
	if (ps->p != ps->end)
		return bad(ps, "trailing characters after the object");
	return true;
}

bool
des_json_compact_object(const char *in, size_t len, des_buf *out,
						unsigned *keys_found, des_error *err)
{
	json_parser ps = {0};
	size_t		start_len = out->len;

	ps.p = (const unsigned char *) in;
	ps.end = ps.p + len;
	ps.out = out;
	ps.err = err;
	if (!parse_top_object(&ps))
	{
		out->len = start_len;
		return false;
	}
	if (keys_found)
		*keys_found = ps.keys_found;
	return true;
}

bool
des_json_find_key(const char *obj, size_t len, const char *key,
				  bool *found, des_json_span *value, des_error *err)
{
	json_parser ps = {0};

	ps.p = (const unsigned char *) obj;
	ps.end = ps.p + len;
	ps.err = err;
	ps.want_key = key;
	ps.want_len = strlen(key);
	if (!parse_top_object(&ps))
		return false;
	*found = ps.found;
	if (ps.found && value)
		*value = ps.found_value;
	return true;
}

bool
des_json_object_members(const char *obj, size_t len, const char *what, des_json_member_fn fn, void *ctx,
						des_error *err)
{
	json_parser ps = {0};

	ps.p = (const unsigned char *) obj;
	ps.start = ps.p;
	ps.end = ps.p + len;
	ps.err = err;
	ps.member_fn = fn;
	ps.member_ctx = ctx;
	ps.what = what;
	return parse_top_object(&ps);
}

bool
des_json_jsonb_compatible(const char *obj, size_t len)
{
	json_parser ps = {0};
	des_error	err;

	ps.p = (const unsigned char *) obj;
	ps.end = ps.p + len;
	ps.err = &err;
	return parse_top_object(&ps) && !ps.jsonb_incompatible;
}

bool
des_json_span_uint64(des_json_span v, uint64_t *out)
{
	uint64_t	n = 0;

	if (v.len == 0 || v.len > 20)
		return false;
	if (v.len > 1 && v.ptr[0] == '0')
		return false;
	for (size_t i = 0; i < v.len; i++)
	{
		char		c = v.ptr[i];

		if (c < '0' || c > '9')
			return false;
		if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, (uint64_t) (c - '0'), &n))
			return false;
	}
	*out = n;
	return true;
}

bool
des_json_span_string(des_json_span v, char *out, size_t cap, size_t *outlen)
{
	json_parser ps = {0};
	des_error	err;
	size_t		n = 0;

	ps.p = (const unsigned char *) v.ptr;
	ps.end = ps.p + v.len;
	ps.err = &err;
	if (cap == 0 || !parse_string(&ps, out, cap - 1, &n) || ps.p != ps.end || n >= cap)
		return false;
	out[n] = '\0';
	if (outlen)
		*outlen = n;
	return true;
}

bool
des_json_span_is_true(des_json_span v)
{
	return v.len == 4 && memcmp(v.ptr, "true", 4) == 0;
}

bool
des_json_append_string(des_buf *out, const char *s, size_t len)
{
	json_parser ps = {0};
	des_error	err;
	const unsigned char *p = (const unsigned char *) s;
	const unsigned char *end = p + len;

	ps.out = out;
	ps.err = &err;
	if (!emitc(&ps, '"'))
		return false;
	while (p < end)
	{
		uint32_t	cp;

		if (!des_utf8_decode(&p, end, &cp))
			return false;
		if (!emit_codepoint(&ps, cp))
			return false;
	}
	return emitc(&ps, '"');
}
