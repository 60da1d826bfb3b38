/*
 * trees.c - the directories of a repo's bundles, fetched from
 * des.dataset_dirs (each checked against its hash) or kept in memory (a
 * branch's staged view), and lookups of paths in them.
 *
 * The core's tree code calls back for directories (des_tree_update); those
 * callbacks must not raise errors, so the directories it will ask for are
 * fetched beforehand (DesTreePreload) and the callback only looks them up.
 */
#include "pg_des.h"
#include "datasets/datasets.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

typedef struct KeptDir
{
	unsigned char hash[DES_TREE_HASH_BYTES];	/* the key */
	unsigned char *data;
	size_t		len;
} KeptDir;

struct DesTreeReader
{
	int64		repo_id;
	MemoryContext cxt;
	HTAB	   *dirs;
	bool		fresh;			/* fetch with a new snapshot (a commit, after waiting for the branch) */
};

DesTreeReader *
DesTreeReaderCreate(int64 repo_id)
{
	DesTreeReader *tr = palloc0(sizeof(DesTreeReader));
	HASHCTL		ctl;

	tr->repo_id = repo_id;
	tr->cxt = CurrentMemoryContext;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = DES_TREE_HASH_BYTES;
	ctl.entrysize = sizeof(KeptDir);
	ctl.hcxt = tr->cxt;
	ctl.hash = DesBlake2bKeyHash;
	tr->dirs = hash_create("pg_des directories", 64, &ctl, HASH_ELEM | HASH_FUNCTION | HASH_CONTEXT);
	return tr;
}

void
DesTreeReaderFresh(DesTreeReader *tr)
{
	tr->fresh = true;
}

void
DesTreeReaderKeep(DesTreeReader *tr, const unsigned char hash[DES_TREE_HASH_BYTES],
				  const unsigned char *encoding, size_t len)
{
	bool		found;
	KeptDir    *k = hash_search(tr->dirs, hash, HASH_ENTER, &found);

	if (found)
		return;
	k->data = MemoryContextAlloc(tr->cxt, Max(len, 1));
	memcpy(k->data, encoding, len);
	k->len = len;
}

/* The core's callback: only directories already kept. */
bool
DesTreeLoad(void *arg, const unsigned char hash[DES_TREE_HASH_BYTES],
			const unsigned char **data, size_t *len, des_error *err)
{
	DesTreeReader *tr = arg;
	bool		found;
	KeptDir    *k = hash_search(tr->dirs, hash, HASH_FIND, &found);

	if (!found)
	{
		char		hex[DES_TREE_HEX_LEN + 1];

		des_tree_hex(hash, hex);
		return des_fail(err, DES_E_NOT_FOUND, "directory %s was not fetched", hex);
	}
	*data = k->data;
	*len = k->len;
	return true;
}

/* Fetch the directories of hashes not kept yet: one query. Run as the owner. */
static void
fetch_dirs(DesTreeReader *tr, DesDatumVec *want)
{
	Oid			types[2] = {INT8OID, BYTEAARRAYOID};
	Datum		args[2];

	if (want->n == 0)
		return;
	args[0] = Int64GetDatum(tr->repo_id);
	args[1] = DesVecArray(want, BYTEAOID);
	DesSpiExec("SELECT d.hash, d.encoding FROM des.dataset_dirs d WHERE d.repo_id = $1 AND d.hash = ANY ($2)",
			   2, types, args, NULL, !tr->fresh, SPI_OK_SELECT);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		unsigned char h[DES_TREE_HASH_BYTES];
		unsigned char check[DES_TREE_HASH_BYTES];
		bytea	   *enc;

		DesByteaHash(DatumGetByteaPP(DesSpiGet(r, "hash", &isnull)), h);
		enc = DatumGetByteaPP(DesSpiGet(r, "encoding", &isnull));
		des_tree_hash(VARDATA_ANY(enc), VARSIZE_ANY_EXHDR(enc), check);
		if (memcmp(h, check, DES_TREE_HASH_BYTES) != 0)
		{
			char		hex[DES_TREE_HEX_LEN + 1];

			des_tree_hex(h, hex);
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("stored directory %s does not have its hash", hex),
					 errhint("des.verify_bundle checks a whole bundle.")));
		}
		DesTreeReaderKeep(tr, h, (const unsigned char *) VARDATA_ANY(enc), VARSIZE_ANY_EXHDR(enc));
	}
}

