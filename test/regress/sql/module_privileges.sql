-- Every function and view of the extension with who may use it, so that a
-- new function's privileges are a visible decision: schema des is the public
-- API, des_internal what only pg_des itself calls (the workers' units of
-- work, trigger and aggregate support functions, helpers of the public
-- functions). Owners and superusers may always call everything; listed here
-- is whether PUBLIC may, and which other roles were granted EXECUTE.
SELECT n.nspname AS schema, p.oid::regprocedure AS function,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute,
       (SELECT string_agg(a.grantee::regrole::text, ', ' ORDER BY a.grantee::regrole::text)
          FROM aclexplode(p.proacl) a
         WHERE a.grantee <> p.proowner AND a.grantee <> 0 AND a.privilege_type = 'EXECUTE') AS also_granted_to
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname IN ('des', 'des_internal')
 ORDER BY p.pronamespace::regnamespace::text COLLATE "C", p.oid::regprocedure::text COLLATE "C";

-- nothing of des_internal is callable by PUBLIC but the helpers the public
-- functions call with their caller's rights
SELECT p.proname
  FROM pg_proc p
 WHERE p.pronamespace = 'des_internal'::regnamespace
   AND has_function_privilege('public', p.oid, 'EXECUTE')
 ORDER BY p.proname COLLATE "C";

-- SECURITY DEFINER functions all pin their search_path
SELECT p.oid::regprocedure AS security_definer_without_search_path
  FROM pg_proc p
 WHERE p.pronamespace IN ('des'::regnamespace, 'des_internal'::regnamespace)
   AND p.prosecdef
   AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%');

-- views: no grants beyond their owner's (tables get theirs from the
-- administrator; see docs/operations.md)
SELECT c.relname AS view, c.relacl IS NULL AS owner_only
  FROM pg_class c
 WHERE c.relnamespace = 'des'::regnamespace AND c.relkind = 'v'
 ORDER BY c.relname COLLATE "C";

-- a role with no grants can call the public functions but no unit of work
CREATE ROLE des_nobody;
SET ROLE des_nobody;
SELECT des.shard_of('x', 4) IS NOT NULL AS public_function_callable;
DO $$
BEGIN
    PERFORM des_internal.mark_batch(1);
    RAISE NOTICE 'mark_batch callable: wrong';
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'des_internal.mark_batch: %', SQLERRM;
END $$;
DO $$
BEGIN
    PERFORM des.wake_packers();
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'des.wake_packers: %', SQLERRM;
END $$;
DO $$
BEGIN
    PERFORM des_internal.storage_root();
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'des_internal.storage_root: %', SQLERRM;
END $$;
RESET ROLE;
DROP ROLE des_nobody;
