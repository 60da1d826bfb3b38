/*
 * commit.c - des.commit: the staged changes of a branch applied to its head
 * tree (only the directories on the changed paths are read and written:
 * des_tree_update), a bundle made of the new root, and the branch moved to
 * it. The branch row is locked first, so commits to one branch take turns;
 * each applies what is staged to the head it finds. Also the staged view of
 * a branch that reads use (the same update, kept in memory).
 */
#include "pg_des.h"
#include "datasets/datasets.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

/* New directories as des_tree_update or des_tree_build report them: hash, total size, length, encoding. */
bool
DesCollectDir(void *arg, const char *path, size_t path_len, const unsigned char *encoding, size_t encoding_len,
			const unsigned char hash[DES_TREE_HASH_BYTES], uint64_t total_size, des_error *err)
{
	des_buf    *out = arg;
	uint64_t	len = encoding_len;

	(void) path;
	(void) path_len;
	if (!des_buf_append(out, hash, DES_TREE_HASH_BYTES) ||
		!des_buf_append(out, &total_size, sizeof(total_size)) ||
		!des_buf_append(out, &len, sizeof(len)) ||
		!des_buf_append(out, encoding, encoding_len))
		return des_fail(err, DES_E_NOMEM, "out of memory");
	return true;
}

typedef struct UpdateArg
{
	DesTreeReader *tr;
	des_buf    *dirs;
} UpdateArg;

static bool
update_load(void *arg, const unsigned char hash[DES_TREE_HASH_BYTES], const unsigned char **data, size_t *len,
			des_error *err)
{
	return DesTreeLoad(((UpdateArg *) arg)->tr, hash, data, len, err);
}

static bool
update_store(void *arg, const char *path, size_t path_len, const unsigned char *encoding, size_t encoding_len,
			 const unsigned char hash[DES_TREE_HASH_BYTES], uint64_t total_size, des_error *err)
{
	return DesCollectDir(((UpdateArg *) arg)->dirs, path, path_len, encoding, encoding_len, hash, total_size, err);
}

/* Insert the collected directories (those the repo lacks), keep them in tr (if any). Run as the owner. */
void
DesStoreDirs(const DesRepo *repo, DesTreeReader *tr, const des_buf *dirs, bool store)
{
	DesDatumVec hashes = {0},
				encodings = {0},
				totals = {0};
	size_t		pos = 0;

	while (pos < dirs->len)
	{
		const unsigned char *hash = dirs->data + pos;
		uint64_t	total,
					len;
		bytea	   *enc;

		memcpy(&total, dirs->data + pos + DES_TREE_HASH_BYTES, sizeof(total));
		memcpy(&len, dirs->data + pos + DES_TREE_HASH_BYTES + 8, sizeof(len));
		pos += DES_TREE_HASH_BYTES + 16;
		if (tr)
			DesTreeReaderKeep(tr, hash, dirs->data + pos, len);
		if (store)
		{
			enc = palloc(VARHDRSZ + len);
			SET_VARSIZE(enc, VARHDRSZ + len);
			memcpy(VARDATA(enc), dirs->data + pos, len);
			DesVecPush(&hashes, PointerGetDatum(DesHashBytea(hash)));
			DesVecPush(&encodings, PointerGetDatum(enc));
			DesVecPush(&totals, Int64GetDatum((int64) total));
		}
		pos += len;
	}
	if (store && hashes.n > 0)
	{
		Oid			types[4] = {INT8OID, BYTEAARRAYOID, BYTEAARRAYOID, INT8ARRAYOID};
		Datum		args[4];

		args[0] = Int64GetDatum(repo->id);
		args[1] = DesVecArray(&hashes, BYTEAOID);
		args[2] = DesVecArray(&encodings, BYTEAOID);
		args[3] = DesVecArray(&totals, INT8OID);
		/*
		 * A directory stored already is locked, not replaced (DO UPDATE
		 * locks what it does not update; DO NOTHING would not): the garbage
		 * collector cannot remove it before this transaction's bundle that
		 * names it commits. (Distinct: a tree may hold two equal directories.)
		 */
		DesSpiExec("INSERT INTO des.dataset_dirs AS x (repo_id, hash, encoding, total_size) "
				   "SELECT DISTINCT ON (h) $1, h, e, t FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4)) AS u(h, e, t) "
				   "ON CONFLICT (repo_id, hash) DO UPDATE SET total_size = x.total_size WHERE false",
				   4, types, args, NULL, false, SPI_OK_INSERT);
	}
}

