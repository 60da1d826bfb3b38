/*
 * des_value.c - the type of one field's text (see des_value.h): hand-written
 * recognisers for the few strict forms, since the C library's strtod and
 * strptime accept far more (hex floats, "infinity", locale-dependent
 * separators, leading blanks inside) and need NUL-terminated input.
 */
#include "des/profile/des_value.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *
des_value_kind_name(des_value_kind kind)
{
	switch (kind)
	{
		case DES_VALUE_MISSING:
			return "missing";
		case DES_VALUE_BOOLEAN:
			return "boolean";
		case DES_VALUE_INTEGER:
			return "integer";
		case DES_VALUE_FLOAT:
			return "float";
		case DES_VALUE_DATE:
			return "date";
		case DES_VALUE_DATETIME:
			return "datetime";
		case DES_VALUE_TEXT:
			return "text";
	}
	return "text";
}

/* H. Hinnant's days_from_civil: days since 1970-01-01, proleptic Gregorian */
int64_t
des_days_from_civil(int year, int month, int day)
{
	int64_t		y = (int64_t) year - (month <= 2);
	int64_t		era = (y >= 0 ? y : y - 399) / 400;
	int64_t		yoe = y - era * 400;
	int64_t		doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	int64_t		doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

static bool
leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool
valid_date(int y, int m, int d)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1)
		return false;
	return d <= days[m - 1] + (m == 2 && leap(y) ? 1 : 0);
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* n digits at s as a number; false unless all are digits */
static bool
digits(const char *s, size_t n, int *out)
{
	int			v = 0;

	for (size_t i = 0; i < n; i++)
	{
		if (!is_digit(s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static bool
equals_ci(const char *s, size_t len, const char *word)
{
	size_t		n = strlen(word);

	if (len != n)
		return false;
	for (size_t i = 0; i < n; i++)
	{
		char		c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char) (c - 'A' + 'a');
		if (c != word[i])
			return false;
	}
	return true;
}

/* [+-]digits, no leading zero but "0", at most 18 digits (fits int64) */
static bool
parse_integer(const char *s, size_t len, int64_t *out)
{
	size_t		i = 0;
	bool		neg = false;
	int64_t		v = 0;

	if (len > 0 && (s[0] == '+' || s[0] == '-'))
	{
		neg = s[0] == '-';
		i = 1;
	}
	if (i == len || len - i > 18)
		return false;
	if (s[i] == '0' && len - i > 1)
		return false;
	for (; i < len; i++)
	{
		if (!is_digit(s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = neg ? -v : v;
	return true;
}

/* [+-](digits.digits | .digits | digits. | digits)[e[+-]digits], with a '.' or an exponent, or over 18 digits */
static bool
parse_float(const char *s, size_t len, double *out)
{
	size_t		i = 0;
	size_t		int_digits = 0,
				frac_digits = 0,
				exp_digits = 0;
	bool		dot = false,
				exp = false;
	char		buf[64];

	if (len == 0 || len >= sizeof(buf))
		return false;
	if (s[0] == '+' || s[0] == '-')
		i = 1;
	for (; i < len && is_digit(s[i]); i++)
		int_digits++;
	if (i < len && s[i] == '.')
	{
		dot = true;
		for (i++; i < len && is_digit(s[i]); i++)
			frac_digits++;
	}
	if (int_digits + frac_digits == 0)
		return false;
	if (i < len && (s[i] == 'e' || s[i] == 'E'))
	{
		exp = true;
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		for (; i < len && is_digit(s[i]); i++)
			exp_digits++;
		if (exp_digits == 0)
			return false;
	}
	if (i != len || (!dot && !exp && int_digits <= 18))
		return false;
	if (!exp && int_digits + frac_digits <= 15)
	{
		/*
		 * Clinger's fast path: the digits as an integer below 10^15 and the
		 * power of ten are both exact doubles, so one division is correctly
		 * rounded, the same double strtod gives, without its cost
		 */
		static const double pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13,
		1e14, 1e15};
		uint64_t	mantissa = 0;

		for (size_t k = (s[0] == '+' || s[0] == '-') ? 1 : 0; k < len; k++)
			if (s[k] != '.')
				mantissa = mantissa * 10 + (uint64_t) (s[k] - '0');
		*out = (double) mantissa / pow10[frac_digits];
		if (s[0] == '-')
			*out = -*out;
		return true;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	*out = strtod(buf, NULL);
	return isfinite(*out);
}

/* HH:MM[:SS[.fraction]] from s; seconds of the day */
static bool
parse_time(const char *s, size_t len, double *seconds, size_t *used)
{
	int			h,
				m,
				sec = 0;
	size_t		i = 5;
	double		frac = 0;

	if (len < 5 || s[2] != ':' || !digits(s, 2, &h) || !digits(s + 3, 2, &m) || h > 23 || m > 59)
		return false;
	if (len >= 8 && s[5] == ':')
	{
		if (!digits(s + 6, 2, &sec) || sec > 60)
			return false;
		i = 8;
		if (i < len && s[i] == '.')
		{
			double		scale = 0.1;
			size_t		start = ++i;

			for (; i < len && is_digit(s[i]); i++, scale /= 10)
				frac += (s[i] - '0') * scale;
			if (i == start)
				return false;
		}
	}
	*seconds = h * 3600.0 + m * 60.0 + sec + frac;
	*used = i;
	return true;
}

/* Z, or [+-]HH[:]MM: seconds east of UTC */
static bool
parse_offset(const char *s, size_t len, int *offset)
{
	int			h,
				m;

	if (len == 1 && (s[0] == 'Z' || s[0] == 'z'))
	{
		*offset = 0;
		return true;
	}
	if ((s[0] != '+' && s[0] != '-') || !(len == 6 || len == 5 || len == 3))
		return false;
	if (!digits(s + 1, 2, &h) || h > 23)
		return false;
	if (len == 3)
		m = 0;
	else if (len == 6 ? (s[3] != ':' || !digits(s + 4, 2, &m)) : !digits(s + 3, 2, &m))
		return false;
	if (m > 59)
		return false;
	*offset = (s[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
	return true;
}

/* the date forms; *used: the date's length when it is followed by more (date-times) */
static bool
parse_date(const char *s, size_t len, int options, int *y, int *m, int *d, size_t *used)
{
	if (len >= 10 && (s[4] == '-' || s[4] == '/') && s[7] == s[4] && digits(s, 4, y) && digits(s + 5, 2, m) &&
		digits(s + 8, 2, d))
	{
		*used = 10;
		return valid_date(*y, *m, *d);
	}
	if (len == 10 && s[2] == '.' && s[5] == '.' && digits(s, 2, d) && digits(s + 3, 2, m) && digits(s + 6, 4, y))
	{
		*used = 10;
		return valid_date(*y, *m, *d);
	}
	if ((options & DES_VALUE_COMPACT_DATES) && len == 8 && (memcmp(s, "19", 2) == 0 || memcmp(s, "20", 2) == 0) &&
		digits(s, 4, y) && digits(s + 4, 2, m) && digits(s + 6, 2, d))
	{
		*used = 8;
		return valid_date(*y, *m, *d);
	}
	return false;
}

void
des_value_classify(const char *text, size_t len, int options, des_value *out)
{
	const char *s = text;
	size_t		n = len;
	int			y,
				mo,
				d;
	size_t		used;

	memset(out, 0, sizeof(*out));
	while (n > 0 && (*s == ' ' || *s == '\t'))
	{
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	if (n == 0 || equals_ci(s, n, "na") || equals_ci(s, n, "n/a") || equals_ci(s, n, "nan") ||
		equals_ci(s, n, "null") || equals_ci(s, n, "none") || equals_ci(s, n, "nil") ||
		(n == 1 && (s[0] == '-' || s[0] == '?')))
	{
		out->kind = DES_VALUE_MISSING;
		return;
	}
	if (equals_ci(s, n, "true") || equals_ci(s, n, "yes") || equals_ci(s, n, "t") || equals_ci(s, n, "y") ||
		equals_ci(s, n, "false") || equals_ci(s, n, "no") || equals_ci(s, n, "f") || equals_ci(s, n, "n"))
	{
		out->kind = DES_VALUE_BOOLEAN;
		out->boolean = s[0] == 't' || s[0] == 'T' || s[0] == 'y' || s[0] == 'Y';
		return;
	}
	if (parse_date(s, n, options, &y, &mo, &d, &used))
	{
		double		day_seconds = (double) des_days_from_civil(y, mo, d) * 86400.0;

		out->year = y;
		out->month = mo;
		out->day = d;
		if (used == n)
		{
			out->kind = DES_VALUE_DATE;
			out->number = day_seconds;
			return;
		}
		/* a date-time: dashes only, then 'T' or a space, the time, an optional offset */
		if (used == 10 && s[4] == '-' && (s[10] == 'T' || s[10] == 't' || s[10] == ' '))
		{
			double		secs;
			size_t		tused;
			int			offset = 0;

			if (parse_time(s + 11, n - 11, &secs, &tused))
			{
				size_t		rest = n - 11 - tused;

				if (rest == 0 || parse_offset(s + 11 + tused, rest, &offset))
				{
					out->kind = DES_VALUE_DATETIME;
					out->has_offset = rest > 0;
					out->number = day_seconds + secs - offset;
					return;
				}
			}
		}
		out->year = out->month = out->day = 0;
	}
	if (parse_integer(s, n, &out->integer))
	{
		out->kind = DES_VALUE_INTEGER;
		out->number = (double) out->integer;
		return;
	}
	if (parse_float(s, n, &out->number))
	{
		out->kind = DES_VALUE_FLOAT;
		return;
	}
	out->kind = DES_VALUE_TEXT;
}
