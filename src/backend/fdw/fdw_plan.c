/*
 * fdw_plan.c - des_fdw planning: sizes, paths, costs, the plan.
 *
 * Which conditions the scan does itself is decided in fdw_pushdown.c; here
 * the relation is sized (archives listed, pruned by constant archive quals,
 * entries counted in a few indexes), paths are costed (plain, and
 * parameterized name lookups for nested loops), and the chosen conditions
 * are handed to the scan in fdw_private and fdw_exprs.
 * Only the data column costs payload reads; the rest comes from the index.
 */
#include "pg_des.h"

#include "access/table.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/rel.h"

#include "fdw/des_fdw.h"

/* Planner state of a des_fdw relation (baserel->fdw_private). */
typedef struct DesFdwPlanState
{
	DesFdwTable table;
	Oid			user;
	uint32		needed;			/* columns referenced by the query, as bits */
	int			listed;			/* archives the location names */
	int			matched;		/* of which not pruned by constant archive quals */
	double		total_rows;		/* entries in the matched archives (estimated) */
	double		avg_stored;		/* stored bytes per entry (estimated) */
	bool		is_s3;			/* reads are requests to object storage */
	DesFdwNameCondition base_cond;	/* the name condition an unparameterized scan does */
} DesFdwPlanState;

/* How many archives to open at plan time to count entries; the rest is extrapolated. */
#define PLAN_OPEN_ARCHIVES 8

