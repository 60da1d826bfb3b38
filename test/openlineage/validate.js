// Validate OpenLineage events (one JSON object per line of the file given)
// against the published schemas in schema/: each event against the run
// event of OpenLineage.json, and each facet that names a schema we keep
// (its _schemaURL) against that facet's own schema. Prints one line per
// check ("ok" or "not ok" with ajv's errors), then "N passed, N failed".
// With --expect-invalid, every event must FAIL (the validator's own check).
'use strict';
const fs = require('fs');
const path = require('path');
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default;

const args = process.argv.slice(2);
const expectInvalid = args.includes('--expect-invalid');
const file = args.find((a) => !a.startsWith('--'));
if (!file) {
  console.error('usage: node validate.js [--expect-invalid] events.jsonl');
  process.exit(2);
}

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
const schemaDir = path.join(__dirname, 'schema');
for (const f of fs.readdirSync(schemaDir).filter((f) => f.endsWith('.json'))) {
  ajv.addSchema(JSON.parse(fs.readFileSync(path.join(schemaDir, f), 'utf8')));
}
const core = JSON.parse(fs.readFileSync(path.join(schemaDir, 'OpenLineage.json'), 'utf8'));
const runEvent = ajv.getSchema(core.$id + '#/$defs/RunEvent');

// every facet object of an event: run, job and dataset facets
function facetsOf(event) {
  const out = [];
  const add = (where, facets) => {
    for (const [name, facet] of Object.entries(facets || {})) out.push([`${where}.${name}`, facet]);
  };
  add('run.facets', event.run && event.run.facets);
  add('job.facets', event.job && event.job.facets);
  for (const dir of ['inputs', 'outputs']) {
    (event[dir] || []).forEach((d, i) => add(`${dir}[${i}].facets`, d.facets));
  }
  return out;
}

let passed = 0;
let failed = 0;
const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
lines.forEach((line, n) => {
  const event = JSON.parse(line);
  const problems = [];
  if (!runEvent(event)) problems.push(ajv.errorsText(runEvent.errors));
  for (const [where, facet] of facetsOf(event)) {
    const url = facet && facet._schemaURL;
    const check = url && ajv.getSchema(url);
    if (!check) {
      problems.push(`${where}: no schema kept for ${url}`);
    } else if (!check(facet)) {
      problems.push(`${where}: ${ajv.errorsText(check.errors)}`);
    }
  }
  const what = `event ${n + 1} (${event.eventType || '?'} of ${(event.job && event.job.name) || '?'})`;
  const valid = problems.length === 0;
  if (valid !== expectInvalid) {
    passed++;
    console.log(`ok - ${what} ${valid ? 'is valid' : 'is rejected: ' + problems.join('; ')}`);
  } else {
    failed++;
    console.log(`not ok - ${what} ${valid ? 'is valid but should not be' : problems.join('; ')}`);
  }
});
if (lines.length === 0) {
  failed++;
  console.log('not ok - no events to check');
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
