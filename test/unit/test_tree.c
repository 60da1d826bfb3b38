/*
 * test_tree.c - the versioning core (include/des/tree/des_tree.h): path
 * rules with their offsets, the directory, chunk-list and bundle-header
 * encodings (round trips, every rejection, pinned hashes so a format change
 * cannot pass unnoticed), the Merkle build and its property, the incremental
 * update (each rule and error, and random updates against the rebuild of a
 * reference list, tree_oracle.h), the diff.
 *
 * With DES_TREE_SEED_DIR set, also writes valid encodings there as fuzzing
 * seeds (test/fuzz/seeds/tree/ holds the committed ones).
 */
#include "unit.h"
#include "des/tree/des_tree.h"
#include "tree_oracle.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int			unit_passed,
			unit_failed;

static void
fill_hash(unsigned char h[DES_TREE_HASH_BYTES], const char *seed)
{
	des_tree_hash(seed, strlen(seed), h);
}

static void
write_seed(const char *name, const void *data, size_t len)
{
	const char *dir = getenv("DES_TREE_SEED_DIR");
	char		path[1024];
	FILE	   *f;

	if (dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) != NULL)
	{
		fwrite(data, 1, len, f);
		fclose(f);
	}
}

/* ---- paths ---- */

static void
path_bad(const char *what, const char *p, size_t len, size_t want_off, const char *want_msg)
{
	des_error	err;
	size_t		off = (size_t) -1;
	char	   *copy = malloc(len ? len : 1);	/* exact size: ASan catches a read past the end */
	bool		ok;

	memcpy(copy, p, len);
	ok = des_tree_path_check(copy, len, &off, &err);
	CHECK(!ok, "%s: accepted", what);
	CHECK(!ok && off == want_off, "%s: offset %zu, want %zu", what, off, want_off);
	CHECK(!ok && err.code == DES_E_INVALID_NAME && strstr(err.message, want_msg) != NULL,
		  "%s: message \"%s\", want \"%s\"", what, err.message, want_msg);
	free(copy);
}

static void
path_good(const char *p, size_t len)
{
	des_error	err;
	char	   *copy = malloc(len);

	memcpy(copy, p, len);
	CHECK(des_tree_path_check(copy, len, NULL, &err), "\"%.40s\" (%zu bytes) refused: %s", p, len, err.message);
	free(copy);
}

static void
test_paths(void)
{
	char		buf[5000];
	des_error	err;
	size_t		off,
				parent,
				name;

	path_bad("empty", "", 0, 0, "is empty at byte 0");
	path_bad("leading /", "/a", 2, 0, "starts with \"/\"");
	path_bad("trailing /", "a/b/", 4, 3, "ends with \"/\" at byte 3");
	path_bad("//", "a//b", 4, 2, "empty segment (\"//\") at byte 2");
	path_bad("only /", "/", 1, 0, "starts with");
	path_bad(". first", "./a", 3, 0, "\".\" segment at byte 0");
	path_bad(". middle", "a/./b", 5, 2, "\".\" segment at byte 2");
	path_bad(".. middle", "a/../b", 6, 2, "\"..\" segment at byte 2");
	path_bad(".. last", "ab/..", 5, 3, "\"..\" segment at byte 3");
	path_bad(".. alone", "..", 2, 0, "\"..\" segment");
	path_bad("NUL", "ab\0c", 4, 2, "NUL byte at byte 2");
	path_bad("control 0x01", "a/\x01", 3, 2, "control character at byte 2");
	path_bad("newline", "a\nb", 3, 1, "control character at byte 1");
	path_bad("DEL", "ab\x7f", 3, 2, "control character at byte 2");
	path_bad("invalid byte", "ab\xff", 3, 2, "not valid UTF-8 at byte 2");
	path_bad("truncated sequence", "a/\xc3", 3, 2, "not valid UTF-8 at byte 2");
	path_bad("overlong /", "a\xc0\xaf", 3, 1, "not valid UTF-8 at byte 1");
	path_bad("surrogate", "\xed\xa0\x80", 3, 0, "not valid UTF-8 at byte 0");
	path_bad("above U+10FFFF", "x\xf4\x90\x80\x80", 5, 1, "not valid UTF-8 at byte 1");
	path_bad("lone continuation", "a\x80", 2, 1, "not valid UTF-8 at byte 1");
	/* a 256-byte segment: the offset is its first byte too many */
	memcpy(buf, "x/", 2);
	memset(buf + 2, 'a', 256);
	path_bad("segment 256", buf, 258, 257, "segment longer than 255 bytes at byte 257");
	memset(buf, 'a', 256);
	memcpy(buf + 256, "/b", 2);
	path_bad("first segment 256", buf, 258, 255, "segment longer than 255 bytes at byte 255");
	/* 4097 bytes of segments of 200 */
	for (int i = 0; i < 4097; i++)
		buf[i] = i % 201 == 200 ? '/' : 'a';
	path_bad("path 4097", buf, 4097, 4096, "longer than 4096 bytes at byte 4096");
	/* the first problem wins: the NUL at 1 before the "//" at 3 */
	path_bad("first problem", "a\0b//", 5, 1, "NUL");

	path_good("a", 1);
	path_good("a/b.c/d", 7);
	path_good(".hidden/..x/.../x..", 19);
	path_good("caf\xc3\xa9/\xe6\x96\x87\xe4\xbb\xb6/\xf0\x9f\x98\x80", 17);
	path_good("back\\slash and space", 20);
	memset(buf, 'a', 255);
	path_good(buf, 255);
	for (int i = 0; i < 4096; i++)
		buf[i] = i % 201 == 200 ? '/' : 'a';
	path_good(buf, 4096);
	/* a 4-byte character straddling the 255-byte segment limit */
	memset(buf, 'a', 253);
	memcpy(buf + 253, "\xf0\x9f\x98\x80", 4);
	path_bad("character past 255", buf, 257, 255, "segment longer than 255 bytes");

	CHECK(!des_tree_name_check("a/b", 3, &off, &err) && off == 1 && strstr(err.message, "contains \"/\" at byte 1"),
		  "name with /: %s", err.message);
	CHECK(!des_tree_name_check("..", 2, &off, &err) && off == 0, "name ..");
	CHECK(des_tree_name_check("a.b", 3, &off, &err), "name a.b");
	memset(buf, 'a', 256);
	CHECK(!des_tree_name_check(buf, 256, &off, &err) && off == 255, "name of 256 bytes: offset %zu", off);

	des_tree_path_split("a/bc/def", 8, &parent, &name);
	CHECK(parent == 4 && name == 5, "split a/bc/def: %zu %zu", parent, name);
	des_tree_path_split("def", 3, &parent, &name);
	CHECK(parent == 0 && name == 0, "split def: %zu %zu", parent, name);
}

/* ---- directories ---- */

static des_tree_entry
entry(const char *name, int kind, uint32_t mode, uint64_t size, const char *hash_seed)
{
	des_tree_entry e;

	memset(&e, 0, sizeof(e));
	e.name = name;
	e.name_len = strlen(name);
	e.kind = (uint8_t) kind;
	e.mode = mode;
	e.size = size;
	fill_hash(e.hash, hash_seed);
	return e;
}

/* Append an entry's bytes as they would be encoded, with no validation. */
static void
raw_entry(des_buf *b, const char *name, size_t name_len, uint8_t kind, uint32_t mode, uint64_t size)
{
	unsigned char h[DES_TREE_HASH_BYTES] = {0};
	unsigned char le[8];

	des_buf_putc(b, (unsigned char) name_len);
	des_buf_append(b, name, name_len);
	des_buf_putc(b, kind);
	for (int i = 0; i < 4; i++)
		le[i] = (unsigned char) (mode >> (8 * i));
	des_buf_append(b, le, 4);
	for (int i = 0; i < 8; i++)
		le[i] = (unsigned char) (size >> (8 * i));
	des_buf_append(b, le, 8);
	des_buf_append(b, h, sizeof(h));
}

static void
raw_dir_header(des_buf *b, uint32_t count)
{
	unsigned char h[9] = {'D', 'E', 'S', 'D', 1};

	for (int i = 0; i < 4; i++)
		h[5 + i] = (unsigned char) (count >> (8 * i));
	b->len = 0;
	des_buf_append(b, h, 9);
}

static void
dir_rejects(const char *what, const des_buf *b, des_error_code code, const char *want_msg)
{
	des_tree_dir d;
	des_error	err;
	unsigned char *copy = malloc(b->len ? b->len : 1);
	bool		ok;

	memcpy(copy, b->data, b->len);
	ok = des_tree_dir_decode(copy, b->len, &d, &err);
	CHECK(!ok && err.code == code && strstr(err.message, want_msg) != NULL,
		  "%s: ok=%d code %s message \"%s\", want \"%s\"", what, ok, des_error_code_name(err.code),
		  ok ? "" : err.message, want_msg);
	CHECK(d.entries == NULL && d.count == 0, "%s: entries left", what);
	free(copy);
}

