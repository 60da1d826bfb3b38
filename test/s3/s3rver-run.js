'use strict';
// Starts s3rver on 127.0.0.1:${S3RVER_PORT:-59000} with data in
// ${S3_DATA_DIR:-test/s3/data}. Only proxy.js should talk to it.
//
// Why a launcher instead of s3rver's CLI: s3rver 3.7.1 checks that the access
// key of a SigV4 request is one it knows (only its built-in S3RVER key) and
// answers InvalidAccessKeyId otherwise; it does not verify SigV4 signatures at
// all (allowMismatchedSignatures only matters for SigV2). Registering the test
// keys here lets the proxy forward requests unchanged, Authorization included,
// after it has verified them itself.

const fs = require('fs');
const path = require('path');
const S3rver = require('s3rver');
const { DUMMY_ACCOUNT } = require('s3rver/lib/models/account');
const { parseCredentials, DEFAULT_CREDENTIALS } = require('./sigv4-common');

// s3rver makes ListObjectsV2 continuation tokens with DES, which OpenSSL 3
// only has in its legacy provider: without it every truncated listing is a
// 500 InternalError. start.sh runs node with --openssl-legacy-provider.
try {
  const c = require('crypto').createCipheriv('des', Buffer.alloc(8), Buffer.alloc(8));
  c.final();
} catch (e) {
  console.error('s3rver-run.js: DES is unavailable; run node with --openssl-legacy-provider (s3rver needs it for ListObjectsV2 continuation tokens)');
  process.exit(1);
}

const port = Number(process.env.S3RVER_PORT || 59000);
const directory = path.resolve(process.env.S3_DATA_DIR || path.join(__dirname, 'data'));
fs.mkdirSync(directory, { recursive: true });

for (const [ak, { secret }] of parseCredentials(process.env.S3_TEST_CREDENTIALS || DEFAULT_CREDENTIALS)) {
  DUMMY_ACCOUNT.createKeyPair(ak, secret);
}

const server = new S3rver({
  address: '127.0.0.1',
  port,
  directory,
  silent: process.env.S3RVER_SILENT === '1',
  vhostBuckets: false, // path-style on 127.0.0.1:PORT/bucket/key ...
  serviceEndpoint: 'localhost', // ... and virtual-hosted: <bucket>.s3.localhost:PORT/key
  allowMismatchedSignatures: true,
  resetOnClose: false,
});

server.run().then(
  addr => console.log(`s3rver listening on ${addr.address}:${addr.port}, data in ${directory}`),
  err => {
    console.error(`s3rver failed to start: ${err.stack || err}`);
    process.exit(1);
  },
);

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
