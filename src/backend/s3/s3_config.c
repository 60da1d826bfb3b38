/*
 * s3_config.c - S3 configuration: the endpoint plus credentials for an
 * s3:// location, and the area's settings.
 *
 * Settings live in CREATE SERVER ... FOREIGN DATA WRAPPER des_fdw OPTIONS
 * (endpoint, region, url_style, allow_http); credentials only in CREATE USER
 * MAPPING (access_key_id, secret_access_key, session_token), which PostgreSQL
 * shows only to the mapped user, the server owner and superusers. The server
 * used for a bare s3:// URL is the one named by des.default_server. The
 * options are checked when they are written, by des_fdw_validator
 * (fdw/fdw_options.c).
 */
#include "pg_des.h"

#include <stdlib.h>

#include "access/htup_details.h"
#include "access/reloptions.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/syscache.h"

#include "s3/s3.h"
#include "des/io/des_location.h"

/* settings: see DesS3DefineSettings() */
int			des_s3_connect_timeout_ms = 10000;
int			des_s3_low_speed_time_s = 30;
int			des_s3_max_retries = 4;
int			des_s3_retry_base_ms = 100;
int			des_s3_max_connections = 8;
bool		des_s3_sign_payload = true;
int			des_s3_tail_read_kb = 1024;
int			des_s3_part_size_mb = 8;
int			des_s3_upload_parallel = 4;
int			des_s3_list_page_size = 1000;
int			des_index_cache_size_kb = 65536;

char	   *des_default_server = NULL;

/*
 * Split "http[s]://host[:port][/]" into its parts; false if malformed. The
 * grammar is des_endpoint_parse (core).
 */
static bool
parse_endpoint(const char *url, bool *https, char **host)
{
	des_endpoint ep;

	if (!des_endpoint_parse(url, &ep))
		return false;
	*https = ep.https;
	*host = pnstrdup(url + ep.host_start, ep.host_len);
	return true;
}

static char *
option_or(List *options, const char *name, const char *dflt)
{
	ListCell   *cell;

	foreach(cell, options)
	{
		DefElem    *def = (DefElem *) lfirst(cell);

		if (strcmp(def->defname, name) == 0)
			return pstrdup(defGetString(def));
	}
	return dflt ? pstrdup(dflt) : NULL;
}

/* The user mapping options of user (or PUBLIC) on server; NIL if none. */
static List *
mapping_options(Oid userid, Oid serverid, bool *found)
{
	Oid			candidates[2] = {userid, InvalidOid};

	for (int i = 0; i < 2; i++)
	{
		HeapTuple	tp = SearchSysCache2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(candidates[i]),
										 ObjectIdGetDatum(serverid));

		if (HeapTupleIsValid(tp))
		{
			bool		isnull;
			Datum		d = SysCacheGetAttr(USERMAPPINGUSERSERVER, tp, Anum_pg_user_mapping_umoptions, &isnull);
			List	   *opts = isnull ? NIL : untransformRelOptions(d);

			ReleaseSysCache(tp);
			*found = true;
			return opts;
		}
	}
	*found = false;
	return NIL;
}

