#!/bin/bash
# A MariaDB table as a source (docs/pipeline.md, "Foreign sources"), with
# real components: Debian's MariaDB server, started here on 127.0.0.1:13306
# as the mysql user with a throwaway data directory, and Debian's mysql_fdw.
# Rows inserted in MariaDB are claimed by the real marker (compare-and-set
# through the wrapper, read back by key and status: mysql_fdw has no
# RETURNING), packed by the real packers and read back by name; the MariaDB
# rows end in the claimed status (read with the mariadb client). Then: a row
# left claiming in MariaDB (as a marker killed between its remote flip,
# which mysql_fdw commits at once, and its own commit) is staged once; the
# server stopped, the source records the error and backs off, and resumes
# when it is back.
# Run inside a server with pg_des preloaded, markers and packers on
# (tools/test.sh starts one with pg_virtualenv; the workers serve database
# postgres). Prints "mariadb: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")"
export PGDATABASE=postgres
port=13306	# below the ephemeral range (32768-60999), where a client socket in TIME_WAIT can hold it
rows=${MARIADB_ROWS:-500}
work=$(mktemp -d /tmp/pg_des_mariadb.XXXXXX)
chmod 755 "$work"
passed=0 failed=0
check() {	# check <description> <expected> <actual>
	if [ "$2" = "$3" ]; then
		echo "  ok - $1"
		passed=$((passed + 1))
	else
		echo "  not ok - $1: expected '$2', got '$3'"
		failed=$((failed + 1))
	fi
}
q() { psql -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
maria() { mariadb --no-defaults -S "$work/run/mysqld.sock" -uroot -N -B pgdes -e "$1"; }

start_mariadb() {
	su -s /bin/sh mysql -c "nohup /usr/sbin/mariadbd --no-defaults --datadir=$work/data \
		--socket=$work/run/mysqld.sock --pid-file=$work/run/mysqld.pid --port=$port \
		--bind-address=127.0.0.1 --log-error=$work/run/error.log >/dev/null 2>&1 &"
	for _ in $(seq 1 100); do
		mariadb-admin --no-defaults -S "$work/run/mysqld.sock" -uroot ping >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "mariadb did not start:"; cat "$work/run/error.log"
	return 1
}
stop_mariadb() {
	[ -f "$work/run/mysqld.pid" ] || return 0
	local pid
	pid=$(cat "$work/run/mysqld.pid")
	kill "$pid" 2>/dev/null
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null
}
trap 'stop_mariadb; rm -rf "$work"' EXIT

mkdir -p "$work/data" "$work/run"
chown mysql:mysql "$work/data" "$work/run"
su -s /bin/sh mysql -c "mariadb-install-db --no-defaults --datadir=$work/data --auth-root-authentication-method=normal" \
	>"$work/install.log" 2>&1 || { cat "$work/install.log"; echo "mariadb: 0 passed, 1 failed"; exit 1; }
start_mariadb || { echo "mariadb: 0 passed, 1 failed"; exit 1; }
mariadb --no-defaults -S "$work/run/mysqld.sock" -uroot -e "
	CREATE DATABASE pgdes;
	CREATE USER 'pgdes'@'127.0.0.1' IDENTIFIED BY 'pgdes-test-password';
	CREATE USER 'pgdes'@'localhost' IDENTIFIED BY 'pgdes-test-password';
	GRANT SELECT, UPDATE ON pgdes.* TO 'pgdes'@'127.0.0.1';
	GRANT SELECT, UPDATE ON pgdes.* TO 'pgdes'@'localhost';"
# the application's table: the key first (mysql_fdw updates by the first column)
maria "CREATE TABLE uploads (id bigint PRIMARY KEY, path varchar(300) NOT NULL, body longblob,
                             state varchar(20) NOT NULL DEFAULT 'new', added datetime(6) NOT NULL,
                             KEY by_state (state, added, id)) ENGINE=InnoDB;
       INSERT INTO uploads (id, path, body, added)
       WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $rows)
       SELECT i, CONCAT('maria/', i, '.bin'), CONCAT(UNHEX(MD5(i)), 0x00FF00, REPEAT(CHAR(65 + i % 26), i % 4000)),
              TIMESTAMP'2026-01-01 00:00:00' + INTERVAL i SECOND
         FROM n;"
check "rows in MariaDB" "$rows" "$(maria "SELECT count(*) FROM uploads WHERE state = 'new'")"

q "SET client_min_messages = warning;
   CREATE EXTENSION IF NOT EXISTS pg_des;
   CREATE EXTENSION IF NOT EXISTS mysql_fdw;
   CREATE SERVER maria FOREIGN DATA WRAPPER mysql_fdw OPTIONS (host '127.0.0.1', port '$port');
   CREATE USER MAPPING FOR CURRENT_USER SERVER maria OPTIONS (username 'pgdes', password 'pgdes-test-password');
   CREATE FOREIGN TABLE maria_uploads (id bigint, path varchar(300), body bytea, state varchar(20), added timestamp)
       SERVER maria OPTIONS (dbname 'pgdes', table_name 'uploads');" >/dev/null
