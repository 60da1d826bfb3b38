/*
 * fuzz_tree.c - libFuzzer target for the versioning encodings (stored data)
 * and the path rules (user input).
 *
 * The same bytes are decoded as a directory, a chunk list and a bundle
 * header, and checked as a path and as a name, each from an exact-size copy
 * so ASan sees any read past the end.
 *
 * Invariants: no crash or UB; a refusal leaves nothing allocated and a path
 * refusal's offset is inside the input; a decoded value encodes to the same
 * bytes (one encoding per value); a decoded directory diffs empty against
 * itself and as all-added against nothing; an accepted path meets the rules
 * checked here independently, and its segments pass as names.
 *
 * The same bytes, split at newlines, are also a list of items for the Merkle
 * build (a line starting with an odd byte names a directory): a build either
 * refuses with an error or reports every directory once per distinct path,
 * children before parents and the root last, each encoding decoding and
 * hashing to its reported hash, the root's total the sum of the file sizes;
 * and the same items in reverse order build the same root.
 *
 * And the incremental update: lines starting with a byte below 0x80 are
 * items (as above), the others edits (op, mode, size from the first byte; the
 * bytes 0xfc..0xff make it invalid). The items are built into a store in
 * memory (or, if refused, the update starts from the empty tree), the edits
 * applied with des_tree_update, and the result must be what the reference
 * (test/unit/tree_oracle.h: the rules applied to the flat list, then a build)
 * gives: both refuse, with the same code, or both give the same root and
 * total; every directory reported is in the new tree, children first and the
 * root last, the whole new tree is in the store, only directories on the
 * edited paths are loaded, and the edits in reverse order give the same.
 */
#include "des/tree/des_tree.h"
#include "../unit/tree_oracle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) { fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__); abort(); } } while (0)

static bool
count_change(void *arg, const des_tree_change *c, des_error *err)
{
	size_t	   *n = arg;

	REQUIRE((c->flags == DES_TREE_ADDED && c->new_entry && !c->old_entry) ||
			(c->flags == DES_TREE_REMOVED && c->old_entry && !c->new_entry));
	(*n)++;
	return true;
}

static void
check_dir(const unsigned char *p, size_t len)
{
	des_tree_dir d;
	des_error	err;
	des_buf		again = {0};
	size_t		n = 0;

	if (!des_tree_dir_decode(p, len, &d, &err))
	{
		REQUIRE(d.entries == NULL && d.count == 0 && err.code != DES_OK);
		return;
	}
	REQUIRE(des_tree_dir_encode(d.entries, d.count, &again, &err));
	REQUIRE(again.len == len && memcmp(again.data, p, len) == 0);
	REQUIRE(des_tree_dir_diff(&d, &d, count_change, &n, &err) && n == 0);
	REQUIRE(des_tree_dir_diff(NULL, &d, count_change, &n, &err) && n == d.count);
	des_tree_dir_free(&d);
	des_buf_free(&again);
}

static void
check_file(const unsigned char *p, size_t len)
{
	uint64_t	count,
				size;
	des_error	err;

	if (!des_file_decode(p, len, &count, &size, &err))
		return;
	/* re-encode and re-hash: same bytes, same hash, same size */
	{
		des_chunk_ref *c = malloc((count ? count : 1) * sizeof(des_chunk_ref));
		des_buf		again = {0};
		unsigned char h1[DES_TREE_HASH_BYTES],
					h2[DES_TREE_HASH_BYTES];
		uint64_t	size2;

		for (uint64_t i = 0; i < count; i++)
			des_file_chunk(p, i, &c[i]);
		REQUIRE(des_file_encode(c, count, &again, &size2, &err) && size2 == size);
		REQUIRE(again.len == len && memcmp(again.data, p, len) == 0);
		REQUIRE(des_file_hash(c, count, h1, &size2, &err) && size2 == size);
		des_tree_hash(p, len, h2);
		REQUIRE(memcmp(h1, h2, DES_TREE_HASH_BYTES) == 0);
		des_buf_free(&again);
		free(c);
	}
}

static void
check_bundle(const unsigned char *p, size_t len)
{
	des_bundle_header h;
	des_error	err;
	des_buf		again = {0};

	if (!des_bundle_decode(p, len, &h, &err))
		return;
	REQUIRE(des_bundle_encode(&h, &again, &err));
	REQUIRE(again.len == len && memcmp(again.data, p, len) == 0);
	des_buf_free(&again);
}

