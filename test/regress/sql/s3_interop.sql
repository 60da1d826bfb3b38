-- Interoperability with the AWS CLI (Debian's awscli) through the verifying
-- proxy: what pg_des uploads downloads byte-equal, and what the CLI uploads
-- (multipart included) pg_des reads. tools/test.sh writes the CLI's config
-- (path-style addressing, test credentials) under /tmp/pg_des_regress/aws.
SET client_min_messages = warning;
\set dir '/tmp/pg_des_regress/s3'

CREATE FUNCTION aws(args text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('COPY (SELECT 1) TO PROGRAM %L',
        'cat >/dev/null; AWS_CONFIG_FILE=/tmp/pg_des_regress/aws/config AWS_SHARED_CREDENTIALS_FILE=/tmp/pg_des_regress/aws/credentials '
        || 'HOME=/tmp/pg_des_regress/aws /usr/bin/aws --endpoint-url http://127.0.0.1:59001 ' || args || ' >/dev/null 2>&1');
END $$;
CREATE SERVER cli_lake FOREIGN DATA WRAPPER des_fdw
    OPTIONS (endpoint 'http://127.0.0.1:59001', url_style 'path', allow_http 'true');
CREATE USER MAPPING FOR CURRENT_USER SERVER cli_lake
    OPTIONS (access_key_id 'pgdes-test-key', secret_access_key 'pgdes-test-secret');
SET des.default_server = 'cli_lake';
SET des.s3_part_size = '5MB';

CREATE TABLE cli_chunks AS
SELECT 'chunk/' || lpad(i::text, 3, '0') AS name, convert_to(repeat(md5(i::text), 8000 + i), 'UTF8') AS data
FROM generate_series(1, 48) i;

-- the same rows written locally and to S3 (multipart: 12 MB in 5 MB parts)
SELECT des.archive_write(:'dir' || '/local.des', name, data, NULL ORDER BY name) ->> 'bytes' AS local_bytes FROM cli_chunks;
SELECT des.archive_write('s3://pgdes-test/interop/pg.des', name, data, NULL ORDER BY name) ->> 'bytes' AS s3_bytes FROM cli_chunks;

-- 1. downloaded with `aws s3 cp`, the S3 archive is byte-equal to the local one
SELECT aws('s3 cp s3://pgdes-test/interop/pg.des ' || :'dir' || '/downloaded.des');
SELECT sha256(pg_read_binary_file(:'dir' || '/downloaded.des')) = sha256(pg_read_binary_file(:'dir' || '/local.des')) AS byte_equal;

-- 2. a ranged `aws s3api get-object` of one entry gives the same bytes as des.archive_read
SELECT data_offset, size FROM des.archive_list('s3://pgdes-test/interop/pg.des') WHERE name = 'chunk/007' \gset
SELECT aws(format('s3api get-object --bucket pgdes-test --key interop/pg.des --range bytes=%s-%s %s',
                  :data_offset, :data_offset + :size - 1, :'dir' || '/range.bin'));
SELECT pg_read_binary_file(:'dir' || '/range.bin') = des.archive_read('s3://pgdes-test/interop/pg.des', 'chunk/007') AS range_equal;

-- 3. uploaded with `aws s3 cp` (multipart above 8 MB), the local archive reads from S3
CREATE TEMP TABLE proxy_stats (j jsonb);
COPY (SELECT 1) TO PROGRAM 'cat >/dev/null; curl -sf -X POST http://127.0.0.1:59001/__control/reset >/dev/null';
SELECT aws('s3 cp ' || :'dir' || '/local.des s3://pgdes-test/interop/by-cli.des');
COPY proxy_stats FROM PROGRAM 'curl -sf http://127.0.0.1:59001/__control/stats';
SELECT (j -> 'by_kind' ->> 'multipart_upload_part')::int >= 2 AS cli_used_multipart,
       j -> 'rejected' AS rejected_by_proxy
FROM proxy_stats;
SELECT count(*) AS entries,
       bool_and(r.data = c.data) AS all_equal
FROM des.archive_read('s3://pgdes-test/interop/by-cli.des', (SELECT array_agg(name) FROM cli_chunks)) r JOIN cli_chunks c USING (name);
SELECT "check", ok FROM des.archive_verify('s3://pgdes-test/interop/by-cli.des') WHERE NOT ok;

-- 4. an archive with external payloads, copied to the bucket with the CLI:
-- external keys are relative to the bucket root, as in the reference format
SELECT des.archive_write(:'dir' || '/ext/x.des', name, data, NULL, '{"external_threshold": 256200}' ORDER BY name) ->> 'external_entries' AS external
FROM cli_chunks WHERE name <= 'chunk/010';
SELECT DISTINCT split_part(meta ->> 'external_key', '/_bigFiles/', 1) AS key_prefix
FROM des.archive_list(:'dir' || '/ext/x.des') WHERE flags = 1;
SELECT aws('s3 cp --recursive ' || :'dir' || '/ext s3://pgdes-test/ext');
SELECT count(*) AS n, bool_and(r.data = c.data) AS equal
FROM des.archive_read('s3://pgdes-test/ext/x.des', (SELECT array_agg(name) FROM cli_chunks WHERE name <= 'chunk/010')) r
JOIN cli_chunks c USING (name);
SELECT "check", ok FROM des.archive_verify('s3://pgdes-test/ext/x.des') WHERE NOT ok;
