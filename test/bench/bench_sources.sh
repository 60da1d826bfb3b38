#!/bin/bash
# bench_sources.sh - sources in other databases (issue "Sources in other
# databases"), rows 15a-15b: rows claimed per second, batches of 1,000
# (des_internal.claim_source_tables(1000) called until nothing is left and,
# for foreign tables, every claim is settled: the remote rows in their
# claimed status), each beside the same number of rows claimed from a plain
# table of this database in the same run:
#   15a a table of another PostgreSQL database of the same server, through
#       postgres_fdw (one remote UPDATE ... RETURNING per window)
#   15c as 15a with two markers at once (claimers => 2: each its share of the
#       keys), beside the plain table claimed by two sessions (SKIP LOCKED)
#   15b a MariaDB table through mysql_fdw (Debian's MariaDB, started here on
#       127.0.0.1:13307; mysql_fdw sends one remote UPDATE per row)
# Rows: a key, a name, 256 bytes, a status; the remote table indexed on
# (status, id), as docs/pipeline.md advises. 15a: best of 3 runs each. No
# workers run; each round is its own transaction (a procedure that
# commits), as the marker's are.
#
# stdout: "ROW" lines (run.sh formats them); stderr: progress.
# Environment:
#   BENCH_QUICK=1              smaller sizes (smoke test)
#   BENCH_SOURCE_ROWS          rows of each source [100000; quick 5000]
#   BENCH_MARIADB_ROWS         rows of the MariaDB source [20000; quick 2000]
set -euo pipefail

quick=0
if [ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ]; then quick=1; fi
ROWS=${BENCH_SOURCE_ROWS:-$([ "$quick" = 1 ] && echo 5000 || echo 100000)}
MROWS=${BENCH_MARIADB_ROWS:-$([ "$quick" = 1 ] && echo 2000 || echo 20000)}

if [ "${1:-}" != --inner ]; then
	command -v pg_virtualenv >/dev/null || { echo "bench_sources: pg_virtualenv is missing" >&2; exit 2; }
	pg_virtualenv -v 15 -o shared_preload_libraries=pg_des -o des.markers=0 -o des.packers=0 ${BENCH_PG_OPTIONS:-} "$0" --inner
	exit $?
fi

