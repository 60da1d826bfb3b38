/*
 * fdw_handler.c - the des_fdw handler: which callback does what (they live
 * in one file per concern, as in contrib/postgres_fdw), and the clear
 * refusal of writes (archives are written by the ingest path).
 */
#include "pg_des.h"

#include "access/table.h"
#include "foreign/fdwapi.h"
#include "parser/parsetree.h"
#include "utils/rel.h"

#include "fdw/des_fdw.h"

/* ---- writes ---- */

static void
refuse_write(const char *what, Relation rel)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot %s foreign table \"%s\": DES archives are read-only", what,
					rel ? RelationGetRelationName(rel) : "?"),
			 errhint("Add objects with des.put() or des.put_url() (the packers write them into archives), or write an archive with des.archive_write().")));
}

static List *
desPlanForeignModify(PlannerInfo *root, ModifyTable *plan, Index resultRelation, int subplan_index)
{
	RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);
	Relation	rel = table_open(rte->relid, NoLock);
	const char *what = plan->operation == CMD_INSERT ? "insert into" :
		plan->operation == CMD_UPDATE ? "update" : "delete from";

	refuse_write(what, rel);
	return NIL;					/* not reached */
}

static void
desBeginForeignInsert(ModifyTableState *mtstate, ResultRelInfo *rinfo)
{
	refuse_write("copy into", rinfo->ri_RelationDesc);
}

static int
desIsForeignRelUpdatable(Relation rel)
{
	return 0;
}

static void
desExecForeignTruncate(List *rels, DropBehavior behavior, bool restart_seqs)
{
	refuse_write("truncate", rels ? linitial(rels) : NULL);
}

/* ---- the handler ---- */

PG_FUNCTION_INFO_V1(des_fdw_handler);

Datum
des_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *r = makeNode(FdwRoutine);

	/* planning: fdw_plan.c (with fdw_pushdown.c) */
	r->GetForeignRelSize = DesFdwGetForeignRelSize;
	r->GetForeignPaths = DesFdwGetForeignPaths;
	r->GetForeignPlan = DesFdwGetForeignPlan;
	/* execution and EXPLAIN: fdw_scan.c */
	r->BeginForeignScan = DesFdwBeginForeignScan;
	r->IterateForeignScan = DesFdwIterateForeignScan;
	r->ReScanForeignScan = DesFdwReScanForeignScan;
	r->EndForeignScan = DesFdwEndForeignScan;
	r->ExplainForeignScan = DesFdwExplainForeignScan;
	/* writes: refused, here */
	r->PlanForeignModify = desPlanForeignModify;
	r->BeginForeignInsert = desBeginForeignInsert;
	r->IsForeignRelUpdatable = desIsForeignRelUpdatable;
	r->ExecForeignTruncate = desExecForeignTruncate;
	/* ANALYZE and IMPORT FOREIGN SCHEMA: fdw_import.c */
	r->AnalyzeForeignTable = DesFdwAnalyzeForeignTable;
	r->ImportForeignSchema = DesFdwImportForeignSchema;
	PG_RETURN_POINTER(r);
}