static void
test_directories(void)
{
	des_tree_entry e[4];
	des_buf		enc = {0},
				again = {0},
				raw = {0};
	des_tree_dir d;
	des_error	err;
	char		hex[65];
	unsigned char h[DES_TREE_HASH_BYTES];

	e[0] = entry("README.md", DES_TREE_FILE, 0644, 5, "readme");
	e[1] = entry("data", DES_TREE_DIR, 0755, 1234, "data");
	e[2] = entry("run.sh", DES_TREE_FILE, 0755, 0, "run");
	/* bytewise: upper case before lower case, "data" before "run.sh" */
	CHECK(des_tree_dir_encode(e, 3, &enc, &err), "encode: %s", err.message);
	CHECK(enc.len == 9 + 3 * 46 + 9 + 4 + 6, "encoding is %zu bytes", enc.len);
	CHECK(memcmp(enc.data, "DESD\001\003\000\000\000\011README.md\001\244\001\000\000\005", 20) == 0,
		  "encoding starts with header and first entry");
	write_seed("dir_three_entries", enc.data, enc.len);
	CHECK(des_tree_dir_decode(enc.data, enc.len, &d, &err), "decode: %s", err.message);
	CHECK(d.count == 3, "decoded %zu entries", d.count);
	for (size_t i = 0; i < d.count && i < 3; i++)
		CHECK(d.entries[i].name_len == e[i].name_len && memcmp(d.entries[i].name, e[i].name, e[i].name_len) == 0 &&
			  d.entries[i].kind == e[i].kind && d.entries[i].mode == e[i].mode && d.entries[i].size == e[i].size &&
			  memcmp(d.entries[i].hash, e[i].hash, 32) == 0, "entry %zu differs after the round trip", i);
	CHECK(des_tree_dir_encode(d.entries, d.count, &again, &err) && again.len == enc.len &&
		  memcmp(again.data, enc.data, enc.len) == 0, "decode then encode gives other bytes");
	des_tree_dir_free(&d);

	/* every truncation is refused */
	for (size_t n = 0; n < enc.len; n++)
	{
		unsigned char *copy = malloc(n ? n : 1);

		memcpy(copy, enc.data, n);
		CHECK(!des_tree_dir_decode(copy, n, &d, &err), "truncation to %zu bytes accepted", n);
		free(copy);
	}

	/* the empty directory */
	again.len = 0;
	CHECK(des_tree_dir_encode(NULL, 0, &again, &err) && again.len == 9 &&
		  memcmp(again.data, "DESD\001\000\000\000\000", 9) == 0, "empty directory encoding");
	write_seed("dir_empty", again.data, again.len);
	des_tree_hash(again.data, again.len, h);
	des_tree_hex(h, hex);
	CHECK(strcmp(hex, "8a6255433dadf9965156baa61f124292e4be8880172d23bee98ef06848e2115d") == 0,
		  "empty directory hash %s", hex);
	CHECK(des_tree_dir_decode(again.data, again.len, &d, &err) && d.count == 0, "empty directory decodes");
	des_tree_dir_free(&d);

	/* encoder refusals */
	{
		des_tree_entry u[2] = {entry("b", 1, 0644, 1, "x"), entry("a", 1, 0644, 1, "y")};

		again.len = 0;
		CHECK(!des_tree_dir_encode(u, 2, &again, &err) && err.code == DES_E_INVALID_ARGUMENT &&
			  strstr(err.message, "not sorted") && again.len == 0, "unsorted: %s", err.message);
		u[1] = entry("b", 1, 0644, 1, "y");
		CHECK(!des_tree_dir_encode(u, 2, &again, &err) && err.code == DES_E_DUPLICATE_NAME, "duplicate: %s",
			  err.message);
		u[1] = entry("c", 3, 0644, 1, "y");
		CHECK(!des_tree_dir_encode(u, 2, &again, &err) && strstr(err.message, "unknown kind 3"), "kind: %s",
			  err.message);
		u[1] = entry("c", 1, 04755, 1, "y");
		CHECK(!des_tree_dir_encode(u, 2, &again, &err) && strstr(err.message, "mode 4755"), "setuid: %s",
			  err.message);
		u[1] = entry("c", 1, 0644, (uint64_t) INT64_MAX + 1, "y");
		CHECK(!des_tree_dir_encode(u, 2, &again, &err) && err.code == DES_E_TOO_LARGE, "size: %s", err.message);
		u[1] = entry("c/d", 1, 0644, 1, "y");
		CHECK(!des_tree_dir_encode(u, 2, &again, &err) && err.code == DES_E_INVALID_NAME &&
			  strstr(err.message, "contains \"/\" at byte 1"), "name with /: %s", err.message);
		u[1] = entry("", 1, 0644, 1, "y");
		CHECK(!des_tree_dir_encode(u, 2, &again, &err) && err.code == DES_E_INVALID_NAME, "empty name: %s",
			  err.message);
	}

	/* decoder refusals, each on otherwise well-formed bytes */
	raw_dir_header(&raw, 2);
	raw_entry(&raw, "a", 1, 1, 0644, 1);
	raw_entry(&raw, "b", 1, 2, 0755, 1);
	CHECK(des_tree_dir_decode(raw.data, raw.len, &d, &err), "raw baseline: %s", err.message);
	des_tree_dir_free(&d);
	des_buf_putc(&raw, 0);
	dir_rejects("trailing byte", &raw, DES_E_CORRUPT, "1 bytes after its 2 entries");
	raw.data[0] = 'X';
	dir_rejects("magic", &raw, DES_E_BAD_MAGIC, "magic");
	raw.data[0] = 'D';
	raw.data[4] = 2;
	dir_rejects("version 2", &raw, DES_E_UNSUPPORTED, "version 2");
	raw_dir_header(&raw, 2);
	raw_entry(&raw, "b", 1, 1, 0644, 1);
	raw_entry(&raw, "a", 1, 1, 0644, 1);
	dir_rejects("unsorted", &raw, DES_E_CORRUPT, "entry 1 (at byte 56) is not sorted");
	raw_dir_header(&raw, 2);
	raw_entry(&raw, "ab", 2, 1, 0644, 1);
	raw_entry(&raw, "a", 1, 1, 0644, 1);
	dir_rejects("prefix after longer name", &raw, DES_E_CORRUPT, "not sorted");
	raw_dir_header(&raw, 2);
	raw_entry(&raw, "a", 1, 1, 0644, 1);
	raw_entry(&raw, "a", 1, 2, 0644, 1);
	dir_rejects("duplicate", &raw, DES_E_CORRUPT, "repeats the previous entry's name");
	raw_dir_header(&raw, 1);
	raw_entry(&raw, "a", 1, 0, 0644, 1);
	dir_rejects("kind 0", &raw, DES_E_CORRUPT, "unknown kind 0");
	raw_dir_header(&raw, 1);
	raw_entry(&raw, "a", 1, 3, 0644, 1);
	dir_rejects("kind 3", &raw, DES_E_CORRUPT, "unknown kind 3");
	raw_dir_header(&raw, 1);
	raw_entry(&raw, "a", 1, 1, 01000, 1);
	dir_rejects("sticky mode", &raw, DES_E_CORRUPT, "mode 1000");
	raw_dir_header(&raw, 1);
	raw_entry(&raw, "a", 1, 1, 0644, UINT64_MAX);
	dir_rejects("size 2^64 - 1", &raw, DES_E_CORRUPT, "size over 2^63 - 1");
	raw_dir_header(&raw, 1);
	raw_entry(&raw, "", 0, 1, 0644, 1);
	dir_rejects("empty name", &raw, DES_E_CORRUPT, "is empty");
	raw_dir_header(&raw, 1);
	raw_entry(&raw, "..", 2, 1, 0644, 1);
	dir_rejects("name ..", &raw, DES_E_CORRUPT, "\"..\" segment");
	raw_dir_header(&raw, 1);
	raw_entry(&raw, "a/b", 3, 1, 0644, 1);
	dir_rejects("name with /", &raw, DES_E_CORRUPT, "contains \"/\"");
	raw_dir_header(&raw, 1);
	raw_entry(&raw, "a\0b", 3, 1, 0644, 1);
	dir_rejects("name with NUL", &raw, DES_E_CORRUPT, "NUL byte at byte 1");
	raw_dir_header(&raw, 1);
	raw_entry(&raw, "\xc3\x28", 2, 1, 0644, 1);
	dir_rejects("name not UTF-8", &raw, DES_E_CORRUPT, "not valid UTF-8");
	/* a count the bytes cannot hold: refused before any allocation */
	raw_dir_header(&raw, 0xffffffffu);
	raw_entry(&raw, "a", 1, 1, 0644, 1);
	dir_rejects("oversized count", &raw, DES_E_CORRUPT, "claims 4294967295 entries");
	raw_dir_header(&raw, 2);
	raw_entry(&raw, "a", 1, 1, 0644, 1);
	dir_rejects("count one too many", &raw, DES_E_CORRUPT, "more than its 56 bytes can hold");
	raw_dir_header(&raw, 2);
	raw_entry(&raw, "a", 1, 1, 0644, 1);
	raw_entry(&raw, "bcdef", 5, 1, 0644, 1);
	raw.len -= 1;
	dir_rejects("last entry cut", &raw, DES_E_CORRUPT, "entry 1 (at byte 56) is truncated");
	raw_dir_header(&raw, 0);
	raw.len = 7;
	dir_rejects("header cut", &raw, DES_E_CORRUPT, "truncated in its header");

	des_buf_free(&enc);
	des_buf_free(&again);
	des_buf_free(&raw);
}

/* ---- file contents ---- */

static void
test_files(void)
{
	unsigned char h[DES_TREE_HASH_BYTES],
				h2[DES_TREE_HASH_BYTES];
	char		hex[65];
	uint64_t	size = 99,
				count;
	des_error	err;
	des_buf		enc = {0};
	des_chunk_ref c[3];
	des_file_hasher fh;

	/* the empty file: "DESF" 1, count 0 */
	CHECK(des_file_hash(NULL, 0, h, &size, &err) && size == 0, "empty file hash");
	des_tree_hash("DESF\001\000\000\000\000\000\000\000\000", 13, h2);
	CHECK(memcmp(h, h2, 32) == 0, "empty file hash is not the hash of its 13-byte encoding");
	des_tree_hex(h, hex);
	CHECK(strcmp(hex, "9d0c6a40d044c313892b7bdaf85317f310a4816f22c7c170b0a2478962595c4f") == 0,
		  "empty file hash %s", hex);

	fill_hash(c[0].id, "chunk 0");
	c[0].length = 65536;
	fill_hash(c[1].id, "chunk 1");
	c[1].length = 1;
	fill_hash(c[2].id, "chunk 2");
	c[2].length = 0xffffffffu;
	CHECK(des_file_hash(c, 3, h, &size, &err) && size == 65536 + 1 + 0xffffffffull, "3 chunks: size %llu",
		  (unsigned long long) size);
	CHECK(des_file_encode(c, 3, &enc, &size, &err) && enc.len == 13 + 3 * 36, "encode: %zu bytes", enc.len);
	write_seed("file_three_chunks", enc.data, enc.len);
	des_tree_hash(enc.data, enc.len, h2);
	CHECK(memcmp(h, h2, 32) == 0, "streamed hash differs from the hash of the encoding");
	CHECK(des_file_decode(enc.data, enc.len, &count, &size, &err) && count == 3 &&
		  size == 65536 + 1 + 0xffffffffull, "decode: %s", err.message);
	{
		des_chunk_ref r;

		des_file_chunk(enc.data, 2, &r);
		CHECK(memcmp(r.id, c[2].id, 32) == 0 && r.length == c[2].length, "chunk 2 read back");
	}
	/* order matters */
	{
		des_chunk_ref s[3] = {c[1], c[0], c[2]};

		CHECK(des_file_hash(s, 3, h2, NULL, &err) && memcmp(h, h2, 32) != 0, "reordered chunks, same hash");
	}
	for (size_t n = 0; n < enc.len; n++)
		CHECK(!des_file_decode(enc.data, n, &count, &size, &err), "chunk list cut to %zu accepted", n);
	des_buf_putc(&enc, 0);
	CHECK(!des_file_decode(enc.data, enc.len, &count, &size, &err) && err.code == DES_E_CORRUPT,
		  "chunk list with a trailing byte");
	enc.len--;
	enc.data[5] = 4;
	CHECK(!des_file_decode(enc.data, enc.len, &count, &size, &err) && strstr(err.message, "claims 4 chunks"),
		  "count 4 for 3 chunks: %s", err.message);
	enc.data[5] = 3;
	enc.data[13 + 32] = enc.data[13 + 33] = enc.data[13 + 34] = enc.data[13 + 35] = 0;
	CHECK(!des_file_decode(enc.data, enc.len, &count, &size, &err) && strstr(err.message, "chunk 0 has length 0"),
		  "zero-length chunk stored: %s", err.message);
	enc.data[4] = 2;
	CHECK(!des_file_decode(enc.data, enc.len, &count, &size, &err) && err.code == DES_E_UNSUPPORTED, "version 2");

	c[1].length = 0;
	CHECK(!des_file_hash(c, 3, h, &size, &err) && strstr(err.message, "chunk 1 has length 0"), "zero length: %s",
		  err.message);
	des_file_hasher_init(&fh, 2);
	CHECK(des_file_hasher_add(&fh, c[0].id, 10, &err), "hasher add");
	CHECK(!des_file_hasher_final(&fh, h, &size, &err) && strstr(err.message, "1 chunks given, 2 announced"),
		  "hasher short: %s", err.message);
	des_file_hasher_init(&fh, 0);
	CHECK(!des_file_hasher_add(&fh, c[0].id, 10, &err) && strstr(err.message, "more chunks"), "hasher over");
	/* sizes beyond 2^63 - 1 */
	{
		des_file_hasher big;
		bool		ok = true;

		des_file_hasher_init(&big, UINT64_MAX);
		big.size = (uint64_t) INT64_MAX - 5;
		ok = des_file_hasher_add(&big, c[0].id, 5, &err);
		CHECK(ok && !des_file_hasher_add(&big, c[0].id, 1, &err) && err.code == DES_E_TOO_LARGE,
			  "file over 2^63 - 1 bytes: %s", err.message);
	}
	des_buf_free(&enc);
}

