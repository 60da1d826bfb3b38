#!/bin/bash
# OpenLineage events against the published schema: makes runs (completed,
# failed, aborted; inputs by every kind of tag, outputs, a run that
# touched nothing), takes des.openlineage_events() as JSON lines and checks
# each with validate.js (ajv, JSON Schema 2020-12, formats); then checks
# that broken copies of those events are rejected, so the check can fail.
# Then the push (des.openlineage_url): a local receiver (receiver.js, on
# 127.0.0.1) gets each new run's events from the trigger dispatcher, valid
# and each once; it refuses the first requests (retried with backoff); an
# endpoint that is down sends the events to the dead letters, and
# des.openlineage_retry() sends them again; the bearer token (from
# des.openlineage_token_file) is sent, and is in no setting, error or log.
# Run inside a server with pg_des preloaded (tools/test.sh starts one with
# pg_virtualenv; the dispatcher serves database postgres). Prints
# "openlineage: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")"
export PGDATABASE=postgres
[ -d node_modules/ajv ] || npm ci --no-audit --no-fund --loglevel=error >&2
work=$(mktemp -d /tmp/pg_des_openlineage.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_des;
SELECT des.repo_create('ol_raw'), des.repo_create('ol_clean'), des.repo_create('ol_report');
SELECT des.stage('ol_raw', 'main', 'sales.csv', convert_to('day,amount' || chr(10) || '1,10' || chr(10), 'UTF8'));
SELECT des.commit('ol_raw', 'main', 'raw 1');
SELECT des.label_set('ol_raw', 'first', 'gros://ol_raw');
SELECT des.stage('ol_raw', 'main', 'sales.csv', convert_to('day,amount' || chr(10) || '2,20' || chr(10), 'UTF8'));
SELECT des.commit('ol_raw', 'main', 'raw 2');
SELECT des.branch_create('ol_raw', 'feature/q1', 'gros://ol_raw');
-- the files of ol_raw's head profiled: its input datasets carry a schema facet
SELECT des.discoverer_create('ol_files', 'bundle', '{"repo": "ol_raw"}');
SELECT * FROM des.discover('ol_files');
SELECT des.profile_now('ol_files.ol_raw/sales.csv') IS NOT NULL;
-- completed: reads by every kind of tag, writes clean
SELECT des.run_begin('ol clean');
SELECT count(*) FROM des.files('gros://ol_raw');
SELECT count(*) FROM des.files('gros://ol_raw/main:latest');
SELECT count(*) FROM des.files('gros://ol_raw/main:0');
SELECT count(*) FROM des.files('gros://ol_raw:first');
SELECT count(*) FROM des.files('gros://ol_raw/feature%2Fq1');
SELECT des.stage('ol_clean', 'main', 'sales.csv', 'cleaned');
SELECT des.commit('ol_clean', 'main', 'clean 1');
SELECT des.run_end();
-- failed after committing
SELECT des.run_begin('ol report');
SELECT count(*) FROM des.files('gros://ol_clean');
SELECT des.stage('ol_report', 'main', 'r.txt', 'report');
SELECT des.commit('ol_report', 'main', 'report 1');
SELECT des.run_fail('the "printer" is on fire');
-- a run that touched nothing
SELECT des.run_begin('ol idle');
SELECT des.run_end();
-- its session ends without ending it: aborted (by the dispatcher when idle, or here)
SELECT des.run_begin('ol running');
SELECT count(*) FROM des.files('gros://ol_report');
SQL
psql -X -q -At -v ON_ERROR_STOP=1 -c "SELECT des_internal.runs_reap()" >/dev/null
psql -X -At -v ON_ERROR_STOP=1 -c "SELECT event FROM des.openlineage_events() ORDER BY event_time, run_id, event_type DESC" >"$work/events.jsonl"
# broken copies: each breaks one rule of the schema or of a facet's schema
psql -X -At -v ON_ERROR_STOP=1 >"$work/broken.jsonl" <<'SQL'
WITH e AS (SELECT event FROM des.openlineage_events() WHERE event_type = 'COMPLETE' AND event->'job'->>'name' = 'ol clean')
SELECT x FROM e, LATERAL (VALUES
    (e.event #- '{run,runId}'),                                           -- a run without its id
    (jsonb_set(e.event, '{run,runId}', '"not-a-uuid"')),                  -- an id that is no UUID
    (jsonb_set(e.event, '{eventType}', '"FINISHED"')),                    -- no such event type
    (jsonb_set(e.event, '{eventTime}', '"yesterday"')),                   -- no date-time
    (e.event #- '{job,namespace}'),                                       -- a job without its namespace
    (e.event #- '{inputs,0,facets,version,datasetVersion}'),              -- a version facet without the version
    (e.event #- '{inputs,0,facets,dataSource,_producer}'),                -- a facet without its producer
    (jsonb_set(e.event, '{outputs,0,facets,dataSource,uri}', '"not a uri"')),  -- a data source whose URI is none
    (e.event #- '{job,facets,jobType,integration}'),                      -- a job type without its integration
    (jsonb_set(e.event, ARRAY['inputs', (SELECT (o - 1)::text FROM jsonb_array_elements(e.event->'inputs') WITH ORDINALITY x(i, o)
                                         WHERE i->'facets' ? 'schema' LIMIT 1), 'facets', 'schema', 'fields', '0', 'ordinal_position'],
               '"first"'))                                                 -- a schema field position that is no integer
) AS b(x);
SQL
n_events=$(wc -l <"$work/events.jsonl")
echo "openlineage: $n_events events from des.openlineage_events()" >&2
pass=0
fail=0
out=$(node validate.js "$work/events.jsonl" || true)
echo "$out" | sed 's/^/  /' >&2
p=$(echo "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p')
pass=$((pass + ${p% *})); fail=$((fail + ${p#* }))
out=$(node validate.js --expect-invalid "$work/broken.jsonl" || true)
echo "$out" | sed 's/^/  /' >&2
p=$(echo "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p')
pass=$((pass + ${p% *})); fail=$((fail + ${p#* }))
# what the events must say, beyond the schema
check() {
	if [ "$(psql -X -At -c "$2")" = t ]; then pass=$((pass + 1)); echo "  ok - $1" >&2
	else fail=$((fail + 1)); echo "  not ok - $1" >&2; fi
}
check "8 events: START for each of 4 runs, COMPLETE for two, FAIL for one, ABORT for the one whose session ended" \
	"SELECT string_agg(event_type, ',' ORDER BY event_type) = 'ABORT,COMPLETE,COMPLETE,FAIL,START,START,START,START' FROM des.openlineage_events()"
check "the completed run's inputs: raw/main at two versions and feature/q1 (every tag kind), ol_raw by label" \
	"SELECT jsonb_array_length(event->'inputs') = 4 FROM des.openlineage_events() WHERE event_type = 'COMPLETE' AND event->'job'->>'name' = 'ol clean'"
check "its output carries the committed bundle as its version" \
	"SELECT event->'outputs'->0->'facets'->'version'->>'datasetVersion' = (SELECT bundle_id FROM des.resolve('gros://ol_clean')) FROM des.openlineage_events() WHERE event_type = 'COMPLETE' AND event->'job'->>'name' = 'ol clean'"
check "a profiled version's input carries a schema facet: its CSV file's columns and types" \
	"SELECT string_agg(f->>'name' || ':' || (f->>'type') || ':' || (f->>'ordinal_position'), ',') = 'day:Integer:1,amount:Integer:2'
	   FROM des.openlineage_events() e, jsonb_array_elements(e.event->'inputs') i, jsonb_array_elements(i->'facets'->'schema'->'fields') f
	  WHERE e.event_type = 'COMPLETE' AND e.event->'job'->>'name' = 'ol clean' AND i->>'name' = 'ol_raw/main'
	    AND i->'facets'->'version'->>'datasetVersion' = (SELECT bundle_id FROM des.resolve('gros://ol_raw'))"
check "the failed run carries its error message" \
	"SELECT event->'run'->'facets'->'errorMessage'->>'message' = 'the \"printer\" is on fire' FROM des.openlineage_events() WHERE event_type = 'FAIL'"
check "since the FAIL: the idle run's START and COMPLETE, the abandoned run's START and ABORT" \
	"SELECT string_agg(event_type || ' ' || (event->'job'->>'name'), ',' ORDER BY event_time) = 'START ol idle,COMPLETE ol idle,START ol running,ABORT ol running'
	   FROM des.openlineage_events((SELECT max(event_time) FROM des.openlineage_events() WHERE event_type = 'FAIL'))"
# ---- the push ----
receiver_pid=
stop_receiver() { [ -n "$receiver_pid" ] && kill "$receiver_pid" 2>/dev/null; wait "$receiver_pid" 2>/dev/null || true; receiver_pid=; }
trap 'stop_receiver; rm -rf "$work"' EXIT
start_receiver() {	# start_receiver <fail first n>: sets port
	: >"$work/receiver.out"
	OUT_FILE="$work/received.jsonl" FAIL_FIRST="$1" EXPECT_TOKEN=ol-secret-token PORT="${port:-0}" \
		node receiver.js >"$work/receiver.out" 2>&1 &
	receiver_pid=$!
	for _ in $(seq 1 100); do grep -q '^listening' "$work/receiver.out" && break; sleep 0.1; done
	port=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$work/receiver.out")
}
wait_for() {	# wait_for <sql that becomes true> (30 s)
	for _ in $(seq 1 300); do [ "$(psql -X -At -c "$1")" = t ] && return 0; sleep 0.1; done
	return 1
}
: >"$work/received.jsonl"
printf 'ol-secret-token\n' >"$work/token"
chmod 644 "$work/token"
start_receiver 2
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
ALTER SYSTEM SET des.openlineage_url = 'http://127.0.0.1:$port/api/v1/lineage';
ALTER SYSTEM SET des.openlineage_token_file = '$work/token';
ALTER SYSTEM SET des.trigger_retry_base = '100ms';
SELECT pg_reload_conf();
SQL
sleep 0.5
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SET client_min_messages = warning;
SELECT des.run_begin('ol pushed');
SELECT count(*) FROM des.files('gros://ol_clean');
SELECT des.stage('ol_report', 'main', 'pushed.txt', 'pushed');
SELECT des.commit('ol_report', 'main', 'pushed');
SELECT des.run_end();
SELECT des.run_begin('ol pushed fails');
SELECT des.run_fail('pushed failure');
SQL
if wait_for "SELECT count(*) = 0 FROM des.openlineage_outbox"; then
	pass=$((pass + 1)); echo "  ok - the dispatcher sent the outbox (past two refusals)" >&2
else
	fail=$((fail + 1)); echo "  not ok - the outbox is not empty: $(psql -X -At -c 'SELECT run_id, event_type, attempts, last_error FROM des.openlineage_outbox')" >&2
fi
n_received=$(wc -l <"$work/received.jsonl")
psql -X -At -v ON_ERROR_STOP=1 -c "SELECT event FROM des.openlineage_events() WHERE event->'job'->>'name' LIKE 'ol pushed%' ORDER BY 1::text" \
	| python3 -c 'import sys, json; [print(json.dumps(json.loads(l), sort_keys=True)) for l in sys.stdin]' | sort >"$work/expected.sorted"
python3 -c 'import sys, json; [print(json.dumps(json.loads(l), sort_keys=True)) for l in sys.stdin]' <"$work/received.jsonl" | sort >"$work/received.sorted"
if [ "$n_received" = 4 ] && cmp -s "$work/expected.sorted" "$work/received.sorted"; then
	pass=$((pass + 1)); echo "  ok - the receiver got the 4 events of the two runs, each once, as des.openlineage_events() gives them" >&2
else
	fail=$((fail + 1)); echo "  not ok - the receiver got $n_received events:" >&2; diff "$work/expected.sorted" "$work/received.sorted" | head -20 >&2 || true
fi
out=$(node validate.js "$work/received.jsonl" || true)
p=$(echo "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p')
pass=$((pass + ${p% *})); fail=$((fail + ${p#* }))
echo "$out" | sed 's/^/  received: /' >&2
# the endpoint goes down: after des.trigger_max_attempts (2 here) the events are dead letters
stop_receiver
if grep -q '^receiver: 6 requests$' "$work/receiver.out"; then
	pass=$((pass + 1)); echo "  ok - 6 requests for 4 events: the 2 refused were sent again (with the token: the receiver wants it)" >&2
else
	fail=$((fail + 1)); echo "  not ok - the receiver says: $(cat "$work/receiver.out")" >&2
fi
check "nothing went to the dead letters" "SELECT count(*) = 0 FROM des.openlineage_dead_letters"
psql -X -q -v ON_ERROR_STOP=1 -c "ALTER SYSTEM SET des.trigger_max_attempts = 2" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
psql -X -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" -c "SELECT des.run_begin('ol lost')" -c "SELECT des.run_end()" >/dev/null
if wait_for "SELECT count(*) = 2 FROM des.openlineage_dead_letters"; then
	pass=$((pass + 1)); echo "  ok - with the endpoint down, the run's two events went to the dead letters after 2 attempts" >&2
else
	fail=$((fail + 1)); echo "  not ok - dead letters: $(psql -X -At -c 'SELECT count(*) FROM des.openlineage_dead_letters'), outbox: $(psql -X -At -c 'SELECT attempts, last_error FROM des.openlineage_outbox')" >&2
fi
check "the dead letters say why, and keep the event" \
	"SELECT bool_and(error LIKE 'could not send the event:%' AND event->'job'->>'name' = 'ol lost') FROM des.openlineage_dead_letters"
start_receiver 0
check "des.openlineage_retry() queues them again" "SELECT des.openlineage_retry() = 2"
if wait_for "SELECT count(*) = 0 FROM des.openlineage_outbox" && [ "$(grep -c '"ol lost"' "$work/received.jsonl")" = 2 ]; then
	pass=$((pass + 1)); echo "  ok - the endpoint back, they are sent" >&2
else
	fail=$((fail + 1)); echo "  not ok - after the retry the receiver has $(grep -c '"ol lost"' "$work/received.jsonl") events of the lost run" >&2
fi
check "the bearer token is in no error" \
	"SELECT NOT EXISTS (SELECT FROM des.openlineage_dead_letters WHERE error LIKE '%ol-secret-token%') AND NOT EXISTS (SELECT FROM des.openlineage_outbox WHERE last_error LIKE '%ol-secret-token%')"
logfile=$(psql -X -At -c "SELECT pg_current_logfile()" 2>/dev/null || true)
if ! grep -rqs 'ol-secret-token' /var/log/postgresql/ "${logfile:-/nonexistent}"; then
	pass=$((pass + 1)); echo "  ok - the bearer token is not in the server log" >&2
else
	fail=$((fail + 1)); echo "  not ok - the bearer token is in the server log" >&2
fi
check "no setting holds the token" \
	"SELECT count(*) = 0 FROM pg_settings WHERE setting LIKE '%ol-secret-token%'"
psql -X -q -c "ALTER SYSTEM RESET des.openlineage_url" -c "ALTER SYSTEM RESET des.openlineage_token_file" \
	-c "ALTER SYSTEM RESET des.trigger_max_attempts" -c "ALTER SYSTEM RESET des.trigger_retry_base" -c "SELECT pg_reload_conf()" >/dev/null
stop_receiver
echo "openlineage: $pass passed, $fail failed"
