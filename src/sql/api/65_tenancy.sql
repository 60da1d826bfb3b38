-- Tenancy of versioned datasets: contexts, repos, grants, the write log
-- (docs/datasets.md). The functions of schema des that change these tables
-- are SECURITY DEFINER (no other role may write them) and check the rights
-- of their caller, des_internal.caller(); row-level security decides what a
-- role reads, directly or through the views.

-- The role that called the current SECURITY DEFINER function.
CREATE OR REPLACE FUNCTION des_internal.caller()
RETURNS regrole
AS 'MODULE_PATHNAME', 'des_caller'
LANGUAGE C STABLE STRICT;
GRANT EXECUTE ON FUNCTION des_internal.caller() TO PUBLIC;	-- says only who is calling

-- Superusers and members of the extension's owner administer every context.
CREATE OR REPLACE FUNCTION des_internal.is_administrator(who regrole)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT r.rolsuper FROM pg_roles r WHERE r.oid = who), false)
        OR pg_has_role(who, (SELECT e.extowner FROM pg_extension e WHERE e.extname = 'pg_des'), 'MEMBER')
$$;
GRANT EXECUTE ON FUNCTION des_internal.is_administrator(regrole) TO PUBLIC;	-- role membership, which every role can read

-- The access level of a role on a context (repo NULL) or on one repo of it:
-- the highest of its grants there, through role membership; a repo's owner
-- and administrators have 'admin'. NULL: none. Row-level security calls it
-- with current_user; for another role only administrators get an answer,
-- so that grants are not read through it.
CREATE OR REPLACE FUNCTION des_internal.access_level(context bigint, repo bigint, who regrole)
RETURNS des.access_level
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN who <> des_internal.caller() AND NOT des_internal.is_administrator(des_internal.caller()) THEN NULL
        WHEN des_internal.is_administrator(who) THEN 'admin'::des.access_level
        -- (joined with pg_roles: a dropped owner or grantee is no one, not an error)
        WHEN repo IS NOT NULL AND EXISTS (SELECT FROM des.repositories r JOIN pg_roles o ON o.oid = r.owner
                                           WHERE r.id = repo AND pg_has_role(who, o.oid, 'MEMBER'))
            THEN 'admin'::des.access_level
        ELSE (SELECT max(g.level) FROM des.access_grants g JOIN pg_roles o ON o.oid = g.grantee
               WHERE g.context_id = context AND (g.repo_id IS NULL OR g.repo_id = repo)
                 AND pg_has_role(who, o.oid, 'MEMBER'))
    END
$$;
GRANT EXECUTE ON FUNCTION des_internal.access_level(bigint, bigint, regrole) TO PUBLIC;	-- row-level security calls it as the reader

-- A context is visible to whoever has any grant in it (on it or on one of its repos).
CREATE OR REPLACE FUNCTION des_internal.sees_context(context bigint, who regrole)
RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT des_internal.access_level(context, NULL, who) IS NOT NULL
        OR (who = des_internal.caller() AND EXISTS (
                SELECT FROM des.repositories r
                 WHERE r.context_id = context
                   AND des_internal.access_level(r.context_id, r.id, who) IS NOT NULL))
$$;
GRANT EXECUTE ON FUNCTION des_internal.sees_context(bigint, regrole) TO PUBLIC;	-- row-level security calls it as the reader

DROP POLICY IF EXISTS contexts_visible ON des.contexts;
CREATE POLICY contexts_visible ON des.contexts FOR SELECT
    USING (des_internal.sees_context(id, current_user::regrole));
DROP POLICY IF EXISTS repositories_visible ON des.repositories;
CREATE POLICY repositories_visible ON des.repositories FOR SELECT
    USING (des_internal.access_level(context_id, id, current_user::regrole) IS NOT NULL);
-- a role sees its own grants, and every grant of what it administers
DROP POLICY IF EXISTS access_grants_visible ON des.access_grants;
CREATE POLICY access_grants_visible ON des.access_grants FOR SELECT
    USING (EXISTS (SELECT FROM pg_roles o WHERE o.oid = grantee AND pg_has_role(current_user, o.oid, 'MEMBER'))
           OR des_internal.access_level(context_id, repo_id, current_user::regrole) = 'admin');
