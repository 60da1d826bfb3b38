/*
 * des_tree_update.c - apply a few edits to a large stored tree, touching only
 * the directories on the paths to the edits (what a commit does).
 *
 * The edits are sorted segment by segment ('/' before any other byte), as
 * des_tree_build sorts its items: then the edits below a directory are
 * contiguous and, grouped by their next segment, come in the order of the
 * directory's entries. One recursive merge per directory walks its old
 * entries and those groups side by side; a group descends into a child only
 * when it has to (edits below an existing directory, or puts below a new
 * one), so a directory is loaded only if it is the root or an ancestor of an
 * edited path. Each changed directory is encoded, hashed and reported before
 * its parent is (the recursion returns children first).
 *
 * Per child name, with self the edit naming it exactly (if any) and below
 * the edits under it: self REMOVE drops the old entry first; then a put
 * below an existing file, or below a PUT_FILE, is a clash; otherwise the
 * child is rebuilt from below (loaded only if it was a directory); finally a
 * child directory that lost all its entries is pruned unless PUT_DIR names
 * it, and a PUT_FILE takes the place of nothing, a file or a pruned
 * directory.
 */
#include "des/tree/des_tree.h"

#include <stdlib.h>
#include <string.h>

typedef struct updater
{
	des_tree_load_cb load;
	des_tree_dir_cb store;
	void	   *arg;
	des_buf		enc;			/* shared: a directory is encoded only after all its children */
	des_error  *err;
} updater;

/* What updating one directory gives its parent. */
typedef struct dir_result
{
	unsigned char hash[DES_TREE_HASH_BYTES];
	uint64_t	total;			/* the files below it */
	size_t		count;			/* its entries after the update */
	size_t		old_count;		/* its entries before (0 for a new directory) */
} dir_result;

/* A directory named in a message: the root has no path. */
#define DIR_FMT "%s%.*s%s"
#define DIR_ARGS(p, l) (l) ? "directory \"" : "the root directory", (int) (l), (p), (l) ? "\"" : ""

/* '/' sorts before any other byte: segment-by-segment order (paths have no NUL). */
static int
edit_cmp(const void *pa, const void *pb)
{
	const des_tree_edit *a = *(const des_tree_edit *const *) pa;
	const des_tree_edit *b = *(const des_tree_edit *const *) pb;

	return des_tree_path_order(a->path, a->path_len, b->path, b->path_len);
}

/* An entry's name against a name, bytewise (the encoding's order). */
static int
name_cmp(const des_tree_entry *e, const char *name, size_t len)
{
	size_t		n = e->name_len < len ? e->name_len : len;
	int			c = n ? memcmp(e->name, name, n) : 0;

	if (c != 0)
		return c;
	return (e->name_len > len) - (e->name_len < len);
}

static bool
check_edit(const des_tree_edit *e, size_t i, des_error *err)
{
	size_t		bad;
	des_error	perr;

	if (e->path == NULL && e->path_len > 0)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "edit %zu has no path", i);
	if (!des_tree_path_check(e->path, e->path_len, &bad, &perr))
		return des_fail(err, DES_E_INVALID_NAME, "edit %zu: %s", i, perr.message);
	if (e->op != DES_TREE_EDIT_PUT_FILE && e->op != DES_TREE_EDIT_PUT_DIR && e->op != DES_TREE_EDIT_REMOVE)
		return des_fail(err, DES_E_INVALID_ARGUMENT,
						"edit %zu \"%.*s\" has unknown op %u (1 = put file, 2 = put directory, 3 = remove)",
						i, (int) e->path_len, e->path, e->op);
	if (e->op != DES_TREE_EDIT_REMOVE && (e->mode & ~(uint32_t) DES_TREE_MODE_MASK) != 0)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "edit %zu \"%.*s\" has mode %o beyond the permission bits 0777",
						i, (int) e->path_len, e->path, e->mode);
	if (e->op == DES_TREE_EDIT_PUT_FILE && e->size > (uint64_t) DES_TREE_MAX_SIZE)
		return des_fail(err, DES_E_TOO_LARGE, "edit %zu \"%.*s\" has a size over 2^63 - 1",
						i, (int) e->path_len, e->path);
	return true;
}

