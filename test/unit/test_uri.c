/*
 * test_uri.c - the gros:// URI grammar (include/des/uri/des_uri.h): every tag
 * kind, percent-encoding, UTF-8 names, every error with its byte offset, the
 * reserved names, leap days against an independent calendar, integer bounds,
 * and round trips through the canonical text.
 *
 * Inputs are copied to an exact-size buffer so that ASan catches any read
 * past the end (the parser takes a length, not a NUL terminator).
 */
#include "unit.h"
#include "des/uri/des_uri.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

int			unit_passed,
			unit_failed;

static bool
parse_exact(const char *in, size_t len, des_uri *u, des_error *err)
{
	char	   *copy = malloc(len ? len : 1);
	bool		ok;

	memcpy(copy, in, len);
	ok = des_uri_parse(copy, len, u, err);
	free(copy);
	return ok;
}

/* Format u; returns a malloc'd NUL-terminated text or NULL. */
static char *
format(const des_uri *u, des_error *err)
{
	des_buf		b = {0};

	if (!des_uri_format(u, &b, err))
	{
		des_buf_free(&b);
		return NULL;
	}
	return (char *) b.data;
}

/*
 * in parses to repo/branch/kind/tag and formats to canon (NULL: in itself);
 * the canonical text parses to the same value and formats to itself.
 */
static void
good(const char *in, const char *repo, const char *branch, des_uri_tag_kind kind, const char *tag,
	 const char *canon, des_uri *out)
{
	des_uri		u,
				again;
	des_error	err = {0};
	char	   *text,
			   *text2;

	if (!parse_exact(in, strlen(in), &u, &err))
	{
		CHECK(false, "\"%s\": refused: %s", in, err.message);
		return;
	}
	CHECK(strcmp(u.repo, repo) == 0, "\"%s\": repo \"%s\", want \"%s\"", in, u.repo, repo);
	CHECK(branch == NULL ? !u.has_branch && u.branch[0] == '\0' : u.has_branch && strcmp(u.branch, branch) == 0,
		  "\"%s\": branch \"%s\" (%d), want \"%s\"", in, u.branch, u.has_branch, branch ? branch : "(absent)");
	CHECK(u.tag_kind == kind, "\"%s\": kind %s, want %s", in, des_uri_tag_kind_name(u.tag_kind),
		  des_uri_tag_kind_name(kind));
	CHECK(strcmp(u.tag, tag) == 0, "\"%s\": tag \"%s\", want \"%s\"", in, u.tag, tag);
	text = format(&u, &err);
	CHECK(text != NULL && strcmp(text, canon ? canon : in) == 0, "\"%s\": formats to \"%s\", want \"%s\" (%s)",
		  in, text ? text : "(refused)", canon ? canon : in, text ? "" : err.message);
	if (text != NULL)
	{
		CHECK(parse_exact(text, strlen(text), &again, &err) && des_uri_equal(&u, &again),
			  "\"%s\": canonical \"%s\" parses to another value", in, text);
		text2 = format(&again, &err);
		CHECK(text2 != NULL && strcmp(text, text2) == 0, "\"%s\": formatting not idempotent", in);
		free(text2);
	}
	free(text);
	if (out != NULL)
		*out = u;
}

