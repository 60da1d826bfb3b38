/*
 * merge.c - des.merge(repo, source_branch, target_branch, message,
 * strategy): the committed head of one branch merged into another.
 *
 * The target's row is locked as a commit locks it, so commits and merges to
 * a branch take turns; what is read after the lock is read with new
 * snapshots. Then, by how the two heads are related in the bundle DAG:
 * nothing to do (the source is already in the target's history), a
 * fast-forward (the target is in the source's history, or has no commit),
 * or a three-way merge against the merge base (the best common ancestor),
 * file by file.
 *
 * The three-way merge walks the three trees together and descends only into
 * directories that both sides changed (different hashes on both sides):
 * an entry changed on one side only is taken from that side whole, by hash,
 * so a subtree changed on one side costs nothing below it. A directory that
 * both sides changed gets a new encoding; those are the only directories
 * written. Staged changes are no part of a merge: those of the target stay
 * staged.
 */
#include "pg_des.h"
#include "datasets/datasets.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

/* how many conflicting paths the error lists */
#define MAX_LISTED_CONFLICTS 50

typedef enum MergeStrategy
{
	STRATEGY_NONE,				/* conflicts are an error */
	STRATEGY_OURS,				/* a conflict keeps the target's side */
	STRATEGY_THEIRS				/* a conflict takes the source's side */
} MergeStrategy;

typedef struct Merge
{
	DesTreeReader *tr;
	des_buf    *dirs;			/* the new directories (DesCollectDir) */
	des_buf    *scratch;		/* one directory's encoding */
	MergeStrategy strategy;
	int64		conflicts;
	StringInfoData listed;		/* the first MAX_LISTED_CONFLICTS, a line each */
} Merge;

static bool merge_entry(Merge *m, const char *path, const des_tree_entry *b, const des_tree_entry *o,
						const des_tree_entry *t, des_tree_entry *res);

/* Equal entries (or both absent): the same kind, mode, size and hash. */
static bool
same_entry(const des_tree_entry *x, const des_tree_entry *y)
{
	if (x == NULL || y == NULL)
		return x == y;
	return x->kind == y->kind && x->mode == y->mode && x->size == y->size &&
		memcmp(x->hash, y->hash, DES_TREE_HASH_BYTES) == 0;
}

static const des_tree_entry *
of_kind(const des_tree_entry *e, int kind)
{
	return e && e->kind == kind ? e : NULL;
}

/* Entries by name, as directories sort them (bytewise, a prefix first). */
static int
name_cmp(const des_tree_entry *x, const des_tree_entry *y)
{
	int			c = memcmp(x->name, y->name, Min(x->name_len, y->name_len));

	if (c != 0)
		return c;
	return (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

static void
conflict(Merge *m, const char *path, const char *what)
{
	if (m->conflicts < MAX_LISTED_CONFLICTS)
		appendStringInfo(&m->listed, "\n%s (%s)", path, what);
	m->conflicts++;
}

/* The merged entries of one directory, in name order, and their total size. */
typedef struct MergedDir
{
	des_tree_entry *entries;
	size_t		n;
	uint64		total;
} MergedDir;

/* Merge the entries of the three versions of directory path, name by name. */
static void
merge_dir_entries(Merge *m, const char *path, const des_tree_dir *b_dir, const des_tree_dir *o_dir,
				  const des_tree_dir *t_dir, MergedDir *out)
{
	size_t		ib = 0,
				io = 0,
				it = 0;

	/* a result comes from the target's or the source's entries */
	out->entries = palloc(sizeof(des_tree_entry) * Max(o_dir->count + t_dir->count, 1));
	out->n = 0;
	out->total = 0;
	for (;;)
	{
		const des_tree_entry *eb = ib < b_dir->count ? &b_dir->entries[ib] : NULL;
		const des_tree_entry *eo = io < o_dir->count ? &o_dir->entries[io] : NULL;
		const des_tree_entry *et = it < t_dir->count ? &t_dir->entries[it] : NULL;
		const des_tree_entry *least = eb;
		des_tree_entry *r = &out->entries[out->n];
		char	   *child;

		if (eo && (least == NULL || name_cmp(eo, least) < 0))
			least = eo;
		if (et && (least == NULL || name_cmp(et, least) < 0))
			least = et;
		if (least == NULL)
			break;
		/* the entries of that name */
		if (eb && name_cmp(eb, least) != 0)
			eb = NULL;
		if (eo && name_cmp(eo, least) != 0)
			eo = NULL;
		if (et && name_cmp(et, least) != 0)
			et = NULL;
		ib += eb != NULL;
		io += eo != NULL;
		it += et != NULL;
		child = path[0] ? psprintf("%s/%.*s", path, (int) least->name_len, least->name)
			: pnstrdup(least->name, least->name_len);
		if (merge_entry(m, child, eb, eo, et, r))
		{
			/* names point into the reader's directories, which outlive the merge */
			r->name = least->name;
			r->name_len = least->name_len;
			if (r->size > DES_TREE_MAX_SIZE - out->total)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("the merged directory \"%s\" would hold more than 2^63 - 1 bytes", path)));
			out->total += r->size;
			out->n++;
		}
		pfree(child);
	}
}

