#!/bin/bash
# bench_s3.sh - S3 benchmarks of pg_des against s3rver behind the SigV4-verifying
# proxy (test/s3) on loopback, each beside the AWS CLI doing the same work in
# the same run:
#   5a  reading BENCH_S3_READS random entries of a BENCH_S3_ENTRIES-entry archive
#       with one des.archive_read(location, names[]) (cold: index cache reset)
#       versus `aws s3api get-object --range` of the same ranges, one by one
#   5b  uploading a BENCH_S3_UPLOAD_MIB MiB archive with des.archive_write
#       versus `aws s3 cp` of the same archive file
# Both clients go through the same proxy, which verifies every signature.
#
# stdout: "ROW" lines for run.sh; stderr: progress. Needs `make install` and
# Debian's awscli (/usr/bin/aws); starts the harness if it is not running.
#   BENCH_S3_ENTRIES [100000]  BENCH_S3_READS [1000]  BENCH_S3_CLI_READS [= READS]
#   BENCH_S3_UPLOAD_MIB [256]  BENCH_S3_ROUNDS [3]     BENCH_QUICK=1 for small sizes
set -euo pipefail
quick=0
if [ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ]; then quick=1; fi
pick() { if [ "$quick" = 1 ]; then echo "$2"; else echo "$1"; fi; }
ENTRIES=${BENCH_S3_ENTRIES:-$(pick 100000 10000)}
READS=${BENCH_S3_READS:-$(pick 1000 100)}
CLI_READS=${BENCH_S3_CLI_READS:-$READS}
UPLOAD_MIB=${BENCH_S3_UPLOAD_MIB:-$(pick 256 32)}
ROUNDS=${BENCH_S3_ROUNDS:-$(pick 3 1)}
AWS=/usr/bin/aws
root=$(cd "$(dirname "$0")/../.." && pwd)

if [ "${1:-}" != --inner ]; then
	[ -x "$AWS" ] || { echo "bench_s3: $AWS (Debian's awscli) is required" >&2; exit 2; }
	started=0
	if ! curl -sf http://127.0.0.1:59001/__control/stats >/dev/null 2>&1; then
		"$root/test/s3/start.sh" >&2
		started=1
	fi
	dir=$(mktemp -d "${BENCH_DIR:-/tmp}/pg_des_s3bench.XXXXXX")
	mkdir -p "$dir/aws"
	printf '[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n' >"$dir/aws/config"
	printf '[default]\naws_access_key_id = pgdes-test-key\naws_secret_access_key = pgdes-test-secret\n' >"$dir/aws/credentials"
	chown -R postgres "$dir"
	chmod 755 "$dir"
	cleanup() {
		rm -rf "$dir"
		[ "$started" = 1 ] && "$root/test/s3/stop.sh" >/dev/null 2>&1 || true
	}
	trap cleanup EXIT
	BENCH_S3_DIR=$dir pg_virtualenv -v 15 -t -o shared_preload_libraries=pg_des "$0" --inner
	exit $?
fi

