/*
 * datasets.h - the datasets area: versioned datasets. The tenancy (contexts,
 * repos, grants) is mostly SQL (src/sql/api/65_tenancy.sql); versions
 * (bundles, trees, branches, labels, staging, reads) are C over the catalog
 * of src/sql/catalog/68_versioning.sql.
 *
 * Every function that reads or writes versions checks the caller's level on
 * the repo first (as the caller: row-level security and des_internal.
 * require_level), then works as the extension's owner, which alone writes
 * those tables. Queries run as the owner qualify every name.
 */
#ifndef DES_DATASETS_H
#define DES_DATASETS_H

#include "pg_des.h"

#include <sys/types.h>
#include <time.h>

#include "lib/stringinfo.h"
#include "utils/date.h"
#include "utils/hsearch.h"

#include "des/chunk/des_chunker.h"
#include "des/tree/des_tree.h"
#include "workers/workers.h"	/* DesSpiGet, DesDatumVec */

/* ---- repo_access.c ---- */

typedef struct DesRepo
{
	int64		id;
	int64		context_id;
	char	   *name;
	char	   *default_branch;
} DesRepo;

/*
 * The repo named name as the caller sees it, if the caller has level
 * ("read", "write" or "admin") on it: 42704 if it cannot see it, 42501 if
 * its level is lower. what completes "permission denied to ...". Needs SPI.
 */
extern void DesRepoOpen(const char *name, const char *level, const char *what, DesRepo *repo);
/* Forget the repos opened in this statement (tenancy.c calls it with its level cache). */
extern void DesRepoCacheReset(void);

/* The caller's and the owner's user ids while working as the owner. */
typedef struct DesOwnerScope
{
	Oid			save_user;
	int			save_sec;
	Oid			caller;
	char	   *caller_name;	/* for the logs */
	bool		active;
} DesOwnerScope;

/* Work as the extension's owner in a security-restricted operation. */
extern void DesOwnerBegin(DesOwnerScope *scope);
extern void DesOwnerEnd(DesOwnerScope *scope);
extern Oid	DesExtensionOwner(void);

/* Rows of des.write_log and des.read_log, as the owner, for the caller. */
/* the detail: key, value, key, value, ..., NULL (strings; a JSON object) */
extern void DesLogWrite(const DesOwnerScope *scope, const DesRepo *repo, const char *action,...);
extern void DesLogRead(const DesOwnerScope *scope, const DesRepo *repo, const char *ref,
					   const unsigned char *bundle_id, const char *path, const char *function);

/* Execute a query with arguments; errors unless it gives expected (SPI_OK_*). */
extern void DesSpiExec(const char *query, int nargs, Oid *types, Datum *args, const char *nulls,
					   bool read_only, int expected);

/* HASHCTL.hash for keys that are BLAKE2b-256 hashes (HASH_FUNCTION instead of HASH_BLOBS) */
extern uint32 DesBlake2bKeyHash(const void *key, Size keysize);

/* bytea of 32 raw bytes, and back (errors unless the bytea has 32 bytes). */
extern bytea *DesHashBytea(const unsigned char hash[DES_TREE_HASH_BYTES]);
extern void DesByteaHash(bytea *b, unsigned char hash[DES_TREE_HASH_BYTES]);

/* Report a core error of the tree code with a SQLSTATE that fits it. */
extern void DesReportTreeError(const des_error *err, const char *context) pg_attribute_noreturn();

/* ---- chunk_store.c: file contents as chunks in containers ---- */

typedef struct DesChunkStore DesChunkStore;

/*
 * A writer of chunks into containers of the storage root (directory
 * "datasets/" there), created in cxt: a reset of cxt aborts an unfinished
 * container and removes its file. Run as the owner, with SPI connected.
 */
extern DesChunkStore *DesChunkStoreCreate(MemoryContext cxt);

/*
 * Chunk data, store the chunks not stored yet, record its chunk list in
 * des.dataset_contents of repo_id (once). Gives the content hash and size.
 */
extern void DesChunkStorePutFile(DesChunkStore *cs, int64 repo_id, const unsigned char *data, size_t len,
								 unsigned char content_hash[DES_TREE_HASH_BYTES]);

