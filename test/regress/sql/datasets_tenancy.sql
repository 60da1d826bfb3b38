-- Tenancy of versioned datasets: contexts, repos, grants, row-level
-- security between two tenants, the write log, and every error.
SET client_min_messages = warning;
CREATE OR REPLACE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
GRANT EXECUTE ON FUNCTION try(text) TO PUBLIC;
CREATE ROLE alice;
CREATE ROLE bob;
CREATE ROLE carol;
CREATE ROLE acme_team;
GRANT acme_team TO alice;

-- contexts: administrators only; names checked
SELECT des.context_create('acme') > 0 AS acme, des.context_create('globex') > 0 AS globex;
SELECT try($$SELECT des.context_create('acme')$$);
SELECT try($$SELECT des.context_create('')$$);
SELECT try($$SELECT des.context_create('a/b')$$);
SELECT try($$SELECT des.context_create('..')$$);
SELECT try($$SELECT des.context_create(repeat('x', 101))$$);
SELECT try($$SELECT des.context_create(NULL)$$);
SELECT name FROM des.contexts ORDER BY name;
SELECT id AS acme FROM des.contexts WHERE name = 'acme' \gset

SELECT des.grant('context:acme', 'acme_team', 'write');
SELECT des.grant('context:globex', 'bob', 'admin');
SELECT try($$SELECT des.grant('context:acme', 'acme_team', NULL)$$);
SELECT try($$SELECT des.grant('context:nowhere', 'bob', 'read')$$);

-- alice (through acme_team) creates a repo in acme, and owns it
SET ROLE alice;
SELECT des.repo_create('sales', 'Sales data', 'acme') > 0 AS created;
SELECT id AS sales FROM des.repositories WHERE name = 'sales' \gset
SELECT try($$SELECT des.repo_create('sales', '', 'acme')$$);
SELECT try($$SELECT des.repo_create('bad name', '', 'acme')$$);
SELECT try($$SELECT des.repo_create('x', '', 'globex')$$);	-- another tenant's context: as if absent
SELECT try($$SELECT des.repo_create('x')$$);	-- default: no grant there
SELECT try($$SELECT des.context_create('mine')$$);
SELECT name, context, description, owner, default_branch, access FROM des.repos;
SELECT name FROM des.contexts;
SELECT des.grant('repo:sales', 'carol', 'read');
-- direct writes obey the same rules (row-level security), and are logged too
SELECT try($$INSERT INTO des.repositories (name, context_id, owner) VALUES ('not_mine', (SELECT id FROM des.contexts WHERE name = 'acme'), 'bob')$$) AS owner_not_me;
SELECT try($$INSERT INTO des.repositories (name, context_id) VALUES ('bad name', (SELECT id FROM des.contexts WHERE name = 'acme'))$$) AS bad_name;
SELECT try($$INSERT INTO des.repositories (name, context_id) VALUES ('direct', (SELECT id FROM des.contexts WHERE name = 'acme'))$$) AS direct_insert;
SELECT try($$UPDATE des.repositories SET owner = 'bob'$$) AS no_updates;
SELECT try($$INSERT INTO des.contexts (name) VALUES ('mine')$$) AS context_direct;
SELECT try($$INSERT INTO des.write_log (role, action, context_id) VALUES ('bob', 'forged', 1)$$) AS forge_log;
RESET ROLE;

-- bob, admin of globex, sees nothing of acme: not its context, repos, grants or log
SET ROLE bob;
SELECT des.repo_create('ledger', '', 'globex') > 0 AS created;
SELECT name, context, access FROM des.repos;
SELECT name FROM des.repositories;
SELECT name FROM des.contexts;
SELECT count(*) AS acme_grants_seen FROM des.access_grants g JOIN des.contexts c ON c.id = g.context_id WHERE c.name = 'acme';
SELECT action, detail->>'name' AS name FROM des.write_log ORDER BY id;
SELECT try($$SELECT des.repo_delete('sales')$$);
SELECT try($$SELECT des.grant('repo:sales', 'bob', 'admin')$$);
SELECT try($$SELECT des.grant('sales', 'bob', 'admin')$$);
-- bob cannot write into acme directly either: the policies decide, not the functions
SELECT try($$INSERT INTO des.repositories (name, context_id) VALUES ('sneaky', (SELECT id FROM des.contexts WHERE name = 'globex'))$$) AS own_context;
SELECT try(format('INSERT INTO des.repositories (name, context_id) VALUES (%L, %s)', 'sneaky2', :acme)) AS acme_by_id;
SELECT try(format('INSERT INTO des.access_grants (context_id, grantee, level) VALUES (%s, %L, %L)', :acme, 'bob', 'admin')) AS grant_self_in_acme;
SELECT try($$UPDATE des.access_grants SET level = 'admin'$$) AS regrant_own_admin;
SELECT try($$UPDATE des.access_grants SET granted_at = '2000-01-01'$$) AS backdate;
SELECT try($$INSERT INTO des.repositories (id, name, context_id) OVERRIDING SYSTEM VALUE
             VALUES (424242, 'taken_id', (SELECT id FROM des.contexts WHERE name = 'globex'))$$) AS choose_id;
