// `node --expose-gc bench/report/source-memory.ts [sources] [rowsPerSource]`: the heap that one
// reading thread's per-source state costs, after a full GC, for botnet-like Direct Send sources
// (the bench trace's spammers: an address of 500 at our domain, one recipient of 40,000, a
// distinct subject per row, spread over ten days). The report over a big trace holds about 80,000
// such sources per reading thread (issue 17), so bytes per source times that is what it costs.
import { buildOrgPolicy } from '../../src/report/org-context.ts';
import { Classifier } from '../../src/report/classify.ts';
import { ReportAggregator, addRows } from '../../src/report/aggregate.ts';
import { emptyRow } from '../../src/report/types.ts';
import type { ReportRow } from '../../src/report/types.ts';

const [sources = 80_000, perSource = 6] = process.argv.slice(2).map(Number);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const policy = await buildOrgPolicy({ acceptedDomainFlags: ['contoso.com'], acceptedDomainFiles: [], connectorFiles: [], stored: null });
const now = new Classifier(policy, Date.UTC(2026, 11, 1));
const agg = new ReportAggregator((d) => now.isAccepted(d));
const start = Date.UTC(2026, 10, 13);
const origin = { file: 'probe.csv', line: 0, format: 'message-trace-v2' as const };
let seed = 1;
const rand = (): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed / 4294967296; };
gc(); gc();
const before = process.memoryUsage().heapUsed;
let batch: ReportRow[] = [];
for (let round = 0; round < perSource; round++) {
  for (let i = 0; i < sources; i++) {
    const n = Math.floor(rand() * 1_000_000);
    const row = emptyRow({ ...origin, line: round * sources + i }, []);
    // Built by concatenation, as fields sliced out of a chunk are not flat literals either.
    row.sourceIp = `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
    row.p1 = `${['ceo', 'hr', 'payroll', 'it', 'accounts'][n % 5]}${n % 100}@contoso.com`;
    row.recipients = [`user${Math.floor(rand() * 40_000)}@contoso.com`];
    row.subject = n % 3 === 0 ? `Voicemail received (00:${n % 60}) for user${n % 40_000}@contoso.com` : `Fax "urgent": ${n % 20 + 1} pages ${n}`;
    row.status = n % 7 === 0 ? 'Quarantined' : 'Delivered';
    row.timeMs = start + Math.floor(((round * sources + i) / (sources * perSource)) * 10 * 86_400_000);
    batch.push(row);
    if (batch.length === 1000) { addRows(batch, now, null, agg); batch = []; }
  }
}
addRows(batch, now, null, agg);
batch = [];
gc(); gc();
const after = process.memoryUsage().heapUsed;
const bytes = (after - before) / agg.sources.size;
process.stdout.write(`${agg.sources.size} sources, ${perSource} rows each: ${bytes.toFixed(0)} bytes per source, ${((after - before) / 2 ** 20).toFixed(1)} MB\n`);
export { agg };
