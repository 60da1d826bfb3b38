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
#include "archive/archive.h"

#include <sys/stat.h>

#include "des/io/des_local.h"
#include "des/format/des_format.h"
#include "s3/s3.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/memutils.h"

/*
 * An open archive: malloc'd and reference-counted, so a scan that pinned it
 * keeps using it after the cache evicted its slot (see DesArchivePinSet).
 */
typedef struct OpenedArchive
{
	des_reader *reader;
	DesS3Object *s3;			/* S3 archives: the object (source, tail, ETag) */
	des_source	source;			/* local archives: the file */
	char	   *path;			/* local archives: for the external resolver (malloc'd) */
	int			refs;			/* the cache slot holds one, each pin one */
} OpenedArchive;

typedef struct CachedReader
{
	char	   *path;			/* in TopMemoryContext; NULL = free slot.
								 * S3: "server|s3://bucket/key" */
	OpenedArchive *opened;
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec mtime;
	uint64		last_used;
	DesStatementId validated;	/* S3: the statement that last confirmed it current */
} CachedReader;

#define MAX_CACHE_SLOTS 64

static CachedReader cache[MAX_CACHE_SLOTS];
static uint64 use_clock;
static uint64 cache_hits;
static uint64 cache_misses;
static uint64 cache_evictions;

static void
release_opened(OpenedArchive *oa)
{
	if (--oa->refs > 0)
		return;
	des_reader_close(oa->reader);
	if (oa->s3)
		DesS3ObjectFree(oa->s3);
	else
	{
		des_local_source_close(&oa->source);
		ReleaseExternalFD();
	}
	free(oa->path);
	free(oa);
}

/*
 * Hold what was just opened (reader over an S3 object, or over a local file
 * at path). If even the holder cannot be allocated, close it all and raise.
 */
static OpenedArchive *
hold_opened(des_reader *r, DesS3Object *o, const des_source *local, const char *path)
{
	OpenedArchive *oa = calloc(1, sizeof(OpenedArchive));

	if (oa && path && (oa->path = strdup(path)) == NULL)
	{
		free(oa);
		oa = NULL;
	}
	if (oa == NULL)
	{
		des_reader_close(r);
		if (o)
			DesS3ObjectFree(o);
		else
		{
			des_local_source_close((des_source *) local);
			ReleaseExternalFD();
		}
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	}
	oa->refs = 1;
	oa->reader = r;
	oa->s3 = o;
	if (local)
		oa->source = *local;
	return oa;
}


