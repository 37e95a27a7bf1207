// Every export format of SPEC §8, from fixtures written to the documented layouts: detected by
// content, in every encoding and date style, with the facts each format carries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CollectingSink, fixture, importFixture } from './helpers.ts';
import { importInput } from '../../src/report/import/detect-input.ts';
import { fileInput } from '../../src/report/import/text-input.ts';

test('Get-MessageTraceV2 with #TYPE line, all fields quoted, ISO dates', async () => {
  const { collected, problems } = await importFixture('message-trace-v2.csv');
  assert.deepEqual(problems, []);
  assert.equal(collected.length, 16);
  const first = collected[0];
  assert.equal(first.origin.format, 'message-trace-v2');
  assert.equal(first.origin.line, 3, 'line numbers count the #TYPE and header lines');
  assert.equal(new Date(first.timeMs!).toISOString(), '2026-11-01T08:15:00.000Z');
  assert.equal(first.p1, 'scanner@contoso.com');
  assert.deepEqual(first.recipients, ['alice@contoso.com']);
  assert.equal(first.sourceIp, '203.0.113.10');
  const quoted = collected.find((r) => r.subject?.includes('contract'));
  assert.equal(quoted?.subject, 'Re: contract, "final"', 'commas and doubled quotes inside a quoted field');
  assert.equal(collected.find((r) => r.subject === 'Lunch?')?.sourceIp, null, 'empty FromIP is null');
});

test('older Get-MessageTrace columns, UTF-8 BOM, US-locale dates', async () => {
  // Every date here (11/1 … 11/3) reads both ways: refused whole, naming the flag (issue 12).
  const refused = await importFixture('message-trace-us-dates.csv');
  assert.equal(refused.collected.length, 0);
  assert.equal(refused.problems.length, 1);
  assert.match(refused.problems[0].message, /6 row\(s\) not read: dates such as "11\/1\/2026 8:15:00 AM" read as month first .* pass --date-format mdy or --date-format dmy/);
  const sink = new CollectingSink();
  await importInput(fileInput(fixture('message-trace-us-dates.csv')), sink, { dateOrder: 'mdy' });
  const { collected, problems } = sink;
  assert.deepEqual(problems, []);
  assert.equal(collected.length, 6);
  assert.equal(new Date(collected[0].timeMs!).toISOString(), '2026-11-01T08:15:00.000Z');
  assert.equal(new Date(collected[1].timeMs!).toISOString(), '2026-11-01T09:30:00.000Z');
});

test('EAC extended report in UTF-16LE with BOM and CRLF', async () => {
  const { collected, problems } = await importFixture('eac-extended-utf16.csv');
  assert.deepEqual(problems, []);
  assert.equal(collected.length, 4);
  const fax = collected[1];
  assert.equal(fax.origin.format, 'eac-trace');
  assert.deepEqual(fax.recipients, ['alice@contoso.com', 'bob@contoso.com']);
  assert.equal(fax.helo, '[198.51.100.7]');
  assert.equal(fax.direction, 'inbound');
  assert.equal(collected[2].connector, 'Contoso CRM');
  assert.equal(collected[3].direction, 'outbound');
});

test('EAC summary report in UTF-8', async () => {
  const { collected, problems } = await importFixture('eac-summary.csv');
  assert.deepEqual(problems, []);
  assert.equal(collected.length, 4);
  assert.equal(collected[0].sourceIp, '203.0.113.10');
});

for (const name of ['emailevents.csv', 'emailevents.json', 'emailevents.jsonl']) {
  test(`Defender EmailEvents: ${name}`, async () => {
    const { collected, problems } = await importFixture(name);
    assert.deepEqual(problems, []);
    assert.equal(collected.length, 5);
    const vm = collected[1];
    assert.equal(vm.origin.format, 'defender-emailevents');
    assert.equal(vm.p1, 'ceo@contoso.com');
    assert.deepEqual(vm.p2, ['ceo@contoso.com']);
    assert.equal(vm.sourceIp, '198.51.100.7');
    assert.equal(vm.spf, 'fail');
    assert.equal(vm.compauth, 'fail');
    assert.equal(vm.connector, '', 'empty Connectors is "none", not "unknown"');
    assert.equal(collected[2].connector, 'Contoso CRM');
    assert.deepEqual(collected[3].p2, ['payroll@contoso.com']);
  });
}

test('.eml with Microsoft headers', async () => {
  const { collected, problems } = await importFixture('messages/direct-send-spoof.eml');
  assert.deepEqual(problems, []);
  assert.equal(collected.length, 1);
  const m = collected[0];
  assert.equal(m.authAs, 'anonymous');
  assert.equal(m.p1, 'ceo@contoso.com');
  assert.equal(m.sourceIp, '198.51.100.7');
  assert.equal(m.helo, '[198.51.100.7]');
  assert.equal(m.compauth, 'fail');
  assert.equal(m.compauthReason, '601');
  assert.equal(m.subject, 'Voicemail received (00:42)', 'RFC 2047 subject decoded');
  assert.ok(m.evidence.some((e) => e.fact === 'attribution' && e.from.includes('x-ms-exchange-organization-authas')));
});

test('pasted header block with a leading blank line', async () => {
  const { collected, problems } = await importFixture('messages/printer-headers.txt');
  assert.deepEqual(problems, []);
  assert.equal(collected[0].ptr, 'mx4071.contoso.com');
  assert.equal(collected[0].compauthReason, '100');
});

test('.mbox with two messages; a body line starting "From " is not a separator', async () => {
  const { collected, problems } = await importFixture('messages/two-messages.mbox');
  assert.deepEqual(problems, []);
  assert.equal(collected.length, 2);
  assert.equal(collected[0].authAs, 'partner');
  assert.equal(collected[1].p1, 'bounce@phish.example');
  assert.deepEqual(collected[1].p2, ['payroll@contoso.com']);
});

test('broken files: each problem names file, line and field; good rows are kept', async () => {
  const quoting = await importFixture('broken/bad-quoting.csv');
  assert.equal(quoting.collected.length, 2);
  assert.equal(quoting.problems.length, 1);
  assert.equal(quoting.problems[0].line, 3);
  assert.match(quoting.problems[0].message, /field 4 \(Subject\): text after a closing quote/);

  const date = await importFixture('broken/bad-date.csv');
  assert.equal(date.collected.length, 2);
  assert.equal(date.problems[0].line, 3);
  assert.match(date.problems[0].message, /field Received: "13\/45\/2026 99:00:00 PM" is not a date/);

  const missing = await importFixture('broken/missing-column.csv');
  assert.equal(missing.collected.length, 0);
  assert.match(missing.problems[0].message, /missing column RecipientAddress/);

  const unterminated = await importFixture('broken/unterminated.csv');
  assert.match(unterminated.problems[0].message, /unterminated quoted field/);
  assert.equal(unterminated.problems[0].line, 2);

  const json = await importFixture('broken/not-json.json');
  assert.match(json.problems[0].message, /not valid JSON/);
});
