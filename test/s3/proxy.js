'use strict';
// SigV4-verifying front for s3rver, for pg_des's S3 tests.
//
// Listens on 127.0.0.1:${S3_PROXY_PORT:-59001}, path-style addressing
// (http://127.0.0.1:59001/bucket/key). Every S3 request must carry a valid
// AWS4-HMAC-SHA256 Authorization header; the signature is recomputed with
// @smithy/signature-v4 over the request as received and rejected the way S3
// rejects it (see verify()). Good requests go, unchanged apart from hop-by-hop
// headers, to s3rver on 127.0.0.1:${S3RVER_PORT:-59000}, which knows the same
// access keys (s3rver-run.js registers them, since s3rver refuses unknown keys
// but never checks V4 signatures itself).
//
// Environment:
//   S3_TEST_CREDENTIALS  ACCESS:SECRET[:SESSION_TOKEN],...  (default pgdes-test-key:pgdes-test-secret)
//   S3_REGION            region the credential scope must name (default us-east-1; '*' = any)
//   S3_DATA_DIR          s3rver's data directory (for the multipart shims below)
//   S3_PROXY_DEBUG=1     log canonical requests of rejected signatures
//
// Where s3rver 3.7.1 falls short of S3, the proxy answers itself (after
// verifying the signature), so that pg_des meets S3's behaviour:
//   - AbortMultipartUpload (DELETE ?uploadId): s3rver answers 405; the proxy
//     removes the upload's directory and answers 204, or 404 NoSuchUpload.
//   - ListMultipartUploads (GET /bucket?uploads): s3rver does not list them;
//     the proxy reads s3rver's upload directories (their key files; the
//     initiation time is the directory's mtime) and answers S3's XML, with
//     prefix, key-marker / upload-id-marker and max-uploads paging.
//   - UploadPart / CompleteMultipartUpload on an unknown upload: 404 NoSuchUpload
//     (s3rver would silently create it).
//   - CompleteMultipartUpload is checked like S3 does: InvalidPart for a part
//     not uploaded or with another ETag, InvalidPartOrder, EntityTooSmall for a
//     part under 5 MiB other than the last.
//   - Content-MD5 is checked (InvalidDigest, BadDigest); s3rver ignores it.
//   - Suffix ranges (Range: bytes=-N, the last N bytes): s3rver serves bytes
//     0-N instead; the proxy asks s3rver for the size and rewrites the Range
//     to the absolute bytes (bytes=-0 -> 416 InvalidRange, as S3).
//   - If-Match on GET/HEAD: s3rver ignores it; the proxy compares it with the
//     object's ETag and answers 412 PreconditionFailed on a mismatch.
//   - Request bodies are read whole (one copy, as chunks) before s3rver sees
//     them: s3rver keeps a truncated object when an upload is cut short, S3
//     stores nothing.
//   - STREAMING-* (aws-chunked) payloads are refused with 501 NotImplemented:
//     s3rver would store the chunk framing as object data.
//
// Control API (no signature; not counted in stats), same port:
//   POST /__control/fail?count=N&status=503&code=SlowDown[&kind=K1,K2][&skip=S]
//   POST /__control/stall?count=N&ms=M[&kind=...][&skip=S]   (ms=0: never answered)
//   POST /__control/reset                                   clear faults and counters
//   GET  /__control/stats                                   JSON counters
// kind filters which requests a fault applies to (the by_kind names below);
// skip lets that many matching requests through first. stats.rejected counts,
// by S3 error code, every error the proxy answered itself (not s3rver's own
// 404s etc., nor injected faults, which are in faults_injected).

const http = require('http');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { getCanonicalHeaders } = require('@smithy/signature-v4');
const {
  makeSigner,
  parseRawQuery,
  parseAmzDate,
  parseCredentials,
  DEFAULT_CREDENTIALS,
} = require('./sigv4-common');

const HOST = '127.0.0.1';
const PORT = Number(process.env.S3_PROXY_PORT || 59001);
const UPSTREAM_PORT = Number(process.env.S3RVER_PORT || 59000);
const REGION = process.env.S3_REGION || 'us-east-1';
const DATA_DIR = path.resolve(process.env.S3_DATA_DIR || path.join(__dirname, 'data'));
const DEBUG = process.env.S3_PROXY_DEBUG === '1';
const CREDENTIALS = parseCredentials(process.env.S3_TEST_CREDENTIALS || DEFAULT_CREDENTIALS);
const MAX_SKEW_MS = 15 * 60 * 1000;
const MIN_PART_SIZE = 5 * 1024 * 1024;
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'expect']);