/*
 * The merge of a directory that both sides changed (db, dobj, dt: the
 * directory entries at path, NULL where a side has none): entry by entry,
 * then a new directory. False if it is gone: a side removed it and nothing
 * is left in it after the merge.
 */
static bool
merge_dirs(Merge *m, const char *path, const des_tree_entry *db, const des_tree_entry *dobj,
		   const des_tree_entry *dt, des_tree_entry *res)
{
	des_tree_dir b_dir = {0},
				o_dir = {0},
				t_dir = {0};
	MergedDir	merged;
	uint32		mode;
	des_error	err;

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();
	/* the decoded directories are malloc'd: freed on every path */
	PG_TRY();
	{
		if (db)
			DesTreeGet(m->tr, db->hash, &b_dir);
		if (dobj)
			DesTreeGet(m->tr, dobj->hash, &o_dir);
		if (dt)
			DesTreeGet(m->tr, dt->hash, &t_dir);
		merge_dir_entries(m, path, &b_dir, &o_dir, &t_dir, &merged);
	}
	PG_FINALLY();
	{
		des_tree_dir_free(&b_dir);
		des_tree_dir_free(&o_dir);
		des_tree_dir_free(&t_dir);
	}
	PG_END_TRY();

	/* removed on one side, and nothing left in it */
	if (merged.n == 0 && (dobj == NULL || dt == NULL))
		return false;

	/* its mode, merged as a file's content is */
	if (dobj && dt)
	{
		if (dobj->mode == dt->mode || (db && db->mode == dt->mode))
			mode = dobj->mode;
		else if (db && db->mode == dobj->mode)
			mode = dt->mode;
		else
		{
			conflict(m, path, "directory mode changed on both sides, differently");
			mode = m->strategy == STRATEGY_THEIRS ? dt->mode : dobj->mode;
		}
	}
	else
		mode = (dobj ? dobj : dt)->mode;

	m->scratch->len = 0;
	if (!des_tree_dir_encode(merged.entries, merged.n, m->scratch, &err))
		DesReportTreeError(&err, psprintf("could not make the merged directory \"%s\"", path));
	memset(res, 0, sizeof(*res));
	res->kind = DES_TREE_DIR;
	res->mode = mode;
	res->size = merged.total;
	des_tree_hash(m->scratch->data, m->scratch->len, res->hash);
	if (!DesCollectDir(m->dirs, path, strlen(path), m->scratch->data, m->scratch->len, res->hash, merged.total,
					   &err))
		DesReportTreeError(&err, NULL);
	pfree(merged.entries);
	return true;
}

/*
 * Both sides changed path, differently (b, o, t: the base's, target's and
 * source's entries, NULL where absent). A file there is merged as a whole;
 * a directory there entry by entry. A conflict takes the side the strategy
 * names, whole.
 */
