#!/usr/bin/env bash
# Stop the S3 test harness started by start.sh (the PIDs in $S3_PID_FILE,
# default /tmp/pg_des_s3.pids). Idempotent. Data in $S3_DATA_DIR is kept.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

pids="$(s3h_live_pids)"
if [ -z "$pids" ]; then
  rm -f "$S3_PID_FILE"
  echo "s3harness: not running"
  exit 0
fi
for pid in $pids; do kill "$pid" 2>/dev/null || true; done
for _ in $(seq 1 50); do
  left=""
  for pid in $pids; do kill -0 "$pid" 2>/dev/null && left="$left $pid"; done
  [ -z "$left" ] && break
  sleep 0.1
done
for pid in $left; do kill -9 "$pid" 2>/dev/null || true; done
rm -f "$S3_PID_FILE"
echo "s3harness: stopped (pids $(echo $pids))"
