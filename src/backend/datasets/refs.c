/*
 * refs.c - what a ref names (docs/datasets.md "Refs"): a bundle id or a
 * unique prefix of 8+ hex digits, repo/branch (its head and what is staged
 * on it), repo/branch@{timestamp} (its head then, from the reflog),
 * repo@label, or a gros:// URI (docs/lineage.md: the branch's latest bundle,
 * the last of a day, one at a position, a label or an id prefix). Repo
 * names have no '/', '@' or ':', branch names no '@', so the forms never
 * overlap.
 */
#include "pg_des.h"
#include "datasets/datasets.h"
#include "lineage/lineage.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/date.h"
#include "utils/datetime.h"
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

/*
 * The bundle (and, when the query joined it, its root) from the lookup's
 * row: each lookup below reads the bundle's root in the same query, saving
 * DesResolveRef the query bundle_root would make.
 */
static void
take_bundle(DesResolvedRef *out, const char *id_column)
{
	bool		isnull;
	Datum		root;

	DesByteaHash(DatumGetByteaPP(DesSpiGet(0, id_column, &isnull)), out->bundle);
	out->has_bundle = true;
	root = DesSpiGet(0, "root", &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("a bundle of repository \"%s\" that a ref names is not stored", out->repo.name)));
	DesByteaHash(DatumGetByteaPP(root), out->root);
	out->root_known = true;
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
		DesSpiExec("SELECT b.head, d.root FROM des.dataset_branches b "
				   "LEFT JOIN des.dataset_bundles d ON d.repo_id = b.repo_id AND d.id = b.head "
				   "WHERE b.repo_id = $1 AND b.name = $2",
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
	if (!at_time)
	{
		take_bundle(out, "head");
		return;
	}
	DesByteaHash(DatumGetByteaPP(head), out->bundle);
	out->has_bundle = true;
}

/* The bundle label name of out's repo points at, into out; false if none. Run as the owner. */
static bool
label_bundle(DesResolvedRef *out, const char *name)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		args[2];

	args[0] = Int64GetDatum(out->repo.id);
	args[1] = CStringGetTextDatum(name);
	DesSpiExec("SELECT l.bundle_id, d.root FROM des.dataset_labels l "
			   "LEFT JOIN des.dataset_bundles d ON d.repo_id = l.repo_id AND d.id = l.bundle_id "
			   "WHERE l.repo_id = $1 AND l.name = $2",
			   2, types, args, NULL, true, SPI_OK_SELECT);
	if (SPI_processed == 0)
		return false;
	take_bundle(out, "bundle_id");
	return true;
}

/* A bundle id prefix among out's repo's bundles. Run as the owner. */
static void
repo_bundle_prefix(DesResolvedRef *out, const char *hex)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		args[2];
	bool		isnull;

	args[0] = Int64GetDatum(out->repo.id);
	args[1] = CStringGetTextDatum(hex);
	DesSpiExec("SELECT b.id FROM des.dataset_bundles b WHERE b.repo_id = $1 "
			   "AND b.id BETWEEN pg_catalog.decode(pg_catalog.rpad($2, 64, '0'), 'hex') "
			   "AND pg_catalog.decode(pg_catalog.rpad($2, 64, 'f'), 'hex') LIMIT 2",
			   2, types, args, NULL, true, SPI_OK_SELECT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("repository \"%s\" has no label \"%s\" and no bundle whose id starts with it",
						out->repo.name, hex)));
	if (SPI_processed > 1)
		ereport(ERROR,
				(errcode(ERRCODE_AMBIGUOUS_ALIAS),
				 errmsg("bundle id prefix \"%s\" is ambiguous in repository \"%s\"", hex, out->repo.name),
				 errhint("Give more hex digits.")));
	DesByteaHash(DatumGetByteaPP(DesSpiGet(0, "id", &isnull)), out->bundle);
	out->has_bundle = true;
}

