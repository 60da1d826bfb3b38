#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds, then runs
#   1. core unit tests (AddressSanitizer/UBSan), including fixture conformance
#   2. the libFuzzer targets (reader, S3 XML, JSON meta, locations, SigV4, chunker,
#      trees, gros:// URIs, CSV),
#      each for a bounded time (FUZZ_SECONDS each, default 30)
#   3. pg_regress tests against a throwaway PostgreSQL 15 with pg_des preloaded
# and ends with one line: "N passed, N failed[, N skipped]".
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
fixtures=${DES_FIXTURES:-$(cd "$root/.." && pwd)/shared/fixtures/des-v1}

tools/deps.sh || { echo "dependency installation failed"; echo "0 passed, 1 failed"; exit 1; }
# a test build: the crash-test pause points (des.debug_pause_at, used by the
# TAP tests) exist only with DES_TEST_HOOKS; CI adds assertions
EXTRA_CFLAGS="-DDES_TEST_HOOKS ${EXTRA_CFLAGS:-$([ "${CI:-}" = true ] && echo -DUSE_ASSERT_CHECKING)}" tools/build.sh \
	|| { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

passed=0 failed=0 skipped=0
count() {	# count <suite> <log>: add the suite's "N passed, N failed[, N skipped]" line
	local line
	line=$(grep -E '^[a-z0-9_]+: [0-9]+ passed, [0-9]+ failed' "$2" | tail -1)
	if [ -z "$line" ]; then
		echo "== $1: no result line (treated as 1 failure)"
		failed=$((failed + 1))
		return
	fi
	echo "== $line"
	passed=$((passed + $(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")))
	failed=$((failed + $(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")))
	if grep -q skipped <<<"$line"; then
		skipped=$((skipped + $(sed -E 's/.* ([0-9]+) skipped.*/\1/' <<<"$line")))
	fi
}
logs=$(mktemp -d)
have_fixtures=true
if [ ! -f "$fixtures/manifest.json" ]; then
	have_fixtures=false
	echo "!!! SKIPPED: fixture conformance tests: $fixtures/manifest.json not found."
	echo "!!! The DES v1 reference fixtures are expected in ../shared/fixtures/des-v1 (or DES_FIXTURES)."
fi

echo "== core unit tests"
make -s unit FIXTURES="$fixtures" 2>&1 | tee "$logs/unit"
for suite in $(sed -n 's/^UNIT_SUITES = //p' Makefile) core_tsan; do	# one result line per suite
	grep -E "^$suite: [0-9]+ passed" "$logs/unit" >"$logs/$suite" || true
	count "$suite" "$logs/$suite"
done

fuzz_targets=$(sed -n 's/^FUZZ_TARGETS = //p' Makefile)
echo "== fuzzing: $fuzz_targets (${FUZZ_SECONDS:-30} s each)"
make -s fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-30}" FIXTURES="$fixtures" 2>&1 | tee "$logs/fuzz"
for t in $fuzz_targets; do	# one result line per target; a missing one counts as a failure
	grep -E "^fuzz_$t: " "$logs/fuzz" >"$logs/fuzz_$t" || true
	count "fuzz_$t" "$logs/fuzz_$t"
done

echo "== S3 harness (s3rver behind a SigV4-verifying proxy on 127.0.0.1:59001)"
test/s3/stop.sh >/dev/null 2>&1 || true
rm -rf test/s3/data
# a second key with a session token, for the temporary-credential tests
export S3_TEST_CREDENTIALS="pgdes-test-key:pgdes-test-secret,pgdes-token-key:pgdes-token-secret:pgdes-session-token"
s3_up=true
test/s3/start.sh >"$logs/s3start" 2>&1 || { s3_up=false; cat "$logs/s3start"; }
trap 'test/s3/stop.sh >/dev/null 2>&1 || true' EXIT
if $s3_up; then
	S3_SELFTEST_BIG_MIB=${S3_SELFTEST_BIG_MIB:-64} test/s3/selftest.sh >"$logs/s3self" 2>&1
	tail -3 "$logs/s3self"
	count s3harness "$logs/s3self"
else
	echo "s3harness: 0 passed, 1 failed" >"$logs/s3self"
	count s3harness "$logs/s3self"
fi

echo "== pg_regress (PostgreSQL 15, shared_preload_libraries = pg_cron,pg_des)"
work=/tmp/pg_des_regress
rm -rf "$work"
mkdir -p "$work"/{basic,errors,privileges,s3,aws,fdw,upload}
cat >"$work/aws/config" <<'AWSCFG'
[default]
region = us-east-1
s3 =
    addressing_style = path
AWSCFG
cat >"$work/aws/credentials" <<'AWSCRED'
[default]
aws_access_key_id = pgdes-test-key
aws_secret_access_key = pgdes-test-secret
AWSCRED
tests=$(sed -n 's/^test: *//p' test/regress/schedule | tr '\n' ' ')	# the one list, shared with `make installcheck`
if $have_fixtures; then
	cp -r "$fixtures" "$work/fixtures"
else
	tests=$(sed 's/\barchive_fixtures\b//' <<<"$tests")
	echo "!!! SKIPPED: regression test archive_fixtures (no fixtures)"
	skipped=$((skipped + 1))
fi
chown -R postgres "$work" 2>/dev/null || chmod -R a+rwX "$work"
rm -rf results regression.diffs regression.out output_iso
pg_virtualenv -v 15 -o shared_preload_libraries=pg_cron,pg_des -o cron.database_name=postgres \
	make -s installcheck PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config REGRESS="$tests" TAP_TESTS= >"$logs/regress" 2>&1
cat "$logs/regress"
[ -f regression.diffs ] && head -200 regression.diffs
[ -f output_iso/regression.diffs ] && head -200 output_iso/regression.diffs
rp=$(grep -cE '^(test| ) *[a-z0-9_]+ +\.\.\. ok' "$logs/regress")
rf=$(grep -cE '^(test| ) *[a-z0-9_]+ +\.\.\. FAILED' "$logs/regress")
expected=$(( $(wc -w <<<"$tests") + $(ls test/isolation/specs/*.spec | wc -l) ))
if [ $((rp + rf)) -ne "$expected" ]; then
	echo "== regress: $rp ok and $rf failed of $expected tests: the run did not complete"
	rf=$((expected - rp))
fi
echo "regress: $rp passed, $rf failed" >"$logs/regress.count"
count regress "$logs/regress.count"

echo "== OpenLineage events against the published schema (test/openlineage, ajv)"
pg_virtualenv -v 15 -o shared_preload_libraries=pg_des test/openlineage/run.sh >"$logs/openlineage" 2>&1 || true
grep -E '^  (ok|not ok)' "$logs/openlineage" | grep -v '^  ok' || true
count openlineage "$logs/openlineage"

echo "== a MariaDB table as a source (test/mariadb: Debian's MariaDB on 127.0.0.1:13306, mysql_fdw, the real workers)"
pg_virtualenv -v 15 -o shared_preload_libraries=pg_des -o des.marker_naptime=100ms -o des.packer_naptime=100ms \
	-o des.container_max_age=300ms test/mariadb/run.sh >"$logs/mariadb" 2>&1 || true
grep -E '^  (ok|not ok)' "$logs/mariadb" | grep -v '^  ok' || true
count mariadb "$logs/mariadb"

echo "== upgrade (the previous release's script, ALTER EXTENSION pg_des UPDATE, pg_dump compared with a fresh install)"
pg_virtualenv -v 15 -o shared_preload_libraries=pg_des test/upgrade/run.sh >"$logs/upgrade" 2>&1
cat "$logs/upgrade"
count upgrade "$logs/upgrade"

echo "== TAP tests (restarts and crashes; make tap as postgres: initdb refuses root)"
# a copy postgres can write to (tmp_check/ goes beside the tests), with what
# the Makefile reads and the exporter file 003_packer.pl runs
tapdir=$(mktemp -d /tmp/pg_des_tap.XXXXXX)
mkdir -p "$tapdir/test/regress" "$tapdir/docs"
cp -r Makefile pg_des.control "$tapdir/"
cp -r test/t "$tapdir/test/"
cp test/regress/schedule "$tapdir/test/regress/"
cp docs/postgres_exporter.yaml "$tapdir/docs/"
chmod 755 "$tapdir"
chown -R postgres "$tapdir" 2>/dev/null || true
as_postgres=(runuser -u postgres --)
[ "$(id -un)" = postgres ] && as_postgres=()
"${as_postgres[@]}" make -s -C "$tapdir" tap PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config PROVE_FLAGS="-I test/t -v" >"$logs/tap" 2>&1
grep -E '^(ok|not ok) [0-9]+|^Result:' "$logs/tap"
tp=$(grep -cE '^ok [0-9]+' "$logs/tap")
tf=$(grep -cE '^not ok [0-9]+' "$logs/tap")
if ! grep -q '^Result: PASS' "$logs/tap"; then
	tail -40 "$logs/tap"
	[ "$tf" -eq 0 ] && tf=1
fi
echo "tap: $tp passed, $tf failed" >"$logs/tap.count"
count tap "$logs/tap.count"
rm -rf "$tapdir"

echo "== the README's main job (tools/demo.sh)"
if DEMO_SKIP_BUILD=1 tools/demo.sh >"$logs/demo" 2>&1 && grep -q "main job finished: every file" "$logs/demo"; then
	echo "demo: 1 passed, 0 failed" >"$logs/demo.count"
else
	tail -30 "$logs/demo"
	echo "demo: 0 passed, 1 failed" >"$logs/demo.count"
fi
count demo "$logs/demo.count"

rm -rf "$logs"
echo
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