/* A kept or stored directory, decoded (the caller frees it with des_tree_dir_free). */
void
DesTreeGet(DesTreeReader *tr, const unsigned char hash[DES_TREE_HASH_BYTES], des_tree_dir *dir)
{
	const unsigned char *data;
	size_t		len;
	des_error	err;

	if (!DesTreeLoad(tr, hash, &data, &len, &err))
	{
		DesDatumVec want = {0};

		DesVecPush(&want, PointerGetDatum(DesHashBytea(hash)));
		fetch_dirs(tr, &want);
		if (!DesTreeLoad(tr, hash, &data, &len, &err))
		{
			char		hex[DES_TREE_HEX_LEN + 1];

			des_tree_hex(hash, hex);
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("directory %s of repository " INT64_FORMAT " is not stored", hex, tr->repo_id)));
		}
	}
	if (!des_tree_dir_decode(data, len, dir, &err))
		DesReportTreeError(&err, "stored directory");
}

/* The entry named name[0..len) of a decoded directory, by binary search. */
const des_tree_entry *
DesTreeFind(const des_tree_dir *dir, const char *name, size_t len)
{
	size_t		lo = 0,
				hi = dir->count;

	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;
		const des_tree_entry *e = &dir->entries[mid];
		size_t		n = Min(e->name_len, len);
		int			c = memcmp(e->name, name, n);

		if (c == 0)
			c = (e->name_len > len) - (e->name_len < len);
		if (c == 0)
			return e;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * Fetch, level by level (one query per level), every directory on the way
 * to each path: what des_tree_update reads for edits of these paths, and
 * the directory at a path itself.
 */
void
DesTreePreload(DesTreeReader *tr, const unsigned char root[DES_TREE_HASH_BYTES], char **paths, int n)
{
	unsigned char (*at)[DES_TREE_HASH_BYTES];	/* per path: the directory reached so far */
	bool	   *live;
	size_t	   *pos;
	bool		more = true;

	if (n == 0)
		return;
	at = palloc(sizeof(*at) * n);
	live = palloc(sizeof(bool) * n);
	pos = palloc0(sizeof(size_t) * n);
	for (int i = 0; i < n; i++)
	{
		memcpy(at[i], root, DES_TREE_HASH_BYTES);
		live[i] = true;
	}
	while (more)
	{
		DesDatumVec want = {0};

		CHECK_FOR_INTERRUPTS();
		for (int i = 0; i < n; i++)
		{
			const unsigned char *d;
			size_t		l;
			des_error	err;

			if (live[i] && !DesTreeLoad(tr, at[i], &d, &l, &err))
				DesVecPush(&want, PointerGetDatum(DesHashBytea(at[i])));
		}
		fetch_dirs(tr, &want);
		more = false;
		for (int i = 0; i < n; i++)
		{
			des_tree_dir dir;
			const des_tree_entry *e;
			const char *seg;
			size_t		seglen;
			const unsigned char *d;
			size_t		l;
			des_error	err;

			if (!live[i])
				continue;
			if (!DesTreeLoad(tr, at[i], &d, &l, &err))
			{
				live[i] = false;	/* not stored: DesTreeGet reports it if it is read */
				continue;
			}
			if (paths[i][pos[i]] == '\0')
			{
				live[i] = false;
				continue;
			}
			seg = paths[i] + pos[i];
			seglen = strcspn(seg, "/");
			if (!des_tree_dir_decode(d, l, &dir, &err))
				DesReportTreeError(&err, "stored directory");
			e = DesTreeFind(&dir, seg, seglen);
			if (e && e->kind == DES_TREE_DIR)
			{
				memcpy(at[i], e->hash, DES_TREE_HASH_BYTES);
				pos[i] += seglen + (seg[seglen] == '/' ? 1 : 0);
				if (seg[seglen] == '\0')
					pos[i] = strlen(paths[i]);
				more = true;
			}
			else
				live[i] = false;
			des_tree_dir_free(&dir);
		}
	}
}

/*
 * Look path up under root: true and *entry (its name pointing into path)
 * if it exists, as a file or a directory.
 */
bool
DesTreeLookup(DesTreeReader *tr, const unsigned char root[DES_TREE_HASH_BYTES], const char *path,
			  des_tree_entry *entry)
{
	unsigned char at[DES_TREE_HASH_BYTES];
	const char *seg = path;

	memcpy(at, root, DES_TREE_HASH_BYTES);
	for (;;)
	{
		des_tree_dir dir;
		const des_tree_entry *e;
		size_t		seglen = strcspn(seg, "/");
		bool		last = seg[seglen] == '\0';

		CHECK_FOR_INTERRUPTS();
		DesTreeGet(tr, at, &dir);
		e = DesTreeFind(&dir, seg, seglen);
		if (e == NULL || (!last && e->kind != DES_TREE_DIR))
		{
			des_tree_dir_free(&dir);
			return false;
		}
		if (last)
		{
			*entry = *e;
			entry->name = seg;
			des_tree_dir_free(&dir);
			return true;
		}
		memcpy(at, e->hash, DES_TREE_HASH_BYTES);
		des_tree_dir_free(&dir);
		seg += seglen + 1;
	}
}

/* The empty tree's root, kept in tr (it is stored nowhere until a bundle names it). */
void
DesTreeReaderKeepEmpty(DesTreeReader *tr, unsigned char root[DES_TREE_HASH_BYTES])
{
	des_buf		empty = {0};
	des_error	err;

	if (!des_tree_dir_encode(NULL, 0, &empty, &err))
		DesReportTreeError(&err, NULL);
	des_tree_hash(empty.data, empty.len, root);
	DesTreeReaderKeep(tr, root, empty.data, empty.len);
	des_buf_free(&empty);
}

/* The root of the branch's head: false if it has no commit (or does not exist). Run as the owner. */
bool
DesBranchHeadRoot(const DesRepo *repo, const char *branch, unsigned char root[DES_TREE_HASH_BYTES])
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		args[2];
	bool		isnull;

	args[0] = Int64GetDatum(repo->id);
	args[1] = CStringGetTextDatum(branch);
	DesSpiExec("SELECT b.root FROM des.dataset_branches h JOIN des.dataset_bundles b ON b.repo_id = h.repo_id AND b.id = h.head "
			   "WHERE h.repo_id = $1 AND h.name = $2", 2, types, args, NULL, true, SPI_OK_SELECT);
	if (SPI_processed == 0)
		return false;
	DesByteaHash(DatumGetByteaPP(DesSpiGet(0, "root", &isnull)), root);
	return true;
}

