-- Sources: a table of the user's whose rows the marker claims into the
-- pipeline, as the DES marker did against source catalogs. See
-- docs/pipeline.md, "Sources".


-- However a row gets here, it is registered by the role that inserts it, and
-- the marker claims with that role's rights (see des_internal.claim_source_rows); a
-- source of URLs, which the marker fetches with its own rights, needs a role
-- that may read server files.
CREATE OR REPLACE FUNCTION des_internal.sources_check_registrar()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- bookkeeping updates (counters, errors, enabled) keep the registrar
    IF TG_OP = 'UPDATE'
       AND (NEW.relation, NEW.name_column, NEW.data_column, NEW.url_column, NEW.meta_column,
            NEW.status_column, NEW.age_column, NEW.pending_value, NEW.claimed_value, NEW.registered_by,
            NEW.key_column, NEW.claiming_value, NEW.use_returning)
           IS NOT DISTINCT FROM
           (OLD.relation, OLD.name_column, OLD.data_column, OLD.url_column, OLD.meta_column,
            OLD.status_column, OLD.age_column, OLD.pending_value, OLD.claimed_value, OLD.registered_by,
            OLD.key_column, OLD.claiming_value, OLD.use_returning) THEN
        RETURN NEW;
    END IF;
    NEW.registered_by := current_user::regrole;
    IF NEW.url_column IS NOT NULL AND NOT pg_has_role(current_user, 'pg_read_server_files', 'MEMBER') THEN
        RAISE EXCEPTION 'permission denied to register table % with URLs as a source', NEW.relation
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'The marker reads the URLs itself: the registering role needs the privileges of pg_read_server_files.';
    END IF;
    RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION des_internal.sources_check_registrar() FROM PUBLIC;
CREATE OR REPLACE TRIGGER sources_registrar BEFORE INSERT OR UPDATE ON des.sources
    FOR EACH ROW EXECUTE FUNCTION des_internal.sources_check_registrar();

CREATE OR REPLACE FUNCTION des_internal.source_column_type(tbl regclass, col name)
RETURNS regtype
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT a.atttypid::regtype FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped
$$;
GRANT EXECUTE ON FUNCTION des_internal.source_column_type(regclass, name) TO PUBLIC;	-- des.register_source calls it with its caller's rights

CREATE OR REPLACE FUNCTION des.register_source(tbl regclass, name_column name,
                                    data_column name DEFAULT NULL, url_column name DEFAULT NULL,
                                    status_column name DEFAULT 'status',
                                    pending_value text DEFAULT 'pending',
                                    claimed_value text DEFAULT 'queued',
                                    age_column name DEFAULT NULL, min_age interval DEFAULT '0 s',
                                    meta_column name DEFAULT NULL,
                                    key_column name DEFAULT NULL,
                                    claiming_value text DEFAULT 'claiming',
                                    use_returning boolean DEFAULT NULL,
                                    claimers int DEFAULT 1)
RETURNS int
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    col name;
    want text;
    got regtype;
    new_id int;
    kind "char" := (SELECT c.relkind FROM pg_class c WHERE c.oid = tbl);
    wrapper name;
