/*
 * download.c - des.download(ref, directory [, prefix]): a version written
 * out to a server directory, rewriting only the files whose content differs
 * from what is already there (compared by content hash: the file on disk is
 * cut with the bundle's chunker and hashed as the bundle hashes it), and
 * fixing only the modes that differ.
 *
 * Nothing is written outside the directory: paths are checked (no "..", no
 * absolute paths), and every existing component below the directory must
 * be a real directory, never a symbolic link; a file that differs is written
 * to a temporary name (O_EXCL | O_NOFOLLOW) and renamed over the
 * target, so a reader sees the old file or the new one, never a mix; new
 * files are written in place (O_EXCL | O_NOFOLLOW). Files are not fsynced
 * one by one (as restic and borg do not): after a crash, downloading again
 * rewrites what did not reach the disk, since contents are compared.
 */
#include "pg_des.h"
#include "datasets/datasets.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "des/chunk/des_chunker.h"

/* bytes read from storage per step while writing a large file */
#define DOWNLOAD_STEP (64 * 1024 * 1024)

typedef struct Download
{
	char	   *root;			/* the target directory */
	int64		repo_id;
	des_chunk_params params;
	int64		files;
	int64		written;
	int64		unchanged;
	int64		modes_fixed;
	int64		bytes_written;
	int64		directories;
	List	   *dir_modes;		/* (path, mode) of directories, set last: deepest first */
	char	   *temp_path;		/* the temporary file being written, removed on error */
} Download;

typedef struct DirMode
{
	char	   *path;
	mode_t		mode;
} DirMode;

static void
refuse_symlink(const char *full, const char *rel)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("des.download will not write through the symbolic link \"%s\"", full),
			 errdetail("Path \"%s\" of the version leads through it; a download writes only below its directory.", rel)));
}

/* A directory below the root: created, or checked to be a real directory. */
static void
ensure_dir(Download *d, const char *full, const char *rel)
{
	struct stat st;

	if (lstat(full, &st) == 0)
	{
		if (S_ISLNK(st.st_mode))
			refuse_symlink(full, rel);
		if (!S_ISDIR(st.st_mode))
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("\"%s\" exists and is not a directory", full),
					 errdetail("The version has a directory at \"%s\".", rel)));
		return;
	}
	if (errno != ENOENT)
		ereport(ERROR, (errcode_for_file_access(), errmsg("could not stat \"%s\": %m", full)));
	if (mkdir(full, 0700) != 0)
		ereport(ERROR, (errcode_for_file_access(), errmsg("could not create directory \"%s\": %m", full)));
	d->directories++;
}

/* Does the file at full have this content hash (cut and hashed as the bundle does)? */
static bool
same_content(Download *d, const char *full, uint64 size, const unsigned char want[DES_TREE_HASH_BYTES])
{
	int			fd;
	void	   *map = NULL;
	unsigned char have[DES_TREE_HASH_BYTES];
	des_file_hasher fh;
	des_error	err;
	uint64_t	got_size;
	des_chunk  *chunks;
	size_t		n = 0;

	fd = OpenTransientFile(full, O_RDONLY | O_NOFOLLOW | PG_BINARY);
	if (fd < 0)
		return false;
	if (size > 0)
	{
		map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED)
		{
			CloseTransientFile(fd);
			return false;
		}
	}
	/* the chunk list first (its count starts the hashed encoding) */
	if (size > 0)
	{
		DesChunkList l;

		DesChunkBuffer(&d->params, map, size, &l);
		chunks = l.chunks;
		n = l.n;
	}
	else
		chunks = palloc(sizeof(des_chunk));
	if (map)
		munmap(map, size);
	CloseTransientFile(fd);
	des_file_hasher_init(&fh, n);
	for (size_t i = 0; i < n; i++)
		if (!des_file_hasher_add(&fh, chunks[i].id, (uint32) chunks[i].length, &err))
			return false;
	if (!des_file_hasher_final(&fh, have, &got_size, &err))
		return false;
	pfree(chunks);
	return got_size == size && memcmp(have, want, DES_TREE_HASH_BYTES) == 0;
}

