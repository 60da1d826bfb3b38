/*
 * fdw_archives.c - the archives a des_fdw location names.
 *
 * A location is one archive, a glob such as s3://b/photos/2025-01-??/NN.des (with
 * fnmatch(3) rules: '*' and '?' stay within one path component), or a prefix
 * ending in '/' (every "*.des" object under it, at any depth, except external
 * payloads under "_bigFiles/"). Globs are expanded by listing from their
 * literal prefix, so "2025-01-*" lists only keys starting "2025-01-".
 *
 * The daily layout "<...>/YYYY-MM-DD/<name>.des" gives each archive a day,
 * which the scan uses to prune archives before reading any index.
 */
#include "pg_des.h"

#include <fnmatch.h>

#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/date.h"
#include "utils/datetime.h"

#include "fdw/des_fdw.h"

static bool
is_glob_char(char c)
{
	return c == '*' || c == '?' || c == '[';
}

/* The location as one string the listing reports: a path, or s3://bucket/key. */
static char *
canonical(const DesLocation *loc)
{
	if (loc->kind == DES_LOCATION_S3)
		return psprintf("s3://%s/%s", loc->bucket, loc->key);
	return pstrdup(loc->path);
}

static bool
has_wildcard(const char *location)
{
	for (const char *p = location; *p; p++)
	{
		if (*p == '\\' && p[1])
			p++;
		else if (is_glob_char(*p))
			return true;
	}
	return false;
}

bool
DesFdwLocationIsPattern(const char *location)
{
	size_t		len = strlen(location);

	return (len > 0 && location[len - 1] == '/') || has_wildcard(location);
}

/* s without the backslashes that escape wildcard characters. */
static char *
unescape(const char *s, size_t len)
{
	char	   *out = palloc(len + 1);
	size_t		o = 0;

	for (size_t i = 0; i < len; i++)
	{
		if (s[i] == '\\' && i + 1 < len)
			i++;
		out[o++] = s[i];
	}
	out[o] = '\0';
	return out;
}

char *
DesFdwEscapeLocation(const char *location)
{
	StringInfoData out;

	initStringInfo(&out);
	for (const char *p = location; *p; p++)
	{
		if (is_glob_char(*p) || *p == '\\')
			appendStringInfoChar(&out, '\\');
		appendStringInfoChar(&out, *p);
	}
	return out.data;
}

/* A YYYY-MM-DD path component naming a real date. */
static bool
parse_day(const char *s, size_t len, DateADT *day)
{
	int			y,
				m,
				d;

	if (len != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > day_tab[isleap(y)][m - 1])
		return false;
	*day = date2j(y, m, d) - POSTGRES_EPOCH_JDATE;
	return true;
}

bool
DesFdwDayOf(const char *location, DateADT *day, const char **day_component)
{
	const char *end = strrchr(location, '/');

	/* the nearest directory named like a date, walking up from the file */
	while (end != NULL && end > location)
	{
		const char *start = end - 1;

		while (start > location && *start != '/')
			start--;
		if (*start == '/')
			start++;
		if (parse_day(start, end - start, day))
		{
			if (day_component)
				*day_component = start;
			return true;
		}
		if (start == location)
			break;
		end = start - 1;
	}
	return false;
}

typedef struct ListCollector
{
	const char *pattern;		/* glob to match, or NULL for a prefix listing */
	size_t		prefix_len;		/* prefix listings: skip this much before checking components */
	DesFdwArchive *items;
	int			n;
	int			cap;
} ListCollector;

static void
collect(void *arg, const char *location, int64 size, const char *etag, bool is_prefix)
{
	ListCollector *lc = arg;
	size_t		len = strlen(location);
	DesFdwArchive *a;

	CHECK_FOR_INTERRUPTS();
	if (is_prefix)
		return;
	if (lc->pattern)
	{
		if (fnmatch(lc->pattern, location, FNM_PATHNAME) != 0)
			return;
	}
	else
	{
		const char *rel = location + Min(lc->prefix_len, len);

		/* archives only: not external payloads, not a crashed writer's temp files */
		if (len < 4 || strcmp(location + len - 4, ".des") != 0 ||
			strncmp(rel, "_bigFiles/", 10) == 0 || strstr(rel, "/_bigFiles/") != NULL)
			return;
	}
	if (lc->n == lc->cap)
	{
		lc->cap = lc->cap ? lc->cap * 2 : 16;
		lc->items = lc->items ? repalloc_huge(lc->items, lc->cap * sizeof(DesFdwArchive))
			: palloc(lc->cap * sizeof(DesFdwArchive));
	}
	a = &lc->items[lc->n++];
	memset(a, 0, sizeof(*a));
	a->location = pstrdup(location);
	a->size = size;
	a->has_day = DesFdwDayOf(a->location, &a->day, NULL);
}

static int
cmp_archive(const void *a, const void *b)
{
	return strcmp(((const DesFdwArchive *) a)->location, ((const DesFdwArchive *) b)->location);
}

DesFdwArchive *
DesFdwListArchives(const char *location, const char *server, Oid user, int *n)
{
	DesLocation *loc;
	char	   *full;
	ListCollector lc = {0};
	bool		pattern = DesFdwLocationIsPattern(location);

	/* a single archive may escape wildcard characters its name contains */
	loc = DesParseLocationPrefix(pattern ? location : unescape(location, strlen(location)));
	loc->server = (char *) server;
	loc->user = user;
	DesCheckReadAccess(loc);
	full = canonical(loc);
	if (!pattern)
	{
		lc.items = palloc0(sizeof(DesFdwArchive));
		lc.items[0].location = full;
		lc.items[0].size = -1;
		lc.items[0].has_day = DesFdwDayOf(full, &lc.items[0].day, NULL);
		*n = 1;
		return lc.items;
	}
	if (full[strlen(full) - 1] == '/')
	{
		/* a prefix: its escapes (if any) name literal characters */
		DesLocation *prefix;

		if (has_wildcard(location))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("location \"%s\" is a prefix with wildcards", location),
					 errhint("A location is one archive, a glob such as \".../2025-01-*/*.des\", or a prefix without wildcards ending in \"/\".")));
		prefix = DesParseLocationPrefix(unescape(location, strlen(location)));

		prefix->server = loc->server;
		prefix->user = user;
		lc.prefix_len = strlen(canonical(prefix));
		DesStorageList(prefix, NULL, collect, &lc);
	}
	else
	{
		/* list from the literal part of the pattern, then match the whole */
		size_t		lit = 0;
		DesLocation *prefix;

		while (full[lit] && !is_glob_char(full[lit]))
			lit += (full[lit] == '\\' && full[lit + 1]) ? 2 : 1;
		prefix = DesParseLocationPrefix(unescape(full, lit));
		prefix->server = loc->server;
		prefix->user = user;
		lc.pattern = full;
		DesStorageList(prefix, NULL, collect, &lc);
	}
	if (lc.n > 1)
		qsort(lc.items, lc.n, sizeof(DesFdwArchive), cmp_archive);
	*n = lc.n;
	return lc.items;
}

DesLocation *
DesFdwArchiveLocation(const DesFdwArchive *a, const char *server, Oid user)
{
	DesLocation *loc = DesParseLocation(a->location);

	loc->server = (char *) server;
	loc->user = user;
	return loc;
}
