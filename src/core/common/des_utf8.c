/*
 * des_utf8.c - strict UTF-8 decoding and encoding.
 */
#include "des/common/des_utf8.h"

bool
des_utf8_decode(const unsigned char **pp, const unsigned char *end, uint32_t *cp)
{
	const unsigned char *p = *pp;
	unsigned char c = *p;
	int			n;
	uint32_t	v;

	if (c < 0x80)
	{
		*cp = c;
		*pp = p + 1;
		return true;
	}
	else if ((c & 0xE0) == 0xC0)
	{
		n = 1;
		v = c & 0x1F;
	}
	else if ((c & 0xF0) == 0xE0)
	{
		n = 2;
		v = c & 0x0F;
	}
	else if ((c & 0xF8) == 0xF0)
	{
		n = 3;
		v = c & 0x07;
	}
	else
		return false;
	if (end - p <= n)
		return false;
	for (int i = 1; i <= n; i++)
	{
		if ((p[i] & 0xC0) != 0x80)
			return false;
		v = (v << 6) | (p[i] & 0x3F);
	}
	if ((n == 1 && v < 0x80) || (n == 2 && v < 0x800) || (n == 3 && v < 0x10000) ||
		v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return false;
	*cp = v;
	*pp = p + n + 1;
	return true;
}

int
des_utf8_encode(uint32_t cp, unsigned char out[4])
{
	if (cp < 0x80)
	{
		out[0] = (unsigned char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		out[0] = 0xC0 | (cp >> 6);
		out[1] = 0x80 | (cp & 0x3F);
		return 2;
	}
	if (cp < 0x10000)
	{
		out[0] = 0xE0 | (cp >> 12);
		out[1] = 0x80 | ((cp >> 6) & 0x3F);
		out[2] = 0x80 | (cp & 0x3F);
		return 3;
	}
	out[0] = 0xF0 | (cp >> 18);
	out[1] = 0x80 | ((cp >> 12) & 0x3F);
	out[2] = 0x80 | ((cp >> 6) & 0x3F);
	out[3] = 0x80 | (cp & 0x3F);
	return 4;
}
