/*
 * staging.c - des.stage, des.stage_many, des.stage_remove, des.unstage:
 * what the next commit of a branch changes, as lakeFS stages it. A staged
 * file's bytes are stored at once (chunks in containers, its chunk list in
 * des.dataset_contents), in the caller's transaction; the staged row names
 * its content. des.commit applies the rows.
 */
#include "pg_des.h"
#include "datasets/datasets.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#define DEFAULT_FILE_MODE 0644

/* The branch as it reads (head plus staged), and the paths staged by this call. */
typedef struct StageCallView
{
	const char *branch;
	DesTreeReader *tree;
	unsigned char root[DES_TREE_HASH_BYTES];
	HTAB	   *files;			/* BLAKE2b-256 of the paths staged as files by this call */
	HTAB	   *dirs;			/* ... and of their parent directories */
} StageCallView;

static void
check_mode(int32 mode)
{
	if (mode < 0 || mode > 0777)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("file mode %o is not a permission mode", mode),
				 errdetail("Modes are permission bits only, 0 to 0777 (511); setuid, setgid and sticky bits are refused.")));
}

/* The branch of repo, or 42704. Run as the owner. */
void
DesRequireBranch(const DesRepo *repo, const char *branch)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		args[2];

	args[0] = Int64GetDatum(repo->id);
	args[1] = CStringGetTextDatum(branch);
	DesSpiExec("SELECT b.protected FROM des.dataset_branches b WHERE b.repo_id = $1 AND b.name = $2", 2, types, args,
			   NULL, true, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("branch \"%s\" of repository \"%s\" does not exist", branch, repo->name),
				 errhint("des.branch_create makes one; des.branches lists them.")));
}

/* Staging changes what readers of repo/branch see: not on a protected branch. Run as the owner. */
static void
require_unprotected(const DesRepo *repo, const char *branch)
{
	bool		isnull;

	DesRequireBranch(repo, branch);
	if (DatumGetBool(DesSpiGet(0, "protected", &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("branch \"%s\" of repository \"%s\" is protected", branch, repo->name),
				 errdetail("A protected branch changes only by des.merge, and shows no staged changes."),
				 errhint("Stage on another branch and merge it.")));
}

static bool
staged_path_seen(HTAB *set, const char *path, bool enter)
{
	unsigned char key[DES_TREE_HASH_BYTES];
	bool		found;

	des_tree_hash(path, strlen(path), key);
	hash_search(set, key, enter ? HASH_ENTER : HASH_FIND, &found);
	return found;
}

/*
 * Would a file at path clash with the branch as it reads now (its head plus
 * what is staged), or with the paths staged before it in this call? A file
 * below a file, or a file where a directory is, can never be committed;
 * refusing it here keeps every read of repo/branch working.
 */
static void
check_put_fits(StageCallView *view, const char *path)
{
	des_tree_entry e;
	char	   *p = pstrdup(path);
	char	   *slash;

	/* a directory at path (in the view, or made by this call's paths) */
	if ((DesTreeLookup(view->tree, view->root, path, &e) && e.kind == DES_TREE_DIR) ||
		staged_path_seen(view->dirs, path, false))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("cannot stage a file at \"%s\": it is a directory on branch \"%s\"", path, view->branch),
				 errhint("Stage its removal first (des.stage_remove).")));
	if (staged_path_seen(view->files, path, true))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("path \"%s\" is given twice", path)));
	/* a file at any parent (in the view, or staged by this call) */
	while ((slash = strrchr(p, '/')) != NULL)
	{
		*slash = '\0';
		if ((DesTreeLookup(view->tree, view->root, p, &e) && e.kind == DES_TREE_FILE) ||
			staged_path_seen(view->files, p, false))
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("cannot stage \"%s\": \"%s\" is a file on branch \"%s\"", path, p, view->branch),
					 errhint("Stage the removal of \"%s\" first (des.stage_remove).", p)));
		if (staged_path_seen(view->dirs, p, true))
			break;				/* its parents were checked with it */
	}
	pfree(p);
}

typedef struct StageCall
{
	DesRepo		repo;
	DesOwnerScope scope;
	DesChunkStore *store;
	char	   *branch;
} StageCall;

