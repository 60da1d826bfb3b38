'use strict';
// Self-test of the harness (run by selftest.sh against a running start.sh).
// Prints one "ok - NAME" or "not ok - NAME: why" line per check; exits 1 if
// any failed. Signs with @smithy/signature-v4 through s3client.js.

const http = require('http');
const crypto = require('crypto');
const { s3request, encodeKey, xmlValue, xmlValues, defaultCredentials } = require('./s3client');
const { makeSigner, parseCredentials, DEFAULT_CREDENTIALS } = require('./sigv4-common');

const PORT = Number(process.env.S3_PROXY_PORT || 59001);
const BUCKET = (process.env.S3_BUCKETS || 'pgdes-test').split(/[ ,]+/).filter(Boolean)[0];
const BIG_MIB = Number(process.env.S3_SELFTEST_BIG_MIB === undefined ? 256 : process.env.S3_SELFTEST_BIG_MIB);
const RUN = `selftest/${Date.now()}-${process.pid}`;
const MiB = 1024 * 1024;

let passed = 0;
let failed = 0;

async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok - ${name}`);
  } catch (e) {
    failed++;
    console.log(`not ok - ${name}: ${e.message}`);
  }
}

function expect(cond, msg) {
  if (!cond) throw new Error(msg);
}

function expectStatus(res, status, code) {
  const got = xmlValue(res.body, 'Code');
  if (res.status !== status || (code && got !== code)) {
    throw new Error(`expected ${status}${code ? ' ' + code : ''}, got ${res.status} ${got || ''} ${res.body.toString('utf8', 0, 300)}`);
  }
}

function md5hex(b) {
  return crypto.createHash('md5').update(b).digest('hex');
}
function sha256hex(b) {
  return crypto.createHash('sha256').update(b).digest('hex');
}

function control(method, what) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: PORT, method, path: `/__control/${what}` }, res => {
      const chunks = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode !== 200) return reject(new Error(`control ${what}: HTTP ${res.statusCode} ${text}`));
        resolve(JSON.parse(text));
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const objPath = key => `/${BUCKET}/${encodeKey(key)}`;

// Sign a body-less request without sending it (to send it altered).
async function signRaw({ method, path }) {
  const c = defaultCredentials();
  const signer = makeSigner({ accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, region: process.env.S3_REGION || 'us-east-1' });
  const headers = { host: `127.0.0.1:${PORT}`, 'x-amz-content-sha256': sha256hex('') };
  if (c.sessionToken) headers['x-amz-security-token'] = c.sessionToken;
  return signer.sign({ method, protocol: 'http:', hostname: '127.0.0.1', path, query: {}, headers });
}

function rawSend({ method, path, headers, body }) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: PORT, method, path, headers }, res => {
      const c = [];
      res.on('data', d => c.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(c) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function main() {
  await control('POST', 'reset');
  const creds = defaultCredentials();
  const data = crypto.randomBytes(MiB + 123);
  const key = `${RUN}/obj.bin`;

  // ---- (a) the normal S3 operations, correctly signed
  await check('PUT object (hashed payload) returns the MD5 ETag', async () => {
    const r = await s3request({ method: 'PUT', path: objPath(key), body: data, headers: { 'content-type': 'application/octet-stream' } });
    expectStatus(r, 200);
    expect(r.headers.etag === `"${md5hex(data)}"`, `etag ${r.headers.etag}`);
  });
  await check('GET with Range returns 206 and the bytes', async () => {
    const r = await s3request({ method: 'GET', path: objPath(key), headers: { range: 'bytes=1000-1999' } });
    expectStatus(r, 206);
    expect(r.body.equals(data.subarray(1000, 2000)), 'range bytes differ');
    expect(r.headers['content-range'] === `bytes 1000-1999/${data.length}`, `content-range ${r.headers['content-range']}`);
  });
  await check('GET with a suffix Range (bytes=-N) returns the last N bytes', async () => {
    const r = await s3request({ method: 'GET', path: objPath(key), headers: { range: 'bytes=-100' } });
    expectStatus(r, 206);
    expect(r.body.equals(data.subarray(data.length - 100)), 'suffix range bytes differ');
    expect(r.headers['content-range'] === `bytes ${data.length - 100}-${data.length - 1}/${data.length}`, `content-range ${r.headers['content-range']}`);
  });
  await check('If-Match: matching ETag 206/200, other ETag 412 PreconditionFailed', async () => {
    const etag = `"${md5hex(data)}"`;
    expectStatus(await s3request({ method: 'GET', path: objPath(key), headers: { range: 'bytes=0-9', 'if-match': etag } }), 206);
    expectStatus(await s3request({ method: 'HEAD', path: objPath(key), headers: { 'if-match': etag } }), 200);
    expectStatus(await s3request({ method: 'GET', path: objPath(key), headers: { range: 'bytes=0-9', 'if-match': '"0123456789abcdef0123456789abcdef"' } }), 412, 'PreconditionFailed');
    expectStatus(await s3request({ method: 'HEAD', path: objPath(key), headers: { 'if-match': '"0123456789abcdef0123456789abcdef"' } }), 412);
  });
  await check('GET whole object', async () => {
    const r = await s3request({ method: 'GET', path: objPath(key) });
    expectStatus(r, 200);
    expect(r.body.equals(data), 'body differs');
  });
  await check('HEAD object', async () => {
    const r = await s3request({ method: 'HEAD', path: objPath(key) });
    expectStatus(r, 200);
    expect(Number(r.headers['content-length']) === data.length, `content-length ${r.headers['content-length']}`);
    expect(r.headers.etag === `"${md5hex(data)}"`, `etag ${r.headers.etag}`);
  });
  const oddKey = `${RUN}/odd name+plus~tilde(1)&x=y.bin`;
  await check('PUT with UNSIGNED-PAYLOAD and a key needing encoding', async () => {
    const r = await s3request({ method: 'PUT', path: objPath(oddKey), body: 'odd', unsignedPayload: true });
    expectStatus(r, 200);
    const g = await s3request({ method: 'GET', path: objPath(oddKey) });
    expectStatus(g, 200);
    expect(g.body.toString() === 'odd', 'odd body differs');
  });
  await check('ListObjectsV2 with prefix (query with space and +)', async () => {
    const r = await s3request({ method: 'GET', path: `/${BUCKET}`, query: { 'list-type': '2', prefix: `${RUN}/` } });
    expectStatus(r, 200);
    const keys = xmlValues(r.body, 'Key');
    expect(keys.includes(key) && keys.includes(oddKey.replace(/&/g, '&amp;')), `keys ${keys}`);
    expect(xmlValue(r.body, 'KeyCount') === '2', `KeyCount ${xmlValue(r.body, 'KeyCount')}`);
    const r2 = await s3request({ method: 'GET', path: `/${BUCKET}`, query: { 'list-type': '2', prefix: `${RUN}/odd name+plus` } });
    expectStatus(r2, 200);
    expect(xmlValue(r2.body, 'KeyCount') === '1', `prefix with space/plus: KeyCount ${xmlValue(r2.body, 'KeyCount')}`);
  });
  await check('ListObjectsV2 pagination (max-keys, continuation-token)', async () => {
    const r = await s3request({ method: 'GET', path: `/${BUCKET}`, query: { 'list-type': '2', prefix: `${RUN}/`, 'max-keys': '1' } });
    expectStatus(r, 200);
    expect(xmlValue(r.body, 'IsTruncated') === 'true', 'not truncated');
    const tok = xmlValue(r.body, 'NextContinuationToken');
    expect(tok, 'no NextContinuationToken');
    const r2 = await s3request({ method: 'GET', path: `/${BUCKET}`, query: { 'list-type': '2', prefix: `${RUN}/`, 'max-keys': '1', 'continuation-token': tok } });
    expectStatus(r2, 200);
    expect(xmlValues(r2.body, 'Key').length === 1 && xmlValues(r2.body, 'Key')[0] !== xmlValues(r.body, 'Key')[0], 'second page');
  });
  await check('DELETE object, then GET is 404 NoSuchKey', async () => {
    const r = await s3request({ method: 'DELETE', path: objPath(oddKey) });
    expectStatus(r, 204);
    expectStatus(await s3request({ method: 'GET', path: objPath(oddKey) }), 404, 'NoSuchKey');
  });
  await check('GET on a missing bucket is 404 NoSuchBucket', async () => {
    expectStatus(await s3request({ method: 'GET', path: `/no-such-bucket-${process.pid}/x` }), 404, 'NoSuchBucket');
  });

  const mpKey = `${RUN}/multipart.bin`;
  const p1 = crypto.randomBytes(5 * MiB);
  const p2 = crypto.randomBytes(5 * MiB);
  await check('multipart upload: create, 2 parts of 5 MiB, complete, read back', async () => {
    const c = await s3request({ method: 'POST', path: objPath(mpKey), query: { uploads: '' } });
    expectStatus(c, 200);
    const uploadId = xmlValue(c.body, 'UploadId');
    expect(uploadId, 'no UploadId');
    const etags = [];
    for (const [n, part] of [[1, p1], [2, p2]]) {
      const u = await s3request({ method: 'PUT', path: objPath(mpKey), query: { partNumber: String(n), uploadId }, body: part });
      expectStatus(u, 200);
      expect(u.headers.etag === `"${md5hex(part)}"`, `part ${n} etag ${u.headers.etag}`);
      etags.push(u.headers.etag);
    }
    const xml = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
    const done = await s3request({ method: 'POST', path: objPath(mpKey), query: { uploadId }, body: xml });
    expectStatus(done, 200);
    expect(xmlValue(done.body, 'ETag'), 'no ETag in CompleteMultipartUploadResult');
    const g = await s3request({ method: 'GET', path: objPath(mpKey) });
    expectStatus(g, 200);
    expect(sha256hex(g.body) === sha256hex(Buffer.concat([p1, p2])), 'multipart object differs');
    const rg = await s3request({ method: 'GET', path: objPath(mpKey), headers: { range: `bytes=${5 * MiB - 10}-${5 * MiB + 9}` } });
    expectStatus(rg, 206);
    expect(rg.body.equals(Buffer.concat([p1.subarray(-10), p2.subarray(0, 10)])), 'range across the part boundary differs');
  });
  await check('multipart abort: 204, then 404 NoSuchUpload for abort and upload part', async () => {
    const c = await s3request({ method: 'POST', path: objPath(`${RUN}/aborted.bin`), query: { uploads: '' } });
    expectStatus(c, 200);
    const uploadId = xmlValue(c.body, 'UploadId');
    expectStatus(await s3request({ method: 'PUT', path: objPath(`${RUN}/aborted.bin`), query: { partNumber: '1', uploadId }, body: 'x' }), 200);
    expectStatus(await s3request({ method: 'DELETE', path: objPath(`${RUN}/aborted.bin`), query: { uploadId } }), 204);
    expectStatus(await s3request({ method: 'DELETE', path: objPath(`${RUN}/aborted.bin`), query: { uploadId } }), 404, 'NoSuchUpload');
    expectStatus(await s3request({ method: 'PUT', path: objPath(`${RUN}/aborted.bin`), query: { partNumber: '2', uploadId }, body: 'y' }), 404, 'NoSuchUpload');
  });
  await check('multipart complete: small non-last part is EntityTooSmall, wrong ETag is InvalidPart', async () => {
    const k = objPath(`${RUN}/small-parts.bin`);
    const c = await s3request({ method: 'POST', path: k, query: { uploads: '' } });
    const uploadId = xmlValue(c.body, 'UploadId');
    const e1 = (await s3request({ method: 'PUT', path: k, query: { partNumber: '1', uploadId }, body: 'aaa' })).headers.etag;
    const e2 = (await s3request({ method: 'PUT', path: k, query: { partNumber: '2', uploadId }, body: 'bbb' })).headers.etag;
    const body = (a, b) => `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${a}</ETag></Part><Part><PartNumber>2</PartNumber><ETag>${b}</ETag></Part></CompleteMultipartUpload>`;
    expectStatus(await s3request({ method: 'POST', path: k, query: { uploadId }, body: body(e1, '"0000"') }), 400, 'InvalidPart');
    expectStatus(await s3request({ method: 'POST', path: k, query: { uploadId }, body: body(e1, e2) }), 400, 'EntityTooSmall');
    expectStatus(await s3request({ method: 'DELETE', path: k, query: { uploadId } }), 204);
  });

  // ---- (b)-(d) and other rejections
  await check('an upload cut short stores nothing', async () => {
    const k = objPath(`${RUN}/cut-short.bin`);
    for (const sha of ['UNSIGNED-PAYLOAD', sha256hex(Buffer.alloc(1000000))]) {
      const c = defaultCredentials();
      const signer = makeSigner({ accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, region: process.env.S3_REGION || 'us-east-1' });
      const headers = { host: `127.0.0.1:${PORT}`, 'x-amz-content-sha256': sha, 'content-length': '1000000' };
      if (c.sessionToken) headers['x-amz-security-token'] = c.sessionToken;
      const signed = await signer.sign({ method: 'PUT', protocol: 'http:', hostname: '127.0.0.1', path: k, query: {}, headers });
      await new Promise(resolve => {
        const req = http.request({ host: '127.0.0.1', port: PORT, method: 'PUT', path: k, headers: signed.headers });
        req.on('error', resolve);
        req.on('response', resolve);
        req.write(Buffer.alloc(100000));
        setTimeout(() => req.destroy(), 100);
      });
    }
    await new Promise(r => setTimeout(r, 200));
    expectStatus(await s3request({ method: 'HEAD', path: k }), 404);
  });
  await check('wrong secret -> 403 SignatureDoesNotMatch with the canonical request', async () => {
    const r = await s3request({ method: 'GET', path: objPath(key), headers: { range: 'bytes=0-9' }, credentials: { ...creds, secretAccessKey: 'not-the-secret' } });
    expectStatus(r, 403, 'SignatureDoesNotMatch');
    expect(xmlValue(r.body, 'CanonicalRequest'), 'no CanonicalRequest in error');
    expect(xmlValue(r.body, 'RequestId') && r.headers['x-amz-request-id'] === xmlValue(r.body, 'RequestId'), 'request id header/body');
  });
  await check('unknown access key -> 403 InvalidAccessKeyId', async () => {
    const r = await s3request({ method: 'GET', path: objPath(key), credentials: { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'x' } });
    expectStatus(r, 403, 'InvalidAccessKeyId');
  });
  await check('tampered body with hashed payload -> 400 XAmzContentSHA256Mismatch, object not written', async () => {
    const k = `${RUN}/tampered.bin`;
    const r = await s3request({ method: 'PUT', path: objPath(k), body: 'original body', tamper: b => Buffer.from(b.toString().replace('original', 'modified')) });
    expectStatus(r, 400, 'XAmzContentSHA256Mismatch');
    expectStatus(await s3request({ method: 'HEAD', path: objPath(k) }), 404);
  });
  await check('signed for one key, sent to another -> 403 SignatureDoesNotMatch', async () => {
    const signed = await signRaw({ method: 'GET', path: objPath(key) });
    expectStatus(await rawSend({ method: 'GET', path: objPath(key), headers: signed.headers }), 200);
    expectStatus(await rawSend({ method: 'GET', path: objPath(key + 'x'), headers: signed.headers }), 403, 'SignatureDoesNotMatch');
    expectStatus(await rawSend({ method: 'GET', path: objPath(key) + '?x-id=GetObject', headers: signed.headers }), 403, 'SignatureDoesNotMatch');
  });
  await check('missing Authorization -> 403 AccessDenied', async () => {
    expectStatus(await rawSend({ method: 'GET', path: objPath(key), headers: {} }), 403, 'AccessDenied');
  });
  await check('request signed 20 minutes ago -> 403 RequestTimeTooSkewed', async () => {
    const r = await s3request({ method: 'GET', path: objPath(key), signingDate: new Date(Date.now() - 20 * 60 * 1000) });
    expectStatus(r, 403, 'RequestTimeTooSkewed');
  });
  await check('unsigned x-amz-* header -> 403 AccessDenied', async () => {
    expectStatus(await s3request({ method: 'GET', path: objPath(key), headers: { 'x-amz-meta-a': '1' } }), 200);
    const signed = await signRaw({ method: 'GET', path: objPath(key) });
    signed.headers['x-amz-meta-sneaky'] = 'yes';
    expectStatus(await rawSend({ method: 'GET', path: objPath(key), headers: signed.headers }), 403, 'AccessDenied');
  });
  await check('wrong region in the credential scope -> 400 AuthorizationHeaderMalformed', async () => {
    if (process.env.S3_REGION === '*') return;
    const r = await s3request({ method: 'GET', path: objPath(key), region: 'eu-west-3' });
    expectStatus(r, 400, 'AuthorizationHeaderMalformed');
  });
  await check('bad Content-MD5 -> 400 BadDigest; good Content-MD5 accepted', async () => {
    const body = Buffer.from('md5 checked');
    const good = crypto.createHash('md5').update(body).digest('base64');
    const bad = crypto.createHash('md5').update('other').digest('base64');
    expectStatus(await s3request({ method: 'PUT', path: objPath(`${RUN}/md5.bin`), body, headers: { 'content-md5': bad }, unsignedPayload: true }), 400, 'BadDigest');
    expectStatus(await s3request({ method: 'PUT', path: objPath(`${RUN}/md5.bin`), body, headers: { 'content-md5': good } }), 200);
  });
  const tokenEntry = [...parseCredentials(process.env.S3_TEST_CREDENTIALS || DEFAULT_CREDENTIALS)].find(([, v]) => v.token);
  if (tokenEntry) {
    const [ak, { secret, token }] = tokenEntry;
    await check('session token: right token ok, wrong token InvalidToken, none InvalidAccessKeyId', async () => {
      expectStatus(await s3request({ method: 'HEAD', path: objPath(key), credentials: { accessKeyId: ak, secretAccessKey: secret, sessionToken: token } }), 200);
      expectStatus(await s3request({ method: 'GET', path: objPath(key), credentials: { accessKeyId: ak, secretAccessKey: secret, sessionToken: token + 'x' } }), 400, 'InvalidToken');
      expectStatus(await s3request({ method: 'GET', path: objPath(key), credentials: { accessKeyId: ak, secretAccessKey: secret } }), 403, 'InvalidAccessKeyId');
    });
  }

  // ---- (e) fault injection
  await check('fail injection: next request 503 SlowDown, then recovers', async () => {
    await control('POST', 'fail?count=1&status=503&code=SlowDown');
    const r = await s3request({ method: 'GET', path: objPath(key) });
    expectStatus(r, 503, 'SlowDown');
    expectStatus(await s3request({ method: 'GET', path: objPath(key) }), 200);
  });
  await check('fail injection: status=500 defaults to InternalError; count=2; kind filter', async () => {
    await control('POST', 'fail?count=2&status=500');
    expectStatus(await s3request({ method: 'HEAD', path: objPath(key) }), 500);
    expectStatus(await s3request({ method: 'GET', path: objPath(key) }), 500, 'InternalError');
    expectStatus(await s3request({ method: 'GET', path: objPath(key) }), 200);
    await control('POST', 'fail?count=1&kind=put&status=503');
    expectStatus(await s3request({ method: 'GET', path: objPath(key) }), 200);
    expectStatus(await s3request({ method: 'PUT', path: objPath(`${RUN}/f.bin`), body: 'f' }), 503, 'SlowDown');
    expectStatus(await s3request({ method: 'PUT', path: objPath(`${RUN}/f.bin`), body: 'f' }), 200);
  });
  await check('stall injection: ms=300 delays; ms=0 hangs until the client gives up', async () => {
    await control('POST', 'stall?count=1&ms=300');
    const r = await s3request({ method: 'GET', path: objPath(key) });
    expectStatus(r, 200);
    expect(r.ms >= 290, `only ${r.ms} ms`);
    await control('POST', 'stall?count=1&ms=0');
    let err = null;
    try {
      await s3request({ method: 'GET', path: objPath(key), timeoutMs: 500 });
    } catch (e) {
      err = e;
    }
    expect(err && err.code === 'ETIMEDOUT', `expected a client timeout, got ${err ? err.message : 'an answer'}`);
    expectStatus(await s3request({ method: 'GET', path: objPath(key) }), 200);
  });

  // ---- (f) stats
  await check('stats count requests by method and kind, rejections, faults and bytes', async () => {
    await control('POST', 'reset');
    const body = crypto.randomBytes(4096);
    const k = objPath(`${RUN}/stats.bin`);
    await s3request({ method: 'PUT', path: k, body });
    await s3request({ method: 'GET', path: k, headers: { range: 'bytes=0-99' } });
    await s3request({ method: 'GET', path: k });
    await s3request({ method: 'HEAD', path: k });
    await s3request({ method: 'GET', path: `/${BUCKET}`, query: { 'list-type': '2', prefix: RUN } });
    await s3request({ method: 'GET', path: k, credentials: { ...creds, secretAccessKey: 'bad' } });
    await control('POST', 'fail?count=1');
    await s3request({ method: 'GET', path: k });
    await s3request({ method: 'DELETE', path: k });
    const s = await control('GET', 'stats');
    const want = { requests: 8, faults_injected: 1 };
    for (const [f, v] of Object.entries(want)) expect(s[f] === v, `${f}=${s[f]}, want ${v}`);
    const byKind = { put: 1, get_range: 1, get: 3, head: 1, list: 1, delete: 1, multipart_create: 0 };
    for (const [f, v] of Object.entries(byKind)) expect(s.by_kind[f] === v, `by_kind.${f}=${s.by_kind[f]}, want ${v}`);
    expect(s.by_method.GET === 5 && s.by_method.PUT === 1 && s.by_method.HEAD === 1 && s.by_method.DELETE === 1, `by_method ${JSON.stringify(s.by_method)}`);
    expect(s.rejected.SignatureDoesNotMatch === 1, `rejected ${JSON.stringify(s.rejected)}`);
    expect(s.bytes_in === 4096, `bytes_in ${s.bytes_in}`);
    expect(s.bytes_out >= 4096 + 100, `bytes_out ${s.bytes_out}`);
  });

  // ---- large upload through the hashing path
  if (BIG_MIB > 0) {
    await check(`${BIG_MIB} MiB single PUT with hashed payload, read back by ranges`, async () => {
      const big = crypto.randomBytes(BIG_MIB * MiB);
      const k = objPath(`${RUN}/big.bin`);
      const t0 = Date.now();
      const r = await s3request({ method: 'PUT', path: k, body: big });
      expectStatus(r, 200);
      expect(r.headers.etag === `"${md5hex(big)}"`, 'etag');
      const h = await s3request({ method: 'HEAD', path: k });
      expect(Number(h.headers['content-length']) === big.length, 'size');
      const tail = await s3request({ method: 'GET', path: k, headers: { range: `bytes=${big.length - 1000}-` } });
      expectStatus(tail, 206);
      expect(tail.body.equals(big.subarray(big.length - 1000)), 'tail differs');
      expectStatus(await s3request({ method: 'DELETE', path: k }), 204);
      console.log(`# ${BIG_MIB} MiB PUT+HEAD+GET took ${Date.now() - t0} ms`);
    });
  }

  // clean up this run's objects
  const l = await s3request({ method: 'GET', path: `/${BUCKET}`, query: { 'list-type': '2', prefix: `${RUN}/` } });
  for (const k of xmlValues(l.body, 'Key')) {
    await s3request({ method: 'DELETE', path: objPath(k.replace(/&amp;/g, '&')) });
  }
  console.log(`# selftest.js finished (${passed} ok, ${failed} not ok)`);
  process.exit(failed ? 1 : 0);
}

main().catch(e => {
  console.log(`not ok - selftest crashed: ${e.stack || e}`);
  process.exit(1);
});
