// The banner rewrite (issue 18) over real MIME fixtures, checked by two independent readers:
// Python's email package and mailparser. For every rewritten message: it still parses without new
// defects, the banner is in each readable part it was meant for exactly once (decoded in that
// part's charset), the part reads as before once the banner is taken out, and every other part
// (attachments, the embedded message) decodes to the same bytes. Signed, encrypted, armoured,
// already bannered and unreadable messages are not written at all, each with its reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { simpleParser } from 'mailparser';
import { rewriteWithBanner } from '../../src/smtp/banner-rewrite.ts';
import type { RewriteOutcome } from '../../src/smtp/banner-rewrite.ts';
import type { BannerKind } from '../../src/policy/external-tag.ts';
import { readParts } from '../helpers/tagging-readers.ts';
import type { PyPart } from '../helpers/tagging-readers.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/tagging/${name}`, import.meta.url));

const EXTERNAL = 'This message came from outside your organization.';
const IMPERSONATION = 'This message claims to be from your organization but was not sent by it.';

/** Feeds the message in chunks of `chunkBytes` (0 = one chunk) and collects what is written. */
async function rewrite(message: Buffer, kind: BannerKind = 'external', chunkBytes = 0): Promise<{ outcome: RewriteOutcome; bytes: Buffer }> {
  const chunks = chunkBytes > 0 ? Array.from({ length: Math.ceil(message.length / chunkBytes) }, (_, i) => message.subarray(i * chunkBytes, (i + 1) * chunkBytes)) : [message];
  const out: Buffer[] = [];
  const outcome = await rewriteWithBanner(() => Readable.from(chunks), kind, async (c) => { out.push(Buffer.from(c)); });
  return { outcome, bytes: Buffer.concat(out) };
}

/** What a reader compares: white space (and HTML's line breaks) collapsed. */
const flat = (s: string) => s.replace(/\s+/g, ' ').trim();
/** Text compared without any white space: the banner's own line break is not the sender's text. */
const bare = (s: string) => s.replace(/\s+/g, '');
const count = (haystack: string, needle: string) => flat(haystack).split(needle).length - 1;
/** The part's text without the banner (its element in HTML, its lines in plain text). */
function withoutBanner(text: string): string {
  return bare(text.replace(/<div class="mxward-external-banner"[^>]*>.*?<\/div>/s, '').replace(/^(CAUTION|WARNING):[^]*?(details\.|requests\.)\s*/m, ''));
}

/** Which leaf parts should carry the banner: the first readable inline text/plain and text/html. */
function targetIndexes(parts: PyPart[], kinds: string[]): Set<number> {
  const chosen = new Set<number>();
  for (const kind of kinds) {
    const i = parts.findIndex((p) => p.readable && p.type === kind && p.disposition !== 'attachment');
    assert.ok(i >= 0, `fixture has a readable ${kind}`);
    chosen.add(i);
  }
  return chosen;
}

type Case = { file: string; parts: Array<'text/plain' | 'text/html'>; keep: string[] } | { file: string; unchanged: RegExp };
const cases: Case[] = [
  { file: 'plain.eml', parts: ['text/plain'], keep: ['Grüße aus Köln'] },
  { file: 'html.eml', parts: ['text/html'], keep: ['Grüße aus Köln'] },
  { file: 'alternative-qp-latin1.eml', parts: ['text/plain', 'text/html'], keep: ['Mit freundlichen Grüßen', 'für Oktober'] },
  { file: 'mixed-attachment-base64.eml', parts: ['text/plain', 'text/html'], keep: ['Zażółć gęślą jaźń'] },
  { file: 'alternative-shift-jis.eml', parts: ['text/plain', 'text/html'], keep: ['請求書を添付します'] },
  { file: 'plain-iso-2022-jp.eml', parts: ['text/plain'], keep: ['請求書を添付します'] },
  { file: 'html-iso-2022-jp-title.eml', parts: ['text/html'], keep: ['請求書を添付します'] },
  { file: 'related-windows-1251.eml', parts: ['text/html'], keep: ['Здравствуйте, счёт во вложении'] },
  { file: 'reply-plain-quoted-only.eml', parts: ['text/html'], keep: ['See below.'] },
  { file: 'forwarded-rfc822.eml', parts: ['text/plain'], keep: ['Forwarding the message below.'] },
  { file: 'utf16-plain.eml', unchanged: /charset utf-16 left alone/ },
  { file: 'smime-signed.eml', unchanged: /multipart\/signed \(signed or encrypted\) is never modified/ },
  { file: 'smime-enveloped.eml', unchanged: /application\/pkcs7-mime \(signed or encrypted\)/ },
  { file: 'pgp-mime-encrypted.eml', unchanged: /multipart\/encrypted \(signed or encrypted\)/ },
  { file: 'pgp-inline-signed.eml', unchanged: /inline PGP armour/ },
  { file: 'mixed-with-signed-part.eml', unchanged: /multipart\/signed/ },
  { file: 'tagged-reply.eml', unchanged: /text\/plain part already carries a banner; text\/html part already carries a banner/ },
];

