// Issue 11, the pure pipeline: every adversarial header section is either refused or read into one
// canonical form, and Python's email package and mailparser read that form exactly as mxward did.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalMessage, findHeaderEnd, HeaderEndScanner } from '../../src/smtp/header-section.ts';
import type { CanonicalMessage } from '../../src/smtp/header-section.ts';
import { headerCases, messageOf } from '../fixtures/adversarial/header-cases.ts';
import { disagreements } from '../helpers/agreement.ts';
import { readWithMailparser, readWithPython } from '../helpers/message-readers.ts';

const AUTHSERV_ID = 'mx.test.example';

for (const c of headerCases) {
  test(`canonical message: ${c.name}`, () => {
    const got = canonicalMessage(messageOf(c), AUTHSERV_ID);
    const author = got.ok ? got.facts.author : null;
    if ('refuse' in c.expect) {
      assert.ok(!got.ok || author?.kind !== 'single', `expected a refusal, got author ${JSON.stringify(author)}`);
      return;
    }
    assert.ok(got.ok, got.ok ? '' : got.problem);
    assert.deepEqual(author, { kind: 'single', address: c.expect.author, domain: c.expect.author.split('@')[1] });
    assert.equal(got.removed, c.expect.stripped ?? 0, 'fields stripped');
    assert.equal(got.changes.length > 0, c.expect.normalised ?? false, `changes: ${got.changes.join(', ')}`);
    const header = got.bytes.subarray(0, got.bytes.indexOf('\r\n\r\n') + 2).toString('latin1');
    assert.doesNotMatch(header, /\r(?!\n)|(?<!\r)\n/, 'only CRLF line endings');
    assert.doesNotMatch(header, /^[^\s:]+[ \t]+:/m, 'no whitespace before a colon');
  });
}

function accepted(): Array<{ name: string; message: CanonicalMessage & { ok: true } }> {
  const out: Array<{ name: string; message: CanonicalMessage & { ok: true } }> = [];
  for (const c of headerCases) {
    const m = canonicalMessage(messageOf(c), AUTHSERV_ID);
    if (m.ok && m.facts.author.kind === 'single') out.push({ name: c.name, message: m });
  }
  return out;
}

test('differential: Python and mailparser read the From and trust fields mxward decided on', async () => {
  const cases = accepted();
  assert.ok(cases.length >= 15, `${cases.length} accepted cases`);
  const python = await readWithPython(cases.map((c) => c.message.bytes));
  for (const [i, c] of cases.entries()) {
    const author = c.message.facts.author as { address: string };
    const problems = [
      ...disagreements(author.address, AUTHSERV_ID, python[i]).map((p) => `python: ${p}`),
      ...disagreements(author.address, AUTHSERV_ID, await readWithMailparser(c.message.bytes)).map((p) => `mailparser: ${p}`),
    ];
    assert.deepEqual(problems, [], c.name);
  }
});

test('the header end is found the same whatever the chunking, one byte at a time included', () => {
  for (const c of headerCases) {
    const whole = messageOf(c);
    const expected = findHeaderEnd(whole, true);
    for (const size of [1, 2, 3, 7, 64]) {
      const scanner = new HeaderEndScanner();
      let found = null;
      for (let at = 0; at < whole.length && !found; at += size) found = scanner.push(whole.subarray(at, at + size));
      assert.deepEqual(found ?? scanner.finish(), expected, `${c.name}, chunks of ${size}`);
    }
  }
  assert.deepEqual(findHeaderEnd(Buffer.from('A: b\r\n\r\nbody'), true), { headerEnd: 6, bodyStart: 8 });
  assert.deepEqual(findHeaderEnd(Buffer.from('A: b\n\rbody'), true), { headerEnd: 5, bodyStart: 6 });
  assert.deepEqual(findHeaderEnd(Buffer.from('A: b\r\r'), false), null, 'a CR at the end may still be half a CRLF');
  assert.deepEqual(findHeaderEnd(Buffer.from('A: b\r\r'), true), { headerEnd: 5, bodyStart: 6 });
});
