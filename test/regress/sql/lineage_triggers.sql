-- Real-time dependencies: jobs, subscriptions (explicit, and by a run's
-- read of a URI without a tag; cycles refused), triggers enqueued by the
-- commit itself (once per version; none for a rollback), and the
-- dispatcher's units driven by hand: claim, start, done, failed with
-- backoff, dead letters, retry, coalescing, chains, stale claims. (The
-- dispatcher worker itself runs in test/t/011_dispatcher.pl: here it is
-- connected to another database, des.database, and takes nothing.)
SET client_min_messages = warning;
CREATE OR REPLACE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE TEMP TABLE trg_v (name text, id text);
CREATE FUNCTION trg_name(id text) RETURNS text LANGUAGE sql AS $$
    SELECT coalesce((SELECT v.name FROM trg_v v WHERE v.id = trg_name.id), id)
$$;
CREATE FUNCTION trg_put(repo text, path text, body text, label text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM des.stage(repo, 'main', path, convert_to(body, 'UTF8'));
    INSERT INTO trg_v VALUES (label, des.commit(repo, 'main', label));
END $$;
-- what the dispatcher does, one trigger: claim, start the run, the action, done
CREATE FUNCTION trg_dispatch_one() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    c record;
    payload jsonb;
BEGIN
    SELECT * INTO c FROM des_internal.trigger_claim(3);
    IF c.id IS NULL THEN
        RETURN 'nothing due';
    END IF;
    payload := des_internal.trigger_start(c.id);
    BEGIN
        EXECUTE c.action USING payload;
        PERFORM des_internal.trigger_done(c.id);
        RETURN 'done ' || (payload->>'job');
    EXCEPTION WHEN OTHERS THEN
        PERFORM des_internal.trigger_failed(c.id, SQLERRM, 3, interval '1 hour');
        RETURN 'failed ' || (payload->>'job') || ': ' || SQLERRM;
    END;
END $$;
CREATE TABLE trg_seen (job text, bundle text, upstream text, coalesced jsonb, chain jsonb);

SELECT des.repo_create('trg_up') > 0, des.repo_create('trg_mid') > 0, des.repo_create('trg_out') > 0;
SELECT trg_put('trg_up', 'a.txt', 'one', 'up1');

-- jobs
SELECT des.job_create('trg-copy', $$INSERT INTO public.trg_seen VALUES ('trg-copy', $1->>'bundle_id', $1->>'upstream', $1->'coalesced', $1->'chain')$$);
SELECT try($$SELECT des.job_create('', NULL)$$) AS empty_name;
SELECT try($$SELECT des.job_create('trg-bad', 'SELEC 1')$$) AS bad_action;
SELECT try($$SELECT des.job_create('trg-bad', '')$$) AS empty_action;
SELECT try($$SELECT des.job_run('trg-nothing')$$) AS unknown_job;
SELECT des.job_create('trg-quiet') AS no_action;
SELECT try($$SELECT des.job_run('trg-quiet')$$) AS run_without_action;

-- subscriptions: gros:// URIs of branches, without a tag
SELECT try($$SELECT des.subscribe('trg-copy', 'trg_up/main')$$) AS not_a_uri;
SELECT try($$SELECT des.subscribe('trg-copy', 'gros://trg_up:latest')$$) AS pinned;
SELECT try($$SELECT des.subscribe('trg-copy', 'gros://trg_up:-1')$$) AS position;
SELECT try($$SELECT des.subscribe('trg-copy', 'gros://trg_nowhere')$$) AS unknown_repo;
SELECT try($$SELECT des.subscribe('trg-copy', 'gros://trg_up/nobranch')$$) AS unknown_branch;
SELECT try($$SELECT des.subscribe('trg-copy', 'gros://trg_up//')$$) AS malformed;
SELECT des.subscribe('trg-copy', 'gros://trg_up') AS subscribed, des.subscribe('trg-copy', 'gros://trg_up/main') AS again;
SELECT des.subscribe('trg-quiet', 'gros://trg_up') AS quiet_subscribed;
SELECT job, origin, uri FROM des.job_subscriptions ORDER BY job;

-- a commit enqueues one trigger per subscribed job, in its own transaction
SELECT trg_put('trg_up', 'a.txt', 'two', 'up2');
SELECT job, kind, trg_name(encode(bundle_id, 'hex')) AS bundle, state, attempts FROM des.job_triggers ORDER BY job;
-- a rolled-back commit enqueues nothing
BEGIN;
SELECT des.stage('trg_up', 'main', 'a.txt', 'never') IS NOT NULL AS staged;
SELECT des.commit('trg_up', 'main', 'rolled back') IS NOT NULL AS committed;
SELECT count(*) AS triggers_inside FROM des.job_triggers;
ROLLBACK;
SELECT count(*) AS triggers_after_rollback FROM des.job_triggers;
-- a version triggers a job once: the same row again is refused, not doubled
SELECT try($$INSERT INTO des.job_triggers (job, kind, repo_id, branch, bundle_id, state)
             SELECT job, kind, repo_id, branch, bundle_id, 'pending' FROM des.job_triggers WHERE job = 'trg-copy'$$) AS twice;

-- the dispatcher's units: the action gets the trigger, the run records it
SELECT trg_dispatch_one() AS first;
SELECT trg_dispatch_one() AS second;
SELECT job, trg_name(bundle) AS bundle, upstream FROM trg_seen;
SELECT job, state, attempts, run_id IS NOT NULL AS has_run FROM des.job_triggers ORDER BY job;
SELECT r.job, r.state, r.trigger_id = t.id AS of_its_trigger, r.role::text = current_user AS as_owner
  FROM des.runs r JOIN des.job_triggers t ON t.run_id = r.id;
SELECT current_setting('des.run_id') = '' AS run_over;

-- a run's read of a URI without a tag subscribes its job; a pinned one does not
SELECT des.run_begin('trg-reader') IS NOT NULL AS begun;
SELECT count(*) FROM des.files('gros://trg_up:latest');
SELECT count(*) FROM des.files('gros://trg_up/main');
SELECT trg_put('trg_mid', 'm.txt', 'from up', 'mid1');
SELECT des.run_end() IS NOT NULL AS ended;
SELECT job, origin, uri FROM des.job_subscriptions WHERE job = 'trg-reader';

-- cycles: trg-reader writes trg_mid; a job that follows trg_mid and writes
-- trg_up would close the loop, and trg-reader cannot follow what it writes
SELECT des.job_create('trg-back', $$SELECT 1$$);
SELECT des.subscribe('trg-back', 'gros://trg_mid') AS back_follows_mid;
SELECT des.run_begin('trg-back') IS NOT NULL AS begun;
SELECT trg_put('trg_out', 'o.txt', 'out', 'out1');
SELECT des.run_end() IS NOT NULL AS ended;
SELECT try($$SELECT des.subscribe('trg-reader', 'gros://trg_mid')$$) AS self_cycle;
SELECT try($$SELECT des.subscribe('trg-reader', 'gros://trg_out')$$) AS long_cycle;
SELECT try($$SELECT des.subscribe('trg-back', 'gros://trg_out')$$) AS follows_own_output;
-- a read that would close a cycle warns and does not subscribe
SET client_min_messages = notice;
SELECT des.run_begin('trg-back') IS NOT NULL AS begun;
SELECT count(*) FROM des.files('gros://trg_out');
SELECT des.run_end() IS NOT NULL AS ended;
SET client_min_messages = warning;
SELECT count(*) AS back_follows_out FROM des.job_subscriptions WHERE job = 'trg-back' AND uri LIKE '%trg_out%';
SELECT des.unsubscribe('trg-back', 'gros://trg_mid') AS unsubscribed, des.unsubscribe('trg-back', 'gros://trg_mid') AS again;

-- chains: a commit made by a triggered run triggers downstream jobs, with
-- the chain; never the job itself, even when it follows what it commits to
DELETE FROM trg_seen;
SELECT des.job_create('trg-mirror', $$SELECT des.stage('trg_mid', 'main', 'copy.txt', convert_to($1->>'bundle_id', 'UTF8'));
                                       SELECT des.commit('trg_mid', 'main', 'mirrored ' || ($1->>'bundle_id'))$$);
SELECT des.subscribe('trg-mirror', 'gros://trg_up') AS mirror_follows_up;
SELECT des.subscribe('trg-copy', 'gros://trg_mid') AS copy_follows_mid;
SELECT trg_put('trg_up', 'a.txt', 'three', 'up3');
SELECT job, state FROM des.job_triggers WHERE state = 'pending' ORDER BY id;
SELECT trg_dispatch_one() AS d1;
SELECT trg_dispatch_one() AS d2;
SELECT trg_dispatch_one() AS d3;
SELECT trg_dispatch_one() AS d4;
SELECT job, CASE WHEN bundle = (SELECT bundle_id FROM des.resolve('gros://trg_mid')) THEN 'the mirror''s commit' ELSE trg_name(bundle) END AS bundle,
       upstream, chain FROM trg_seen ORDER BY upstream;
SELECT job, chain FROM des.job_triggers WHERE cardinality(chain) > 0 ORDER BY id;
SELECT try($$SELECT des.subscribe('trg-mirror', 'gros://trg_mid')$$) AS mirror_follows_its_output;

-- coalescing: versions that arrive while a run is pending fold into one run of the newest
DELETE FROM trg_seen;
SELECT des.job_drop('trg-mirror') AS mirror_dropped;
SELECT des.job_create('trg-copy', (SELECT action FROM des.jobs WHERE name = 'trg-copy'), "coalesce" => true) AS coalescing;
SELECT trg_put('trg_up', 'a.txt', 'four', 'up4');
SELECT trg_put('trg_up', 'a.txt', 'five', 'up5');
SELECT trg_put('trg_up', 'a.txt', 'six', 'up6');
SELECT trg_dispatch_one() AS one_run;
SELECT trg_dispatch_one() AS nothing_left;
SELECT job, trg_name(bundle) AS bundle, (SELECT array_agg(trg_name(c.v) ORDER BY c.n) FROM jsonb_array_elements_text(coalesced) WITH ORDINALITY c(v, n)) AS folded
  FROM trg_seen;
SELECT trg_name(encode(bundle_id, 'hex')) AS bundle, state, trg_name(encode((SELECT i.bundle_id FROM des.job_triggers i WHERE i.id = t.coalesced_into), 'hex')) AS into
  FROM des.job_triggers t WHERE job = 'trg-copy' AND repo_id = (SELECT id FROM des.repositories WHERE name = 'trg_up')
   AND state <> 'done' OR state = 'coalesced' ORDER BY id;
SELECT job, pending, done, coalesced, dead, notified FROM des.stat_triggers WHERE job LIKE 'trg-%' ORDER BY job;

-- failures: retried after a backoff, then the dead letters; des.trigger_retry brings them back
SELECT des.job_create('trg-fail', $$SELECT 1 / 0$$);
SELECT des.job_run('trg-fail', '{"why": "test"}') IS NOT NULL AS requested;
SELECT trg_dispatch_one() AS attempt1;
SELECT state, attempts, not_before > now() AS backing_off, last_error FROM des.job_triggers WHERE job = 'trg-fail';
SELECT trg_dispatch_one() AS while_backing_off;
SELECT (SELECT next_due_ms FROM des_internal.trigger_claim(3)) > 0 AS next_due_known;
UPDATE des.job_triggers SET not_before = now() WHERE job = 'trg-fail';
SELECT trg_dispatch_one() AS attempt2;
UPDATE des.job_triggers SET not_before = now() WHERE job = 'trg-fail';
SELECT trg_dispatch_one() AS attempt3;
SELECT state, attempts FROM des.job_triggers WHERE job = 'trg-fail';
SELECT job, attempts, error FROM des.trigger_dead_letters;
SELECT state, error FROM des.runs WHERE job = 'trg-fail' ORDER BY started_at;
SELECT des.trigger_retry() AS retried;
SELECT state, attempts FROM des.job_triggers WHERE job = 'trg-fail';
SELECT count(*) AS dead_letters FROM des.trigger_dead_letters;
SELECT des.job_create('trg-fail', $$SELECT ($1->'payload'->>'why')::text$$) IS NOT NULL AS fixed;
SELECT trg_dispatch_one() AS after_fix;

-- a claim whose dispatcher is gone is taken back; one claimed too often is dead
SELECT des.job_run('trg-copy') IS NOT NULL AS requested;
UPDATE des.job_triggers SET state = 'running', attempts = 1, claimed_pid = 999999, claimed_backend_start = now()
 WHERE job = 'trg-copy' AND kind = 'request';
SELECT trg_dispatch_one() AS stale_taken_back;
SELECT des.job_run('trg-copy') IS NOT NULL AS requested;
UPDATE des.job_triggers SET state = 'running', attempts = 3, claimed_pid = 999999, claimed_backend_start = now()
 WHERE job = 'trg-copy' AND kind = 'request' AND state = 'pending';
SELECT trg_dispatch_one() AS poison;
SELECT state, attempts, last_error FROM des.job_triggers WHERE job = 'trg-copy' AND kind = 'request' ORDER BY id;

-- others' jobs: not visible, not changeable
CREATE ROLE trg_stranger;
SET ROLE trg_stranger;
SELECT count(*) AS jobs_seen FROM des.stat_triggers WHERE has_action;
SELECT count(*) AS triggers_seen FROM des.job_triggers;
SELECT count(*) AS subscriptions_seen FROM des.job_subscriptions;
SELECT try($$SELECT des.job_create('trg-copy', 'SELECT 2')$$) AS redefine_others;
SELECT try($$SELECT des.job_run('trg-copy')$$) AS run_others;
SELECT try($$SELECT des.subscribe('trg-mine', 'gros://trg_up')$$) AS follow_unreadable;
SELECT des.trigger_retry() AS retried_none;
SELECT try($$SELECT des_internal.trigger_claim(3)$$) AS claim;
SELECT try($$SELECT des.wake_dispatchers()$$) AS wake;
RESET ROLE;
DROP ROLE trg_stranger;

-- the job's runs stay in the graph after des.job_drop; its subscriptions go
SELECT des.job_drop('trg-copy') AS dropped;
SELECT name, action IS NULL AS no_action FROM des.jobs WHERE name = 'trg-copy';
SELECT count(*) AS subscriptions_left FROM des.job_subscriptions WHERE job = 'trg-copy';

SELECT des.repo_delete('trg_up'), des.repo_delete('trg_mid'), des.repo_delete('trg_out');
DELETE FROM des.jobs WHERE name LIKE 'trg-%';
SELECT count(*) AS triggers_left FROM des.job_triggers;
DROP TABLE trg_seen;
DROP FUNCTION trg_dispatch_one();
DROP FUNCTION trg_put(text, text, text, text);
DROP FUNCTION trg_name(text);