/*
 * Apply the staged changes of branch to the tree head_root (NULL: empty):
 * root_out and *total. For a commit (store), the staged rows are locked and
 * the new directories inserted, and *paths gets the staged paths; otherwise
 * the directories are only kept in tr. Returns how many changes were staged.
 * Run as the owner.
 */
int64
DesApplyStaged(const DesRepo *repo, const char *branch, DesTreeReader *tr, const unsigned char *head_root,
			   bool store, unsigned char root_out[DES_TREE_HASH_BYTES], uint64 *total, Datum *paths)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		args[2];
	uint64		n;
	des_tree_edit *edits;
	char	  **path_strs;
	DesDatumVec path_vec = {0};
	des_buf    *dirs = DesBufInContext(CurrentMemoryContext);
	des_error	err;
	UpdateArg	ua;
	uint64_t	new_total = 0;

	args[0] = Int64GetDatum(repo->id);
	args[1] = CStringGetTextDatum(branch);
	DesSpiExec(store ?
			   "SELECT s.path, s.op, s.mode, s.size, s.content FROM des.staged s "
			   "WHERE s.repo_id = $1 AND s.branch = $2 ORDER BY s.path FOR UPDATE" :
			   "SELECT s.path, s.op, s.mode, s.size, s.content FROM des.staged s "
			   "WHERE s.repo_id = $1 AND s.branch = $2 ORDER BY s.path",
			   2, types, args, NULL, !store, SPI_OK_SELECT);
	n = SPI_processed;
	if (head_root)
		memcpy(root_out, head_root, DES_TREE_HASH_BYTES);
	if (n == 0)
		return 0;
	edits = palloc0(sizeof(des_tree_edit) * n);
	path_strs = palloc(sizeof(char *) * n);
	for (uint64 r = 0; r < n; r++)
	{
		bool		isnull;
		char	   *op = TextDatumGetCString(DesSpiGet(r, "op", &isnull));

		path_strs[r] = TextDatumGetCString(DesSpiGet(r, "path", &isnull));
		DesVecPush(&path_vec, CStringGetTextDatum(path_strs[r]));
		edits[r].path = path_strs[r];
		edits[r].path_len = strlen(path_strs[r]);
		if (strcmp(op, "put") == 0)
		{
			edits[r].op = DES_TREE_EDIT_PUT_FILE;
			edits[r].mode = (uint32) DatumGetInt32(DesSpiGet(r, "mode", &isnull));
			edits[r].size = (uint64) DatumGetInt64(DesSpiGet(r, "size", &isnull));
			DesByteaHash(DatumGetByteaPP(DesSpiGet(r, "content", &isnull)), edits[r].hash);
		}
		else
			edits[r].op = DES_TREE_EDIT_REMOVE;
	}
	if (head_root)
		DesTreePreload(tr, head_root, path_strs, (int) n);
	ua.tr = tr;
	ua.dirs = dirs;
	if (!des_tree_update(head_root, edits, n, update_load, update_store, &ua, root_out, &new_total, &err))
		DesReportTreeError(&err, psprintf("the changes staged on branch \"%s\" of repository \"%s\" do not apply",
										  branch, repo->name));
	DesStoreDirs(repo, tr, dirs, store);
	if (total)
		*total = new_total;
	if (paths)
		*paths = DesVecArray(&path_vec, TEXTOID);
	return (int64) n;
}

