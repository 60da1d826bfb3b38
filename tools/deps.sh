#!/usr/bin/env bash
# Install everything `sudo tools/demo.sh` and `sudo tools/test.sh` use on
# Debian 12 (bookworm), from a minimal install with git and sudo: the Debian
# packages and the S3 harness's node modules (npm ci in test/s3). After it has
# run once, neither command needs the network. Idempotent: does nothing when
# everything is present. Needs root or sudo. `.ci/run` proves the list
# complete by running both commands in a fresh debootstrap root without a
# network after this script (docs/testing.md).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
	make gcc libc6-dev pkg-config
	clang libclang-rt-14-dev   # TSan unit tests, libFuzzer (+ASan/UBSan) runtimes
	postgresql-15 postgresql-server-dev-15 postgresql-common
	postgresql-15-cron   # schedules (des.gc_run) go through pg_cron
	libb2-dev liblz4-dev libxxhash-dev libssl-dev libcurl4-openssl-dev
	libjansson-dev   # unit tests read the fixtures' manifest.json
	curl awscli      # S3 tests: harness control, interoperability with the AWS CLI
	libipc-run-perl  # TAP tests (PostgreSQL::Test::Cluster)
	mariadb-server postgresql-15-mysql-fdw   # foreign sources: a real MariaDB through mysql_fdw
)
# The S3 harness runs on Node.js; install Debian's when npm is missing, and
# leave an existing Node installation alone.
if ! command -v npm >/dev/null 2>&1; then
	packages+=(nodejs npm)
fi

as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "Installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	"${as_root[@]}" apt-get update -qq
	"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The S3 harness's node modules, pinned by test/s3/package-lock.json
# (test/s3/start.sh runs the same npm ci when they are missing).
if [ ! -d test/s3/node_modules/s3rver ] || [ ! -d test/s3/node_modules/@smithy/signature-v4 ]; then
	echo "Installing the S3 harness's node modules (npm ci in test/s3)"
	(cd test/s3 && npm ci --no-audit --no-fund --loglevel=error)
fi
# The OpenLineage check's JSON-schema validator (ajv), pinned by
# test/openlineage/package-lock.json.
if [ ! -d test/openlineage/node_modules/ajv ] || [ ! -d test/openlineage/node_modules/ajv-formats ]; then
	echo "Installing the OpenLineage check's node modules (npm ci in test/openlineage)"
	(cd test/openlineage && npm ci --no-audit --no-fund --loglevel=error)
fi
