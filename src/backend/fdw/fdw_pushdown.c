/*
 * fdw_pushdown.c - des_fdw: which conditions a scan does itself.
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
 * Also here: the columns a query reads (only the data column costs payload
 * reads), a LIMIT the scan may stop at, and how EXPLAIN shows what is pushed.
 * The planner (fdw_plan.c) decides with these; the scan (fdw_scan.c) only
 * carries out what fdw_private says.
 */
#include "pg_des.h"

#include "access/htup_details.h"
#include "catalog/pg_collation.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"

#include "fdw/des_fdw.h"

/* e without binary-compatible casts (a varchar column compared as text) */
static Expr *
strip_relabel(Expr *e)
{
	while (e && IsA(e, RelabelType))
		e = ((RelabelType *) e)->arg;
	return e;
}

bool
DesFdwIsColumnVar(Expr *e, Index relid, AttrNumber attno)
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

bool
DesFdwMatchNameCondition(PlannerInfo *root, Expr *clause, Index relid, AttrNumber name_attno,
						 DesFdwNameCondition *out)
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
			if (DesFdwIsColumnVar(r, relid, name_attno))
			{
				Expr	   *t = l;

				l = r;
				r = t;
			}
			if (!DesFdwIsColumnVar(l, relid, name_attno) || !is_free_of_rel(root, r, relid))
				return false;
			out->kind = DES_LOOKUP_NAME;
			out->other = r;
			out->exact = true;
			out->nnames = 1;
			out->is_join = !bms_is_empty(pull_varnos(root, (Node *) r));
			return true;
		}
		if ((fn == F_TEXTLIKE || fn == F_STARTS_WITH) && DesFdwIsColumnVar(l, relid, name_attno))
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
			!DesFdwIsColumnVar(linitial(sa->args), relid, name_attno) || !is_free_of_rel(root, arr, relid))
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
bool
DesFdwBetterCondition(const DesFdwNameCondition *best, const DesFdwNameCondition *nc, bool parameterized)
{
	if (best->kind == DES_LOOKUP_NONE)
		return true;
	if (best->kind == DES_LOOKUP_PREFIX)
		return nc->kind != DES_LOOKUP_PREFIX;
	return nc->kind != DES_LOOKUP_PREFIX && parameterized && nc->is_join && !best->is_join;
}

/* Conditions on the archive and day columns only: decided per archive. */
bool
DesFdwIsArchiveQual(PlannerInfo *root, Expr *clause, Index relid, const DesFdwTable *t)
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

bool
DesFdwContainsParam(Node *node)
{
	return contains_param_walker(node, NULL);
}

/* Columns the query reads, as bits per DesFdwColumn. */
uint32
DesFdwNeededColumns(const DesFdwTable *t, Index relid, List *exprs)
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
int64
DesFdwScanBound(PlannerInfo *root, RelOptInfo *baserel)
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

/* What EXPLAIN shows as "Pushed": the condition the scan does, and its LIMIT. */
List *
DesFdwDescribePushed(PlannerInfo *root, const char *column, const DesFdwNameCondition *cond, int64 bound)
{
	List	   *pushed = NIL;

	switch (cond->kind)
	{
		case DES_LOOKUP_NAME:
			pushed = lappend(pushed, makeString(psprintf("%s = %s", column, describe_expr(root, cond->other))));
			break;
		case DES_LOOKUP_NAMES:
			pushed = lappend(pushed, makeString(psprintf("%s = ANY (%s)", column, describe_expr(root, cond->other))));
			break;
		case DES_LOOKUP_PREFIX:
			pushed = lappend(pushed, makeString(psprintf("%s starts with %s%s", column, quote_literal_cstr(cond->prefix),
														 cond->exact ? "" : " (rechecked)")));
			break;
		case DES_LOOKUP_NONE:
			break;
	}
	if (bound >= 0)
		pushed = lappend(pushed, makeString(psprintf("LIMIT " INT64_FORMAT, bound)));
	return pushed;
}
