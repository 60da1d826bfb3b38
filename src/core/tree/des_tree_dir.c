/*
 * des_tree_dir.c - the directory encoding (one node of the Merkle tree), its
 * validating decoder, and the per-directory diff.
 *
 *   "DESD" | u8 version 1 | u32 count | count x entry
 *   entry: u8 name_len | name | u8 kind | u32 mode | u64 size | hash[32]
 *
 * Entries are sorted by name bytewise and distinct, so a directory has one
 * encoding and therefore one hash.
 */
#include "des/tree/des_tree.h"

#include <blake2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "des/format/des_format.h"

#define DIR_HEADER_SIZE		9	/* magic, version, count */
#define ENTRY_FIXED_SIZE	46	/* name_len, kind, mode, size, hash */

void
des_tree_hash(const void *data, size_t len, unsigned char out[DES_TREE_HASH_BYTES])
{
	blake2b(out, data, NULL, DES_TREE_HASH_BYTES, len, 0);
}

static int
name_cmp(const des_tree_entry *a, const des_tree_entry *b)
{
	size_t		n = a->name_len < b->name_len ? a->name_len : b->name_len;
	int			c = n ? memcmp(a->name, b->name, n) : 0;

	if (c != 0)
		return c;
	return (a->name_len > b->name_len) - (a->name_len < b->name_len);
}

/*
 * The rules an entry obeys in an encoding, for the encoder (caller input) and
 * the decoder (stored data) alike; *code is the error code for the encoder.
 * Returns NULL or the problem, with detail written to msg.
 */
static const char *
entry_problem(const des_tree_entry *e, const des_tree_entry *prev, des_error_code *code,
			  char *msg, size_t msg_size)
{
	des_error	nerr;

	if (!des_tree_name_check(e->name, e->name_len, NULL, &nerr))
	{
		size_t		n = strnlen(nerr.message, msg_size - 1);

		/* a bounded copy (the name error may be longer than msg: cut, by design) */
		*code = DES_E_INVALID_NAME;
		memcpy(msg, nerr.message, n);
		msg[n] = '\0';
		return msg;
	}
	if (prev != NULL)
	{
		int			c = name_cmp(prev, e);

		if (c == 0)
		{
			*code = DES_E_DUPLICATE_NAME;
			return "repeats the previous entry's name";
		}
		if (c > 0)
		{
			*code = DES_E_INVALID_ARGUMENT;
			return "is not sorted after the previous entry (names sort bytewise)";
		}
	}
	*code = DES_E_INVALID_ARGUMENT;
	if (e->kind != DES_TREE_FILE && e->kind != DES_TREE_DIR)
	{
		snprintf(msg, msg_size, "has unknown kind %u (1 = file, 2 = directory)", e->kind);
		return msg;
	}
	if ((e->mode & ~(uint32_t) DES_TREE_MODE_MASK) != 0)
	{
		snprintf(msg, msg_size, "has mode %o beyond the permission bits 0777", e->mode);
		return msg;
	}
	if (e->size > (uint64_t) DES_TREE_MAX_SIZE)
	{
		*code = DES_E_TOO_LARGE;
		return "has a size over 2^63 - 1";
	}
	return NULL;
}

bool
des_tree_dir_encode(const des_tree_entry *entries, size_t count, des_buf *out, des_error *err)
{
	unsigned char hdr[DIR_HEADER_SIZE];
	size_t		start = out->len;

	if (count > DES_TREE_MAX_ENTRIES)
		return des_fail(err, DES_E_TOO_LARGE, "directory has %zu entries, more than %u", count,
						DES_TREE_MAX_ENTRIES);
	memcpy(hdr, DES_TREE_DIR_MAGIC, 4);
	hdr[4] = DES_TREE_VERSION;
	des_put_u32(hdr + 5, (uint32_t) count);
	if (!des_buf_append(out, hdr, sizeof(hdr)))
		goto nomem;
	for (size_t i = 0; i < count; i++)
	{
		const des_tree_entry *e = &entries[i];
		unsigned char fixed[ENTRY_FIXED_SIZE - 1];
		des_error_code code;
		char		msg[300];
		const char *problem = entry_problem(e, i > 0 ? &entries[i - 1] : NULL, &code, msg, sizeof(msg));

		if (problem != NULL)
		{
			out->len = start;
			return des_fail(err, code, "directory entry %zu \"%.*s\" %s", i,
							(int) (e->name_len > 255 ? 255 : e->name_len), e->name ? e->name : "", problem);
		}
		fixed[0] = e->kind;
		des_put_u32(fixed + 1, e->mode);
		des_put_u64(fixed + 5, e->size);
		memcpy(fixed + 13, e->hash, DES_TREE_HASH_BYTES);
		if (!des_buf_putc(out, (unsigned char) e->name_len) ||
			!des_buf_append(out, e->name, e->name_len) ||
			!des_buf_append(out, fixed, sizeof(fixed)))
			goto nomem;
	}
	return true;
nomem:
	out->len = start;
	return des_fail(err, DES_E_NOMEM, "out of memory encoding a directory of %zu entries", count);
}

