/*
 * names.c - unique names (Snowflake-style ids) and shards.
 *
 * An id is a positive 64-bit integer:
 *
 *   bit 63      0
 *   bits 62..22 milliseconds since 2024-01-01 00:00:00 UTC (41 bits, ~69 years)
 *   bits 21..12 node id, des.node_id (0..1023)
 *   bits 11..0  sequence within the millisecond (0..4095)
 *
 * One generator per server, in shared memory, serves every backend and
 * worker, so ids are unique under any concurrency on a node, and across nodes
 * with distinct node ids. The millisecond never goes backwards: if the clock
 * steps back, or 4096 ids are taken in one millisecond, the generator keeps
 * counting from its last millisecond. To stay unique across a restart with a
 * clock that went back, the generator reserves time ahead in a small file in
 * the data directory ("pg_des_ids", fsynced) and starts after the reservation.
 *
 * Shard of a name: XXH3-64 of its UTF-8 bytes, taken modulo 2^des.shard_bits
 * (the low bits). XXH3's output is fixed by its specification, so a name's
 * shard never changes for a given des.shard_bits.
 */
#include "pg_des.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "storage/fd.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "des/format/des_format.h"

#define ID_EPOCH_MS		INT64CONST(1704067200000)	/* 2024-01-01 UTC in Unix ms */
#define ID_NODE_BITS	10
#define ID_SEQ_BITS		12
#define ID_MAX_NODE		((1 << ID_NODE_BITS) - 1)
#define ID_MAX_SEQ		((1 << ID_SEQ_BITS) - 1)
#define RESERVE_MS		INT64CONST(10000)	/* reserve 10 s of ids per file write */
#define STATE_FILE		"pg_des_ids"

int			des_node_id = 0;
int			des_shard_bits = 4;

typedef struct IdGenerator
{
	LWLock	   *lock;
	bool		loaded;			/* reservation read from the state file */
	int64		last_ms;		/* milliseconds since ID_EPOCH_MS of the last id */
	int			seq;
	int64		reserved_ms;	/* ids up to this millisecond are covered by the file */
} IdGenerator;

static IdGenerator *generator = NULL;

Size
DesIdGeneratorShmemSize(void)
{
	return CACHELINEALIGN(sizeof(IdGenerator));	/* as ShmemInitStruct rounds */
}

void
DesIdGeneratorRequest(void)
{
	RequestNamedLWLockTranche("pg_des_ids", 1);
}

void
DesIdGeneratorStartup(void)
{
	bool		found;

	generator = ShmemInitStruct("pg_des id generator", sizeof(IdGenerator), &found);
	if (!found)
	{
		memset(generator, 0, sizeof(IdGenerator));
		generator->lock = &(GetNamedLWLockTranche("pg_des_ids"))->lock;
	}
}

static int64
now_ms(void)
{
	TimestampTz now = GetCurrentTimestamp();	/* microseconds since 2000-01-01 */

	return now / 1000 + INT64CONST(946684800000) - ID_EPOCH_MS;
}

/* The reservation stored by a previous run, or 0. */
static int64
read_reservation(void)
{
	int			fd = OpenTransientFile(STATE_FILE, O_RDONLY | PG_BINARY);
	int64		v = 0;

	if (fd < 0)
	{
		if (errno != ENOENT)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not open \"%s\": %m", STATE_FILE)));
		return 0;
	}
	if (read(fd, &v, sizeof(v)) != sizeof(v))
		v = 0;					/* torn or empty: the clock alone then */
	CloseTransientFile(fd);
	return v;
}

/* Durably record that ids up to ms may have been issued. */
static void
write_reservation(int64 ms)
{
	char		tmp[MAXPGPATH];
	int			fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", STATE_FILE);
	fd = OpenTransientFile(tmp, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create \"%s\": %m", tmp)));
	if (write(fd, &ms, sizeof(ms)) != sizeof(ms) || pg_fsync(fd) != 0)
	{
		int			save = errno;

		CloseTransientFile(fd);
		errno = save ? save : ENOSPC;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write \"%s\": %m", tmp)));
	}
	CloseTransientFile(fd);
	durable_rename(tmp, STATE_FILE, ERROR);
}

