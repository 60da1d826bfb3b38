-- CSV foreign tables over a version: the rows of every file whose path
-- matches, typed by the table's columns; quoting, NULLs, headers, TSV,
-- other delimiters; records across the reader's 1 MiB pieces; errors that
-- name the file, the line and the column; the read recorded (a run's input
-- edge, with the URI as written).
SET client_min_messages = warning;
CREATE OR REPLACE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE FUNCTION csv_put(path text, body text) RETURNS void LANGUAGE sql AS $$
    SELECT des.stage('csvs', 'main', path, convert_to(body, 'UTF8')) $$;

SELECT des.repo_create('csvs', 'daily sales') > 0 AS created;
SELECT csv_put('daily/day-01.csv', E'day,amount,note\n2024-01-01,10.5,plain\n2024-01-01,2,"with, a comma"\n');
SELECT csv_put('daily/day-02.csv', E'day,amount,note\r\n2024-01-02,7,"says ""hi"""\r\n2024-01-02,,\r\n2024-01-02,1,""\r\n');
SELECT csv_put('daily/day-03.csv', E'day,amount,note\n2024-01-03,3,"two\nlines"\n');
SELECT csv_put('daily/empty.csv', '');
SELECT csv_put('daily/old/day-00.csv', E'day,amount,note\n2023-12-31,99,not matched\n');
SELECT csv_put('daily/notes.txt', 'not a csv');
SELECT csv_put('tsv/a.tsv', E'x\ty\n1\tone\n2\t\\N\n');
SELECT des.commit('csvs', 'main', 'three days') IS NOT NULL AS committed;

CREATE SERVER csv_files FOREIGN DATA WRAPPER des_fdw;
CREATE FOREIGN TABLE sales (day date, amount numeric, note text)
    SERVER csv_files OPTIONS (uri 'gros://csvs', path 'daily/day-*.csv', format 'csv', header 'true');
-- every matching file, in path order ('*' stays within a path component:
-- daily/old/day-00.csv is not matched); quoted delimiters, doubled quotes,
-- CRLF, a quoted line break; an unquoted empty field is NULL, a quoted one ''
SELECT day, amount, note, note IS NULL AS note_null FROM sales;
SELECT sum(amount) AS total, count(*) AS rows, count(DISTINCT day) AS days FROM sales;
SELECT day, sum(amount) FROM sales WHERE amount > 2 GROUP BY day ORDER BY day;
EXPLAIN (COSTS OFF) SELECT count(*) FROM sales;

-- TSV: tab-delimited, no quoting; a null string of one's own
CREATE FOREIGN TABLE tsv_rows (x int, y text)
    SERVER csv_files OPTIONS (uri 'gros://csvs/main:latest', path 'tsv/*.tsv', format 'tsv', header 'true', null '\N');
SELECT * FROM tsv_rows ORDER BY x;
-- no header: the header is a record like any other (and does not fit the types)
CREATE FOREIGN TABLE sales_noheader (day text, amount text, note text)
    SERVER csv_files OPTIONS (uri 'gros://csvs', path 'daily/day-01.csv', format 'csv');
SELECT * FROM sales_noheader;
-- another delimiter, by ref rather than URI
SELECT csv_put('semi/a.csv', E'a;b\n1;2\n');
SELECT des.commit('csvs', 'main', 'semicolons') IS NOT NULL AS committed;
CREATE FOREIGN TABLE semi (a int, b int)
    SERVER csv_files OPTIONS (ref 'csvs/main', path 'semi/*', format 'csv', delimiter ';', header 'true');
SELECT * FROM semi;
-- no file matches: no rows
CREATE FOREIGN TABLE nothing (a int) SERVER csv_files OPTIONS (uri 'gros://csvs', path 'none/*.csv', format 'csv');
SELECT count(*) AS none FROM nothing;

-- records across the 1 MiB pieces the files are read in
SELECT csv_put('big/rows.csv', (SELECT string_agg(format('%s,%s,"%s"', i, i * 2, repeat('x', i % 97)), E'\n') FROM generate_series(1, 60000) i));
SELECT des.commit('csvs', 'main', 'big') IS NOT NULL AS committed;
CREATE FOREIGN TABLE big (i int, j bigint, pad text)
    SERVER csv_files OPTIONS (uri 'gros://csvs', path 'big/rows.csv', format 'csv');
SELECT count(*), sum(i), bool_and(j = 2 * i) AS doubled, bool_and(length(pad) = i % 97) AS padded FROM big;
SELECT sum(i) FROM big WHERE i > 59990;		-- only i read: the other columns are not converted

