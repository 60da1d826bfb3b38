#!/usr/bin/env bash
# Run libFuzzer targets for a bounded time each. For every target NAME
# (test/fuzz/fuzz_NAME, built by `make fuzz`):
#   1. replay every input in regressions/NAME/ once (crashes found before);
#   2. fuzz for SECONDS with memory and per-input time capped, the committed
#      seeds/NAME/ read as a corpus and new inputs kept in corpus/NAME/
#      (git-ignored);
# and print one line "fuzz_NAME: 1 passed, 0 failed" (or "0 passed, 1 failed"
# with the crashing input's path, kept in artifacts/NAME/, git-ignored).
# Usage: test/fuzz/run.sh SECONDS [FIXTURES_DIR] [NAME...]   (default: all targets)
# Exits non-zero if any target failed.
set -u
seconds=${1:-30}
fixtures=${2:-../shared/fixtures/des-v1}
shift 2 2>/dev/null || shift $#
targets=${*:-reader s3xml json location sigv4 chunk tree uri csv sketch value profile jsonl}
here=$(cd "$(dirname "$0")" && pwd)
status=0

# The reader's seeds are made here: the reference archives and archives the
# unit tests write, plus the header and footer of an empty archive.
seed_reader() {
	local corpus=$1
	if [ -d "$fixtures" ]; then
		find "$fixtures" -name "*.des" -size -100k -exec cp -f {} "$corpus"/ \;
	else
		echo "fuzz_reader: fixtures not found at $fixtures; seeding from a generated archive only"
	fi
	[ -x "$here/../unit/test_core" ] && DES_FUZZ_SEED_DIR="$corpus" "$here/../unit/test_core" "$fixtures" >/dev/null 2>&1
	printf 'DESHEAD1\001\0\0\0\0\0\0\0DESFOOT1\001\0\0\0\0\0\0\0\020\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\020\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\020\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0' > "$corpus/seed_empty.des"
}

max_len() {
	case $1 in
		reader) echo 1048576 ;;
		s3xml | json | chunk | csv | profile | jsonl) echo 65536 ;;
		*) echo 4096 ;;
	esac
}

for name in $targets; do
	bin="$here/fuzz_$name"
	corpus="$here/corpus/$name"
	artifacts="$here/artifacts/$name"
	log=$(mktemp)
	mkdir -p "$corpus" "$artifacts"
	if [ ! -x "$bin" ]; then
		echo "fuzz_$name: 0 passed, 1 failed ($bin not built: run make fuzz)"
		status=1
		continue
	fi
	[ "$name" = reader ] && seed_reader "$corpus"
	dirs=("$corpus")
	[ -d "$here/seeds/$name" ] && dirs+=("$here/seeds/$name")
	opts=(-rss_limit_mb=2048 -timeout=10 -max_len="$(max_len "$name")" -artifact_prefix="$artifacts/")

	# 1. regressions: libFuzzer runs each file given as an argument once
	mapfile -t regressions < <(find "$here/regressions/$name" -type f ! -name '.*' 2>/dev/null | sort)
	if [ ${#regressions[@]} -gt 0 ] && ! "$bin" "${opts[@]}" "${regressions[@]}" >"$log" 2>&1; then
		tail -40 "$log"
		echo "fuzz_$name: 0 passed, 1 failed (a regression input crashes again: see above)"
		status=1
		rm -f "$log"
		continue
	fi
	# 2. bounded fuzzing; new inputs go to the first directory only
	if "$bin" "${opts[@]}" -max_total_time="$seconds" -print_final_stats=1 "${dirs[@]}" >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
		slowest=$(sed -n 's/^stat::slowest_unit_time_sec: *//p' "$log" | tail -1)
		echo "fuzz_$name: ${#regressions[@]} regression inputs replayed, ${runs:-?} runs in ${seconds} s, slowest input ${slowest:-?} s"
		echo "fuzz_$name: 1 passed, 0 failed"
	else
		tail -60 "$log"
		crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
		echo "fuzz_$name: 0 passed, 1 failed (crash input: ${crash:-see the log above}; copy it to test/fuzz/regressions/$name/ once fixed)"
		status=1
	fi
	rm -f "$log"
done
exit $status