/* ---- the Merkle build ---- */

typedef struct collected
{
	size_t		count;
	size_t		cap;
	char	  **paths;
	unsigned char (*hashes)[32];
	uint64_t   *totals;
	bool		check_decode;
	bool		order_ok;
} collected;

static bool
collect(void *arg, const char *path, size_t path_len, const unsigned char *enc, size_t enc_len,
		const unsigned char hash[32], uint64_t total, des_error *err)
{
	collected  *c = arg;
	unsigned char h[32];

	des_tree_hash(enc, enc_len, h);
	if (memcmp(h, hash, 32) != 0)
		c->order_ok = false;
	if (c->check_decode)
	{
		des_tree_dir d;

		if (!des_tree_dir_decode(enc, enc_len, &d, err))
			return false;
		des_tree_dir_free(&d);
	}
	/* children first: no directory reported earlier is an ancestor of this one */
	for (size_t i = 0; i < c->count && c->check_decode; i++)
	{
		size_t		ql = strlen(c->paths[i]);

		if (ql == 0 || (path_len > ql && strncmp(path, c->paths[i], ql) == 0 && path[ql] == '/'))
			c->order_ok = false;
	}
	if (c->count == c->cap)
	{
		c->cap = c->cap ? 2 * c->cap : 64;
		c->paths = realloc(c->paths, c->cap * sizeof(char *));
		c->hashes = realloc(c->hashes, c->cap * 32);
		c->totals = realloc(c->totals, c->cap * sizeof(uint64_t));
	}
	c->paths[c->count] = strndup(path, path_len);
	memcpy(c->hashes[c->count], hash, 32);
	c->totals[c->count] = total;
	c->count++;
	return true;
}

static void
collected_free(collected *c)
{
	for (size_t i = 0; i < c->count; i++)
		free(c->paths[i]);
	free(c->paths);
	free(c->hashes);
	free(c->totals);
	memset(c, 0, sizeof(*c));
}

static des_tree_item
item(const char *path, int kind, uint32_t mode, uint64_t size, const char *hash_seed)
{
	des_tree_item it;

	memset(&it, 0, sizeof(it));
	it.path = path;
	it.path_len = strlen(path);
	it.kind = (uint8_t) kind;
	it.mode = mode;
	it.size = size;
	fill_hash(it.hash, hash_seed);
	return it;
}

static bool
fail_at_data(void *arg, const char *path, size_t path_len, const unsigned char *enc, size_t enc_len,
			 const unsigned char hash[32], uint64_t total, des_error *err)
{
	if (path_len == 4 && memcmp(path, "data", 4) == 0)
		return des_fail(err, DES_E_IO, "caller stops at data");
	return true;
}

static void
build_rejects(const char *what, des_tree_item *items, size_t n, des_error_code code, const char *want)
{
	collected	c = {0};
	unsigned char root[32];
	des_error	err;
	bool		ok = des_tree_build(items, n, collect, &c, root, &err);

	CHECK(!ok && err.code == code && strstr(err.message, want) != NULL, "%s: ok=%d %s \"%s\", want \"%s\"",
		  what, ok, des_error_code_name(err.code), ok ? "" : err.message, want);
	collected_free(&c);
}

static void
test_build(void)
{
	/* a fixed small tree; its root hash is pinned below */
	des_tree_item items[] = {
		item("data/sub/c.bin", DES_TREE_FILE, 0600, 300, "c"),
		item("README.md", DES_TREE_FILE, 0644, 5, "readme"),
		item("data/b.csv", DES_TREE_FILE, 0644, 20, "b"),
		item("empty", DES_TREE_DIR, 0700, 0, "ignored"),
		item("data/a.csv", DES_TREE_FILE, 0644, 10, "a"),
		item("data.txt", DES_TREE_FILE, 0644, 1, "data.txt"),
	};
	size_t		n = sizeof(items) / sizeof(items[0]);
	collected	c = {0};
	unsigned char root[32],
				root2[32];
	char		hex[65];
	des_error	err;

	c.check_decode = true;
	c.order_ok = true;
	CHECK(des_tree_build(items, n, collect, &c, root, &err), "build: %s", err.message);
	CHECK(c.count == 4, "%zu directories reported", c.count);
	CHECK(c.order_ok, "a directory reported before its child, or with a wrong hash");
	if (c.count == 4)
	{
		CHECK(strcmp(c.paths[0], "data/sub") == 0 && strcmp(c.paths[1], "data") == 0 &&
			  strcmp(c.paths[2], "empty") == 0 && strcmp(c.paths[3], "") == 0,
			  "order %s, %s, %s, %s", c.paths[0], c.paths[1], c.paths[2], c.paths[3]);
		CHECK(c.totals[0] == 300 && c.totals[1] == 330 && c.totals[2] == 0 && c.totals[3] == 336,
			  "totals %llu %llu %llu %llu", (unsigned long long) c.totals[0], (unsigned long long) c.totals[1],
			  (unsigned long long) c.totals[2], (unsigned long long) c.totals[3]);
		CHECK(memcmp(c.hashes[3], root, 32) == 0, "root reported last");
	}
	des_tree_hex(root, hex);
	CHECK(strcmp(hex, "fcfc866f92c16afada496f81a2a6fac2ac86086b8c66c01f39e07015dfadb09d") == 0,
		  "pinned root hash of the small tree changed: %s", hex);
	collected_free(&c);

	/* the root's encoding lists "README.md", "data", "data.txt", "empty" (data before data.txt) */
	{
		collected	d = {0};
		des_tree_dir dir;
		des_buf		enc = {0};

		/* rebuild the root's entries from the reported hashes and compare */
		des_tree_build(items, n, collect, &d, root2, &err);
		if (d.count == 4)
		{
			des_tree_entry e[4];

			e[0] = entry("README.md", 1, 0644, 5, "readme");
			e[1] = entry("data", 2, 0755, 330, "x");
			memcpy(e[1].hash, d.hashes[1], 32);
			e[2] = entry("data.txt", 1, 0644, 1, "data.txt");
			e[3] = entry("empty", 2, 0700, 0, "x");
			memcpy(e[3].hash, d.hashes[2], 32);
			CHECK(des_tree_dir_encode(e, 4, &enc, &err), "root by hand: %s", err.message);
			des_tree_hash(enc.data, enc.len, root2);
			CHECK(memcmp(root2, root, 32) == 0, "the root built by hand differs");
			write_seed("dir_root_small_tree", enc.data, enc.len);
			CHECK(des_tree_dir_decode(enc.data, enc.len, &dir, &err) && dir.count == 4, "root decodes");
			des_tree_dir_free(&dir);
		}
		des_buf_free(&enc);
		collected_free(&d);
	}

	/* any input order gives the same tree */
	{
		des_tree_item rev[sizeof(items) / sizeof(items[0])];

		for (size_t i = 0; i < n; i++)
			rev[i] = items[n - 1 - i];
		CHECK(des_tree_build(rev, n, collect, &c, root2, &err) && memcmp(root, root2, 32) == 0,
			  "reversed input, other root");
		collected_free(&c);
	}

	/* the empty list: the empty directory */
	CHECK(des_tree_build(NULL, 0, collect, &c, root2, &err) && c.count == 1 && c.paths[0][0] == '\0',
		  "empty list");
	des_tree_hex(root2, hex);
	CHECK(strcmp(hex, "8a6255433dadf9965156baa61f124292e4be8880172d23bee98ef06848e2115d") == 0,
		  "empty list root %s", hex);
	collected_free(&c);

	/*
	 * The pinned hashes here were checked against an independent
	 * implementation of docs/versioning-format.md (Python's hashlib.blake2b).
	 */

	/* an explicit directory with files under it keeps its mode */
	{
		des_tree_item t[] = {item("d/f", 1, 0644, 1, "f"), item("d", 2, 0711, 0, "")};
		des_tree_item u[] = {item("d/f", 1, 0644, 1, "f")};

		CHECK(des_tree_build(t, 2, collect, &c, root, &err) && c.count == 2, "explicit dir: %s", err.message);
		collected_free(&c);
		CHECK(des_tree_build(u, 1, collect, &c, root2, &err) && memcmp(root, root2, 32) != 0,
			  "mode 0711 vs the default 0755 gave the same root");
		collected_free(&c);
	}

	/* refusals */
	{
		des_tree_item t[3];

		t[0] = item("a/b", 1, 0644, 1, "x");
		t[1] = item("c", 1, 0644, 1, "x");
		t[2] = item("a/b", 1, 0644, 2, "y");
		build_rejects("duplicate file", t, 3, DES_E_DUPLICATE_NAME, "path \"a/b\" is given twice");
		t[2] = item("a", 1, 0644, 2, "y");
		build_rejects("file and directory", t, 3, DES_E_DUPLICATE_NAME, "path \"a\" is both a file and a directory");
		t[2] = item("a/b/c/d", 1, 0644, 2, "y");
		build_rejects("file a/b and a/b/c/d", t, 3, DES_E_DUPLICATE_NAME,
					  "path \"a/b\" is both a file and a directory");
		t[2] = item("a/b", 2, 0755, 0, "y");
		build_rejects("file and explicit directory", t, 3, DES_E_DUPLICATE_NAME, "path \"a/b\" is given twice");
		t[0] = item("a", 2, 0755, 0, "x");
		t[2] = item("a", 2, 0700, 0, "y");
		build_rejects("directory twice", t, 3, DES_E_DUPLICATE_NAME, "path \"a\" is given twice");
		t[2] = item("a//b", 1, 0644, 0, "y");
		build_rejects("bad path", t, 3, DES_E_INVALID_NAME, "item 2: path has an empty segment (\"//\") at byte 2");
		t[2] = item("z", 5, 0644, 0, "y");
		build_rejects("bad kind", t, 3, DES_E_INVALID_ARGUMENT, "item 2 \"z\" has unknown kind 5");
		t[2] = item("z", 1, 02644, 0, "y");
		build_rejects("setgid", t, 3, DES_E_INVALID_ARGUMENT, "item 2 \"z\" has mode 2644");
		t[2] = item("z", 1, 0644, (uint64_t) INT64_MAX + 1, "y");
		build_rejects("file size", t, 3, DES_E_TOO_LARGE, "item 2 \"z\" has a size over");
		t[1] = item("c", 1, 0644, (uint64_t) INT64_MAX, "x");
		t[2] = item("d/e", 1, 0644, 1, "y");
		build_rejects("total size", t, 3, DES_E_TOO_LARGE, "total more than 2^63 - 1 bytes");
		/* the caller's callback stops the build with its own error */
		CHECK(!des_tree_build(items, n, fail_at_data, NULL, root, &err) && err.code == DES_E_IO &&
			  strcmp(err.message, "caller stops at data") == 0, "callback stop: %s", err.message);
	}
}

