/*
 * s3_storage.h - S3 objects as archive sources, sinks and listings.
 */
#ifndef DES_S3_STORAGE_H
#define DES_S3_STORAGE_H

#include "s3_client.h"
#include "des/des_writer.h"

/* An object opened for reading: malloc'd, so it can outlive a query in a cache. */
typedef struct DesS3Object
{
	const DesS3Endpoint *ep;	/* set before every use: credentials are per call */
	char	   *bucket;
	char	   *key;
	char	   *location;
	uint64		size;
	char		etag[130];
	unsigned char *tail;		/* the last bytes, read at open */
	uint64		tail_off;
	size_t		tail_len;
	/*
	 * True while the tail is known to be the current object's bytes: set by
	 * the open or a 304 revalidation in this call; cleared when a cached
	 * object is reused without revalidation. Only then may reads be served
	 * from the tail without a (If-Match guarded) request.
	 */
	bool		tail_fresh;
	uint64		requests;
} DesS3Object;

extern bool DesS3ObjectOpen(const DesS3Endpoint *ep, const char *bucket, const char *key,
							const char *location, const char *if_none_match,
							DesS3Object **out, bool *unchanged, des_error *err);
extern void DesS3ObjectSource(DesS3Object *o, des_source *src);
extern void DesS3ObjectFree(DesS3Object *o);
/* Confirm with a conditional request that o is unchanged; ESTALE error if it changed. */
extern bool DesS3ObjectRevalidate(DesS3Object *o, des_error *err);
extern const des_external_resolver *DesS3Resolver(des_external_resolver *r, DesS3Object *archive);

/* Read n ranges of o in parallel (bounded by des.s3_max_connections), If-Match guarded. */
extern bool DesS3FetchRanges(DesS3Object *o, const uint64 *offsets, const uint64 *lengths,
							 unsigned char **bufs, int n, des_error *err);

/* One ranged GET of an object that is not opened (no ETag guard). */
extern bool DesS3ReadRange(const DesS3Endpoint *ep, const char *bucket, const char *key, const char *location,
						   uint64 offset, uint64 len, unsigned char *buf, des_error *err);

typedef struct DesS3Sink DesS3Sink;

extern bool DesS3SinkOpen(const DesS3Endpoint *ep, const char *bucket, const char *key,
						  const char *location, des_sink *sink, DesS3Sink **out, des_error *err);
extern void DesS3SinkFree(DesS3Sink *s);

typedef void (*DesS3ListCallback) (void *arg, const char *key, uint64 size, const char *etag, bool is_prefix);
extern bool DesS3List(const DesS3Endpoint *ep, const char *bucket, const char *prefix,
					  const char *delimiter, DesS3ListCallback cb, void *arg, des_error *err);

extern int	des_s3_tail_read_kb;
extern int	des_s3_part_size_mb;
extern int	des_s3_upload_parallel;
extern int	des_s3_list_page_size;

#endif