static bool
merge_both(Merge *m, const char *path, const des_tree_entry *b, const des_tree_entry *o,
		   const des_tree_entry *t, des_tree_entry *res)
{
	const des_tree_entry *fb = of_kind(b, DES_TREE_FILE),
			   *fo = of_kind(o, DES_TREE_FILE),
			   *ft = of_kind(t, DES_TREE_FILE);
	const des_tree_entry *db = of_kind(b, DES_TREE_DIR),
			   *dobj = of_kind(o, DES_TREE_DIR),
			   *dt = of_kind(t, DES_TREE_DIR);
	const des_tree_entry *rf = NULL,
			   *side;
	const char *what = NULL;
	des_tree_entry rd;
	bool		has_rd = false;

	/* the file at path */
	if (same_entry(fo, ft))
		rf = fo;
	else if (same_entry(fb, fo))
		rf = ft;
	else if (same_entry(fb, ft))
		rf = fo;
	else if (fb == NULL)
		what = "added on both sides, differently";
	else if (fo == NULL)
		what = "removed on the target, changed on the source";
	else if (ft == NULL)
		what = "changed on the target, removed on the source";
	else
		what = "changed on both sides, differently";
	/* a file removed on one side because a directory took its place */
	if (what && ((fo == NULL && dobj) || (ft == NULL && dt)))
		what = "a file on one side, a directory on the other";

	/*
	 * The directory at path. With a file there too (one side put a file where
	 * the base had a directory, the other changed that directory), the paths
	 * clash: the directory is not merged.
	 */
	if (what == NULL)
	{
		const des_tree_entry *pick = NULL;

		if (same_entry(dobj, dt))
			pick = dobj;
		else if (same_entry(db, dobj))
			pick = dt;
		else if (same_entry(db, dt))
			pick = dobj;
		else if (rf == NULL)
			has_rd = merge_dirs(m, path, db, dobj, dt, &rd);
		else
			what = "a file on one side, a directory on the other";
		if (pick)
		{
			rd = *pick;
			has_rd = true;
		}
		if (rf && has_rd)
			what = "a file on one side, a directory on the other";
	}
	if (what)
	{
		conflict(m, path, what);
		side = m->strategy == STRATEGY_THEIRS ? t : o;
		if (side == NULL)
			return false;
		*res = *side;
		return true;
	}
	if (rf)
	{
		*res = *rf;
		return true;
	}
	if (has_rd)
		*res = rd;
	return has_rd;
}

/*
 * The merged entry at path (res; false: none). An entry that one side left
 * as it was in the base takes the other side's, whole.
 */
static bool
merge_entry(Merge *m, const char *path, const des_tree_entry *b, const des_tree_entry *o,
			const des_tree_entry *t, des_tree_entry *res)
{
	const des_tree_entry *pick;

	if (same_entry(o, t))
		pick = o;
	else if (same_entry(b, o))
		pick = t;
	else if (same_entry(b, t))
		pick = o;
	else
		return merge_both(m, path, b, o, t, res);
	if (pick == NULL)
		return false;
	*res = *pick;
	return true;
}

/* The head of a branch (true), or none yet (false); 42704 if it does not exist. Run as the owner. */
static bool
branch_head(const DesRepo *repo, const char *branch, unsigned char head[DES_TREE_HASH_BYTES])
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		args[2];
	bool		isnull;
	Datum		d;

	args[0] = Int64GetDatum(repo->id);
	args[1] = CStringGetTextDatum(branch);
	DesSpiExec("SELECT h.head FROM des.dataset_branches h WHERE h.repo_id = $1 AND h.name = $2",
			   2, types, args, NULL, false, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("branch \"%s\" of repository \"%s\" does not exist", branch, repo->name),
				 errhint("des.branches lists them.")));
	d = DesSpiGet(0, "head", &isnull);
	if (isnull)
		return false;
	DesByteaHash(DatumGetByteaPP(d), head);
	/*
	 * The merge reuses the source's directories: its bundle is locked (key
	 * share) until this transaction ends, so des.squash cannot remove it
	 * (and with it, perhaps, the only bundle naming them) meanwhile.
	 */
	args[1] = PointerGetDatum(DesHashBytea(head));
	{
		Oid			ltypes[2] = {INT8OID, BYTEAOID};

		DesSpiExec("SELECT FROM des.dataset_bundles b WHERE b.repo_id = $1 AND b.id = $2 FOR KEY SHARE",
				   2, ltypes, args, NULL, false, SPI_OK_SELECT);
	}
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("the head of branch \"%s\" of repository \"%s\" was removed meanwhile", branch, repo->name),
				 errhint("Run des.merge again.")));
	return true;
}