/* A generated tree: d%02d/e%02d/f%03d, nd x ne x nf files. */
static des_tree_item *
generated(int nd, int ne, int nf, char **names_out)
{
	des_tree_item *it = malloc(sizeof(des_tree_item) * nd * ne * nf);
	char	   *names = malloc((size_t) nd * ne * nf * 32);
	size_t		k = 0;

	for (int d = 0; d < nd; d++)
		for (int e = 0; e < ne; e++)
			for (int f = 0; f < nf; f++, k++)
			{
				char	   *p = names + k * 32;
				unsigned char h[32] = {0};

				snprintf(p, 32, "d%02d/e%02d/f%03d", d % 100, e % 100, f % 1000);
				memset(&it[k], 0, sizeof(it[k]));
				it[k].path = p;
				it[k].path_len = strlen(p);
				it[k].kind = DES_TREE_FILE;
				it[k].mode = 0644;
				it[k].size = (uint64_t) k;
				memcpy(h, &k, sizeof(k));
				memcpy(it[k].hash, h, 32);
			}
	/* a shuffle (fixed seed): the build sorts */
	srand(42);
	for (size_t i = k - 1; i > 0; i--)
	{
		size_t		j = (size_t) rand() % (i + 1);
		des_tree_item t = it[i];

		it[i] = it[j];
		it[j] = t;
	}
	*names_out = names;
	return it;
}

static int
hash_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

static void
test_merkle(void)
{
	char	   *names;
	des_tree_item *it = generated(8, 10, 25, &names);
	size_t		n = 8 * 10 * 25;
	collected	a = {0},
				b = {0};
	unsigned char ra[32],
				rb[32];
	des_error	err;
	size_t		changed_dirs = 0,
				target = 0;

	CHECK(des_tree_build(it, n, collect, &a, ra, &err), "merkle build: %s", err.message);
	CHECK(a.count == 1 + 8 + 80, "%zu directories", a.count);
	for (size_t i = 0; i < n; i++)
		if (strcmp(it[i].path, "d03/e07/f005") == 0)
			target = i;
	it[target].hash[31] ^= 1;
	CHECK(des_tree_build(it, n, collect, &b, rb, &err), "merkle rebuild: %s", err.message);
	CHECK(a.count == b.count && memcmp(ra, rb, 32) != 0, "root unchanged after a file changed");
	/* same order of directories: compare path by path */
	for (size_t i = 0; i < a.count && i < b.count; i++)
	{
		bool		on_path = strcmp(a.paths[i], "") == 0 || strcmp(a.paths[i], "d03") == 0 ||
			strcmp(a.paths[i], "d03/e07") == 0;
		bool		differs = memcmp(a.hashes[i], b.hashes[i], 32) != 0;

		CHECK(strcmp(a.paths[i], b.paths[i]) == 0, "directory order changed at %zu", i);
		CHECK(differs == on_path, "directory \"%s\": changed %d, on the file's path %d", a.paths[i], differs,
			  on_path);
		changed_dirs += differs;
	}
	CHECK(changed_dirs == 3, "%zu directories changed", changed_dirs);
	/* as sets of hashes (what a store keyed by hash sees): exactly 3 new ones */
	{
		size_t		new_ones = 0;

		qsort(a.hashes, a.count, 32, hash_cmp);
		for (size_t i = 0; i < b.count; i++)
			if (bsearch(b.hashes[i], a.hashes, a.count, 32, hash_cmp) == NULL)
				new_ones++;
		CHECK(new_ones == 3, "%zu directory hashes not stored before", new_ones);
	}
	collected_free(&a);
	collected_free(&b);
	free(it);
	free(names);
}

static bool
count_dirs(void *arg, const char *path, size_t path_len, const unsigned char *enc, size_t enc_len,
		   const unsigned char hash[32], uint64_t total, des_error *err)
{
	(*(size_t *) arg)++;
	return true;
}

static void
test_large(void)
{
	char	   *names;
	des_tree_item *it = generated(10, 100, 100, &names);	/* 100,000 files */
	size_t		dirs = 0;
	unsigned char root[32];
	des_error	err;
	struct timespec t0,
				t1;
	double		s;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(des_tree_build(it, 100000, count_dirs, &dirs, root, &err), "100,000 files: %s", err.message);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double) (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	CHECK(dirs == 1 + 10 + 1000, "%zu directories for 100,000 files", dirs);
	/* under ASan; a plain build is about ten times faster */
	CHECK(s < 10.0, "100,000 files took %.2f s", s);
	printf("tree build: 100,000 files (1,011 directories) in %.3f s\n", s);
	free(it);
	free(names);
}

/* ---- updating a stored tree ---- */

static des_tree_edit
edit(const char *path, int op, uint32_t mode, uint64_t size, const char *hash_seed)
{
	des_tree_edit e;

	memset(&e, 0, sizeof(e));
	e.path = path;
	e.path_len = strlen(path);
	e.op = (uint8_t) op;
	e.mode = mode;
	e.size = size;
	fill_hash(e.hash, hash_seed);
	return e;
}

#define PUTF DES_TREE_EDIT_PUT_FILE
#define PUTD DES_TREE_EDIT_PUT_DIR
#define RM DES_TREE_EDIT_REMOVE

/* One update of the tree built from items, checked against the reference. */
typedef struct upd_run
{
	mem_store	s;
	unsigned char root[32];
	unsigned char new_root[32];
	uint64_t	total;
	bool		ok;
	des_error	err;
} upd_run;

static void
run_update(upd_run *r, const char *what, const des_tree_item *items, size_t n, const des_tree_edit *edits, size_t m)
{
	des_tree_item *want = NULL;
	size_t		want_n;
	des_error_code code = DES_OK;
	bool		early;
	bool		rok;
	const char *problem;

	memset(r, 0, sizeof(*r));
	CHECK(des_tree_build(items, n, mem_store_put, &r->s, r->root, &r->err), "%s: build: %s", what, r->err.message);
	mem_store_begin(&r->s);
	r->ok = des_tree_update(r->root, edits, m, mem_store_load, mem_store_put, &r->s, r->new_root, &r->total, &r->err);
	rok = ref_apply(items, n, edits, m, &want, &want_n, &code, &early);
	CHECK(r->s.loads <= ref_load_bound(edits, m), "%s: %zu loads, more than the %zu directories on the edited paths",
		  what, r->s.loads, ref_load_bound(edits, m));
	if (rok)
	{
		/* the reference's list, rebuilt: the build finds the size limits */
		mem_store	ref = {0};
		unsigned char want_root[32];
		des_error	err;

		rok = des_tree_build(want, want_n, mem_store_put, &ref, want_root, &err);
		code = err.code;
		early = false;
		if (rok && r->ok)
		{
			problem = mem_store_check_update(&r->s, r->new_root, r->total);
			CHECK(problem == NULL, "%s: %s", what, problem);
			CHECK(memcmp(want_root, r->new_root, 32) == 0 && ref.root_total == r->total,
				  "%s: the update's root or total differs from the rebuild's", what);
		}
		mem_store_free(&ref);
	}
	CHECK(r->ok == rok, "%s: update %s, the reference %s (%s)", what, r->ok ? "succeeds" : "fails",
		  rok ? "succeeds" : "fails", r->ok ? "" : r->err.message);
	if (!r->ok && !rok)
		CHECK(r->err.code == code || (!early && r->err.code == DES_E_TOO_LARGE), "%s: code %s, the reference %s (%s)",
			  what, des_error_code_name(r->err.code), des_error_code_name(code), r->err.message);
	free(want);
}

static void
upd_run_free(upd_run *r)
{
	mem_store_free(&r->s);
}

/* The entry at path in the tree under root (kind 0 if none). */
static des_tree_entry
lookup_entry(mem_store *s, const unsigned char root[32], const char *path)
{
	des_tree_entry found = {0};
	size_t		parent,
				name;
	char		dirpath[256];
	unsigned char h[32];
	mem_dir    *m;
	des_tree_dir d;
	des_error	err;

	des_tree_path_split(path, strlen(path), &parent, &name);
	snprintf(dirpath, sizeof(dirpath), "%.*s", (int) parent, path);
	if (!mem_store_lookup(s, root, dirpath, h) || (m = mem_store_find(s, h)) == NULL ||
		!des_tree_dir_decode(m->data, m->len, &d, &err))
		return found;
	for (size_t i = 0; i < d.count; i++)
		if (d.entries[i].name_len == strlen(path + name) && memcmp(d.entries[i].name, path + name, d.entries[i].name_len) == 0)
			found = d.entries[i];
	found.name = NULL;			/* points into the store; not needed */
	des_tree_dir_free(&d);
	return found;
}

static void
update_ok(const char *what, const des_tree_item *items, size_t n, const des_tree_edit *edits, size_t m,
		  size_t want_loads, size_t want_reports)
{
	upd_run		r;

	run_update(&r, what, items, n, edits, m);
	CHECK(r.ok, "%s: refused: %s", what, r.err.message);
	CHECK(r.s.loads == want_loads, "%s: %zu loads, want %zu", what, r.s.loads, want_loads);
	CHECK(r.s.reports == want_reports, "%s: %zu directories reported, want %zu", what, r.s.reports, want_reports);
	upd_run_free(&r);
}

static void
update_rejects(const char *what, const des_tree_item *items, size_t n, const des_tree_edit *edits, size_t m,
			   des_error_code code, const char *want)
{
	upd_run		r;

	run_update(&r, what, items, n, edits, m);
	CHECK(!r.ok && r.err.code == code && strstr(r.err.message, want) != NULL, "%s: ok=%d %s \"%s\", want \"%s\"",
		  what, r.ok, des_error_code_name(r.err.code), r.ok ? "" : r.err.message, want);
	upd_run_free(&r);
}

