/*
 * history_scan.c - the day and position tags of gros:// URIs read straight
 * from the indexes of des.dataset_branches, des.branch_history and
 * des.dataset_bundles (genam scans), not through SPI.
 *
 * Such a resolution is four index lookups (the branch row, the history's
 * last row, the picked row, the bundle's root); as one SPI query the
 * executor's start-up and the plan's nine nodes cost more than the lookups
 * (docs/benchmarks.md, 13a). The answers are the query's: the scans use the
 * active snapshot, as a read-only SPI query does, and run as the extension's
 * owner after the caller's access to the repo was checked (the owner is not
 * subject to these tables' row-level security). Anything unusual (no such
 * branch, no head yet, a history out of step with the head, a bundle row
 * missing) is left to refs.c's query, which reports it or rebuilds the
 * history.
 */
#include "pg_des.h"
#include "datasets/datasets.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

/* The relations and columns read, looked up once per statement. */
typedef struct HistoryRels
{
	DesStatementId statement;
	bool		valid;
	Oid			branches;		/* des.dataset_branches */
	Oid			branches_pkey;	/* (repo_id, name) */
	Oid			history;		/* des.branch_history */
	Oid			history_pkey;	/* (repo_id, branch, position) */
	Oid			history_time;	/* (repo_id, branch, committed_at, position) */
	Oid			history_bundle; /* (repo_id, bundle_id) */
	Oid			bundles;		/* des.dataset_bundles */
	Oid			bundles_pkey;	/* (id) */
} HistoryRels;

static HistoryRels rels;

static Oid
relation_in(Oid nsp, const char *name)
{
	Oid			oid = get_relname_relid(name, nsp);

	if (!OidIsValid(oid))
		elog(ERROR, "pg_des relation des.%s is missing", name);
	return oid;
}

static void
rels_look_up(void)
{
	DesStatementId now = DesCurrentStatement();
	Oid			nsp;

	if (rels.valid && DesSameStatement(now, rels.statement))
		return;
	rels.valid = false;
	nsp = get_namespace_oid("des", false);
	rels.branches = relation_in(nsp, "dataset_branches");
	rels.branches_pkey = relation_in(nsp, "dataset_branches_pkey");
	rels.history = relation_in(nsp, "branch_history");
	rels.history_pkey = relation_in(nsp, "branch_history_pkey");
	rels.history_time = relation_in(nsp, "branch_history_time");
	rels.history_bundle = relation_in(nsp, "branch_history_bundle");
	rels.bundles = relation_in(nsp, "dataset_bundles");
	rels.bundles_pkey = relation_in(nsp, "dataset_bundles_pkey");
	rels.statement = now;
	rels.valid = true;
}

static AttrNumber
column(Relation rel, const char *name)
{
	TupleDesc	desc = RelationGetDescr(rel);

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(desc, i);

		if (!a->attisdropped && strcmp(NameStr(a->attname), name) == 0)
			return a->attnum;
	}
	elog(ERROR, "pg_des relation %s has no column %s", RelationGetRelationName(rel), name);
	return InvalidAttrNumber;	/* keep compiler quiet */
}

/* key k: column name of rel compared by proc with strategy, in the column's collation */
static void
key_init(ScanKey k, Relation rel, const char *name, StrategyNumber strategy, RegProcedure proc, Datum arg)
{
	AttrNumber	att = column(rel, name);

	ScanKeyEntryInitialize(k, 0, att, strategy, InvalidOid, TupleDescAttr(RelationGetDescr(rel), att - 1)->attcollation,
						   proc, arg);
}

static bool
get_hash(HeapTuple tup, Relation rel, const char *name, unsigned char hash[DES_TREE_HASH_BYTES])
{
	bool		isnull;
	Datum		d = heap_getattr(tup, column(rel, name), RelationGetDescr(rel), &isnull);

	if (isnull || VARSIZE_ANY_EXHDR(DatumGetPointer(d)) != DES_TREE_HASH_BYTES)
		return false;
	DesByteaHash(DatumGetByteaPP(d), hash);
	return true;
}