bool
des_tree_dir_decode(const unsigned char *data, size_t len, des_tree_dir *dir, des_error *err)
{
	size_t		pos = DIR_HEADER_SIZE;
	uint32_t	count;

	dir->count = 0;
	dir->entries = NULL;
	if (len < 5 || memcmp(data, DES_TREE_DIR_MAGIC, 4) != 0)
		return des_fail(err, DES_E_BAD_MAGIC, "not a directory encoding (magic \"DESD\" expected)");
	if (data[4] != DES_TREE_VERSION)
		return des_fail(err, DES_E_UNSUPPORTED, "directory encoding version %u (this reader knows 1)", data[4]);
	if (len < DIR_HEADER_SIZE)
		return des_fail(err, DES_E_CORRUPT, "directory encoding truncated in its header (%zu bytes)", len);
	count = des_get_u32(data + 5);
	/* bound the allocation by what the bytes can hold before trusting count */
	if (count > DES_TREE_MAX_ENTRIES || count > (len - DIR_HEADER_SIZE) / ENTRY_FIXED_SIZE)
		return des_fail(err, DES_E_CORRUPT, "directory claims %u entries, more than its %zu bytes can hold"
						" or over the limit of %u", count, len, DES_TREE_MAX_ENTRIES);
	if (count > 0 && (dir->entries = calloc(count, sizeof(des_tree_entry))) == NULL)
		return des_fail(err, DES_E_NOMEM, "out of memory decoding a directory of %u entries", count);
	for (uint32_t i = 0; i < count; i++)
	{
		des_tree_entry *e = &dir->entries[i];
		size_t		n;
		des_error_code code;
		char		msg[300];
		const char *problem;
		size_t		start = pos;

		if (pos >= len || len - pos < ENTRY_FIXED_SIZE + (n = data[pos]))
		{
			des_fail(err, DES_E_CORRUPT, "directory entry %u (at byte %zu) is truncated", i, start);
			goto fail;
		}
		e->name = (const char *) data + pos + 1;
		e->name_len = n;
		pos += 1 + n;
		e->kind = data[pos];
		e->mode = des_get_u32(data + pos + 1);
		e->size = des_get_u64(data + pos + 5);
		memcpy(e->hash, data + pos + 13, DES_TREE_HASH_BYTES);
		pos += ENTRY_FIXED_SIZE - 1;
		problem = entry_problem(e, i > 0 ? &dir->entries[i - 1] : NULL, &code, msg, sizeof(msg));
		if (problem != NULL)
		{
			des_fail(err, DES_E_CORRUPT, "directory entry %u (at byte %zu) %s", i, start, problem);
			goto fail;
		}
	}
	if (pos != len)
	{
		des_fail(err, DES_E_CORRUPT, "directory encoding has %zu bytes after its %u entries", len - pos, count);
		goto fail;
	}
	dir->count = count;
	return true;
fail:
	des_tree_dir_free(dir);
	return false;
}

void
des_tree_dir_free(des_tree_dir *dir)
{
	free(dir->entries);
	dir->entries = NULL;
	dir->count = 0;
}

static bool
report(des_tree_change_cb cb, void *arg, int flags, const des_tree_entry *o, const des_tree_entry *n,
	   des_error *err)
{
	des_tree_change c;

	c.flags = flags;
	c.old_entry = o;
	c.new_entry = n;
	c.descend = o != NULL && n != NULL && o->kind == DES_TREE_DIR && n->kind == DES_TREE_DIR &&
		memcmp(o->hash, n->hash, DES_TREE_HASH_BYTES) != 0;
	return cb(arg, &c, err);
}

bool
des_tree_dir_diff(const des_tree_dir *old_dir, const des_tree_dir *new_dir,
				  des_tree_change_cb cb, void *arg, des_error *err)
{
	size_t		oc = old_dir ? old_dir->count : 0,
				nc = new_dir ? new_dir->count : 0;
	size_t		i = 0,
				j = 0;

	while (i < oc || j < nc)
	{
		const des_tree_entry *o = i < oc ? &old_dir->entries[i] : NULL;
		const des_tree_entry *n = j < nc ? &new_dir->entries[j] : NULL;
		int			c = o == NULL ? 1 : n == NULL ? -1 : name_cmp(o, n);

		if (c < 0)
		{
			if (!report(cb, arg, DES_TREE_REMOVED, o, NULL, err))
				return false;
			i++;
		}
		else if (c > 0)
		{
			if (!report(cb, arg, DES_TREE_ADDED, NULL, n, err))
				return false;
			j++;
		}
		else
		{
			int			flags = 0;

			if (o->kind != n->kind)
			{
				/* a file became a directory or back: two unrelated entries */
				if (!report(cb, arg, DES_TREE_REMOVED, o, NULL, err) ||
					!report(cb, arg, DES_TREE_ADDED, NULL, n, err))
					return false;
			}
			else
			{
				if (o->size != n->size || memcmp(o->hash, n->hash, DES_TREE_HASH_BYTES) != 0)
					flags |= DES_TREE_MODIFIED;
				if (o->mode != n->mode)
					flags |= DES_TREE_MODE_CHANGED;
				if (flags != 0 && !report(cb, arg, flags, o, n, err))
					return false;
			}
			i++;
			j++;
		}
	}
	return true;
}
