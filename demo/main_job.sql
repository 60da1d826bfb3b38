-- pg_des main job: the pipeline on local storage. Files are put into the
-- catalog from SQL (or registered by path), the background workers mark and
-- pack them into daily-sharded DES archives, then everything is read back,
-- checked, and the statistics shown. Then the data lake on the same store:
-- a versioned dataset, retention and garbage collection, a job's run and
-- lineage, the job re-run by the trigger dispatcher when a new version is
-- committed, schedules through pg_cron, CSV files of a version read as a
-- typed table, the runs as OpenLineage events, the dataset's files profiled
-- for search, and a table of another database as a source (postgres_fdw).
-- Run by tools/demo.sh with psql -v dir=<input directory>.
\set ON_ERROR_STOP on
\pset footer off
SET client_min_messages = notice;
CREATE EXTENSION IF NOT EXISTS pg_des;

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
SELECT rel AS name, path, pg_read_binary_file(path) AS data,
       jsonb_build_object('source', path, 'modified', (pg_stat_file(path)).modification) AS meta
FROM tree WHERE NOT (pg_stat_file(path)).isdir;
SELECT count(*) AS files, pg_size_pretty(sum(length(data))) AS total,
       pg_size_pretty(max(length(data))::bigint) AS largest
FROM files;

\echo
\echo '== 2. Putting them into the catalog: des.put sends the bytes; files of 1 MiB or more are'
\echo '      registered by path with des.put_url (the marker reads them itself)'
SELECT count(*) FILTER (WHERE length(data) < 1048576 AND des.put(name, data, meta) > 0) AS put,
       count(*) FILTER (WHERE length(data) >= 1048576 AND des.put_url(name, 'file://' || path, meta) > 0) AS registered
FROM files;
-- the same bytes again under other names: deduplicated, stored once
SELECT count(des.put('copies/' || name, data)) AS copies_put
FROM (SELECT name, data FROM files WHERE length(data) < 1048576 ORDER BY name LIMIT 25) f;
SELECT state, count(*) AS objects FROM des.objects GROUP BY state ORDER BY state;
-- the bulk path: rows COPYed or INSERTed into des.incoming are packed straight
-- from there (no marking), and the table is truncated once they are packed
INSERT INTO des.incoming (name, data, meta)
SELECT 'bulk/' || name, data, meta FROM files WHERE length(data) < 1048576;
SELECT staged AS bulk_rows_staged FROM des.stat_incoming;

\echo
\echo '== 3. Watching the workers: the marker hashes and shards the objects, the packers'
\echo '      lease a (day, shard) each and write its objects into one container'
SELECT des.wake_markers() AS markers_woken, des.wake_packers() AS packers_woken;
DO $$
DECLARE
    waiting bigint;
    last text := '';
    now_text text;
    deadline timestamptz := clock_timestamp() + interval '120 s';
BEGIN
    LOOP
        SELECT count(*) FILTER (WHERE state IN ('pending', 'marked')) + (SELECT staged FROM des.stat_incoming),
               format('pending %s, marked %s, staged in des.incoming %s, packed %s, containers %s',
                      count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'marked'),
                      (SELECT staged FROM des.stat_incoming), count(*) FILTER (WHERE state = 'packed'),
                      (SELECT count(*) FROM des.containers WHERE state = 'committed'))
          INTO waiting, now_text
          FROM des.objects;
        IF now_text <> last THEN
            RAISE NOTICE '%', now_text;
            last := now_text;
        END IF;
        EXIT WHEN waiting = 0;
        IF clock_timestamp() > deadline THEN
            RAISE EXCEPTION 'the workers did not pack everything within 120 s (%)', now_text;
        END IF;
        PERFORM pg_sleep(0.2);
    END LOOP;
END $$;