/* the small tree of test_build, plus an explicit directory "data" of mode 0700 */
static des_tree_item small_tree[7];

static size_t
make_small_tree(bool explicit_data)
{
	size_t		n = 0;

	small_tree[n++] = item("data/sub/c.bin", DES_TREE_FILE, 0600, 300, "c");
	small_tree[n++] = item("README.md", DES_TREE_FILE, 0644, 5, "readme");
	small_tree[n++] = item("data/b.csv", DES_TREE_FILE, 0644, 20, "b");
	small_tree[n++] = item("empty", DES_TREE_DIR, 0700, 0, "ignored");
	small_tree[n++] = item("data/a.csv", DES_TREE_FILE, 0644, 10, "a");
	small_tree[n++] = item("data.txt", DES_TREE_FILE, 0644, 1, "data.txt");
	if (explicit_data)
		small_tree[n++] = item("data", DES_TREE_DIR, 0700, 0, "");
	return n;
}

static void
test_update_semantics(void)
{
	size_t		n = make_small_tree(false);
	upd_run		r;
	des_tree_entry e;
	char		hex[65];

	/* loads and reports: only the directories on the edited paths */
	{
		des_tree_edit t[] = {edit("data/a.csv", PUTF, 0644, 11, "a2")};

		update_ok("replace a file", small_tree, n, t, 1, 2, 2);
		run_update(&r, "replace a file", small_tree, n, t, 1);
		CHECK(r.ok && r.total == 337 && mem_store_reported(&r.s, "data") && !mem_store_reported(&r.s, "data/sub"),
			  "replace a file: total %llu", (unsigned long long) r.total);
		upd_run_free(&r);
	}
	{
		des_tree_edit t[] = {edit("x/y/z.txt", PUTF, 0640, 7, "z")};

		update_ok("file in new directories", small_tree, n, t, 1, 1, 3);
		run_update(&r, "file in new directories", small_tree, n, t, 1);
		e = lookup_entry(&r.s, r.new_root, "x");
		CHECK(e.kind == DES_TREE_DIR && e.mode == DES_TREE_DEFAULT_DIR_MODE && e.size == 7, "new parent x: kind %u mode %o",
			  e.kind, e.mode);
		CHECK(mem_store_reported(&r.s, "x/y") && mem_store_reported(&r.s, "x"), "new directories reported");
		upd_run_free(&r);
	}
	{
		des_tree_edit t[] = {edit("data", PUTD, 0711, 0, "")};

		/* the directory is not loaded: only the mode in its parent changes */
		update_ok("PUT_DIR gives an existing directory a mode", small_tree, n, t, 1, 1, 1);
		run_update(&r, "PUT_DIR mode", small_tree, n, t, 1);
		e = lookup_entry(&r.s, r.new_root, "data");
		CHECK(e.kind == DES_TREE_DIR && e.mode == 0711 && e.size == 330, "data after PUT_DIR: mode %o size %llu", e.mode,
			  (unsigned long long) e.size);
		upd_run_free(&r);
	}
	{
		des_tree_edit t[] = {edit("new/dir", PUTD, 0711, 0, "")};

		update_ok("PUT_DIR creates an empty directory", small_tree, n, t, 1, 1, 3);
		run_update(&r, "PUT_DIR new", small_tree, n, t, 1);
		e = lookup_entry(&r.s, r.new_root, "new/dir");
		des_tree_hex(e.hash, hex);
		CHECK(e.kind == DES_TREE_DIR && e.mode == 0711 &&
			  strcmp(hex, "8a6255433dadf9965156baa61f124292e4be8880172d23bee98ef06848e2115d") == 0, "new/dir is the empty directory");
		upd_run_free(&r);
	}
	{
		des_tree_edit t[] = {edit("data/sub", PUTD, 0700, 0, ""), edit("data/sub/d", PUTF, 0644, 1, "d")};

		update_ok("PUT_DIR with a put below it", small_tree, n, t, 2, 3, 3);
	}
	{
		des_tree_edit t[] = {edit("data/b.csv", RM, 0, 0, "")};

		update_ok("remove a file", small_tree, n, t, 1, 2, 2);
	}
	{
		des_tree_edit t[] = {edit("data", RM, 0, 0, "")};

		/* a removed directory is not loaded */
		update_ok("remove a directory", small_tree, n, t, 1, 1, 1);
	}
	{
		des_tree_edit t[] = {edit("nope/x", RM, 0, 0, ""), edit("README.md/x", RM, 0, 0, ""),
		edit("data/zz", RM, 0777777, 0, "")};

		/* absent paths (below nothing, below a file, in a directory): no-ops; a REMOVE's mode is ignored */
		run_update(&r, "remove absent paths", small_tree, n, t, 3);
		CHECK(r.ok && memcmp(r.root, r.new_root, 32) == 0 && r.s.reports == 1 && r.s.loads == 2,
			  "remove absent paths: changed the tree, or %zu reports, %zu loads", r.s.reports, r.s.loads);
		upd_run_free(&r);
	}
	{
		/* removals first: REMOVE "data" and PUT_FILE "data/new"; data's mode 0700 is gone with it */
		des_tree_edit t[] = {edit("data/new", PUTF, 0644, 2, "new"), edit("data", RM, 0, 0, "")};
		size_t		n2 = make_small_tree(true);

		run_update(&r, "remove then put below", small_tree, n2, t, 2);
		e = lookup_entry(&r.s, r.new_root, "data");
		CHECK(r.ok && e.kind == DES_TREE_DIR && e.mode == DES_TREE_DEFAULT_DIR_MODE && e.size == 2,
			  "remove then put below: %s, data mode %o", r.err.message, e.mode);
		CHECK(lookup_entry(&r.s, r.new_root, "data/a.csv").kind == 0, "data/a.csv survived the removal of data");
		upd_run_free(&r);
		n = make_small_tree(false);
	}
	{
		/* the only file of data/sub renamed: data/sub stays, with its mode */
		des_tree_item t[] = {item("d/sub/old", DES_TREE_FILE, 0644, 3, "old"), item("d/sub", DES_TREE_DIR, 0700, 0, ""),
		item("d/other", DES_TREE_FILE, 0644, 1, "o")};
		des_tree_edit u[] = {edit("d/sub/old", RM, 0, 0, ""), edit("d/sub/new", PUTF, 0644, 4, "new")};

		run_update(&r, "rename keeps the directory's mode", t, 3, u, 2);
		e = lookup_entry(&r.s, r.new_root, "d/sub");
		CHECK(r.ok && e.kind == DES_TREE_DIR && e.mode == 0700 && e.size == 4, "rename: d/sub mode %o", e.mode);
		upd_run_free(&r);
	}

	/* pruning */
	{
		des_tree_edit t[] = {edit("data/sub/c.bin", RM, 0, 0, "")};

		run_update(&r, "prune an emptied directory", small_tree, n, t, 1);
		e = lookup_entry(&r.s, r.new_root, "data/sub");
		CHECK(r.ok && e.kind == 0 && lookup_entry(&r.s, r.new_root, "data").kind == DES_TREE_DIR,
			  "data/sub not pruned, or data pruned");
		CHECK(!mem_store_reported(&r.s, "data/sub"), "a pruned directory was reported");
		CHECK(lookup_entry(&r.s, r.new_root, "empty").kind == DES_TREE_DIR, "an untouched empty directory went away");
		upd_run_free(&r);
	}
	{
		des_tree_edit t[] = {edit("data/sub/c.bin", RM, 0, 0, ""), edit("data/a.csv", RM, 0, 0, ""),
		edit("data/b.csv", RM, 0, 0, "")};
		size_t		n2 = make_small_tree(true);

		/* upward, and an explicit directory (data, 0700) is pruned too once emptied */
		run_update(&r, "prune upward", small_tree, n2, t, 3);
		CHECK(r.ok && lookup_entry(&r.s, r.new_root, "data").kind == 0 && r.total == 6, "data not pruned");
		upd_run_free(&r);
		n = make_small_tree(false);
	}
	{
		des_tree_edit t[] = {edit("data/sub/c.bin", RM, 0, 0, ""), edit("data/sub", PUTD, 0750, 0, "")};

		run_update(&r, "PUT_DIR keeps an emptied directory", small_tree, n, t, 2);
		e = lookup_entry(&r.s, r.new_root, "data/sub");
		CHECK(r.ok && e.kind == DES_TREE_DIR && e.mode == 0750 && e.size == 0, "data/sub: kind %u mode %o", e.kind, e.mode);
		upd_run_free(&r);
	}
	{
		des_tree_item t[] = {item("a/b/c/f", DES_TREE_FILE, 0644, 1, "f"), item("a/e", DES_TREE_DIR, 0755, 0, "")};
		des_tree_edit u[] = {edit("a/b/c/f", RM, 0, 0, "")};

		/* a chain goes, up to the first directory with something left (a keeps the empty a/e) */
		run_update(&r, "prune a chain", t, 2, u, 1);
		CHECK(r.ok && lookup_entry(&r.s, r.new_root, "a/b").kind == 0 && lookup_entry(&r.s, r.new_root, "a/e").kind == DES_TREE_DIR,
			  "chain: %s", r.err.message);
		upd_run_free(&r);
		run_update(&r, "prune a chain to the root", t, 1, u, 1);
		des_tree_hex(r.new_root, hex);
		CHECK(r.ok && strcmp(hex, "8a6255433dadf9965156baa61f124292e4be8880172d23bee98ef06848e2115d") == 0 && r.total == 0,
			  "the root is never pruned: %s", hex);
		upd_run_free(&r);
	}
	{
		des_tree_edit t[] = {edit("README.md", RM, 0, 0, ""), edit("data.txt", RM, 0, 0, ""), edit("data", RM, 0, 0, ""),
		edit("empty", RM, 0, 0, "")};

		run_update(&r, "remove everything", small_tree, n, t, 4);
		des_tree_hex(r.new_root, hex);
		CHECK(r.ok && strcmp(hex, "8a6255433dadf9965156baa61f124292e4be8880172d23bee98ef06848e2115d") == 0 && r.s.reports == 1,
			  "everything removed: %s", hex);
		upd_run_free(&r);
	}
	{
		/* a directory the same update empties gives way to a file */
		des_tree_edit t[] = {edit("data/sub", PUTF, 0644, 9, "f"), edit("data/sub/c.bin", RM, 0, 0, "")};

		run_update(&r, "a file replaces an emptied directory", small_tree, n, t, 2);
		e = lookup_entry(&r.s, r.new_root, "data/sub");
		CHECK(r.ok && e.kind == DES_TREE_FILE && e.size == 9, "data/sub: %s", r.err.message);
		upd_run_free(&r);
	}

	/* from the empty tree (root NULL), without a load callback */
	{
		des_tree_edit t[] = {edit("a/b", PUTF, 0644, 3, "b"), edit("c", PUTD, 0700, 0, ""), edit("zz", RM, 0, 0, "")};
		des_tree_item want[] = {item("a/b", DES_TREE_FILE, 0644, 3, "b"), item("c", DES_TREE_DIR, 0700, 0, "")};
		unsigned char got[32],
					exp[32];
		uint64_t	total = 0;
		des_error	err;
		mem_store	s = {0};

		CHECK(des_tree_update(NULL, t, 3, NULL, mem_store_put, &s, got, &total, &err), "from nothing: %s", err.message);
		CHECK(s.reports == 3 && s.root_seen, "from nothing: %zu reports", s.reports);
		mem_store_begin(&s);
		CHECK(des_tree_build(want, 2, mem_store_put, &s, exp, &err) && memcmp(got, exp, 32) == 0 && total == 3,
			  "from nothing: other root than the build's");
		CHECK(des_tree_update(NULL, NULL, 0, NULL, NULL, NULL, got, NULL, &err), "nothing from nothing");
		des_tree_hex(got, hex);
		CHECK(strcmp(hex, "8a6255433dadf9965156baa61f124292e4be8880172d23bee98ef06848e2115d") == 0, "nothing: %s", hex);
		/* no edits on a stored tree: the root alone is loaded and reported, unchanged */
		mem_store_begin(&s);
		CHECK(des_tree_update(exp, NULL, 0, mem_store_load, mem_store_put, &s, got, &total, &err) &&
			  memcmp(got, exp, 32) == 0 && total == 3 && s.loads == 1 && s.reports == 1, "no edits: %s", err.message);
		mem_store_free(&s);
	}
}

