-- gros:// URIs taken apart by des.uri_parse: every tag kind, percent-encoding,
-- the canonical text, and every kind of error with its SQLSTATE and position.
SET client_min_messages = warning;
CREATE OR REPLACE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    detail text;
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RETURN SQLSTATE || ': ' || SQLERRM || ' / ' || detail;
END $$;

SELECT u AS uri, p.*
  FROM unnest(ARRAY[
         'gros://sales',
         'gros://sales:',
         'GROS://sales/main',
         'gros://sales/feature/x:latest',
         'gros://sales/feature%2Fx:latest',
         'gros://sales:2024-02-29',
         'gros://sales/main:0',
         'gros://sales/main:-1',
         'gros://sales/main:-2',
         'gros://sales/main:9223372036854775807',
         'gros://sales/main:release-2024',
         'gros://sales/main:deadbeef',
         'gros://sales/main:deadbeef0123456789abcdef',
         'gros://my.repo_1-x/dev%3Anight:v%2F1',
         'gros://sales/caf%C3%A9',
         'gros://sales/café:Étiquette'
       ]) WITH ORDINALITY AS t(u, n),
       LATERAL des.uri_parse(u) p
 ORDER BY n;

-- the canonical text parses back to the same parts
SELECT bool_and((SELECT row(q.repo, q.branch, q.tag_kind, q.tag, q.day, q."position")
                   FROM des.uri_parse(p.canonical) q)
                = row(p.repo, p.branch, p.tag_kind, p.tag, p.day, p."position")) AS canonical_round_trips
  FROM unnest(ARRAY['gros://a', 'gros://a/b%2Fc:d%3Ae', 'gros://a/é:-3', 'gros://a:2000-01-01']) u,
       LATERAL des.uri_parse(u) p;

-- errors: malformed (22P02) or a name breaking its rules (42602), with where
SELECT u AS uri, try(format('SELECT des.uri_parse(%L)', u)) AS error
  FROM unnest(ARRAY[
         '',
         'sales',
         'http://sales',
         'gros://',
         'gros://sa les',
         'gros://sales?x=1',
         'gros://sales#top',
         'gros://sales/',
         'gros://sales//x',
         'gros://sales/a/../b',
         'gros://sales/main:1:2',
         'gros://sales:2023-02-29',
         'gros://sales:2024-13-01',
         'gros://sales:2024-1-05',
         'gros://sales:-0',
         'gros://sales:007',
         'gros://sales:9223372036854775808',
         'gros://sales:LATEST',
         'gros://sales/%zz',
         'gros://sales/%C3',
         'gros://..',
         'gros://' || repeat('r', 101)
       ]) WITH ORDINALITY AS t(u, n)
 ORDER BY n;
SELECT des.uri_parse(NULL) IS NULL AS null_in_null_out;

DROP FUNCTION try(text);
