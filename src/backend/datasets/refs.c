/*
 * refs.c - what a ref names (docs/datasets.md "Refs"): a bundle id or a
 * unique prefix of 8+ hex digits, repo/branch (its head and what is staged
 * on it), repo/branch@{timestamp} (its head then, from the reflog), or
 * repo@label. Repo names have no '/' or '@', branch names no '@', so the
 * forms never overlap.
 */
#include "pg_des.h"
#include "datasets/datasets.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

static bool
is_hex_id(const char *s)
{
	size_t		n = strlen(s);

	if (n < DES_BUNDLE_ID_MIN_PREFIX || n > DES_TREE_HEX_LEN)
		return false;
	return strspn(s, "0123456789abcdef") == n;
}

/* The bundle's root. Run as the owner. */
static void
bundle_root(const DesRepo *repo, const unsigned char id[DES_TREE_HASH_BYTES], unsigned char root[DES_TREE_HASH_BYTES])
{
	Oid			types[2] = {INT8OID, BYTEAOID};
	Datum		args[2];
	bool		isnull;

	args[0] = Int64GetDatum(repo->id);
	args[1] = PointerGetDatum(DesHashBytea(id));
	DesSpiExec("SELECT b.root FROM des.dataset_bundles b WHERE b.repo_id = $1 AND b.id = $2", 2, types, args, NULL,
			   true, SPI_OK_SELECT);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("a bundle of repository \"%s\" that a ref names is not stored", repo->name)));
	DesByteaHash(DatumGetByteaPP(DesSpiGet(0, "root", &isnull)), root);
}

/* A bundle id or prefix, among the bundles the caller sees (as the caller). */
static void
resolve_id(const char *hex, const char *level, DesResolvedRef *out)
{
	Oid			types[1] = {TEXTOID};
	Datum		args[1];
	bool		isnull;
	char	   *repo_name;

	args[0] = CStringGetTextDatum(hex);
	DesSpiExec("SELECT b.id, r.name FROM des.dataset_bundles b JOIN des.repositories r ON r.id = b.repo_id "
			   "WHERE b.id BETWEEN pg_catalog.decode(pg_catalog.rpad($1, 64, '0'), 'hex') "
			   "AND pg_catalog.decode(pg_catalog.rpad($1, 64, 'f'), 'hex') LIMIT 2",
			   1, types, args, NULL, true, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no bundle has id \"%s\"", hex),
				 errhint("An id, or a unique prefix of 8 or more of its hex digits, of a bundle you can read.")));
	if (SPI_processed > 1)
		ereport(ERROR,
				(errcode(ERRCODE_AMBIGUOUS_ALIAS),
				 errmsg("bundle id prefix \"%s\" is ambiguous", hex),
				 errhint("Give more hex digits.")));
	DesByteaHash(DatumGetByteaPP(DesSpiGet(0, "id", &isnull)), out->bundle);
	repo_name = TextDatumGetCString(DesSpiGet(0, "name", &isnull));
	DesRepoOpen(repo_name, level, psprintf("read bundles of repository \"%s\"", repo_name), &out->repo);
	out->has_bundle = true;
}

/* A reflog time: timestamptz input, with its own errors (22007, 22008). */
static TimestampTz
parse_time(const char *s)
{
	return DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(s),
												   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

/* The head of repo's branch, optionally at a time (from the reflog). Run as the owner. */
static void
branch_head(DesResolvedRef *out, bool at_time, TimestampTz when)
{
	Oid			types[3] = {INT8OID, TEXTOID, TIMESTAMPTZOID};
	Datum		args[3];
	bool		isnull;
	Datum		head;

	args[0] = Int64GetDatum(out->repo.id);
	args[1] = CStringGetTextDatum(out->branch);
	args[2] = TimestampTzGetDatum(when);
	if (!at_time)
		DesSpiExec("SELECT b.head FROM des.dataset_branches b WHERE b.repo_id = $1 AND b.name = $2",
				   2, types, args, NULL, true, SPI_OK_SELECT);
	else
		DesSpiExec("SELECT l.new_head AS head FROM des.branch_log l WHERE l.repo_id = $1 AND l.branch = $2 "
				   "AND l.at <= $3 ORDER BY l.at DESC, l.id DESC LIMIT 1", 3, types, args, NULL, true, SPI_OK_SELECT);
	if (SPI_processed == 0)
	{
		if (at_time)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("branch \"%s\" of repository \"%s\" did not exist at %s", out->branch, out->repo.name,
							timestamptz_to_str(when))));
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("branch \"%s\" of repository \"%s\" does not exist", out->branch, out->repo.name)));
	}
	head = DesSpiGet(0, "head", &isnull);
	if (isnull)
	{
		if (at_time)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("branch \"%s\" of repository \"%s\" had no commit at %s", out->branch, out->repo.name,
							timestamptz_to_str(when))));
		out->has_bundle = false;
		return;
	}
	DesByteaHash(DatumGetByteaPP(head), out->bundle);
	out->has_bundle = true;
}

