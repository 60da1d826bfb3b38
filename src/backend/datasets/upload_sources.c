/*
 * upload_sources.c - what des.bundle_upload reads (upload.c stores and
 * commits): a server directory (files mapped), a DES archive (local or on
 * S3: entries decoded by the reader, a batch of coalesced ranges at a time)
 * or an S3 prefix (objects fetched in parallel, each guarded by the ETag of
 * the listing).
 *
 * Sources are opened as the caller: local ones need pg_read_server_files,
 * S3 ones USAGE on the server and a user mapping of the caller, resolved
 * before the upload works as the extension's owner, so the caller's own
 * credentials read them, never the owner's.
 */
#include "pg_des.h"
#include "datasets/datasets.h"
#include "archive/archive.h"
#include "s3/s3.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/pg_authid.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/memutils.h"

/* ---- shared: access, names ---- */

/* as COPY FROM a file: the caller's own right to read server files */
static void
check_server_files(const char *source)
{
	if (!has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to upload from \"%s\"", source),
				 errdetail("Only roles with privileges of the \"pg_read_server_files\" role may read files on the server.")));
}

/* A name from an archive or a key, printable in a message (bytes that are not, as \xNN). */
static char *
printable(const char *s, size_t len)
{
	StringInfoData b;
	bool		utf8 = pg_verify_mbstr(PG_UTF8, s, (int) len, true);

	initStringInfo(&b);
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8))
			appendStringInfo(&b, "\\x%02x", c);
		else
			appendStringInfoChar(&b, (char) c);
	}
	return b.data;
}

/* Add a file named name[0..len) (an entry or a key), after checking it is a bundle path. */
static void
add_named_file(const char *source, const char *what, const char *name, size_t len, DesUploadItem *it,
			   DesUpload *u)
{
	des_error	err;
	size_t		bad;

	if (!des_tree_path_check(name, len, &bad, &err))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("cannot upload %s \"%s\" of \"%s\": %s", what, printable(name, len), source, err.message),
				 errdetail("Paths in a bundle are UTF-8 without control characters, \".\", \"..\" or empty segments, at most 255 bytes a name.")));
	it->path = pnstrdup(name, len);
	it->kind = DES_TREE_FILE;
	it->mode = 0644;
	DesUploadAddItem(u, it);
}

/* path order: '/' before every other byte, so "a" is followed by what is below it */
static int
cmp_paths(const void *a, const void *b)
{
	const unsigned char *x = (const unsigned char *) (*(DesUploadItem *const *) a)->path;
	const unsigned char *y = (const unsigned char *) (*(DesUploadItem *const *) b)->path;

	for (;; x++, y++)
	{
		int			cx = *x == '/' ? 1 : *x;
		int			cy = *y == '/' ? 1 : *y;

		if (cx != cy || cx == 0)
			return cx - cy;
	}
}

/* Before storing: no path twice, no file that is also a directory of another. */
static void
check_unique_paths(const char *source, const char *what, DesUpload *u)
{
	DesUploadItem **sorted;

	if (u->n < 2)
		return;
	sorted = palloc_extended(sizeof(DesUploadItem *) * u->n, MCXT_ALLOC_HUGE);
	for (size_t i = 0; i < u->n; i++)
		sorted[i] = &u->items[i];
	qsort(sorted, u->n, sizeof(DesUploadItem *), cmp_paths);
	for (size_t i = 1; i < u->n; i++)
	{
		const char *a = sorted[i - 1]->path;
		const char *b = sorted[i]->path;
		size_t		la = strlen(a);

		CHECK_FOR_INTERRUPTS();
		if (strcmp(a, b) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("cannot upload \"%s\": %s \"%s\" is there twice", source, what, a),
					 errdetail("A bundle has one file per path.")));
		if (strncmp(a, b, la) == 0 && b[la] == '/')
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("cannot upload \"%s\": %s \"%s\" is a file and also the directory of \"%s\"",
							source, what, a, b),
					 errdetail("A path of a bundle is either a file or a directory.")));
	}
	pfree(sorted);
}

/* ---- a server directory ---- */

typedef struct DirSource
{
	char	   *root;
} DirSource;

