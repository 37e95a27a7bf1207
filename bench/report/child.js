// One measured side of the benchmark, in its own process so peak RSS is that side's alone.
// Prints `BENCH {json}` as its last stdout line. mxward writes its default (text) report to a
// file, as an administrator would run it; the rows it would reject are taken from its summary
// line and compared with DuckDB's count by the parent (run.ts). `--format json` (every source in
// full) is the option `MXWARD_BENCH_FORMAT=json` measures.
// Each side loads only its own code: DuckDB's native library is not mapped into mxward's process
// (it added to mxward's peak RSS), nor mxward's modules into DuckDB's. Plain JavaScript, as is
// duckdb-query.js: a TypeScript harness would load Node's type stripper into both measured
// processes (tens of MB, and time on whichever side imports TypeScript after the clock starts).
import { fileURLToPath, pathToFileURL } from 'node:url';

// mainModule: mxward's cli/main, compiled (run.ts builds it) or the TypeScript source.
const [side, file, connectors, output, mainModule] = process.argv.slice(2);
const started = performance.now();
// mxward's launcher turns on Node's compile cache for report (bin/node-runtime.js); so does its side here.
if (side === 'mxward') (await import('../../bin/node-runtime.js')).enableCompileCacheFor(['report'], process.env);
const { main } = side === 'mxward'
  ? await import(pathToFileURL(mainModule ?? fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))).href)
  : { main: null };
let extra = {};
if (side === 'mxward') {
  const sink = { write: () => true };
  let summary = '';
  const stderr = { write: (text) => { summary += text; return true; } };
  const format = process.env.MXWARD_BENCH_FORMAT ?? 'text';
  const code = await main(['report', file, '--accepted-domain', 'contoso.com', '--connectors', connectors, '--format', format, '--output', output, '--data-dir', `${output}.data`],
    { stdout: sink, stderr, stdin: process.stdin, env: {} });
  const rejected = /([\d,]+) would be rejected/.exec(summary)?.[1];
  extra = { exitCode: code, directSend: rejected === undefined ? null : Number(rejected.replace(/,/g, '')) };
  if (code !== 0) process.stderr.write(summary.slice(-2000));
} else {
  const { duckdbAggregate } = await import('./duckdb-query.js');
  extra = await duckdbAggregate(file, 'contoso.com', '192.0.2.');
}
const ms = performance.now() - started;
process.stdout.write(`BENCH ${JSON.stringify({ side, ms, maxRssMb: process.resourceUsage().maxRSS / 1024, ...extra })}\n`);