void
DesResolveRef(const char *ref, const char *level, bool with_staged, DesResolvedRef *out, DesOwnerScope *scope)
{
	const char *at = strchr(ref, '@');
	const char *slash = strchr(ref, '/');
	bool		at_time = false;
	TimestampTz when = 0;
	/* SPI calls return in SPI's procedure memory: what out keeps goes here */
	MemoryContext cxt = CurrentMemoryContext;

	/* the caller's rights decide what it may resolve: never resolve as the owner */
	if (scope->active)
		elog(ERROR, "DesResolveRef called while working as the extension's owner");
	memset(out, 0, sizeof(*out));
	out->ref = pstrdup(ref);
	if (is_hex_id(ref))
	{
		out->kind = DES_REF_BUNDLE;
		resolve_id(ref, level, out);
		DesOwnerBegin(scope);
	}
	else if (at && (slash == NULL || at < slash))
	{
		/* repo@label */
		char	   *repo = pnstrdup(ref, at - ref);
		Oid			types[2] = {INT8OID, TEXTOID};
		Datum		args[2];
		bool		isnull;

		out->kind = DES_REF_LABEL;
		DesRepoOpen(repo, level, psprintf("read repository \"%s\"", repo), &out->repo);
		DesOwnerBegin(scope);
		args[0] = Int64GetDatum(out->repo.id);
		args[1] = CStringGetTextDatum(at + 1);
		DesSpiExec("SELECT l.bundle_id FROM des.dataset_labels l WHERE l.repo_id = $1 AND l.name = $2",
				   2, types, args, NULL, true, SPI_OK_SELECT);
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("label \"%s\" of repository \"%s\" does not exist", at + 1, repo)));
		DesByteaHash(DatumGetByteaPP(DesSpiGet(0, "bundle_id", &isnull)), out->bundle);
		out->has_bundle = true;
	}
	else if (slash && slash > ref)
	{
		char	   *repo = pnstrdup(ref, slash - ref);
		const char *branch = slash + 1;

		if (at)
		{
			size_t		len = strlen(at);

			if (len < 4 || at[1] != '{' || at[len - 1] != '}')
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid ref \"%s\"", ref),
						 errhint("A time is written repo/branch@{timestamp}.")));
			when = parse_time(pnstrdup(at + 2, len - 3));
			at_time = true;
			out->branch = pnstrdup(branch, at - branch);
		}
		else
			out->branch = pstrdup(branch);
		out->kind = at_time ? DES_REF_BRANCH_AT : DES_REF_BRANCH;
		DesRepoOpen(repo, level, psprintf("read repository \"%s\"", repo), &out->repo);
		DesOwnerBegin(scope);
		branch_head(out, at_time, when);
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid ref \"%s\"", ref),
				 errhint("A ref is a bundle id (or 8+ of its first hex digits), repo/branch, repo/branch@{timestamp} or repo@label.")));

	MemoryContextSwitchTo(cxt);
	out->repo.name = pstrdup(out->repo.name);
	out->repo.default_branch = pstrdup(out->repo.default_branch);
	out->tree = DesTreeReaderCreate(out->repo.id);
	if (out->has_bundle)
		bundle_root(&out->repo, out->bundle, out->root);
	else
		DesTreeReaderKeepEmpty(out->tree, out->root);
	if (out->kind == DES_REF_BRANCH && with_staged)
		out->staged = DesApplyStaged(&out->repo, out->branch, out->tree, out->has_bundle ? out->root : NULL,
									 false, out->root, NULL, NULL);
	MemoryContextSwitchTo(cxt);
}

PG_FUNCTION_INFO_V1(des_resolve);

/* des.resolve(ref) -> (repo, kind, bundle_id, root, staged) */
Datum
des_resolve(PG_FUNCTION_ARGS)
{
	MemoryContext outer = CurrentMemoryContext;
	DesOwnerScope scope = {0};
	DesResolvedRef r;
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {0};
	char		hex[DES_TREE_HEX_LEN + 1];
	static const char *const kinds[] = {"bundle", "branch", "branch at time", "label"};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "des.resolve must return a row");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PG_TRY();
	{
		DesResolveRef(text_to_cstring(PG_GETARG_TEXT_PP(0)), "read", true, &r, &scope);
	}
	PG_FINALLY();
	{
		DesOwnerEnd(&scope);
	}
	PG_END_TRY();
	/* the result outlives SPI's memory */
	MemoryContextSwitchTo(outer);
	values[0] = CStringGetTextDatum(r.repo.name);
	values[1] = CStringGetTextDatum(kinds[r.kind]);
	if (r.has_bundle)
	{
		des_tree_hex(r.bundle, hex);
		values[2] = CStringGetTextDatum(hex);
	}
	else
		nulls[2] = true;
	des_tree_hex(r.root, hex);
	values[3] = CStringGetTextDatum(hex);
	values[4] = Int64GetDatum(r.staged);
	SPI_finish();
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
