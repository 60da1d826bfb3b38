/*
 * des_semantic.c - value patterns and column-name hints (see des_semantic.h).
 */
#include "des/profile/des_semantic.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool
is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_alnum(unsigned char c)
{
	return is_alpha(c) || is_digit(c);
}

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char) (c + 32) : c;
}

/* printable ASCII, no blank */
static bool
all_graphic(const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return false;
	return true;
}

static bool
is_url(const unsigned char *s, size_t len)
{
	size_t		i = 0;

	if (!all_graphic(s, len))
		return false;
	if (len > 4 && lower(s[0]) == 'w' && lower(s[1]) == 'w' && lower(s[2]) == 'w' && s[3] == '.')
		return memchr(s + 4, '.', len - 4) != NULL && is_alnum(s[4]);
	if (len == 0 || !is_alpha(s[0]))
		return false;
	while (i < len && (is_alnum(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
		i++;
	/* a scheme of 2+ characters, "://", then something */
	return i >= 2 && i <= 32 && len > i + 3 && s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/';
}

static bool
is_email(const unsigned char *s, size_t len)
{
	const unsigned char *at = memchr(s, '@', len);
	size_t		local,
				label = 0,
				labels = 0,
				last_alpha = 0;
	bool		last_all_alpha = true;

	if (at == NULL || !all_graphic(s, len))
		return false;
	local = (size_t) (at - s);
	if (local == 0 || local > 64 || s[0] == '.' || s[local - 1] == '.')
		return false;
	for (size_t i = 0; i < local; i++)
		if (!is_alnum(s[i]) && strchr("!#$%&'*+/=?^_`{|}~.-", s[i]) == NULL)
			return false;
	for (size_t i = local + 1; i <= len; i++)
	{
		if (i == len || s[i] == '.')
		{
			if (label == 0)
				return false;
			labels++;
			last_alpha = label;
			label = 0;
			if (i < len)
				last_all_alpha = true;
			continue;
		}
		if (!is_alnum(s[i]) && s[i] != '-')
			return false;
		if (!is_alpha(s[i]))
			last_all_alpha = false;
		label++;
	}
	return labels >= 2 && last_alpha >= 2 && last_all_alpha;
}

static const char *const common_extensions[] = {
	"7z", "avi", "avro", "bin", "bmp", "bz2", "c", "csv", "dat", "des", "doc", "docx", "geojson", "gif", "gz", "h",
	"h5", "hdf5", "htm", "html", "java", "jpeg", "jpg", "js", "json", "jsonl", "kml", "log", "md", "mov", "mp3",
	"mp4", "nc", "orc", "parquet", "pdf", "png", "ppt", "pptx", "py", "sh", "shp", "sql", "svg", "tar", "tif",
	"tiff", "tsv", "txt", "wav", "xls", "xlsx", "xml", "xz", "zip"
};

static bool
is_filename(const unsigned char *s, size_t len)
{
	size_t		dot = len,
				base_start = 0;
	bool		separator = false,
				letter = false;
	char		ext[8];
	size_t		ext_len;

	for (size_t i = 0; i < len; i++)
	{
		if (s[i] < 0x20 || s[i] == 0x7f || s[i] == '@')
			return false;
		if (s[i] == '/' || s[i] == '\\')
		{
			separator = true;
			base_start = i + 1;
			dot = len;
		}
		else if (s[i] == '.')
			dot = i;
	}
	if (dot == len || dot <= base_start || is_url(s, len))
		return false;
	ext_len = len - dot - 1;
	if (ext_len < 1 || ext_len > 7)
		return false;
	for (size_t i = 0; i < ext_len; i++)
	{
		unsigned char c = s[dot + 1 + i];

		if (!is_alnum(c))
			return false;
		letter |= is_alpha(c);
		ext[i] = (char) lower(c);
	}
	ext[ext_len] = '\0';
	if (!letter)
		return false;
	if (separator && ext_len <= 5)
		return true;
	for (size_t i = 0; i < sizeof(common_extensions) / sizeof(common_extensions[0]); i++)
		if (strcmp(ext, common_extensions[i]) == 0)
			return true;
	return false;
}

/*
 * Administrative areas by name (factual names, in lower case and sorted by
 * bytes for bsearch): the countries of ISO 3166-1 with their common English
 * short forms, the states of the United States and the provinces and
 * territories of Canada.
 */
static const char *const admin_names[] = {
	"afghanistan", "alabama", "alaska", "albania", "alberta", "algeria", "andorra", "angola",
	"antigua and barbuda", "argentina", "arizona", "arkansas", "armenia", "australia", "austria", "azerbaijan",
	"bahamas", "bahrain", "bangladesh", "barbados", "belarus", "belgium", "belize", "benin", "bhutan", "bolivia",
	"bosnia and herzegovina", "botswana", "brazil", "british columbia", "brunei", "bulgaria", "burkina faso",
	"burundi", "cabo verde", "california", "cambodia", "cameroon", "canada", "cape verde",
	"central african republic", "chad", "chile", "china", "colombia", "colorado", "comoros", "congo",
	"connecticut", "costa rica", "cote d'ivoire", "croatia", "cuba", "cyprus", "czech republic", "czechia",
	"delaware", "denmark", "district of columbia", "djibouti", "dominica", "dominican republic", "east timor",
	"ecuador", "egypt", "el salvador", "england", "equatorial guinea", "eritrea", "estonia", "eswatini",
	"ethiopia", "fiji", "finland", "florida", "france", "gabon", "gambia", "georgia", "germany", "ghana",
	"great britain", "greece", "greenland", "grenada", "guatemala", "guinea", "guinea-bissau", "guyana", "haiti",
	"hawaii", "honduras", "hong kong", "hungary", "iceland", "idaho", "illinois", "india", "indiana", "indonesia",
	"iowa", "iran", "iraq", "ireland", "israel", "italy", "ivory coast", "jamaica", "japan", "jordan", "kansas",
	"kazakhstan", "kentucky", "kenya", "kiribati", "korea", "kosovo", "kuwait", "kyrgyzstan", "laos", "latvia",
	"lebanon", "lesotho", "liberia", "libya", "liechtenstein", "lithuania", "louisiana", "luxembourg", "macau",
	"madagascar", "maine", "malawi", "malaysia", "maldives", "mali", "malta", "manitoba", "marshall islands",
	"maryland", "massachusetts", "mauritania", "mauritius", "mexico", "michigan", "micronesia", "minnesota",
	"mississippi", "missouri", "moldova", "monaco", "mongolia", "montana", "montenegro", "morocco", "mozambique",
	"myanmar", "namibia", "nauru", "nebraska", "nepal", "netherlands", "nevada", "new brunswick", "new hampshire",
	"new jersey", "new mexico", "new york", "new zealand", "newfoundland and labrador", "nicaragua", "niger",
	"nigeria", "north carolina", "north dakota", "north korea", "north macedonia", "northern ireland",
	"northwest territories", "norway", "nova scotia", "nunavut", "ohio", "oklahoma", "oman", "ontario", "oregon",
	"pakistan", "palau", "palestine", "panama", "papua new guinea", "paraguay", "pennsylvania", "peru",
	"philippines", "poland", "portugal", "prince edward island", "puerto rico", "qatar", "quebec", "rhode island",
	"romania", "russia", "russian federation", "rwanda", "saint kitts and nevis", "saint lucia",
	"saint vincent and the grenadines", "samoa", "san marino", "sao tome and principe", "saskatchewan",
	"saudi arabia", "scotland", "senegal", "serbia", "seychelles", "sierra leone", "singapore", "slovakia",
	"slovenia", "solomon islands", "somalia", "south africa", "south carolina", "south dakota", "south korea",
	"south sudan", "spain", "sri lanka", "sudan", "suriname", "sweden", "switzerland", "syria", "taiwan",
	"tajikistan", "tanzania", "tennessee", "texas", "thailand", "timor-leste", "togo", "tonga",
	"trinidad and tobago", "tunisia", "turkey", "turkiye", "turkmenistan", "tuvalu", "uganda", "uk", "ukraine",
	"united arab emirates", "united kingdom", "united states", "united states of america", "uruguay", "us", "usa",
	"utah", "uzbekistan", "vanuatu", "vatican city", "venezuela", "vermont", "viet nam", "vietnam", "virginia",
	"wales", "washington", "west virginia", "wisconsin", "wyoming", "yemen", "yukon", "zambia", "zimbabwe"
};

static int
cmp_name(const void *key, const void *elem)
{
	return strcmp((const char *) key, *(const char *const *) elem);
}

static bool
is_admin_area(const unsigned char *s, size_t len)
{
	char		lowered[48];

	if (len == 0 || len >= sizeof(lowered))
		return false;
	for (size_t i = 0; i < len; i++)
	{
		if (s[i] >= 0x80 || (s[i] >= '0' && s[i] <= '9'))
			return false;
		lowered[i] = (char) lower(s[i]);
	}
	lowered[len] = '\0';
	return bsearch(lowered, admin_names, sizeof(admin_names) / sizeof(admin_names[0]), sizeof(admin_names[0]),
				   cmp_name) != NULL;
}

/* [+-]digits[.digits][e[+-]digits] at *p; its value into *out */
static bool
scan_number(const unsigned char *s, size_t len, size_t *p, double *out)
{
	char		buf[64];
	size_t		i = *p,
				start = i,
				digits = 0;

	if (i < len && (s[i] == '+' || s[i] == '-'))
		i++;
	while (i < len && is_digit(s[i]))
		i++, digits++;
	if (i < len && s[i] == '.')
		for (i++; i < len && is_digit(s[i]); i++)
			digits++;
	if (digits == 0)
		return false;
	if (i < len && (s[i] == 'e' || s[i] == 'E'))
	{
		size_t		e = i + 1;

		if (e < len && (s[e] == '+' || s[e] == '-'))
			e++;
		if (e < len && is_digit(s[e]))
		{
			while (e < len && is_digit(s[e]))
				e++;
			i = e;
		}
	}
	if (i - start >= sizeof(buf))
		return false;
	memcpy(buf, s + start, i - start);
	buf[i - start] = '\0';
	*out = strtod(buf, NULL);
	*p = i;
	return isfinite(*out);
}

static bool
is_point(const unsigned char *s, size_t len, double *lon, double *lat)
{
	static const char keyword[] = "point";
	size_t		i = 5;
	double		x,
				y;

	if (len < 10)
		return false;
	for (size_t k = 0; k < 5; k++)
		if (lower(s[k]) != (unsigned char) keyword[k])
			return false;
	while (i < len && is_blank(s[i]))
		i++;
	if (i >= len || s[i++] != '(')
		return false;
	while (i < len && is_blank(s[i]))
		i++;
	if (!scan_number(s, len, &i, &x) || i >= len || !is_blank(s[i]))
		return false;
	while (i < len && is_blank(s[i]))
		i++;
	if (!scan_number(s, len, &i, &y))
		return false;
	while (i < len && is_blank(s[i]))
		i++;
	if (i + 1 != len || s[i] != ')')
		return false;
	if (x < -180 || x > 180 || y < -90 || y > 90)
		return false;
	*lon = x;
	*lat = y;
	return true;
}

int
des_semantic_value(const char *text, size_t len, double *lon, double *lat)
{
	const unsigned char *s = (const unsigned char *) text;
	int			bits = 0;

	while (len > 0 && is_blank(s[0]))
		s++, len--;
	while (len > 0 && is_blank(s[len - 1]))
		len--;
	if (len == 0)
		return 0;
	if (is_url(s, len))
		bits |= DES_SEM_URL;
	else if (is_email(s, len))
		bits |= DES_SEM_EMAIL;
	else if (is_filename(s, len))
		bits |= DES_SEM_FILENAME;
	else if (is_point(s, len, lon, lat))
		bits |= DES_SEM_POINT;
	else if (is_admin_area(s, len))
		bits |= DES_SEM_ADMIN;
	return bits;
}

/* ---- names ---- */

#define WORD_MAX 64

typedef struct word_list
{
	int			n;
	char		words[16][WORD_MAX];
	size_t		lens[16];
} word_list;

int
des_semantic_name_words(const char *name, size_t len, des_word_fn fn, void *ctx)
{
	const unsigned char *s = (const unsigned char *) name;
	char		word[WORD_MAX];
	size_t		wlen = 0;
	int			given = 0;

	for (size_t i = 0; i <= len; i++)
	{
		bool		boundary = i == len || !(is_alnum(s[i]) || s[i] >= 0x80);

		/* camelCase: a lower-case letter then an upper-case one starts a word */
		if (!boundary && i > 0 && wlen > 0 && s[i] >= 'A' && s[i] <= 'Z' && s[i - 1] >= 'a' && s[i - 1] <= 'z')
			boundary = true;
		if (boundary && wlen > 0)
		{
			if (wlen >= 2)
			{
				fn(ctx, word, wlen);
				given++;
			}
			wlen = 0;
		}
		if (i < len && (is_alnum(s[i]) || s[i] >= 0x80))
		{
			if (wlen < WORD_MAX - 1)
				word[wlen++] = (char) lower(s[i]);
		}
	}
	return given;
}

static void
collect_word(void *ctx, const char *word, size_t len)
{
	word_list  *l = ctx;

	if (l->n < 16)
	{
		memcpy(l->words[l->n], word, len);
		l->words[l->n][len] = '\0';
		l->lens[l->n] = len;
		l->n++;
	}
}

static bool
word_in(const char *w, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(w, set[i]) == 0)
			return true;
	return false;
}

static const char *const id_words[] = {"id", "identifier", "uuid", "guid", "key", "index", "idx"};
static const char *const lat_words[] = {"lat", "lati", "latitude"};
static const char *const lon_words[] = {"lon", "lng", "long", "longi", "longitude"};
static const char *const year_words[] = {"year", "yr"};

#define NWORDS(a) (sizeof(a) / sizeof((a)[0]))

int
des_semantic_name(const char *name, size_t len)
{
	word_list	l;
	int			bits = 0;

	l.n = 0;
	des_semantic_name_words(name, len, collect_word, &l);
	for (int i = 0; i < l.n; i++)
	{
		if (word_in(l.words[i], id_words, NWORDS(id_words)))
			bits |= DES_NAME_ID;
		if (word_in(l.words[i], lat_words, NWORDS(lat_words)))
			bits |= DES_NAME_LATITUDE;
		if (word_in(l.words[i], lon_words, NWORDS(lon_words)))
			bits |= DES_NAME_LONGITUDE;
		if (word_in(l.words[i], year_words, NWORDS(year_words)))
			bits |= DES_NAME_YEAR;
	}
	return bits;
}

bool
des_semantic_names_pair(const char *lat_name, size_t lat_len, const char *lon_name, size_t lon_len)
{
	word_list	a,
				b;
	int			i = 0,
				j = 0;

	a.n = b.n = 0;
	des_semantic_name_words(lat_name, lat_len, collect_word, &a);
	des_semantic_name_words(lon_name, lon_len, collect_word, &b);
	/* compare the sequences without the coordinate words */
	for (;;)
	{
		while (i < a.n && word_in(a.words[i], lat_words, NWORDS(lat_words)))
			i++;
		while (j < b.n && word_in(b.words[j], lon_words, NWORDS(lon_words)))
			j++;
		if (i == a.n || j == b.n)
			return i == a.n && j == b.n;
		if (strcmp(a.words[i], b.words[j]) != 0)
			return false;
		i++, j++;
	}
}
