/*
 * des_chars.h - character helpers the core's parsers share (locations, S3
 * XML, JSON meta).
 */
#ifndef DES_CHARS_H
#define DES_CHARS_H

/* The value of a hexadecimal digit, or -1 if c is none. */
static inline int
des_hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