static bool
fail_store_at_data(void *arg, const char *path, size_t path_len, const unsigned char *enc, size_t enc_len,
				   const unsigned char hash[32], uint64_t total, des_error *err)
{
	if (path_len == 4 && memcmp(path, "data", 4) == 0)
		return des_fail(err, DES_E_IO, "store refuses data");
	return mem_store_put(arg, path, path_len, enc, enc_len, hash, total, err);
}

/* Loads from a store, damaging the directory whose hash is target. */
typedef struct bad_load
{
	mem_store  *s;
	unsigned char target[32];
	unsigned char *copy;
} bad_load;

static bool
damaging_load(void *arg, const unsigned char hash[32], const unsigned char **data, size_t *len, des_error *err)
{
	bad_load   *b = arg;

	if (!mem_store_load(b->s, hash, data, len, err))
		return false;
	if (memcmp(hash, b->target, 32) == 0)
	{
		free(b->copy);
		b->copy = malloc(*len);
		memcpy(b->copy, *data, *len);
		b->copy[*len - 1] ^= 1;
		*data = b->copy;
	}
	return true;
}

static void
test_update_errors(void)
{
	size_t		n = make_small_tree(false);
	des_tree_edit t[3];

	t[0] = edit("ok", PUTF, 0644, 1, "ok");
	t[1] = edit("a//b", PUTF, 0644, 1, "x");
	update_rejects("bad path", small_tree, n, t, 2, DES_E_INVALID_NAME, "edit 1: path has an empty segment (\"//\") at byte 2");
	t[1] = edit("", RM, 0, 0, "x");
	update_rejects("empty path", small_tree, n, t, 2, DES_E_INVALID_NAME, "edit 1: path is empty");
	t[1] = edit("z", 0, 0644, 1, "x");
	update_rejects("op 0", small_tree, n, t, 2, DES_E_INVALID_ARGUMENT, "edit 1 \"z\" has unknown op 0");
	t[1] = edit("z", 4, 0644, 1, "x");
	update_rejects("op 4", small_tree, n, t, 2, DES_E_INVALID_ARGUMENT, "edit 1 \"z\" has unknown op 4");
	t[1] = edit("z", PUTF, 01644, 1, "x");
	update_rejects("file mode", small_tree, n, t, 2, DES_E_INVALID_ARGUMENT, "edit 1 \"z\" has mode 1644 beyond");
	t[1] = edit("z", PUTD, 04755, 1, "x");
	update_rejects("directory mode", small_tree, n, t, 2, DES_E_INVALID_ARGUMENT, "edit 1 \"z\" has mode 4755 beyond");
	t[1] = edit("z", PUTF, 0644, (uint64_t) INT64_MAX + 1, "x");
	update_rejects("file size", small_tree, n, t, 2, DES_E_TOO_LARGE, "edit 1 \"z\" has a size over 2^63 - 1");
	t[1] = edit("z", PUTD, 0755, UINT64_MAX, "x");
	update_ok("a PUT_DIR's size is ignored", small_tree, n, t, 2, 1, 2);

	t[1] = edit("data/a.csv", RM, 0, 0, "");
	t[2] = edit("data/a.csv", PUTF, 0644, 1, "x");
	update_rejects("same path twice", small_tree, n, t, 3, DES_E_DUPLICATE_NAME, "path \"data/a.csv\" is edited twice");
	t[1] = edit("data", PUTF, 0644, 1, "x");
	update_rejects("file on a directory", small_tree, n, t, 2, DES_E_DUPLICATE_NAME,
				   "path \"data\" is a directory, so a file cannot be put there");
	t[2] = edit("data/sub/c.bin", RM, 0, 0, "");
	update_rejects("file on a directory not emptied", small_tree, n, t, 3, DES_E_DUPLICATE_NAME, "path \"data\" is a directory");
	t[1] = edit("empty", PUTF, 0644, 1, "x");
	t[2] = edit("empty/x", RM, 0, 0, "");
	update_rejects("file on a directory empty before", small_tree, n, t, 3, DES_E_DUPLICATE_NAME, "path \"empty\" is a directory");
	t[1] = edit("README.md/x", PUTF, 0644, 1, "x");
	update_rejects("file below a file", small_tree, n, t, 2, DES_E_DUPLICATE_NAME, "cannot put \"README.md/x\": \"README.md\" is a file");
	t[1] = edit("README.md/x/y", PUTD, 0755, 0, "x");
	update_rejects("directory below a file", small_tree, n, t, 2, DES_E_DUPLICATE_NAME, "\"README.md\" is a file");
	t[1] = edit("README.md", PUTD, 0755, 0, "x");
	update_rejects("directory on a file", small_tree, n, t, 2, DES_E_DUPLICATE_NAME,
				   "path \"README.md\" is a file, so a directory cannot be put there");
	t[1] = edit("q", PUTF, 0644, 1, "x");
	t[2] = edit("q/r", PUTF, 0644, 1, "x");
	update_rejects("a put below a put file", small_tree, n, t, 3, DES_E_DUPLICATE_NAME, "cannot put \"q/r\": \"q\" is a file");
	t[1] = edit("data.txt/r", PUTF, 0644, 1, "x");
	t[2] = edit("data.txt", RM, 0, 0, "");
	update_ok("removals first: a file removed, then a put below it", small_tree, n, t, 3, 1, 2);

	/* sizes */
	{
		des_tree_item big[] = {item("d/big", DES_TREE_FILE, 0644, (uint64_t) INT64_MAX, "big"), item("e", DES_TREE_FILE, 0644, 0, "e")};
		des_tree_edit u[] = {edit("d/one", PUTF, 0644, 1, "one")};

		update_rejects("directory total", big, 2, u, 1, DES_E_TOO_LARGE, "the files under directory \"d\" would total more than 2^63 - 1");
		u[0] = edit("e", PUTF, 0644, 1, "one");
		update_rejects("root total", big, 2, u, 1, DES_E_TOO_LARGE, "the files under the root directory would total more");
	}

	/* stored data: damaged, not a directory, a later version, missing */
	{
		mem_store	s = {0};
		unsigned char root[32],
					got[32],
					h[32];
		des_error	err;
		bad_load	b = {0};
		des_tree_edit u[] = {edit("data/a.csv", PUTF, 0644, 1, "x")};
		unsigned char v2[] = {'D', 'E', 'S', 'D', 2, 0, 0, 0, 0};

		b.s = &s;
		des_tree_build(small_tree, n, mem_store_put, &s, root, &err);
		mem_store_lookup(&s, root, "data", b.target);
		CHECK(!des_tree_update(root, u, 1, damaging_load, mem_store_put, &b, got, NULL, &err) && err.code == DES_E_CORRUPT &&
			  strstr(err.message, "directory \"data\" (") && strstr(err.message, "does not hash to it"),
			  "damaged directory: %s", err.message);
		memcpy(b.target, root, 32);
		CHECK(!des_tree_update(root, u, 1, damaging_load, mem_store_put, &b, got, NULL, &err) && err.code == DES_E_CORRUPT &&
			  strstr(err.message, "the root directory ("), "damaged root: %s", err.message);
		free(b.copy);
		des_tree_hash("not a directory", 15, h);
		mem_store_add(&s, h, (const unsigned char *) "not a directory", 15);
		CHECK(!des_tree_update(h, u, 1, mem_store_load, mem_store_put, &s, got, NULL, &err) && err.code == DES_E_CORRUPT &&
			  strstr(err.message, "does not decode: not a directory encoding"), "not a directory: %s", err.message);
		des_tree_hash(v2, sizeof(v2), h);
		mem_store_add(&s, h, v2, sizeof(v2));
		CHECK(!des_tree_update(h, u, 1, mem_store_load, mem_store_put, &s, got, NULL, &err) && err.code == DES_E_UNSUPPORTED &&
			  strstr(err.message, "version 2"), "version 2: %s", err.message);
		des_tree_hash("missing", 7, h);
		CHECK(!des_tree_update(h, u, 1, mem_store_load, mem_store_put, &s, got, NULL, &err) && err.code == DES_E_NOT_FOUND &&
			  strstr(err.message, "in the store"), "missing root: the load callback's error passes: %s", err.message);
		CHECK(!des_tree_update(root, u, 1, mem_store_load, fail_store_at_data, &s, got, NULL, &err) && err.code == DES_E_IO &&
			  strcmp(err.message, "store refuses data") == 0, "the store callback's error passes: %s", err.message);
		CHECK(!des_tree_update(root, u, 1, NULL, NULL, NULL, got, NULL, &err) && err.code == DES_E_INVALID_ARGUMENT,
			  "a root without a load callback");
		CHECK(!des_tree_update(root, NULL, 1, mem_store_load, NULL, &s, got, NULL, &err) && err.code == DES_E_INVALID_ARGUMENT,
			  "edits NULL");
		/* store NULL: only the hash */
		CHECK(des_tree_update(root, u, 1, mem_store_load, NULL, &s, got, NULL, &err), "store NULL: %s", err.message);
		mem_store_free(&s);
	}
}

/*
 * A directory at the entry limit: a root of DES_TREE_MAX_ENTRIES files made
 * by hand (4-character names), then one more file.
 */
static bool
load_one(void *arg, const unsigned char hash[32], const unsigned char **data, size_t *len, des_error *err)
{
	des_buf    *b = arg;

	*data = b->data;
	*len = b->len;
	return true;
}

