/*
 * references.c - des_internal.content_chunks(chunks bytea): the chunk ids
 * of a stored chunk list (a DESF encoding, docs/versioning-format.md), one
 * row each, in file order (a chunk used twice gives two rows). The garbage
 * collector's mark joins blobs against these: a blob that is a chunk of any
 * file content is live. A list that does not decode is an error, never an
 * empty set: a mark that skipped it would find its chunks dead.
 */
#include "gc/gc.h"

#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "des/tree/des_tree.h"

PG_FUNCTION_INFO_V1(des_content_chunks);

Datum
des_content_chunks(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bytea	   *list = PG_GETARG_BYTEA_PP(0);
	const unsigned char *data = (const unsigned char *) VARDATA_ANY(list);
	size_t		len = VARSIZE_ANY_EXHDR(list);
	uint64_t	count;
	uint64_t	size;
	des_error	err;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	if (!des_file_decode(data, len, &count, &size, &err))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("a stored chunk list does not decode: %s", err.message)));
	for (uint64_t i = 0; i < count; i++)
	{
		des_chunk_ref c;
		bytea	   *id = palloc(VARHDRSZ + DES_TREE_HASH_BYTES);
		Datum		value;
		bool		isnull = false;

		CHECK_FOR_INTERRUPTS();
		des_file_chunk(data, i, &c);
		SET_VARSIZE(id, VARHDRSZ + DES_TREE_HASH_BYTES);
		memcpy(VARDATA(id), c.id, DES_TREE_HASH_BYTES);
		value = PointerGetDatum(id);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
		pfree(id);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(des_dir_children);

/*
 * des_internal.dir_children(encoding bytea) -> (kind int, hash bytea): what
 * a stored directory (a DESD encoding) names: files (kind 1, their content
 * hash) and subdirectories (kind 2, their directory hash). The mark of a
 * repository's trees walks these from every bundle's root.
 */
Datum
des_dir_children(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bytea	   *enc = PG_GETARG_BYTEA_PP(0);
	des_tree_dir dir;
	des_error	err;

	InitMaterializedSRF(fcinfo, 0);
	if (!des_tree_dir_decode((const unsigned char *) VARDATA_ANY(enc), VARSIZE_ANY_EXHDR(enc), &dir, &err))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("a stored directory does not decode: %s", err.message)));
	PG_TRY();
	{
		for (size_t i = 0; i < dir.count; i++)
		{
			Datum		values[2];
			bool		nulls[2] = {false, false};
			bytea	   *h = palloc(VARHDRSZ + DES_TREE_HASH_BYTES);

			CHECK_FOR_INTERRUPTS();
			SET_VARSIZE(h, VARHDRSZ + DES_TREE_HASH_BYTES);
			memcpy(VARDATA(h), dir.entries[i].hash, DES_TREE_HASH_BYTES);
			values[0] = Int32GetDatum((int32) dir.entries[i].kind);
			values[1] = PointerGetDatum(h);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			pfree(h);
		}
	}
	PG_FINALLY();
	{
		des_tree_dir_free(&dir);
	}
	PG_END_TRY();
	return (Datum) 0;
}
