#!/usr/bin/env node
'use strict';
// A small SigV4-signing S3 client (signer: @smithy/signature-v4), used by
// start.sh to create buckets and by selftest.js. Also handy by hand:
//
//   node s3client.js METHOD /bucket/key [options]
//     -q, --query 'a=1&b'     raw query string (values are re-encoded canonically)
//     -H, --header 'k: v'     extra header (repeatable; signed)
//     -d, --data STRING|@FILE request body
//     -o, --out FILE          write the response body to FILE instead of stdout
//     --unsigned              x-amz-content-sha256: UNSIGNED-PAYLOAD
//     --ok 200,409            statuses to treat as success (default: any 2xx)
//     -i                      print status and headers to stderr
//   Credentials: S3_ACCESS_KEY / S3_SECRET_KEY / S3_SESSION_TOKEN, else the
//   first entry of S3_TEST_CREDENTIALS (or the default test key).
//   Endpoint: http://127.0.0.1:${S3_PROXY_PORT:-59001}; region ${S3_REGION:-us-east-1}.

const http = require('http');
const crypto = require('crypto');
const fs = require('fs');
const {
  makeSigner,
  parseRawQuery,
  encodeRfc3986,
  encodeKey,
  parseCredentials,
  DEFAULT_CREDENTIALS,
} = require('./sigv4-common');

function defaultCredentials() {
  if (process.env.S3_ACCESS_KEY && process.env.S3_SECRET_KEY) {
    return { accessKeyId: process.env.S3_ACCESS_KEY, secretAccessKey: process.env.S3_SECRET_KEY, sessionToken: process.env.S3_SESSION_TOKEN || null };
  }
  const [ak, { secret, token }] = parseCredentials(process.env.S3_TEST_CREDENTIALS || DEFAULT_CREDENTIALS).entries().next().value;
  return { accessKeyId: ak, secretAccessKey: secret, sessionToken: token };
}

// Canonical wire form of a query object: sorted, RFC 3986 encoded.
function queryString(query) {
  const pairs = [];
  for (const k of Object.keys(query)) {
    for (const v of [].concat(query[k])) pairs.push(v === '' ? encodeRfc3986(k) : `${encodeRfc3986(k)}=${encodeRfc3986(v)}`);
  }
  return pairs.sort().join('&');
}

/**
 * Sign and send one request. Options:
 *   method, path (already encoded; see encodeKey), query (object or raw string),
 *   headers, body (Buffer|string), credentials {accessKeyId, secretAccessKey, sessionToken},
 *   region, unsignedPayload, payloadHash (override), signingDate (Date),
 *   tamper (function Buffer -> Buffer applied to the body after signing),
 *   port, timeoutMs.
 * Resolves { status, headers, body: Buffer, ms }.
 */
async function s3request(opts) {
  const port = Number(opts.port || process.env.S3_PROXY_PORT || 59001);
  const method = (opts.method || 'GET').toUpperCase();
  const path = opts.path || '/';
  const query = typeof opts.query === 'string' ? parseRawQuery(opts.query) : (opts.query || {});
  const creds = opts.credentials || defaultCredentials();
  const region = opts.region || process.env.S3_REGION || 'us-east-1';
  let body = opts.body === undefined || opts.body === null ? Buffer.alloc(0) : Buffer.from(opts.body);
  const headers = { host: `127.0.0.1:${port}` };
  for (const [k, v] of Object.entries(opts.headers || {})) headers[k.toLowerCase()] = String(v);
  headers['x-amz-content-sha256'] = opts.payloadHash
    || (opts.unsignedPayload ? 'UNSIGNED-PAYLOAD' : crypto.createHash('sha256').update(body).digest('hex'));
  if (creds.sessionToken) headers['x-amz-security-token'] = creds.sessionToken;
  if (body.length || ['PUT', 'POST'].includes(method)) headers['content-length'] = String(body.length);

  const signer = makeSigner({ accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, region });
  const signed = await signer.sign(
    { method, protocol: 'http:', hostname: '127.0.0.1', port, path, query, headers },
    { signingDate: opts.signingDate || new Date() },
  );
  if (opts.tamper) body = opts.tamper(body);
  const qs = queryString(query);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      method,
      path: qs ? `${path}?${qs}` : path,
      headers: signed.headers,
    });
    if (opts.timeoutMs) {
      req.setTimeout(opts.timeoutMs, () => req.destroy(Object.assign(new Error(`timeout after ${opts.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    }
    req.on('error', reject);
    req.on('response', res => {
      const out = opts.outFile ? fs.createWriteStream(opts.outFile) : null;
      const chunks = [];
      res.on('data', c => (out ? out.write(c) : chunks.push(c)));
      res.on('end', () => {
        const done = () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), ms: Date.now() - started });
        if (out) out.end(done);
        else done();
      });
      res.on('error', reject);
    });
    req.end(body);
  });
}

// Tiny XML helpers for S3's responses.
function xmlValue(xml, tag) {
  const m = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(String(xml));
  return m ? m[1] : null;
}
function xmlValues(xml, tag) {
  const re = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g');
  const out = [];
  let m;
  while ((m = re.exec(String(xml)))) out.push(m[1]);
  return out;
}

async function main(argv) {
  const args = { headers: {}, ok: null };
  const pos = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '-q' || a === '--query') args.query = next();
    else if (a === '-H' || a === '--header') {
      const h = next();
      const c = h.indexOf(':');
      args.headers[h.slice(0, c).trim()] = h.slice(c + 1).trim();
    } else if (a === '-d' || a === '--data') {
      const d = next();
      args.body = d.startsWith('@') ? fs.readFileSync(d.slice(1)) : Buffer.from(d);
    } else if (a === '-o' || a === '--out') args.outFile = next();
    else if (a === '--unsigned') args.unsignedPayload = true;
    else if (a === '--ok') args.ok = next().split(',').map(Number);
    else if (a === '-i') args.verbose = true;
    else if (a === '-h' || a === '--help') {
      console.log(fs.readFileSync(__filename, 'utf8').split('\n').slice(2, 18).map(l => l.replace(/^\/\/ ?/, '')).join('\n'));
      return 0;
    } else pos.push(a);
  }
  if (pos.length !== 2) throw new Error('usage: s3client.js METHOD /bucket/key [options]  (--help)');
  const [method, p] = pos;
  const res = await s3request({ method, path: p, query: args.query, headers: args.headers, body: args.body, unsignedPayload: args.unsignedPayload, outFile: args.outFile });
  if (args.verbose) {
    process.stderr.write(`HTTP ${res.status}\n`);
    for (const [k, v] of Object.entries(res.headers)) process.stderr.write(`${k}: ${v}\n`);
  }
  if (!args.outFile) process.stdout.write(res.body);
  const good = args.ok ? args.ok.includes(res.status) : res.status >= 200 && res.status < 300;
  if (!good) process.stderr.write(`s3client: ${method} ${p} -> HTTP ${res.status} ${xmlValue(res.body, 'Code') || ''}\n`);
  return good ? 0 : 1;
}

module.exports = { s3request, encodeKey, encodeRfc3986, queryString, xmlValue, xmlValues, defaultCredentials };

if (require.main === module) {
  main(process.argv.slice(2)).then(
    code => process.exit(code),
    err => {
      process.stderr.write(`s3client: ${err.message}\n`);
      process.exit(2);
    },
  );
}