typedef struct HeadRelation
{
	bool		source_in_target;	/* the source head is the target head or one of its ancestors */
	bool		target_in_source;
	bool		has_base;
	unsigned char base[DES_TREE_HASH_BYTES];
} HeadRelation;

/*
 * How two heads are related in the bundle DAG (the parents of
 * des.dataset_bundles), and their merge base: of their common ancestors,
 * those that are no ancestor of another common ancestor; of those (several
 * after criss-cross merges) the newest, then the smallest id. Reads both
 * histories whole. Run as the owner.
 */
static void
relate(const DesRepo *repo, const unsigned char target[DES_TREE_HASH_BYTES],
	   const unsigned char source[DES_TREE_HASH_BYTES], HeadRelation *rel)
{
	Oid			types[3] = {INT8OID, BYTEAOID, BYTEAOID};
	Datum		args[3];
	bool		isnull;
	Datum		d;

	args[0] = Int64GetDatum(repo->id);
	args[1] = PointerGetDatum(DesHashBytea(target));
	args[2] = PointerGetDatum(DesHashBytea(source));
	DesSpiExec("WITH RECURSIVE ours(id) AS ("
			   "  SELECT $2::pg_catalog.bytea"
			   "  UNION SELECT p FROM ours o JOIN des.dataset_bundles b ON b.repo_id = $1 AND b.id = o.id,"
			   "       pg_catalog.unnest(COALESCE(b.history_parents, b.parents)) AS p"
			   "), theirs(id) AS ("
			   "  SELECT $3::pg_catalog.bytea"
			   "  UNION SELECT p FROM theirs t JOIN des.dataset_bundles b ON b.repo_id = $1 AND b.id = t.id,"
			   "       pg_catalog.unnest(COALESCE(b.history_parents, b.parents)) AS p"
			   "), common AS ("
			   "  SELECT id FROM ours INTERSECT SELECT id FROM theirs"
			   "), below(id) AS ("
			   "  SELECT p FROM common c JOIN des.dataset_bundles b ON b.repo_id = $1 AND b.id = c.id,"
			   "       pg_catalog.unnest(COALESCE(b.history_parents, b.parents)) AS p"
			   "  UNION SELECT p FROM below w JOIN des.dataset_bundles b ON b.repo_id = $1 AND b.id = w.id,"
			   "       pg_catalog.unnest(COALESCE(b.history_parents, b.parents)) AS p"
			   ") "
			   "SELECT EXISTS (SELECT FROM ours o WHERE o.id = $3) AS source_in_target,"
			   "       EXISTS (SELECT FROM theirs t WHERE t.id = $2) AS target_in_source,"
			   "       (SELECT b.id FROM common c JOIN des.dataset_bundles b ON b.repo_id = $1 AND b.id = c.id"
			   "         WHERE NOT EXISTS (SELECT FROM below w WHERE w.id = c.id)"
			   "         ORDER BY b.created_at DESC, b.id LIMIT 1) AS base",
			   3, types, args, NULL, false, SPI_OK_SELECT);
	rel->source_in_target = DatumGetBool(DesSpiGet(0, "source_in_target", &isnull));
	rel->target_in_source = DatumGetBool(DesSpiGet(0, "target_in_source", &isnull));
	d = DesSpiGet(0, "base", &isnull);
	rel->has_base = !isnull;
	if (!isnull)
		DesByteaHash(DatumGetByteaPP(d), rel->base);
}

