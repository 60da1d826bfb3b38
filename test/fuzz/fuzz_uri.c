/*
 * fuzz_uri.c - libFuzzer target for the gros:// URI grammar
 * (src/core/uri/des_uri.c).
 *
 * The input, as is (NUL bytes included, from an exact-size copy), is parsed
 * as a URI. Invariants: a refusal points inside the input, has a message
 * ending with its position and leaves the result cleared; an accepted URI
 * meets the rules checked independently here (repo characters, tag text
 * spelling its kind's value), formats to ASCII text of at most 2048 bytes
 * that parses to the same value, and formatting that value again gives the
 * same text. The same bytes, split into a branch and a tag, also go straight
 * to the formatter, whose output (if any) must parse back to the value.
 */
#include "des/uri/des_uri.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) { fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

static char *
format_or_null(const des_uri *u, size_t *len)
{
	des_buf		b = {0};
	des_error	err;

	if (!des_uri_format(u, &b, &err))
	{
		REQUIRE(err.code == DES_E_INVALID_ARGUMENT && err.message[0] != '\0');
		REQUIRE(b.len == 0);
		des_buf_free(&b);
		return NULL;
	}
	*len = b.len;
	REQUIRE(b.data[b.len] == '\0');
	return (char *) b.data;
}

/* The canonical text: ASCII, no space, control, '?', '#' or stray '%'. */
static void
check_canonical(const char *t, size_t len)
{
	REQUIRE(len <= DES_URI_MAX_LEN && strncmp(t, "gros://", 7) == 0);
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) t[i];

		REQUIRE(c > 0x20 && c < 0x7f && c != '?' && c != '#' && c != '"' && c != '\\');
		if (c == '%')
			REQUIRE(i + 2 < len && strchr("0123456789ABCDEF", t[i + 1]) && strchr("0123456789ABCDEF", t[i + 2]) &&
					t[i + 1] != '\0' && t[i + 2] != '\0');
	}
}

static void
round_trip(const des_uri *u)
{
	size_t		len = 0,
				len2 = 0;
	char	   *t = format_or_null(u, &len);
	char	   *t2;
	des_uri		again;
	des_error	err;

	REQUIRE(t != NULL);
	check_canonical(t, len);
	REQUIRE(des_uri_parse(t, len, &again, &err));
	REQUIRE(des_uri_equal(u, &again));
	t2 = format_or_null(&again, &len2);
	REQUIRE(t2 != NULL && len2 == len && memcmp(t, t2, len) == 0);
	free(t);
	free(t2);
}

static void
check_value(const des_uri *u)
{
	size_t		rl = strlen(u->repo);
	char		want[32];

	REQUIRE(rl >= 1 && rl <= DES_URI_MAX_REPO);
	REQUIRE(strspn(u->repo, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == rl);
	REQUIRE(strspn(u->repo, ".") < rl);
	REQUIRE(u->has_branch == (u->branch[0] != '\0'));
	if (u->has_branch)
	{
		size_t		bl = strlen(u->branch);

		REQUIRE(u->branch[0] != '/' && u->branch[bl - 1] != '/' && strstr(u->branch, "//") == NULL);
	}
	switch (u->tag_kind)
	{
		case DES_URI_REALTIME:
			REQUIRE(u->tag[0] == '\0');
			break;
		case DES_URI_LATEST:
			REQUIRE(strcmp(u->tag, "latest") == 0);
			break;
		case DES_URI_DATE:
			REQUIRE(u->year >= 1 && u->year <= 9999 && u->month >= 1 && u->month <= 12 &&
					u->day >= 1 && u->day <= 31);
			snprintf(want, sizeof(want), "%04d-%02d-%02d", u->year, u->month, u->day);
			REQUIRE(strcmp(u->tag, want) == 0);
			break;
		case DES_URI_POSITION:
			snprintf(want, sizeof(want), "%" PRId64, u->position);
			REQUIRE(strcmp(u->tag, want) == 0);
			break;
		case DES_URI_NAME_OR_ID:
			REQUIRE(strlen(u->tag) >= DES_URI_ID_MIN_PREFIX && strlen(u->tag) <= DES_URI_ID_MAX &&
					strspn(u->tag, "0123456789abcdef") == strlen(u->tag) &&
					strspn(u->tag, "0123456789") < strlen(u->tag));
			break;
		case DES_URI_NAME:
			REQUIRE(u->tag[0] != '\0' && strcmp(u->tag, "latest") != 0);
			break;
		default:
			REQUIRE(!"unknown tag kind");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *s = malloc(size ? size : 1);
	des_uri		u;
	des_error	err;

	memcpy(s, data, size);
	if (des_uri_parse(s, size, &u, &err))
	{
		check_value(&u);
		round_trip(&u);
		/* the scheme is case-insensitive: the same URI with it upper-cased */
		{
			des_uri		up;

			memcpy(s, "GROS", 4);
			REQUIRE(des_uri_parse(s, size, &up, &err) && des_uri_equal(&u, &up));
		}
	}
	else
	{
		char		at[40];
		size_t		ml = strlen(err.message),
					al;

		REQUIRE(err.code == DES_E_INVALID_ARGUMENT || err.code == DES_E_INVALID_NAME);
		REQUIRE(u.error_pos <= size);
		al = (size_t) snprintf(at, sizeof(at), " at byte %zu", u.error_pos);
		REQUIRE(ml > al && strcmp(err.message + ml - al, at) == 0);
		REQUIRE(u.repo[0] == '\0' && !u.has_branch && u.tag_kind == DES_URI_REALTIME && u.tag[0] == '\0');
	}
	free(s);

	/* the formatter on values not made by the parser: branch and tag from the bytes */
	if (size >= 1)
	{
		size_t		half = (size - 1) / 2,
					bl = half < DES_URI_MAX_NAME ? half : DES_URI_MAX_NAME,
					tl = size - 1 - half < DES_URI_MAX_NAME ? size - 1 - half : DES_URI_MAX_NAME;
		size_t		len;
		char	   *t;

		memset(&u, 0, sizeof(u));
		strcpy(u.repo, "r");
		memcpy(u.branch, data + 1, bl);
		memcpy(u.tag, data + 1 + half, tl);
		u.has_branch = data[0] & 1;
		u.tag_kind = (des_uri_tag_kind) ((data[0] >> 1) % 6);
		if (u.tag_kind == DES_URI_POSITION)
			u.position = strtoll(u.tag, NULL, 10);
		else if (u.tag_kind == DES_URI_DATE && strlen(u.tag) >= 10)
		{
			u.year = atoi(u.tag);
			u.month = atoi(u.tag + 5);
			u.day = atoi(u.tag + 8);
		}
		if ((t = format_or_null(&u, &len)) != NULL)
		{
			check_canonical(t, len);
			check_value(&u);
			round_trip(&u);
			free(t);
		}
	}
	return 0;
}