static void
stage_begin(StageCall *call, const char *repo, const char *branch)
{
	char	   *what = psprintf("stage changes in repository \"%s\"", repo);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	DesRepoOpen(repo, "write", what, &call->repo);
	call->branch = pstrdup(branch);
}

/* First thing in the PG_TRY block: as the owner from here, on a branch that exists. */
static void
stage_as_owner(StageCall *call)
{
	DesOwnerBegin(&call->scope);
	require_unprotected(&call->repo, call->branch);
}

/* The view the paths of this call are checked against. Run as the owner. */
static StageCallView *
stage_view(StageCall *call)
{
	StageCallView *v = palloc0(sizeof(StageCallView));
	HASHCTL		ctl;
	bool		has_head;

	v->branch = call->branch;
	v->tree = DesTreeReaderCreate(call->repo.id);
	has_head = DesBranchHeadRoot(&call->repo, call->branch, v->root);
	if (!has_head)
		DesTreeReaderKeepEmpty(v->tree, v->root);
	(void) DesApplyStaged(&call->repo, call->branch, v->tree, has_head ? v->root : NULL, false, v->root, NULL, NULL);
	/* paths are kept by their BLAKE2b-256: fixed-size keys for any length */
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = DES_TREE_HASH_BYTES;
	ctl.entrysize = DES_TREE_HASH_BYTES;
	ctl.hcxt = CurrentMemoryContext;
	ctl.hash = DesBlake2bKeyHash;
	v->files = hash_create("pg_des staged paths", 64, &ctl, HASH_ELEM | HASH_FUNCTION | HASH_CONTEXT);
	v->dirs = hash_create("pg_des staged directories", 64, &ctl, HASH_ELEM | HASH_FUNCTION | HASH_CONTEXT);
	return v;
}

/*
 * Stage n files: every path and mode checked against the branch as it reads
 * and against each other first, then the bytes stored as one batch, then
 * one statement records the staged rows. The content hashes into content.
 */
static void
stage_files(StageCall *call, int n, char **paths, bytea **datas, int32 *modes,
			unsigned char (*content)[DES_TREE_HASH_BYTES])
{
	StageCallView *view;
	DesFileIn  *in = palloc(sizeof(DesFileIn) * Max(n, 1));
	DesDatumVec path_vec = {0},
				mode_vec = {0},
				size_vec = {0},
				hash_vec = {0};
	Oid			types[7] = {INT8OID, TEXTOID, TEXTARRAYOID, INT4ARRAYOID, INT8ARRAYOID, BYTEAARRAYOID, TEXTOID};
	Datum		args[7];

	view = stage_view(call);
	for (int i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		check_put_fits(view, paths[i]);
		in[i].data = (const unsigned char *) VARDATA_ANY(datas[i]);
		in[i].len = VARSIZE_ANY_EXHDR(datas[i]);
	}
	if (call->store == NULL)
		call->store = DesChunkStoreCreate(CurrentMemoryContext);
	DesChunkStorePutFiles(call->store, call->repo.id, in, n);
	DesChunkStoreFinish(call->store);
#ifdef DES_TEST_HOOKS
	DesDebugPause("dataset_stage_stored", NULL);	/* test/t/008: kill -9 with the bytes stored, not staged */
#endif
	for (int i = 0; i < n; i++)
	{
		memcpy(content[i], in[i].hash, DES_TREE_HASH_BYTES);
		DesVecPush(&path_vec, CStringGetTextDatum(paths[i]));
		DesVecPush(&mode_vec, Int32GetDatum(modes[i]));
		DesVecPush(&size_vec, Int64GetDatum((int64) in[i].len));
		DesVecPush(&hash_vec, PointerGetDatum(DesHashBytea(in[i].hash)));
	}
	args[0] = Int64GetDatum(call->repo.id);
	args[1] = CStringGetTextDatum(call->branch);
	args[2] = DesVecArray(&path_vec, TEXTOID);
	args[3] = DesVecArray(&mode_vec, INT4OID);
	args[4] = DesVecArray(&size_vec, INT8OID);
	args[5] = DesVecArray(&hash_vec, BYTEAOID);
	args[6] = CStringGetTextDatum(call->scope.caller_name);
	DesSpiExec("INSERT INTO des.staged AS s (repo_id, branch, path, op, mode, size, content, staged_by) "
			   "SELECT $1, $2, p, 'put', m, z, h, $7 FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4), "
			   "pg_catalog.unnest($5), pg_catalog.unnest($6)) AS u(p, m, z, h) "
			   "ON CONFLICT (repo_id, branch, path) DO UPDATE SET op = 'put', mode = excluded.mode, "
			   "size = excluded.size, content = excluded.content, staged_by = excluded.staged_by, "
			   "staged_at = pg_catalog.now()", 7, types, args, NULL, false, SPI_OK_INSERT);
}