static void
test_update_entry_limit(void)
{
	size_t		n = DES_TREE_MAX_ENTRIES;
	des_buf		enc = {0};
	unsigned char root[32],
				got[32];
	des_error	err;
	des_tree_edit u[2] = {edit("~new", PUTF, 0644, 1, "x"), edit("1111", RM, 0, 0, "")};
	unsigned char hdr[9] = {'D', 'E', 'S', 'D', 1};
	unsigned char ent[50] = {4};

	hdr[5] = (unsigned char) n;
	hdr[6] = (unsigned char) (n >> 8);
	hdr[7] = (unsigned char) (n >> 16);
	hdr[8] = (unsigned char) (n >> 24);
	des_buf_reserve(&enc, 9 + 50 * n);
	des_buf_append(&enc, hdr, 9);
	ent[5] = DES_TREE_FILE;
	ent[6] = 0244;				/* mode 0644, little-endian */
	ent[7] = 01;
	for (size_t i = 0; i < n; i++)
	{
		/* 22 bits as base-64 digits '0' (0x30) to 'o' (0x6f): sorted as i grows */
		ent[1] = (unsigned char) ('0' + ((i >> 18) & 63));
		ent[2] = (unsigned char) ('0' + ((i >> 12) & 63));
		ent[3] = (unsigned char) ('0' + ((i >> 6) & 63));
		ent[4] = (unsigned char) ('0' + (i & 63));
		des_buf_append(&enc, ent, sizeof(ent));
	}
	des_tree_hash(enc.data, enc.len, root);
	CHECK(!des_tree_update(root, u, 1, load_one, NULL, &enc, got, NULL, &err) && err.code == DES_E_TOO_LARGE &&
		  strstr(err.message, "the root directory would have 4194305 entries, more than 4194304"), "entry limit: %s",
		  err.message);
	/* one out, one in: at the limit again */
	u[1] = edit("1111", RM, 0, 0, "");
	CHECK(des_tree_update(root, u, 2, load_one, NULL, &enc, got, NULL, &err), "at the limit: %s", err.message);
	des_buf_free(&enc);
}

