-- The pipeline catalog: ingest, read back, and the invariants the database keeps.
\set dir '/tmp/pg_des_regress/basic'
SET client_min_messages = warning;
CREATE OR REPLACE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- staging objects
SELECT des.put('cam1/0001.jpg', '\x010203'::bytea, '{"camera": 1}') > 0 AS put_id;
SELECT des.put('cam1/0002.jpg', '\x0405'::bytea) > 0 AS put_default_meta;
SELECT des.put(NULL, '\x06'::bytea) AS generated \gset
SELECT name ~ '^[0-9]+$' AS generated_name_is_an_id, name::bigint = id AS name_is_the_id
FROM des.objects WHERE id = :generated;
SELECT name, state, size, meta, staged FROM des.objects WHERE name LIKE 'cam1/%' ORDER BY name;

-- read back
SELECT des.get('cam1/0001.jpg') AS bytes;
SELECT state, size, hash IS NULL AS not_hashed_yet, location FROM des.stat('cam1/0002.jpg');
SELECT name, data FROM des.get_many(ARRAY['cam1/0002.jpg', 'cam1/0001.jpg', 'missing']) ORDER BY name;

-- bad input, clear errors
SELECT try($$SELECT des.put('cam1/0001.jpg', '\x00'::bytea)$$);
SELECT try($$SELECT des.put('x', NULL)$$);
SELECT try($$SELECT des.put('x', '\x00'::bytea, '[1]')$$);
SELECT try($$SELECT des.put('', '\x00'::bytea)$$);
SELECT try($$SELECT des.put('sized', '\x0102'::bytea, '{"size": 3}')$$);
SELECT des.put('sized', '\x0102'::bytea, '{"size": 2}') > 0 AS size_that_matches_is_kept;
DELETE FROM des.objects WHERE name = 'sized';
SELECT try($$SELECT des.put('sized', '\x0102'::bytea, '{"size": 2.0}')$$);
SELECT try($$SELECT des.put('sized', '\x0102'::bytea, '{"size": "2"}')$$);
SELECT try($$SELECT des.put('reserved', '\x0102'::bytea, '{"blake2b": "00"}')$$);
SELECT try($$SELECT des.put('reserved', '\x0102'::bytea, '{"des_ref": {}}')$$);
SELECT try($$SELECT des.put('reserved', '\x0102'::bytea, '{"des_id": 1}')$$);
SELECT try($$SELECT des.put_url('reserved', 'file:///x', '{"is_external": true}')$$);
SELECT try($$SELECT des.get('missing')$$);
SELECT try($$SELECT * FROM des.stat('missing')$$);
SELECT try($$SELECT des.put_url('u', 'relative/path')$$);
SELECT try($$SELECT des.put_url('u', NULL)$$);

-- registered by URL: the packer will fetch it
SELECT des.put_url('ext/big.bin', 'file:///data/big.bin', '{"k": 1}') > 0 AS registered;
SELECT state, source_url FROM des.stat('ext/big.bin');
SELECT try($$SELECT des.get('ext/big.bin')$$);

-- the invariants hold in the database itself
SELECT try($$UPDATE des.objects SET state = 'marked' WHERE name = 'cam1/0002.jpg'$$);
SELECT try($$UPDATE des.objects SET state = 'packed' WHERE name = 'cam1/0002.jpg'$$);
SELECT try($$UPDATE des.objects SET staged = NULL WHERE name = 'cam1/0002.jpg'$$);
SELECT try($$UPDATE des.objects SET name = repeat('n', 65536) WHERE name = 'cam1/0002.jpg'$$);
SELECT try($$UPDATE des.objects SET meta = '"x"' WHERE name = 'cam1/0002.jpg'$$);
SELECT try($$INSERT INTO des.blobs (hash, container_id, entry, size, data_offset, stored_size) VALUES ('\x00', 1, 'e', 1, 32, 1)$$);
SELECT try($$INSERT INTO des.blobs (hash, container_id, entry, size, data_offset, stored_size) VALUES (des.blake2b('\x00'), 1, 'e', 1, -1, 1)$$);
SELECT try($$INSERT INTO des.containers (location, day, shard, state) VALUES ('/x.des', current_date, 0, 'committed')$$);
SELECT try($$INSERT INTO des.shard_leases VALUES (current_date, 0, 'me', NULL)$$);

