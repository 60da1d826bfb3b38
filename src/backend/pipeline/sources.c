/*
 * sources.c - des_internal.claim_source_tables(batch_size): the markers' claim from
 * every table registered with des.register_source.
 *
 * Each source is claimed in its own subtransaction, as the role that
 * registered it and in a security-restricted context (as VACUUM and REFRESH
 * MATERIALIZED VIEW run user code): the claim reads and updates the user's
 * table, which may have triggers, and those must get no rights of the
 * caller's (the marker is a superuser) and cannot SET ROLE back. A failing
 * source records its error in des.sources and waits out a backoff; the
 * others go on.
 *
 * A foreign table is claimed by compare-and-set through its wrapper
 * (des_internal.claim_foreign_source_rows): one marker at a time per source
 * (a transaction-level advisory lock, tried, never waited for), and the
 * rows it claimed and staged recorded in des.source_claims, as the marker,
 * in the same subtransaction, for the next round to settle.
 */
#include "pg_des.h"
#include "pipeline/pipeline.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "workers/workers.h"

PG_FUNCTION_INFO_V1(des_claim_sources_rows);

/* the settings des.sources gives each claim function, in its argument order, before the claim's own */
#define SOURCE_ARGS 10			/* des_internal.claim_source_rows */
#define FOREIGN_SOURCE_ARGS 13	/* des_internal.claim_foreign_source_rows */

/* the advisory lock class of a foreign source's claims (key: the source id * 16 + its share); "DESF" */
#define FOREIGN_SOURCE_LOCK_CLASS 0x44455346
#define FOREIGN_SOURCE_MAX_CLAIMERS 16	/* des.sources.claimers at most */

typedef struct SourceToClaim
{
	int32		id;
	Oid			registrar;
	bool		is_foreign;
	int32		failures;
	int32		claimers;		/* foreign: shares of the keys claimed at once */
	Datum		args[FOREIGN_SOURCE_ARGS];
	char		nulls[FOREIGN_SOURCE_ARGS];
} SourceToClaim;

/*
 * A round's outcome: a success clears the error and the backoff; a failure
 * counts and waits 2^failures seconds (at most 5 minutes) before the next.
 */
static void
record_outcome(int32 id, const char *error)
{
	Oid			types[2] = {INT4OID, TEXTOID};
	Datum		args[2];
	char		nulls[2] = {' ', error ? ' ' : 'n'};

	args[0] = Int32GetDatum(id);
	args[1] = error ? CStringGetTextDatum(error) : (Datum) 0;
	/*
	 * bookkeeping only: skipped if another claimer holds the row, so markers
	 * never wait here; NO KEY, so that the ledger's foreign key check of
	 * another marker of the source (FOR KEY SHARE) does not wait for this one
	 */
	if (SPI_execute_with_args("UPDATE des.sources SET last_error = $2, "
							  "       last_claim_at = CASE WHEN $2 IS NULL THEN now() ELSE last_claim_at END, "
							  "       failures = CASE WHEN $2 IS NULL THEN 0 ELSE failures + 1 END, "
							  "       retry_at = CASE WHEN $2 IS NULL THEN NULL "
							  "                  ELSE now() + least(power(2, least(failures, 12)), 300) * interval '1 s' END "
							  " WHERE id = (SELECT id FROM des.sources WHERE id = $1 FOR NO KEY UPDATE SKIP LOCKED)",
							  2, types, args, nulls, false, 0) < 0)
		elog(ERROR, "could not record the outcome of source %d", id);
}