/* A bundle's root as the entry of a directory (so that roots merge as directories do). Run as the owner. */
static void
root_entry(const DesRepo *repo, const unsigned char id[DES_TREE_HASH_BYTES], des_tree_entry *e)
{
	Oid			types[2] = {INT8OID, BYTEAOID};
	Datum		args[2];
	bool		isnull;

	args[0] = Int64GetDatum(repo->id);
	args[1] = PointerGetDatum(DesHashBytea(id));
	DesSpiExec("SELECT b.root, b.total_size FROM des.dataset_bundles b WHERE b.repo_id = $1 AND b.id = $2",
			   2, types, args, NULL, false, SPI_OK_SELECT);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("a bundle of repository \"%s\" that the merge needs is not stored", repo->name)));
	memset(e, 0, sizeof(*e));
	e->kind = DES_TREE_DIR;
	e->name = "";
	DesByteaHash(DatumGetByteaPP(DesSpiGet(0, "root", &isnull)), e->hash);
	e->size = (uint64) DatumGetInt64(DesSpiGet(0, "total_size", &isnull));
}

PG_FUNCTION_INFO_V1(des_merge);

/*
 * des.merge(repo, source_branch, target_branch, message, strategy DEFAULT
 * NULL) -> the target's head after the merge (hex)
 */
