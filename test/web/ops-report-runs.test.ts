// The report service the API runs on a worker thread (services/report-runs.ts): an upload read as
// the CLI reads stdin and named as uploaded, the lists shortened for an API answer while the
// totals and the recommended connectors still count every source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { defaultPolicy, policySchema } from '../../src/config/policy-schema.ts';
import { runReportHere } from '../../src/services/report-runs.ts';
import { ServiceError } from '../../src/services/service-error.ts';

const policy = policySchema.parse({ ...defaultPolicy(), acceptedDomains: [{ domain: 'contoso.com' }] });

test('an upload is named as uploaded; shortened lists keep the totals and the recommendations of every source', async () => {
  const bytes = await readFile(new URL('../fixtures/report/message-trace-v2.csv', import.meta.url));
  const options = { knownSenders: ['203.0.113.10=printer'] };
  const full = await runReportHere({ policy, options, source: { kind: 'upload', name: 'trace.csv', bytes }, nowMs: Date.now() });
  assert.deepEqual(full.report.inputs, [{ file: 'trace.csv', format: 'message-trace-v2', rows: 16 }]);
  assert.deepEqual(full.omitted, { sources: 0, networks: 0 });
  assert.ok(full.report.sources.length > 2, 'the fixture has more than two sources');

  const short = await runReportHere({ policy, options, source: { kind: 'upload', name: 'trace.csv', bytes }, nowMs: Date.now(), maxSources: 1 });
  assert.equal(short.report.sources.length, 1);
  assert.equal(short.omitted.sources, full.report.sources.length - 1);
  assert.deepEqual(short.report.sources[0].key, full.report.sources[0].key);
  assert.deepEqual(short.report.totals, full.report.totals);
  assert.deepEqual(short.policyFragment, full.policyFragment);
  assert.equal(short.policyFragment.connectors.length, 1);
});

test('bad options are validation errors naming the option', async () => {
  const source = { kind: 'upload' as const, name: 'x.csv', bytes: new Uint8Array() };
  await assert.rejects(runReportHere({ policy, options: { dmarc: ['contoso.com=maybe'] }, source, nowMs: 0 }), (e: unknown) => e instanceof ServiceError && e.path === 'dmarc');
  await assert.rejects(runReportHere({ policy, options: { dateFormat: 'ymd' }, source, nowMs: 0 }), (e: unknown) => e instanceof ServiceError && e.path === 'dateFormat');
  await assert.rejects(runReportHere({ policy, options: { spf: ['contoso.com'] }, source, nowMs: 0 }), (e: unknown) => e instanceof ServiceError && e.path === 'spf');
});
