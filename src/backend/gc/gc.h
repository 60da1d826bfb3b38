/*
 * gc.h - the garbage collector's area: what the mark needs from C (the
 * chunk ids of stored chunk lists); the rest is SQL (src/sql/api/78_gc.sql).
 */
#ifndef DES_GC_H
#define DES_GC_H

#include "pg_des.h"

#endif
