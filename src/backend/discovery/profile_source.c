/*
 * profile_source.c - read a dataset from where its materialize spec says and
 * profile it with the core's profiler (src/core/profile/des_profile.c).
 *
 * Kinds of materialize spec (docs/discovery.md "Materialize"):
 *   storage   {"location": "/abs/path" | "s3://bucket/key"}: a file on the
 *             server (pg_read_server_files, as COPY) or an S3 object (the
 *             owner's user mapping of the server), read by ranges
 *   bundle    {"ref": "gros://repo:<bundle id>", "path": "dir/file.csv"}: a
 *             file of a version, through des.read(ref, path, offset, length)
 *             (the owner's read level on the repo)
 *   des       {"location": archive, "name", "data_offset", "stored_size",
 *             "flags"}: an entry of a DES archive (local or S3), read as a
 *             range of the archive with the same rights as storage; an
 *             LZ4-compressed entry is inflated in memory first
 *   object    {"name": "..."}: a pipeline object (des.keep_copy's copies),
 *             through des.get(name)
 *   table     {"relation": "schema.table"}: a table or view read through SPI
 *             with the owner's SELECT right
 * Byte sources are CSV, TSV or JSON lines ("format": "csv", "tsv", "jsonl",
 * or absent: a first non-blank '{' means JSON lines, otherwise the CSV
 * dialect is sniffed).
 * A byte source larger than des.profile_max_bytes is read as seeded random
 * windows of 1 MiB (half of max_bytes when that is less), one per stratum of
 * the file, the first at its start (the header), adding up to max_bytes;
 * the row count is then estimated with bounds. A table larger
 * than that is read with TABLESAMPLE BERNOULLI, seeded.
 *
 * Everything is read with the owner's rights: a role cannot profile what it
 * cannot read. In a profiler worker (in_worker) no transaction spans the
 * profiling: each read of a file of a version, each catalog lookup, runs in
 * a short transaction of its own, and local and S3 reads run outside any.
 * The core profile lives in malloc'd memory released by a reset callback
 * of the memory context it was made in, even when an error ends the run.
 */
#include "pg_des.h"

#include <fcntl.h>
#include <lz4frame.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "des/format/des_format.h"
#include "des/profile/des_csv.h"
#include "des/profile/des_jsonl.h"
#include "des/profile/des_profile.h"
#include "des/profile/des_sample.h"
#include "discovery/discovery.h"
#include "s3/s3.h"
#include "workers/workers.h"

#define PIECE_BYTES (4 * 1024 * 1024)	/* bytes read and fed per step */
#define WINDOW_BYTES (1024 * 1024)		/* one window of a sampled file */
#define SNIFF_BYTES (1024 * 1024)		/* the start of a file the dialect is sniffed from */
#define TABLE_FETCH 1000				/* rows per cursor fetch */

/* ---- the core profile, freed with its memory context ---- */

typedef struct ProfileHolder
{
	des_profile *p;
	MemoryContextCallback cb;
} ProfileHolder;

static void
free_profile(void *arg)
{
	ProfileHolder *h = arg;

	des_profile_destroy(h->p);
	h->p = NULL;
}

/* Raise a core error as an ERROR whose SQLSTATE says the failure kind. */
static void
report_profile_error(const des_error *err, const char *what)
{
	int			code;

	CHECK_FOR_INTERRUPTS();
	switch (err->code)
	{
		case DES_E_TOO_LARGE:
			code = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
			break;
		case DES_E_NOMEM:
			code = ERRCODE_OUT_OF_MEMORY;
			break;
		case DES_E_INVALID_ARGUMENT:
			code = ERRCODE_INVALID_PARAMETER_VALUE;
			break;
		default:
			code = ERRCODE_BAD_COPY_FILE_FORMAT;
			break;
	}
	ereport(ERROR,
			(errcode(code),
			 errmsg("could not profile %s: %s", what, err->message)));
}

static des_profile *
profile_create(const des_profile_options *o)
{
	ProfileHolder *h = palloc0(sizeof(ProfileHolder));
	des_error	err;

	h->p = des_profile_create(o, &err);
	if (h->p == NULL)
		report_profile_error(&err, "the dataset");
	h->cb.func = free_profile;
	h->cb.arg = h;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &h->cb);
	return h->p;
}

/* ---- jsonb members (options, materialize specs, discoverers' configs) ---- */

JsonbValue *
DesJsonbMember(Jsonb *j, const char *key)
{
	JsonbValue	k,
			   *v;

	if (j == NULL || !JB_ROOT_IS_OBJECT(j))
		return NULL;
	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v = findJsonbValueFromContainer(&j->root, JB_FOBJECT, &k);
	return v == NULL || v->type == jbvNull ? NULL : v;
}

/* a number member, or dflt when absent; what names the object for the error */
static double
json_number(Jsonb *j, const char *key, double dflt, const char *what)
{
	JsonbValue *v = DesJsonbMember(j, key);

	if (v == NULL)
		return dflt;
	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%s\" must be a number", what, key)));
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
}

/* a string member of a materialize spec (palloc'd), or NULL */
static char *
json_string(Jsonb *j, const char *key)
{
	JsonbValue *v = DesJsonbMember(j, key);

	if (v == NULL)
		return NULL;
	if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" of a materialize spec must be a string", key)));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

