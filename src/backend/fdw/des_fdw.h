/*
 * des_fdw.h - the des_fdw foreign-data wrapper: DES archives as tables.
 */
#ifndef DES_FDW_H
#define DES_FDW_H

#include "pg_des.h"
#include "archive/archive.h"

#include "access/attnum.h"
#include "foreign/fdwapi.h"
#include "utils/date.h"
#include "utils/relcache.h"

/* One archive a foreign table's location names. */
typedef struct DesFdwArchive
{
	char	   *location;		/* a path, or s3://bucket/key */
	int64		size;			/* bytes; -1 when not listed (a single archive) */
	bool		has_day;		/* under a YYYY-MM-DD directory */
	DateADT		day;
} DesFdwArchive;

/* The columns a des_fdw table may have, matched by name. */
typedef enum DesFdwColumn
{
	DES_COL_NAME,
	DES_COL_DATA,
	DES_COL_META,
	DES_COL_SIZE,
	DES_COL_FLAGS,
	DES_COL_ARCHIVE,
	DES_COL_DAY,
	DES_COL_DATA_OFFSET,
	DES_COL_BLAKE2B,
	DES_NCOLS
} DesFdwColumn;

/* The columns of a table over a version of a dataset (option ref), matched by name. */
typedef enum DesFdwRefColumn
{
	DES_RCOL_PATH,
	DES_RCOL_SIZE,
	DES_RCOL_DATA,
	DES_RCOL_KIND,
	DES_RCOL_MODE,
	DES_RCOL_CONTENT_HASH,
	DES_RCOL_COUNT
} DesFdwRefColumn;

/*
 * A foreign table's options and column mapping: archives (location) or the
 * files of a version of a dataset (ref), never both. The planner's and the
 * scan's states of both kinds start with one, so the callbacks dispatch on
 * ref (fdw_ref.c serves the ref tables).
 */
typedef struct DesFdwTable
{
	char	   *location;
	char	   *ref;			/* a ref (docs/datasets.md "Refs"), or NULL */
	bool		verify;			/* check each payload's stored BLAKE2b */
	char	   *server;			/* foreign server name (endpoint of s3:// locations) */
	AttrNumber	attno[DES_NCOLS];	/* 0 = the table has no such column */
	AttrNumber	ref_attno[DES_RCOL_COUNT];	/* ref tables: 0 = no such column */
	/* ref tables with a format: the rows of the CSV files whose path matches (fdw_csv.c) */
	bool		has_format;
	bool		format_is_tsv;
	char	   *path_glob;		/* fnmatch(3) pattern, FNM_PATHNAME */
	bool		header;
	char		delimiter;
	char		quote;			/* '\0': no quoting */
	char	   *null_string;	/* NULL: an unquoted empty field is NULL */
} DesFdwTable;

/* What a scan looks up instead of walking every entry. */
typedef enum DesFdwLookup
{
	DES_LOOKUP_NONE,
	DES_LOOKUP_NAME,			/* name = expr */
	DES_LOOKUP_NAMES,			/* name = ANY(array expr) */
	DES_LOOKUP_PREFIX			/* name LIKE 'prefix%' or name ^@ 'prefix' */
} DesFdwLookup;

/* ForeignScan.fdw_private, by position */
enum
{
	DES_FP_LOOKUP,				/* Integer: DesFdwLookup */
	DES_FP_PREFIX,				/* String: prefix (database encoding) */
	DES_FP_LIMIT,				/* Integer: rows to stop after, -1 none */
	DES_FP_NEEDED,				/* Integer: bit (1 << DesFdwColumn) per column read */
	DES_FP_LISTED,				/* Integer: archives listed at plan time */
	DES_FP_MATCHED,				/* Integer: of which not pruned by constants */
	DES_FP_PUSHED,				/* List of String: pushed conditions, for EXPLAIN */
	DES_FP_COUNT
};

/* ForeignScan.fdw_exprs, by position */
enum
{
	DES_FE_LOOKUP,				/* the lookup's name or names expression, or NULL */
	DES_FE_ARCHIVE_QUALS,		/* List: quals on archive and day only, checked per archive */
	DES_FE_COUNT
};

/* What one name condition pushes down. */
typedef struct DesFdwNameCondition
{
	DesFdwLookup kind;
	Expr	   *other;			/* NAME: the value; NAMES: the array */
	char	   *prefix;			/* PREFIX */
	bool		exact;			/* the condition needs no recheck */
	bool		is_join;		/* other refers to other relations */
	double		nnames;			/* NAMES: names in a constant array (else a guess) */
} DesFdwNameCondition;

/*
 * The callbacks des_fdw_handler (fdw_handler.c) puts in its FdwRoutine,
 * one file per concern as in contrib/postgres_fdw.
 */
/* fdw_plan.c */
extern void DesFdwGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid);
extern void DesFdwGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid);
extern ForeignScan *DesFdwGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
										 ForeignPath *best_path, List *tlist, List *scan_clauses,
										 Plan *outer_plan);
