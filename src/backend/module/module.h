/*
 * module.h - the module area: _PG_init, shared memory hooks.
 */
#ifndef DES_MODULE_H
#define DES_MODULE_H

#include "pg_des.h"

/* shmem.c */
extern void DesShmemInit(void);

#endif