/* Does the head of the branch have path (a file or a directory)? Run as the owner. */
bool
DesBranchHeadHas(const DesRepo *repo, const char *branch, const char *path)
{
	unsigned char root[DES_TREE_HASH_BYTES];
	des_tree_entry e;

	if (!DesBranchHeadRoot(repo, branch, root))
		return false;
	return DesTreeLookup(DesTreeReaderCreate(repo->id), root, path, &e);
}

/* A path as the tree rules want it (42602 with the offending byte). */
void
DesCheckPath(const char *path)
{
	des_error	err;
	size_t		bad;

	if (!des_tree_path_check(path, strlen(path), &bad, &err))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid path \"%s\": %s", path, err.message),
				 errhint("Paths are relative to the bundle root: segments separated by \"/\", none empty, \".\" or \"..\".")));
}

bytea *
DesContentChunks(int64 repo_id, const unsigned char hash[DES_TREE_HASH_BYTES])
{
	Oid			types[2] = {INT8OID, BYTEAOID};
	Datum		args[2];
	bool		isnull;
	bytea	   *list;
	unsigned char check[DES_TREE_HASH_BYTES];

	args[0] = Int64GetDatum(repo_id);
	args[1] = PointerGetDatum(DesHashBytea(hash));
	DesSpiExec("SELECT c.chunks FROM des.dataset_contents c WHERE c.repo_id = $1 AND c.hash = $2",
			   2, types, args, NULL, true, SPI_OK_SELECT);
	if (SPI_processed == 0)
	{
		char		hex[DES_TREE_HEX_LEN + 1];

		des_tree_hex(hash, hex);
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the chunk list of content %s is not stored", hex)));
	}
	list = DatumGetByteaPCopy(DesSpiGet(0, "chunks", &isnull));
	des_tree_hash(VARDATA_ANY(list), VARSIZE_ANY_EXHDR(list), check);
	if (memcmp(check, hash, DES_TREE_HASH_BYTES) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("a stored chunk list does not have its content hash")));
	return list;
}