const KINDS = ['get_range', 'get', 'head', 'put', 'multipart_create', 'multipart_upload_part',
  'multipart_complete', 'multipart_abort', 'delete', 'list', 'list_uploads', 'other'];

// ---------------------------------------------------------------- state

let stats;
let faults; // { fail: [...], stall: [...] } each { remaining, skip, kinds, ... }
const hung = new Set(); // requests stalled forever (ms=0)

function resetState() {
  stats = {
    requests: 0,
    by_method: {},
    by_kind: Object.fromEntries(KINDS.map(k => [k, 0])),
    rejected: {},
    faults_injected: 0,
    bytes_in: 0,
    bytes_out: 0,
  };
  faults = { fail: [], stall: [] };
  for (const req of hung) req.socket.destroy();
  hung.clear();
}
resetState();

// ---------------------------------------------------------------- helpers

function xmlEscape(s) {
  return String(s).replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' }[c]));
}

function errorXml(code, message, requestId, extra) {
  let x = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message>`;
  for (const [k, v] of Object.entries(extra || {})) x += `<${k}>${xmlEscape(v)}</${k}>`;
  x += `<RequestId>${requestId}</RequestId><HostId>${Buffer.from(requestId).toString('base64')}</HostId></Error>`;
  return x;
}

const DEFAULT_MESSAGES = {
  SlowDown: 'Please reduce your request rate.',
  InternalError: 'We encountered an internal error. Please try again.',
  ServiceUnavailable: 'Service is unable to handle request.',
  AccessDenied: 'Access Denied',
  NoSuchKey: 'The specified key does not exist.',
  NoSuchBucket: 'The specified bucket does not exist',
  NoSuchUpload: 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
  RequestTimeout: 'Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.',
};
const CODE_FOR_STATUS = { 500: 'InternalError', 503: 'SlowDown', 403: 'AccessDenied', 404: 'NoSuchKey', 400: 'InvalidRequest' };

function classify(method, rawPath, query, headers) {
  const segs = rawPath.split('/').filter(s => s !== '');
  const isObject = segs.length >= 2;
  const isBucket = segs.length === 1;
  switch (method) {
    case 'GET':
      if (isObject) {
        if ('uploadId' in query || 'acl' in query || 'tagging' in query) return 'other';
        return headers.range !== undefined ? 'get_range' : 'get';
      }
      if (isBucket && 'uploads' in query) return 'list_uploads';
      if (isBucket && !['uploads', 'location', 'cors', 'website', 'acl', 'versioning', 'policy', 'tagging'].some(q => q in query)) return 'list';
      return 'other';
    case 'HEAD':
      return 'head';
    case 'PUT':
      if (isObject && 'uploadId' in query && 'partNumber' in query) return 'multipart_upload_part';
      if (isObject && Object.keys(query).length === 0) return 'put';
      return 'other';
    case 'POST':
      if (isObject && 'uploads' in query) return 'multipart_create';
      if (isObject && 'uploadId' in query) return 'multipart_complete';
      return 'other';
    case 'DELETE':
      if (isObject && 'uploadId' in query) return 'multipart_abort';
      if (isObject) return 'delete';
      return 'other';
    default:
      return 'other';
  }
}

function takeFault(list, kind) {
  for (let i = 0; i < list.length; i++) {
    const f = list[i];
    if (f.kinds && !f.kinds.has(kind)) continue;
    if (f.skip > 0) {
      f.skip--;
      continue;
    }
    f.remaining--;
    if (f.remaining <= 0) list.splice(i, 1);
    return f;
  }
  return null;
}

// Header map from the raw headers: lower-case names, repeated headers joined
// with ',' as SigV4 canonicalisation wants.
function rawHeaderMap(req) {
  const m = Object.create(null);
  const r = req.rawHeaders;
  for (let i = 0; i < r.length; i += 2) {
    const k = r[i].toLowerCase();
    m[k] = k in m ? `${m[k]},${r[i + 1]}` : r[i + 1];
  }
  return m;
}

function hexBytes(s) {
  return Buffer.from(s, 'utf8').toString('hex').replace(/(..)(?!$)/g, '$1 ');
}

// ---------------------------------------------------------------- verification

// Returns { ok: true, accessKeyId } or { status, code, message, extra }.
async function verify(req, rawPath, query, headers) {
  const deny = (status, code, message, extra) => ({ status, code, message: message || DEFAULT_MESSAGES[code], extra });

  if ('X-Amz-Signature' in query || 'X-Amz-Algorithm' in query || 'Signature' in query) {
    return deny(403, 'AccessDenied', 'Presigned URLs are not supported by the pg_des test proxy');
  }
  const auth = headers.authorization;
  if (auth === undefined) return deny(403, 'AccessDenied', 'Access Denied');

  const m = /^(\S+)\s+(.*)$/s.exec(auth.trim());
  if (!m || m[1] !== 'AWS4-HMAC-SHA256') {
    if (m && m[1] === 'AWS') return deny(400, 'InvalidRequest', 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.');
    return deny(400, 'InvalidArgument', 'Unsupported Authorization Type', { ArgumentName: 'Authorization', ArgumentValue: auth });
  }
  const comp = {};
  for (const part of m[2].split(',')) {
    const t = part.trim();
    const eq = t.indexOf('=');
    if (eq > 0) comp[t.slice(0, eq)] = t.slice(eq + 1);
  }
  if (!comp.Credential || comp.SignedHeaders === undefined || !comp.Signature) {
    return deny(400, 'AuthorizationHeaderMalformed',
      'The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature.');
  }
  const cred = comp.Credential.split('/');
  if (cred.length !== 5 || cred[4] !== 'aws4_request') {
    return deny(400, 'AuthorizationHeaderMalformed',
      'The authorization header is malformed; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".');
  }
  const [accessKeyId, scopeDate, scopeRegion, scopeService] = cred;
  const account = CREDENTIALS.get(accessKeyId);
  if (!account) {
    return deny(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', { AWSAccessKeyId: accessKeyId });
  }

  const xAmzDate = headers['x-amz-date'];
  const signingDate = parseAmzDate(xAmzDate);
  if (!signingDate) return deny(403, 'AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  if (scopeDate !== xAmzDate.slice(0, 8)) {
    return deny(400, 'AuthorizationHeaderMalformed',
      `The authorization header is malformed; Invalid credential date "${scopeDate}". This date is not the same as X-Amz-Date: "${xAmzDate.slice(0, 8)}".`);
  }
  if (scopeService !== 's3') {
    return deny(400, 'AuthorizationHeaderMalformed',
      `The authorization header is malformed; incorrect service "${scopeService}". This endpoint belongs to "s3".`);
  }
  if (REGION !== '*' && scopeRegion !== REGION) {
    return deny(400, 'AuthorizationHeaderMalformed',
      `The authorization header is malformed; the region '${scopeRegion}' is wrong; expecting '${REGION}'`, { Region: REGION });
  }
  const now = new Date();
  if (Math.abs(now - signingDate) > MAX_SKEW_MS) {
    return deny(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', {
      RequestTime: xAmzDate,
      ServerTime: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      MaxAllowedSkewMilliseconds: MAX_SKEW_MS,
    });
  }

  const sha = headers['x-amz-content-sha256'];
  if (sha === undefined) return deny(400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  if (!/^[0-9a-f]{64}$/i.test(sha) && sha !== 'UNSIGNED-PAYLOAD' && !sha.startsWith('STREAMING-')) {
    return deny(400, 'InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid sha256 value.',
      { ArgumentName: 'x-amz-content-sha256', ArgumentValue: sha });
  }

  const signedList = comp.SignedHeaders.split(';').filter(h => h !== '');
  const signedSet = new Set(signedList);
  const notSigned = Object.keys(headers).filter(h => h.startsWith('x-amz-') && !signedSet.has(h)).sort();
  if (notSigned.length) {
    return deny(403, 'AccessDenied', 'There were headers present in the request which were not signed', { HeadersNotSigned: notSigned.join(', ') });
  }
  if (!signedSet.has('host')) {
    return deny(403, 'AccessDenied', 'Host header is not signed (SignedHeaders must include host)');
  }

  const tok = headers['x-amz-security-token'];
  if (account.token !== null && tok === undefined) {
    // a temporary key without its token is unknown to S3
    return deny(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', { AWSAccessKeyId: accessKeyId });
  }
  if (tok !== undefined && tok !== account.token) {
    return deny(400, 'InvalidToken', 'The provided token is malformed or otherwise invalid.');
  }

  // Recompute over exactly the signed headers, the raw path and the decoded query.
  const signedHeaders = {};
  for (const h of signedList) if (h in headers) signedHeaders[h] = headers[h];
  const request = {
    method: req.method,
    protocol: 'http:',
    hostname: HOST,
    path: rawPath,
    query,
    headers: signedHeaders,
  };
  const signer = makeSigner({ accessKeyId, secretAccessKey: account.secret, region: scopeRegion });
  const signed = await signer.sign(request, {
    signingDate,
    signableHeaders: signedSet,
    signingRegion: scopeRegion,
    signingService: scopeService,
  });
  const am = /SignedHeaders=([^,]*), Signature=([0-9a-f]+)/.exec(signed.headers.authorization);
  const expected = am[2];
  const provided = comp.Signature.toLowerCase();
  const sameHeaders = am[1] === signedList.join(';');
  const sameSig = provided.length === expected.length
    && crypto.timingSafeEqual(Buffer.from(provided), Buffer.from(expected));
  if (sameHeaders && sameSig) return { ok: true, accessKeyId };

  // Mismatch: report the canonical request and string to sign like S3 does.
  const withDate = { ...request, headers: { ...signedHeaders, 'x-amz-date': xAmzDate } };
  const canonicalHeaders = getCanonicalHeaders(withDate, undefined, signedSet);
  const canonicalRequest = signer.createCanonicalRequest(withDate, canonicalHeaders, sha);
  const scope = `${scopeDate}/${scopeRegion}/${scopeService}/aws4_request`;
  const stringToSign = await signer.createStringToSign(xAmzDate, scope, canonicalRequest, 'AWS4-HMAC-SHA256');
  if (DEBUG) {
    console.log(`--- SignatureDoesNotMatch for ${accessKeyId}; canonical request:\n${canonicalRequest}\n--- string to sign:\n${stringToSign}\n---`);
  }
  return deny(403, 'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.', {
      AWSAccessKeyId: accessKeyId,
      StringToSign: stringToSign,
      SignatureProvided: comp.Signature,
      StringToSignBytes: hexBytes(stringToSign),
      CanonicalRequest: canonicalRequest,
      CanonicalRequestBytes: hexBytes(canonicalRequest),
    });
}

// ---------------------------------------------------------------- request plumbing

// Read the whole body into a list of chunks (not concatenated: one copy only),
// hashing as it arrives.
function bufferBody(req, ctx, wantMd5) {
  return new Promise((resolve, reject) => {
    const sha = crypto.createHash('sha256');
    const md5 = wantMd5 ? crypto.createHash('md5') : null;
    const chunks = [];
    let length = 0;
    req.on('data', c => {
      chunks.push(c);
      length += c.length;
      ctx.bytesIn += c.length;
      stats.bytes_in += c.length;
      sha.update(c);
      if (md5) md5.update(c);
    });
    req.on('end', () => resolve({ chunks, length, sha256: sha.digest('hex'), md5: md5 ? md5.digest('base64') : null }));
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(new Error('client aborted'));
    });
  });
}

// Consume and count a body we will not use, then call back.
function drain(req, ctx) {
  return new Promise(resolve => {
    if (req.readableEnded || req.destroyed) return resolve();
    req.on('data', c => {
      ctx.bytesIn += c.length;
      stats.bytes_in += c.length;
    });
    req.on('end', resolve);
    req.on('close', resolve);
    req.on('error', resolve);
    req.resume();
  });
}

function logLine(ctx, status, verdict) {
  const ms = Date.now() - ctx.start;
  console.log(`${ctx.method} ${ctx.url.length > 120 ? ctx.url.slice(0, 117) + '...' : ctx.url} ${status} ${verdict} ${ms}ms`);
}

async function sendError(req, res, ctx, status, code, message, extra, verdict) {
  await drain(req, ctx);
  const body = Buffer.from(errorXml(code, message || DEFAULT_MESSAGES[code] || code, ctx.id, extra));
  if (!res.headersSent && !res.destroyed) {
    res.writeHead(status, {
      'Content-Type': 'application/xml',
      'Content-Length': body.length,
      'x-amz-request-id': ctx.id,
      'x-amz-id-2': Buffer.from(ctx.id).toString('base64'),
      Date: new Date().toUTCString(),
      Server: 'pg_des-s3-test-proxy',
    });
    if (req.method === 'HEAD') res.end();
    else {
      res.end(body);
      stats.bytes_out += body.length;
    }
  }
  logLine(ctx, status, verdict || code);
}

function sendEmpty(req, res, ctx, status, verdict) {
  res.writeHead(status, {
    'x-amz-request-id': ctx.id,
    'x-amz-id-2': Buffer.from(ctx.id).toString('base64'),
    Date: new Date().toUTCString(),
    Server: 'pg_des-s3-test-proxy',
  });
  res.end();
  logLine(ctx, status, verdict);
}

function forward(req, res, ctx, bodyChunks) {
  const headers = {};
  for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k)) headers[k] = v;
  const up = http.request({ host: HOST, port: UPSTREAM_PORT, method: req.method, path: req.url, headers, agent: upstreamAgent });
  up.on('response', ur => {
    const h = {};
    for (const [k, v] of Object.entries(ur.headers)) if (!HOP_BY_HOP.has(k)) h[k] = v;
    if (!h['x-amz-request-id']) h['x-amz-request-id'] = ctx.id;
    res.writeHead(ur.statusCode, h);
    ur.on('data', c => (stats.bytes_out += c.length));
    ur.pipe(res);
    ur.on('end', () => logLine(ctx, ur.statusCode, ur.statusCode < 400 ? 'ok' : `ok(s3rver:${ur.statusCode})`));
    ur.on('error', () => res.destroy());
  });
  up.on('error', err => {
    // Once s3rver has answered, a failure to send it the rest of the body (it
    // may answer early, e.g. NoSuchBucket) is not the client's concern; a
    // broken response stream is handled by 'error' on the response above.
    if (!res.headersSent) sendError(req, res, ctx, 500, 'InternalError', `proxy could not reach s3rver: ${err.message}`, null, 'upstream-error');
  });
  res.on('close', () => {
    if (!res.writableFinished) up.destroy();
  });
  // write with backpressure, dropping each chunk once written
  let i = 0;
  const pump = () => {
    while (i < bodyChunks.length) {
      const c = bodyChunks[i];
      bodyChunks[i++] = null;
      if (!up.write(c)) return up.once('drain', pump);
    }
    up.end();
  };
  pump();
}

const upstreamAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });

// ---------------------------------------------------------------- multipart shims

const SAFE_ID = /^[A-Za-z0-9_.-]+$/;

function uploadDir(bucket, uploadId) {
  return path.join(DATA_DIR, bucket, '._S3rver_uploads', uploadId);
}

function bucketExists(bucket) {
  try {
    return fs.statSync(path.join(DATA_DIR, bucket)).isDirectory();
  } catch (e) {
    return false;
  }
}

// ListMultipartUploads over s3rver's upload directories, in (key, upload id)
// order as S3 lists them.
function listUploadsXml(bucket, query) {
  const root = path.join(DATA_DIR, bucket, '._S3rver_uploads');
  const prefix = query.prefix === undefined ? '' : String(query.prefix);
  const keyMarker = query['key-marker'] === undefined ? '' : String(query['key-marker']);
  const idMarker = query['upload-id-marker'] === undefined ? '' : String(query['upload-id-marker']);
  const max = Math.max(0, Math.min(1000, query['max-uploads'] === undefined ? 1000 : parseInt(String(query['max-uploads']), 10) || 0));
  let uploads = [];
  let ids = [];
  try {
    ids = fs.readdirSync(root);
  } catch (e) {
    ids = [];
  }
  for (const id of ids) {
    let key;
    let initiated;
    try {
      key = fs.readFileSync(path.join(root, id, 'key'), 'utf8');
      initiated = fs.statSync(path.join(root, id)).mtime;
    } catch (e) {
      continue;	// being created or aborted right now
    }
    if (!key.startsWith(prefix)) continue;
    if (keyMarker !== '' && (key < keyMarker || (key === keyMarker && (idMarker === '' || id <= idMarker)))) continue;
    uploads.push({ key, id, initiated });
  }
  uploads.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const truncated = uploads.length > max;
  uploads = uploads.slice(0, max);
  let x = `<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`;
  x += `<Bucket>${xmlEscape(bucket)}</Bucket><KeyMarker>${xmlEscape(keyMarker)}</KeyMarker><UploadIdMarker>${xmlEscape(idMarker)}</UploadIdMarker>`;
  if (truncated && uploads.length) {
    const last = uploads[uploads.length - 1];
    x += `<NextKeyMarker>${xmlEscape(last.key)}</NextKeyMarker><NextUploadIdMarker>${xmlEscape(last.id)}</NextUploadIdMarker>`;
  }
  x += `<Prefix>${xmlEscape(prefix)}</Prefix><MaxUploads>${max}</MaxUploads><IsTruncated>${truncated}</IsTruncated>`;
  for (const u of uploads) {
    x += `<Upload><Key>${xmlEscape(u.key)}</Key><UploadId>${xmlEscape(u.id)}</UploadId>` +
      `<Initiator><ID>pgdes</ID><DisplayName>pgdes</DisplayName></Initiator><Owner><ID>pgdes</ID><DisplayName>pgdes</DisplayName></Owner>` +
      `<StorageClass>STANDARD</StorageClass><Initiated>${u.initiated.toISOString()}</Initiated></Upload>`;
  }
  return x + '</ListMultipartUploadsResult>';
}

// null if fine, else [status, code, message, extra]
function checkUpload(bucket, uploadId) {
  if (!bucketExists(bucket)) return [404, 'NoSuchBucket', null, { BucketName: bucket }];
  if (!SAFE_ID.test(uploadId) || !fs.existsSync(uploadDir(bucket, uploadId))) {
    return [404, 'NoSuchUpload', null, { UploadId: uploadId }];
  }
  return null;
}

function checkCompleteBody(bucket, uploadId, xml) {
  const parts = [];
  const re = /<Part>([\s\S]*?)<\/Part>/g;
  let m;
  while ((m = re.exec(xml))) {
    const num = /<PartNumber>\s*(\d+)\s*<\/PartNumber>/.exec(m[1]);
    const etag = /<ETag>([\s\S]*?)<\/ETag>/.exec(m[1]);
    if (!num || !etag) return [400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.'];
    parts.push({ number: Number(num[1]), etag: etag[1].replace(/&quot;|&#34;|"/g, '').trim() });
  }
  if (parts.length === 0) return [400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.'];
  const dir = uploadDir(bucket, uploadId);
  const sizes = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (i > 0 && p.number <= parts[i - 1].number) {
      return [400, 'InvalidPartOrder', 'The list of parts was not in ascending order. Parts must be ordered by part number.', { UploadId: uploadId }];
    }
    let md5 = null;
    try {
      sizes[i] = fs.statSync(path.join(dir, String(p.number))).size;
      md5 = fs.readFileSync(path.join(dir, `${p.number}.md5`), 'utf8').trim();
    } catch (e) {
      md5 = null;
    }
    if (md5 === null || md5 !== p.etag) {
      return [400, 'InvalidPart', 'One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part\'s entity tag.',
        { UploadId: uploadId, PartNumber: p.number, ETag: p.etag }];
    }
  }
  for (let i = 0; i < parts.length - 1; i++) {
    if (sizes[i] < MIN_PART_SIZE) {
      return [400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.',
        { ProposedSize: sizes[i], MinSizeAllowed: MIN_PART_SIZE, PartNumber: parts[i].number, ETag: parts[i].etag }];
    }
  }
  return null;
}

// ---------------------------------------------------------------- control API

function control(req, res, rawPath, query) {
  const name = rawPath.slice('/__control/'.length);
  const json = (status, obj) => {
    const body = JSON.stringify(obj);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  };
  req.resume();
  const kinds = query.kind ? new Set(String(query.kind).split(',')) : null;
  if (kinds) for (const k of kinds) if (!KINDS.includes(k)) return json(400, { error: `unknown kind ${k}`, kinds: KINDS });
  const count = query.count === undefined ? 1 : Number(query.count);
  const skip = query.skip === undefined ? 0 : Number(query.skip);
  if (!Number.isInteger(count) || count < 0 || !Number.isInteger(skip) || skip < 0) return json(400, { error: 'count and skip must be non-negative integers' });

  if (name === 'stats' && req.method === 'GET') {
    return json(200, { ...stats, faults_pending: { fail: faults.fail.reduce((a, f) => a + f.remaining, 0), stall: faults.stall.reduce((a, f) => a + f.remaining, 0) }, hung: hung.size });
  }
  if (req.method !== 'POST') return json(405, { error: `use POST /__control/{fail,stall,reset} or GET /__control/stats` });
  if (name === 'reset') {
    resetState();
    console.log('control: reset');
    return json(200, { reset: true });
  }
  if (name === 'fail') {
    const status = query.status === undefined ? 503 : Number(query.status);
    if (!Number.isInteger(status) || status < 400 || status > 599) return json(400, { error: 'status must be 400..599' });
    const code = query.code || CODE_FOR_STATUS[status] || 'InternalError';
    if (count > 0) faults.fail.push({ remaining: count, skip, kinds, status, code, message: query.message || DEFAULT_MESSAGES[code] || code });
    console.log(`control: fail count=${count} status=${status} code=${code}${kinds ? ' kind=' + [...kinds] : ''}${skip ? ' skip=' + skip : ''}`);
    return json(200, { fail: { count, status, code, skip, kind: kinds ? [...kinds] : null } });
  }
  if (name === 'stall') {
    const ms = query.ms === undefined ? 0 : Number(query.ms);
    if (!Number.isFinite(ms) || ms < 0) return json(400, { error: 'ms must be >= 0' });
    if (count > 0) faults.stall.push({ remaining: count, skip, kinds, ms });
    console.log(`control: stall count=${count} ms=${ms}${kinds ? ' kind=' + [...kinds] : ''}${skip ? ' skip=' + skip : ''}`);
    return json(200, { stall: { count, ms, skip, kind: kinds ? [...kinds] : null } });
  }
  return json(404, { error: `unknown control ${name}` });
}

// ---------------------------------------------------------------- main handler

async function handle(req, res) {
  const url = req.url;
  const qi = url.indexOf('?');
  const rawPath = qi < 0 ? url : url.slice(0, qi);
  const rawQuery = qi < 0 ? '' : url.slice(qi + 1);
  const query = parseRawQuery(rawQuery);

  if (rawPath.startsWith('/__control/')) return control(req, res, rawPath, query);

  const headers = rawHeaderMap(req);
  const kind = classify(req.method, rawPath, query, headers);
  const ctx = { id: crypto.randomBytes(8).toString('hex').toUpperCase(), method: req.method, url, start: Date.now(), bytesIn: 0 };
  stats.requests++;
  stats.by_method[req.method] = (stats.by_method[req.method] || 0) + 1;
  stats.by_kind[kind]++;

  const reject = (status, code, message, extra) => {
    stats.rejected[code] = (stats.rejected[code] || 0) + 1;
    return sendError(req, res, ctx, status, code, message, extra);
  };

  // Faults first: a stalled or failing S3 does not look at the signature.
  const stall = takeFault(faults.stall, kind);
  if (stall) {
    stats.faults_injected++;
    if (stall.ms === 0) {
      hung.add(req);
      req.on('close', () => hung.delete(req));
      logLine(ctx, '-', 'stalled(forever)');
      return;
    }
    await new Promise(r => setTimeout(r, stall.ms));
    if (req.destroyed || res.destroyed) return logLine(ctx, '-', `stalled(${stall.ms}ms, client gone)`);
  }
  const fail = takeFault(faults.fail, kind);
  if (fail) {
    stats.faults_injected++;
    return sendError(req, res, ctx, fail.status, fail.code, fail.message, null, `injected:${fail.code}`);
  }

  const v = await verify(req, rawPath, query, headers);
  if (!v.ok) return reject(v.status, v.code, v.message, v.extra);

  const segs = rawPath.split('/').filter(s => s !== '');
  const bucket = segs.length ? decodeURIComponent(segs[0]) : '';
  const sha = headers['x-amz-content-sha256'];
  if (sha.startsWith('STREAMING-')) {
    return reject(501, 'NotImplemented', `x-amz-content-sha256 ${sha} (aws-chunked) is not supported by the pg_des test proxy`);
  }

  // Multipart shims (see the header comment).
  if (kind === 'list_uploads') {
    if (!bucketExists(bucket)) return reject(404, 'NoSuchBucket', null, { BucketName: bucket });
    await drain(req, ctx);
    const body = Buffer.from(listUploadsXml(bucket, query));
    res.writeHead(200, {
      'Content-Type': 'application/xml',
      'Content-Length': body.length,
      'x-amz-request-id': ctx.id,
      'x-amz-id-2': Buffer.from(ctx.id).toString('base64'),
      Date: new Date().toUTCString(),
      Server: 'pg_des-s3-test-proxy',
    });
    res.end(body);
    stats.bytes_out += body.length;
    return logLine(ctx, 200, 'ok(list-uploads)');
  }
  if (kind === 'multipart_abort' || kind === 'multipart_upload_part' || kind === 'multipart_complete') {
    const bad = checkUpload(bucket, String(query.uploadId));
    if (bad) return reject(...bad);
    if (kind === 'multipart_abort') {
      await drain(req, ctx);
      fs.rmSync(uploadDir(bucket, String(query.uploadId)), { recursive: true, force: true });
      return sendEmpty(req, res, ctx, 204, 'ok(abort)');
    }
  }

  const hashed = /^[0-9a-f]{64}$/i.test(sha);
  const md5Header = headers['content-md5'];
  if (md5Header !== undefined && !/^[A-Za-z0-9+/]{22}==$/.test(md5Header)) {
    return reject(400, 'InvalidDigest', 'The Content-MD5 you specified was not valid.', { 'Content-MD5': md5Header });
  }
  // The whole body is read (and hashed) before s3rver sees any of it: S3
  // stores nothing from a request whose body is cut short or fails its hash,
  // but s3rver would keep a truncated object. One copy in memory, as a list of
  // chunks.
  let body;
  try {
    body = await bufferBody(req, ctx, md5Header !== undefined);
  } catch (e) {
    return logLine(ctx, '-', 'client-aborted');
  }
  if (hashed && body.sha256 !== sha.toLowerCase()) {
    return reject(400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.",
      { ClientComputedContentSHA256: sha, S3ComputedContentSHA256: body.sha256 });
  }
  if (md5Header !== undefined && body.md5 !== md5Header) {
    return reject(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.',
      { ExpectedDigest: Buffer.from(md5Header, 'base64').toString('hex'), CalculatedDigest: Buffer.from(body.md5, 'base64').toString('hex') });
  }
  if (kind === 'multipart_complete') {
    const bad = checkCompleteBody(bucket, String(query.uploadId), Buffer.concat(body.chunks).toString('utf8'));
    if (bad) return reject(...bad);
  }
  if (kind === 'get' || kind === 'get_range' || kind === 'head') {
    const suffix = kind === 'get_range' ? /^bytes=-(\d+)$/.exec(String(req.headers.range).trim()) : null;
    const ifMatch = req.headers['if-match'];
    if (suffix || ifMatch !== undefined) {
      const head = await upstreamHead(req, rawPath);
      if (head && ifMatch !== undefined) {
        const want = ifMatch.split(',').map(t => t.trim().replace(/^W\//, '').replace(/"/g, ''));
        if (!want.includes('*') && !want.includes(head.etag)) {
          return reject(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: 'If-Match' });
        }
      }
      if (head && suffix) {
        const n = Number(suffix[1]);
        if (n === 0 || head.size === 0) {
          return reject(416, 'InvalidRange', 'The requested range is not satisfiable', { RangeRequested: req.headers.range, ActualObjectSize: head.size });
        }
        req.headers.range = `bytes=${Math.max(0, head.size - n)}-${head.size - 1}`;
      }
    }
  }
  forward(req, res, ctx, body.chunks);
}

// Size and ETag (unquoted) of the object per s3rver (HEAD with the request's
// own headers), or null when s3rver has no such object (then the request goes
// on unchanged and s3rver answers 404).
function upstreamHead(req, rawPath) {
  return new Promise(resolve => {
    const headers = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (!HOP_BY_HOP.has(k) && !['range', 'content-length', 'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since'].includes(k)) headers[k] = v;
    }
    const h = http.request({ host: HOST, port: UPSTREAM_PORT, method: 'HEAD', path: rawPath, headers, agent: upstreamAgent }, r => {
      r.resume();
      const size = Number(r.headers['content-length']);
      resolve(r.statusCode === 200 && Number.isInteger(size) ? { size, etag: String(r.headers.etag || '').replace(/"/g, '') } : null);
    });
    h.on('error', () => resolve(null));
    h.end();
  });
}

const server = http.createServer((req, res) => {
  handle(req, res).catch(err => {
    console.error(`proxy error on ${req.method} ${req.url}: ${err.stack || err}`);
    if (!res.headersSent) {
      res.writeHead(500, { 'Content-Type': 'application/xml' });
      res.end(errorXml('InternalError', `proxy error: ${err.message}`, 'PROXYERROR'));
    } else res.destroy();
  });
});
server.requestTimeout = 0; // large uploads and stalls must not be cut by Node's default 300 s
server.headersTimeout = 60000;
server.keepAliveTimeout = 30000;
server.on('clientError', (err, socket) => socket.destroy());
server.listen(PORT, HOST, () => {
  console.log(`s3 proxy listening on ${HOST}:${PORT} -> s3rver ${HOST}:${UPSTREAM_PORT}; region ${REGION}; keys ${[...CREDENTIALS.keys()].join(',')}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close();
    for (const req of hung) req.socket.destroy();
    process.exit(0);
  });
}
