/*
 * fdw_options.c - des_fdw options: the validator of every catalog's options
 * (server, user mapping, foreign table), and the reading of a foreign
 * table's options and columns.
 *
 * S3 settings live in CREATE SERVER ... FOREIGN DATA WRAPPER des_fdw OPTIONS
 * (endpoint, region, url_style, allow_http); credentials only in CREATE USER
 * MAPPING (access_key_id, secret_access_key, session_token), which PostgreSQL
 * shows only to the mapped user, the server owner and superusers (the
 * postgres_fdw rule). The s3 area (s3_config.c) reads server and mapping
 * options; this file only checks them.
 */
#include "pg_des.h"

#include "access/reloptions.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_type.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/rel.h"

#include "des/io/des_location.h"
#include "fdw/des_fdw.h"

/* ---- the validator ---- */

/*
 * Every option, in the order the "invalid option" hint lists them: adding an
 * option is one line here (plus its value check in des_fdw_validator, if
 * any). An option valid in several catalogs takes one line per catalog.
 */
typedef struct DesFdwOption
{
	const char *name;
	Oid			catalog;		/* ForeignServerRelationId, UserMappingRelationId or ForeignTableRelationId */
	bool		secret;			/* a credential: user mappings only */
} DesFdwOption;

static const DesFdwOption options[] = {
	{"endpoint", ForeignServerRelationId, false},
	{"region", ForeignServerRelationId, false},
	{"url_style", ForeignServerRelationId, false},
	{"allow_http", ForeignServerRelationId, false},
	{"access_key_id", UserMappingRelationId, true},
	{"secret_access_key", UserMappingRelationId, true},
	{"session_token", UserMappingRelationId, true},
	{"location", ForeignTableRelationId, false},
	{"ref", ForeignTableRelationId, false},
	{"uri", ForeignTableRelationId, false},
	{"verify", ForeignTableRelationId, false},
	{"format", ForeignTableRelationId, false},
	{"path", ForeignTableRelationId, false},
	{"header", ForeignTableRelationId, false},
	{"delimiter", ForeignTableRelationId, false},
	{"quote", ForeignTableRelationId, false},
	{"null", ForeignTableRelationId, false},
	{NULL, InvalidOid, false}
};

/* The catalogs, in the order (and with the words) of the hint. */
static const struct
{
	Oid			catalog;
	const char *label;
}			option_catalogs[] = {
	{ForeignServerRelationId, "Server options"},
	{UserMappingRelationId, "User mapping options"},
	{ForeignTableRelationId, "Foreign table options"},
};

/*
 * "Server options: endpoint, region. User mapping options: ... Foreign
 * table options: ...": the valid options per catalog, from the table.
 */
static char *
valid_options_hint(void)
{
	StringInfoData s;

	initStringInfo(&s);
	for (int k = 0; k < lengthof(option_catalogs); k++)
	{
		bool		first = true;

		for (const DesFdwOption *opt = options; opt->name; opt++)
		{
			if (opt->catalog != option_catalogs[k].catalog)
				continue;
			if (first)
				appendStringInfo(&s, "%s%s: ", s.len > 0 ? " " : "", option_catalogs[k].label);
			else
				appendStringInfoString(&s, ", ");
			appendStringInfoString(&s, opt->name);
			first = false;
		}
		if (!first)
			appendStringInfoChar(&s, '.');
	}
	return s.data;
}

PG_FUNCTION_INFO_V1(des_fdw_validator);

