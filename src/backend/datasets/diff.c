/*
 * diff.c - des.diff(ref_a, ref_b): what changed from one version to
 * another, path by path. The walk descends only into directories whose
 * hashes differ (des_tree_dir_diff), so unchanged subtrees cost nothing; a
 * directory added or removed is reported with everything below it.
 */
#include "pg_des.h"
#include "datasets/datasets.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

typedef struct DiffOut
{
	Tuplestorestate *store;
	TupleDesc	desc;
	MemoryContext outer;
	DesTreeReader *old_tree;
	DesTreeReader *new_tree;
} DiffOut;

/* The changes of one pair of directories, copied out of the callback. */
typedef struct Change
{
	int			flags;
	bool		descend;
	des_tree_entry old_entry;
	des_tree_entry new_entry;
} Change;

typedef struct ChangeList
{
	Change	   *items;
	size_t		n;
	size_t		cap;
} ChangeList;

/* des_tree_dir_diff's callback: no ereport or palloc (the array is sized beforehand) */
static bool
collect_change(void *arg, const des_tree_change *c, des_error *err)
{
	ChangeList *l = arg;
	Change	   *x;

	if (l->n == l->cap)
		return des_fail(err, DES_E_CORRUPT, "more changes than entries");
	x = &l->items[l->n++];
	x->flags = c->flags;
	x->descend = c->descend;
	if (c->old_entry)
		x->old_entry = *c->old_entry;
	if (c->new_entry)
		x->new_entry = *c->new_entry;
	return true;
}

static void
emit(DiffOut *out, const char *path, const char *change, const des_tree_entry *old_e, const des_tree_entry *new_e)
{
	Datum		values[7];
	bool		nulls[7] = {0};
	char		hex[DES_TREE_HEX_LEN + 1];
	MemoryContext old = MemoryContextSwitchTo(out->outer);
	const des_tree_entry *any = new_e ? new_e : old_e;

	values[0] = CStringGetTextDatum(path);
	values[1] = CStringGetTextDatum(change);
	if (old_e)
		values[2] = Int64GetDatum((int64) old_e->size);
	else
		nulls[2] = true;
	if (new_e)
		values[3] = Int64GetDatum((int64) new_e->size);
	else
		nulls[3] = true;
	if (old_e && old_e->kind == DES_TREE_FILE)
	{
		des_tree_hex(old_e->hash, hex);
		values[4] = CStringGetTextDatum(hex);
	}
	else
		nulls[4] = true;
	if (new_e && new_e->kind == DES_TREE_FILE)
	{
		des_tree_hex(new_e->hash, hex);
		values[5] = CStringGetTextDatum(hex);
	}
	else
		nulls[5] = true;
	values[6] = CStringGetTextDatum(any->kind == DES_TREE_FILE ? "file" : "dir");
	tuplestore_putvalues(out->store, out->desc, values, nulls);
	MemoryContextSwitchTo(old);
}

static char *
child_path(const char *prefix, const des_tree_entry *e)
{
	return prefix[0] ? psprintf("%s/%.*s", prefix, (int) e->name_len, e->name) : pnstrdup(e->name, e->name_len);
}

/* Everything below a directory added (old side NULL) or removed (new side NULL). */
static void
emit_subtree(DiffOut *out, DesTreeReader *tr, const unsigned char hash[DES_TREE_HASH_BYTES], const char *prefix,
			 bool added)
{
	des_tree_dir dir;

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();
	DesTreeGet(tr, hash, &dir);
	PG_TRY();
	{
		for (size_t i = 0; i < dir.count; i++)
		{
			const des_tree_entry *e = &dir.entries[i];
			char	   *path = child_path(prefix, e);

			CHECK_FOR_INTERRUPTS();
			emit(out, path, added ? "added" : "removed", added ? NULL : e, added ? e : NULL);
			if (e->kind == DES_TREE_DIR)
				emit_subtree(out, tr, e->hash, path, added);
			pfree(path);
		}
	}
	PG_FINALLY();
	{
		des_tree_dir_free(&dir);
	}
	PG_END_TRY();
}