/* Load, verify and decode a stored directory; dir's names point into the loaded bytes. */
static bool
load_dir(updater *u, const char *path, size_t path_len, const unsigned char hash[DES_TREE_HASH_BYTES],
		 des_tree_dir *dir)
{
	const unsigned char *data = NULL;
	size_t		len = 0;
	unsigned char h[DES_TREE_HASH_BYTES];
	char		hex[DES_TREE_HEX_LEN + 1];
	des_error	derr;

	if (!u->load(u->arg, hash, &data, &len, u->err))
		return false;
	if (data == NULL)
	{
		data = (const unsigned char *) "";
		len = 0;
	}
	des_tree_hex(hash, hex);
	des_tree_hash(data, len, h);
	if (memcmp(h, hash, DES_TREE_HASH_BYTES) != 0)
		return des_fail(u->err, DES_E_CORRUPT, DIR_FMT " (%s): the stored encoding does not hash to it",
						DIR_ARGS(path, path_len), hex);
	if (!des_tree_dir_decode(data, len, dir, &derr))
		return des_fail(u->err,
						derr.code == DES_E_NOMEM || derr.code == DES_E_UNSUPPORTED ? derr.code : DES_E_CORRUPT,
						DIR_FMT " (%s) does not decode: %s", DIR_ARGS(path, path_len), hex, derr.message);
	return true;
}

static bool update_dir(updater *u, const char *path, size_t path_len, const unsigned char *old_hash,
					   bool named, const des_tree_edit *const *edits, size_t n, dir_result *out);

/*
 * One child name of a directory being updated: cur its old entry (or NULL),
 * self the edit naming it (or NULL), below the edits under it. Appends its new
 * entry, if any, to ents.
 */
static bool
apply_child(updater *u, const des_tree_entry *cur, const des_tree_edit *self,
			const char *path, size_t path_len, const char *name, size_t name_len,
			const des_tree_edit *const *below, size_t nbelow, des_tree_entry *ents, size_t *count)
{
	uint8_t		kind = cur != NULL ? cur->kind : 0;
	uint8_t		op = self != NULL ? self->op : 0;
	const des_tree_edit *put = NULL;
	dir_result	r;
	bool		rebuilt = false;
	des_tree_entry e;

	if (op == DES_TREE_EDIT_REMOVE)
		kind = 0;				/* removals first: what follows sees nothing there */
	for (size_t j = 0; j < nbelow && put == NULL; j++)
		if (below[j]->op != DES_TREE_EDIT_REMOVE)
			put = below[j];

	if (put != NULL && (kind == DES_TREE_FILE || op == DES_TREE_EDIT_PUT_FILE))
		return des_fail(u->err, DES_E_DUPLICATE_NAME, "cannot put \"%.*s\": \"%.*s\" is a file",
						(int) put->path_len, put->path, (int) path_len, path);
	if (op == DES_TREE_EDIT_PUT_DIR && kind == DES_TREE_FILE)
		return des_fail(u->err, DES_E_DUPLICATE_NAME, "path \"%.*s\" is a file, so a directory cannot be put there",
						(int) path_len, path);

	/*
	 * Rebuild the child when edits below reach into an existing directory,
	 * when puts create it, or when PUT_DIR creates it empty. Removals below a
	 * file or below nothing are no-ops; an existing directory that only gets
	 * a mode is not loaded.
	 */
	if ((kind == DES_TREE_DIR && nbelow > 0) || put != NULL ||
		(op == DES_TREE_EDIT_PUT_DIR && kind != DES_TREE_DIR))
	{
		if (!update_dir(u, path, path_len, kind == DES_TREE_DIR ? cur->hash : NULL, op == DES_TREE_EDIT_PUT_DIR,
						below, nbelow, &r))
			return false;
		rebuilt = true;
	}

	memset(&e, 0, sizeof(e));
	e.name = name;
	e.name_len = name_len;
	if (op == DES_TREE_EDIT_PUT_FILE)
	{
		/* a directory may give way only if this update empties it (pruned) */
		if (kind == DES_TREE_DIR && !(rebuilt && r.count == 0 && r.old_count > 0))
			return des_fail(u->err, DES_E_DUPLICATE_NAME, "path \"%.*s\" is a directory, so a file cannot be put there",
							(int) path_len, path);
		e.kind = DES_TREE_FILE;
		e.mode = self->mode;
		e.size = self->size;
		memcpy(e.hash, self->hash, DES_TREE_HASH_BYTES);
	}
	else if (rebuilt)
	{
		/* pruned: had entries, has none, and no PUT_DIR keeps it */
		if (r.count == 0 && r.old_count > 0 && op != DES_TREE_EDIT_PUT_DIR)
			return true;
		e.kind = DES_TREE_DIR;
		e.mode = op == DES_TREE_EDIT_PUT_DIR ? self->mode : kind == DES_TREE_DIR ? cur->mode : DES_TREE_DEFAULT_DIR_MODE;
		e.size = r.total;
		memcpy(e.hash, r.hash, DES_TREE_HASH_BYTES);
	}
	else if (op == DES_TREE_EDIT_PUT_DIR)
	{
		/* an existing directory with nothing edited below: only its mode */
		e = *cur;
		e.mode = self->mode;
	}
	else if (kind != 0)
		e = *cur;				/* a file with (no-op) removals below it */
	else
		return true;			/* removed, or absent and only removals below */
	ents[(*count)++] = e;
	return true;
}

