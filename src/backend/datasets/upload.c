/*
 * upload.c - des.bundle_upload(repo, branch, source, message [, label]):
 * a whole tree committed as one bundle, from a server directory.
 *
 * Three phases (visible in des.stat_uploads): scanning walks the directory
 * and checks every name and kind before a byte is stored; storing reads each
 * file (mapped), cuts and stores its chunks, and checks that the file did not
 * change while it was read; committing builds the Merkle tree of the items,
 * stores its directories and moves the branch. The branch row is locked
 * only for the commit, never during the reading.
 */
#include "pg_des.h"
#include "datasets/datasets.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

typedef struct UploadItem
{
	char	   *path;			/* relative to the source */
	uint8		kind;
	uint32		mode;
	uint64		size;
	struct timespec mtime;
	struct timespec ctime;
	ino_t		ino;
	unsigned char hash[DES_TREE_HASH_BYTES];
} UploadItem;

typedef struct Upload
{
	char	   *root;
	UploadItem *items;
	size_t		n;
	size_t		cap;
	uint64		files;
	uint64		bytes;
} Upload;

static void
add_item(Upload *u, UploadItem *it)
{
	if (u->n == u->cap)
	{
		u->cap = u->cap ? u->cap * 2 : 1024;
		u->items = u->items ? repalloc_huge(u->items, sizeof(UploadItem) * u->cap)
			: MemoryContextAllocHuge(CurrentMemoryContext, sizeof(UploadItem) * u->cap);
	}
	u->items[u->n++] = *it;
}

static bool
same_stat(const struct stat *a, const UploadItem *it)
{
	return (uint64) a->st_size == it->size && a->st_ino == it->ino &&
		a->st_mtim.tv_sec == it->mtime.tv_sec && a->st_mtim.tv_nsec == it->mtime.tv_nsec &&
		a->st_ctim.tv_sec == it->ctime.tv_sec && a->st_ctim.tv_nsec == it->ctime.tv_nsec;
}

static void
changed_error(const Upload *u, const char *rel)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("file \"%s\" of \"%s\" changed while it was being uploaded", rel, u->root),
			 errdetail("Its size, modification or change time differs from when the upload began; nothing was committed."),
			 errhint("Upload again once the directory is no longer being written.")));
}

/* Walk dir (full path) recursively, adding its items; rel is its path in the bundle. */
static void
scan_dir(Upload *u, const char *full, const char *rel)
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
		UploadItem	it;
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
			add_item(u, &it);
			scan_dir(u, child_full, child_rel);
		}
		else
		{
			it.kind = DES_TREE_FILE;
			it.size = (uint64) st.st_size;
			it.mtime = st.st_mtim;
			it.ctime = st.st_ctim;
			it.ino = st.st_ino;
			add_item(u, &it);
			u->files++;
			u->bytes += it.size;
		}
		pfree(child_full);
	}
	FreeDir(dir);
}

/* files per batch, and bytes mapped per batch (a larger file is a batch of its own) */
#define BATCH_FILES 512
#define BATCH_BYTES (64 * 1024 * 1024)

typedef struct Batch
{
	int			n;
	uint64		bytes;
	UploadItem *items[BATCH_FILES];
	DesFileIn	in[BATCH_FILES];
	void	   *maps[BATCH_FILES];
} Batch;

static void
unmap_batch(Batch *b)
{
	for (int i = 0; i < b->n; i++)
		if (b->maps[i])
		{
			munmap(b->maps[i], b->items[i]->size);
			b->maps[i] = NULL;
		}
}

