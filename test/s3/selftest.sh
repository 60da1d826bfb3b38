#!/usr/bin/env bash
# Self-test of the S3 harness. Uses the running harness, or starts one (and
# stops it afterwards) when nothing answers on $S3_PROXY_PORT.
#  1. selftest.js: signed PUT/GET Range/HEAD/ListObjectsV2/DELETE/multipart,
#     rejections (SignatureDoesNotMatch, InvalidAccessKeyId,
#     XAmzContentSHA256Mismatch, ...), fault injection and stats.
#  2. When an AWS CLI is installed: aws s3 cp up and down (20 MiB, multipart),
#     s3api get-object --range, all through the verifying proxy: a third,
#     independent SigV4 signer.
# Ends with "s3harness: N passed, N failed"; exits non-zero on any failure.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$HERE"

proxy_url="http://127.0.0.1:$S3_PROXY_PORT"
if [ "$(s3h_http_code GET "$proxy_url/__control/stats")" != 200 ]; then
  echo "# harness not running: starting it for this test"
  "$HERE/start.sh"
  trap '"$HERE/stop.sh" >/dev/null' EXIT
fi

pass=0
fail=0
tmp="$(mktemp -d)"
cleanup_tmp() { rm -rf "$tmp"; }

# ---- 1. node client (independent signer: @smithy/signature-v4)
set +e
node selftest.js | tee "$tmp/node.out"
set -e
np=$(grep -c '^ok - ' "$tmp/node.out" || true)
nf=$(grep -c '^not ok - ' "$tmp/node.out" || true)
pass=$((pass + np))
fail=$((fail + nf))
if [ "$np" = 0 ] && [ "$nf" = 0 ]; then
  echo "not ok - selftest.js ran no check"
  fail=$((fail + 1))
fi

# ---- 2. AWS CLI (botocore's signer), if present
t() { # NAME CMD...: one check
  local name="$1"
  shift
  if "$@" >"$tmp/cmd.log" 2>&1; then
    echo "ok - awscli: $name"
    pass=$((pass + 1))
  else
    echo "not ok - awscli: $name"
    sed 's/^/#   /' "$tmp/cmd.log" | tail -n 15
    fail=$((fail + 1))
  fi
}
stat_field() { # dotted path into the stats JSON; 0 when absent
  node -e '
    require("http").get(process.argv[1], r => {
      let s = "";
      r.on("data", d => (s += d)).on("end", () => {
        let v = JSON.parse(s);
        for (const k of process.argv[2].split(".")) v = v == null ? undefined : v[k];
        console.log(v ?? 0);
      });
    });' "$proxy_url/__control/stats" "$1"
}

if command -v aws >/dev/null 2>&1 && aws --version >/dev/null 2>&1; then
  first="${S3_TEST_CREDENTIALS%%,*}"
  IFS=: read -r ak sk token <<<"$first"
  bucket="$(echo "${S3_BUCKETS//,/ }" | awk '{print $1}')"
  prefix="awscli-selftest/$$-$(date +%s)"
  (
    unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_CA_BUNDLE
    export AWS_CONFIG_FILE="$tmp/aws-config" AWS_SHARED_CREDENTIALS_FILE="$tmp/aws-credentials"
    export AWS_ACCESS_KEY_ID="$ak" AWS_SECRET_ACCESS_KEY="$sk" AWS_DEFAULT_REGION="$S3_REGION"
    export AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
    if [ -n "${token:-}" ]; then export AWS_SESSION_TOKEN="$token"; else unset AWS_SESSION_TOKEN; fi
    aws configure set default.s3.addressing_style path
    awsx() { aws --endpoint-url "$proxy_url" "$@"; }

    head -c $((20 * 1024 * 1024)) /dev/urandom >"$tmp/big.bin"
    echo "small object from the aws cli" >"$tmp/small.txt"
    parts_before="$(stat_field by_kind.multipart_upload_part)"
    rejected_before="$(stat_field rejected.SignatureDoesNotMatch)"

    t "s3 cp small file up" awsx s3 cp --only-show-errors "$tmp/small.txt" "s3://$bucket/$prefix/small.txt"
    t "s3 cp 20 MiB file up (multipart)" awsx s3 cp --only-show-errors "$tmp/big.bin" "s3://$bucket/$prefix/big.bin"
    parts_after="$(stat_field by_kind.multipart_upload_part)"
    t "the 20 MiB upload was multipart (>= 3 UploadPart requests)" test "$((parts_after - parts_before))" -ge 3
    t "s3 cp 20 MiB file down, identical" bash -c "aws --endpoint-url '$proxy_url' s3 cp --only-show-errors 's3://$bucket/$prefix/big.bin' '$tmp/down.bin' && cmp '$tmp/big.bin' '$tmp/down.bin'"
    t "s3 cp small file down, identical" bash -c "aws --endpoint-url '$proxy_url' s3 cp --only-show-errors 's3://$bucket/$prefix/small.txt' '$tmp/small.down' && cmp '$tmp/small.txt' '$tmp/small.down'"
    t "s3api get-object --range bytes=1048570-1048589" bash -c "aws --endpoint-url '$proxy_url' s3api get-object --bucket '$bucket' --key '$prefix/big.bin' --range bytes=1048570-1048589 '$tmp/range.bin' >/dev/null && cmp '$tmp/range.bin' <(tail -c +1048571 '$tmp/big.bin' | head -c 20)"
    t "s3api head-object size" bash -c "aws --endpoint-url '$proxy_url' s3api head-object --bucket '$bucket' --key '$prefix/big.bin' | grep -q '\"ContentLength\": 20971520'"
    t "s3 ls lists both objects" bash -c "aws --endpoint-url '$proxy_url' s3 ls 's3://$bucket/$prefix/' | grep -c -e ' big.bin' -e ' small.txt' | grep -qx 2"
    t "wrong secret is refused with SignatureDoesNotMatch" bash -c "! AWS_SECRET_ACCESS_KEY=wrong-secret aws --endpoint-url '$proxy_url' s3api get-object --bucket '$bucket' --key '$prefix/small.txt' '$tmp/x' 2>'$tmp/err' >/dev/null; cat '$tmp/err'; grep -q SignatureDoesNotMatch '$tmp/err'"
    t "the proxy counted that rejection" test "$(stat_field rejected.SignatureDoesNotMatch)" -gt "$rejected_before"
    t "s3 rm the objects" awsx s3 rm --only-show-errors --recursive "s3://$bucket/$prefix/"
    echo "$pass $fail" >"$tmp/counts"
  )
  read -r pass fail <"$tmp/counts" || { echo "not ok - awscli checks aborted"; fail=$((fail + 1)); }
else
  echo "# no working aws cli: skipping the awscli checks (apt-get install -y awscli to run them)"
fi

cleanup_tmp
echo "s3harness: $pass passed, $fail failed"
[ "$fail" = 0 ]
