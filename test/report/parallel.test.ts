// The parallel import (byte ranges on worker threads, partial aggregates merged in file order)
// must give exactly the report of one sequential pass, wherever the file is cut: at record
// starts, and inside a quoted field that holds a line break (the cut is then detected as wrong
// and the file read sequentially).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReportRun } from '../../src/report/build-report.ts';
import { importInput } from '../../src/report/import/detect-input.ts';
import { importFileParallel } from '../../src/report/import/parallel-import.ts';
import { fileInput } from '../../src/report/import/text-input.ts';
import { buildOrgPolicy } from '../../src/report/org-context.ts';

const dir = mkdtempSync(join(tmpdir(), 'mxward-parallel-'));

/** A message trace with multi-line and escaped subjects, broken rows, and sources whose capped lists overflow. */
function writeTrace(rows: number): string {
  const lines = ['#TYPE Deserialized.Microsoft.Exchange.Management.FfoReporting.MessageTraceV2', '"Received","SenderAddress","RecipientAddress","Subject","Status","ToIP","FromIP","Size","MessageId","MessageTraceId"'];
  for (let i = 0; i < rows; i++) {
    const t = new Date(Date.UTC(2026, 10, 1) + i * 61_000).toISOString();
    const k = i % 10;
    let sender = `news${i % 7}@sender${i % 13}.example`;
    let ip = `100.${i % 50}.1.${i % 200}`;
    let subject = `Newsletter ${i % 9}`;
    if (k === 1) { sender = `user${i % 5}@contoso.com`; ip = ''; }
    if (k === 2) { sender = `scanner${i % 3}@contoso.com`; ip = `203.0.113.${i % 4}`; subject = `Scan ${i % 11}\nfrom the "MX" printer, page ${i % 3}`; }
    if (k === 3) { sender = `spoof${i}@contoso.com`; ip = `198.51.100.${i % 3}`; subject = i % 2 ? 'Voicemail received' : `Fax "urgent", ${i % 17}`; }
    if (k === 4) { sender = 'crm@contoso.com'; ip = `192.0.2.${16 + (i % 16)}`; subject = 'Case update'; }
    const q = (s: string): string => `"${s.replace(/"/g, '""')}"`;
    if (i % 97 === 50) { lines.push(`${q('not a date')},${q(sender)},${q('user1@contoso.com')},${q(subject)},"Delivered","",${q(ip)},"1","<x>","y"`); continue; }
    if (i % 89 === 40) { lines.push(`${q(t)},${q(sender)},"only three"`); continue; }
    // Printer recipients grow through the file: their set fills up across the cuts.
    const rcpt = k === 2 ? `desk${Math.floor(i / 30)}@contoso.com` : `user${i % 130}@contoso.com`;
    lines.push([t, sender, rcpt, subject, 'Delivered', '', ip, String(1000 + i), `<${i}@t.example>`, `id-${i}`].map(q).join(','));
  }
  const file = join(dir, `trace-${rows}.csv`);
  writeFileSync(file, `${lines.join('\r\n')}\r\n`);
  return file;
}

async function newRun(): Promise<ReportRun> {
  const connectors = join(dir, 'connectors.json');
  writeFileSync(connectors, JSON.stringify([{ Name: 'CRM', ConnectorType: 'Partner', SenderIPAddresses: ['192.0.2.16/28'], SenderDomains: ['smtp:contoso.com;1'], RestrictDomainsToIPAddresses: true }]));
  const policy = await buildOrgPolicy({ acceptedDomainFlags: ['contoso.com'], acceptedDomainFiles: [], connectorFiles: [connectors], stored: null });
  return new ReportRun({ policy, whatIf: policy, dmarc: new Map(), nowMs: Date.UTC(2026, 11, 1) });
}

/** The rendered model, and every counter behind it (the model shows only the top of each). */
function snapshot(run: ReportRun): string {
  const sources = [...run.aggregator.sources.values()].sort((a, b) => a.key.localeCompare(b.key));
  return JSON.stringify({ model: run.finish(), problems: run.problemCount, sources }, (_k, v: unknown) => (v instanceof Set ? [...v] : v instanceof Map ? [...v] : v));
}

async function sequential(file: string): Promise<string> {
  const run = await newRun();
  await importInput(fileInput(file), run);
  return snapshot(run);
}

/** Byte offsets of line starts: after a record's CRLF, and after a line break inside a quoted subject. */
function lineStarts(file: string): { records: number[]; insideQuotes: number[] } {
  const bytes = readFileSync(file);
  const records: number[] = [];
  const insideQuotes: number[] = [];
  let quoted = false;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 34) quoted = !quoted;
    else if (bytes[i] === 10) (quoted ? insideQuotes : records).push(i + 1);
  }
  return { records, insideQuotes };
}

test('a file cut at several record starts gives exactly the sequential report', async () => {
  const file = writeTrace(4000);
  const expected = await sequential(file);
  const { records } = lineStarts(file);
  for (const cuts of [[records[500]], [records[3], records[1200], records[2500], records[3990]], [records[100], records[101], records[102]]]) {
    const run = await newRun();
    const outcome = await importFileParallel(file, file, run, { threads: 2, minBytes: 0, splitAt: cuts });
    assert.deepEqual(outcome, { parallel: true, ranges: cuts.length + 1 });
    assert.equal(snapshot(run), expected, `cut at ${cuts.join(', ')}`);
  }
});

test('a cut inside a quoted field with a line break is detected, and the sequential pass gives the same report', async () => {
  const file = writeTrace(4000);
  const expected = await sequential(file);
  const { records, insideQuotes } = lineStarts(file);
  const bad = insideQuotes[Math.floor(insideQuotes.length / 2)];
  const run = await newRun();
  const outcome = await importFileParallel(file, file, run, { threads: 2, minBytes: 0, splitAt: [records[700], bad] });
  assert.equal(outcome.parallel, false);
  assert.equal(run.aggregator.rows, 0, 'nothing merged from a wrong cut');
  await importInput(fileInput(file), run);
  assert.equal(snapshot(run), expected);
});

test('the default cuts (no splitAt) on a bigger file agree with the sequential report', async () => {
  const file = writeTrace(30_000);
  const expected = await sequential(file);
  const run = await newRun();
  const outcome = await importFileParallel(file, file, run, { threads: 2, minBytes: 0 });
  assert.equal(outcome.parallel, true);
  assert.equal(snapshot(run), expected);
});
