/*
 * des_tree.h - canonical encodings and hashes of versioned datasets (see
 * docs/versioning-format.md): path rules, directories (the Merkle tree of a
 * bundle's files), file contents as chunk lists, bundle headers and ids.
 *
 * Every encoding starts with a 4-byte magic naming what it is and a version
 * byte, so the hash of one kind of object can never equal the hash of
 * another's. All integers are little-endian. Hashes are BLAKE2b-256 of the
 * whole encoding. Decoders parse stored data: they validate everything and
 * accept exactly one encoding per value (decode then encode gives the same
 * bytes).
 *
 * Nothing here allocates global state; every call is thread-safe.
 */
#ifndef DES_TREE_H
#define DES_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "des/common/des_error.h"

#define DES_TREE_HASH_BYTES		32
#define DES_TREE_HEX_LEN		64		/* a hash or bundle id in hex, without NUL */

/* path rules */
#define DES_TREE_MAX_SEGMENT	255		/* bytes per name (NAME_MAX of Linux file systems) */
#define DES_TREE_MAX_PATH		4096	/* bytes per path (PATH_MAX) */

/* limits a decoder enforces before it allocates */
#define DES_TREE_MAX_ENTRIES	(1u << 22)	/* entries per directory (4,194,304) */
#define DES_TREE_MAX_SIZE		INT64_MAX	/* sizes fit a PostgreSQL bigint */
#define DES_TREE_MODE_MASK		0777	/* permission bits only: no setuid/setgid/sticky */
#define DES_TREE_DEFAULT_DIR_MODE 0755	/* a directory no input item names */
#define DES_BUNDLE_MAX_PARENTS	64
#define DES_BUNDLE_MAX_AUTHOR	255		/* bytes */
#define DES_BUNDLE_MAX_MESSAGE	(1u << 20)	/* bytes */
#define DES_BUNDLE_ID_MIN_PREFIX 8

/* encoding magics and the version this code writes and reads */
#define DES_TREE_DIR_MAGIC		"DESD"
#define DES_TREE_FILE_MAGIC		"DESF"
#define DES_BUNDLE_MAGIC		"DESB"
#define DES_TREE_VERSION		1

/* ---- paths ---- */

/*
 * Check a path relative to the bundle root: 1..DES_TREE_MAX_PATH bytes of
 * valid UTF-8 with no NUL or control character (U+0000..U+001F, U+007F),
 * '/'-separated segments that are non-empty, not "." or "..", and at most
 * DES_TREE_MAX_SEGMENT bytes; no leading or trailing '/'. Reads exactly len
 * bytes (no NUL terminator needed). On failure sets err (DES_E_INVALID_NAME,
 * a message naming the problem and its byte offset) and *bad_offset (<= len)
 * when bad_offset is not NULL.
 */
extern bool des_tree_path_check(const char *path, size_t len, size_t *bad_offset, des_error *err);

/*
 * Order two paths segment by segment ('/' before any other byte, so that a
 * directory's paths are contiguous and its children come in name order):
 * <0, 0, >0. The order of tree builds and updates.
 */
extern int	des_tree_path_order(const char *a, size_t a_len, const char *b, size_t b_len);

/* Check one segment (a directory entry's name): the path rules plus no '/'. */
extern bool des_tree_name_check(const char *name, size_t len, size_t *bad_offset, des_error *err);

/*
 * Split a valid path into its parent directory path[0 .. *parent_len) (0 for
 * the root) and its name path[*name_start .. len).
 */
extern void des_tree_path_split(const char *path, size_t len, size_t *parent_len, size_t *name_start);

/* ---- directories ---- */

typedef enum des_tree_kind
{
	DES_TREE_FILE = 1,			/* a regular file: hash is its content hash */
	DES_TREE_DIR = 2			/* a directory: hash is its directory hash */
	/* symlinks and special files are not recorded (refused on import) */
} des_tree_kind;

typedef struct des_tree_entry
{
	const char *name;			/* not NUL-terminated; points into the caller's or decoded bytes */
	size_t		name_len;
	uint8_t		kind;			/* des_tree_kind */
	uint32_t	mode;			/* permission bits, <= 0777 */
	uint64_t	size;			/* file: its size; directory: total size of the files below it */
	unsigned char hash[DES_TREE_HASH_BYTES];
} des_tree_entry;

