#!/usr/bin/env bash
# Install what pg_des needs to build, run and test on Debian 12 (bookworm).
# Idempotent: does nothing when everything is present. Needs root or sudo.
set -euo pipefail

packages=(
	make gcc clang libc6-dev pkg-config
	postgresql-15 postgresql-server-dev-15 postgresql-common
	libb2-dev liblz4-dev libxxhash-dev libssl-dev libcurl4-openssl-dev
	libjansson-dev   # unit tests read the fixtures' manifest.json
	curl awscli      # S3 tests: harness control, interoperability with the AWS CLI
	libipc-run-perl  # TAP tests (PostgreSQL::Test::Cluster)
)
# The S3 harness runs on Node.js; install Debian's when npm is missing, and
# leave an existing Node installation alone.
if ! command -v npm >/dev/null 2>&1; then
	packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
echo "Installing: ${missing[*]}"
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
