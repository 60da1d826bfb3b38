-- gros:// URIs (docs/lineage.md): the grammar is the core's (src/core/uri);
-- resolution into bundles comes with the versioning catalog.

CREATE OR REPLACE FUNCTION des.uri_parse(uri text,
                                         OUT repo text, OUT branch text, OUT tag_kind text, OUT tag text,
                                         OUT day date, OUT "position" bigint, OUT realtime boolean,
                                         OUT canonical text)
AS 'MODULE_PATHNAME', 'des_uri_parse_sql'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION des.uri_parse(text) IS
  'a gros://repo[/branch][:tag] URI taken apart: repo, branch (NULL: the default), tag kind (realtime, latest, date, position, name, name_or_id), the decoded tag, its day or position, whether it is a real-time dependency, the canonical text';

-- ---- the bundles of each branch in order (des.branch_history) ----

-- The first parent of a bundle as its history stands (des.squash may have
-- replaced the header's parents: history_parents, '{}' when none is kept).
CREATE OR REPLACE FUNCTION des_internal.first_parent(b des.dataset_bundles)
RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT CASE WHEN b.history_parents IS NULL THEN b.parents[1] ELSE b.history_parents[1] END $$;
REVOKE ALL ON FUNCTION des_internal.first_parent(des.dataset_bundles) FROM PUBLIC;

-- Rebuild a branch's rows: its first-parent chain from its head, oldest
-- first. Runs as the owner (the functions that move branches do; so does
-- resolution when it finds the rows out of step).
CREATE OR REPLACE FUNCTION des_internal.branch_history_rebuild(repo bigint, branch_name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM des.branch_history h WHERE h.repo_id = repo AND h.branch = branch_name;
    INSERT INTO des.branch_history (repo_id, branch, position, bundle_id, committed_at)
    WITH RECURSIVE chain(id, depth) AS (
        SELECT br.head, 0 FROM des.dataset_branches br
         WHERE br.repo_id = repo AND br.name = branch_name AND br.head IS NOT NULL
        UNION ALL
        SELECT des_internal.first_parent(b), c.depth + 1
          FROM chain c JOIN des.dataset_bundles b ON b.repo_id = repo AND b.id = c.id
         WHERE des_internal.first_parent(b) IS NOT NULL
    )
    SELECT repo, branch_name, max(c.depth) OVER () - c.depth, c.id, b.created_at
      FROM chain c JOIN des.dataset_bundles b ON b.repo_id = repo AND b.id = c.id;
END $$;
REVOKE ALL ON FUNCTION des_internal.branch_history_rebuild(bigint, text) FROM PUBLIC;

-- A branch moved: a commit on its head (the new head's first parent is the
-- old head, whose row is the last) appends one row; anything else rebuilds.
CREATE OR REPLACE FUNCTION des_internal.branch_moved()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    nb des.dataset_bundles;
    last des.branch_history;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.head IS NOT DISTINCT FROM OLD.head AND NEW.name = OLD.name THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.head IS NOT NULL AND OLD.head IS NOT NULL AND NEW.name = OLD.name THEN
        SELECT * INTO nb FROM des.dataset_bundles b WHERE b.repo_id = NEW.repo_id AND b.id = NEW.head;
        SELECT * INTO last FROM des.branch_history h WHERE h.repo_id = NEW.repo_id AND h.branch = NEW.name
         ORDER BY h.position DESC LIMIT 1;
        IF nb.id IS NOT NULL AND last.bundle_id = OLD.head AND des_internal.first_parent(nb) = OLD.head THEN
            INSERT INTO des.branch_history (repo_id, branch, position, bundle_id, committed_at)
            VALUES (NEW.repo_id, NEW.name, last.position + 1, NEW.head, nb.created_at);
            RETURN NULL;
        END IF;
    END IF;
    PERFORM des_internal.branch_history_rebuild(NEW.repo_id, NEW.name);
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION des_internal.branch_moved() FROM PUBLIC;
CREATE OR REPLACE TRIGGER branch_moved AFTER INSERT OR UPDATE OF head, name ON des.dataset_branches
    FOR EACH ROW EXECUTE FUNCTION des_internal.branch_moved();

DROP POLICY IF EXISTS branch_history_visible ON des.branch_history;
CREATE POLICY branch_history_visible ON des.branch_history FOR SELECT
    USING (repo_id IN (SELECT r.id FROM des.repositories r));
GRANT SELECT ON des.branch_history TO PUBLIC;	-- rows: the policy above; written only as the owner