typedef struct des_tree_dir
{
	size_t		count;
	des_tree_entry *entries;	/* malloc'd; names point into the decoded bytes */
} des_tree_dir;

/*
 * Encode entries (sorted by name bytewise, distinct, valid) into out
 * (appended). Refuses unsorted or duplicate names, bad names, kinds, modes
 * and sizes.
 */
extern bool des_tree_dir_encode(const des_tree_entry *entries, size_t count, des_buf *out, des_error *err);

/*
 * Decode and validate a directory encoding. The entries' names point into
 * data, which must outlive dir. Errors: DES_E_BAD_MAGIC, DES_E_UNSUPPORTED
 * (a later version), DES_E_CORRUPT (anything else), DES_E_NOMEM.
 */
extern bool des_tree_dir_decode(const unsigned char *data, size_t len, des_tree_dir *dir, des_error *err);
extern void des_tree_dir_free(des_tree_dir *dir);

/* BLAKE2b-256 of bytes: a directory's hash is this over its encoding, and so on. */
extern void des_tree_hash(const void *data, size_t len, unsigned char out[DES_TREE_HASH_BYTES]);

/* ---- file contents ---- */

typedef struct des_chunk_ref
{
	unsigned char id[DES_TREE_HASH_BYTES];	/* BLAKE2b-256 of the chunk's bytes */
	uint32_t	length;			/* >= 1 */
} des_chunk_ref;

/*
 * Incremental content hash: the number of chunks is part of the encoding and
 * comes first, so it is given up front; final refuses a different count.
 */
typedef struct des_file_hasher
{
	union
	{
		unsigned char bytes[512];
		uint64_t	align;
	}			state;			/* a blake2b_state, opaque so callers need no libb2 header */
	uint64_t	expected;
	uint64_t	seen;
	uint64_t	size;
} des_file_hasher;

extern void des_file_hasher_init(des_file_hasher *h, uint64_t chunk_count);
extern bool des_file_hasher_add(des_file_hasher *h, const unsigned char id[DES_TREE_HASH_BYTES],
								uint32_t length, des_error *err);
extern bool des_file_hasher_final(des_file_hasher *h, unsigned char out[DES_TREE_HASH_BYTES],
								  uint64_t *size, des_error *err);

/* The content hash of a chunk list (count 0: the empty file) and the file's size. */
extern bool des_file_hash(const des_chunk_ref *chunks, size_t count, unsigned char out[DES_TREE_HASH_BYTES],
						  uint64_t *size, des_error *err);
/* The encoding itself, appended to out, for storing the chunk list. */
extern bool des_file_encode(const des_chunk_ref *chunks, size_t count, des_buf *out, uint64_t *size, des_error *err);

/*
 * Validate a stored chunk-list encoding; *count and *size on success. Read
 * chunk i of a validated encoding with des_file_chunk.
 */
extern bool des_file_decode(const unsigned char *data, size_t len, uint64_t *count, uint64_t *size, des_error *err);
extern void des_file_chunk(const unsigned char *data, uint64_t i, des_chunk_ref *chunk);

/* ---- building the tree from a flat list ---- */

typedef struct des_tree_item
{
	const char *path;			/* a valid path (des_tree_path_check); not NUL-terminated */
	size_t		path_len;
	uint8_t		kind;			/* file, or directory to give it a mode or to record it empty */
	uint32_t	mode;			/* <= 0777 */
	uint64_t	size;			/* files; ignored for directories (computed) */
	unsigned char hash[DES_TREE_HASH_BYTES];	/* files: content hash; ignored for directories */
} des_tree_item;

/*
 * Called once per directory, children before parents, the root last (path
 * length 0): its path, encoding, hash and the total size of the files below
 * it. The pointers are valid during the call only. Return false (with err
 * set) to stop the build.
 */
typedef bool (*des_tree_dir_cb) (void *arg, const char *path, size_t path_len,
								 const unsigned char *encoding, size_t encoding_len,
								 const unsigned char hash[DES_TREE_HASH_BYTES], uint64_t total_size,
								 des_error *err);

