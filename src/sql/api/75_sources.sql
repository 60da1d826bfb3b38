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
            NEW.status_column, NEW.age_column, NEW.pending_value, NEW.claimed_value, NEW.registered_by)
           IS NOT DISTINCT FROM
           (OLD.relation, OLD.name_column, OLD.data_column, OLD.url_column, OLD.meta_column,
            OLD.status_column, OLD.age_column, OLD.pending_value, OLD.claimed_value, OLD.registered_by) THEN
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
                                    meta_column name DEFAULT NULL)
RETURNS int
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    col name;
    want text;
    got regtype;
    new_id int;
BEGIN
    IF (data_column IS NULL) = (url_column IS NULL) THEN
        RAISE EXCEPTION 'give exactly one of data_column and url_column' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pending_value IS NULL OR claimed_value IS NULL OR pending_value = claimed_value THEN
        RAISE EXCEPTION 'pending_value and claimed_value must be given and differ'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (SELECT c.relkind FROM pg_class c WHERE c.oid = tbl) <> 'r' THEN
        RAISE EXCEPTION '% is not a plain table', tbl USING ERRCODE = 'wrong_object_type',
            HINT = 'Register the partitions of a partitioned table one by one.';
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
                             age_column, pending_value, claimed_value, min_age, registered_by)
    VALUES (tbl, name_column, data_column, url_column, meta_column, status_column,
            age_column, pending_value, claimed_value, coalesce(min_age, '0 s'), current_user::regrole)
    ON CONFLICT (relation) DO NOTHING
    RETURNING id INTO new_id;
    IF new_id IS NULL THEN
        RAISE EXCEPTION 'table % is already a source', tbl USING ERRCODE = 'duplicate_object',
            HINT = 'des.unregister_source() it first to change how it is read.';
    END IF;
    RETURN new_id;
END $$;
COMMENT ON FUNCTION des.register_source(regclass, name, name, name, name, text, text, name, interval, name) IS
  'make a table a source: the marker claims its pending rows (SKIP LOCKED) into des.objects and sets their status';

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