DROP POLICY IF EXISTS write_log_visible ON des.write_log;
CREATE POLICY write_log_visible ON des.write_log FOR SELECT
    USING (des_internal.access_level(context_id, repo_id, current_user::regrole) IS NOT NULL);
GRANT SELECT ON des.contexts, des.repositories, des.access_grants, des.write_log TO PUBLIC;	-- rows filtered by the policies above

-- Names of contexts and repos: letters, digits, '.', '_', '-'; 1 to 100
-- characters; not only dots (they would read as paths in URIs).
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

CREATE OR REPLACE FUNCTION des_internal.log_write(action text, context bigint, repo bigint, detail jsonb)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO des.write_log (role, action, context_id, repo_id, detail)
    VALUES (des_internal.caller()::text, action, context, repo, detail)
$$;
REVOKE ALL ON FUNCTION des_internal.log_write(text, bigint, bigint, jsonb) FROM PUBLIC;

-- The context a caller may see, by name; unknown and invisible ones are the
-- same error, so that names of other tenants' contexts do not leak.
CREATE OR REPLACE FUNCTION des_internal.visible_context(name text)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    found_id bigint;
BEGIN
    SELECT c.id INTO found_id FROM des.contexts c WHERE c.name = visible_context.name;
    -- the default context is no secret: without a grant there, the caller
    -- gets the permission error of what it tried
    IF found_id IS NULL OR (name <> 'default' AND NOT des_internal.sees_context(found_id, des_internal.caller())) THEN
        RAISE EXCEPTION 'context "%" does not exist', name USING ERRCODE = 'undefined_object';
    END IF;
    RETURN found_id;
