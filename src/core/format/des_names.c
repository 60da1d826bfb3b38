/*
 * des_names.c - entry-name and key rules, and the name hash.
 */
#include "des/format/des_format.h"

#include <stdbool.h>
#include <string.h>
#include <xxhash.h>

#include "des/common/des_utf8.h"

uint64_t
des_name_hash(const char *name, size_t len)
{
	return XXH3_64bits(name, len);
}

/*
 * True if every byte is printable ASCII (0x20..0x7e), eight at a time: the
 * common name, for which the UTF-8 decoder (and the NUL scan) can be skipped.
 */
static bool
printable_ascii(const unsigned char *p, size_t len)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t highs = 0x8080808080808080ULL;
	size_t		i = 0;

	for (; i + 8 <= len; i += 8)
	{
		uint64_t	x;

		memcpy(&x, p + i, 8);
		/* a byte >= 0x80, < 0x20, or 0x7f (0x7f + 1 sets the high bit) */
		if (((x | (x - 0x20 * ones) | (x + ones)) & highs) != 0)
			return false;
	}
	for (; i < len; i++)
		if (p[i] < 0x20 || p[i] >= 0x7f)
			return false;
	return true;
}

static bool
utf8_valid(const unsigned char *p, size_t len, bool allow_controls)
{
	const unsigned char *end = p + len;

	while (p < end)
	{
		uint32_t	cp;

		if (!des_utf8_decode(&p, end, &cp))
			return false;
		if (!allow_controls && (cp < 0x20 || cp == 0x7f))
			return false;
	}
	return true;
}

/* Does any '/'-separated component equal "." or ".."? Optionally reject empty ones. */
static const char *
path_component_problem(const char *s, size_t len, bool reject_empty)
{
	size_t		start = 0;

	for (size_t i = 0; i <= len; i++)
	{
		if (i == len || s[i] == '/')
		{
			size_t		clen = i - start;

			if (clen == 0 && reject_empty)
				return "contains an empty path component";
			if ((clen == 1 && s[start] == '.') ||
				(clen == 2 && s[start] == '.' && s[start + 1] == '.'))
				return "contains a \".\" or \"..\" path component";
			start = i + 1;
		}
	}
	return NULL;
}

const char *
des_name_problem(const char *name, size_t len)
{
	if (len == 0)
		return "is empty";
	if (len > DES_MAX_NAME_LEN)
		return "is longer than 65535 bytes";
	if (!printable_ascii((const unsigned char *) name, len))
	{
		if (memchr(name, '\0', len) != NULL)
			return "contains a NUL byte";
		if (!utf8_valid((const unsigned char *) name, len, false))
			return "is not valid UTF-8 or contains control characters";
	}
	if (name[0] == '/')
		return "starts with \"/\"";
	return path_component_problem(name, len, true);
}

const char *
des_name_problem_reference(const char *name, size_t len)
{
	if (len == 0)
		return "is empty";
	if (len > DES_MAX_NAME_LEN)
		return "is longer than 65535 bytes";
	if (printable_ascii((const unsigned char *) name, len))
		return NULL;
	if (memchr(name, '\0', len) != NULL)
		return "contains a NUL byte";
	if (!utf8_valid((const unsigned char *) name, len, true))
		return "is not valid UTF-8";
	return NULL;
}

const char *
des_key_problem(const char *key, size_t len)
{
	if (len == 0)
		return "is empty";
	if (memchr(key, '\0', len) != NULL)
		return "contains a NUL byte";
	if (key[0] == '/')
		return "is an absolute path";
	return path_component_problem(key, len, true);
}