static bool
same_stat(const struct stat *a, const DesUploadItem *it)
{
	return (uint64) a->st_size == it->size && a->st_ino == it->src.file.ino &&
		a->st_mtim.tv_sec == it->src.file.mtime.tv_sec && a->st_mtim.tv_nsec == it->src.file.mtime.tv_nsec &&
		a->st_ctim.tv_sec == it->src.file.ctime.tv_sec && a->st_ctim.tv_nsec == it->src.file.ctime.tv_nsec;
}

static void
dir_changed(DesUploadSource *src, const char *rel)
{
	DesUploadChanged(src, rel, "Its size, modification or change time differs from when the upload began");
}

/* Walk dir (full path) recursively, adding its items; rel is its path in the bundle. */
static void
scan_dir(DesUpload *u, const char *full, const char *rel)
{
	DIR		   *dir = AllocateDir(full);
	struct dirent *de;

	if (dir == NULL)
		ereport(ERROR, (errcode_for_file_access(), errmsg("could not open directory \"%s\": %m", full)));
	while ((de = ReadDir(dir, full)) != NULL)
	{
		char	   *child_full;
		char	   *child_rel;
		struct stat st;
		DesUploadItem it;
		des_error	err;
		size_t		bad;

		CHECK_FOR_INTERRUPTS();
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		child_full = psprintf("%s/%s", full, de->d_name);
		child_rel = rel[0] ? psprintf("%s/%s", rel, de->d_name) : pstrdup(de->d_name);
		if (!des_tree_name_check(de->d_name, strlen(de->d_name), &bad, &err))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_NAME),
					 errmsg("cannot upload \"%s\": %s", child_full, err.message),
					 errdetail("Names in a bundle are UTF-8 without control characters, at most 255 bytes.")));
		if (lstat(child_full, &st) != 0)
			ereport(ERROR, (errcode_for_file_access(), errmsg("could not stat \"%s\": %m", child_full)));
		if (S_ISLNK(st.st_mode) || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot upload \"%s\": it is a %s", child_full,
							S_ISLNK(st.st_mode) ? "symbolic link" : "special file"),
					 errdetail("A bundle records regular files and directories only.")));
		if (st.st_mode & (S_ISUID | S_ISGID | S_ISVTX))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot upload \"%s\": it has the setuid, setgid or sticky bit", child_full),
					 errdetail("A bundle records permission bits only, so that no download can create such a file.")));
		memset(&it, 0, sizeof(it));
		it.path = child_rel;
		it.mode = st.st_mode & 0777;
		if (S_ISDIR(st.st_mode))
		{
			it.kind = DES_TREE_DIR;
			DesUploadAddItem(u, &it);
			scan_dir(u, child_full, child_rel);
		}
		else
		{
			it.kind = DES_TREE_FILE;
			it.size = (uint64) st.st_size;
			it.src.file.mtime = st.st_mtim;
			it.src.file.ctime = st.st_ctim;
			it.src.file.ino = st.st_ino;
			DesUploadAddItem(u, &it);
		}
		pfree(child_full);
	}
	FreeDir(dir);
}

static void
dir_scan(DesUploadSource *src, DesUpload *u)
{
	scan_dir(u, ((DirSource *) src->state)->root, "");
}

/* Map the batch's files (each descriptor is closed at once: the mapping stays). */
static void
dir_load(DesUploadSource *src, DesUploadBatch *b)
{
	DirSource  *ds = src->state;

	for (int i = 0; i < b->n; i++)
	{
		DesUploadItem *it = b->items[i];
		char	   *full = psprintf("%s/%s", ds->root, it->path);
		int			fd = OpenTransientFile(full, O_RDONLY | O_NOFOLLOW | PG_BINARY);
		struct stat before;

		CHECK_FOR_INTERRUPTS();
		if (fd < 0)
		{
			if (errno == ENOENT || errno == ELOOP)
				dir_changed(src, it->path);
			ereport(ERROR, (errcode_for_file_access(), errmsg("could not open \"%s\": %m", full)));
		}
		if (fstat(fd, &before) != 0)
			ereport(ERROR, (errcode_for_file_access(), errmsg("could not stat \"%s\": %m", full)));
		if (!same_stat(&before, it))
			dir_changed(src, it->path);
		if (it->size > 0)
		{
			void	   *map = mmap(NULL, it->size, PROT_READ, MAP_PRIVATE, fd, 0);

			if (map == MAP_FAILED)
				ereport(ERROR, (errcode_for_file_access(), errmsg("could not map \"%s\": %m", full)));
			b->held[i] = map;
			(void) madvise(map, it->size, MADV_SEQUENTIAL);
		}
		CloseTransientFile(fd);
		b->in[i].data = b->held[i] ? b->held[i] : (const unsigned char *) "";
		b->in[i].len = it->size;
		pfree(full);
	}
}

