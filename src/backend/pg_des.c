/*
 * pg_des.c - module entry point and settings.
 */
#include "pg_des.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

int			des_read_coalesce_gap_kb = 64;
int			des_read_max_span_kb = 8192;
int			des_reader_cache_entries = 8;

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomIntVariable("des.read_coalesce_gap",
							"Largest hole between two requested entries that a batch read still covers with one read.",
							"Reading a few unneeded bytes is cheaper than another request.",
							&des_read_coalesce_gap_kb, 64, 0, 1024 * 1024,
							PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("des.read_max_span",
							"Largest single read a batch read issues.",
							NULL,
							&des_read_max_span_kb, 8192, 64, 1024 * 1024,
							PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("des.reader_cache_entries",
							"Number of archives whose index each backend keeps open.",
							NULL,
							&des_reader_cache_entries, 8, 1, 64,
							PGC_USERSET, 0, NULL, NULL, NULL);
	MarkGUCPrefixReserved("des");
}