static void
bad_len(const char *in, size_t len, size_t want_pos, des_error_code want_code, const char *want_msg)
{
	des_uri		u;
	des_error	err = {0};
	char		want_at[64];
	bool		ok = parse_exact(in, len, &u, &err);

	CHECK(!ok, "\"%.*s\": accepted", (int) len, in);
	if (ok)
		return;
	snprintf(want_at, sizeof(want_at), " at byte %zu", want_pos);
	CHECK(u.error_pos == want_pos, "\"%.*s\": error at %zu, want %zu (%s)", (int) len, in, u.error_pos,
		  want_pos, err.message);
	CHECK(err.code == want_code, "\"%.*s\": code %s, want %s", (int) len, in, des_error_code_name(err.code),
		  des_error_code_name(want_code));
	CHECK(strstr(err.message, want_msg) != NULL, "\"%.*s\": message \"%s\", want \"%s\"", (int) len, in,
		  err.message, want_msg);
	/* the message ends with the position, which the backend can also read from error_pos */
	CHECK(strlen(err.message) >= strlen(want_at) &&
		  strcmp(err.message + strlen(err.message) - strlen(want_at), want_at) == 0,
		  "\"%.*s\": message \"%s\" does not end with \"%s\"", (int) len, in, err.message, want_at);
	CHECK(u.repo[0] == '\0' && !u.has_branch && u.tag_kind == DES_URI_REALTIME && u.tag[0] == '\0',
		  "\"%.*s\": result not cleared on failure", (int) len, in);
}

static void
bad(const char *in, size_t want_pos, des_error_code want_code, const char *want_msg)
{
	bad_len(in, strlen(in), want_pos, want_code, want_msg);
}

#define ARG DES_E_INVALID_ARGUMENT
#define NAME DES_E_INVALID_NAME

