/*
 * workers.h - the workers area: what every pg_des background worker does
 * the same way (registration, transactions, shutdown deadline, SPI helpers).
 */
#ifndef DES_WORKER_COMMON_H
#define DES_WORKER_COMMON_H

#include "postgres.h"

extern bool des_workers_enabled;
extern char *des_database;
extern int	des_worker_restart_s;
extern int	des_shutdown_timeout_ms;
extern char *des_storage;
extern char *des_debug_pause_at;

extern void DesWorkerPrepareShutdownDeadline(void);
extern void DesWorkerStartShutdownDeadline(void);

extern void DesDebugPause(const char *point, void (*check) (const char *what));

extern void DesRegisterStaticWorkers(const char *function, const char *type, int count);
extern void DesWorkerSessionSetup(void);
extern bool DesWorkerBegin(const char *activity);
extern void DesWorkerCommit(bool connected);
extern void DesWorkerRecover(MemoryContext loop_cxt);
extern char *DesStorageRoot(void);
extern bool DesSpiOneRow(const char *query, int nargs, Oid *argtypes, Datum *args, const char *nulls);
extern Datum DesSpiValue(int column, bool *isnull);

/* A growing list of Datums, turned into a SQL array for a call. */
typedef struct DesDatumVec
{
	Datum	   *v;
	int			n;
	int			cap;
} DesDatumVec;

extern void DesVecPush(DesDatumVec *d, Datum x);
extern Datum DesVecArray(const DesDatumVec *d, Oid elemtype);
extern Datum DesMsInterval(int64 ms);

/* the area's settings: des.workers, des.database, des.storage, ... */
extern void DesWorkersDefineSettings(void);

#endif
