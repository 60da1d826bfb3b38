/*
 * des_tree_path.c - the path rules of versioned datasets: relative,
 * '/'-separated, UTF-8, no empty, "." or ".." segment, bounded lengths.
 *
 * A path is checked in one left-to-right pass and the first problem is
 * reported with its byte offset, so an importer can point at it.
 */
#include "des/tree/des_tree.h"

#include "des/common/des_utf8.h"

static bool
path_fail(size_t *bad_offset, size_t at, des_error *err, const char *what, const char *path_or_name)
{
	if (bad_offset != NULL)
		*bad_offset = at;
	return des_fail(err, DES_E_INVALID_NAME, "%s %s at byte %zu", path_or_name, what, at);
}

/* The shared scan: allow_slash false for a single name. */
static bool
check(const char *s, size_t len, bool allow_slash, size_t *bad_offset, des_error *err)
{
	const char *what = allow_slash ? "path" : "name";
	const unsigned char *u = (const unsigned char *) s;
	size_t		limit = allow_slash ? DES_TREE_MAX_PATH : DES_TREE_MAX_SEGMENT;
	size_t		seg = 0;		/* start of the current segment */
	size_t		i = 0;

	if (len == 0)
		return path_fail(bad_offset, 0, err, "is empty", what);
	if (len > limit)
		return path_fail(bad_offset, limit, err,
						 allow_slash ? "is longer than 4096 bytes" : "is longer than 255 bytes", what);
	if (s[0] == '/')
		return path_fail(bad_offset, 0, err,
						 allow_slash ? "starts with \"/\" (paths are relative to the bundle root)" :
						 "contains \"/\"", what);
	while (i <= len)
	{
		if (i == len || u[i] == '/')
		{
			size_t		n = i - seg;

			if (i < len && !allow_slash)
				return path_fail(bad_offset, i, err, "contains \"/\"", what);
			if (n == 0 && i == len)
				return path_fail(bad_offset, len - 1, err, "ends with \"/\"", what);
			if (n == 0)
				return path_fail(bad_offset, i, err, "has an empty segment (\"//\")", what);
			if ((n == 1 && u[seg] == '.') || (n == 2 && u[seg] == '.' && u[seg + 1] == '.'))
				return path_fail(bad_offset, seg, err,
								 n == 1 ? "has a \".\" segment" : "has a \"..\" segment", what);
			if (i == len)
				break;
			seg = ++i;
			continue;
		}
		if (u[i] == 0)
			return path_fail(bad_offset, i, err, "contains a NUL byte", what);
		if (u[i] < 0x20 || u[i] == 0x7f)
			return path_fail(bad_offset, i, err, "contains a control character", what);
		if (u[i] < 0x80)
			i++;
		else
		{
			const unsigned char *p = u + i;
			uint32_t	cp;

			if (!des_utf8_decode(&p, u + len, &cp))
				return path_fail(bad_offset, i, err, "is not valid UTF-8", what);
			i = (size_t) (p - u);
		}
		/* checked as the segment grows, so the offset is the first byte too many */
		if (i - seg > DES_TREE_MAX_SEGMENT)
			return path_fail(bad_offset, seg + DES_TREE_MAX_SEGMENT, err,
							 "has a segment longer than 255 bytes", what);
	}
	return true;
}

bool
des_tree_path_check(const char *path, size_t len, size_t *bad_offset, des_error *err)
{
	return check(path, len, true, bad_offset, err);
}

bool
des_tree_name_check(const char *name, size_t len, size_t *bad_offset, des_error *err)
{
	return check(name, len, false, bad_offset, err);
}

void
des_tree_path_split(const char *path, size_t len, size_t *parent_len, size_t *name_start)
{
	size_t		i = len;

	while (i > 0 && path[i - 1] != '/')
		i--;
	*name_start = i;
	*parent_len = i > 0 ? i - 1 : 0;
}

int
des_tree_path_order(const char *a, size_t a_len, const char *b, size_t b_len)
{
	size_t		n = a_len < b_len ? a_len : b_len;

	for (size_t i = 0; i < n; i++)
	{
		unsigned char ca = (unsigned char) a[i],
					cb = (unsigned char) b[i];

		if (ca != cb)
			return (ca == '/' ? 0 : ca) - (cb == '/' ? 0 : cb);
	}
	return (a_len > b_len) - (a_len < b_len);
}