\echo
\echo '== 4. The containers the packers wrote (<storage>/YYYY-MM-DD/NN-SSSSSS-tT.des for a (day, shard),'
\echo '      incoming-<id>-tT.des for rows of des.incoming); every object is an entry of one'
SELECT count(*) AS packed_objects,
       count(*) FILTER (WHERE o.name IN (SELECT l.name FROM des.containers c, des.archive_list(c.location) l)) AS listed_in_containers
FROM des.objects o WHERE o.state = 'packed';
SELECT replace(location, des_internal.storage_root(), '<storage>') AS container, entries,
       pg_size_pretty(size) AS size, state
FROM des.containers ORDER BY location;

\echo
\echo '== 5. Reading everything back by name, wherever it is now'
SELECT o.name, s.state, replace(s.location, des_internal.storage_root(), '<storage>') AS container,
       length(des.get(o.name)) AS bytes, des.get(o.name) = f.data AS identical
FROM files f JOIN des.objects o USING (name), des.stat(o.name) s
ORDER BY length(f.data) DESC, o.name LIMIT 4;
SELECT count(*) AS read_in_batches, count(*) FILTER (WHERE g.data = f.data) AS identical
FROM des.get_many((SELECT array_agg(name) FROM files)) g JOIN files f USING (name);
SELECT count(*) AS copies_read, count(*) FILTER (WHERE g.data = f.data) AS identical
FROM des.get_many(ARRAY(SELECT 'copies/' || name FROM files)) g JOIN files f ON g.name = 'copies/' || f.name;
SELECT count(*) AS bulk_read, count(*) FILTER (WHERE g.data = f.data) AS identical
FROM des.get_many(ARRAY(SELECT 'bulk/' || name FROM files)) g JOIN files f ON g.name = 'bulk/' || f.name;

\echo
\echo '== 6. Statistics'
SELECT batches, marked, fetched, errors FROM des.stat_marker;
SELECT packer, phase, containers, objects, deduplicated, pg_size_pretty(bytes) AS written, errors
FROM des.stat_packer ORDER BY packer;
SELECT packed_objects, blobs, pg_size_pretty(logical_bytes) AS logical, pg_size_pretty(stored_bytes) AS stored,
       pg_size_pretty(saved_bytes) AS saved_by_dedup, dedup_ratio
FROM des.dedup_stats();

\echo
\echo '== 7. Verifying every container'
SELECT count(*) AS containers, count(*) FILTER (WHERE ok) AS verified
FROM (SELECT bool_and(v.ok) AS ok FROM des.containers c, des.archive_verify(c.location) v GROUP BY c.id) x;
SELECT count(*) AS orphans FROM des.orphans();

\echo
\echo '== 8. The packed containers as a table (des_fdw): per day, and one lookup'
CREATE SERVER demo_storage FOREIGN DATA WRAPPER des_fdw;
SELECT format('CREATE FOREIGN TABLE packed (name text, data bytea, size bigint, archive text, day date) '
              'SERVER demo_storage OPTIONS (location %L)', des_internal.storage_root() || '/') \gexec
SELECT day, count(DISTINCT archive) AS containers, count(*) AS entries, pg_size_pretty(sum(size)) AS bytes
FROM packed GROUP BY day ORDER BY day;
SELECT p.name, p.size, p.data = f.data AS same_bytes
FROM (SELECT name FROM files ORDER BY name LIMIT 1) w JOIN packed p USING (name) JOIN files f USING (name);

\echo
\echo '== 9. A versioned dataset: the same files committed as bundles, edited, read back'
SELECT des.repo_create('demo', 'the sample files, versioned') AS repo_id;
SELECT des.stage_many('demo', 'main', array_agg(name ORDER BY name), array_agg(data ORDER BY name)) AS staged
FROM files;
SELECT blobs AS blobs_before FROM (SELECT count(*) AS blobs FROM des.blobs) b \gset
SELECT des.commit('demo', 'main', 'the sample files', 'v1') AS v1 \gset
SELECT left(:'v1', 16) AS bundle_v1, count(*) FILTER (WHERE kind = 'file') AS files,
       count(*) FILTER (WHERE kind = 'dir') AS directories, pg_size_pretty(sum(size) FILTER (WHERE kind = 'file')) AS bytes
