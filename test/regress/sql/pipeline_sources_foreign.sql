-- Foreign tables as sources (docs/pipeline.md, "Foreign sources"): a second
-- database of this cluster reached through postgres_fdw. Claims are
-- compare-and-set on a key column, through a third status value settled by
-- the next round; a row left claiming by a round that did not commit is
-- staged again; remote errors are recorded and backed off. (The marker runs
-- in des.database; its claim is called directly here.)
SET client_min_messages = warning;
CREATE OR REPLACE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
TRUNCATE des.objects, des.blobs, des.containers, des.shard_leases, des.dead_letters;
DELETE FROM des.sources;

-- the remote side: an application's table of uploads in another database
DROP DATABASE IF EXISTS pgdes_remote;
CREATE DATABASE pgdes_remote;
\c pgdes_remote
SET client_min_messages = warning;
CREATE TABLE uploads (
    id     bigint PRIMARY KEY,
    path   text,
    body   bytea,
    info   jsonb,
    state  text NOT NULL DEFAULT 'new',
    added  timestamptz NOT NULL
);
INSERT INTO uploads (id, path, body, info, added)
SELECT i, 'remote/' || i, convert_to(repeat('row ' || i || ' ', i), 'UTF8'), jsonb_build_object('n', i),
       timestamptz '2026-01-01 00:00 UTC' + (20 - i) * interval '1 min'
  FROM generate_series(1, 10) i;
INSERT INTO uploads (id, path, body, added) VALUES
    (11, 'taken/name', '\x01', '2025-01-01'),		-- an object of that name exists already
    (12, NULL, '\x02', '2025-01-01'),				-- no name
    (13, 'remote/no-body', NULL, '2025-01-01'),	-- no bytes
    (14, 'remote/done', '\x03', '2025-01-01');
UPDATE uploads SET state = 'archived' WHERE id = 14;
\c contrib_regression
SET client_min_messages = warning;