Datum
des_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options_list = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *cell;
	bool		http = false;
	bool		allow_http = false;
	bool		has_location = false;
	bool		has_ref = false;
	bool		has_uri = false;
	const char *format = NULL;
	const char *path = NULL;
	const char *csv_option = NULL;	/* an option that needs format */
	const char *delimiter = NULL;
	const char *quote = NULL;

	foreach(cell, options_list)
	{
		DefElem    *def = (DefElem *) lfirst(cell);
		const DesFdwOption *opt;
		bool		known = false;
		bool		secret = false;

		for (opt = options; opt->name; opt++)
		{
			if (strcmp(opt->name, def->defname) == 0)
			{
				known = true;
				secret |= opt->secret;
				if (opt->catalog == catalog)
					break;
			}
		}
		if (opt->name == NULL)
		{
			if (secret)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("option \"%s\" is only allowed in a user mapping", def->defname),
						 errhint("Credentials belong in CREATE USER MAPPING ... SERVER ... OPTIONS (access_key_id '...', secret_access_key '...'), where only the mapped user, the server owner and superusers can see them.")));
			if (known)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("option \"%s\" is not valid here", def->defname)));
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\"", def->defname),
					 errhint("%s", valid_options_hint())));
		}
		if (strcmp(def->defname, "endpoint") == 0)
		{
			des_endpoint ep;

			/* http(s)://host[:port][/]: the grammar is des_endpoint_parse (core) */
			if (!des_endpoint_parse(defGetString(def), &ep))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid endpoint \"%s\"", defGetString(def)),
						 errhint("Write http(s)://host[:port], without a path.")));
			http = !ep.https;
		}
		else if (strcmp(def->defname, "url_style") == 0)
		{
			const char *v = defGetString(def);

			if (strcmp(v, "path") != 0 && strcmp(v, "virtual") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("url_style must be \"path\" or \"virtual\", not \"%s\"", v)));
		}
		else if (strcmp(def->defname, "allow_http") == 0)
			allow_http = defGetBoolean(def);
		else if (strcmp(def->defname, "region") == 0 && defGetString(def)[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("region must not be empty")));
		else if (strcmp(def->defname, "location") == 0)
		{
			/*
			 * A table over server files is created only by roles that may
			 * read them (as file_fdw does); each query checks its own role
			 * again, so granting the table does not lend the files.
			 */
			DesCheckReadAccess(DesParseLocationPrefix(defGetString(def)));
			has_location = true;
		}
		else if (strcmp(def->defname, "format") == 0)
		{
			format = defGetString(def);
			if (strcmp(format, "csv") != 0 && strcmp(format, "tsv") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("format must be \"csv\" or \"tsv\", not \"%s\"", format)));
		}
		else if (strcmp(def->defname, "path") == 0)
		{
			path = defGetString(def);
			csv_option = def->defname;
			if (path[0] == '\0' || path[0] == '/')
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("option \"path\" must be a pattern of paths in the version, not \"%s\"", path),
						 errhint("Paths in a version are relative: 'daily/*.csv' ('*' and '?' stay within a path component).")));
		}
		else if (strcmp(def->defname, "header") == 0)
		{
			(void) defGetBoolean(def);
			csv_option = def->defname;
		}
		else if (strcmp(def->defname, "delimiter") == 0 || strcmp(def->defname, "quote") == 0)
		{
			const char *v = defGetString(def);
			bool		is_quote = def->defname[0] == 'q';

			csv_option = def->defname;
			if (strlen(v) > 1 || (strlen(v) == 0 && !is_quote) || v[0] == '\n' || v[0] == '\r' ||
				(v[0] & 0x80) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("option \"%s\" must be one ASCII character%s, not \"%s\"", def->defname,
								is_quote ? " or empty (no quoting)" : "", v)));
			if (is_quote)
				quote = v;
			else
				delimiter = v;
		}
		else if (strcmp(def->defname, "null") == 0)
			csv_option = def->defname;
		else if (strcmp(def->defname, "uri") == 0)
		{
			if (pg_strncasecmp(defGetString(def), "gros://", 7) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("option \"uri\" must be a gros:// URI, not \"%s\"", defGetString(def)),
						 errhint("Write gros://repo[/branch][:tag]; option \"ref\" takes the other kinds of ref.")));
			has_uri = true;
		}
		else if (strcmp(def->defname, "ref") == 0)
		{
			/* a version of a dataset: the reader's level is checked by each scan */
			if (defGetString(def)[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("option \"ref\" must not be empty"),
						 errhint("A ref is a bundle id (or 8+ of its first hex digits), repo/branch, repo/branch@{timestamp} or repo@label.")));
			has_ref = true;
		}
		else if (strcmp(def->defname, "verify") == 0)
			(void) defGetBoolean(def);
		else if (opt->secret && defGetString(def)[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("option \"%s\" must not be empty", def->defname)));
	}
	if (has_ref && has_uri)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("options \"ref\" and \"uri\" cannot be used together"),
				 errhint("A gros:// URI is a ref: give one of them.")));
	has_ref |= has_uri;
	if (format && !has_ref)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("option \"format\" needs option \"uri\" (or \"ref\"): the version whose files are read")));
	if (format && !path)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("option \"format\" needs option \"path\": which files of the version"),
				 errhint("A pattern such as 'daily/*.csv' ('*' and '?' stay within a path component).")));
	if (csv_option && !format)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("option \"%s\" is for the files of a version read as CSV: it needs option \"format\"", csv_option)));
	if (format)
	{
		/* (the defaults: ',' and '"' for csv, a tab and no quoting for tsv) */
		char		d = delimiter ? delimiter[0] : (strcmp(format, "tsv") == 0 ? '\t' : ',');
		char		q = quote ? quote[0] : (strcmp(format, "tsv") == 0 ? '\0' : '"');

		if (q != '\0' && d == q)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("the delimiter and the quote must differ")));
	}
	if (has_location && has_ref)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("options \"location\" and \"ref\" cannot be used together"),
				 errhint("A foreign table reads archives (location) or the files of a version of a dataset (ref).")));
	if (has_ref)
		foreach(cell, options_list)
			if (strcmp(((DefElem *) lfirst(cell))->defname, "verify") == 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("option \"verify\" is for archives, not for a ref"),
						 errhint("Every chunk of a dataset is checked against its BLAKE2b-256 id when it is read.")));
	if (http && !allow_http)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("endpoint uses plain http, which sends data unencrypted"),
				 errhint("Use https, or add OPTIONS (allow_http 'true') for a trusted local endpoint.")));
	PG_RETURN_VOID();
}

