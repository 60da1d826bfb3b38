/*
 * file_delete.c - des_internal.gc_delete_file(location, origin): delete a
 * container's file whose row des.gc removed, through the server that wrote
 * it: the packer's containers through its session's server
 * (des.default_server), the dataset functions' and compaction's through
 * des.storage_server with the owner's mapping (DesStorageLocation). Not a
 * caller's function: des.gc runs it as the owner.
 */
#include "gc/gc.h"
#include "datasets/datasets.h"

#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(des_gc_delete_file);

Datum
des_gc_delete_file(PG_FUNCTION_ARGS)
{
	char	   *location = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *origin = text_to_cstring(PG_GETARG_TEXT_PP(1));
	/* the packers write through des.default_server (for a day and shard, or of des.incoming rows) */
	DesLocation *loc = (strcmp(origin, "packer") == 0 || strcmp(origin, "incoming") == 0) ?
		DesParseLocation(location) : DesStorageLocation(location);

	PG_RETURN_BOOL(DesStorageDelete(loc));
}