for (const c of cases) {
  if ('unchanged' in c) {
    test(`${c.file}: not rewritten, with the reason`, async () => {
      const { outcome, bytes } = await rewrite(fixture(c.file));
      assert.equal(outcome.kind, 'unchanged');
      assert.match(outcome.kind === 'unchanged' ? outcome.reason : '', c.unchanged);
      assert.equal(bytes.length, 0, 'nothing written: the caller keeps the original');
    });
    continue;
  }
  test(`${c.file}: banner in ${c.parts.join(' and ')} once, the rest as it was (Python and mailparser)`, async () => {
    const original = fixture(c.file);
    const { outcome, bytes: tagged } = await rewrite(original);
    assert.deepEqual(outcome.kind === 'rewritten' ? [...outcome.parts].sort() : outcome, [...c.parts].sort());
    const [before, after] = await readParts([original, tagged]);
    assert.deepEqual(after.defects, before.defects);
    assert.deepEqual(after.parts.map((p) => [p.type, p.charset, p.disposition, p.defects]), before.parts.map((p) => [p.type, p.charset, p.disposition, p.defects]));
    const targets = targetIndexes(before.parts, c.parts);
    after.parts.forEach((part, i) => {
      const was = before.parts[i];
      assert.equal(part.error, undefined, `part ${i} decodes in ${part.charset}`);
      if (!targets.has(i)) { assert.equal(part.sha256, was.sha256, `part ${i} (${part.type}) unchanged`); return; }
      assert.equal(count(part.text!, EXTERNAL), 1, `banner once in ${part.type}`);
      assert.equal(withoutBanner(part.text!), bare(was.text!), `${part.type} reads as before apart from the banner`);
    });
    for (const text of c.keep) assert.ok(after.parts.some((p) => p.text?.includes(text)), `still readable: ${text}`);
    await checkWithMailparser(original, tagged, c.parts);
  });
}

async function checkWithMailparser(original: Buffer, tagged: Buffer, parts: string[]): Promise<void> {
  const options = { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true } as const;
  const [a, b] = await Promise.all([simpleParser(original, options), simpleParser(tagged, options)]);
  if (parts.includes('text/plain')) assert.equal(count(b.text ?? '', EXTERNAL), 1, 'mailparser: banner once in the text');
  else assert.equal(b.text, a.text);
  if (parts.includes('text/html')) assert.equal(count(String(b.html), EXTERNAL), 1, 'mailparser: banner once in the HTML');
  const digest = (x: Buffer) => createHash('sha256').update(x).digest('hex');
  assert.deepEqual(b.attachments.map((x) => digest(x.content)), a.attachments.map((x) => digest(x.content)), 'attachments byte for byte');
}

test('attachments and the parts around the rewritten ones are copied byte for byte', async () => {
  const original = fixture('mixed-attachment-base64.eml');
  const { bytes } = await rewrite(original);
  const text = original.toString('latin1');
  const from = text.indexOf('--mix-1\r\nContent-Type: application/pdf');
  assert.ok(from > 0);
  assert.ok(bytes.toString('latin1').includes(text.slice(from)), 'everything from the attachment on is identical');
  const forwarded = fixture('forwarded-rfc822.eml').toString('latin1');
  const inner = forwarded.slice(forwarded.indexOf('--mix-3\r\nContent-Type: message/rfc822'));
  assert.ok((await rewrite(fixture('forwarded-rfc822.eml'))).bytes.toString('latin1').endsWith(inner), 'the embedded message untouched');
});

