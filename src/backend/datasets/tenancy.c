/*
 * tenancy.c - the access level of the current user on a context or repo.
 *
 * Row-level security and the functions of the datasets area ask this for
 * the role that is current where they run: current_user, with PostgreSQL's
 * own meaning (inside a SECURITY DEFINER function its owner, inside
 * maintenance commands the table's owner). The grants themselves are hidden
 * from that role by row-level security, so the lookup runs as the
 * extension's owner, for the user id taken before switching, and nothing
 * else: no role argument, so no role can ask about another.
 */
#include "pg_des.h"
#include "datasets/datasets.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/rel.h"
#include "utils/syscache.h"

/*
 * Levels already looked up in this statement: row-level security asks for
 * every repo row a query looks at, and each function asks again for its
 * repo, so one statement resolving many refs would look the same level up
 * thousands of times. A level holds for the statement, as PostgreSQL's own
 * privileges are checked when a statement starts; the cache is also
 * emptied when this backend changes a grant or a repo (the tenancy trigger)
 * or any role membership or role changes (syscache invalidation).
 */
typedef struct LevelCacheEntry
{
	Oid			user;
	int64		context;
	int64		repo;			/* -1: the context itself */
	bool		is_null;
	char		level[8];		/* read, write, admin */
} LevelCacheEntry;

#define LEVEL_CACHE_SIZE 32
static LevelCacheEntry level_cache[LEVEL_CACHE_SIZE];
static int	level_cache_used = 0;
static int	level_cache_next = 0;	/* round-robin replacement when full */
static DesStatementId level_cache_statement;
static bool level_cache_callbacks = false;

static void
level_cache_reset(void)
{
	level_cache_used = 0;
	level_cache_next = 0;
	DesRepoCacheReset();		/* the repos opened hold for as long as the levels do */
}

static void
level_cache_inval(Datum arg, int cacheid, uint32 hashvalue)
{
	level_cache_reset();
}

/*
 * Run a one-row query as the extension's owner, in a security-restricted
 * operation, and give the text of its first column (NULL when the column is
 * NULL). The caller takes GetUserId() before, for the query's arguments;
 * every name in the query must be qualified, since the search_path in force
 * is still the caller's.
 */
static text *
query_as_owner(const char *query, int nargs, Oid *types, Datum *args, const char *nulls, bool read_only)
{
	Oid			save_user;
	int			save_sec;
	text	   *volatile result = NULL;

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(DesExtensionOwner(), save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		bool		isnull;
		Datum		d;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		/* (DesSpiExec keeps the plan: an access check runs for every repo row a policy looks at) */
		DesSpiExec(query, nargs, types, args, nulls, read_only, SPI_OK_SELECT);
		if (SPI_processed != 1)
			elog(ERROR, "query as the extension's owner returned no row: %s", query);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (!isnull)
			result = (text *) SPI_datumTransfer(d, false, -1);
		SPI_finish();
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_user, save_sec);
	}
	PG_END_TRY();
	return result;
}

PG_FUNCTION_INFO_V1(des_access_level);

/*
 * des_internal.access_level(context, repo): 'read', 'write', 'admin' or NULL
 * for the current user, computed by des_internal.level_of as the owner.
 */
Datum
des_access_level(PG_FUNCTION_ARGS)
{
	Oid			who = GetUserId();
	Oid			types[3] = {INT8OID, INT8OID, OIDOID};
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};
	text	   *result;

	int64		context,
				repo;
	DesStatementId now = DesCurrentStatement();
	LevelCacheEntry *e;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	context = PG_GETARG_INT64(0);
	repo = PG_ARGISNULL(1) ? -1 : PG_GETARG_INT64(1);
	if (!level_cache_callbacks)
	{
		CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, level_cache_inval, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHOID, level_cache_inval, (Datum) 0);
		level_cache_callbacks = true;
	}
	if (!DesSameStatement(now, level_cache_statement))
	{
		level_cache_reset();
		level_cache_statement = now;
	}
	for (int i = 0; i < level_cache_used; i++)
	{
		e = &level_cache[i];
		if (e->user == who && e->context == context && e->repo == repo)
		{
			if (e->is_null)
				PG_RETURN_NULL();
			PG_RETURN_TEXT_P(cstring_to_text(e->level));
		}
	}

	args[0] = Int64GetDatum(context);
	args[1] = PG_ARGISNULL(1) ? (Datum) 0 : Int64GetDatum(repo);
	nulls[1] = PG_ARGISNULL(1) ? 'n' : ' ';
	args[2] = ObjectIdGetDatum(who);
	result = query_as_owner("SELECT des_internal.level_of(context => $1, repo => $2, who => $3)::pg_catalog.text",
							3, types, args, nulls, true);

	if (level_cache_used < LEVEL_CACHE_SIZE)
		e = &level_cache[level_cache_used++];
	else
	{
		e = &level_cache[level_cache_next];
		level_cache_next = (level_cache_next + 1) % LEVEL_CACHE_SIZE;
	}
	e->user = who;
	e->context = context;
	e->repo = repo;
	e->is_null = result == NULL;
	if (result != NULL)
		text_to_cstring_buffer(result, e->level, sizeof(e->level));
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(result);
}

PG_FUNCTION_INFO_V1(des_log_tenancy_change);

/*
 * The logging trigger of the tenancy tables (AFTER ... FOR EACH ROW). The
 * log is written by the extension's owner only, so no role can add rows of
 * its own to it; the role logged is the one making the change, taken here
 * before switching. des_internal.log_tenancy_row decides what the change is
 * (and skips cascades and restores), as the owner, past row-level security.
 */
Datum
des_log_tenancy_change(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	HeapTuple	tuple;
	const char *op;
	Oid			types[4];
	Datum		args[4];

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("des_internal.log_tenancy_change() must be called as an AFTER ... FOR EACH ROW trigger")));
	level_cache_reset();		/* a grant or repo changed: levels are looked up again */
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		op = "INSERT";
		tuple = td->tg_trigtuple;
	}
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		op = "UPDATE";
		tuple = td->tg_newtuple;
	}
	else
	{
		op = "DELETE";
		tuple = td->tg_trigtuple;
	}
	types[0] = TEXTOID;
	args[0] = CStringGetTextDatum(op);
	types[1] = TEXTOID;
	args[1] = CStringGetTextDatum(RelationGetRelationName(td->tg_relation));
	types[2] = td->tg_relation->rd_rel->reltype;
	args[2] = heap_copy_tuple_as_datum(tuple, RelationGetDescr(td->tg_relation));
	types[3] = OIDOID;
	args[3] = ObjectIdGetDatum(GetUserId());

	/* (a void function: called in FROM, the query's one column is a NULL text) */
	(void) query_as_owner("SELECT NULL::pg_catalog.text FROM des_internal.log_tenancy_row(op => $1, tbl => $2, "
						  "row_data => pg_catalog.to_jsonb($3), who => $4)",
						  4, types, args, NULL, false);
	PG_RETURN_POINTER(NULL);
}
