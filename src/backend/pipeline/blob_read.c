/*
 * blob_read.c - des_internal.read_blob: a blob's bytes read straight from its place
 * in its archive, as des.blobs records it (offset, stored size, flags),
 * without the archive's index: one pread of a local file, or one ranged GET
 * on S3. The bytes are accepted only if they have the blob's BLAKE2b-256,
 * so a wrong offset can never return other bytes. Blobs that are not stored
 * plainly (LZ4, external) return NULL: the caller reads them through the
 * archive's index.
 */
#include "pg_des.h"
#include "pipeline/pipeline.h"

#include <blake2.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "des/format/des_format.h"
#include "s3/s3.h"

/* The bytes from a local archive (a transient file is closed at abort: nothing leaks). */
static void
read_local(const DesLocation *loc, const char *location, int64 offset, int64 length, char *p)
{
	struct stat st;
	int64		done = 0;
	int			fd;

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
}

/* The bytes from an S3 archive: one ranged GET (the server's USAGE and user mapping are checked). */
static void
read_s3(const DesLocation *loc, const char *location, int64 offset, int64 length, char *p)
{
	DesS3Endpoint *ep = DesS3EndpointForLocation(loc);
	des_error	err;

	if (length == 0)
		return;
	DesS3Init();
	if (!DesS3ReadRange(ep, loc->bucket, loc->key, location, (uint64) offset, (uint64) length,
						(unsigned char *) p, &err))
	{
		CHECK_FOR_INTERRUPTS();	/* an interrupted transfer: the interrupt, not an I/O error */
		DesReportError(&err, location);
	}
}

/* The stored bytes [offset, offset + length) of an archive, local or on S3, into p. */
void
DesReadArchiveRange(const DesLocation *loc, const char *location, int64 offset, int64 length, char *p)
{
	if (loc->kind == DES_LOCATION_S3)
		read_s3(loc, location, offset, length, p);
	else
		read_local(loc, location, offset, length, p);
}

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
	bytea	   *result;
	char	   *p;

	DesCheckReadAccess(loc);
	if (flags != 0)
		PG_RETURN_NULL();
	/* offset + length must not overflow: a huge offset is refused here, not misread */
	if (offset < DES_HEADER_SIZE || length < 0 || length > (int64) (MaxAllocSize - VARHDRSZ) ||
		offset > PG_INT64_MAX - length ||
		VARSIZE_ANY_EXHDR(hash) != DES_BLAKE2B_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid blob location in \"%s\": offset " INT64_FORMAT ", length " INT64_FORMAT,
						location, offset, length),
				 errdetail("The offset is at least the header size, offset plus length fits in a bigint, the length is at most 1 GB and the hash has 32 bytes.")));

	result = palloc(VARHDRSZ + length);
	SET_VARSIZE(result, VARHDRSZ + length);
	p = VARDATA(result);
	DesReadArchiveRange(loc, location, offset, length, p);

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