void
DesProfileOptions(Jsonb *overrides, des_profile_options *o, int64 *max_bytes)
{
	double		seed;

	*o = des_profile_options_default();
	o->type_threshold = json_number(overrides, "type_threshold", des_profile_type_threshold, "profile option");
	o->categorical_ratio = json_number(overrides, "categorical_ratio", des_profile_categorical_ratio, "profile option");
	o->free_text_ratio = json_number(overrides, "free_text_ratio", des_profile_free_text_ratio, "profile option");
	o->sample_rows = (uint32_t) Max(0, json_number(overrides, "sample_rows", des_profile_sample_rows, "profile option"));
	seed = json_number(overrides, "seed", 0, "profile option");
	o->seed = seed < 0 ? 0 : (uint64_t) seed;
	*max_bytes = (int64) json_number(overrides, "max_bytes", (double) des_profile_max_kb * 1024, "profile option");
	if (*max_bytes < WINDOW_BYTES)
		*max_bytes = WINDOW_BYTES;
}

/* ---- reading as the owner ---- */

typedef struct AsOwner
{
	Oid			saved_user;
	int			saved_sec;
} AsOwner;

static void
become_owner(Oid owner, AsOwner *s)
{
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(owner)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the owner of the dataset (role %u) no longer exists", owner)));
	GetUserIdAndSecContext(&s->saved_user, &s->saved_sec);
	SetUserIdAndSecContext(owner, s->saved_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
}

static void
become_self(const AsOwner *s)
{
	SetUserIdAndSecContext(s->saved_user, s->saved_sec);
}

/* ---- byte sources ---- */

typedef enum SourceKind
{
	SOURCE_LOCAL,
	SOURCE_S3,
	SOURCE_BUNDLE,
	SOURCE_MEMORY
} SourceKind;

typedef struct ByteSource
{
	SourceKind	kind;
	const char *what;			/* for messages */
	uint64		size;
	Oid			owner;
	bool		in_worker;
	/* local */
	int			fd;
	MemoryContextCallback close_cb;
	uint64		base;			/* a DES entry: where its bytes start in the archive */
	/* S3 */
	DesLocation *loc;
	DesS3Endpoint *ep;
	/* bundle */
	char	   *ref;
	char	   *path;
	/* memory */
	const char *data;
	/* a DES entry */
	bool		is_entry;
	uint64		entry_size;		/* stored bytes */
	bool		compressed;		/* one LZ4 frame */
} ByteSource;

static void
close_fd(void *arg)
{
	ByteSource *s = arg;

	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/* Run fn inside a transaction: the caller's, or in a worker a short one of its own. */
static void
in_transaction(const ByteSource *s, void (*fn) (void *), void *arg)
{
	if (!s->in_worker)
	{
		fn(arg);
		return;
	}
	if (!DesWorkerBegin("pg_des: profiling a dataset"))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_des is not ready (extension missing or server in recovery)")));
	fn(arg);
	DesWorkerCommit();
}

typedef struct ReadCall
{
	ByteSource *s;
	uint64		offset;
	uint64		len;
	char	   *dest;
	uint64		got;
	MemoryContext cxt;
} ReadCall;

/* one range of a file of a version, through des.read as the owner */
static void
read_bundle_range(void *arg)
{
	ReadCall   *c = arg;
	Oid			types[4] = {TEXTOID, TEXTOID, INT8OID, INT8OID};
	Datum		args[4];
	bool		isnull;
	AsOwner		as;
	bytea	   *b;

	args[0] = CStringGetTextDatum(c->s->ref);
	args[1] = CStringGetTextDatum(c->s->path);
	args[2] = Int64GetDatum((int64) c->offset);
	args[3] = Int64GetDatum((int64) c->len);
	become_owner(c->s->owner, &as);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (!DesSpiOneRow("SELECT des.read($1, $2, $3, $4) AS data", 4, types, args, NULL))
		elog(ERROR, "des.read returned no row");
	b = DatumGetByteaPP(DesSpiGet(0, "data", &isnull));
	c->got = isnull ? 0 : Min((uint64) VARSIZE_ANY_EXHDR(b), c->len);
	memcpy(c->dest, VARDATA_ANY(b), c->got);
	SPI_finish();
	become_self(&as);
}

/* Read up to len bytes at offset into dest; the bytes read (fewer only at the end). */
static uint64
source_read(ByteSource *s, uint64 offset, uint64 len, char *dest)
{
	if (offset >= s->size)
		return 0;
	len = Min(len, s->size - offset);
	CHECK_FOR_INTERRUPTS();
	switch (s->kind)
	{
		case SOURCE_MEMORY:
			memcpy(dest, s->data + offset, len);
			return len;
		case SOURCE_LOCAL:
			{
				uint64		done = 0;

				while (done < len)
				{
					ssize_t		n = pread(s->fd, dest + done, len - done, (off_t) (s->base + offset + done));

					if (n < 0)
						ereport(ERROR,
								(errcode_for_file_access(),
								 errmsg("could not read \"%s\": %m", s->what)));
					if (n == 0)
						break;
					done += (uint64) n;
				}
				return done;
			}
		case SOURCE_S3:
			{
				des_error	err;

				DesS3Init();
				if (!DesS3ReadRange(s->ep, s->loc->bucket, s->loc->key, s->loc->original, s->base + offset, len,
									(unsigned char *) dest, &err))
					DesReportError(&err, s->loc->original);
				return len;
			}
		case SOURCE_BUNDLE:
			{
				ReadCall	c = {s, offset, len, dest, 0, CurrentMemoryContext};

				in_transaction(s, read_bundle_range, &c);
				return c.got;
			}
	}
	return 0;
}

/* ---- opening a source from its materialize spec ---- */

typedef struct OpenCall
{
	Jsonb	   *materialize;
	ByteSource *s;
	char	   *relation;		/* a table: its name as regclass text */
	Oid			relid;
	MemoryContext cxt;
} OpenCall;

static void
open_storage(OpenCall *o, const char *location)
{
	ByteSource *s = o->s;
	MemoryContext old = MemoryContextSwitchTo(o->cxt);

	s->loc = DesParseLocation(location);
	s->loc->user = s->owner;
	s->loc->server = json_string(o->materialize, "server");	/* NULL: des.default_server */
	s->what = s->loc->original;
	MemoryContextSwitchTo(old);
	DesCheckReadAccess(s->loc);
	if (s->loc->kind == DES_LOCATION_LOCAL)
	{
		struct stat st;

		s->kind = SOURCE_LOCAL;
		s->fd = open(s->loc->path, O_RDONLY | PG_BINARY | O_CLOEXEC);
		if (s->fd < 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not open \"%s\": %m", s->loc->path)));
		s->close_cb.func = close_fd;
		s->close_cb.arg = s;
		MemoryContextRegisterResetCallback(o->cxt, &s->close_cb);
		if (fstat(s->fd, &st) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not stat \"%s\": %m", s->loc->path)));
		if (S_ISDIR(st.st_mode))
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("\"%s\" is a directory", s->loc->path)));
		s->size = (uint64) st.st_size;
	}
	else
	{
		/* the endpoint (a catalog lookup) here; the HEAD for the size outside any transaction */
		s->kind = SOURCE_S3;
		old = MemoryContextSwitchTo(o->cxt);
		s->ep = DesS3EndpointForLocation(s->loc);
		MemoryContextSwitchTo(old);
	}
}