static void
evict(CachedReader *c)
{
	if (c->path == NULL)
		return;
	cache_evictions++;
	release_opened(c->opened);
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

static CachedReader *
find_slot(const char *key, int nslots)
{
	for (int i = 0; i < nslots; i++)
		if (cache[i].path != NULL && strcmp(cache[i].path, key) == 0)
			return &cache[i];
	return NULL;
}

static CachedReader *
victim_slot(int nslots)
{
	CachedReader *victim = NULL;

	for (int i = 0; i < nslots; i++)
	{
		if (cache[i].path == NULL)
			return &cache[i];
		if (victim == NULL || cache[i].last_used < victim->last_used)
			victim = &cache[i];
	}
	evict(victim);
	return victim;
}

void
DesReaderCacheEvict(const DesLocation *loc)
{
	for (int i = 0; i < MAX_CACHE_SLOTS; i++)
	{
		CachedReader *c = &cache[i];
		DesS3Object *o;

		if (c->path == NULL)
			continue;
		o = c->opened->s3;
		if ((loc->kind == DES_LOCATION_LOCAL && o == NULL && strcmp(c->path, loc->path) == 0) ||
			(loc->kind == DES_LOCATION_S3 && o != NULL && strcmp(o->bucket, loc->bucket) == 0 &&
			 strcmp(o->key, loc->key) == 0))
			evict(c);
	}
	if (loc->kind == DES_LOCATION_S3 && (loc->server || (des_default_server && des_default_server[0])))
	{
		char	   *key = psprintf("%s|s3://%s/%s", loc->server ? loc->server : des_default_server,
								   loc->bucket, loc->key);

		DesIndexCacheRemove(key);
		pfree(key);
	}
}

/*
 * The shared cache holds INDEX region + footer of S3 archives whose index
 * ends right at the footer (the layout every writer produces).
 */
static void
publish_to_shared_cache(const char *key, const DesS3Object *o, des_reader *r)
{
	const des_footer *f = des_reader_footer(r);
	uint64		ilen;
	const unsigned char *index = des_reader_index_bytes(r, &ilen);
	unsigned char *blob;

	if (f->index_start + f->index_length != o->size - DES_FOOTER_SIZE ||
		o->tail_off > o->size - DES_FOOTER_SIZE)
		return;
	blob = malloc(ilen + DES_FOOTER_SIZE);
	if (blob == NULL)
		return;
	memcpy(blob, index, ilen);
	memcpy(blob + ilen, o->tail + (o->size - DES_FOOTER_SIZE - o->tail_off), DES_FOOTER_SIZE);
	DesIndexCacheStore(key, o->etag, o->size, f->index_start, blob, ilen + DES_FOOTER_SIZE);
	free(blob);
}

/* An object and reader built from the shared cache, or NULL. */
static DesS3Object *
open_from_shared_cache(const DesLocation *loc, const char *key, DesS3Endpoint *ep)
{
	DesS3Object *o = calloc(1, sizeof(DesS3Object));
	uint64		blob_len;

	if (o == NULL)
		return NULL;
	if (!DesIndexCacheLookup(key, o->etag, sizeof(o->etag), &o->size, &o->tail_off, &o->tail, &blob_len))
	{
		free(o);
		return NULL;
	}
	o->tail_len = blob_len;
	o->bucket = strdup(loc->bucket);
	o->key = strdup(loc->key);
	o->location = strdup(loc->original);
	o->ep = ep;
	if (!o->bucket || !o->key || !o->location)
	{
		DesS3ObjectFree(o);
		return NULL;
	}
	return o;
}

/* Hand out the archive in slot. */
static void
use_slot(CachedReader *slot, DesOpenArchive *out)
{
	OpenedArchive *oa = slot->opened;

	slot->last_used = ++use_clock;
	out->opened = oa;
	out->reader = oa->reader;
	out->s3 = oa->s3;
	out->options.external = oa->s3 ? DesS3Resolver(&out->resolver, oa->s3)
		: des_local_resolver(&out->resolver, oa->path);
}

/*
 * Open a reader over o (whose tail holds footer and index: from the open's
 * tail read, or from the shared cache) and keep both in a slot. A fresh open
 * is published to the shared cache.
 */
static CachedReader *
cache_to_slot(DesS3Object *o, const char *key, int nslots, DesOpenArchive *out, bool from_shared)
{
	/* the header costs a request of its own unless the cached bytes cover it */
	des_reader_limits limits = {0, MaxAllocSize, o->tail_off > 0};
	des_error	err;
	des_reader *r = NULL;
	des_source	src;
	CachedReader *c;

	/* the bytes belong to version o->etag: read footer and index from them */
	o->tail_fresh = true;
	DesS3ObjectSource(o, &src);
	if (!des_reader_open(&src, &limits, &r, &err))
	{
		char	   *location = pstrdup(o->location);

		if (from_shared)
			DesIndexCacheRemove(key);
		DesS3ObjectFree(o);
		DesReportError(&err, location);
	}
	if (!from_shared)
		publish_to_shared_cache(key, o, r);
	/* from the shared cache: until confirmed, data reads carry If-Match and request-free answers revalidate */
	o->tail_fresh = !from_shared;
	c = victim_slot(nslots);
	c->opened = hold_opened(r, o, NULL, NULL);
	c->path = MemoryContextStrdup(TopMemoryContext, key);
	use_slot(c, out);
	return c;
}

/*
 * S3: a cached reader is used without a request when data reads follow
 * (they carry If-Match with the cached ETag, so a replaced object is detected
 * as a 412 and never read through a stale index); with revalidate, a
 * conditional tail GET (If-None-Match) confirms it first.
 */
static void
open_s3(const DesLocation *loc, bool revalidate, int nslots, DesOpenArchive *out)
{
	DesS3Endpoint *ep = DesS3EndpointForLocation(loc);
	/* one entry per object, however the URL was spelled (S3://, s3://) */
	char	   *key = psprintf("%s|s3://%s/%s", ep->server_name, loc->bucket, loc->key);
	CachedReader *slot = find_slot(key, nslots);
	des_error	err;
	DesS3Object *o = NULL;
	bool		unchanged = false;

	DesS3Init();
	if (slot != NULL)
	{
		/* confirmed current by this statement already (planner, then executor): no new check */
		bool		confirmed = revalidate && DesSameStatement(slot->validated, DesCurrentStatement());
		DesS3Object *cached = slot->opened->s3;

		cached->ep = ep;
		cached->tail_fresh = confirmed;	/* otherwise not known current until checked again */
		if (revalidate && !confirmed)
		{
			if (!DesS3ObjectOpen(ep, loc->bucket, loc->key, loc->original, cached->etag, &o, &unchanged, &err))
				DesReportError(&err, loc->original);
			if (!unchanged)
				evict(slot);
			else
			{
				cached->tail_fresh = true;
				slot->validated = DesCurrentStatement();
			}
		}
		if (!revalidate || confirmed || unchanged)
		{
			cache_hits++;
			use_slot(slot, out);
			return;
		}
		slot = NULL;
	}
	cache_misses++;
	if (o == NULL && (o = open_from_shared_cache(loc, key, ep)) != NULL)
	{
		/* built from the shared cache without a request: not known current */
		cache_to_slot(o, key, nslots, out, true);
		return;
	}
	if (o == NULL && !DesS3ObjectOpen(ep, loc->bucket, loc->key, loc->original, NULL, &o, NULL, &err))
		DesReportError(&err, loc->original);
	o->ep = ep;
	cache_to_slot(o, key, nslots, out, false)->validated = DesCurrentStatement();
}

static void
close_transient(void *arg)
{
	DesReaderCacheReset();
}

/* With des.reader_cache_entries = 0, nothing outlives the call that opened it. */
static void
keep_only_for_this_call(void)
{
	MemoryContextCallback *cb;

	if (des_reader_cache_entries > 0)
		return;
	cb = MemoryContextAllocZero(CurrentMemoryContext, sizeof(MemoryContextCallback));
	cb->func = close_transient;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
}

void
DesOpenArchiveForRead(const DesLocation *loc, bool verify_hashes, bool revalidate, DesOpenArchive *out)
{
	struct stat st;
	CachedReader *slot = NULL;
	int			nslots = Min(Max(des_reader_cache_entries, 1), MAX_CACHE_SLOTS);
	des_error	err;
	des_reader_limits limits = {0, MaxAllocSize, false};

	memset(out, 0, sizeof(*out));
	out->location = loc;
	out->options.verify_hash = verify_hashes;
	/* the setting may have been lowered: close what is now beyond it */
	for (int i = nslots; i < MAX_CACHE_SLOTS; i++)
		evict(&cache[i]);
	keep_only_for_this_call();
	if (loc->kind == DES_LOCATION_S3)
	{
		open_s3(loc, revalidate, nslots, out);
		return;
	}
	if (stat(loc->path, &st) != 0)
	{
		int			e = errno;

		des_fail_errno(&err, e, "could not stat \"%s\": %s", loc->path, strerror(e));
		DesReportError(&err, loc->original);
	}
	slot = find_slot(loc->path, nslots);
	if (slot != NULL && (slot->opened->s3 != NULL || !same_file(slot, &st)))
	{
		evict(slot);
		slot = NULL;
	}
	if (slot != NULL)
		cache_hits++;
	else
	{
		CachedReader *victim = victim_slot(nslots);
		des_source	source;
		des_reader *reader;

		cache_misses++;
		ReserveExternalFD();
		if (!des_local_source_open(loc->path, &source, &err))
		{
			ReleaseExternalFD();
			DesReportError(&err, loc->original);
		}
		if (!des_reader_open(&source, &limits, &reader, &err))
		{
			des_local_source_close(&source);
			ReleaseExternalFD();
			DesReportError(&err, loc->original);
		}
		victim->opened = hold_opened(reader, NULL, &source, loc->path);
		victim->path = MemoryContextStrdup(TopMemoryContext, loc->path);
		victim->dev = st.st_dev;
		victim->ino = st.st_ino;
		victim->size = st.st_size;
		victim->mtime = st.st_mtim;
		slot = victim;
	}
	use_slot(slot, out);
}

/* A pin: the archive stays open until released or its memory context goes away. */
struct DesArchivePin
{
	OpenedArchive *opened;
	MemoryContextCallback cb;
};

static void
pin_release_callback(void *arg)
{
	DesArchivePin *pin = arg;

	if (pin->opened)
		release_opened(pin->opened);
	pin->opened = NULL;
}

DesArchivePin *
DesArchivePinCreate(MemoryContext cxt)
{
	DesArchivePin *pin = MemoryContextAllocZero(cxt, sizeof(DesArchivePin));

	pin->cb.func = pin_release_callback;
	pin->cb.arg = pin;
	MemoryContextRegisterResetCallback(cxt, &pin->cb);
	return pin;
}

void
DesArchivePinSet(DesArchivePin *pin, const DesOpenArchive *oa)
{
	pin_release_callback(pin);
	pin->opened = oa->opened;
	pin->opened->refs++;
}

bool
DesArchivePinned(const DesArchivePin *pin)
{
	return pin->opened != NULL;
}

void
DesArchivePinRelease(DesArchivePin *pin)
{
	pin_release_callback(pin);
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

PG_FUNCTION_INFO_V1(des_cache_stats);

/* This backend's archive index cache. */
Datum
des_cache_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[10];
	bool		nulls[10] = {0};
	int64		entries = 0,
				bytes = 0;
	int64		sh[5];

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < MAX_CACHE_SLOTS; i++)
		if (cache[i].path)
		{
			entries++;
			bytes += (int64) des_reader_footer(cache[i].opened->reader)->index_length;
		}
	values[0] = Int64GetDatum((int64) cache_hits);
	values[1] = Int64GetDatum((int64) cache_misses);
	values[2] = Int64GetDatum((int64) cache_evictions);
	values[3] = Int64GetDatum(entries);
	values[4] = Int64GetDatum(bytes);
	if (DesIndexCacheStats(&sh[0], &sh[1], &sh[2], &sh[3], &sh[4]))
		for (int k = 0; k < 5; k++)
			values[5 + k] = Int64GetDatum(sh[k]);
	else
		for (int k = 0; k < 5; k++)
			nulls[5 + k] = true;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(des_cache_reset);

Datum
des_cache_reset(PG_FUNCTION_ARGS)
{
	if (PG_GETARG_BOOL(0))
	{
		/* other sessions lose their shared entries too: only for superusers */
		if (!superuser())
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to clear the shared index cache"),
					 errdetail("Only superusers may clear the cache that all sessions share.")));
		DesIndexCacheClear();
	}
	DesReaderCacheReset();
	cache_hits = cache_misses = cache_evictions = 0;
	PG_RETURN_VOID();
}
