/*
 * test_core.c - unit tests of the PostgreSQL-free core: JSON meta handling,
 * names, writer/reader round trips, corruption handling, batch planning,
 * and conformance with the reference archives in shared/fixtures/des-v1.
 *
 * Usage: test_core [fixtures-dir]. Prints "core: N passed, N failed[, N skipped]".
 */
#define _GNU_SOURCE
#include "unit.h"
#include "des/format/des_json.h"
#include "des/io/des_local.h"
#include "des/io/des_location.h"
#include "des/format/des_reader.h"
#include "des/format/des_writer.h"

#include <blake2.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int			unit_passed,
			unit_failed;
static int	unit_skipped;
static char tmpdir[256];

static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	unsigned char *buf;
	long		n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n ? n : 1);
	if (fread(buf, 1, n, f) != (size_t) n)
	{
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

static void
sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

static char *
compact(const char *in)
{
	des_buf		b = {0};
	des_error	err;
	unsigned	keys;

	if (!des_json_compact_object(in, strlen(in), &b, &keys, &err))
		return NULL;
	des_buf_putc(&b, 0);
	return (char *) b.data;
}

static void
test_json(void)
{
	struct
	{
		const char *in;
		const char *out;
	}			ok[] = {
		{"{}", "{}"},
		{" { \"a\" : 1 , \"b\":[1, 2,{\"c\":null}] } ", "{\"a\":1,\"b\":[1,2,{\"c\":null}]}"},
		{"{\"opis\": \"\xc5\xbc\xc3\xb3\xc5\x82w\"}", "{\"opis\":\"\\u017c\\u00f3\\u0142w\"}"},
		{"{\"e\":\"\xf0\x9f\x98\x80\"}", "{\"e\":\"\\ud83d\\ude00\"}"},
		{"{\"s\":\"a\\/b\\u0041\\n\\u001f\\u007f\"}", "{\"s\":\"a/bA\\n\\u001f\\u007f\"}"},
		{"{\"n\":-0.5e+10,\"t\":true,\"f\":false}", "{\"n\":-0.5e+10,\"t\":true,\"f\":false}"},
	};
	const char *bad[] = {"{\"a\":\"\\ud800\\uzzzz\"}", "", "[]", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":01}", "{\"a\":1} x",
		"{\"a\":\"\x01\"}", "{\"a\":\"\xc3\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":tru}", "{\"a\":\"\\x\"}",
	"{\"a\":1.}", "{\"a\":\"\\u12\"}", "{'a':1}"};
	char		deep[2000];
	des_buf		b = {0};
	des_error	err;
	unsigned	keys = 0;
	bool		found;
	des_json_span v;
	uint64_t	n;
	char		s[64];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
	{
		char	   *c = compact(ok[i].in);

		CHECK(c && strcmp(c, ok[i].out) == 0, "compact(%s) = %s, want %s", ok[i].in, c ? c : "(null)", ok[i].out);
		free(c);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		b.len = 0;
		CHECK(!des_json_compact_object(bad[i], strlen(bad[i]), &b, &keys, &err) &&
			  err.code == DES_E_INVALID_META && b.len == 0, "bad JSON accepted: %s", bad[i]);
	}
	memset(deep, '[', sizeof(deep));
	memcpy(deep, "{\"a\":", 5);
	b.len = 0;
	CHECK(!des_json_compact_object(deep, sizeof(deep), &b, &keys, &err), "deep nesting accepted");
	b.len = 0;
	CHECK(des_json_compact_object("{\"size\":1,\"x\":{\"blake2b\":1}}", 28, &b, &keys, &err) &&
		  keys == DES_JSON_HAS_SIZE, "keys_found = %u", keys);
	CHECK(des_json_find_key("{\"size\":5,\"size\":7}", 19, "size", &found, &v, &err) && found &&
		  des_json_span_uint64(v, &n) && n == 7, "last key wins");
	CHECK(des_json_find_key("{\"k\":\"x\\u00e9\"}", 15, "k", &found, &v, &err) && found &&
		  des_json_span_string(v, s, sizeof(s), NULL) && strcmp(s, "x\xc3\xa9") == 0, "string decode");
	CHECK(des_json_find_key("{\"k\":1}", 7, "nope", &found, &v, &err) && !found, "absent key");
	CHECK(des_json_find_key("{\"k\":\"a\\ud83d\\ude00\"}", 21, "k", &found, &v, &err) && found &&
		  des_json_span_string(v, s, sizeof(s), NULL) && strcmp(s, "a\xf0\x9f\x98\x80") == 0,
		  "escaped surrogate pair decodes to one code point: %s", s);
	CHECK(des_json_jsonb_compatible("{\"k\":\"\\ud83d\\ude00\"}", 20) &&
		  !des_json_jsonb_compatible("{\"k\":\"\\u0000\"}", 14) &&
		  !des_json_jsonb_compatible("{\"k\":\"\\ud83d\"}", 14) &&
		  !des_json_jsonb_compatible("{\"k\":\"\\ude00x\"}", 15), "jsonb compatibility");
	{
		char	   *c = compact("{\"lone\":\"\\ud83d\",\"pair\":\"\\uD83D\\uDE00\"}");

		CHECK(c && strcmp(c, "{\"lone\":\"\\ud83d\",\"pair\":\"\\ud83d\\ude00\"}") == 0, "surrogates re-emitted: %s", c);
		free(c);
	}
	CHECK(!des_json_span_uint64((des_json_span){"-1", 2}, &n) &&
		  !des_json_span_uint64((des_json_span){"18446744073709551616", 20}, &n) &&
		  des_json_span_uint64((des_json_span){"18446744073709551615", 20}, &n) && n == UINT64_MAX,
		  "uint64 parse bounds");
	des_buf_free(&b);
}

static void
test_names(void)
{
	const char *good[] = {"a", "dir/sub/file.txt", "zażółć", "...", "a..b", ".hidden", "emoji_\xf0\x9f\x98\x80"};
	const char *badn[] = {"", "/abs", "a/../b", "..", ".", "a/./b", "tab\there", "del\x7f", "\xff\xfe", "x/..",
	"trailing/", "a//b"};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(des_name_problem(good[i], strlen(good[i])) == NULL, "good name rejected: %s", good[i]);
	for (size_t i = 0; i < sizeof(badn) / sizeof(badn[0]); i++)
		CHECK(des_name_problem(badn[i], strlen(badn[i])) != NULL, "bad name accepted: %s", badn[i]);
	CHECK(des_name_problem("a\0b", 3) != NULL, "NUL accepted");

	/*
	 * Names are scanned eight bytes at a time for plain printable ASCII: a
	 * byte that is not (control, DEL, 0x80 and up, NUL) must be seen at every
	 * position of a word and of the tail, by both rules.
	 */
	{
		const unsigned char odd[] = {0x00, 0x01, 0x1f, 0x7f, 0x80, 0xc3, 0xff};
		const unsigned char edge[] = {0x20, 0x7e, '~', '!'};

		for (size_t len = 1; len <= 19; len++)
		{
			char		nm[20];

			for (size_t at = 0; at < len; at++)
				for (size_t k = 0; k < sizeof(odd); k++)
				{
					memset(nm, 'n', len);
					nm[at] = (char) odd[k];
					CHECK(des_name_problem(nm, len) != NULL, "byte 0x%02x at %zu of %zu accepted", odd[k], at, len);
					/* the format's own rule allows controls, not NUL or broken UTF-8 */
					CHECK((des_name_problem_reference(nm, len) == NULL) == (odd[k] >= 0x01 && odd[k] <= 0x7f),
						  "reference rule, byte 0x%02x at %zu of %zu", odd[k], at, len);
				}
			for (size_t k = 0; k < sizeof(edge); k++)
			{
				memset(nm, edge[k], len);
				nm[0] = 'e';	/* not a "." component */
				CHECK(des_name_problem(nm, len) == NULL && des_name_problem_reference(nm, len) == NULL,
					  "printable 0x%02x x %zu rejected", edge[k], len);
			}
		}
		CHECK(des_name_problem("a-long-name/./x", 15) != NULL &&
			  des_name_problem("/a-long-name-x", 14) != NULL &&
			  des_name_problem("a-long-name//x", 14) != NULL, "path rules hold for long ASCII names");
	}
	CHECK(des_key_problem("a//b", 4) != NULL && des_key_problem("/x", 2) != NULL &&
		  des_key_problem("p/_bigFiles/x", 13) == NULL, "key rules");
}

static void
test_blake2b(void)
{
	/* RFC 7693 Appendix A: BLAKE2b-512("abc") */
	static const char *want = "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
		"7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923";
	unsigned char d[64];
	char		hex[129];

	blake2b(d, "abc", NULL, 64, 3, 0);
	for (int i = 0; i < 64; i++)
		sprintf(hex + 2 * i, "%02x", d[i]);
	CHECK(strcmp(hex, want) == 0, "BLAKE2b-512(abc) = %s", hex);
}

/* Write entries into path; returns true on success. */
static bool
write_archive(const char *path, const des_writer_options *o, int n, const char **names,
			  const char **data, const char **meta, des_error *err)
{
	des_sink	sink;
	des_writer *w;
	char	   *prefix = des_local_default_prefix(path);
	bool		ok = true;
	des_writer_options oo = *o;

	if (!des_local_sink_open(path, &sink, err))
	{
		free(prefix);
		return false;
	}
	if (oo.external_prefix == NULL)
		oo.external_prefix = prefix;
	ok = des_writer_open(&sink, &oo, &w, err);
	for (int i = 0; ok && i < n; i++)
		ok = des_writer_add(w, names[i], strlen(names[i]), data[i], strlen(data[i]),
							meta ? meta[i] : NULL, meta && meta[i] ? strlen(meta[i]) : 0, false, err);
	if (ok)
		ok = des_writer_finish(w, NULL, err);
	else if (w)
		des_writer_abort(w);
	des_local_sink_free(&sink);
	free(prefix);
	return ok;
}

static bool
open_path(const char *path, des_source *src, des_reader **r, des_error *err)
{
	if (!des_local_source_open(path, src, err))
		return false;
	if (!des_reader_open(src, NULL, r, err))
	{
		des_local_source_close(src);
		return false;
	}
	return true;
}

static void test_corruption(const unsigned char *arch, size_t len);

/* des_reader_stored_blake2b: the digest the writer records, as lowercase hex */
static void
test_stored_blake2b(void)
{
	const char *names[] = {"a"};
	const char *data[] = {"abc"};
	des_writer_options o;
	des_error	err;
	des_source	src;
	des_reader *r;
	char		path[512],
				hex[65],
				want[65];
	unsigned char d[32];
	bool		found;

	blake2b(d, "abc", NULL, 32, 3, 0);
	for (int i = 0; i < 32; i++)
		sprintf(want + 2 * i, "%02x", d[i]);

	des_writer_options_init(&o);
	snprintf(path, sizeof(path), "%s/rt/hashed.des", tmpdir);
	CHECK(write_archive(path, &o, 1, names, data, NULL, &err), "write hashed archive: %s", err.message);
	CHECK(open_path(path, &src, &r, &err), "open hashed archive: %s", err.message);
	CHECK(des_reader_stored_blake2b(r, 0, hex, &found, &err) && found && strcmp(hex, want) == 0,
		  "stored BLAKE2b of \"abc\" is %s", found ? hex : "(none)");
	des_reader_close(r);
	des_local_source_close(&src);

	/* a recorded value that is not 64 characters: patch the last 6 hex digits of the
	 * file into a JSON escape of one character, keeping every offset */
	{
		FILE	   *f = fopen(path, "rb");
		unsigned char *buf = malloc(1 << 16);
		size_t		len = f ? fread(buf, 1, 1 << 16, f) : 0;
		unsigned char *at = NULL;

		if (f)
			fclose(f);
		for (size_t k = 0; k + 64 <= len && at == NULL; k++)
			if (memcmp(buf + k, want, 64) == 0)
				at = buf + k;
		CHECK(at != NULL, "the archive holds the hex digest");
		if (at)
		{
			memcpy(at + 58, "\\u0041", 6);
			des_memory_source(&src, buf, len);
			CHECK(des_reader_open(&src, NULL, &r, &err), "open patched archive: %s", err.message);
			CHECK(!des_reader_stored_blake2b(r, 0, hex, &found, &err) && err.code == DES_E_CORRUPT,
				  "a \"blake2b\" that is not 64 hex digits is corruption (%s)", err.message);
			des_reader_close(r);
		}
		free(buf);
	}

	/* an add that expects a hash: written only when the payload has it */
	{
		des_sink	sink;
		des_writer *w = NULL;
		unsigned char wrong[32];
		des_read_options ro = {true, NULL, NULL};
		des_buf		out = {0};

		memcpy(wrong, d, 32);
		wrong[31] ^= 1;
		snprintf(path, sizeof(path), "%s/rt/verified.des", tmpdir);
		CHECK(des_local_sink_open(path, &sink, &err) && des_writer_open(&sink, &o, &w, &err), "open verified");
		CHECK(!des_writer_add_verified(w, "bad", 3, "abc", 3, NULL, 0, wrong, &err) &&
			  err.code == DES_E_HASH_MISMATCH && strstr(err.message, "\"bad\"") != NULL,
			  "a payload without the expected hash is refused (%s)", err.message);
		CHECK(des_writer_add_verified(w, "good", 4, "abc", 3, "{\"k\":1}", 7, d, &err), "expected hash: %s", err.message);
		CHECK(des_writer_add_verified(w, "bad", 3, "abc", 3, NULL, 0, d, &err), "the refused name is still free: %s",
			  err.message);
		CHECK(des_writer_finish(w, NULL, &err), "finish verified: %s", err.message);
		des_local_sink_free(&sink);
		CHECK(open_path(path, &src, &r, &err), "open verified archive: %s", err.message);
		CHECK(des_reader_count(r) == 2 && des_reader_find(r, "good", 4) == 0, "only the accepted entries");
		CHECK(des_reader_stored_blake2b(r, 0, hex, &found, &err) && found && strcmp(hex, want) == 0,
			  "the verified entry records its BLAKE2b");
		CHECK(des_reader_get(r, 0, &ro, &out, &err) && out.len == 3 && memcmp(out.data, "abc", 3) == 0,
			  "the verified entry reads back (hash checked): %s", err.message);
		des_buf_free(&out);
		des_reader_close(r);
		des_local_source_close(&src);
	}

	o.blake2b = false;
	snprintf(path, sizeof(path), "%s/rt/unhashed.des", tmpdir);
	CHECK(write_archive(path, &o, 1, names, data, NULL, &err), "write unhashed archive: %s", err.message);
	CHECK(open_path(path, &src, &r, &err), "open unhashed archive: %s", err.message);
	CHECK(des_reader_stored_blake2b(r, 0, hex, &found, &err) && !found, "no stored BLAKE2b without hashing");
	des_reader_close(r);
	des_local_source_close(&src);
}

/* des_writer_last_entry reports what the reader finds in the index */
static void
test_last_entry(void)
{
	des_writer_options o;
	des_error	err;
	des_sink	sink;
	des_writer *w = NULL;
	des_source	src;
	des_reader *r;
	des_writer_entry got[3],
				zero;
	char		path[512];
	unsigned char zeros[1000] = {0};
	unsigned char big[200];
	const char *names[3] = {"z", "e", "p"};

	memset(big, 'b', sizeof(big));
	des_writer_options_init(&o);
	o.lz4 = true;
	o.external_threshold = 100;
	snprintf(path, sizeof(path), "%s/rt/last.des", tmpdir);
	CHECK(des_local_sink_open(path, &sink, &err) && des_writer_open(&sink, &o, &w, &err), "open: %s", err.message);
	des_writer_last_entry(w, &zero);
	CHECK(zero.data_offset == 0 && zero.length == 0 && zero.flags == 0, "zeros before the first entry");
	CHECK(des_writer_add(w, "z", 1, zeros, 50, NULL, 0, false, &err), "add z: %s", err.message);
	des_writer_last_entry(w, &got[0]);
	CHECK(des_writer_add(w, "e", 1, big, sizeof(big), NULL, 0, false, &err), "add e: %s", err.message);
	des_writer_last_entry(w, &got[1]);
	CHECK(!des_writer_add(w, "e", 1, "x", 1, NULL, 0, false, &err), "duplicate refused");
	CHECK(des_writer_add(w, "p", 1, "plain", 5, NULL, 0, false, &err), "add p: %s", err.message);
	des_writer_last_entry(w, &got[2]);
	CHECK(des_writer_finish(w, NULL, &err), "finish: %s", err.message);
	des_local_sink_free(&sink);
	CHECK(got[0].flags == DES_FLAG_COMPRESSED && got[1].flags == DES_FLAG_EXTERNAL && got[2].flags == 0,
		  "flags: compressed, external, plain");
	CHECK(open_path(path, &src, &r, &err), "open last.des: %s", err.message);
	if (unit_failed)
		return;
	for (int i = 0; i < 3; i++)
	{
		const des_entry *e = des_reader_entry(r, (uint64_t) des_reader_find(r, names[i], 1));

		CHECK(e->data_offset == got[i].data_offset && e->data_length == got[i].length && e->flags == got[i].flags,
			  "entry %s: writer said (%llu, %llu, %u), the index has (%llu, %llu, %u)", names[i],
			  (unsigned long long) got[i].data_offset, (unsigned long long) got[i].length, got[i].flags,
			  (unsigned long long) e->data_offset, (unsigned long long) e->data_length, e->flags);
	}
	des_reader_close(r);
	des_local_source_close(&src);
}

static void
test_roundtrip(void)
{
	char		path[512];
	const char *names[] = {"a.txt", "dir/b.bin", "empty", "big", "z\xc3\xa9", "big_\xf0\x9f\x98\x80/e"};
	char		bigbuf[5000];
	const char *data[6] = {"hello", "world!!", "", bigbuf, "unicode", bigbuf};
	const char *meta[] = {"{\"k\": 1}", NULL, "{}", "{\"size\":4999}", "{\"t\":\"\xc3\xa9\"}", NULL};
	des_writer_options o;
	des_error	err;
	des_source	src;
	des_reader *r;
	des_buf		out = {0};
	des_external_resolver res;
	des_read_options ro = {true, NULL, NULL};
	struct stat st;

	memset(bigbuf, 'x', sizeof(bigbuf) - 1);
	bigbuf[sizeof(bigbuf) - 1] = 0;
	snprintf(path, sizeof(path), "%s/rt/one.des", tmpdir);
	des_writer_options_init(&o);
	o.lz4 = true;
	o.external_threshold = 4000;
	CHECK(write_archive(path, &o, 6, names, data, meta, &err), "write: %s", err.message);
	CHECK(open_path(path, &src, &r, &err), "open: %s", err.message);
	if (unit_failed)
		return;
	ro.external = des_local_resolver(&res, path);
	CHECK(des_reader_count(r) == 6, "count");
	for (int i = 0; i < 6; i++)
	{
		int64_t		k = des_reader_find(r, names[i], strlen(names[i]));

		CHECK(k == i, "find %s -> %lld", names[i], (long long) k);
		CHECK(des_reader_get(r, k, &ro, &out, &err) && out.len == strlen(data[i]) &&
			  memcmp(out.data, data[i], out.len) == 0, "payload of %s: %s", names[i], err.message);
	}
	CHECK(des_reader_find(r, "nope", 4) == -1, "absent name");
	{
		/* every truncation and bit flip of an archive with LZ4, hashes and meta */
		size_t		n;
		unsigned char *bytes = slurp(path, &n);

		CHECK(bytes != NULL, "slurp own archive");
		if (bytes)
			test_corruption(bytes, n);
		free(bytes);
	}
	CHECK(des_reader_entry(r, 3)->flags == DES_FLAG_EXTERNAL, "big is external");
	{
		const char *m;
		size_t		ml;

		CHECK(des_reader_meta(r, 3, &m, &ml, &err) &&
			  strncmp(m, "{\"size\":4999,\"is_external\":true,\"external_key\":\"rt/one/_bigFiles/big\",\"blake2b\":\"", 81) == 0,
			  "external meta %.*s", (int) ml, m);
		CHECK(des_reader_meta(r, 4, &m, &ml, &err) && strncmp(m, "{\"t\":\"\\u00e9\",\"size\":7,", 22) == 0,
			  "escaped meta %.*s", (int) ml, m);
	}
	snprintf(path, sizeof(path), "%s/rt/one/_bigFiles/big", tmpdir);
	CHECK(stat(path, &st) == 0 && st.st_size == 4999, "external file written");
	des_reader_close(r);
	des_local_source_close(&src);

	/* compression actually happened and is flagged */
	{
		char		zpath[512];
		char		zeros[100000];
		const char *zn[] = {"zeros"};
		const char *zd[] = {zeros};
		uint64_t	psize;

		memset(zeros, 'z', sizeof(zeros) - 1);
		zeros[sizeof(zeros) - 1] = 0;
		snprintf(zpath, sizeof(zpath), "%s/rt/z.des", tmpdir);
		o.external_threshold = 0;
		CHECK(write_archive(zpath, &o, 1, zn, zd, NULL, &err), "write z: %s", err.message);
		CHECK(open_path(zpath, &src, &r, &err), "open z: %s", err.message);
		CHECK(des_reader_entry(r, 0)->flags == DES_FLAG_COMPRESSED &&
			  des_reader_entry(r, 0)->data_length < 1000, "lz4 flagged and small");
		CHECK(des_reader_payload_size(r, 0, &psize, &err) && psize == sizeof(zeros) - 1, "payload size");
		CHECK(des_reader_get(r, 0, &ro, &out, &err) && out.len == sizeof(zeros) - 1 &&
			  memcmp(out.data, zeros, out.len) == 0, "lz4 roundtrip: %s", err.message);
		des_reader_close(r);
		des_local_source_close(&src);
	}

	/* writer rejections */
	{
		des_sink	sink;
		des_writer *w;
		char		p2[512];

		snprintf(p2, sizeof(p2), "%s/rt/rej.des", tmpdir);
		CHECK(des_local_sink_open(p2, &sink, &err), "sink");
		CHECK(des_writer_open(&sink, &o, &w, &err), "open");
		CHECK(des_writer_add(w, "x", 1, "1", 1, NULL, 0, false, &err), "add x");
		CHECK(!des_writer_add(w, "x", 1, "2", 1, NULL, 0, false, &err) && err.code == DES_E_DUPLICATE_NAME,
			  "duplicate rejected");
		CHECK(!des_writer_add(w, "../x", 4, "2", 1, NULL, 0, false, &err) && err.code == DES_E_INVALID_NAME,
			  "bad name rejected");
		CHECK(!des_writer_add(w, "bad\xc3", 4, "2", 1, NULL, 0, false, &err) && err.code == DES_E_INVALID_NAME,
			  "invalid UTF-8 rejected");
		CHECK(!des_writer_add(w, "y", 1, "2", 1, "[1]", 3, false, &err) && err.code == DES_E_INVALID_META,
			  "non-object meta rejected");
		CHECK(!des_writer_add(w, "y", 1, "2", 1, "{\"blake2b\":\"00\"}", 16, false, &err) &&
			  err.code == DES_E_INVALID_META, "reserved key rejected");
		CHECK(!des_writer_add(w, "y", 1, "2", 1, "{\"size\":2}", 10, false, &err) &&
			  err.code == DES_E_INVALID_META, "wrong caller size rejected");
		CHECK(des_writer_add(w, "sized", 5, "2", 1, "{\"size\":1}", 10, false, &err), "right caller size kept");
		CHECK(des_writer_add(w, "y", 1, "2", 1, NULL, 0, false, &err), "add after rejections");
		CHECK(des_writer_add(w, "forced", 6, "3", 1, NULL, 0, true, &err), "add forced external");
		des_writer_abort(w);
		des_local_sink_free(&sink);
		o.names = DES_NAMES_REFERENCE;
		CHECK(des_local_sink_open(p2, &sink, &err) && des_writer_open(&sink, &o, &w, &err), "reopen");
		o.names = DES_NAMES_STRICT;
		CHECK(des_writer_add(w, "..", 2, "3", 1, NULL, 0, false, &err) &&
			  des_writer_add(w, "tab\there", 8, "3", 1, NULL, 0, false, &err),
			  "reference policy accepts . and control characters");
		CHECK(!des_writer_add(w, "../up", 5, "3", 1, NULL, 0, true, &err) && err.code == DES_E_INVALID_NAME,
			  "external names stay strict under the reference policy");
		des_writer_abort(w);
		des_local_sink_free(&sink);
		CHECK(access(p2, F_OK) != 0, "aborted archive not visible");
		/*
		 * Duplicates among many names: the writer checks a name against a
		 * Bloom filter and keeps the exact table up to date only in batches,
		 * so a repeat must be caught whether its first copy is in the table,
		 * only in the batch not inserted yet, or from before the filter grew.
		 */
		{
			enum {N = 200000};
			char		nm[64];
			uint64_t	rejected = 0;
			des_writer_summary sum;
			des_reader *dr;
			des_source	ds;

			CHECK(des_local_sink_open(p2, &sink, &err) && des_writer_open(&sink, &o, &w, &err), "open many");
			for (uint64_t i = 0; i < N; i++)
			{
				int			len = snprintf(nm, sizeof(nm), "many/%06llu", (unsigned long long) i);

				if (!des_writer_add(w, nm, (size_t) len, "p", 1, NULL, 0, false, &err))
				{
					CHECK(false, "add %s: %s", nm, err.message);
					break;
				}
				/* the one just added, one a few back, one from the start, one half-way */
				if (i % 997 == 5)
				{
					uint64_t	again[4] = {i, i - 3, 0, i / 2};

					for (int k = 0; k < 4; k++)
					{
						len = snprintf(nm, sizeof(nm), "many/%06llu", (unsigned long long) again[k]);
						if (!des_writer_add(w, nm, (size_t) len, "q", 1, NULL, 0, false, &err) &&
							err.code == DES_E_DUPLICATE_NAME)
							rejected++;
					}
				}
			}
			CHECK(rejected == 4 * (uint64_t) ((N - 5 + 996) / 997), "every repeat rejected (%llu)",
				  (unsigned long long) rejected);
			CHECK(des_writer_finish(w, &sum, &err) && sum.entries == N, "many: %llu entries",
				  (unsigned long long) sum.entries);
			des_local_sink_free(&sink);
			if (!open_path(p2, &ds, &dr, &err))
				CHECK(false, "open many: %s", err.message);
			else
			{
				uint64_t	found = 0;

				for (uint64_t i = 0; i < N; i += 101)
				{
					int			len = snprintf(nm, sizeof(nm), "many/%06llu", (unsigned long long) i);
					int64_t		ix = des_reader_find(dr, nm, (size_t) len);

					found += ix >= 0;
				}
				CHECK(found == (N + 100) / 101, "names read back (%llu)", (unsigned long long) found);
				des_reader_close(dr);
				des_local_source_close(&ds);
			}
			unlink(p2);
		}
		{
			DIR		   *d;
			struct dirent *de;
			int			leftovers = 0;
			char		p3[512];

			snprintf(p3, sizeof(p3), "%s/rt", tmpdir);
			d = opendir(p3);
			while (d && (de = readdir(d)) != NULL)
				if (strstr(de->d_name, ".tmp.") || strncmp(de->d_name, "rej", 3) == 0)
					leftovers++;
			if (d)
				closedir(d);
			snprintf(p3, sizeof(p3), "%s/rt/_bigFiles/forced", tmpdir);
			CHECK(leftovers == 0 && access(p3, F_OK) != 0, "abort left %d files", leftovers);
		}
	}

	/* many entries: table growth, find all, batch plan */
	{
		char		mpath[512];
		des_sink	sink;
		des_writer *w;
		char		nm[32];
		uint64_t	idx[5000];
		des_batch_plan plan;
		des_writer_options plain;

		des_writer_options_init(&plain);
		plain.blake2b = false;
		snprintf(mpath, sizeof(mpath), "%s/rt/many.des", tmpdir);
		CHECK(des_local_sink_open(mpath, &sink, &err) && des_writer_open(&sink, &plain, &w, &err), "open many");
		for (int i = 0; i < 5000; i++)
		{
			snprintf(nm, sizeof(nm), "n%05d", i);
			if (!des_writer_add(w, nm, strlen(nm), nm, i % 7 == 0 ? 0 : strlen(nm), NULL, 0, false, &err))
				break;
		}
		CHECK(des_writer_finish(w, NULL, &err), "finish many: %s", err.message);
		des_local_sink_free(&sink);
		CHECK(open_path(mpath, &src, &r, &err), "open many");
		for (int i = 0; i < 5000; i++)
		{
			snprintf(nm, sizeof(nm), "n%05d", i);
			idx[i] = (uint64_t) des_reader_find(r, nm, strlen(nm));
			if (idx[i] != (uint64_t) i)
			{
				CHECK(false, "find %s", nm);
				break;
			}
		}
		/* every third entry, reversed: gaps of 2 entries (12 bytes) */
		{
			uint64_t	sel[2000];
			size_t		ns = 0;

			for (int i = 4999; i >= 0; i -= 3)
				sel[ns++] = i;
			CHECK(des_reader_plan_batch(r, sel, ns, 64, 1 << 20, &plan, &err), "plan");
			CHECK(plan.nranges == 1 && plan.nentries + plan.ndirect == ns, "small gaps coalesce into 1 range (%zu)", plan.nranges);
			des_batch_plan_free(&plan);
			CHECK(des_reader_plan_batch(r, sel, ns, 0, 1 << 20, &plan, &err), "plan");
			CHECK(plan.nranges == plan.nentries, "gap 0: one range per entry (%zu vs %zu)", plan.nranges, plan.nentries);
			des_batch_plan_free(&plan);
			CHECK(des_reader_plan_batch(r, idx, 5000, 0, 1 << 20, &plan, &err), "plan");
			CHECK(plan.nranges == 1 && plan.ndirect == 715, "adjacent entries: 1 range, 715 empty direct (%zu, %zu)",
				  plan.nranges, plan.ndirect);
			des_batch_plan_free(&plan);
			CHECK(des_reader_plan_batch(r, idx, 5000, 0, 600, &plan, &err), "plan");
			CHECK(plan.nranges > 40, "max_span splits ranges (%zu)", plan.nranges);
			for (size_t k = 0; k < plan.nranges; k++)
				if (plan.ranges[k].length > 600)
					CHECK(false, "range over span");
			des_batch_plan_free(&plan);
		}
		des_reader_close(r);
		des_local_source_close(&src);
	}
	des_buf_free(&out);
}

static void
test_resolve(void)
{
	struct
	{
		const char *archive;
		const char *key;
		const char *want;
	}			cases[] = {
		/* the fixture: prefix = the archive's folder */
		{"/f/des-v1/ext/big_external.des", "ext/_bigFiles/big.bin", "/f/des-v1/ext/_bigFiles/big.bin"},
		/* our default: one folder per archive */
		{"/data/day/00.des", "day/00/_bigFiles/x", "/data/day/00/_bigFiles/x"},
		/* a multi-level prefix ending in the directory */
		{"/data/photos/2025-01-01/00.des", "photos/2025-01-01/_bigFiles/x", "/data/photos/2025-01-01/_bigFiles/x"},
		/* a tree copied from a bucket prefix: the key's leading part is unknown here */
		{"/backup/2025-01-01/00.des", "photos/2025-01-01/00/_bigFiles/sub/x", "/backup/2025-01-01/00/_bigFiles/sub/x"},
		/* an unrelated prefix: _bigFiles beside the archive */
		{"/data/day/a.des", "elsewhere/deep/_bigFiles/sub/x", "/data/day/_bigFiles/sub/x"},
		{"/data/a.des", "_bigFiles/x", "/data/_bigFiles/x"},
		/* no _bigFiles component: relative to the directory */
		{"/data/day/a.des", "x/my_bigFiles/y", "/data/day/x/my_bigFiles/y"},
		/* a tail only matches whole components */
		{"/data/day/a.des", "today/_bigFiles/y", "/data/day/_bigFiles/y"},
		/* the entry name part of the key never matches the directory */
		{"/srv/des/2024-06-01/00.des", "des/2024-06-01/00/_bigFiles/des/2024-06-01/00.des",
		"/srv/des/2024-06-01/00/_bigFiles/des/2024-06-01/00.des"},
		{"/srv/des/2024-06-01/00.des", "other/_bigFiles/des/2024-06-01/x", "/srv/des/2024-06-01/_bigFiles/des/2024-06-01/x"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char	   *p = des_local_resolve_external(cases[i].archive, cases[i].key);

		CHECK(p && strcmp(p, cases[i].want) == 0, "resolve(%s, %s) = %s, want %s",
			  cases[i].archive, cases[i].key, p ? p : "(null)", cases[i].want);
		free(p);
	}
	{
		char	   *a = des_local_default_prefix("/data/day/00.des");
		char	   *b = des_local_default_prefix("/data/day/raw");
		char	   *c = des_local_default_prefix("/top.des");

		CHECK(strcmp(a, "day/00") == 0 && strcmp(b, "day/raw.d") == 0 && strcmp(c, "top") == 0,
			  "default prefixes %s %s %s", a, b, c);
		free(a);
		free(b);
		free(c);
	}
}

/* ---- corruption ---- */

static des_error_code
open_mem(const unsigned char *buf, size_t len, bool read_all)
{
	des_source	src;
	des_reader *r;
	des_error	err;
	des_buf		out = {0};
	des_read_options ro = {true, NULL, NULL};

	des_memory_source(&src, buf, len);
	if (!des_reader_open(&src, NULL, &r, &err))
		return err.code;
	if (read_all)
		for (uint64_t i = 0; i < des_reader_count(r); i++)
			(void) des_reader_get(r, i, &ro, &out, &err);
	des_buf_free(&out);
	des_reader_close(r);
	return DES_OK;
}

static void
test_corruption(const unsigned char *arch, size_t len)
{
	unsigned char *b = malloc(len + 1);
	int			crashes_would_show_here = 0;

	CHECK(open_mem(arch, len, true) == DES_OK, "pristine archive opens");
	CHECK(open_mem(arch, 0, false) == DES_E_CORRUPT, "zero-length");
	/* every truncation */
	for (size_t n = 0; n < len; n++)
	{
		des_error_code c = open_mem(arch, n, true);

		if (c == DES_OK)
		{
			CHECK(false, "truncated to %zu bytes still opens", n);
			break;
		}
	}
	/* wrong magics */
	memcpy(b, arch, len);
	b[0] ^= 0x20;
	CHECK(open_mem(b, len, false) == DES_E_BAD_MAGIC, "header magic");
	memcpy(b, arch, len);
	b[len - 72] = 'X';
	CHECK(open_mem(b, len, false) == DES_E_BAD_MAGIC, "footer magic");
	memcpy(b, arch, len);
	b[len - 64] = 2;
	CHECK(open_mem(b, len, false) == DES_E_UNSUPPORTED, "footer version");
	/* huge count */
	memcpy(b, arch, len);
	des_put_u64(b + len - 8, UINT64_MAX / 2);
	CHECK(open_mem(b, len, false) == DES_E_CORRUPT, "huge file_count");
	/* overlapping regions: meta starts inside data */
	memcpy(b, arch, len);
	if (des_get_u64(b + len - 72 + 24) > 0)
	{
		des_put_u64(b + len - 72 + 32, des_get_u64(b + len - 72 + 32) - 1);
		CHECK(open_mem(b, len, false) == DES_E_CORRUPT, "overlapping regions");
	}
	/* index region pointing past the end */
	memcpy(b, arch, len);
	des_put_u64(b + len - 72 + 56, UINT64_MAX - 5);
	CHECK(open_mem(b, len, false) == DES_E_CORRUPT, "index length overflow");
	/* every single-bit flip in footer and index, every byte elsewhere: never a crash */
	for (size_t pos = 0; pos < len; pos++)
	{
		int			bits = (pos >= len - 72 || pos >= des_get_u64(arch + len - 72 + 48)) ? 8 : 1;

		for (int bit = 0; bit < bits; bit++)
		{
			memcpy(b, arch, len);
			b[pos] ^= (unsigned char) (1 << bit);
			(void) open_mem(b, len, true);
		}
	}
	CHECK(crashes_would_show_here == 0, "bit flips survived");
	free(b);
}

/* ---- fixture conformance ---- */

static const char *
jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static uint64_t
jint(json_t *o, const char *k)
{
	return (uint64_t) json_integer_value(json_object_get(o, k));
}

static void
test_fixture_archive(const char *fixdir, json_t *a)
{
	char		path[1024],
				outpath[1024],
				hex[65];
	des_source	src;
	des_reader *r;
	des_error	err;
	json_t	   *entries = json_object_get(a, "entries");
	json_t	   *footer = json_object_get(a, "footer");
	json_t	   *wargs = json_object_get(a, "writer_args");
	des_external_resolver res;
	des_read_options ro = {true, NULL, NULL};
	des_buf		out = {0};
	size_t		i;
	json_t	   *e;
	const char *file = jstr(a, "file");

	snprintf(path, sizeof(path), "%s/%s", fixdir, file);
	if (!open_path(path, &src, &r, &err))
	{
		CHECK(false, "%s: open: %s", file, err.message);
		return;
	}
	ro.external = des_local_resolver(&res, path);
	{
		const des_footer *f = des_reader_footer(r);

		CHECK(f->data_start == jint(footer, "data_start") && f->data_length == jint(footer, "data_length") &&
			  f->meta_start == jint(footer, "meta_start") && f->meta_length == jint(footer, "meta_length") &&
			  f->index_start == jint(footer, "index_start") && f->index_length == jint(footer, "index_length") &&
			  f->file_count == jint(footer, "file_count"), "%s: footer fields", file);
	}
	CHECK(des_reader_count(r) == json_array_size(entries), "%s: count", file);
	json_array_foreach(entries, i, e)
	{
		const char *name = jstr(e, "name");
		int64_t		k = des_reader_find(r, name, strlen(name));
		const des_entry *de;
		const char *m;
		size_t		ml;

		if (k != (int64_t) i)
		{
			CHECK(false, "%s: find %s -> %lld", file, name, (long long) k);
			continue;
		}
		de = des_reader_entry(r, k);
		CHECK(de->data_offset == jint(e, "data_offset") && de->data_length == jint(e, "data_length") &&
			  de->meta_offset == jint(e, "meta_offset") && de->meta_length == jint(e, "meta_length") &&
			  de->flags == jint(e, "flags"), "%s/%s: index fields", file, name);
		CHECK(des_reader_meta(r, k, &m, &ml, &err) && ml == strlen(jstr(e, "meta_json")) &&
			  memcmp(m, jstr(e, "meta_json"), ml) == 0, "%s/%s: stored meta", file, name);
		CHECK(des_reader_get(r, k, &ro, &out, &err), "%s/%s: read: %s", file, name, err.message);
		sha256_hex(out.data, out.len, hex);
		CHECK(out.len == jint(e, "size") && strcmp(hex, jstr(e, "sha256")) == 0, "%s/%s: payload sha256", file, name);
	}

	/* rewrite with the same inputs, hashing off: byte-identical */
	{
		des_sink	sink;
		des_writer *w;
		des_writer_options o;
		const char *prefix = jstr(wargs, "s3_prefix");
		char		root[1024];
		bool		ok;

		snprintf(outpath, sizeof(outpath), "%s/conf/%s", tmpdir, file);
		snprintf(root, sizeof(root), "%s/conf", tmpdir);
		des_writer_options_init(&o);
		o.blake2b = false;
		o.names = DES_NAMES_REFERENCE;
		o.external_threshold = jint(wargs, "big_file_threshold");
		o.external_prefix = prefix;
		ok = des_local_sink_open(outpath, &sink, &err) && des_writer_open(&sink, &o, &w, &err);
		CHECK(ok, "%s: open writer: %s", file, err.message);
		json_array_foreach(entries, i, e)
		{
			json_t	   *min = json_object_get(e, "meta_in");
			char	   *mtext = json_is_null(min) ? NULL : json_dumps(min, JSON_COMPACT | JSON_PRESERVE_ORDER);
			const char *name = jstr(e, "name");

			ok = ok && des_reader_get(r, i, &ro, &out, &err) &&
				des_writer_add(w, name, strlen(name), out.data, out.len, mtext, mtext ? strlen(mtext) : 0,
							   json_is_true(json_object_get(e, "force_external")), &err);
			free(mtext);
		}
		if (ok)
			CHECK(des_writer_finish(w, NULL, &err), "%s: rewrite: %s", file, err.message);
		else
		{
			CHECK(false, "%s: rewrite: %s", file, err.message);
			des_writer_abort(w);
		}
		des_local_sink_free(&sink);
		{
			size_t		n;
			unsigned char *bytes = slurp(outpath, &n);

			if (bytes)
				sha256_hex(bytes, n, hex);
			CHECK(bytes && n == jint(a, "archive_size") && strcmp(hex, jstr(a, "archive_sha256")) == 0,
				  "%s: rewritten archive is byte-identical", file);
			if (bytes && n < 4096)
				test_corruption(bytes, n);
			free(bytes);
		}
		/* externals written to the same keys with the same bytes */
		json_array_foreach(json_object_get(a, "external_puts"), i, e)
		{
			char		p1[2100],
						p2[2100];
			size_t		n1 = 0,
						n2 = 0;
			unsigned char *b1,
					   *b2;

			snprintf(p1, sizeof(p1), "%s/%s", fixdir, jstr(e, "key"));
			snprintf(p2, sizeof(p2), "%s/%s", root, jstr(e, "key"));
			b1 = slurp(p1, &n1);
			b2 = slurp(p2, &n2);
			CHECK(b1 && b2 && n1 == n2 && memcmp(b1, b2, n1) == 0, "%s: external %s", file, jstr(e, "key"));
			free(b1);
			free(b2);
		}
	}
	/* verify reports everything ok on reference archives */
	des_buf_free(&out);
	des_reader_close(r);
	des_local_source_close(&src);
}

static void
test_fixtures(const char *fixdir)
{
	char		mpath[1024];
	json_t	   *m;
	json_error_t jerr;
	const char *key;
	json_t	   *a;

	snprintf(mpath, sizeof(mpath), "%s/manifest.json", fixdir);
	if (access(mpath, R_OK) != 0)
	{
		printf("SKIPPED: fixture conformance: %s not found (the shared fixtures are missing)\n", mpath);
		unit_skipped++;
		return;
	}
	m = json_load_file(mpath, 0, &jerr);
	CHECK(m != NULL, "manifest parse: %s", jerr.text);
	if (!m)
		return;
	json_object_foreach(json_object_get(m, "archives"), key, a)
		test_fixture_archive(fixdir, a);
	json_decref(m);
}

/* The location grammar: what each form parses to, and where each refusal points. */
static void
check_bad_location(const char *in, bool allow_prefix, des_location_status want, size_t want_pos)
{
	des_location loc;
	bool		ok = des_location_parse(in, allow_prefix, &loc);

	CHECK(!ok && loc.status == want && loc.error_pos == want_pos &&
		  loc.path == NULL && loc.bucket == NULL && loc.key == NULL && loc.message[0] != '\0',
		  "location \"%.60s\" (prefix %d): status %d at %zu (%s), want %d at %zu",
		  in, allow_prefix, (int) loc.status, loc.error_pos, loc.message, (int) want, want_pos);
	if (ok)
		des_location_free(&loc);
}

static void
check_local_location(const char *in, bool allow_prefix, const char *want_path, bool want_prefix)
{
	des_location loc;
	bool		ok = des_location_parse(in, allow_prefix, &loc);

	CHECK(ok && loc.kind == DES_LOC_LOCAL && strcmp(loc.path, want_path) == 0 && loc.is_prefix == want_prefix &&
		  loc.bucket == NULL && loc.key == NULL,
		  "location \"%s\": ok %d path %s (%s)", in, ok, ok ? loc.path : "-", loc.message);
	if (ok)
		des_location_free(&loc);
}

static void
check_s3_location(const char *in, bool allow_prefix, const char *want_bucket, const char *want_key, bool want_prefix)
{
	des_location loc;
	bool		ok = des_location_parse(in, allow_prefix, &loc);

	CHECK(ok && loc.kind == DES_LOC_S3 && strcmp(loc.bucket, want_bucket) == 0 &&
		  strcmp(loc.key, want_key) == 0 && loc.is_prefix == want_prefix && loc.path == NULL,
		  "location \"%s\": ok %d bucket %s key %s (%s)", in, ok, ok ? loc.bucket : "-", ok ? loc.key : "-", loc.message);
	if (ok)
		des_location_free(&loc);
}

static void
test_location(void)
{
	char		longkey[1100];
	char		longbucket[300];
	des_endpoint ep;

	check_local_location("/abs/path.des", false, "/abs/path.des", false);
	check_local_location("/", true, "/", true);
	check_local_location("/data/in/", true, "/data/in/", true);
	check_local_location("file:/tmp/a.des", false, "/tmp/a.des", false);
	check_local_location("file:///tmp/a%20b%2Fc.des", false, "/tmp/a b/c.des", false);
	check_local_location("FILE://LocalHost/tmp/x.des", false, "/tmp/x.des", false);
	check_local_location("file://localhost/", true, "/", true);
	check_local_location("/tmp/%zz.des", false, "/tmp/%zz.des", false); /* plain paths are not decoded */
	check_s3_location("s3://bucket/key", false, "bucket", "key", false);
	check_s3_location("S3://My-Bucket_1.x/a/b/c.des", false, "My-Bucket_1.x", "a/b/c.des", false);
	check_s3_location("s3://bucket/prefix/", true, "bucket", "prefix/", true);
	check_s3_location("s3://bucket/", true, "bucket", "", true);
	check_s3_location("s3://bucket", true, "bucket", "", true);
	check_s3_location("s3://b/with%20percent", false, "b", "with%20percent", false);	/* keys are verbatim */

	check_bad_location("", false, DES_LOC_EMPTY, 0);
	check_bad_location("", true, DES_LOC_EMPTY, 0);
	check_bad_location("relative/a.des", false, DES_LOC_RELATIVE, 0);
	check_bad_location("a", true, DES_LOC_RELATIVE, 0);
	check_bad_location("http://example.invalid/a.des", false, DES_LOC_BAD_SCHEME, 4);
	check_bad_location("/abs/odd://name", false, DES_LOC_BAD_SCHEME, 8);
	check_bad_location("file://otherhost/a.des", false, DES_LOC_FILE_NOT_ABSOLUTE, 7);
	check_bad_location("file:relative", false, DES_LOC_FILE_NOT_ABSOLUTE, 5);
	check_bad_location("file://localhostx/a", false, DES_LOC_FILE_NOT_ABSOLUTE, 7);
	check_bad_location("file:///tmp/%zz.des", false, DES_LOC_BAD_PERCENT, 12);
	check_bad_location("file:///tmp/a%2", false, DES_LOC_BAD_PERCENT, 13);
	check_bad_location("file:///tmp/a%", false, DES_LOC_BAD_PERCENT, 13);
	check_bad_location("file:///tmp/a%00b", false, DES_LOC_BAD_PERCENT, 13);
	check_bad_location("file:///tmp/", false, DES_LOC_DIRECTORY, 11);
	check_bad_location("file:///tmp%2F", false, DES_LOC_DIRECTORY, 13);
	check_bad_location("/tmp/", false, DES_LOC_DIRECTORY, 4);
	check_bad_location("s3:///key.des", false, DES_LOC_BAD_BUCKET, 5);
	check_bad_location("s3://", true, DES_LOC_BAD_BUCKET, 5);
	check_bad_location("s3://bad bucket/k", false, DES_LOC_BAD_BUCKET, 8);
	check_bad_location("s3://pgdes-test/", false, DES_LOC_BUCKET_ONLY, 16);
	check_bad_location("s3://pgdes-test", false, DES_LOC_BUCKET_ONLY, 15);
	check_bad_location("s3://b/dir/", false, DES_LOC_S3_PREFIX, 10);
	memset(longbucket, 'b', sizeof(longbucket));
	memcpy(longbucket, "s3://", 5);
	longbucket[5 + 256] = '\0';
	check_bad_location(longbucket, true, DES_LOC_BAD_BUCKET, 5 + 255);
	longbucket[5 + 255] = '\0';
	check_s3_location(longbucket, true, longbucket + 5, "", true);
	memset(longkey, 'k', sizeof(longkey));
	memcpy(longkey, "s3://b/", 7);
	longkey[7 + 1025] = '\0';
	check_bad_location(longkey, true, DES_LOC_KEY_TOO_LONG, 7 + 1024);
	longkey[7 + 1024] = '\0';
	check_s3_location(longkey, false, "b", longkey + 7, false);
	/* the key length is checked before the trailing slash, as the backend always did */
	longkey[7 + 1024] = '/';
	longkey[7 + 1025] = '\0';
	check_bad_location(longkey, false, DES_LOC_KEY_TOO_LONG, 7 + 1024);

	CHECK(des_endpoint_parse("http://127.0.0.1:59001", &ep) && !ep.https && ep.host_start == 7 && ep.host_len == 15,
		  "endpoint http");
	CHECK(des_endpoint_parse("HTTPS://s3.eu-west-1.amazonaws.com/", &ep) && ep.https && ep.host_start == 8 &&
		  ep.host_len == 26, "endpoint https with a trailing slash");
	CHECK(!des_endpoint_parse("ftp://x", &ep) && ep.error_pos == 0, "endpoint scheme");
	CHECK(!des_endpoint_parse("https://", &ep) && ep.error_pos == 8, "endpoint without host");
	CHECK(!des_endpoint_parse("http:///", &ep) && ep.error_pos == 7, "endpoint '/' only");
	CHECK(!des_endpoint_parse("https://host/path", &ep) && ep.error_pos == 12, "endpoint path at %zu", ep.error_pos);
	CHECK(!des_endpoint_parse("https://user@host", &ep) && ep.error_pos == 12, "endpoint user info");
	CHECK(!des_endpoint_parse("http://host?x=1", &ep) && ep.error_pos == 11, "endpoint query");
	CHECK(!des_endpoint_parse("http://host//", &ep) && ep.error_pos == 11, "endpoint two slashes");
}

/*
 * Entries added with the caller's hash (des_writer_add_hashed): the archive
 * is byte for byte the one des_writer_add writes, and the hash recorded is
 * the one given (a wrong one is caught by readers that verify, not by the
 * writer: it trusts the caller, which hashed these bytes itself).
 */
static void
test_hashed_entries(void)
{
	const char *names[] = {"h/1", "h/2", "h/3"};
	const char *data[] = {"first payload", "", "a third, longer payload of some bytes"};
	char		path[3][512];
	des_error	err;

	for (int v = 0; v < 3; v++)
	{
		des_sink	sink;
		des_writer *w;
		des_writer_options o;

		des_writer_options_init(&o);
		o.external_threshold = 0;
		snprintf(path[v], sizeof(path[v]), "%s/hashed%d.des", tmpdir, v);
		if (!des_local_sink_open(path[v], &sink, &err) || !des_writer_open(&sink, &o, &w, &err))
		{
			CHECK(false, "open hashed %d: %s", v, err.message);
			return;
		}
		for (int i = 0; i < 3; i++)
		{
			unsigned char digest[DES_BLAKE2B_BYTES];
			bool		ok;

			blake2b(digest, data[i], NULL, DES_BLAKE2B_BYTES, strlen(data[i]), 0);
			if (v == 2 && i == 2)
				digest[0] ^= 1;	/* a hash that is not the payload's */
			ok = v == 0 ? des_writer_add(w, names[i], strlen(names[i]), data[i], strlen(data[i]), "{\"n\":1}", 7, false, &err)
				: des_writer_add_hashed(w, names[i], strlen(names[i]), data[i], strlen(data[i]), "{\"n\":1}", 7, digest, &err);
			CHECK(ok, "add %s (variant %d): %s", names[i], v, err.message);
		}
		CHECK(des_writer_finish(w, NULL, &err), "finish hashed %d: %s", v, err.message);
		des_local_sink_free(&sink);
	}
	{
		char		cmd[1200];

		snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", path[0], path[1]);
		CHECK(system(cmd) == 0, "entries added with their hash give the archive des_writer_add gives");
		snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", path[0], path[2]);
		CHECK(system(cmd) != 0, "the hash given is the hash recorded");
	}
	{
		des_source	src;
		des_reader *r;
		des_read_options ro;
		des_buf		out = {0};

		memset(&ro, 0, sizeof(ro));
		ro.verify_hash = true;
		if (!open_path(path[2], &src, &r, &err))
			CHECK(false, "open hashed archive: %s", err.message);
		else
		{
			CHECK(des_reader_get(r, 0, &ro, &out, &err) && out.len == strlen(data[0]), "a right hash verifies: %s", err.message);
			out.len = 0;
			CHECK(!des_reader_get(r, 2, &ro, &out, &err), "a wrong hash given is caught by a verifying reader");
			des_reader_close(r);
			des_local_source_close(&src);
		}
		des_buf_free(&out);
	}
}

/*
 * Entries over the bytes of an earlier entry (des_writer_add_alias): every
 * name reads back the same payload, plain and LZ4-compressed, with its own
 * meta and the payload's hash; bad targets are refused.
 */
static void
test_alias_entries(void)
{
	char		path[512];
	des_sink	sink;
	des_writer *w = NULL;
	des_writer_options o;
	des_writer_entry first, packed, beyond;
	des_writer_summary sum;
	des_error	err;
	unsigned char digest[DES_BLAKE2B_BYTES], zdigest[DES_BLAKE2B_BYTES];
	char		zeros[5000];
	const char *text = "the same bytes under three names";

	memset(zeros, 'z', sizeof(zeros));
	blake2b(digest, text, NULL, DES_BLAKE2B_BYTES, strlen(text), 0);
	blake2b(zdigest, zeros, NULL, DES_BLAKE2B_BYTES, sizeof(zeros), 0);
	des_writer_options_init(&o);
	o.lz4 = true;
	o.external_threshold = 0;
	snprintf(path, sizeof(path), "%s/alias.des", tmpdir);
	if (!des_local_sink_open(path, &sink, &err) || !des_writer_open(&sink, &o, &w, &err))
	{
		CHECK(false, "open alias: %s", err.message);
		return;
	}
	CHECK(des_writer_add(w, "a", 1, text, strlen(text), "{\"k\":1}", 7, false, &err), "add a: %s", err.message);
	des_writer_last_entry(w, &first);
	CHECK(des_writer_add(w, "z", 1, zeros, sizeof(zeros), NULL, 0, false, &err), "add z: %s", err.message);
	des_writer_last_entry(w, &packed);
	CHECK(packed.flags == DES_FLAG_COMPRESSED, "z is compressed");
	CHECK(des_writer_add_alias(w, "b", 1, &first, strlen(text), digest, "{\"k\":2}", 7, &err), "alias b: %s", err.message);
	CHECK(des_writer_add_alias(w, "dir/c", 5, &first, strlen(text), digest, NULL, 0, &err), "alias c: %s", err.message);
	CHECK(des_writer_add_alias(w, "z2", 2, &packed, sizeof(zeros), zdigest, NULL, 0, &err), "alias of compressed: %s", err.message);
	/* refusals */
	CHECK(!des_writer_add_alias(w, "b", 1, &first, strlen(text), digest, NULL, 0, &err) &&
		  err.code == DES_E_DUPLICATE_NAME, "alias name taken");
	CHECK(!des_writer_add_alias(w, "d", 1, &first, strlen(text) + 1, digest, NULL, 0, &err) &&
		  err.code == DES_E_INVALID_ARGUMENT, "alias of another size");
	CHECK(!des_writer_add_alias(w, "d", 1, &first, strlen(text), NULL, NULL, 0, &err) &&
		  err.code == DES_E_INVALID_ARGUMENT, "alias without a hash when hashes are recorded");
	beyond = packed;
	beyond.data_offset += 1 << 20;
	CHECK(!des_writer_add_alias(w, "d", 1, &beyond, sizeof(zeros), zdigest, NULL, 0, &err) &&
		  err.code == DES_E_INVALID_ARGUMENT, "alias past the data written");
	beyond = first;
	beyond.flags = DES_FLAG_EXTERNAL;
	CHECK(!des_writer_add_alias(w, "d", 1, &beyond, strlen(text), digest, NULL, 0, &err) &&
		  err.code == DES_E_INVALID_ARGUMENT, "alias of an external entry");
	CHECK(!des_writer_add_alias(w, "e", 1, &first, strlen(text), digest, "{\"blake2b\":\"00\"}", 16, &err) &&
		  err.code == DES_E_INVALID_META, "alias meta with a reserved key");
	CHECK(des_writer_finish(w, &sum, &err), "finish alias: %s", err.message);
	CHECK(sum.entries == 5 && sum.alias_entries == 3 && sum.compressed_entries == 1, "alias summary %llu %llu %llu",
		  (unsigned long long) sum.entries, (unsigned long long) sum.alias_entries,
		  (unsigned long long) sum.compressed_entries);
	des_local_sink_free(&sink);
	{
		des_source	src;
		des_reader *r;
		des_read_options ro;
		des_buf		out = {0};
		const char *names[] = {"a", "b", "dir/c"};

		memset(&ro, 0, sizeof(ro));
		ro.verify_hash = true;
		if (!open_path(path, &src, &r, &err))
			CHECK(false, "open alias archive: %s", err.message);
		else
		{
			for (int i = 0; i < 3; i++)
			{
				int64_t		ix = des_reader_find(r, names[i], strlen(names[i]));

				out.len = 0;
				CHECK(ix >= 0 && des_reader_get(r, (uint64_t) ix, &ro, &out, &err) &&
					  out.len == strlen(text) && memcmp(out.data, text, out.len) == 0,
					  "%s reads the shared bytes", names[i]);
			}
			{
				int64_t		ix = des_reader_find(r, "z2", 2);

				out.len = 0;
				CHECK(ix >= 0 && des_reader_get(r, (uint64_t) ix, &ro, &out, &err) &&
					  out.len == sizeof(zeros) && memcmp(out.data, zeros, out.len) == 0,
					  "an alias of a compressed entry reads back: %s", err.message);
			}
			{
				int64_t		ix = des_reader_find(r, "b", 1);
				const char *m;
				size_t		ml;

				CHECK(ix >= 0 && des_reader_meta(r, (uint64_t) ix, &m, &ml, &err) &&
					  ml > 10 && memmem(m, ml, "\"k\":2", 5) != NULL && memmem(m, ml, "\"size\":", 7) != NULL &&
					  memmem(m, ml, "\"blake2b\":", 10) != NULL, "an alias has its own meta, size and hash");
			}
			CHECK(des_reader_entry(r, (uint64_t) des_reader_find(r, "b", 1))->data_offset == first.data_offset,
				  "the alias points at the first entry's bytes");
			des_reader_close(r);
			des_local_source_close(&src);
		}
		des_buf_free(&out);
	}
}

/*
 * Local sinks write whole 8 MiB buffers with O_DIRECT and the rest through
 * the page cache: an archive of 2.5 buffers must come out byte for byte as
 * the page-cache-only writer makes it, read back entry by entry, and (where
 * the file system takes O_DIRECT) have gone past the page cache in part.
 */
static void
test_direct_io(void)
{
	char		path[2][512];
	des_error	err;
	unsigned char *payload = malloc(64 * 1024 + 7);
	const int	n = 330;		/* 330 x (64 KiB + 7): about 21 MiB, not a whole number of buffers */
	uint64_t	direct_before = des_local_direct_bytes;
	bool		direct_ok;
	int			probe;

	for (size_t i = 0; i < 64 * 1024 + 7; i++)
		payload[i] = (unsigned char) (i * 131 + (i >> 9));
	for (int d = 0; d < 2; d++)
	{
		des_sink	sink;
		des_writer *w;
		des_writer_options o;

		des_writer_options_init(&o);
		o.external_threshold = 0;
		snprintf(path[d], sizeof(path[d]), "%s/direct%d.des", tmpdir, d);
		des_local_direct_io = d == 0;
		CHECK(des_local_sink_open(path[d], &sink, &err) && des_writer_open(&sink, &o, &w, &err),
			  "open direct=%d: %s", d == 0, err.message);
		for (int i = 0; i < n; i++)
		{
			char		nm[32];

			payload[0] = (unsigned char) i;
			payload[64 * 1024 + 6] = (unsigned char) (i >> 3);
			snprintf(nm, sizeof(nm), "e/%04d", i);
			if (!des_writer_add(w, nm, strlen(nm), payload, 64 * 1024 + 7, NULL, 0, false, &err))
			{
				CHECK(false, "add %s: %s", nm, err.message);
				break;
			}
		}
		CHECK(des_writer_finish(w, NULL, &err), "finish direct=%d: %s", d == 0, err.message);
		des_local_sink_free(&sink);
	}
	des_local_direct_io = true;
	{
		char		cmd[1200];

		snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", path[0], path[1]);
		CHECK(system(cmd) == 0, "archives written with and without O_DIRECT are identical");
	}
	{
		des_source	src;
		des_reader *r;
		des_read_options ro;
		des_buf		out = {0};
		int			good = 0;

		memset(&ro, 0, sizeof(ro));
		ro.verify_hash = true;
		bool		opened = open_path(path[0], &src, &r, &err);

		CHECK(opened, "open direct archive: %s", err.message);
		for (int i = 0; opened && i < n; i++)
		{
			out.len = 0;
			if (des_reader_get(r, (uint64_t) i, &ro, &out, &err) && out.len == 64 * 1024 + 7 &&
				out.data[0] == (unsigned char) i && out.data[64 * 1024 + 6] == (unsigned char) (i >> 3) &&
				memcmp(out.data + 1, payload + 1, 64 * 1024 + 5) == 0)
				good++;
		}
		CHECK(good == n, "every entry of the direct archive reads back (%d of %d)", good, n);
		des_buf_free(&out);
		if (opened)
		{
			des_reader_close(r);
			des_local_source_close(&src);
		}
	}
	snprintf(path[1], sizeof(path[1]), "%s/probe", tmpdir);
	probe = open(path[1], O_WRONLY | O_CREAT | O_DIRECT, 0600);
	direct_ok = probe >= 0;
	if (probe >= 0)
		close(probe);
	if (direct_ok)
		CHECK(des_local_direct_bytes - direct_before >= 2 * 8 * 1024 * 1024 &&
			  (des_local_direct_bytes - direct_before) % 4096 == 0,
			  "whole buffers went past the page cache (%llu bytes)",
			  (unsigned long long) (des_local_direct_bytes - direct_before));
	else
		unit_skipped++;
	free(payload);
}

int
main(int argc, char **argv)
{
	const char *fixdir = argc > 1 ? argv[1] : "../shared/fixtures/des-v1";
	char		cmd[1024];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pg_des_unit.XXXXXX");
	if (!mkdtemp(tmpdir))
		return 2;
	test_json();
	test_names();
	test_blake2b();
	test_roundtrip();
	test_last_entry();
	test_stored_blake2b();
	test_direct_io();
	test_alias_entries();
	test_hashed_entries();
	test_resolve();
	test_location();
	test_fixtures(fixdir);
	if (getenv("DES_FUZZ_SEED_DIR"))
	{
		/* archives with LZ4 and BLAKE2b entries make good fuzzing seeds */
		snprintf(cmd, sizeof(cmd), "cp %s/rt/one.des %s/rt/z.des '%s'/ 2>/dev/null", tmpdir, tmpdir,
				 getenv("DES_FUZZ_SEED_DIR"));
		if (system(cmd) != 0)
			fprintf(stderr, "could not copy fuzz seeds\n");
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	printf("core: %d passed, %d failed, %d skipped\n", unit_passed, unit_failed, unit_skipped);
	return unit_failed ? 1 : 0;
}
