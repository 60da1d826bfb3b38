/*
 * blob_read.c - des.read_blob: a blob's bytes read straight from its place
 * in a local archive, as des.blobs records it (offset, stored size, flags),
 * without opening the archive's index. The bytes are accepted only if they
 * have the blob's BLAKE2b-256, so a wrong offset can never return other
 * bytes. Blobs that are not stored plainly in a local file (S3, LZ4,
 * external) return NULL: the caller reads them through the archive's index.
 */
#include "pg_des.h"

#include <blake2.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fmgr.h"
#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "des/des_format.h"

PG_FUNCTION_INFO_V1(des_read_blob);

Datum
des_read_blob(PG_FUNCTION_ARGS)
{
	char	   *location = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int64		offset = PG_GETARG_INT64(1);
	int64		length = PG_GETARG_INT64(2);
	int32		flags = PG_GETARG_INT32(3);
	bytea	   *hash = PG_GETARG_BYTEA_PP(4);
	DesLocation *loc = DesParseLocation(location);
	unsigned char digest[DES_BLAKE2B_BYTES];
	struct stat st;
	bytea	   *result;
	char	   *p;
	int64		done = 0;
	int			fd;

	DesCheckReadAccess(loc);
	if (loc->kind != DES_LOCATION_LOCAL || flags != 0)
		PG_RETURN_NULL();
	if (offset < DES_HEADER_SIZE || length < 0 || length > (int64) (MaxAllocSize - VARHDRSZ) ||
		VARSIZE_ANY_EXHDR(hash) != DES_BLAKE2B_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid blob location in \"%s\": offset " INT64_FORMAT ", length " INT64_FORMAT,
						location, offset, length),
				 errdetail("The offset is past the archive header, the length at most 1 GB, the hash 32 bytes.")));

	/* a transient file is closed at transaction abort, so an error leaks nothing */
	fd = OpenTransientFile(loc->path, O_RDONLY | PG_BINARY);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open archive \"%s\": %m", location)));
	if (fstat(fd, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat archive \"%s\": %m", location)));
	if (offset + length > (int64) st.st_size)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("blob at offset " INT64_FORMAT " (" INT64_FORMAT " bytes) is past the end of archive \"%s\"",
						offset, length, location),
				 errdetail("The archive has %lld bytes.", (long long) st.st_size)));
	result = palloc(VARHDRSZ + length);
	SET_VARSIZE(result, VARHDRSZ + length);
	p = VARDATA(result);
	while (done < length)
	{
		ssize_t		n = pg_pread(fd, p + done, length - done, offset + done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read " INT64_FORMAT " bytes at offset " INT64_FORMAT " of archive \"%s\": %m",
							length, offset, location)));
		done += n;
	}
	CloseTransientFile(fd);

	blake2b(digest, p, NULL, DES_BLAKE2B_BYTES, length, 0);
	if (memcmp(digest, VARDATA_ANY(hash), DES_BLAKE2B_BYTES) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the bytes at offset " INT64_FORMAT " of archive \"%s\" do not have the blob's BLAKE2b-256",
						offset, location),
				 errdetail("Either the archive was changed or des.blobs records the wrong place."),
				 errhint("des.archive_verify checks the archive; des.archive_list shows where its entries are.")));
	PG_RETURN_BYTEA_P(result);
}