static void
write_all(int fd, const char *path, const char *p, size_t len)
{
	while (len > 0)
	{
		ssize_t		w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			ereport(ERROR, (errcode_for_file_access(), errmsg("could not write \"%s\": %m", path)));
		p += w;
		len -= w;
	}
}

/*
 * Is the file at full already what the version has (then only its mode is
 * fixed)? *exists says whether something is there to replace.
 */
static bool
file_is_current(Download *d, const char *full, const char *rel, const des_tree_entry *e, bool *exists)
{
	struct stat st;

	*exists = false;
	d->files++;
	if (lstat(full, &st) == 0)
	{
		if (S_ISLNK(st.st_mode))
			refuse_symlink(full, rel);
		if (!S_ISREG(st.st_mode))
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("\"%s\" exists and is not a regular file", full),
					 errdetail("The version has a file at \"%s\".", rel)));
		*exists = true;
	}
	else if (errno != ENOENT)
		ereport(ERROR, (errcode_for_file_access(), errmsg("could not stat \"%s\": %m", full)));

	if (*exists && (uint64) st.st_size == e->size && same_content(d, full, e->size, e->hash))
	{
		if ((st.st_mode & 07777) != e->mode)
		{
			if (chmod(full, e->mode) != 0)
				ereport(ERROR, (errcode_for_file_access(), errmsg("could not set the mode of \"%s\": %m", full)));
			d->modes_fixed++;
		}
		d->unchanged++;
		return true;
	}
	return false;
}

/* Write the file (chunk list list, its chunks located by r) at full. */
static void
write_file(Download *d, DesChunkReader *r, const char *full, const char *rel, const des_tree_entry *e, bool exists,
		   bytea *list)
{
	int			fd;
	uint64		done = 0;
	const char *target;

	/*
	 * A new file is written in place (O_EXCL: nothing there is replaced); a
	 * file that differs is replaced by renaming a new file over it, so that
	 * nobody sees it half-written. A file being written when an error comes
	 * is removed.
	 */
	target = exists ? psprintf("%s.des-download-%d.tmp", full, MyProcPid) : full;
	d->temp_path = MemoryContextStrdup(TopTransactionContext, target);
	fd = OpenTransientFile(target, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | PG_BINARY);
	if (fd < 0)
		ereport(ERROR, (errcode_for_file_access(), errmsg("could not create \"%s\": %m", target)));
	while (done < e->size)
	{
		StringInfoData buf;
		uint64		step = Min((uint64) DOWNLOAD_STEP, e->size - done);

		CHECK_FOR_INTERRUPTS();
		initStringInfo(&buf);
		DesChunkReaderReadRange(r, (const unsigned char *) VARDATA_ANY(list), VARSIZE_ANY_EXHDR(list), done, step, &buf);
		if ((uint64) buf.len != step)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("file \"%s\" of the version gave %d bytes at offset " UINT64_FORMAT ", not " UINT64_FORMAT,
							rel, buf.len, done, step)));
		write_all(fd, target, buf.data, buf.len);
		done += step;
		pfree(buf.data);
	}
	if (fchmod(fd, e->mode) != 0)
		ereport(ERROR, (errcode_for_file_access(), errmsg("could not set the mode of \"%s\": %m", target)));
	CloseTransientFile(fd);
	if (exists && rename(target, full) != 0)
		ereport(ERROR, (errcode_for_file_access(), errmsg("could not rename \"%s\" to \"%s\": %m", target, full)));
	pfree(d->temp_path);
	d->temp_path = NULL;
	d->written++;
	d->bytes_written += (int64) e->size;
}

/*
 * The chunk lists of the files to write in one directory (one query), and
 * where their chunks are (one more): a directory's files are written with
 * two queries, whatever their number.
 */
