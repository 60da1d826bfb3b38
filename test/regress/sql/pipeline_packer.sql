-- The packer's units of work, called directly (the packer workers run in
-- des.database, not here): leases, commits, failures and the dead-letter
-- table, deduplication, orphans.
\set dir '/tmp/pg_des_regress/packer'
SET client_min_messages = warning;
-- (errors name today's container: the day is masked)
CREATE OR REPLACE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN regexp_replace(SQLSTATE || ': ' || SQLERRM, '\d{4}-\d\d-\d\d', '<day>', 'g');
END $$;

-- start from an empty catalog (earlier tests leave objects behind)
TRUNCATE des.objects, des.blobs, des.containers, des.shard_leases, des.dead_letters;

-- container keys: day, shard, sequence and the lease token of the writer
SELECT des_internal.container_location('/data/lake/', '2026-01-02', 3, 0, 1) AS first,
       des_internal.container_location('s3://b/p', '2026-01-02', 12, 41, 7) AS later,
       des_internal.container_location('/l', '2026-01-02', 123, 1234567, 12345678901) AS wide_numbers_are_not_cut;

-- three objects on shard 0 of one day, two with the same bytes
SET des.shard_bits = 0;
SELECT des.put('p/a', '\x0a'::bytea, '{"k": "a"}') > 0, des.put('p/b', '\x0b'::bytea) > 0,
       des.put('p/a-copy', '\x0a'::bytea) > 0;
SELECT des_internal.mark_batch(10) AS marked;

-- nothing is ready while the container may still fill (young, small, today)
SELECT count(*) AS leased FROM des_internal.lease_shard('t1', '1 min', :'dir', 1000, 1000000, '1 hour');
-- ready by count: a lease, a new container at the first key
SELECT day = (now() AT TIME ZONE 'UTC')::date AS today, shard, token, resumed,
       location = des_internal.container_location(:'dir', day, 0, 0, token) AND write_location = location AS first_key
  FROM des_internal.lease_shard('t1', '1 min', :'dir', 3, 1000000, '1 hour') \gset l_
SELECT :'l_today' AS today, :l_shard AS shard, :l_token AS token, :'l_resumed' AS resumed, :'l_first_key' AS first_key;
SELECT id AS cid FROM des.containers WHERE state = 'writing' \gset
SELECT holder, expires_at > now() AS live FROM des.shard_leases;
-- a live lease is not handed out again
SELECT count(*) AS leased_twice FROM des_internal.lease_shard('t2', '1 min', :'dir', 1, 1, '0');

-- commit checks: every entry must be a marked object with that hash (entries
-- are object ids in archive order); a mismatch leaves nothing changed
SELECT id AS a_id FROM des.objects WHERE name = 'p/a' \gset
SELECT id AS b_id FROM des.objects WHERE name = 'p/b' \gset
SELECT try(format($$SELECT des_internal.commit_container(%s, %s, 100, NULL, ARRAY[%s, 0], ARRAY[des.blake2b('\x0a')]::bytea[] || des.blake2b('\x0b'), '{32,33}', '{1,1}', '{0,0}', '{}', '{}', '{}', 5, '1 s')$$, :cid, :l_token, :a_id));
SELECT try(format($$SELECT des_internal.commit_container(%s, %s, 100, NULL, ARRAY[%s], ARRAY[des.blake2b('\x0b')], '{32}', '{1}', '{0}', '{}', '{}', '{}', 5, '1 s')$$, :cid, :l_token, :a_id));
SELECT try(format($$SELECT des_internal.commit_container(%s, %s, 100, NULL, ARRAY[%s, %s], ARRAY[des.blake2b('\x0a'), des.blake2b('\x0a')], '{32,33}', '{1,1}', '{0,0}', '{}', '{}', '{}', 5, '1 s')$$, :cid, :l_token, :a_id, :a_id));
SELECT try(format($$SELECT des_internal.commit_container(%s, %s, 100, NULL, ARRAY[%s, %s], ARRAY[des.blake2b('\x0a')], '{32,33}', '{1,1}', '{0,0}', '{}', '{}', '{}', 5, '1 s')$$, :cid, :l_token, :a_id, :b_id));
SELECT count(*) FILTER (WHERE state = 'marked') AS still_marked, (SELECT count(*) FROM des.pack_queue) AS still_queued,
       (SELECT count(*) FROM des.blobs) AS no_blobs
  FROM des.objects WHERE name LIKE 'p/%';
-- a stale token: the lease was lost
SELECT try(format($$SELECT des_internal.commit_container(%s, %s, 100, NULL, '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', 5, '1 s')$$, :cid, :l_token - 1));

-- the real commit: two entries written, the copy deduplicated against p/a's entry
SELECT id AS copy_id FROM des.objects WHERE name = 'p/a-copy' \gset
SELECT * FROM des_internal.commit_container(:cid, :l_token, 321, NULL, ARRAY[:a_id, :b_id]::bigint[],
    ARRAY[des.blake2b('\x0a'), des.blake2b('\x0b')], '{32,33}', '{1,1}', '{0,0}', ARRAY[:copy_id]::bigint[], '{}', '{}', 5, '1 s');
SELECT name, state, staged IS NULL AS freed FROM des.objects WHERE name LIKE 'p/%' ORDER BY name;
SELECT entry, size, data_offset, stored_size, flags, refcount FROM des.blobs WHERE container_id = :cid ORDER BY entry;
SELECT state, size, entries, committed_at IS NOT NULL AS committed FROM des.containers WHERE id = :cid;
SELECT holder IS NULL AS released FROM des.shard_leases;
SELECT packed_objects, blobs, logical_bytes, stored_bytes, saved_bytes, dedup_ratio FROM des.dedup_stats();
-- later objects with bytes already stored are linked to the blob, not written
SELECT des.put('p/a-again', '\x0a'::bytea) > 0;
SELECT des_internal.mark_batch(10) AS marked;
SELECT token AS t2, container_id AS cid2, location = des_internal.container_location(:'dir', day, 0, 1, token) AS next_key
  FROM des_internal.lease_shard('t1', '1 min', :'dir', 1, 1, '0') \gset
SELECT :'next_key' AS next_key;
SELECT id AS again_id FROM des.objects WHERE name = 'p/a-again' \gset
SELECT * FROM des_internal.commit_container(:cid2, :t2, 0, NULL, '{}', '{}', '{}', '{}', '{}', ARRAY[:again_id]::bigint[], '{}', '{}', 5, '1 s');
SELECT count(*) AS empty_container_dropped FROM des.containers WHERE id = :cid2;
SELECT refcount FROM des.blobs WHERE hash = des.blake2b('\x0a');

-- an expired lease is handed over, with a new token; the old holder's commit fails
SELECT des.put('p/c', '\x0c'::bytea) > 0, des_internal.mark_batch(10) AS marked;
SELECT token AS t3, container_id AS cid3 FROM des_internal.lease_shard('old', '0 s', :'dir', 1, 1, '0') \gset
SELECT location AS key3 FROM des.containers WHERE id = :cid3 \gset
SELECT token AS t4, container_id AS cid4, resumed, location AS resumed_key, write_location AS key4
  FROM des_internal.lease_shard('new', '1 min', :'dir', 1, 1, '0') \gset
SELECT :t4 = :t3 + 1 AS new_token, :cid4 = :cid3 AS same_container, :'resumed' AS resumed,
       :'resumed_key' = :'key3' AS adoptable_key_kept, :'key4' = replace(:'key3', '-t' || :t3, '-t' || :t4) AS own_key;
-- the new holder writes under its own key (des_internal.container_attempt): only the
-- current token moves it, and only to that token's key
SELECT regexp_replace(try(format('SELECT des_internal.container_attempt(%s, %s, %L)', :cid4, :t3, :'key3')),
                      'container \d+', 'container <id>') AS old_holder_cannot_move_it;
SELECT regexp_replace(try(format('SELECT des_internal.container_attempt(%s, %s, %L)', :cid4, :t4, :'key3')),
                      'container \d+', 'container <id>') AS not_its_own_key;
SELECT des_internal.container_attempt(:cid4, :t4, :'key4');
SELECT location = :'key4' AS moved, state FROM des.containers WHERE id = :cid4;
SELECT id AS c_id FROM des.objects WHERE name = 'p/c' \gset
SELECT try(format($$SELECT des_internal.commit_container(%s, %s, 1, NULL, ARRAY[%s], ARRAY[des.blake2b('\x0c')], '{32}', '{1}', '{0}', '{}', '{}', '{}', 5, '1 s')$$, :cid3, :t3, :c_id));
SELECT des_internal.hold_lease(day, shard, :t3) AS old_holds, des_internal.hold_lease(day, shard, :t4) AS new_holds FROM des.shard_leases;

-- failures: backoff doubling from the base delay, then the dead-letter table
SELECT des_internal.fail_objects(ARRAY[:c_id]::bigint[], '{"disk on fire"}', 3, '10 s') AS dead;
SELECT o.state, o.attempts, o.last_error, q.not_before - o.updated_at AS backoff
  FROM des.objects o JOIN des.mark_queue q ON q.object_id = o.id WHERE o.id = :c_id;
UPDATE des.mark_queue SET not_before = NULL WHERE object_id = :c_id;
SELECT des_internal.mark_batch(10) AS marked_again;
SELECT des_internal.fail_objects(ARRAY[:c_id]::bigint[], '{"still on fire"}', 3, '10 s') AS dead;
SELECT o.state, o.attempts, q.not_before - o.updated_at AS backoff
  FROM des.objects o JOIN des.mark_queue q ON q.object_id = o.id WHERE o.id = :c_id;
SELECT des_internal.fail_objects(ARRAY[:c_id]::bigint[], '{"gave up"}', 3, '10 s') AS dead;
SELECT o.state, d.error, d.attempts FROM des.objects o JOIN des.dead_letters d ON d.object_id = o.id;
SELECT try($$SELECT des.get('p/c')$$);
SELECT try($$SELECT des_internal.fail_objects('{1,2}', '{x}', 3, '1 s')$$);
-- des.retry_dead returns it with a fresh count
SELECT des.retry_dead() AS retried;
SELECT o.state, o.attempts, q.not_before, (SELECT count(*) FROM des.pack_queue p WHERE p.object_id = o.id) AS in_pack_queue
  FROM des.objects o LEFT JOIN des.mark_queue q ON q.object_id = o.id WHERE o.id = :c_id;
SELECT count(*) AS dead_letters FROM des.dead_letters;
SELECT des.retry_dead(ARRAY[12345]::bigint[]) AS retried_none;
SELECT des_internal.release_lease(day, shard, :t4) AS released FROM des.shard_leases;

-- objects registered by URL: claimed with a lease, staged once fetched
SELECT des.put_url('u/1', 'file:///nowhere/1.bin') > 0, des.put_url('u/2', 'file:///nowhere/2.bin') > 0;
SELECT count(*) AS claimed FROM des_internal.claim_fetches(10, '1 min');
SELECT count(*) AS claimed_again FROM des_internal.claim_fetches(10, '1 min');
SELECT id AS u1 FROM des.objects WHERE name = 'u/1' \gset
SELECT des_internal.stage_fetched(:u1, '\x0102');
SELECT state, staged, size, source_url,
       EXISTS (SELECT FROM des.fetch_queue q WHERE q.object_id = o.id) AS in_fetch_queue,
       EXISTS (SELECT FROM des.mark_queue q WHERE q.object_id = o.id) AS in_mark_queue
  FROM des.objects o WHERE id = :u1;
SELECT des_internal.mark_batch(10) AS marked_url;
UPDATE des.fetch_queue SET claimed_until = now() - interval '1 s' WHERE object_id = (SELECT id FROM des.objects WHERE name = 'u/2');
SELECT source_url FROM des_internal.claim_fetches(10, '1 min');

-- a past day's objects are packed at once, however few
SELECT des.put('p/old', '\x0d'::bytea) AS old_id \gset
UPDATE des.objects SET created_at = now() - interval '3 days' WHERE id = :old_id;
SELECT des_internal.mark_batch(10) AS marked_old;
SELECT day = (now() AT TIME ZONE 'UTC')::date - 3 AS past_day, resumed
  FROM des_internal.lease_shard('t1', '1 min', :'dir', 1000, 1000000, '1 day');
-- and today's open container (its lease was given back above) is resumed
SELECT day = (now() AT TIME ZONE 'UTC')::date AS today, resumed
  FROM des_internal.lease_shard('t1', '1 min', :'dir', 1000, 1000000, '0 s');

-- orphans: stored files no catalog row accounts for; removed only on request
SELECT des.archive_write(:'dir' || '/2026-01-01/00-000000.des', 'x', '\x01'::bytea, NULL) ->> 'entries' AS stray;
SELECT des.archive_write(location, 'p/a', '\x0a'::bytea, NULL) ->> 'entries' AS committed_file
  FROM des.containers WHERE id = :cid;
SELECT replace(location, :'dir', '<dir>') AS location, size > 0 AS sized, removed FROM des.orphans(:'dir');
-- removing is only for the storage root itself (test/t/003_packer.pl does that)
SELECT regexp_replace(try(format('SELECT * FROM des.orphans(%L, remove => true)', :'dir')), '"[^"]*"', '"<root>"') AS refused;
SELECT des.storage_delete(location) AS deleted_by_hand FROM des.orphans(:'dir');
SELECT count(*) AS left_after_remove FROM des.orphans(:'dir');
SELECT count(*) AS committed_kept FROM des.storage_list(:'dir' || '/') WHERE location LIKE '%00-000000-t%.des';
-- an open container's current key is not an orphan; the key of an earlier
-- attempt is (here: written late by the holder whose lease was lost)
SELECT des.archive_write(:'key3', 'late', '\x01'::bytea, NULL) ->> 'entries' AS late_write,
       des.archive_write(:'key4', 'current', '\x01'::bytea, NULL) ->> 'entries' AS current_write;
SELECT location = :'key3' AS earlier_attempt, removed FROM des.orphans(:'dir');
SELECT des.storage_delete(:'key3') AND des.storage_delete(:'key4') AS cleaned;
SELECT count(*) AS no_storage_yet FROM des.orphans(:'dir' || '/not-created');

-- the same bytes committed by another packer between this one's read and its
-- commit: the container is still recorded, and the existing blob gains the
-- reference (this container's copy stays unused)
TRUNCATE des.objects, des.blobs, des.containers, des.shard_leases, des.dead_letters;
SELECT des.put('r/x', '\x0d'::bytea) > 0 AS put, des.put('r/y', '\x0f'::bytea) > 0 AS put;
SELECT des_internal.mark_batch(10) AS marked;
SELECT token AS r_token, container_id AS r_cid FROM des_internal.lease_shard('t1', '1 min', :'dir', 1, 1, '0 s') \gset
INSERT INTO des.containers (location, day, shard, seq, state, size, entries, committed_at)
VALUES (:'dir' || '/elsewhere.des', '2000-01-01', 0, 0, 'committed', 1, 1, now()) RETURNING id AS other_cid \gset
INSERT INTO des.blobs (hash, container_id, entry, size, data_offset, stored_size, refcount)
VALUES (des.blake2b('\x0d'), :other_cid, 'elsewhere', 1, 32, 1, 1);
SELECT id AS x_id FROM des.objects WHERE name = 'r/x' \gset
SELECT id AS y_id FROM des.objects WHERE name = 'r/y' \gset
SELECT packed, deduplicated, dead FROM des_internal.commit_container(:r_cid, :r_token, 10, NULL, ARRAY[:x_id, :y_id]::bigint[],
    ARRAY[des.blake2b('\x0d'), des.blake2b('\x0f')], '{32,33}', '{1,1}', '{0,0}', '{}', '{}', '{}', 5, '1 s');
SELECT name, state, staged IS NULL AS freed FROM des.objects ORDER BY name;
SELECT entry, data_offset, stored_size, flags, refcount, container_id = :other_cid AS in_other, container_id = :r_cid AS in_this
  FROM des.blobs ORDER BY entry;
SELECT state, entries FROM des.containers WHERE id = :r_cid;
SELECT count(*) AS queued FROM des.pack_queue;

-- a marked object changed by hand leaves a pack queue row with nothing to
-- pack: the packer's empty commit takes it out, so the shard stops coming back
TRUNCATE des.objects, des.blobs, des.containers, des.shard_leases, des.dead_letters;
SELECT des.put('h/1', '\x0e'::bytea) > 0 AS put;
SELECT des_internal.mark_batch(10) AS marked;
UPDATE des.objects SET state = 'dead' WHERE name = 'h/1';
SELECT token AS h_token, container_id AS h_cid FROM des_internal.lease_shard('t1', '1 min', :'dir', 1, 1, '0 s') \gset
SELECT packed, deduplicated, dead FROM des_internal.commit_container(:h_cid, :h_token, 0, NULL, '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', 5, '1 s');
SELECT count(*) AS pack_rows_left FROM des.pack_queue;
SELECT count(*) AS leased_again FROM des_internal.lease_shard('t1', '1 min', :'dir', 1, 1, '0 s');
TRUNCATE des.objects, des.blobs, des.containers, des.shard_leases, des.dead_letters;
RESET des.shard_bits;