/* the size of an S3 object: a HEAD (network I/O: never inside a worker's transaction) */
static void
head_s3(ByteSource *s)
{
	DesS3Transfer t;
	des_error	err;

	DesS3Init();
	DesS3TransferInit(&t, DES_S3_HEAD, "HEAD", s->loc->bucket, s->loc->key);
	(void) DesS3Perform(s->ep, &t, 1, 1);
	if (!DesS3Ok(&t))
	{
		DesS3FillError(&t, "HEAD", s->loc->original, &err);
		DesS3TransferFree(&t);
		DesReportError(&err, s->loc->original);
	}
	s->size = t.total_size;
	DesS3TransferFree(&t);
}

static void
open_bundle(OpenCall *o)
{
	ByteSource *s = o->s;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		args[2];
	bool		isnull;
	AsOwner		as;
	Datum		size;

	s->kind = SOURCE_BUNDLE;
	args[0] = CStringGetTextDatum(s->ref);
	args[1] = CStringGetTextDatum(s->path);
	become_owner(s->owner, &as);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (!DesSpiOneRow("SELECT size FROM des.files($1, $2) WHERE path = $2 AND kind = 'file'", 2, types, args, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("version \"%s\" has no file \"%s\"", s->ref, s->path)));
	size = DesSpiGet(0, "size", &isnull);
	s->size = isnull ? 0 : (uint64) DatumGetInt64(size);
	SPI_finish();
	become_self(&as);
}

static void
open_object(OpenCall *o, const char *name)
{
	ByteSource *s = o->s;
	Oid			types[1] = {TEXTOID};
	Datum		args[1];
	bool		isnull;
	AsOwner		as;
	bytea	   *b;
	MemoryContext old;

	s->kind = SOURCE_MEMORY;
	args[0] = CStringGetTextDatum(name);
	become_owner(s->owner, &as);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (!DesSpiOneRow("SELECT des.get($1) AS data", 1, types, args, NULL))
		elog(ERROR, "des.get returned no row");
	b = DatumGetByteaPP(DesSpiGet(0, "data", &isnull));
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("object \"%s\" does not exist", name)));
	old = MemoryContextSwitchTo(o->cxt);
	s->size = VARSIZE_ANY_EXHDR(b);
	s->data = pnstrdup(VARDATA_ANY(b), s->size);
	MemoryContextSwitchTo(old);
	SPI_finish();
	become_self(&as);
}

