-- pg_des install script, built by the Makefile from src/sql/catalog/*.sql
-- (tables and types, created once, changed only by update scripts) and
-- src/sql/api/*.sql (functions, views, triggers, grants: CREATE OR REPLACE,
-- replayed by every update script); edit those files.
\echo Use "CREATE EXTENSION pg_des" to load this file. \quit
-- The extension's schema "des" is created by CREATE EXTENSION (pg_des.control).
-- Access to server files is checked by each function against the roles
-- pg_read_server_files and pg_write_server_files (as COPY does), so everyone
-- may use the schema; tables added later carry their own grants.
GRANT USAGE ON SCHEMA des TO PUBLIC;

-- What only pg_des itself calls: the workers' units of work, trigger
-- functions, aggregate support functions and helpers of the public
-- functions. Each function's EXECUTE grant is stated beside its CREATE:
-- revoked from PUBLIC unless a public function needs it with its caller's
-- rights. USAGE on the schema alone lets a role call nothing.
CREATE SCHEMA des_internal;
GRANT USAGE ON SCHEMA des_internal TO PUBLIC;
