#!/usr/bin/env bash
# The main job, end to end on local storage: installs dependencies, builds,
# starts a throwaway PostgreSQL 15 with pg_des preloaded (marker and packer
# workers running), puts a directory of files into the catalog from SQL (and
# once more in bulk through des.incoming),
# watches the workers pack them into DES archives, reads everything back,
# verifies it and shows the statistics; then the data lake: a versioned
# dataset, retention and GC, a job's lineage, the trigger dispatcher re-running
# the job on a new version, schedules through pg_cron (also preloaded), and
# discovery: the profiler workers profile the dataset's CSV files for search;
# last, a table of another database (postgres_fdw) as a source the marker
# claims from.
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

mkdir -p "$work/lake"
chown postgres "$work/lake" 2>/dev/null || true
# short waits so the demo does not idle: containers are finished after 1 s
pg_virtualenv -v 15 -o shared_preload_libraries=pg_cron,pg_des -o cron.database_name=postgres \
	-o des.storage="$work/lake" -o des.packers=2 \
	-o des.marker_naptime=200ms -o des.packer_naptime=200ms -o des.container_max_age=1s \
	psql -X -q -d postgres -v dir="$input" -f demo/main_job.sql
echo
echo "The containers the packers wrote and the sample input are in $work:"
find "$work/lake" -type f -printf '  %p  (%s bytes)\n' | sort | head -20
