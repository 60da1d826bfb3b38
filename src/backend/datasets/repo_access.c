/*
 * repo_access.c - the gate of every function on versions: the caller's
 * level on a repo, checked as the caller; then work as the extension's
 * owner, which alone writes the versioning tables; the write and read logs.
 */
#include "pg_des.h"
#include "datasets/datasets.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/json.h"
#include "utils/lsyscache.h"

/*
 * The role that owns the pg_des extension (of this database): two catalog
 * scans, which every function on versions needed for each call (a third of
 * a position's resolution), so the answer is kept for the statement.
 */
static Oid	owner_cached = InvalidOid;
static DesStatementId owner_cached_statement;

Oid
DesExtensionOwner(void)
{
	DesStatementId now = DesCurrentStatement();
	Oid			ext;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			owner = InvalidOid;

	if (OidIsValid(owner_cached) && DesSameStatement(now, owner_cached_statement))
		return owner_cached;
	ext = get_extension_oid("pg_des", false);
	rel = table_open(ExtensionRelationId, AccessShareLock);

	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(ext));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (!OidIsValid(owner))
		elog(ERROR, "pg_des extension has no owner");
	owner_cached = owner;
	owner_cached_statement = now;
	return owner;
}

/*
 * The plans of the queries run by this area, prepared once per backend:
 * parsing and planning each query anew cost more than running it (an
 * upload runs a few per batch of files). Keyed by the query text's address
 * (the queries are string constants) and checked against its text.
 */
typedef struct KeptPlan
{
	const char *key;			/* the query's address: the hash key */
	char	   *text;			/* its text, to check a key is not reused */
	SPIPlanPtr	plan;
} KeptPlan;

static HTAB *plans = NULL;

