/*
 * workers.h - the workers area: what every pg_des background worker does
 * the same way (kinds and their slots in shared memory, registration, the
 * main loop, units of work in transactions with errors caught, shutdown
 * deadline, SPI helpers). See README.md, "How to add a worker kind".
 */
#ifndef DES_WORKER_COMMON_H
#define DES_WORKER_COMMON_H

#include "postgres.h"

#include "fmgr.h"
#include "port/atomics.h"
#include "storage/spin.h"

extern bool des_workers_enabled;
extern char *des_database;
extern int	des_worker_restart_s;
extern int	des_shutdown_timeout_ms;
extern char *des_storage;

/* ---- kinds of worker and their slots in shared memory ---- */

/* counters of a slot that belong to its kind (indexes are the kind's own) */
#define DES_WORKER_MAX_COUNTERS 12
#define DES_WORKER_ERROR_LEN 256
#define DES_WORKER_MAX_KINDS 8

/* phases every kind has; a kind numbers its own from DES_WORKER_PHASE_FIRST */
#define DES_WORKER_PHASE_STOPPED 0
#define DES_WORKER_PHASE_IDLE 1
#define DES_WORKER_PHASE_FIRST 2

/* One worker's state, read by the stats functions and the wake-ups. */
typedef struct DesWorkerSlot
{
	pg_atomic_uint32 pid;		/* 0 when not running */
	pg_atomic_uint32 phase;		/* DES_WORKER_PHASE_* or the kind's own */
	int			procno;			/* for wake-ups; -1 when not running */
	pg_atomic_uint64 iterations;	/* of its main loop */
	pg_atomic_uint64 units_done;	/* units of work committed */
	pg_atomic_uint64 errors;	/* units (or rounds) that failed */
	pg_atomic_uint64 last_activity_at;	/* TimestampTz of the last commit */
	pg_atomic_uint64 counters[DES_WORKER_MAX_COUNTERS];
	slock_t		mutex;			/* protects last_error */
	char		last_error[DES_WORKER_ERROR_LEN];
} DesWorkerSlot;

/*
 * A kind of worker: defined (static) by the file that runs it, registered
 * from _PG_init with DesRegisterWorkerKind.
 */
typedef struct DesWorkerKind
{
	const char *type;			/* bgw_type, pg_stat_activity.backend_type */
	const char *entry;			/* its PGDLLEXPORT main function in pg_des */
	int			max_workers;	/* slots in shared memory: the maximum of its count setting */
	const char *unavailable;	/* error of its SQL functions when pg_des is not preloaded */
	const char *const *phase_names;	/* names of its phases, by number (NULL: stopped, idle, working) */
	int			n_phases;
	/* set by DesRegisterWorkerKind */
	int			count;			/* workers configured */
	DesWorkerSlot *slots;		/* max_workers of them; NULL when not preloaded */
} DesWorkerKind;

extern void DesRegisterWorkerKind(DesWorkerKind *kind, int count);
extern Size DesWorkersShmemSize(void);
extern void DesWorkersShmemStartup(void);

/* in a worker: its own slot (NULL elsewhere) */
extern DesWorkerSlot *DesWorkerMySlot;

extern void DesWorkerSetPhase(uint32 phase);
extern void DesWorkerCount(int counter, uint64 n);
extern void DesWorkerSetCounter(int counter, uint64 value);
extern uint64 DesWorkerSlotCounter(DesWorkerSlot *slot, int counter);

extern int	DesWorkerWake(const DesWorkerKind *kind);
/* The same when this transaction commits (nothing on abort). */
extern void DesWorkerWakeAtCommit(const DesWorkerKind *kind);

/*
 * The stats SRF of a kind: one row per configured worker. The helper fills
 * column 1 (the worker's number) and 2 (its pid, NULL when not running);
 * row fills the kind's columns from the third on.
 */
typedef void (*DesWorkerStatsRowFn) (DesWorkerSlot *slot, Datum *values, bool *nulls);
extern void DesWorkerStatsSRF(FunctionCallInfo fcinfo, const DesWorkerKind *kind, DesWorkerStatsRowFn row);

/* ---- the main loop ---- */

typedef struct DesWorkerLoop
{
	/* SIGTERM handler; NULL: die (exit at the next interrupt check) */
	void		(*sigterm) (int signo);
	bool		shutdown_deadline;	/* arm DesWorkerStartShutdownDeadline's timer */
	/* once, connected, before the first iteration; number is 1..count */
	void		(*start) (int number);
	/* one iteration, in loop_cxt (reset before each); returns ms to nap, 0: go on at once */
	long		(*iterate) (MemoryContext loop_cxt);
} DesWorkerLoop;

extern void DesWorkerRun(DesWorkerKind *kind, Datum main_arg, const DesWorkerLoop *loop) pg_attribute_noreturn();

/* ---- units of work ---- */

typedef void (*DesWorkerFn) (void *arg);

/* flags of DesWorkerGuard */
#define DES_WORKER_EXPECTED_ERROR 0x01	/* an error is reported, not counted in the slot */

extern bool DesWorkerBegin(const char *activity);
extern void DesWorkerCommit(void);
extern bool DesWorkerGuard(DesWorkerFn fn, void *arg, DesWorkerFn on_error, int flags);
extern bool DesWorkerGuardError(DesWorkerFn fn, void *arg, DesWorkerFn on_error, int flags, int *sqlerrcode,
								char **message);
extern bool DesWorkerRunUnit(const char *activity, DesWorkerFn fn, void *arg);

/* ---- shutdown deadline (the packer's rule) ---- */

extern void DesWorkerPrepareShutdownDeadline(void);
extern void DesWorkerStartShutdownDeadline(void);

/* ---- crash-test pause points: compiled only into test builds ---- */

#ifdef DES_TEST_HOOKS
extern char *des_debug_pause_at;
extern void DesDebugPause(const char *point, void (*check) (const char *what));
#else
#define DesDebugPause(point, check) ((void) 0)
#endif

/* ---- helpers ---- */

extern char *DesStorageRoot(void);
extern bool DesSpiOneRow(const char *query, int nargs, Oid *argtypes, Datum *args, const char *nulls);
extern int	DesSpiColumnNumber(const char *column);
extern Datum DesSpiGet(uint64 row, const char *column, bool *isnull);

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