BEGIN
    IF (data_column IS NULL) = (url_column IS NULL) THEN
        RAISE EXCEPTION 'give exactly one of data_column and url_column' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pending_value IS NULL OR claimed_value IS NULL OR pending_value = claimed_value THEN
        RAISE EXCEPTION 'pending_value and claimed_value must be given and differ'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF kind NOT IN ('r', 'f') THEN
        RAISE EXCEPTION '% is not a plain table or a foreign table', tbl USING ERRCODE = 'wrong_object_type',
            HINT = 'Register the partitions of a partitioned table one by one.';
    END IF;
    IF claimers IS NULL OR claimers NOT BETWEEN 1 AND 16 THEN
        RAISE EXCEPTION 'claimers must be between 1 and 16' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF kind = 'r' AND claimers > 1 THEN
        RAISE EXCEPTION 'claimers is for foreign tables: markers share the rows of % with SKIP LOCKED', tbl
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF kind = 'r' AND key_column IS NOT NULL THEN
        RAISE EXCEPTION 'key_column is for foreign tables: rows of % are claimed with FOR UPDATE SKIP LOCKED', tbl
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF kind = 'f' THEN
        -- claims through a wrapper are compare-and-set on a key (docs/pipeline.md, "Foreign sources")
        IF key_column IS NULL THEN
            RAISE EXCEPTION 'a foreign table needs a key_column to be a source' USING ERRCODE = 'invalid_parameter_value',
                HINT = 'Name a column that identifies each row on the remote side (for mysql_fdw, the table''s first column, the remote primary key).';
        END IF;
        IF des_internal.source_column_type(tbl, key_column) IS NULL THEN
            RAISE EXCEPTION 'column "%" of table % does not exist', key_column, tbl USING ERRCODE = 'undefined_column';
        END IF;
        IF claiming_value IS NULL OR claiming_value IN (pending_value, claimed_value) THEN
            RAISE EXCEPTION 'claiming_value must be given and differ from pending_value and claimed_value'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF (pg_relation_is_updatable(tbl, false) & 4) = 0 THEN
            RAISE EXCEPTION 'foreign table % cannot be updated through its wrapper', tbl
                USING ERRCODE = 'wrong_object_type',
                      HINT = 'Claims set each row''s status: the wrapper must support UPDATE (and the table must not be declared updatable false).';
        END IF;
        SELECT w.fdwname INTO wrapper
          FROM pg_foreign_table ft JOIN pg_foreign_server fs ON fs.oid = ft.ftserver
          JOIN pg_foreign_data_wrapper w ON w.oid = fs.srvfdw
         WHERE ft.ftrelid = tbl;
        -- postgres_fdw sends UPDATE ... RETURNING as one statement; mysql_fdw refuses RETURNING
        use_returning := coalesce(use_returning, wrapper = 'postgres_fdw');
    ELSE
        claiming_value := NULL;
        use_returning := NULL;
    END IF;
    -- every named column exists with a usable type
    FOR col, want IN
        SELECT c, w FROM (VALUES (name_column, 'text'), (data_column, 'bytea'), (url_column, 'text'),
                                 (status_column, 'text'), (age_column, 'timestamptz'),
                                 (meta_column, 'jsonb')) v(c, w)
         WHERE c IS NOT NULL
    LOOP
        got := des_internal.source_column_type(tbl, col);
        IF got IS NULL THEN
            RAISE EXCEPTION 'column "%" of table % does not exist', col, tbl USING ERRCODE = 'undefined_column';
        END IF;
        IF NOT (got = want::regtype
                OR (want = 'text' AND got IN ('character varying'::regtype, 'character'::regtype, 'name'::regtype))
                OR (want = 'timestamptz' AND got IN ('timestamp without time zone'::regtype, 'date'::regtype))) THEN
            RAISE EXCEPTION 'column "%" of table % is %, not %', col, tbl, got, want
                USING ERRCODE = 'datatype_mismatch';
        END IF;
    END LOOP;
    -- the marker reads and updates the table with its own rights: the caller
    -- must be allowed to do the same, and to read what the URLs point to
    IF NOT (has_table_privilege(tbl, 'SELECT') AND has_column_privilege(tbl, status_column, 'UPDATE')
            AND has_table_privilege('des.objects', 'SELECT, INSERT')) THEN
        RAISE EXCEPTION 'permission denied to register table % as a source', tbl
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'The caller needs SELECT on the table, UPDATE on its status column, and SELECT and INSERT on des.objects: claims run with its rights.';
    END IF;
    INSERT INTO des.sources (relation, name_column, data_column, url_column, meta_column, status_column,
                             age_column, pending_value, claimed_value, min_age, registered_by,
                             key_column, claiming_value, use_returning, claimers)
    VALUES (tbl, name_column, data_column, url_column, meta_column, status_column,
            age_column, pending_value, claimed_value, coalesce(min_age, '0 s'), current_user::regrole,
            key_column, claiming_value, use_returning, claimers)
    ON CONFLICT (relation) DO NOTHING
    RETURNING id INTO new_id;
    IF new_id IS NULL THEN
        RAISE EXCEPTION 'table % is already a source', tbl USING ERRCODE = 'duplicate_object',
            HINT = 'des.unregister_source() it first to change how it is read.';
    END IF;
    RETURN new_id;