void
DesFdwGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	DesFdwPlanState *ps = palloc0(sizeof(DesFdwPlanState));
	RangeTblEntry *rte = planner_rt_fetch(baserel->relid, root);
	Relation	rel = table_open(foreigntableid, NoLock);
	DesFdwArchive *archives;
	int			narchives;
	List	   *archive_quals = NIL;
	List	   *other_quals = NIL;
	List	   *exprs;
	ListCell   *lc;
	bool	   *matched;
	double		opened_rows = 0,
				opened_bytes = 0,
				opened_stored = 0,
				listed_bytes = 0;
	int			opened = 0,
				unsized = 0;
	DesFdwNameCondition nc;
	double		lookup_cap = -1;

	DesFdwTableLoad(rel, &ps->table);
	if (ps->table.ref)
	{
		/* the files of a dataset's version: fdw_ref.c; their CSV rows: fdw_csv.c */
		table_close(rel, NoLock);
		if (ps->table.has_format)
			DesFdwCsvGetForeignRelSize(root, baserel, &ps->table);
		else
			DesFdwRefGetForeignRelSize(root, baserel, &ps->table);
		return;
	}
	ps->user = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
	ps->is_s3 = pg_strncasecmp(ps->table.location, "s3://", 5) == 0;

	exprs = list_copy(baserel->reltarget->exprs);
	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *ri = lfirst(lc);

		exprs = lappend(exprs, ri->clause);
		if (DesFdwIsArchiveQual(root, ri->clause, baserel->relid, &ps->table))
			archive_quals = lappend(archive_quals, ri->clause);
		else
		{
			other_quals = lappend(other_quals, ri);
			if (!DesFdwMatchNameCondition(root, ri->clause, baserel->relid, ps->table.attno[DES_COL_NAME], &nc))
				continue;
			if (DesFdwBetterCondition(&ps->base_cond, &nc, false))
				ps->base_cond = nc;
			if (nc.kind != DES_LOOKUP_PREFIX)
				lookup_cap = lookup_cap < 0 ? nc.nnames : Min(lookup_cap, nc.nnames);
		}
	}
	ps->needed = DesFdwNeededColumns(&ps->table, baserel->relid, exprs);

	/* which archives there are, and which the constant archive quals keep */
	archives = DesFdwListArchives(ps->table.location, ps->table.server, ps->user, &narchives);
	ps->listed = narchives;
	matched = palloc(sizeof(bool) * Max(narchives, 1));
	for (int i = 0; i < narchives; i++)
		matched[i] = true;
	{
		List	   *constant_quals = NIL;

		foreach(lc, archive_quals)
			if (!DesFdwContainsParam(lfirst(lc)) && !contain_mutable_functions(lfirst(lc)))
				constant_quals = lappend(constant_quals, lfirst(lc));
		if (constant_quals != NIL && narchives > 0)
		{
			EState	   *estate = CreateExecutorState();
			ExprContext *econtext = GetPerTupleExprContext(estate);
			ExprState  *qual = ExecPrepareQual(constant_quals, estate);
			TupleTableSlot *slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsVirtual);

			for (int i = 0; i < narchives; i++)
			{
				CHECK_FOR_INTERRUPTS();
				ExecClearTuple(slot);
				memset(slot->tts_isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
				if (ps->table.attno[DES_COL_ARCHIVE])
				{
					slot->tts_values[ps->table.attno[DES_COL_ARCHIVE] - 1] = CStringGetTextDatum(archives[i].location);
					slot->tts_isnull[ps->table.attno[DES_COL_ARCHIVE] - 1] = false;
				}
				if (ps->table.attno[DES_COL_DAY] && archives[i].has_day)
				{
					slot->tts_values[ps->table.attno[DES_COL_DAY] - 1] = DateADTGetDatum(archives[i].day);
					slot->tts_isnull[ps->table.attno[DES_COL_DAY] - 1] = false;
				}
				ExecStoreVirtualTuple(slot);
				econtext->ecxt_scantuple = slot;
				matched[i] = ExecQual(qual, econtext);
				ResetExprContext(econtext);
			}
			ExecDropSingleTupleTableSlot(slot);
			FreeExecutorState(estate);
		}
	}

	/* entries: counted in the first matched indexes, extrapolated by size to the rest */
	for (int i = 0; i < narchives; i++)
	{
		if (!matched[i])
			continue;
		ps->matched++;
		if (opened < PLAN_OPEN_ARCHIVES)
		{
			DesOpenArchive oa;

			DesOpenArchiveForRead(DesFdwArchiveLocation(&archives[i], ps->table.server, ps->user),
								  false, false, &oa);
			opened++;
			opened_rows += des_reader_count(oa.reader);
			opened_bytes += des_reader_size(oa.reader);
			opened_stored += des_reader_footer(oa.reader)->data_length;
			if (archives[i].size < 0)
				archives[i].size = des_reader_size(oa.reader);
		}
		if (archives[i].size >= 0)
			listed_bytes += archives[i].size;
		else
			unsized++;
	}
	if (opened == 0)
		ps->total_rows = 0;
	else if (opened_bytes > 0 && unsized == 0)
		ps->total_rows = opened_rows * (listed_bytes / opened_bytes);
	else
		ps->total_rows = opened_rows * ((double) ps->matched / opened);
	ps->avg_stored = opened_rows > 0 ? opened_stored / opened_rows : 0;

	baserel->tuples = ps->total_rows;
	baserel->rows = clamp_row_est(ps->total_rows *
								  clauselist_selectivity(root, other_quals, baserel->relid, JOIN_INNER, NULL));
	/* names are unique within an archive: a lookup gives at most one row per archive */
	if (lookup_cap >= 0)
		baserel->rows = clamp_row_est(Min(baserel->rows, lookup_cap * ps->matched));
	baserel->fdw_private = ps;
	table_close(rel, NoLock);
}

/*
 * Startup and total cost of a scan doing cond (NULL: every entry).
 * A payload read is a pread from (usually) the page cache locally, a round
 * trip on S3; every payload returned is also decoded and copied. Lookups pay
 * one read per row found; walks read coalesced ranges of up to
 * des.read_max_span, so their reads are few and their cost is per byte.
 */
