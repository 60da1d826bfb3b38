-- Discovery, profiling and dataset search (docs/discovery.md): discoverers
-- (src/backend/discovery/discover_list.c), the profiler workers' units
-- (src/backend/discovery/profiler.c), the profile as Auctus shows it, and
-- search by keywords and filters, by joinable columns, by union.

-- ---- the profiler and sketches, from SQL (C) ----

CREATE OR REPLACE FUNCTION des.profile_data(data bytea, options jsonb DEFAULT '{}')
RETURNS jsonb
AS 'MODULE_PATHNAME', 'des_profile_data'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION des.profile_data(bytea, jsonb) IS
  'the profile of CSV, TSV or JSON-lines bytes (format and dialect sniffed), in the shape of Auctus''s metadata; options override the des.profile_* settings (seed, sample_rows, type_threshold, categorical_ratio, free_text_ratio, max_bytes)';
GRANT EXECUTE ON FUNCTION des.profile_data(bytea, jsonb) TO PUBLIC;

CREATE OR REPLACE FUNCTION des.profile_file(location text, options jsonb DEFAULT '{}')
RETURNS jsonb
AS 'MODULE_PATHNAME', 'des_profile_file'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION des.profile_file(text, jsonb) IS
  'the profile of a CSV, TSV or JSON-lines file on the server (needs pg_read_server_files, as COPY) or an S3 object (s3://bucket/key, the caller''s user mapping); files above des.profile_max_bytes are read as seeded random windows';
GRANT EXECUTE ON FUNCTION des.profile_file(text, jsonb) TO PUBLIC;	-- checks the caller's rights

CREATE OR REPLACE FUNCTION des_internal.profile_materialized(materialize jsonb, owner regrole, options jsonb,
                                                            OUT profile jsonb, OUT minhashes bytea[])
AS 'MODULE_PATHNAME', 'des_profile_materialized'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION des_internal.profile_materialized(jsonb, regrole, jsonb) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.profile_bytes(data bytea, options jsonb, OUT profile jsonb, OUT minhashes bytea[])
AS 'MODULE_PATHNAME', 'des_profile_bytes'
LANGUAGE C STABLE;
REVOKE ALL ON FUNCTION des_internal.profile_bytes(bytea, jsonb) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.profile_failure_kind(sqlstate text)
RETURNS text
AS 'MODULE_PATHNAME', 'des_profile_failure_kind'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
GRANT EXECUTE ON FUNCTION des_internal.profile_failure_kind(text) TO PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.discover_list(kind text, config jsonb, owner regrole)
RETURNS TABLE (dataset_id text, materialize jsonb, metadata jsonb)
AS 'MODULE_PATHNAME', 'des_discover_list'
LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION des_internal.discover_list(text, jsonb, regrole) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.discover_query(config jsonb, owner regrole, keywords text, budget_ms int)
RETURNS TABLE (dataset_id text, materialize jsonb, metadata jsonb)
AS 'MODULE_PATHNAME', 'des_discover_query'
LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION des_internal.discover_query(jsonb, regrole, text, int) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.materialized_bytes(materialize jsonb, owner regrole, max_bytes bigint)
RETURNS bytea
AS 'MODULE_PATHNAME', 'des_materialized_bytes'
LANGUAGE C VOLATILE STRICT;
REVOKE ALL ON FUNCTION des_internal.materialized_bytes(jsonb, regrole, bigint) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des.minhash_jaccard(a bytea, b bytea)
RETURNS float8
AS 'MODULE_PATHNAME', 'des_minhash_jaccard_sql'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION des.minhash_jaccard(bytea, bytea) IS 'the estimated Jaccard similarity of the value sets of two profiled columns (their MinHashes)';
GRANT EXECUTE ON FUNCTION des.minhash_jaccard(bytea, bytea) TO PUBLIC;

CREATE OR REPLACE FUNCTION des.minhash_containment(a bytea, b bytea, distinct_a float8, distinct_b float8)
RETURNS float8
AS 'MODULE_PATHNAME', 'des_minhash_containment_sql'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION des.minhash_containment(bytea, bytea, float8, float8) IS
  'the estimated share of column A''s distinct values that column B has, from their MinHashes and distinct counts';
GRANT EXECUTE ON FUNCTION des.minhash_containment(bytea, bytea, float8, float8) TO PUBLIC;

CREATE OR REPLACE FUNCTION des.minhash_bands(minhash bytea)
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'des_minhash_bands'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION des.minhash_bands(bytea) IS 'the LSH band keys of a MinHash (64 bands of 2 bins at k = 128), what join search looks columns up by';
GRANT EXECUTE ON FUNCTION des.minhash_bands(bytea) TO PUBLIC;