Datum
des_merge(PG_FUNCTION_ARGS)
{
	MemoryContext outer = CurrentMemoryContext;
	DesOwnerScope scope = {0};
	DesRepo		repo;
	char	   *repo_name,
			   *source,
			   *target,
			   *message,
			   *strategy_name;
	volatile MergeStrategy strategy = STRATEGY_NONE;
	char		id_hex[DES_TREE_HEX_LEN + 1];
	text	   *result;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("des.merge needs a repository, a source branch, a target branch and a message")));
	repo_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	source = text_to_cstring(PG_GETARG_TEXT_PP(1));
	target = text_to_cstring(PG_GETARG_TEXT_PP(2));
	message = text_to_cstring(PG_GETARG_TEXT_PP(3));
	strategy_name = PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4));
	if (strategy_name && strcmp(strategy_name, "ours") == 0)
		strategy = STRATEGY_OURS;
	else if (strategy_name && strcmp(strategy_name, "theirs") == 0)
		strategy = STRATEGY_THEIRS;
	else if (strategy_name)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown merge strategy \"%s\"", strategy_name),
				 errhint("The strategies are 'ours' (a conflict keeps the target's side) and 'theirs' (a conflict takes the source's side); NULL makes conflicts an error.")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	DesRepoOpen(repo_name, "write", psprintf("merge into repository \"%s\"", repo_name), &repo);
	PG_TRY();
	{
		bool		has_target;
		unsigned char target_head[DES_TREE_HASH_BYTES];
		unsigned char target_root[DES_TREE_HASH_BYTES];
		unsigned char source_head[DES_TREE_HASH_BYTES];
		HeadRelation	rel = {0};
		DesBranchState locked;
		DesTreeReader *tr = DesTreeReaderCreate(repo.id);

		DesTreeReaderFresh(tr);
		DesOwnerBegin(&scope);
		/* the target's row, locked: commits and merges to it take turns from here */
		DesLockBranch(&repo, target, true, &locked);
		has_target = locked.has_head;

		memcpy(target_head, locked.head, DES_TREE_HASH_BYTES);
		memcpy(target_root, locked.head_root, DES_TREE_HASH_BYTES);
		/* (a protected branch accepts merges: that is what protection leaves) */
		if (!branch_head(&repo, source, source_head))
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA),
					 errmsg("nothing to merge: branch \"%s\" of repository \"%s\" has no commit", source, repo.name)));
		if (has_target)
			relate(&repo, target_head, source_head, &rel);

		if (has_target && rel.source_in_target)
		{
			/* already merged: the target stays as it is */
			des_tree_hex(target_head, id_hex);
		}
		else if (!has_target || rel.target_in_source)
		{
			/* fast-forward: the target moves to the source's head */
			des_tree_hex(source_head, id_hex);
			DesMoveBranch(&scope, &repo, target, has_target ? target_head : NULL, source_head, "merge");
			DesLogWrite(&scope, &repo, "merge", "source", source, "branch", target, "bundle", id_hex,
						"fast_forward", "true", NULL);
		}
		else
		{
			Merge		m;
			des_tree_entry eb,
						eo,
						et,
						res;
			unsigned char parents[2 * DES_TREE_HASH_BYTES];
			unsigned char id[DES_TREE_HASH_BYTES];
			char		base_hex[DES_TREE_HEX_LEN + 1] = "";

			memset(&m, 0, sizeof(m));
			m.tr = tr;
			m.dirs = DesBufInContext(CurrentMemoryContext);
			m.scratch = DesBufInContext(CurrentMemoryContext);
			m.strategy = strategy;
			initStringInfo(&m.listed);
			root_entry(&repo, target_head, &eo);
			root_entry(&repo, source_head, &et);
			if (rel.has_base)
			{
				root_entry(&repo, rel.base, &eb);
				des_tree_hex(rel.base, base_hex);
			}
			else
			{
				/* unrelated histories: merged against the empty tree */
				des_error	err;

				memset(&eb, 0, sizeof(eb));
				eb.kind = DES_TREE_DIR;
				eb.name = "";
				m.scratch->len = 0;
				if (!des_tree_dir_encode(NULL, 0, m.scratch, &err))
					DesReportTreeError(&err, NULL);
				des_tree_hash(m.scratch->data, m.scratch->len, eb.hash);
				DesTreeReaderKeep(tr, eb.hash, m.scratch->data, m.scratch->len);
			}
			if (!merge_entry(&m, "", &eb, &eo, &et, &res))
				elog(ERROR, "the merged tree has no root");
			if (m.conflicts > 0 && strategy == STRATEGY_NONE)
			{
				if (m.conflicts > MAX_LISTED_CONFLICTS)
					appendStringInfo(&m.listed, "\nand " INT64_FORMAT " more", m.conflicts - MAX_LISTED_CONFLICTS);
				ereport(ERROR,
						(errcode(ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION),
						 errmsg_plural("merge of branch \"%s\" into branch \"%s\" of repository \"%s\" has " INT64_FORMAT " conflict",
									   "merge of branch \"%s\" into branch \"%s\" of repository \"%s\" has " INT64_FORMAT " conflicts",
									   (unsigned long) m.conflicts,
									   source, target, repo.name, m.conflicts),
						 errdetail("Paths changed differently on both sides since the merge base:%s", m.listed.data),
						 errhint("Resolve them on either branch and merge again, or merge with strategy 'ours' (keep the target's side) or 'theirs' (take the source's side).")));
			}
			DesStoreDirs(&repo, tr, m.dirs, true);
			memcpy(parents, target_head, DES_TREE_HASH_BYTES);
			memcpy(parents + DES_TREE_HASH_BYTES, source_head, DES_TREE_HASH_BYTES);
			DesMakeBundle(&scope, &repo, res.hash, res.size, parents, 2, message, id);
			des_tree_hex(id, id_hex);
			DesMoveBranch(&scope, &repo, target, target_head, id, "merge");
			if (strategy_name)
				DesLogWrite(&scope, &repo, "merge", "source", source, "branch", target, "bundle", id_hex,
							"fast_forward", "false", "base", base_hex, "strategy", strategy_name,
							"conflicts", psprintf(INT64_FORMAT, m.conflicts), NULL);
			else
				DesLogWrite(&scope, &repo, "merge", "source", source, "branch", target, "bundle", id_hex,
							"fast_forward", "false", "base", base_hex, "conflicts", "0", NULL);
		}
	}
	PG_FINALLY();
	{
		DesOwnerEnd(&scope);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(outer);
	result = cstring_to_text(id_hex);
	SPI_finish();
	PG_RETURN_TEXT_P(result);
}