static void
scan_cost(PlannerInfo *root, RelOptInfo *baserel, const DesFdwPlanState *ps, const DesFdwNameCondition *cond,
		  double rows_out, Cost *startup, Cost *total)
{
	bool		data = (ps->needed & (1U << DES_COL_DATA)) != 0;
	bool		meta = (ps->needed & ((1U << DES_COL_META) | (1U << DES_COL_BLAKE2B))) != 0;
	double		pages_per_row = Max(ps->avg_stored / BLCKSZ, 0.0);
	Cost		request = ps->is_s3 ? 10 * random_page_cost : seq_page_cost;
	Cost		per_payload = 4 * cpu_operator_cost + pages_per_row * seq_page_cost;
	double		examined;
	Cost		run;

	/* opening an archive: footer and index, usually from the cache */
	*startup = ps->matched * 10 * seq_page_cost;
	if (cond && (cond->kind == DES_LOOKUP_NAME || cond->kind == DES_LOOKUP_NAMES))
	{
		/* hash probes in every matched archive, then a read per row found */
		examined = cond->nnames * ps->matched;
		run = examined * cpu_operator_cost * 2;
		if (data)
			run += rows_out * (request + per_payload);
	}
	else
	{
		double		span = Max((double) des_read_max_span_kb * 1024, BLCKSZ);

		examined = ps->total_rows;
		run = examined * cpu_operator_cost;
		if (data)
		{
			double		read = cond ? rows_out : ps->total_rows;

			run += read * per_payload + ceil(read * ps->avg_stored / span) * request;
		}
	}
	if (meta)
		run += rows_out * cpu_operator_cost * 10;
	run += rows_out * cpu_tuple_cost + baserel->baserestrictcost.per_tuple * rows_out;
	*total = *startup + run;
}

/* Is this EquivalenceClass member our name column? */
static bool
ec_member_is_name(PlannerInfo *root, RelOptInfo *rel, EquivalenceClass *ec, EquivalenceMember *em, void *arg)
{
	return DesFdwIsColumnVar(em->em_expr, rel->relid, *(AttrNumber *) arg);
}

void
DesFdwGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	DesFdwPlanState *ps = baserel->fdw_private;
	AttrNumber	name_attno = ps->table.attno[DES_COL_NAME];
	DesFdwNameCondition nc;
	Cost		startup,
				total;
	ListCell   *lc;
	List	   *join_clauses = NIL;
	List	   *done_outer = NIL;

	if (ps->table.ref)
	{
		if (ps->table.has_format)
			DesFdwCsvGetForeignPaths(root, baserel);
		else
			DesFdwRefGetForeignPaths(root, baserel);
		return;
	}
	scan_cost(root, baserel, ps, ps->base_cond.kind == DES_LOOKUP_NONE ? NULL : &ps->base_cond, baserel->rows,
			  &startup, &total);
	add_path(baserel, (Path *) create_foreignscan_path(root, baserel, NULL, baserel->rows, startup, total,
													   NIL, baserel->lateral_relids, NULL, NIL));

	/* parameterized lookups: name = <outer expression>, for nested-loop joins */
	if (name_attno == 0)
		return;
	foreach(lc, baserel->joininfo)
	{
		RestrictInfo *ri = lfirst(lc);

		if (DesFdwMatchNameCondition(root, ri->clause, baserel->relid, name_attno, &nc) &&
			nc.kind != DES_LOOKUP_PREFIX && nc.is_join)
			join_clauses = lappend(join_clauses, ri);
	}
	/* (EquivalenceClass clauses are checked with DesFdwMatchNameCondition below) */
	if (baserel->has_eclass_joins)
		join_clauses = list_concat(join_clauses,
								   generate_implied_equalities_for_column(root, baserel, ec_member_is_name,
																		  &name_attno,
																		  baserel->lateral_referencers));
	foreach(lc, join_clauses)
	{
		RestrictInfo *ri = lfirst(lc);
		Relids		required_outer;
		ParamPathInfo *ppi;
		double		rows;
		ForeignPath *path;
		ListCell   *dc;
		bool		done = false;

		/* only what the scan can look up (not, say, name = a "name"-typed column) */
		if (!join_clause_is_movable_to(ri, baserel) ||
			!DesFdwMatchNameCondition(root, ri->clause, baserel->relid, name_attno, &nc) ||
			nc.kind == DES_LOOKUP_PREFIX || !nc.is_join)
			continue;
		required_outer = bms_union(ri->clause_relids, baserel->lateral_relids);
		required_outer = bms_del_member(required_outer, baserel->relid);
		if (bms_is_empty(required_outer))
			continue;
		foreach(dc, done_outer)
			done |= bms_equal((Relids) lfirst(dc), required_outer);
		if (done)
			continue;
		done_outer = lappend(done_outer, required_outer);
		ppi = get_baserel_parampathinfo(root, baserel, required_outer);
		/* names are unique per archive: at most one entry per archive and name */
		rows = clamp_row_est(Min(ppi->ppi_rows, nc.nnames * Max(ps->matched, 1)));
		scan_cost(root, baserel, ps, &nc, rows, &startup, &total);
		/* archives stay open across rescans: only the first execution opens them */
		total -= startup;
		startup = 0;
		path = create_foreignscan_path(root, baserel, NULL, rows, startup, total, NIL,
									   required_outer, NULL, NIL);
		add_path(baserel, (Path *) path);
	}
}

