/*
 * des_utf8.h - strict UTF-8 decoding and encoding for the core.
 */
#ifndef DES_UTF8_H
#define DES_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Decode one UTF-8 sequence at *pp (before end): no overlong forms, no
 * surrogates, at most U+10FFFF. Advances *pp; false if malformed.
 */
extern bool des_utf8_decode(const unsigned char **pp, const unsigned char *end, uint32_t *cp);

/* Encode cp (any value up to U+10FFFF, surrogates included) into out; returns the length. */
extern int	des_utf8_encode(uint32_t cp, unsigned char out[4]);

#endif
