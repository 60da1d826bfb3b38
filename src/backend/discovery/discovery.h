/*
 * discovery.h - discovery, profiling and dataset search (docs/discovery.md):
 * reading a dataset from where its materialize spec says, profiling it with
 * the core's profiler, the profiler workers and the settings.
 */
#ifndef DES_DISCOVERY_H
#define DES_DISCOVERY_H

#include "postgres.h"

#include "utils/jsonb.h"

#include "des/profile/des_profile.h"

/* settings (profile_settings.c) */
extern int	des_profilers;
extern int	des_profile_max_kb;
extern int	des_profile_sample_rows;
extern double des_profile_type_threshold;
extern double des_profile_categorical_ratio;
extern double des_profile_free_text_ratio;
extern int	des_profile_timeout_ms;
extern int	des_profile_max_attempts;
extern int	des_profile_retry_base_ms;
extern int	des_profiler_naptime_ms;
extern int	des_discover_timeout_ms;
extern int	des_search_budget_ms;
extern void DesDiscoveryDefineSettings(void);

/* A member of a jsonb object; NULL when j is NULL or no object, or the key is absent or null. */
extern JsonbValue *DesJsonbMember(Jsonb *j, const char *key);

/* The profiler's options from the settings, then a jsonb of overrides (NULL: none). */
extern void DesProfileOptions(Jsonb *overrides, des_profile_options *o, int64 *max_bytes);

/*
 * What a profile run gives: the profile (Auctus's metadata shape, with
 * "size" and, for files, "format" added) and each column's MinHash.
 */
typedef struct DesProfileResult
{
	Jsonb	   *profile;
	int			ncolumns;
	bytea	  **minhash;		/* serialised des_minhash per column */
	int64		size;			/* bytes of the source (-1: a table) */
} DesProfileResult;

/*
 * Profile the dataset that materialize describes, reading it with owner's
 * rights. in_worker: called by a profiler worker outside any transaction;
 * each read then runs in a short transaction of its own (no transaction
 * spans the profiling). Otherwise called inside a transaction (a SQL
 * function). Errors are ERRORs with a SQLSTATE that DesProfileFailureKind
 * maps to a failure kind.
 */
extern void DesProfileMaterialized(Jsonb *materialize, Oid owner, Jsonb *options, bool in_worker,
								   DesProfileResult *res);

/* All the bytes of a byte source (not a table), read with owner's rights: at most max_bytes (and 1 GB). */
extern bytea *DesMaterializedBytes(Jsonb *materialize, Oid owner, int64 max_bytes);

/* Profile bytes already in memory (CSV, TSV or JSON lines; sniffed). */
extern void DesProfileBytes(const char *data, size_t len, Jsonb *options, DesProfileResult *res);

/* The failure kind of a profiling error's SQLSTATE: too_big, empty, unparsable, unreachable, timeout, forbidden, error. */
extern const char *DesProfileFailureKind(int sqlerrcode);

/* profiler.c: the profiler workers */
extern void DesProfilerRegisterWorkers(void);

#endif
