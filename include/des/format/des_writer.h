/*
 * des_writer.h - streaming, append-only DES v1 writer.
 *
 * Payloads go to the sink as they are added; meta and index are buffered and
 * written with the footer by des_writer_finish. The sink writes to a temporary
 * name and renames on commit, so an aborted write leaves nothing that looks
 * like a complete archive.
 */
#ifndef DES_WRITER_H
#define DES_WRITER_H

#include "des/common/des_error.h"
#include "des/format/des_format.h"

typedef struct des_sink
{
	/*
	 * Append bytes. Called once per header, payload, META and INDEX region,
	 * so often with small pieces: a sink buffers for itself (the local sink
	 * hands full buffers to its I/O thread, the S3 sink fills upload parts).
	 */
	bool		(*write) (void *ctx, const void *buf, size_t len, des_error *err);
	/* Make the archive visible under its final name, durably. */
	bool		(*commit) (void *ctx, des_error *err);
	/* Remove everything this sink created; must not fail. */
	void		(*abort) (void *ctx);
	/* Store an external payload under key (relative to the storage root). */
	bool		(*put_external) (void *ctx, const char *key, const void *data, size_t len,
								 des_error *err);
	void	   *ctx;
} des_sink;

typedef enum des_name_policy
{
	DES_NAMES_STRICT = 0,		/* des_name_problem(): no control chars, no ./.. parts, no leading / */
	DES_NAMES_REFERENCE			/* only what the format needs: UTF-8, 1..65535 bytes, no NUL */
} des_name_policy;

typedef struct des_writer_options
{
	des_name_policy names;		/* external entries always need strict names (they become paths) */
	bool		blake2b;		/* store "blake2b" (hex BLAKE2b-256) in each meta */
	bool		lz4;			/* LZ4-compress entries that shrink (flag 0x02) */
	int			lz4_level;		/* 0 = fast default */
	uint64_t	external_threshold; /* payloads >= this go external; 0 = never */
	const char *external_prefix;	/* key prefix for external payloads; NULL/"" = none */
} des_writer_options;

extern void des_writer_options_init(des_writer_options *o);

typedef struct des_writer des_writer;

typedef struct des_writer_summary
{
	uint64_t	entries;
	uint64_t	external_entries;
	uint64_t	compressed_entries;
	uint64_t	payload_bytes;	/* sum of logical payload sizes */
	uint64_t	stored_bytes;	/* bytes in the DATA region */
	uint64_t	alias_entries;	/* entries over the bytes of another (des_writer_add_alias) */
	uint64_t	archive_bytes;	/* total archive size */
} des_writer_summary;

extern bool des_writer_open(const des_sink *sink, const des_writer_options *opt,
							des_writer **out, des_error *err);

/*
 * Add one entry. meta is the caller's JSON object text (NULL or empty = {}).
 * force_external stores the payload externally whatever its size.
 */
extern bool des_writer_add(des_writer *w, const char *name, size_t name_len,
						   const void *data, size_t len,
						   const char *meta, size_t meta_len,
						   bool force_external, des_error *err);

/*
 * As des_writer_add (not forced external), for a payload whose BLAKE2b-256 the
 * caller already knows: it is added only if it has that hash; otherwise
 * DES_E_HASH_MISMATCH and nothing of it is stored (the writer stays usable).
 * The hash is computed once either way.
 */
extern bool des_writer_add_verified(des_writer *w, const char *name, size_t name_len,
									const void *data, size_t len,
									const char *meta, size_t meta_len,
									const unsigned char expected_blake2b[32], des_error *err);

/*
 * As des_writer_add (not forced external), for a payload whose BLAKE2b-256
 * the caller has just computed from these very bytes: it is recorded as it
 * is, not computed again (a caller that hashes to deduplicate before writing
 * hashes each payload once).
 */
extern bool des_writer_add_hashed(des_writer *w, const char *name, size_t name_len,
								  const void *data, size_t len,
								  const char *meta, size_t meta_len,
								  const unsigned char blake2b[32], des_error *err);

/* Write meta, index and footer, then commit the sink. Frees the writer. */
extern bool des_writer_finish(des_writer *w, des_writer_summary *summary, des_error *err);

/* Abandon the archive (sink abort). Frees the writer. Safe on NULL. */
extern void des_writer_abort(des_writer *w);

/* Where an added entry went: the fields of its index entry. */
typedef struct des_writer_entry
{
	uint64_t	data_offset;	/* offset of its bytes in the archive (0 if external) */
	uint64_t	length;			/* bytes stored there (the payload's size if external) */
	uint32_t	flags;			/* DES_FLAG_EXTERNAL, DES_FLAG_COMPRESSED */
} des_writer_entry;

/*
 * Add an entry over the bytes of one added earlier to this archive: its
 * index entry points at the same data range (offset, stored length, flags),
 * and nothing is stored again, so every reader returns the same payload for
 * both names (DES v1 allows overlapping ranges; see docs/format.md).
 * target is what des_writer_last_entry said of that entry (stored inside
 * the archive, not external); payload_len is the payload's size, which
 * becomes "size" in the meta; blake2b its BLAKE2b-256, recorded in the meta
 * as for any entry (required when the writer records hashes; the bytes are
 * not read again). The name rules and the duplicate check are those of
 * des_writer_add.
 */
extern bool des_writer_add_alias(des_writer *w, const char *name, size_t name_len,
								 const des_writer_entry *target, uint64_t payload_len,
								 const unsigned char blake2b[32],
								 const char *meta, size_t meta_len, des_error *err);

/* The last entry added successfully (zeros before the first). */
extern void des_writer_last_entry(const des_writer *w, des_writer_entry *entry);

/* Summary so far. */
extern void des_writer_progress(const des_writer *w, des_writer_summary *summary);

#endif