ForeignScan *
DesFdwGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid, ForeignPath *best_path,
					 List *tlist, List *scan_clauses, Plan *outer_plan)
{
	DesFdwPlanState *ps = baserel->fdw_private;
	AttrNumber	name_attno = ps->table.attno[DES_COL_NAME];
	List	   *local = NIL;
	List	   *archive_quals = NIL;
	List	   *pushed;
	DesFdwNameCondition best = {0};
	RestrictInfo *best_ri = NULL;
	bool		parameterized = best_path->path.param_info != NULL;
	ListCell   *lc;
	int64		bound;
	uint32		needed;
	List	   *fdw_private;
	List	   *needed_exprs;

	if (ps->table.ref && ps->table.has_format)
		return DesFdwCsvGetForeignPlan(root, baserel, tlist, scan_clauses, outer_plan);
	if (ps->table.ref)
		return DesFdwRefGetForeignPlan(root, baserel, tlist, scan_clauses, outer_plan);
	foreach(lc, scan_clauses)
	{
		RestrictInfo *ri = lfirst(lc);
		DesFdwNameCondition nc;

		if (ri->pseudoconstant)
			continue;			/* a gating Result node checks these */
		if (DesFdwIsArchiveQual(root, ri->clause, baserel->relid, &ps->table))
		{
			archive_quals = lappend(archive_quals, ri->clause);
			continue;
		}
		if (DesFdwMatchNameCondition(root, ri->clause, baserel->relid, name_attno, &nc) &&
			DesFdwBetterCondition(&best, &nc, parameterized))
		{
			if (best_ri)
				local = lappend(local, best_ri->clause);
			best = nc;
			best_ri = ri;
			continue;
		}
		local = lappend(local, ri->clause);
	}
	if (best.kind != DES_LOOKUP_NONE && !best.exact)
		local = lappend(local, best_ri->clause);	/* the prefix narrows; the filter decides */

	bound = (local == NIL && !parameterized) ? DesFdwScanBound(root, baserel) : -1;
	pushed = DesFdwDescribePushed(root, "name", &best, bound);

	/* payloads are read only for the data column; meta only when asked */
	needed_exprs = list_concat(list_copy(baserel->reltarget->exprs), local);
	needed = DesFdwNeededColumns(&ps->table, baserel->relid, needed_exprs);

	fdw_private = NIL;
	fdw_private = lappend(fdw_private, makeInteger(best.kind));
	fdw_private = lappend(fdw_private, makeString(best.prefix ? best.prefix : pstrdup("")));
	fdw_private = lappend(fdw_private, makeInteger((int) bound));
	fdw_private = lappend(fdw_private, makeInteger((int) needed));
	fdw_private = lappend(fdw_private, makeInteger(ps->listed));
	fdw_private = lappend(fdw_private, makeInteger(ps->matched));
	fdw_private = lappend(fdw_private, pushed);

	return make_foreignscan(tlist, local, baserel->relid,
							list_make2(best.kind == DES_LOOKUP_NAME || best.kind == DES_LOOKUP_NAMES ? best.other : NULL,
									   archive_quals),
							fdw_private, NIL, NIL, outer_plan);
}
