/*
 * branches.c - des.branch_create, des.branch_delete, des.branch_protect,
 * des.label_set, des.label_delete: moving the names that point at bundles,
 * each move recorded (des.branch_log, des.label_log, des.write_log).
 */
#include "pg_des.h"
#include "datasets/datasets.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

/* A label name as for repos (42602 otherwise). Needs SPI. */
void
DesCheckLabelName(const char *name)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		args[2];

	args[0] = CStringGetTextDatum("label");
	args[1] = CStringGetTextDatum(name);
	DesSpiExec("SELECT des_internal.check_dataset_name(what => $1, name => $2)", 2, types, args, NULL, true,
			   SPI_OK_SELECT);
}

/* The bundle a ref names, which must be of repo (a branch: its head, not what is staged). */
static bool
bundle_of(const DesRepo *repo, const char *ref, unsigned char bundle[DES_TREE_HASH_BYTES], DesOwnerScope *scope)
{
	DesResolvedRef r;

	DesResolveRef(ref, "read", false, &r, scope);
	if (r.repo.id != repo->id)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ref \"%s\" is not of repository \"%s\"", ref, repo->name)));
	if (r.has_bundle)
		memcpy(bundle, r.bundle, DES_TREE_HASH_BYTES);
	return r.has_bundle;
}

PG_FUNCTION_INFO_V1(des_branch_create);

