// Issue 17: what finish() adds per source on top of the sources themselves (the CLI's model, with
// releaseSources). A label keeps the context it was made with, for the sentences it makes when
// read; a context made per source (with an empty SPF table of three Maps) cost about 800 bytes per
// source, 54 MB at the bench's 80,000 botnet sources. One context for the run: about 110.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ReportRun } from '../../src/report/build-report.ts';
import { buildOrgPolicy } from '../../src/report/org-context.ts';
import { emptyRow } from '../../src/report/types.ts';
import type { ReportRow } from '../../src/report/types.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapUsed = (): number => { gc(); gc(); return process.memoryUsage().heapUsed; };

test('finish() adds well under 400 bytes per botnet source to what the sources hold', async () => {
  const policy = await buildOrgPolicy({ acceptedDomainFlags: ['contoso.com'], acceptedDomainFiles: [], connectorFiles: [], stored: null });
  const run = new ReportRun({ policy, whatIf: null, dmarc: new Map(), nowMs: Date.UTC(2026, 11, 1) });
  const sources = 20_000;
  const origin = { file: 'probe.csv', line: 0, format: 'message-trace-v2' as const };
  for (let round = 0; round < 3; round++) {
    const batch: ReportRow[] = [];
    for (let i = 0; i < sources; i++) {
      const row = emptyRow({ ...origin, line: round * sources + i }, []);
      row.sourceIp = `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
      row.p1 = `ceo${(i + round) % 100}@contoso.com`;
      row.recipients = [`user${(i * 7 + round) % 4000}@contoso.com`];
      row.subject = `Fax "urgent": ${round + 1} pages ${i}`;
      row.status = i % 7 === 0 ? 'Quarantined' : 'Delivered';
      row.timeMs = Date.UTC(2026, 10, 13) + round * 86_400_000 + i;
      batch.push(row);
    }
    run.rows(batch);
  }
  assert.equal(run.aggregator.sources.size, sources);
  const before = heapUsed();
  const model = run.finish({ releaseSources: true });
  const perSource = (heapUsed() - before) / sources;
  assert.equal(model.sources.length, sources);
  // The model's sources still read their labels' sentences (made from the shared context).
  assert.ok(model.sources.some((s) => s.label === 'suspicious' && s.reasons.length > 0));
  assert.ok(perSource < 400, `finish() added ${perSource.toFixed(0)} bytes per source`);
});