static void
dir_release(DesUploadSource *src, DesUploadBatch *b)
{
	for (int i = 0; i < b->n; i++)
		if (b->held[i])
		{
			munmap(b->held[i], b->items[i]->size);
			b->held[i] = NULL;
		}
}

/* After storing: every file of the batch is as it was scanned. */
static void
dir_check(DesUploadSource *src, DesUploadBatch *b)
{
	DirSource  *ds = src->state;

	for (int i = 0; i < b->n; i++)
	{
		char	   *full = psprintf("%s/%s", ds->root, b->items[i]->path);
		struct stat after;

		if (lstat(full, &after) != 0 || !same_stat(&after, b->items[i]))
			dir_changed(src, b->items[i]->path);
		pfree(full);
	}
}

static void
open_directory(DesUploadSource *src, const char *source)
{
	DirSource  *ds = palloc0(sizeof(DirSource));
	struct stat st;

	check_server_files(source);
	if (!is_absolute_path(source))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("upload source \"%s\" is not an absolute path", source),
				 errhint("Give a server directory by its absolute path, a DES archive (a location ending in \".des\") or an S3 prefix (s3://bucket/prefix/).")));
	if (stat(source, &st) != 0)
		ereport(ERROR, (errcode_for_file_access(), errmsg("could not stat \"%s\": %m", source)));
	if (!S_ISDIR(st.st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("upload source \"%s\" is not a directory", source),
				 errhint("A DES archive is named by a location ending in \".des\".")));
	ds->root = pstrdup(source);
	src->state = ds;
	src->scan = dir_scan;
	src->load = dir_load;
	src->check = dir_check;
	src->release = dir_release;
}

/* ---- a DES archive ---- */

typedef struct ArchiveSource
{
	DesLocation *loc;
	DesOpenArchive oa;
	DesArchivePin *pin;			/* keeps the opened archive across the upload */
	struct stat st;				/* a local archive as scanned */
	const des_entry *entry;		/* for the error context */
} ArchiveSource;

static void
archive_error_callback(void *arg)
{
	ArchiveSource *as = arg;

	if (as->entry)
		errcontext("archive \"%s\", entry \"%.*s\", offset %llu", as->loc->original,
				   (int) Min(as->entry->name_len, 200), as->entry->name,
				   (unsigned long long) as->entry->data_offset);
	else
		errcontext("archive \"%s\"", as->loc->original);
}

/* A failed read: a replaced S3 object is a change of the source, anything else an error. */
static void
archive_fail(DesUploadSource *src, const des_error *err)
{
	ArchiveSource *as = src->state;

	if (DesErrorIsStale(err))
		DesUploadChanged(src, NULL, "The archive was replaced after the upload began");
	DesReportError(err, as->loc->original);
}

/* A local archive must be the file that was scanned. */
static void
archive_check(DesUploadSource *src, DesUploadBatch *b)
{
	ArchiveSource *as = src->state;
	struct stat st;

	if (as->loc->kind != DES_LOCATION_LOCAL)
		return;					/* S3: every read carried If-Match with the ETag of the open */
	if (stat(as->loc->path, &st) != 0 || st.st_dev != as->st.st_dev || st.st_ino != as->st.st_ino ||
		st.st_size != as->st.st_size || st.st_mtim.tv_sec != as->st.st_mtim.tv_sec ||
		st.st_mtim.tv_nsec != as->st.st_mtim.tv_nsec)
		DesUploadChanged(src, NULL, "The archive's size or modification time differs from when the upload began");
}

