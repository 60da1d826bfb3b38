/*
 * index_cache.c - archive indexes of S3 objects shared by all backends.
 *
 * A backend that opened an S3 archive publishes the bytes a reader needs
 * (INDEX region and footer) keyed by server and location, with the object's
 * ETag and size. Another backend opening the same location rebuilds its
 * reader from them without any request. Correctness does not depend on the
 * entry being current: data reads carry If-Match with the cached ETag, and
 * answers that need no request revalidate first (reader_cache.c), so a
 * replaced object is detected and its entry dropped.
 *
 * Storage: a DSA area placed inside the main shared memory segment, sized by
 * des.index_cache_size (fixed; no extra segments), plus a directory of
 * entries under one LWLock. Eviction is least recently used, when an
 * allocation does not fit.
 */
#include "pg_des.h"
#include "s3/s3.h"

#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/dsa.h"
#include "utils/memutils.h"

#include "des/format/des_format.h"

#define CACHE_KEY_MAX 600
#define CACHE_ENTRIES 1024

typedef struct CacheEntry
{
	bool		used;
	uint64		key_hash;
	char		key[CACHE_KEY_MAX];
	char		etag[DES_S3_TOKEN_CAP];
	uint64		object_size;
	uint64		blob_offset;	/* object offset of the first cached byte */
	uint64		blob_length;
	dsa_pointer blob;
	pg_atomic_uint64 last_used;
} CacheEntry;

typedef struct IndexCacheShared
{
	LWLock	   *lock;
	int			dsa_tranche;
	pg_atomic_uint64 clock;
	pg_atomic_uint64 hits;
	pg_atomic_uint64 misses;
	pg_atomic_uint64 evictions;
	uint64		bytes;			/* under lock */
	int			entries;		/* under lock */
	CacheEntry	entry[CACHE_ENTRIES];
	/* the DSA area follows, MAXALIGNed */
} IndexCacheShared;


static IndexCacheShared *shared = NULL;
static dsa_area *area = NULL;

static Size
area_size(void)
{
	return Max((Size) des_index_cache_size_kb * 1024, dsa_minimum_size());
}

static Size
shared_size(void)
{
	return CACHELINEALIGN(MAXALIGN(sizeof(IndexCacheShared)) + area_size());	/* as ShmemInitStruct rounds */
}

static void *
area_place(void)
{
	return (char *) shared + MAXALIGN(sizeof(IndexCacheShared));
}

void
DesIndexCacheRequest(void)
{
	if (des_index_cache_size_kb <= 0)
		return;
	RequestAddinShmemSpace(shared_size());
	RequestNamedLWLockTranche("pg_des_index_cache", 1);
}

void
DesIndexCacheStartup(void)
{
	bool		found;

	if (des_index_cache_size_kb <= 0)
		return;
	shared = ShmemInitStruct("pg_des index cache", shared_size(), &found);
	if (!found)
	{
		dsa_area   *a;

		memset(shared, 0, sizeof(IndexCacheShared));
		shared->lock = &(GetNamedLWLockTranche("pg_des_index_cache"))->lock;
		shared->dsa_tranche = LWLockNewTrancheId();
		pg_atomic_init_u64(&shared->clock, 0);
		pg_atomic_init_u64(&shared->hits, 0);
		pg_atomic_init_u64(&shared->misses, 0);
		pg_atomic_init_u64(&shared->evictions, 0);
		for (int i = 0; i < CACHE_ENTRIES; i++)
			pg_atomic_init_u64(&shared->entry[i].last_used, 0);
		/* the creator's reference keeps the area alive as long as shared memory */
		a = dsa_create_in_place(area_place(), area_size(), shared->dsa_tranche, NULL);
		dsa_set_size_limit(a, area_size());
		dsa_detach(a);
	}
}

static void
release_area(int code, Datum arg)
{
	area = NULL;
	dsa_on_shmem_exit_release_in_place(code, arg);
}

static bool
attach(void)
{
	MemoryContext old;

	if (shared == NULL)
		return false;
	if (area != NULL)
		return true;
	LWLockRegisterTranche(shared->dsa_tranche, "pg_des_index_cache_area");
	old = MemoryContextSwitchTo(TopMemoryContext);
	area = dsa_attach_in_place(area_place(), NULL);
	MemoryContextSwitchTo(old);
	dsa_pin_mapping(area);
	on_shmem_exit(release_area, PointerGetDatum(area_place()));
	return true;
}

static uint64
key_hash(const char *key)
{
	return des_name_hash(key, strlen(key));
}

static CacheEntry *
find(const char *key, uint64 h)
{
	for (int i = 0; i < CACHE_ENTRIES; i++)
	{
		CacheEntry *e = &shared->entry[i];

		if (e->used && e->key_hash == h && strcmp(e->key, key) == 0)
			return e;
	}
	return NULL;
}

static void
drop(CacheEntry *e)
{
	dsa_free(area, e->blob);
	shared->bytes -= e->blob_length;
	shared->entries--;
	e->used = false;
}

