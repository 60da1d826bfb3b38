#!/usr/bin/env bash
# Run the reader fuzzer for a bounded time, seeded with the reference archives
# and archives the unit tests write. Prints "fuzz: N passed, N failed".
# Usage: test/fuzz/run.sh SECONDS [FIXTURES_DIR]
set -u
seconds=${1:-60}
fixtures=${2:-../shared/fixtures/des-v1}
here=$(cd "$(dirname "$0")" && pwd)
corpus="$here/corpus"
mkdir -p "$corpus"
if [ -d "$fixtures" ]; then
	find "$fixtures" -name "*.des" -size -100k -exec cp -f {} "$corpus"/ \;
else
	echo "fuzz: fixtures not found at $fixtures; seeding from a generated archive only"
fi
[ -x "$here/../unit/test_core" ] && DES_FUZZ_SEED_DIR="$corpus" "$here/../unit/test_core" "$fixtures" >/dev/null 2>&1
# A small seed always exists: header+footer of an empty archive.
printf 'DESHEAD1\001\0\0\0\0\0\0\0DESFOOT1\001\0\0\0\0\0\0\0\020\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\020\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\020\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0' > "$corpus/seed_empty.des"
cd "$here"
log=$(mktemp)
# -rss_limit_mb bounds memory; -timeout flags hangs; leaks are reported by ASan.
if ./fuzz_reader -max_total_time="$seconds" -max_len=1048576 -rss_limit_mb=2048 -timeout=10 \
	-print_final_stats=1 "$corpus" >"$log" 2>&1; then
	grep -E 'stat::number_of_executed_units|Done' "$log" | tail -2
	echo "fuzz: 1 passed, 0 failed"
	rm -f "$log"
	exit 0
fi
tail -60 "$log"
echo "fuzz: 0 passed, 1 failed (crash input saved in $here)"
rm -f "$log"
exit 1