/* A batch of files to store: their bytes in, their content hashes out. */
typedef struct DesFileIn
{
	const unsigned char *data;
	size_t		len;
	unsigned char hash[DES_TREE_HASH_BYTES];
} DesFileIn;
extern void DesChunkStorePutFiles(DesChunkStore *cs, int64 repo_id, DesFileIn *files, int n);

/* Finish the open container and record it and its blobs (call before committing). */
extern void DesChunkStoreFinish(DesChunkStore *cs);

/*
 * Compaction: the store's blobs are copies of blobs living in the
 * containers from (bigint[]); finishing re-points those rows at the new
 * container (origin 'compaction', of that day) instead of inserting rows.
 */
extern void DesChunkStoreCompactInto(DesChunkStore *cs, Datum from_containers, DateADT day);
/* Write one blob's bytes (its id given: verified by whoever read them). */
extern void DesChunkStorePutBlob(DesChunkStore *cs, const unsigned char hash[DES_TREE_HASH_BYTES],
								 const unsigned char *data, size_t len);

/* Chunks of a buffer, with ids (errors are raised). */
typedef struct DesChunkList
{
	des_chunk  *chunks;
	size_t		n;
	size_t		cap;
} DesChunkList;
extern void DesChunkBuffer(const des_chunk_params *params, const unsigned char *data, size_t len, DesChunkList *l);
extern bool DesCollectChunk(void *ctx, const des_chunk *chunk, des_error *err);

/* des.storage_server, and a storage location with it (S3) */
extern char *des_storage_server;
extern DesLocation *DesStorageLocation(const char *location);
extern void DesDatasetsDefineSettings(void);

/* The chunker parameters of new bundles (docs/chunking.md). */
extern void DesChunkerParams(des_chunker_params *p);

/* Where a chunk is: its des.blobs row and its container's location. */
typedef struct DesChunkPlace
{
	unsigned char hash[DES_TREE_HASH_BYTES];	/* the key: the chunk's id */
	char	   *location;
	char	   *entry;
	int64		offset;
	int64		stored;
	int32		flags;
} DesChunkPlace;

/* The places of the chunks ids (bytea): one query; a chunk not stored has none. */
extern HTAB *DesChunkPlaces(const DesDatumVec *ids);

typedef enum DesChunkCheck
{
	DES_CHUNK_OK,
	DES_CHUNK_BAD_PLACE,		/* its des.blobs row does not fit the chunk or the container */
	DES_CHUNK_BAD_BYTES			/* the bytes read do not hash to its id */
} DesChunkCheck;

/*
 * Read one chunk (length: from its chunk list) into dest and check it
 * against its id; not OK: *problem says what is wrong. Storage errors (a
 * missing or short container) are raised.
 */
extern DesChunkCheck DesReadChunk(const DesChunkPlace *place, uint32 length, unsigned char *dest, char **problem);

/*
 * A reader of chunks: where they are (one query per batch of ids), local
 * containers kept open between reads. Each chunk read is verified.
 */
typedef struct DesChunkReader DesChunkReader;
extern DesChunkReader *DesChunkReaderCreate(void);
extern void DesChunkReaderLocate(DesChunkReader *r, const unsigned char *ids, size_t n);
extern void DesChunkReaderLocateFile(DesChunkReader *r, const unsigned char *list, size_t list_len);
/* Note the chunks of a chunk list to locate, then locate all noted at once (one query). */
extern void DesChunkReaderCollect(DesChunkReader *r, const unsigned char *list, size_t list_len);
extern void DesChunkReaderLocatePending(DesChunkReader *r);
extern void DesChunkReaderRead(DesChunkReader *r, const unsigned char id[DES_TREE_HASH_BYTES], uint32 length,
							   unsigned char *dest);
extern void DesChunkReaderReadRange(DesChunkReader *r, const unsigned char *list, size_t list_len, uint64 offset,
									uint64 length, StringInfo out);
extern void DesChunkReaderEnd(DesChunkReader *r);

