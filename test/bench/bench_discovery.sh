#!/bin/bash
# bench_discovery.sh - discovery and profiling (issue "Discovery"), rows 14a-14e:
#
#   14a profiling a 1 GiB CSV (mixed numbers, text, dates, date-times,
#       lat/long; test/bench/gen_profile_csv.py) with des.profile_file, MB/s,
#       beside DuckDB's SUMMARIZE over read_csv of the same file on the same
#       2 cores (npm @duckdb/node-api, pinned in test/bench/duckdb)
#   14b the same profile beside COPY of the file into a table (typed columns)
#   14c what both computed: min, max, mean and null count of each column
#       equal to DuckDB's (mean to 1e-9 relative); distinct counts against
#       exact ones (DuckDB's count(DISTINCT)), worst error, beside SUMMARIZE's
#       approx_unique worst error
#   14d keyword search over 100,000 profiled datasets: p95 of 200 queries
#       (one or two words of the column vocabulary) beside the same tsquery
#       over a bare GIN-indexed table of the same vectors
#   14e join search over those datasets: p95 of 100 des.search_join calls
#
# stdout: "ROW" lines (run.sh formats them); stderr: progress.
#
# Environment:
#   BENCH_QUICK=1             smaller sizes (smoke test)
#   BENCH_PROFILE_BYTES       size of the CSV   [1 GiB; quick 64 MiB]
#   BENCH_SEARCH_DATASETS     datasets for 14d-14e [100000; quick 5000]
#   BENCH_DISCOVERY_PARTS     "profile" (14a-14c), "search" (14d-14e) or both [both]
#   BENCH_DIR                 parent of the temporary directory [/tmp]
set -euo pipefail

quick=0
if [ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ]; then quick=1; fi
BYTES=${BENCH_PROFILE_BYTES:-$([ "$quick" = 1 ] && echo 67108864 || echo 1073741824)}
DATASETS=${BENCH_SEARCH_DATASETS:-$([ "$quick" = 1 ] && echo 5000 || echo 100000)}
PARTS=${BENCH_DISCOVERY_PARTS:-both}
here=$(cd "$(dirname "$0")" && pwd)

if [ "${1:-}" != --inner ]; then
	command -v pg_virtualenv >/dev/null || { echo "bench_discovery: pg_virtualenv is missing" >&2; exit 2; }
	command -v node >/dev/null || { echo "bench_discovery: node is missing (tools/deps.sh)" >&2; exit 2; }
	if [ ! -d "$here/duckdb/node_modules/@duckdb/node-api" ]; then
		(cd "$here/duckdb" && npm ci --no-audit --no-fund --silent) >&2
	fi
	work=$(mktemp -d "${BENCH_DIR:-/tmp}/pg_des_discovery.XXXXXX")
	chmod 0755 "$work"
	trap 'rm -rf "$work"' EXIT
	if [ "$PARTS" != search ]; then
		echo "bench_discovery: writing a $BYTES-byte CSV" >&2
		python3 "$here/gen_profile_csv.py" "$work/data.csv" "$BYTES" 1
		chmod 0644 "$work/data.csv"
	fi
	# no workers: this measures the profiler and the search, not the queue
	BENCH_WORK=$work PARTS=$PARTS pg_virtualenv -v 15 -o shared_preload_libraries=pg_des -o des.workers=off \
		-o shared_buffers=1GB -o max_wal_size=8GB "$0" --inner
	exit $?
fi