FROM des.files('demo/main');
-- an edit and a removal: the second bundle stores only the changed directories
SELECT des.stage('demo', 'main', (SELECT min(name) FROM files), 'edited in version 2') IS NOT NULL AS edited;
SELECT des.stage_remove('demo', 'main', (SELECT max(name) FROM files));
SELECT des.commit('demo', 'main', 'one file edited, one removed') AS v2 \gset
SELECT left(bundle_id, 16) AS bundle, left(parents[1], 16) AS parent, author, message FROM des.log('demo/main');
SELECT convert_from(des.read('demo/main', (SELECT min(name) FROM files)), 'UTF8') AS now_reads,
       des.read('demo@v1', (SELECT min(name) FROM files)) = (SELECT data FROM files ORDER BY name LIMIT 1) AS v1_unchanged;
SELECT (SELECT count(*) FROM des.blobs) - :blobs_before AS new_chunks_for_v2,
       (SELECT count(*) FROM des.dataset_dirs) AS directories_stored;
-- the whole input directory uploaded as a bundle on a branch, compared with main
SELECT des.branch_create('demo', 'snapshot', 'demo@v1');
SELECT left(des.bundle_upload('demo', 'snapshot', :'dir', 'the input directory as it is on disk'), 16) AS snapshot_bundle;
SELECT change, count(*) AS paths FROM des.diff('demo/main', 'demo/snapshot') GROUP BY change ORDER BY change;

\echo
\echo '== 10. Reclaiming space: a retention rule, history squashed, garbage collected'
-- keep only each branch's head (labels too: v1 goes)
SELECT des.retention_set('demo', keep_last => 1, keep_labels => false);
SELECT action, left(bundle_id, 16) AS bundle, message FROM des.squash('demo', dry_run => false) ORDER BY action, created_at;
SELECT left(bundle_id, 16) AS bundle, coalesce(left(parents[1], 16), '(none)') AS parent, message FROM des.log('demo/main');
-- what des.gc would remove, then removing it: the trees only v1 had; their
-- chunks stay when the pipeline's objects hold the same bytes
SELECT action, count(*) AS rows, sum(blobs) AS items, pg_size_pretty(sum(bytes)) AS bytes FROM des.gc() GROUP BY action ORDER BY action;
SELECT action, count(*) AS rows, sum(blobs) AS items FROM des.gc(dry_run => false) GROUP BY action ORDER BY action;
SELECT count(*) FILTER (WHERE v.bundle_id IS NULL) AS bundles_verified_ok FROM des.bundles b
  LEFT JOIN LATERAL (SELECT b.id AS bundle_id FROM des.verify_bundle(b.id) LIMIT 1) v ON true WHERE b.repo = 'demo';
SELECT runs, blobs_removed, containers_removed, pending_deletes FROM des.stat_gc;

\echo
\echo '== 11. Lineage: a job reads the dataset by gros:// URI and writes a summary; its run is recorded'
SELECT bundle_id IS NOT NULL AS resolved, left(bundle_id, 16) AS bundle, tag_kind, realtime
  FROM des.resolve('gros://demo/main:latest');
SELECT des.repo_create('demo_summary', 'a summary made from demo') > 0 AS created;
SELECT des.run_begin('summarize') IS NOT NULL AS run_begun;
-- reads inside the run are its inputs: the latest bundle (followed), and the first one by position
SELECT count(*) AS files_read, pg_size_pretty(sum(size)) AS bytes FROM des.files('gros://demo') WHERE kind = 'file';
SELECT count(*) AS files_in_first_version FROM des.files('gros://demo/main:0') WHERE kind = 'file';
SELECT des.stage('demo_summary', 'main', 'summary.txt',
                 convert_to((SELECT format('%s files, %s bytes', count(*), sum(size)) FROM des.files('gros://demo') WHERE kind = 'file'), 'UTF8')) IS NOT NULL AS staged;
