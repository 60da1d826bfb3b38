-- pg_des main job: pack a directory of files into a DES archive from SQL,
-- then read entries back and check them. Run by tools/demo.sh with
-- psql -v dir=<input directory> -v archive=<archive path>.
\set ON_ERROR_STOP on
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_des;
SELECT set_config('des_demo.archive', :'archive', false) \g /dev/null

\echo
\echo '== 1. Files found under' :'dir'
CREATE TEMP TABLE files AS
WITH RECURSIVE tree(path, rel) AS (
    SELECT :'dir' || '/' || f, f FROM pg_ls_dir(:'dir') f
    UNION ALL
    SELECT t.path || '/' || f, t.rel || '/' || f
    FROM tree t, pg_ls_dir(t.path) f
    WHERE (pg_stat_file(t.path)).isdir
)
SELECT rel AS name, pg_read_binary_file(path) AS data,
       jsonb_build_object('source', path, 'modified', (pg_stat_file(path)).modification) AS meta
FROM tree WHERE NOT (pg_stat_file(path)).isdir;
SELECT count(*) AS files, pg_size_pretty(sum(length(data))) AS total,
       pg_size_pretty(max(length(data))::bigint) AS largest
FROM files;

\echo
\echo '== 2. Packing them into' :'archive' '(LZ4 where it helps, BLAKE2b per entry, files >= 1 MiB stored externally)'
SELECT jsonb_pretty(des.archive_write(:'archive', name, data, meta,
                                      '{"lz4": true, "external_threshold": 1048576}' ORDER BY name)) AS summary
FROM files;

\echo
\echo '== 3. What the archive holds (first entries of the index)'
SELECT name, size, CASE flags WHEN 0 THEN 'stored' WHEN 1 THEN 'external' WHEN 2 THEN 'lz4' ELSE flags::text END AS storage,
       left(meta ->> 'blake2b', 16) || '...' AS blake2b
FROM des.archive_list(:'archive') ORDER BY name LIMIT 8;
SELECT jsonb_pretty(des.archive_info(:'archive') - 'footer') AS info;

\echo
\echo '== 4. Reading entries back'
SELECT name, length(des.archive_read(:'archive', name, verify => true)) AS bytes_read,
       des.archive_read(:'archive', name) = data AS identical
FROM files ORDER BY length(data) DESC, name LIMIT 3;
SELECT count(*) AS read_in_one_batch, count(*) FILTER (WHERE r.data = f.data) AS identical
FROM des.archive_read(:'archive', (SELECT array_agg(name) FROM files)) r JOIN files f USING (name);

\echo
\echo '== 5. Verifying the archive'
SELECT "check", CASE WHEN ok THEN 'ok' ELSE 'FAILED' END AS result, detail FROM des.archive_verify(:'archive');

SELECT CASE WHEN bool_and(ok) THEN 'main job finished: every file is in the archive and reads back identical'
            ELSE 'main job FAILED verification' END AS result
FROM des.archive_verify(:'archive');

-- fail the job (non-zero exit) if anything did not verify
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM des.archive_verify(current_setting('des_demo.archive')) WHERE NOT ok) THEN
        RAISE EXCEPTION 'archive verification failed';
    END IF;
END $$;