/*
 * One bundle of the branch picked from des.branch_history in one query: the
 * branch row (it must exist and have a bundle), the last history row (the
 * history must end at the head: rebuilt once when it does not, after a
 * restore), the row a pick chooses (a LATERAL subquery over h =
 * des.branch_history that may use br, last and parameters $3 on), and its
 * bundle's root. The usual case takes history_scan.c's index lookups
 * instead; this query reports what they leave (no such branch, no head) and
 * rebuilds a history out of step. Each query is one constant, as plan_for
 * keeps plans by the text's address.
 */
#define BRANCH_PICK_BEGIN \
	"SELECT br.head, br.head = last.bundle_id AS in_step, last.position AS last, " \
	"x.bundle_id, d.root FROM des.dataset_branches br " \
	"LEFT JOIN LATERAL (SELECT l.bundle_id, l.position FROM des.branch_history l " \
	"WHERE l.repo_id = br.repo_id AND l.branch = br.name " \
	"ORDER BY l.position DESC LIMIT 1) last ON true " \
	"LEFT JOIN LATERAL ("
#define BRANCH_PICK_END \
	") x ON true " \
	"LEFT JOIN des.dataset_bundles d ON d.repo_id = br.repo_id AND d.id = x.bundle_id " \
	"WHERE br.repo_id = $1 AND br.name = $2"

static const char *const position_query = BRANCH_PICK_BEGIN
"SELECT h.bundle_id FROM des.branch_history h "
"WHERE h.repo_id = br.repo_id AND h.branch = br.name "
"AND h.position = CASE WHEN $3 >= 0 THEN $3 ELSE last.position + 1 + $3 END"
BRANCH_PICK_END;

static const char *const day_query = BRANCH_PICK_BEGIN
"SELECT h.bundle_id FROM des.branch_history h "
"WHERE h.repo_id = br.repo_id AND h.branch = br.name "
"AND h.committed_at >= $3 AND h.committed_at < $4 "
"ORDER BY h.committed_at DESC, h.position DESC LIMIT 1"
BRANCH_PICK_END;

/* Returns the last position; *found: the pick chose a row, taken into out. Run as the owner. */
static int64
branch_pick(DesResolvedRef *out, const char *uri, const char *query, int nextra, Oid *extra_types,
			Datum *extra_args, bool *found)
{
	Oid			types[4];
	Datum		args[4];
	bool		head_null,
				isnull;
	Datum		in_step;

	Assert(nextra <= 2);
	types[0] = INT8OID;
	types[1] = TEXTOID;
	args[0] = Int64GetDatum(out->repo.id);
	args[1] = CStringGetTextDatum(out->branch);
	for (int i = 0; i < nextra; i++)
	{
		types[2 + i] = extra_types[i];
		args[2 + i] = extra_args[i];
	}
	for (int pass = 0;; pass++)
	{
		/* (after a rebuild, not read-only: that would not see the rebuilt rows) */
		DesSpiExec(query, 2 + nextra, types, args, NULL, pass == 0, SPI_OK_SELECT);
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("branch \"%s\" of repository \"%s\" does not exist", out->branch, out->repo.name),
					 errcontext("gros URI \"%s\"", uri)));
		(void) DesSpiGet(0, "head", &head_null);
		if (head_null)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("branch \"%s\" of repository \"%s\" has no bundle yet", out->branch, out->repo.name),
					 errcontext("gros URI \"%s\"", uri)));
		in_step = DesSpiGet(0, "in_step", &isnull);
		if ((!isnull && DatumGetBool(in_step)) || pass > 0)
			break;
		DesSpiExec("SELECT des_internal.branch_history_rebuild($1, $2)", 2, types, args, NULL, false, SPI_OK_SELECT);
	}
	(void) DesSpiGet(0, "bundle_id", &isnull);
	*found = !isnull;
	if (*found)
		take_bundle(out, "bundle_id");
	return DatumGetInt64(DesSpiGet(0, "last", &isnull));
}

