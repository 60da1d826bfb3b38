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

SELECT des.grant('context:acme', 'acme_team', 'write');
SELECT des.grant('context:globex', 'bob', 'admin');
SELECT try($$SELECT des.grant('context:acme', 'acme_team', NULL)$$);
SELECT try($$SELECT des.grant('context:nowhere', 'bob', 'read')$$);

-- alice (through acme_team) creates a repo in acme, and owns it
SET ROLE alice;
SELECT des.repo_create('sales', 'Sales data', 'acme') > 0 AS created;
SELECT try($$SELECT des.repo_create('sales', '', 'acme')$$);
SELECT try($$SELECT des.repo_create('bad name', '', 'acme')$$);
SELECT try($$SELECT des.repo_create('x', '', 'globex')$$);	-- another tenant's context: as if absent
SELECT try($$SELECT des.repo_create('x')$$);	-- default: no grant there
SELECT try($$SELECT des.context_create('mine')$$);
SELECT name, context, description, owner, default_branch, access FROM des.repos;
SELECT name FROM des.contexts;
SELECT des.grant('repo:sales', 'carol', 'read');
-- the tables change only through the functions
SELECT try($$INSERT INTO des.repositories (name, context_id, owner) VALUES ('sneaky', 1, 'alice')$$);
SELECT try($$UPDATE des.repositories SET owner = 'bob'$$);
SELECT try($$DELETE FROM des.access_grants$$);
SELECT try($$INSERT INTO des.write_log (role, action, context_id) VALUES ('bob', 'forged', 1)$$);
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
SELECT des_internal.access_level(c.id, NULL, 'alice') AS alice_level_read_by_bob FROM des.contexts c;
RESET ROLE;

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

-- deleting
SELECT try($$SELECT des.context_delete('acme')$$);
SELECT try($$SELECT des.context_delete('default')$$);
SET ROLE alice;
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
