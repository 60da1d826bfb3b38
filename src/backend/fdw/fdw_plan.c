/*
 * fdw_plan.c - des_fdw planning: columns, pushdown, costs, paths.
 *
 * Conditions are sorted into three kinds:
 *  - archive quals: only the archive and day columns (and no volatile
 *    function): evaluated once per archive at scan time, so archives are
 *    pruned before their index is read;
 *  - one name condition, done by the scan with the in-memory index:
 *    name = x and name = ANY(xs) become hash lookups (x may come from the
 *    outer side of a join: parameterized paths), name LIKE 'p%' and
 *    name ^@ 'p' a prefix filter on the index;
 *  - everything else, filtered locally by the executor.
 * Only the data column costs payload reads; the rest comes from the index.
 */
#include "pg_des.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "fdw/des_fdw.h"

const char *const DesFdwColumnNames[DES_NCOLS] = {
	"name", "data", "meta", "size", "flags", "archive", "day", "data_offset", "blake2b"
};

/* accepted types per column (InvalidOid ends) */
static const Oid column_types[DES_NCOLS][3] = {
	{TEXTOID, VARCHAROID, InvalidOid},
	{BYTEAOID, InvalidOid},
	{JSONBOID, InvalidOid},
	{INT8OID, InvalidOid},
	{INT4OID, InvalidOid},
	{TEXTOID, VARCHAROID, InvalidOid},
	{DATEOID, InvalidOid},
	{INT8OID, InvalidOid},
	{BYTEAOID, InvalidOid},
};

#define COLUMNS_HINT "des_fdw columns (any subset, any order): name text, data bytea, meta jsonb, size bigint, flags integer, archive text, day date, data_offset bigint, blake2b bytea."

/* Options and column mapping of a des_fdw foreign table; checks the columns. */
void
DesFdwTableLoad(Relation rel, DesFdwTable *t)
{
	ForeignTable *ft = GetForeignTable(RelationGetRelid(rel));
	ForeignServer *server = GetForeignServer(ft->serverid);
	TupleDesc	desc = RelationGetDescr(rel);
	ListCell   *lc;

	memset(t, 0, sizeof(*t));
	t->server = server->servername;
	foreach(lc, ft->options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, "location") == 0)
			t->location = defGetString(def);
		else if (strcmp(def->defname, "verify") == 0)
			t->verify = defGetBoolean(def);
	}
	if (t->location == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("foreign table \"%s\" has no location option", RelationGetRelationName(rel)),
				 errhint("ALTER FOREIGN TABLE %s OPTIONS (ADD location 's3://bucket/prefix/' or '/path/*.des').",
						 quote_identifier(RelationGetRelationName(rel)))));
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		int			c;
		bool		type_ok = false;

		if (att->attisdropped)
			continue;
		for (c = 0; c < DES_NCOLS; c++)
			if (strcmp(NameStr(att->attname), DesFdwColumnNames[c]) == 0)
				break;
		if (c == DES_NCOLS)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
					 errmsg("column \"%s\" of foreign table \"%s\" is not a des_fdw column",
							NameStr(att->attname), RelationGetRelationName(rel)),
					 errhint(COLUMNS_HINT)));
		for (int k = 0; OidIsValid(column_types[c][k]); k++)
			type_ok |= att->atttypid == column_types[c][k];
		/* a length limit could not be honoured: names are as long as they are */
		if (att->atttypid == VARCHAROID && att->atttypmod >= 0)
			type_ok = false;
		if (!type_ok)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("column \"%s\" of foreign table \"%s\" has type %s, but des_fdw gives %s",
							NameStr(att->attname), RelationGetRelationName(rel),
							format_type_be(att->atttypid), format_type_be(column_types[c][0])),
					 errhint(COLUMNS_HINT)));
		t->attno[c] = att->attnum;
	}
}