/* Move a label to a bundle (creating it), with its history. Run as the owner. */
void
DesLabelMove(const DesOwnerScope *scope, const DesRepo *repo, const char *label,
			 const unsigned char bundle[DES_TREE_HASH_BYTES])
{
	Oid			types[4] = {INT8OID, TEXTOID, BYTEAOID, TEXTOID};
	Datum		args[4];
	char		nulls[5] = {' ', ' ', ' ', ' ', 'n'};
	Oid			ltypes[5] = {INT8OID, TEXTOID, BYTEAOID, TEXTOID, BYTEAOID};
	Datum		largs[5];
	bool		isnull;

	args[0] = Int64GetDatum(repo->id);
	args[1] = CStringGetTextDatum(label);
	args[2] = PointerGetDatum(DesHashBytea(bundle));
	args[3] = CStringGetTextDatum(scope->caller_name);

	/*
	 * A new label, or else the current one, locked (the latest committed
	 * version, so concurrent moves each log the move before theirs).
	 */
	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		DesSpiExec("INSERT INTO des.dataset_labels (repo_id, name, bundle_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
				   3, types, args, NULL, false, SPI_OK_INSERT);
		if (SPI_processed == 1)
			break;				/* a new label */
		DesSpiExec("SELECT l.bundle_id FROM des.dataset_labels l WHERE l.repo_id = $1 AND l.name = $2 FOR UPDATE",
				   2, types, args, NULL, false, SPI_OK_SELECT);
		if (SPI_processed == 1)
		{
			largs[4] = PointerGetDatum(DatumGetByteaPCopy(DesSpiGet(0, "bundle_id", &isnull)));
			nulls[4] = ' ';
			DesSpiExec("UPDATE des.dataset_labels l SET bundle_id = $3, updated_at = pg_catalog.now() "
					   "WHERE l.repo_id = $1 AND l.name = $2", 3, types, args, NULL, false, SPI_OK_UPDATE);
			break;
		}
		/* deleted by a concurrent des.label_delete between the two: create it again */
	}
	memcpy(largs, args, sizeof(Datum) * 4);
	DesSpiExec("INSERT INTO des.label_log (repo_id, label, old_bundle, new_bundle, role) VALUES ($1, $2, $5, $3, $4)",
			   5, ltypes, largs, nulls, false, SPI_OK_INSERT);
	{
		char		hex[DES_TREE_HEX_LEN + 1];

		des_tree_hex(bundle, hex);
		DesLogWrite(scope, repo, "label_set", "label", label, "bundle", hex, NULL);
	}
}

/*
 * Lock the branch row (commits, uploads and merges to it take turns from
 * here) and read its head and the head's root. What is read after waiting
 * for another transaction's lock is read by statements of their own, with
 * new snapshots: the head it made, and its bundle. Run as the owner.
 */
void
DesLockBranch(const DesRepo *repo, const char *branch, bool allow_protected, DesBranchState *out)
{
	Oid			types[3] = {INT8OID, TEXTOID, BYTEAOID};
	Datum		args[3];
	bool		isnull;
	Datum		head_datum;

	args[0] = Int64GetDatum(repo->id);
	args[1] = CStringGetTextDatum(branch);
	DesSpiExec("SELECT h.head, h.protected FROM des.dataset_branches h "
			   "WHERE h.repo_id = $1 AND h.name = $2 FOR NO KEY UPDATE", 2, types, args, NULL, false,
			   SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("branch \"%s\" of repository \"%s\" does not exist", branch, repo->name)));
	out->protected = DatumGetBool(DesSpiGet(0, "protected", &isnull));
	if (out->protected && !allow_protected)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("branch \"%s\" of repository \"%s\" is protected", branch, repo->name),
				 errdetail("A protected branch changes only by des.merge."),
				 errhint("Commit to another branch and merge it.")));
	head_datum = DesSpiGet(0, "head", &isnull);
	out->has_head = !isnull;
	if (!out->has_head)
		return;
	DesByteaHash(DatumGetByteaPP(head_datum), out->head);
	args[2] = PointerGetDatum(DesHashBytea(out->head));
	DesSpiExec("SELECT b.root FROM des.dataset_bundles b WHERE b.repo_id = $1 AND b.id = $3",
			   3, types, args, NULL, false, SPI_OK_SELECT);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the head of branch \"%s\" of repository \"%s\" is not stored", branch, repo->name)));
	DesByteaHash(DatumGetByteaPP(DesSpiGet(0, "root", &isnull)), out->head_root);
}

