/*
 * tree_oracle.h - test helpers for des_tree_update, shared by
 * test/unit/test_tree.c and test/fuzz/fuzz_tree.c (header-only, static):
 *
 *   - ref_apply: the reference for an update, written from the rules in
 *     docs/versioning-format.md ("Updating a tree") over the flat item list a
 *     tree was built from, with no tree walk at all; des_tree_update(root of
 *     des_tree_build(items), edits) must give the root of
 *     des_tree_build(ref_apply(items, edits)), and fail exactly when it does;
 *   - mem_store: directories kept in memory by hash, with a store callback
 *     (for des_tree_build and des_tree_update) that checks what it is given
 *     and a load callback that counts loads.
 *
 * Quadratic on purpose (obviously right, not fast): for small lists only.
 */
#ifndef TREE_ORACLE_H
#define TREE_ORACLE_H

#include "des/tree/des_tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ORACLE_FN static __attribute__((unused))

/* p strictly below q */
ORACLE_FN bool
ref_under(const char *p, size_t pl, const char *q, size_t ql)
{
	return pl > ql && p[ql] == '/' && memcmp(p, q, ql) == 0;
}

ORACLE_FN bool
ref_same(const char *p, size_t pl, const char *q, size_t ql)
{
	return pl == ql && memcmp(p, q, pl) == 0;
}

/*
 * Apply edits to items (a list des_tree_build accepts) by the documented
 * rules. In the flat list a directory exists if an item of kind directory
 * names it (explicit: its mode, possibly empty) or an item lies below it
 * (implicit: mode 0755). Steps:
 *
 *   1. the checks of each edit in order (path, op, mode, size), then the same
 *      path twice;
 *   2. removals: drop every item at or below a removed path;
 *   3. pruning: drop an explicit directory item that had items below it
 *      before and has none now, unless a PUT_DIR names it or it is a proper
 *      ancestor of a put (the put refills it); repeat until nothing changes
 *      (implicit directories vanish by themselves when emptied);
 *   4. clashes, against what is left: a put below a file item or below a
 *      PUT_FILE edit; PUT_FILE where a directory is (an explicit item, or
 *      items below); PUT_DIR where a file is;
 *   5. puts: PUT_FILE replaces a file item, PUT_DIR an explicit directory
 *      item (implicit parents need no item).
 *
 * On success *out is a malloc'd list (paths borrowed from items and edits)
 * and the caller frees it; on refusal *code is the error code the update must
 * give. A refusal found in step 1 sets *early (the update's code must match
 * exactly; later refusals match too, barring a size limit found first).
 */
