-- Versions of datasets (docs/datasets.md): staging, commits, branches,
-- labels, reading. The functions are C: each checks the caller's level on
-- the repo (as the caller), then reads and writes as the extension's owner,
-- which alone writes these tables. Every role reads the tables directly,
-- filtered by row-level security to the repos it may read.

-- The repo named name as the caller sees it, if its level there is at least
-- needed (the C functions' gate, run as the caller).
CREATE OR REPLACE FUNCTION des_internal.repo_for(name text, needed des.access_level, what text,
                                                OUT repo_id bigint, OUT context_id bigint, OUT default_branch text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    SELECT r.id, r.context_id, r.default_branch INTO repo_id, context_id, default_branch
      FROM des.repositories r WHERE r.name = repo_for.name;
    IF repo_id IS NULL THEN
        RAISE EXCEPTION 'repository "%" does not exist', name USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM des_internal.require_level(context_id, repo_id, needed, what);
END $$;
GRANT EXECUTE ON FUNCTION des_internal.repo_for(text, des.access_level, text) TO PUBLIC;	-- reads and checks with its caller's rights

-- ---- who sees what: the rows of the repos one may read ----

DROP POLICY IF EXISTS dataset_dirs_visible ON des.dataset_dirs;
CREATE POLICY dataset_dirs_visible ON des.dataset_dirs FOR SELECT
    USING (repo_id IN (SELECT r.id FROM des.repositories r));
DROP POLICY IF EXISTS dataset_contents_visible ON des.dataset_contents;
CREATE POLICY dataset_contents_visible ON des.dataset_contents FOR SELECT
    USING (repo_id IN (SELECT r.id FROM des.repositories r));
DROP POLICY IF EXISTS dataset_bundles_visible ON des.dataset_bundles;
CREATE POLICY dataset_bundles_visible ON des.dataset_bundles FOR SELECT
    USING (repo_id IN (SELECT r.id FROM des.repositories r));
DROP POLICY IF EXISTS dataset_branches_visible ON des.dataset_branches;
CREATE POLICY dataset_branches_visible ON des.dataset_branches FOR SELECT
    USING (repo_id IN (SELECT r.id FROM des.repositories r));
DROP POLICY IF EXISTS branch_log_visible ON des.branch_log;
CREATE POLICY branch_log_visible ON des.branch_log FOR SELECT
    USING (repo_id IN (SELECT r.id FROM des.repositories r));
DROP POLICY IF EXISTS dataset_labels_visible ON des.dataset_labels;
CREATE POLICY dataset_labels_visible ON des.dataset_labels FOR SELECT
    USING (repo_id IN (SELECT r.id FROM des.repositories r));
DROP POLICY IF EXISTS label_log_visible ON des.label_log;
CREATE POLICY label_log_visible ON des.label_log FOR SELECT
    USING (repo_id IN (SELECT r.id FROM des.repositories r));
DROP POLICY IF EXISTS staged_visible ON des.staged;
CREATE POLICY staged_visible ON des.staged FOR SELECT
    USING (repo_id IN (SELECT r.id FROM des.repositories r));
-- who read what: the repo's administrators, and each reader its own reads
DROP POLICY IF EXISTS read_log_visible ON des.read_log;
CREATE POLICY read_log_visible ON des.read_log FOR SELECT
    USING (reader = current_user::regrole
           OR EXISTS (SELECT FROM des.repositories r
                       WHERE r.id = repo_id AND des_internal.access_level(r.context_id, r.id) = 'admin'));

GRANT SELECT ON des.dataset_dirs, des.dataset_contents, des.dataset_bundles, des.dataset_branches,
                des.branch_log, des.dataset_labels, des.label_log, des.staged, des.read_log TO PUBLIC;	-- rows: the policies above; written only as the owner

-- ---- a staged file's content is stored ----

-- What a foreign key from des.staged to des.dataset_contents would keep,
-- checked per statement rather than per row: the garbage collector deletes
-- contents by the hundred thousand, and a foreign key's check of des.staged
-- for each deleted row cost more than the deletion itself. Inserting or
-- changing staged rows: every content they name is there, and locked (key
-- share, until the transaction ends, as a foreign key's check locks it) so
-- that it cannot be removed under them; else foreign_key_violation.
-- Deleting contents deletes the staged rows naming them (ON DELETE CASCADE).
-- As the owner, as a foreign key's checks run: a repo's deletion by its
-- administrator cascades to its contents, and the trigger then fires for
-- that role, which may not write des.staged.
CREATE OR REPLACE FUNCTION des_internal.staged_contents_exist()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    missing record;
BEGIN
    WITH wanted AS (
        SELECT DISTINCT n.repo_id, n.content FROM new_staged n WHERE n.content IS NOT NULL
    ), present AS MATERIALIZED (
        SELECT c.repo_id, c.hash FROM des.dataset_contents c JOIN wanted w ON c.repo_id = w.repo_id AND c.hash = w.content
           FOR KEY SHARE OF c
    )
    SELECT w.repo_id, w.content INTO missing FROM wanted w
     WHERE NOT EXISTS (SELECT FROM present p WHERE p.repo_id = w.repo_id AND p.hash = w.content)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'insert or update on table "staged" violates foreign key constraint "staged_content"'
            USING ERRCODE = 'foreign_key_violation', SCHEMA = 'des', TABLE = 'staged', CONSTRAINT = 'staged_content',
                  DETAIL = format('Key (repo_id, content)=(%s, \x%s) is not present in table "dataset_contents".',
                                  missing.repo_id, encode(missing.content, 'hex'));
    END IF;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION des_internal.staged_contents_exist() FROM PUBLIC;	-- a trigger (firing needs no EXECUTE)
CREATE OR REPLACE TRIGGER staged_content_inserted AFTER INSERT ON des.staged
    REFERENCING NEW TABLE AS new_staged FOR EACH STATEMENT EXECUTE FUNCTION des_internal.staged_contents_exist();
CREATE OR REPLACE TRIGGER staged_content_updated AFTER UPDATE ON des.staged
    REFERENCING NEW TABLE AS new_staged FOR EACH STATEMENT EXECUTE FUNCTION des_internal.staged_contents_exist();

CREATE OR REPLACE FUNCTION des_internal.contents_deleted()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM des.staged s USING gone_contents g WHERE s.repo_id = g.repo_id AND s.content = g.hash;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION des_internal.contents_deleted() FROM PUBLIC;	-- a trigger (firing needs no EXECUTE)
CREATE OR REPLACE TRIGGER dataset_contents_deleted AFTER DELETE ON des.dataset_contents
    REFERENCING OLD TABLE AS gone_contents FOR EACH STATEMENT EXECUTE FUNCTION des_internal.contents_deleted();

-- ---- views: names and hex ids ----

CREATE OR REPLACE VIEW des.bundles WITH (security_invoker = true) AS
SELECT r.name AS repo, pg_catalog.encode(b.id, 'hex') AS id,
       -- the parents history shows (des.squash may have replaced removed ones); the header's are in des.dataset_bundles
       ARRAY(SELECT pg_catalog.encode(p, 'hex') FROM pg_catalog.unnest(COALESCE(b.history_parents, b.parents)) WITH ORDINALITY AS u(p, n)
              ORDER BY n) AS parents,
       b.author, b.created_at, b.message, b.total_size, pg_catalog.encode(b.root, 'hex') AS root
  FROM des.dataset_bundles b JOIN des.repositories r ON r.id = b.repo_id;
COMMENT ON VIEW des.bundles IS 'the bundles (versions) of the repositories you may read';
GRANT SELECT ON des.bundles TO PUBLIC;

CREATE OR REPLACE VIEW des.branches WITH (security_invoker = true) AS
SELECT r.name AS repo, h.name AS branch, pg_catalog.encode(h.head, 'hex') AS head, h.protected,
       (h.name = r.default_branch) AS is_default,
       (SELECT count(*) FROM des.staged s WHERE s.repo_id = h.repo_id AND s.branch = h.name) AS staged,
       h.created_at, h.updated_at
  FROM des.dataset_branches h JOIN des.repositories r ON r.id = h.repo_id;
COMMENT ON VIEW des.branches IS 'branches of the repositories you may read: head bundle, protection, changes staged';
GRANT SELECT ON des.branches TO PUBLIC;

CREATE OR REPLACE VIEW des.labels WITH (security_invoker = true) AS
SELECT r.name AS repo, l.name AS label, pg_catalog.encode(l.bundle_id, 'hex') AS bundle_id, l.updated_at
  FROM des.dataset_labels l JOIN des.repositories r ON r.id = l.repo_id;
COMMENT ON VIEW des.labels IS 'labels of the repositories you may read and the bundle each names';
GRANT SELECT ON des.labels TO PUBLIC;

-- ---- staging and committing ----

CREATE OR REPLACE FUNCTION des.stage(repo text, branch text, path text, data bytea, mode int DEFAULT 420)
RETURNS text
AS 'MODULE_PATHNAME', 'des_stage'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION des.stage(text, text, text, bytea, int) IS
  'stage a file for the next commit of a branch (write level); returns its content hash';
GRANT EXECUTE ON FUNCTION des.stage(text, text, text, bytea, int) TO PUBLIC;	-- checks the caller's level

CREATE OR REPLACE FUNCTION des.stage_many(repo text, branch text, paths text[], data bytea[], modes int[] DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'des_stage_many'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION des.stage_many(text, text, text[], bytea[], int[]) IS
  'stage many files at once (write level); returns how many';
GRANT EXECUTE ON FUNCTION des.stage_many(text, text, text[], bytea[], int[]) TO PUBLIC;	-- checks the caller's level

CREATE OR REPLACE FUNCTION des.unstage(repo text, branch text, path text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'des_unstage'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION des.unstage(text, text, text) IS
  'drop the changes staged at a path and below it (write level); returns how many';
GRANT EXECUTE ON FUNCTION des.unstage(text, text, text) TO PUBLIC;	-- checks the caller's level

CREATE OR REPLACE FUNCTION des.stage_remove(repo text, branch text, path text)
RETURNS void
AS 'MODULE_PATHNAME', 'des_stage_remove'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION des.stage_remove(text, text, text) IS
  'stage the removal of a file or directory (write level)';
GRANT EXECUTE ON FUNCTION des.stage_remove(text, text, text) TO PUBLIC;	-- checks the caller's level

CREATE OR REPLACE FUNCTION des.commit(repo text, branch text, message text, label text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'des_commit'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION des.commit(text, text, text, text) IS
  'commit what is staged on a branch (write level); returns the new bundle''s id';
GRANT EXECUTE ON FUNCTION des.commit(text, text, text, text) TO PUBLIC;	-- checks the caller's level

-- ---- branches and labels ----

CREATE OR REPLACE FUNCTION des.branch_create(repo text, name text, from_ref text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'des_branch_create'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION des.branch_create(text, text, text) IS
  'a new branch at the bundle of from_ref (default: the default branch''s head); write level';
GRANT EXECUTE ON FUNCTION des.branch_create(text, text, text) TO PUBLIC;	-- checks the caller's level

CREATE OR REPLACE FUNCTION des.branch_delete(repo text, name text)
RETURNS void
AS 'MODULE_PATHNAME', 'des_branch_delete'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION des.branch_delete(text, text) IS 'delete a branch and what is staged on it (write level)';
GRANT EXECUTE ON FUNCTION des.branch_delete(text, text) TO PUBLIC;	-- checks the caller's level

CREATE OR REPLACE FUNCTION des.branch_protect(repo text, name text, protected boolean DEFAULT true)
RETURNS void
AS 'MODULE_PATHNAME', 'des_branch_protect'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION des.branch_protect(text, text, boolean) IS
  'protect a branch (it then changes only by des.merge) or lift it; admin level';
GRANT EXECUTE ON FUNCTION des.branch_protect(text, text, boolean) TO PUBLIC;	-- checks the caller's level

CREATE OR REPLACE FUNCTION des.label_set(repo text, label text, ref text)
RETURNS void
AS 'MODULE_PATHNAME', 'des_label_set'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION des.label_set(text, text, text) IS 'point a label at the bundle of a ref (write level)';
GRANT EXECUTE ON FUNCTION des.label_set(text, text, text) TO PUBLIC;	-- checks the caller's level

CREATE OR REPLACE FUNCTION des.label_delete(repo text, label text)
RETURNS void
AS 'MODULE_PATHNAME', 'des_label_delete'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION des.label_delete(text, text) IS 'delete a label (write level); its history stays';
GRANT EXECUTE ON FUNCTION des.label_delete(text, text) TO PUBLIC;	-- checks the caller's level

CREATE OR REPLACE FUNCTION des.label_history(repo text, label text)
RETURNS TABLE (at timestamptz, role name, old_bundle text, new_bundle text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT l.at, l.role, encode(l.old_bundle, 'hex'), encode(l.new_bundle, 'hex')
      FROM des.label_log l JOIN des.repositories r ON r.id = l.repo_id
     WHERE r.name = label_history.repo AND l.label = label_history.label
     ORDER BY l.at, l.id
$$;
COMMENT ON FUNCTION des.label_history(text, text) IS 'every move of a label: when, who, from which bundle to which';
GRANT EXECUTE ON FUNCTION des.label_history(text, text) TO PUBLIC;	-- reads with its caller's rights

-- ---- reading ----

CREATE OR REPLACE FUNCTION des.resolve(ref text, OUT repo text, OUT kind text, OUT bundle_id text,
                                       OUT root text, OUT staged bigint, OUT branch text, OUT tag_kind text,
                                       OUT realtime boolean)
AS 'MODULE_PATHNAME', 'des_resolve'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION des.resolve(text) IS
  'what a ref or gros:// URI names: its repository, kind, bundle, the root read (a branch: with its staged changes), the branch, a URI''s tag kind and whether it is a real-time dependency';
GRANT EXECUTE ON FUNCTION des.resolve(text) TO PUBLIC;	-- checks the caller's level

CREATE OR REPLACE FUNCTION des.files(ref text, prefix text DEFAULT NULL)
RETURNS TABLE (path text, kind text, mode int, size bigint, content_hash text, chunks bigint)
AS 'MODULE_PATHNAME', 'des_files'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION des.files(text, text) IS
  'the files and directories of a version (below prefix), in tree order; recorded in des.read_log';
GRANT EXECUTE ON FUNCTION des.files(text, text) TO PUBLIC;	-- checks the caller's level

CREATE OR REPLACE FUNCTION des.read(ref text, path text)
RETURNS bytea
AS 'MODULE_PATHNAME', 'des_read'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION des.read(text, text) IS 'the bytes of a file of a version; recorded in des.read_log';
GRANT EXECUTE ON FUNCTION des.read(text, text) TO PUBLIC;	-- checks the caller's level

CREATE OR REPLACE FUNCTION des.read(ref text, path text, "offset" bigint, length bigint)
RETURNS bytea
AS 'MODULE_PATHNAME', 'des_read'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION des.read(text, text, bigint, bigint) IS
  'length bytes of a file from offset (only the chunks covering them are read); recorded in des.read_log';
GRANT EXECUTE ON FUNCTION des.read(text, text, bigint, bigint) TO PUBLIC;	-- checks the caller's level

-- History from a ref: the bundle and its ancestors, newest first.
CREATE OR REPLACE FUNCTION des.log(ref text, "limit" int DEFAULT 100)
RETURNS TABLE (bundle_id text, parents text[], author text, created_at timestamptz, message text, total_size bigint)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE start AS (
        SELECT decode(r.bundle_id, 'hex') AS id FROM des.resolve(ref) r WHERE r.bundle_id IS NOT NULL
    ), history(id) AS (
        SELECT s.id FROM start s
        UNION
        SELECT p FROM history h JOIN des.dataset_bundles b ON b.id = h.id, unnest(coalesce(b.history_parents, b.parents)) AS p
    )
    SELECT encode(b.id, 'hex'),
           ARRAY(SELECT encode(p, 'hex') FROM unnest(coalesce(b.history_parents, b.parents)) WITH ORDINALITY AS u(p, n) ORDER BY n),
           b.author, b.created_at, b.message, b.total_size
      FROM history h JOIN des.dataset_bundles b ON b.id = h.id
     ORDER BY b.created_at DESC, b.id
     LIMIT "limit"
$$;
COMMENT ON FUNCTION des.log(text, int) IS 'the history of a ref: its bundle and ancestors, newest first';
GRANT EXECUTE ON FUNCTION des.log(text, int) TO PUBLIC;	-- reads with its caller's rights

CREATE OR REPLACE FUNCTION des.diff(ref_a text, ref_b text)
RETURNS TABLE (path text, change text, old_size bigint, new_size bigint, old_hash text, new_hash text, kind text)
AS 'MODULE_PATHNAME', 'des_diff'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION des.diff(text, text) IS
  'what changed from ref_a to ref_b, path by path: added, removed, modified, mode; recorded in des.read_log';
GRANT EXECUTE ON FUNCTION des.diff(text, text) TO PUBLIC;	-- checks the caller's level on both

CREATE OR REPLACE FUNCTION des.download(ref text, directory text, prefix text DEFAULT NULL,
                                        OUT files bigint, OUT written bigint, OUT unchanged bigint,
                                        OUT modes_fixed bigint, OUT bytes_written bigint, OUT directories bigint)
AS 'MODULE_PATHNAME', 'des_download'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION des.download(text, text, text) IS
  'write a version (below prefix) into a server directory, rewriting only files whose content differs; read level and pg_write_server_files';
GRANT EXECUTE ON FUNCTION des.download(text, text, text) TO PUBLIC;	-- checks the caller's level and pg_write_server_files

-- ---- uploads ----

CREATE OR REPLACE FUNCTION des.bundle_upload(repo text, branch text, source text, message text, label text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'des_bundle_upload'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION des.bundle_upload(text, text, text, text, text) IS
  'commit a whole server directory, DES archive (.des, local or s3://) or S3 prefix as the branch''s next bundle; write level, and pg_read_server_files (local) or the caller''s own S3 user mapping; returns the bundle id';
GRANT EXECUTE ON FUNCTION des.bundle_upload(text, text, text, text, text) TO PUBLIC;	-- checks the caller's level and its right to read the source

CREATE OR REPLACE FUNCTION des_internal.upload_progress(OUT pid int, OUT repo text, OUT branch text, OUT source text,
                                                        OUT phase text, OUT files_done bigint, OUT files_total bigint,
                                                        OUT bytes_done bigint, OUT bytes_total bigint,
                                                        OUT started_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'des_upload_progress'
LANGUAGE C VOLATILE;
GRANT EXECUTE ON FUNCTION des_internal.upload_progress() TO PUBLIC;	-- shows only uploads into repos its caller may read

CREATE OR REPLACE VIEW des.stat_uploads WITH (security_invoker = true) AS
SELECT p.* FROM des_internal.upload_progress() p;
COMMENT ON VIEW des.stat_uploads IS
  'des.bundle_upload calls running now (phase, files and bytes done and to do), for the repositories you may read';
GRANT SELECT ON des.stat_uploads TO PUBLIC;

CREATE OR REPLACE FUNCTION des.read_many(ref text, paths text[])
RETURNS TABLE (path text, data bytea)
AS 'MODULE_PATHNAME', 'des_read_many'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION des.read_many(text, text[]) IS
  'many files of a version in one call, in the order given (reads batched: chunk lists and places in two queries); recorded in des.read_log';
GRANT EXECUTE ON FUNCTION des.read_many(text, text[]) TO PUBLIC;	-- checks the caller's level

-- ---- merging and verifying ----

CREATE OR REPLACE FUNCTION des.merge(repo text, source_branch text, target_branch text, message text,
                                     strategy text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'des_merge'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION des.merge(text, text, text, text, text) IS
  'merge the head of source_branch into target_branch (write level; protected branches too): nothing, a fast-forward, or a merge bundle with two parents; strategy ''ours'' or ''theirs'' resolves conflicts; returns the target''s head';
GRANT EXECUTE ON FUNCTION des.merge(text, text, text, text, text) TO PUBLIC;	-- checks the caller's level

CREATE OR REPLACE FUNCTION des.verify_bundle(ref text)
RETURNS TABLE (path text, problem text)
AS 'MODULE_PATHNAME', 'des_verify_bundle'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION des.verify_bundle(text) IS
  'recompute a bundle from storage (header, directories, chunk lists, chunks, sizes): one row per problem, none if it verifies; a branch: its head; recorded in des.read_log';
GRANT EXECUTE ON FUNCTION des.verify_bundle(text) TO PUBLIC;	-- checks the caller's level