static void
check_path(const char *s, size_t len)
{
	des_error	err;
	size_t		off = (size_t) -1;
	size_t		seg = 0;

	if (!des_tree_path_check(s, len, &off, &err))
	{
		REQUIRE(off <= len && err.code == DES_E_INVALID_NAME);
		return;
	}
	REQUIRE(len >= 1 && len <= DES_TREE_MAX_PATH && s[0] != '/' && s[len - 1] != '/');
	for (size_t i = 0; i <= len; i++)
	{
		if (i < len)
			REQUIRE(s[i] != '\0' && (unsigned char) s[i] >= 0x20 && s[i] != 0x7f);
		if (i == len || s[i] == '/')
		{
			REQUIRE(i > seg && i - seg <= DES_TREE_MAX_SEGMENT);
			REQUIRE(des_tree_name_check(s + seg, i - seg, &off, &err));
			seg = i + 1;
		}
	}
	{
		size_t		parent,
					name;

		des_tree_path_split(s, len, &parent, &name);
		REQUIRE(name < len && (name == 0 ? parent == 0 : parent == name - 1 && s[parent] == '/'));
		REQUIRE(memchr(s + name, '/', len - name) == NULL);
		if (parent > 0)
			REQUIRE(des_tree_path_check(s, parent, &off, &err));
	}
}

typedef struct build_state
{
	size_t		dirs;
	bool		root_seen;
	uint64_t	root_total;
} build_state;

static bool
on_dir(void *arg, const char *path, size_t path_len, const unsigned char *enc, size_t enc_len,
	   const unsigned char hash[DES_TREE_HASH_BYTES], uint64_t total, des_error *err)
{
	build_state *st = arg;
	unsigned char h[DES_TREE_HASH_BYTES];
	des_tree_dir d;
	des_error	derr;

	REQUIRE(!st->root_seen);	/* the root comes last */
	des_tree_hash(enc, enc_len, h);
	REQUIRE(memcmp(h, hash, DES_TREE_HASH_BYTES) == 0);
	REQUIRE(des_tree_dir_decode(enc, enc_len, &d, &derr));
	des_tree_dir_free(&d);
	if (path_len == 0)
	{
		st->root_seen = true;
		st->root_total = total;
	}
	st->dirs++;
	return true;
}

static bool
build(const des_tree_item *items, size_t n, unsigned char root[DES_TREE_HASH_BYTES], build_state *st)
{
	des_error	err;

	memset(st, 0, sizeof(*st));
	if (!des_tree_build(items, n, on_dir, st, root, &err))
	{
		REQUIRE(err.code != DES_OK && err.message[0] != '\0');
		return false;
	}
	REQUIRE(st->root_seen && st->dirs >= 1);
	return true;
}

static void
check_build(const unsigned char *p, size_t len)
{
	des_tree_item items[64];
	des_tree_item reversed[64];
	size_t		n = 0;
	size_t		start = 0;
	uint64_t	files_total = 0;
	unsigned char root1[DES_TREE_HASH_BYTES],
				root2[DES_TREE_HASH_BYTES];
	build_state st1,
				st2;
	bool		ok1,
				ok2;

	for (size_t i = 0; i <= len && n < 64; i++)
	{
		if (i < len && p[i] != '\n')
			continue;
		if (i > start + 1)
		{
			des_tree_item *it = &items[n++];

			memset(it, 0, sizeof(*it));
			it->kind = (p[start] & 1) ? DES_TREE_DIR : DES_TREE_FILE;
			it->path = (const char *) p + start + 1;
			it->path_len = i - start - 1;
			it->mode = it->kind == DES_TREE_DIR ? 0755 : 0644;
			it->size = it->kind == DES_TREE_FILE ? it->path_len : 0;
			memcpy(it->hash, p + start + 1, it->path_len < DES_TREE_HASH_BYTES ? it->path_len : DES_TREE_HASH_BYTES);
		}
		start = i + 1;
	}
	for (size_t i = 0; i < n; i++)
	{
		reversed[i] = items[n - 1 - i];
		if (items[i].kind == DES_TREE_FILE)
			files_total += items[i].size;
	}
	ok1 = build(items, n, root1, &st1);
	ok2 = build(reversed, n, root2, &st2);
	REQUIRE(ok1 == ok2);
	if (ok1)
	{
		REQUIRE(memcmp(root1, root2, DES_TREE_HASH_BYTES) == 0);
		REQUIRE(st1.dirs == st2.dirs);
		REQUIRE(st1.root_total == files_total);
	}
}

/* Update from the items with the edits; false if refused (with *code). */
static bool
run_update(mem_store *s, const unsigned char *root, const des_tree_edit *edits, size_t m,
		   unsigned char new_root[DES_TREE_HASH_BYTES], uint64_t *total, des_error_code *code)
{
	des_error	err;
	const char *problem;

	mem_store_begin(s);
	if (!des_tree_update(root, edits, m, mem_store_load, mem_store_put, s, new_root, total, &err))
	{
		REQUIRE(err.code != DES_OK && err.message[0] != '\0');
		*code = err.code;
		return false;
	}
	problem = mem_store_check_update(s, new_root, *total);
	if (problem != NULL)
		fprintf(stderr, "%s\n", problem);
	REQUIRE(problem == NULL);
	REQUIRE(s->loads <= ref_load_bound(edits, m));
	return true;
}

