/*
 * lineage.h - the lineage area: gros:// URIs (parsed by the core's uri
 * area) and what resolution needs from it (the time zone of day tags, the
 * parse errors as SQLSTATEs); resolution itself is the datasets area's
 * (refs.c), since a URI is one more kind of ref.
 */
#ifndef DES_LINEAGE_H
#define DES_LINEAGE_H

#include "pg_des.h"
#include "des/uri/des_uri.h"

/* des.lineage_timezone: the time zone of a URI's day tag (uri.c) */
extern char *des_lineage_timezone;
extern void DesLineageDefineSettings(void);

/* the trigger dispatcher (dispatcher.c): its worker kind and settings */
extern void DesDispatcherRegisterWorkers(void);
extern void DesDispatcherDefineSettings(void);

/* the dispatcher's settings that the other rounds share (dispatcher.c) */
extern int	des_trigger_max_attempts;
extern int	des_trigger_retry_base_ms;

/* the OpenLineage push (openlineage_push.c): by the dispatcher when des.openlineage_url is set */
extern char *des_openlineage_url;
extern char *des_openlineage_token_file;
extern int	des_openlineage_timeout_ms;
extern int	DesOpenLineagePushRound(int max, long *next_due_ms);

/* the lineage mirror (mirror.c): written by the dispatcher when des.lineage_mirror is on */
extern bool des_lineage_mirror;
extern int	DesLineageMirrorRound(int max, long *next_due_ms);

/* Raise a URI's parse error (22P02, or 42602 for a bad name): what and where. */
extern void DesReportUriError(const char *uri, const des_uri *parsed, const des_error *err) pg_attribute_noreturn();

#endif
