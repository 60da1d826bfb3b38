-- Server-file access requires pg_read_server_files / pg_write_server_files.
\set dir '/tmp/pg_des_regress/privileges'
SET client_min_messages = warning;
SELECT des.archive_write(:'dir' || '/p.des', 'x', '\x2a'::bytea, NULL) ->> 'entries' AS entries;

CREATE ROLE des_nobody;
CREATE ROLE des_reader IN ROLE pg_read_server_files;
CREATE ROLE des_writer IN ROLE pg_write_server_files;

SET ROLE des_nobody;
SELECT des.archive_read('/tmp/pg_des_regress/privileges/p.des', 'x');
SELECT * FROM des.archive_list('/tmp/pg_des_regress/privileges/p.des');
SELECT des.archive_info('/tmp/pg_des_regress/privileges/p.des');
SELECT * FROM des.archive_verify('/tmp/pg_des_regress/privileges/p.des');
SELECT des.archive_write('/tmp/pg_des_regress/privileges/q.des', 'x', '\x2a'::bytea, NULL);
SELECT length(des.blake2b('x')) AS hashing_needs_no_privilege;
SELECT des_internal.read_blob('/tmp/pg_des_regress/privileges/p.des', 16, 1, 0, des.blake2b('\x2a'));
RESET ROLE;

SET ROLE des_reader;
SELECT des.archive_read('/tmp/pg_des_regress/privileges/p.des', 'x');
SELECT des_internal.read_blob('/tmp/pg_des_regress/privileges/p.des', 16, 1, 0, des.blake2b('\x2a'));
SELECT des.archive_write('/tmp/pg_des_regress/privileges/q.des', 'x', '\x2a'::bytea, NULL);
RESET ROLE;

SET ROLE des_writer;
SELECT des.archive_write('/tmp/pg_des_regress/privileges/q.des', 'x', '\x2a'::bytea, NULL) ->> 'entries' AS entries;
SELECT des.archive_read('/tmp/pg_des_regress/privileges/q.des', 'x');
RESET ROLE;

-- registering a server file by URL needs the right to read it (the marker reads it later)
GRANT SELECT, INSERT ON des.objects TO des_nobody, des_reader;
SET ROLE des_nobody;
SELECT des.put_url('u/nobody', 'file:///etc/passwd');
RESET ROLE;
SET ROLE des_reader;
SELECT des.put_url('u/reader', '/tmp/pg_des_regress/privileges/p.des') > 0 AS registered;
RESET ROLE;
DELETE FROM des.objects WHERE name LIKE 'u/%';

DROP OWNED BY des_nobody, des_reader, des_writer;
DROP ROLE des_nobody, des_reader, des_writer;
