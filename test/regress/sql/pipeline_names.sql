-- Unique names and shards.
SET client_min_messages = warning;

-- ids increase within a session and decode to (now, node 0, sequence)
CREATE TABLE one_session AS SELECT g, des.next_id() AS id FROM generate_series(1, 20000) g;
SELECT count(*) AS ids, count(DISTINCT id) AS distinct_ids,
       bool_and(id > 0) AS positive,
       bool_and(id > lag) AS strictly_increasing
FROM (SELECT id, lag(id, 1, 0::bigint) OVER (ORDER BY g) AS lag FROM one_session) s;
SELECT node, abs(extract(epoch FROM created - now())) < 60 AS created_now, sequence BETWEEN 0 AND 4095 AS seq_ok
FROM des.id_info(des.next_id());
SELECT des.next_name() ~ '^[1-9][0-9]{15,18}$' AS decimal_name;
SELECT * FROM des.id_info((1::bigint << 22) | (7 << 12) | 5);
SELECT des.id_info(-1);

-- many sessions at once: no id twice
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT format('dbname=%s port=%s host=%s', current_database(), current_setting('port'),
              split_part(current_setting('unix_socket_directories'), ',', 1)) AS conninfo \gset
CREATE TABLE concurrent_ids (id bigint);
SELECT count(*) FROM (SELECT dblink_connect('ids' || i, :'conninfo') FROM generate_series(1, 4) i) c;
SELECT count(*) FROM (SELECT dblink_send_query('ids' || i,
       'INSERT INTO concurrent_ids SELECT des.next_id() FROM generate_series(1, 25000)') FROM generate_series(1, 4) i) s;
SELECT string_agg(r, ', ') AS results FROM (
    SELECT t.r FROM generate_series(1, 4) i, LATERAL dblink_get_result('ids' || i) AS t(r text) ORDER BY i) s;
SELECT count(*) FROM (SELECT dblink_disconnect('ids' || i) FROM generate_series(1, 4) i) d;
SELECT count(*) AS ids, count(DISTINCT id) AS distinct_ids FROM concurrent_ids;

-- shards: stable values (XXH3-64 of the UTF-8 name, low bits), nested across widths
SELECT n, des.shard_of(n) AS shard_4_bits, des.shard_of(n, 10) AS shard_10_bits, des.shard_of(n, 0) AS one_shard
FROM unnest(ARRAY['a', 'photos/0001.jpg', 'zażółć', '2024-06-01/00.des']) n ORDER BY n;
SELECT bool_and(des.shard_of(n, 10) & 15 = des.shard_of(n, 4)) AS low_bits_nest,
       count(DISTINCT des.shard_of(n)) AS shards_used
FROM (SELECT 'obj' || i AS n FROM generate_series(1, 10000) i) s;
SELECT des.shard_of(NULL) IS NULL AS null_name;
SELECT des.shard_of('x', 17);
