-- Tenancy of versioned datasets: contexts, repos, grants, the write log
-- (docs/datasets.md). Row-level security decides, for reading and for
-- writing, about current_user with PostgreSQL's own meaning; the functions
-- of schema des run with their caller's rights (no SECURITY DEFINER
-- function decides on anyone's behalf), check first to give clear errors,
-- and triggers log every change, however it was made.

-- Superusers and members of the extension's owner administer every context.
CREATE OR REPLACE FUNCTION des_internal.role_is_administrator(who oid)
RETURNS boolean
LANGUAGE plpgsql STABLE		-- (PL/pgSQL for its cached plan: see des_internal.level_of)
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN coalesce((SELECT r.rolsuper FROM pg_roles r WHERE r.oid = who), false)
        OR coalesce(pg_has_role(who, (SELECT e.extowner FROM pg_extension e WHERE e.extname = 'pg_des'), 'MEMBER'), false);
END $$;
GRANT EXECUTE ON FUNCTION des_internal.role_is_administrator(oid) TO PUBLIC;	-- role membership, which every role can read

CREATE OR REPLACE FUNCTION des_internal.is_administrator()
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT des_internal.role_is_administrator(current_user::regrole) $$;
GRANT EXECUTE ON FUNCTION des_internal.is_administrator() TO PUBLIC;	-- about current_user

-- The level of role who on a context (repo NULL) or on one repo of it: the
-- highest of its grants there, through role membership; a repo's owner and
-- administrators have 'admin'. Run by des_internal.access_level as the
-- extension's owner, past row-level security; no other role may call it.
CREATE OR REPLACE FUNCTION des_internal.level_of(context bigint, repo bigint, who oid)
RETURNS des.access_level
-- (PL/pgSQL, not SQL: every access check runs it, and a SQL function with a
-- SET clause is parsed and planned again at each call; PL/pgSQL keeps its plan)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN CASE
        WHEN des_internal.role_is_administrator(who) THEN 'admin'::des.access_level
        -- (joined with pg_roles: a dropped owner or grantee is no one, not an error)
        -- (the repo must be of that context; grants are kept in their repo's
        -- context by a foreign key on (repo_id, context_id))
        WHEN repo IS NOT NULL AND EXISTS (SELECT FROM des.repositories r JOIN pg_roles o ON o.oid = r.owner
                                           WHERE r.id = repo AND r.context_id = context
                                             AND pg_has_role(who, o.oid, 'MEMBER'))
            THEN 'admin'::des.access_level
        ELSE (SELECT max(g.level) FROM des.access_grants g JOIN pg_roles o ON o.oid = g.grantee
               WHERE g.context_id = context AND (g.repo_id IS NULL OR g.repo_id = repo)
                 AND pg_has_role(who, o.oid, 'MEMBER'))
    END;
END $$;
REVOKE ALL ON FUNCTION des_internal.level_of(bigint, bigint, oid) FROM PUBLIC;