-- a grant in globex on a repo of acme: refused by the (repo, context) foreign key
SELECT try(format('INSERT INTO des.access_grants (context_id, repo_id, grantee, level) VALUES ((SELECT id FROM des.contexts WHERE name = %L), %s, %L, %L)',
                  'globex', :sales, 'bob', 'read')) ~ '^23503' AS cross_tenant_grant_refused;
-- the access check runs its query as the extension's owner: with no name
-- of the caller's choosing (types are looked up in pg_temp first when the
-- path does not name it: a domain there named text is not used)
CREATE FUNCTION pg_temp.pwn(pg_catalog.text) RETURNS boolean LANGUAGE plpgsql
    AS $f$ BEGIN EXECUTE 'ALTER ROLE bob SUPERUSER'; RETURN true; END $f$;
CREATE DOMAIN pg_temp.text AS pg_catalog.text CHECK (pg_temp.pwn(VALUE));
SELECT try('SELECT des_internal.access_level_text(1, NULL)') AS shadowed_type;
DROP DOMAIN pg_temp.text;
DROP FUNCTION pg_temp.pwn(pg_catalog.text);
SELECT try($$DELETE FROM des.repositories WHERE name = 'sales'$$) AS delete_sales;
SELECT try(format('INSERT INTO des.write_log (role, action, context_id) VALUES (%L, %L, %s)', 'alice', 'forged', :acme)) AS forge_log_as_alice;
SELECT des.repo_delete('sneaky');
RESET ROLE;

SELECT rolsuper AS bob_became_superuser FROM pg_roles WHERE rolname = 'bob';

-- carol reads sales, and may do nothing else
SET ROLE carol;
SELECT name, context, access FROM des.repos;
SELECT name FROM des.contexts;
SELECT try($$SELECT des.repo_delete('sales')$$);
SELECT try($$SELECT des.repo_create('more', '', 'acme')$$);
SELECT try($$SELECT des.grant('repo:sales', 'carol', 'admin')$$);
RESET ROLE;
SET ROLE alice;
SELECT des.revoke('repo:sales', 'carol') AS revoked, des.revoke('repo:sales', 'carol') AS again;
RESET ROLE;
SET ROLE carol;
SELECT count(*) AS repos_seen FROM des.repos;
RESET ROLE;

-- a bare name that is both a context and a repo is ambiguous
SELECT des.repo_create('globex', '', 'acme') > 0 AS created;
SELECT try($$SELECT des.grant('globex', 'carol', 'read')$$);
SELECT des.grant('repo:globex', 'carol', 'read');
SELECT des.repo_delete('globex');

-- a dropped owner or grantee leaves its repo readable by the others (and by no one in its name)
CREATE ROLE dave;
SELECT des.grant('context:acme', 'dave', 'write');
SET ROLE dave;
SELECT des.repo_create('orphaned', '', 'acme') > 0 AS created;
RESET ROLE;
SELECT des.revoke('context:acme', 'dave');
SELECT des.grant('repo:orphaned', 'dave', 'read');
DROP ROLE dave;
SET ROLE alice;
SELECT name, access FROM des.repos ORDER BY name;
SELECT count(*) AS grants_seen FROM des.access_grants;
RESET ROLE;
SELECT name, owner::text ~ '^[0-9]+$' AS owner_dropped FROM des.repositories WHERE name = 'orphaned';
SELECT des.repo_delete('orphaned');

-- a SECURITY DEFINER function acts as its owner: carol's cannot make an
-- administrator who calls it grant carol anything
CREATE FUNCTION carol_trap() RETURNS void LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT des.grant('context:acme', 'carol', 'admin') $$;
ALTER FUNCTION carol_trap() OWNER TO carol;
SELECT try($$SELECT carol_trap()$$) AS admin_calls_carols_function;
SELECT count(*) AS carol_grants FROM des.access_grants WHERE grantee = 'carol'::regrole;
DROP FUNCTION carol_trap();

-- deleting
SELECT try($$SELECT des.context_delete('acme')$$);
SELECT try($$SELECT des.context_delete('default')$$);
SET ROLE alice;
SELECT des.repo_delete('direct');
SELECT des.repo_delete('sales');
SELECT try($$SELECT des.repo_delete('sales')$$);
SELECT try($$SELECT des.context_delete('acme')$$);
RESET ROLE;
SELECT des.context_delete('acme');
SELECT name FROM des.contexts ORDER BY name;

-- the write log: every change, by whom
SELECT CASE WHEN role IN ('alice', 'bob', 'carol', 'dave') THEN role ELSE '(superuser)' END AS role,
       action, coalesce(detail->>'name', detail->>'target') AS what, detail->>'grantee' AS grantee
  FROM des.write_log ORDER BY id;

SELECT des.repo_delete('ledger');
SELECT des.context_delete('globex');
DROP ROLE alice, bob, carol, acme_team;
DROP FUNCTION try(text);
