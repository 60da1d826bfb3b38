-- Interoperability with the AWS CLI (Debian's awscli) through the verifying
-- proxy: what pg_des uploads downloads byte-equal, and what the CLI uploads
-- (multipart included) pg_des reads. tools/test.sh writes the CLI's config
-- (path-style addressing, test credentials) under /tmp/pg_des_regress/aws.
SET client_min_messages = warning;
\set dir '/tmp/pg_des_regress/s3'

CREATE FUNCTION aws(args text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('COPY (SELECT 1) TO PROGRAM %L',
        'AWS_CONFIG_FILE=/tmp/pg_des_regress/aws/config AWS_SHARED_CREDENTIALS_FILE=/tmp/pg_des_regress/aws/credentials '
        || 'HOME=/tmp/pg_des_regress/aws /usr/bin/aws --endpoint-url http://127.0.0.1:59001 ' || args || ' >/dev/null 2>&1');
END $$;
CREATE SERVER lake FOREIGN DATA WRAPPER des_fdw
    OPTIONS (endpoint 'http://127.0.0.1:59001', url_style 'path', allow_http 'true');
CREATE USER MAPPING FOR CURRENT_USER SERVER lake
    OPTIONS (access_key_id 'pgdes-test-key', secret_access_key 'pgdes-test-secret');
SET des.default_server = 'lake';
SET des.s3_part_size = '5MB';

CREATE TABLE chunks AS
SELECT 'chunk/' || lpad(i::text, 3, '0') AS name, convert_to(repeat(md5(i::text), 8000 + i), 'UTF8') AS data
FROM generate_series(1, 48) i;

-- the same rows written locally and to S3 (multipart: 12 MB in 5 MB parts)
SELECT des.archive_write(:'dir' || '/local.des', name, data, NULL ORDER BY name) ->> 'bytes' AS local_bytes FROM chunks;
SELECT des.archive_write('s3://pgdes-test/interop/pg.des', name, data, NULL ORDER BY name) ->> 'bytes' AS s3_bytes FROM chunks;

-- 1. downloaded with `aws s3 cp`, the S3 archive is byte-equal to the local one
SELECT aws('s3 cp s3://pgdes-test/interop/pg.des ' || :'dir' || '/downloaded.des');
SELECT sha256(pg_read_binary_file(:'dir' || '/downloaded.des')) = sha256(pg_read_binary_file(:'dir' || '/local.des')) AS byte_equal;

-- 2. a ranged `aws s3api get-object` of one entry gives the same bytes as des.archive_read
SELECT data_offset, size FROM des.archive_list('s3://pgdes-test/interop/pg.des') WHERE name = 'chunk/007' \gset
SELECT aws(format('s3api get-object --bucket pgdes-test --key interop/pg.des --range bytes=%s-%s %s',
                  :data_offset, :data_offset + :size - 1, :'dir' || '/range.bin'));
SELECT pg_read_binary_file(:'dir' || '/range.bin') = des.archive_read('s3://pgdes-test/interop/pg.des', 'chunk/007') AS range_equal;

-- 3. uploaded with `aws s3 cp` (multipart above 8 MB), the local archive reads from S3
SELECT aws('s3 cp ' || :'dir' || '/local.des s3://pgdes-test/interop/by-cli.des');
SELECT count(*) AS entries,
       bool_and(r.data = c.data) AS all_equal
FROM des.archive_read('s3://pgdes-test/interop/by-cli.des', (SELECT array_agg(name) FROM chunks)) r JOIN chunks c USING (name);
SELECT "check", ok FROM des.archive_verify('s3://pgdes-test/interop/by-cli.des') WHERE NOT ok;
-- the CLI's multipart ETag ("<md5>-<parts>") is what the listing shows
SELECT etag ~ '-[0-9]+"$' AS multipart_etag FROM des.storage_list('s3://pgdes-test/interop/by-cli.des');

-- 4. a reference (fixture-style) archive uploaded by the CLI with its external payload
SELECT des.archive_write(:'dir' || '/ext/x.des', name, data, NULL, '{"external_threshold": 300000}' ORDER BY name) ->> 'external_entries' AS external
FROM chunks WHERE name <= 'chunk/010';
SELECT aws('s3 cp --recursive ' || :'dir' || '/ext s3://pgdes-test/interop/ext');
SELECT count(*) AS n, bool_and(r.data = c.data) AS equal
FROM des.archive_read('s3://pgdes-test/interop/ext/x.des', (SELECT array_agg(name) FROM chunks WHERE name <= 'chunk/010')) r
JOIN chunks c USING (name);