row() { printf 'ROW\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@"; }
q() { psql -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
now_ms() { date +%s%3N; }

q "CREATE EXTENSION pg_des; CREATE EXTENSION postgres_fdw" >/dev/null

# claim rounds, each its own transaction as the marker's are, until a round
# claims nothing and no claim is left to settle; prints ms
q "CREATE PROCEDURE claim_all() LANGUAGE plpgsql AS \$\$
   DECLARE n int;
   BEGIN
       LOOP
           n := des_internal.claim_source_tables(1000);
           COMMIT;
           EXIT WHEN n = 0 AND NOT EXISTS (SELECT FROM des.source_claims);
       END LOOP;
   END \$\$" >/dev/null
claim_all() {
	local t0
	t0=$(now_ms)
	q "CALL claim_all()" >/dev/null
	echo $(($(now_ms) - t0))
}
# the same in two sessions at once (two markers); prints ms until both are done
claim_all_2() {
	local t0
	t0=$(now_ms)
	q "CALL claim_all()" >/dev/null &
	q "CALL claim_all()" >/dev/null &
	wait
	echo $(($(now_ms) - t0))
}
local_ms() {	# local_ms <rows> [2]: a plain table of this database, the same rows (in two sessions)
	q "DELETE FROM des.sources; TRUNCATE des.objects, des.dead_letters;
	   DROP TABLE IF EXISTS lsrc;
	   CREATE TABLE lsrc (id bigint PRIMARY KEY, name text, body bytea, status text NOT NULL DEFAULT 'pending');
	   INSERT INTO lsrc (id, name, body) SELECT i, 'l/' || i, gen_random_bytes_256(i) FROM generate_series(1, $1) i;
	   SELECT des.register_source('lsrc', 'name', data_column => 'body')" >/dev/null
	q "VACUUM ANALYZE lsrc"
	local ms
	if [ "${2:-1}" = 2 ]; then ms=$(claim_all_2); else ms=$(claim_all); fi
	[ "$(q "SELECT count(*) FROM lsrc WHERE status = 'queued'")/$(q "SELECT count(DISTINCT name) FROM des.objects")" = "$1/$1" ] \
		|| { echo "bench_sources: plain table claims incomplete" >&2; exit 1; }
	echo "$ms"
}
rate() { awk -v n="$1" -v ms="$2" 'BEGIN { printf "%.0f", n / ms * 1000 }'; }
q "CREATE FUNCTION gen_random_bytes_256(i bigint) RETURNS bytea LANGUAGE sql AS
   \$\$ SELECT decode(repeat(md5(i::text), 8), 'hex') || decode(repeat(md5((i + 1)::text), 8), 'hex') \$\$" >/dev/null

# ---- 15a: postgres_fdw ----
# fdw_ms <1|2>: the foreign rows claimed by one marker or two, best of 3
# (the remote rows set pending again between runs), every row checked
fdw_ms() {
	local best= ms run
	for run in 1 2 3; do
		q "TRUNCATE des.objects, des.dead_letters" >/dev/null
		psql -X -q -d bench_remote -c "UPDATE src SET status = 'pending'" >/dev/null
		psql -X -q -d bench_remote -c "VACUUM ANALYZE src" >/dev/null
		if [ "$1" = 2 ]; then ms=$(claim_all_2); else ms=$(claim_all); fi
		echo "bench_sources: postgres_fdw, $1 marker(s), run $run: $ms ms" >&2
		[ -z "$best" ] || [ "$ms" -lt "$best" ] && best=$ms
	done
	[ "$(q "SELECT count(*) FILTER (WHERE status = 'queued') || '/' || count(*) FROM fsrc")/$(q "SELECT count(DISTINCT name) FROM des.objects")" \
		= "$ROWS/$ROWS/$ROWS" ] || { echo "bench_sources: postgres_fdw claims incomplete" >&2; exit 1; }
	echo "$best"
}
# best_local_ms <1|2>: the plain table claimed by one session or two, best of 3
best_local_ms() {
	local best= ms run
	for run in 1 2 3; do
		ms=$(local_ms "$ROWS" "$1")
		echo "bench_sources: plain table, $1 session(s), run $run: $ms ms" >&2
		[ -z "$best" ] || [ "$ms" -lt "$best" ] && best=$ms
	done
	echo "$best"
}
# rate_row <label> <rows/s> <baseline rows/s>: a row against the 20,000/s goal
rate_row() {
	row "$1" "$2" "$3" "$(awk -v a="$2" -v b="$3" 'BEGIN { printf "%.2f", a / b }')" ">= 20000/s" \
		"$(awk -v r="$2" 'BEGIN { print (r >= 20000) ? "yes" : "no" }')"
}

echo "bench_sources: $ROWS rows from a plain table, one session (best of 3)" >&2
base_ms=$(best_local_ms 1)
q "CREATE DATABASE bench_remote" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d bench_remote >/dev/null <<SQL
CREATE TABLE src (id bigint PRIMARY KEY, name text, body bytea, status text NOT NULL DEFAULT 'pending');
INSERT INTO src (id, name, body)
SELECT i, 'r/' || i, decode(repeat(md5(i::text), 8), 'hex') || decode(repeat(md5((i + 1)::text), 8), 'hex')
  FROM generate_series(1, $ROWS) i;
CREATE INDEX ON src (status, id);
VACUUM ANALYZE src;
SQL
host=$(q "SELECT split_part(current_setting('unix_socket_directories'), ',', 1)")
port=$(q "SELECT current_setting('port')")
q "DELETE FROM des.sources; TRUNCATE des.objects, des.dead_letters;
   CREATE SERVER remote FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '$host', port '$port', dbname 'bench_remote', fetch_size '1000');
   CREATE USER MAPPING FOR CURRENT_USER SERVER remote;
   CREATE FOREIGN TABLE fsrc (id bigint, name text, body bytea, status text) SERVER remote OPTIONS (table_name 'src');
   SELECT des.register_source('fsrc', 'name', data_column => 'body', key_column => 'id')" >/dev/null
echo "bench_sources: $ROWS rows through postgres_fdw, one marker (best of 3)" >&2
ours_ms=$(fdw_ms 1)
rate_row "15a rows/s claimed from another PostgreSQL database (postgres_fdw), batches of 1000, vs a plain table" \
	"$(rate "$ROWS" "$ours_ms")" "$(rate "$ROWS" "$base_ms")"

# ---- 15c: the same with two markers at once (claimers => 2), against two sessions on the plain table ----
echo "bench_sources: $ROWS rows from a plain table, two sessions (best of 3)" >&2
base2_ms=$(best_local_ms 2)
q "DELETE FROM des.sources; TRUNCATE des.objects, des.dead_letters;
   SELECT des.register_source('fsrc', 'name', data_column => 'body', key_column => 'id', claimers => 2)" >/dev/null
echo "bench_sources: $ROWS rows through postgres_fdw, two markers (best of 3)" >&2
ours2_ms=$(fdw_ms 2)
rate_row "15c rows/s claimed from another PostgreSQL database, two markers (claimers => 2), vs a plain table in two sessions" \
	"$(rate "$ROWS" "$ours2_ms")" "$(rate "$ROWS" "$base2_ms")"

# ---- 15b: mysql_fdw ----
if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
	row "15b rows/s claimed from MariaDB (mysql_fdw)" "skipped (no mariadbd)" "-" "-" "-" "-"
	exit 0
fi
work=$(mktemp -d /tmp/pg_des_bench_maria.XXXXXX)
chmod 755 "$work"
mkdir -p "$work/data" "$work/run"
chown mysql:mysql "$work/data" "$work/run"
trap '[ -f "$work/run/mysqld.pid" ] && kill "$(cat "$work/run/mysqld.pid")"; sleep 1; rm -rf "$work"' EXIT
su -s /bin/sh mysql -c "mariadb-install-db --no-defaults --datadir=$work/data --auth-root-authentication-method=normal" >/dev/null 2>&1
su -s /bin/sh mysql -c "nohup /usr/sbin/mariadbd --no-defaults --datadir=$work/data --socket=$work/run/mysqld.sock \
	--pid-file=$work/run/mysqld.pid --port=13307 --bind-address=127.0.0.1 --log-error=$work/run/error.log >/dev/null 2>&1 &"
for _ in $(seq 1 100); do mariadb-admin --no-defaults -S "$work/run/mysqld.sock" -uroot ping >/dev/null 2>&1 && break; sleep 0.1; done
mariadb --no-defaults -S "$work/run/mysqld.sock" -uroot -e "
	CREATE DATABASE bench;
	CREATE USER 'bench'@'127.0.0.1' IDENTIFIED BY 'bench-password'; CREATE USER 'bench'@'localhost' IDENTIFIED BY 'bench-password';
	GRANT ALL ON bench.* TO 'bench'@'127.0.0.1'; GRANT ALL ON bench.* TO 'bench'@'localhost';
	CREATE TABLE bench.src (id bigint PRIMARY KEY, name varchar(100), body blob, status varchar(20) NOT NULL DEFAULT 'pending',
	                        KEY by_status (status, id)) ENGINE=InnoDB;
	SET SESSION max_recursive_iterations = 10000000;
	INSERT INTO bench.src (id, name, body)
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $MROWS)
	SELECT i, CONCAT('m/', i), CONCAT(REPEAT(UNHEX(MD5(i)), 8), REPEAT(UNHEX(MD5(i + 1)), 8)) FROM n;"
