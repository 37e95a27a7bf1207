// `node bench/report/run.ts [--quick] [--sizes 1e6,2e6] [--runs N] [--keep]`: for each size
// (default 1M, 2M, 5M, 10M and 20M rows; --quick: 250k, 500k, 1M, 2M) generates a message trace
// CSV (generate.ts: tens of thousands of Direct Send sources, distinct subjects with escaped
// quotes, four date formats) in a fresh temporary directory, then times `mxward report` and the
// equivalent DuckDB grouping query over the same file, side by side (alternating, each run in its
// own process so that peak RSS is that side's alone), and deletes the file before the next size.
// mxward writes its default text report (MXWARD_BENCH_FORMAT=json: the JSON one, every source in
// full); both sides must count the same Direct Send rows.
// Prints a table per size: medians of time and peak RSS, the ratio, and the time per row, so the
// curve over sizes shows whether anything grows faster than the input (issue 17).
// Targets: <= 1.5x DuckDB at every size, peak RSS < 400 MB at any size, and the slowest time per
// row within 1.3x of the fastest.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
// @ts-expect-error: plain JavaScript without declarations, run before the Node version is known
import { REPORT_NODE_FLAGS, childEnvFor } from '../../bin/node-runtime.js';
import { BENCH_CONNECTOR_CIDR, generateTrace } from './generate.ts';

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, sizes: { type: 'string' }, runs: { type: 'string' }, keep: { type: 'boolean' }, 'from-source': { type: 'boolean' } } });
const sizes = values.sizes
  ? values.sizes.split(',').map((s) => Math.round(Number(s)))
  : values.quick ? [250_000, 500_000, 1_000_000, 2_000_000] : [1_000_000, 2_000_000, 5_000_000, 10_000_000, 20_000_000];
const runCount = Number(values.runs ?? (values.quick ? 1 : 3));
if (sizes.some((n) => !Number.isInteger(n) || n < 1) || !Number.isInteger(runCount) || runCount < 1) {
  process.stderr.write('usage: node bench/report/run.ts [--quick] [--sizes 1e6,2e6,...] [--runs N] [--keep] [--from-source]\n');
  process.exit(2);
}
const child = fileURLToPath(new URL('./child.js', import.meta.url));
// mxward is measured as it is installed (npm package, container image): compiled JavaScript, built
// here once into bench/out/ (ignored by git). Run from the checkout's TypeScript, every start and
// every worker thread would also load Node's type stripper (about 0.3 s of CPU and 30 MB per
// thread, issue 17), which no installed mxward pays. --from-source measures the checkout instead.
const repo = fileURLToPath(new URL('../..', import.meta.url));
const compiled = values['from-source'] ? null : join(repo, 'bench', 'out', 'report-dist');
if (compiled) {
  const built = spawnSync(process.execPath, [join(repo, 'bin', 'build-dist.js'), '--out', compiled], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`building the compiled form failed: ${built.stdout}${built.stderr}`);
}
const mxwardMain = compiled ? join(compiled, 'cli', 'main.js') : join(repo, 'src', 'cli', 'main.ts');

interface Result { side: string; ms: number; maxRssMb: number; exitCode?: number; directSend?: number }
interface SizeResult { rows: number; mb: number; mx: Result[]; db: Result[]; same: boolean }

function measure(side: 'mxward' | 'duckdb', csv: string, connectors: string, dir: string): Result {
  const report = join(dir, 'report.json');
  // mxward's side starts with the V8 flags bin/mxward.js gives `report` (child.js calls main() directly).
  const flags: string[] = side === 'mxward' ? REPORT_NODE_FLAGS as string[] : [];
  // ... and the environment the launcher gives its child (childEnvFor).
  const env = side === 'mxward' ? childEnvFor(['report'], process.env) : process.env;
  const out = spawnSync(process.execPath, [...flags, child, side, csv, connectors, report, mxwardMain], { encoding: 'utf8', maxBuffer: 1 << 24, env });
  const line = out.stdout.split('\n').find((l) => l.startsWith('BENCH '));
  if (!line) throw new Error(`${side} run failed: ${out.stderr.slice(-2000)}`);
  rmSync(report, { force: true });
  return JSON.parse(line.slice(6)) as Result;
}

