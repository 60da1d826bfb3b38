/*
 * des_value.h - what one field's text is, for the dataset profiler
 * (PostgreSQL-free): missing, boolean, integer, float, date, date-time, or
 * text; with the number or the instant it holds.
 *
 * The profiler classifies every value of a column and calls the column by
 * the type at least 98% of its non-missing values have (Auctus's rule). The
 * forms recognised are deliberately strict, so that a column of identifiers
 * with leading zeros or of version strings is not taken for numbers, and
 * they are the ones found in data files:
 *   missing   empty or blank, or (case-insensitive) NA, N/A, NaN, null, none,
 *             nil, "-", "?"
 *   boolean   true/false, yes/no, t/f, y/n (case-insensitive); 0 and 1 are
 *             integers
 *   integer   [+-]digits, no leading zero (but "0" itself), at most 18 digits
 *   float     [+-]digits.digits, .digits, digits., with an optional exponent
 *             e[+-]digits, or an integer of more than 18 digits (no
 *             thousands separators: "1,234" is read 1234 in one locale and
 *             1.234 in another, so it stays text)
 *   date      YYYY-MM-DD, YYYY/MM/DD, YYYYMMDD (8 digits starting 19 or 20
 *             are taken for a date, not an integer, only when
 *             DES_VALUE_COMPACT_DATES is asked), DD.MM.YYYY
 *   date-time a date (dashes) then 'T' or a space, HH:MM[:SS[.fraction]], an
 *             optional 'Z' or [+-]HH[:]MM offset
 * Surrounding spaces are ignored. Dates are checked against the calendar
 * (no 2023-02-29). Everything else is text.
 *
 * Thread-safe: no state.
 */
#ifndef DES_VALUE_H
#define DES_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum des_value_kind
{
	DES_VALUE_MISSING = 0,
	DES_VALUE_BOOLEAN,
	DES_VALUE_INTEGER,
	DES_VALUE_FLOAT,
	DES_VALUE_DATE,
	DES_VALUE_DATETIME,
	DES_VALUE_TEXT
} des_value_kind;

/* options of des_value_classify */
#define DES_VALUE_COMPACT_DATES 0x01	/* YYYYMMDD (19xx, 20xx) is a date */

typedef struct des_value
{
	des_value_kind kind;
	bool		boolean;		/* BOOLEAN */
	int64_t		integer;		/* INTEGER */
	double		number;			/* INTEGER and FLOAT: the value; DATE and DATETIME: seconds since 1970-01-01 UTC */
	int			year,			/* DATE and DATETIME: as written (the offset applied to number only) */
				month,
				day;
	bool		has_offset;		/* DATETIME: a time zone was written */
} des_value;

/* Classify len bytes (not NUL-terminated; any bytes: the input is a field of a file). */
extern void des_value_classify(const char *text, size_t len, int options, des_value *out);

/* The name of a kind: missing, boolean, integer, float, date, datetime, text. */
extern const char *des_value_kind_name(des_value_kind kind);

/* Days from 1970-01-01 to year-month-day (proleptic Gregorian); the date must be valid. */
extern int64_t des_days_from_civil(int year, int month, int day);

#endif
