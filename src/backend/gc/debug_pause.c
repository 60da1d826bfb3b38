/*
 * debug_pause.c - des_internal.debug_pause(point): the SQL-side pause
 * points of crash tests. In builds with DES_TEST_HOOKS a backend reaching
 * the point named by des.debug_pause_at waits there until it is killed
 * (test/t/009_gc_crash.pl kills it with -9); in other builds it does nothing.
 */
#include "gc/gc.h"
#include "workers/workers.h"

#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(des_debug_pause);

Datum
des_debug_pause(PG_FUNCTION_ARGS)
{
#ifdef DES_TEST_HOOKS
	DesDebugPause(text_to_cstring(PG_GETARG_TEXT_PP(0)), NULL);
#endif
	PG_RETURN_VOID();
}
