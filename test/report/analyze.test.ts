// mxward analyze: one message explained, from a file, an mbox or a pasted block on stdin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mxward } from '../helpers/commands.ts';
import { compauthMeaning } from '../../src/report/analyze-message.ts';
import { fixture, hasStackTrace } from './helpers.ts';

const dataDir = await mkdtemp(join(tmpdir(), 'mxward-analyze-'));
test.after(() => rm(dataDir, { recursive: true, force: true }));

test('Direct Send spoof: verdict, compauth meaning, source, Microsoft entry hop, conclusion', async () => {
  const r = await mxward(dataDir, ['analyze', fixture('messages/direct-send-spoof.eml'), '--accepted-domain', 'contoso.com']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Attribution:\s+Anonymous \(X-MS-Exchange-Organization-AuthAs\)/);
  assert.match(r.stdout, /Direct Send:\s+would be rejected \(550 5\.7\.68\)/);
  assert.match(r.stdout, /compauth:\s+fail reason=601 \(implicit fail on an accepted domain: the Direct Send spoof signature\)/);
  assert.match(r.stdout, /Source:\s+IP 198\.51\.100\.7, HELO \[198\.51\.100\.7\], PTR InfoDomainNonexistent, country NL, SCL 5/);
  assert.match(r.stdout, /1\. from \[198\.51\.100\.7\] \[198\.51\.100\.7\] by AM4PEPF00027A6C\.mail\.protection\.outlook\.com \(Microsoft\) <- entered Microsoft here/);
  assert.match(r.stdout, /Conclusion:\s+Direct Send spoof: anonymous from 198\.51\.100\.7 with our envelope domain and compauth=fail reason=601/);
});

test('without --accepted-domain the recipients stand in for the organization, and say so', async () => {
  const r = await mxward(dataDir, ['analyze', fixture('messages/direct-send-spoof.eml'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const a = JSON.parse(r.stdout);
  assert.deepEqual(a.acceptedDomains, ['contoso.com']);
  assert.equal(a.acceptedDomainsAssumed, true);
  assert.equal(a.classification.kind, 'direct-send');
});

test('pasted headers on stdin; header-From spoof from an mbox', async () => {
  const pasted = await readFile(fixture('messages/printer-headers.txt'), 'utf8');
  const r = await mxward(dataDir, ['analyze', '-', '--accepted-domain', 'contoso.com', '--json'], pasted);
  assert.equal(r.code, 0, r.stderr);
  const a = JSON.parse(r.stdout);
  assert.equal(a.source.ptr, 'mx4071.contoso.com');
  assert.equal(a.auth.compauthReason, '100');
  assert.match(a.conclusion, /give it a connector first/);
  const mbox = await mxward(dataDir, ['analyze', fixture('messages/two-messages.mbox'), '--accepted-domain', 'contoso.com', '--json']);
  assert.equal(JSON.parse(mbox.stdout).classification.kind, 'connector', 'first message of the mbox: AuthAs Partner');
});

test('not a message: exit 1 with file:line; missing file: exit 2; no stack trace', async () => {
  const r = await mxward(dataDir, ['analyze', '-'], 'this is not a header block\nnor this\n');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /\(stdin\):1: not a header field/);
  assert.match(r.stderr, /no header fields found/);
  const missing = await mxward(dataDir, ['analyze', join(dataDir, 'none.eml')]);
  assert.equal(missing.code, 2);
  assert.ok(!hasStackTrace(r.stderr + missing.stderr));
});

test('compauth reason families (SPEC §4)', () => {
  assert.match(compauthMeaning('000')!, /explicit fail/);
  assert.match(compauthMeaning('109')!, /pass/);
  assert.match(compauthMeaning('130')!, /ARC/);
  assert.match(compauthMeaning('601')!, /Direct Send spoof signature/);
  assert.equal(compauthMeaning('x'), null);
});