/* Map one file of the batch (the descriptor is closed at once: the mapping stays). */
static void
map_file(Upload *u, Batch *b, UploadItem *it)
{
	char	   *full = psprintf("%s/%s", u->root, it->path);
	int			fd = OpenTransientFile(full, O_RDONLY | O_NOFOLLOW | PG_BINARY);
	struct stat before;
	int			i = b->n;

	if (fd < 0)
	{
		if (errno == ENOENT || errno == ELOOP)
			changed_error(u, it->path);
		ereport(ERROR, (errcode_for_file_access(), errmsg("could not open \"%s\": %m", full)));
	}
	if (fstat(fd, &before) != 0)
		ereport(ERROR, (errcode_for_file_access(), errmsg("could not stat \"%s\": %m", full)));
	if (!same_stat(&before, it))
		changed_error(u, it->path);
	b->items[i] = it;
	b->maps[i] = NULL;
	if (it->size > 0)
	{
		void	   *map = mmap(NULL, it->size, PROT_READ, MAP_PRIVATE, fd, 0);

		if (map == MAP_FAILED)
			ereport(ERROR, (errcode_for_file_access(), errmsg("could not map \"%s\": %m", full)));
		b->maps[i] = map;
		(void) madvise(map, it->size, MADV_SEQUENTIAL);
	}
	CloseTransientFile(fd);
	b->in[i].data = b->maps[i] ? b->maps[i] : (const unsigned char *) "";
	b->in[i].len = it->size;
	b->n++;
	b->bytes += it->size;
	pfree(full);
}

/* Store the batch's files, then check that none changed while it was read. */
static void
store_batch(Upload *u, Batch *b, DesChunkStore *cs, int64 repo_id)
{
	if (b->n == 0)
		return;
	DesChunkStorePutFiles(cs, repo_id, b->in, b->n);
	unmap_batch(b);
	for (int i = 0; i < b->n; i++)
	{
		char	   *full = psprintf("%s/%s", u->root, b->items[i]->path);
		struct stat after;

		if (lstat(full, &after) != 0 || !same_stat(&after, b->items[i]))
			changed_error(u, b->items[i]->path);
		memcpy(b->items[i]->hash, b->in[i].hash, DES_TREE_HASH_BYTES);
		pfree(full);
	}
	DesUploadProgressAdd(b->n, b->bytes);
	b->n = 0;
	b->bytes = 0;
}

/* Every file of the upload, batch by batch; no mapping outlives an error. */
static void
store_all(Upload *u, DesChunkStore *cs, int64 repo_id)
{
	Batch	   *batch = palloc0(sizeof(Batch));
	MemoryContext batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "des.bundle_upload batch",
													ALLOCSET_DEFAULT_SIZES);

	PG_TRY();
	{
		for (size_t i = 0; i < u->n; i++)
		{
			MemoryContext old;

			CHECK_FOR_INTERRUPTS();
			if (u->items[i].kind != DES_TREE_FILE)
				continue;
			if (batch->n == BATCH_FILES || (batch->n > 0 && batch->bytes + u->items[i].size > BATCH_BYTES))
			{
				old = MemoryContextSwitchTo(batch_cxt);
				store_batch(u, batch, cs, repo_id);
				MemoryContextSwitchTo(old);
				MemoryContextReset(batch_cxt);
			}
			old = MemoryContextSwitchTo(batch_cxt);
			map_file(u, batch, &u->items[i]);
			MemoryContextSwitchTo(old);
		}
		store_batch(u, batch, cs, repo_id);
	}
	PG_FINALLY();
	{
		unmap_batch(batch);
	}
	PG_END_TRY();
	MemoryContextDelete(batch_cxt);
}

PG_FUNCTION_INFO_V1(des_bundle_upload);