static void
write_files(Download *d, char **fulls, char **rels, const des_tree_entry **es, bool *exists, int n)
{
	DesDatumVec want = {0};
	HTAB	   *lists;
	DesChunkReader *r;

	if (n == 0)
		return;
	for (int i = 0; i < n; i++)
		DesVecPush(&want, PointerGetDatum(DesHashBytea(es[i]->hash)));
	r = DesChunkReaderCreate();
	lists = DesContentLists(d->repo_id, &want, r);
	for (int i = 0; i < n; i++)
	{
		DesContentList *l = hash_search(lists, es[i]->hash, HASH_FIND, NULL);

		CHECK_FOR_INTERRUPTS();
		if (l == NULL)
		{
			char		hex[DES_TREE_HEX_LEN + 1];

			des_tree_hex(es[i]->hash, hex);
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("the chunk list of content %s (file \"%s\") is not stored", hex, rels[i])));
		}
		write_file(d, r, fulls[i], rels[i], es[i], exists[i], l->list);
	}
	DesChunkReaderEnd(r);
}

/* Everything below the directory hash into full (the version's rel). */
static void
download_dir(Download *d, DesTreeReader *tr, const unsigned char hash[DES_TREE_HASH_BYTES], const char *full,
			 const char *rel)
{
	des_tree_dir dir;

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();
	DesTreeGet(tr, hash, &dir);
	PG_TRY();
	{
		/* what the files of this directory need goes with them */
		MemoryContext files_cxt = AllocSetContextCreate(CurrentMemoryContext, "des.download files",
														ALLOCSET_DEFAULT_SIZES);
		MemoryContext old = MemoryContextSwitchTo(files_cxt);
		char	  **fulls = palloc(sizeof(char *) * Max(dir.count, 1));
		char	  **rels = palloc(sizeof(char *) * Max(dir.count, 1));
		const des_tree_entry **es = palloc(sizeof(des_tree_entry *) * Max(dir.count, 1));
		bool	   *exists = palloc(sizeof(bool) * Max(dir.count, 1));
		int			n = 0;

		/* the files first (those that differ written as one batch), then the subdirectories */
		for (size_t i = 0; i < dir.count; i++)
		{
			const des_tree_entry *e = &dir.entries[i];

			CHECK_FOR_INTERRUPTS();
			if (e->kind != DES_TREE_FILE)
				continue;
			fulls[n] = psprintf("%s/%.*s", full, (int) e->name_len, e->name);
			rels[n] = rel[0] ? psprintf("%s/%.*s", rel, (int) e->name_len, e->name) : pnstrdup(e->name, e->name_len);
			es[n] = e;
			if (!file_is_current(d, fulls[n], rels[n], e, &exists[n]))
				n++;
		}
		write_files(d, fulls, rels, es, exists, n);
		MemoryContextSwitchTo(old);
		MemoryContextDelete(files_cxt);
		for (size_t i = 0; i < dir.count; i++)
		{
			const des_tree_entry *e = &dir.entries[i];
			char	   *child_full;
			char	   *child_rel;
			DirMode    *dm;

			CHECK_FOR_INTERRUPTS();
			if (e->kind != DES_TREE_DIR)
				continue;
			child_full = psprintf("%s/%.*s", full, (int) e->name_len, e->name);
			child_rel = rel[0] ? psprintf("%s/%.*s", rel, (int) e->name_len, e->name)
				: pnstrdup(e->name, e->name_len);
			ensure_dir(d, child_full, child_rel);
			download_dir(d, tr, e->hash, child_full, child_rel);
			dm = palloc(sizeof(DirMode));
			dm->path = child_full;
			dm->mode = e->mode;
			d->dir_modes = lappend(d->dir_modes, dm);	/* after its children: deepest first */
		}
	}
	PG_FINALLY();
	{
		des_tree_dir_free(&dir);
	}
	PG_END_TRY();
}

PG_FUNCTION_INFO_V1(des_download);