/* history_scan.c's answer into out */
static void
take_pick(DesResolvedRef *out, const DesHistoryPick *pick)
{
	if (!pick->found)
		return;
	memcpy(out->bundle, pick->bundle, DES_TREE_HASH_BYTES);
	memcpy(out->root, pick->root, DES_TREE_HASH_BYTES);
	out->has_bundle = true;
	out->root_known = true;
}

/* The bundle at a position of the branch (0 the first, -1 the latest). Run as the owner. */
static void
branch_position(DesResolvedRef *out, int64 position, const char *uri)
{
	Oid			types[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(position)};
	DesHistoryPick pick;
	bool		found;
	int64		last;

	if (DesHistoryPickPosition(out->repo.id, out->branch, position, &pick))
	{
		take_pick(out, &pick);
		found = pick.found;
		last = pick.last;
	}
	else
		last = branch_pick(out, uri, position_query, 1, types, args, &found);
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("position " INT64_FORMAT " is out of range: branch \"%s\" of repository \"%s\" has " INT64_FORMAT
						" bundle%s", position, out->branch, out->repo.name, last + 1, last == 0 ? "" : "s"),
				 errdetail("Positions 0 to " INT64_FORMAT " count from the first bundle, -1 to -" INT64_FORMAT
						   " from the latest.", last, last + 1),
				 errcontext("gros URI \"%s\"", uri)));
}

/* midnight starting a day in des.lineage_timezone */
static TimestampTz
day_start(int julian_day)
{
	Timestamp	midnight = DatumGetTimestamp(DirectFunctionCall1(date_timestamp,
																 DateADTGetDatum(julian_day - POSTGRES_EPOCH_JDATE)));

	return DatumGetTimestampTz(DirectFunctionCall2(timestamp_zone, CStringGetTextDatum(des_lineage_timezone),
												   TimestampGetDatum(midnight)));
}

/* The last bundle of the branch committed on a day (des.lineage_timezone). Run as the owner. */
static void
branch_day(DesResolvedRef *out, int year, int month, int day, const char *uri)
{
	Oid			types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		args[2];
	int			julian = date2j(year, month, day);
	TimestampTz from = day_start(julian),
				until = day_start(julian + 1);
	DesHistoryPick pick;
	bool		found;

	if (DesHistoryPickDay(out->repo.id, out->branch, from, until, &pick))
	{
		take_pick(out, &pick);
		found = pick.found;
	}
	else
	{
		args[0] = TimestampTzGetDatum(from);
		args[1] = TimestampTzGetDatum(until);
		(void) branch_pick(out, uri, day_query, 2, types, args, &found);
	}
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("branch \"%s\" of repository \"%s\" has no bundle committed on %04d-%02d-%02d (%s)",
						out->branch, out->repo.name, year, month, day, des_lineage_timezone),
				 errhint("A day tag names the last bundle committed that day in the time zone des.lineage_timezone."),
				 errcontext("gros URI \"%s\"", uri)));
}