static void
open_source(void *arg)
{
	OpenCall   *o = arg;
	ByteSource *s = o->s;
	char	   *kind = json_string(o->materialize, "kind");

	if (kind == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a materialize spec needs a \"kind\"")));
	s->fd = -1;
	if (strcmp(kind, "storage") == 0)
	{
		char	   *location = json_string(o->materialize, "location");

		if (location == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a storage materialize spec needs a \"location\"")));
		open_storage(o, location);
	}
	else if (strcmp(kind, "des") == 0)
	{
		/* an entry of a DES archive: a range of the archive object (LZ4-compressed ones inflated after) */
		char	   *location = json_string(o->materialize, "location");
		char	   *name = json_string(o->materialize, "name");
		double		offset = json_number(o->materialize, "data_offset", -1, "materialize field");
		double		size = json_number(o->materialize, "stored_size", -1, "materialize field");
		double		flags = json_number(o->materialize, "flags", 0, "materialize field");

		if (location == NULL || name == NULL || offset < 0 || size < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a des materialize spec needs \"location\", \"name\", \"data_offset\" and \"stored_size\""),
					 errhint("des.archive_list(location) gives them for each entry.")));
		if (((int) flags & ~DES_FLAG_COMPRESSED) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("entry \"%s\" of \"%s\" has flags %d: external or encrypted payloads cannot be profiled",
							name, location, (int) flags)));
		open_storage(o, location);
		s->what = MemoryContextStrdup(o->cxt, psprintf("%s entry %s", location, name));
		s->is_entry = true;
		s->base = (uint64) offset;
		s->entry_size = (uint64) size;
		s->compressed = ((int) flags & DES_FLAG_COMPRESSED) != 0;
	}
	else if (strcmp(kind, "bundle") == 0)
	{
		MemoryContext old = MemoryContextSwitchTo(o->cxt);

		s->ref = json_string(o->materialize, "ref");
		s->path = json_string(o->materialize, "path");
		MemoryContextSwitchTo(old);
		if (s->ref == NULL || s->path == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a bundle materialize spec needs a \"ref\" and a \"path\"")));
		s->what = psprintf("%s %s", s->ref, s->path);
		open_bundle(o);
	}
	else if (strcmp(kind, "object") == 0)
	{
		char	   *name = json_string(o->materialize, "name");

		if (name == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("an object materialize spec needs a \"name\"")));
		s->what = MemoryContextStrdup(o->cxt, name);
		open_object(o, name);
	}
	else if (strcmp(kind, "table") == 0)
	{
		char	   *relation = json_string(o->materialize, "relation");

		if (relation == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a table materialize spec needs a \"relation\"")));
		o->relation = MemoryContextStrdup(o->cxt, relation);
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("materialize kind \"%s\" is not one pg_des can read", kind),
				 errhint("Kinds: storage (a server file or an S3 object), des (an entry of a DES archive), bundle, object, table.")));
	if (s->what == NULL)
		s->what = "the dataset";
}

/*
 * An LZ4-compressed DES entry: its stored bytes read whole, inflated into
 * memory (its declared size at most des.profile_max_bytes: the profile of a
 * larger one would need it all in memory), then profiled from there.
 */
static void
inflate_entry(ByteSource *s, Jsonb *options)
{
	des_profile_options o;
	int64		max_bytes;
	char	   *stored = palloc(Max(s->entry_size, 1));
	LZ4F_dctx  *dctx;
	LZ4F_frameInfo_t info;
	size_t		consumed = s->entry_size;
	size_t		code;
	size_t		in_pos,
				out_pos = 0;
	char	   *out;

	DesProfileOptions(options, &o, &max_bytes);
	if (source_read(s, 0, s->entry_size, stored) != s->entry_size)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s: the archive is shorter than its index says", s->what)));
	if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("cannot create an LZ4 decompression context")));
	code = LZ4F_getFrameInfo(dctx, &info, stored, &consumed);
	if (LZ4F_isError(code) || info.contentSize == 0)
	{
		LZ4F_freeDecompressionContext(dctx);
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s: the LZ4 frame header is invalid or has no content size", s->what)));
	}
	if (info.contentSize > (uint64) max_bytes)
	{
		LZ4F_freeDecompressionContext(dctx);
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s: a compressed entry of " UINT64_FORMAT " bytes is larger than des.profile_max_bytes",
						s->what, (uint64) info.contentSize)));
	}
	out = palloc(Max(info.contentSize, 1));
	in_pos = consumed;
	while (in_pos < s->entry_size)
	{
		size_t		in_sz = s->entry_size - in_pos;
		size_t		out_sz = info.contentSize - out_pos;

		CHECK_FOR_INTERRUPTS();
		code = LZ4F_decompress(dctx, out + out_pos, &out_sz, stored + in_pos, &in_sz, NULL);
		if (LZ4F_isError(code) || (in_sz == 0 && out_sz == 0 && code != 0))
		{
			LZ4F_freeDecompressionContext(dctx);
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("%s: the LZ4 data is corrupt", s->what)));
		}
		in_pos += in_sz;
		out_pos += out_sz;
		if (code == 0)
			break;
	}
	LZ4F_freeDecompressionContext(dctx);
	if (out_pos != info.contentSize)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s: the LZ4 frame is truncated", s->what)));
	s->kind = SOURCE_MEMORY;
	s->data = out;
	s->size = out_pos;
	s->base = 0;
}

/* ---- profiling bytes ---- */

static void
timeout_check(TimestampTz started)
{
	if (des_profile_timeout_ms > 0 &&
		TimestampDifferenceExceeds(started, GetCurrentTimestamp(), des_profile_timeout_ms))
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("profiling took longer than des.profile_timeout (%d ms)", des_profile_timeout_ms)));
}

/*
 * How a format reads a window of the source: begin at a byte offset (not 0:
 * the window starts inside a record), feed pieces, end (at_eof: the last
 * record counts; otherwise the record the window cuts is dropped).
 */
typedef struct Feeder
{
	void		(*begin) (void *state, des_profile *p, uint64 offset);
	void		(*feed) (void *state, des_profile *p, const char *data, size_t len);
	void		(*end) (void *state, des_profile *p, bool at_eof);
	void	   *state;
} Feeder;

/* feed [start, start + len) of the source to the feeder's open window */
static void
feed_range(const Feeder *f, des_profile *p, ByteSource *s, uint64 start, uint64 len, char *buf,
		   TimestampTz started)
{
	for (uint64 off = start; off < start + len;)
	{
		uint64		got = source_read(s, off, Min((uint64) PIECE_BYTES, start + len - off), buf);

		if (got == 0)
			break;
		f->feed(f->state, p, buf, got);
		off += got;
		timeout_check(started);
	}
}