/* des.download(ref, directory, prefix DEFAULT NULL) -> (files, written, unchanged, modes_fixed, bytes_written, directories) */
Datum
des_download(PG_FUNCTION_ARGS)
{
	MemoryContext outer = CurrentMemoryContext;
	DesOwnerScope scope = {0};
	DesResolvedRef r;
	Download	d;
	TupleDesc	tupdesc;
	Datum		values[6];
	bool		nulls[6] = {0};
	char	   *ref,
			   *prefix;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "des.download must return a row");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("des.download needs a ref and a directory")));
	ref = text_to_cstring(PG_GETARG_TEXT_PP(0));
	memset(&d, 0, sizeof(d));
	d.root = text_to_cstring(PG_GETARG_TEXT_PP(1));
	prefix = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	/* as COPY TO a file: the caller's own right to write server files */
	if (!has_privs_of_role(GetUserId(), ROLE_PG_WRITE_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to download into \"%s\"", d.root),
				 errdetail("Only roles with privileges of the \"pg_write_server_files\" role may write files on the server.")));
	if (!is_absolute_path(d.root))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("download directory \"%s\" is not an absolute path", d.root)));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PG_TRY();
	{
		unsigned char start[DES_TREE_HASH_BYTES];
		des_chunker_params cp;
		struct stat st;
		ListCell   *lc;

		DesResolveRef(ref, "read", true, &r, &scope);
		d.repo_id = r.repo.id;
		DesChunkerParams(&cp);
		d.params.min_size = cp.min_size;
		d.params.avg_size = cp.avg_size;
		d.params.max_size = cp.max_size;
		memcpy(start, r.root, DES_TREE_HASH_BYTES);
		if (prefix)
		{
			des_tree_entry e;

			DesCheckPath(prefix);
			if (!DesTreeLookup(r.tree, r.root, prefix, &e))
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_FILE),
						 errmsg("path \"%s\" is not in %s", prefix, ref)));
			if (e.kind != DES_TREE_DIR)
				ereport(ERROR,
						(errcode(ERRCODE_WRONG_OBJECT_TYPE),
						 errmsg("path \"%s\" of %s is a file, not a directory", prefix, ref),
						 errhint("des.read reads one file.")));
			memcpy(start, e.hash, DES_TREE_HASH_BYTES);
		}
		/* the directory itself: created if absent (its parent must exist) */
		if (stat(d.root, &st) != 0)
		{
			if (errno != ENOENT || mkdir(d.root, 0755) != 0)
				ereport(ERROR,
						(errcode_for_file_access(),
						 errmsg("could not create download directory \"%s\": %m", d.root)));
		}
		else if (!S_ISDIR(st.st_mode))
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("\"%s\" is not a directory", d.root)));
		download_dir(&d, r.tree, start, d.root, prefix ? prefix : "");
		foreach(lc, d.dir_modes)
		{
			DirMode    *dm = lfirst(lc);

			if (chmod(dm->path, dm->mode) != 0)
				ereport(ERROR,
						(errcode_for_file_access(),
						 errmsg("could not set the mode of \"%s\": %m", dm->path)));
		}
		DesLogRead(&scope, &r.repo, ref, r.has_bundle ? r.bundle : NULL, prefix, "des.download");
	}
	PG_CATCH();
	{
		DesOwnerEnd(&scope);
		if (d.temp_path)
			(void) unlink(d.temp_path);
		PG_RE_THROW();
	}
	PG_END_TRY();
	DesOwnerEnd(&scope);
	MemoryContextSwitchTo(outer);
	values[0] = Int64GetDatum(d.files);
	values[1] = Int64GetDatum(d.written);
	values[2] = Int64GetDatum(d.unchanged);
	values[3] = Int64GetDatum(d.modes_fixed);
	values[4] = Int64GetDatum(d.bytes_written);
	values[5] = Int64GetDatum(d.directories);
	SPI_finish();
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
