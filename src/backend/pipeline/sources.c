/*
 * sources.c - des_internal.claim_source_tables(batch_size): the markers' claim from
 * every table registered with des.register_source.
 *
 * Each source is claimed in its own subtransaction, as the role that
 * registered it and in a security-restricted context (as VACUUM and REFRESH
 * MATERIALIZED VIEW run user code): the claim reads and updates the user's
 * table, which may have triggers, and those must get no rights of the
 * caller's (the marker is a superuser) and cannot SET ROLE back. A failing
 * source records its error in des.sources; the others go on.
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

#define SOURCE_ARGS 10			/* the settings des_internal.claim_source_rows takes, before batch_size */

typedef struct SourceToClaim
{
	int32		id;
	Oid			registrar;
	Datum		args[SOURCE_ARGS];
	char		nulls[SOURCE_ARGS];
} SourceToClaim;

static void
record_outcome(int32 id, const char *error)
{
	Oid			types[2] = {INT4OID, TEXTOID};
	Datum		args[2];
	char		nulls[2] = {' ', error ? ' ' : 'n'};

	args[0] = Int32GetDatum(id);
	args[1] = error ? CStringGetTextDatum(error) : (Datum) 0;
	/* bookkeeping only: skipped if another claimer holds the row, so markers never wait here */
	if (SPI_execute_with_args("UPDATE des.sources SET last_error = $2, "
							  "       last_claim_at = CASE WHEN $2 IS NULL THEN now() ELSE last_claim_at END "
							  " WHERE id = (SELECT id FROM des.sources WHERE id = $1 FOR UPDATE SKIP LOCKED)",
							  2, types, args, nulls, false, 0) < 0)
		elog(ERROR, "could not record the outcome of source %d", id);
}

Datum
des_claim_sources_rows(PG_FUNCTION_ARGS)
{
	int32		batch_size = PG_GETARG_INT32(0);
	MemoryContext callcxt = CurrentMemoryContext;
	ResourceOwner callowner = CurrentResourceOwner;
	SourceToClaim *sources;
	int			nsources;
	volatile int64 total = 0;
	Oid			argtypes[SOURCE_ARGS + 1] = {REGCLASSOID, NAMEOID, NAMEOID, NAMEOID, NAMEOID, NAMEOID, NAMEOID,
	TEXTOID, TEXTOID, INTERVALOID, INT4OID};

	if (batch_size < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("batch_size must be at least 1")));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT id, registered_by::oid, relation, name_column, data_column, url_column, meta_column, "
					"       status_column, age_column, pending_value, claimed_value, min_age "
					"  FROM des.sources WHERE enabled ORDER BY last_claim_at NULLS FIRST, id",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read des.sources");
	nsources = (int) SPI_processed;
	sources = MemoryContextAllocZero(callcxt, sizeof(SourceToClaim) * Max(nsources, 1));
	for (int i = 0; i < nsources; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		bool		isnull;
		MemoryContext old = MemoryContextSwitchTo(callcxt);

		sources[i].id = DatumGetInt32(SPI_getbinval(tup, td, 1, &isnull));
		sources[i].registrar = DatumGetObjectId(SPI_getbinval(tup, td, 2, &isnull));
		for (int a = 0; a < SOURCE_ARGS; a++)
		{
			Form_pg_attribute att = TupleDescAttr(td, a + 2);
			Datum		d = SPI_getbinval(tup, td, a + 3, &isnull);

			sources[i].nulls[a] = isnull ? 'n' : ' ';
			sources[i].args[a] = isnull ? (Datum) 0 : datumCopy(d, att->attbyval, att->attlen);
		}
		MemoryContextSwitchTo(old);
	}

	for (int i = 0; i < nsources; i++)
	{
		SourceToClaim *src = &sources[i];
		Datum		args[SOURCE_ARGS + 1];
		char		nulls[SOURCE_ARGS + 1];
		Oid			save_userid;
		int			save_sec_context;

		CHECK_FOR_INTERRUPTS();
		memcpy(args, src->args, sizeof(src->args));
		memcpy(nulls, src->nulls, sizeof(src->nulls));
		args[SOURCE_ARGS] = Int32GetDatum(batch_size);
		nulls[SOURCE_ARGS] = ' ';

		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(callcxt);
		PG_TRY();
		{
			int			nestlevel;
			bool		isnull;
			int32		n;

			GetUserIdAndSecContext(&save_userid, &save_sec_context);
			SetUserIdAndSecContext(src->registrar,
								   save_sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
			nestlevel = NewGUCNestLevel();
			if (SPI_execute_with_args("SELECT des_internal.claim_source_rows(relation => $1, name_column => $2, "
									  "data_column => $3, url_column => $4, meta_column => $5, "
									  "status_column => $6, age_column => $7, pending_value => $8, "
									  "claimed_value => $9, min_age => $10, batch_size => $11) AS claimed",
									  SOURCE_ARGS + 1, argtypes, args, nulls, false, 1) != SPI_OK_SELECT ||
				SPI_processed != 1)
				elog(ERROR, "des_internal.claim_source_rows returned no row");
			n = DatumGetInt32(DesSpiGet(0, "claimed", &isnull));
			AtEOXact_GUC(false, nestlevel);
			SetUserIdAndSecContext(save_userid, save_sec_context);
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(callcxt);
			CurrentResourceOwner = callowner;
			total += n;
			if (n > 0)
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
			record_outcome(src->id, psprintf("%s: %s", unpack_sql_state(edata->sqlerrcode), edata->message));
		}
		PG_END_TRY();
	}
	SPI_finish();
	PG_RETURN_INT32((int32) Min(total, PG_INT32_MAX));
}