/* What one name condition pushes down. */
typedef struct NameCondition
{
	DesFdwLookup kind;
	Expr	   *other;			/* NAME: the value; NAMES: the array */
	char	   *prefix;			/* PREFIX */
	bool		exact;			/* the condition needs no recheck */
	bool		is_join;		/* other refers to other relations */
	double		nnames;			/* NAMES: names in a constant array (else a guess) */
} NameCondition;

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
	NameCondition base_cond;	/* the name condition an unparameterized scan does */
} DesFdwPlanState;

static Expr *
strip_relabel(Expr *e)
{
	while (e && IsA(e, RelabelType))
		e = ((RelabelType *) e)->arg;
	return e;
}

static bool
is_column_var(Expr *e, Index relid, AttrNumber attno)
{
	e = strip_relabel(e);
	return attno != 0 && e && IsA(e, Var) && ((Var *) e)->varno == relid &&
		((Var *) e)->varattno == attno && ((Var *) e)->varlevelsup == 0;
}

/* An expression the scan can evaluate before reading the relation's rows. */
static bool
is_free_of_rel(PlannerInfo *root, Expr *e, Index relid)
{
	return !bms_is_member(relid, pull_varnos(root, (Node *) e)) &&
		!contain_volatile_functions((Node *) e) && !contain_subplans((Node *) e);
}

/*
 * The literal prefix of a LIKE pattern; *exact if the pattern is that prefix
 * followed by '%' only. NULL when the pattern starts with a wildcard.
 */
static char *
like_prefix(const char *pattern, bool *exact)
{
	StringInfoData s;
	const char *p = pattern;

	initStringInfo(&s);
	for (; *p && *p != '%' && *p != '_'; p++)
	{
		if (*p == '\\')
		{
			if (p[1] == '\0')
				return NULL;	/* LIKE raises its own error */
			p++;
		}
		appendStringInfoChar(&s, *p);
	}
	if (s.len == 0)
		return NULL;
	*exact = *p == '%';
	for (; *p == '%'; p++)
		;
	*exact = *exact && *p == '\0';
	return s.data;
}

static bool
match_name_condition(PlannerInfo *root, Expr *clause, Index relid, AttrNumber name_attno,
					 NameCondition *out)
{
	memset(out, 0, sizeof(*out));
	if (name_attno == 0)
		return false;
	if (IsA(clause, OpExpr) && list_length(((OpExpr *) clause)->args) == 2)
	{
		OpExpr	   *op = (OpExpr *) clause;
		Expr	   *l = linitial(op->args);
		Expr	   *r = lsecond(op->args);
		Oid			fn = get_opcode(op->opno);

		if (OidIsValid(op->inputcollid) && !get_collation_isdeterministic(op->inputcollid))
			return false;
		if (fn == F_TEXTEQ)
		{
			if (is_column_var(r, relid, name_attno))
			{
				Expr	   *t = l;

				l = r;
				r = t;
			}
			if (!is_column_var(l, relid, name_attno) || !is_free_of_rel(root, r, relid))
				return false;
			out->kind = DES_LOOKUP_NAME;
			out->other = r;
			out->exact = true;
			out->nnames = 1;
			out->is_join = !bms_is_empty(pull_varnos(root, (Node *) r));
			return true;
		}
		if ((fn == F_TEXTLIKE || fn == F_STARTS_WITH) && is_column_var(l, relid, name_attno))
		{
			Const	   *c = (Const *) strip_relabel(r);
			char	   *pattern;

			if (!IsA(c, Const) || c->constisnull)
				return false;
			pattern = TextDatumGetCString(c->constvalue);
			if (fn == F_STARTS_WITH)
			{
				if (pattern[0] == '\0')
					return false;
				out->prefix = pattern;
				out->exact = true;
			}
			else if ((out->prefix = like_prefix(pattern, &out->exact)) == NULL)
				return false;
			out->kind = DES_LOOKUP_PREFIX;
			return true;
		}
		return false;
	}
	if (IsA(clause, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *sa = (ScalarArrayOpExpr *) clause;
		Expr	   *arr = lsecond(sa->args);

		if (!sa->useOr || get_opcode(sa->opno) != F_TEXTEQ ||
			(OidIsValid(sa->inputcollid) && !get_collation_isdeterministic(sa->inputcollid)) ||
			!is_column_var(linitial(sa->args), relid, name_attno) || !is_free_of_rel(root, arr, relid))
			return false;
		out->kind = DES_LOOKUP_NAMES;
		out->other = arr;
		out->exact = true;
		out->is_join = !bms_is_empty(pull_varnos(root, (Node *) arr));
		out->nnames = 10;
		if (IsA(arr, Const) && !((Const *) arr)->constisnull)
			out->nnames = Max(1, ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(((Const *) arr)->constvalue)),
												ARR_DIMS(DatumGetArrayTypeP(((Const *) arr)->constvalue))));
		else if (IsA(arr, ArrayExpr))
			out->nnames = Max(1, list_length(((ArrayExpr *) arr)->elements));
		return true;
	}
	return false;
}