ORACLE_FN bool
ref_apply(const des_tree_item *items, size_t n, const des_tree_edit *edits, size_t m,
		  des_tree_item **out, size_t *out_n, des_error_code *code, bool *early)
{
	bool	   *gone = calloc(n + 1, sizeof(bool));
	des_tree_item *res = NULL;
	size_t		rn = 0;
	des_error	err;
	bool		changed;

	*out = NULL;
	*out_n = 0;
	*early = true;
	for (size_t i = 0; i < m; i++)
	{
		const des_tree_edit *e = &edits[i];

		if (!des_tree_path_check(e->path, e->path_len, NULL, &err))
			*code = DES_E_INVALID_NAME;
		else if (e->op < DES_TREE_EDIT_PUT_FILE || e->op > DES_TREE_EDIT_REMOVE)
			*code = DES_E_INVALID_ARGUMENT;
		else if (e->op != DES_TREE_EDIT_REMOVE && e->mode > 0777)
			*code = DES_E_INVALID_ARGUMENT;
		else if (e->op == DES_TREE_EDIT_PUT_FILE && e->size > (uint64_t) INT64_MAX)
			*code = DES_E_TOO_LARGE;
		else
			continue;
		goto fail;
	}
	for (size_t i = 0; i < m; i++)
		for (size_t j = i + 1; j < m; j++)
			if (ref_same(edits[i].path, edits[i].path_len, edits[j].path, edits[j].path_len))
			{
				*code = DES_E_DUPLICATE_NAME;
				goto fail;
			}
	*early = false;

	/* 2. removals */
	for (size_t i = 0; i < m; i++)
		if (edits[i].op == DES_TREE_EDIT_REMOVE)
			for (size_t j = 0; j < n; j++)
				if (ref_same(items[j].path, items[j].path_len, edits[i].path, edits[i].path_len) ||
					ref_under(items[j].path, items[j].path_len, edits[i].path, edits[i].path_len))
					gone[j] = true;

	/* 3. pruning */
	do
	{
		changed = false;
		for (size_t d = 0; d < n; d++)
		{
			const des_tree_item *D = &items[d];
			bool		protect = false,
						had = false,
						has = false;

			if (gone[d] || D->kind != DES_TREE_DIR)
				continue;
			for (size_t i = 0; i < m && !protect; i++)
				protect = (edits[i].op == DES_TREE_EDIT_PUT_DIR &&
						   ref_same(edits[i].path, edits[i].path_len, D->path, D->path_len)) ||
					(edits[i].op != DES_TREE_EDIT_REMOVE &&
					 ref_under(edits[i].path, edits[i].path_len, D->path, D->path_len));
			for (size_t j = 0; j < n; j++)
				if (ref_under(items[j].path, items[j].path_len, D->path, D->path_len))
				{
					had = true;
					has = has || !gone[j];
				}
			if (!protect && had && !has)
				gone[d] = changed = true;
		}
	} while (changed);

	/* 4. clashes */
	*code = DES_E_DUPLICATE_NAME;
	for (size_t i = 0; i < m; i++)
	{
		const des_tree_edit *p = &edits[i];

		if (p->op == DES_TREE_EDIT_REMOVE)
			continue;
		for (size_t j = 0; j < m; j++)
			if (edits[j].op == DES_TREE_EDIT_PUT_FILE &&
				ref_under(p->path, p->path_len, edits[j].path, edits[j].path_len))
				goto fail;
		for (size_t j = 0; j < n; j++)
		{
			const des_tree_item *it = &items[j];

			if (gone[j])
				continue;
			if (it->kind == DES_TREE_FILE && ref_under(p->path, p->path_len, it->path, it->path_len))
				goto fail;
			if (p->op == DES_TREE_EDIT_PUT_FILE &&
				((it->kind == DES_TREE_DIR && ref_same(it->path, it->path_len, p->path, p->path_len)) ||
				 ref_under(it->path, it->path_len, p->path, p->path_len)))
				goto fail;
			if (p->op == DES_TREE_EDIT_PUT_DIR && it->kind == DES_TREE_FILE &&
				ref_same(it->path, it->path_len, p->path, p->path_len))
				goto fail;
		}
	}

	/* 5. puts */
	res = malloc((n + m + 1) * sizeof(*res));
	for (size_t j = 0; j < n; j++)
	{
		bool		replaced = false;

		if (gone[j])
			continue;
		for (size_t i = 0; i < m && !replaced; i++)
			replaced = edits[i].op != DES_TREE_EDIT_REMOVE &&
				ref_same(items[j].path, items[j].path_len, edits[i].path, edits[i].path_len);
		if (!replaced)
			res[rn++] = items[j];
	}
	for (size_t i = 0; i < m; i++)
	{
		des_tree_item *it;

		if (edits[i].op == DES_TREE_EDIT_REMOVE)
			continue;
		it = &res[rn++];
		memset(it, 0, sizeof(*it));
		it->path = edits[i].path;
		it->path_len = edits[i].path_len;
		it->kind = edits[i].op == DES_TREE_EDIT_PUT_FILE ? DES_TREE_FILE : DES_TREE_DIR;
		it->mode = edits[i].mode;
		if (it->kind == DES_TREE_FILE)
		{
			it->size = edits[i].size;
			memcpy(it->hash, edits[i].hash, DES_TREE_HASH_BYTES);
		}
	}
	free(gone);
	*out = res;
	*out_n = rn;
	return true;
fail:
	free(gone);
	return false;
}

/*
 * 1 + the distinct proper ancestors of the edited paths: the most directories
 * an update of them may load.
 */
ORACLE_FN size_t
ref_load_bound(const des_tree_edit *edits, size_t m)
{
	size_t		bound = 1;

	for (size_t i = 0; i < m; i++)
		for (size_t k = 0; k < edits[i].path_len; k++)
		{
			bool		seen = false;

			if (edits[i].path[k] != '/')
				continue;
			for (size_t j = 0; j < i && !seen; j++)
				seen = edits[j].path_len > k && edits[j].path[k] == '/' && memcmp(edits[j].path, edits[i].path, k) == 0;
			bound += !seen;
		}
	return bound;
}

/* ---- directories in memory, by hash ---- */

typedef struct mem_dir
{
	unsigned char hash[DES_TREE_HASH_BYTES];
	unsigned char *data;
	size_t		len;
} mem_dir;