/*
 * The bytes [offset, offset + length) of the file whose chunk list is the
 * DESF encoding list (validated), appended to out. Reads only the chunks
 * covering the range, each verified against its id.
 */
extern void DesReadFileRange(const unsigned char *list, size_t list_len, uint64 offset, uint64 length,
							 StringInfo out);

/* ---- trees.c: directories and chunk lists of a repo ---- */

/* A directory's encoding by hash (palloc'd), from dirs kept in memory first, then des.dataset_dirs. */
typedef struct DesTreeReader DesTreeReader;
extern DesTreeReader *DesTreeReaderCreate(int64 repo_id);
extern bool DesTreeLoad(void *arg, const unsigned char hash[DES_TREE_HASH_BYTES],
						const unsigned char **data, size_t *len, des_error *err);
/* Fetch with a new snapshot per query (a commit: what the commit it waited for wrote). */
extern void DesTreeReaderFresh(DesTreeReader *tr);
/* Keep a directory in memory (a branch's staged view, not stored). */
extern void DesTreeReaderKeep(DesTreeReader *tr, const unsigned char hash[DES_TREE_HASH_BYTES],
							  const unsigned char *encoding, size_t len);
/* A kept or stored directory, decoded: free it with des_tree_dir_free. */
extern void DesTreeGet(DesTreeReader *tr, const unsigned char hash[DES_TREE_HASH_BYTES], des_tree_dir *dir);
/* The entry of a decoded directory named name[0..len), or NULL. */
extern const des_tree_entry *DesTreeFind(const des_tree_dir *dir, const char *name, size_t len);
/* Fetch the directories on the way to each path (level by level), for des_tree_update. */
extern void DesTreePreload(DesTreeReader *tr, const unsigned char root[DES_TREE_HASH_BYTES], char **paths, int n);
/* path under root: true and its entry (name pointing into path) if present. */
extern bool DesTreeLookup(DesTreeReader *tr, const unsigned char root[DES_TREE_HASH_BYTES], const char *path,
						  des_tree_entry *entry);
/* The empty tree's root, kept in tr. */
extern void DesTreeReaderKeepEmpty(DesTreeReader *tr, unsigned char root[DES_TREE_HASH_BYTES]);
/* The root of the branch's head; false if it has no commit. Run as the owner. */
extern bool DesBranchHeadRoot(const DesRepo *repo, const char *branch, unsigned char root[DES_TREE_HASH_BYTES]);
/* 42602 unless path follows the path rules (docs/versioning-format.md). */
extern void DesCheckPath(const char *path);
/* Does the head of the branch have path? Run as the owner. */
extern bool DesBranchHeadHas(const DesRepo *repo, const char *branch, const char *path);
/* 42704 unless the branch exists. Run as the owner. */
extern void DesRequireBranch(const DesRepo *repo, const char *branch);

/* A content's chunk list (DESF), by content hash. */
typedef struct DesContentList
{
	unsigned char hash[DES_TREE_HASH_BYTES];	/* the key */
	bytea	   *list;
} DesContentList;
/* The chunk lists of many contents (one query), checked; with r, their chunks located (one more). */
extern HTAB *DesContentLists(int64 repo_id, const DesDatumVec *hashes, DesChunkReader *r);

/* The chunk list (DESF) of a content hash of the repo; errors if absent. */
extern bytea *DesContentChunks(int64 repo_id, const unsigned char hash[DES_TREE_HASH_BYTES]);

/* ---- commit.c ---- */

/*
 * Apply the staged changes of a branch to head_root (NULL: the empty tree),
 * giving root_out and *total; store: lock the staged rows, insert the new
 * directories and give the staged paths (text[]) in *paths; otherwise keep
 * the directories in tr only. Returns how many changes were staged.
 */
extern int64 DesApplyStaged(const DesRepo *repo, const char *branch, DesTreeReader *tr,
							const unsigned char *head_root, bool store, unsigned char root_out[DES_TREE_HASH_BYTES],
							uint64 *total, Datum *paths);