const median = (values: number[]): number => {
  const v = [...values].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

async function runSize(rows: number): Promise<SizeResult> {
  const dir = mkdtempSync(join(tmpdir(), 'mxward-bench-report-'));
  try {
    const csv = join(dir, `trace-${rows}.csv`);
    await generateTrace(csv, rows);
    const connectors = join(dir, 'connectors.json');
    writeFileSync(connectors, JSON.stringify([{ Name: 'CRM', ConnectorType: 'Partner', SenderIPAddresses: [BENCH_CONNECTOR_CIDR], SenderDomains: ['smtp:contoso.com;1'], RestrictDomainsToIPAddresses: true }]));
    const mb = statSync(csv).size / 1e6;
    // Warm the page cache so neither side pays for the first read.
    measure('duckdb', csv, connectors, dir);
    const mx: Result[] = [];
    const db: Result[] = [];
    for (let i = 0; i < runCount; i++) { mx.push(measure('mxward', csv, connectors, dir)); db.push(measure('duckdb', csv, connectors, dir)); }
    const same = mx.every((r, i) => r.exitCode === 0 && r.directSend === db[i].directSend);
    return { rows, mb, mx, db, same };
  } finally {
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
  }
}

const load = (): string => loadavg().map((l) => l.toFixed(1)).join(' ');
process.stdout.write(`mxward report vs DuckDB, ${new Date().toISOString().slice(0, 16)}Z, ${availableParallelism()} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GB RAM, Node ${process.version}; mxward ${compiled ? 'compiled (as installed)' : 'from the TypeScript sources'}; load average at start ${load()}; ${runCount} run(s) each, medians\n\n`);
process.stdout.write('| rows | MB | mxward s | DuckDB s | ratio | mxward µs/row | DuckDB µs/row | mxward peak RSS MB (highest) | DuckDB peak RSS MB | same answer | load |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|:--|---:|\n');
const results: SizeResult[] = [];
for (const rows of sizes) {
  const r = await runSize(rows);
  results.push(r);
  const mxMs = median(r.mx.map((x) => x.ms));
  const dbMs = median(r.db.map((x) => x.ms));
  const rssMax = Math.max(...r.mx.map((x) => x.maxRssMb));
  process.stdout.write(`| ${rows.toLocaleString('en-US')} | ${r.mb.toFixed(0)} | ${(mxMs / 1000).toFixed(2)} | ${(dbMs / 1000).toFixed(2)} | ${(mxMs / dbMs).toFixed(2)} | ${((mxMs * 1000) / rows).toFixed(2)} | ${((dbMs * 1000) / rows).toFixed(2)} | ${median(r.mx.map((x) => x.maxRssMb)).toFixed(0)} (${rssMax.toFixed(0)}) | ${median(r.db.map((x) => x.maxRssMb)).toFixed(0)} | ${r.same ? `yes (${r.mx[0].directSend?.toLocaleString('en-US')} rejected)` : 'NO'} | ${loadavg()[0].toFixed(1)} |\n`);
}

const perRow = results.map((r) => median(r.mx.map((x) => x.ms)) / r.rows);
const ratios = results.map((r) => median(r.mx.map((x) => x.ms)) / median(r.db.map((x) => x.ms)));
const rssHighest = Math.max(...results.flatMap((r) => r.mx.map((x) => x.maxRssMb)));
const spread = Math.max(...perRow) / Math.min(...perRow);
const verdict = (ok: boolean): string => (ok ? 'met    ' : 'NOT met');
process.stdout.write([
  '',
  `targets (issue 17), load average at the end ${load()}:`,
  `  ${verdict(ratios.every((x) => x <= 1.5))} <= 1.5x DuckDB at every size: ${ratios.map((x) => x.toFixed(2)).join(', ')}`,
  `  ${verdict(rssHighest < 400)} peak RSS < 400 MB at any size: highest ${rssHighest.toFixed(0)} MB`,
  `  ${verdict(spread <= 1.3)} time per row flat (slowest within 1.3x of the fastest): ${spread.toFixed(2)}x`,
  `  ${verdict(results.every((r) => r.same))} same Direct Send count as DuckDB in every run`,
].join('\n') + '\n');
if (!results.every((r) => r.same)) process.exitCode = 1;
