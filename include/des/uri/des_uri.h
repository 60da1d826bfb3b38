/*
 * des_uri.h - the grammar of gros:// URIs (PostgreSQL-free), which name a
 * bundle, or a moving point, of a versioned dataset's branch:
 *
 *     gros://repo[/branch][:tag]
 *
 * See docs/lineage.md for the ABNF, the tag kinds and every error. In short:
 * the scheme is case-insensitive and nothing else is; the repo ends at the
 * first '/' or ':', the branch at the first ':' (so a ':' in a branch or label
 * is written %3A); a '/' in a branch is written as is or as %2F; components
 * are percent-decoded (RFC 3986) before their rules are checked. Resolving a
 * tag into a bundle is not done here.
 *
 * Nothing is allocated: the decoded parts live in fixed arrays of the struct,
 * so every call is thread-safe and there is nothing to free.
 */
#ifndef DES_URI_H
#define DES_URI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "des/common/des_error.h"

#define DES_URI_SCHEME			"gros://"
#define DES_URI_MAX_LEN			2048	/* bytes of URI text */
#define DES_URI_MAX_REPO		100		/* bytes, as des.repo_create enforces */
#define DES_URI_MAX_NAME		255		/* bytes of a decoded branch or label name */
#define DES_URI_ID_MIN_PREFIX	8		/* = DES_BUNDLE_ID_MIN_PREFIX */
#define DES_URI_ID_MAX			64		/* = DES_TREE_HEX_LEN */

typedef enum des_uri_tag_kind
{
	DES_URI_REALTIME = 0,		/* no tag or an empty one: the latest bundle, a real-time dependency */
	DES_URI_LATEST,				/* "latest": the latest bundle, pinned at resolution, no trigger */
	DES_URI_DATE,				/* "YYYY-MM-DD": the last bundle committed on that day */
	DES_URI_POSITION,			/* a signed integer: 0 the first bundle, -1 the latest */
	DES_URI_NAME,				/* a label name */
	DES_URI_NAME_OR_ID			/* 8..64 lower-case hex digits: a label, else a bundle id prefix */
} des_uri_tag_kind;

typedef struct des_uri
{
	char		repo[DES_URI_MAX_REPO + 1];	/* decoded, NUL-terminated */
	bool		has_branch;		/* false: the repo's default branch */
	char		branch[DES_URI_MAX_NAME + 1];	/* decoded; "" when absent */
	des_uri_tag_kind tag_kind;
	char		tag[DES_URI_MAX_NAME + 1];	/* decoded tag text, canonical; "" for REALTIME */
	int			year,			/* DATE */
				month,
				day;
	int64_t		position;		/* POSITION */
	/* on failure */
	size_t		error_pos;		/* byte offset in the input of the problem (<= len) */
} des_uri;

/*
 * Parse len bytes of text (no NUL terminator needed; a NUL byte is an error).
 * On success fills *out and returns true. On failure returns false with *out
 * zeroed but for out->error_pos, and err set: DES_E_INVALID_NAME when a
 * decoded repo, branch or label name breaks its rules, DES_E_INVALID_ARGUMENT
 * for anything else; the message says what is wrong and ends "at byte N",
 * N = out->error_pos.
 */
extern bool des_uri_parse(const char *text, size_t len, des_uri *out, des_error *err);

/*
 * Append the canonical text of uri to out: the scheme in lower case, the tag
 * omitted for REALTIME, and percent-encoded (upper-case hex) only what must
 * be: '%', ':', bytes outside RFC 3986's unreserved, sub-delims, '@' and '/'
 * (so non-ASCII too: the canonical text is ASCII). The tag is written from
 * uri->tag, so the fields must agree as des_uri_parse fills them: a value that
 * would not parse back to itself is refused (DES_E_INVALID_ARGUMENT, out
 * unchanged). NUL-terminates out->data beyond out->len.
 */
extern bool des_uri_format(const des_uri *uri, des_buf *out, des_error *err);

/* Whether two parsed URIs name the same thing (error_pos is ignored). */
extern bool des_uri_equal(const des_uri *a, const des_uri *b);

/* "realtime", "latest", "date", "position", "name", "name_or_id". */
extern const char *des_uri_tag_kind_name(des_uri_tag_kind kind);

#endif
