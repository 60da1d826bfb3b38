#!/bin/bash
# OpenLineage events against the published schema: makes runs (completed,
# failed, still running; inputs by every kind of tag, outputs, a run that
# touched nothing), takes des.openlineage_events() as JSON lines and checks
# each with validate.js (ajv, JSON Schema 2020-12, formats); then checks
# that broken copies of those events are rejected, so the check can fail.
# Run inside a server with pg_des installed (tools/test.sh starts one with
# pg_virtualenv). Prints "openlineage: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")"
[ -d node_modules/ajv ] || npm ci --no-audit --no-fund --loglevel=error >&2
work=$(mktemp -d /tmp/pg_des_openlineage.XXXXXX)
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
-- still running (this session ends; its START is all there is)
SELECT des.run_begin('ol running');
SELECT count(*) FROM des.files('gros://ol_report');
SQL
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
    (e.event #- '{job,facets,jobType,integration}')                       -- a job type without its integration
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
check "7 events: START for each of 4 runs, COMPLETE for two, FAIL for one, none for the running one" \
	"SELECT string_agg(event_type, ',' ORDER BY event_type) = 'COMPLETE,COMPLETE,FAIL,START,START,START,START' FROM des.openlineage_events()"
check "the completed run's inputs: raw/main at two versions and feature/q1 (every tag kind), ol_raw by label" \
	"SELECT jsonb_array_length(event->'inputs') = 4 FROM des.openlineage_events() WHERE event_type = 'COMPLETE' AND event->'job'->>'name' = 'ol clean'"
check "its output carries the committed bundle as its version" \
	"SELECT event->'outputs'->0->'facets'->'version'->>'datasetVersion' = (SELECT bundle_id FROM des.resolve('gros://ol_clean')) FROM des.openlineage_events() WHERE event_type = 'COMPLETE' AND event->'job'->>'name' = 'ol clean'"
check "the failed run carries its error message" \
	"SELECT event->'run'->'facets'->'errorMessage'->>'message' = 'the \"printer\" is on fire' FROM des.openlineage_events() WHERE event_type = 'FAIL'"
check "since the FAIL: the idle run's START and COMPLETE and the running run's START" \
	"SELECT string_agg(event_type || ' ' || (event->'job'->>'name'), ',' ORDER BY event_time) = 'START ol idle,COMPLETE ol idle,START ol running'
	   FROM des.openlineage_events((SELECT max(event_time) FROM des.openlineage_events() WHERE event_type = 'FAIL'))"
echo "openlineage: $pass passed, $fail failed"