static void
test_forms(void)
{
	des_uri		u;

	good("gros://r", "r", NULL, DES_URI_REALTIME, "", NULL, NULL);
	good("gros://r:", "r", NULL, DES_URI_REALTIME, "", "gros://r", NULL);
	good("GROS://r", "r", NULL, DES_URI_REALTIME, "", "gros://r", NULL);
	good("GrOs://Repo.1_x-y", "Repo.1_x-y", NULL, DES_URI_REALTIME, "", "gros://Repo.1_x-y", NULL);
	good("gros://.r", ".r", NULL, DES_URI_REALTIME, "", NULL, NULL);
	good("gros://r/main", "r", "main", DES_URI_REALTIME, "", NULL, NULL);
	good("gros://r/main:", "r", "main", DES_URI_REALTIME, "", "gros://r/main", NULL);
	good("gros://r:latest", "r", NULL, DES_URI_LATEST, "latest", NULL, NULL);
	good("gros://r/main:latest", "r", "main", DES_URI_LATEST, "latest", NULL, NULL);
	/* repo names are at most 100 bytes */
	good("gros://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		 NULL, DES_URI_REALTIME, "", NULL, NULL);
	/* a literal '/' after the first belongs to the branch */
	good("gros://r/feature/x:latest", "r", "feature/x", DES_URI_LATEST, "latest", NULL, NULL);
	good("gros://r/a/b/c", "r", "a/b/c", DES_URI_REALTIME, "", NULL, NULL);
	/* RFC 3986 equivalences: %2F is '/', any byte may be escaped, hex in either case */
	good("gros://r/feature%2Fx:latest", "r", "feature/x", DES_URI_LATEST, "latest", "gros://r/feature/x:latest", NULL);
	good("gros://r/feature%2fx", "r", "feature/x", DES_URI_REALTIME, "", "gros://r/feature/x", NULL);
	good("gros://%72%65po/m%61in:%6Catest", "repo", "main", DES_URI_LATEST, "latest", "gros://repo/main:latest", NULL);
	/* ':' and '%' in names are escaped, in the branch and in the tag */
	good("gros://r/a%3Ab:x%3Ay", "r", "a:b", DES_URI_NAME, "x:y", NULL, NULL);
	good("gros://r/a%3ab", "r", "a:b", DES_URI_REALTIME, "", "gros://r/a%3Ab", NULL);
	good("gros://r/100%25:50%25", "r", "100%", DES_URI_NAME, "50%", NULL, NULL);
	good("gros://r/a%20b%3Fc%23d", "r", "a b?c#d", DES_URI_REALTIME, "", NULL, NULL);
	/* sub-delims, '@' and '~' stay as they are */
	good("gros://r/a!$&'()*+,;=@~b:v1.0+build", "r", "a!$&'()*+,;=@~b", DES_URI_NAME, "v1.0+build", NULL, NULL);
	/* UTF-8 names: escaped, or written as they are (IRI-style) and escaped by format */
	good("gros://r/caf%C3%A9", "r", "caf\xc3\xa9", DES_URI_REALTIME, "", NULL, NULL);
	good("gros://r/caf\xc3\xa9/\xe6\x96\x87:\xf0\x9f\x8f\xb7", "r", "caf\xc3\xa9/\xe6\x96\x87", DES_URI_NAME,
		 "\xf0\x9f\x8f\xb7", "gros://r/caf%C3%A9/%E6%96%87:%F0%9F%8F%B7", NULL);
	good("gros://r/%e6%96%87", "r", "\xe6\x96\x87", DES_URI_REALTIME, "", "gros://r/%E6%96%87", NULL);
	/* a ':' inside the tag goes escaped; '/' may stay */
	good("gros://r:release/2024", "r", NULL, DES_URI_NAME, "release/2024", NULL, NULL);
	good("gros://r/main:release%2F2024", "r", "main", DES_URI_NAME, "release/2024", "gros://r/main:release/2024", NULL);
	/* dots inside segments are fine */
	good("gros://r/.hidden/a..b:...x", "r", ".hidden/a..b", DES_URI_NAME, "...x", NULL, NULL);

	/* the decoded parts are plain C strings */
	good("gros://r/x", "r", "x", DES_URI_REALTIME, "", NULL, &u);
	CHECK(u.error_pos == 0, "error_pos 0 on success");
}

static void
test_tags(void)
{
	des_uri		u;

	/* dates */
	good("gros://r:2024-02-29", "r", NULL, DES_URI_DATE, "2024-02-29", NULL, &u);
	CHECK(u.year == 2024 && u.month == 2 && u.day == 29, "date fields %d-%d-%d", u.year, u.month, u.day);
	good("gros://r/b:2000-02-29", "r", "b", DES_URI_DATE, "2000-02-29", NULL, NULL);
	good("gros://r:0001-01-01", "r", NULL, DES_URI_DATE, "0001-01-01", NULL, &u);
	CHECK(u.year == 1 && u.month == 1 && u.day == 1, "0001-01-01 fields");
	good("gros://r:9999-12-31", "r", NULL, DES_URI_DATE, "9999-12-31", NULL, NULL);
	good("gros://r:2024%2D06-30", "r", NULL, DES_URI_DATE, "2024-06-30", "gros://r:2024-06-30", NULL);

	/* positions */
	good("gros://r:0", "r", NULL, DES_URI_POSITION, "0", NULL, &u);
	CHECK(u.position == 0, "position 0");
	good("gros://r:1", "r", NULL, DES_URI_POSITION, "1", NULL, &u);
	CHECK(u.position == 1, "position 1");
	good("gros://r/b:-1", "r", "b", DES_URI_POSITION, "-1", NULL, &u);
	CHECK(u.position == -1, "position -1");
	good("gros://r:-2", "r", NULL, DES_URI_POSITION, "-2", NULL, &u);
	CHECK(u.position == -2, "position -2");
	good("gros://r:9223372036854775807", "r", NULL, DES_URI_POSITION, "9223372036854775807", NULL, &u);
	CHECK(u.position == INT64_MAX, "position INT64_MAX");
	good("gros://r:-9223372036854775808", "r", NULL, DES_URI_POSITION, "-9223372036854775808", NULL, &u);
	CHECK(u.position == INT64_MIN, "position INT64_MIN");
	/* an all-digit string of 8 or more is a position, never an id prefix */
	good("gros://r:12345678", "r", NULL, DES_URI_POSITION, "12345678", NULL, &u);
	CHECK(u.position == 12345678, "12345678 is a position");

	/* labels, and hex that could be a label or a bundle id prefix */
	good("gros://r:v1.0", "r", NULL, DES_URI_NAME, "v1.0", NULL, NULL);
	good("gros://r:deadbee", "r", NULL, DES_URI_NAME, "deadbee", NULL, NULL);	/* 7 digits: too short */
	good("gros://r:deadbeef", "r", NULL, DES_URI_NAME_OR_ID, "deadbeef", NULL, NULL);
	good("gros://r:0123456a", "r", NULL, DES_URI_NAME_OR_ID, "0123456a", NULL, NULL);
	good("gros://r:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "r", NULL,
		 DES_URI_NAME_OR_ID, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", NULL, NULL);
	good("gros://r:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0", "r", NULL,
		 DES_URI_NAME, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0", NULL, NULL);
	good("gros://r:DEADBEEF", "r", NULL, DES_URI_NAME, "DEADBEEF", NULL, NULL);	/* ids are lower case */
	good("gros://r:deadbeeg", "r", NULL, DES_URI_NAME, "deadbeeg", NULL, NULL);
	good("gros://r:%64eadbeef", "r", NULL, DES_URI_NAME_OR_ID, "deadbeef", "gros://r:deadbeef", NULL);
	/* not reserved: only whole-tag shapes are */
	good("gros://r:latest-1", "r", NULL, DES_URI_NAME, "latest-1", NULL, NULL);
	good("gros://r:2024-01", "r", NULL, DES_URI_NAME, "2024-01", NULL, NULL);
	good("gros://r:2024--01", "r", NULL, DES_URI_NAME, "2024--01", NULL, NULL);
	good("gros://r:1e5", "r", NULL, DES_URI_NAME, "1e5", NULL, NULL);
	good("gros://r:-", "r", NULL, DES_URI_NAME, "-", NULL, NULL);
	good("gros://r:1.5", "r", NULL, DES_URI_NAME, "1.5", NULL, NULL);
	good("gros://r:-1a", "r", NULL, DES_URI_NAME, "-1a", NULL, NULL);
}

static void
test_errors(void)
{
	char		big[DES_URI_MAX_LEN + 2];
	char		longname[600];

	/* whole URI and scheme */
	bad("", 0, ARG, "URI is empty");
	memset(big, 'a', sizeof(big));
	memcpy(big, "gros://r:", 9);
	bad_len(big, DES_URI_MAX_LEN + 1, DES_URI_MAX_LEN, ARG, "URI is longer than 2048 bytes");
	bad("http://r", 0, ARG, "URI does not start with \"gros://\"");
	bad("s3://b/k", 0, ARG, "does not start with");
	bad("gros:/r", 6, ARG, "does not start with");
	bad("gros", 4, ARG, "does not start with");
	bad("gros:", 5, ARG, "does not start with");
	bad(" gros://r", 0, ARG, "does not start with");
	bad("grös://r", 2, ARG, "does not start with");

	/* repo */
	bad("gros://", 7, NAME, "repo name is empty");
	bad("gros://:latest", 7, NAME, "repo name is empty");
	bad("gros:///main", 7, NAME, "repo name is empty");
	bad("gros://.", 7, NAME, "repo name is only dots");
	bad("gros://...:1", 7, NAME, "repo name is only dots");
	bad("gros://r~x", 8, NAME, "repo name has a character other than");
	bad("gros://r%2Fx", 8, NAME, "repo name has a character other than");
	bad("gros://r@x", 8, NAME, "repo name has a character other than");
	bad("gros://r\xc3\xa9", 8, NAME, "repo name has a character other than");
	bad("gros://r%3Ax", 8, NAME, "repo name has a character other than");
	memset(longname, 'a', sizeof(longname));
	memcpy(longname, "gros://", 7);
	bad_len(longname, 7 + 101, 107, NAME, "repo name is longer than 100 bytes");

	/* characters and percent-encoding, wherever they are */
	bad("gros://r/a b", 10, ARG, "unexpected character ' ' (percent-encode it as %20)");
	bad("gros://r b", 8, ARG, "unexpected character ' '");
	bad("gros://r:a b", 10, ARG, "unexpected character ' '");
	bad("gros://r/a\"b", 10, ARG, "unexpected character '\"'");
	bad("gros://r/a<b", 10, ARG, "unexpected character '<'");
	bad("gros://r/a\\b", 10, ARG, "unexpected character '\\'");
	bad("gros://r/a[0]", 10, ARG, "unexpected character '['");
	bad("gros://r/a{b}", 10, ARG, "unexpected character '{'");
	bad("gros://r/a|b", 10, ARG, "unexpected character '|'");
	bad("gros://r/a^b", 10, ARG, "unexpected character '^'");
	bad("gros://r/a`b", 10, ARG, "unexpected character '`'");
	bad("gros://r/a\nb", 10, ARG, "unexpected control character 0x0A");
	bad("gros://r/a\x7f", 10, ARG, "unexpected control character 0x7F");
	bad_len("gros://r\0", 9, 8, ARG, "unexpected control character 0x00");
	bad_len("gros://r/main\0:latest", 21, 13, ARG, "unexpected control character 0x00");
	bad("gros://r?x=1", 8, ARG, "unexpected '?': gros:// URIs have no query");
	bad("gros://r/main?x", 13, ARG, "no query");
	bad("gros://r:latest?", 15, ARG, "no query");
	bad("gros://r/main#frag", 13, ARG, "unexpected '#': gros:// URIs have no fragment");
	bad("gros://r#", 8, ARG, "no fragment");
	bad("gros://r:a:b", 10, ARG, "unexpected second ':' (percent-encode a ':' in a tag as %3A)");
	bad("gros://r/b:latest:", 17, ARG, "unexpected second ':'");
	bad("gros://r/a%G0", 10, ARG, "invalid percent-encoding");
	bad("gros://r/a%0G", 10, ARG, "invalid percent-encoding");
	bad("gros://r/a%4", 10, ARG, "invalid percent-encoding");
	bad("gros://r/a%", 10, ARG, "invalid percent-encoding");
	bad("gros://r%", 8, ARG, "invalid percent-encoding");
	bad("gros://r:%%41", 9, ARG, "invalid percent-encoding");
	/* characters are checked before the decoded name: the ' ' before the "//" */
	bad("gros://r/a b//c", 10, ARG, "unexpected character ' '");

	/* branch names */
	bad("gros://r/", 9, NAME, "branch name is empty");
	bad("gros://r/:latest", 9, NAME, "branch name is empty");
	bad("gros://r//x", 9, NAME, "branch name starts with '/'");
	bad("gros://r/%2Fx", 9, NAME, "branch name starts with '/'");
	bad("gros://r/a//b", 11, NAME, "branch name has an empty segment (\"//\")");
	bad("gros://r/a%2F%2Fb", 13, NAME, "branch name has an empty segment");
	bad("gros://r/a/", 10, NAME, "branch name ends with '/'");
	bad("gros://r/a/:1", 10, NAME, "branch name ends with '/'");
	bad("gros://r/a%2F", 10, NAME, "branch name ends with '/'");
	bad("gros://r/a/./b", 11, NAME, "branch name has a \".\" segment");
	bad("gros://r/../b", 9, NAME, "branch name has a \"..\" segment");
	bad("gros://r/a/%2E%2E", 11, NAME, "branch name has a \"..\" segment");
	bad("gros://r/.", 9, NAME, "\".\" segment");
	bad("gros://r/a%00b", 10, NAME, "branch name contains a control character (0x00)");
	bad("gros://r/a%0Ab", 10, NAME, "branch name contains a control character (0x0A)");
	bad("gros://r/a%7F", 10, NAME, "control character (0x7F)");
	bad("gros://r/a%C3", 10, NAME, "branch name is not valid UTF-8");
	bad("gros://r/a%C3(", 10, NAME, "branch name is not valid UTF-8");
	bad("gros://r/\xc3(", 9, NAME, "branch name is not valid UTF-8");
	bad("gros://r/x\xff", 10, NAME, "branch name is not valid UTF-8");
	bad("gros://r/%C0%AF", 9, NAME, "not valid UTF-8");	/* overlong '/' */
	bad("gros://r/%ED%A0%80", 9, NAME, "not valid UTF-8");	/* a surrogate */
	bad("gros://r/%F4%90%80%80", 9, NAME, "not valid UTF-8");	/* above U+10FFFF */
	memset(longname, 'b', sizeof(longname));
	memcpy(longname, "gros://r/", 9);
	bad_len(longname, 9 + 256, 9 + 255, NAME, "branch name is longer than 255 bytes");
	{
		/* 255 decoded bytes is the limit; escapes count once */
		des_uri		u;
		des_error	err;
		char		esc[9 + 3 * 255];

		memcpy(esc, "gros://r/", 9);
		for (int i = 0; i < 255; i++)
			memcpy(esc + 9 + 3 * i, "%41", 3);
		CHECK(parse_exact(longname, 9 + 255, &u, &err) && strlen(u.branch) == 255, "255-byte branch");
		CHECK(parse_exact(esc, sizeof(esc), &u, &err) && strlen(u.branch) == 255 && u.branch[0] == 'A',
			  "255 escaped bytes");
	}

	/* dates: a tag DIGITS-DIGITS-DIGITS is a date and must be a real one */
	bad("gros://r:2023-02-29", 17, ARG, "day 29 out of range for 2023-02");
	bad("gros://r:1900-02-29", 17, ARG, "day 29 out of range for 1900-02");
	bad("gros://r:2100-02-29", 17, ARG, "day 29 out of range");
	bad("gros://r:2024-02-30", 17, ARG, "day 30 out of range for 2024-02");
	bad("gros://r:2024-13-01", 14, ARG, "month 13 out of range");
	bad("gros://r/main:2024-00-10", 19, ARG, "month 00 out of range");
	bad("gros://r:2024-01-32", 17, ARG, "day 32 out of range");
	bad("gros://r:2024-04-31", 17, ARG, "day 31 out of range for 2024-04");
	bad("gros://r:2024-01-00", 17, ARG, "day 00 out of range");
	bad("gros://r:0000-01-01", 9, ARG, "year 0000 out of range");
	bad("gros://r:2024-1-5", 9, ARG, "a date tag is written YYYY-MM-DD");
	bad("gros://r:12024-01-01", 9, ARG, "YYYY-MM-DD");
	bad("gros://r:24-01-01", 9, ARG, "YYYY-MM-DD");
	bad("gros://r:2024%2D13-01", 16, ARG, "month 13 out of range");	/* points at the escape's byte */

	/* positions: one spelling per value, within a 64-bit integer */
	bad("gros://r:+1", 9, ARG, "a position has no '+' sign");
	bad("gros://r:%2B1", 9, ARG, "no '+' sign");
	bad("gros://r:+0", 9, ARG, "no '+' sign");
	bad("gros://r:01", 9, ARG, "a position has no leading zero");
	bad("gros://r:00", 9, ARG, "no leading zero");
	bad("gros://r:-01", 10, ARG, "no leading zero");
	bad("gros://r:-0", 9, ARG, "-0 is not a position");
	bad("gros://r:9223372036854775808", 27, ARG, "position out of range");
	bad("gros://r:-9223372036854775809", 28, ARG, "position out of range");
	bad("gros://r:99999999999999999999", 27, ARG, "position out of range");
	bad("gros://r:123456789012345678901234567890", 28, ARG, "position out of range");

	/* reserved: case variants of latest */
	bad("gros://r:Latest", 9, ARG, "tag \"Latest\" is reserved (write latest in lower case)");
	bad("gros://r/b:LATEST", 11, ARG, "is reserved");

	/* label names: the branch rules */
	bad("gros://r:/x", 9, NAME, "label name starts with '/'");
	bad("gros://r:a//b", 11, NAME, "label name has an empty segment");
	bad("gros://r:a/", 10, NAME, "label name ends with '/'");
	bad("gros://r:..", 9, NAME, "label name has a \"..\" segment");
	bad("gros://r:.", 9, NAME, "label name has a \".\" segment");
	bad("gros://r:a%09", 10, NAME, "label name contains a control character (0x09)");
	bad("gros://r:%FF", 9, NAME, "label name is not valid UTF-8");
	memset(longname, 'c', sizeof(longname));
	memcpy(longname, "gros://r:", 9);
	bad_len(longname, 9 + 256, 9 + 255, ARG, "tag is longer than 255 bytes");
}

static void
test_format(void)
{
	des_uri		u;
	des_error	err;
	des_buf		b = {0};
	char	   *t;

	memset(&u, 0, sizeof(u));
	strcpy(u.repo, "r");
	u.has_branch = true;
	strcpy(u.branch, "a:b/c d%");
	u.tag_kind = DES_URI_NAME;
	strcpy(u.tag, "x?y#z");
	t = format(&u, &err);
	CHECK(t && strcmp(t, "gros://r/a%3Ab/c%20d%25:x%3Fy%23z") == 0, "hand-built value: %s", t ? t : err.message);
	free(t);

	/* format appends, keeps what is there, NUL-terminates */
	des_buf_append(&b, "uri=", 4);
	CHECK(des_uri_format(&u, &b, &err) && b.len == 4 + strlen("gros://r/a%3Ab/c%20d%25:x%3Fy%23z") &&
		  memcmp(b.data, "uri=gros://", 11) == 0 && b.data[b.len] == '\0', "append");
	/* a refused value leaves the buffer as it was */
	strcpy(u.tag, "latest");
	CHECK(!des_uri_format(&u, &b, &err) && b.len == 4 + strlen("gros://r/a%3Ab/c%20d%25:x%3Fy%23z") && err.code == DES_E_INVALID_ARGUMENT,
		  "NAME \"latest\" refused: %s (len %zu)", err.message, b.len);
	des_buf_free(&b);

	/* refusals: fields that disagree, bad names, reserved tags */
	memset(&u, 0, sizeof(u));
	CHECK(!format(&u, &err) && strstr(err.message, "repo name is empty"), "empty repo: %s", err.message);
	strcpy(u.repo, "r");
	u.has_branch = true;
	CHECK(!format(&u, &err) && strstr(err.message, "branch name is empty"), "empty branch: %s", err.message);
	strcpy(u.branch, "a//b");
	CHECK(!format(&u, &err), "bad branch");
	u.has_branch = false;
	CHECK(!format(&u, &err) && strstr(err.message, "disagree"), "branch text without has_branch: %s", err.message);
	u.branch[0] = '\0';
	u.tag_kind = DES_URI_DATE;
	strcpy(u.tag, "2024-02-29");
	CHECK(!format(&u, &err), "DATE without its fields");
	u.year = 2024;
	u.month = 2;
	u.day = 29;
	t = format(&u, &err);
	CHECK(t && strcmp(t, "gros://r:2024-02-29") == 0, "DATE: %s", t ? t : err.message);
	free(t);
	strcpy(u.tag, "2024-02-30");
	u.day = 30;
	CHECK(!format(&u, &err) && strstr(err.message, "day 30 out of range"), "invalid DATE: %s", err.message);
	memset(&u, 0, sizeof(u));
	strcpy(u.repo, "r");
	u.tag_kind = DES_URI_POSITION;
	strcpy(u.tag, "-1");
	u.position = -2;
	CHECK(!format(&u, &err), "POSITION text and value disagree");
	u.position = -1;
	t = format(&u, &err);
	CHECK(t && strcmp(t, "gros://r:-1") == 0, "POSITION -1");
	free(t);
	u.tag_kind = DES_URI_NAME;
	CHECK(!format(&u, &err), "NAME \"-1\" (a position) refused");
	u.tag_kind = DES_URI_NAME;
	strcpy(u.tag, "deadbeef");
	CHECK(!format(&u, &err), "NAME \"deadbeef\" refused: it reads as name_or_id");
	u.tag_kind = DES_URI_NAME_OR_ID;
	t = format(&u, &err);
	CHECK(t && strcmp(t, "gros://r:deadbeef") == 0, "NAME_OR_ID");
	free(t);
	u.tag_kind = DES_URI_REALTIME;
	CHECK(!format(&u, &err), "REALTIME with tag text refused");
	u.tag[0] = '\0';
	u.tag_kind = (des_uri_tag_kind) 42;
	CHECK(!format(&u, &err), "unknown kind refused");
	memset(u.repo, 'x', sizeof(u.repo));
	u.tag_kind = DES_URI_REALTIME;
	CHECK(!format(&u, &err) && strstr(err.message, "NUL"), "unterminated repo refused");
	CHECK(strcmp(des_uri_tag_kind_name(DES_URI_NAME_OR_ID), "name_or_id") == 0 &&
		  strcmp(des_uri_tag_kind_name(DES_URI_REALTIME), "realtime") == 0, "kind names");
}

/* Days from 1970-01-01 of y-m-d (Hinnant's days_from_civil): an independent calendar. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t		era,
				yoe,
				doy,
				doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
test_calendar(void)
{
	int			mismatches = 0,
				accepted = 0;
	static const int years[][2] = {{1, 30}, {1595, 2405}, {9970, 9999}};

	for (size_t r = 0; r < sizeof(years) / sizeof(years[0]); r++)
		for (int y = years[r][0]; y <= years[r][1]; y++)
			for (int m = 1; m <= 12; m++)
			{
				int64_t		len = m == 12 ? days_from_civil(y + 1, 1, 1) - days_from_civil(y, 12, 1) :
					days_from_civil(y, m + 1, 1) - days_from_civil(y, m, 1);

				for (int d = 0; d <= 32; d++)
				{
					char		s[64];
					des_uri		u;
					des_error	err;
					bool		ok;

					snprintf(s, sizeof(s), "gros://r:%04d-%02d-%02d", y, m, d);
					ok = des_uri_parse(s, strlen(s), &u, &err);
					if (ok != (d >= 1 && d <= len) ||
						(ok && (u.tag_kind != DES_URI_DATE || u.year != y || u.month != m || u.day != d)))
					{
						if (mismatches++ < 5)
							printf("calendar: %s %s\n", s, ok ? "accepted" : err.message);
					}
					accepted += ok;
				}
			}
	CHECK(mismatches == 0, "%d dates disagree with the independent calendar", mismatches);
	/* 871 years; 1600, 2000 and 2400 are leap, 1700, 1800, 1900, 2100, 2200, 2300 are not */
	CHECK(accepted == 871 * 365 + 7 + 203 - 6 + 7, "%d dates accepted", accepted);
}

static void
test_positions(void)
{
	uint64_t	x = 0x9E3779B97F4A7C15u;
	int			mismatches = 0;

	for (int i = 0; i < 20000; i++)
	{
		int64_t		v;
		char		s[64];
		des_uri		u;
		des_error	err;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* every magnitude, both signs */
		v = (int64_t) ((x >> (x % 64)) >> 1);	/* < 2^63: negating it is defined */
		if (i & 1)
			v = -v;
		snprintf(s, sizeof(s), "gros://r:%" PRId64, v);
		if (!des_uri_parse(s, strlen(s), &u, &err) || u.tag_kind != DES_URI_POSITION || u.position != v ||
			strcmp(u.tag, s + 9) != 0)
			mismatches += (v != 0 || (i & 1) == 0);	/* "-0" is refused on purpose */
	}
	CHECK(mismatches == 0, "%d random positions did not round-trip", mismatches);
}

int
main(void)
{
	test_forms();
	test_tags();
	test_errors();
	test_format();
	test_calendar();
	test_positions();
	printf("uri: %d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}