static void
archive_scan(DesUploadSource *src, DesUpload *u)
{
	ArchiveSource *as = src->state;
	ErrorContextCallback errcb;
	uint64		n;

	if (as->loc->kind == DES_LOCATION_LOCAL && stat(as->loc->path, &as->st) != 0)
		ereport(ERROR, (errcode_for_file_access(), errmsg("could not stat \"%s\": %m", as->loc->path)));
	/* revalidated: the index is the current object's, and data reads are guarded by its ETag */
	DesOpenArchiveForRead(as->loc, true, true, &as->oa);
	as->pin = DesArchivePinCreate(CurrentMemoryContext);
	DesArchivePinSet(as->pin, &as->oa);
	errcb.callback = archive_error_callback;
	errcb.arg = as;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	n = des_reader_count(as->oa.reader);
	for (uint64 i = 0; i < n; i++)
	{
		const des_entry *e = des_reader_entry(as->oa.reader, i);
		DesUploadItem it;
		uint64_t	size;
		des_error	err;

		CHECK_FOR_INTERRUPTS();
		as->entry = e;
		memset(&it, 0, sizeof(it));
		if (!des_reader_payload_size(as->oa.reader, i, &size, &err))
			archive_fail(src, &err);
		it.size = size;
		it.src.entry = i;
		add_named_file(src->name, "entry", e->name, e->name_len, &it, u);
	}
	as->entry = NULL;
	error_context_stack = errcb.previous;
	check_unique_paths(src->name, "entry", u);
}

static int
cmp_uint64(const void *a, const void *b)
{
	uint64		x = *(const uint64 *) a;
	uint64		y = *(const uint64 *) b;

	return x < y ? -1 : x > y;
}

/* Decode entry idx (stored: its bytes, or NULL to let the reader fetch them) into the batch. */
static void
archive_decode(DesUploadSource *src, DesUploadBatch *b, const uint64 *idx, uint64 entry,
			   const unsigned char *stored)
{
	ArchiveSource *as = src->state;
	uint64	   *hit = bsearch(&entry, idx, b->n, sizeof(uint64), cmp_uint64);
	des_buf    *out = DesBufInContext(CurrentMemoryContext);	/* freed with the batch */
	des_error	err;
	int			k;

	if (hit == NULL)
		elog(ERROR, "archive entry " UINT64_FORMAT " is not in the batch", entry);
	k = (int) (hit - idx);
	as->entry = des_reader_entry(as->oa.reader, entry);
	if (!des_reader_decode(as->oa.reader, entry, stored, &as->oa.options, out, &err))
		archive_fail(src, &err);
	b->in[k].data = out->data ? out->data : (const unsigned char *) "";
	b->in[k].len = out->len;
}

/*
 * The batch's entries: planned as coalesced ranges, read a window at a time
 * (in parallel on S3), each entry decoded (decompressed, its BLAKE2b checked
 * when the archive stores one).
 */
static void
archive_load(DesUploadSource *src, DesUploadBatch *b)
{
	ArchiveSource *as = src->state;
	des_reader *r = as->oa.reader;
	uint64	   *idx = palloc(sizeof(uint64) * b->n);
	des_batch_plan *plan = palloc0(sizeof(des_batch_plan));
	MemoryContextCallback *cb = palloc0(sizeof(MemoryContextCallback));
	size_t		window = as->oa.s3 ? (size_t) Min(Max(des_s3_max_connections, 1), DES_S3_MAX_PARALLEL) : 1;
	ErrorContextCallback errcb;
	des_error	err;

	for (int k = 0; k < b->n; k++)
		idx[k] = b->items[k]->src.entry;	/* ascending: items are in entry order */
	cb->func = (MemoryContextCallbackFunction) des_batch_plan_free;
	cb->arg = plan;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	errcb.callback = archive_error_callback;
	errcb.arg = as;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	if (!des_reader_plan_batch(r, idx, b->n,
							   (uint64) (as->oa.s3 ? des_s3_read_coalesce_gap_kb : des_read_coalesce_gap_kb) * 1024,
							   (uint64) des_read_max_span_kb * 1024, plan, &err))
		archive_fail(src, &err);
	for (size_t w = 0; w < plan->nranges; w += window)
	{
		size_t		n = Min(window, plan->nranges - w);
		unsigned char *bufs[DES_S3_MAX_PARALLEL];

		CHECK_FOR_INTERRUPTS();
		as->entry = des_reader_entry(r, plan->entries[plan->ranges[w].first]);
		for (size_t k = 0; k < n; k++)
			bufs[k] = palloc_extended(Max(plan->ranges[w + k].length, 1), MCXT_ALLOC_HUGE);
		if (!DesFetchPlannedRanges(&as->oa, plan, w, n, bufs, &err))
			archive_fail(src, &err);
		for (size_t k = 0; k < n; k++)
		{
			const des_read_range *range = &plan->ranges[w + k];

			for (size_t j = range->first; j < range->first + range->count; j++)
			{
				uint64		entry = plan->entries[j];

				archive_decode(src, b, idx, entry,
							   bufs[k] + (des_reader_entry(r, entry)->data_offset - range->offset));
			}
			pfree(bufs[k]);
		}
	}
	/* external and 0-byte entries: the reader fetches them itself */
	for (size_t k = 0; k < plan->ndirect; k++)
	{
		CHECK_FOR_INTERRUPTS();
		archive_decode(src, b, idx, plan->direct[k], NULL);
	}
	as->entry = NULL;
	error_context_stack = errcb.previous;
}

