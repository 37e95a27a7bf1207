// `node --max-semi-space-size=8 bench/report/phases.ts FILE [connectors.json] [json|text]`: one
// report over FILE with the time and memory of each phase (read and aggregate, finish, render) and
// the peak RSS so far after each, for profiling (bench/report/run.ts measures the whole command;
// mxward report starts Node with that flag).
import { buildOrgPolicy } from '../../src/report/org-context.ts';
import { ReportRun } from '../../src/report/build-report.ts';
import { readInputs } from '../../src/report/read-inputs.ts';
import { renderJson } from '../../src/report/render/json.ts';
import { renderText } from '../../src/report/render/text.ts';

const [file, connectors, format = 'json'] = process.argv.slice(2);
const mark = (what: string, since: number): number => {
  const now = performance.now();
  const m = process.memoryUsage();
  const mb = (n: number): string => (n / 2 ** 20).toFixed(0);
  process.stdout.write(`${what.padEnd(10)} ${((now - since) / 1000).toFixed(2)} s, heap used ${mb(m.heapUsed)} of ${mb(m.heapTotal)} MB, external ${mb(m.external)} MB, rss ${mb(m.rss)} MB, peak so far ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB\n`);
  return now;
};
let t = performance.now();
const policy = await buildOrgPolicy({ acceptedDomainFlags: ['contoso.com'], acceptedDomainFiles: [], connectorFiles: connectors ? [connectors] : [], stored: null });
const run = new ReportRun({ policy, whatIf: null, dmarc: new Map(), nowMs: Date.now() });
await readInputs([file], run, { stdin: null, trace: null });
t = mark('read', t);
if (globalThis.gc) { globalThis.gc(); t = mark('gc', t); }
const model = run.finish({ releaseSources: true });
t = mark('finish', t);
const text = format === 'text' ? renderText(model, 20) : renderJson(model);
t = mark('render', t);
process.stdout.write(`${run.aggregator.rows} rows, ${model.sources.length} sources, ${(text.length / 1e6).toFixed(0)} MB output, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB\n`);