/*
 * Is nc a better name condition to push than best? Lookups beat prefixes;
 * a parameterized scan prefers a lookup of the outer side's value.
 */
static bool
better_condition(const NameCondition *best, const NameCondition *nc, bool parameterized)
{
	if (best->kind == DES_LOOKUP_NONE)
		return true;
	if (best->kind == DES_LOOKUP_PREFIX)
		return nc->kind != DES_LOOKUP_PREFIX;
	return nc->kind != DES_LOOKUP_PREFIX && parameterized && nc->is_join && !best->is_join;
}

/* Conditions on the archive and day columns only: decided per archive. */
static bool
is_archive_qual(PlannerInfo *root, Expr *clause, Index relid, const DesFdwTable *t)
{
	Bitmapset  *attrs = NULL;
	int			k = -1;

	if (contain_volatile_functions((Node *) clause) || contain_subplans((Node *) clause))
		return false;
	if (!bms_equal(pull_varnos(root, (Node *) clause), bms_make_singleton(relid)))
		return false;
	pull_varattnos((Node *) clause, relid, &attrs);
	while ((k = bms_next_member(attrs, k)) >= 0)
	{
		AttrNumber	a = k + FirstLowInvalidHeapAttributeNumber;

		if (a == 0 || (a != t->attno[DES_COL_ARCHIVE] && a != t->attno[DES_COL_DAY]))
			return false;
	}
	return true;
}

static bool
contains_param_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Param))
		return true;
	return expression_tree_walker(node, contains_param_walker, context);
}

/* Columns the query reads, as bits per DesFdwColumn. */
static uint32
needed_columns(const DesFdwTable *t, Index relid, List *exprs)
{
	Bitmapset  *attrs = NULL;
	uint32		needed = 0;

	pull_varattnos((Node *) exprs, relid, &attrs);
	if (bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs))
		return (1U << DES_NCOLS) - 1;	/* whole-row reference */
	for (int c = 0; c < DES_NCOLS; c++)
		if (t->attno[c] != 0 && bms_is_member(t->attno[c] - FirstLowInvalidHeapAttributeNumber, attrs))
			needed |= 1U << c;
	return needed;
}

/* How many archives to open at plan time to count entries; the rest is extrapolated. */
#define PLAN_OPEN_ARCHIVES 8

