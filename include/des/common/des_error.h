/*
 * des_error.h - error reporting and growable buffers for the PostgreSQL-free core.
 *
 * The core never aborts or prints: every fallible call fills a des_error and
 * returns false, so the backend glue can map the code to a SQLSTATE and the
 * unit tests and fuzzers can inspect it.
 */
#ifndef DES_ERROR_H
#define DES_ERROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum des_error_code
{
	DES_OK = 0,
	DES_E_IO,				/* operating-system I/O failure; sys_errno is set */
	DES_E_NOMEM,			/* allocation failed */
	DES_E_BAD_MAGIC,		/* header or footer magic/version wrong */
	DES_E_CORRUPT,			/* structure inconsistent: bounds, counts, overlaps */
	DES_E_HASH_MISMATCH,	/* stored BLAKE2b does not match the payload */
	DES_E_INVALID_NAME,		/* entry name rejected by the writer */
	DES_E_DUPLICATE_NAME,	/* writer: name already added */
	DES_E_INVALID_META,		/* meta is not a JSON object or uses a reserved key */
	DES_E_INVALID_ARGUMENT, /* caller error: option out of range, bad key, ... */
	DES_E_NOT_FOUND,		/* entry or external payload absent */
	DES_E_TOO_LARGE,		/* a size exceeds what the core will handle */
	DES_E_UNSUPPORTED		/* flag or feature this reader does not implement */
} des_error_code;

typedef struct des_error
{
	des_error_code code;
	int			sys_errno;
	int			sqlstate;		/* set by the backend glue when it knows better (0 = derive from code) */
	char		message[512];
} des_error;

extern bool des_fail(des_error *err, des_error_code code, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
extern bool des_fail_errno(des_error *err, int saved_errno, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
extern void des_error_clear(des_error *err);
extern const char *des_error_code_name(des_error_code code);

/* A growable byte buffer (malloc-backed). */
typedef struct des_buf
{
	unsigned char *data;
	size_t		len;
	size_t		cap;
} des_buf;

extern bool des_buf_reserve(des_buf *b, size_t extra);
extern bool des_buf_append(des_buf *b, const void *p, size_t n);
extern void des_buf_free(des_buf *b);

static inline bool
des_buf_putc(des_buf *b, unsigned char c)
{
	if (b->len == b->cap && !des_buf_reserve(b, 1))
		return false;
	b->data[b->len++] = c;
	return true;
}

/* Overflow-checked addition of sizes. */
static inline bool
des_add_overflows(uint64_t a, uint64_t b, uint64_t *sum)
{
	return __builtin_add_overflow(a, b, sum);
}

#endif
