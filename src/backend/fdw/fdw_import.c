/*
 * fdw_import.c - des_fdw ANALYZE (samples from the indexes) and IMPORT
 * FOREIGN SCHEMA (a table per day or per archive).
 */
#include "pg_des.h"

#include "access/htup_details.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/sampling.h"

#include "fdw/des_fdw.h"

/* ---- ANALYZE: entries sampled from the indexes; payloads are not read ---- */

static int
acquire_sample(Relation rel, int elevel, HeapTuple *rows, int targrows, double *totalrows,
			   double *totaldeadrows)
{
	DesFdwTable t;
	DesFdwArchive *archives;
	int			narchives;
	TupleDesc	desc = RelationGetDescr(rel);
	Datum	   *values = palloc(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc(sizeof(bool) * desc->natts);
	int			numrows = 0;
	double		seen = 0;
	double		rowstoskip = -1;
	ReservoirStateData rstate;
	MemoryContext rowcxt = AllocSetContextCreate(CurrentMemoryContext, "des_fdw analyze row",
												 ALLOCSET_DEFAULT_SIZES);

	DesFdwTableLoad(rel, &t);
	archives = DesFdwListArchives(t.location, t.server, GetUserId(), &narchives);
	reservoir_init_selection_state(&rstate, targrows);
	for (int a = 0; a < narchives; a++)
	{
		DesOpenArchive oa;
		DesLocation *loc = DesFdwArchiveLocation(&archives[a], t.server, GetUserId());
		uint64		n;
		Datum		archive_text = CStringGetTextDatum(archives[a].location);

		DesOpenArchiveForRead(loc, false, true, &oa);
		n = des_reader_count(oa.reader);
		for (uint64 i = 0; i < n; i++)
		{
			int			slot;
			des_error	err;
			MemoryContext old;

			if ((i & 1023) == 0)
				CHECK_FOR_INTERRUPTS();
			if (DesFdwEntryShadowed(oa.reader, i))
				continue;		/* hidden by a later entry of the same name */
			seen++;
			if (numrows < targrows)
				slot = numrows++;
			else
			{
				if (rowstoskip < 0)
					rowstoskip = reservoir_get_next_S(&rstate, seen, targrows);
				if (rowstoskip > 0)
				{
					rowstoskip--;
					continue;
				}
				rowstoskip = -1;
				slot = (int) (targrows * sampler_random_fract(&rstate.randstate));
				heap_freetuple(rows[slot]);
			}
			old = MemoryContextSwitchTo(rowcxt);
			memset(nulls, true, sizeof(bool) * desc->natts);
			for (int c = 0; c < DES_NCOLS; c++)
			{
				AttrNumber	at = t.attno[c];

				/* payloads and hashes are not sampled: see docs/fdw.md */
				if (at == 0 || c == DES_COL_DATA || c == DES_COL_BLAKE2B)
					continue;
				if (!DesFdwEntryColumn(oa.reader, i, (DesFdwColumn) c, &archives[a], archive_text,
									   &values[at - 1], &nulls[at - 1], &err))
					DesReportError(&err, loc->original);
			}
			MemoryContextSwitchTo(old);
			rows[slot] = heap_form_tuple(desc, values, nulls);
			MemoryContextReset(rowcxt);
		}
	}
	*totalrows = seen;
	*totaldeadrows = 0;
	ereport(elevel,
			(errmsg("\"%s\": %d archives, %.0f entries, %d sampled",
					RelationGetRelationName(rel), narchives, seen, numrows)));
	return numrows;
}

bool
DesFdwAnalyzeForeignTable(Relation rel, AcquireSampleRowsFunc *func, BlockNumber *totalpages)
{
	DesFdwTable t;
	DesFdwArchive *archives;
	int			narchives;
	double		bytes = 0;

	DesFdwTableLoad(rel, &t);
	/* a dataset's version: no sample (ANALYZE says it skips the table) */
	if (t.ref)
		return false;
	archives = DesFdwListArchives(t.location, t.server, GetUserId(), &narchives);
	for (int i = 0; i < narchives; i++)
		bytes += Max(archives[i].size, 0);
	*func = acquire_sample;
	*totalpages = (BlockNumber) Min(Max(bytes / BLCKSZ, 1), (double) MaxBlockNumber);
	return true;
}

/* ---- IMPORT FOREIGN SCHEMA "location/" FROM SERVER s INTO schema ---- */

static const char *const table_columns =
"name text, data bytea, meta jsonb, size bigint, flags integer, archive text, day date, "
"data_offset bigint, blake2b bytea";

List *
DesFdwImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	ForeignServer *server = GetForeignServer(serverOid);
	const char *prefix = stmt->remote_schema;
	bool		per_archive = false;
	bool		verify = false;
	DesFdwArchive *archives;
	int			narchives;
	size_t		plen = strlen(prefix);
	List	   *commands = NIL;
	List	   *tables = NIL;
	List	   *locations = NIL;
	ListCell   *lc;

	foreach(lc, stmt->options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, "per") == 0)
		{
			const char *v = defGetString(def);

			if (strcmp(v, "archive") == 0)
				per_archive = true;
			else if (strcmp(v, "day") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("option \"per\" must be \"day\" or \"archive\", not \"%s\"", v)));
		}
		else if (strcmp(def->defname, "verify") == 0)
			verify = defGetBoolean(def);
		else
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid IMPORT FOREIGN SCHEMA option \"%s\"", def->defname),
					 errhint("Options: per 'day' (default) or 'archive', verify 'on' or 'off'.")));
	}
	if (plen == 0 || prefix[plen - 1] != '/')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("IMPORT FOREIGN SCHEMA needs a location prefix ending in \"/\", not \"%s\"", prefix),
				 errhint("Write IMPORT FOREIGN SCHEMA \"s3://bucket/prefix/\" or \"/local/dir/\".")));
	archives = DesFdwListArchives(prefix, server->servername, GetUserId(), &narchives);
	/* the listing reports canonical locations: match them against the canonical prefix */
	{
		DesLocation *loc = DesParseLocationPrefix(prefix);

		prefix = loc->kind == DES_LOCATION_S3 ? psprintf("s3://%s/%s", loc->bucket, loc->key) : loc->path;
		plen = strlen(prefix);
	}
	for (int i = 0; i < narchives; i++)
	{
		const char *loc = archives[i].location;
		const char *rel = strncmp(loc, prefix, plen) == 0 ? loc + plen : loc;
		const char *day_component;
		DateADT		day;
		char	   *table;
		char	   *location;
		StringInfoData cmd;
		bool		seen = false;

		CHECK_FOR_INTERRUPTS();
		if (!per_archive && DesFdwDayOf(loc, &day, &day_component) && day_component >= loc + plen)
		{
			/* everything below the day's directory, at any depth */
			size_t		dirlen = (day_component + 10) - loc;

			table = pnstrdup(rel, dirlen - plen);
			location = psprintf("%s/", DesFdwEscapeLocation(pnstrdup(loc, dirlen)));
		}
		else
		{
			size_t		rlen = strlen(rel);

			table = pnstrdup(rel, rlen > 4 ? rlen - 4 : rlen);	/* without ".des" */
			location = DesFdwEscapeLocation(loc);
		}
		/* one table per day; two different things of one name are an error */
		for (int k = 0; k < list_length(tables); k++)
		{
			if (strcmp(list_nth(tables, k), table) != 0)
				continue;
			if (strcmp(list_nth(locations, k), location) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_TABLE),
						 errmsg("IMPORT FOREIGN SCHEMA would create table \"%s\" twice: for \"%s\" and for \"%s\"",
								table, (char *) list_nth(locations, k), location),
						 errhint("Import with OPTIONS (per 'archive'), or import a deeper prefix.")));
			seen = true;
		}
		if (seen || !IsImportableForeignTable(table, stmt))
			continue;
		tables = lappend(tables, table);
		locations = lappend(locations, location);
		if (strlen(table) >= NAMEDATALEN)
			ereport(ERROR,
					(errcode(ERRCODE_NAME_TOO_LONG),
					 errmsg("table name \"%s\" for \"%s\" is too long", table, location),
					 errhint("Import a deeper prefix, or leave it out with EXCEPT.")));
		initStringInfo(&cmd);
		appendStringInfo(&cmd, "CREATE FOREIGN TABLE %s (%s) SERVER %s OPTIONS (location %s%s)",
						 quote_identifier(table), table_columns, quote_identifier(server->servername),
						 quote_literal_cstr(location), verify ? ", verify 'on'" : "");
		commands = lappend(commands, cmd.data);
	}
	return commands;
}
