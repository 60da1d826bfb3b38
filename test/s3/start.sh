#!/usr/bin/env bash
# Start the S3 test harness: s3rver on 127.0.0.1:$S3RVER_PORT (default 59000)
# behind the SigV4-verifying proxy on 127.0.0.1:$S3_PROXY_PORT (default 59001),
# then create the buckets in $S3_BUCKETS (comma/space separated, default
# pgdes-test). Idempotent: if the harness already runs, only the buckets are
# ensured. PIDs go to $S3_PID_FILE (default /tmp/pg_des_s3.pids), logs to
# $S3_LOG_DIR (default test/s3/logs), objects to $S3_DATA_DIR (default test/s3/data).
# Credentials: $S3_TEST_CREDENTIALS = ACCESS:SECRET[:TOKEN],... (default
# pgdes-test-key:pgdes-test-secret). Region: $S3_REGION (default us-east-1).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$HERE"

# tools/deps.sh normally installed them; this is the fallback for running
# the harness on its own.
if [ ! -d node_modules/s3rver ] || [ ! -d node_modules/@smithy/signature-v4 ]; then
  echo "s3harness: installing node modules (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

proxy_url="http://127.0.0.1:$S3_PROXY_PORT"
s3rver_url="http://127.0.0.1:$S3RVER_PORT"
fresh=0

live="$(s3h_live_pids)"
if [ -n "$live" ] && [ "$(echo "$live" | wc -l)" -eq 2 ] \
   && [ "$(s3h_http_code GET "$proxy_url/__control/stats")" = 200 ] \
   && [ "$(s3h_http_code GET "$s3rver_url/")" = 200 ]; then
  echo "s3harness: already running (pids $(echo $live))"
else
  if [ -n "$live" ] || [ -f "$S3_PID_FILE" ]; then
    "$HERE/stop.sh"
  fi
  for url in "$proxy_url/__control/stats" "$s3rver_url/"; do
    if [ "$(s3h_http_code GET "$url")" != 000 ]; then
      echo "s3harness: something else already answers on ${url%/*}; set S3_PROXY_PORT/S3RVER_PORT or stop it" >&2
      exit 1
    fi
  done
  mkdir -p "$S3_DATA_DIR" "$S3_LOG_DIR" "$(dirname "$S3_PID_FILE")"
  # DES for s3rver's ListObjectsV2 continuation tokens needs the legacy provider.
  nohup node --openssl-legacy-provider s3rver-run.js >"$S3_LOG_DIR/s3rver.log" 2>&1 </dev/null &
  s3rver_pid=$!
  nohup node proxy.js >"$S3_LOG_DIR/proxy.log" 2>&1 </dev/null &
  proxy_pid=$!
  printf '%s\n%s\n' "$s3rver_pid" "$proxy_pid" >"$S3_PID_FILE"
  fresh=1

  for i in $(seq 1 100); do
    up=0
    [ "$(s3h_http_code GET "$s3rver_url/")" = 200 ] && up=$((up + 1))
    [ "$(s3h_http_code GET "$proxy_url/__control/stats")" = 200 ] && up=$((up + 1))
    [ "$up" = 2 ] && break
    for pid in "$s3rver_pid" "$proxy_pid"; do
      if ! kill -0 "$pid" 2>/dev/null; then
        echo "s3harness: a process exited during start-up; logs:" >&2
        tail -n 20 "$S3_LOG_DIR/s3rver.log" "$S3_LOG_DIR/proxy.log" >&2 || true
        "$HERE/stop.sh" >/dev/null || true
        exit 1
      fi
    done
    if [ "$i" = 100 ]; then
      echo "s3harness: s3rver/proxy did not answer within 20 s" >&2
      tail -n 20 "$S3_LOG_DIR/s3rver.log" "$S3_LOG_DIR/proxy.log" >&2 || true
      "$HERE/stop.sh" >/dev/null || true
      exit 1
    fi
    sleep 0.2
  done
  echo "s3harness: s3rver pid $s3rver_pid on $s3rver_url, proxy pid $proxy_pid on $proxy_url"
fi

# Buckets, with properly signed requests (409 BucketAlreadyExists is fine).
for b in ${S3_BUCKETS//,/ }; do
  node s3client.js PUT "/$b" --ok 200,409 >/dev/null
done
if [ "$fresh" = 1 ]; then
  # start counting from zero: bucket creation is not part of a test
  [ "$(s3h_http_code POST "$proxy_url/__control/reset")" = 200 ]
fi
echo "s3harness: ready at $proxy_url, buckets: $S3_BUCKETS"