/*
 * Look key up. On a hit, *blob (malloc'd, the caller frees it) holds
 * blob_length bytes of the object from blob_offset on.
 */
bool
DesIndexCacheLookup(const char *key, char *etag, size_t etag_cap, uint64 *object_size,
					uint64 *blob_offset, unsigned char **blob, uint64 *blob_length)
{
	uint64		h;
	CacheEntry *e;
	bool		hit = false;

	if (!attach() || strlen(key) >= CACHE_KEY_MAX)
		return false;
	h = key_hash(key);
	LWLockAcquire(shared->lock, LW_SHARED);
	e = find(key, h);
	if (e != NULL && (*blob = malloc(Max(e->blob_length, 1))) != NULL)
	{
		memcpy(*blob, dsa_get_address(area, e->blob), e->blob_length);
		strlcpy(etag, e->etag, etag_cap);
		*object_size = e->object_size;
		*blob_offset = e->blob_offset;
		*blob_length = e->blob_length;
		pg_atomic_write_u64(&e->last_used, pg_atomic_add_fetch_u64(&shared->clock, 1));
		hit = true;
	}
	LWLockRelease(shared->lock);
	pg_atomic_fetch_add_u64(hit ? &shared->hits : &shared->misses, 1);
	return hit;
}

/* Publish (or replace) key's entry. Entries that do not fit evict the least recently used. */
void
DesIndexCacheStore(const char *key, const char *etag, uint64 object_size,
				   uint64 blob_offset, const unsigned char *blob, uint64 blob_length)
{
	uint64		h;
	CacheEntry *e;
	dsa_pointer p;

	if (!attach() || strlen(key) >= CACHE_KEY_MAX || etag[0] == '\0' ||
		blob_length > area_size() / 2)
		return;
	h = key_hash(key);
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	if ((e = find(key, h)) != NULL)
		drop(e);
	for (;;)
	{
		CacheEntry *victim = NULL;

		p = dsa_allocate_extended(area, Max(blob_length, 1), DSA_ALLOC_NO_OOM | DSA_ALLOC_HUGE);
		if (DsaPointerIsValid(p))
			break;
		for (int i = 0; i < CACHE_ENTRIES; i++)
		{
			CacheEntry *c = &shared->entry[i];

			if (c->used && (victim == NULL ||
							pg_atomic_read_u64(&c->last_used) < pg_atomic_read_u64(&victim->last_used)))
				victim = c;
		}
		if (victim == NULL)
			break;				/* nothing left to evict: does not fit at all */
		drop(victim);
		pg_atomic_fetch_add_u64(&shared->evictions, 1);
	}
	if (DsaPointerIsValid(p))
	{
		CacheEntry *slot = NULL;
		CacheEntry *lru = NULL;

		for (int i = 0; i < CACHE_ENTRIES && slot == NULL; i++)
		{
			CacheEntry *c = &shared->entry[i];

			if (!c->used)
				slot = c;
			else if (lru == NULL || pg_atomic_read_u64(&c->last_used) < pg_atomic_read_u64(&lru->last_used))
				lru = c;
		}
		if (slot == NULL)
		{
			drop(lru);
			pg_atomic_fetch_add_u64(&shared->evictions, 1);
			slot = lru;
		}
		memcpy(dsa_get_address(area, p), blob, blob_length);
		slot->used = true;
		slot->key_hash = h;
		strlcpy(slot->key, key, sizeof(slot->key));
		strlcpy(slot->etag, etag, sizeof(slot->etag));
		slot->object_size = object_size;
		slot->blob_offset = blob_offset;
		slot->blob_length = blob_length;
		slot->blob = p;
		pg_atomic_write_u64(&slot->last_used, pg_atomic_add_fetch_u64(&shared->clock, 1));
		shared->bytes += blob_length;
		shared->entries++;
	}
	LWLockRelease(shared->lock);
}

void
DesIndexCacheRemove(const char *key)
{
	CacheEntry *e;

	if (!attach() || strlen(key) >= CACHE_KEY_MAX)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	if ((e = find(key, key_hash(key))) != NULL)
		drop(e);
	LWLockRelease(shared->lock);
}

/* For des.cache_stats: false when the shared cache is not in use. */
bool
DesIndexCacheStats(int64 *hits, int64 *misses, int64 *evictions, int64 *entries, int64 *bytes)
{
	if (shared == NULL)
		return false;
	*hits = (int64) pg_atomic_read_u64(&shared->hits);
	*misses = (int64) pg_atomic_read_u64(&shared->misses);
	*evictions = (int64) pg_atomic_read_u64(&shared->evictions);
	LWLockAcquire(shared->lock, LW_SHARED);
	*entries = shared->entries;
	*bytes = (int64) shared->bytes;
	LWLockRelease(shared->lock);
	return true;
}

/* Drop every entry (des.cache_reset(true)). */
void
DesIndexCacheClear(void)
{
	if (!attach())
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < CACHE_ENTRIES; i++)
		if (shared->entry[i].used)
			drop(&shared->entry[i]);
	LWLockRelease(shared->lock);
}
