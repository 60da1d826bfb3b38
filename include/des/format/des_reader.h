/*
 * des_reader.h - DES v1 archive reader.
 *
 * Opens from the footer (three reads: footer, header, index), validates every
 * region, offset and length against the file size, and builds an in-memory
 * hash table for O(1) lookup by name. Payload reads go through a des_source so
 * the same code serves local files, memory buffers (fuzzing) and object storage.
 */
#ifndef DES_READER_H
#define DES_READER_H

#include "des/common/des_error.h"
#include "des/format/des_format.h"

typedef struct des_source
{
	/* Read exactly len bytes at off; false with err set otherwise. */
	bool		(*read_at) (void *ctx, uint64_t off, void *buf, size_t len, des_error *err);
	uint64_t	size;
	void	   *ctx;
} des_source;

/* Opens the payload object of an external entry by its stored key. */
typedef struct des_external_resolver
{
	bool		(*open) (void *ctx, const char *key, des_source *src, des_error *err);
	void		(*close) (void *ctx, des_source *src);
	void	   *ctx;
} des_external_resolver;

typedef struct des_entry
{
	const char *name;			/* points into the reader's index copy; not NUL-terminated */
	uint16_t	name_len;
	uint32_t	flags;
	uint64_t	data_offset;
	uint64_t	data_length;	/* stored length (compressed length for LZ4 entries) */
	uint64_t	meta_offset;
	uint64_t	meta_length;
} des_entry;

typedef struct des_reader des_reader;

typedef struct des_reader_limits
{
	uint64_t	max_index_bytes;	/* refuse larger indexes (0 = no limit) */
	uint64_t	max_payload_bytes;	/* refuse to materialize larger payloads (0 = no limit) */
	/*
	 * Remote sources: do not read the header at open (it would cost a request
	 * of its own); it is checked by verify and by any read that covers it.
	 */
	bool		defer_header_check;
} des_reader_limits;

extern bool des_reader_open(const des_source *src, const des_reader_limits *limits,
							des_reader **out, des_error *err);
extern void des_reader_close(des_reader *r);

extern const des_footer *des_reader_footer(const des_reader *r);
/* The 16 header bytes, or NULL when the check was deferred and has not happened yet. */
extern const unsigned char *des_reader_header(const des_reader *r);
extern uint64_t des_reader_count(const des_reader *r);
extern uint64_t des_reader_size(const des_reader *r);	/* archive bytes */
/* The INDEX region as read (for caches that rebuild readers without I/O). */
extern const unsigned char *des_reader_index_bytes(const des_reader *r, uint64_t *len);
extern const des_entry *des_reader_entry(const des_reader *r, uint64_t i);
extern uint64_t des_reader_duplicate_count(const des_reader *r);

/* Index of the entry with this name (the last one if duplicated), or -1. */
extern int64_t des_reader_find(const des_reader *r, const char *name, size_t len);

/* Meta text of entry i. Loads the META region on first use. */
extern bool des_reader_meta(des_reader *r, uint64_t i, const char **meta, size_t *len,
							des_error *err);

/*
 * The BLAKE2b-256 entry i's meta records under "blake2b", as 64 lowercase hex
 * digits in hex (NUL-terminated); *found is false when there is none. A
 * value that is not a 64-character string is corruption.
 */
extern bool des_reader_stored_blake2b(des_reader *r, uint64_t i, char hex[65], bool *found,
									  des_error *err);

/* Logical payload size: meta "size" for LZ4 entries, data_length otherwise. */
extern bool des_reader_payload_size(des_reader *r, uint64_t i, uint64_t *size, des_error *err);

typedef struct des_read_options
{
	bool		verify_hash;	/* check the stored blake2b, if any */
	const des_external_resolver *external;
	/* polled by long loops (verify); returning true stops them early */
	bool		(*interrupted) (void);
} des_read_options;

/*
 * Turn an entry's stored bytes (already read) into its payload: decompress if
 * flagged, verify the hash if asked. out is reset and filled. stored may be
 * NULL for external or empty entries, which this function fetches itself.
 */
extern bool des_reader_decode(des_reader *r, uint64_t i, const unsigned char *stored,
							  const des_read_options *opt, des_buf *out, des_error *err);

/* Read one entry's payload: the simple path (one read). */
extern bool des_reader_get(des_reader *r, uint64_t i, const des_read_options *opt,
						   des_buf *out, des_error *err);

/*
 * Coalesced batch reads: internal, non-empty entries sorted by offset and
 * merged while the hole between neighbours is at most max_gap bytes and a
 * range stays under max_span bytes.
 */
typedef struct des_read_range
{
	uint64_t	offset;
	uint64_t	length;
	size_t		first;			/* into the sorted entry list */
	size_t		count;
} des_read_range;

typedef struct des_batch_plan
{
	uint64_t   *entries;		/* entry indexes sorted by data_offset */
	size_t		nentries;
	des_read_range *ranges;
	size_t		nranges;
	uint64_t   *direct;			/* external and 0-byte entries: no range read */
	size_t		ndirect;
} des_batch_plan;

extern bool des_reader_plan_batch(const des_reader *r, const uint64_t *idx, size_t n,
								  uint64_t max_gap, uint64_t max_span,
								  des_batch_plan *plan, des_error *err);
extern void des_batch_plan_free(des_batch_plan *plan);

/* Raw read of [off, off+len) from the archive. */
extern bool des_reader_read_at(des_reader *r, uint64_t off, void *buf, size_t len, des_error *err);

/* Verification: one callback per check. */
typedef void (*des_verify_report) (void *ctx, const char *check, bool ok, const char *detail);

extern void des_reader_verify(des_reader *r, const des_read_options *opt,
							  des_verify_report report, void *ctx);

#endif