/*
 * The whole source, or (larger than max_bytes) one window per stratum at a
 * seeded random place in it, the first at the start; finishes the profile.
 * buf already holds the source's first `first` bytes. True when sampled.
 */
static bool
read_windows(const Feeder *f, des_profile *p, ByteSource *s, int64 max_bytes, uint64 seed, char *buf,
			 uint64 first)
{
	TimestampTz started = GetCurrentTimestamp();
	des_error	err;

	if (s->size <= (uint64) max_bytes)
	{
		f->begin(f->state, p, 0);
		f->feed(f->state, p, buf, first);
		feed_range(f, p, s, first, s->size - first, buf, started);
		f->end(f->state, p, true);
		if (!des_profile_finish(p, 0, &err))
			report_profile_error(&err, s->what);
		return false;
	}
	else
	{
		uint64		window = Min((uint64) WINDOW_BYTES, (uint64) max_bytes / 2);
		uint64		windows = (uint64) max_bytes / window;
		uint64		stratum = s->size / windows;	/* > window: the file is larger than max_bytes */
		des_random	r;

		des_random_seed(&r, seed ^ UINT64CONST(0x5bd1e995));
		for (uint64 w = 0; w < windows; w++)
		{
			uint64		start = w == 0 ? 0 : w * stratum + des_random_below(&r, stratum - window + 1);
			uint64		len = Min(window, s->size - start);

			f->begin(f->state, p, start);
			feed_range(f, p, s, start, len, buf, started);
			f->end(f->state, p, start + len >= s->size);
		}
		if (!des_profile_finish(p, s->size, &err))
			report_profile_error(&err, s->what);
		return true;
	}
}

/* ---- CSV and TSV ---- */

typedef struct CsvState
{
	des_csv_dialect dialect;
	const char *what;
} CsvState;

static void
csv_begin(void *state, des_profile *p, uint64 offset)
{
	CsvState   *c = state;
	des_error	err;

	if (!des_profile_csv_begin(p, &c->dialect, offset, &err))
		report_profile_error(&err, c->what);
}

static void
csv_feed(void *state, des_profile *p, const char *data, size_t len)
{
	CsvState   *c = state;
	des_error	err;

	if (!des_profile_csv_feed(p, data, len, &err))
		report_profile_error(&err, psprintf("%s (line %llu)", c->what,
											(unsigned long long) des_profile_csv_error_line(p)));
}

static void
csv_end(void *state, des_profile *p, bool at_eof)
{
	CsvState   *c = state;
	des_error	err;

	if (!des_profile_csv_end(p, at_eof, &err))
		report_profile_error(&err, psprintf("%s (line %llu)", c->what,
											(unsigned long long) des_profile_csv_error_line(p)));
}

/* ---- JSON lines ---- */

typedef struct JsonlState
{
	des_jsonl_columns columns;
	des_jsonl_reader reader;
	bool		reader_open;
	uint64		extra_key_rows;
	const char *what;
	MemoryContextCallback cb;	/* frees the malloc'd columns and reader, even on error */
} JsonlState;

static void
jsonl_free(void *arg)
{
	JsonlState *j = arg;

	if (j->reader_open)
		des_jsonl_reader_free(&j->reader);
	j->reader_open = false;
	des_jsonl_columns_free(&j->columns);
}

static bool
jsonl_row(void *ctx, const unsigned char *data, const des_csv_field *fields, uint32_t n, uint64_t line_bytes,
		  des_error *err)
{
	des_profile *p = ctx;

	des_profile_count_row_bytes(p, line_bytes);
	return des_profile_add_row(p, data, fields, n, err);
}

static void
jsonl_begin(void *state, des_profile *p, uint64 offset)
{
	JsonlState *j = state;
	des_error	err;

	if (!des_jsonl_reader_init(&j->reader, &j->columns, des_csv_limits_default().max_record, offset > 0, jsonl_row,
							   p, &err))
		report_profile_error(&err, j->what);
	j->reader_open = true;
}

static void
jsonl_feed(void *state, des_profile *p, const char *data, size_t len)
{
	JsonlState *j = state;
	des_error	err;

	(void) p;
	if (!des_jsonl_reader_feed(&j->reader, data, len, &err))
		report_profile_error(&err, j->what);
}

static void
jsonl_end(void *state, des_profile *p, bool at_eof)
{
	JsonlState *j = state;
	des_error	err;

	if (!des_jsonl_reader_finish(&j->reader, at_eof, &err))
		report_profile_error(&err, j->what);
	j->extra_key_rows += j->reader.ragged;
	des_jsonl_reader_free(&j->reader);
	j->reader_open = false;
	des_profile_end_window(p);
}

/* append a JSON member to the profile text, before its closing brace */
static void
add_member(StringInfo json, const char *member)
{
	Assert(json->len > 0 && json->data[json->len - 1] == '}');
	json->data[--json->len] = '\0';
	appendStringInfo(json, ",%s}", member);
}