/*
 * The chunk lists of the contents hashes (bytea Datums) of the repo, each
 * checked against its hash: one query. When r is given, where all their
 * chunks are is looked up too (one more query). A content with no stored
 * list is absent from the result (the caller names what it was reading).
 */
HTAB *
DesContentLists(int64 repo_id, const DesDatumVec *hashes, DesChunkReader *r)
{
	Oid			types[2] = {INT8OID, BYTEAARRAYOID};
	Datum		args[2];
	HTAB	   *lists;
	HASHCTL		ctl;
	uint64		rows;
	SPITupleTable *tt;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = DES_TREE_HASH_BYTES;
	ctl.entrysize = sizeof(DesContentList);
	ctl.hcxt = CurrentMemoryContext;
	ctl.hash = DesBlake2bKeyHash;
	if (hashes->n == 0)
		return hash_create("pg_des chunk lists", 16, &ctl, HASH_ELEM | HASH_FUNCTION | HASH_CONTEXT);
	args[0] = Int64GetDatum(repo_id);
	args[1] = DesVecArray(hashes, BYTEAOID);
	DesSpiExec("SELECT c.hash, c.chunks FROM des.dataset_contents c WHERE c.repo_id = $1 AND c.hash = ANY ($2)",
			   2, types, args, NULL, true, SPI_OK_SELECT);
	rows = SPI_processed;
	tt = SPI_tuptable;
	lists = hash_create("pg_des chunk lists", Max(rows, 16), &ctl, HASH_ELEM | HASH_FUNCTION | HASH_CONTEXT);
	for (uint64 row = 0; row < rows; row++)
	{
		bool		isnull;
		unsigned char h[DES_TREE_HASH_BYTES];
		unsigned char check[DES_TREE_HASH_BYTES];
		DesContentList *l;
		bytea	   *list = DatumGetByteaPCopy(SPI_getbinval(tt->vals[row], tt->tupdesc, 2, &isnull));

		DesByteaHash(DatumGetByteaPP(SPI_getbinval(tt->vals[row], tt->tupdesc, 1, &isnull)), h);
		des_tree_hash(VARDATA_ANY(list), VARSIZE_ANY_EXHDR(list), check);
		if (memcmp(check, h, DES_TREE_HASH_BYTES) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("a stored chunk list does not have its content hash")));
		l = hash_search(lists, h, HASH_ENTER, NULL);
		l->list = list;
	}
	SPI_freetuptable(tt);
	if (r)
	{
		HASH_SEQ_STATUS it;
		DesContentList *l;

		hash_seq_init(&it, lists);
		while ((l = hash_seq_search(&it)) != NULL)
			DesChunkReaderCollect(r, (const unsigned char *) VARDATA_ANY(l->list), VARSIZE_ANY_EXHDR(l->list));
		DesChunkReaderLocatePending(r);
	}
	return lists;
}
