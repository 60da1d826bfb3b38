// A small OpenLineage receiver for the push test, on 127.0.0.1 only: each
// POST to /api/v1/lineage whose body is JSON is appended, one line, to
// OUT_FILE and answered 201 (Marquez's answer); with FAIL_FIRST=n the first
// n requests get 503 instead; with EXPECT_TOKEN, a request without
// "Authorization: Bearer <token>" gets 401. Prints "listening <port>" once
// it listens (PORT=0: any free port).
'use strict';
const http = require('http');
const fs = require('fs');

const out = process.env.OUT_FILE;
let failFirst = Number(process.env.FAIL_FIRST || 0);
const token = process.env.EXPECT_TOKEN || '';
let requests = 0;

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    requests++;
    if (req.method !== 'POST' || req.url !== '/api/v1/lineage') {
      res.writeHead(404).end();
      return;
    }
    if (token && req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401).end();
      return;
    }
    if (failFirst > 0) {
      failFirst--;
      res.writeHead(503).end('try again');
      return;
    }
    const body = Buffer.concat(chunks).toString('utf8');
    try {
      JSON.parse(body);
    } catch (e) {
      res.writeHead(400).end('not JSON');
      return;
    }
    if (!/^application\/json/.test(req.headers['content-type'] || '')) {
      res.writeHead(415).end();
      return;
    }
    fs.appendFileSync(out, body.replace(/\n/g, ' ') + '\n');
    res.writeHead(201).end();
  });
});
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
process.on('SIGTERM', () => {
  console.error(`receiver: ${requests} requests`);
  process.exit(0);
});