static int64
get_int8(HeapTuple tup, Relation rel, const char *name)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, column(rel, name), RelationGetDescr(rel), &isnull);

	return isnull ? -1 : DatumGetInt64(d);
}

/* The branch's head; false when the branch does not exist or has none. */
static bool
branch_head(Snapshot snap, int64 repo_id, text *branch, unsigned char head[DES_TREE_HASH_BYTES])
{
	Relation	rel = table_open(rels.branches, AccessShareLock);
	ScanKeyData keys[2];
	SysScanDesc scan;
	HeapTuple	tup;
	bool		ok = false;

	key_init(&keys[0], rel, "repo_id", BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(repo_id));
	key_init(&keys[1], rel, "name", BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(branch));
	scan = systable_beginscan(rel, rels.branches_pkey, true, snap, 2, keys);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		ok = get_hash(tup, rel, "head", head);
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return ok;
}

/*
 * The first row of an ordered scan of the branch's history rows in index
 * (index_oid) over (repo_id, branch, extra keys), highest first: its
 * position and bundle. False when there is none.
 */
static bool
history_last(Snapshot snap, Oid index_oid, int64 repo_id, text *branch, int nextra, const char **extra_columns,
			 const StrategyNumber *extra_strategies, const RegProcedure *extra_procs, const Datum *extra_args,
			 int64 *position, unsigned char bundle[DES_TREE_HASH_BYTES])
{
	Relation	rel = table_open(rels.history, AccessShareLock);
	Relation	index = index_open(index_oid, AccessShareLock);
	ScanKeyData keys[4];
	SysScanDesc scan;
	HeapTuple	tup;
	bool		ok = false;

	Assert(nextra <= 2);
	key_init(&keys[0], rel, "repo_id", BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(repo_id));
	key_init(&keys[1], rel, "branch", BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(branch));
	for (int i = 0; i < nextra; i++)
		key_init(&keys[2 + i], rel, extra_columns[i], extra_strategies[i], extra_procs[i], extra_args[i]);
	scan = systable_beginscan_ordered(rel, index, snap, 2 + nextra, keys);
	tup = systable_getnext_ordered(scan, BackwardScanDirection);
	if (HeapTupleIsValid(tup))
	{
		*position = get_int8(tup, rel, "position");
		ok = get_hash(tup, rel, "bundle_id", bundle);
	}
	systable_endscan_ordered(scan);
	index_close(index, AccessShareLock);
	table_close(rel, AccessShareLock);
	return ok;
}

/* The bundle's root, if the bundle is stored in the repo. */
static bool
bundle_root(Snapshot snap, int64 repo_id, const unsigned char id[DES_TREE_HASH_BYTES],
			unsigned char root[DES_TREE_HASH_BYTES])
{
	Relation	rel = table_open(rels.bundles, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		ok = false;

	key_init(&key, rel, "id", BTEqualStrategyNumber, F_BYTEAEQ, PointerGetDatum(DesHashBytea(id)));
	scan = systable_beginscan(rel, rels.bundles_pkey, true, snap, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup) && get_int8(tup, rel, "repo_id") == repo_id)
		ok = get_hash(tup, rel, "root", root);
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return ok;
}

/*
 * The head's row in the branch's history, which must be its last: found by
 * the bundle (the head), then nothing after it. (A backward scan for the
 * last row would be one lookup, but PostgreSQL 15's B-tree reads a whole
 * leaf page of matching entries before returning the first: every row of
 * the branch, each compared.) False: leave it to the query.
 */