DesS3Endpoint *
DesS3EndpointForServerUser(const char *server_name, Oid userid)
{
	ForeignServer *server;
	ForeignDataWrapper *fdw;
	AclResult	acl;
	DesS3Endpoint *ep = palloc0(sizeof(DesS3Endpoint));
	char	   *endpoint;
	char	   *style;
	List	   *um;
	bool		has_mapping;

	if (server_name == NULL || server_name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("no S3 server is configured for s3:// locations"),
				 errhint("CREATE SERVER name FOREIGN DATA WRAPPER des_fdw OPTIONS (...), then SET des.default_server = 'name'.")));
	server = GetForeignServerByName(server_name, true);
	if (server == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("foreign server \"%s\" named by des.default_server does not exist", server_name)));
	fdw = GetForeignDataWrapper(server->fdwid);
	if (strcmp(fdw->fdwname, "des_fdw") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("foreign server \"%s\" does not use the des_fdw foreign-data wrapper", server_name)));
	acl = pg_foreign_server_aclcheck(server->serverid, userid, ACL_USAGE);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_FOREIGN_SERVER, server->servername);

	ep->server_name = pstrdup(server->servername);
	ep->region = option_or(server->options, "region", getenv("AWS_REGION") ? getenv("AWS_REGION") : "us-east-1");
	endpoint = option_or(server->options, "endpoint", NULL);
	if (endpoint)
	{
		if (!parse_endpoint(endpoint, &ep->https, &ep->host))
			elog(ERROR, "invalid endpoint \"%s\" in server \"%s\"", endpoint, server->servername);
		style = option_or(server->options, "url_style", "path");
	}
	else
	{
		ep->https = true;
		ep->host = psprintf("s3.%s.amazonaws.com", ep->region);
		style = option_or(server->options, "url_style", "virtual");
	}
	ep->path_style = strcmp(style, "path") == 0;

	um = mapping_options(userid, server->serverid, &has_mapping);
	if (has_mapping)
	{
		ep->access_key = option_or(um, "access_key_id", NULL);
		ep->secret_key = option_or(um, "secret_access_key", NULL);
		ep->session_token = option_or(um, "session_token", NULL);
	}
	else if (superuser_arg(userid) && getenv("AWS_ACCESS_KEY_ID") && getenv("AWS_SECRET_ACCESS_KEY"))
	{
		/* the server's own environment: only for superusers, who own it anyway */
		ep->access_key = pstrdup(getenv("AWS_ACCESS_KEY_ID"));
		ep->secret_key = pstrdup(getenv("AWS_SECRET_ACCESS_KEY"));
		ep->session_token = getenv("AWS_SESSION_TOKEN") ? pstrdup(getenv("AWS_SESSION_TOKEN")) : NULL;
	}
	if (ep->access_key == NULL || ep->secret_key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("no S3 credentials for user \"%s\" on server \"%s\"",
						GetUserNameFromId(userid, false), server->servername),
				 errhint("CREATE USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (access_key_id '...', secret_access_key '...').",
						 quote_identifier(server->servername))));
	return ep;
}

DesS3Endpoint *
DesS3EndpointForLocation(const DesLocation *loc)
{
	Assert(loc->kind == DES_LOCATION_S3);
	return DesS3EndpointForServerUser(loc->server ? loc->server : des_default_server,
									  DesLocationUser(loc));
}

/* The settings of this area (called from _PG_init). */
void
DesS3DefineSettings(void)
{
	DefineCustomStringVariable("des.default_server",
							   "Foreign server (des_fdw) whose endpoint and user mapping serve s3:// locations.",
							   NULL,
							   &des_default_server, "", PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("des.s3_connect_timeout",
							"Time allowed to connect to the S3 endpoint.",
							NULL,
							&des_s3_connect_timeout_ms, 10000, 100, 600000,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("des.s3_low_speed_time",
							"A transfer that moves no byte for this long is abandoned (and retried).",
							NULL,
							&des_s3_low_speed_time_s, 30, 1, 3600,
							PGC_USERSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("des.s3_max_retries",
							"Retries of an S3 request after HTTP 500, 502, 503, 504, 408 or 429, a timeout or a connection failure.",
							NULL,
							&des_s3_max_retries, 4, 0, 20,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("des.s3_retry_base_delay",
							"Base delay between retries: the n-th retry waits between base*2^(n-1) and base*2^n, at most 10 s.",
							NULL,
							&des_s3_retry_base_ms, 100, 1, 10000,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("des.s3_max_connections",
							"Concurrent requests of one operation (parallel range reads).",
							NULL,
							&des_s3_max_connections, 8, 1, DES_S3_MAX_PARALLEL,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("des.s3_sign_payload",
							 "Sign the SHA-256 of uploaded bytes (else UNSIGNED-PAYLOAD).",
							 NULL,
							 &des_s3_sign_payload, true, PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("des.s3_tail_read",
							"Bytes read from the end of an S3 archive when opening it (covers footer and, usually, the index).",
							NULL,
							&des_s3_tail_read_kb, 1024, 1, 1024 * 1024,
							PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("des.s3_part_size",
							"Part size of multipart uploads (S3 requires at least 5 MB).",
							NULL,
							&des_s3_part_size_mb, 8, 5, 5120,
							PGC_USERSET, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineCustomIntVariable("des.s3_upload_parallel",
							"Parts of one multipart upload sent at the same time.",
							NULL,
							&des_s3_upload_parallel, 4, 1, DES_S3_MAX_PARALLEL,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("des.s3_list_page_size",
							"Keys asked for per ListObjectsV2 request (S3 returns at most 1000).",
							NULL,
							&des_s3_list_page_size, 1000, 1, 1000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	/* a server-start setting exists only when preloaded (defining it later is FATAL) */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("des.index_cache_size",
								"Shared memory for the indexes of S3 archives, shared by all sessions (0 disables).",
								"Needs pg_des in shared_preload_libraries; takes effect at server start.",
								&des_index_cache_size_kb, 65536, 0, 64 * 1024 * 1024,
								PGC_POSTMASTER, GUC_UNIT_KB, NULL, NULL, NULL);
}
