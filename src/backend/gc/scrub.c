/*
 * scrub.c - what des.scrub needs from C: every blob of a container read
 * back from where des.blobs says it is and checked against its BLAKE2b-256
 * (des_internal.scrub_container: one row per blob that fails), and a
 * damaged blob stored again from an intact copy of its bytes
 * (des_internal.scrub_repair: a new container, the blob re-pointed there),
 * found in the pipeline or in another stored archive
 * (des_internal.scrub_find_copy). Storage errors (a container gone or
 * unreadable) are raised: des.scrub catches them per container.
 */
#include "gc/gc.h"
#include "archive/archive.h"
#include "datasets/datasets.h"
#include "workers/workers.h"

#include <blake2.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(des_scrub_container);

Datum
des_scrub_container(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			types[2] = {INT8OID, FLOAT8OID};
	Datum		args[2] = {PG_GETARG_DATUM(0), PG_GETARG_DATUM(1)};
	MemoryContext work;
	MemoryContext old;
	uint64		n;
	DesChunkPlace *places;
	uint32	   *sizes;

	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	work = AllocSetContextCreate(CurrentMemoryContext, "des scrub", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(work);
	DesSpiExec("SELECT b.hash, b.size, b.entry, b.data_offset, b.stored_size, b.flags, c.location "
			   "  FROM des.blobs b JOIN des.containers c ON c.id = b.container_id "
			   " WHERE b.container_id = $1 AND des_internal.in_scrub_sample(b.hash, $2) "
			   " ORDER BY b.data_offset", 2, types, args, NULL, true, SPI_OK_SELECT);
	n = SPI_processed;
	places = palloc0(Max(n, 1) * sizeof(DesChunkPlace));
	sizes = palloc(Max(n, 1) * sizeof(uint32));
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;
		int64		size = DatumGetInt64(DesSpiGet(i, "size", &isnull));

		DesByteaHash(DatumGetByteaPP(DesSpiGet(i, "hash", &isnull)), places[i].hash);
		places[i].entry = TextDatumGetCString(DesSpiGet(i, "entry", &isnull));
		places[i].offset = DatumGetInt64(DesSpiGet(i, "data_offset", &isnull));
		places[i].stored = DatumGetInt64(DesSpiGet(i, "stored_size", &isnull));
		places[i].flags = DatumGetInt32(DesSpiGet(i, "flags", &isnull));
		places[i].location = TextDatumGetCString(DesSpiGet(i, "location", &isnull));
		if (size < 0 || size > (int64) PG_UINT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("a blob of " INT64_FORMAT " bytes cannot be scrubbed", size)));
		sizes[i] = (uint32) size;
	}
	for (uint64 i = 0; i < n; i++)
	{
		unsigned char *buf;
		char	   *problem = NULL;
		DesChunkCheck check;

		CHECK_FOR_INTERRUPTS();
		buf = MemoryContextAllocHuge(work, Max(sizes[i], 1));
		check = DesReadChunk(&places[i], sizes[i], buf, &problem);
		pfree(buf);
		if (check != DES_CHUNK_OK)
		{
			Datum		values[2];
			bool		nulls[2] = {false, false};

			MemoryContextSwitchTo(old);
			values[0] = PointerGetDatum(DesHashBytea(places[i].hash));
			values[1] = CStringGetTextDatum(check == DES_CHUNK_BAD_BYTES ? psprintf("damaged: %s", problem)
											: psprintf("misplaced: %s", problem));
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			MemoryContextSwitchTo(work);
		}
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(work);
	SPI_finish();
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(des_scrub_repair);

/* des_internal.scrub_repair(hash, container, data): store data (which must have hash) anew; re-point the blob */
Datum
des_scrub_repair(PG_FUNCTION_ARGS)
{
	bytea	   *hash = PG_GETARG_BYTEA_PP(0);
	int64		container = PG_GETARG_INT64(1);
	bytea	   *data = PG_GETARG_BYTEA_PP(2);
	unsigned char digest[DES_TREE_HASH_BYTES];
	DesChunkStore *cs;
	Datum		from;
	Datum		one = Int64GetDatum(container);

	if (VARSIZE_ANY_EXHDR(hash) != DES_TREE_HASH_BYTES)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("a blob hash has 32 bytes")));
	blake2b(digest, VARDATA_ANY(data), NULL, DES_TREE_HASH_BYTES, VARSIZE_ANY_EXHDR(data), 0);
	if (memcmp(digest, VARDATA_ANY(hash), DES_TREE_HASH_BYTES) != 0)
		PG_RETURN_BOOL(false);	/* not a copy of those bytes */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	from = PointerGetDatum(construct_array(&one, 1, INT8OID, 8, true, TYPALIGN_DOUBLE));
	cs = DesChunkStoreCreate(CurrentMemoryContext);
	DesChunkStoreCompactInto(cs, from, GetSQLCurrentDate());
	DesChunkStorePutBlob(cs, (const unsigned char *) VARDATA_ANY(hash), (const unsigned char *) VARDATA_ANY(data),
						 VARSIZE_ANY_EXHDR(data));
	DesChunkStoreFinish(cs);
	SPI_finish();
	PG_RETURN_BOOL(true);
}

PG_FUNCTION_INFO_V1(des_scrub_find_copy);

/*
 * des_internal.scrub_find_copy(hash, location, names): the bytes of the
 * first of these entries of the archive at location that have this
 * BLAKE2b-256 (read through its index, not through a blob's recorded
 * place), or NULL: none has them. Storage errors are raised.
 */
Datum
des_scrub_find_copy(PG_FUNCTION_ARGS)
{
	bytea	   *hash = PG_GETARG_BYTEA_PP(0);
	char	   *location = text_to_cstring(PG_GETARG_TEXT_PP(1));
	ArrayType  *names = PG_GETARG_ARRAYTYPE_P(2);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	DesOpenArchive oa;

	if (VARSIZE_ANY_EXHDR(hash) != DES_TREE_HASH_BYTES)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("a blob hash has 32 bytes")));
	deconstruct_array(names, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	DesOpenArchiveForRead(DesStorageLocation(location), false, false, &oa);
	for (int i = 0; i < n; i++)
	{
		char	   *name;
		int64_t		idx;
		des_buf    *out;
		des_error	err;
		unsigned char digest[DES_TREE_HASH_BYTES];

		CHECK_FOR_INTERRUPTS();
		if (nulls[i])
			continue;
		name = TextDatumGetCString(elems[i]);
		idx = des_reader_find(oa.reader, name, strlen(name));
		if (idx < 0)
			continue;
		out = DesBufInContext(CurrentMemoryContext);
		if (!des_reader_get(oa.reader, (uint64_t) idx, &oa.options, out, &err))
			DesReportError(&err, location);
		blake2b(digest, out->data, NULL, DES_TREE_HASH_BYTES, out->len, 0);
		if (memcmp(digest, VARDATA_ANY(hash), DES_TREE_HASH_BYTES) == 0)
		{
			bytea	   *copy = palloc(VARHDRSZ + out->len);

			SET_VARSIZE(copy, VARHDRSZ + out->len);
			memcpy(VARDATA(copy), out->data, out->len);
			PG_RETURN_BYTEA_P(copy);
		}
	}
	PG_RETURN_NULL();
}
