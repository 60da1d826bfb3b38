'use strict';
// Helpers shared by proxy.js (the verifier) and s3client.js (the test client).
// Both sign with @smithy/signature-v4, a SigV4 implementation independent of
// the C signer in pg_des; this file only adapts it to Node's crypto and to
// S3's conventions (no path double-encoding, raw query parsing).

const crypto = require('crypto');
const { SignatureV4 } = require('@smithy/signature-v4');

// The hash constructor interface smithy expects: new Hash(secret?) with
// update(data) and an async digest() returning bytes. A secret makes it HMAC.
class NodeSha256 {
  constructor(secret) {
    this.h = secret === undefined || secret === null
      ? crypto.createHash('sha256')
      : crypto.createHmac('sha256', typeof secret === 'string' ? secret : Buffer.from(secret));
  }
  update(data) {
    this.h.update(typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data));
  }
  async digest() {
    return new Uint8Array(this.h.digest());
  }
}

function makeSigner({ accessKeyId, secretAccessKey, region }) {
  return new SignatureV4({
    credentials: { accessKeyId, secretAccessKey },
    region,
    service: 's3',
    sha256: NodeSha256,
    uriEscapePath: false, // S3 signs the path as sent, without double-encoding
    applyChecksum: false, // we always supply x-amz-content-sha256 ourselves
  });
}

// Decode one query component. decodeURIComponent, not URLSearchParams: a '+'
// in an S3 query is a literal plus, not a space. Malformed escapes are kept
// as they are rather than thrown on.
function decodeComponent(s) {
  try {
    return decodeURIComponent(s);
  } catch (e) {
    return s;
  }
}

// Raw query string -> { name: value | [values] } as smithy's canonicaliser wants.
function parseRawQuery(raw) {
  const out = Object.create(null);
  if (!raw) return out;
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const k = decodeComponent(eq < 0 ? part : part.slice(0, eq));
    const v = eq < 0 ? '' : decodeComponent(part.slice(eq + 1));
    if (k in out) out[k] = [].concat(out[k], v);
    else out[k] = v;
  }
  return out;
}

// RFC 3986 unreserved characters stay, everything else is %XX (what SigV4 wants).
function encodeRfc3986(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g, c => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

// Encode an object key for the path: each segment encoded, '/' kept.
function encodeKey(key) {
  return key.split('/').map(encodeRfc3986).join('/');
}

// "20240102T030405Z" -> Date, or null when malformed.
function parseAmzDate(s) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s || '');
  if (!m) return null;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
  return isNaN(d.getTime()) ? null : d;
}

function amzDate(d) {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

// "AK:SECRET[:TOKEN],AK2:SECRET2" -> Map(AK -> {secret, token})
function parseCredentials(spec) {
  const m = new Map();
  for (const item of (spec || '').split(',')) {
    const t = item.trim();
    if (!t) continue;
    const parts = t.split(':');
    if (parts.length < 2 || !parts[0] || !parts[1]) {
      throw new Error(`bad S3_TEST_CREDENTIALS entry (want ACCESS:SECRET[:TOKEN]): ${t}`);
    }
    m.set(parts[0], { secret: parts[1], token: parts.length > 2 ? parts.slice(2).join(':') : null });
  }
  return m;
}

const DEFAULT_CREDENTIALS = 'pgdes-test-key:pgdes-test-secret';
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

module.exports = {
  NodeSha256,
  makeSigner,
  parseRawQuery,
  encodeRfc3986,
  encodeKey,
  parseAmzDate,
  amzDate,
  parseCredentials,
  DEFAULT_CREDENTIALS,
  EMPTY_SHA256,
};
