// Issue 17: the report's own reader of message traces refills one row object per line instead of
// making one (message-trace.ts, csv-import.ts). Every row must still arrive with its own line's
// values, in file order, and a row held back for an undecided date order must keep its values
// after the object has been refilled by later lines; the aggregate must equal the one made from
// fresh row objects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReportAggregator, addRows } from '../../src/report/aggregate.ts';
import { Classifier } from '../../src/report/classify.ts';
import { importCsv } from '../../src/report/import/csv-import.ts';
import { messageTraceMapperFor } from '../../src/report/import/message-trace.ts';
import { buildOrgPolicy } from '../../src/report/org-context.ts';
import type { InputProblem, ReportRow } from '../../src/report/types.ts';

const HEADER = '"Received","SenderAddress","RecipientAddress","Subject","Status","ToIP","FromIP","Size","MessageId","MessageTraceId"';

/** ISO rows, then dates that read both ways (held back), then one that decides, a bad row, and more ISO rows. */
function trace(): string {
  const q = (s: string): string => `"${s.replace(/"/g, '""')}"`;
  const line = (time: string, i: number): string => [time, i % 3 ? `news${i}@sender${i % 5}.example` : `ceo${i}@contoso.com`, `user${i}@contoso.com`,
    `Subject ${i}, "quoted"`, i % 4 ? 'Delivered' : 'Quarantined', '', i % 6 ? `198.51.100.${i}` : '', '1', `<${i}@x>`, `id${i}`].map(q).join(',');
  const lines = ['#TYPE Deserialized.Microsoft.Exchange.Management.FfoReporting.MessageTraceV2', HEADER];
  for (let i = 0; i < 150; i++) lines.push(line(new Date(Date.UTC(2026, 4, 1) + i * 60_000).toISOString(), i));
  for (let i = 150; i < 190; i++) lines.push(line(`5/6/2026 ${1 + (i % 11)}:${String(i % 60).padStart(2, '0')}:00 AM`, i));
  lines.push(line('5/13/2026 1:00:00 PM', 190));
  lines.push(`${q('not a date')},"a@b.example","c@contoso.com","s","Delivered","","198.51.100.1","1","<x>","y"`);
  for (let i = 192; i < 400; i++) lines.push(line(new Date(Date.UTC(2026, 4, 14) + i * 60_000).toISOString(), i));
  return `${lines.join('\r\n')}\r\n`;
}

/** A row's values as the sink saw them when it came (a later refill must not change them). */
const snapshot = (r: ReportRow): string => JSON.stringify({ ...r, messageId: null });

async function read(reportOnly: boolean, chunkSize: number): Promise<{ seen: string[]; objects: Set<ReportRow>; problems: InputProblem[]; agg: ReportAggregator }> {
  const policy = await buildOrgPolicy({ acceptedDomainFlags: ['contoso.com'], acceptedDomainFiles: [], connectorFiles: [], stored: null });
  const now = new Classifier(policy, 0);
  const agg = new ReportAggregator((d) => now.isAccepted(d));
  const seen: string[] = [];
  const objects = new Set<ReportRow>();
  const problems: InputProblem[] = [];
  const text = trace();
  async function* chunks(): AsyncGenerator<string> { for (let i = 0; i < text.length; i += chunkSize) yield text.slice(i, i + chunkSize); }
  await importCsv('t.csv', chunks(), messageTraceMapperFor(reportOnly), {
    rows: (batch) => { for (const r of batch) { seen.push(snapshot(r)); objects.add(r); } addRows(batch, now, null, agg); },
    problem: (p) => problems.push(p),
  });
  return { seen, objects, problems, agg };
}

test('a refilled row reaches the sink with its own line, in order, and held rows keep their values', async () => {
  for (const chunkSize of [7, 1000, 1 << 20]) {
    const fresh = await read(false, chunkSize);
    const reused = await read(true, chunkSize);
    assert.equal(fresh.seen.length, 399);
    assert.deepEqual(reused.seen, fresh.seen);
    assert.deepEqual(reused.problems, fresh.problems);
    assert.equal(fresh.problems.length, 1);
    assert.match(fresh.problems[0].message, /field Received/);
    // The reuse really happens (else this test would not guard it): the rows not held back
    // were one object, the 41 held back (fewer than a batch, so some still wait in it when the
    // next line comes) each a copy of their own.
    assert.equal(fresh.objects.size, 399);
    assert.equal(reused.objects.size, 1 + 41);
    assert.deepEqual(reused.agg, fresh.agg);
  }
});
