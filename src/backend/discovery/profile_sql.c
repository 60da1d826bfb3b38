/*
 * profile_sql.c - the profiler and the sketches from SQL: des.profile_data
 * (bytes), des.profile_file (a server file or an S3 object, with the
 * caller's rights), des_internal.profile_materialized (what des.profile_now
 * runs), and MinHash comparisons and LSH band keys for join search.
 */
#include "pg_des.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "des/profile/des_sketch.h"
#include "discovery/discovery.h"

PG_FUNCTION_INFO_V1(des_profile_data);

/* des.profile_data(data bytea, options jsonb): the profile of CSV, TSV or JSON-lines bytes. */
Datum
des_profile_data(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	Jsonb	   *options = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	DesProfileResult res;

	DesProfileBytes(VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data), options, &res);
	PG_RETURN_JSONB_P(res.profile);
}

/* the profile and the columns' MinHashes as a record (profile jsonb, minhashes bytea[]) */
static Datum
result_record(FunctionCallInfo fcinfo, const DesProfileResult *res)
{
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	Datum	   *elems = palloc(sizeof(Datum) * Max(res->ncolumns, 1));

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	for (int i = 0; i < res->ncolumns; i++)
		elems[i] = PointerGetDatum(res->minhash[i]);
	values[0] = JsonbPGetDatum(res->profile);
	values[1] = PointerGetDatum(construct_array(elems, res->ncolumns, BYTEAOID, -1, false, TYPALIGN_INT));
	return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls));
}

PG_FUNCTION_INFO_V1(des_profile_bytes);

/*
 * des_internal.profile_bytes(data bytea, options jsonb, OUT profile jsonb,
 * OUT minhashes bytea[]): des.profile_data with the columns' MinHashes, for
 * datasets whose bytes are at hand (and the search benchmark).
 */
Datum
des_profile_bytes(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	Jsonb	   *options = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	DesProfileResult res;

	DesProfileBytes(VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data), options, &res);
	PG_RETURN_DATUM(result_record(fcinfo, &res));
}

PG_FUNCTION_INFO_V1(des_profile_file);

/*
 * des.profile_file(location text, options jsonb): the profile of a file on
 * the server (pg_read_server_files, as COPY) or an S3 object (the caller's
 * user mapping), read as des.profile_max_bytes allows.
 */
Datum
des_profile_file(PG_FUNCTION_ARGS)
{
	text	   *location = PG_GETARG_TEXT_PP(0);
	Jsonb	   *options = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	JsonbParseState *state = NULL;
	JsonbValue	k,
				v;
	Jsonb	   *materialize;
	DesProfileResult res;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	k.type = jbvString;
	k.val.string.val = "kind";
	k.val.string.len = 4;
	pushJsonbValue(&state, WJB_KEY, &k);
	v.type = jbvString;
	v.val.string.val = "storage";
	v.val.string.len = 7;
	pushJsonbValue(&state, WJB_VALUE, &v);
	k.val.string.val = "location";
	k.val.string.len = 8;
	pushJsonbValue(&state, WJB_KEY, &k);
	v.val.string.val = VARDATA_ANY(location);
	v.val.string.len = VARSIZE_ANY_EXHDR(location);
	pushJsonbValue(&state, WJB_VALUE, &v);
	materialize = JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
	DesProfileMaterialized(materialize, GetUserId(), options, false, &res);
	PG_RETURN_JSONB_P(res.profile);
}

PG_FUNCTION_INFO_V1(des_profile_materialized);

/*
 * des_internal.profile_materialized(materialize jsonb, owner regrole,
 * options jsonb, OUT profile jsonb, OUT minhashes bytea[]): profile a
 * dataset in this backend, with the owner's rights.
 */
Datum
des_profile_materialized(PG_FUNCTION_ARGS)
{
	Jsonb	   *materialize = PG_GETARG_JSONB_P(0);
	Oid			owner = PG_GETARG_OID(1);
	Jsonb	   *options = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	DesProfileResult res;

	DesProfileMaterialized(materialize, owner, options, false, &res);
	PG_RETURN_DATUM(result_record(fcinfo, &res));
}

PG_FUNCTION_INFO_V1(des_materialized_bytes);