check "register the MariaDB table (no RETURNING through mysql_fdw)" "f" \
	"$(q "SELECT des.register_source('maria_uploads', 'path', data_column => 'body', status_column => 'state',
	                                 pending_value => 'new', claimed_value => 'archived', key_column => 'id',
	                                 age_column => 'added') > 0" >/dev/null
	   q "SELECT use_returning FROM des.sources WHERE relation = 'maria_uploads'::regclass")"
q "SELECT des.wake_markers()" >/dev/null

wait_for() {	# wait_for <sql returning t> <seconds>
	local i
	for i in $(seq 1 $(($2 * 5))); do
		[ "$(q "$1")" = t ] && return 0
		sleep 0.2
	done
	return 1
}
# claimed by the marker, settled by its next rounds, packed by the packers
wait_for "SELECT count(*) = $rows FROM des.objects WHERE name LIKE 'maria/%' AND state = 'packed'" 120 \
	|| echo "  (timed out waiting for the packers: $(q "SELECT state || ' ' || count(*) FROM des.objects GROUP BY state"))"
check "every MariaDB row is one packed object" "$rows $rows" \
	"$(q "SELECT count(*) || ' ' || count(DISTINCT name) FROM des.objects WHERE name LIKE 'maria/%' AND state = 'packed'")"
wait_for "SELECT count(*) = 0 FROM des.source_claims" 30
check "the MariaDB rows end archived (read in MariaDB)" "archived $rows" \
	"$(maria "SELECT state, count(*) FROM uploads GROUP BY state" | tr '\t' ' ')"
# byte-exact: the md5 of every object read back by name, against MariaDB's own
maria "SELECT path, MD5(body) FROM uploads ORDER BY path" | tr '\t' ' ' >"$work/maria.md5"
q "SELECT name || ' ' || md5(des.get(name)) FROM des.objects WHERE name LIKE 'maria/%' ORDER BY name COLLATE \"C\"" >"$work/pg.md5"
sort -o "$work/maria.md5" "$work/maria.md5"
sort -o "$work/pg.md5" "$work/pg.md5"
check "every object reads back byte-exact by name" "0" "$(diff "$work/maria.md5" "$work/pg.md5" | grep -c '^[<>]')"
check "no error on the source" "" "$(q "SELECT coalesce(last_error, '') FROM des.sources WHERE relation = 'maria_uploads'::regclass")"

# a row left claiming (mysql_fdw commits the flip at once: a marker killed
# before its own commit leaves exactly this): staged once, then archived
maria "INSERT INTO uploads (id, path, body, state, added) VALUES (1000001, 'maria/orphan.bin', 0x0102, 'claiming', NOW(6))"
wait_for "SELECT count(*) = 1 FROM des.objects WHERE name = 'maria/orphan.bin'" 30
wait_for "SELECT count(*) = 0 FROM des.source_claims" 30
check "a row left claiming becomes one object" "1" "$(q "SELECT count(*) FROM des.objects WHERE name = 'maria/orphan.bin'")"
check "and ends archived" "archived" "$(maria "SELECT state FROM uploads WHERE id = 1000001")"

# the server goes away: the error is recorded and the source backs off; back, it resumes
stop_mariadb
q "SELECT des.wake_markers()" >/dev/null
wait_for "SELECT last_error IS NOT NULL FROM des.sources WHERE relation = 'maria_uploads'::regclass" 30
check "a lost server is recorded on the source, with backoff" "true true" \
	"$(q "SELECT (last_error LIKE '%MySQL%' OR last_error LIKE '%connect%') || ' ' || (failures > 0 AND retry_at > now())
	      FROM des.sources WHERE relation = 'maria_uploads'::regclass")"
echo "  (the error recorded: $(q "SELECT last_error FROM des.sources WHERE relation = 'maria_uploads'::regclass"))"
start_mariadb
maria "INSERT INTO uploads (id, path, body, added) VALUES (1000002, 'maria/after.bin', 0x0304, NOW(6))"
q "UPDATE des.sources SET retry_at = now() WHERE relation = 'maria_uploads'::regclass; SELECT des.wake_markers()" >/dev/null
wait_for "SELECT count(*) = 1 FROM des.objects WHERE name = 'maria/after.bin'" 60
check "claims resume when the server is back" "1" "$(q "SELECT count(*) FROM des.objects WHERE name = 'maria/after.bin'")"
wait_for "SELECT last_error IS NULL FROM des.sources WHERE relation = 'maria_uploads'::regclass" 30
check "and the error is cleared" "t" "$(q "SELECT last_error IS NULL AND failures = 0 FROM des.sources WHERE relation = 'maria_uploads'::regclass")"
check "the password is in no error or log of the source" "0" \
	"$(q "SELECT count(*) FROM des.sources WHERE coalesce(last_error, '') LIKE '%pgdes-test-password%'")"

q "SELECT des.unregister_source('maria_uploads')" >/dev/null
echo "mariadb: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
