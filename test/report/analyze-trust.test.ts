// Issue 12 in `mxward analyze`: one message's evidence for and against its source, and a
// conclusion that never invites a connector for a source with evidence against it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mxward } from '../helpers/commands.ts';
import { fixture } from './helpers.ts';

const trust = (name: string): string => fileURLToPath(new URL(`../fixtures/report-trust/${name}`, import.meta.url));

test('analyze shows the evidence for and against, and refuses to suggest a connector against evidence', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mxward-analyze-trust-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const helo = await mxward(dataDir, ['analyze', trust('helo-claims-ours.eml'), '--accepted-domain', 'contoso.com']);
  assert.equal(helo.code, 0, helo.stderr);
  assert.match(helo.stdout, /^Evidence for: DMARC pass for contoso\.com$/m);
  assert.match(helo.stdout, /^Against: {6}HELO contoso\.com claims one of our domains$/m);
  assert.match(helo.stdout, /^Conclusion: {3}Direct Send from 198\.51\.100\.120 with evidence against it .*never give this source a connector\.$/m);
  assert.doesNotMatch(helo.stdout, /give it a connector first/);
  const spoof = JSON.parse((await mxward(dataDir, ['analyze', fixture('messages/direct-send-spoof.eml'), '--accepted-domain', 'contoso.com', '--json'])).stdout);
  assert.deepEqual(spoof.signals.for, []);
  assert.ok(spoof.signals.against.some((x: string) => /CAT:SPOOF/.test(x)), spoof.signals.against.join('; '));
  const forwarder = JSON.parse((await mxward(dataDir, ['analyze', trust('forwarder.eml'), '--accepted-domain', 'contoso.com', '--json'])).stdout);
  assert.deepEqual(forwarder.signals, { for: ['DMARC pass for contoso.com'], against: [] });
});
