/*
 * gc.h - the garbage collector's area: what the mark needs from C (what
 * stored chunk lists and directories name), squash's entry point and
 * compaction; the rest is SQL (src/sql/api/77_retention.sql, 78_gc.sql).
 */
#ifndef DES_GC_H
#define DES_GC_H

#include "pg_des.h"

#include "fmgr.h"

/* des_internal.debug_pause(point): the crash tests' pause points (debug_pause.c) */
extern Datum des_debug_pause(PG_FUNCTION_ARGS);

/* des.compact_threshold (compaction.c; called from _PG_init) */
extern void DesGcDefineSettings(void);

#endif