static int32
claim_table(const SourceToClaim *src, int32 batch_size)
{
	Oid			types[SOURCE_ARGS + 1] = {REGCLASSOID, NAMEOID, NAMEOID, NAMEOID, NAMEOID, NAMEOID, NAMEOID,
	TEXTOID, TEXTOID, INTERVALOID, INT4OID};
	Datum		args[SOURCE_ARGS + 1];
	char		nulls[SOURCE_ARGS + 1];
	bool		isnull;

	memcpy(args, src->args, sizeof(Datum) * SOURCE_ARGS);
	memcpy(nulls, src->nulls, SOURCE_ARGS);
	args[SOURCE_ARGS] = Int32GetDatum(batch_size);
	nulls[SOURCE_ARGS] = ' ';
	if (SPI_execute_with_args("SELECT des_internal.claim_source_rows(relation => $1, name_column => $2, "
							  "data_column => $3, url_column => $4, meta_column => $5, "
							  "status_column => $6, age_column => $7, pending_value => $8, "
							  "claimed_value => $9, min_age => $10, batch_size => $11) AS claimed",
							  SOURCE_ARGS + 1, types, args, nulls, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "des_internal.claim_source_rows returned no row");
	return DatumGetInt32(DesSpiGet(0, "claimed", &isnull));
}

/*
 * One round of one share of a foreign source's keys, whose advisory lock
 * this transaction holds: the ledger read as the marker, the claim run as
 * the registrar (the caller's user and security context, set on entry and
 * on return), the ledger written as the marker again. Returns the objects
 * staged.
 */
static int32
claim_foreign_share(const SourceToClaim *src, int part, int32 batch_size, Oid marker_user, int marker_sec)
{
	Oid			types[FOREIGN_SOURCE_ARGS + 6] = {REGCLASSOID, NAMEOID, NAMEOID, NAMEOID, NAMEOID, NAMEOID, NAMEOID,
	NAMEOID, TEXTOID, TEXTOID, TEXTOID, INTERVALOID, BOOLOID, TEXTARRAYOID, TEXTARRAYOID, INT4OID, INT4OID, INT4OID,
	TEXTARRAYOID};
	Datum		args[FOREIGN_SOURCE_ARGS + 6];
	char		nulls[FOREIGN_SOURCE_ARGS + 6];
	Oid			settle_types[2] = {INT4OID, INT8ARRAYOID};
	Datum		settle_args[2];
	Oid			ledger_types[4] = {INT4OID, TEXTARRAYOID, INT8ARRAYOID, INT4OID};
	Datum		ledger_args[4];
	Datum		row_keys,
				object_ids,
				rounds;
	Oid			id_types[3] = {INT4OID, INT4OID, INT4OID};
	Datum		id_args[3];
	bool		isnull;
	Oid			user;
	int			sec;
	int32		staged;

	GetUserIdAndSecContext(&user, &sec);
	SetUserIdAndSecContext(marker_user, marker_sec);
	id_args[0] = Int32GetDatum(src->id);
	id_args[1] = Int32GetDatum(part);
	id_args[2] = Int32GetDatum(src->claimers);
	/*
	 * What this share's earlier rounds claimed and committed: settled now
	 * (share 0 also settles shares left over when claimers was lowered; a
	 * round of this same transaction is not committed yet, and waits); and
	 * every key the ledger has, which no round may take as left over.
	 */
	if (SPI_execute_with_args("SELECT coalesce(array_agg(u.k) FILTER (WHERE u.o IS NOT NULL AND c.mine), '{}') AS staged, "
							  "       coalesce(array_agg(u.k) FILTER (WHERE u.o IS NULL AND c.mine), '{}') AS taken, "
							  "       coalesce(array_agg(DISTINCT c.id) FILTER (WHERE c.mine), '{}') AS rounds, "
							  "       coalesce(array_agg(u.k), '{}') AS unsettled "
							  "  FROM (SELECT c.*, (c.part = $2 OR ($2 = 0 AND c.part >= $3)) "
							  "                    AND c.claimed_in <> pg_catalog.txid_current() AS mine "
							  "          FROM des.source_claims c WHERE c.source_id = $1) c "
							  " CROSS JOIN LATERAL unnest(c.row_keys, c.object_ids) u(k, o)",
							  3, id_types, id_args, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the claims of source %d", src->id);
	rounds = SPI_datumTransfer(DesSpiGet(0, "rounds", &isnull), false, -1);
	memcpy(args, src->args, sizeof(Datum) * FOREIGN_SOURCE_ARGS);
	memcpy(nulls, src->nulls, FOREIGN_SOURCE_ARGS);
	args[FOREIGN_SOURCE_ARGS] = SPI_datumTransfer(DesSpiGet(0, "staged", &isnull), false, -1);
	args[FOREIGN_SOURCE_ARGS + 1] = SPI_datumTransfer(DesSpiGet(0, "taken", &isnull), false, -1);
	args[FOREIGN_SOURCE_ARGS + 2] = Int32GetDatum(batch_size);
	args[FOREIGN_SOURCE_ARGS + 3] = Int32GetDatum(part);
	args[FOREIGN_SOURCE_ARGS + 4] = Int32GetDatum(src->claimers);
	args[FOREIGN_SOURCE_ARGS + 5] = SPI_datumTransfer(DesSpiGet(0, "unsettled", &isnull), false, -1);
	memset(nulls + FOREIGN_SOURCE_ARGS, ' ', 6);

	SetUserIdAndSecContext(user, sec);
	if (SPI_execute_with_args("SELECT row_keys, object_ids FROM des_internal.claim_foreign_source_rows("
							  "relation => $1, key_column => $2, name_column => $3, data_column => $4, "
							  "url_column => $5, meta_column => $6, status_column => $7, age_column => $8, "
							  "pending_value => $9, claiming_value => $10, claimed_value => $11, min_age => $12, "
							  "use_returning => $13, settle_staged => $14, settle_taken => $15, batch_size => $16, "
							  "part => $17, parts => $18, unsettled => $19)",
							  FOREIGN_SOURCE_ARGS + 6, types, args, nulls, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "des_internal.claim_foreign_source_rows returned no row");
	/* test/t/015: kill -9 with rows flipped and staged, nothing committed */
	DesDebugPause("source_claimed", NULL);
	row_keys = SPI_datumTransfer(DesSpiGet(0, "row_keys", &isnull), false, -1);
	object_ids = SPI_datumTransfer(DesSpiGet(0, "object_ids", &isnull), false, -1);

	/* the settled rounds leave the ledger; this round's claims enter it */
	SetUserIdAndSecContext(marker_user, marker_sec);
	settle_args[0] = Int32GetDatum(src->id);
	settle_args[1] = rounds;
	if (SPI_execute_with_args("DELETE FROM des.source_claims c WHERE c.source_id = $1 AND c.id = ANY ($2)",
							  2, settle_types, settle_args, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not settle the claims of source %d", src->id);
	ledger_args[0] = Int32GetDatum(src->id);
	ledger_args[1] = row_keys;
	ledger_args[2] = object_ids;
	ledger_args[3] = Int32GetDatum(part);
	if (SPI_execute_with_args("WITH claimed AS (INSERT INTO des.source_claims (source_id, part, row_keys, object_ids) "
							  "                 SELECT $1, $4, $2, $3 WHERE cardinality($2) > 0) "
							  "SELECT count(*) FILTER (WHERE r.o IS NOT NULL) AS staged FROM unnest($3) r(o)",
							  4, ledger_types, ledger_args, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not record the claims of source %d", src->id);
	staged = (int32) DatumGetInt64(DesSpiGet(0, "staged", &isnull));
	SetUserIdAndSecContext(user, sec);
	return staged;
}

/*
 * The share this backend tries first in its next round of a source (by the
 * source id, modulo the array's size: a collision only changes where a
 * round starts): shares are taken in turn, so that one marker alone serves
 * them all, and markers claiming at once each find a different one free.
 */
#define NEXT_SHARE_SLOTS 64
static int	next_share[NEXT_SHARE_SLOTS];

/*
 * One round of a foreign source: the first share of its keys
 * (des.sources.claimers) whose advisory lock this transaction gets, from
 * this backend's next in turn; a share another marker holds is skipped,
 * never waited for. Returns the objects staged, or -1 when other markers
 * hold every share.
 */
static int32
claim_foreign_table(const SourceToClaim *src, int32 batch_size, Oid marker_user, int marker_sec)
{
	for (int i = 0; i < src->claimers; i++)
	{
		int			part = (next_share[src->id % NEXT_SHARE_SLOTS] + i) % src->claimers;

		CHECK_FOR_INTERRUPTS();
		if (DatumGetBool(DirectFunctionCall2(pg_try_advisory_xact_lock_int4,
											 Int32GetDatum(FOREIGN_SOURCE_LOCK_CLASS),
											 Int32GetDatum(src->id * FOREIGN_SOURCE_MAX_CLAIMERS + part))))
		{
			next_share[src->id % NEXT_SHARE_SLOTS] = (part + 1) % FOREIGN_SOURCE_MAX_CLAIMERS;
			return claim_foreign_share(src, part, batch_size, marker_user, marker_sec);
		}
	}
	return -1;
}

/*
 * The settings each claim function takes, by the columns of des.sources
 * read below: plain tables the first SOURCE_ARGS, foreign tables all.
 */
static const int table_columns[SOURCE_ARGS] = {0, 2, 3, 4, 5, 6, 7, 8, 10, 11};

Datum
des_claim_sources_rows(PG_FUNCTION_ARGS)
{
	int32		batch_size = PG_GETARG_INT32(0);
	MemoryContext callcxt = CurrentMemoryContext;
	ResourceOwner callowner = CurrentResourceOwner;
	SourceToClaim *sources;
	int			nsources;
	volatile int64 total = 0;

	if (batch_size < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("batch_size must be at least 1")));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* columns 3 on: claim_foreign_source_rows' settings in its order */
	if (SPI_execute("SELECT id, registered_by::oid, failures, "
					"       relation, key_column, name_column, data_column, url_column, meta_column, "
					"       status_column, age_column, pending_value, claiming_value, claimed_value, min_age, "
					"       use_returning, claimers "
					"  FROM des.sources WHERE enabled AND (retry_at IS NULL OR retry_at <= now()) "
					" ORDER BY last_claim_at NULLS FIRST, id",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read des.sources");
	nsources = (int) SPI_processed;
	sources = MemoryContextAllocZero(callcxt, sizeof(SourceToClaim) * Max(nsources, 1));
	for (int i = 0; i < nsources; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		all[FOREIGN_SOURCE_ARGS];
		char		all_nulls[FOREIGN_SOURCE_ARGS];
		MemoryContext old = MemoryContextSwitchTo(callcxt);

		sources[i].id = DatumGetInt32(SPI_getbinval(tup, td, 1, &isnull));
		sources[i].registrar = DatumGetObjectId(SPI_getbinval(tup, td, 2, &isnull));
		sources[i].failures = DatumGetInt32(SPI_getbinval(tup, td, 3, &isnull));
		for (int a = 0; a < FOREIGN_SOURCE_ARGS; a++)
		{
			Form_pg_attribute att = TupleDescAttr(td, a + 3);
			Datum		d = SPI_getbinval(tup, td, a + 4, &isnull);

			all_nulls[a] = isnull ? 'n' : ' ';
			all[a] = isnull ? (Datum) 0 : datumCopy(d, att->attbyval, att->attlen);
		}
		sources[i].is_foreign = all_nulls[1] == ' ';	/* a key column */
		sources[i].claimers = DatumGetInt32(SPI_getbinval(tup, td, FOREIGN_SOURCE_ARGS + 4, &isnull));
		if (sources[i].is_foreign)
		{
			memcpy(sources[i].args, all, sizeof(all));
			memcpy(sources[i].nulls, all_nulls, sizeof(all_nulls));
		}
		else
			for (int a = 0; a < SOURCE_ARGS; a++)
			{
				sources[i].args[a] = all[table_columns[a]];
				sources[i].nulls[a] = all_nulls[table_columns[a]];
			}
		MemoryContextSwitchTo(old);
	}

	for (int i = 0; i < nsources; i++)
	{
		SourceToClaim *src = &sources[i];
		Oid			save_userid;
		int			save_sec_context;

		CHECK_FOR_INTERRUPTS();
		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(callcxt);
		PG_TRY();
		{
			int			nestlevel;
			int32		n;

			GetUserIdAndSecContext(&save_userid, &save_sec_context);
			SetUserIdAndSecContext(src->registrar,
								   save_sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
			nestlevel = NewGUCNestLevel();
			if (src->is_foreign)
				n = claim_foreign_table(src, batch_size, save_userid, save_sec_context);
			else
				n = claim_table(src, batch_size);
			AtEOXact_GUC(false, nestlevel);
			SetUserIdAndSecContext(save_userid, save_sec_context);
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(callcxt);
			CurrentResourceOwner = callowner;
			if (n > 0)
				total += n;
			/* a round that claimed, or the first good one after failures */
			if (n > 0 || src->failures > 0)
				record_outcome(src->id, NULL);
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			/* the subtransaction's abort also restores the user id and security context */
			MemoryContextSwitchTo(callcxt);
			edata = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(callcxt);
			CurrentResourceOwner = callowner;
			if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED || ProcDiePending)
				ReThrowError(edata);
			/* the detail too: a wrapper's connection error says why only there (libpq's message, no secrets) */
			record_outcome(src->id, psprintf("%s: %s%s%s%s", unpack_sql_state(edata->sqlerrcode), edata->message,
											 edata->detail ? " (" : "", edata->detail ? edata->detail : "",
											 edata->detail ? ")" : ""));
		}
		PG_END_TRY();
	}
	SPI_finish();
	PG_RETURN_INT32((int32) Min(total, PG_INT32_MAX));
}
