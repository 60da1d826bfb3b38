/*
 * hash_funcs.c - des.blake2b(data, digest_bytes): BLAKE2b from libb2.
 */
#include "pg_des.h"
#include "archive/archive.h"

#include <blake2.h>

#include "fmgr.h"

PG_FUNCTION_INFO_V1(des_blake2b);

Datum
des_blake2b(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	int32		nbytes = PG_GETARG_INT32(1);
	bytea	   *out;

	if (nbytes < 1 || nbytes > BLAKE2B_OUTBYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("BLAKE2b digest length must be between 1 and %d bytes, not %d",
						BLAKE2B_OUTBYTES, nbytes)));
	out = palloc(VARHDRSZ + nbytes);
	SET_VARSIZE(out, VARHDRSZ + nbytes);
	if (blake2b((uint8_t *) VARDATA(out), VARDATA_ANY(data), NULL, nbytes, VARSIZE_ANY_EXHDR(data), 0) != 0)
		elog(ERROR, "blake2b failed");
	PG_RETURN_BYTEA_P(out);
}
