/*
 * upload.c - des.bundle_upload(repo, branch, source, message [, label]):
 * a whole tree committed as one bundle, from a server directory, a DES
 * archive or an S3 prefix (the readers are in upload_sources.c).
 *
 * Three phases (visible in des.stat_uploads): scanning lists the source
 * and checks every name and kind before a byte is stored; storing reads the
 * files a batch at a time (bounded in files and bytes), cuts and stores
 * their chunks, and checks that none changed while it was read; committing
 * builds the Merkle tree of the items, stores its directories and moves the
 * branch. The branch row is locked only for the commit, never during the
 * reading.
 */
#include "pg_des.h"
#include "datasets/datasets.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

void
DesUploadAddItem(DesUpload *u, const DesUploadItem *it)
{
	if (u->n == u->cap)
	{
		u->cap = u->cap ? u->cap * 2 : 1024;
		u->items = u->items ? repalloc_huge(u->items, sizeof(DesUploadItem) * u->cap)
			: MemoryContextAllocHuge(CurrentMemoryContext, sizeof(DesUploadItem) * u->cap);
	}
	u->items[u->n++] = *it;
	if (it->kind == DES_TREE_FILE)
	{
		u->files++;
		u->bytes += it->size;
	}
}

void
DesUploadChanged(const DesUploadSource *src, const char *path, const char *detail)
{
	if (path)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("file \"%s\" of \"%s\" changed while it was being uploaded", path, src->name),
				 errdetail("%s; nothing was committed.", detail),
				 errhint("Upload again once the source is no longer being written.")));
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("\"%s\" changed while it was being uploaded", src->name),
			 errdetail("%s; nothing was committed.", detail),
			 errhint("Upload again once the source is no longer being written.")));
}

/* Store the batch's files, then let the source check that none changed while it was read. */
static void
store_batch(DesUploadSource *src, DesUploadBatch *b, DesChunkStore *cs, int64 repo_id)
{
	if (b->n == 0)
		return;
	src->load(src, b);
	DesChunkStorePutFiles(cs, repo_id, b->in, b->n);
	if (src->release)
		src->release(src, b);
	src->check(src, b);
	for (int i = 0; i < b->n; i++)
	{
		memcpy(b->items[i]->hash, b->in[i].hash, DES_TREE_HASH_BYTES);
		b->items[i]->size = b->in[i].len;
	}
	DesUploadProgressAdd(b->n, b->bytes);
	b->n = 0;
	b->bytes = 0;
}

/* Every file of the upload, batch by batch; nothing a source holds outlives an error. */
static void
store_all(DesUploadSource *src, DesUpload *u, DesChunkStore *cs, int64 repo_id)
{
	DesUploadBatch *batch = palloc0(sizeof(DesUploadBatch));
	MemoryContext batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "des.bundle_upload batch",
													ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = CurrentMemoryContext;

	PG_TRY();
	{
		MemoryContextSwitchTo(batch_cxt);
		for (size_t i = 0; i < u->n; i++)
		{
			DesUploadItem *it = &u->items[i];

			CHECK_FOR_INTERRUPTS();
			if (it->kind != DES_TREE_FILE)
				continue;
			if (batch->n == DES_UPLOAD_BATCH_FILES ||
				(batch->n > 0 && batch->bytes + it->size > DES_UPLOAD_BATCH_BYTES))
			{
				store_batch(src, batch, cs, repo_id);
				MemoryContextReset(batch_cxt);
			}
			batch->items[batch->n] = it;
			batch->held[batch->n] = NULL;
			batch->n++;
			batch->bytes += it->size;
		}
		store_batch(src, batch, cs, repo_id);
	}
	PG_FINALLY();
	{
		MemoryContextSwitchTo(old);
		if (src->release)
			src->release(src, batch);
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
	DesUpload	u;
	DesUploadSource *src;
	char	   *repo_name,
			   *branch,
			   *message,
			   *label;
	char		id_hex[DES_TREE_HEX_LEN + 1];
	text	   *result;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("des.bundle_upload needs a repository, a branch, a source and a message")));
	repo_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	branch = text_to_cstring(PG_GETARG_TEXT_PP(1));
	memset(&u, 0, sizeof(u));
	message = text_to_cstring(PG_GETARG_TEXT_PP(3));
	label = PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4));

	/* as the caller: the right to read the source (server files, or S3 with the caller's own credentials) */
	src = DesUploadSourceOpen(text_to_cstring(PG_GETARG_TEXT_PP(2)));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	DesRepoOpen(repo_name, "write", psprintf("upload to repository \"%s\"", repo_name), &repo);
	DesUploadProgressStart(repo_name, branch, src->name);
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
		src->scan(src, &u);
		DesUploadProgressSet(DES_UPLOAD_STORING, u.files, u.bytes);

		/* storing, a batch of files at a time */
		cs = DesChunkStoreCreate(CurrentMemoryContext);
		store_all(src, &u, cs, repo.id);
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
			items[i].size = u.items[i].kind == DES_TREE_FILE ? u.items[i].size : 0;
			memcpy(items[i].hash, u.items[i].hash, DES_TREE_HASH_BYTES);
			if (u.items[i].kind == DES_TREE_FILE)
				total += u.items[i].size;
		}
		if (!des_tree_build(items, u.n, DesCollectDir, dirs, root, &err))
			DesReportTreeError(&err, "could not build the tree of the upload");
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
		DesLogWrite(&scope, &repo, "upload", "branch", branch, "bundle", id_hex, "source", src->name,
					"files", psprintf(UINT64_FORMAT, u.files), "bytes", psprintf(UINT64_FORMAT, total), NULL);
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
