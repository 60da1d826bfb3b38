/*
 * des_local.h - local-directory storage for archives (PostgreSQL-free).
 *
 * Layout: an archive at <dir>/<stem>.des keeps its external payloads under
 * <dir>/<stem>/_bigFiles/<name>, stored with the key
 * "<basename(dir)>/<stem>/_bigFiles/<name>": one folder per archive, so two
 * archives in a directory never share (and overwrite) an external payload.
 */
#ifndef DES_LOCAL_H
#define DES_LOCAL_H

#include "des/format/des_reader.h"
#include "des/format/des_writer.h"

/*
 * Reads through local sources in this process (for EXPLAIN ANALYZE-style
 * accounting; sources are read from one thread only).
 */
typedef struct des_local_read_stats
{
	uint64_t	calls;
	uint64_t	bytes;
} des_local_read_stats;
extern des_local_read_stats des_local_reads;

/*
 * Whether local sinks write whole 8 MiB buffers with O_DIRECT (default true;
 * the setting des.direct_io in a backend). Where O_DIRECT is refused, they
 * use the page cache whatever this says.
 */
extern bool des_local_direct_io;

/* bytes local sinks have written with O_DIRECT in this process (tests, benchmarks) */
extern uint64_t des_local_direct_bytes;

/* Open a regular file for reading. */
extern bool des_local_source_open(const char *path, des_source *src, des_error *err);
extern void des_local_source_close(des_source *src);

/*
 * Create a sink writing path atomically (temp file + fsync + rename + fsync of
 * the directory). External payloads are written to temporary files at the
 * place des_local_resolve_external gives for their key, and renamed into
 * place only on commit. Missing directories are created.
 */
extern bool des_local_sink_open(const char *path, des_sink *sink, des_error *err);
/*
 * The sink writes to "<path>" DES_LOCAL_TEMP_INFIX "<pid>.<n>" and renames on
 * commit: what a crashed writer leaves behind starts with "<path>.tmp.".
 */
#define DES_LOCAL_TEMP_INFIX ".tmp."

/* Frees the sink's state; call after commit or abort. */
extern void des_local_sink_free(des_sink *sink);

/*
 * The name external payloads of an archive are kept under: "00.des" -> "00";
 * a name without the .des extension gets ".d" appended instead (malloc'd).
 */
extern char *des_archive_stem(const char *name);

/* Default key prefix for an archive path: "<basename(dir)>/<stem>" (malloc'd). */
extern char *des_local_default_prefix(const char *path);

/*
 * Where the external payload with this key lives, for the archive at
 * archive_path (the writer stores payloads there too, so both agree):
 *  1. if the longest possible tail of the archive's directory ("c", "b/c",
 *     "a/b/c") occurs in the key as whole components, what follows it,
 *     relative to the directory;
 *  2. else from the key's first "_bigFiles" component on, relative to the
 *     directory;
 *  3. else the whole key, relative to the directory.
 * Returns a malloc'd path.
 */
extern char *des_local_resolve_external(const char *archive_path, const char *key);

/* A resolver for des_read_options.external; ctx is the archive path. */
extern const des_external_resolver *des_local_resolver(des_external_resolver *r,
													   const char *archive_path);

/* In-memory source (fuzzing, tests). */
extern void des_memory_source(des_source *src, const void *data, size_t len);

#endif
