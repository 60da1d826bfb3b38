/*
 * reader_cache.c - archive readers kept open per backend.
 *
 * Opening an archive reads its index and builds the name table; repeated
 * single-entry reads of the same archive must not pay that each time. An entry
 * is revalidated on every use with stat(): a different inode, size or mtime
 * (the file was replaced or rewritten) reopens it, so a stale index is never
 * used. Readers are malloc'd by the core and live until evicted.
 */
#include "pg_des.h"

#include <sys/stat.h>

#include "des/des_local.h"
#include "storage/fd.h"
#include "utils/memutils.h"

typedef struct CachedReader
{
	char	   *path;			/* in TopMemoryContext; NULL = free slot */
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec mtime;
	des_source	source;
	des_reader *reader;
	uint64		last_used;
} CachedReader;

#define MAX_CACHE_SLOTS 64

static CachedReader cache[MAX_CACHE_SLOTS];
static uint64 use_clock;

static void
evict(CachedReader *c)
{
	if (c->path == NULL)
		return;
	des_reader_close(c->reader);
	des_local_source_close(&c->source);
	ReleaseExternalFD();
	pfree(c->path);
	memset(c, 0, sizeof(*c));
}

void
DesReaderCacheReset(void)
{
	for (int i = 0; i < MAX_CACHE_SLOTS; i++)
		evict(&cache[i]);
}

static bool
same_file(const CachedReader *c, const struct stat *st)
{
	return c->dev == st->st_dev && c->ino == st->st_ino && c->size == st->st_size &&
		c->mtime.tv_sec == st->st_mtim.tv_sec && c->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

void
DesOpenArchiveForRead(const DesLocation *loc, bool verify_hashes, DesOpenArchive *out)
{
	struct stat st;
	CachedReader *slot = NULL;
	CachedReader *victim = NULL;
	int			nslots = Min(Max(des_reader_cache_entries, 1), MAX_CACHE_SLOTS);
	des_error	err;
	des_reader_limits limits = {0, MaxAllocSize};

	memset(out, 0, sizeof(*out));
	/* the setting may have been lowered: close what is now beyond it */
	for (int i = nslots; i < MAX_CACHE_SLOTS; i++)
		evict(&cache[i]);
	if (stat(loc->path, &st) != 0)
	{
		int			e = errno;

		des_fail_errno(&err, e, "could not stat \"%s\": %s", loc->path, strerror(e));
		DesReportError(&err, loc->original);
	}
	for (int i = 0; i < nslots; i++)
	{
		CachedReader *c = &cache[i];

		if (c->path != NULL && strcmp(c->path, loc->path) == 0)
		{
			if (same_file(c, &st))
				slot = c;
			else
				evict(c);
			break;
		}
	}
	if (slot == NULL)
	{
		for (int i = 0; i < nslots; i++)
		{
			if (cache[i].path == NULL)
			{
				victim = &cache[i];
				break;
			}
			if (victim == NULL || cache[i].last_used < victim->last_used)
				victim = &cache[i];
		}
		evict(victim);
		ReserveExternalFD();
		if (!des_local_source_open(loc->path, &victim->source, &err))
		{
			ReleaseExternalFD();
			DesReportError(&err, loc->original);
		}
		if (!des_reader_open(&victim->source, &limits, &victim->reader, &err))
		{
			des_local_source_close(&victim->source);
			ReleaseExternalFD();
			DesReportError(&err, loc->original);
		}
		victim->path = MemoryContextStrdup(TopMemoryContext, loc->path);
		victim->dev = st.st_dev;
		victim->ino = st.st_ino;
		victim->size = st.st_size;
		victim->mtime = st.st_mtim;
		slot = victim;
	}
	slot->last_used = ++use_clock;
	out->reader = slot->reader;
	out->location = loc;
	out->options.verify_hash = verify_hashes;
	out->options.external = des_local_resolver(&out->resolver, slot->path);
}

static void
free_des_buf(void *arg)
{
	des_buf_free((des_buf *) arg);
}

des_buf *
DesBufInContext(MemoryContext cxt)
{
	des_buf    *b = MemoryContextAllocZero(cxt, sizeof(des_buf));
	MemoryContextCallback *cb = MemoryContextAllocZero(cxt, sizeof(MemoryContextCallback));

	cb->func = free_des_buf;
	cb->arg = b;
	MemoryContextRegisterResetCallback(cxt, cb);
	return b;
}
