/*
 * des_format.h - DES v1 on-disk layout (see docs/format.md).
 *
 *   | HEADER 16 | DATA | META | INDEX | FOOTER 72 |
 *
 * All integers are unsigned little-endian.
 */
#ifndef DES_FORMAT_H
#define DES_FORMAT_H

#include <stdint.h>
#include <string.h>

#define DES_HEADER_MAGIC	"DESHEAD1"
#define DES_FOOTER_MAGIC	"DESFOOT1"
#define DES_VERSION			1
#define DES_HEADER_SIZE		16
#define DES_FOOTER_SIZE		72
#define DES_ENTRY_FIXED_SIZE 38		/* u16 name_len + 4*u64 + u32 flags */
#define DES_MAX_NAME_LEN	65535

#define DES_FLAG_EXTERNAL	0x01
#define DES_FLAG_COMPRESSED 0x02	/* payload is one LZ4 frame (pg_des extension) */
#define DES_FLAG_ENCRYPTED	0x04	/* reserved by the format */
#define DES_FLAG_DELETED	0x08	/* reserved by the format */
#define DES_FLAGS_KNOWN		0x0F

#define DES_EXTERNAL_FOLDER "_bigFiles"
#define DES_DEFAULT_EXTERNAL_THRESHOLD (100ULL * 1024 * 1024)
#define DES_BLAKE2B_BYTES	32

typedef struct des_footer
{
	uint8_t		version;
	uint8_t		reserved[7];
	uint64_t	data_start;
	uint64_t	data_length;
	uint64_t	meta_start;
	uint64_t	meta_length;
	uint64_t	index_start;
	uint64_t	index_length;
	uint64_t	file_count;
} des_footer;

static inline uint16_t
des_get_u16(const unsigned char *p)
{
	return (uint16_t) (p[0] | (p[1] << 8));
}

static inline uint32_t
des_get_u32(const unsigned char *p)
{
	return (uint32_t) p[0] | ((uint32_t) p[1] << 8) | ((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
}

static inline uint64_t
des_get_u64(const unsigned char *p)
{
	uint64_t	v;

	memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static inline void
des_put_u16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char) v;
	p[1] = (unsigned char) (v >> 8);
}

static inline void
des_put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char) v;
	p[1] = (unsigned char) (v >> 8);
	p[2] = (unsigned char) (v >> 16);
	p[3] = (unsigned char) (v >> 24);
}

static inline void
des_put_u64(unsigned char *p, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	memcpy(p, &v, 8);
}

/* Hash of an entry name for the in-memory lookup tables (reader and writer). */
extern uint64_t des_name_hash(const char *name, size_t len);

/*
 * Writer-side name rule: 1..65535 bytes of valid UTF-8, no control characters,
 * no leading '/', no "." or ".." path component (names become keys and paths
 * of external payloads). Returns NULL if valid, else a reason.
 */
extern const char *des_name_problem(const char *name, size_t len);

/* The format's own minimum: 1..65535 bytes of valid UTF-8 without NUL. */
extern const char *des_name_problem_reference(const char *name, size_t len);

/* External keys read from archives must be relative paths with no "."/".." parts. */
extern const char *des_key_problem(const char *key, size_t len);

#endif