static void
stage_end(StageCall *call)
{
	if (call->store)
		DesChunkStoreFinish(call->store);
	DesOwnerEnd(&call->scope);
	SPI_finish();
}

PG_FUNCTION_INFO_V1(des_stage);

/* des.stage(repo, branch, path, data, mode DEFAULT 420) -> the content hash (hex) */
Datum
des_stage(PG_FUNCTION_ARGS)
{
	StageCall	call = {0};
	unsigned char content[DES_TREE_HASH_BYTES];
	char		hex[DES_TREE_HEX_LEN + 1];
	int32		mode = PG_ARGISNULL(4) ? DEFAULT_FILE_MODE : PG_GETARG_INT32(4);

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("des.stage needs a repository, a branch, a path and data")));
	stage_begin(&call, text_to_cstring(PG_GETARG_TEXT_PP(0)), text_to_cstring(PG_GETARG_TEXT_PP(1)));
	PG_TRY();
	{
		char	   *path = text_to_cstring(PG_GETARG_TEXT_PP(2));
		bytea	   *data = PG_GETARG_BYTEA_PP(3);

		DesCheckPath(path);
		check_mode(mode);
		stage_as_owner(&call);
		stage_files(&call, 1, &path, &data, &mode, &content);
		stage_end(&call);
	}
	PG_FINALLY();
	{
		DesOwnerEnd(&call.scope);
	}
	PG_END_TRY();
	des_tree_hex(content, hex);
	PG_RETURN_TEXT_P(cstring_to_text(hex));
}

PG_FUNCTION_INFO_V1(des_stage_many);

/* des.stage_many(repo, branch, paths[], data[], modes[] DEFAULT NULL) -> files staged */
Datum
des_stage_many(PG_FUNCTION_ARGS)
{
	StageCall	call = {0};
	Datum	   *paths,
			   *datas,
			   *modes = NULL;
	bool	   *path_nulls,
			   *data_nulls,
			   *mode_nulls = NULL;
	int			npaths,
				ndatas,
				nmodes = 0;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("des.stage_many needs a repository, a branch, paths and data")));
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(2), TEXTOID, -1, false, TYPALIGN_INT, &paths, &path_nulls, &npaths);
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(3), BYTEAOID, -1, false, TYPALIGN_INT, &datas, &data_nulls, &ndatas);
	if (!PG_ARGISNULL(4))
		deconstruct_array(PG_GETARG_ARRAYTYPE_P(4), INT4OID, 4, true, TYPALIGN_INT, &modes, &mode_nulls, &nmodes);
	if (npaths != ndatas || (modes && nmodes != npaths))
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("des.stage_many needs as many data (and modes) as paths"),
				 errdetail("%d paths, %d data, %d modes.", npaths, ndatas, modes ? nmodes : npaths)));
	stage_begin(&call, text_to_cstring(PG_GETARG_TEXT_PP(0)), text_to_cstring(PG_GETARG_TEXT_PP(1)));
	PG_TRY();
	{
		char	  **path_strs = palloc(sizeof(char *) * Max(npaths, 1));
		bytea	  **data_ptrs = palloc(sizeof(bytea *) * Max(npaths, 1));
		int32	   *mode_vals = palloc(sizeof(int32) * Max(npaths, 1));
		unsigned char (*content)[DES_TREE_HASH_BYTES] = palloc(DES_TREE_HASH_BYTES * Max(npaths, 1));

		for (int i = 0; i < npaths; i++)
		{
			if (path_nulls[i] || data_nulls[i] || (modes && mode_nulls[i]))
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("des.stage_many: element %d is NULL", i + 1)));
			path_strs[i] = TextDatumGetCString(paths[i]);
			data_ptrs[i] = DatumGetByteaPP(datas[i]);
			mode_vals[i] = modes ? DatumGetInt32(modes[i]) : DEFAULT_FILE_MODE;
			DesCheckPath(path_strs[i]);
			check_mode(mode_vals[i]);
		}
		stage_as_owner(&call);
		stage_files(&call, npaths, path_strs, data_ptrs, mode_vals, content);
		stage_end(&call);
	}
	PG_FINALLY();
	{
		DesOwnerEnd(&call.scope);
	}
	PG_END_TRY();
	PG_RETURN_INT64(npaths);
}

