/*
 * des_semantic.h - what a column means, for the dataset profiler
 * (PostgreSQL-free): the patterns one value can match (URL, e-mail address,
 * file name, WKT point, administrative area by name), the hints a column's
 * name gives (identifier, latitude, longitude, year), the words of a name
 * (keywords), and the pairing of latitude and longitude columns by name.
 *
 * The profiler counts, per column, the values matching each pattern and
 * gives the column the semantic type when at least the type threshold (98%)
 * of its non-missing values match. Patterns are strict and ASCII: a value
 * with a blank inside is never a URL, address or file name.
 *
 * Thread-safe: no state.
 */
#ifndef DES_SEMANTIC_H
#define DES_SEMANTIC_H

#include <stdbool.h>
#include <stddef.h>

/* des_semantic_value's result bits */
#define DES_SEM_URL			0x01	/* scheme://rest (http, https, ftp, s3, gs, file, ...) or www.host... */
#define DES_SEM_EMAIL		0x02	/* local@domain.tld */
#define DES_SEM_FILENAME	0x04	/* a path with a separator and an extension, or a name with a common file extension */
#define DES_SEM_POINT		0x08	/* WKT POINT (x y) with -180 <= x <= 180, -90 <= y <= 90 */
#define DES_SEM_ADMIN		0x10	/* the name of a country, a US state or a Canadian province (case-insensitive) */

/* The patterns text[0..len) matches (surrounding blanks ignored); *lon, *lat for a point. */
extern int	des_semantic_value(const char *text, size_t len, double *lon, double *lat);

/* des_semantic_name's result bits */
#define DES_NAME_ID			0x01	/* a word id, identifier, uuid, guid, key, index or idx ("userId", "user_id") */
#define DES_NAME_LATITUDE	0x02	/* a word lat, lati or latitude */
#define DES_NAME_LONGITUDE	0x04	/* a word lon, lng, long, longi or longitude */
#define DES_NAME_YEAR		0x08	/* a word year or yr */

extern int	des_semantic_name(const char *name, size_t len);

/*
 * The words of a column name, lower case: split at anything not a letter or
 * digit, and between a lower-case letter and an upper-case one ("pickupDate"
 * gives pickup, date). Calls fn for each word of 2 bytes or more; returns
 * the number of words given.
 */
typedef void (*des_word_fn) (void *ctx, const char *word, size_t len);
extern int	des_semantic_name_words(const char *name, size_t len, des_word_fn fn, void *ctx);

/*
 * Whether a latitude column name and a longitude column name belong
 * together: the same words once the latitude and longitude words are taken
 * out ("pickup_latitude" and "pickup_longitude"; "lat" and "lon").
 */
extern bool des_semantic_names_pair(const char *lat_name, size_t lat_len, const char *lon_name, size_t lon_len);

#endif