/* des.bundle_upload(repo, branch, source, message, label DEFAULT NULL) -> the new bundle's id */
Datum
des_bundle_upload(PG_FUNCTION_ARGS)
{
	MemoryContext outer = CurrentMemoryContext;
	DesOwnerScope scope = {0};
	DesRepo		repo;
	Upload		u;
	char	   *repo_name,
			   *branch,
			   *message,
			   *label;
	char		id_hex[DES_TREE_HEX_LEN + 1];
	text	   *result;
	struct stat st;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("des.bundle_upload needs a repository, a branch, a source and a message")));
	repo_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	branch = text_to_cstring(PG_GETARG_TEXT_PP(1));
	memset(&u, 0, sizeof(u));
	u.root = text_to_cstring(PG_GETARG_TEXT_PP(2));
	message = text_to_cstring(PG_GETARG_TEXT_PP(3));
	label = PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4));

	/* as COPY FROM a file: the caller's own right to read server files */
	if (!has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to upload from \"%s\"", u.root),
				 errdetail("Only roles with privileges of the \"pg_read_server_files\" role may read files on the server.")));
	if (!is_absolute_path(u.root))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("upload source \"%s\" is not an absolute path", u.root),
				 errhint("Give a server directory by its absolute path.")));
	if (stat(u.root, &st) != 0)
		ereport(ERROR, (errcode_for_file_access(), errmsg("could not stat \"%s\": %m", u.root)));
	if (!S_ISDIR(st.st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("upload source \"%s\" is not a directory", u.root)));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	DesRepoOpen(repo_name, "write", psprintf("upload to repository \"%s\"", repo_name), &repo);
	DesUploadProgressStart(repo_name, branch, u.root);
	PG_TRY();
	{
		DesChunkStore *cs;
		des_tree_item *items;
		des_buf    *dirs = DesBufInContext(CurrentMemoryContext);
		unsigned char root[DES_TREE_HASH_BYTES];
		unsigned char id[DES_TREE_HASH_BYTES];
		DesBranchState b;
		des_error	err;
		Oid			types[2] = {INT8OID, TEXTOID};
		Datum		args[2];
		uint64		total = 0;

		DesOwnerBegin(&scope);
		DesRequireBranch(&repo, branch);

		/* scanning: every name and kind checked before anything is stored */
		scan_dir(&u, u.root, "");
		DesUploadProgressSet(DES_UPLOAD_STORING, u.files, u.bytes);

		/* storing, a batch of files at a time */
		cs = DesChunkStoreCreate(CurrentMemoryContext);
		store_all(&u, cs, repo.id);
		DesChunkStoreFinish(cs);
#ifdef DES_TEST_HOOKS
		DesDebugPause("dataset_upload_stored", NULL);	/* test/t/008: kill -9 with chunks stored, nothing committed */
#endif

		/* committing: the tree, its directories, the bundle, the branch */
		DesUploadProgressSet(DES_UPLOAD_COMMITTING, u.files, u.bytes);
		items = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(des_tree_item) * Max(u.n, 1));
		for (size_t i = 0; i < u.n; i++)
		{
			items[i].path = u.items[i].path;
			items[i].path_len = strlen(u.items[i].path);
			items[i].kind = u.items[i].kind;
			items[i].mode = u.items[i].mode;
			items[i].size = u.items[i].size;
			memcpy(items[i].hash, u.items[i].hash, DES_TREE_HASH_BYTES);
		}
		if (!des_tree_build(items, u.n, DesCollectDir, dirs, root, &err))
			DesReportTreeError(&err, "could not build the tree of the upload");
		total = u.bytes;
		DesStoreDirs(&repo, NULL, dirs, true);

		DesLockBranch(&repo, branch, false, &b);
		args[0] = Int64GetDatum(repo.id);
		args[1] = CStringGetTextDatum(branch);
		DesSpiExec("SELECT 1 FROM des.staged s WHERE s.repo_id = $1 AND s.branch = $2 LIMIT 1",
				   2, types, args, NULL, false, SPI_OK_SELECT);
		if (SPI_processed > 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("branch \"%s\" of repository \"%s\" has staged changes", branch, repo.name),
					 errdetail("An upload replaces the branch's whole tree; the staged changes would be lost or misapplied."),
					 errhint("Commit them (des.commit) or drop them (des.unstage) first.")));
		DesMakeBundle(&scope, &repo, root, total, b.head, b.has_head ? 1 : 0, message, id);
		des_tree_hex(id, id_hex);
		DesMoveBranch(&scope, &repo, branch, b.has_head ? b.head : NULL, id, "upload");
		DesLogWrite(&scope, &repo, "upload", "branch", branch, "bundle", id_hex, "source", u.root,
					"files", psprintf(UINT64_FORMAT, u.files), "bytes", psprintf(UINT64_FORMAT, u.bytes), NULL);
		if (label)
			DesLabelMove(&scope, &repo, label, id);
	}
	PG_FINALLY();
	{
		DesOwnerEnd(&scope);
		DesUploadProgressEnd();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(outer);
	result = cstring_to_text(id_hex);
	SPI_finish();
	PG_RETURN_TEXT_P(result);
}