static void
check_update(const unsigned char *p, size_t len)
{
	des_tree_item items[64];
	des_tree_edit edits[64],
				reversed[64];
	size_t		n = 0,
				m = 0;
	size_t		start = 0;
	mem_store	s = {0};
	unsigned char root[DES_TREE_HASH_BYTES],
				got[DES_TREE_HASH_BYTES],
				got2[DES_TREE_HASH_BYTES];
	const unsigned char *from = NULL;
	des_error	err;
	des_tree_item *want = NULL;
	size_t		want_n = 0;
	des_error_code code = DES_OK,
				code2 = DES_OK,
				want_code = DES_OK;
	bool		early,
				ok,
				ok2,
				want_ok;
	uint64_t	total = 0,
				total2 = 0;

	for (size_t i = 0; i <= len && n + m < 64; i++)
	{
		unsigned char b;
		const char *path;
		size_t		path_len;

		if (i < len && p[i] != '\n')
			continue;
		if (i <= start + 1)
		{
			start = i + 1;
			continue;
		}
		b = p[start];
		path = (const char *) p + start + 1;
		path_len = i - start - 1;
		if (b < 0x80)
		{
			des_tree_item *it = &items[n++];

			memset(it, 0, sizeof(*it));
			it->kind = (b & 1) ? DES_TREE_DIR : DES_TREE_FILE;
			it->path = path;
			it->path_len = path_len;
			it->mode = it->kind == DES_TREE_DIR ? ((b & 2) ? 0700 : 0755) : 0644;
			it->size = it->kind == DES_TREE_FILE ? path_len : 0;
			memcpy(it->hash, path, path_len < DES_TREE_HASH_BYTES ? path_len : DES_TREE_HASH_BYTES);
		}
		else
		{
			des_tree_edit *e = &edits[m++];

			memset(e, 0, sizeof(*e));
			e->path = path;
			e->path_len = path_len;
			e->op = (b & 3) == 0 ? DES_TREE_EDIT_REMOVE : (b & 3);
			e->mode = (b & 4) ? 0700 : 0644;
			e->size = path_len * ((b >> 3) & 7);
			memcpy(e->hash, path, path_len < DES_TREE_HASH_BYTES ? path_len : DES_TREE_HASH_BYTES);
			e->hash[0] ^= b;
			switch (b)
			{
				case 0xfc:
					e->mode = 01000;
					break;
				case 0xfd:
					e->op = 0;
					break;
				case 0xfe:
					e->size = (uint64_t) INT64_MAX + 1;
					break;
				case 0xff:
					e->op = 4;
					break;
			}
		}
		start = i + 1;
	}

	/* the tree before: the items' build, or nothing if the build refuses them */
	if (des_tree_build(items, n, mem_store_put, &s, root, &err))
		from = root;
	else
		n = 0;
	for (size_t i = 0; i < m; i++)
		reversed[i] = edits[m - 1 - i];
	ok = run_update(&s, from, edits, m, got, &total, &code);
	ok2 = run_update(&s, from, reversed, m, got2, &total2, &code2);
	want_ok = ref_apply(items, n, edits, m, &want, &want_n, &want_code, &early);
	/* the first bad edit (in the given order) is reported; after that, order does not matter */
	REQUIRE(ok == ok2);
	if (ok)
		REQUIRE(memcmp(got, got2, DES_TREE_HASH_BYTES) == 0 && total == total2);
	else if (!early)
		REQUIRE(code == code2);

	if (want_ok)
	{
		mem_store	ref = {0};

		want_ok = des_tree_build(want, want_n, mem_store_put, &ref, root, &err);
		want_code = err.code;
		if (want_ok && ok)
			REQUIRE(memcmp(root, got, DES_TREE_HASH_BYTES) == 0 && ref.root_total == total);
		mem_store_free(&ref);
	}
	if (ok != want_ok)
		fprintf(stderr, "update %s, the reference %s\n", ok ? "succeeds" : "fails", want_ok ? "succeeds" : "fails");
	REQUIRE(ok == want_ok);
	if (!ok)
		REQUIRE(code == want_code || (!early && code == DES_E_TOO_LARGE));
	free(want);
	mem_store_free(&s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *copy = malloc(size ? size : 1);

	memcpy(copy, data, size);
	check_dir(copy, size);
	check_file(copy, size);
	check_bundle(copy, size);
	check_path((const char *) copy, size);
	check_build(copy, size);
	check_update(copy, size);
	{
		des_error	err;
		size_t		off = (size_t) -1;

		if (!des_tree_name_check((const char *) copy, size, &off, &err))
			REQUIRE(off <= size);
		if (!des_bundle_id_prefix_check((const char *) copy, size, &off, &err))
			REQUIRE(off <= size);
	}
	free(copy);
	return 0;
}