/* fdw_scan.c */
extern void DesFdwBeginForeignScan(ForeignScanState *node, int eflags);
extern TupleTableSlot *DesFdwIterateForeignScan(ForeignScanState *node);
extern void DesFdwReScanForeignScan(ForeignScanState *node);
extern void DesFdwEndForeignScan(ForeignScanState *node);
extern void DesFdwExplainForeignScan(ForeignScanState *node, struct ExplainState *es);
/* fdw_import.c */
extern bool DesFdwAnalyzeForeignTable(Relation rel, AcquireSampleRowsFunc *func, BlockNumber *totalpages);
extern List *DesFdwImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid);

/* fdw_options.c (also the SQL-callable des_fdw_validator) */
extern const char *const DesFdwColumnNames[DES_NCOLS];
/* Options and column mapping of a des_fdw foreign table; checks the columns. */
extern void DesFdwTableLoad(Relation rel, DesFdwTable *t);

/* fdw_pushdown.c: what the scan does itself (see the comment at its top) */
/* e is column attno of relation relid, perhaps under binary-compatible casts */
extern bool DesFdwIsColumnVar(Expr *e, Index relid, AttrNumber attno);
/* clause is name = x, name = ANY(xs), name LIKE 'p%' or name ^@ 'p'; *out says how */
extern bool DesFdwMatchNameCondition(PlannerInfo *root, Expr *clause, Index relid, AttrNumber name_attno,
									 DesFdwNameCondition *out);
/* nc is better to push than best (lookups beat prefixes; joins win when parameterized) */
extern bool DesFdwBetterCondition(const DesFdwNameCondition *best, const DesFdwNameCondition *nc,
								  bool parameterized);
/* clause reads only the archive and day columns: decided once per archive */
extern bool DesFdwIsArchiveQual(PlannerInfo *root, Expr *clause, Index relid, const DesFdwTable *t);
/* node contains a Param: its value is known only at execution */
extern bool DesFdwContainsParam(Node *node);
/* columns exprs read, as bits (1 << DesFdwColumn); all for a whole-row reference */
extern uint32 DesFdwNeededColumns(const DesFdwTable *t, Index relid, List *exprs);
/* the constant LIMIT of a query that is a plain scan of baserel alone, or -1 */
extern int64 DesFdwScanBound(PlannerInfo *root, RelOptInfo *baserel);
/* EXPLAIN's "Pushed" lines (List of String) for cond on column and bound (-1: none) */
extern List *DesFdwDescribePushed(PlannerInfo *root, const char *column, const DesFdwNameCondition *cond,
								  int64 bound);

/* fdw_scan.c: an entry as the table shows it */
extern bool DesFdwEntryShadowed(des_reader *r, uint64 i);
extern bool DesFdwEntryColumn(des_reader *r, uint64 i, DesFdwColumn c, const DesFdwArchive *a,
							  Datum archive_text, Datum *value, bool *isnull, des_error *err);

/* fdw_ref.c: tables whose option ref names a version of a dataset */
extern const char *const DesFdwRefColumnNames[DES_RCOL_COUNT];
extern void DesFdwRefGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, DesFdwTable *t);
extern void DesFdwRefGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel);
extern ForeignScan *DesFdwRefGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, List *tlist,
											List *scan_clauses, Plan *outer_plan);
extern void DesFdwRefBeginForeignScan(ForeignScanState *node, int eflags, DesFdwTable *t);
extern TupleTableSlot *DesFdwRefIterateForeignScan(ForeignScanState *node);
extern void DesFdwRefReScanForeignScan(ForeignScanState *node);
extern void DesFdwRefEndForeignScan(ForeignScanState *node);
extern void DesFdwRefExplainForeignScan(ForeignScanState *node, struct ExplainState *es);

/* fdw_csv.c: ref tables with a format, the rows of a version's CSV files */
extern void DesFdwCsvGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, DesFdwTable *t);
extern void DesFdwCsvGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel);
extern ForeignScan *DesFdwCsvGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, List *tlist,
											List *scan_clauses, Plan *outer_plan);
extern void DesFdwCsvBeginForeignScan(ForeignScanState *node, int eflags, DesFdwTable *t);
extern TupleTableSlot *DesFdwCsvIterateForeignScan(ForeignScanState *node);
extern void DesFdwCsvReScanForeignScan(ForeignScanState *node);
extern void DesFdwCsvEndForeignScan(ForeignScanState *node);
extern void DesFdwCsvExplainForeignScan(ForeignScanState *node, struct ExplainState *es);

/* fdw_archives.c */
extern bool DesFdwLocationIsPattern(const char *location);
/* location with its wildcard characters escaped, to name exactly it */
extern char *DesFdwEscapeLocation(const char *location);
extern DesFdwArchive *DesFdwListArchives(const char *location, const char *server, Oid user, int *n);
extern DesLocation *DesFdwArchiveLocation(const DesFdwArchive *a, const char *server, Oid user);
/* The day of the nearest YYYY-MM-DD directory above the file, if any. */
extern bool DesFdwDayOf(const char *location, DateADT *day, const char **day_component);

#endif
