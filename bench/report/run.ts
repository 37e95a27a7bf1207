// `node bench/report/run.ts [rows]`: generates a message trace CSV (default 5,000,000 rows) in a
// temporary directory, then times `mxward report` and the equivalent DuckDB grouping query over
// the same file, side by side, each in its own process, and prints both and the ratio.
// Targets (issue 5): >= 500,000 rows/s, peak RSS < 300 MB, time <= 1.5 x DuckDB.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_CONNECTOR_CIDR, generateTrace } from './generate.ts';

const rows = Number(process.argv[2] ?? process.env.BENCH_ROWS ?? 5_000_000);
const dir = join(tmpdir(), 'mxward-bench-report');
mkdirSync(dir, { recursive: true });
const csv = join(dir, `trace-${rows}.csv`);
if (!existsSync(csv)) {
  process.stdout.write(`generating ${rows.toLocaleString('en-US')} rows into ${csv} …\n`);
  await generateTrace(`${csv}.part`, rows);
  renameSync(`${csv}.part`, csv);
}
const connectors = join(dir, 'connectors.json');
writeFileSync(connectors, JSON.stringify([{ Name: 'CRM', ConnectorType: 'Partner', SenderIPAddresses: [BENCH_CONNECTOR_CIDR], SenderDomains: ['smtp:contoso.com;1'], RestrictDomainsToIPAddresses: true }]));
const child = fileURLToPath(new URL('./child.ts', import.meta.url));

interface Result { side: string; ms: number; maxRssMb: number; exitCode?: number; directSend?: number }

function measure(side: 'mxward' | 'duckdb'): Result {
  const out = spawnSync(process.execPath, [child, side, csv, connectors, join(dir, 'report.json')], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const line = out.stdout.split('\n').find((l) => l.startsWith('BENCH '));
  if (!line) throw new Error(`${side} run failed: ${out.stderr.slice(-2000)}`);
  return JSON.parse(line.slice(6)) as Result;
}

const sizeMb = statSync(csv).size / 1e6;
process.stdout.write(`input: ${rows.toLocaleString('en-US')} rows, ${sizeMb.toFixed(0)} MB, ${navigatorCores()} cores\n`);
// Warm the page cache so neither side pays for the first read.
measure('duckdb');
const runs: Array<{ mx: Result; db: Result }> = [];
for (let i = 0; i < 3; i++) runs.push({ mx: measure('mxward'), db: measure('duckdb') });
const best = (side: 'mx' | 'db') => runs.map((r) => r[side]).sort((a, b) => a.ms - b.ms)[0];
const mx = best('mx');
const db = best('db');
const rate = rows / (mx.ms / 1000);
const ratio = mx.ms / db.ms;
process.stdout.write([
  `mxward report: ${(mx.ms / 1000).toFixed(2)} s (${Math.round(rate).toLocaleString('en-US')} rows/s), peak RSS ${mx.maxRssMb.toFixed(0)} MB, exit ${mx.exitCode}`,
  `DuckDB:        ${(db.ms / 1000).toFixed(2)} s, peak RSS ${db.maxRssMb.toFixed(0)} MB (Direct Send rows ${db.directSend?.toLocaleString('en-US')})`,
  `same answer: ${mx.directSend === db.directSend ? 'yes' : 'NO'} (mxward would reject ${mx.directSend?.toLocaleString('en-US')} rows)`,
  `ratio mxward/DuckDB: ${ratio.toFixed(2)} (best of 3 each)`,
  `targets: >= 500,000 rows/s ${rate >= 500_000 ? 'met' : 'NOT met'}; RSS < 300 MB ${mx.maxRssMb < 300 ? 'met' : 'NOT met'}; <= 1.5x DuckDB ${ratio <= 1.5 ? 'met' : 'NOT met'}`,
].join('\n') + '\n');

function navigatorCores(): number {
  return (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 0;
}