static uint64_t
rnd(uint64_t *state)
{
	/* splitmix64: reproducible on every platform */
	uint64_t	z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* a random path of 1..4 segments over a small alphabet, so paths meet often */
static char *
random_path(uint64_t *st)
{
	static const char *const seg[] = {"a", "b", "c", "ab", "b.txt"};
	int			depth = 1 + (int) (rnd(st) % 4);
	char		buf[64] = "";

	for (int i = 0; i < depth; i++)
	{
		if (i > 0)
			strcat(buf, "/");
		strcat(buf, seg[rnd(st) % 5]);
	}
	return strdup(buf);
}

/*
 * The oracle: random trees, random edit sets, and chains of updates on the
 * result, each compared with the rebuild of the reference list (run_update);
 * each edit set also reversed (the order of edits does not matter).
 */
static void
test_update_random(void)
{
	uint64_t	st = 20240611;
	int			trees = 1500,
				applied = 0,
				refused = 0;
	int			failed_before = unit_failed;

	for (int t = 0; t < trees && unit_failed - failed_before < 10; t++)
	{
		char	   *strings[256];
		size_t		ns = 0;
		des_tree_item items[64];
		size_t		n = 0;
		size_t		want_items = rnd(&st) % 24;

		/* a list des_tree_build accepts: no path twice, no file above another path */
		for (size_t tries = 0; n < want_items && tries < 100; tries++)
		{
			char	   *p = random_path(&st);
			bool		dir = rnd(&st) % 5 == 0;
			bool		clash = false;

			for (size_t j = 0; j < n && !clash; j++)
				clash = ref_same(p, strlen(p), items[j].path, items[j].path_len) ||
					(items[j].kind == DES_TREE_FILE && ref_under(p, strlen(p), items[j].path, items[j].path_len)) ||
					(!dir && ref_under(items[j].path, items[j].path_len, p, strlen(p)));
			strings[ns++] = p;
			if (clash)
				continue;
			items[n] = item(p, dir ? DES_TREE_DIR : DES_TREE_FILE, dir ? (rnd(&st) % 2 ? 0700 : 0755) : 0644,
							rnd(&st) % 1000, p);
			items[n].hash[0] ^= (unsigned char) rnd(&st);
			n++;
		}
		for (int round = 0; round < 4; round++)
		{
			des_tree_edit edits[12],
						rev[12];
			size_t		m = rnd(&st) % 9;
			upd_run		r,
						r2;
			des_tree_item *next;
			size_t		next_n;
			des_error_code code;
			bool		early;
			char		what[64];

			for (size_t i = 0; i < m; i++)
			{
				uint64_t	x = rnd(&st);
				int			op = 1 + (int) (x % 3);
				char	   *p;

				if (ns == sizeof(strings) / sizeof(strings[0]))
				{
					m = i;
					break;
				}

				/* half the time an existing path or one of its ancestors, mostly removed */
				if (n > 0 && rnd(&st) % 2 == 0)
				{
					const des_tree_item *it = &items[rnd(&st) % n];
					size_t		len = it->path_len;
					uint64_t	y = rnd(&st) % 8;

					while (rnd(&st) % 3 == 0 && len > 0)
					{
						do
							len--;
						while (len > 0 && it->path[len] != '/');
					}
					if (len == 0)
						len = it->path_len;
					p = strndup(it->path, len);
					op = y < 5 ? RM : y < 6 ? PUTD : PUTF;
				}
				else
					p = random_path(&st);
				strings[ns++] = p;
				edits[i] = edit(p, op, (x >> 8) % 2 ? 0700 : 0644, (x >> 16) % 1000, p);
				edits[i].hash[1] ^= (unsigned char) (x >> 24);
				/* the same path twice, rarely: edit sets are mostly valid */
				for (size_t j = 0; j < i; j++)
					if (ref_same(p, strlen(p), edits[j].path, edits[j].path_len) && x % 8 != 0)
					{
						i--;
						break;
					}
			}
			for (size_t i = 0; i < m; i++)
				rev[i] = edits[m - 1 - i];
			snprintf(what, sizeof(what), "random tree %d round %d", t, round);
			run_update(&r, what, items, n, edits, m);
			run_update(&r2, what, items, n, rev, m);
			CHECK(r.ok == r2.ok && (!r.ok || memcmp(r.new_root, r2.new_root, 32) == 0), "%s: reversed edits differ", what);
			upd_run_free(&r2);
			if (!r.ok)
			{
				refused++;
				upd_run_free(&r);
				continue;
			}
			applied++;
			upd_run_free(&r);
			/* go on from the result */
			if (!ref_apply(items, n, edits, m, &next, &next_n, &code, &early) || next_n > 64)
			{
				free(next);
				break;
			}
			memcpy(items, next, next_n * sizeof(*next));
			n = next_n;
			free(next);
			if (ns > 200)
				break;
		}
		for (size_t i = 0; i < ns; i++)
			free(strings[i]);
	}
	printf("tree update oracle: %d updates matched the rebuild, %d refused as the reference refuses\n", applied, refused);
	CHECK(applied > 1000 && refused > 100, "too few cases: %d applied, %d refused", applied, refused);
}

/* 100,000 files in 100 directories; 10 files changed in 10 directories. */
static void
test_update_large(void)
{
	char	   *names;
	des_tree_item *it = generated(1, 100, 1000, &names);	/* d00/e00..e99/f000..f999 */
	mem_store	s = {0};
	unsigned char root[32],
				got[32],
				want[32];
	uint64_t	total;
	des_error	err;
	des_tree_edit edits[10];
	char		paths[10][32];
	struct timespec t0,
				t1;
	double		ms;
	size_t		dirs = 0;

	CHECK(des_tree_build(it, 100000, mem_store_put, &s, root, &err), "build: %s", err.message);
	for (int i = 0; i < 10; i++)
	{
		snprintf(paths[i], sizeof(paths[i]), "d00/e%02d/f%03d", i * 10 + 3, i * 97);
		edits[i] = edit(paths[i], PUTF, 0600, 12345, paths[i]);
	}
	mem_store_begin(&s);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(des_tree_update(root, edits, 10, mem_store_load, mem_store_put, &s, got, &total, &err), "update: %s", err.message);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double) (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	/* the root, d00 and the 10 directories edited: nothing else */
	CHECK(s.loads == 12, "%zu directories loaded for 10 files in 10 directories, want 12", s.loads);
	CHECK(s.reports == 12, "%zu directories reported, want 12", s.reports);
	CHECK(ms < 100.0, "10 files into 100,000 took %.1f ms", ms);
	printf("tree update: 10 files into 100,000 (100 directories): %zu loads, %.2f ms\n", s.loads, ms);
	/* the same tree as a rebuild with the 10 files changed */
	for (size_t k = 0; k < 100000; k++)
		for (int i = 0; i < 10; i++)
			if (strcmp(it[k].path, paths[i]) == 0)
			{
				it[k].mode = 0600;
				it[k].size = 12345;
				memcpy(it[k].hash, edits[i].hash, 32);
			}
	CHECK(des_tree_build(it, 100000, count_dirs, &dirs, want, &err) && memcmp(want, got, 32) == 0,
		  "the update differs from the rebuild");
	mem_store_free(&s);
	free(it);
	free(names);
}

/* ---- diff ---- */

typedef struct changes
{
	int			n;
	char		text[1024];
} changes;

static bool
record(void *arg, const des_tree_change *c, des_error *err)
{
	changes    *r = arg;
	const des_tree_entry *e = c->new_entry ? c->new_entry : c->old_entry;
	size_t		len = strlen(r->text);

	snprintf(r->text + len, sizeof(r->text) - len, "%s%.*s:%s%s%s%s%s", r->n ? " " : "", (int) e->name_len, e->name,
			 c->flags & DES_TREE_ADDED ? "A" : "", c->flags & DES_TREE_REMOVED ? "R" : "",
			 c->flags & DES_TREE_MODIFIED ? "M" : "", c->flags & DES_TREE_MODE_CHANGED ? "P" : "",
			 c->descend ? "+" : "");
	r->n++;
	return true;
}

static void
test_diff(void)
{
	des_tree_entry o[] = {
		entry("a", 1, 0644, 1, "a"),	/* unchanged */
		entry("b", 1, 0644, 1, "b"),	/* removed */
		entry("c", 1, 0644, 1, "c"),	/* content */
		entry("d", 1, 0644, 1, "d"),	/* mode */
		entry("e", 1, 0644, 1, "e"),	/* both */
		entry("f", 1, 0644, 1, "f"),	/* becomes a directory */
		entry("g", 2, 0755, 9, "g"),	/* subtree changed */
		entry("h", 2, 0755, 9, "h"),	/* subtree same */
		entry("i", 1, 0644, 3, "i"),	/* size only */
	};
	des_tree_entry n[] = {
		entry("a", 1, 0644, 1, "a"),
		entry("aa", 1, 0644, 1, "aa"),	/* added */
		entry("c", 1, 0644, 1, "c2"),
		entry("d", 1, 0755, 1, "d"),
		entry("e", 1, 0600, 2, "e2"),
		entry("f", 2, 0755, 0, "f"),
		entry("g", 2, 0755, 9, "g2"),
		entry("h", 2, 0755, 9, "h"),
		entry("i", 1, 0644, 4, "i"),
		entry("z", 2, 0755, 0, "z"),	/* added at the end */
	};
	des_tree_dir od = {sizeof(o) / sizeof(o[0]), o};
	des_tree_dir nd = {sizeof(n) / sizeof(n[0]), n};
	changes		r = {0};
	des_error	err;

	CHECK(des_tree_dir_diff(&od, &nd, record, &r, &err), "diff");
	CHECK(strcmp(r.text, "aa:A b:R c:M d:P e:MP f:R f:A g:M+ i:M z:A") == 0, "diff: %s", r.text);
	memset(&r, 0, sizeof(r));
	CHECK(des_tree_dir_diff(&od, &od, record, &r, &err) && r.n == 0, "diff with itself: %s", r.text);
	memset(&r, 0, sizeof(r));
	CHECK(des_tree_dir_diff(NULL, &od, record, &r, &err) && r.n == 9 && strncmp(r.text, "a:A b:A", 7) == 0,
		  "diff from nothing: %s", r.text);
	memset(&r, 0, sizeof(r));
	CHECK(des_tree_dir_diff(&nd, NULL, record, &r, &err) && r.n == 10 && strstr(r.text, "z:R") != NULL,
		  "diff to nothing: %s", r.text);
}

/* ---- bundle headers ---- */

static void
bundle_rejects(const char *what, const des_buf *b, const char *want)
{
	des_bundle_header h;
	des_error	err;
	unsigned char *copy = malloc(b->len ? b->len : 1);
	bool		ok;

	memcpy(copy, b->data, b->len);
	ok = des_bundle_decode(copy, b->len, &h, &err);
	CHECK(!ok && strstr(err.message, want) != NULL, "%s: ok=%d \"%s\", want \"%s\"", what, ok,
		  ok ? "" : err.message, want);
	free(copy);
}

static void
test_bundles(void)
{
	unsigned char parents[64];
	des_bundle_header h = {0},
				d;
	des_buf		enc = {0},
				again = {0},
				bad = {0};
	des_error	err;
	char		id[65],
				hex[65];
	unsigned char hash[32];
	size_t		off;

	fill_hash(h.root, "root");
	fill_hash(parents, "parent 1");
	fill_hash(parents + 32, "parent 2");
	h.parent_count = 2;
	h.parents = parents;
	h.author = "alice";
	h.author_len = 5;
	h.time_us = INT64_C(1700000000123456);
	h.message = "Add the 2023 data\n\n\twith a tab";
	h.message_len = strlen(h.message);
	h.chunker.algorithm = 1;
	h.chunker.min_size = 16384;
	h.chunker.avg_size = 65536;
	h.chunker.max_size = 262144;

	CHECK(des_bundle_encode(&h, &enc, &err), "encode: %s", err.message);
	CHECK(enc.len == 5 + 32 + 2 + 64 + 1 + 5 + 8 + 4 + h.message_len + 14, "header is %zu bytes", enc.len);
	write_seed("bundle_two_parents", enc.data, enc.len);
	CHECK(des_bundle_decode(enc.data, enc.len, &d, &err), "decode: %s", err.message);
	CHECK(memcmp(d.root, h.root, 32) == 0 && d.parent_count == 2 && memcmp(d.parents, parents, 64) == 0 &&
		  d.author_len == 5 && memcmp(d.author, "alice", 5) == 0 && d.time_us == h.time_us &&
		  d.message_len == h.message_len && memcmp(d.message, h.message, h.message_len) == 0 &&
		  d.chunker.algorithm == 1 && d.chunker.min_size == 16384 && d.chunker.avg_size == 65536 &&
		  d.chunker.max_size == 262144, "bundle round trip lost a field");
	CHECK(des_bundle_encode(&d, &again, &err) && again.len == enc.len && memcmp(again.data, enc.data, enc.len) == 0,
		  "decode then encode gives other bytes");
	CHECK(des_bundle_id(&h, id, &err), "id: %s", err.message);
	des_tree_hash(enc.data, enc.len, hash);
	des_tree_hex(hash, hex);
	CHECK(strcmp(id, hex) == 0, "id is not the hex hash of the encoding");
	CHECK(strcmp(id, "a48e43a23fd8660cace8f306deddb4bb151a995d940ccdf5447f634559b62a29") == 0,
		  "pinned bundle id changed: %s", id);
	CHECK(des_tree_unhex(id, 64, hash, &err) && (des_tree_hex(hash, hex), strcmp(hex, id) == 0), "unhex");

	/* parent order is significant */
	fill_hash(parents, "parent 2");
	fill_hash(parents + 32, "parent 1");
	CHECK(des_bundle_id(&h, hex, &err) && strcmp(hex, id) != 0, "swapped parents, same id");

	/* a root commit: no parent, empty message, a time before 1970 */
	h.parent_count = 0;
	h.parents = NULL;
	h.message = NULL;
	h.message_len = 0;
	h.time_us = -1;
	again.len = 0;
	CHECK(des_bundle_encode(&h, &again, &err), "root commit: %s", err.message);
	write_seed("bundle_root_commit", again.data, again.len);
	CHECK(des_bundle_decode(again.data, again.len, &d, &err) && d.parent_count == 0 && d.time_us == -1 &&
		  d.message_len == 0, "root commit decodes: %s", err.message);

	/* every truncation, a trailing byte */
	for (size_t n = 0; n < enc.len; n++)
	{
		unsigned char *copy = malloc(n ? n : 1);

		memcpy(copy, enc.data, n);
		CHECK(!des_bundle_decode(copy, n, &d, &err), "bundle cut to %zu accepted", n);
		free(copy);
	}
	des_buf_append(&bad, enc.data, enc.len);
	des_buf_putc(&bad, 0);
	bundle_rejects("trailing byte", &bad, "1 bytes after its end");
	bad.len = 0;
	des_buf_append(&bad, enc.data, enc.len);
	bad.data[4] = 2;
	bundle_rejects("version", &bad, "version 2");
	bad.data[4] = 1;
	bad.data[0] = 'd';
	bundle_rejects("magic", &bad, "magic");
	bad.data[0] = 'D';
	memcpy(bad.data + 39 + 32, bad.data + 39, 32);
	bundle_rejects("same parent twice", &bad, "parent 1 repeats parent 0");
	memcpy(bad.data, enc.data, enc.len);
	bad.data[37] = 65;		/* 65 parents */
	bundle_rejects("65 parents", &bad, "65 parents, more than 64");
	/* author length 0 and the author's 5 bytes cut out: well-formed but for the rule */
	bad.len = 0;
	des_buf_append(&bad, enc.data, 103);
	des_buf_putc(&bad, 0);
	des_buf_append(&bad, enc.data + 109, enc.len - 109);
	bundle_rejects("empty author", &bad, "author is 0 bytes");
	bad.len = 0;
	des_buf_append(&bad, enc.data, enc.len);
	memcpy(bad.data, enc.data, enc.len);
	bad.data[105] = '\n';
	bundle_rejects("author with newline", &bad, "author is not valid UTF-8 without control characters at byte 1");
	memcpy(bad.data, enc.data, enc.len);
	bad.data[121] = 0;		/* in the message */
	bundle_rejects("message with NUL", &bad, "message is not valid UTF-8 without NUL at byte 0");
	memcpy(bad.data, enc.data, enc.len);
	bad.data[122] = 0xff;
	bundle_rejects("message not UTF-8", &bad, "message is not valid UTF-8 without NUL at byte 1");
	memcpy(bad.data, enc.data, enc.len);
	bad.data[117] = 0xff;	/* message length */
	bundle_rejects("message length", &bad, "truncated");
	memcpy(bad.data, enc.data, enc.len);
	bad.data[enc.len - 14] = 0;
	bad.data[enc.len - 13] = 0;
	bundle_rejects("chunker algorithm 0", &bad, "algorithm is 0");
	memcpy(bad.data, enc.data, enc.len);
	bad.data[enc.len - 9] = 0xff;	/* min > avg */
	bundle_rejects("chunker min > avg", &bad, "are not 1 <= min <= avg <= max");

	/* the encoder refuses the same */
	{
		des_bundle_header x = h;

		x.author_len = 0;
		CHECK(!des_bundle_encode(&x, &bad, &err) && err.code == DES_E_INVALID_ARGUMENT, "encode empty author");
		x = h;
		x.chunker.max_size = 1000;
		CHECK(!des_bundle_encode(&x, &bad, &err) && strstr(err.message, "16384/65536/1000"), "encode chunker: %s",
			  err.message);
		x = h;
		x.message_len = DES_BUNDLE_MAX_MESSAGE + 1;
		x.message = "";
		CHECK(!des_bundle_encode(&x, &bad, &err) && strstr(err.message, "more than 1048576"), "encode long message");
	}

	/* id prefixes */
	CHECK(des_bundle_id_prefix_check(id, 8, &off, &err), "8-digit prefix");
	CHECK(des_bundle_id_prefix_check(id, 64, &off, &err), "full id");
	CHECK(!des_bundle_id_prefix_check(id, 7, &off, &err) && off == 7 && strstr(err.message, "7 hex digits"),
		  "7 digits: %s", err.message);
	CHECK(!des_bundle_id_prefix_check("", 0, &off, &err) && off == 0, "empty prefix");
	memcpy(hex, id, 65);
	hex[64] = '0';
	CHECK(!des_bundle_id_prefix_check(hex, 65, &off, &err) && off == 64, "65 digits: offset %zu", off);
	CHECK(!des_bundle_id_prefix_check("0123abcDef", 10, &off, &err) && off == 7 &&
		  strstr(err.message, "lower-case hex digit at byte 7"), "upper case: %s", err.message);
	CHECK(!des_bundle_id_prefix_check("0123g", 5, &off, &err) && off == 4, "g at 4 before the length");
	CHECK(!des_tree_unhex("0123", 4, hash, &err), "unhex of 4 digits");
	memcpy(hex, id, 65);
	hex[10] = 'G';
	CHECK(!des_tree_unhex(hex, 64, hash, &err) && strstr(err.message, "at byte 10"), "unhex G: %s", err.message);

	des_buf_free(&enc);
	des_buf_free(&again);
	des_buf_free(&bad);
}

int
main(void)
{
	test_paths();
	test_directories();
	test_files();
	test_build();
	test_merkle();
	test_large();
	test_update_semantics();
	test_update_errors();
	test_update_entry_limit();
	test_update_random();
	test_update_large();
	test_diff();
	test_bundles();
	if (getenv("DES_TREE_SEED_DIR") != NULL)
		write_seed("path_unicode", "caf\xc3\xa9/\xe6\x96\x87\xe4\xbb\xb6/x.csv",
				   strlen("caf\xc3\xa9/\xe6\x96\x87\xe4\xbb\xb6/x.csv"));
	printf("tree: %d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}