static SPIPlanPtr
plan_for(const char *query, int nargs, Oid *types)
{
	KeptPlan *c;
	bool		found;

	if (plans == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(const char *);
		ctl.entrysize = sizeof(KeptPlan);
		ctl.hcxt = TopMemoryContext;
		plans = hash_create("pg_des dataset plans", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	c = hash_search(plans, &query, HASH_ENTER, &found);
	if (found && strcmp(c->text, query) == 0)
		return c->plan;
	if (found)
	{
		SPI_freeplan(c->plan);
		pfree(c->text);
	}
	c->plan = NULL;
	c->text = MemoryContextStrdup(TopMemoryContext, query);
	{
		/* generic plans: the queries look rows up by keys, and custom planning each time costs more than it saves */
		SPIPlanPtr	p = SPI_prepare_cursor(query, nargs, types, CURSOR_OPT_GENERIC_PLAN);

		if (p == NULL)
		{
			hash_search(plans, &query, HASH_REMOVE, NULL);
			elog(ERROR, "SPI_prepare failed (%s) for: %s", SPI_result_code_string(SPI_result), query);
		}
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "SPI_keepplan failed");
		c->plan = p;
	}
	return c->plan;
}

void
DesSpiExec(const char *query, int nargs, Oid *types, Datum *args, const char *nulls, bool read_only, int expected)
{
	int			rc = SPI_execute_plan(plan_for(query, nargs, types), args, nulls, read_only, 0);

	if (rc != expected)
		elog(ERROR, "SPI_execute_plan returned %s for: %s", SPI_result_code_string(rc), query);
}

/*
 * Repos already opened in this statement, by user, name and level: a
 * statement that resolves many refs of one repo (a query over a table of
 * URIs, des.resolve in a loop) asks the same question each time. As the
 * levels (tenancy.c), an answer holds for the statement, and the cache is
 * emptied with theirs when this backend changes a grant or a repo, or a
 * role changes; only successful opens are kept.
 */
typedef struct RepoCacheEntry
{
	Oid			user;
	char		level[8];
	char	   *name;			/* in TopMemoryContext, like default_branch */
	int64		id;
	int64		context_id;
	char	   *default_branch;
} RepoCacheEntry;

#define REPO_CACHE_SIZE 16
static RepoCacheEntry repo_cache[REPO_CACHE_SIZE];
static int	repo_cache_used = 0;
static int	repo_cache_next = 0;
static DesStatementId repo_cache_statement;

void
DesRepoCacheReset(void)
{
	for (int i = 0; i < repo_cache_used; i++)
	{
		pfree(repo_cache[i].name);
		pfree(repo_cache[i].default_branch);
	}
	repo_cache_used = 0;
	repo_cache_next = 0;
}

static RepoCacheEntry *
repo_cache_find(Oid user, const char *name, const char *level)
{
	DesStatementId now = DesCurrentStatement();

	if (!DesSameStatement(now, repo_cache_statement))
	{
		DesRepoCacheReset();
		repo_cache_statement = now;
		return NULL;
	}
	for (int i = 0; i < repo_cache_used; i++)
		if (repo_cache[i].user == user && strcmp(repo_cache[i].level, level) == 0 &&
			strcmp(repo_cache[i].name, name) == 0)
			return &repo_cache[i];
	return NULL;
}

static void
repo_cache_add(Oid user, const char *name, const char *level, const DesRepo *repo)
{
	RepoCacheEntry *e;

	if (strlen(level) >= sizeof(e->level))
		return;
	if (repo_cache_used < REPO_CACHE_SIZE)
		e = &repo_cache[repo_cache_used++];
	else
	{
		e = &repo_cache[repo_cache_next];
		repo_cache_next = (repo_cache_next + 1) % REPO_CACHE_SIZE;
		pfree(e->name);
		pfree(e->default_branch);
	}
	e->user = user;
	strlcpy(e->level, level, sizeof(e->level));
	e->name = MemoryContextStrdup(TopMemoryContext, name);
	e->id = repo->id;
	e->context_id = repo->context_id;
	e->default_branch = MemoryContextStrdup(TopMemoryContext, repo->default_branch);
}

void
DesRepoOpen(const char *name, const char *level, const char *what, DesRepo *repo)
{
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		args[3];
	bool		isnull;
	Oid			user = GetUserId();
	RepoCacheEntry *hit = repo_cache_find(user, name, level);

	if (hit)
	{
		repo->id = hit->id;
		repo->context_id = hit->context_id;
		repo->default_branch = pstrdup(hit->default_branch);
		repo->name = pstrdup(name);
		return;
	}
	args[0] = CStringGetTextDatum(name);
	args[1] = CStringGetTextDatum(level);
	args[2] = CStringGetTextDatum(what);
	/* as the caller: what it sees, and its level (errors from there) */
	DesSpiExec("SELECT repo_id, context_id, default_branch FROM des_internal.repo_for(name => $1, "
			   "needed => $2::des.access_level, what => $3)", 3, types, args, NULL, true, SPI_OK_SELECT);
	if (SPI_processed != 1)
		elog(ERROR, "des_internal.repo_for returned " UINT64_FORMAT " rows", SPI_processed);
	repo->id = DatumGetInt64(DesSpiGet(0, "repo_id", &isnull));
	repo->context_id = DatumGetInt64(DesSpiGet(0, "context_id", &isnull));
	repo->default_branch = TextDatumGetCString(DesSpiGet(0, "default_branch", &isnull));
	repo->name = pstrdup(name);
	repo_cache_add(user, name, level, repo);
}

void
DesOwnerBegin(DesOwnerScope *scope)
{
	GetUserIdAndSecContext(&scope->save_user, &scope->save_sec);
	scope->caller = GetUserId();
	scope->caller_name = GetUserNameFromId(scope->caller, false);
	SetUserIdAndSecContext(DesExtensionOwner(),
						   scope->save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	scope->active = true;
}

void
DesOwnerEnd(DesOwnerScope *scope)
{
	if (scope->active)
		SetUserIdAndSecContext(scope->save_user, scope->save_sec);
	scope->active = false;
}

void
DesLogWrite(const DesOwnerScope *scope, const DesRepo *repo, const char *action,...)
{
	Oid			types[5] = {TEXTOID, TEXTOID, INT8OID, INT8OID, TEXTOID};
	Datum		args[5];
	StringInfoData detail;
	va_list		ap;
	const char *key;
	bool		first = true;

	/* the detail: a JSON object of the key/value strings given */
	initStringInfo(&detail);
	appendStringInfoChar(&detail, '{');
	va_start(ap, action);
	while ((key = va_arg(ap, const char *)) != NULL)
	{
		const char *value = va_arg(ap, const char *);

		if (!first)
			appendStringInfoString(&detail, ", ");
		first = false;
		escape_json(&detail, key);
		appendStringInfoString(&detail, ": ");
		escape_json(&detail, value);
	}
	va_end(ap);
	appendStringInfoChar(&detail, '}');

	args[0] = CStringGetTextDatum(scope->caller_name);
	args[1] = CStringGetTextDatum(action);
	args[2] = Int64GetDatum(repo->context_id);
	args[3] = Int64GetDatum(repo->id);
	args[4] = CStringGetTextDatum(detail.data);
	DesSpiExec("INSERT INTO des.write_log (role, action, context_id, repo_id, detail) "
			   "VALUES ($1, $2, $3, $4, $5::pg_catalog.jsonb)", 5, types, args, NULL, false, SPI_OK_INSERT);
}

void
DesLogRead(const DesOwnerScope *scope, const DesRepo *repo, const char *ref,
		   const unsigned char *bundle_id, const char *path, const char *function)
{
	Oid			types[8] = {TEXTOID, INT8OID, TEXTOID, BYTEAOID, TEXTOID, TEXTOID, TEXTOID, OIDOID};
	Datum		args[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	const char *app = GetConfigOption("application_name", true, false);

	args[0] = CStringGetTextDatum(scope->caller_name);
	args[1] = Int64GetDatum(repo->id);
	args[2] = CStringGetTextDatum(ref);
	if (bundle_id)
		args[3] = PointerGetDatum(DesHashBytea(bundle_id));
	else
		nulls[3] = 'n';
	if (path)
		args[4] = CStringGetTextDatum(path);
	else
		nulls[4] = 'n';
	args[5] = CStringGetTextDatum(function);
	args[6] = CStringGetTextDatum(app ? app : "");
	args[7] = ObjectIdGetDatum(scope->caller);
	DesSpiExec("INSERT INTO des.read_log (role, reader, repo_id, ref, bundle_id, path, function, application_name) "
			   "VALUES ($1, $8::pg_catalog.regrole, $2, $3, $4, $5, $6, $7)", 8, types, args, nulls, false,
			   SPI_OK_INSERT);
}

/* dynahash's hash of a key that starts with a BLAKE2b-256 hash: its first bytes are already uniform */
uint32
DesBlake2bKeyHash(const void *key, Size keysize)
{
	uint32		h;

	(void) keysize;
	memcpy(&h, key, sizeof(h));
	return h;
}

bytea *
DesHashBytea(const unsigned char hash[DES_TREE_HASH_BYTES])
{
	bytea	   *b = palloc(VARHDRSZ + DES_TREE_HASH_BYTES);

	SET_VARSIZE(b, VARHDRSZ + DES_TREE_HASH_BYTES);
	memcpy(VARDATA(b), hash, DES_TREE_HASH_BYTES);
	return b;
}

void
DesByteaHash(bytea *b, unsigned char hash[DES_TREE_HASH_BYTES])
{
	if (VARSIZE_ANY_EXHDR(b) != DES_TREE_HASH_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("a stored hash has %d bytes, not %d", (int) VARSIZE_ANY_EXHDR(b), DES_TREE_HASH_BYTES)));
	memcpy(hash, VARDATA_ANY(b), DES_TREE_HASH_BYTES);
}

void
DesReportTreeError(const des_error *err, const char *context)
{
	int			code;

	switch (err->code)
	{
		case DES_E_INVALID_NAME:
			code = ERRCODE_INVALID_NAME;
			break;
		case DES_E_INVALID_ARGUMENT:
			code = ERRCODE_INVALID_PARAMETER_VALUE;
			break;
		case DES_E_DUPLICATE_NAME:
			code = ERRCODE_DUPLICATE_OBJECT;
			break;
		case DES_E_TOO_LARGE:
			code = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
			break;
		case DES_E_NOMEM:
			code = ERRCODE_OUT_OF_MEMORY;
			break;
		case DES_E_UNSUPPORTED:
			code = ERRCODE_FEATURE_NOT_SUPPORTED;
			break;
		case DES_E_NOT_FOUND:
			code = ERRCODE_UNDEFINED_OBJECT;
			break;
		default:
			code = ERRCODE_DATA_CORRUPTED;
			break;
	}
	if (context)
		ereport(ERROR, (errcode(code), errmsg("%s: %s", context, err->message)));
	ereport(ERROR, (errcode(code), errmsg("%s", err->message)));
}
