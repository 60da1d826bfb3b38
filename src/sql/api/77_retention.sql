-- Retention of versioned datasets (docs/gc.md): rules per repo and per
-- branch, and des.squash, which removes the bundles no rule keeps from
-- history. Their directories, contents and chunks then go with des.gc.

-- Rules are rows the repo's administrators write with their own rights
-- (row-level security below); des.squash reads them as the owner.
DROP POLICY IF EXISTS dataset_retention_visible ON des.dataset_retention;
CREATE POLICY dataset_retention_visible ON des.dataset_retention FOR SELECT
    USING (repo_id IN (SELECT r.id FROM des.repositories r));
DROP POLICY IF EXISTS dataset_retention_insert ON des.dataset_retention;
CREATE POLICY dataset_retention_insert ON des.dataset_retention FOR INSERT
    WITH CHECK (set_by = current_user AND EXISTS (SELECT FROM des.repositories r
                                                   WHERE r.id = repo_id AND des_internal.access_level(r.context_id, r.id) = 'admin'));
DROP POLICY IF EXISTS dataset_retention_update ON des.dataset_retention;
CREATE POLICY dataset_retention_update ON des.dataset_retention FOR UPDATE
    USING (EXISTS (SELECT FROM des.repositories r WHERE r.id = repo_id AND des_internal.access_level(r.context_id, r.id) = 'admin'))
    WITH CHECK (set_by = current_user);
DROP POLICY IF EXISTS dataset_retention_delete ON des.dataset_retention;
CREATE POLICY dataset_retention_delete ON des.dataset_retention FOR DELETE
    USING (EXISTS (SELECT FROM des.repositories r WHERE r.id = repo_id AND des_internal.access_level(r.context_id, r.id) = 'admin'));
GRANT SELECT, DELETE ON des.dataset_retention TO PUBLIC;
GRANT INSERT (repo_id, branch, keep_last, keep_within, keep_labels, set_by),
      UPDATE (keep_last, keep_within, keep_labels, set_by, set_at) ON des.dataset_retention TO PUBLIC;	-- rows: the policies above