int64
DesNextId(void)
{
	int64		ms;
	int64		id;

	if (generator == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("des.next_id() needs pg_des in shared_preload_libraries"),
				 errhint("Add pg_des to shared_preload_libraries and restart the server.")));
	LWLockAcquire(generator->lock, LW_EXCLUSIVE);
	if (!generator->loaded)
	{
		/* continue after anything a previous run may have issued */
		generator->reserved_ms = read_reservation();
		generator->last_ms = generator->reserved_ms;
		generator->seq = ID_MAX_SEQ;	/* the next id starts a new millisecond */
		generator->loaded = true;
	}
	ms = now_ms();
	if (ms > generator->last_ms)
	{
		generator->last_ms = ms;
		generator->seq = 0;
	}
	else if (generator->seq < ID_MAX_SEQ)
		generator->seq++;		/* same millisecond, or the clock went back */
	else
	{
		generator->last_ms++;	/* sequence exhausted: borrow the next millisecond */
		generator->seq = 0;
	}
	if (generator->last_ms >= generator->reserved_ms)
	{
		write_reservation(generator->last_ms + RESERVE_MS);
		generator->reserved_ms = generator->last_ms + RESERVE_MS;
	}
	id = (generator->last_ms << (ID_NODE_BITS + ID_SEQ_BITS)) |
		((int64) des_node_id << ID_SEQ_BITS) | generator->seq;
	LWLockRelease(generator->lock);
	return id;
}

PG_FUNCTION_INFO_V1(des_next_id);
PG_FUNCTION_INFO_V1(des_next_name);
PG_FUNCTION_INFO_V1(des_id_info);
PG_FUNCTION_INFO_V1(des_shard_of);

Datum
des_next_id(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(DesNextId());
}

/* The name is the id in decimal: sortable by time within a node, unique everywhere. */
Datum
des_next_name(PG_FUNCTION_ARGS)
{
	char		buf[32];

	snprintf(buf, sizeof(buf), INT64_FORMAT, DesNextId());
	PG_RETURN_TEXT_P(cstring_to_text(buf));
}

/* Decode an id: (created, node, sequence). */
Datum
des_id_info(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {0};
	int64		ms;

	if (id < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%lld is not a pg_des id: ids are positive", (long long) id)));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	ms = id >> (ID_NODE_BITS + ID_SEQ_BITS);
	values[0] = TimestampTzGetDatum((ms + ID_EPOCH_MS - INT64CONST(946684800000)) * 1000);
	values[1] = Int32GetDatum((int32) ((id >> ID_SEQ_BITS) & ID_MAX_NODE));
	values[2] = Int32GetDatum((int32) (id & ID_MAX_SEQ));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

int
DesShardOf(const char *utf8, size_t len, int bits)
{
	return (int) (des_name_hash(utf8, len) & ((UINT64CONST(1) << bits) - 1));
}

Datum
des_shard_of(PG_FUNCTION_ARGS)
{
	size_t		len;
	const char *u;
	int			bits = PG_NARGS() > 1 && !PG_ARGISNULL(1) ? PG_GETARG_INT32(1) : des_shard_bits;

	/* not STRICT: a NULL shard_bits means the setting; a NULL name has no shard */
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	u = DesTextToUtf8(PG_GETARG_TEXT_PP(0), &len);
	if (bits < 0 || bits > 16)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("shard bits must be between 0 and 16, not %d", bits)));
	PG_RETURN_INT32(DesShardOf(u, len, bits));
}

/* The settings of this area (called from _PG_init). */
void
DesNamesDefineSettings(void)
{
	/* a server-start setting exists only when preloaded (defining it later is FATAL) */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("des.node_id",
								"Node id embedded in generated ids (distinct per server that shares a namespace).",
								NULL,
								&des_node_id, 0, 0, 1023,
								PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("des.shard_bits",
							"Shards are numbered 0 .. 2^des.shard_bits - 1.",
							NULL,
							&des_shard_bits, 4, 0, 16,
							PGC_SUSET, 0, NULL, NULL, NULL);
}
