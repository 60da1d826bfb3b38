/*
 * squash.c - des.squash(repo, dry_run): the bundles a repo's retention
 * rules do not keep, removed from its history (des_internal.squash_repo,
 * src/sql/api/77_retention.sql, does the work). The caller's level (admin)
 * is checked as the caller; the work runs as the extension's owner, who
 * alone writes the versioning tables; a real run is logged in des.write_log.
 */
#include "gc/gc.h"
#include "datasets/datasets.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(des_squash);

Datum
des_squash(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DesOwnerScope scope = {0};
	DesRepo		repo;
	char	   *repo_name;
	bool		dry_run;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("des.squash needs a repository and dry_run")));
	repo_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	dry_run = PG_GETARG_BOOL(1);
	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	DesRepoOpen(repo_name, "admin", psprintf("squash the history of repository \"%s\"", repo_name), &repo);
	PG_TRY();
	{
		Oid			types[3] = {INT8OID, BOOLOID, NAMEOID};
		Datum		args[3];
		int64		removed = 0,
					rewritten = 0;

		DesOwnerBegin(&scope);
		args[0] = Int64GetDatum(repo.id);
		args[1] = BoolGetDatum(dry_run);
		args[2] = DirectFunctionCall1(namein, CStringGetDatum(scope.caller_name));
		DesSpiExec("SELECT s.action, pg_catalog.encode(s.bundle_id, 'hex') AS bundle_id, s.created_at, s.message, "
				   "       CASE WHEN s.parents IS NOT NULL THEN "
				   "            ARRAY(SELECT pg_catalog.encode(p, 'hex') FROM pg_catalog.unnest(s.parents) WITH ORDINALITY AS u(p, n) "
				   "                   ORDER BY n) END AS parents "
				   "  FROM des_internal.squash_repo(repo => $1, dry_run => $2, who => $3) s",
				   3, types, args, NULL, false, SPI_OK_SELECT);
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	td = SPI_tuptable->tupdesc;
			Datum		values[5];
			bool		nulls[5];

			for (int c = 0; c < 5; c++)
				values[c] = SPI_getbinval(tup, td, c + 1, &nulls[c]);	/* parents: NULL for a removed bundle */
			if (strcmp(TextDatumGetCString(values[0]), "remove") == 0)
				removed++;
			else
				rewritten++;
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
		if (!dry_run)
			DesLogWrite(&scope, &repo, "squash", "removed", psprintf(INT64_FORMAT, removed),
						"rewritten", psprintf(INT64_FORMAT, rewritten), NULL);
	}
	PG_FINALLY();
	{
		DesOwnerEnd(&scope);
	}
	PG_END_TRY();
	SPI_finish();
	return (Datum) 0;
}