echo "bench_sources: $MROWS rows from a plain table" >&2
mbase_ms=$(local_ms "$MROWS")
q "DELETE FROM des.sources; TRUNCATE des.objects, des.dead_letters;
   CREATE EXTENSION mysql_fdw;
   CREATE SERVER maria FOREIGN DATA WRAPPER mysql_fdw OPTIONS (host '127.0.0.1', port '13307');
   CREATE USER MAPPING FOR CURRENT_USER SERVER maria OPTIONS (username 'bench', password 'bench-password');
   CREATE FOREIGN TABLE msrc (id bigint, name varchar(100), body bytea, status varchar(20))
       SERVER maria OPTIONS (dbname 'bench', table_name 'src');
   SELECT des.register_source('msrc', 'name', data_column => 'body', key_column => 'id')" >/dev/null
echo "bench_sources: $MROWS rows through mysql_fdw" >&2
mours_ms=$(claim_all)
mcheck=$(mariadb --no-defaults -S "$work/run/mysqld.sock" -uroot -N -B -e "SELECT CONCAT(SUM(status = 'queued'), '/', COUNT(*)) FROM bench.src")
mobjs=$(q "SELECT count(*) FROM des.objects")
echo "bench_sources: mysql_fdw ${mours_ms} ms (plain table ${mbase_ms} ms); MariaDB rows queued: $mcheck; objects: $mobjs" >&2
[ "$mcheck" = "$MROWS/$MROWS" ] && [ "$mobjs" = "$MROWS" ] || { echo "bench_sources: mysql_fdw claims incomplete" >&2; exit 1; }
mours=$(rate "$MROWS" "$mours_ms")
mbase=$(rate "$MROWS" "$mbase_ms")
row "15b rows/s claimed from MariaDB (mysql_fdw), batches of 1000, vs a plain table" "$mours" "$mbase" \
	"$(awk -v a="$mours" -v b="$mbase" 'BEGIN { printf "%.2f", a / b }')" "reported" "-"
