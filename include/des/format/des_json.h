/*
 * des_json.h - the small amount of JSON the archive format needs.
 *
 * Entry meta is a JSON object stored as text. The reference writer stores it
 * compact (no spaces) with every non-ASCII character escaped as \uXXXX; to be
 * byte-compatible we re-emit caller text in that form. Readers need a few
 * top-level keys (size, external_key, blake2b, compression) out of stored
 * meta that may be hostile, so parsing is strict, bounded in depth and never
 * allocates except into the caller's buffer.
 */
#ifndef DES_JSON_H
#define DES_JSON_H

#include "des/common/des_error.h"

#define DES_JSON_MAX_DEPTH 256

/* Top-level keys with meaning to pg_des, reported by des_json_compact_object. */
#define DES_JSON_HAS_SIZE			0x01
#define DES_JSON_HAS_IS_EXTERNAL	0x02
#define DES_JSON_HAS_EXTERNAL_KEY	0x04
#define DES_JSON_HAS_BLAKE2B		0x08
#define DES_JSON_HAS_COMPRESSION	0x10

typedef struct des_json_span
{
	const char *ptr;
	size_t		len;
} des_json_span;

/*
 * Validate that in[0..len) is one JSON object and append its compact,
 * ASCII-escaped form to out. *keys_found receives DES_JSON_HAS_* bits for
 * top-level keys present.
 */
extern bool des_json_compact_object(const char *in, size_t len, des_buf *out,
									unsigned *keys_found, des_error *err);

/*
 * Find a top-level key in a JSON object (the last occurrence wins, as in the
 * reference reader). Returns false with err set when the text is not a valid
 * object; *found tells whether the key exists; value is its raw text.
 */
extern bool des_json_find_key(const char *obj, size_t len, const char *key,
							  bool *found, des_json_span *value, des_error *err);

/*
 * Validate that obj[0..len) is one JSON object and call fn for each
 * top-level member, in order, with the raw text of its key (the quoted
 * string) and of its value; fn returning false stops with its error.
 * Errors are DES_E_CORRUPT, "invalid JSON in <what>: ... at byte N".
 */
typedef bool (*des_json_member_fn) (void *ctx, des_json_span key, des_json_span value, des_error *err);
extern bool des_json_object_members(const char *obj, size_t len, const char *what, des_json_member_fn fn,
									void *ctx, des_error *err);

/*
 * True when text is a valid JSON object that PostgreSQL's jsonb also accepts:
 * no \u0000 escape and no unpaired surrogate escape (both valid JSON).
 */
extern bool des_json_jsonb_compatible(const char *obj, size_t len);

/* A non-negative JSON integer (no fraction, no exponent) that fits in uint64. */
extern bool des_json_span_uint64(des_json_span v, uint64_t *out);

/* A JSON string decoded into out as UTF-8 (NUL-terminated). Fails if too long. */
extern bool des_json_span_string(des_json_span v, char *out, size_t cap, size_t *outlen);

/* Literal true. */
extern bool des_json_span_is_true(des_json_span v);

/* Append s as a JSON string literal in the reference's ASCII-escaped form. */
extern bool des_json_append_string(des_buf *out, const char *s, size_t len);

#endif
