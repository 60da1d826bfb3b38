/*
 * test_tree.c - the versioning core (include/des/tree/des_tree.h): path
 * rules with their offsets, the directory, chunk-list and bundle-header
 * encodings (round trips, every rejection, pinned hashes so a format change
 * cannot pass unnoticed), the Merkle build and its property, the diff.
 *
 * With DES_TREE_SEED_DIR set, also writes valid encodings there as fuzzing
 * seeds (test/fuzz/seeds/tree/ holds the committed ones).
 */
#include "unit.h"
#include "des/tree/des_tree.h"

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
	test_diff();
	test_bundles();
	if (getenv("DES_TREE_SEED_DIR") != NULL)
		write_seed("path_unicode", "caf\xc3\xa9/\xe6\x96\x87\xe4\xbb\xb6/x.csv",
				   strlen("caf\xc3\xa9/\xe6\x96\x87\xe4\xbb\xb6/x.csv"));
	printf("tree: %d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}
