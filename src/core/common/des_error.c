/*
 * des_error.c - error records and growable buffers for the core.
 */
#include "des/common/des_error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void des_vset(des_error *err, des_error_code code, int saved_errno, const char *fmt, va_list ap)
			__attribute__((format(printf, 4, 0)));

static void
des_vset(des_error *err, des_error_code code, int saved_errno, const char *fmt, va_list ap)
{
	if (err == NULL)
		return;
	err->code = code;
	err->sys_errno = saved_errno;
	err->sqlstate = 0;
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
}

bool
des_fail(des_error *err, des_error_code code, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	des_vset(err, code, 0, fmt, ap);
	va_end(ap);
	return false;
}

bool
des_fail_errno(des_error *err, int saved_errno, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	des_vset(err, saved_errno == ENOMEM ? DES_E_NOMEM : DES_E_IO, saved_errno, fmt, ap);
	va_end(ap);
	if (err != NULL && err->code == DES_E_IO && saved_errno == ENOENT)
		err->code = DES_E_NOT_FOUND;
	return false;
}

void
des_error_clear(des_error *err)
{
	err->code = DES_OK;
	err->sys_errno = 0;
	err->sqlstate = 0;
	err->message[0] = '\0';
}

const char *
des_error_code_name(des_error_code code)
{
	switch (code)
	{
		case DES_OK:
			return "ok";
		case DES_E_IO:
			return "io";
		case DES_E_NOMEM:
			return "out of memory";
		case DES_E_BAD_MAGIC:
			return "bad magic";
		case DES_E_CORRUPT:
			return "corrupt";
		case DES_E_HASH_MISMATCH:
			return "hash mismatch";
		case DES_E_INVALID_NAME:
			return "invalid name";
		case DES_E_DUPLICATE_NAME:
			return "duplicate name";
		case DES_E_INVALID_META:
			return "invalid meta";
		case DES_E_INVALID_ARGUMENT:
			return "invalid argument";
		case DES_E_NOT_FOUND:
			return "not found";
		case DES_E_TOO_LARGE:
			return "too large";
		case DES_E_UNSUPPORTED:
			return "unsupported";
	}
	return "unknown";
}

bool
des_buf_reserve(des_buf *b, size_t extra)
{
	size_t		need;
	size_t		cap;
	unsigned char *p;

	if (__builtin_add_overflow(b->len, extra, &need))
		return false;
	if (need <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
	{
		if (__builtin_mul_overflow(cap, 2, &cap))
			return false;
	}
	p = realloc(b->data, cap);
	if (p == NULL)
		return false;
	b->data = p;
	b->cap = cap;
	return true;
}

bool
des_buf_append(des_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return true;
	if (!des_buf_reserve(b, n))
		return false;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return true;
}

void
des_buf_free(des_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
