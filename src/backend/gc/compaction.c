/*
 * compaction.c - des_internal.compact(containers, day): the live blobs of
 * some containers copied into new ones, their rows re-pointed at the
 * copies (DesChunkStoreCompactInto), so that the old containers hold no
 * live blob and des.gc can delete them. Used for containers mostly dead
 * (des.compact_threshold) and to merge the small containers of a day that
 * is over.
 *
 * Every byte copied is read back and checked against its BLAKE2b-256
 * before it is written (DesChunkReaderRead), so a damaged copy is never
 * made the only one. Runs in the caller's transaction; the new containers
 * are written as the dataset functions write theirs (their names carry the
 * transaction id: a transaction that aborts leaves orphans des.orphans
 * removes, never rows without files). No row lock is held while copying:
 * the blobs are re-pointed at the end, each only if it still lives where
 * it was copied from.
 */
#include "gc/gc.h"
#include "datasets/datasets.h"
#include "workers/workers.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/guc.h"
#include "utils/memutils.h"

/* blobs located per query */
#define COMPACT_BATCH 256

PG_FUNCTION_INFO_V1(des_compact);

Datum
des_compact(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		from = PG_GETARG_DATUM(0);
	DateADT		day = PG_GETARG_DATEADT(1);
	MemoryContext work;
	MemoryContext old;
	DesChunkStore *cs;
	DesChunkReader *r;
	Oid			types[1] = {INT8ARRAYOID};
	Datum		args[1] = {from};
	unsigned char *ids;
	uint32	   *sizes;
	uint64		n;
	int64		copied_bytes = 0;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	work = AllocSetContextCreate(CurrentMemoryContext, "des compaction", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(work);

	/* the live blobs, in the order they are stored */
	DesSpiExec("SELECT b.hash, b.size FROM des.blobs b WHERE b.container_id = ANY ($1) "
			   " ORDER BY b.container_id, b.data_offset", 1, types, args, NULL, false, SPI_OK_SELECT);
	n = SPI_processed;
	ids = palloc(Max(n, 1) * DES_TREE_HASH_BYTES);
	sizes = palloc(Max(n, 1) * sizeof(uint32));
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;
		int64		size = DatumGetInt64(DesSpiGet(i, "size", &isnull));

		DesByteaHash(DatumGetByteaPP(DesSpiGet(i, "hash", &isnull)), ids + i * DES_TREE_HASH_BYTES);
		if (size < 0 || size > (int64) PG_UINT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("a blob of " INT64_FORMAT " bytes cannot be compacted", size)));
		sizes[i] = (uint32) size;
	}

	cs = DesChunkStoreCreate(work);
	DesChunkStoreCompactInto(cs, from, day);
	r = DesChunkReaderCreate();
	for (uint64 start = 0; start < n; start += COMPACT_BATCH)
	{
		uint64		end = Min(n, start + COMPACT_BATCH);

		DesChunkReaderLocate(r, ids + start * DES_TREE_HASH_BYTES, end - start);
		for (uint64 i = start; i < end; i++)
		{
			unsigned char *buf;

			CHECK_FOR_INTERRUPTS();
			buf = MemoryContextAllocHuge(work, Max(sizes[i], 1));
			DesChunkReaderRead(r, ids + i * DES_TREE_HASH_BYTES, sizes[i], buf);	/* checked against its id */
			DesChunkStorePutBlob(cs, ids + i * DES_TREE_HASH_BYTES, buf, sizes[i]);
			copied_bytes += sizes[i];
			pfree(buf);
		}
	}
	DesChunkReaderEnd(r);
#ifdef DES_TEST_HOOKS
	DesDebugPause("gc_compact_copied", NULL);	/* test/t/009: kill -9 with the copies written, not pointed at */
#endif
	DesChunkStoreFinish(cs);

	MemoryContextSwitchTo(old);
	values[0] = Int64GetDatum((int64) n);
	values[1] = Int64GetDatum(copied_bytes);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	MemoryContextDelete(work);
	SPI_finish();
	return (Datum) 0;
}

/* des.compact_threshold: read by the SQL of des.gc (current_setting) */
static double des_compact_threshold = 0.5;

void
DesGcDefineSettings(void)
{
	DefineCustomRealVariable("des.compact_threshold",
							 "Share of a container's entries or bytes no live blob uses from which des.gc compacts it.",
							 "Its live blobs are copied into a new container and it is deleted. 1 compacts only containers with nothing live left (they are deleted anyway).",
							 &des_compact_threshold, 0.5, 0.01, 1.0, PGC_SUSET, 0, NULL, NULL, NULL);
	DesGcDefineUploadSettings();
}
