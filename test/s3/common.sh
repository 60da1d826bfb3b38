# Shared settings for start.sh, stop.sh and selftest.sh (sourced, not run).
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export S3_PROXY_PORT="${S3_PROXY_PORT:-59001}"
export S3RVER_PORT="${S3RVER_PORT:-59000}"
export S3_DATA_DIR="${S3_DATA_DIR:-$HERE/data}"
export S3_LOG_DIR="${S3_LOG_DIR:-$HERE/logs}"
export S3_PID_FILE="${S3_PID_FILE:-/tmp/pg_des_s3.pids}"
export S3_TEST_CREDENTIALS="${S3_TEST_CREDENTIALS:-pgdes-test-key:pgdes-test-secret}"
export S3_BUCKETS="${S3_BUCKETS:-pgdes-test}"
export S3_REGION="${S3_REGION:-us-east-1}"
# absolute, since the scripts cd into test/s3
S3_DATA_DIR="$(realpath -m "$S3_DATA_DIR")"
S3_LOG_DIR="$(realpath -m "$S3_LOG_DIR")"
S3_PID_FILE="$(realpath -m "$S3_PID_FILE")"

# HTTP status of a GET/POST to a loopback URL, 000 when nothing answers.
s3h_http_code() { # METHOD URL
  if command -v curl >/dev/null 2>&1; then
    curl -s -o /dev/null -m 5 -X "$1" -w '%{http_code}' "$2" || true
  else
    node -e '
      const [m, u] = process.argv.slice(1);
      const r = require("http").request(u, { method: m, timeout: 5000 }, res => { console.log(res.statusCode); res.resume(); });
      r.on("error", () => console.log("000")).on("timeout", () => r.destroy()); r.end();' "$1" "$2"
  fi
}

# PIDs in the pid file that are still our processes.
s3h_live_pids() {
  [ -f "$S3_PID_FILE" ] || return 0
  local pid
  while read -r pid; do
    [ -n "$pid" ] || continue
    if kill -0 "$pid" 2>/dev/null && grep -qaE 's3rver-run\.js|proxy\.js' "/proc/$pid/cmdline" 2>/dev/null; then
      echo "$pid"
    fi
  done < "$S3_PID_FILE"
}