static bool
history_in_step(Snapshot snap, int64 repo_id, text *branch, DesHistoryPick *out)
{
	unsigned char head[DES_TREE_HASH_BYTES];
	Relation	rel;
	ScanKeyData keys[3];
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;
	bool		after = false;

	if (!branch_head(snap, repo_id, branch, head))
		return false;
	rel = table_open(rels.history, AccessShareLock);
	/* the head's rows (a bundle may be in several branches' histories) */
	key_init(&keys[0], rel, "repo_id", BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(repo_id));
	key_init(&keys[1], rel, "bundle_id", BTEqualStrategyNumber, F_BYTEAEQ, PointerGetDatum(DesHashBytea(head)));
	scan = systable_beginscan(rel, rels.history_bundle, true, snap, 2, keys);
	while (!found && HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;
		text	   *b = DatumGetTextPP(heap_getattr(tup, column(rel, "branch"), RelationGetDescr(rel), &isnull));

		/* equal bytes: a database's default collation is deterministic, and branch names are ASCII */
		if (!isnull && VARSIZE_ANY_EXHDR(b) == VARSIZE_ANY_EXHDR(branch) &&
			memcmp(VARDATA_ANY(b), VARDATA_ANY(branch), VARSIZE_ANY_EXHDR(branch)) == 0)
		{
			out->last = get_int8(tup, rel, "position");
			found = true;
		}
	}
	systable_endscan(scan);
	if (found)
	{
		Relation	index = index_open(rels.history_pkey, AccessShareLock);

		key_init(&keys[0], rel, "repo_id", BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(repo_id));
		key_init(&keys[1], rel, "branch", BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(branch));
		key_init(&keys[2], rel, "position", BTGreaterStrategyNumber, F_INT8GT, Int64GetDatum(out->last));
		scan = systable_beginscan_ordered(rel, index, snap, 3, keys);
		after = HeapTupleIsValid(systable_getnext_ordered(scan, ForwardScanDirection));
		systable_endscan_ordered(scan);
		index_close(index, AccessShareLock);
	}
	table_close(rel, AccessShareLock);
	return found && !after;
}

/* the picked row's root; false (the query's turn) when its bundle row is missing */
static bool
take_root(Snapshot snap, int64 repo_id, DesHistoryPick *out)
{
	if (!out->found)
		return true;
	return bundle_root(snap, repo_id, out->bundle, out->root);
}

/*
 * What both picks start with: the active snapshot (false without one) and
 * the branch's history in step with its head (false otherwise: the query's
 * turn), its last position in out.
 */
static bool
pick_begin(int64 repo_id, const char *branch_name, DesHistoryPick *out, Snapshot *snap, text **branch)
{
	memset(out, 0, sizeof(*out));
	if (!ActiveSnapshotSet())
		return false;
	*snap = GetActiveSnapshot();
	rels_look_up();
	*branch = cstring_to_text(branch_name);
	return history_in_step(*snap, repo_id, *branch, out);
}

bool
DesHistoryPickPosition(int64 repo_id, const char *branch_name, int64 position, DesHistoryPick *out)
{
	Snapshot	snap;
	text	   *branch;
	int64		wanted;
	const char *column_name = "position";
	StrategyNumber strategy = BTEqualStrategyNumber;
	RegProcedure proc = F_INT8EQ;
	Datum		arg;
	int64		at;

	if (!pick_begin(repo_id, branch_name, out, &snap, &branch))
		return false;
	wanted = position >= 0 ? position : out->last + 1 + position;
	if (wanted < 0 || wanted > out->last)
		return true;			/* out of range: found stays false */
	arg = Int64GetDatum(wanted);
	out->found = history_last(snap, rels.history_pkey, repo_id, branch, 1, &column_name, &strategy, &proc, &arg,
							  &at, out->bundle);
	return take_root(snap, repo_id, out);
}

bool
DesHistoryPickDay(int64 repo_id, const char *branch_name, TimestampTz from, TimestampTz until, DesHistoryPick *out)
{
	Snapshot	snap;
	text	   *branch;
	const char *columns[2] = {"committed_at", "committed_at"};
	StrategyNumber strategies[2] = {BTGreaterEqualStrategyNumber, BTLessStrategyNumber};
	RegProcedure procs[2] = {F_TIMESTAMPTZ_GE, F_TIMESTAMPTZ_LT};
	Datum		args[2] = {TimestampTzGetDatum(from), TimestampTzGetDatum(until)};
	int64		at;

	if (!pick_begin(repo_id, branch_name, out, &snap, &branch))
		return false;
	/* the day's last: highest (committed_at, position) in the range */
	out->found = history_last(snap, rels.history_time, repo_id, branch, 2, columns, strategies, procs, args, &at,
							  out->bundle);
	return take_root(snap, repo_id, out);
}
