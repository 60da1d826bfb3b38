/*
 * des_names.c - entry-name and key rules, and the name hash.
 */
#include "des/format/des_format.h"

#include <stdbool.h>
#include <xxhash.h>

#include "des/common/des_utf8.h"

uint64_t
des_name_hash(const char *name, size_t len)
{
	return XXH3_64bits(name, len);
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
	if (memchr(name, '\0', len) != NULL)
		return "contains a NUL byte";
	if (!utf8_valid((const unsigned char *) name, len, false))
		return "is not valid UTF-8 or contains control characters";
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