/*
 * The Merkle build: items in any order (sorted internally, O(n log n) time,
 * memory proportional to n plus the widest directory). Directories are
 * implied by paths (mode 0755) unless an item of kind directory names them.
 * Errors: an invalid path, kind, mode or size (naming the item); a path
 * given twice (DES_E_DUPLICATE_NAME); a path that is a file and also a prefix
 * of another (DES_E_DUPLICATE_NAME); a directory over DES_TREE_MAX_ENTRIES
 * entries or a total size over DES_TREE_MAX_SIZE (DES_E_TOO_LARGE).
 * root_hash is the root directory's hash (the empty list gives the empty
 * directory's).
 */
extern bool des_tree_build(const des_tree_item *items, size_t count, des_tree_dir_cb cb, void *arg,
						   unsigned char root_hash[DES_TREE_HASH_BYTES], des_error *err);

/* ---- updating a stored tree in place (what a commit does) ---- */

typedef enum des_tree_edit_op
{
	DES_TREE_EDIT_PUT_FILE = 1, /* path becomes this file (mode, size, hash); replaces a file there */
	DES_TREE_EDIT_PUT_DIR = 2,	/* path becomes a directory with this mode (created empty if absent;
								 * an existing directory keeps its entries, gets the mode) */
	DES_TREE_EDIT_REMOVE = 3	/* path and, for a directory, everything below it goes away; absent
								 * path: no-op */
} des_tree_edit_op;

typedef struct des_tree_edit
{
	const char *path;			/* a valid path (des_tree_path_check); not NUL-terminated */
	size_t		path_len;
	uint8_t		op;				/* des_tree_edit_op */
	uint32_t	mode;			/* PUT_*: <= 0777; ignored by REMOVE */
	uint64_t	size;			/* PUT_FILE: <= 2^63 - 1; ignored otherwise */
	unsigned char hash[DES_TREE_HASH_BYTES];	/* PUT_FILE: content hash; ignored otherwise */
} des_tree_edit;

/*
 * Give the stored encoding of the directory whose hash is hash. *data must
 * stay valid until des_tree_update returns (entry names point into it).
 * Return false with err set if it is missing or cannot be read. The caller
 * need not verify it: des_tree_update hashes and decodes every directory it
 * loads.
 */
typedef bool (*des_tree_load_cb) (void *arg, const unsigned char hash[DES_TREE_HASH_BYTES],
								  const unsigned char **data, size_t *len, des_error *err);

/*
 * Apply edits to the tree whose root directory hash is root (NULL: start from
 * the empty tree), loading only the directories on the paths to the edits
 * (the root and the ancestors of each edited path; never a directory that is
 * removed, or one that only gets a new mode). Edits come in any order (sorted
 * internally); edits is not modified. Removals are applied before puts, so
 * REMOVE "a" with PUT_FILE "a/b" is one valid update. Missing parents of a
 * put are created with mode DES_TREE_DEFAULT_DIR_MODE.
 *
 * Pruning: a directory other than the root that had entries before the
 * update and has none after it, and that no PUT_DIR edit names, is removed;
 * this runs bottom-up, so a chain emptied by removals goes away whole. (So a
 * PUT_FILE may take the place of a directory the same update empties.) A
 * directory that was empty before and that no edit removes stays.
 *
 * Every new or changed directory is reported to store (may be NULL), children
 * before parents, the root last (always, even unchanged); a directory whose
 * encoding is unchanged is not reported. new_root gets the root's hash and
 * *total_size (if not NULL) the total size of all files.
 *
 * Errors, each naming the path: an invalid path (DES_E_INVALID_NAME), op or
 * mode (DES_E_INVALID_ARGUMENT) or size (DES_E_TOO_LARGE); the same path in
 * two edits (DES_E_DUPLICATE_NAME); PUT_FILE where a directory remains,
 * PUT_DIR where a file remains, or a put below a file (DES_E_DUPLICATE_NAME,
 * as des_tree_build's file-and-directory clash); a directory over
 * DES_TREE_MAX_ENTRIES entries or files totalling over DES_TREE_MAX_SIZE
 * (DES_E_TOO_LARGE); a loaded directory that does not hash to the requested
 * hash or does not decode (DES_E_CORRUPT; DES_E_UNSUPPORTED for a later
 * encoding version); a load or store callback's own error, passed through.
 * On error, directories reported before it may already have been stored
 * (harmless: storage is by hash) and new_root is not set. Memory is malloc'd
 * and freed before return, on every path.
 */
