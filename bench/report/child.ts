// One measured side of the benchmark, in its own process so peak RSS is that side's alone.
// Prints `BENCH {json}` as its last stdout line. mxward's report is checked by the parent (run.ts),
// so that reading it back is not counted in mxward's time or peak RSS.
import { duckdbAggregate } from './duckdb-query.ts';
import { main } from '../../src/cli/main.ts';

const [side, file, connectors, output] = process.argv.slice(2);
const started = performance.now();
let extra: Record<string, unknown> = {};
if (side === 'mxward') {
  const sink = { write: () => true } as unknown as NodeJS.WritableStream;
  const code = await main(['report', file, '--accepted-domain', 'contoso.com', '--connectors', connectors, '--format', 'json', '--output', output, '--data-dir', `${output}.data`],
    { stdout: sink, stderr: process.stderr, stdin: process.stdin, env: {} });
  extra = { exitCode: code };
} else {
  extra = await duckdbAggregate(file, 'contoso.com', '192.0.2.');
}
const ms = performance.now() - started;
process.stdout.write(`BENCH ${JSON.stringify({ side, ms, maxRssMb: process.resourceUsage().maxRSS / 1024, ...extra })}\n`);