SELECT left(des.commit('demo_summary', 'main', 'summary of demo'), 16) AS summary_bundle;
SELECT des.run_end() IS NOT NULL AS run_ended;
SELECT left(bundle_id, 16) AS upstream_bundle, repo, job, depth, uri FROM des.upstream('gros://demo_summary') ORDER BY uri;
SELECT jsonb_array_length(des.audit('gros://demo/main:latest') -> 'downstreams') AS downstreams_of_demo;
\echo '(the lineage as Graphviz DOT: des.lineage_dot; render it with dot -Tsvg)'
SELECT count(*) AS dot_lines FROM regexp_split_to_table(des.lineage_dot('gros://demo_summary'), E'\n');

\echo
\echo '== 12. Real-time: summarize read gros://demo without a tag, so it follows demo/main; given an'
\echo '      action, the trigger dispatcher runs it on each new version (woken by the commit)'
SELECT job, uri, origin FROM des.job_subscriptions ORDER BY job;
SELECT des.job_create('summarize', $$
    SELECT des.stage('demo_summary', 'main', 'summary.txt',
                     convert_to((SELECT format('%s files, %s bytes', count(*), sum(size))
                                   FROM des.files($1->>'uri') WHERE kind = 'file'), 'UTF8'));
    SELECT des.commit('demo_summary', 'main', 'summary of ' || ($1->>'uri'))$$) AS job_with_action;
SELECT des.stage('demo', 'main', 'docs/NEWS.txt', convert_to('a new file arrives', 'UTF8')) IS NOT NULL AS staged;
SELECT left(des.commit('demo', 'main', 'news'), 16) AS new_demo_bundle;
-- wait (at most 10 s) for the dispatcher
DO $$
BEGIN
    FOR i IN 1 .. 100 LOOP
        EXIT WHEN EXISTS (SELECT FROM des.job_triggers WHERE job = 'summarize' AND state IN ('done', 'dead'));
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;
SELECT t.job, t.state, t.attempts, round(extract(epoch FROM t.finished_at - t.enqueued_at) * 1000) AS ms_after_commit, t.last_error
  FROM des.job_triggers t WHERE t.job = 'summarize';
SELECT convert_from(des.read('gros://demo_summary', 'summary.txt'), 'UTF8') AS summary_now;
SELECT left(bundle_id, 16) AS upstream_of_new_summary, repo, job, left(uri, 30) AS uri_as_read
  FROM des.upstream('gros://demo_summary', 1);
\echo '(schedules go through pg_cron: a nightly garbage collection, an hourly run of the job)'
CREATE EXTENSION IF NOT EXISTS pg_cron;
SELECT cron.schedule('pg_des gc', '17 3 * * *', 'CALL des.gc_run()') > 0 AS gc_scheduled,
       cron.schedule('summarize hourly', '0 * * * *', $$SELECT des.job_run('summarize')$$) > 0 AS job_scheduled;
SELECT jobname, schedule, command FROM cron.job ORDER BY jobid;

\echo
\echo '== 13. Tabular reads and OpenLineage: CSV files of a version as a typed table, read inside a run;'
\echo '      every run as OpenLineage events (what Marquez takes; des.openlineage_url pushes them)'
SELECT des.repo_create('demo_sales', 'daily sales as CSV') > 0 AS created;
SELECT count(des.stage('demo_sales', 'main', format('daily/2025-01-%s.csv', lpad(d::text, 2, '0')),
                       convert_to('day,region,amount' || chr(10) ||
                                  (SELECT string_agg(format('2025-01-%s,%s,%s', lpad(d::text, 2, '0'), r, d * 10 + length(r)), chr(10))
                                     FROM unnest(ARRAY['north', 'south', 'east']) r) || chr(10), 'UTF8'))) AS csv_files_staged
  FROM generate_series(1, 7) d;
