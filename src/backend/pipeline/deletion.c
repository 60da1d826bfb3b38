/*
 * deletion.c - what deleting pipeline objects does besides removing their
 * rows (des.delete, des.delete_many, or a DELETE by hand): each deletion is
 * logged in des.object_log for the role that made it, and the packed
 * objects' blobs lose their references (des.blobs.refcount), so that the
 * garbage collector finds blobs no object needs any more.
 *
 * An AFTER DELETE ... FOR EACH STATEMENT trigger over the deleted rows. The
 * log and des.blobs are written by the extension's owner only, so no role
 * can add log rows of its own or change counts; the role logged is the one
 * deleting, taken here before switching.
 */
#include "pipeline/pipeline.h"
#include "datasets/datasets.h"

#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"

PG_FUNCTION_INFO_V1(des_objects_deleted);

Datum
des_objects_deleted(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Oid			who = GetUserId();
	Oid			save_user;
	int			save_sec;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) || !TRIGGER_FIRED_BY_DELETE(td->tg_event) ||
		td->tg_oldtable == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("des_internal.objects_deleted() must be called as an AFTER DELETE ... FOR EACH STATEMENT trigger "
						"with REFERENCING OLD TABLE AS gone")));

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(DesExtensionOwner(), save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		Oid			types[1] = {OIDOID};
		Datum		args[1] = {ObjectIdGetDatum(who)};

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_register_trigger_data(td) != SPI_OK_TD_REGISTER)
			elog(ERROR, "SPI_register_trigger_data failed");
		/* every name qualified: the search_path in force is the caller's */
		if (SPI_execute_with_args("INSERT INTO des.object_log (role, action, object_id, name, state, size, hash) "
								  "SELECT coalesce((SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.oid = $1), $1::pg_catalog.text), "
								  "       'delete', g.id, g.name, g.state, g.size, g.hash FROM gone g",
								  1, types, args, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not log the deletion of objects");
		/* (a count that is off already stays at zero rather than failing the deletion) */
		if (SPI_execute("UPDATE des.blobs b SET refcount = GREATEST(b.refcount - r.n, 0) "
						"  FROM (SELECT g.hash, pg_catalog.count(*) AS n FROM gone g "
						"         WHERE g.state = 'packed' GROUP BY g.hash) r "
						" WHERE b.hash = r.hash", false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not release the blobs of deleted objects");
		SPI_finish();
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_user, save_sec);
	}
	PG_END_TRY();
	PG_RETURN_POINTER(NULL);
}