dir=$BENCH_S3_DIR
export AWS_CONFIG_FILE=$dir/aws/config AWS_SHARED_CREDENTIALS_FILE=$dir/aws/credentials HOME=$dir/aws
aws_() { "$AWS" --endpoint-url http://127.0.0.1:59001 "$@"; }
psql_() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

psql_ >&2 <<SQL
CREATE EXTENSION pg_des;
CREATE SERVER lake FOREIGN DATA WRAPPER des_fdw
    OPTIONS (endpoint 'http://127.0.0.1:59001', url_style 'path', allow_http 'true');
CREATE USER MAPPING FOR CURRENT_USER SERVER lake
    OPTIONS (access_key_id 'pgdes-test-key', secret_access_key 'pgdes-test-secret');
ALTER DATABASE postgres SET des.default_server = 'lake';
SQL

# ---- 5a: random reads ----
echo "bench_s3: writing a $ENTRIES-entry archive to S3" >&2
psql_ -v entries="$ENTRIES" -v reads="$READS" -v dir="$dir" >&2 <<'SQL'
SELECT des.archive_write('s3://pgdes-test/bench/read.des', 'n' || i,
                         convert_to(repeat(md5(i::text), 16), 'UTF8'), NULL ORDER BY i) ->> 'bytes'
FROM generate_series(1, :entries) i;
CREATE TABLE picks AS
SELECT name, data_offset, size FROM des.archive_list('s3://pgdes-test/bench/read.des')
ORDER BY random() LIMIT :reads;
\set ranges_file :dir '/ranges.txt'
COPY (SELECT data_offset, data_offset + size - 1 FROM picks) TO :'ranges_file';
SQL
best_pg=
for r in $(seq 1 "$ROUNDS"); do
	ms=$(psql_ 2>&1 <<'SQL' | sed -n 's/.*ms=//p'
SELECT des.cache_reset();
DO $$
DECLARE t0 timestamptz := clock_timestamp(); n bigint;
BEGIN
    SELECT count(*) INTO n FROM des.archive_read('s3://pgdes-test/bench/read.des', ARRAY(SELECT name FROM picks));
    RAISE NOTICE 'ms=%', round(extract(epoch FROM clock_timestamp() - t0) * 1000, 1);
END $$;
SQL
	)
	echo "bench_s3: 5a pg_des round $r: $ms ms for $READS entries" >&2
	if [ -z "$best_pg" ] || awk -v a="$ms" -v b="$best_pg" 'BEGIN { exit !(a < b) }'; then best_pg=$ms; fi
done
requests=$(psql_ <<'SQL'
SELECT des.cache_reset();
SELECT des.s3_stats_reset();
SELECT count(*) FROM des.archive_read('s3://pgdes-test/bench/read.des', ARRAY(SELECT name FROM picks));
SELECT sum(requests) FROM des.s3_stats();
SQL
)
requests=$(echo "$requests" | tail -1)
echo "bench_s3: 5a pg_des requests per batch (cold): $requests" >&2

echo "bench_s3: 5a aws s3api get-object --range, $CLI_READS ranges one by one" >&2
t0=$(now_ms)
head -n "$CLI_READS" "$dir/ranges.txt" | while IFS=$'\t' read -r a b; do
	aws_ s3api get-object --bucket pgdes-test --key bench/read.des --range "bytes=$a-$b" "$dir/range.bin" >/dev/null
done
cli_ms=$(( $(now_ms) - t0 ))
echo "bench_s3: 5a aws: $cli_ms ms for $CLI_READS ranges" >&2
awk -v pg="$best_pg" -v cli="$cli_ms" -v n="$READS" -v nc="$CLI_READS" -v e="$ENTRIES" -v q="$quick" 'BEGIN {
	pr = n / (pg / 1000); cr = nc / (cli / 1000); r = pr / cr
	printf "ROW\t5a S3 %d random entries of %d, one batch (cold)\t%.0f entries/s (%.0f ms)\t%.1f entries/s aws s3api --range (%d in %.1f s)\t%.0fx\t(info)\t%s\n",
		n, e, pr, pg, cr, nc, cli / 1000, r, q ? "- (quick mode)" : "-" }'

# ---- 5b: upload ----
echo "bench_s3: preparing $UPLOAD_MIB MiB of rows and the same archive locally" >&2
psql_ -v mib="$UPLOAD_MIB" -v dir="$dir" >&2 <<'SQL'
CREATE TABLE up (name text, data bytea);
ALTER TABLE up ALTER COLUMN data SET STORAGE EXTERNAL;   -- no compression: bytes as they are
INSERT INTO up SELECT 'blob' || i, decode(repeat(md5(i::text) || md5((i + 1)::text), 16384), 'hex')
FROM generate_series(1, :mib * 2) i;                     -- 512 KiB each
\set up_file :dir '/up.des'
SELECT des.archive_write(:'up_file', name, data, NULL, '{"blake2b": false}' ORDER BY name) ->> 'bytes' FROM up;
SQL
best_up=
best_cli=
for r in $(seq 1 "$ROUNDS"); do
	ms=$(psql_ 2>&1 <<'SQL' | sed -n 's/.*ms=//p'
DO $$
DECLARE t0 timestamptz := clock_timestamp(); s jsonb;
BEGIN
    SELECT des.archive_write('s3://pgdes-test/bench/up.des', name, data, NULL, '{"blake2b": false}' ORDER BY name) INTO s FROM up;
    RAISE NOTICE 'ms=%', round(extract(epoch FROM clock_timestamp() - t0) * 1000, 1);
END $$;
SQL
	)
	t0=$(now_ms)
	aws_ s3 cp --quiet "$dir/up.des" s3://pgdes-test/bench/up-cli.des
	cli=$(( $(now_ms) - t0 ))
	echo "bench_s3: 5b round $r: pg_des $ms ms, aws s3 cp $cli ms" >&2
	if [ -z "$best_up" ] || awk -v a="$ms" -v b="$best_up" 'BEGIN { exit !(a < b) }'; then best_up=$ms; fi
	if [ -z "$best_cli" ] || [ "$cli" -lt "$best_cli" ]; then best_cli=$cli; fi
done
bytes=$(stat -c %s "$dir/up.des")
awk -v pg="$best_up" -v cli="$best_cli" -v b="$bytes" -v q="$quick" 'BEGIN {
	pm = b / 1048576 / (pg / 1000); cm = b / 1048576 / (cli / 1000); r = pm / cm
	printf "ROW\t5b S3 upload of a %.0f MiB archive\t%.0f MB/s (%.1f s)\t%.0f MB/s aws s3 cp (%.1f s)\t%.2fx\t>= 1x aws s3 cp\t%s%s\n",
		b / 1048576, pm, pg / 1000, cm, cli / 1000, r, (r >= 1) ? "yes" : "NO", q ? " (quick mode)" : "" }'