/* des_tree_build/update's store callback collecting directories into a des_buf (arg) */
extern bool DesCollectDir(void *arg, const char *path, size_t path_len, const unsigned char *encoding,
						  size_t encoding_len, const unsigned char hash[DES_TREE_HASH_BYTES], uint64_t total_size,
						  des_error *err);
/* Insert the collected directories (store) and keep them in tr (if not NULL). Run as the owner. */
extern void DesStoreDirs(const DesRepo *repo, DesTreeReader *tr, const des_buf *dirs, bool store);

/* A branch locked for a change: its head and the head's root. */
typedef struct DesBranchState
{
	bool		has_head;
	bool		protected;
	unsigned char head[DES_TREE_HASH_BYTES];
	unsigned char head_root[DES_TREE_HASH_BYTES];
} DesBranchState;
extern void DesLockBranch(const DesRepo *repo, const char *branch, bool allow_protected, DesBranchState *out);
extern void DesMakeBundle(const DesOwnerScope *scope, const DesRepo *repo, const unsigned char root[DES_TREE_HASH_BYTES],
						  uint64 total, const unsigned char *parents, int nparents, const char *message,
						  unsigned char id[DES_TREE_HASH_BYTES]);
extern void DesMoveBranch(const DesOwnerScope *scope, const DesRepo *repo, const char *branch,
						  const unsigned char *old_head, const unsigned char new_head[DES_TREE_HASH_BYTES],
						  const char *reason);

/* 42602 unless name is a valid label name. Needs SPI. */
extern void DesCheckLabelName(const char *name);

/* Move (or create) a label, with its history and the write log. */
extern void DesLabelMove(const DesOwnerScope *scope, const DesRepo *repo, const char *label,
						 const unsigned char bundle[DES_TREE_HASH_BYTES]);

/* ---- upload.c, upload_sources.c: des.bundle_upload ---- */

/* One file or directory of an upload, as its source listed it. */
typedef struct DesUploadItem
{
	char	   *path;			/* in the bundle */
	uint8		kind;			/* DES_TREE_FILE or DES_TREE_DIR */
	uint32		mode;
	uint64		size;			/* files: bytes */
	union
	{
		struct
		{
			struct timespec mtime;
			struct timespec ctime;
			ino_t		ino;
		}			file;		/* a directory's file, as scanned */
		uint64		entry;		/* an archive's entry index */
		struct
		{
			char	   *key;
			char	   *etag;
		}			object;		/* an S3 object, as listed */
	}			src;
	unsigned char hash[DES_TREE_HASH_BYTES];	/* files: content hash, once stored */
} DesUploadItem;

typedef struct DesUpload
{
	DesUploadItem *items;
	size_t		n;
	size_t		cap;
	uint64		files;
	uint64		bytes;
} DesUpload;

extern void DesUploadAddItem(DesUpload *u, const DesUploadItem *it);

/* files per batch, and bytes read per batch (a larger file is a batch of its own) */
#define DES_UPLOAD_BATCH_FILES 512
#define DES_UPLOAD_BATCH_BYTES (64 * 1024 * 1024)

/* Files read and stored together: their bytes are in memory (or mapped) at once. */
typedef struct DesUploadBatch
{
	int			n;
	uint64		bytes;
	DesUploadItem *items[DES_UPLOAD_BATCH_FILES];
	DesFileIn	in[DES_UPLOAD_BATCH_FILES];
	void	   *held[DES_UPLOAD_BATCH_FILES];	/* what the source must release (a mapping) */
} DesUploadBatch;

/*
 * Where an upload reads from: a server directory, a DES archive (local or
 * S3) or an S3 prefix. Opened as the caller (access checks, the caller's S3
 * credentials); scanned and read as the extension's owner. scan lists every
 * item (all checked before a byte is stored); load fills in[] of a batch,
 * allocating in the current memory context (reset after each batch); check
 * runs after the batch is stored and raises if a file changed meanwhile;
 * release (optional) frees what load holds and also runs on errors.
 */
typedef struct DesUploadSource DesUploadSource;
struct DesUploadSource
{
	const char *name;			/* as given */
	void		(*scan) (DesUploadSource *src, DesUpload *u);
	void		(*load) (DesUploadSource *src, DesUploadBatch *b);
	void		(*check) (DesUploadSource *src, DesUploadBatch *b);
	void		(*release) (DesUploadSource *src, DesUploadBatch *b);
	void	   *state;
};

