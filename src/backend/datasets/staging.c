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
#include "utils/memutils.h"

#define DEFAULT_FILE_MODE 0644

/* A path as the tree rules want it (42602 with the offending byte). */
static void
check_path(const char *path)
{
	des_error	err;
	size_t		bad;

	if (!des_tree_path_check(path, strlen(path), &bad, &err))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid path \"%s\": %s", path, err.message),
				 errhint("Paths are relative to the bundle root: segments separated by \"/\", none empty, \".\" or \"..\".")));
}

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
	DesSpiExec("SELECT 1 FROM des.dataset_branches b WHERE b.repo_id = $1 AND b.name = $2", 2, types, args, NULL, true,
			   SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("branch \"%s\" of repository \"%s\" does not exist", branch, repo->name),
				 errhint("des.branch_create makes one; des.branches lists them.")));
}

static void
stage_put(const DesRepo *repo, const char *branch, const char *path, int32 mode, int64 size,
		  const unsigned char content[DES_TREE_HASH_BYTES], const DesOwnerScope *scope)
{
	Oid			types[7] = {INT8OID, TEXTOID, TEXTOID, INT4OID, INT8OID, BYTEAOID, TEXTOID};
	Datum		args[7];

	args[0] = Int64GetDatum(repo->id);
	args[1] = CStringGetTextDatum(branch);
	args[2] = CStringGetTextDatum(path);
	args[3] = Int32GetDatum(mode);
	args[4] = Int64GetDatum(size);
	args[5] = PointerGetDatum(DesHashBytea(content));
	args[6] = CStringGetTextDatum(scope->caller_name);
	DesSpiExec("INSERT INTO des.staged AS s (repo_id, branch, path, op, mode, size, content, staged_by) "
			   "VALUES ($1, $2, $3, 'put', $4, $5, $6, $7) "
			   "ON CONFLICT (repo_id, branch, path) DO UPDATE SET op = 'put', mode = excluded.mode, "
			   "size = excluded.size, content = excluded.content, staged_by = excluded.staged_by, "
			   "staged_at = pg_catalog.now()", 7, types, args, NULL, false, SPI_OK_INSERT);
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
	DesRequireBranch(&call->repo, call->branch);
}

static void
stage_file(StageCall *call, const char *path, bytea *data, int32 mode, unsigned char content[DES_TREE_HASH_BYTES])
{
	check_path(path);
	check_mode(mode);
	if (call->store == NULL)
		call->store = DesChunkStoreCreate(CurrentMemoryContext);
	DesChunkStorePutFile(call->store, call->repo.id, (const unsigned char *) VARDATA_ANY(data),
						 VARSIZE_ANY_EXHDR(data), content);
	stage_put(&call->repo, call->branch, path, mode, (int64) VARSIZE_ANY_EXHDR(data), content, &call->scope);
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
		stage_as_owner(&call);
		stage_file(&call, text_to_cstring(PG_GETARG_TEXT_PP(2)), PG_GETARG_BYTEA_PP(3), mode, content);
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
	MemoryContext per_file,
				old;

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
	per_file = AllocSetContextCreate(CurrentMemoryContext, "des.stage_many file", ALLOCSET_DEFAULT_SIZES);
	PG_TRY();
	{
		stage_as_owner(&call);
		call.store = DesChunkStoreCreate(CurrentMemoryContext);
		for (int i = 0; i < npaths; i++)
		{
			unsigned char content[DES_TREE_HASH_BYTES];

			CHECK_FOR_INTERRUPTS();
			if (path_nulls[i] || data_nulls[i] || (modes && mode_nulls[i]))
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("des.stage_many: element %d is NULL", i + 1)));
			old = MemoryContextSwitchTo(per_file);
			stage_file(&call, TextDatumGetCString(paths[i]), DatumGetByteaPP(datas[i]),
					   modes ? DatumGetInt32(modes[i]) : DEFAULT_FILE_MODE, content);
			MemoryContextSwitchTo(old);
			MemoryContextReset(per_file);
		}
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
	check_path(path);
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
	check_path(path);
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
			DesSpiExec("INSERT INTO des.staged (repo_id, branch, path, op, staged_by) VALUES ($1, $2, $3, 'remove', $4)",
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
