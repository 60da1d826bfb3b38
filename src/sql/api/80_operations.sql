-- Operations: the pipeline's state at a glance, and health checks for
-- readiness and liveness probes. See docs/operations.md.

CREATE OR REPLACE VIEW des.stat_storage AS
SELECT des_internal.storage_root() AS storage,
       (SELECT count(*) FROM des.containers c WHERE c.state = 'committed') AS containers,
       (SELECT count(*) FROM des.containers c WHERE c.state <> 'committed') AS open_containers,
       (SELECT coalesce(sum(c.size), 0) FROM des.containers c WHERE c.state = 'committed') AS container_bytes,
       (SELECT count(*) FROM des.fetch_queue) + (SELECT count(*) FROM des.mark_queue) AS pending,
       (SELECT count(*) FROM des.pack_queue) AS marked,
       d.packed_objects AS packed,
       (SELECT count(*) FROM des.dead_letters) AS dead_letters,
       now() - least((SELECT min(q.created_at) FROM des.fetch_queue q),
                     (SELECT min(q.created_at) FROM des.mark_queue q)) AS oldest_pending_age,
       (SELECT now() - min(q.created_at) FROM des.pack_queue q) AS oldest_marked_age,
       (SELECT coalesce(sum(o.size), 0) FROM des.objects o
         WHERE o.id IN (SELECT q.object_id FROM des.fetch_queue q UNION ALL
                        SELECT q.object_id FROM des.mark_queue q UNION ALL
                        SELECT q.object_id FROM des.pack_queue q)) AS backlog_bytes,
       d.logical_bytes AS packed_bytes,
       d.saved_bytes AS dedup_saved_bytes,
       d.dedup_ratio
  FROM des.dedup_stats() d;
COMMENT ON VIEW des.stat_storage IS
  'the catalog at a glance: containers, backlog per state and its age, dead letters, bytes packed and saved by dedup';

-- One row per check; ok is false when the check fails. For probes:
-- liveness = the workers rows, readiness = every row.
CREATE OR REPLACE FUNCTION des.health(max_lag interval DEFAULT '5 min', max_dead_letters bigint DEFAULT 0)
RETURNS TABLE ("check" text, ok boolean, detail text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    workers_on boolean := coalesce(current_setting('des.workers', true), 'on') = 'on';
    n_packers int := coalesce(current_setting('des.packers', true), '0')::int;
    n_markers int := coalesce(current_setting('des.markers', true), '0')::int;
    alive int;
    age interval;
    n bigint;
    root text;
    -- the server-start settings exist only when pg_des is preloaded (and
    -- shared_preload_libraries itself is readable by superusers only)
    preloaded boolean := current_setting('des.workers', true) IS NOT NULL;
    worker_db text := coalesce(current_setting('des.database', true), 'postgres');
BEGIN
    -- the workers and the id generator exist only when the library is preloaded
    "check" := 'library preloaded';
    ok := preloaded;
    detail := CASE WHEN preloaded THEN 'pg_des is in shared_preload_libraries'
                   ELSE 'pg_des is not in shared_preload_libraries: no worker marks or packs anything' END;
    RETURN NEXT;

    -- the workers serve one database: objects put in another are never packed
    "check" := 'worker database';
    ok := current_database() = worker_db;
    detail := CASE WHEN ok THEN format('the workers serve this database (des.database = %s)', worker_db)
                   ELSE format('the workers serve database %s (des.database), not %s: objects put here are never packed',
                               worker_db, current_database()) END;
    RETURN NEXT;

    -- every configured worker has a process
    FOR "check", alive, n IN
        SELECT v.name, v.running, v.configured
          FROM (VALUES ('markers running', CASE WHEN preloaded THEN (SELECT count(m.pid) FROM des.marker_stats() m) ELSE 0 END, n_markers),
                       ('packers running', CASE WHEN preloaded THEN (SELECT count(p.pid) FROM des.packer_stats() p) ELSE 0 END, n_packers))
               AS v(name, running, configured)
    LOOP
        ok := preloaded AND (NOT workers_on OR alive = n);
        detail := CASE WHEN NOT preloaded THEN 'pg_des is not preloaded'
                       WHEN workers_on THEN format('%s of %s running', alive, n) ELSE 'des.workers is off' END;
        RETURN NEXT;
    END LOOP;

    -- lag: how long the oldest object due for work has waited
    "check" := 'marking lag';
    SELECT now() - min(q.created_at) INTO age
      FROM (SELECT f.created_at FROM des.fetch_queue f WHERE f.not_before IS NULL OR f.not_before <= now()
            UNION ALL
            SELECT m.created_at FROM des.mark_queue m WHERE m.not_before IS NULL OR m.not_before <= now()) q;
    ok := age IS NULL OR age <= max_lag;
    detail := CASE WHEN age IS NULL THEN 'nothing pending' ELSE 'oldest pending object waited ' || date_trunc('second', age) END;
    RETURN NEXT;

    "check" := 'packing lag';
    SELECT now() - min(q.marked_at) INTO age FROM des.pack_queue q;
    -- marked objects may wait des.container_max_age for their container to fill
    ok := age IS NULL OR age <= max_lag + coalesce(current_setting('des.container_max_age', true), '0')::interval;
    detail := CASE WHEN age IS NULL THEN 'nothing marked' ELSE 'oldest marked object waited ' || date_trunc('second', age) END;
    RETURN NEXT;

    "check" := 'dead letters';
    SELECT count(*) INTO n FROM des.dead_letters;
    ok := n <= max_dead_letters;
    detail := n || ' object(s) in des.dead_letters';
    RETURN NEXT;

    -- the bulk path: how long the oldest row staged in des.incoming has waited
    -- (the first one past claimed_upto, or of a range not packed yet)
    "check" := 'incoming lag';
    SELECT now() - des_internal.id_time(least(
               (SELECT min(i.id) FROM des.incoming i WHERE i.id > (SELECT st.claimed_upto FROM des.incoming_state st)),
               (SELECT min(i.id) FROM des.incoming i, des.incoming_ranges r WHERE i.id > r.lo AND i.id <= r.hi)))
      INTO age;
    ok := age IS NULL OR age <= max_lag + coalesce(current_setting('des.container_max_age', true), '0')::interval;
    detail := CASE WHEN age IS NULL THEN 'nothing staged in des.incoming'
                   ELSE 'oldest row staged in des.incoming waited ' || date_trunc('second', age) END;
    RETURN NEXT;

    "check" := 'incoming rejects';
    SELECT count(*) INTO n FROM des.incoming_rejects;
    ok := n <= max_dead_letters;
    detail := n || ' row(s) in des.incoming_rejects';
    RETURN NEXT;

    "check" := 'storage reachable';
    root := des_internal.storage_root();
    BEGIN
        PERFORM FROM des.storage_list(root || '/', '/') LIMIT 1;
        ok := true;
        detail := root;
    EXCEPTION WHEN OTHERS THEN
        ok := false;
        detail := root || ': ' || SQLERRM;
    END;
    RETURN NEXT;
END $$;
COMMENT ON FUNCTION des.health(interval, bigint) IS
  'one row per check (library preloaded, worker database, workers running, marking and packing lag, dead letters, des.incoming lag and rejects, storage reachable) for probes';