CREATE OR REPLACE FUNCTION des.profiler_stats(OUT profiler int, OUT pid int, OUT profiles_stored bigint,
                                              OUT profiles_failed bigint, OUT errors bigint, OUT last_profile_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'des_profiler_stats'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION des.profiler_stats() IS
  'one row per configured profiler: pid (NULL when not running), profiles stored and failed, errors of its own, since server start';

CREATE OR REPLACE FUNCTION des.wake_profilers()
RETURNS int
AS 'MODULE_PATHNAME', 'des_wake_profilers'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION des.wake_profilers() IS 'wake every running profiler now; returns how many';
REVOKE ALL ON FUNCTION des.wake_profilers() FROM PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.wake_profilers_at_commit()
RETURNS void
AS 'MODULE_PATHNAME', 'des_wake_profilers_at_commit'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION des_internal.wake_profilers_at_commit() FROM PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.backend_start()
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'des_backend_start'
LANGUAGE C STABLE PARALLEL RESTRICTED;
REVOKE ALL ON FUNCTION des_internal.backend_start() FROM PUBLIC;

-- ---- who may change what ----

-- A dataset one may change: one recorded by a role one is a member of, or
-- any for an administrator of pg_des. 42704 for an unknown id, 42501 otherwise.
CREATE OR REPLACE FUNCTION des_internal.dataset_of_invoker(dataset text)
RETURNS des.discovered_datasets
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d des.discovered_datasets;
    who regrole := des_internal.invoking_role();
BEGIN
    SELECT * INTO d FROM des.discovered_datasets WHERE id = dataset;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'dataset "%" does not exist', dataset USING ERRCODE = 'undefined_object',
            HINT = 'Dataset ids are discoverer.dataset_id; see des.datasets.';
    END IF;
    IF NOT pg_has_role(who, d.owner, 'MEMBER') AND NOT des_internal.role_is_administrator(who) THEN
        RAISE EXCEPTION 'dataset "%" belongs to %', dataset, d.owner USING ERRCODE = 'insufficient_privilege',
            DETAIL = 'Only the role that recorded it (or an administrator of pg_des) may change a dataset.';
    END IF;
    RETURN d;
END $$;
REVOKE ALL ON FUNCTION des_internal.dataset_of_invoker(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.discoverer_of_invoker(discoverer text)
RETURNS des.discoverers
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d des.discoverers;
    who regrole := des_internal.invoking_role();
BEGIN
    SELECT * INTO d FROM des.discoverers WHERE name = discoverer;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'discoverer "%" does not exist', discoverer USING ERRCODE = 'undefined_object',
            HINT = 'Create it with des.discoverer_create(name, kind, config).';
    END IF;
    IF NOT pg_has_role(who, d.owner, 'MEMBER') AND NOT des_internal.role_is_administrator(who) THEN
        RAISE EXCEPTION 'discoverer "%" belongs to %', discoverer, d.owner USING ERRCODE = 'insufficient_privilege',
            DETAIL = 'Only its owner (or an administrator of pg_des) may run or change a discoverer.';
    END IF;
    RETURN d;
END $$;
REVOKE ALL ON FUNCTION des_internal.discoverer_of_invoker(text) FROM PUBLIC;

-- ---- recording datasets ----

-- What search matches: the name (weight A), the description (B), the
-- column names (C), the keywords of the column names and metadata (D).
CREATE OR REPLACE FUNCTION des_internal.dataset_search_vector(name text, description text, profile jsonb,
                                                             metadata jsonb)
RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT setweight(to_tsvector('english', coalesce(regexp_replace(name, '[_./-]+', ' ', 'g'), '')), 'A')
        || setweight(to_tsvector('english', coalesce(description, '')), 'B')
        || setweight(to_tsvector('english', coalesce((SELECT string_agg(regexp_replace(c ->> 'name', '[_./-]+', ' ', 'g'), ' ')
                                                      FROM jsonb_array_elements(profile -> 'columns') c), '')), 'C')
        || setweight(to_tsvector('english', coalesce((SELECT string_agg(k, ' ')
                                                      FROM jsonb_array_elements_text(profile -> 'attribute_keywords') k), '')
                                             || ' ' || coalesce((SELECT string_agg(k, ' ')
                                                      FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(metadata -> 'keywords') = 'array'
                                                                                          THEN metadata -> 'keywords' END) k), '')), 'D')
$$;
REVOKE ALL ON FUNCTION des_internal.dataset_search_vector(text, text, jsonb, jsonb) FROM PUBLIC;

-- Record (or refresh) one dataset of a discoverer, owned by owner. A dataset
-- whose materialize spec, size and version are unchanged keeps its profile;
-- otherwise it goes (back) to the profiling queue, and the profilers are
-- woken at commit. Returns the full id and whether it was queued.
CREATE OR REPLACE FUNCTION des_internal.record_dataset_as(discoverer text, owner regrole, materialize jsonb,
                                                         metadata jsonb, dataset_id text,
                                                         OUT id text, OUT queued boolean)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    ds_id text := coalesce(dataset_id, left(md5(materialize::text), 16));
    old des.discovered_datasets;
    size bigint;
    version text;
BEGIN
    metadata := coalesce(metadata, '{}');
    IF materialize IS NULL OR jsonb_typeof(materialize) <> 'object' OR NOT materialize ? 'kind' THEN
        RAISE EXCEPTION 'a dataset needs a materialize object with a "kind"' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('materialize: %s', materialize),
            HINT = 'Kinds: storage {"location"}, des {"location", "name", "data_offset", "stored_size", "flags"}, bundle {"ref", "path"}, object {"name"}, table {"relation"}.';
    END IF;
    IF jsonb_typeof(metadata) <> 'object' THEN
        RAISE EXCEPTION 'a dataset''s metadata must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF ds_id = '' OR length(ds_id) > 1000 THEN
        RAISE EXCEPTION 'invalid dataset id "%"', ds_id USING ERRCODE = 'invalid_name',
            DETAIL = 'A dataset id has 1 to 1000 characters.';
    END IF;
    IF jsonb_typeof(metadata -> 'size') = 'number' THEN
        size := (metadata ->> 'size')::numeric::bigint;
    END IF;
    version := metadata ->> 'version';
    id := discoverer || '.' || ds_id;
    -- a new one; or, when another session records it at the same time, it waits and then updates
    INSERT INTO des.discovered_datasets (id, discoverer, dataset_id, owner, name, description, materialize, metadata,
                                         source_size, source_version)
    VALUES (id, discoverer, ds_id, owner, coalesce(metadata ->> 'name', ds_id), metadata ->> 'description',
            materialize, metadata, size, version)
    ON CONFLICT DO NOTHING;
    IF FOUND THEN
        queued := true;
    ELSE
        SELECT * INTO old FROM des.discovered_datasets d WHERE d.id = record_dataset_as.id FOR UPDATE;
        -- a kept copy stands for the source while the source is unchanged; a changed source is read again
        queued := coalesce(CASE WHEN old.kept_copy IS NOT NULL THEN old.materialize -> 'original' END, old.materialize)
                      IS DISTINCT FROM materialize
                  OR old.source_size IS DISTINCT FROM size
                  OR old.source_version IS DISTINCT FROM version OR old.state = 'deleted';
        IF old.kept_copy IS NOT NULL AND NOT queued THEN
            materialize := old.materialize;
        END IF;
        UPDATE des.discovered_datasets d
           SET owner = record_dataset_as.owner, name = coalesce(metadata ->> 'name', ds_id),
               description = metadata ->> 'description', materialize = record_dataset_as.materialize,
               kept_copy = CASE WHEN queued THEN NULL ELSE d.kept_copy END,
               metadata = record_dataset_as.metadata, source_size = size, source_version = version,
               seen_at = now(), deleted_at = NULL,
               state = CASE WHEN queued THEN 'pending' ELSE d.state END,
               attempts = CASE WHEN queued THEN 0 ELSE d.attempts END,
               next_attempt_at = CASE WHEN queued THEN now() ELSE d.next_attempt_at END,
               claimed_by = CASE WHEN queued THEN NULL ELSE d.claimed_by END,		-- an old profile in flight is not stored
               claim_started = CASE WHEN queued THEN NULL ELSE d.claim_started END,
               failure_kind = CASE WHEN queued THEN NULL ELSE d.failure_kind END,
               failure_message = CASE WHEN queued THEN NULL ELSE d.failure_message END,
               search = des_internal.dataset_search_vector(coalesce(record_dataset_as.metadata ->> 'name', ds_id),
                                                           record_dataset_as.metadata ->> 'description', d.profile,
                                                           record_dataset_as.metadata)
         WHERE d.id = record_dataset_as.id;
    END IF;
    IF queued THEN
        PERFORM des_internal.wake_profilers_at_commit();
    END IF;
END $$;
REVOKE ALL ON FUNCTION des_internal.record_dataset_as(text, regrole, jsonb, jsonb, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des.record_dataset(materialize jsonb, metadata jsonb DEFAULT '{}', dataset_id text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    who regrole := des_internal.invoking_role();
    running text := nullif(current_setting('pg_des_discovery.discoverer', true), '');
    d des.discoverers;
BEGIN
    -- inside a function discoverer's run: that discoverer's; otherwise the manual one's
    IF running IS NOT NULL THEN
        d := des_internal.discoverer_of_invoker(running);
    END IF;
    RETURN (des_internal.record_dataset_as(coalesce(running, 'manual'), who, materialize, metadata, dataset_id)).id;
END $$;
COMMENT ON FUNCTION des.record_dataset(jsonb, jsonb, text) IS
  'record a dataset: how to read it again (materialize: kind storage, bundle, object or table) and what is known of it (metadata: name, description, size, version, keywords); returns its id discoverer.dataset_id and queues it for profiling unless unchanged';
GRANT EXECUTE ON FUNCTION des.record_dataset(jsonb, jsonb, text) TO PUBLIC;

CREATE OR REPLACE FUNCTION des.delete_dataset(id text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM des_internal.dataset_of_invoker(id);
    DELETE FROM des.discovered_datasets d WHERE d.id = delete_dataset.id;
    RETURN true;
END $$;
COMMENT ON FUNCTION des.delete_dataset(text) IS 'forget a dataset: its profile, columns and annotations';
GRANT EXECUTE ON FUNCTION des.delete_dataset(text) TO PUBLIC;

CREATE OR REPLACE FUNCTION des.reprofile(id text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM des_internal.dataset_of_invoker(id);
    UPDATE des.discovered_datasets d
       SET state = 'pending', attempts = 0, next_attempt_at = now(), claimed_by = NULL, claim_started = NULL,
           failure_kind = NULL, failure_message = NULL
     WHERE d.id = reprofile.id AND d.state <> 'deleted';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'dataset "%" is deleted from its source', id USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Run its discoverer again if it is back.';
    END IF;
    PERFORM des_internal.wake_profilers_at_commit();
END $$;
COMMENT ON FUNCTION des.reprofile(text) IS 'profile a dataset again (also one that failed or was left dead), from its first attempt';
GRANT EXECUTE ON FUNCTION des.reprofile(text) TO PUBLIC;

-- The bytes of a source that will not stay readable, kept as a pipeline
-- object: the dataset is then read from the copy (while its source, when
-- re-discovered, is unchanged).
CREATE OR REPLACE FUNCTION des.keep_copy(id text)
RETURNS text
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d des.discovered_datasets := des_internal.dataset_of_invoker(id);
    object_name text := 'discovery/' || d.id;
BEGIN
    IF d.kept_copy IS NOT NULL THEN
        RETURN d.kept_copy;
    END IF;
    IF d.materialize ->> 'kind' = 'object' THEN
        RETURN d.materialize ->> 'name';	-- already in the pipeline
    END IF;
    PERFORM des.put(object_name,
                    des_internal.materialized_bytes(d.materialize, d.owner, 1073741800),
                    jsonb_build_object('dataset', d.id, 'materialize', d.materialize));
    UPDATE des.discovered_datasets x
       SET kept_copy = object_name,
           materialize = jsonb_build_object('kind', 'object', 'name', object_name, 'original', d.materialize)
                         || CASE WHEN d.materialize ? 'format' THEN jsonb_build_object('format', d.materialize -> 'format')
                                 ELSE '{}' END
     WHERE x.id = keep_copy.id;
    RETURN object_name;
END $$;
COMMENT ON FUNCTION des.keep_copy(text) IS
  'store the bytes of a dataset (a file, an S3 object, a DES entry, a file of a version; not a table) as the pipeline object discovery/<id>, and read the dataset from it from now on; returns the object''s name';
GRANT EXECUTE ON FUNCTION des.keep_copy(text) TO PUBLIC;

CREATE OR REPLACE FUNCTION des.annotate(id text, "column" text, annotation jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM des_internal.dataset_of_invoker(id);
    IF annotation IS NULL OR jsonb_typeof(annotation) <> 'object' THEN
        RAISE EXCEPTION 'an annotation must be a JSON object' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'For example {"semantic_types": ["http://schema.org/identifier"]} for a column, {"description": "..."} for the dataset.';
    END IF;
    IF annotation = '{}' THEN
        DELETE FROM des.dataset_annotations a WHERE a.dataset = id AND a.column_name = coalesce("column", '');
        RETURN;
    END IF;
    INSERT INTO des.dataset_annotations (dataset, column_name, annotation, annotated_by)
    VALUES (id, coalesce("column", ''), annotation, des_internal.invoking_role())
    ON CONFLICT (dataset, column_name) DO UPDATE
       SET annotation = des.dataset_annotations.annotation || EXCLUDED.annotation,
           annotated_by = EXCLUDED.annotated_by, annotated_at = now();
    IF "column" IS NOT NULL AND annotation ? 'semantic_types' THEN
        UPDATE des.discovered_columns c
           SET semantic_types = ARRAY(SELECT jsonb_array_elements_text(annotation -> 'semantic_types'))
         WHERE c.dataset = id AND c.name = "column";
    END IF;
    IF "column" IS NULL AND (annotation ? 'name' OR annotation ? 'description' OR annotation ? 'keywords') THEN
        UPDATE des.discovered_datasets d
           SET search = des_internal.dataset_search_vector(coalesce(annotation ->> 'name', d.name),
                                                           coalesce(annotation ->> 'description', d.description),
                                                           d.profile, d.metadata || annotation)
         WHERE d.id = annotate.id;
    END IF;
END $$;
COMMENT ON FUNCTION des.annotate(text, text, jsonb) IS
  'annotate a dataset (column NULL) or one of its columns: the keys given win over what the profiler detected, in des.profile and search, and survive re-profiling ({} removes the annotation)';
GRANT EXECUTE ON FUNCTION des.annotate(text, text, jsonb) TO PUBLIC;

-- ---- discoverers ----

CREATE OR REPLACE FUNCTION des_internal.discoverer_save(name text, kind text, config jsonb, schedule text)
RETURNS text
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    who regrole := des_internal.invoking_role();
    job text := 'pg_des discover ' || name;
BEGIN
    IF name IS NULL OR name !~ '^[a-z0-9_][a-z0-9_-]{0,62}$' OR name = 'manual' THEN
        RAISE EXCEPTION 'invalid discoverer name "%"', name USING ERRCODE = 'invalid_name',
            DETAIL = 'A discoverer name has 1 to 63 lower-case letters, digits, "_" and "-" (no "."), and is not "manual".';
    END IF;
    IF kind IS NULL OR kind NOT IN ('directory', 's3', 'des', 'bundle', 'table', 'function') THEN
        RAISE EXCEPTION 'unknown discoverer kind "%"', kind USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Kinds: directory, s3, des, bundle, table, function.';
    END IF;
    config := coalesce(config, '{}');
    IF jsonb_typeof(config) <> 'object' THEN
        RAISE EXCEPTION 'a discoverer''s config must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF kind = 'function' AND to_regprocedure(coalesce(config ->> 'function', '') || '()') IS NULL THEN
        RAISE EXCEPTION 'function discoverer "%" needs "function": the name of a function without arguments', name
            USING ERRCODE = 'undefined_function',
            DETAIL = format('config: %s', config),
            HINT = 'The function returns rows of (dataset_id text, materialize jsonb, metadata jsonb).';
    END IF;
    IF EXISTS (SELECT FROM des.discoverers d WHERE d.name = discoverer_save.name) THEN
        PERFORM des_internal.discoverer_of_invoker(discoverer_save.name);
        UPDATE des.discoverers d SET kind = discoverer_save.kind, config = discoverer_save.config,
               schedule = discoverer_save.schedule
         WHERE d.name = discoverer_save.name;
    ELSE
        INSERT INTO des.discoverers (name, kind, config, schedule, owner)
        VALUES (discoverer_save.name, discoverer_save.kind, discoverer_save.config, discoverer_save.schedule, who);
    END IF;
    -- schedules run through pg_cron, in this database
    IF schedule IS NOT NULL THEN
        IF to_regnamespace('cron') IS NULL THEN
            RAISE EXCEPTION 'a discoverer''s schedule needs pg_cron in this database' USING ERRCODE = 'feature_not_supported',
                HINT = 'CREATE EXTENSION pg_cron (shared_preload_libraries = ''pg_cron,pg_des'', cron.database_name = this database), or run des.discover(name) yourself.';
        END IF;
        EXECUTE 'SELECT cron.schedule($1, $2, $3)'
          USING job, schedule, format('SELECT * FROM des.discover(%L)', name);
    ELSIF to_regnamespace('cron') IS NOT NULL THEN
        EXECUTE 'SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = $1' USING job;
    END IF;
    RETURN name;
END $$;
REVOKE ALL ON FUNCTION des_internal.discoverer_save(text, text, jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION des_internal.discoverer_save(text, text, jsonb, text) TO PUBLIC;	-- checks ownership itself

-- The caller's search_path names a function discoverer's function: it is
-- stored schema-qualified, as that path found it.
CREATE OR REPLACE FUNCTION des.discoverer_create(name text, kind text, config jsonb DEFAULT '{}', schedule text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    fn regprocedure;
BEGIN
    IF kind = 'function' AND jsonb_typeof(config -> 'query_function') = 'string' THEN
        fn := pg_catalog.to_regprocedure((config ->> 'query_function') || '(text)');
        IF fn IS NULL THEN
            RAISE EXCEPTION 'function discoverer "%": "query_function" must name a function of one text argument', name
                USING ERRCODE = 'undefined_function',
                HINT = 'It takes a search''s keywords and returns rows of (dataset_id text, materialize jsonb, metadata jsonb).';
        END IF;
        config := config || pg_catalog.jsonb_build_object('query_function', pg_catalog.format('%I.%I',
                      (SELECT n.nspname FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
                        WHERE p.oid = fn),
                      (SELECT p.proname FROM pg_catalog.pg_proc p WHERE p.oid = fn)));
    END IF;
    IF kind = 'function' AND jsonb_typeof(config -> 'function') = 'string' THEN
        fn := pg_catalog.to_regprocedure((config ->> 'function') || '()');
        IF fn IS NOT NULL THEN
            config := config || pg_catalog.jsonb_build_object('function', pg_catalog.format('%I.%I',
                          (SELECT n.nspname FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
                            WHERE p.oid = fn),
                          (SELECT p.proname FROM pg_catalog.pg_proc p WHERE p.oid = fn)));
        END IF;
    END IF;
    RETURN des_internal.discoverer_save(name, kind, config, schedule);
END $$;
COMMENT ON FUNCTION des.discoverer_create(text, text, jsonb, text) IS
  'create (or redefine one''s own) discoverer: kind directory, s3, des, bundle, table or function, its config, and a cron schedule run through pg_cron';
GRANT EXECUTE ON FUNCTION des.discoverer_create(text, text, jsonb, text) TO PUBLIC;

CREATE OR REPLACE FUNCTION des.discoverer_drop(name text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM des_internal.discoverer_of_invoker(name);
    IF to_regnamespace('cron') IS NOT NULL THEN
        EXECUTE 'SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = $1' USING 'pg_des discover ' || name;
    END IF;
    DELETE FROM des.discoverers d WHERE d.name = discoverer_drop.name;
    RETURN true;
END $$;
COMMENT ON FUNCTION des.discoverer_drop(text) IS 'drop a discoverer, its schedule and the datasets it found';
GRANT EXECUTE ON FUNCTION des.discoverer_drop(text) TO PUBLIC;

-- Run a discoverer now: list what its source has (with its owner's
-- rights), record each dataset (unchanged ones keep their profile), mark
-- the ones the source no longer has deleted. A discoverer that fails has its
-- error recorded and returned; nothing it found in that run is kept.
CREATE OR REPLACE FUNCTION des.discover(name text)
RETURNS TABLE (found int, queued int, gone int, error text)
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d des.discoverers := des_internal.discoverer_of_invoker(name);
    started timestamptz := now();	-- what record_dataset_as stamps seen_at with
    r record;
    n_found int := 0;
    n_queued int := 0;
    n_gone int := 0;
    message text;
BEGIN
    BEGIN
        PERFORM set_config('pg_des_discovery.discoverer', d.name, true);
        FOR r IN SELECT * FROM des_internal.discover_list(d.kind, d.config, d.owner) LOOP
            IF r.dataset_id IS NULL OR r.dataset_id = '' THEN
                RAISE EXCEPTION 'discoverer "%" returned a row without a dataset id', d.name
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            n_found := n_found + 1;
            IF (des_internal.record_dataset_as(d.name, d.owner, r.materialize, r.metadata, r.dataset_id)).queued THEN
                n_queued := n_queued + 1;
            END IF;
        END LOOP;
        PERFORM set_config('pg_des_discovery.discoverer', '', true);
        UPDATE des.discovered_datasets s SET state = 'deleted', deleted_at = now(), claimed_by = NULL, claim_started = NULL
         WHERE s.discoverer = d.name AND s.seen_at < started AND s.state <> 'deleted';
        GET DIAGNOSTICS n_gone = ROW_COUNT;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS message = MESSAGE_TEXT;
        PERFORM set_config('pg_des_discovery.discoverer', '', true);
        UPDATE des.discoverers x SET last_run_at = now(), last_error = message WHERE x.name = d.name;
        RETURN QUERY SELECT 0, 0, 0, message;
        RETURN;
    END;
    UPDATE des.discoverers x SET last_run_at = now(), last_found = n_found, last_new = n_queued, last_gone = n_gone,
           last_error = NULL
     WHERE x.name = d.name;
    RETURN QUERY SELECT n_found, n_queued, n_gone, NULL::text;
END $$;
COMMENT ON FUNCTION des.discover(text) IS
  'run a discoverer now: datasets found, queued for profiling (new or changed), gone from the source (marked deleted), and its error if it failed (also in des.discoverers.last_error)';
GRANT EXECUTE ON FUNCTION des.discover(text) TO PUBLIC;	-- checks the caller is a member of its owner

-- ---- the profilers' units ----

-- The next dataset due, claimed for this backend (pid and start); claims of
-- backends that are gone are taken back first, or left dead when their
-- attempts are used up (a dataset that kills its profiler).
CREATE OR REPLACE FUNCTION des_internal.profile_claim(pid int, started timestamptz, max_attempts int)
RETURNS TABLE (id text, owner regrole, materialize jsonb, options jsonb, next_due_ms bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d record;
BEGIN
    UPDATE des.discovered_datasets s
       SET state = CASE WHEN s.attempts >= max_attempts THEN 'dead' ELSE 'pending' END,
           failure_kind = CASE WHEN s.attempts >= max_attempts THEN 'error' ELSE s.failure_kind END,
           failure_message = CASE WHEN s.attempts >= max_attempts
                                  THEN format('the profiling session ended (crashed or was killed) during each of %s attempts', s.attempts)
                                  ELSE s.failure_message END,
           claimed_by = NULL, claim_started = NULL, next_attempt_at = now()
     WHERE s.id IN (SELECT x.id FROM des.discovered_datasets x
                     WHERE x.state = 'profiling'
                       AND NOT EXISTS (SELECT FROM pg_stat_activity a
                                        WHERE a.pid = x.claimed_by AND a.backend_start = x.claim_started)
                       FOR UPDATE SKIP LOCKED);
    SELECT x.id, x.owner, x.materialize, x.discoverer INTO d
      FROM des.discovered_datasets x
     WHERE x.state = 'pending' AND x.next_attempt_at <= now()
     ORDER BY x.next_attempt_at, x.id
       FOR UPDATE SKIP LOCKED
     LIMIT 1;
    IF NOT FOUND THEN
        RETURN QUERY SELECT NULL::text, NULL::regrole, NULL::jsonb, NULL::jsonb,
               (SELECT greatest(0, ceil(extract(epoch FROM min(x.next_attempt_at) - now()) * 1000))::bigint
                  FROM des.discovered_datasets x WHERE x.state = 'pending');
        RETURN;
    END IF;
    UPDATE des.discovered_datasets x
       SET state = 'profiling', claimed_by = pid, claim_started = started, attempts = x.attempts + 1
     WHERE x.id = d.id;
    RETURN QUERY SELECT d.id, d.owner, d.materialize,
                        (SELECT c.config -> 'profile' FROM des.discoverers c WHERE c.name = d.discoverer), NULL::bigint;
END $$;
REVOKE ALL ON FUNCTION des_internal.profile_claim(int, timestamptz, int) FROM PUBLIC;

-- Keep a profile, if the claim is still this backend's: false (nothing
-- stored) when it was taken back or the dataset changed meanwhile.
CREATE OR REPLACE FUNCTION des_internal.profile_store(dataset text, pid int, started timestamptz, profile jsonb,
                                                     minhashes bytea[])
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cur record;
BEGIN
    -- found by its id alone: a condition on the claim could lead the planner to the claims'
    -- partial index, whose dead entries a long transaction cannot prune
    SELECT d.state, d.claimed_by, d.claim_started INTO cur FROM des.discovered_datasets d WHERE d.id = dataset FOR UPDATE;
    IF NOT FOUND OR cur.state <> 'profiling' OR cur.claimed_by IS DISTINCT FROM pid
       OR cur.claim_started IS DISTINCT FROM started THEN
        RETURN false;
    END IF;
    UPDATE des.discovered_datasets d
       SET state = 'profiled', profile = profile_store.profile, profiled_at = now(),
           profile_count = d.profile_count + 1, claimed_by = NULL, claim_started = NULL,
           failure_kind = NULL, failure_message = NULL,
           search = des_internal.dataset_search_vector(d.name, d.description, profile_store.profile, d.metadata)
     WHERE d.id = dataset;
    DELETE FROM des.discovered_columns c WHERE c.dataset = profile_store.dataset;
    INSERT INTO des.discovered_columns (dataset, position, name, structural_type, semantic_types, num_distinct,
                                        missing_ratio, range_min, range_max, minhash, lsh)
    SELECT profile_store.dataset, c.ord - 1, c.col ->> 'name', c.col ->> 'structural_type',
           coalesce((SELECT array_agg(t) FROM jsonb_array_elements_text(
                        coalesce(a.annotation -> 'semantic_types', c.col -> 'semantic_types')) t), '{}'),
           (c.col ->> 'num_distinct_values')::bigint, (c.col ->> 'missing_values_ratio')::float8,
           (c.col -> 'coverage' -> 0 -> 'range' ->> 'gte')::float8,
           (c.col -> 'coverage' -> -1 -> 'range' ->> 'lte')::float8,
           minhashes[c.ord], des.minhash_bands(minhashes[c.ord])
      FROM jsonb_array_elements(profile -> 'columns') WITH ORDINALITY c(col, ord)
      LEFT JOIN des.dataset_annotations a ON a.dataset = profile_store.dataset AND a.column_name = c.col ->> 'name';
    RETURN true;
END $$;
REVOKE ALL ON FUNCTION des_internal.profile_store(text, int, timestamptz, jsonb, bytea[]) FROM PUBLIC;

-- A failed attempt: what the data is (empty, unparsable, too big) is final
-- until the source changes ('failed'); anything else is retried with
-- backoff, then left 'dead'. Returns the new state ('' when the claim was
-- no longer this backend's).
CREATE OR REPLACE FUNCTION des_internal.profile_failed(dataset text, pid int, started timestamptz, kind text,
                                                      message text, max_attempts int, retry_base interval)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_state text;
    cur record;
BEGIN
    SELECT d.state, d.claimed_by, d.claim_started INTO cur FROM des.discovered_datasets d WHERE d.id = dataset FOR UPDATE;
    IF NOT FOUND OR cur.state <> 'profiling' OR cur.claimed_by IS DISTINCT FROM pid
       OR cur.claim_started IS DISTINCT FROM started THEN
        RETURN '';
    END IF;
    UPDATE des.discovered_datasets d
       SET state = CASE WHEN kind IN ('empty', 'unparsable', 'too_big') THEN 'failed'
                        WHEN d.attempts >= max_attempts THEN 'dead' ELSE 'pending' END,
           failure_kind = kind, failure_message = left(message, 2000),
           next_attempt_at = now() + retry_base * power(2, greatest(d.attempts - 1, 0)),
           claimed_by = NULL, claim_started = NULL
     WHERE d.id = dataset
    RETURNING d.state INTO new_state;
    RETURN new_state;
END $$;
REVOKE ALL ON FUNCTION des_internal.profile_failed(text, int, timestamptz, text, text, int, interval) FROM PUBLIC;

-- Profile one dataset now, in this session (the profilers need not run):
-- claimed, profiled and stored in this transaction, or its failure recorded.
CREATE OR REPLACE FUNCTION des.profile_now(id text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d des.discovered_datasets := des_internal.dataset_of_invoker(id);
    me int := pg_backend_pid();
    since timestamptz := des_internal.backend_start();
    r record;
    state text;
    message text;
BEGIN
    -- a profiler has it: wait for that profile (at most 10 s), as good as ours
    FOR i IN 1 .. 200 LOOP
        EXIT WHEN d.state <> 'profiling' OR NOT EXISTS (SELECT FROM pg_stat_activity a
                                                         WHERE a.pid = d.claimed_by AND a.backend_start = d.claim_started);
        IF i = 200 THEN
            RAISE EXCEPTION 'dataset "%" is being profiled by process %', id, d.claimed_by
                USING ERRCODE = 'lock_not_available', HINT = 'Its profile will be in des.profile(id) when it is done.';
        END IF;
        PERFORM pg_sleep(0.05);
        SELECT * INTO d FROM des.discovered_datasets x WHERE x.id = profile_now.id;
        IF d.state = 'profiled' THEN
            RETURN des.profile(id);
        END IF;
    END LOOP;
    IF d.state = 'deleted' THEN
        RAISE EXCEPTION 'dataset "%" is deleted from its source', id USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE des.discovered_datasets x
       SET state = 'profiling', claimed_by = me, claim_started = since, attempts = x.attempts + 1
     WHERE x.id = profile_now.id;
    BEGIN
        SELECT * INTO r FROM des_internal.profile_materialized(d.materialize, d.owner,
                                                               (SELECT c.config -> 'profile' FROM des.discoverers c
                                                                 WHERE c.name = d.discoverer));
        PERFORM des_internal.profile_store(id, me, since, r.profile, r.minhashes);
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        GET STACKED DIAGNOSTICS message = MESSAGE_TEXT, state = RETURNED_SQLSTATE;
        -- des.profile_timeout is recorded as a failure; a cancel by the user (or statement_timeout) stays one
        IF state = '57014' AND message NOT LIKE 'profiling took longer than des.profile_timeout%' THEN
            RAISE;
        END IF;
        PERFORM des_internal.profile_failed(id, me, since, des_internal.profile_failure_kind(state), message,
                                            current_setting('des.profile_max_attempts')::int,
                                            current_setting('des.profile_retry_base')::interval);
        RAISE WARNING 'could not profile dataset "%": %', id, message USING ERRCODE = state;
        RETURN NULL;
    END;
    RETURN des.profile(id);
END $$;
COMMENT ON FUNCTION des.profile_now(text) IS
  'profile a dataset in this session and store its profile (returned); one a profiler is working on is waited for (10 s at most); a failure is recorded (and warned about) as a profiler''s would be';
GRANT EXECUTE ON FUNCTION des.profile_now(text) TO PUBLIC;

-- ---- reading ----

-- The whole profile in the shape of an Auctus search result's metadata,
-- annotations applied.
CREATE OR REPLACE FUNCTION des.profile(id text)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
               'id', d.id,
               'discoverer', d.discoverer,
               'state', d.state,
               'metadata',
               coalesce(d.profile, '{}') - 'columns'
               || jsonb_build_object(
                      'name', d.name,
                      'source', d.discoverer,
                      'size', coalesce(d.profile -> 'size', to_jsonb(d.source_size)),
                      'columns', coalesce((SELECT jsonb_agg(c.col || coalesce(a.annotation, '{}') ORDER BY c.ord)
                                             FROM jsonb_array_elements(d.profile -> 'columns') WITH ORDINALITY c(col, ord)
                                             LEFT JOIN des.dataset_annotations a
                                               ON a.dataset = d.id AND a.column_name = c.col ->> 'name'), '[]'),
                      'materialize', d.materialize || jsonb_build_object('identifier', 'pg_des.' || d.discoverer,
                                                                          'date', d.discovered_at),
                      'date', d.profiled_at)
               || CASE WHEN d.description IS NULL THEN '{}' ELSE jsonb_build_object('description', d.description) END
               || d.metadata - 'size' - 'version' - 'name'
               || coalesce((SELECT a.annotation FROM des.dataset_annotations a
                             WHERE a.dataset = d.id AND a.column_name = ''), '{}'))
      FROM des.discovered_datasets d
     WHERE d.id = profile.id
$$;
COMMENT ON FUNCTION des.profile(text) IS
  'a dataset''s profile as Auctus returns it (nb_rows, nb_profiled_rows, columns with structural_type, semantic_types, missing_values_ratio, num_distinct_values, mean, stddev, coverage, plot; spatial_coverage, temporal_coverage, sample, materialize), annotations applied';
GRANT EXECUTE ON FUNCTION des.profile(text) TO PUBLIC;

CREATE OR REPLACE VIEW des.datasets WITH (security_invoker = true) AS
    SELECT d.id, d.name, d.discoverer AS source, coalesce((d.profile ->> 'size')::bigint, d.source_size) AS size,
           d.profiled_at, d.state, (d.profile ->> 'nb_rows')::bigint AS nb_rows,
           (d.profile ->> 'nb_columns')::int AS nb_columns,
           ARRAY(SELECT jsonb_array_elements_text(d.profile -> 'types')) AS types,
           d.failure_kind, d.failure_message, d.attempts, d.owner, d.discovered_at, d.description
      FROM des.discovered_datasets d;
COMMENT ON VIEW des.datasets IS 'the datasets discovered, their state in the profiling queue and the gist of their profile';
GRANT SELECT ON des.datasets TO PUBLIC;

CREATE OR REPLACE VIEW des.dataset_columns WITH (security_invoker = true) AS
    SELECT c.dataset, c.position, c.name, c.structural_type, c.semantic_types, c.missing_ratio,
           c.num_distinct, c.range_min, c.range_max
      FROM des.discovered_columns c;
COMMENT ON VIEW des.dataset_columns IS 'the profiled columns of the datasets: types, missing ratio, distinct count, range';
GRANT SELECT ON des.dataset_columns TO PUBLIC;

-- ---- search ----

-- On-demand discovery: the function discoverers with a "query_function"
-- that the caller may run are given the search's keywords, within a time
-- budget shared by all; what they return is recorded, and profiled now while
-- the budget lasts (the profilers take the rest). A discoverer that fails
-- has its error recorded; the search goes on.
CREATE OR REPLACE FUNCTION des_internal.search_on_demand(keywords text, budget_ms int)
RETURNS int
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    who regrole := des_internal.invoking_role();
    deadline timestamptz := clock_timestamp() + greatest(budget_ms, 0) * interval '1 millisecond';
    d des.discoverers;
    r record;
    rec record;
    left_ms int;
    recorded int := 0;
    message text;
BEGIN
    IF current_setting('transaction_read_only')::boolean THEN
        RETURN 0;
    END IF;
    FOR d IN SELECT * FROM des.discoverers x
              WHERE x.kind = 'function' AND x.config ? 'query_function'
                AND (pg_has_role(who, x.owner, 'MEMBER') OR des_internal.role_is_administrator(who))
              ORDER BY x.name LOOP
        left_ms := floor(extract(epoch FROM deadline - clock_timestamp()) * 1000)::int;
        EXIT WHEN left_ms < 1;
        BEGIN
            PERFORM set_config('pg_des_discovery.discoverer', d.name, true);
            FOR r IN SELECT * FROM des_internal.discover_query(d.config, d.owner, keywords, left_ms) LOOP
                IF r.dataset_id IS NULL OR r.dataset_id = '' THEN
                    RAISE EXCEPTION 'discoverer "%" returned a row without a dataset id', d.name
                        USING ERRCODE = 'invalid_parameter_value';
                END IF;
                rec := des_internal.record_dataset_as(d.name, d.owner, r.materialize, r.metadata, r.dataset_id);
                recorded := recorded + 1;
                IF rec.queued AND clock_timestamp() < deadline THEN
                    PERFORM des.profile_now(rec.id);
                END IF;
            END LOOP;
            PERFORM set_config('pg_des_discovery.discoverer', '', true);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS message = MESSAGE_TEXT;
            PERFORM set_config('pg_des_discovery.discoverer', '', true);
            UPDATE des.discoverers x SET last_error = 'on-demand discovery: ' || message WHERE x.name = d.name;
        END;
    END LOOP;
    RETURN recorded;
END $$;
REVOKE ALL ON FUNCTION des_internal.search_on_demand(text, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION des_internal.search_on_demand(text, int) TO PUBLIC;	-- runs only the caller's discoverers

-- Ranked full-text search with filters: {"source": name or [names],
-- "types": [numerical, categorical, spatial, temporal], "semantic_types":
-- [URI or its last part], "columns": [names], "temporal": {"start", "end"}
-- (ISO dates or times), "spatial": [min_lon, min_lat, max_lon, max_lat],
-- "state": profiled by default}.
CREATE OR REPLACE FUNCTION des.search(keywords text DEFAULT NULL, filters jsonb DEFAULT '{}', "limit" int DEFAULT 20)
RETURNS TABLE (id text, score float8, name text, profile jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    q tsquery := CASE WHEN nullif(btrim(keywords), '') IS NULL THEN NULL
                      ELSE websearch_to_tsquery('english', keywords) END;
    f jsonb := coalesce(filters, '{}');
    sources text[];
    types text[];
    semantic text[];
    cols text[];
    t_start float8;
    t_end float8;
    bbox float8[];
    wanted_state text := coalesce(f ->> 'state', 'profiled');
BEGIN
    IF jsonb_typeof(f) <> 'object' THEN
        RAISE EXCEPTION 'search filters must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- on-demand discovery first, so that what it finds can be found
    IF q IS NOT NULL AND coalesce((f ->> 'on_demand')::boolean, true)
       AND EXISTS (SELECT FROM des.discoverers x WHERE x.kind = 'function' AND x.config ? 'query_function') THEN
        PERFORM des_internal.search_on_demand(keywords,
                    coalesce((f ->> 'budget_ms')::int,
                             (extract(epoch FROM current_setting('des.search_budget')::interval) * 1000)::int));
    END IF;
    IF f ? 'source' THEN
        sources := CASE jsonb_typeof(f -> 'source') WHEN 'array' THEN ARRAY(SELECT jsonb_array_elements_text(f -> 'source'))
                        ELSE ARRAY[f ->> 'source'] END;
    END IF;
    IF f ? 'types' THEN
        types := ARRAY(SELECT jsonb_array_elements_text(f -> 'types'));
    END IF;
    IF f ? 'semantic_types' THEN
        semantic := ARRAY(SELECT CASE WHEN t LIKE '%/%' THEN t ELSE NULL END
                            FROM jsonb_array_elements_text(f -> 'semantic_types') t);
        -- short names (latitude, identifier, ...) match the end of the URIs
        IF array_position(semantic, NULL) IS NOT NULL THEN
            semantic := ARRAY(SELECT DISTINCT u FROM jsonb_array_elements_text(f -> 'semantic_types') t,
                                     LATERAL (SELECT DISTINCT unnest(c.semantic_types) u FROM des.discovered_columns c) x
                               WHERE u = t OR lower(u) LIKE '%/' || lower(t));
        END IF;
    END IF;
    IF f ? 'columns' THEN
        cols := ARRAY(SELECT lower(jsonb_array_elements_text(f -> 'columns')));
    END IF;
    IF f ? 'temporal' THEN
        t_start := extract(epoch FROM coalesce((f -> 'temporal' ->> 'start')::timestamptz, '-infinity'));
        t_end := extract(epoch FROM coalesce((f -> 'temporal' ->> 'end')::timestamptz, 'infinity'));
    END IF;
    IF f ? 'spatial' THEN
        bbox := ARRAY(SELECT jsonb_array_elements_text(f -> 'spatial')::float8);
        IF array_length(bbox, 1) IS DISTINCT FROM 4 THEN
            RAISE EXCEPTION 'the spatial filter is [min_lon, min_lat, max_lon, max_lat]' USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    RETURN QUERY
    SELECT d.id, CASE WHEN q IS NULL THEN 1.0 ELSE ts_rank_cd(d.search, q, 32)::float8 END AS score, d.name,
           des.profile(d.id)
      FROM des.discovered_datasets d
     WHERE (q IS NULL OR d.search @@ q)
       AND d.state = wanted_state
       AND (sources IS NULL OR d.discoverer = ANY (sources))
       AND (types IS NULL OR ARRAY(SELECT jsonb_array_elements_text(d.profile -> 'types')) @> types)
       AND (semantic IS NULL OR EXISTS (SELECT FROM des.discovered_columns c
                                         WHERE c.dataset = d.id AND c.semantic_types && semantic))
       AND (cols IS NULL OR (SELECT count(DISTINCT lower(c.name)) FROM des.discovered_columns c
                              WHERE c.dataset = d.id AND lower(c.name) = ANY (cols)) = cardinality(cols))
       AND (t_start IS NULL OR EXISTS (SELECT FROM jsonb_array_elements(d.profile -> 'temporal_coverage') tc,
                                              jsonb_array_elements(tc -> 'ranges') r
                                        WHERE (r -> 'range' ->> 'gte')::float8 <= t_end
                                          AND (r -> 'range' ->> 'lte')::float8 >= t_start))
       AND (bbox IS NULL OR EXISTS (SELECT FROM jsonb_array_elements(d.profile -> 'spatial_coverage') sc,
                                           jsonb_array_elements(sc -> 'ranges') r
                                     WHERE (r -> 'range' -> 'coordinates' -> 0 ->> 0)::float8 <= bbox[3]
                                       AND (r -> 'range' -> 'coordinates' -> 1 ->> 0)::float8 >= bbox[1]
                                       AND (r -> 'range' -> 'coordinates' -> 1 ->> 1)::float8 <= bbox[4]
                                       AND (r -> 'range' -> 'coordinates' -> 0 ->> 1)::float8 >= bbox[2]))
     ORDER BY 2 DESC, d.id
     LIMIT greatest(coalesce("limit", 20), 0);
END $$;
COMMENT ON FUNCTION des.search(text, jsonb, int) IS
  'datasets by keywords (ranked full-text search over names, descriptions, column names and keywords; function discoverers with a query_function are asked first, within des.search_budget) and filters (source, types, semantic_types, columns, temporal {start, end}, spatial [min_lon, min_lat, max_lon, max_lat], on_demand, budget_ms)';
GRANT EXECUTE ON FUNCTION des.search(text, jsonb, int) TO PUBLIC;

-- Columns to join with: those whose value sets contain the given column's
-- (MinHash containment, candidates by LSH), and numeric or temporal columns
-- whose ranges overlap it.
CREATE OR REPLACE FUNCTION des.search_join(dataset_id text, "column" text, "limit" int DEFAULT 20)
RETURNS TABLE (id text, name text, column_name text, score float8, kind text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
-- the candidates are few by design (the LSH band keys, the GiST ranges): a
-- sequential scan, which the planner's estimate of array overlap can prefer,
-- would detoast every column's keys (0.7 s for 80,000 columns)
SET enable_seqscan = off
AS $$
DECLARE
    src des.discovered_columns;
BEGIN
    SELECT * INTO src FROM des.discovered_columns c WHERE c.dataset = search_join.dataset_id AND c.name = search_join."column";
    IF NOT FOUND THEN
        RAISE EXCEPTION 'dataset "%" has no profiled column "%"', dataset_id, "column" USING ERRCODE = 'undefined_column';
    END IF;
    RETURN QUERY
    WITH by_values AS (
        SELECT c.dataset, c.name AS column_name,
               des.minhash_containment(src.minhash, c.minhash, src.num_distinct, c.num_distinct) AS score
          FROM des.discovered_columns c
         WHERE c.lsh && src.lsh AND c.dataset <> src.dataset
    ), by_range AS (
        SELECT c.dataset, c.name AS column_name,
               (least(c.range_max, src.range_max) - greatest(c.range_min, src.range_min))
                 / nullif(src.range_max - src.range_min, 0) AS score
          FROM des.discovered_columns c
         WHERE src.range_min IS NOT NULL AND c.range_min IS NOT NULL AND c.dataset <> src.dataset
           AND c.structural_type = src.structural_type
           -- through the GiST index of the ranges
           AND numrange(c.range_min::numeric, c.range_max::numeric, '[]')
               && numrange(src.range_min::numeric, src.range_max::numeric, '[]')
           AND NOT EXISTS (SELECT FROM by_values v WHERE v.dataset = c.dataset AND v.column_name = c.name)
    )
    -- the dataset's name looked up per candidate (a join would be planned for every dataset)
    SELECT y.dataset, y.name, y.column_name, y.score, y.kind
      FROM (SELECT x.dataset, x.column_name, x.score, x.kind,
                   (SELECT d.name FROM des.discovered_datasets d WHERE d.id = x.dataset AND d.state = 'profiled') AS name
              FROM (SELECT v.dataset, v.column_name, v.score, 'values' AS kind FROM by_values v WHERE v.score > 0
                    UNION ALL
                    SELECT r.dataset, r.column_name, coalesce(r.score, 1), 'range' FROM by_range r) x) y
     WHERE y.name IS NOT NULL
     ORDER BY y.kind DESC, y.score DESC, y.dataset, y.column_name
     LIMIT greatest(coalesce("limit", 20), 0);
END $$;
COMMENT ON FUNCTION des.search_join(text, text, int) IS
  'columns of other datasets to join a column with: by values (estimated containment of its distinct values, MinHash and LSH), then by overlapping numeric or temporal range';
GRANT EXECUTE ON FUNCTION des.search_join(text, text, int) TO PUBLIC;

-- Datasets to append to this one: share of the columns (of the larger of
-- the two) that another has with the same name (case-insensitive) and a
-- compatible type (integer and float go together), at least min_share of
-- this one's. Candidates come from this one's rarest column names: a dataset
-- with k of its n columns has one of any n - k + 1 of them, so a name that
-- every dataset has (an "id") costs nothing unless it has to.
CREATE OR REPLACE FUNCTION des.search_union(dataset_id text, "limit" int DEFAULT 20, min_share float8 DEFAULT 0.5)
RETURNS TABLE (id text, name text, score float8, columns text[])
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH src AS (
        SELECT DISTINCT lower(c.name) AS name,
               CASE WHEN c.structural_type IN ('http://schema.org/Integer', 'http://schema.org/Float') THEN 'number'
                    ELSE c.structural_type END AS t
          FROM des.discovered_columns c WHERE c.dataset = search_union.dataset_id
    ), need AS (
        SELECT count(*) AS n, greatest(1, ceil(count(*) * least(greatest(coalesce(min_share, 0.5), 0), 1)))::int AS k
          FROM src
    ), rare AS (
        SELECT s.name
          FROM src s
         ORDER BY (SELECT count(*) FROM (SELECT FROM des.discovered_columns c WHERE lower(c.name) = s.name LIMIT 10000) z), s.name
         LIMIT (SELECT n - k + 1 FROM need)
    ), candidates AS (
        SELECT DISTINCT c.dataset
          FROM rare r JOIN des.discovered_columns c ON lower(c.name) = r.name	-- through the index on lower(name)
         WHERE c.dataset <> search_union.dataset_id
    ), matched AS (
        SELECT c.dataset, count(*) AS matched, array_agg(c.name ORDER BY c.position) AS columns,
               (SELECT count(*) FROM des.discovered_columns o WHERE o.dataset = c.dataset) AS width
          FROM candidates m
          JOIN des.discovered_columns c ON c.dataset = m.dataset
          JOIN src ON src.name = lower(c.name)
                  AND src.t = CASE WHEN c.structural_type IN ('http://schema.org/Integer', 'http://schema.org/Float')
                                   THEN 'number' ELSE c.structural_type END
         GROUP BY c.dataset
        HAVING count(*) >= (SELECT k FROM need)
    )
    SELECT x.dataset, x.name, x.score, x.columns
      FROM (SELECT m.dataset, m.columns, m.matched::float8 / greatest((SELECT n FROM need), m.width) AS score,
                   (SELECT d.name FROM des.discovered_datasets d WHERE d.id = m.dataset AND d.state = 'profiled') AS name
              FROM matched m) x
     WHERE x.name IS NOT NULL
     ORDER BY x.score DESC, x.dataset
     LIMIT greatest(coalesce("limit", 20), 0)
$$;
COMMENT ON FUNCTION des.search_union(text, int, float8) IS
  'datasets with a compatible schema: at least min_share of this one''s columns under the same name with a compatible type; scored by the share of the larger schema';
GRANT EXECUTE ON FUNCTION des.search_union(text, int, float8) TO PUBLIC;