/*
 * Update the directory at path[0 .. path_len) whose old hash is old_hash
 * (NULL: a new, empty directory) with edits, all strictly below it and sorted.
 * named: a PUT_DIR names it, so it stays even if emptied.
 */
static bool
update_dir(updater *u, const char *path, size_t path_len, const unsigned char *old_hash,
		   bool named, const des_tree_edit *const *edits, size_t n, dir_result *out)
{
	des_tree_dir old = {0};
	des_tree_entry *ents = NULL;
	size_t		count = 0,
				i = 0,
				k = 0,
				cap;
	size_t		start = path_len == 0 ? 0 : path_len + 1;	/* where child names begin in the edits' paths */
	uint64_t	total = 0;
	bool		ok = false;

	if (old_hash != NULL && !load_dir(u, path, path_len, old_hash, &old))
		return false;
	/* each group of edits adds at most one entry */
	cap = old.count + n;
	if (cap > 0 && (cap > SIZE_MAX / sizeof(*ents) || (ents = malloc(cap * sizeof(*ents))) == NULL))
	{
		des_fail(u->err, DES_E_NOMEM, "out of memory updating " DIR_FMT, DIR_ARGS(path, path_len));
		goto done;
	}

	while (k < n)
	{
		const des_tree_edit *first = edits[k];
		const char *name = first->path + start;
		const char *slash = memchr(name, '/', first->path_len - start);
		size_t		name_len = slash != NULL ? (size_t) (slash - name) : first->path_len - start;
		size_t		child_len = start + name_len;
		const des_tree_edit *self = NULL;
		const des_tree_entry *cur = NULL;
		size_t		lo;
		int			c = 1;

		/* the group: the edit naming the child (sorted first), then those under it */
		if (first->path_len == child_len)
		{
			self = first;
			k++;
		}
		lo = k;
		while (k < n && edits[k]->path_len > child_len && edits[k]->path[child_len] == '/' &&
			   memcmp(edits[k]->path + start, name, name_len) == 0)
			k++;

		while (i < old.count && (c = name_cmp(&old.entries[i], name, name_len)) < 0)
			ents[count++] = old.entries[i++];
		if (i < old.count && c == 0)
			cur = &old.entries[i++];
		if (!apply_child(u, cur, self, first->path, child_len, name, name_len, edits + lo, k - lo, ents, &count))
			goto done;
	}
	while (i < old.count)
		ents[count++] = old.entries[i++];

	if (count > DES_TREE_MAX_ENTRIES)
	{
		des_fail(u->err, DES_E_TOO_LARGE, DIR_FMT " would have %zu entries, more than %u",
				 DIR_ARGS(path, path_len), count, DES_TREE_MAX_ENTRIES);
		goto done;
	}
	for (size_t j = 0; j < count; j++)
	{
		if (ents[j].size > (uint64_t) DES_TREE_MAX_SIZE - total)
		{
			des_fail(u->err, DES_E_TOO_LARGE, "the files under " DIR_FMT " would total more than 2^63 - 1 bytes",
					 DIR_ARGS(path, path_len));
			goto done;
		}
		total += ents[j].size;
	}

	u->enc.len = 0;
	if (!des_tree_dir_encode(ents, count, &u->enc, u->err))
		goto done;
	des_tree_hash(u->enc.data, u->enc.len, out->hash);
	out->total = total;
	out->count = count;
	out->old_count = old.count;
	/*
	 * Report it unless it is unchanged (already stored) or about to be pruned
	 * by its parent (not in the new tree); the root is always reported.
	 */
	if (u->store != NULL &&
		(path_len == 0 ||
		 ((old_hash == NULL || memcmp(out->hash, old_hash, DES_TREE_HASH_BYTES) != 0) &&
		  !(count == 0 && old.count > 0 && !named))) &&
		!u->store(u->arg, path, path_len, u->enc.data, u->enc.len, out->hash, total, u->err))
		goto done;
	ok = true;
done:
	free(ents);
	des_tree_dir_free(&old);
	return ok;
}