END $$;
COMMENT ON FUNCTION des.register_source(regclass, name, name, name, name, text, text, name, interval, name, name, text, boolean, int) IS
  'make a table a source: the marker claims its pending rows (SKIP LOCKED; foreign tables: compare-and-set on key_column) into des.objects and sets their status';

CREATE OR REPLACE FUNCTION des.unregister_source(tbl regclass)
RETURNS boolean
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH d AS (DELETE FROM des.sources s WHERE s.relation = tbl RETURNING 1)
    SELECT count(*) > 0 FROM d
$$;

-- Claim up to batch_size pending rows of one source: each becomes an object
-- (staged bytes, or a URL the marker fetches) and its status the claimed
-- value, in the caller's transaction. Rows locked elsewhere are skipped; so
-- are rows whose name is already an object or too long for an archive (they
-- stay pending: flipping them would tell the application that bytes are in
-- pg_des that are not). des_internal.claim_source_tables() calls this as the role that
-- registered the source, in a security-restricted context, so the source's
-- owner gets no rights of the caller's (a trigger on its table cannot SET ROLE).
CREATE OR REPLACE FUNCTION des_internal.claim_source_rows(relation regclass, name_column name, data_column name, url_column name,
                                      meta_column name, status_column name, age_column name,
                                      pending_value text, claimed_value text, min_age interval,
                                      batch_size int)
RETURNS int
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n int;
BEGIN
    EXECUTE format(
        'WITH claimed AS (
             SELECT t.ctid AS row_id, t.%1$I::text AS name, %2$s AS data, %3$s AS url, %4$s AS meta
               FROM %5$s t
              WHERE t.%6$I = $1 AND t.%1$I IS NOT NULL AND t.%1$I::text <> ''''
                AND octet_length(t.%1$I::text) <= 65535 AND t.%9$s IS NOT NULL %7$s
                AND NOT EXISTS (SELECT FROM des.objects o WHERE o.name = t.%1$I::text)
              %8$s
              LIMIT $3
                FOR UPDATE OF t SKIP LOCKED
         ), objects AS (
             INSERT INTO des.objects (id, name, shard, size, meta, staged, source_url)
             SELECT des.next_id(), c.name, des.shard_of(c.name), length(c.data),
                    CASE WHEN jsonb_typeof(c.meta) = ''object'' THEN c.meta ELSE ''{}'' END, c.data, c.url
               FROM claimed c
              ORDER BY c.row_id
             ON CONFLICT ON CONSTRAINT objects_name_key DO NOTHING
             RETURNING id, name
         ), flipped AS (
             -- only rows whose object was inserted: of two rows of the batch
             -- with the same name, the first (inserted first, above); the
             -- other stays pending, as a row whose name is taken does
             UPDATE %5$s t SET %6$I = $2
              WHERE t.ctid = ANY (ARRAY(SELECT DISTINCT ON (c.name) c.row_id
                                          FROM claimed c JOIN objects o ON o.name = c.name
                                         ORDER BY c.name, c.row_id))
             RETURNING 1
         )
         SELECT count(*) FROM flipped',
        name_column,
        CASE WHEN data_column IS NULL THEN 'NULL::bytea' ELSE 't.' || quote_ident(data_column) END,
        CASE WHEN url_column IS NULL THEN 'NULL::text' ELSE 't.' || quote_ident(url_column) || '::text' END,
        CASE WHEN meta_column IS NULL THEN '''{}''::jsonb' ELSE 't.' || quote_ident(meta_column) END,
        relation::text,
        status_column,
        CASE WHEN age_column IS NULL THEN '' ELSE format('AND t.%I <= now() - $4', age_column) END,
        CASE WHEN age_column IS NULL THEN '' ELSE format('ORDER BY t.%I', age_column) END,
        quote_ident(coalesce(data_column, url_column)))
      INTO n
     USING pending_value, claimed_value, batch_size, min_age;
    RETURN n;
END $$;
COMMENT ON FUNCTION des_internal.claim_source_rows(regclass, name, name, name, name, name, name, text, text, interval, int) IS
  'one claim from a source table, run by des_internal.claim_source_tables as the source''s registrar';
