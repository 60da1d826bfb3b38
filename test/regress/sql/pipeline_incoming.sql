-- des.incoming, the bulk path: COPY into it, what readers and the put
-- functions see of staged rows, and the packer's units of work over it
-- called directly (the packer workers run in des.database, not here; the
-- workers' side is test/t/016_incoming.pl).
SET client_min_messages = warning;
CREATE OR REPLACE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    -- (ids and days are masked: they come from the clock)
    RETURN regexp_replace(regexp_replace(SQLSTATE || ': ' || SQLERRM, '\d{4}-\d\d-\d\d', '<day>', 'g'),
                          '\d{12,}', '<id>', 'g');
END $$;

TRUNCATE des.objects, des.blobs, des.containers, des.shard_leases, des.dead_letters, des.incoming, des.incoming_rejects, des.incoming_ranges;
UPDATE des.incoming_state SET final_upto = 0, claimed_upto = 0;

-- COPY: name, data, meta (the id is the column default: an object id)
COPY des.incoming (name, data, meta) FROM stdin;
i/1	\\x0a	{"k": 1}
i/2	\\x0b	{}
i/3	\\x0a	{"k": 3}
i/4	\\x0c	{"blake2b": "not the format's"}
\.
SELECT name, data, meta, (des.id_info(id)).created BETWEEN now() - interval '1 min' AND now() + interval '1 min' AS id_is_now
  FROM des.incoming ORDER BY id;
-- the table's own rules (SQLSTATEs of constraints), checked per row at no cost beyond them
SELECT try($$INSERT INTO des.incoming (name, data) VALUES ('', '\x00')$$) AS empty_name;
SELECT try($$INSERT INTO des.incoming (name, data, meta) VALUES ('i/5', '\x00', '[1]')$$) AS meta_not_object;
SELECT try($$INSERT INTO des.incoming (name, data) VALUES ('i/1', '\x00')$$) AS name_staged_twice;
SELECT try($$INSERT INTO des.incoming (name, data) VALUES ('i/5', NULL)$$) AS no_data;

-- staged rows read like any pending object
SELECT state, size, hash, created_at IS NOT NULL AS has_time FROM des.stat('i/1');
SELECT name, state, size, staged, meta, shard = des.shard_of(name) AS shard_ok FROM des.all_objects ORDER BY name;
SELECT des.get('i/1') AS i1, des.get('i/2') AS i2;
SELECT name, data FROM des.get_many(ARRAY['i/2', 'i/3', 'nope']) ORDER BY name;
-- and their names are taken for the put functions
SELECT try($$SELECT des.put('i/1', '\x01')$$) AS put;
SELECT try($$SELECT des.put_many(ARRAY['n/1', 'i/2'], ARRAY['\x01', '\x02']::bytea[])$$) AS put_many;
SELECT try($$SELECT des.put_url('i/3', '/tmp/x')$$) AS put_url;
SELECT count(*) AS none_put FROM des.objects;

-- the packer's progress: nothing is final before a tick
SELECT staged, final, packed_not_truncated, rejected FROM des.stat_incoming;
SELECT count(*) AS leased FROM des_internal.lease_incoming('t1', '1 min', '/tmp/pg_des_regress/incoming', 2, 1000000, '1 hour');
SELECT des_internal.incoming_needs_tick() AS needs_tick;
SELECT des_internal.incoming_advance(des.next_id());
SELECT des_internal.incoming_needs_tick() AS needs_tick, staged, final FROM des.stat_incoming;
-- final rows, but not enough for a container and not old enough
SELECT count(*) AS leased FROM des_internal.lease_incoming('t1', '1 min', '/tmp/pg_des_regress/incoming', 10, 1000000, '1 hour');
-- enough by count: a range of the first 2 rows, with a container of its own
SELECT range_id AS rid, token, resumed, write_location = location AS own_key,
       location ~ '^/tmp/pg_des_regress/incoming/\d{4}-\d\d-\d\d/incoming-\d+-t1\.des$' AS key_shape,
       from_id = 0 AS from_start, to_id = (SELECT id FROM des.incoming WHERE name = 'i/2') AS to_second
  FROM des_internal.lease_incoming('t1', '1 min', '/tmp/pg_des_regress/incoming', 2, 1000000, '1 hour') \gset
SELECT :token AS token, :'resumed' AS resumed, :'own_key' AS own_key, :'key_shape' AS key_shape, :'from_start' AS from_start, :'to_second' AS to_second;
SELECT id AS cid FROM des.containers WHERE origin = 'incoming' AND state = 'writing' \gset
SELECT holder, expires_at > now() AS live, token, container_id = :cid AS its_container FROM des.incoming_ranges;
-- another packer gets the next range (old enough with max_age 0), with a container of its own
SELECT range_id AS rid2, from_id = (SELECT id FROM des.incoming WHERE name = 'i/2') AS after_first,
       to_id = (SELECT id FROM des.incoming WHERE name = 'i/4') AS to_fourth
  FROM des_internal.lease_incoming('t2', '1 min', '/tmp/pg_des_regress/incoming', 2, 1000000, '0') \gset
SELECT :'after_first' AS after_first, :'to_fourth' AS to_fourth, (SELECT count(*) FROM des.containers WHERE state = 'writing') AS open_containers;
-- live leases are not handed out again
SELECT count(*) AS leased_again FROM des_internal.lease_incoming('t3', '1 min', '/tmp/pg_des_regress/incoming', 1, 1, '0');
-- the second packer gives its range back (an error): the range waits for the next lease
SELECT des_internal.release_incoming_lease(:rid2, 1) AS released;
SELECT range_id = :rid2 AS same_range, token, resumed, write_location <> location AS new_key
  FROM des_internal.lease_incoming('t3', '1 min', '/tmp/pg_des_regress/incoming', 1, 1, '0');
SELECT id AS i1 FROM des.incoming WHERE name = 'i/1' \gset
SELECT id AS i2 FROM des.incoming WHERE name = 'i/2' \gset
SELECT id AS i3 FROM des.incoming WHERE name = 'i/3' \gset
SELECT id AS i4 FROM des.incoming WHERE name = 'i/4' \gset

-- commit checks: the lease, the range, the arrays
SELECT try(format($$SELECT des_internal.commit_incoming(%s, 0, 100, NULL, %s, '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}')$$, :rid, :i2)) AS lost_lease;
SELECT try(format($$SELECT des_internal.commit_incoming(%s, 1, 100, NULL, %s, '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}')$$, :rid, :i4)) AS past_the_range;
SELECT try(format($$SELECT des_internal.commit_incoming(%s, 1, 100, NULL, %s, ARRAY[%s], '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}')$$, :rid, :i2, :i1)) AS arrays_differ;
-- a row linked to a blob that is not there (des.gc removed it meanwhile): written again
SELECT try(format($$SELECT des_internal.commit_incoming(%s, 1, 100, NULL, %s, '{}', '{}', '{}', '{}', '{}', '{}', ARRAY[%s], ARRAY[des.blake2b('\x0a')], '{1}', '{}', '{}')$$, :rid, :i1, :i1)) AS blob_gone;
SELECT count(*) AS nothing_changed FROM des.objects;

-- the first range: i/1 and i/2 written
SELECT * FROM des_internal.commit_incoming(:rid, 1, 321, NULL, :i2,
    ARRAY[:i1, :i2]::bigint[], ARRAY[des.blake2b('\x0a'), des.blake2b('\x0b')], '{1,1}', '{32,33}', '{1,1}', '{0,0}',
    '{}', '{}', '{}', '{}', '{}');
-- the second (leased again, token 2): i/3 has i/1's bytes (linked to its blob), i/4 refused by the writer
SELECT * FROM des_internal.commit_incoming(:rid2, 2, 0, NULL, :i4,
    '{}', '{}', '{}', '{}', '{}', '{}',
    ARRAY[:i3]::bigint[], ARRAY[des.blake2b('\x0a')], '{1}',
    ARRAY[:i4]::bigint[], ARRAY['meta of entry "i/4" uses a reserved key']);
SELECT name, state, staged IS NULL AS no_bytes, size,
       hash = des.blake2b(CASE name WHEN 'i/2' THEN '\x0b' ELSE '\x0a' END::bytea) AS hash_ok,
       shard = des.shard_of(name) AS shard_ok, day = (now() AT TIME ZONE 'UTC')::date AS day_ok,
       meta, created_at = des_internal.id_time(id) AS staged_at
  FROM des.objects ORDER BY name;
SELECT entry, size, data_offset, stored_size, flags, refcount FROM des.blobs ORDER BY entry;
-- (a container with no entry of its own is dropped)
SELECT state, size, entries, data_bytes, origin FROM des.containers ORDER BY id;
SELECT name, data, meta, error FROM des.incoming_rejects;
SELECT staged, final, packed_not_truncated, rejected, ranges FROM des.stat_incoming;
SELECT state, location IS NOT NULL AS has_location, entry FROM des.stat('i/3');
-- des.all_objects: the packed objects, the rejected row in neither
SELECT name, state, staged IS NULL AS no_bytes FROM des.all_objects ORDER BY name;
-- a rejected row is no object, and its name is free again
SELECT try($$SELECT des.get('i/4')$$) AS rejected_get;
SELECT des.put('i/4', '\x0d') > 0 AS name_free;

-- emptied by TRUNCATE once all of it is packed
SELECT des_internal.incoming_truncate() AS truncated;
SELECT count(*) AS rows_left FROM des.incoming;
SELECT des_internal.incoming_truncate() AS nothing_to_truncate;

-- a name taken in des.objects since the row was staged: rejected at the commit,
-- the rest of the container packed; the payload stays a blob nobody refers to
INSERT INTO des.incoming (name, data) VALUES ('i/4', '\x0e'), ('n/2', '\x0f');
SELECT des_internal.incoming_truncate() AS rows_left_to_pack;
SELECT des_internal.incoming_advance(des.next_id());
SELECT range_id AS rid, token FROM des_internal.lease_incoming('t1', '1 min', '/tmp/pg_des_regress/incoming', 2, 1000000, '1 hour') \gset l_
SELECT id AS cid FROM des.containers WHERE origin = 'incoming' AND state = 'writing' \gset
SELECT id AS t4 FROM des.incoming WHERE name = 'i/4' \gset
SELECT id AS n2 FROM des.incoming WHERE name = 'n/2' \gset
SELECT * FROM des_internal.commit_incoming(:l_rid, :l_token, 300, NULL, :n2,
    ARRAY[:t4, :n2]::bigint[], ARRAY[des.blake2b('\x0e'), des.blake2b('\x0f')], '{1,1}', '{32,33}', '{1,1}', '{0,0}',
    '{}', '{}', '{}', '{}', '{}');
SELECT name, error FROM des.incoming_rejects ORDER BY name;
SELECT des.get('i/4') AS kept, (des.stat('n/2')).state AS n2;
SELECT entry, refcount FROM des.blobs WHERE container_id = :cid ORDER BY entry;

-- des.delete of a staged row, before it is packed
INSERT INTO des.incoming (name, data) VALUES ('x/1', '\x10'), ('x/2', '\x11'), ('x/3', '\x12');
SELECT des.delete('x/1');
SELECT try($$SELECT des.delete('x/1')$$) AS deleted_twice;
SELECT des.delete_many(ARRAY['x/2', 'x/3', 'n/2']) AS deleted_many;
SELECT count(*) AS staged_x FROM des.incoming WHERE name LIKE 'x/%';
SELECT try($$SELECT des.get('x/2')$$) AS gone;

-- who may see and do what: staged rows are read and deleted with the
-- caller's rights on des.incoming; the packer's functions are not for PUBLIC
CREATE ROLE incoming_reader;
CREATE ROLE incoming_putter;
GRANT USAGE ON SCHEMA des TO incoming_reader, incoming_putter;
GRANT SELECT ON des.objects, des.blobs, des.containers TO incoming_reader, incoming_putter;
GRANT DELETE ON des.objects TO incoming_reader;
GRANT SELECT ON des.incoming TO incoming_reader;
GRANT INSERT ON des.objects TO incoming_putter;
GRANT INSERT (name, data, meta) ON des.incoming TO incoming_putter;
INSERT INTO des.incoming (name, data) VALUES ('r/1', '\x20');
SET ROLE incoming_reader;
SELECT des.get('r/1') AS reader_sees_staged;
SELECT try($$INSERT INTO des.incoming (name, data) VALUES ('r/2', '\x21')$$) AS reader_cannot_stage;
-- (rows it may not delete are rows it does not see)
SELECT try($$SELECT des.delete('r/1')$$) AS reader_cannot_delete;
RESET ROLE;
GRANT DELETE ON des.incoming TO incoming_reader;
INSERT INTO des.incoming (name, data) VALUES ('r/5', '\x25');
SET ROLE incoming_reader;
SELECT try($$SELECT des.delete('r/5')$$) AS reader_with_delete_deletes;
SET ROLE incoming_putter;
SELECT try($$SELECT des.get('r/1')$$) AS putter_does_not_see_staged;
SELECT try($$SELECT des.put('r/1', '\x22')$$) AS putter_still_meets_the_name;
SELECT try($$INSERT INTO des.incoming (name, data) VALUES ('r/3', '\x23')$$) AS putter_stages;
SELECT try($$INSERT INTO des.incoming (id, name, data) VALUES (1, 'r/4', '\x24')$$) AS putter_cannot_choose_ids;
RESET ROLE;
SELECT p AS packer_function, has_function_privilege('public', p, 'EXECUTE') AS public_may_run
  FROM unnest(ARRAY['des_internal.lease_incoming(text,interval,text,integer,bigint,interval,integer)',
                    'des_internal.commit_incoming(bigint,bigint,bigint,text,bigint,bigint[],bytea[],bigint[],bigint[],bigint[],integer[],bigint[],bytea[],bigint[],bigint[],text[])',
                    'des_internal.hold_incoming_lease(bigint,bigint)', 'des_internal.hold_incoming_container(bigint,bigint)',
                    'des_internal.release_incoming_lease(bigint,bigint)',
                    'des_internal.incoming_advance(bigint)', 'des_internal.incoming_truncate()',
                    'des_internal.incoming_needs_tick()']) p;
DROP OWNED BY incoming_reader, incoming_putter;
DROP ROLE incoming_reader, incoming_putter;

-- leave nothing behind for the tests after this one
TRUNCATE des.objects, des.blobs, des.containers, des.shard_leases, des.dead_letters, des.incoming, des.incoming_rejects, des.incoming_ranges;
UPDATE des.incoming_state SET final_upto = 0, claimed_upto = 0;