static void
finish_result(des_profile *p, StringInfo extra, DesProfileResult *res)
{
	des_error	err;
	des_buf    *out = DesBufInContext(CurrentMemoryContext);
	StringInfoData json;
	uint32		n = des_profile_column_count(p);

	if (!des_profile_json(p, out, &err))
		report_profile_error(&err, "the dataset");
	initStringInfo(&json);
	appendBinaryStringInfo(&json, (const char *) out->data, (int) out->len);
	if (extra && extra->len > 0)
		add_member(&json, extra->data);
	res->profile = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json.data)));
	res->ncolumns = (int) n;
	res->minhash = palloc0(sizeof(bytea *) * Max(n, 1));
	for (uint32 i = 0; i < n; i++)
	{
		const des_column_stats *c = des_profile_column_stats(p, i);
		size_t		len = des_minhash_serialized_size(&c->minhash);
		bytea	   *b = palloc(VARHDRSZ + len);

		SET_VARSIZE(b, VARHDRSZ + len);
		des_minhash_serialize(&c->minhash, (unsigned char *) VARDATA(b));
		res->minhash[i] = b;
	}
}

static const char *
sniff_failure_message(const des_csv_sniff *sn, const des_error *err, int *code)
{
	switch (sn->failure)
	{
		case DES_CSV_FAIL_EMPTY:
		case DES_CSV_FAIL_ONE_LINE:
			*code = ERRCODE_NO_DATA;
			break;
		case DES_CSV_FAIL_NO_LINE:
			*code = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
			break;
		default:
			*code = ERRCODE_BAD_COPY_FILE_FORMAT;
			break;
	}
	return err->message;
}

static void
profile_bytes(ByteSource *s, Jsonb *options, Jsonb *materialize, DesProfileResult *res)
{
	des_profile_options o;
	int64		max_bytes;
	des_profile *p;
	des_error	err;
	char	   *buf = palloc(PIECE_BYTES);
	uint64		first;
	char	   *format = json_string(materialize, "format");
	StringInfoData extra;
	bool		sampled;
	bool		jsonl;

	DesProfileOptions(options, &o, &max_bytes);
	p = profile_create(&o);
	first = source_read(s, 0, Min((uint64) SNIFF_BYTES, s->size), buf);
	if (format != NULL && strcmp(format, "csv") != 0 && strcmp(format, "tsv") != 0 && strcmp(format, "jsonl") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("format \"%s\" cannot be profiled", format),
				 errhint("Formats: csv, tsv and jsonl (JSON lines); without a format the file is sniffed.")));
	jsonl = format != NULL ? strcmp(format, "jsonl") == 0 : des_jsonl_looks_like(buf, first);
	initStringInfo(&extra);
	if (jsonl)
	{
		JsonlState *j = palloc0(sizeof(JsonlState));
		Feeder		f = {jsonl_begin, jsonl_feed, jsonl_end, j};

		j->what = s->what;
		j->cb.func = jsonl_free;
		j->cb.arg = j;
		MemoryContextRegisterResetCallback(CurrentMemoryContext, &j->cb);
		if (!des_jsonl_sniff(buf, first, first == s->size, o.max_columns, &j->columns, &err))
			ereport(ERROR,
					(errcode(j->columns.empty ? ERRCODE_NO_DATA :
							 err.code == DES_E_TOO_LARGE ? ERRCODE_PROGRAM_LIMIT_EXCEEDED : ERRCODE_BAD_COPY_FILE_FORMAT),
					 errmsg("could not profile %s: %s", s->what, err.message)));
		if (!des_profile_set_columns(p, (const char *const *) j->columns.names, j->columns.lens, j->columns.n, &err))
			report_profile_error(&err, s->what);
		sampled = read_windows(&f, p, s, max_bytes, o.seed, buf, first);
		appendStringInfo(&extra, "\"size\":" UINT64_FORMAT ",\"format\":\"jsonl\",\"extra_key_rows\":" UINT64_FORMAT,
						 s->size, j->extra_key_rows);
	}
	else
	{
		des_csv_sniff sn;
		CsvState   *c = palloc0(sizeof(CsvState));
		Feeder		f = {csv_begin, csv_feed, csv_end, c};

		if (!des_csv_sniff_sample(buf, first, first == s->size, &sn, &err))
		{
			int			code;
			const char *msg = sniff_failure_message(&sn, &err, &code);

			ereport(ERROR,
					(errcode(code),
					 errmsg("could not profile %s: %s", s->what, msg)));
		}
		if (format != NULL && strcmp(format, "tsv") == 0)
			sn.dialect.delimiter = '\t';
		c->dialect = sn.dialect;
		c->what = s->what;
		sampled = read_windows(&f, p, s, max_bytes, o.seed, buf, first);
		appendStringInfo(&extra, "\"size\":" UINT64_FORMAT ",\"format\":\"%s\",\"dialect\":{\"delimiter\":",
						 s->size, sn.dialect.delimiter == '\t' ? "tsv" : "csv");
		escape_json(&extra, psprintf("%c", sn.dialect.delimiter));
		appendStringInfoString(&extra, ",\"quote\":");
		if (sn.dialect.quote)
			escape_json(&extra, psprintf("%c", sn.dialect.quote));
		else
			appendStringInfoString(&extra, "null");
		appendStringInfo(&extra, ",\"header\":%s,\"encoding\":\"%s\"}",
						 sn.dialect.header ? "true" : "false",
						 sn.encoding == DES_CSV_ENCODING_LATIN1 ? "latin1" :
						 sn.encoding == DES_CSV_ENCODING_ASCII ? "ascii" : "utf8");
	}
	if (sampled)
		appendStringInfo(&extra, ",\"sampled_bytes\":" INT64_FORMAT, max_bytes - max_bytes % Min(WINDOW_BYTES, max_bytes / 2));
	finish_result(p, &extra, res);
	res->size = (int64) s->size;
}