static void
open_archive(DesUploadSource *src, const char *source)
{
	ArchiveSource *as = palloc0(sizeof(ArchiveSource));

	as->loc = DesParseLocation(source);
	if (as->loc->kind == DES_LOCATION_LOCAL)
		check_server_files(source);
	else
	{
		/* USAGE on the server and the caller's user mapping, now, before working as the owner */
		as->loc->user = GetUserId();
		(void) DesS3EndpointForLocation(as->loc);
	}
	src->state = as;
	src->scan = archive_scan;
	src->load = archive_load;
	src->check = archive_check;
}

/* ---- an S3 prefix ---- */

typedef struct PrefixSource
{
	DesLocation *loc;
	DesS3Endpoint *ep;			/* the caller's */
	char	   *prefix;			/* "" (the bucket) or ending in '/' */
	DesUpload  *u;				/* while listing */
} PrefixSource;

/* A listing item: its key relative to the prefix is the path (checked after the listing). */
static void
prefix_item(void *arg, const char *key, uint64 size, const char *etag, bool is_prefix)
{
	PrefixSource *ps = arg;
	DesUploadItem it;
	size_t		len = strlen(key);

	if (is_prefix || len == 0 || key[len - 1] == '/')
		return;					/* "directory markers" */
	memset(&it, 0, sizeof(it));
	it.size = size;
	it.src.object.key = pstrdup(key);
	it.src.object.etag = pstrdup(etag ? etag : "");
	it.path = it.src.object.key + strlen(ps->prefix);
	it.kind = DES_TREE_FILE;
	it.mode = 0644;
	DesUploadAddItem(ps->u, &it);
}

static void
prefix_scan(DesUploadSource *src, DesUpload *u)
{
	PrefixSource *ps = src->state;
	des_error	err;

	ps->u = u;
	if (!DesS3List(ps->ep, ps->loc->bucket, ps->prefix, NULL, prefix_item, ps, &err))
		DesReportError(&err, ps->loc->original);
	ps->u = NULL;
	for (size_t i = 0; i < u->n; i++)
	{
		des_error	perr;
		size_t		bad;
		const char *path = u->items[i].path;

		CHECK_FOR_INTERRUPTS();
		if (!des_tree_path_check(path, strlen(path), &bad, &perr))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_NAME),
					 errmsg("cannot upload object \"%s\" of \"%s\": %s",
							printable(u->items[i].src.object.key, strlen(u->items[i].src.object.key)),
							src->name, perr.message),
					 errdetail("Keys below the prefix become paths in the bundle: UTF-8 without control characters, \".\", \"..\" or empty segments, at most 255 bytes a name.")));
	}
	check_unique_paths(src->name, "object", u);
}

/* ETags as listed ("&quot;" decoded) and as a GET answers them: compared without quotes */
static bool
same_etag(const char *a, const char *b)
{
	size_t		la = strlen(a),
				lb = strlen(b);

	if (la >= 2 && a[0] == '"' && a[la - 1] == '"')
		a++, la -= 2;
	if (lb >= 2 && b[0] == '"' && b[lb - 1] == '"')
		b++, lb -= 2;
	return la == lb && memcmp(a, b, la) == 0;
}

