/*
 * des_s3xml.h - the few S3 XML responses pg_des reads (PostgreSQL-free).
 *
 * S3 answers are flat, machine-generated XML: we only need the text of some
 * elements (Error/Code, UploadId, ListBucketResult/Contents/Key, ...). A small
 * scanner that understands elements, the five predefined entities and
 * numeric character references is enough and is fuzzed with the rest of the
 * core; DTDs, comments and CDATA are skipped or refused.
 */
#ifndef DES_S3XML_H
#define DES_S3XML_H

#include "des/common/des_error.h"

/*
 * Text of the first element named `name` (local name, namespace prefix
 * ignored) at any depth, at or after *pos; entities decoded into out (reset).
 * On success *pos moves past the element so repeated calls iterate, and
 * out->data is never NULL (an empty element gives out->len 0).
 * Returns false if there is none (or the XML is malformed).
 */
extern bool des_xml_next_text(const char *xml, size_t len, size_t *pos, const char *name, des_buf *out);

/* Span [*start, *end) of the next element `name` (including its tags), at or after *pos. */
extern bool des_xml_next_element(const char *xml, size_t len, size_t *pos, const char *name,
								 size_t *start, size_t *end);

#endif