/* ---- profiling a table ---- */

typedef struct TableCall
{
	OpenCall   *open;
	Jsonb	   *options;
	DesProfileResult *res;
	MemoryContext cxt;
} TableCall;

static void
profile_table(void *arg)
{
	TableCall  *t = arg;
	des_profile_options o;
	int64		max_bytes;
	des_profile *p;
	des_error	err;
	AsOwner		as;
	Oid			types[1] = {TEXTOID};
	Datum		args[1];
	bool		isnull;
	char	   *relname;
	int64		relsize;
	double		percent = 100;
	Portal		portal;
	StringInfoData row;
	des_csv_field *fields = NULL;
	int			natts = 0;
	FmgrInfo   *out_fns = NULL;
	TimestampTz started = GetCurrentTimestamp();
	MemoryContext row_cxt;
	StringInfoData extra;
	char	   *query;
	int			guc_level;

	DesProfileOptions(t->options, &o, &max_bytes);
	/* values as the profiler reads them, whatever the session's styles: ISO dates, UTC times */
	guc_level = NewGUCNestLevel();
	(void) set_config_option("datestyle", "ISO, YMD", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("timezone", "UTC", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	become_owner(t->open->s->owner, &as);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = CStringGetTextDatum(t->open->relation);
	/* the owner must be able to read it: checked by the SELECT itself, as the owner */
	if (!DesSpiOneRow("SELECT c.oid::regclass::text AS name, pg_relation_size(c.oid) AS size "
					  "FROM pg_class c WHERE c.oid = $1::regclass", 1, types, args, NULL))
		elog(ERROR, "relation lookup returned no row");
	relname = MemoryContextStrdup(t->cxt, TextDatumGetCString(DesSpiGet(0, "name", &isnull)));
	relsize = DatumGetInt64(DesSpiGet(0, "size", &isnull));
	MemoryContextSwitchTo(t->cxt);
	p = profile_create(&o);
	if (relsize > max_bytes)
	{
		percent = 100.0 * (double) max_bytes / (double) relsize;
		query = psprintf("SELECT * FROM %s TABLESAMPLE BERNOULLI (%.6f) REPEATABLE (%.0f)", relname, percent,
						 (double) (o.seed % 2147483647));
	}
	else
		query = psprintf("SELECT * FROM %s", relname);
	portal = SPI_cursor_open_with_args(NULL, query, 0, NULL, NULL, NULL, true, 0);
	initStringInfo(&row);
	row_cxt = AllocSetContextCreate(t->cxt, "pg_des profile row", ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, TABLE_FETCH);
		if (SPI_processed == 0)
			break;
		if (fields == NULL)
		{
			TupleDesc	desc = SPI_tuptable->tupdesc;
			const char **names;
			size_t	   *lens;
			int			n = 0;

			natts = desc->natts;
			fields = MemoryContextAlloc(t->cxt, sizeof(des_csv_field) * Max(natts, 1));
			out_fns = MemoryContextAllocZero(t->cxt, sizeof(FmgrInfo) * Max(natts, 1));
			names = palloc(sizeof(char *) * Max(natts, 1));
			lens = palloc(sizeof(size_t) * Max(natts, 1));
			for (int i = 0; i < natts; i++)
			{
				Form_pg_attribute a = TupleDescAttr(desc, i);
				Oid			fn;
				bool		varlena;

				if (a->attisdropped)
					continue;
				getTypeOutputInfo(a->atttypid, &fn, &varlena);
				fmgr_info_cxt(fn, &out_fns[i], t->cxt);
				names[n] = NameStr(a->attname);
				lens[n] = strlen(names[n]);
				n++;
			}
			if (!des_profile_set_columns(p, names, lens, (uint32) n, &err))
				report_profile_error(&err, relname);
		}
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			uint32		n = 0;
			MemoryContext old = MemoryContextSwitchTo(row_cxt);

			resetStringInfo(&row);
			for (int i = 0; i < natts; i++)
			{
				Datum		v;

				if (TupleDescAttr(SPI_tuptable->tupdesc, i)->attisdropped)
					continue;
				v = SPI_getbinval(tup, SPI_tuptable->tupdesc, i + 1, &isnull);
				fields[n].off = (uint32) row.len;
				fields[n].quoted = false;
				if (!isnull)
					appendStringInfoString(&row, OutputFunctionCall(&out_fns[i], v));
				fields[n].len = (uint32) row.len - fields[n].off;
				n++;
			}
			MemoryContextSwitchTo(old);
			if (!des_profile_add_row(p, (const unsigned char *) row.data, fields, n, &err))
				report_profile_error(&err, relname);
			MemoryContextReset(row_cxt);
		}
		SPI_freetuptable(SPI_tuptable);
		timeout_check(started);
	}
	SPI_cursor_close(portal);
	if (fields == NULL)
	{
		/* no row: the columns still say what the table is */
		TupleDesc	desc;
		const char **names;
		size_t	   *lens;
		int			n = 0;

		portal = SPI_cursor_open_with_args(NULL, psprintf("SELECT * FROM %s LIMIT 0", relname), 0, NULL, NULL, NULL,
										   true, 0);
		SPI_cursor_fetch(portal, true, 1);
		desc = SPI_tuptable->tupdesc;
		names = palloc(sizeof(char *) * Max(desc->natts, 1));
		lens = palloc(sizeof(size_t) * Max(desc->natts, 1));
		for (int i = 0; i < desc->natts; i++)
			if (!TupleDescAttr(desc, i)->attisdropped)
			{
				names[n] = NameStr(TupleDescAttr(desc, i)->attname);
				lens[n] = strlen(names[n]);
				n++;
			}
		if (n > 0 && !des_profile_set_columns(p, names, lens, (uint32) n, &err))
			report_profile_error(&err, relname);
		SPI_cursor_close(portal);
	}
	if (!des_profile_finish(p, 0, &err))
		report_profile_error(&err, relname);
	if (percent < 100)
	{
		/* n read of N with probability q: N ~ n / q, standard error sqrt(n (1 - q)) / q */
		double		q = percent / 100,
					n = (double) des_profile_rows(p),
					se = sqrt(Max(n, 1) * (1 - q)) / q;

		des_profile_set_row_estimate(p, n / q, n / q - 1.96 * se, n / q + 1.96 * se);
	}
	/* the results outlive SPI: in the caller's context */
	MemoryContextSwitchTo(t->cxt);
	initStringInfo(&extra);
	appendStringInfoString(&extra, "\"format\":\"table\",\"relation\":");
	escape_json(&extra, relname);
	if (percent < 100)
		appendStringInfo(&extra, ",\"sampled_percent\":%.6f", percent);
	finish_result(p, &extra, t->res);
	t->res->size = relsize;
	SPI_finish();
	become_self(&as);
	AtEOXact_GUC(true, guc_level);
}

