// The policy delegation protocol codec: requests split anywhere, pipelined, with malformed lines,
// huge values, too many and unknown attributes; each request is answered, none crashes the reader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodePolicyAction, PolicyRequestReader } from '../../src/integrations/policy/policy-protocol.ts';

const request = 'request=smtpd_access_policy\nprotocol_state=RCPT\nsender=a@example.test\nrecipient=b@example.test\nclient_address=192.0.2.1\n\n';

test('a request split at every byte reads the same', () => {
  const bytes = Buffer.from(request);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const r = new PolicyRequestReader();
    const out = [...r.push(bytes.subarray(0, cut)), ...r.push(bytes.subarray(cut))];
    assert.equal(out.length, 1, `cut ${cut}`);
    assert.ok(out[0].ok);
    assert.equal(out[0].attributes.get('recipient'), 'b@example.test');
  }
});

test('pipelined requests come out in order; CRLF is accepted; a value may contain "="', () => {
  const r = new PolicyRequestReader();
  const out = r.push(Buffer.from(`${request}request=smtpd_access_policy\r\nccert_subject=CN=x=y\r\n\r\n${request}`));
  assert.equal(out.length, 3);
  assert.ok(out.every((x) => x.ok));
  assert.equal((out[1] as { attributes: Map<string, string> }).attributes.get('ccert_subject'), 'CN=x=y');
});

const table: Array<{ name: string; input: string; problem: RegExp | null }> = [
  { name: 'a line without =', input: 'request=smtpd_access_policy\ngarbage\n\n', problem: /line 2 is not name=value/ },
  { name: 'an empty name', input: '=value\n\n', problem: /not name=value/ },
  { name: 'unknown attributes are kept, not refused', input: 'request=smtpd_access_policy\nfuture_attribute=1\n\n', problem: null },
  { name: 'a huge value', input: `request=smtpd_access_policy\nsasl_username=${'x'.repeat(100_000)}\n\n`, problem: /exceeds 1024 bytes/ },
  { name: 'too many attributes', input: `${Array.from({ length: 40 }, (_, i) => `a${i}=1`).join('\n')}\n\n`, problem: /more than 32 attributes/ },
];

for (const c of table) {
  test(`malformed input: ${c.name}`, () => {
    const r = new PolicyRequestReader({ maxLineBytes: 1024, maxAttributes: 32 });
    const out = r.push(Buffer.from(c.input));
    assert.equal(out.length, 1);
    if (c.problem) { assert.equal(out[0].ok, false); assert.match((out[0] as { problem: string }).problem, c.problem); }
    else assert.ok(out[0].ok);
    // The stream stays in step: the next request reads normally.
    const next = r.push(Buffer.from(request));
    assert.equal(next.length, 1);
    assert.ok(next[0].ok);
  });
}

test('a repeated attribute keeps its first value', () => {
  const [req] = new PolicyRequestReader().push(Buffer.from('sender=first@a.test\nsender=second@b.test\n\n'));
  assert.ok(req.ok);
  assert.equal(req.attributes.get('sender'), 'first@a.test');
});

test('the answer is one action line and an empty line, with no line break inside', () => {
  assert.equal(encodePolicyAction('550 5.7.68 x\ny').toString(), 'action=550 5.7.68 x y\n\n');
});