-- errors name the file, the line and the column
SELECT csv_put('bad/a.csv', E'day,amount\n2024-01-01,1\n2024-01-02,one\n');
SELECT csv_put('bad/b.csv', E'2024-01-01,1,extra\n');
SELECT csv_put('bad/c.csv', E'2024-01-01,"open\n');
SELECT des.stage('csvs', 'main', 'bad/e.csv', '\x323032342d30312d30312c31ff0a'::bytea);
SELECT des.commit('csvs', 'main', 'bad files') IS NOT NULL AS committed;
CREATE FOREIGN TABLE bad_a (day date, amount int) SERVER csv_files OPTIONS (uri 'gros://csvs', path 'bad/a.csv', format 'csv', header 'true');
CREATE FOREIGN TABLE bad_b (day date, amount int) SERVER csv_files OPTIONS (uri 'gros://csvs', path 'bad/b.csv', format 'csv');
CREATE FOREIGN TABLE bad_c (day date, amount text) SERVER csv_files OPTIONS (uri 'gros://csvs', path 'bad/c.csv', format 'csv');
CREATE FOREIGN TABLE bad_e (day date, amount text) SERVER csv_files OPTIONS (uri 'gros://csvs', path 'bad/e.csv', format 'csv');
\set VERBOSITY default
SELECT * FROM bad_a;
SELECT * FROM bad_b;
SELECT * FROM bad_c;
SELECT * FROM bad_e;
SELECT count(*) FROM bad_a WHERE day < '2024-01-02';	-- (the bad value is in a column the query reads)
SELECT count(day) FROM bad_a;		-- not amount: its bad value is never converted

-- options: what is wrong, and where
SELECT try($$CREATE FOREIGN TABLE o1 (a int) SERVER csv_files OPTIONS (uri 'gros://csvs', format 'csv')$$) AS no_path;
SELECT try($$CREATE FOREIGN TABLE o2 (a int) SERVER csv_files OPTIONS (path 'x/*.csv', format 'csv')$$) AS no_uri;
SELECT try($$CREATE FOREIGN TABLE o3 (a int) SERVER csv_files OPTIONS (uri 'gros://csvs', path 'x', format 'json')$$) AS bad_format;
SELECT try($$CREATE FOREIGN TABLE o4 (a int) SERVER csv_files OPTIONS (uri 'gros://csvs', path '/abs/*.csv', format 'csv')$$) AS absolute_path;
SELECT try($$CREATE FOREIGN TABLE o5 (a int) SERVER csv_files OPTIONS (uri 'gros://csvs', path 'x', format 'csv', delimiter ';;')$$) AS long_delimiter;
SELECT try($$CREATE FOREIGN TABLE o6 (a int) SERVER csv_files OPTIONS (uri 'gros://csvs', path 'x', format 'csv', delimiter '"')$$) AS delimiter_is_quote;
SELECT try($$CREATE FOREIGN TABLE o7 (a int) SERVER csv_files OPTIONS (uri 'gros://csvs', header 'true')$$) AS header_without_format;
SELECT try($$CREATE FOREIGN TABLE o8 (a int) SERVER csv_files OPTIONS (uri 'csvs/main', path 'x', format 'csv')$$) AS uri_not_gros;
SELECT try($$CREATE FOREIGN TABLE o9 (a int) SERVER csv_files OPTIONS (uri 'gros://csvs', ref 'csvs/main', path 'x', format 'csv')$$) AS uri_and_ref;
SELECT try($$CREATE FOREIGN TABLE o10 (a int) SERVER csv_files OPTIONS (uri 'gros://csvs', path 'x', format 'csv', header 'maybe')$$) AS bad_header;
CREATE FOREIGN TABLE o11 (a int) SERVER csv_files OPTIONS (uri 'gros://nowhere', path 'x', format 'csv');
SELECT try($$SELECT * FROM o11$$) AS unknown_repo;

-- inside a run the read is an input edge: the version resolved and the URI as written
SELECT des.run_begin('csv-report') IS NOT NULL AS begun;
SELECT count(*) FROM sales;
SELECT des.run_end() IS NOT NULL AS ended;
SELECT e.uri, e.branch, e.bundle_id = decode((SELECT bundle_id FROM des.resolve('gros://csvs')), 'hex') AS latest
  FROM des.lineage_edges e JOIN des.runs r ON r.id = e.run_id WHERE r.job = 'csv-report';
SELECT ref, path, function FROM des.read_log WHERE ref = 'gros://csvs' AND path = 'daily/day-*.csv' LIMIT 1;

-- others: a repo they cannot read does not exist for them
CREATE ROLE csv_stranger;
GRANT USAGE ON FOREIGN SERVER csv_files TO csv_stranger;
GRANT SELECT ON sales TO csv_stranger;
SET ROLE csv_stranger;
SELECT try($$SELECT count(*) FROM sales$$) AS stranger;
RESET ROLE;
REVOKE ALL ON sales FROM csv_stranger;
REVOKE ALL ON FOREIGN SERVER csv_files FROM csv_stranger;
DROP ROLE csv_stranger;

DROP SERVER csv_files CASCADE;
SELECT des.repo_delete('csvs');
DELETE FROM des.jobs WHERE name = 'csv-report';
DROP FUNCTION csv_put(text, text);