typedef struct mem_store
{
	mem_dir    *dirs;
	size_t		count;
	size_t		cap;
	size_t		loads;			/* load callbacks since the last mem_store_begin */
	size_t		reports;		/* store callbacks since then */
	/* checks of one build or update's reports */
	char	  **paths;			/* paths reported since mem_store_begin */
	bool		root_seen;
	uint64_t	root_total;
	unsigned char (*hashes)[DES_TREE_HASH_BYTES];	/* and their hashes */
	char		problem[256];	/* the first broken rule, or "" */
} mem_store;

ORACLE_FN mem_dir *
mem_store_find(mem_store *s, const unsigned char hash[DES_TREE_HASH_BYTES])
{
	for (size_t i = 0; i < s->count; i++)
		if (memcmp(s->dirs[i].hash, hash, DES_TREE_HASH_BYTES) == 0)
			return &s->dirs[i];
	return NULL;
}

ORACLE_FN void
mem_store_add(mem_store *s, const unsigned char hash[DES_TREE_HASH_BYTES], const unsigned char *data, size_t len)
{
	mem_dir    *d;

	if (mem_store_find(s, hash) != NULL)
		return;
	if (s->count == s->cap)
	{
		s->cap = s->cap ? 2 * s->cap : 64;
		s->dirs = realloc(s->dirs, s->cap * sizeof(mem_dir));
	}
	d = &s->dirs[s->count++];
	memcpy(d->hash, hash, DES_TREE_HASH_BYTES);
	d->data = malloc(len ? len : 1);
	memcpy(d->data, data, len);
	d->len = len;
}

ORACLE_FN void
mem_store_problem(mem_store *s, const char *what, const char *path, size_t path_len)
{
	if (s->problem[0] == '\0')
		snprintf(s->problem, sizeof(s->problem), "%s: \"%.*s\"", what, (int) (path_len > 100 ? 100 : path_len), path);
}

/* Start checking a new build or update. */
ORACLE_FN void
mem_store_begin(mem_store *s)
{
	for (size_t i = 0; i < s->reports; i++)
		free(s->paths[i]);
	free(s->paths);
	free(s->hashes);
	s->paths = NULL;
	s->hashes = NULL;
	s->loads = s->reports = 0;
	s->root_seen = false;
	s->root_total = 0;
	s->problem[0] = '\0';
}

ORACLE_FN void
mem_store_free(mem_store *s)
{
	mem_store_begin(s);
	for (size_t i = 0; i < s->count; i++)
		free(s->dirs[i].data);
	free(s->dirs);
	memset(s, 0, sizeof(*s));
}

/*
 * des_tree_dir_cb: keeps the directory, and checks the report: the encoding
 * hashes to the hash and decodes, each path once, children before parents
 * (no ancestor reported earlier), the root last.
 */
ORACLE_FN bool
mem_store_put(void *arg, const char *path, size_t path_len, const unsigned char *enc, size_t enc_len,
			  const unsigned char hash[DES_TREE_HASH_BYTES], uint64_t total, des_error *err)
{
	mem_store  *s = arg;
	unsigned char h[DES_TREE_HASH_BYTES];
	des_tree_dir d;
	des_error	derr;

	des_tree_hash(enc, enc_len, h);
	if (memcmp(h, hash, DES_TREE_HASH_BYTES) != 0)
		mem_store_problem(s, "reported hash is not the encoding's", path, path_len);
	if (!des_tree_dir_decode(enc, enc_len, &d, &derr))
		mem_store_problem(s, "reported encoding does not decode", path, path_len);
	else
	{
		uint64_t	sum = 0;

		for (size_t i = 0; i < d.count; i++)
			sum += d.entries[i].size;
		if (sum != total)
			mem_store_problem(s, "reported total is not the sum of the entries' sizes", path, path_len);
		des_tree_dir_free(&d);
	}
	if (s->root_seen)
		mem_store_problem(s, "a directory reported after the root", path, path_len);
	for (size_t i = 0; i < s->reports; i++)
	{
		size_t		ql = strlen(s->paths[i]);

		if (ref_same(path, path_len, s->paths[i], ql))
			mem_store_problem(s, "a directory reported twice", path, path_len);
		else if (ql == 0 || ref_under(path, path_len, s->paths[i], ql))
			mem_store_problem(s, "a directory reported after its parent", path, path_len);
	}
	s->paths = realloc(s->paths, (s->reports + 1) * sizeof(char *));
	s->hashes = realloc(s->hashes, (s->reports + 1) * DES_TREE_HASH_BYTES);
	s->paths[s->reports] = strndup(path, path_len);
	memcpy(s->hashes[s->reports], hash, DES_TREE_HASH_BYTES);
	s->reports++;
	if (path_len == 0)
	{
		s->root_seen = true;
		s->root_total = total;
	}
	mem_store_add(s, hash, enc, enc_len);
	return true;
}