static void
desGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
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
	NameCondition nc;
	double		lookup_cap = -1;

	DesFdwTableLoad(rel, &ps->table);
	ps->user = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
	ps->is_s3 = pg_strncasecmp(ps->table.location, "s3://", 5) == 0;

	exprs = list_copy(baserel->reltarget->exprs);
	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *ri = lfirst(lc);

		exprs = lappend(exprs, ri->clause);
		if (is_archive_qual(root, ri->clause, baserel->relid, &ps->table))
			archive_quals = lappend(archive_quals, ri->clause);
		else
		{
			other_quals = lappend(other_quals, ri);
			if (!match_name_condition(root, ri->clause, baserel->relid, ps->table.attno[DES_COL_NAME], &nc))
				continue;
			if (better_condition(&ps->base_cond, &nc, false))
				ps->base_cond = nc;
			if (nc.kind != DES_LOOKUP_PREFIX)
				lookup_cap = lookup_cap < 0 ? nc.nnames : Min(lookup_cap, nc.nnames);
		}
	}
	ps->needed = needed_columns(&ps->table, baserel->relid, exprs);

	/* which archives there are, and which the constant archive quals keep */
	archives = DesFdwListArchives(ps->table.location, ps->table.server, ps->user, &narchives);
	ps->listed = narchives;
	matched = palloc(sizeof(bool) * Max(narchives, 1));
	for (int i = 0; i < narchives; i++)
		matched[i] = true;
	{
		List	   *constant_quals = NIL;

		foreach(lc, archive_quals)
			if (!contains_param_walker(lfirst(lc), NULL) && !contain_mutable_functions(lfirst(lc)))
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
scan_cost(PlannerInfo *root, RelOptInfo *baserel, const DesFdwPlanState *ps, const NameCondition *cond,
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
	return is_column_var(em->em_expr, rel->relid, *(AttrNumber *) arg);
}

static void
desGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	DesFdwPlanState *ps = baserel->fdw_private;
	AttrNumber	name_attno = ps->table.attno[DES_COL_NAME];
	NameCondition nc;
	Cost		startup,
				total;
	ListCell   *lc;
	List	   *join_clauses = NIL;
	List	   *done_outer = NIL;

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

		if (match_name_condition(root, ri->clause, baserel->relid, name_attno, &nc) &&
			nc.kind != DES_LOOKUP_PREFIX && nc.is_join)
			join_clauses = lappend(join_clauses, ri);
	}
	/* (EquivalenceClass clauses are checked with match_name_condition below) */
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
			!match_name_condition(root, ri->clause, baserel->relid, name_attno, &nc) ||
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

/* "alias.column" of a Var of the query at level */
static char *
describe_column(PlannerInfo *level, Var *v)
{
	RangeTblEntry *rte = rt_fetch(v->varno, level->parse->rtable);

	return psprintf("%s.%s", quote_identifier(rte->eref->aliasname),
					quote_identifier(get_rte_attribute_name(rte, v->varattno)));
}

/* A short description of a lookup's value for EXPLAIN. */
static char *
describe_expr(PlannerInfo *root, Expr *e)
{
	e = strip_relabel(e);
	if (IsA(e, Const))
	{
		Const	   *c = (Const *) e;
		Oid			out;
		bool		varlena;

		if (c->constisnull)
			return pstrdup("NULL");
		getTypeOutputInfo(c->consttype, &out, &varlena);
		return quote_literal_cstr(OidOutputFunctionCall(out, c->constvalue));
	}
	if (IsA(e, Param) && ((Param *) e)->paramkind == PARAM_EXTERN)
		return psprintf("$%d", ((Param *) e)->paramid);
	if (IsA(e, Param) && ((Param *) e)->paramkind == PARAM_EXEC)
	{
		/* an outer query's value (a lateral or correlated subquery): name its column */
		for (PlannerInfo *level = root->parent_root; level; level = level->parent_root)
		{
			ListCell   *lc;

			foreach(lc, level->plan_params)
			{
				PlannerParamItem *item = lfirst(lc);

				if (item->paramId == ((Param *) e)->paramid && IsA(item->item, Var) &&
					((Var *) item->item)->varno > 0 &&
					((Var *) item->item)->varno <= list_length(level->parse->rtable) &&
					((Var *) item->item)->varattno > 0)
				{
					return describe_column(level, (Var *) item->item);
				}
			}
		}
		return psprintf("$%d", ((Param *) e)->paramid);
	}
	if (IsA(e, Var))
	{
		Var		   *v = (Var *) e;
		PlannerInfo *level = root;

		/* a Var of an enclosing query (a lateral or correlated subquery) */
		for (Index up = 0; up < v->varlevelsup && level; up++)
			level = level->parent_root;
		if (level && v->varno > 0 && v->varno <= list_length(level->parse->rtable) && v->varattno > 0)
			return describe_column(level, v);
	}
	if (IsA(e, CoerceViaIO))
		return describe_expr(root, ((CoerceViaIO *) e)->arg);
	return pstrdup("(expression)");
}