test('the HTML banner goes just after <body>, even after an ISO-2022-JP title; quoted-printable keeps its line limit', async () => {
  for (const file of ['html.eml', 'html-iso-2022-jp-title.eml']) {
    const [reading] = await readParts([(await rewrite(fixture(file))).bytes]);
    const html = reading.parts[0].text!;
    assert.match(html, /<body[^>]*><div class="mxward-external-banner"/, file);
  }
  const { bytes } = await rewrite(fixture('alternative-qp-latin1.eml'));
  const body = bytes.toString('latin1').split('\r\n\r\n').slice(1).join('\r\n\r\n');
  for (const line of body.split('\r\n')) assert.ok(line.length <= 76, `quoted-printable line of ${line.length}: ${line}`);
});

test('streaming: the message fed in pieces of any size (a CR and its LF apart too) is rewritten to the same bytes', async () => {
  for (const c of cases.filter((x) => 'parts' in x)) {
    const whole = await rewrite(fixture(c.file));
    for (const size of [1, 2, 5, 64, 333]) assert.ok((await rewrite(fixture(c.file), 'external', size)).bytes.equals(whole.bytes), `${c.file} in ${size}-byte pieces`);
  }
});

test('the stronger banner for a claimed own domain, in both parts', async () => {
  const { bytes } = await rewrite(fixture('alternative-qp-latin1.eml'), 'impersonation');
  const [reading] = await readParts([bytes]);
  const texts = reading.parts.map((p) => p.text ?? '');
  assert.deepEqual(texts.map((t) => count(t, IMPERSONATION)), [1, 1]);
  assert.deepEqual(texts.map((t) => count(t, EXTERNAL)), [0, 0]);
  // A later hop sees the stronger banner as a banner too.
  assert.equal((await rewrite(bytes)).outcome.kind, 'unchanged');
});

test('a rewritten message is not bannered again', async () => {
  for (const file of ['plain.eml', 'mixed-attachment-base64.eml', 'alternative-shift-jis.eml']) {
    const { bytes } = await rewrite(fixture(file));
    const again = await rewrite(bytes);
    assert.equal(again.outcome.kind, 'unchanged', file);
  }
});

test('broken MIME: a missing closing boundary and a part without a head are still copied, never a crash', async () => {
  const raw = Buffer.from('From: <a@fabrikam.test>\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nno end boundary\r\n--x\r\n');
  const { outcome, bytes } = await rewrite(raw);
  assert.equal(outcome.kind, 'rewritten');
  assert.ok(bytes.toString('latin1').endsWith('no end boundary\r\n--x\r\n'));
  const noBody = await rewrite(Buffer.from('From: <a@fabrikam.test>\r\nSubject: only a head\r\n'));
  assert.equal(noBody.outcome.kind, 'rewritten');
  assert.match(noBody.bytes.toString('latin1'), /only a head\r\n(\r\n)?CAUTION:/);
});

test('bad input: every truncation of the fixtures is read without an exception, and only a rewrite writes', async () => {
  for (const file of ['mixed-attachment-base64.eml', 'alternative-qp-latin1.eml', 'forwarded-rfc822.eml', 'smime-signed.eml']) {
    const whole = fixture(file);
    for (let at = 0; at < whole.length; at += 97) {
      const { outcome, bytes } = await rewrite(whole.subarray(0, at));
      if (outcome.kind === 'unchanged') assert.equal(bytes.length, 0, `${file} cut at ${at}`);
      else assert.ok(bytes.length > at, `${file} cut at ${at}: the copy holds the input and a banner`);
    }
  }
});

test('bad input: more MIME parts than the splitter allows is an unreadable structure, not a crash', async () => {
  const parts = Array.from({ length: 1100 }, (_, i) => `--p\r\nContent-Type: text/plain\r\n\r\npart ${i}\r\n`).join('');
  const raw = Buffer.from(`From: <a@fabrikam.test>\r\nContent-Type: multipart/mixed; boundary="p"\r\n\r\n${parts}--p--\r\n`);
  const { outcome, bytes } = await rewrite(raw);
  assert.equal(outcome.kind, 'unchanged');
  assert.match(outcome.kind === 'unchanged' ? outcome.reason : '', /MIME structure could not be read/);
  assert.equal(bytes.length, 0);
});