-- The current user's level on a context (repo NULL) or a repo: 'read',
-- 'write', 'admin' or NULL. (C: looks up des_internal.level_of as the
-- extension's owner for the current user id, taken before switching.)
CREATE OR REPLACE FUNCTION des_internal.access_level_text(context bigint, repo bigint)
RETURNS text
AS 'MODULE_PATHNAME', 'des_access_level'
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp;	-- its query runs as the owner: never with the caller's path
GRANT EXECUTE ON FUNCTION des_internal.access_level_text(bigint, bigint) TO PUBLIC;	-- answers only about current_user

CREATE OR REPLACE FUNCTION des_internal.access_level(context bigint, repo bigint)
RETURNS des.access_level
-- (PL/pgSQL for its cached plan, as des_internal.level_of; every name in it is qualified)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN des_internal.access_level_text(context, repo)::des.access_level; END $$;
GRANT EXECUTE ON FUNCTION des_internal.access_level(bigint, bigint) TO PUBLIC;	-- answers only about current_user

-- A context is visible to whoever holds any grant in it (on it, or on one
-- of its repos: the repos it can see, through their own policy).
CREATE OR REPLACE FUNCTION des_internal.sees_context(context bigint)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT des_internal.access_level(context, NULL) IS NOT NULL
        OR EXISTS (SELECT FROM des.repositories r WHERE r.context_id = context)
$$;
GRANT EXECUTE ON FUNCTION des_internal.sees_context(bigint) TO PUBLIC;	-- answers only about current_user

-- ---- row-level security, for reading and writing ----

DROP POLICY IF EXISTS contexts_visible ON des.contexts;
CREATE POLICY contexts_visible ON des.contexts FOR SELECT
    USING (name = 'default' OR des_internal.sees_context(id));
DROP POLICY IF EXISTS contexts_create ON des.contexts;
CREATE POLICY contexts_create ON des.contexts FOR INSERT
    WITH CHECK (des_internal.is_administrator() AND created_by = current_user);
DROP POLICY IF EXISTS contexts_delete ON des.contexts;
CREATE POLICY contexts_delete ON des.contexts FOR DELETE
    USING (des_internal.is_administrator() AND name <> 'default');

DROP POLICY IF EXISTS repositories_visible ON des.repositories;
CREATE POLICY repositories_visible ON des.repositories FOR SELECT
    USING (des_internal.access_level(context_id, id) IS NOT NULL);
DROP POLICY IF EXISTS repositories_create ON des.repositories;
CREATE POLICY repositories_create ON des.repositories FOR INSERT
    WITH CHECK (des_internal.access_level(context_id, NULL) >= 'write' AND owner = current_user::regrole);
DROP POLICY IF EXISTS repositories_delete ON des.repositories;
CREATE POLICY repositories_delete ON des.repositories FOR DELETE
    USING (des_internal.access_level(context_id, id) = 'admin');

-- a role sees its own grants, and every grant of what it administers
DROP POLICY IF EXISTS access_grants_visible ON des.access_grants;
CREATE POLICY access_grants_visible ON des.access_grants FOR SELECT
    USING (EXISTS (SELECT FROM pg_roles o WHERE o.oid = grantee AND pg_has_role(current_user, o.oid, 'MEMBER'))
           OR des_internal.access_level(context_id, repo_id) = 'admin');
DROP POLICY IF EXISTS access_grants_insert ON des.access_grants;
CREATE POLICY access_grants_insert ON des.access_grants FOR INSERT
    WITH CHECK (des_internal.access_level(context_id, repo_id) = 'admin');
DROP POLICY IF EXISTS access_grants_update ON des.access_grants;
CREATE POLICY access_grants_update ON des.access_grants FOR UPDATE
    USING (des_internal.access_level(context_id, repo_id) = 'admin')
    WITH CHECK (des_internal.access_level(context_id, repo_id) = 'admin');
DROP POLICY IF EXISTS access_grants_delete ON des.access_grants;
CREATE POLICY access_grants_delete ON des.access_grants FOR DELETE
    USING (des_internal.access_level(context_id, repo_id) = 'admin');

-- the log is written by the logging trigger below, as the extension's owner
DROP POLICY IF EXISTS write_log_visible ON des.write_log;
CREATE POLICY write_log_visible ON des.write_log FOR SELECT
    USING (des_internal.access_level(context_id, repo_id) IS NOT NULL);

-- rows: the policies above; columns: ids and times are the tables' own
-- (no OVERRIDING SYSTEM VALUE into another tenant's ids, no back-dating)
GRANT SELECT, DELETE ON des.contexts TO PUBLIC;
GRANT INSERT (name) ON des.contexts TO PUBLIC;
GRANT SELECT, DELETE ON des.repositories TO PUBLIC;
GRANT INSERT (name, context_id, description, owner) ON des.repositories TO PUBLIC;
GRANT SELECT, DELETE ON des.access_grants TO PUBLIC;
GRANT INSERT (context_id, repo_id, grantee, level), UPDATE (level) ON des.access_grants TO PUBLIC;	-- granted_at/by: stamped
GRANT SELECT ON des.write_log TO PUBLIC;	-- written only by the logging trigger, as the extension's owner

-- ---- the write log: one row per change, whoever made it and however ----

-- What a change of a tenancy row is, for the log; run by the logging
-- trigger (C) as the extension's owner, past row-level security, for the
-- role who made the change. No other role may call it.
CREATE OR REPLACE FUNCTION des_internal.log_tenancy_row(op text, tbl text, row_data jsonb, who oid)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    who_name name := (SELECT r.rolname FROM pg_roles r WHERE r.oid = who);
    ctx bigint := (row_data->>CASE WHEN tbl = 'contexts' THEN 'id' ELSE 'context_id' END)::bigint;
    repo bigint := (row_data->>CASE tbl WHEN 'repositories' THEN 'id' WHEN 'access_grants' THEN 'repo_id' END)::bigint;
    action text;
    detail jsonb;
BEGIN
    -- a restore: rows an administrator loads with COPY ... FROM stdin, as
    -- pg_restore does (it brings the log's own rows back right after)
    IF op = 'INSERT'
       AND current_query() ~* '^\s*copy\s+[a-z0-9_."]+\s*(\([a-z0-9_", ]*\))?\s*from\s+stdin\s*;?\s*$'
       AND des_internal.role_is_administrator(who) THEN
        RETURN;
    END IF;
    IF tbl = 'contexts' THEN
        action := 'context_' || CASE op WHEN 'INSERT' THEN 'create' ELSE 'delete' END;
        detail := jsonb_build_object('name', row_data->>'name');
    ELSIF tbl = 'repositories' THEN
        action := 'repo_' || CASE op WHEN 'INSERT' THEN 'create' ELSE 'delete' END;
        detail := jsonb_build_object('name', row_data->>'name', 'description', row_data->>'description');
        IF op = 'INSERT' THEN
            -- a new repo starts with its default branch, with no commit yet
            INSERT INTO des.dataset_branches (repo_id, name) VALUES (repo, row_data->>'default_branch');
            INSERT INTO des.branch_log (repo_id, branch, old_head, new_head, role, reason)
            VALUES (repo, row_data->>'default_branch', NULL, NULL, coalesce(who_name, who::text), 'create');
        END IF;
    ELSE
        -- grants deleted with their repo or context are no revocations
        IF op = 'DELETE' AND (NOT EXISTS (SELECT FROM des.contexts c WHERE c.id = ctx)
                              OR (repo IS NOT NULL AND NOT EXISTS (SELECT FROM des.repositories x WHERE x.id = repo))) THEN
            RETURN;
        END IF;
        action := CASE op WHEN 'DELETE' THEN 'revoke' ELSE 'grant' END;
        detail := jsonb_build_object('target', CASE WHEN repo IS NULL
                                                    THEN 'context:' || (SELECT c.name FROM des.contexts c WHERE c.id = ctx)
                                                    ELSE 'repo:' || (SELECT x.name FROM des.repositories x WHERE x.id = repo) END,
                                     'grantee', row_data->>'grantee');
        IF op <> 'DELETE' THEN
            detail := detail || jsonb_build_object('level', row_data->>'level');
        END IF;
    END IF;
    INSERT INTO des.write_log (role, action, context_id, repo_id, detail)
    VALUES (coalesce(who_name, who::text), action, ctx, repo, detail);
END $$;
REVOKE ALL ON FUNCTION des_internal.log_tenancy_row(text, text, jsonb, oid) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.log_tenancy_change()
RETURNS trigger
AS 'MODULE_PATHNAME', 'des_log_tenancy_change'
LANGUAGE C
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION des_internal.log_tenancy_change() FROM PUBLIC;	-- a trigger (firing needs no EXECUTE)

CREATE OR REPLACE TRIGGER contexts_log AFTER INSERT OR DELETE ON des.contexts
    FOR EACH ROW EXECUTE FUNCTION des_internal.log_tenancy_change();
CREATE OR REPLACE TRIGGER repositories_log AFTER INSERT OR DELETE ON des.repositories
    FOR EACH ROW EXECUTE FUNCTION des_internal.log_tenancy_change();
CREATE OR REPLACE TRIGGER access_grants_log AFTER INSERT OR UPDATE OR DELETE ON des.access_grants
    FOR EACH ROW EXECUTE FUNCTION des_internal.log_tenancy_change();

-- a grant's time and grantor are the change's own, whatever an UPDATE says
CREATE OR REPLACE FUNCTION des_internal.stamp_grant()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.granted_at := now();
    NEW.granted_by := current_user;
    RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION des_internal.stamp_grant() FROM PUBLIC;
CREATE OR REPLACE TRIGGER access_grants_stamp BEFORE INSERT OR UPDATE ON des.access_grants
    FOR EACH ROW EXECUTE FUNCTION des_internal.stamp_grant();

-- ---- lookups with clear errors ----

-- A context the caller may see, by name; unknown and invisible are the same
-- error, so that other tenants' context names do not leak.
CREATE OR REPLACE FUNCTION des_internal.visible_context(name text)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    found_id bigint;
BEGIN
    SELECT c.id INTO found_id FROM des.contexts c WHERE c.name = visible_context.name;
    IF found_id IS NULL THEN
        RAISE EXCEPTION 'context "%" does not exist', name USING ERRCODE = 'undefined_object';
    END IF;
    RETURN found_id;
END $$;
GRANT EXECUTE ON FUNCTION des_internal.visible_context(text) TO PUBLIC;	-- reads with its caller's rights

CREATE OR REPLACE FUNCTION des_internal.visible_repo(name text, OUT repo_id bigint, OUT context_id bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    SELECT r.id, r.context_id INTO repo_id, context_id FROM des.repositories r WHERE r.name = visible_repo.name;
    IF repo_id IS NULL THEN
        RAISE EXCEPTION 'repository "%" does not exist', name USING ERRCODE = 'undefined_object';
    END IF;
END $$;
GRANT EXECUTE ON FUNCTION des_internal.visible_repo(text) TO PUBLIC;	-- reads with its caller's rights

CREATE OR REPLACE FUNCTION des_internal.require_level(context bigint, repo bigint, needed des.access_level, what text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    have des.access_level := des_internal.access_level(context, repo);
BEGIN
    IF have IS NULL OR have < needed THEN
        RAISE EXCEPTION 'permission denied to %', what USING ERRCODE = 'insufficient_privilege',
            DETAIL = format('It needs the %s level; role %s has %s.', needed, current_user, coalesce(have::text, 'none')),
            HINT = 'An administrator of the context or repository can grant it with des.grant().';
    END IF;
END $$;
GRANT EXECUTE ON FUNCTION des_internal.require_level(bigint, bigint, des.access_level, text) TO PUBLIC;	-- checks current_user

-- Names of contexts and repos: letters, digits, '.', '_', '-'; 1 to 100
-- characters; not only dots (they would read as paths in URIs). The tables
-- check the same with constraints; this gives the clear error first.
CREATE OR REPLACE FUNCTION des_internal.check_dataset_name(what text, name text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF name IS NULL OR name !~ '^[A-Za-z0-9._-]{1,100}$' OR name ~ '^\.+$' THEN
        RAISE EXCEPTION 'invalid % name "%"', what, name USING ERRCODE = 'invalid_name',
            DETAIL = 'A name has 1 to 100 letters (A-Z, a-z), digits, ".", "_" or "-", and is not only dots.';
    END IF;
END $$;
GRANT EXECUTE ON FUNCTION des_internal.check_dataset_name(text, text) TO PUBLIC;	-- checks a string, nothing more

-- ---- contexts ----

CREATE OR REPLACE FUNCTION des.context_create(name text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    new_id bigint;
BEGIN
    PERFORM des_internal.check_dataset_name('context', $1);
    IF NOT des_internal.is_administrator() THEN
        RAISE EXCEPTION 'permission denied to create context "%"', name USING ERRCODE = 'insufficient_privilege',
            DETAIL = 'Contexts are created by superusers and members of the extension''s owner.';
    END IF;
    INSERT INTO des.contexts AS c (name) VALUES ($1)
    ON CONFLICT (name) DO NOTHING
    RETURNING c.id INTO new_id;
    IF new_id IS NULL THEN
        RAISE EXCEPTION 'context "%" already exists', name USING ERRCODE = 'duplicate_object';
    END IF;
    RETURN new_id;
END $$;
COMMENT ON FUNCTION des.context_create(text) IS 'a new context (tenant); administrators only';

CREATE OR REPLACE FUNCTION des.context_delete(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ctx bigint := des_internal.visible_context(name);
BEGIN
    IF NOT des_internal.is_administrator() THEN
        RAISE EXCEPTION 'permission denied to delete context "%"', name USING ERRCODE = 'insufficient_privilege',
            DETAIL = 'Contexts are deleted by superusers and members of the extension''s owner.';
    END IF;
    IF name = 'default' THEN
        RAISE EXCEPTION 'the context "default" cannot be deleted' USING ERRCODE = 'object_in_use';
    END IF;
    IF EXISTS (SELECT FROM des.repositories r WHERE r.context_id = ctx) THEN
        RAISE EXCEPTION 'context "%" still holds repositories', name USING ERRCODE = 'dependent_objects_still_exist',
            HINT = 'Delete them first with des.repo_delete().';
    END IF;
    DELETE FROM des.contexts c WHERE c.id = ctx;
END $$;
COMMENT ON FUNCTION des.context_delete(text) IS 'delete an empty context; administrators only';

-- ---- grants ----

-- 'context:NAME', 'repo:NAME', or a bare name: a repo, else a context (both: ambiguous).
CREATE OR REPLACE FUNCTION des_internal.grant_scope(target text, OUT context_id bigint, OUT repo_id bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    has_repo boolean;
    has_context boolean;
BEGIN
    IF target LIKE 'context:%' THEN
        context_id := des_internal.visible_context(substr(target, 9));
        RETURN;
    ELSIF target LIKE 'repo:%' THEN
        SELECT v.repo_id, v.context_id INTO repo_id, context_id FROM des_internal.visible_repo(substr(target, 6)) v;
        RETURN;
    END IF;
    has_repo := EXISTS (SELECT FROM des.repositories r WHERE r.name = target);
    has_context := EXISTS (SELECT FROM des.contexts c WHERE c.name = target);
    IF has_repo AND has_context THEN
        RAISE EXCEPTION '"%" names both a context and a repository', target USING ERRCODE = 'ambiguous_parameter',
            HINT = format('Write ''context:%s'' or ''repo:%s''.', target, target);
    ELSIF has_repo THEN
        SELECT v.repo_id, v.context_id INTO repo_id, context_id FROM des_internal.visible_repo(target) v;
    ELSIF has_context THEN
        context_id := des_internal.visible_context(target);
    ELSE
        RAISE EXCEPTION 'no context or repository "%"', target USING ERRCODE = 'undefined_object';
    END IF;
END $$;
GRANT EXECUTE ON FUNCTION des_internal.grant_scope(text) TO PUBLIC;	-- reads with its caller's rights

CREATE OR REPLACE FUNCTION des.grant(target text, grantee regrole, level des.access_level)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    s record;
BEGIN
    IF $2 IS NULL OR $3 IS NULL THEN
        RAISE EXCEPTION 'des.grant needs a role and a level' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO s FROM des_internal.grant_scope(target);
    PERFORM des_internal.require_level(s.context_id, s.repo_id, 'admin', 'grant access to ' || target);
    INSERT INTO des.access_grants AS g (context_id, repo_id, grantee, level)
    VALUES (s.context_id, s.repo_id, $2, $3)
    ON CONFLICT (context_id, coalesce(repo_id, 0), grantee)
    DO UPDATE SET level = EXCLUDED.level;	-- time and grantor stamped by access_grants_stamp
END $$;
COMMENT ON FUNCTION des.grant(text, regrole, des.access_level) IS
  'give a role read, write or admin on a context (''context:NAME'') or a repo (''repo:NAME''), replacing its earlier level there';

CREATE OR REPLACE FUNCTION des.revoke(target text, grantee regrole)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s record;
    gone boolean;
BEGIN
    SELECT * INTO s FROM des_internal.grant_scope(target);
    PERFORM des_internal.require_level(s.context_id, s.repo_id, 'admin', 'revoke access to ' || target);
    WITH d AS (DELETE FROM des.access_grants g
                WHERE g.context_id = s.context_id AND g.repo_id IS NOT DISTINCT FROM s.repo_id
                  AND g.grantee = $2 RETURNING 1)
    SELECT count(*) > 0 INTO gone FROM d;
    RETURN gone;
END $$;
COMMENT ON FUNCTION des.revoke(text, regrole) IS 'take back a role''s grant on a context or repo; false if it had none there';

-- ---- repos ----

CREATE OR REPLACE FUNCTION des.repo_create(name text, description text DEFAULT '', context text DEFAULT 'default')
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    ctx bigint;
    new_id bigint;
BEGIN
    PERFORM des_internal.check_dataset_name('repository', $1);
    ctx := des_internal.visible_context($3);
    PERFORM des_internal.require_level(ctx, NULL, 'write', format('create a repository in context "%s"', $3));
    INSERT INTO des.repositories AS r (name, context_id, description)
    VALUES ($1, ctx, coalesce($2, ''))
    ON CONFLICT (name) DO NOTHING
    RETURNING r.id INTO new_id;
    IF new_id IS NULL THEN
        -- repo names are unique in the database, across contexts
        RAISE EXCEPTION 'repository "%" already exists', name USING ERRCODE = 'duplicate_object';
    END IF;
    RETURN new_id;
END $$;
COMMENT ON FUNCTION des.repo_create(text, text, text) IS
  'a new versioned dataset in a context (write level there); its creator owns it';

CREATE OR REPLACE FUNCTION des.repo_delete(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    SELECT * INTO r FROM des_internal.visible_repo(name);
    PERFORM des_internal.require_level(r.context_id, r.repo_id, 'admin', format('delete repository "%s"', name));
    DELETE FROM des.repositories x WHERE x.id = r.repo_id;
END $$;
COMMENT ON FUNCTION des.repo_delete(text) IS 'delete a repository (admin level on it)';

CREATE OR REPLACE VIEW des.repos WITH (security_invoker = true) AS
SELECT r.name, c.name AS context, r.description, r.owner, r.default_branch, r.created_at,
       des_internal.access_level(r.context_id, r.id) AS access
  FROM des.repositories r JOIN des.contexts c ON c.id = r.context_id;
COMMENT ON VIEW des.repos IS 'the repositories the current role may see, with its access level on each';
GRANT SELECT ON des.repos TO PUBLIC;	-- security_invoker: the policies of its tables apply to the reader