/* The batch's objects, fetched in parallel; each GET carries If-Match with the listed ETag. */
static void
prefix_load(DesUploadSource *src, DesUploadBatch *b)
{
	PrefixSource *ps = src->state;
	DesS3Transfer *t = palloc0(sizeof(DesS3Transfer) * b->n);
	static unsigned char none[1];
	char	  (*quoted)[DES_S3_TOKEN_CAP + 2] = palloc(sizeof(*quoted) * b->n);
	int			changed = -1;
	int			failed = -1;
	des_error	err;
	bool		interrupted;

	for (int k = 0; k < b->n; k++)
	{
		DesUploadItem *it = b->items[k];
		const char *etag = it->src.object.etag;

		DesS3TransferInit(&t[k], DES_S3_GET, "GET", ps->loc->bucket, it->src.object.key);
		if (etag[0])
		{
			snprintf(quoted[k], sizeof(quoted[k]), etag[0] == '"' ? "%s" : "\"%s\"", etag);
			t[k].headers[t[k].nheaders++] = (des_kv) {"If-Match", quoted[k]};
		}
		t[k].into = it->size > 0 ? palloc_extended(it->size, MCXT_ALLOC_HUGE) : none;
		t[k].into_cap = it->size;
	}
	interrupted = !DesS3Perform(ps->ep, t, b->n, des_s3_max_connections);
	/* no error may be raised before every transfer is freed */
	for (int k = 0; k < b->n && !interrupted; k++)
	{
		if (DesS3Ok(&t[k]) && t[k].received == t[k].into_cap &&
			(!b->items[k]->src.object.etag[0] || same_etag(t[k].etag, b->items[k]->src.object.etag)))
			continue;
		if (t[k].status == 412 || t[k].status == 404 || t[k].overflow || DesS3Ok(&t[k]))
		{
			if (changed < 0)
				changed = k;
		}
		else if (failed < 0)
		{
			failed = k;
			DesS3FillError(&t[k], "GET", psprintf("s3://%s/%s", ps->loc->bucket, b->items[k]->src.object.key), &err);
		}
	}
	for (int k = 0; k < b->n; k++)
	{
		b->in[k].data = t[k].into;
		b->in[k].len = t[k].into_cap;
		DesS3TransferFree(&t[k]);
	}
	if (interrupted)
	{
		CHECK_FOR_INTERRUPTS();
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("the upload from \"%s\" was interrupted", src->name)));
	}
	if (failed >= 0)
		DesReportError(&err, ps->loc->original);
	if (changed >= 0)
		DesUploadChanged(src, b->items[changed]->path,
						 "The object was replaced or deleted after it was listed (its ETag or size differs)");
}

static void
prefix_check(DesUploadSource *src, DesUploadBatch *b)
{
	/* every GET was guarded by the ETag of the listing */
}

static void
open_prefix(DesUploadSource *src, const char *source)
{
	PrefixSource *ps = palloc0(sizeof(PrefixSource));
	size_t		klen;

	ps->loc = DesParseLocationPrefix(source);
	if (ps->loc->kind != DES_LOCATION_S3)
		elog(ERROR, "upload source \"%s\" is not an S3 prefix", source);
	/* the caller's credentials, resolved now, before working as the owner */
	ps->loc->user = GetUserId();
	ps->ep = DesS3EndpointForLocation(ps->loc);
	DesS3Init();
	klen = strlen(ps->loc->key);
	/* a prefix names a "directory": s3://b/data is s3://b/data/ */
	ps->prefix = (klen == 0 || ps->loc->key[klen - 1] == '/') ? pstrdup(ps->loc->key)
		: psprintf("%s/", ps->loc->key);
	src->state = ps;
	src->scan = prefix_scan;
	src->load = prefix_load;
	src->check = prefix_check;
}

/* ---- which source ---- */

static bool
ends_with(const char *s, const char *suffix)
{
	size_t		ls = strlen(s),
				lx = strlen(suffix);

	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/*
 * A location ending in ".des" is a DES archive (a local path, file:// URL
 * or s3:// URL); another s3:// URL is a prefix; anything else a server
 * directory.
 */
DesUploadSource *
DesUploadSourceOpen(const char *source)
{
	DesUploadSource *src = palloc0(sizeof(DesUploadSource));

	src->name = pstrdup(source);
	if (ends_with(source, ".des"))
		open_archive(src, source);
	else if (pg_strncasecmp(source, "s3://", 5) == 0)
		open_prefix(src, source);
	else
		open_directory(src, source);
	return src;
}