SELECT left(des.commit('demo_sales', 'main', 'a week of sales'), 16) AS sales_bundle;
CREATE SERVER demo_lake FOREIGN DATA WRAPPER des_fdw;
CREATE FOREIGN TABLE sales (day date, region text, amount numeric)
    SERVER demo_lake OPTIONS (uri 'gros://demo_sales', path 'daily/*.csv', format 'csv', header 'true');
SELECT des.run_begin('weekly-report') IS NOT NULL AS run_begun;
SELECT region, count(*) AS days, sum(amount) AS total FROM sales GROUP BY region ORDER BY region;
SELECT des.run_end() IS NOT NULL AS run_ended;
SELECT r.job, e.uri AS read_as, left(encode(e.bundle_id, 'hex'), 16) AS version_read
  FROM des.lineage_edges e JOIN des.runs r ON r.id = e.run_id WHERE r.job = 'weekly-report';
SELECT event->'job'->>'name' AS job, string_agg(event_type, ', ' ORDER BY event_time) AS events,
       max(jsonb_array_length(event->'inputs')) AS inputs, max(jsonb_array_length(event->'outputs')) AS outputs
  FROM des.openlineage_events() GROUP BY 1 ORDER BY 1;

\echo
\echo '== 14. Discovery: a discoverer lists the CSV files of demo_sales, the profiler workers profile'
\echo '      each one (types, statistics, coverage: Auctus'"'"'s profile) and the profiles are searchable'
SELECT des.discoverer_create('sales_files', 'bundle', '{"repo": "demo_sales"}') AS discoverer;
SELECT found, queued FROM des.discover('sales_files');
-- wait (at most 20 s) for the profiler workers, woken by that commit
DO $$
BEGIN
    FOR i IN 1 .. 200 LOOP
        EXIT WHEN NOT EXISTS (SELECT FROM des.datasets WHERE source = 'sales_files' AND state IN ('pending', 'profiling'));
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;
SELECT id, state, nb_rows, nb_columns, types FROM des.datasets WHERE source = 'sales_files' ORDER BY id LIMIT 3;
SELECT c ->> 'name' AS column_name, c ->> 'structural_type' AS structural_type, c -> 'semantic_types' AS semantic_types,
       c ->> 'num_distinct_values' AS distinct_values, c ->> 'mean' AS mean, c -> 'coverage' -> 0 -> 'range' AS coverage
  FROM jsonb_array_elements(des.profile('sales_files.demo_sales/daily/2025-01-03.csv') -> 'metadata' -> 'columns') c;
SELECT id, round(score::numeric, 3) AS score
  FROM des.search('region amount', '{"temporal": {"start": "2025-01-03", "end": "2025-01-04"}}');
SELECT id, round(score::numeric, 2) AS same_schema, columns FROM des.search_union('sales_files.demo_sales/daily/2025-01-01.csv', 2);