CREATE EXTENSION IF NOT EXISTS postgres_fdw;
DO $$ BEGIN
    EXECUTE format('CREATE SERVER pgdes_remote FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host %L, port %L, dbname %L)',
                   split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port'), 'pgdes_remote');
END $$;
CREATE USER MAPPING FOR CURRENT_USER SERVER pgdes_remote;
CREATE FOREIGN TABLE remote_uploads (id bigint, path text, body bytea, info jsonb, state text, added timestamptz)
    SERVER pgdes_remote OPTIONS (table_name 'uploads');
CREATE FOREIGN TABLE remote_uploads_ro (id bigint, path text, body bytea, state text)
    SERVER pgdes_remote OPTIONS (table_name 'uploads', updatable 'false');
SELECT count(*) AS remote_rows FROM remote_uploads;

-- registration: a key column, a claiming value apart from the others, a wrapper that updates
SELECT try($$SELECT des.register_source('remote_uploads', 'path', data_column => 'body', status_column => 'state',
                                        pending_value => 'new', claimed_value => 'archived')$$) AS no_key;
SELECT try($$SELECT des.register_source('remote_uploads', 'path', data_column => 'body', status_column => 'state',
                                        pending_value => 'new', claimed_value => 'archived', key_column => 'nope')$$) AS bad_key;
SELECT try($$SELECT des.register_source('remote_uploads', 'path', data_column => 'body', status_column => 'state',
                                        pending_value => 'new', claimed_value => 'archived', key_column => 'id',
                                        claiming_value => 'new')$$) AS claiming_is_pending;
SELECT try($$SELECT des.register_source('remote_uploads_ro', 'path', data_column => 'body', status_column => 'state',
                                        pending_value => 'new', claimed_value => 'archived', key_column => 'id')$$) AS not_updatable;
CREATE TABLE local_uploads (id int, path text, body bytea, state text DEFAULT 'pending');
SELECT try($$SELECT des.register_source('local_uploads', 'path', data_column => 'body', key_column => 'id')$$) AS key_on_plain_table;
SELECT try($$SELECT des.register_source('local_uploads', 'path', data_column => 'body', claimers => 2)$$) AS shares_of_plain_table;
SELECT try($$SELECT des.register_source('remote_uploads', 'path', data_column => 'body', status_column => 'state',
                                        pending_value => 'new', claimed_value => 'archived', key_column => 'id',
                                        claimers => 17)$$) AS too_many_shares;
SELECT des.register_source('remote_uploads', 'path', data_column => 'body', status_column => 'state',
                           pending_value => 'new', claimed_value => 'archived', key_column => 'id',
                           meta_column => 'info', age_column => 'added', min_age => '1 min') > 0 AS registered;
SELECT key_column, claiming_value, use_returning FROM des.sources;

-- an object named like remote row 11: that row is never claimed
SELECT des.put('taken/name', '\xff') > 0 AS put;

-- round 1: four rows, oldest first (by added, then id), flipped to the claiming value and staged
SELECT des_internal.claim_source_tables(4) AS round1;
SELECT last_error, failures FROM des.sources;
SELECT id, state FROM remote_uploads WHERE state <> 'new' ORDER BY id;
SELECT u.k AS row_key, o.name
  FROM des.source_claims r CROSS JOIN LATERAL unnest(r.row_keys, r.object_ids) u(k, object_id)
  JOIN des.objects o ON o.id = u.object_id ORDER BY u.k::int;
-- round 2: round 1's rows settle as archived; four more claimed
SELECT des_internal.claim_source_tables(4) AS round2;
SELECT state, count(*), min(id), max(id) FROM remote_uploads GROUP BY state ORDER BY state;

-- a round that did not commit (here: its remote change committed, its local one not, as a
-- crash between the two leaves it): the row stays claiming, with no object; the next round stages it
\c pgdes_remote
UPDATE uploads SET state = 'claiming' WHERE id = 1;
\c contrib_regression
SET client_min_messages = warning;
SELECT count(*) AS objects_named_remote_1 FROM des.objects WHERE name = 'remote/1';
SELECT des_internal.claim_source_tables(4) AS round3;
SELECT count(*) AS objects_named_remote_1 FROM des.objects WHERE name = 'remote/1';
SELECT des_internal.claim_source_tables(4) AS round4;
SELECT des_internal.claim_source_tables(4) AS round5;
SELECT state, count(*) FROM remote_uploads GROUP BY state ORDER BY state;
SELECT count(*) AS ledger FROM des.source_claims;	-- every round settled
-- every claimed row is one object, byte-exact, with its meta; the rest stayed pending
SELECT count(*) AS objects, count(*) FILTER (WHERE o.name LIKE 'remote/%') AS from_remote,
       bool_and(des.get(r.path) = r.body) AS bytes_equal,
       bool_and(o.meta = r.info) AS meta_equal
  FROM des.objects o JOIN remote_uploads r ON r.path = o.name WHERE o.name LIKE 'remote/%';
SELECT id, path, state FROM remote_uploads WHERE state = 'new' ORDER BY id;

-- the remote side fails: the error (with its SQLSTATE) is recorded, the source backs off, a
-- plain source keeps flowing
INSERT INTO local_uploads VALUES (1, 'local/1', '\x0a');
SELECT des.register_source('local_uploads', 'path', data_column => 'body', status_column => 'state') > 0 AS local_registered;
\c pgdes_remote
INSERT INTO uploads (id, path, body, added) VALUES (20, 'remote/20', '\x14', '2025-01-01');
ALTER TABLE uploads RENAME COLUMN body TO content;
\c contrib_regression
SET client_min_messages = warning;
SELECT des_internal.claim_source_tables(4) AS round_with_error;
SELECT relation, left(last_error, 38) AS last_error, failures, retry_at > now() AS backing_off
  FROM des.sources ORDER BY id;
SELECT count(*) AS local_claimed FROM des.objects WHERE name = 'local/1';
-- while backing off it is not tried
SELECT des_internal.claim_source_tables(4) AS round_backing_off;
SELECT failures FROM des.sources WHERE relation = 'remote_uploads'::regclass;
-- mended, and its time come: the next round clears the error
\c pgdes_remote
ALTER TABLE uploads RENAME COLUMN content TO body;
\c contrib_regression
SET client_min_messages = warning;
UPDATE des.sources SET retry_at = now() WHERE relation = 'remote_uploads'::regclass;
SELECT des_internal.claim_source_tables(4) AS round_mended;
SELECT last_error, failures, retry_at FROM des.sources WHERE relation = 'remote_uploads'::regclass;
SELECT des_internal.claim_source_tables(4) AS round_settle;
SELECT state FROM remote_uploads WHERE id = 20;

-- other remote errors, each recorded with its SQLSTATE: a remote role without UPDATE, and a
-- remote value the foreign table's type does not take
UPDATE des.sources SET failures = 0, retry_at = NULL, last_error = NULL;
\c pgdes_remote
CREATE ROLE pgdes_remote_reader LOGIN PASSWORD 'reader-secret';
GRANT SELECT ON uploads TO pgdes_remote_reader;
INSERT INTO uploads (id, path, body, added) VALUES (21, 'remote/21', '\x15', '2025-01-01');
CREATE TABLE odd_keys (k text PRIMARY KEY, name text, body bytea, status text DEFAULT 'pending');
INSERT INTO odd_keys VALUES ('not-a-number', 'odd/1', '\x01');
\c contrib_regression
SET client_min_messages = warning;
-- (the reader over TCP with a password: the socket's peer authentication knows no such user)
DO $$ BEGIN
    EXECUTE format('CREATE SERVER pgdes_remote_tcp FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host %L, port %L, dbname %L)',
                   '127.0.0.1', current_setting('port'), 'pgdes_remote');
END $$;
CREATE USER MAPPING FOR CURRENT_USER SERVER pgdes_remote_tcp OPTIONS (user 'pgdes_remote_reader', password 'reader-secret');
CREATE FOREIGN TABLE remote_uploads_read_only (id bigint, path text, body bytea, state text, added timestamptz)
    SERVER pgdes_remote_tcp OPTIONS (table_name 'uploads');
UPDATE des.sources SET enabled = false;
SELECT des.register_source('remote_uploads_read_only', 'path', data_column => 'body', status_column => 'state',
                           pending_value => 'new', claimed_value => 'archived', key_column => 'id') > 0 AS registered;
SELECT des_internal.claim_source_tables(4) AS round_without_update_right;
SELECT last_error, failures, last_error LIKE '%reader-secret%' AS password_shown
  FROM des.sources WHERE relation = 'remote_uploads_read_only'::regclass;
SELECT des.unregister_source('remote_uploads_read_only');
UPDATE des.sources SET enabled = true;
SELECT postgres_fdw_disconnect_all() IS NOT NULL AS disconnected;
DROP FOREIGN TABLE remote_uploads_read_only;
DROP USER MAPPING FOR CURRENT_USER SERVER pgdes_remote_tcp;
DROP SERVER pgdes_remote_tcp;
CREATE FOREIGN TABLE remote_odd_keys (k bigint, name text, body bytea, status text)
    SERVER pgdes_remote OPTIONS (table_name 'odd_keys');
SELECT des.register_source('remote_odd_keys', 'name', data_column => 'body', key_column => 'k') > 0 AS registered;
SELECT des_internal.claim_source_tables(4) AS round_with_odd_key;
SELECT left(last_error, 60) AS last_error, failures FROM des.sources WHERE relation = 'remote_odd_keys'::regclass;
SELECT des.unregister_source('remote_odd_keys');
DROP FOREIGN TABLE remote_odd_keys;
-- and payloads by URL: the claim registers each row's URL; the marker fetches it later
\c pgdes_remote
CREATE TABLE links (id int PRIMARY KEY, name text, url text, status text DEFAULT 'pending');
INSERT INTO links VALUES (1, 'link/1', 'file:///tmp/pgdes-link-1'), (2, 'link/2', 's3://bucket/link-2');
\c contrib_regression
SET client_min_messages = warning;
CREATE FOREIGN TABLE remote_links (id int, name text, url text, status text) SERVER pgdes_remote OPTIONS (table_name 'links');
SELECT des.register_source('remote_links', 'name', url_column => 'url', key_column => 'id') > 0 AS registered;
SELECT des_internal.claim_source_tables(4) AS round_of_urls;
SELECT name, source_url, staged IS NULL AS no_bytes_yet FROM des.objects WHERE name LIKE 'link/%' ORDER BY name;
SELECT des.unregister_source('remote_links');
DROP FOREIGN TABLE remote_links;

-- rows without a key cannot be flipped by it: they stay pending, and the windows go past them
\c pgdes_remote
CREATE TABLE loose (k int, name text, body bytea, status text DEFAULT 'pending');
INSERT INTO loose (k, name, body) SELECT NULL, 'loose/' || i, '\x00' FROM generate_series(1, 150) i;
INSERT INTO loose (k, name, body) VALUES (1, 'loose/keyed', '\x01');
\c contrib_regression
SET client_min_messages = warning;
CREATE FOREIGN TABLE remote_loose (k int, name text, body bytea, status text) SERVER pgdes_remote OPTIONS (table_name 'loose');
SELECT des.register_source('remote_loose', 'name', data_column => 'body', key_column => 'k') > 0 AS registered;
SELECT des_internal.claim_source_tables(4) AS round_with_keyless_rows;
SELECT count(*) FILTER (WHERE k IS NULL AND status = 'pending') AS keyless_pending,
       count(*) FILTER (WHERE k = 1 AND status = 'claiming') AS keyed_claimed
  FROM remote_loose;
-- two shares, one session: its rounds take the shares in turn, and every keyed row is claimed
UPDATE des.sources SET claimers = 2 WHERE relation = 'remote_loose'::regclass;
\c pgdes_remote
INSERT INTO loose (k, name, body) SELECT i, 'loose/keyed' || i, int4send(i) FROM generate_series(2, 9) i;
\c contrib_regression
SET client_min_messages = warning;
SELECT des_internal.claim_source_tables(100) AS share_round_1, des_internal.claim_source_tables(100) AS share_round_2;
SELECT count(*) FILTER (WHERE k IS NOT NULL AND status = 'pending') AS keyed_pending,
       count(*) FILTER (WHERE k IS NOT NULL AND status = 'claiming') AS keyed_claiming FROM remote_loose;
SELECT count(DISTINCT part) AS shares_used FROM des.source_claims c JOIN des.sources s ON s.id = c.source_id
 WHERE s.relation = 'remote_loose'::regclass;
SELECT des.unregister_source('remote_loose');
DROP FOREIGN TABLE remote_loose;

-- a wrapper without RETURNING (as mysql_fdw): the flipped rows are read back by key and status
\c pgdes_remote
CREATE TABLE queue (k text PRIMARY KEY, name text, payload bytea, st text NOT NULL DEFAULT 'pending');
INSERT INTO queue SELECT 'k' || i, 'queue/' || i, int4send(i), 'pending' FROM generate_series(1, 7) i;
\c contrib_regression
SET client_min_messages = warning;
CREATE FOREIGN TABLE remote_queue (k text, name text, payload bytea, st text) SERVER pgdes_remote OPTIONS (table_name 'queue');
SELECT des.register_source('remote_queue', 'name', data_column => 'payload', status_column => 'st', key_column => 'k',
                           claiming_value => 'taking', claimed_value => 'kept', use_returning => false) > 0 AS registered;
SELECT des_internal.claim_source_tables(5) AS round1;
SELECT des_internal.claim_source_tables(5) AS round2;
SELECT des_internal.claim_source_tables(5) AS round3;
SELECT st, count(*) FROM remote_queue GROUP BY st ORDER BY st;
SELECT count(*) AS objects, bool_and(des.get(q.name) = q.payload) AS bytes_equal
  FROM remote_queue q JOIN des.objects o ON o.name = q.name;

-- unregistering drops the source's unsettled claims with it (their remote rows stay in the claiming value)
\c pgdes_remote
INSERT INTO queue VALUES ('k8', 'queue/8', '\x08'), ('k9', 'queue/9', '\x09');
\c contrib_regression
SET client_min_messages = warning;
SELECT des_internal.claim_source_tables(5) AS round4;
SELECT count(*) AS rounds, sum(cardinality(row_keys)) AS unsettled FROM des.source_claims;
SELECT des.unregister_source('remote_queue') AND des.unregister_source('remote_uploads')
       AND des.unregister_source('local_uploads') AS unregistered;
SELECT count(*) AS ledger_left FROM des.source_claims;

SELECT postgres_fdw_disconnect_all() IS NOT NULL AS disconnected;
DROP FOREIGN TABLE remote_uploads, remote_uploads_ro, remote_queue;
DROP USER MAPPING FOR CURRENT_USER SERVER pgdes_remote;
DROP SERVER pgdes_remote;
DROP TABLE local_uploads;
DROP DATABASE pgdes_remote;
DROP ROLE pgdes_remote_reader;
TRUNCATE des.objects, des.blobs, des.containers, des.shard_leases, des.dead_letters;
