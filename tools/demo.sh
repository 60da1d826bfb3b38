#!/usr/bin/env bash
# The main job, end to end on local storage: installs dependencies, builds,
# starts a throwaway PostgreSQL 15 with pg_des preloaded, packs a directory of
# files into a DES archive from SQL, reads entries back and verifies them.
# Usage: tools/demo.sh [DIRECTORY]   (default: a generated sample directory)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${DEMO_SKIP_BUILD:-}" ]; then	# tools/test.sh has just built and installed it
	tools/deps.sh
	echo "Building pg_des..."
	tools/build.sh
fi

work=$(mktemp -d /tmp/pg_des_demo.XXXXXX)
input=${1:-}
if [ -z "$input" ]; then
	input="$work/input"
	mkdir -p "$input"/{docs,logs/2025-01-01,images}
	for i in $(seq 1 120); do
		printf 'log line %d: sensor=%d value=%d\n' $(seq 1 $((i % 9 + 1))) $i $((i * 7)) >"$input/logs/2025-01-01/sensor_$i.log"
	done
	for i in $(seq 1 40); do
		head -c $((i * 300)) /dev/urandom >"$input/images/img_$i.bin"
	done
	cp README.md "$input/docs/README.md"
	head -c $((3 * 1024 * 1024)) /dev/urandom >"$input/images/large_scan.bin"
	echo "Sample input: $(find "$input" -type f | wc -l) files in $input"
else
	input=$(cd "$input" && pwd)
	cp -r "$input" "$work/input"
	input="$work/input"
fi
chown -R postgres "$work" 2>/dev/null || chmod -R a+rwX "$work"

pg_virtualenv -v 15 -o shared_preload_libraries=pg_des \
	psql -X -q -v dir="$input" -v archive="$work/archive/demo.des" -f demo/main_job.sql
echo
echo "The archive and the sample input are in $work:"
find "$work/archive" -type f -printf '  %p  (%s bytes)\n' | sort