/* des.branch_create(repo, name, from_ref DEFAULT NULL): from the default branch's head unless from_ref */
Datum
des_branch_create(PG_FUNCTION_ARGS)
{
	DesOwnerScope scope = {0};
	DesRepo		repo;
	char	   *repo_name,
			   *name,
			   *from;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("des.branch_create needs a repository and a branch name")));
	repo_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	DesRepoOpen(repo_name, "write", psprintf("create branches in repository \"%s\"", repo_name), &repo);
	from = PG_ARGISNULL(2) ? psprintf("%s/%s", repo_name, repo.default_branch) : text_to_cstring(PG_GETARG_TEXT_PP(2));
	PG_TRY();
	{
		unsigned char head[DES_TREE_HASH_BYTES];
		bool		has_head;
		Oid			types[4] = {INT8OID, TEXTOID, BYTEAOID, TEXTOID};
		Datum		args[4];
		char		nulls[4] = {' ', ' ', ' ', ' '};
		char		hex[DES_TREE_HEX_LEN + 1] = "";

		if (strlen(name) > 200 || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-/") != strlen(name) ||
			name[0] == '\0' || name[0] == '/' || name[strlen(name) - 1] == '/' || strstr(name, "//") ||
			strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strncmp(name, "./", 2) == 0 ||
			strncmp(name, "../", 3) == 0 || strstr(name, "/./") || strstr(name, "/../") ||
			(strlen(name) >= 2 && strcmp(name + strlen(name) - 2, "/.") == 0) ||
			(strlen(name) >= 3 && strcmp(name + strlen(name) - 3, "/..") == 0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_NAME),
					 errmsg("invalid branch name \"%s\"", name),
					 errdetail("Branch names are 1 to 200 letters, digits, \".\", \"_\" or \"-\", in segments separated by \"/\"; no segment empty, \".\" or \"..\".")));
		has_head = bundle_of(&repo, from, head, &scope);
		args[0] = Int64GetDatum(repo.id);
		args[1] = CStringGetTextDatum(name);
		if (has_head)
			args[2] = PointerGetDatum(DesHashBytea(head));
		else
			nulls[2] = 'n';
		args[3] = CStringGetTextDatum(scope.caller_name);
		DesSpiExec("INSERT INTO des.dataset_branches (repo_id, name, head) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
				   3, types, args, nulls, false, SPI_OK_INSERT);
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("branch \"%s\" of repository \"%s\" already exists", name, repo.name)));
		DesSpiExec("INSERT INTO des.branch_log (repo_id, branch, old_head, new_head, role, reason) "
				   "VALUES ($1, $2, NULL, $3, $4, 'create')", 4, types, args, nulls, false, SPI_OK_INSERT);
		if (has_head)
			des_tree_hex(head, hex);
		DesLogWrite(&scope, &repo, "branch_create", "branch", name, "from", from, "head", hex, NULL);
	}
	PG_FINALLY();
	{
		DesOwnerEnd(&scope);
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(des_branch_delete);

/* des.branch_delete(repo, name): not the default branch, not a protected one; its staged changes go too */
Datum
des_branch_delete(PG_FUNCTION_ARGS)
{
	DesOwnerScope scope = {0};
	DesRepo		repo;
	char	   *repo_name,
			   *name;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("des.branch_delete needs a repository and a branch name")));
	repo_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	DesRepoOpen(repo_name, "write", psprintf("delete branches of repository \"%s\"", repo_name), &repo);
	if (strcmp(name, repo.default_branch) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("branch \"%s\" is the default branch of repository \"%s\"", name, repo.name)));
	PG_TRY();
	{
		Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
		Datum		args[3];
		bool		isnull;

		DesOwnerBegin(&scope);
		args[0] = Int64GetDatum(repo.id);
		args[1] = CStringGetTextDatum(name);
		args[2] = CStringGetTextDatum(scope.caller_name);
		DesSpiExec("SELECT h.protected FROM des.dataset_branches h WHERE h.repo_id = $1 AND h.name = $2 FOR UPDATE",
				   2, types, args, NULL, false, SPI_OK_SELECT);
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("branch \"%s\" of repository \"%s\" does not exist", name, repo.name)));
		if (DatumGetBool(DesSpiGet(0, "protected", &isnull)))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("branch \"%s\" of repository \"%s\" is protected", name, repo.name),
					 errhint("des.branch_protect(repo, branch, false) lifts it (admin level).")));
		DesSpiExec("WITH gone AS (DELETE FROM des.dataset_branches h WHERE h.repo_id = $1 AND h.name = $2 RETURNING h.head) "
				   "INSERT INTO des.branch_log (repo_id, branch, old_head, new_head, role, reason) "
				   "SELECT $1, $2, g.head, NULL, $3, 'delete' FROM gone g", 3, types, args, NULL, false, SPI_OK_INSERT);
		DesLogWrite(&scope, &repo, "branch_delete", "branch", name, NULL);
	}
	PG_FINALLY();
	{
		DesOwnerEnd(&scope);
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(des_branch_protect);

/* des.branch_protect(repo, name, protected DEFAULT true): admin level */
Datum
des_branch_protect(PG_FUNCTION_ARGS)
{
	DesOwnerScope scope = {0};
	DesRepo		repo;
	char	   *repo_name,
			   *name;
	bool		protect = PG_ARGISNULL(2) ? true : PG_GETARG_BOOL(2);

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("des.branch_protect needs a repository and a branch name")));
	repo_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	DesRepoOpen(repo_name, "admin", psprintf("protect branches of repository \"%s\"", repo_name), &repo);
	PG_TRY();
	{
		Oid			types[3] = {INT8OID, TEXTOID, BOOLOID};
		Datum		args[3];

		DesOwnerBegin(&scope);
		args[0] = Int64GetDatum(repo.id);
		args[1] = CStringGetTextDatum(name);
		args[2] = BoolGetDatum(protect);
		DesSpiExec("UPDATE des.dataset_branches h SET protected = $3 WHERE h.repo_id = $1 AND h.name = $2",
				   3, types, args, NULL, false, SPI_OK_UPDATE);
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("branch \"%s\" of repository \"%s\" does not exist", name, repo.name)));
		DesLogWrite(&scope, &repo, protect ? "branch_protect" : "branch_unprotect", "branch", name, NULL);
	}
	PG_FINALLY();
	{
		DesOwnerEnd(&scope);
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(des_label_set);

/* des.label_set(repo, label, ref): the label names the bundle of ref (created or moved) */
Datum
des_label_set(PG_FUNCTION_ARGS)
{
	DesOwnerScope scope = {0};
	DesRepo		repo;
	char	   *repo_name,
			   *label,
			   *ref;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("des.label_set needs a repository, a label and a ref")));
	repo_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	label = text_to_cstring(PG_GETARG_TEXT_PP(1));
	ref = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	DesRepoOpen(repo_name, "write", psprintf("set labels of repository \"%s\"", repo_name), &repo);
	DesCheckLabelName(label);
	PG_TRY();
	{
		unsigned char bundle[DES_TREE_HASH_BYTES];

		if (!bundle_of(&repo, ref, bundle, &scope))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("ref \"%s\" names no bundle yet", ref),
					 errdetail("The branch has no commit.")));
		DesLabelMove(&scope, &repo, label, bundle);
	}
	PG_FINALLY();
	{
		DesOwnerEnd(&scope);
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(des_label_delete);

/* des.label_delete(repo, label) */
Datum
des_label_delete(PG_FUNCTION_ARGS)
{
	DesOwnerScope scope = {0};
	DesRepo		repo;
	char	   *repo_name,
			   *label;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("des.label_delete needs a repository and a label")));
	repo_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	label = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	DesRepoOpen(repo_name, "write", psprintf("delete labels of repository \"%s\"", repo_name), &repo);
	PG_TRY();
	{
		Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
		Datum		args[3];

		DesOwnerBegin(&scope);
		args[0] = Int64GetDatum(repo.id);
		args[1] = CStringGetTextDatum(label);
		args[2] = CStringGetTextDatum(scope.caller_name);
		DesSpiExec("WITH gone AS (DELETE FROM des.dataset_labels l WHERE l.repo_id = $1 AND l.name = $2 RETURNING l.bundle_id) "
				   "INSERT INTO des.label_log (repo_id, label, old_bundle, new_bundle, role) "
				   "SELECT $1, $2, g.bundle_id, NULL, $3 FROM gone g", 3, types, args, NULL, false, SPI_OK_INSERT);
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("label \"%s\" of repository \"%s\" does not exist", label, repo.name)));
		DesLogWrite(&scope, &repo, "label_delete", "label", label, NULL);
	}
	PG_FINALLY();
	{
		DesOwnerEnd(&scope);
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_VOID();
}
