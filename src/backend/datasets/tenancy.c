/*
 * tenancy.c - who is calling, for the SECURITY DEFINER functions of the
 * datasets area.
 *
 * Those functions run as the extension's owner (to write tables no other role
 * may write, and to read past row-level security), so current_user inside
 * them is the owner. The role whose rights they must check is the one that
 * called them: PostgreSQL keeps it as the "outer" user id, which SET ROLE
 * sets and entering a SECURITY DEFINER function does not change.
 */
#include "pg_des.h"
#include "datasets/datasets.h"

#include "fmgr.h"
#include "miscadmin.h"

PG_FUNCTION_INFO_V1(des_caller);

/* des_internal.caller(): the role that called the current SECURITY DEFINER function. */
Datum
des_caller(PG_FUNCTION_ARGS)
{
	PG_RETURN_OID(GetOuterUserId());
}