/*
 * Make and insert the bundle of root (total bytes of files) with these
 * parents (nparents ids of 32 bytes), authored by the caller, now. Its id
 * into id. Run as the owner.
 */
void
DesMakeBundle(const DesOwnerScope *scope, const DesRepo *repo, const unsigned char root[DES_TREE_HASH_BYTES],
			  uint64 total, const unsigned char *parents, int nparents, const char *message,
			  unsigned char id[DES_TREE_HASH_BYTES])
{
	des_bundle_header h;
	des_buf    *enc = DesBufInContext(CurrentMemoryContext);
	des_error	err;
	TimestampTz now = GetCurrentTimestamp();
	Oid			btypes[12] = {BYTEAOID, INT8OID, BYTEAOID, BYTEAOID, BYTEAARRAYOID, TEXTOID,
	TIMESTAMPTZOID, TEXTOID, INT8OID, INT4OID, INT4OID, INT4OID};
	Datum		bargs[12];
	bytea	   *header;
	DesDatumVec parent_vec = {0};

	memset(&h, 0, sizeof(h));
	memcpy(h.root, root, DES_TREE_HASH_BYTES);
	h.parent_count = nparents;
	h.parents = parents;
	h.author = scope->caller_name;
	h.author_len = strlen(scope->caller_name);
	h.time_us = (int64_t) now + ((int64_t) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY);
	h.message = message;
	h.message_len = strlen(message);
	DesChunkerParams(&h.chunker);
	if (!des_bundle_encode(&h, enc, &err))
		DesReportTreeError(&err, "could not make the bundle header");
	des_tree_hash(enc->data, enc->len, id);

	header = palloc(VARHDRSZ + enc->len);
	SET_VARSIZE(header, VARHDRSZ + enc->len);
	memcpy(VARDATA(header), enc->data, enc->len);
	for (int i = 0; i < nparents; i++)
		DesVecPush(&parent_vec, PointerGetDatum(DesHashBytea(parents + (size_t) i * DES_TREE_HASH_BYTES)));
	bargs[0] = PointerGetDatum(DesHashBytea(id));
	bargs[1] = Int64GetDatum(repo->id);
	bargs[2] = PointerGetDatum(header);
	bargs[3] = PointerGetDatum(DesHashBytea(root));
	bargs[4] = DesVecArray(&parent_vec, BYTEAOID);
	bargs[5] = CStringGetTextDatum(scope->caller_name);
	bargs[6] = TimestampTzGetDatum(now);
	bargs[7] = CStringGetTextDatum(message);
	bargs[8] = Int64GetDatum((int64) total);
	bargs[9] = Int32GetDatum((int32) h.chunker.min_size);
	bargs[10] = Int32GetDatum((int32) h.chunker.avg_size);
	bargs[11] = Int32GetDatum((int32) h.chunker.max_size);
	DesSpiExec("INSERT INTO des.dataset_bundles (id, repo_id, header, root, parents, author, created_at, message, "
			   "total_size, chunker_algorithm, chunk_min, chunk_avg, chunk_max) "
			   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11, $12)",
			   12, btypes, bargs, NULL, false, SPI_OK_INSERT);
}