/* A gros:// URI (docs/lineage.md). As the caller until the repo is open, then as the owner. */
static void
resolve_uri(const char *ref, const char *level, DesResolvedRef *out, DesOwnerScope *scope)
{
	des_uri		u;
	des_error	err;

	if (!des_uri_parse(ref, strlen(ref), &u, &err))
		DesReportUriError(ref, &u, &err);
	out->kind = DES_REF_URI;
	out->tag_kind = (int) u.tag_kind;
	out->realtime = u.tag_kind == DES_URI_REALTIME;
	DesRepoOpen(u.repo, level, psprintf("read repository \"%s\"", u.repo), &out->repo);
	DesOwnerBegin(scope);
	out->branch = pstrdup(u.has_branch ? u.branch : out->repo.default_branch);
	switch (u.tag_kind)
	{
		case DES_URI_REALTIME:
		case DES_URI_LATEST:
			branch_head(out, false, 0);
			break;
		case DES_URI_DATE:
			branch_day(out, u.year, u.month, u.day, ref);
			break;
		case DES_URI_POSITION:
			branch_position(out, u.position, ref);
			break;
		case DES_URI_NAME:
			if (!label_bundle(out, u.tag))
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_OBJECT),
						 errmsg("label \"%s\" of repository \"%s\" does not exist", u.tag, out->repo.name),
						 errcontext("gros URI \"%s\"", ref)));
			break;
		case DES_URI_NAME_OR_ID:
			if (!label_bundle(out, u.tag))
				repo_bundle_prefix(out, u.tag);
			break;
	}
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
	if (pg_strncasecmp(ref, DES_URI_SCHEME, strlen(DES_URI_SCHEME)) == 0)
		resolve_uri(ref, level, out, scope);
	else if (is_hex_id(ref))
	{
		out->kind = DES_REF_BUNDLE;
		resolve_id(ref, level, out);
		DesOwnerBegin(scope);
	}
	else if (at && (slash == NULL || at < slash))
	{
		/* repo@label */
		char	   *repo = pnstrdup(ref, at - ref);

		out->kind = DES_REF_LABEL;
		DesRepoOpen(repo, level, psprintf("read repository \"%s\"", repo), &out->repo);
		DesOwnerBegin(scope);
		if (!label_bundle(out, at + 1))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("label \"%s\" of repository \"%s\" does not exist", at + 1, repo)));
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
				 errhint("A ref is a bundle id (or 8+ of its first hex digits), repo/branch, repo/branch@{timestamp}, "
						 "repo@label or a gros:// URI.")));

	MemoryContextSwitchTo(cxt);
	out->repo.name = pstrdup(out->repo.name);
	out->repo.default_branch = pstrdup(out->repo.default_branch);
	out->tree = DesTreeReaderCreate(out->repo.id);
	if (out->has_bundle)
	{
		if (!out->root_known)
			bundle_root(&out->repo, out->bundle, out->root);
	}
	else
		DesTreeReaderKeepEmpty(out->tree, out->root);
	if (out->kind == DES_REF_BRANCH && with_staged)
		out->staged = DesApplyStaged(&out->repo, out->branch, out->tree, out->has_bundle ? out->root : NULL,
									 false, out->root, NULL, NULL);
	MemoryContextSwitchTo(cxt);
}

PG_FUNCTION_INFO_V1(des_resolve);

/* des.resolve(ref) -> (repo, kind, bundle_id, root, staged, branch, tag_kind, realtime) */
Datum
des_resolve(PG_FUNCTION_ARGS)
{
	MemoryContext outer = CurrentMemoryContext;
	DesOwnerScope scope = {0};
	DesResolvedRef r;
	TupleDesc	tupdesc;
	Datum		values[8];
	bool		nulls[8] = {0};
	char		hex[DES_TREE_HEX_LEN + 1];
	static const char *const kinds[] = {"bundle", "branch", "branch at time", "label", "uri"};

	/* the row type, blessed once per call site (a query resolving many refs asks each time) */
	if (fcinfo->flinfo->fn_extra == NULL)
	{
		MemoryContext old;

		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "des.resolve must return a row");
		old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = BlessTupleDesc(CreateTupleDescCopy(tupdesc));
		MemoryContextSwitchTo(old);
	}
	tupdesc = (TupleDesc) fcinfo->flinfo->fn_extra;
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
	values[5] = r.branch ? CStringGetTextDatum(r.branch) : (Datum) 0;
	nulls[5] = r.branch == NULL;
	values[6] = r.kind == DES_REF_URI ? CStringGetTextDatum(des_uri_tag_kind_name((des_uri_tag_kind) r.tag_kind)) : (Datum) 0;
	nulls[6] = r.kind != DES_REF_URI;
	values[7] = BoolGetDatum(r.realtime);
	SPI_finish();
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
