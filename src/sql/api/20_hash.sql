-- Content hashing.

CREATE OR REPLACE FUNCTION des.blake2b(data bytea, digest_bytes int DEFAULT 32)
RETURNS bytea
AS 'MODULE_PATHNAME', 'des_blake2b'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION des.blake2b(bytea, int) IS 'BLAKE2b digest (1..64 bytes, default 32) of data';