-- packed objects are read from their container, through the content-addressed blob
-- (here the container is written by hand, as the packer will)
SELECT des.archive_write(:'dir' || '/container1.des', encode(des.blake2b(data), 'hex'), data, NULL ORDER BY 1)
       ->> 'entries' AS entries
FROM (VALUES ('\x010203'::bytea), ('\x0405'::bytea)) v(data);
INSERT INTO des.containers (location, day, shard, state, size, entries, committed_at)
VALUES (:'dir' || '/container1.des', current_date, 0, 'committed', 1, 2, now()) RETURNING id AS container \gset
INSERT INTO des.blobs (hash, container_id, entry, size, data_offset, stored_size, flags, refcount)
SELECT des.blake2b(d), :container, l.name, length(d), l.data_offset, l.size, l.flags, 1
FROM (VALUES ('\x010203'::bytea), ('\x0405'::bytea)) v(d)
JOIN des.archive_list(:'dir' || '/container1.des') l ON l.name = encode(des.blake2b(d), 'hex');
UPDATE des.objects
   SET state = 'packed', hash = des.blake2b(staged), shard = des.shard_of(name), day = current_date, staged = NULL
 WHERE name IN ('cam1/0001.jpg', 'cam1/0002.jpg');
SELECT des.get('cam1/0001.jpg') AS packed_bytes, des.get('cam1/0002.jpg') AS packed_bytes_2;
SELECT state, location = :'dir' || '/container1.des' AS in_container, entry = encode(hash, 'hex') AS entry_is_hash
FROM des.stat('cam1/0001.jpg');
-- des.get reads a plain local blob at its recorded place (des_internal.read_blob),
-- accepting only bytes with the blob's hash; others go through the index
SELECT des_internal.read_blob(c.location, b.data_offset, b.stored_size, b.flags, b.hash) AS read_at_offset
  FROM des.blobs b JOIN des.containers c ON c.id = b.container_id WHERE b.hash = des.blake2b('\x010203');
UPDATE des.blobs SET data_offset = data_offset + 1 WHERE hash = des.blake2b('\x010203');
SELECT try($$SELECT des.get('cam1/0001.jpg')$$) AS wrong_offset;
UPDATE des.blobs SET data_offset = 1000000 WHERE hash = des.blake2b('\x010203');
SELECT regexp_replace(try($$SELECT des.get('cam1/0001.jpg')$$), '".*"', '"..."') AS past_the_end;
UPDATE des.blobs SET data_offset = 0 WHERE hash = des.blake2b('\x010203');
SELECT regexp_replace(try($$SELECT des.get('cam1/0001.jpg')$$), '".*"', '"..."') AS bad_offset;
-- an offset whose end overflows a bigint is refused as a bad location, not read
UPDATE des.blobs SET data_offset = 9223372036854775807 WHERE hash = des.blake2b('\x010203');
SELECT regexp_replace(try($$SELECT des.get('cam1/0001.jpg')$$), '".*"', '"..."') AS overflowing_offset;
SELECT regexp_replace(try(format('SELECT des_internal.read_blob(%L, 9223372036854775800, 100, 0, des.blake2b(%L))',
                                 :'dir' || '/container1.des', '\x010203')), '".*"', '"..."') AS overflowing_read;
-- an LZ4 (or external) blob is read through the archive's index
UPDATE des.blobs SET flags = 2 WHERE hash = des.blake2b('\x010203');
SELECT des_internal.read_blob(c.location, b.data_offset, b.stored_size, b.flags, b.hash) IS NULL AS not_read_directly,
       des.get('cam1/0001.jpg') AS through_the_index
  FROM des.blobs b JOIN des.containers c ON c.id = b.container_id WHERE b.hash = des.blake2b('\x010203');
UPDATE des.blobs b SET flags = l.flags, data_offset = l.data_offset
  FROM des.archive_list(:'dir' || '/container1.des') l WHERE l.name = b.entry AND b.hash = des.blake2b('\x010203');
