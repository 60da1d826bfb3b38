/*
 * des_tree_build.c - the Merkle build: a flat list of files (and, optionally,
 * directories) to every directory's encoding and hash, children first.
 *
 * The items are sorted by path with '/' ordered before every other byte,
 * i.e. segment by segment. In that order the items under a directory are
 * contiguous and its children come in name order, so one pass with a stack
 * of the open directories (the current item's ancestors) builds every
 * directory once: a directory is closed (encoded, hashed, reported, and
 * added to its parent as an entry) as soon as an item outside it arrives.
 * Sorting is O(n log n); the pass is linear in the total path bytes.
 */
#include "des/tree/des_tree.h"

#include <stdlib.h>
#include <string.h>

typedef struct level
{
	const char *path;			/* the directory's path is path[0 .. path_len) */
	size_t		path_len;
	const char *name;			/* its name in its parent (the root has none) */
	size_t		name_len;
	uint32_t	mode;
	uint64_t	total;			/* sum of the sizes of the files below it */
	des_tree_entry *entries;	/* kept between uses of this depth, so allocations are reused */
	size_t		count;
	size_t		cap;
} level;

typedef struct builder
{
	level	   *levels;
	size_t		depth;			/* levels[0 .. depth] are open; levels[0] is the root */
	size_t		cap;
	des_buf		enc;
	des_tree_dir_cb cb;
	void	   *arg;
	des_error  *err;
} builder;

/* '/' sorts before any other byte: segment-by-segment order (paths have no NUL). */
static int
path_cmp(const void *pa, const void *pb)
{
	const des_tree_item *a = *(const des_tree_item *const *) pa;
	const des_tree_item *b = *(const des_tree_item *const *) pb;

	return des_tree_path_order(a->path, a->path_len, b->path, b->path_len);
}

static bool
add_size(builder *b, level *l, uint64_t size, const char *path, size_t path_len)
{
	if (size > (uint64_t) DES_TREE_MAX_SIZE - l->total)
		return des_fail(b->err, DES_E_TOO_LARGE, "the files under \"%.*s\" total more than 2^63 - 1 bytes",
						(int) path_len, path);
	l->total += size;
	return true;
}

static bool
add_entry(builder *b, level *l, const des_tree_entry *e, const char *path, size_t path_len)
{
	/*
	 * Equal to the previous name: a file and a directory of the same path
	 * (sorting puts a file "a" right before the items under "a/").
	 */
	if (l->count > 0 && l->entries[l->count - 1].name_len == e->name_len &&
		memcmp(l->entries[l->count - 1].name, e->name, e->name_len) == 0)
		return des_fail(b->err, DES_E_DUPLICATE_NAME, "path \"%.*s\" is both a file and a directory",
						(int) path_len, path);
	if (l->count == DES_TREE_MAX_ENTRIES)
		return des_fail(b->err, DES_E_TOO_LARGE, "directory \"%.*s\" has more than %u entries",
						(int) l->path_len, l->path, DES_TREE_MAX_ENTRIES);
	if (l->count == l->cap)
	{
		size_t		cap = l->cap ? l->cap * 2 : 16;
		des_tree_entry *p = realloc(l->entries, cap * sizeof(*p));

		if (p == NULL)
			return des_fail(b->err, DES_E_NOMEM, "out of memory building directory \"%.*s\"",
							(int) l->path_len, l->path);
		l->entries = p;
		l->cap = cap;
	}
	l->entries[l->count++] = *e;
	return true;
}

static bool
push(builder *b, const char *path, size_t path_len, size_t name_start, uint32_t mode)
{
	level	   *parent = &b->levels[b->depth];
	level	   *l;
	des_tree_entry probe = {0};

	/* the same name already added as a file: refuse here, before it shadows */
	probe.name = path + name_start;
	probe.name_len = path_len - name_start;
	if (parent->count > 0 && parent->entries[parent->count - 1].name_len == probe.name_len &&
		memcmp(parent->entries[parent->count - 1].name, probe.name, probe.name_len) == 0)
		return des_fail(b->err, DES_E_DUPLICATE_NAME, "path \"%.*s\" is both a file and a directory",
						(int) path_len, path);
	if (b->depth + 1 == b->cap)
	{
		size_t		cap = b->cap * 2;
		level	   *p = realloc(b->levels, cap * sizeof(*p));

		if (p == NULL)
			return des_fail(b->err, DES_E_NOMEM, "out of memory building the tree");
		memset(p + b->cap, 0, (cap - b->cap) * sizeof(*p));
		b->levels = p;
		b->cap = cap;
	}
	l = &b->levels[++b->depth];
	l->path = path;
	l->path_len = path_len;
	l->name = probe.name;
	l->name_len = probe.name_len;
	l->mode = mode;
	l->total = 0;
	l->count = 0;
	return true;
}

/* Encode, hash and report the innermost open directory; add it to its parent. */
static bool
pop(builder *b, unsigned char hash[DES_TREE_HASH_BYTES])
{
	level	   *l = &b->levels[b->depth];
	des_tree_entry e = {0};

	b->enc.len = 0;
	if (!des_tree_dir_encode(l->entries, l->count, &b->enc, b->err))
		return false;
	des_tree_hash(b->enc.data, b->enc.len, hash);
	if (!b->cb(b->arg, l->path, l->path_len, b->enc.data, b->enc.len, hash, l->total, b->err))
		return false;
	if (b->depth == 0)
		return true;
	e.name = l->name;
	e.name_len = l->name_len;
	e.kind = DES_TREE_DIR;
	e.mode = l->mode;
	e.size = l->total;
	memcpy(e.hash, hash, DES_TREE_HASH_BYTES);
	b->depth--;
	return add_size(b, &b->levels[b->depth], e.size, l->path, l->path_len) &&
		add_entry(b, &b->levels[b->depth], &e, l->path, l->path_len);
}