/* ---- a foreign table's options and columns ---- */

const char *const DesFdwColumnNames[DES_NCOLS] = {
	"name", "data", "meta", "size", "flags", "archive", "day", "data_offset", "blake2b"
};

/* accepted types per column (InvalidOid ends) */
static const Oid column_types[DES_NCOLS][3] = {
	{TEXTOID, VARCHAROID, InvalidOid},
	{BYTEAOID, InvalidOid},
	{JSONBOID, InvalidOid},
	{INT8OID, InvalidOid},
	{INT4OID, InvalidOid},
	{TEXTOID, VARCHAROID, InvalidOid},
	{DATEOID, InvalidOid},
	{INT8OID, InvalidOid},
	{BYTEAOID, InvalidOid},
};

#define COLUMNS_HINT "des_fdw columns (any subset, any order): name text, data bytea, meta jsonb, size bigint, flags integer, archive text, day date, data_offset bigint, blake2b bytea."

/* the columns of a ref table: des.files' names and types, and the data */
const char *const DesFdwRefColumnNames[DES_RCOL_COUNT] = {
	"path", "size", "data", "kind", "mode", "content_hash"
};

static const Oid ref_column_types[DES_RCOL_COUNT][3] = {
	{TEXTOID, VARCHAROID, InvalidOid},
	{INT8OID, InvalidOid},
	{BYTEAOID, InvalidOid},
	{TEXTOID, VARCHAROID, InvalidOid},
	{INT4OID, InvalidOid},
	{TEXTOID, VARCHAROID, InvalidOid},
};

#define REF_COLUMNS_HINT "des_fdw columns of a ref table (any subset, any order): path text, size bigint, data bytea, kind text, mode integer, content_hash text."

/* A column's type is one of types (varchar without a length limit). */
static bool
column_type_ok(Form_pg_attribute att, const Oid *types)
{
	bool		ok = false;

	for (int k = 0; OidIsValid(types[k]); k++)
		ok |= att->atttypid == types[k];
	/* a length limit could not be honoured: names are as long as they are */
	if (att->atttypid == VARCHAROID && att->atttypmod >= 0)
		ok = false;
	return ok;
}

