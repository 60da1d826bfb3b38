-- Sources: a table of the user's becomes a source the marker claims rows
-- from (called directly here; the marker runs in des.database).
SET client_min_messages = warning;
CREATE OR REPLACE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
TRUNCATE des.objects, des.blobs, des.containers, des.shard_leases, des.dead_letters;

CREATE SCHEMA "My App";
CREATE TABLE "My App"."Uploads" (
    id        serial PRIMARY KEY,
    "File"    varchar NOT NULL,
    body      bytea,
    info      jsonb,
    state     text NOT NULL DEFAULT 'pending',
    arrived   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO "My App"."Uploads" ("File", body, info, arrived)
SELECT 'up/' || i, convert_to('upload ' || i, 'UTF8'), jsonb_build_object('n', i), now() - (i || ' min')::interval
  FROM generate_series(1, 5) i;
INSERT INTO "My App"."Uploads" ("File", body, state) VALUES ('up/done', '\x00', 'archived');
INSERT INTO "My App"."Uploads" ("File", body) VALUES ('up/no-body', NULL);

-- registration checks the columns, their types and the caller's rights
SELECT try($$SELECT des.register_source('"My App"."Uploads"', 'File')$$);
SELECT try($$SELECT des.register_source('"My App"."Uploads"', 'File', data_column => 'body', url_column => 'File')$$);
SELECT try($$SELECT des.register_source('"My App"."Uploads"', 'nope', data_column => 'body')$$);
SELECT try($$SELECT des.register_source('"My App"."Uploads"', 'File', data_column => 'info')$$);
SELECT try($$SELECT des.register_source('"My App"."Uploads"', 'File', data_column => 'body', status_column => 'id')$$);
SELECT try($$SELECT des.register_source('"My App"."Uploads"', 'File', data_column => 'body', status_column => 'state',
                                        pending_value => 'x', claimed_value => 'x')$$);
SELECT try($$SELECT des.register_source('pg_class', 'relname', data_column => 'relname')$$);
CREATE VIEW uploads_view AS SELECT * FROM "My App"."Uploads";
SELECT try($$SELECT des.register_source('uploads_view', 'File', data_column => 'body', status_column => 'state')$$);
CREATE ROLE des_src_user;
GRANT USAGE ON SCHEMA "My App" TO des_src_user;
GRANT SELECT ON "My App"."Uploads" TO des_src_user;
GRANT SELECT, INSERT ON des.sources TO des_src_user;
SET ROLE des_src_user;
SELECT try($$SELECT des.register_source('"My App"."Uploads"', 'File', data_column => 'body', status_column => 'state')$$);
-- a direct insert is registered by its inserter, whatever it says; URLs need pg_read_server_files
SELECT try($$INSERT INTO des.sources (relation, name_column, url_column, status_column, pending_value, claimed_value, registered_by)
             VALUES ('"My App"."Uploads"', 'File', 'File', 'state', 'pending', 'queued', 'postgres')$$);
INSERT INTO des.sources (relation, name_column, data_column, status_column, pending_value, claimed_value, registered_by)
VALUES ('"My App"."Uploads"', 'File', 'body', 'state', 'pending', 'queued', 'postgres') RETURNING registered_by;
RESET ROLE;
-- claims run as the registrar: this one may not update the status column
SELECT des_internal.claim_source_tables(100) AS claimed_without_rights;
SELECT left(last_error, 70) AS last_error, registered_by FROM des.sources;
SELECT count(*) AS objects FROM des.objects;
DELETE FROM des.sources;

SELECT des.register_source('"My App"."Uploads"', 'File', data_column => 'body', status_column => 'state',
                           claimed_value => 'archiving', age_column => 'arrived', min_age => '2 min',
                           meta_column => 'info') > 0 AS registered;
SELECT try($$SELECT des.register_source('"My App"."Uploads"', 'File', data_column => 'body', status_column => 'state')$$);
SELECT try($$SELECT des.register_source('plain_missing', 'n', data_column => 'd')$$);
SELECT relation, name_column, data_column, status_column, pending_value, claimed_value, min_age, registered_by
  FROM des.sources;

-- a claim takes pending rows old enough, oldest first, at most batch_size
SELECT des_internal.claim_source_tables(2) AS claimed;
SELECT "File", state FROM "My App"."Uploads" ORDER BY id;
SELECT name, state, staged, meta FROM des.objects ORDER BY name;
SELECT des_internal.claim_source_tables(100) AS claimed_rest;
SELECT "File", state FROM "My App"."Uploads" ORDER BY id;
SELECT count(*) AS objects, bool_and(staged IS NOT NULL) AS staged FROM des.objects;
SELECT last_claim_at IS NOT NULL AS claimed_at, last_error FROM des.sources;
-- the young row (arrived 1 min ago) and the row without a body stay pending
SELECT des_internal.claim_source_tables(100) AS nothing_more;
-- a row whose name is already an object stays pending: never flipped without its bytes
UPDATE "My App"."Uploads" SET state = 'pending', arrived = now() - interval '1 hour' WHERE "File" = 'up/3';
SELECT des_internal.claim_source_tables(100) AS again, (SELECT count(*) FROM des.objects) AS objects;
-- two pending rows with the same new name in one claim: the first becomes the
-- object and is flipped; the other stays pending (not flipped without its bytes)
INSERT INTO "My App"."Uploads" ("File", body, state, arrived)
VALUES ('up/twice', '\x0101', 'pending', now() - interval '1 hour'),
       ('up/twice', '\x0202', 'pending', now() - interval '1 hour');
SELECT des_internal.claim_source_tables(100) AS claimed_one_of_two;
SELECT u.body, u.state, o.staged FROM "My App"."Uploads" u LEFT JOIN des.objects o ON o.name = u."File" AND o.staged = u.body
 WHERE u."File" = 'up/twice' ORDER BY u.id;
SELECT des_internal.mark_batch(100) AS marked;

-- a broken source records its error; the others go on
DROP VIEW uploads_view;
CREATE TABLE plain_src (n text, d bytea, status text DEFAULT 'pending');
SELECT des.register_source('plain_src', 'n', data_column => 'd') > 0 AS registered;
INSERT INTO plain_src (n, d) VALUES ('plain/1', '\x01');
ALTER TABLE "My App"."Uploads" DROP COLUMN info;
SELECT des_internal.claim_source_tables(100) AS claimed_from_plain;
SELECT relation, left(last_error, 60) AS last_error FROM des.sources ORDER BY id;
SELECT status FROM plain_src;

SELECT des.unregister_source('"My App"."Uploads"') AS unregistered, des.unregister_source('plain_src') AS unregistered_2;
SELECT count(*) AS sources FROM des.sources;
DROP TABLE plain_src;

-- claims run as the registrar in a security-restricted context: a trigger on
-- the source table cannot take the marker's rights
CREATE TABLE evil_src (n text, d bytea, status text DEFAULT 'pending');
CREATE FUNCTION evil_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('role', 'postgres', true);
    RETURN NEW;
END $$;
CREATE TRIGGER evil BEFORE UPDATE ON evil_src FOR EACH ROW EXECUTE FUNCTION evil_trigger();
GRANT SELECT, UPDATE ON evil_src TO des_src_user;
GRANT SELECT, INSERT ON des.objects TO des_src_user;
INSERT INTO evil_src (n, d) VALUES ('evil/1', '\x01');
SET ROLE des_src_user;
SELECT des.register_source('evil_src', 'n', data_column => 'd') > 0 AS registered;
RESET ROLE;
SELECT des_internal.claim_source_tables(10) AS claimed;
SELECT relation, registered_by, last_error FROM des.sources;
SELECT status FROM evil_src;
SELECT count(*) AS objects_from_evil FROM des.objects WHERE name LIKE 'evil/%';
DELETE FROM des.sources;
DROP TABLE evil_src;
DROP FUNCTION evil_trigger();
DROP SCHEMA "My App" CASCADE;
DROP OWNED BY des_src_user;
DROP ROLE des_src_user;
TRUNCATE des.objects, des.dead_letters;
