// DuckDB's SUMMARIZE over read_csv of one file, the baseline of
// test/bench/bench_profile.sh. Prints one JSON line: the seconds taken and,
// per column, what SUMMARIZE computed (min, max, avg, null_percentage,
// approx_unique, count), for the benchmark to compare with pg_des's profile.
// Usage: node summarize.js FILE [THREADS]
'use strict';
const { DuckDBInstance } = require('@duckdb/node-api');

async function main() {
  const file = process.argv[2];
  const threads = process.argv[3] || '2';
  const instance = await DuckDBInstance.create(':memory:', { threads });
  const con = await instance.connect();
  const started = process.hrtime.bigint();
  const reader = await con.runAndReadAll(
    `SUMMARIZE SELECT * FROM read_csv('${file.replace(/'/g, "''")}', header = true)`);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const columns = reader.getRowObjectsJS().map((r) => ({
    name: r.column_name, type: r.column_type, min: r.min, max: r.max, avg: r.avg,
    null_percentage: r.null_percentage === null ? null : Number(r.null_percentage),
    approx_unique: r.approx_unique === null ? null : Number(r.approx_unique),
    count: r.count === null ? null : Number(r.count),
  }));
  console.log(JSON.stringify({ seconds, threads: Number(threads), columns }));
}
main().catch((e) => { console.error(e.message); process.exit(1); });