/* des_tree_load_cb: DES_E_NOT_FOUND for an unknown hash. */
ORACLE_FN bool
mem_store_load(void *arg, const unsigned char hash[DES_TREE_HASH_BYTES], const unsigned char **data,
			   size_t *len, des_error *err)
{
	mem_store  *s = arg;
	mem_dir    *d = mem_store_find(s, hash);
	char		hex[DES_TREE_HEX_LEN + 1];

	s->loads++;
	if (d == NULL)
	{
		des_tree_hex(hash, hex);
		return des_fail(err, DES_E_NOT_FOUND, "no directory %s in the store", hex);
	}
	*data = d->data;
	*len = d->len;
	return true;
}

/* Was a directory with this path reported since mem_store_begin? */
ORACLE_FN bool
mem_store_reported(const mem_store *s, const char *path)
{
	for (size_t i = 0; i < s->reports; i++)
		if (strcmp(s->paths[i], path) == 0)
			return true;
	return false;
}

/*
 * Every directory of the tree under hash is in the store (nothing a later
 * load needs is missing) and decodes, and each entry's size is the total of
 * its subtree. Sets *total to the tree's total.
 */
ORACLE_FN bool
mem_store_complete(mem_store *s, const unsigned char hash[DES_TREE_HASH_BYTES], uint64_t *total)
{
	mem_dir    *m = mem_store_find(s, hash);
	des_tree_dir d;
	des_error	err;
	bool		ok = true;

	*total = 0;
	if (m == NULL || !des_tree_dir_decode(m->data, m->len, &d, &err))
		return false;
	for (size_t i = 0; i < d.count && ok; i++)
	{
		uint64_t	sub = d.entries[i].size;

		if (d.entries[i].kind == DES_TREE_DIR)
			ok = mem_store_complete(s, d.entries[i].hash, &sub) && sub == d.entries[i].size;
		*total += sub;
	}
	des_tree_dir_free(&d);
	return ok;
}

/* The hash of the directory at path in the tree under root; false if there is none. */
ORACLE_FN bool
mem_store_lookup(mem_store *s, const unsigned char root[DES_TREE_HASH_BYTES], const char *path,
				 unsigned char out[DES_TREE_HASH_BYTES])
{
	size_t		len = strlen(path),
				pos = 0;

	memcpy(out, root, DES_TREE_HASH_BYTES);
	while (pos < len)
	{
		const char *slash = memchr(path + pos, '/', len - pos);
		size_t		end = slash ? (size_t) (slash - path) : len;
		mem_dir    *m = mem_store_find(s, out);
		des_tree_dir d;
		des_error	err;
		bool		found = false;

		if (m == NULL || !des_tree_dir_decode(m->data, m->len, &d, &err))
			return false;
		for (size_t i = 0; i < d.count && !found; i++)
			if (d.entries[i].kind == DES_TREE_DIR && ref_same(d.entries[i].name, d.entries[i].name_len, path + pos, end - pos))
			{
				memcpy(out, d.entries[i].hash, DES_TREE_HASH_BYTES);
				found = true;
			}
		des_tree_dir_free(&d);
		if (!found)
			return false;
		pos = end + 1;
	}
	return true;
}

/*
 * After an update to new_root: every directory reported is in the new tree at
 * its path with its hash, and the whole new tree is stored. Returns NULL or
 * the problem.
 */
ORACLE_FN const char *
mem_store_check_update(mem_store *s, const unsigned char new_root[DES_TREE_HASH_BYTES], uint64_t total)
{
	unsigned char h[DES_TREE_HASH_BYTES];
	uint64_t	t;

	if (s->problem[0] != '\0')
		return s->problem;
	if (!s->root_seen || s->reports == 0 || s->paths[s->reports - 1][0] != '\0')
		return "the root was not reported last";
	if (memcmp(s->hashes[s->reports - 1], new_root, DES_TREE_HASH_BYTES) != 0 || s->root_total != total)
		return "the root reported is not the new root or its total";
	for (size_t i = 0; i < s->reports; i++)
		if (!mem_store_lookup(s, new_root, s->paths[i], h) || memcmp(h, s->hashes[i], DES_TREE_HASH_BYTES) != 0)
			return "a reported directory is not in the new tree at its path";
	if (!mem_store_complete(s, new_root, &t))
		return "a directory of the new tree is missing from the store (or its size is wrong)";
	if (t != total)
		return "the total is not the files' total";
	return NULL;
}

#endif