SELECT des.get('cam1/0001.jpg') AS restored;
-- get_many mixes staged and packed objects; a second name with the same content shares the blob
SELECT des.put('copy-of-0001', '\x010203'::bytea) > 0 AS staged_copy;
SELECT CASE WHEN name = :'generated' THEN '(generated)' ELSE name END AS name, data
FROM des.get_many(ARRAY['cam1/0001.jpg', 'cam1/0002.jpg', 'copy-of-0001', :'generated']) ORDER BY 1;
UPDATE des.objects SET state = 'packed', hash = des.blake2b(staged), staged = NULL WHERE name = 'copy-of-0001';
SELECT name, data FROM des.get_many(ARRAY['cam1/0001.jpg', 'copy-of-0001']) ORDER BY name;
-- a dead object says where to look
UPDATE des.objects SET state = 'dead' WHERE name = 'ext/big.bin';
SELECT try($$SELECT des.get('ext/big.bin')$$);

-- marking (the marker worker's unit of work): staged pending objects only,
-- old enough, past their backoff time
SELECT try($$SELECT des_internal.mark_batch(0)$$);
SELECT des.put('young', '\x07'::bytea) > 0 AS put_young;
SELECT des.put_url('by-url', 'file:///data/x.bin') > 0 AS put_url;
SELECT des_internal.mark_batch(100, '1 hour') AS marked_when_all_too_young;
-- (a failed attempt's backoff time is on its queue row)
UPDATE des.mark_queue SET not_before = now() + interval '1 hour' WHERE object_id = (SELECT id FROM des.objects WHERE name = 'young');
SELECT des_internal.mark_batch(100) AS marked;
SELECT name = :'generated' AS generated, state, hash = des.blake2b(staged) AS hashed, day = (created_at AT TIME ZONE 'UTC')::date AS day_set
FROM des.objects WHERE state = 'marked';
SELECT name, state FROM des.objects WHERE name IN ('young', 'by-url') ORDER BY name;
UPDATE des.mark_queue SET not_before = NULL WHERE object_id = (SELECT id FROM des.objects WHERE name = 'young');
SELECT des_internal.mark_batch(100) AS marked_after_backoff;
SELECT des_internal.mark_batch(100) AS nothing_left;

-- the work queues: every pending or marked object has one row in the queue of
-- its next step, and none once it is packed or dead
SELECT o.state,
       count(*) FILTER (WHERE f.object_id IS NOT NULL) AS in_fetch,
       count(*) FILTER (WHERE m.object_id IS NOT NULL) AS in_mark,
       count(*) FILTER (WHERE p.object_id IS NOT NULL) AS in_pack
  FROM des.objects o
  LEFT JOIN des.fetch_queue f ON f.object_id = o.id
  LEFT JOIN des.mark_queue m ON m.object_id = o.id
  LEFT JOIN des.pack_queue p ON p.object_id = o.id
 WHERE o.name NOT LIKE 'cam1/%' AND o.name NOT IN ('copy-of-0001', 'ext/big.bin') -- (changed by hand above)
 GROUP BY o.state ORDER BY o.state;
-- des_internal.enqueue is idempotent and queues only pending objects
SELECT des_internal.enqueue(ARRAY(SELECT id FROM des.objects)) AS queued_again;
-- deleting objects takes them out of their queues; so does TRUNCATE
DELETE FROM des.objects WHERE name IN ('young', 'by-url');
SELECT (SELECT count(*) FROM des.fetch_queue) AS fetch_rows, (SELECT count(*) FROM des.pack_queue) AS pack_rows;
SELECT des.put('t/1', '\x01'::bytea) > 0 AS put;
SELECT count(*) AS mark_rows FROM des.mark_queue;
TRUNCATE des.objects CASCADE;
SELECT (SELECT count(*) FROM des.fetch_queue) + (SELECT count(*) FROM des.mark_queue)
       + (SELECT count(*) FROM des.pack_queue) AS queue_rows_left;

-- many objects in one statement: (name, id) in the order given, a NULL name
-- generated, every one staged and queued; all or nothing on any error
SELECT name = 'many/' || (row_number() OVER ())::text OR name = id::text AS named_in_order, id > 0 AS has_id
  FROM des.put_many(ARRAY['many/1', 'many/2', NULL, 'many/4'],
                    ARRAY['\x01', '\x02', '\x03', '\x04']::bytea[],
                    ARRAY['{"k": 1}', '{}', '{}', '{"size": 1}']::jsonb[]);
SELECT o.name ~ '^(many/[0-9]|[0-9]+)$' AS name, o.state, o.staged, o.meta, m.object_id IS NOT NULL AS queued
  FROM des.objects o LEFT JOIN des.mark_queue m ON m.object_id = o.id ORDER BY o.id;
SELECT count(*) AS default_metas FROM des.put_many(ARRAY['many/5', 'many/6'], ARRAY['\x05', '\x06']::bytea[]);
SELECT count(*) AS none FROM des.put_many('{}', '{}');
SELECT try($$SELECT des.put_many(ARRAY['a', 'b'], ARRAY['\x01']::bytea[])$$);
SELECT try($$SELECT des.put_many(ARRAY['a', 'b'], ARRAY['\x01', '\x02']::bytea[], ARRAY['{}']::jsonb[])$$);
SELECT try($$SELECT des.put_many(ARRAY['a', 'b'], ARRAY['\x01', NULL]::bytea[])$$);
SELECT try($$SELECT des.put_many(ARRAY['a', ''], ARRAY['\x01', '\x02']::bytea[])$$);
SELECT try($$SELECT des.put_many(ARRAY['a', 'b'], ARRAY['\x01', '\x02']::bytea[], ARRAY['{}', '{"blake2b": 1}']::jsonb[])$$);
SELECT try($$SELECT des.put_many(ARRAY['a', 'b'], ARRAY['\x01', '\x02']::bytea[], ARRAY['{}', '{"size": 2}']::jsonb[])$$);
SELECT try($$SELECT des.put_many(ARRAY['a', 'b'], ARRAY['\x01', '\x02']::bytea[], ARRAY['{}', NULL]::jsonb[])$$);
SELECT try($$SELECT des.put_many(ARRAY['a', 'a'], ARRAY['\x01', '\x02']::bytea[])$$);
SELECT try($$SELECT des.put_many(ARRAY['a', 'many/2'], ARRAY['\x01', '\x02']::bytea[])$$);
-- (the details name the element, or the key)
CREATE FUNCTION pg_temp.try_detail(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE d text;
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
    RETURN SQLSTATE || ': ' || d;
END $$;
SELECT pg_temp.try_detail($$SELECT des.put_many(ARRAY['a', 'b'], ARRAY['\x01', '\x02']::bytea[], ARRAY['{}', '{"size": 2}']::jsonb[])$$);
SELECT pg_temp.try_detail($$SELECT des.put_many(ARRAY['a', NULL], ARRAY['\x01', '\x02']::bytea[], ARRAY['{}', '[]']::jsonb[])$$);
SELECT pg_temp.try_detail($$SELECT des.put_many(ARRAY['a', 'b'], ARRAY['\x01', NULL]::bytea[])$$);
SELECT pg_temp.try_detail($$SELECT des.put_many(ARRAY['a', 'a'], ARRAY['\x01', '\x02']::bytea[])$$);
SELECT count(*) AS objects_after_failed_batches, (SELECT count(*) FROM des.mark_queue) AS queued
  FROM des.objects;
-- an INSERT by hand of many rows is queued too (one trigger call per statement)
INSERT INTO des.objects (name, shard, size, staged, source_url)
SELECT 'hand/' || i, des.shard_of('hand/' || i), CASE WHEN i % 2 = 0 THEN 1 END,
       CASE WHEN i % 2 = 0 THEN '\x09'::bytea END, CASE WHEN i % 2 = 1 THEN 'file:///x/' || i END
  FROM generate_series(1, 10) i;
SELECT (SELECT count(*) FROM des.mark_queue m JOIN des.objects o ON o.id = m.object_id WHERE o.name LIKE 'hand/%') AS marked_queue,
       (SELECT count(*) FROM des.fetch_queue f JOIN des.objects o ON o.id = f.object_id WHERE o.name LIKE 'hand/%') AS fetch_queue;
TRUNCATE des.objects CASCADE;

-- blobs refer to containers (a foreign key checked per statement), and
-- committed containers stay
SELECT try($$INSERT INTO des.blobs (hash, container_id, entry, size, data_offset, stored_size) VALUES (des.blake2b('\x01'), -1, 'e', 1, 32, 1)$$);
SELECT try($$UPDATE des.blobs SET container_id = -2$$);
SELECT try(format('DELETE FROM des.containers WHERE id = %s', :container));
SELECT try(format('UPDATE des.containers SET id = -3 WHERE id = %s', :container));
INSERT INTO des.containers (location, day, shard, seq) VALUES (:'dir' || '/open.des', current_date, 9, 0) RETURNING id AS open_container \gset
DELETE FROM des.containers WHERE id = :open_container RETURNING state AS deleted_open_container;