\echo
\echo '== 15. A source in another database: an application keeps its uploads in database demo_app;'
\echo '      through postgres_fdw the marker claims its new rows (compare-and-set on the key, with a'
\echo '      third status until the claim settles), the packers pack them, and the rows end archived'
CREATE DATABASE demo_app;
\! psql -X -q -d demo_app -c "CREATE TABLE uploads (id bigint PRIMARY KEY, path text NOT NULL, body bytea NOT NULL, state text NOT NULL DEFAULT 'new', added timestamptz NOT NULL DEFAULT now()); CREATE INDEX ON uploads (state, added, id); INSERT INTO uploads (id, path, body) SELECT i, 'app/upload_' || i || '.txt', convert_to('upload ' || i || repeat(' payload', i), 'UTF8') FROM generate_series(1, 25) i"
CREATE EXTENSION IF NOT EXISTS postgres_fdw;
DO $$
BEGIN
    EXECUTE format('CREATE SERVER demo_app FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host %L, port %L, dbname %L)',
                   split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port'), 'demo_app');
END $$;
CREATE USER MAPPING FOR CURRENT_USER SERVER demo_app;
CREATE FOREIGN TABLE app_uploads (id bigint, path text, body bytea, state text, added timestamptz)
    SERVER demo_app OPTIONS (table_name 'uploads');
SELECT des.register_source('app_uploads', 'path', data_column => 'body', status_column => 'state',
                           pending_value => 'new', claimed_value => 'archived', key_column => 'id',
                           age_column => 'added') AS source;
SELECT des.wake_markers() IS NOT NULL AS woken;
-- wait (at most 30 s) for the marker's claim, its settling round and the packers
DO $$
BEGIN
    FOR i IN 1 .. 300 LOOP
        EXIT WHEN (SELECT count(*) FROM des.objects WHERE name LIKE 'app/%' AND state = 'packed') = 25
              AND NOT EXISTS (SELECT FROM des.source_claims);
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;
SELECT state AS remote_state, count(*) AS rows FROM app_uploads GROUP BY state;
SELECT count(*) AS packed_objects, bool_and(des.get(o.name) = u.body) AS identical
  FROM des.objects o JOIN app_uploads u ON u.path = o.name WHERE o.state = 'packed';

SELECT CASE WHEN NOT EXISTS (SELECT FROM des.containers c, des.archive_verify(c.location) v WHERE NOT v.ok)
             AND (SELECT count(*) FROM des.get_many((SELECT array_agg(name) FROM files)) g
                   JOIN files f USING (name) WHERE g.data = f.data) = (SELECT count(*) FROM files)
             AND EXISTS (SELECT FROM des.job_triggers WHERE job = 'summarize' AND state = 'done')
             AND (SELECT count(*) FROM des.datasets WHERE source = 'sales_files' AND state = 'profiled') = 7
             AND (SELECT count(*) FROM app_uploads WHERE state = 'archived') = 25
            THEN 'main job finished: every file was packed by the workers and reads back identical'
            ELSE 'main job FAILED' END AS result;

-- fail the job (non-zero exit) if anything is missing or did not verify
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM des.job_triggers WHERE job = 'summarize' AND state = 'done') THEN
        RAISE EXCEPTION 'main job failed: the trigger dispatcher did not run the summarize job';
    END IF;
    IF (SELECT count(*) FROM des.datasets WHERE source = 'sales_files' AND state = 'profiled') <> 7 THEN
        RAISE EXCEPTION 'main job failed: the profiler workers did not profile the 7 CSV files';
    END IF;
    IF (SELECT count(*) FROM app_uploads WHERE state = 'archived') <> 25
       OR (SELECT count(*) FROM des.objects WHERE name LIKE 'app/%' AND state = 'packed') <> 25 THEN
        RAISE EXCEPTION 'main job failed: the 25 rows of demo_app were not all claimed, packed and settled';
    END IF;
    IF (SELECT count(*) FROM des.get_many(ARRAY(SELECT 'bulk/' || name FROM files WHERE length(data) < 1048576)) g
          JOIN files f ON g.name = 'bulk/' || f.name WHERE g.data = f.data)
       <> (SELECT count(*) FROM files WHERE length(data) < 1048576)
       OR EXISTS (SELECT FROM des.incoming) THEN
        RAISE EXCEPTION 'main job failed: the rows of des.incoming were not all packed and read back';
    END IF;
    IF EXISTS (SELECT FROM des.containers c, des.archive_verify(c.location) v WHERE NOT v.ok)
       OR (SELECT count(*) FROM des.get_many((SELECT array_agg(name) FROM files)) g
            JOIN files f USING (name) WHERE g.data = f.data) <> (SELECT count(*) FROM files) THEN
        RAISE EXCEPTION 'main job failed verification';
    END IF;
END $$;
