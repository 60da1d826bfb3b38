-- gros:// URIs (docs/lineage.md): the grammar is the core's (src/core/uri);
-- resolution into bundles comes with the versioning catalog.

CREATE OR REPLACE FUNCTION des.uri_parse(uri text,
                                         OUT repo text, OUT branch text, OUT tag_kind text, OUT tag text,
                                         OUT day date, OUT "position" bigint, OUT realtime boolean,
                                         OUT canonical text)
AS 'MODULE_PATHNAME', 'des_uri_parse_sql'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION des.uri_parse(text) IS
  'a gros://repo[/branch][:tag] URI taken apart: repo, branch (NULL: the default), tag kind (realtime, latest, date, position, name, name_or_id), the decoded tag, its day or position, whether it is a real-time dependency, the canonical text';