static void
diff_dirs(DiffOut *out, const unsigned char old_hash[DES_TREE_HASH_BYTES],
		  const unsigned char new_hash[DES_TREE_HASH_BYTES], const char *prefix)
{
	des_tree_dir old_dir = {0},
				new_dir = {0};
	ChangeList	changes = {0};
	des_error	err;

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();
	DesTreeGet(out->old_tree, old_hash, &old_dir);
	PG_TRY();
	{
		DesTreeGet(out->new_tree, new_hash, &new_dir);
		changes.cap = old_dir.count + new_dir.count;
		changes.n = 0;
		changes.items = palloc_extended(sizeof(Change) * Max(changes.cap, 1), MCXT_ALLOC_HUGE);
		if (!des_tree_dir_diff(&old_dir, &new_dir, collect_change, &changes, &err))
			DesReportTreeError(&err, "could not compare directories");
		for (size_t i = 0; i < changes.n; i++)
		{
			Change	   *c = &changes.items[i];
			const des_tree_entry *e = (c->flags & DES_TREE_ADDED) ? &c->new_entry : &c->old_entry;
			char	   *path = child_path(prefix, e);

			CHECK_FOR_INTERRUPTS();
			if (c->flags & DES_TREE_ADDED)
			{
				emit(out, path, "added", NULL, &c->new_entry);
				if (c->new_entry.kind == DES_TREE_DIR)
					emit_subtree(out, out->new_tree, c->new_entry.hash, path, true);
			}
			else if (c->flags & DES_TREE_REMOVED)
			{
				emit(out, path, "removed", &c->old_entry, NULL);
				if (c->old_entry.kind == DES_TREE_DIR)
					emit_subtree(out, out->old_tree, c->old_entry.hash, path, false);
			}
			else if (c->old_entry.kind == DES_TREE_FILE)
				emit(out, path, (c->flags & DES_TREE_MODIFIED) ? "modified" : "mode", &c->old_entry, &c->new_entry);
			else
			{
				/* a directory: its mode, then what changed inside it */
				if (c->flags & DES_TREE_MODE_CHANGED)
					emit(out, path, "mode", &c->old_entry, &c->new_entry);
				if (c->descend)
					diff_dirs(out, c->old_entry.hash, c->new_entry.hash, path);
			}
			pfree(path);
		}
	}
	PG_FINALLY();
	{
		des_tree_dir_free(&old_dir);
		des_tree_dir_free(&new_dir);
		if (changes.items)
			pfree(changes.items);
	}
	PG_END_TRY();
}

PG_FUNCTION_INFO_V1(des_diff);

/* des.diff(ref_a, ref_b) -> (path, change, old_size, new_size, old_hash, new_hash, kind) */
Datum
des_diff(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DiffOut		out;
	DesOwnerScope scope_a = {0},
				scope_b = {0};
	DesResolvedRef a,
				b;
	char	   *ref_a,
			   *ref_b;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("des.diff needs two refs")));
	ref_a = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ref_b = text_to_cstring(PG_GETARG_TEXT_PP(1));
	InitMaterializedSRF(fcinfo, 0);
	out.store = rsinfo->setResult;
	out.desc = rsinfo->setDesc;
	out.outer = CurrentMemoryContext;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PG_TRY();
	{
		/* each ref resolved with the caller's rights, one after the other */
		DesResolveRef(ref_a, "read", true, &a, &scope_a);
		DesOwnerEnd(&scope_a);
		DesResolveRef(ref_b, "read", true, &b, &scope_b);
		out.old_tree = a.tree;
		out.new_tree = b.tree;
		if (memcmp(a.root, b.root, DES_TREE_HASH_BYTES) != 0)
			diff_dirs(&out, a.root, b.root, "");
		DesLogRead(&scope_b, &a.repo, ref_a, a.has_bundle ? a.bundle : NULL, NULL, "des.diff");
		DesLogRead(&scope_b, &b.repo, ref_b, b.has_bundle ? b.bundle : NULL, NULL, "des.diff");
	}
	PG_FINALLY();
	{
		DesOwnerEnd(&scope_b);
		DesOwnerEnd(&scope_a);
	}
	PG_END_TRY();
	SPI_finish();
	return (Datum) 0;
}