bool
des_tree_update(const unsigned char *root, const des_tree_edit *edits, size_t count,
				des_tree_load_cb load, des_tree_dir_cb store, void *arg,
				unsigned char new_root[DES_TREE_HASH_BYTES], uint64_t *total_size, des_error *err)
{
	updater		u = {0};
	const des_tree_edit **sorted = NULL;
	dir_result	r;
	bool		ok;

	if (count > 0 && edits == NULL)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "%zu edits given without an array", count);
	if (root != NULL && load == NULL)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "updating a stored tree needs a load callback");
	if (new_root == NULL)
		return des_fail(err, DES_E_INVALID_ARGUMENT, "no place for the new root hash");
	for (size_t i = 0; i < count; i++)
		if (!check_edit(&edits[i], i, err))
			return false;
	if (count > 0 && (count > SIZE_MAX / sizeof(*sorted) || (sorted = malloc(count * sizeof(*sorted))) == NULL))
		return des_fail(err, DES_E_NOMEM, "out of memory sorting %zu edits", count);
	for (size_t i = 0; i < count; i++)
		sorted[i] = &edits[i];
	if (count > 1)
		qsort(sorted, count, sizeof(*sorted), edit_cmp);
	for (size_t i = 1; i < count; i++)
		if (edit_cmp(&sorted[i - 1], &sorted[i]) == 0)
		{
			des_fail(err, DES_E_DUPLICATE_NAME, "path \"%.*s\" is edited twice",
					 (int) sorted[i]->path_len, sorted[i]->path);
			free(sorted);
			return false;
		}

	u.load = load;
	u.store = store;
	u.arg = arg;
	u.err = err;
	ok = update_dir(&u, "", 0, root, true, sorted, count, &r);
	if (ok)
	{
		memcpy(new_root, r.hash, DES_TREE_HASH_BYTES);
		if (total_size != NULL)
			*total_size = r.total;
	}
	des_buf_free(&u.enc);
	free(sorted);
	return ok;
}