extern bool des_tree_update(const unsigned char *root, const des_tree_edit *edits, size_t count,
							des_tree_load_cb load, des_tree_dir_cb store, void *arg,
							unsigned char new_root[DES_TREE_HASH_BYTES], uint64_t *total_size,
							des_error *err);

/* ---- diff of two directories ---- */

#define DES_TREE_ADDED			0x01	/* only in the new directory */
#define DES_TREE_REMOVED		0x02	/* only in the old directory */
#define DES_TREE_MODIFIED		0x04	/* same name and kind, hash or size differ */
#define DES_TREE_MODE_CHANGED	0x08	/* same name and kind, mode differs */

typedef struct des_tree_change
{
	int			flags;			/* DES_TREE_* above; MODIFIED and MODE_CHANGED may combine */
	const des_tree_entry *old_entry;	/* NULL when ADDED */
	const des_tree_entry *new_entry;	/* NULL when REMOVED */
	bool		descend;		/* both are directories whose hashes differ: compare those next */
} des_tree_change;

typedef bool (*des_tree_change_cb) (void *arg, const des_tree_change *change, des_error *err);

/*
 * Merge-walk two decoded directories (old may be NULL: all added; new may be
 * NULL: all removed) and report each changed entry in name order. A name
 * whose kind changed is reported as REMOVED then ADDED. Unchanged entries are
 * not reported. Stops when cb returns false.
 */
extern bool des_tree_dir_diff(const des_tree_dir *old_dir, const des_tree_dir *new_dir,
							  des_tree_change_cb cb, void *arg, des_error *err);

/* ---- bundle headers ---- */

typedef struct des_chunker_params
{
	uint16_t	algorithm;		/* chunker version, >= 1 */
	uint32_t	min_size;		/* 1 <= min <= avg <= max */
	uint32_t	avg_size;
	uint32_t	max_size;
} des_chunker_params;

typedef struct des_bundle_header
{
	unsigned char root[DES_TREE_HASH_BYTES];	/* the root directory's hash */
	size_t		parent_count;	/* 0..DES_BUNDLE_MAX_PARENTS, distinct */
	const unsigned char *parents;	/* parent_count ids of 32 bytes; first: the branch's previous head */
	const char *author;			/* role name: 1..255 bytes of UTF-8, no control character */
	size_t		author_len;
	int64_t		time_us;		/* microseconds since 1970-01-01 00:00:00 UTC */
	const char *message;		/* 0..1 MiB of UTF-8 without NUL (newlines and tabs allowed) */
	size_t		message_len;
	des_chunker_params chunker;
} des_bundle_header;

extern bool des_bundle_encode(const des_bundle_header *h, des_buf *out, des_error *err);
/* Decode and validate; the pointers in h point into data. */
extern bool des_bundle_decode(const unsigned char *data, size_t len, des_bundle_header *h, des_error *err);
/* id = lower-case hex of BLAKE2b-256 of the encoding, NUL-terminated. */
extern bool des_bundle_id(const des_bundle_header *h, char id[DES_TREE_HEX_LEN + 1], des_error *err);

/* hex helpers: lower case, NUL-terminated */
extern void des_tree_hex(const unsigned char hash[DES_TREE_HASH_BYTES], char out[DES_TREE_HEX_LEN + 1]);
/* Parse exactly 64 lower-case hex digits. */
extern bool des_tree_unhex(const char *s, size_t len, unsigned char hash[DES_TREE_HASH_BYTES], des_error *err);
/* An id or a prefix of one: 8..64 lower-case hex digits (error names the offending offset). */
extern bool des_bundle_id_prefix_check(const char *s, size_t len, size_t *bad_offset, des_error *err);

#endif