END $$;
REVOKE ALL ON FUNCTION des_internal.visible_context(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.visible_repo(name text, OUT repo_id bigint, OUT context_id bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    SELECT r.id, r.context_id INTO repo_id, context_id FROM des.repositories r WHERE r.name = visible_repo.name;
    IF repo_id IS NULL OR des_internal.access_level(context_id, repo_id, des_internal.caller()) IS NULL THEN
        RAISE EXCEPTION 'repository "%" does not exist', name USING ERRCODE = 'undefined_object';
    END IF;
END $$;
REVOKE ALL ON FUNCTION des_internal.visible_repo(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des_internal.require_level(context bigint, repo bigint, needed des.access_level, what text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    have des.access_level := des_internal.access_level(context, repo, des_internal.caller());
BEGIN
    IF have IS NULL OR have < needed THEN
        RAISE EXCEPTION 'permission denied to %', what USING ERRCODE = 'insufficient_privilege',
            DETAIL = format('It needs the %s level; role %s has %s.', needed, des_internal.caller(), coalesce(have::text, 'none')),
            HINT = 'An administrator of the context or repository can grant it with des.grant().';
    END IF;
END $$;
REVOKE ALL ON FUNCTION des_internal.require_level(bigint, bigint, des.access_level, text) FROM PUBLIC;

-- ---- contexts ----

CREATE OR REPLACE FUNCTION des.context_create(name text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    new_id bigint;
BEGIN
    PERFORM des_internal.check_dataset_name('context', name);
    IF NOT des_internal.is_administrator(des_internal.caller()) THEN
        RAISE EXCEPTION 'permission denied to create context "%"', name USING ERRCODE = 'insufficient_privilege',
            DETAIL = 'Contexts are created by superusers and members of the extension''s owner.';
    END IF;
    INSERT INTO des.contexts (name, created_by) VALUES (context_create.name, des_internal.caller()::text)
    ON CONFLICT DO NOTHING
    RETURNING id INTO new_id;
    IF new_id IS NULL THEN
        RAISE EXCEPTION 'context "%" already exists', name USING ERRCODE = 'duplicate_object';
    END IF;
    PERFORM des_internal.log_write('context_create', new_id, NULL, jsonb_build_object('name', name));
    RETURN new_id;
END $$;
COMMENT ON FUNCTION des.context_create(text) IS 'a new context (tenant); administrators only';

CREATE OR REPLACE FUNCTION des.context_delete(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ctx bigint := des_internal.visible_context(name);
BEGIN
    IF NOT des_internal.is_administrator(des_internal.caller()) THEN
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
    PERFORM des_internal.log_write('context_delete', ctx, NULL, jsonb_build_object('name', name));
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
    has_repo := EXISTS (SELECT FROM des.repositories r WHERE r.name = target
                         AND des_internal.access_level(r.context_id, r.id, des_internal.caller()) IS NOT NULL);
    has_context := EXISTS (SELECT FROM des.contexts c WHERE c.name = target
                            AND des_internal.sees_context(c.id, des_internal.caller()));
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
REVOKE ALL ON FUNCTION des_internal.grant_scope(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION des.grant(target text, grantee regrole, level des.access_level)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
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
    INSERT INTO des.access_grants AS g (context_id, repo_id, grantee, level, granted_by)
    VALUES (s.context_id, s.repo_id, $2, $3, des_internal.caller()::text)
    ON CONFLICT (context_id, coalesce(repo_id, 0), grantee)
    DO UPDATE SET level = EXCLUDED.level, granted_by = EXCLUDED.granted_by, granted_at = now();
    PERFORM des_internal.log_write('grant', s.context_id, s.repo_id,
                                   jsonb_build_object('target', target, 'grantee', $2::text, 'level', $3));
END $$;
COMMENT ON FUNCTION des.grant(text, regrole, des.access_level) IS
  'give a role read, write or admin on a context (''context:NAME'') or a repo (''repo:NAME''), replacing its earlier level there';

CREATE OR REPLACE FUNCTION des.revoke(target text, grantee regrole)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
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
    IF gone THEN
        PERFORM des_internal.log_write('revoke', s.context_id, s.repo_id,
                                       jsonb_build_object('target', target, 'grantee', grantee::text));
    END IF;
    RETURN gone;
END $$;
COMMENT ON FUNCTION des.revoke(text, regrole) IS 'take back a role''s grant on a context or repo; false if it had none there';

-- ---- repos ----

CREATE OR REPLACE FUNCTION des.repo_create(name text, description text DEFAULT '', context text DEFAULT 'default')
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ctx bigint;
    new_id bigint;
BEGIN
    PERFORM des_internal.check_dataset_name('repository', name);
    ctx := des_internal.visible_context(context);
    PERFORM des_internal.require_level(ctx, NULL, 'write', format('create a repository in context "%s"', context));
    INSERT INTO des.repositories (name, context_id, description, owner)
    VALUES (repo_create.name, ctx, coalesce(repo_create.description, ''), des_internal.caller())
    ON CONFLICT DO NOTHING
    RETURNING id INTO new_id;
    IF new_id IS NULL THEN
        -- repo names are unique in the database, across contexts
        RAISE EXCEPTION 'repository "%" already exists', name USING ERRCODE = 'duplicate_object';
    END IF;
    PERFORM des_internal.log_write('repo_create', ctx, new_id,
                                   jsonb_build_object('name', name, 'description', coalesce(description, '')));
    RETURN new_id;
END $$;
COMMENT ON FUNCTION des.repo_create(text, text, text) IS
  'a new versioned dataset in a context (write level there); its creator owns it';

CREATE OR REPLACE FUNCTION des.repo_delete(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    SELECT * INTO r FROM des_internal.visible_repo(name);
    PERFORM des_internal.require_level(r.context_id, r.repo_id, 'admin', format('delete repository "%s"', name));
    DELETE FROM des.repositories x WHERE x.id = r.repo_id;
    PERFORM des_internal.log_write('repo_delete', r.context_id, r.repo_id, jsonb_build_object('name', name));
END $$;
COMMENT ON FUNCTION des.repo_delete(text) IS 'delete a repository (admin level on it)';

CREATE OR REPLACE VIEW des.repos WITH (security_invoker = true) AS
SELECT r.name, c.name AS context, r.description, r.owner, r.default_branch, r.created_at,
       des_internal.access_level(r.context_id, r.id, current_user::regrole) AS access
  FROM des.repositories r JOIN des.contexts c ON c.id = r.context_id;
COMMENT ON VIEW des.repos IS 'the repositories the current role may see, with its access level on each';
GRANT SELECT ON des.repos TO PUBLIC;	-- security_invoker: the policies of its tables apply to the reader