/* The columns of a ref table, by name (fdw_ref.c). */
static void
load_ref_columns(Relation rel, DesFdwTable *t)
{
	TupleDesc	desc = RelationGetDescr(rel);

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		int			c;

		if (att->attisdropped)
			continue;
		for (c = 0; c < DES_RCOL_COUNT; c++)
			if (strcmp(NameStr(att->attname), DesFdwRefColumnNames[c]) == 0)
				break;
		if (c == DES_RCOL_COUNT)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
					 errmsg("column \"%s\" of foreign table \"%s\" is not a des_fdw column of a ref table",
							NameStr(att->attname), RelationGetRelationName(rel)),
					 errhint(REF_COLUMNS_HINT)));
		if (!column_type_ok(att, ref_column_types[c]))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("column \"%s\" of foreign table \"%s\" has type %s, but des_fdw gives %s",
							NameStr(att->attname), RelationGetRelationName(rel),
							format_type_be(att->atttypid), format_type_be(ref_column_types[c][0])),
					 errhint(REF_COLUMNS_HINT)));
		t->ref_attno[c] = att->attnum;
	}
}

/* Options and column mapping of a des_fdw foreign table; checks the columns. */
void
DesFdwTableLoad(Relation rel, DesFdwTable *t)
{
	ForeignTable *ft = GetForeignTable(RelationGetRelid(rel));
	ForeignServer *server = GetForeignServer(ft->serverid);
	TupleDesc	desc = RelationGetDescr(rel);
	ListCell   *lc;
	const char *delimiter = NULL;
	const char *quote = NULL;

	memset(t, 0, sizeof(*t));
	t->server = server->servername;
	foreach(lc, ft->options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, "location") == 0)
			t->location = defGetString(def);
		else if (strcmp(def->defname, "ref") == 0 || strcmp(def->defname, "uri") == 0)
			t->ref = defGetString(def);
		else if (strcmp(def->defname, "verify") == 0)
			t->verify = defGetBoolean(def);
		else if (strcmp(def->defname, "format") == 0)
		{
			t->has_format = true;
			t->format_is_tsv = strcmp(defGetString(def), "tsv") == 0;
		}
		else if (strcmp(def->defname, "path") == 0)
			t->path_glob = defGetString(def);
		else if (strcmp(def->defname, "header") == 0)
			t->header = defGetBoolean(def);
		else if (strcmp(def->defname, "delimiter") == 0)
			delimiter = defGetString(def);
		else if (strcmp(def->defname, "quote") == 0)
			quote = defGetString(def);
		else if (strcmp(def->defname, "null") == 0)
			t->null_string = defGetString(def);
	}
	if (t->ref && t->has_format)
	{
		/* the rows of CSV files: any columns, typed as the user wants (fdw_csv.c) */
		t->delimiter = delimiter ? delimiter[0] : (t->format_is_tsv ? '\t' : ',');
		t->quote = quote ? quote[0] : (t->format_is_tsv ? '\0' : '"');
		if (t->path_glob == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("foreign table \"%s\" has no path option", RelationGetRelationName(rel))));
		return;
	}
	if (t->ref)
	{
		load_ref_columns(rel, t);
		return;
	}
	if (t->location == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("foreign table \"%s\" has no location option", RelationGetRelationName(rel)),
				 errhint("ALTER FOREIGN TABLE %s OPTIONS (ADD location 's3://bucket/prefix/' or '/path/*.des'), or (ADD ref 'repo/branch') for the files of a dataset.",
						 quote_identifier(RelationGetRelationName(rel)))));
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		int			c;
		bool		type_ok = false;

		if (att->attisdropped)
			continue;
		for (c = 0; c < DES_NCOLS; c++)
			if (strcmp(NameStr(att->attname), DesFdwColumnNames[c]) == 0)
				break;
		if (c == DES_NCOLS)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
					 errmsg("column \"%s\" of foreign table \"%s\" is not a des_fdw column",
							NameStr(att->attname), RelationGetRelationName(rel)),
					 errhint(COLUMNS_HINT)));
		for (int k = 0; OidIsValid(column_types[c][k]); k++)
			type_ok |= att->atttypid == column_types[c][k];
		/* a length limit could not be honoured: names are as long as they are */
		if (att->atttypid == VARCHAROID && att->atttypmod >= 0)
			type_ok = false;
		if (!type_ok)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("column \"%s\" of foreign table \"%s\" has type %s, but des_fdw gives %s",
							NameStr(att->attname), RelationGetRelationName(rel),
							format_type_be(att->atttypid), format_type_be(column_types[c][0])),
					 errhint(COLUMNS_HINT)));
		t->attno[c] = att->attnum;
	}
}
