-- Unique names (Snowflake-style 64-bit ids) and shards. See docs/names.md.

CREATE OR REPLACE FUNCTION des.next_id()
RETURNS bigint
AS 'MODULE_PATHNAME', 'des_next_id'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION des.next_id() IS
  'a unique 64-bit id: 41 bits of milliseconds since 2024, 10 bits of des.node_id, 12 bits of sequence';

CREATE OR REPLACE FUNCTION des.next_name()
RETURNS text
AS 'MODULE_PATHNAME', 'des_next_name'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION des.next_name() IS 'a unique object name: des.next_id() in decimal';

CREATE OR REPLACE FUNCTION des.id_info(id bigint, OUT created timestamptz, OUT node int, OUT sequence int)
AS 'MODULE_PATHNAME', 'des_id_info'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION des.id_info(bigint) IS 'the time, node and sequence an id was made of';

CREATE OR REPLACE FUNCTION des.shard_of(name text, shard_bits int DEFAULT NULL)
RETURNS int
AS 'MODULE_PATHNAME', 'des_shard_of'
LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION des.shard_of(text, int) IS
  'the shard of a name: XXH3-64 of its UTF-8 bytes modulo 2^shard_bits (default des.shard_bits)';