/* ---- entry points ---- */

/*
 * After open_source (outside any transaction in a worker): the size of an
 * S3 object by a HEAD; a DES entry sized as its range of the archive, and
 * inflated when compressed.
 */
static void
size_source(ByteSource *s, Jsonb *options)
{
	if (s->is_entry)
	{
		s->size = s->entry_size;
		if (s->compressed)
			inflate_entry(s, options);
	}
	else if (s->kind == SOURCE_S3)
		head_s3(s);
}

void
DesProfileMaterialized(Jsonb *materialize, Oid owner, Jsonb *options, bool in_worker, DesProfileResult *res)
{
	ByteSource *s = palloc0(sizeof(ByteSource));
	OpenCall	o = {materialize, s, NULL, InvalidOid, CurrentMemoryContext};

	s->owner = owner;
	s->in_worker = in_worker;
	s->fd = -1;
	memset(res, 0, sizeof(*res));
	in_transaction(s, open_source, &o);
	size_source(s, options);
	if (o.relation != NULL)
	{
		TableCall	t = {&o, options, res, CurrentMemoryContext};

		/* one snapshot for the whole table: a consistent read (no network I/O) */
		in_transaction(s, profile_table, &t);
		return;
	}
	profile_bytes(s, options, materialize, res);
}

bytea *
DesMaterializedBytes(Jsonb *materialize, Oid owner, int64 max_bytes)
{
	ByteSource *s = palloc0(sizeof(ByteSource));
	OpenCall	o = {materialize, s, NULL, InvalidOid, CurrentMemoryContext};
	bytea	   *b;

	s->owner = owner;
	s->fd = -1;
	open_source(&o);
	if (o.relation != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a table is not copied by des.keep_copy"),
				 errhint("Copy it to a file with COPY and record that, or keep the table.")));
	size_source(s, NULL);
	if (s->size > (uint64) max_bytes || s->size > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s has " UINT64_FORMAT " bytes, more than can be kept (" INT64_FORMAT ")", s->what, s->size,
						Min(max_bytes, (int64) (MaxAllocSize - VARHDRSZ)))));
	b = palloc(VARHDRSZ + s->size);
	SET_VARSIZE(b, VARHDRSZ + s->size);
	for (uint64 off = 0; off < s->size;)
	{
		uint64		got = source_read(s, off, Min((uint64) PIECE_BYTES, s->size - off), VARDATA(b) + off);

		if (got == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("%s ended after " UINT64_FORMAT " of " UINT64_FORMAT " bytes", s->what, off, s->size)));
		off += got;
	}
	return b;
}

void
DesProfileBytes(const char *data, size_t len, Jsonb *options, DesProfileResult *res)
{
	ByteSource *s = palloc0(sizeof(ByteSource));

	s->kind = SOURCE_MEMORY;
	s->data = data;
	s->size = len;
	s->fd = -1;
	s->what = "the data";
	memset(res, 0, sizeof(*res));
	profile_bytes(s, options, NULL, res);
}

const char *
DesProfileFailureKind(int sqlerrcode)
{
	if (sqlerrcode == ERRCODE_PROGRAM_LIMIT_EXCEEDED || sqlerrcode == ERRCODE_OUT_OF_MEMORY)
		return "too_big";
	if (sqlerrcode == ERRCODE_NO_DATA)
		return "empty";
	if (sqlerrcode == ERRCODE_QUERY_CANCELED)
		return "timeout";
	if (sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE)
		return "forbidden";
	if (ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_DATA_EXCEPTION || sqlerrcode == ERRCODE_FEATURE_NOT_SUPPORTED)
		return "unparsable";
	if (sqlerrcode == ERRCODE_UNDEFINED_FILE || sqlerrcode == ERRCODE_UNDEFINED_TABLE ||
		ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_IO_ERROR ||
		ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_FDW_ERROR ||
		ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_CONNECTION_EXCEPTION || sqlerrcode == ERRCODE_UNDEFINED_OBJECT)
		return "unreachable";
	return "error";
}