/* Delete staged rows at path and below it; how many. Run as the owner. */
static uint64
drop_staged(const DesRepo *repo, const char *branch, const char *path)
{
	Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		args[3];

	args[0] = Int64GetDatum(repo->id);
	args[1] = CStringGetTextDatum(branch);
	args[2] = CStringGetTextDatum(path);
	DesSpiExec("DELETE FROM des.staged s WHERE s.repo_id = $1 AND s.branch = $2 "
			   "AND (s.path = $3 OR pg_catalog.starts_with(s.path, $3 || '/'))", 3, types, args, NULL, false,
			   SPI_OK_DELETE);
	return SPI_processed;
}

PG_FUNCTION_INFO_V1(des_unstage);

/* des.unstage(repo, branch, path) -> staged changes dropped (at path and below it) */
Datum
des_unstage(PG_FUNCTION_ARGS)
{
	StageCall	call = {0};
	char	   *path;
	volatile uint64 n = 0;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("des.unstage needs a repository, a branch and a path")));
	path = text_to_cstring(PG_GETARG_TEXT_PP(2));
	DesCheckPath(path);
	stage_begin(&call, text_to_cstring(PG_GETARG_TEXT_PP(0)), text_to_cstring(PG_GETARG_TEXT_PP(1)));
	PG_TRY();
	{
		stage_as_owner(&call);
		n = drop_staged(&call.repo, call.branch, path);
		stage_end(&call);
	}
	PG_FINALLY();
	{
		DesOwnerEnd(&call.scope);
	}
	PG_END_TRY();
	PG_RETURN_INT64((int64) n);
}

PG_FUNCTION_INFO_V1(des_stage_remove);

/*
 * des.stage_remove(repo, branch, path): the next commit removes path (a
 * file, or a directory with everything below it). Changes staged at or
 * below path are dropped. A path neither in the head nor staged: 58P01.
 */
Datum
des_stage_remove(PG_FUNCTION_ARGS)
{
	StageCall	call = {0};
	char	   *path;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("des.stage_remove needs a repository, a branch and a path")));
	path = text_to_cstring(PG_GETARG_TEXT_PP(2));
	DesCheckPath(path);
	stage_begin(&call, text_to_cstring(PG_GETARG_TEXT_PP(0)), text_to_cstring(PG_GETARG_TEXT_PP(1)));
	PG_TRY();
	{
		uint64		dropped;
		bool		in_head;

		stage_as_owner(&call);
		dropped = drop_staged(&call.repo, call.branch, path);
		in_head = DesBranchHeadHas(&call.repo, call.branch, path);

		if (in_head)
		{
			Oid			types[4] = {INT8OID, TEXTOID, TEXTOID, TEXTOID};
			Datum		args[4];

			args[0] = Int64GetDatum(call.repo.id);
			args[1] = CStringGetTextDatum(call.branch);
			args[2] = CStringGetTextDatum(path);
			args[3] = CStringGetTextDatum(call.scope.caller_name);
			DesSpiExec("INSERT INTO des.staged (repo_id, branch, path, op, staged_by) VALUES ($1, $2, $3, 'remove', $4) "
					   "ON CONFLICT (repo_id, branch, path) DO UPDATE SET op = 'remove', mode = NULL, size = NULL, "
					   "content = NULL, staged_by = excluded.staged_by, staged_at = pg_catalog.now()",
					   4, types, args, NULL, false, SPI_OK_INSERT);
		}
		else if (dropped == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FILE),
					 errmsg("path \"%s\" is not in branch \"%s\" of repository \"%s\"", path, call.branch,
							call.repo.name),
					 errdetail("Neither its head nor its staged changes have it.")));
		stage_end(&call);
	}
	PG_FINALLY();
	{
		DesOwnerEnd(&call.scope);
	}
	PG_END_TRY();
	PG_RETURN_VOID();
}