CREATE OR REPLACE FUNCTION des.retention_set(repo text, branch text DEFAULT NULL, keep_last int DEFAULT NULL,
                                             keep_within interval DEFAULT NULL, keep_labels boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    r := des_internal.repo_for(repo, 'admin', 'set retention rules of repository ' || quote_ident(repo));
    IF keep_last IS NULL AND keep_within IS NULL THEN
        RAISE EXCEPTION 'a retention rule keeps the last N bundles, those newer than an interval, or both'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'des.retention_delete removes a rule: then every bundle is kept.';
    END IF;
    IF keep_last < 1 OR keep_within <= interval '0' THEN
        RAISE EXCEPTION 'keep_last must be at least 1 and keep_within positive'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The head of every branch is kept whatever the rule says.';
    END IF;
    IF keep_labels IS NULL THEN
        RAISE EXCEPTION 'keep_labels must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF branch IS NOT NULL AND NOT EXISTS (SELECT FROM des.dataset_branches b WHERE b.repo_id = r.repo_id AND b.name = branch) THEN
        RAISE EXCEPTION 'branch "%" of repository "%" does not exist', branch, repo
            USING ERRCODE = 'undefined_object', HINT = 'des.branches lists them.';
    END IF;
    INSERT INTO des.dataset_retention AS x (repo_id, branch, keep_last, keep_within, keep_labels, set_by)
    VALUES (r.repo_id, coalesce(retention_set.branch, ''), retention_set.keep_last, retention_set.keep_within,
            retention_set.keep_labels, current_user)
    ON CONFLICT ON CONSTRAINT dataset_retention_pkey DO UPDATE
       SET keep_last = EXCLUDED.keep_last, keep_within = EXCLUDED.keep_within, keep_labels = EXCLUDED.keep_labels,
           set_by = EXCLUDED.set_by, set_at = now();
END $$;
COMMENT ON FUNCTION des.retention_set(text, text, int, interval, boolean) IS
  'set the retention rule of a repo (branch NULL) or of one branch (admin level): keep the last N bundles and/or those newer than an interval; heads, and labelled bundles unless keep_labels is false, are always kept';
GRANT EXECUTE ON FUNCTION des.retention_set(text, text, int, interval, boolean) TO PUBLIC;	-- checks the caller's level

CREATE OR REPLACE FUNCTION des.retention_delete(repo text, branch text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    r := des_internal.repo_for(repo, 'admin', 'delete retention rules of repository ' || quote_ident(repo));
    DELETE FROM des.dataset_retention x WHERE x.repo_id = r.repo_id AND x.branch = coalesce(retention_delete.branch, '');
    RETURN FOUND;
END $$;
COMMENT ON FUNCTION des.retention_delete(text, text) IS
  'remove the retention rule of a repo (branch NULL) or of one branch (admin level); returns whether there was one';
GRANT EXECUTE ON FUNCTION des.retention_delete(text, text) TO PUBLIC;	-- checks the caller's level

CREATE OR REPLACE VIEW des.retention WITH (security_invoker = true) AS
SELECT r.name AS repo, nullif(x.branch, '') AS branch, x.keep_last, x.keep_within, x.keep_labels, x.set_by, x.set_at
  FROM des.dataset_retention x JOIN des.repositories r ON r.id = x.repo_id;
COMMENT ON VIEW des.retention IS 'the retention rules of the repos one may read (branch NULL: the repo''s rule)';
GRANT SELECT ON des.retention TO PUBLIC;	-- security_invoker: the policies of its tables apply to the reader

-- The bundles of a repo that the rules keep: on every branch, the bundles
-- its head reaches (through all parents), newest first: the first keep_last
-- and those newer than keep_within, by the branch's rule or else the repo's
-- (no rule: all of them); every head; labelled bundles unless the rule that
-- governs them says keep_labels = false; bundles no head reaches, by the
-- repo's rule (none: kept).
CREATE OR REPLACE FUNCTION des_internal.squash_kept(repo bigint)
RETURNS TABLE (id bytea)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE reach(branch, id) AS (
        SELECT br.name, br.head FROM des.dataset_branches br WHERE br.repo_id = repo AND br.head IS NOT NULL
      UNION
        SELECT r.branch, p FROM reach r JOIN des.dataset_bundles b ON b.repo_id = repo AND b.id = r.id,
               unnest(coalesce(b.history_parents, b.parents)) AS p
    ), repo_rule AS (
        SELECT x.* FROM des.dataset_retention x WHERE x.repo_id = repo AND x.branch = ''
    ), governed AS (
        SELECT r.id, b.created_at, coalesce(x.keep_last, CASE WHEN x.repo_id IS NULL THEN rr.keep_last END) AS keep_last,
               coalesce(x.keep_within, CASE WHEN x.repo_id IS NULL THEN rr.keep_within END) AS keep_within,
               coalesce(x.keep_labels, rr.keep_labels, true) AS keep_labels,
               x.repo_id IS NULL AND NOT EXISTS (SELECT FROM repo_rule) AS no_rule,
               row_number() OVER (PARTITION BY r.branch ORDER BY b.created_at DESC, b.id) AS pos
          FROM reach r
          JOIN des.dataset_bundles b ON b.repo_id = repo AND b.id = r.id
          LEFT JOIN des.dataset_retention x ON x.repo_id = repo AND x.branch = r.branch
          LEFT JOIN repo_rule rr ON true
    )
    SELECT g.id FROM governed g
     WHERE g.no_rule OR g.pos <= g.keep_last OR g.created_at >= now() - g.keep_within
        OR (g.keep_labels AND EXISTS (SELECT FROM des.dataset_labels l WHERE l.repo_id = repo AND l.bundle_id = g.id))
    UNION
    SELECT br.head FROM des.dataset_branches br WHERE br.repo_id = repo AND br.head IS NOT NULL
    UNION
    SELECT b.id FROM des.dataset_bundles b
      LEFT JOIN repo_rule rr ON true
     WHERE b.repo_id = repo AND NOT EXISTS (SELECT FROM reach r WHERE r.id = b.id)
       AND (rr.repo_id IS NULL OR b.created_at >= now() - rr.keep_within
            OR (rr.keep_labels AND EXISTS (SELECT FROM des.dataset_labels l WHERE l.repo_id = repo AND l.bundle_id = b.id)))
$$;
REVOKE ALL ON FUNCTION des_internal.squash_kept(bigint) FROM PUBLIC;

-- What des.squash does, as the owner (des.squash checks the caller's level
-- first): 'remove' rows for the bundles no rule keeps, 'rewrite' rows for
-- kept bundles whose history loses a parent (the new parents: each removed
-- one replaced by its nearest kept ancestors, newest first). Bundle ids
-- never change: the header keeps its parents (so every bundle still
-- verifies from its id), history_parents holds what history shows now.
CREATE OR REPLACE FUNCTION des_internal.squash_repo(repo bigint, dry_run boolean, who name)
RETURNS TABLE (action text, bundle_id bytea, created_at timestamptz, message text, parents bytea[])
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    kept bytea[];
    removed bytea[];
    k record;
    p bytea;
    q bytea;
    newp bytea[];
BEGIN
    -- the rules are read and the removed bundles locked in one go: a merge
    -- holding a source bundle (key share) makes this fail (55P03), not wait
    kept := ARRAY(SELECT s.id FROM des_internal.squash_kept(repo) s);
    removed := ARRAY(SELECT b.id FROM des.dataset_bundles b
                      WHERE b.repo_id = repo AND b.id <> ALL (kept) ORDER BY b.created_at, b.id);
    IF NOT dry_run AND cardinality(removed) > 0 THEN
        PERFORM FROM des.dataset_bundles b WHERE b.repo_id = repo AND b.id = ANY (removed) FOR UPDATE NOWAIT;
    END IF;
    FOR k IN SELECT b.id, b.created_at, b.message FROM des.dataset_bundles b
              WHERE b.repo_id = repo AND b.id = ANY (removed) ORDER BY b.created_at, b.id LOOP
        action := 'remove';
        bundle_id := k.id;
        created_at := k.created_at;
        message := k.message;
        parents := NULL;
        RETURN NEXT;
    END LOOP;
    FOR k IN SELECT b.id, b.created_at, b.message, coalesce(b.history_parents, b.parents) AS hp
               FROM des.dataset_bundles b
              WHERE b.repo_id = repo AND b.id = ANY (kept) AND coalesce(b.history_parents, b.parents) && removed
              ORDER BY b.created_at, b.id LOOP
        newp := '{}';
        FOREACH p IN ARRAY k.hp LOOP
            IF p = ANY (kept) THEN
                IF NOT p = ANY (newp) THEN newp := newp || p; END IF;
            ELSE
                -- the nearest kept ancestors of a removed parent
                FOR q IN
                    WITH RECURSIVE walk(id, is_kept) AS (
                        SELECT p, false
                      UNION
                        SELECT a, a = ANY (kept) FROM walk w JOIN des.dataset_bundles b ON b.repo_id = repo AND b.id = w.id,
                               unnest(coalesce(b.history_parents, b.parents)) AS a
                         WHERE NOT w.is_kept
                    )
                    SELECT w.id FROM walk w JOIN des.dataset_bundles b ON b.repo_id = repo AND b.id = w.id
                     WHERE w.is_kept ORDER BY b.created_at DESC, b.id
                LOOP
                    IF NOT q = ANY (newp) THEN newp := newp || q; END IF;
                END LOOP;
            END IF;
        END LOOP;
        action := 'rewrite';
        bundle_id := k.id;
        created_at := k.created_at;
        message := k.message;
        parents := newp;
        RETURN NEXT;
        IF NOT dry_run THEN
            UPDATE des.dataset_bundles b SET history_parents = newp WHERE b.repo_id = repo AND b.id = k.id;
        END IF;
    END LOOP;
    IF NOT dry_run AND cardinality(removed) > 0 THEN
        -- labels on removed bundles (keep_labels = false) go, in their history
        INSERT INTO des.label_log (repo_id, label, old_bundle, new_bundle, role)
        SELECT l.repo_id, l.name, l.bundle_id, NULL, who
          FROM des.dataset_labels l WHERE l.repo_id = repo AND l.bundle_id = ANY (removed);
        DELETE FROM des.dataset_labels l WHERE l.repo_id = repo AND l.bundle_id = ANY (removed);
        DELETE FROM des.dataset_bundles b WHERE b.repo_id = repo AND b.id = ANY (removed);
        -- the branches' chains changed: their positions are counted anew
        PERFORM des_internal.branch_history_rebuild(br.repo_id, br.name)
           FROM des.dataset_branches br WHERE br.repo_id = repo;
    END IF;
END $$;
REVOKE ALL ON FUNCTION des_internal.squash_repo(bigint, boolean, name) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des.squash(repo text, dry_run boolean DEFAULT true)
RETURNS TABLE (action text, bundle_id text, created_at timestamptz, message text, parents text[])
AS 'MODULE_PATHNAME', 'des_squash'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION des.squash(text, boolean) IS
  'remove from a repo''s history the bundles its retention rules do not keep (admin level; dry_run, the default, only lists them): ''remove'' rows, and ''rewrite'' rows for kept bundles whose parents are replaced by their nearest kept ancestors; des.gc then reclaims the space';
GRANT EXECUTE ON FUNCTION des.squash(text, boolean) TO PUBLIC;	-- checks the caller's level