/* Move a locked branch from old (NULL: no head) to new_head, with its reflog row. Run as the owner. */
void
DesMoveBranch(const DesOwnerScope *scope, const DesRepo *repo, const char *branch, const unsigned char *old_head,
			  const unsigned char new_head[DES_TREE_HASH_BYTES], const char *reason)
{
	Oid			mtypes[6] = {INT8OID, TEXTOID, BYTEAOID, BYTEAOID, TEXTOID, TEXTOID};
	Datum		margs[6];
	char		mnulls[6] = {' ', ' ', ' ', old_head ? ' ' : 'n', ' ', ' '};

	margs[0] = Int64GetDatum(repo->id);
	margs[1] = CStringGetTextDatum(branch);
	margs[2] = PointerGetDatum(DesHashBytea(new_head));
	margs[3] = old_head ? PointerGetDatum(DesHashBytea(old_head)) : (Datum) 0;
	margs[4] = CStringGetTextDatum(scope->caller_name);
	margs[5] = CStringGetTextDatum(reason);
	DesSpiExec("UPDATE des.dataset_branches h SET head = $3, updated_at = pg_catalog.now() "
			   "WHERE h.repo_id = $1 AND h.name = $2", 3, mtypes, margs, mnulls, false, SPI_OK_UPDATE);
	DesSpiExec("INSERT INTO des.branch_log (repo_id, branch, old_head, new_head, role, reason) "
			   "VALUES ($1, $2, $4, $3, $5, $6)", 6, mtypes, margs, mnulls, false, SPI_OK_INSERT);
}

PG_FUNCTION_INFO_V1(des_commit);

/* des.commit(repo, branch, message, label DEFAULT NULL) -> the new bundle's id */
Datum
des_commit(PG_FUNCTION_ARGS)
{
	MemoryContext outer = CurrentMemoryContext;
	DesOwnerScope scope = {0};
	DesRepo		repo;
	char	   *repo_name,
			   *branch,
			   *message;
	char	   *label;
	char		id_hex[DES_TREE_HEX_LEN + 1];
	text	   *result;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("des.commit needs a repository, a branch and a message")));
	repo_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	branch = text_to_cstring(PG_GETARG_TEXT_PP(1));
	message = text_to_cstring(PG_GETARG_TEXT_PP(2));
	label = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	DesRepoOpen(repo_name, "write", psprintf("commit to repository \"%s\"", repo_name), &repo);
	if (label)
		DesCheckLabelName(label);
	PG_TRY();
	{
		DesBranchState b;
		unsigned char root[DES_TREE_HASH_BYTES];
		unsigned char id[DES_TREE_HASH_BYTES];
		uint64		total = 0;
		int64		n;
		Datum		paths;
		DesTreeReader *tr = DesTreeReaderCreate(repo.id);
		Oid			dtypes[3] = {INT8OID, TEXTOID, TEXTARRAYOID};
		Datum		dargs[3];

		DesTreeReaderFresh(tr);
		DesOwnerBegin(&scope);
		DesLockBranch(&repo, branch, false, &b);
		n = DesApplyStaged(&repo, branch, tr, b.has_head ? b.head_root : NULL, true, root, &total, &paths);
		if (n == 0)
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA),
					 errmsg("nothing is staged on branch \"%s\" of repository \"%s\"", branch, repo.name),
					 errhint("des.stage and des.stage_remove stage changes.")));
		DesMakeBundle(&scope, &repo, root, total, b.head, b.has_head ? 1 : 0, message, id);
		des_tree_hex(id, id_hex);
#ifdef DES_TEST_HOOKS
		DesDebugPause("dataset_commit_bundle_made", NULL);	/* test/t/008: kill -9 between bundle and branch move */
#endif
		DesMoveBranch(&scope, &repo, branch, b.has_head ? b.head : NULL, id, "commit");
		/* the staged rows applied are done (rows staged again meanwhile waited for this) */
		dargs[0] = Int64GetDatum(repo.id);
		dargs[1] = CStringGetTextDatum(branch);
		dargs[2] = paths;
		DesSpiExec("DELETE FROM des.staged s WHERE s.repo_id = $1 AND s.branch = $2 AND s.path = ANY ($3)",
				   3, dtypes, dargs, NULL, false, SPI_OK_DELETE);
		DesLogWrite(&scope, &repo, "commit", "branch", branch, "bundle", id_hex,
					"changes", psprintf(INT64_FORMAT, n), NULL);
		if (label)
			DesLabelMove(&scope, &repo, label, id);
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
