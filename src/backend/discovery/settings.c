/*
 * settings.c - the discovery area's settings: the profiler workers, the
 * profiler's thresholds (Auctus's as defaults) and its limits.
 */
#include "pg_des.h"

#include <limits.h>

#include "miscadmin.h"
#include "utils/guc.h"

#include "discovery/discovery.h"

#define DES_MAX_PROFILERS 16

int			des_profilers = 1;
int			des_profile_max_kb = 256 * 1024;
int			des_profile_sample_rows = 20;
double		des_profile_type_threshold = 0.98;
double		des_profile_categorical_ratio = 0.10;
double		des_profile_free_text_ratio = 0.5;
int			des_profile_timeout_ms = 10 * 60 * 1000;
int			des_profile_max_attempts = 3;
int			des_profile_retry_base_ms = 60 * 1000;
int			des_profiler_naptime_ms = 10 * 1000;
int			des_search_budget_ms = 1000;

void
DesDiscoveryDefineSettings(void)
{
	/* the worker count sizes shared memory: only while preloading */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("des.profilers",
								"Number of profiler background workers (they profile discovered datasets).",
								NULL,
								&des_profilers, 1, 0, DES_MAX_PROFILERS,
								PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("des.profiler_naptime",
							"Longest pause of an idle profiler (recording a dataset wakes it at once; this is the fallback).",
							NULL,
							&des_profiler_naptime_ms, 10 * 1000, 10, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("des.profile_max_bytes",
							"Files larger than this are profiled from seeded random windows of 1 MiB adding up to it.",
							"Tables larger than this are read with TABLESAMPLE BERNOULLI.",
							&des_profile_max_kb, 256 * 1024, 1024, INT_MAX,
							PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("des.profile_sample_rows",
							"Random rows kept as a profile's sample.",
							NULL,
							&des_profile_sample_rows, 20, 0, 10000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("des.profile_type_threshold",
							 "Share of a column's non-missing values that must have a type for the column to have it.",
							 NULL,
							 &des_profile_type_threshold, 0.98, 0.5, 1.0,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("des.profile_categorical_ratio",
							 "A column is categorical when its distinct values are at most this share of its non-missing ones.",
							 NULL,
							 &des_profile_categorical_ratio, 0.10, 0.0, 1.0,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("des.profile_free_text_ratio",
							 "A text column is free text when this share of its values has four words or more.",
							 NULL,
							 &des_profile_free_text_ratio, 0.5, 0.01, 1.0,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("des.profile_timeout",
							"Longest a dataset may take to profile; then it fails with kind timeout (0: no limit).",
							NULL,
							&des_profile_timeout_ms, 10 * 60 * 1000, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("des.discover_timeout",
							"Longest a function discoverer may run in one des.discover (0: no limit).",
							NULL,
							&des_discover_timeout_ms, 5 * 60 * 1000, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("des.search_budget",
							"Time des.search gives on-demand discovery (function discoverers with a query_function) before searching.",
							NULL,
							&des_search_budget_ms, 1000, 0, 600 * 1000,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("des.profile_max_attempts",
							"Profiling attempts of a dataset before it is left dead (des.reprofile starts over).",
							NULL,
							&des_profile_max_attempts, 3, 1, 100,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("des.profile_retry_base",
							"Wait before the second attempt at a failed dataset; each further one waits twice as long.",
							NULL,
							&des_profile_retry_base_ms, 60 * 1000, 0, 24 * 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
}
