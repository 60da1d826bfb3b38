/*
 * progress.c - what each running des.bundle_upload has done and has to do,
 * for the view des.stat_uploads: one slot per backend in shared memory
 * (pg_des preloaded), written only by its backend, read by anyone. The
 * counters are atomics; the text fields are written before the slot's pid
 * is published and the pid is cleared first, so a reader sees a slot whole
 * or not at all (a name may at worst be read while its upload ends).
 */
#include "pg_des.h"
#include "datasets/datasets.h"

#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/backendid.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#define SLOT_TEXT 256

typedef struct UploadSlot
{
	pg_atomic_uint32 pid;		/* 0: free */
	char		repo[SLOT_TEXT];
	char		branch[SLOT_TEXT];
	char		source[SLOT_TEXT];
	TimestampTz started_at;
	pg_atomic_uint32 phase;		/* DesUploadPhase */
	pg_atomic_uint64 files_total;
	pg_atomic_uint64 files_done;
	pg_atomic_uint64 bytes_total;
	pg_atomic_uint64 bytes_done;
} UploadSlot;

static UploadSlot *slots = NULL;
static UploadSlot *mine = NULL;

static const char *const phase_names[] = {"scanning", "storing", "committing"};

Size
DesUploadProgressShmemSize(void)
{
	return mul_size(MaxBackends, sizeof(UploadSlot));
}

/* Called with AddinShmemInitLock held. */
void
DesUploadProgressShmemStartup(void)
{
	bool		found;

	slots = ShmemInitStruct("pg_des uploads", DesUploadProgressShmemSize(), &found);
	if (!found)
		for (int i = 0; i < MaxBackends; i++)
		{
			pg_atomic_init_u32(&slots[i].pid, 0);
			pg_atomic_init_u32(&slots[i].phase, 0);
			pg_atomic_init_u64(&slots[i].files_total, 0);
			pg_atomic_init_u64(&slots[i].files_done, 0);
			pg_atomic_init_u64(&slots[i].bytes_total, 0);
			pg_atomic_init_u64(&slots[i].bytes_done, 0);
		}
}

void
DesUploadProgressStart(const char *repo, const char *branch, const char *source)
{
	if (slots == NULL || MyBackendId == InvalidBackendId || MyBackendId > MaxBackends)
		return;
	mine = &slots[MyBackendId - 1];
	strlcpy(mine->repo, repo, SLOT_TEXT);
	strlcpy(mine->branch, branch, SLOT_TEXT);
	strlcpy(mine->source, source, SLOT_TEXT);
	mine->started_at = GetCurrentTimestamp();
	pg_atomic_write_u32(&mine->phase, DES_UPLOAD_SCANNING);
	pg_atomic_write_u64(&mine->files_total, 0);
	pg_atomic_write_u64(&mine->files_done, 0);
	pg_atomic_write_u64(&mine->bytes_total, 0);
	pg_atomic_write_u64(&mine->bytes_done, 0);
	pg_write_barrier();
	pg_atomic_write_u32(&mine->pid, (uint32) MyProcPid);
}

void
DesUploadProgressSet(DesUploadPhase phase, uint64 files_total, uint64 bytes_total)
{
	if (mine == NULL)
		return;
	pg_atomic_write_u32(&mine->phase, phase);
	pg_atomic_write_u64(&mine->files_total, files_total);
	pg_atomic_write_u64(&mine->bytes_total, bytes_total);
}

void
DesUploadProgressAdd(uint64 files, uint64 bytes)
{
	if (mine == NULL)
		return;
	pg_atomic_fetch_add_u64(&mine->files_done, files);
	pg_atomic_fetch_add_u64(&mine->bytes_done, bytes);
}

/* The upload ended (or failed): the slot is free. Safe to call twice. */
void
DesUploadProgressEnd(void)
{
	if (mine == NULL)
		return;
	pg_atomic_write_u32(&mine->pid, 0);
	mine = NULL;
}

PG_FUNCTION_INFO_V1(des_upload_progress);

/* des_internal.upload_progress() -> the running uploads into repos the caller may read (des.stat_uploads) */
Datum
des_upload_progress(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	HTAB	   *visible = NULL;

	InitMaterializedSRF(fcinfo, 0);
	if (slots == NULL)
		return (Datum) 0;
	/* only the uploads into repos the caller may read (as the caller: row-level security) */
	{
		HASHCTL		ctl;
		MemoryContext cxt = CurrentMemoryContext;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = SLOT_TEXT;
		ctl.entrysize = SLOT_TEXT;
		ctl.hcxt = cxt;
		visible = hash_create("pg_des visible repos", 64, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		DesSpiExec("SELECT r.name FROM des.repositories r", 0, NULL, NULL, NULL, true, SPI_OK_SELECT);
		for (uint64 row = 0; row < SPI_processed; row++)
		{
			char	   *name = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 1);
			char		key[SLOT_TEXT];

			strlcpy(key, name, SLOT_TEXT);
			hash_search(visible, key, HASH_ENTER, NULL);
		}
		SPI_finish();
	}
	for (int i = 0; i < MaxBackends; i++)
	{
		UploadSlot *s = &slots[i];
		uint32		pid = pg_atomic_read_u32(&s->pid);
		Datum		values[10];
		bool		nulls[10] = {0};
		uint32		phase;

		if (pid == 0)
			continue;
		{
			char		key[SLOT_TEXT];

			strlcpy(key, s->repo, SLOT_TEXT);
			if (!hash_search(visible, key, HASH_FIND, NULL))
				continue;
		}
		pg_read_barrier();
		phase = pg_atomic_read_u32(&s->phase);
		values[0] = Int32GetDatum((int32) pid);
		values[1] = CStringGetTextDatum(s->repo);
		values[2] = CStringGetTextDatum(s->branch);
		values[3] = CStringGetTextDatum(s->source);
		values[4] = CStringGetTextDatum(phase < lengthof(phase_names) ? phase_names[phase] : "?");
		values[5] = Int64GetDatum((int64) pg_atomic_read_u64(&s->files_done));
		values[6] = Int64GetDatum((int64) pg_atomic_read_u64(&s->files_total));
		values[7] = Int64GetDatum((int64) pg_atomic_read_u64(&s->bytes_done));
		values[8] = Int64GetDatum((int64) pg_atomic_read_u64(&s->bytes_total));
		values[9] = TimestampTzGetDatum(s->started_at);
		/* the slot may have been reused meanwhile: keep the row only if it is the same upload */
		if (pg_atomic_read_u32(&s->pid) != pid)
			continue;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