static bool
check_item(const des_tree_item *it, size_t i, des_error *err)
{
	size_t		bad;
	des_error	perr;

	if (!des_tree_path_check(it->path, it->path_len, &bad, &perr))
		return des_fail(err, DES_E_INVALID_NAME, "item %zu: %s", i, perr.message);
	if (it->kind != DES_TREE_FILE && it->kind != DES_TREE_DIR)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "item %zu \"%.*s\" has unknown kind %u (1 = file, 2 = directory)",
						i, (int) it->path_len, it->path, it->kind);
	if ((it->mode & ~(uint32_t) DES_TREE_MODE_MASK) != 0)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "item %zu \"%.*s\" has mode %o beyond the permission bits 0777",
						i, (int) it->path_len, it->path, it->mode);
	if (it->kind == DES_TREE_FILE && it->size > (uint64_t) DES_TREE_MAX_SIZE)
		return des_fail(err, DES_E_TOO_LARGE, "item %zu \"%.*s\" has a size over 2^63 - 1",
						i, (int) it->path_len, it->path);
	return true;
}

static bool
build(builder *b, const des_tree_item **sorted, size_t count, unsigned char root_hash[DES_TREE_HASH_BYTES])
{
	unsigned char hash[DES_TREE_HASH_BYTES];
	const des_tree_item *prev = NULL;

	for (size_t k = 0; k < count; k++)
	{
		const des_tree_item *it = sorted[k];
		const char *p = it->path;
		size_t		len = it->path_len;
		size_t		common = 0;
		size_t		seg;

		if (prev != NULL)
		{
			size_t		n = prev->path_len < len ? prev->path_len : len;

			while (common < n && prev->path[common] == p[common])
				common++;
			if (common == len && len == prev->path_len)
				return des_fail(b->err, DES_E_DUPLICATE_NAME, "path \"%.*s\" is given twice", (int) len, p);
		}

		/*
		 * Close the open directories that are not ancestors of this path. An
		 * open directory's path is a prefix of the previous item's, so it is
		 * an ancestor iff it is within the common prefix and followed by '/'.
		 */
		while (b->depth > 0)
		{
			const level *l = &b->levels[b->depth];

			if (l->path_len <= common && l->path_len < len && p[l->path_len] == '/')
				break;
			if (!pop(b, hash))
				return false;
		}

		/* open the directories between the innermost open one and the name */
		seg = b->depth == 0 ? 0 : b->levels[b->depth].path_len + 1;
		for (size_t i = seg; i < len; i++)
			if (p[i] == '/')
			{
				if (!push(b, p, i, seg, DES_TREE_DEFAULT_DIR_MODE))
					return false;
				seg = i + 1;
			}

		if (it->kind == DES_TREE_DIR)
		{
			if (!push(b, p, len, seg, it->mode))
				return false;
		}
		else
		{
			des_tree_entry e;
			level	   *l = &b->levels[b->depth];

			e.name = p + seg;
			e.name_len = len - seg;
			e.kind = DES_TREE_FILE;
			e.mode = it->mode;
			e.size = it->size;
			memcpy(e.hash, it->hash, DES_TREE_HASH_BYTES);
			if (!add_size(b, l, it->size, p, len) || !add_entry(b, l, &e, p, len))
				return false;
		}
		prev = it;
	}
	while (b->depth > 0)
		if (!pop(b, hash))
			return false;
	return pop(b, root_hash);
}

bool
des_tree_build(const des_tree_item *items, size_t count, des_tree_dir_cb cb, void *arg,
			   unsigned char root_hash[DES_TREE_HASH_BYTES], des_error *err)
{
	builder		b = {0};
	const des_tree_item **sorted = NULL;
	bool		ok = false;

	for (size_t i = 0; i < count; i++)
		if (!check_item(&items[i], i, err))
			return false;
	if (count > 0 && (sorted = malloc(count * sizeof(*sorted))) == NULL)
		return des_fail(err, DES_E_NOMEM, "out of memory sorting %zu items", count);
	for (size_t i = 0; i < count; i++)
		sorted[i] = &items[i];
	if (count > 1)
		qsort(sorted, count, sizeof(*sorted), path_cmp);

	b.cap = 16;
	b.levels = calloc(b.cap, sizeof(level));
	b.cb = cb;
	b.arg = arg;
	b.err = err;
	if (b.levels == NULL)
		des_fail(err, DES_E_NOMEM, "out of memory building the tree");
	else
	{
		b.levels[0].path = "";
		b.levels[0].mode = DES_TREE_DEFAULT_DIR_MODE;
		ok = build(&b, sorted, count, root_hash);
	}
	for (size_t i = 0; i < b.cap && b.levels != NULL; i++)
		free(b.levels[i].entries);
	free(b.levels);
	des_buf_free(&b.enc);
	free(sorted);
	return ok;
}