work=$BENCH_WORK
csv=$work/data.csv
PARTS=${PARTS:-both}
row() { printf 'ROW\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@"; }
psql_q() { psql -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
# milliseconds of the last of a psql script's \timing lines
timed() { psql -X -q -At -v ON_ERROR_STOP=1 -c '\timing on' -c "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1; }
fmt() { LC_ALL=C printf "%'.${2:-1}f" "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
psql_q "CREATE EXTENSION pg_des" >/dev/null

if [ "$PARTS" != search ]; then
size_mb=$(awk -v b="$(stat -c %s "$csv")" 'BEGIN { printf "%.1f", b / 1048576 }')

# ---- 14a-14c: one file, three readers ----
echo "bench_discovery: warming the page cache, then pg_des, DuckDB and COPY over $size_mb MiB" >&2
cat "$csv" >/dev/null
best_p=""
for rep in 1 2; do
	ms=$(timed "SELECT length(des.profile_file('$csv', '{\"max_bytes\": 1e12}')::text)")
	echo "  des.profile_file: $ms ms" >&2
	if [ -z "$best_p" ] || awk -v a="$ms" -v b="$best_p" 'BEGIN { exit !(a < b) }'; then best_p=$ms; fi
done
psql_q "CREATE TABLE prof AS SELECT des.profile_file('$csv', '{\"max_bytes\": 1e12}') AS p" >/dev/null
best_d=""
for rep in 1 2; do
	node "$here/duckdb/summarize.js" "$csv" 2 >"$work/duck.json"
	s=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).seconds * 1000)' "$work/duck.json")
	echo "  DuckDB SUMMARIZE (2 threads): $s ms" >&2
	if [ -z "$best_d" ] || awk -v a="$s" -v b="$best_d" 'BEGIN { exit !(a < b) }'; then best_d=$s; fi
done
psql_q "CREATE UNLOGGED TABLE copied (id bigint, category text, city text, amount float8, quantity int, day date,
        ts timestamp, latitude float8, longitude float8, comment text, flag boolean)" >/dev/null
best_c=""
for rep in 1 2; do
	psql_q "TRUNCATE copied" >/dev/null
	ms=$(timed "COPY copied FROM '$csv' WITH (FORMAT csv, HEADER)")
	echo "  COPY: $ms ms" >&2
	if [ -z "$best_c" ] || awk -v a="$ms" -v b="$best_c" 'BEGIN { exit !(a < b) }'; then best_c=$ms; fi
done
mbs_p=$(awk -v s="$size_mb" -v ms="$best_p" 'BEGIN { printf "%.1f", s / (ms / 1000) }')
mbs_d=$(awk -v s="$size_mb" -v ms="$best_d" 'BEGIN { printf "%.1f", s / (ms / 1000) }')
mbs_c=$(awk -v s="$size_mb" -v ms="$best_c" 'BEGIN { printf "%.1f", s / (ms / 1000) }')
r=$(ratio "$mbs_p" "$mbs_d")
row "14a profile of a $size_mb MiB CSV (MB/s; DuckDB SUMMARIZE, 2 threads)" "$(fmt "$mbs_p")" "$(fmt "$mbs_d")" "$r" ">= DuckDB" \
	"$(awk -v r="$r" 'BEGIN { print (r >= 1 ? "yes" : "**no**") }')"
r=$(ratio "$mbs_p" "$mbs_c")
row "14b the same profile (MB/s; COPY into a typed table)" "$(fmt "$mbs_p")" "$(fmt "$mbs_c")" "$r" ">= COPY" \
	"$(awk -v r="$r" 'BEGIN { print (r >= 1 ? "yes" : "**no**") }')"

# 14c: the figures, column by column, against DuckDB's and exact distinct counts
node -e '
const d = JSON.parse(require("fs").readFileSync(process.argv[1]));
const v = (x) => (x === null || x === undefined ? "\\N" : x);
for (const c of d.columns) console.log([c.name, c.min, c.max, c.avg, c.null_percentage, c.approx_unique, c.count].map(v).join("\t"));
' "$work/duck.json" >"$work/duck.tsv"
node -e '
const { DuckDBInstance } = require(process.argv[3] + "/duckdb/node_modules/@duckdb/node-api");
(async () => {
  const db = await DuckDBInstance.create(":memory:", { threads: "2" });
  const con = await db.connect();
  const cols = ["id","category","city","amount","quantity","day","ts","latitude","longitude","comment","flag"];
  const q = "SELECT " + cols.map(c => `count(DISTINCT "${c}") AS "${c}", count(*) - count("${c}") AS "${c}_nulls"`).join(", ") +
            ` FROM read_csv('"'"'${process.argv[1]}'"'"', header = true)`;
  const r = (await con.runAndReadAll(q)).getRowObjectsJS()[0];
  for (const c of cols) console.log([c, Number(r[c]), Number(r[c + "_nulls"])].join("\t"));
})();' "$csv" x "$here" >"$work/exact.tsv"
psql_q "CREATE TABLE duck (name text, min text, max text, avg text, null_percentage float8, approx_unique bigint, n bigint);
        CREATE TABLE exact (name text, distinct_count bigint, nulls bigint)" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -c "\\copy duck FROM '$work/duck.tsv'" -c "\\copy exact FROM '$work/exact.tsv'"
psql_q "CREATE TABLE ours AS
        SELECT c ->> 'name' AS name, c ->> 'min' AS min, c ->> 'max' AS max, (c ->> 'mean')::float8 AS mean,
               round((c ->> 'missing_values_ratio')::numeric * (p ->> 'nb_rows')::bigint) AS nulls,
               (c ->> 'num_distinct_values')::bigint AS distinct_count
          FROM prof, jsonb_array_elements(p -> 'columns') c" >/dev/null
# numbers compare as numbers; dates and times as instants (DuckDB prints them without a zone, pg_des in UTC)
mismatches=$(psql_q "SELECT count(*) FROM ours o JOIN duck d USING (name) JOIN exact e USING (name)
    WHERE NOT (o.nulls = e.nulls
               AND (d.avg IS NULL OR d.name IN ('day', 'ts') OR abs(o.mean - d.avg::float8) <= 1e-9 * greatest(abs(d.avg::float8), 1))
               AND (o.min IS NULL OR d.name IN ('category', 'city', 'comment', 'flag')
                    OR CASE WHEN d.name IN ('day', 'ts') THEN o.min::timestamptz = (d.min || '+00')::timestamptz
                                                           AND o.max::timestamptz = (d.max || '+00')::timestamptz
                            ELSE o.min::float8 = d.min::float8 AND o.max::float8 = d.max::float8 END))")
checked=$(psql_q "SELECT count(*) FROM ours o JOIN duck d USING (name)")
worst=$(psql_q "SELECT round(max(abs(o.distinct_count - e.distinct_count)::numeric / e.distinct_count) * 100, 2)
                  FROM ours o JOIN exact e USING (name) WHERE e.distinct_count > 0")
worst_duck=$(psql_q "SELECT round(max(abs(d.approx_unique - e.distinct_count)::numeric / e.distinct_count) * 100, 2)
                       FROM duck d JOIN exact e USING (name) WHERE e.distinct_count > 0")
psql -X -q -c "SELECT o.name, o.min, d.min AS duck_min, o.max, d.max AS duck_max, round(o.mean::numeric, 6) AS mean,
                      d.avg AS duck_mean, o.nulls, e.nulls AS exact_nulls, o.distinct_count,
                      d.approx_unique AS duck_approx, e.distinct_count AS exact_distinct
                 FROM ours o JOIN duck d USING (name) JOIN exact e USING (name)" >&2
row "14c min, max, mean, nulls equal to DuckDB's ($checked columns; distinct: worst error %)" \
	"$mismatches differ; $worst%" "SUMMARIZE approx_unique: $worst_duck%" "-" "equal; distinct within 3%" \
	"$(awk -v m="$mismatches" -v w="$worst" 'BEGIN { print (m == 0 && w <= 3 ? "yes" : "**no**") }')"
psql_q "DROP TABLE copied" >/dev/null
fi
[ "$PARTS" = profile ] && exit 0

# ---- 14d-14e: search over many profiled datasets ----
echo "bench_discovery: profiling $DATASETS small datasets for search" >&2
# each: 5 to 9 columns named from a vocabulary of 400 words, 40 rows; a
# "code" column's values are drawn from a window of 200 integers at a random place in
# 0..1,000,000, so join search has real overlaps to find
psql_q "CREATE TABLE vocab AS SELECT i, w FROM unnest(ARRAY(SELECT DISTINCT lower(x) FROM regexp_split_to_table(
          'account address age amount area balance bank batch bill birth block blood body bond book border branch brand
           budget building bus business call camera campaign capacity capital car card care cargo case cash category cell
           center channel charge check child city claim class client climate clinic cloud club coast code college color
           company contract cost count country county course court credit crime crop currency customer damage data date day
           debt degree delivery demand density department deposit depth design device diagnosis diet direction disease
           distance district doctor dose driver drug duration earnings education election electricity email employee energy
           engine equipment error event exam expense export facility factor family farm fare fee field file film finance fire
           firm fish flight flow food force forest form frequency fuel fund game gas gender goal gold grade grant group growth
           guest habitat hazard health heat height highway hospital hotel hour house household humidity import income index
           industry infection inflation injury insurance interest inventory invoice item job journey key lab label land
           language latitude law lease length level license light limit line loan location longitude loss machine mail
           manager market mass match meal measure medicine member message meter method mile mineral minute mobile model
           month mortgage motor name nation network node noise note number nurse occupation offer office oil order output
           owner package page panel parcel park part party passenger patient payment pension percent period permit person
           phone plan plant player point police policy pollution population port position post power precipitation
           pressure price product profit program project property province purchase quality quantity quarter race radio
           rain range rank rate rating reason record region rent report resource result revenue review risk river road role
           room route salary sale sample school score sector segment sensor service session share shift ship shop signal
           site size skill snow soil source species speed sport staff stage station status stock storage store stream
           street student subject supply survey tax teacher team temperature term test ticket time title tool total tour
           town trade traffic train transaction transfer trip truck type unit university usage user value vehicle vendor
           visit volume vote wage warehouse water wave weather week weight wind worker year yield zone', '\\s+') x)) WITH ORDINALITY v(w, i)" >/dev/null
# a bulk load: the GIN indexes are built once at the end, not entry by entry
psql_q "DROP INDEX des.discovered_columns_lsh, des.discovered_columns_types, des.discovered_columns_range, des.discovered_columns_name, des.discovered_search" >/dev/null
ms=$(timed "
DO \$\$
DECLARE
    n int := $DATASETS;
    words text[] := ARRAY(SELECT w FROM vocab ORDER BY i);
    nw int := array_length(words, 1);
    cols text[];
    csv text;
    base int;
    r record;
BEGIN
    PERFORM setseed(0.42);
    FOR k IN 1 .. n LOOP
        cols := ARRAY(SELECT DISTINCT words[1 + floor(random() * nw)::int] FROM generate_series(1, 5 + floor(random() * 5)::int));
        cols := array_prepend('code', cols);
        base := floor(random() * 998000)::int;
        SELECT string_agg(x, E'\\n') INTO csv FROM (
            SELECT array_to_string(cols, ',') AS x
            UNION ALL
            SELECT (base + floor(random() * 200)::int)::text || ',' ||
                   array_to_string(ARRAY(SELECT CASE WHEN random() < 0.5 THEN (floor(random() * 1000))::text
                                                     ELSE words[1 + floor(random() * nw)::int] END
                                           FROM generate_series(2, array_length(cols, 1))), ',')
              FROM generate_series(1, 40)) t;
        SELECT * INTO r FROM des_internal.profile_bytes(convert_to(csv, 'UTF8'), '{}');
        PERFORM des_internal.record_dataset_as('manual', current_user::regrole,
                    jsonb_build_object('kind', 'object', 'name', 'bench/' || k),
                    jsonb_build_object('name', words[1 + floor(random() * nw)::int] || ' ' || words[1 + floor(random() * nw)::int] || ' ' || k,
                                       'description', 'dataset ' || k || ' about ' || array_to_string(cols[2:3], ' and ')),
                    'bench-' || k);
        UPDATE des.discovered_datasets SET state = 'profiling', claimed_by = pg_backend_pid(),
               claim_started = des_internal.backend_start() WHERE id = 'manual.bench-' || k;
        PERFORM des_internal.profile_store('manual.bench-' || k, pg_backend_pid(), des_internal.backend_start(), r.profile, r.minhashes);
    END LOOP;
END \$\$")
echo "  $DATASETS datasets profiled and stored in $(fmt "$ms" 0) ms" >&2
ms=$(timed "SET maintenance_work_mem = '1GB';
            CREATE INDEX discovered_columns_lsh ON des.discovered_columns USING gin (lsh);
            CREATE INDEX discovered_columns_types ON des.discovered_columns USING gin (semantic_types);
            CREATE INDEX discovered_columns_name ON des.discovered_columns (lower(name));
            CREATE INDEX discovered_columns_range ON des.discovered_columns
                USING gist (numrange(range_min::numeric, range_max::numeric, '[]')) WHERE range_min IS NOT NULL;
            CREATE INDEX discovered_search ON des.discovered_datasets USING gin (search)")
echo "  the GIN indexes built in $(fmt "$ms" 0) ms" >&2
psql_q "VACUUM ANALYZE" >/dev/null
# the baseline: the same vectors in a bare table with a GIN index
psql_q "CREATE TABLE bare AS SELECT id, search FROM des.discovered_datasets; CREATE INDEX ON bare USING gin (search); ANALYZE bare" >/dev/null

# p95 of a query run once per parameter, in one session (server-side timing)
p95() {	# p95 <SQL with $1> <SQL of the parameter list>
	psql_q "
CREATE OR REPLACE FUNCTION pg_temp.p95(q text, params text[]) RETURNS float8 LANGUAGE plpgsql AS \$f\$
DECLARE
    t timestamptz;
    times float8[] := '{}';
    p text;
BEGIN
    FOREACH p IN ARRAY params LOOP
        t := clock_timestamp();
        EXECUTE 'SELECT count(*) FROM (' || q || ') x' USING p;
        times := times || extract(epoch FROM clock_timestamp() - t) * 1000;
    END LOOP;
    RETURN (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY x) FROM unnest(times) x);
END \$f\$;
SELECT round(pg_temp.p95(\$q\$$1\$q\$, ARRAY($2))::numeric, 2)"
}
kw_params="SELECT w || CASE WHEN i % 2 = 0 THEN ' ' || (SELECT v.w FROM vocab v WHERE v.i = 1 + (x.i * 7) % 400) ELSE '' END
            FROM (SELECT v.w, v.i FROM vocab v ORDER BY md5(v.w) LIMIT 200) x"
kw=$(p95 "SELECT * FROM des.search(\$1, '{}', 20)" "$kw_params")
kw_bare=$(p95 "SELECT id FROM (SELECT id, ts_rank_cd(search, q, 32) r FROM bare, websearch_to_tsquery('english', \$1) q
                                  WHERE search @@ q ORDER BY r DESC LIMIT 20) s" "$kw_params")
row "14d keyword search over $DATASETS datasets, p95 of 200 queries (ms; the same tsquery on a bare GIN table)" \
	"$kw" "$kw_bare" "$(ratio "$kw" "$kw_bare")" "< 20 ms" "$(awk -v v="$kw" 'BEGIN { print (v < 20 ? "yes" : "**no**") }')"
join_params="SELECT d.id FROM des.discovered_datasets d ORDER BY md5(d.id) LIMIT 100"
js=$(p95 "SELECT * FROM des.search_join(\$1, 'code', 20)" "$join_params")
found=$(psql_q "SELECT round(avg((SELECT count(*) FROM des.search_join(d.id, 'code', 20) j WHERE j.kind = 'values')), 1)
                  FROM (SELECT id FROM des.discovered_datasets ORDER BY md5(id) LIMIT 20) d")
row "14e join search over $DATASETS datasets, p95 of 100 calls (ms; $found value-overlap matches a call)" \
	"$js" "-" "-" "< 200 ms" "$(awk -v v="$js" 'BEGIN { print (v < 200 ? "yes" : "**no**") }')"
us=$(p95 "SELECT * FROM des.search_union(\$1, 20)" "$join_params")
row "14f union search over $DATASETS datasets, p95 of 100 calls (ms)" "$us" "-" "-" "(info: no goal)" "-"
