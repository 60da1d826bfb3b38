/*
 * test_semantic.c - unit tests of the profiler's semantic patterns and name
 * hints (profile area): URLs, e-mail addresses, file names and WKT points
 * that must match and near misses that must not; the hints of column names
 * (identifier, latitude, longitude, year) with camelCase and separators;
 * name words; latitude/longitude pairing.
 *
 * Usage: test_semantic. Prints "semantic: N passed, N failed".
 */
#include "unit.h"
#include "des/profile/des_semantic.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int			unit_passed,
			unit_failed;

static int
pattern(const char *s)
{
	double		lon = NAN,
				lat = NAN;

	return des_semantic_value(s, strlen(s), &lon, &lat);
}

static void
expect(const char *s, int bits)
{
	int			got = pattern(s);

	CHECK(got == bits, "\"%s\": patterns 0x%x, expected 0x%x", s, got, bits);
}

static int
hints(const char *s)
{
	return des_semantic_name(s, strlen(s));
}

typedef struct words
{
	char		all[256];
} words;

static void
join_word(void *ctx, const char *w, size_t len)
{
	words	   *ws = ctx;
	size_t		n = strlen(ws->all);

	snprintf(ws->all + n, sizeof(ws->all) - n, "%s%.*s", n ? "|" : "", (int) len, w);
}

static void
expect_words(const char *name, const char *joined)
{
	words		ws = {{0}};

	des_semantic_name_words(name, strlen(name), join_word, &ws);
	CHECK(strcmp(ws.all, joined) == 0, "words of \"%s\": \"%s\", expected \"%s\"", name, ws.all, joined);
}

static bool
pairs(const char *a, const char *b)
{
	return des_semantic_names_pair(a, strlen(a), b, strlen(b));
}

int
main(void)
{
	double		lon = 0,
				lat = 0;

	/* URLs */
	expect("https://example.org/a?b=c", DES_SEM_URL);
	expect("  http://x.y  ", DES_SEM_URL);
	expect("s3://bucket/key.csv", DES_SEM_URL);
	expect("www.example.com", DES_SEM_URL);
	expect("http://", 0);
	expect("https://a b", 0);
	expect("h://x", 0);			/* one-letter scheme (a drive letter, C://) */
	expect("www.", 0);

	/* e-mail addresses */
	expect("ann.lee+tag@example.co.uk", DES_SEM_EMAIL);
	expect("a@b.io", DES_SEM_EMAIL);
	expect("@example.com", 0);
	expect("a@localhost", 0);
	expect("a@b.c", 0);			/* a one-letter top-level domain */
	expect("a@b.c0m", 0);
	expect(".a@b.com", 0);
	expect("a b@c.com", 0);
	expect("a@b..com", 0);

	/* file names */
	expect("/data/2021/01.csv", DES_SEM_FILENAME);
	expect("C:\\docs\\report.docx", DES_SEM_FILENAME);
	expect("photo.JPG", DES_SEM_FILENAME);
	expect("archive.tar.gz", DES_SEM_FILENAME);
	expect("dir/notes.abc", DES_SEM_FILENAME);	/* a path: any extension of letters */
	expect("notes.abc", 0);		/* no path, uncommon extension: a word with a dot */
	expect("3.14", 0);
	expect("v1.2", 0);
	expect("example.com", 0);
	expect("dir/.hidden", 0);
	expect("dir/name.", 0);

	/* WKT points */
	CHECK(des_semantic_value("POINT (-73.98 40.75)", 20, &lon, &lat) == DES_SEM_POINT && lon == -73.98 && lat == 40.75,
		  "a WKT point with its coordinates");
	expect("point(1 2)", DES_SEM_POINT);
	expect("POINT (1e1 -2.5)", DES_SEM_POINT);
	expect("POINT (200 10)", 0);	/* out of range */
	expect("POINT (10 95)", 0);
	expect("POINT (1 2 3)", 0);
	expect("POINT (1,2)", 0);
	expect("POINT (nan 2)", 0);
	expect("POINTS (1 2)", 0);
	expect("", 0);
	expect("hello world", 0);

	/* administrative areas by name */
	expect("France", DES_SEM_ADMIN);
	expect("  new york ", DES_SEM_ADMIN);
	expect("BRITISH COLUMBIA", DES_SEM_ADMIN);
	expect("Cote d'Ivoire", DES_SEM_ADMIN);
	expect("Guinea-Bissau", DES_SEM_ADMIN);
	expect("Franc", 0);
	expect("New York City", 0);
	expect("Texas2", 0);

	/* name hints */
	CHECK(hints("id") == DES_NAME_ID && hints("user_id") == DES_NAME_ID && hints("userId") == DES_NAME_ID
		  && hints("UUID") == DES_NAME_ID && hints("row index") == DES_NAME_ID, "identifier names");
	CHECK(hints("valid") == 0 && hints("paid") == 0 && hints("idle") == 0, "words ending or starting in id are not ids");
	CHECK(hints("pickup_latitude") == DES_NAME_LATITUDE && hints("Lat") == DES_NAME_LATITUDE
		  && hints("lateral") == 0 && hints("latency_ms") == 0, "latitude names");
	CHECK(hints("lng") == DES_NAME_LONGITUDE && hints("dropoffLongitude") == DES_NAME_LONGITUDE
		  && hints("LON") == DES_NAME_LONGITUDE && hints("longest") == 0, "longitude names");
	CHECK(hints("Year") == DES_NAME_YEAR && hints("fiscal_yr") == DES_NAME_YEAR && hints("yearly") == 0, "year names");

	/* words of names */
	expect_words("pickupDate", "pickup|date");
	expect_words("Trip_Distance (km)", "trip|distance|km");
	expect_words("a-b c", "");
	expect_words("HTTPStatus", "httpstatus");
	expect_words("caf\xc3\xa9_name", "caf\xc3\xa9|name");

	/* pairs */
	CHECK(pairs("pickup_latitude", "pickup_longitude"), "pickup latitude pairs with pickup longitude");
	CHECK(pairs("lat", "lon") && pairs("Latitude", "lng"), "bare names pair");
	CHECK(!pairs("pickup_latitude", "dropoff_longitude"), "pickup latitude does not pair with dropoff longitude");
	CHECK(pairs("latDropoff", "dropoff_long"), "words in another order and case: %d", pairs("latDropoff", "dropoff_long"));

	printf("semantic: %d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}