/* The source named by source; raises unless the caller may read it. Call as the caller. */
extern DesUploadSource *DesUploadSourceOpen(const char *source);

/* 55000: path (NULL: the whole source) changed while it was being uploaded. */
extern void DesUploadChanged(const DesUploadSource *src, const char *path, const char *detail)
			pg_attribute_noreturn();

/* ---- progress.c: running uploads, for des.stat_uploads ---- */

typedef enum DesUploadPhase
{
	DES_UPLOAD_SCANNING = 0,
	DES_UPLOAD_STORING,
	DES_UPLOAD_COMMITTING
} DesUploadPhase;

extern Size DesUploadProgressShmemSize(void);
extern void DesUploadProgressShmemStartup(void);
extern void DesUploadProgressStart(const char *repo, const char *branch, const char *source);
extern void DesUploadProgressSet(DesUploadPhase phase, uint64 files_total, uint64 bytes_total);
extern void DesUploadProgressAdd(uint64 files, uint64 bytes);
extern void DesUploadProgressEnd(void);

/* ---- refs.c ---- */

typedef enum DesRefKind
{
	DES_REF_BUNDLE,				/* an id or a unique prefix */
	DES_REF_BRANCH,				/* repo/branch: its head plus what is staged */
	DES_REF_BRANCH_AT,			/* repo/branch@{time}: the head then, from the reflog */
	DES_REF_LABEL,				/* repo@label */
	DES_REF_URI					/* gros://repo[/branch][:tag] (docs/lineage.md) */
} DesRefKind;

typedef struct DesResolvedRef
{
	DesRepo		repo;
	DesRefKind	kind;
	char	   *ref;			/* as given */
	char	   *branch;			/* DES_REF_BRANCH(_AT); DES_REF_URI: the URI's, or the default */
	int			tag_kind;		/* DES_REF_URI: its des_uri_tag_kind */
	bool		realtime;		/* DES_REF_URI: no tag (a real-time dependency) */
	bool		has_bundle;		/* false: a branch with no commit yet */
	unsigned char bundle[DES_TREE_HASH_BYTES];
	unsigned char root[DES_TREE_HASH_BYTES];	/* what is read: with the staged changes for a branch */
	bool		root_known;		/* (internal) the lookup read the bundle's root already */
	int64		staged;			/* DES_REF_BRANCH: how many staged changes the root includes */
	DesTreeReader *tree;
} DesResolvedRef;

/*
 * Resolve ref for the caller (level "read" or more on its repo) and give
 * the root to read; for a branch with_staged, the staged changes are
 * applied in memory (without: its head, as for naming a bundle).
 * Needs SPI; runs its lookups as the caller, then as the owner. What out
 * keeps (its tree reader, names) is in the memory context current at the
 * call, which is current again on return (not SPI's procedure memory, where
 * SPI calls return), so a caller may keep it past SPI_finish.
 */
extern void DesResolveRef(const char *ref, const char *level, bool with_staged, DesResolvedRef *out,
						  DesOwnerScope *scope);

/*
 * history_scan.c: a day or position tag's bundle read from the indexes of
 * the branch and history tables directly (as the owner, the active
 * snapshot). Returns false when the branch is missing, has no head, or its
 * history is out of step with it (refs.c's query then reports or rebuilds);
 * otherwise last is the history's last position and found says whether a
 * row was picked (bundle and root).
 */
typedef struct DesHistoryPick
{
	int64		last;
	bool		found;
	unsigned char bundle[DES_TREE_HASH_BYTES];
	unsigned char root[DES_TREE_HASH_BYTES];
} DesHistoryPick;

extern bool DesHistoryPickPosition(int64 repo_id, const char *branch, int64 position, DesHistoryPick *out);
extern bool DesHistoryPickDay(int64 repo_id, const char *branch, TimestampTz from, TimestampTz until,
							  DesHistoryPick *out);

#endif
