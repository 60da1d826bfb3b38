/*
 * gc.h - the garbage collector's area: what the mark needs from C (what
 * stored chunk lists and directories name), squash's entry point and
 * compaction; the rest is SQL (src/sql/api/77_retention.sql, 78_gc.sql).
 */
#ifndef DES_GC_H
#define DES_GC_H

#include "pg_des.h"

/* des.compact_threshold (compaction.c; called from _PG_init) */
extern void DesGcDefineSettings(void);
/* des.gc_upload_min_age (uploads.c; called from DesGcDefineSettings) */
extern void DesGcDefineUploadSettings(void);

#endif