/*
 * des_internal.materialized_bytes(materialize jsonb, owner regrole,
 * max_bytes bigint): the bytes of a dataset, read with the owner's rights
 * (what des.keep_copy stores).
 */
Datum
des_materialized_bytes(PG_FUNCTION_ARGS)
{
	PG_RETURN_BYTEA_P(DesMaterializedBytes(PG_GETARG_JSONB_P(0), PG_GETARG_OID(1), PG_GETARG_INT64(2)));
}

PG_FUNCTION_INFO_V1(des_profile_failure_kind);

/* des_internal.profile_failure_kind(sqlstate text): the failure kind of an error's SQLSTATE. */
Datum
des_profile_failure_kind(PG_FUNCTION_ARGS)
{
	char	   *s = text_to_cstring(PG_GETARG_TEXT_PP(0));

	if (strlen(s) != 5)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" is not a SQLSTATE", s)));
	PG_RETURN_TEXT_P(cstring_to_text(DesProfileFailureKind(MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4]))));
}

/* ---- MinHash from SQL ---- */

static void
minhash_arg(bytea *b, des_minhash *m)
{
	des_error	err;

	if (!des_minhash_deserialize(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b), m, &err))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid MinHash: %s", err.message)));
}

/* the estimated Jaccard similarity of two serialised MinHashes */
static double
jaccard_of(bytea *a_bytes, bytea *b_bytes)
{
	des_minhash a,
				b;
	des_error	err;
	double		j;
	bool		ok;

	minhash_arg(a_bytes, &a);
	minhash_arg(b_bytes, &b);
	ok = des_minhash_jaccard(&a, &b, &j, &err);
	des_minhash_free(&a);
	des_minhash_free(&b);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s", err.message)));
	return j;
}

PG_FUNCTION_INFO_V1(des_minhash_jaccard_sql);

/* des.minhash_jaccard(a bytea, b bytea): the estimated Jaccard similarity of two columns' value sets. */
Datum
des_minhash_jaccard_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(jaccard_of(PG_GETARG_BYTEA_PP(0), PG_GETARG_BYTEA_PP(1)));
}

PG_FUNCTION_INFO_V1(des_minhash_containment_sql);

/*
 * des.minhash_containment(a bytea, b bytea, distinct_a float8, distinct_b
 * float8): the estimated share of A's distinct values that B has.
 */
Datum
des_minhash_containment_sql(PG_FUNCTION_ARGS)
{
	double		j = jaccard_of(PG_GETARG_BYTEA_PP(0), PG_GETARG_BYTEA_PP(1));

	PG_RETURN_FLOAT8(des_minhash_containment(j, PG_GETARG_FLOAT8(2), PG_GETARG_FLOAT8(3)));
}

#define LSH_ROWS 2				/* bins per band */

PG_FUNCTION_INFO_V1(des_minhash_bands);

/*
 * des.minhash_bands(m bytea): the LSH band keys of a MinHash, k / 2 of them:
 * band i is the hash of (i, its 2 densified bins). Two columns share a band
 * with probability J^2 per band, so with 64 bands a pair at Jaccard 0.2 is
 * found 93% of the time and at 0.1, 47%; the candidates are then ranked by
 * their estimated containment (des.search_join).
 */
Datum
des_minhash_bands(PG_FUNCTION_ARGS)
{
	des_minhash m;
	uint32		bands;
	Datum	   *keys;
	uint64	   *dense;

	minhash_arg(PG_GETARG_BYTEA_PP(0), &m);
	if (des_minhash_is_empty(&m))
	{
		des_minhash_free(&m);
		PG_RETURN_NULL();
	}
	bands = m.k / LSH_ROWS;
	dense = palloc(sizeof(uint64) * m.k);
	des_minhash_densified(&m, dense);
	keys = palloc(sizeof(Datum) * bands);
	for (uint32 i = 0; i < bands; i++)
	{
		uint64		parts[LSH_ROWS + 1];

		parts[0] = i;
		for (int r = 0; r < LSH_ROWS; r++)
			parts[r + 1] = dense[i * LSH_ROWS + r];
		keys[i] = Int64GetDatum((int64) des_sketch_hash(parts, sizeof(parts)));
	}
	des_minhash_free(&m);
	PG_RETURN_ARRAYTYPE_P(construct_array(keys, (int) bands, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