/* LIMIT n of a query that is a plain scan of this one relation, or -1. */
static int64
scan_bound(PlannerInfo *root, RelOptInfo *baserel)
{
	Query	   *parse = root->parse;

	/* only a constant LIMIT (and OFFSET): a stable expression could differ at execution */
	if (!parse->limitCount || !IsA(parse->limitCount, Const) ||
		(parse->limitOffset && !IsA(parse->limitOffset, Const)))
		return -1;
	if (root->limit_tuples <= 0 || root->limit_tuples > PG_INT32_MAX || parse->commandType != CMD_SELECT ||
		parse->hasAggs || parse->groupClause || parse->groupingSets || parse->hasWindowFuncs ||
		parse->distinctClause || parse->sortClause || parse->hasTargetSRFs || parse->setOperations ||
		parse->havingQual || parse->rowMarks || root->hasHavingQual ||
		bms_membership(root->all_baserels) != BMS_SINGLETON || !IS_SIMPLE_REL(baserel) ||
		!bms_is_empty(baserel->lateral_relids))
		return -1;
	return (int64) root->limit_tuples;
}

static ForeignScan *
desGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid, ForeignPath *best_path,
				  List *tlist, List *scan_clauses, Plan *outer_plan)
{
	DesFdwPlanState *ps = baserel->fdw_private;
	AttrNumber	name_attno = ps->table.attno[DES_COL_NAME];
	List	   *local = NIL;
	List	   *archive_quals = NIL;
	List	   *pushed = NIL;
	NameCondition best = {0};
	RestrictInfo *best_ri = NULL;
	bool		parameterized = best_path->path.param_info != NULL;
	ListCell   *lc;
	int64		bound;
	uint32		needed;
	List	   *fdw_private;
	List	   *needed_exprs;

	foreach(lc, scan_clauses)
	{
		RestrictInfo *ri = lfirst(lc);
		NameCondition nc;

		if (ri->pseudoconstant)
			continue;			/* a gating Result node checks these */
		if (is_archive_qual(root, ri->clause, baserel->relid, &ps->table))
		{
			archive_quals = lappend(archive_quals, ri->clause);
			continue;
		}
		if (match_name_condition(root, ri->clause, baserel->relid, name_attno, &nc) &&
			better_condition(&best, &nc, parameterized))
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

	switch (best.kind)
	{
		case DES_LOOKUP_NAME:
			pushed = lappend(pushed, makeString(psprintf("name = %s", describe_expr(root, best.other))));
			break;
		case DES_LOOKUP_NAMES:
			pushed = lappend(pushed, makeString(psprintf("name = ANY (%s)", describe_expr(root, best.other))));
			break;
		case DES_LOOKUP_PREFIX:
			pushed = lappend(pushed, makeString(psprintf("name starts with %s%s", quote_literal_cstr(best.prefix),
														 best.exact ? "" : " (rechecked)")));
			break;
		case DES_LOOKUP_NONE:
			break;
	}
	bound = (local == NIL && !parameterized) ? scan_bound(root, baserel) : -1;
	if (bound >= 0)
		pushed = lappend(pushed, makeString(psprintf("LIMIT " INT64_FORMAT, bound)));

	/* payloads are read only for the data column; meta only when asked */
	needed_exprs = list_concat(list_copy(baserel->reltarget->exprs), local);
	needed = needed_columns(&ps->table, baserel->relid, needed_exprs);

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

/* ---- the handler ---- */

extern void DesFdwScanRoutines(FdwRoutine *r);

PG_FUNCTION_INFO_V1(des_fdw_handler);

Datum
des_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *r = makeNode(FdwRoutine);

	r->GetForeignRelSize = desGetForeignRelSize;
	r->GetForeignPaths = desGetForeignPaths;
	r->GetForeignPlan = desGetForeignPlan;
	DesFdwScanRoutines(r);
	PG_RETURN_POINTER(r);
}
