/*
 * des_s3xml.c - element text extraction for S3 XML responses.
 */
#include "des/s3/des_s3xml.h"
#include "des/common/des_chars.h"
#include "des/common/des_utf8.h"

#include <stdlib.h>
#include <string.h>

/* Is xml[i..] the start tag "<name" or "<prefix:name" followed by '>', ' ' or '/'? */
static bool
tag_matches(const char *xml, size_t len, size_t i, const char *name, size_t *after)
{
	size_t		nlen = strlen(name);
	size_t		j = i + 1;
	size_t		local = j;

	if (j >= len || xml[j] == '/' || xml[j] == '?' || xml[j] == '!')
		return false;
	/*
	 * A name cannot contain '<': stopping there keeps a scan of the whole
	 * text linear ("<<<<..." made it quadratic: minutes for 64 kB).
	 */
	while (j < len && xml[j] != '>' && xml[j] != ' ' && xml[j] != '/' && xml[j] != '\t' &&
		   xml[j] != '\n' && xml[j] != '\r' && xml[j] != '<')
	{
		if (xml[j] == ':')
			local = j + 1;
		j++;
	}
	if (j < len && xml[j] == '<')
		return false;
	if (j - local != nlen || memcmp(xml + local, name, nlen) != 0)
		return false;
	*after = j;
	return true;
}

static bool
append_utf8(des_buf *out, unsigned long cp)
{
	unsigned char u[4];

	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return false;
	return des_buf_append(out, u, des_utf8_encode((uint32_t) cp, u));
}

/* Decode character data xml[from, to) into out. */
static bool
decode_text(const char *xml, size_t from, size_t to, des_buf *out)
{
	for (size_t i = from; i < to; i++)
	{
		if (xml[i] == '<')
			return false;		/* nested element: not a text element */
		if (xml[i] != '&')
		{
			if (!des_buf_putc(out, (unsigned char) xml[i]))
				return false;
			continue;
		}
		{
			const char *semi = memchr(xml + i, ';', to - i);
			size_t		elen;
			static const struct
			{
				const char *e;
				char		c;
			}			ents[] = {{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
			bool		done = false;

			if (semi == NULL)
				return false;
			elen = semi - (xml + i + 1);
			for (size_t k = 0; k < 5 && !done; k++)
				if (elen == strlen(ents[k].e) && memcmp(xml + i + 1, ents[k].e, elen) == 0)
				{
					if (!des_buf_putc(out, (unsigned char) ents[k].c))
						return false;
					done = true;
				}
			if (!done && elen >= 2 && elen <= 9 && xml[i + 1] == '#')
			{
				/*
				 * "&#" digits ";" or "&#x" hex digits ";" and nothing else:
				 * strtoul would also take a sign, spaces and a "0x" prefix.
				 */
				bool		hex = xml[i + 2] == 'x';
				size_t		d = i + (hex ? 3 : 2);
				unsigned long cp = 0;

				if (d == (size_t) (semi - xml))
					return false;	/* no digits */
				for (; d < (size_t) (semi - xml); d++)
				{
					int			v = hex ? des_hex_value(xml[d]) : (xml[d] >= '0' && xml[d] <= '9' ? xml[d] - '0' : -1);

					if (v < 0)
						return false;
					cp = cp * (hex ? 16 : 10) + v;	/* at most 7 digits: no overflow */
				}
				if (!append_utf8(out, cp))
					return false;
				done = true;
			}
			if (!done)
				return false;
			i = semi - xml;
		}
	}
	return true;
}

bool
des_xml_next_element(const char *xml, size_t len, size_t *pos, const char *name,
					 size_t *start, size_t *end)
{
	for (size_t i = *pos; i < len; i++)
	{
		size_t		after;

		if (xml[i] != '<' || !tag_matches(xml, len, i, name, &after))
			continue;
		/* find the end of the start tag */
		while (after < len && xml[after] != '>')
			after++;
		if (after >= len)
			return false;
		if (xml[after - 1] == '/')
		{
			/* <Name/> : empty element */
			*start = i;
			*end = after + 1;
			*pos = *end;
			return true;
		}
		/* find the matching end tag, counting nested same-named elements */
		{
			int			depth = 1;

			for (size_t j = after + 1; j < len; j++)
			{
				size_t		a2;

				if (xml[j] != '<')
					continue;
				if (j + 1 < len && xml[j + 1] == '/')
				{
					size_t		k = j + 2;
					size_t		local = k;

					while (k < len && xml[k] != '>' && xml[k] != '<')
					{
						if (xml[k] == ':')
							local = k + 1;
						k++;
					}
					if (k >= len)
						return false;
					if (xml[k] == '<')
						continue;	/* "</..." without '>' before the next tag: not an end tag */
					if (k - local == strlen(name) && memcmp(xml + local, name, k - local) == 0 && --depth == 0)
					{
						*start = i;
						*end = k + 1;
						*pos = *end;
						return true;
					}
				}
				else if (tag_matches(xml, len, j, name, &a2))
					depth++;
			}
			return false;
		}
	}
	return false;
}

bool
des_xml_next_text(const char *xml, size_t len, size_t *pos, const char *name, des_buf *out)
{
	size_t		start,
				end,
				p = *pos;
	size_t		content;

	out->len = 0;
	if (!des_xml_next_element(xml, len, &p, name, &start, &end))
		return false;
	content = start;
	while (content < end && xml[content] != '>')
		content++;
	content++;
	/*
	 * Callers copy the text out with (data, len) even when it is empty
	 * (pnstrdup, memcpy): data is never NULL on success.
	 */
	if (out->data == NULL && !des_buf_reserve(out, 1))
		return false;
	if (xml[content - 2] == '/')
	{
		*pos = p;
		return true;			/* empty element */
	}
	/* content ends where the end tag "</" begins */
	{
		size_t		tag_end = end - 1;

		while (tag_end > content && !(xml[tag_end] == '<' && xml[tag_end + 1] == '/'))
			tag_end--;
		if (!decode_text(xml, content, tag_end, out))
			return false;
	}
	*pos = p;
	return true;
}