GRANT EXECUTE ON FUNCTION des_internal.claim_source_rows(regclass, name, name, name, name, name, name, text, text, interval, int) TO PUBLIC;	-- run as each source's registrar, whose own privileges bound what it does

-- One round of claims from a foreign table (docs/pipeline.md, "Foreign
-- sources"), run as the source's registrar like des_internal.claim_source_rows.
-- SKIP LOCKED does not travel through wrappers, and some (mysql_fdw) commit
-- each remote statement at once, so a claim is compare-and-set on the key and
-- goes through a third status value:
--   1. settle the rows an earlier round claimed and staged (settle_staged:
--      claiming -> claimed; settle_taken, whose name was already an
--      object's: claiming -> pending); that round has committed, so their
--      objects are there;
--   2. take rows left in the claiming value by a round that did not commit
--      (no object, no ledger row of any share: unsettled lists the keys the
--      ledger has): they are this round's again;
--   3. pick pending rows (key order, or age then key; windows by key set, so
--      rows whose name is taken are passed over, not met every round) and
--      flip them, pending -> claiming, by an UPDATE conditional on the
--      status: only the rows it changed are claimed (RETURNING where the
--      wrapper has it; else they are read back by key and status);
--   4. stage every claimed row as an object, the first of each new name.
-- Returns the claimed rows' keys and their objects (NULL: name taken) for
-- des.source_claims, which the caller writes in the same transaction. With
-- parts > 1 (des.sources.claimers) the round sees only its share of the keys
-- (an integer key modulo parts, else hashtext of the key modulo parts):
-- markers claim the shares at once.
CREATE OR REPLACE FUNCTION des_internal.claim_foreign_source_rows(
    relation regclass, key_column name, name_column name, data_column name, url_column name,
    meta_column name, status_column name, age_column name,
    pending_value text, claiming_value text, claimed_value text, min_age interval, use_returning boolean,
    settle_staged text[], settle_taken text[], batch_size int, part int, parts int, unsettled text[],
    OUT row_keys text[], OUT object_ids bigint[])
RETURNS record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
-- mysql_fdw cannot bind an array parameter of a generic plan: every statement
-- below is planned with its values
SET plan_cache_mode = force_custom_plan
-- (the windows and the leftovers are read with enable_sort off: see below)
SET enable_sort = on
AS $$
DECLARE
    key_type text := format_type(des_internal.source_column_type(relation, key_column), NULL);
    age_type text := format_type(des_internal.source_column_type(relation, age_column), NULL);
    -- a claimed row: key, name, bytes, URL, meta
    row_list text := format('t.%I::text, t.%I::text, %s, %s, %s', key_column, name_column,
                            CASE WHEN data_column IS NULL THEN 'NULL::bytea' ELSE format('t.%I', data_column) END,
                            CASE WHEN url_column IS NULL THEN 'NULL::text' ELSE format('t.%I::text', url_column) END,
                            CASE WHEN meta_column IS NULL THEN 'NULL::jsonb' ELSE format('t.%I', meta_column) END);
    keys text[] := '{}';
    names text[] := '{}';
    datas bytea[] := '{}';
    urls text[] := '{}';
    metas jsonb[] := '{}';
    k text[]; nm text[]; d bytea[]; u text[]; m jsonb[];
    w_keys text[]; w_names text[]; w_ages text[];
    cands text[];
    taken text[];
    after_key text;
    after_age text;
    cutoff timestamptz := now() - min_age;
    window_size int := greatest(batch_size, 100);
    -- this round's share of the keys, when several markers claim at once,
    -- written so postgres_fdw sends it (a cast to text it would not)
    share text := CASE WHEN parts <= 1 THEN ''
                       WHEN key_type IN ('smallint', 'integer', 'bigint')
                       THEN format(' AND ((t.%I %% %s) + %s) %% %s = %s', key_column, parts, parts, parts, part)
                       WHEN key_type IN ('text', 'character varying')
                       THEN format(' AND (pg_catalog.hashtext(t.%I) & 2147483647) %% %s = %s', key_column, parts, part)
                       ELSE format(' AND (pg_catalog.hashtext(t.%I::text) & 2147483647) %% %s = %s', key_column, parts, part)
                       END;
BEGIN
    -- 1. settle
    IF cardinality(settle_staged) + cardinality(settle_taken) > 0 THEN
        EXECUTE format('UPDATE %s t SET %I = CASE WHEN t.%I = ANY ($2::%s[]) THEN $1 ELSE $4 END
                         WHERE t.%I = ANY ($5::%s[]) AND t.%I = $3',
                       relation, status_column, key_column, key_type, key_column, key_type, status_column)
          USING claimed_value, settle_staged, claiming_value, pending_value, settle_staged || settle_taken;
    END IF;

    -- 2. rows claimed by a round that did not commit
    -- (the remote side sorts, here and for each window: without statistics of
    -- the foreign table the planner would rather fetch every row to sort them)
    PERFORM set_config('enable_sort', 'off', true);
    EXECUTE format('SELECT array_agg(c.k), array_agg(c.nm), array_agg(c.d), array_agg(c.u), array_agg(c.m)
                      FROM (SELECT %s FROM %s t WHERE t.%I = $1%s%s
                             ORDER BY t.%I LIMIT $2) c(k, nm, d, u, m)',
                   row_list, relation, status_column, share,
                   CASE WHEN cardinality(unsettled) > 0 THEN format(' AND t.%I <> ALL ($3::%s[])', key_column, key_type)
                        ELSE '' END,
                   key_column)
      INTO k, nm, d, u, m USING claiming_value, batch_size, unsettled;
    IF k IS NOT NULL THEN
        keys := k; names := nm; datas := d; urls := u; metas := m;
    END IF;

    PERFORM set_config('enable_sort', 'on', true);

    -- 3. new claims, a window of pending rows at a time
    WHILE cardinality(keys) < batch_size LOOP
        PERFORM set_config('enable_sort', 'off', true);
        EXECUTE format('SELECT array_agg(c.k::text ORDER BY c.a, c.k), array_agg(c.nm ORDER BY c.a, c.k),
                               array_agg(c.a::text ORDER BY c.a, c.k)
                          FROM (SELECT t.%1$I, t.%2$I::text, %3$s
                                  FROM %4$s t
                                 WHERE t.%5$I = $1 AND t.%6$s IS NOT NULL AND t.%1$I IS NOT NULL %7$s %8$s %10$s
                                 ORDER BY %9$s LIMIT $2) c(k, nm, a)',
                       key_column, name_column,
                       CASE WHEN age_column IS NULL THEN 'NULL::int' ELSE format('t.%I', age_column) END,
                       relation, status_column,
                       quote_ident(coalesce(data_column, url_column)),
                       CASE WHEN age_column IS NULL THEN '' ELSE format('AND t.%I <= $3::%s', age_column, age_type) END,
                       CASE WHEN after_key IS NULL THEN ''
                            WHEN age_column IS NULL THEN format('AND t.%I > $5::%s', key_column, key_type)
                            ELSE format('AND (t.%1$I > $4::%2$s OR (t.%1$I = $4::%2$s AND t.%3$I > $5::%4$s))',
                                        age_column, age_type, key_column, key_type) END,
                       CASE WHEN age_column IS NULL THEN format('t.%I', key_column)
                            ELSE format('t.%I, t.%I', age_column, key_column) END,
                       share)
          INTO w_keys, w_names, w_ages USING pending_value, window_size, cutoff, after_age, after_key;
        PERFORM set_config('enable_sort', 'on', true);
        EXIT WHEN w_keys IS NULL;
        after_key := w_keys[cardinality(w_keys)];
        after_age := w_ages[cardinality(w_ages)];
        -- names an archive can hold and no object has (the others stay
        -- pending); the taken ones looked up by the name index, not by a
        -- join the planner might make a scan of every object
        taken := ARRAY(SELECT o.name FROM des.objects o WHERE o.name = ANY (w_names));
        SELECT array_agg(c.k ORDER BY c.i) INTO cands
          FROM (SELECT c.k, c.i FROM unnest(w_keys, w_names) WITH ORDINALITY c(k, nm, i)
                 WHERE c.nm <> '' AND octet_length(c.nm) <= 65535 AND c.nm <> ALL (taken)
                 ORDER BY c.i LIMIT batch_size - cardinality(keys)) c;
        IF cands IS NOT NULL THEN
            IF use_returning THEN
                EXECUTE format('WITH f AS (UPDATE %s t SET %I = $1 WHERE t.%I = ANY ($2::%s[]) AND t.%I = $3 RETURNING %s)
                                SELECT array_agg(f.k), array_agg(f.nm), array_agg(f.d), array_agg(f.u), array_agg(f.m)
                                  FROM f AS f(k, nm, d, u, m)',
                               relation, status_column, key_column, key_type, status_column, row_list)
                  INTO k, nm, d, u, m USING claiming_value, cands, pending_value;
            ELSE
                -- the wrapper's UPDATE may not re-check the status remotely:
                -- what is read back in the claiming value was flipped by this round
                EXECUTE format('UPDATE %s t SET %I = $1 WHERE t.%I = ANY ($2::%s[]) AND t.%I = $3',
                               relation, status_column, key_column, key_type, status_column)
                  USING claiming_value, cands, pending_value;
                EXECUTE format('SELECT array_agg(c.k), array_agg(c.nm), array_agg(c.d), array_agg(c.u), array_agg(c.m)
                                  FROM (SELECT %s FROM %s t WHERE t.%I = ANY ($2::%s[]) AND t.%I = $1) c(k, nm, d, u, m)',
                               row_list, relation, key_column, key_type, status_column)
                  INTO k, nm, d, u, m USING claiming_value, cands;
            END IF;
            IF k IS NOT NULL THEN
                keys := keys || k; names := names || nm; datas := datas || d; urls := urls || u; metas := metas || m;
            END IF;
        END IF;
        EXIT WHEN cardinality(w_keys) < window_size;
    END LOOP;

    -- 4. stage: the first row of each name whose name no object has
    IF cardinality(keys) = 0 THEN
        row_keys := '{}';
        object_ids := '{}';
        RETURN;
    END IF;
    WITH c AS (
        SELECT r.k, r.nm, r.d, r.u, r.m, r.i,
               r.i = min(r.i) OVER (PARTITION BY r.nm) AS first_of_name
          FROM unnest(keys, names, datas, urls, metas) WITH ORDINALITY r(k, nm, d, u, m, i)
    ), made AS (
        INSERT INTO des.objects (id, name, shard, size, meta, staged, source_url)
        SELECT des.next_id(), c.nm, des.shard_of(c.nm), length(c.d),
               CASE WHEN jsonb_typeof(c.m) = 'object' THEN c.m ELSE '{}' END, c.d, c.u
          FROM c
         WHERE c.first_of_name AND c.nm IS NOT NULL AND c.nm <> '' AND octet_length(c.nm) <= 65535
           AND (c.d IS NOT NULL OR c.u IS NOT NULL)
         ORDER BY c.i
        ON CONFLICT ON CONSTRAINT objects_name_key DO NOTHING
        RETURNING id, name
    )
    SELECT array_agg(c.k ORDER BY c.i), array_agg(CASE WHEN c.first_of_name THEN made.id END ORDER BY c.i)
      INTO row_keys, object_ids
      FROM c LEFT JOIN made ON made.name = c.nm;
END $$;
COMMENT ON FUNCTION des_internal.claim_foreign_source_rows(regclass, name, name, name, name, name, name, name, text, text, text, interval, boolean, text[], text[], int, int, int, text[]) IS
  'one round of compare-and-set claims from a foreign table, run by des_internal.claim_source_tables as the source''s registrar';
GRANT EXECUTE ON FUNCTION des_internal.claim_foreign_source_rows(regclass, name, name, name, name, name, name, name, text, text, text, interval, boolean, text[], text[], int, int, int, text[]) TO PUBLIC;	-- run as each source's registrar, whose own privileges bound what it does

-- Every enabled source once, each in its own subtransaction and as its
-- registrar (security-restricted): a broken source (dropped column, lost
-- privilege) records its error and the others go on.
CREATE OR REPLACE FUNCTION des_internal.claim_source_tables(batch_size int DEFAULT 1000)
RETURNS int
AS 'MODULE_PATHNAME', 'des_claim_sources_rows'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION des_internal.claim_source_tables(int) IS
  'the markers'' claim from every registered source table; returns the rows claimed';
REVOKE ALL ON FUNCTION des_internal.claim_source_tables(int) FROM PUBLIC;
