// The banner's pure parts (issue 18) as tables and properties: which charsets can carry it, where
// it goes in HTML, how it is found again after quoting, and the transfer codecs it is written with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BannerMarkerScanner, charsetKeepsAscii, encodeQuotedPrintableAscii, htmlBanner, htmlInsertOffset, plainBanner } from '../../src/policy/banner-text.ts';
import { Base64Decoder, Base64Encoder, decodeQpLine, LineSplitter, partDecoder, qpRawOffset, readQpLine } from '../../src/smtp/banner-codec.ts';

const charsets: Array<[string | null, boolean]> = [
  [null, true], ['us-ascii', true], ['UTF-8', true], ['iso-8859-1', true], ['windows-1251', true], ['Shift_JIS', true],
  ['ISO-2022-JP', true], ['euc-kr', true], ['gb2312', true], ['big5', true], ['koi8-r', true],
  ['utf-16', false], ['UTF-16LE', false], ['utf-7', false], ['x-no-such-charset', false],
];
for (const [charset, keeps] of charsets) {
  test(`charset ${charset ?? '(none)'} ${keeps ? 'carries' : 'cannot carry'} the ASCII banner`, () => assert.equal(charsetKeepsAscii(charset), keeps));
}

const offsets: Array<[string, string, string]> = [
  ['after <body>', '<html><head></head><body class="x">Hi</body></html>', 'Hi</body></html>'],
  ['<BODY> in upper case', '<HTML><BODY>Hi', 'Hi'],
  ['no body: after </head>', '<html><head><title>t</title></head><p>Hi', '<p>Hi'],
  ['no body, no head: after <html>', '<html lang="en"><p>Hi', '<p>Hi'],
  ['a fragment: at the start', '<p>Hi</p>', '<p>Hi</p>'],
  ['<bodyguard> is not <body>', '<bodyguard>x</bodyguard><body>Hi', 'Hi'],
];
for (const [name, html, after] of offsets) {
  test(`html insert: ${name}`, () => {
    const bytes = Buffer.from(html, 'latin1');
    assert.equal(bytes.subarray(htmlInsertOffset(bytes)).toString('latin1'), after);
  });
}

test('html insert: in ISO-2022-JP a <body> spelt by two-byte characters is not taken', () => {
  // ESC $ B switches to JIS X 0208: the bytes "<body>" there are kanji, not a tag.
  const bytes = Buffer.concat([Buffer.from('<html>\x1b$B'), Buffer.from('<body>'), Buffer.from('\x1b(B<body>Hi')]);
  assert.equal(bytes.subarray(htmlInsertOffset(bytes)).toString('latin1'), 'Hi');
});

test('markers: found through quoting, re-wrapping, HTML tags and piece boundaries; PGP armour seen', () => {
  const scan = (pieces: string[], html = false) => {
    const s = new BannerMarkerScanner(html);
    for (const p of pieces) s.push(Buffer.from(p, 'latin1'));
    return s;
  };
  assert.ok(scan(['> > CAUTION: This message came from\r\n> > outside your', ' organization. Be careful']).markerFound);
  assert.ok(scan(['<p>This <b>message</b> came&nbsp;from outside your organization.</p>'], true).markerFound);
  assert.ok(scan(['<div class="mxward-', 'external-banner">'], true).markerFound);
  assert.ok(scan(['WARNING: This message claims to be from your organization but was not sent by it.']).markerFound);
  assert.ok(!scan(['This message came from inside your organization.']).markerFound);
  assert.ok(scan(['Hi\r\n-----BEGIN PGP SIGNED MESSAGE-----\r\n']).pgpFound);
  assert.ok(!scan(['quoting "-----BEGIN PGP MESSAGE-----" mid-line']).pgpFound);
  // The banner itself carries its marker, so a second hop does not add another.
  assert.ok(scan([plainBanner('external')]).markerFound);
  assert.ok(scan([htmlBanner('impersonation')], true).markerFound);
});

test('quoted-printable: the banner encodes to lines of at most 76 characters that decode back', () => {
  for (const text of [plainBanner('external'), htmlBanner('impersonation'), `a=b ${'x'.repeat(200)} \r\n`]) {
    const encoded = encodeQuotedPrintableAscii(text);
    for (const line of encoded.split('\r\n')) assert.ok(line.length <= 76, line);
    assert.equal(partDecoder('quoted-printable').push(Buffer.from(encoded)).toString('latin1') + '', text);
  }
});

test('quoted-printable lines: soft breaks, escapes, padding; raw offsets never split an escape', () => {
  assert.deepEqual(readQpLine(Buffer.from('ab=3D=\r\n')), { text: Buffer.from('ab=3D'), soft: true, broken: true });
  assert.equal(decodeQpLine(readQpLine(Buffer.from('ab=3D=  \r\n'))).toString(), 'ab=');
  assert.equal(decodeQpLine(readQpLine(Buffer.from('a=FCb\r\n'))).toString('latin1'), 'a\xfcb\r\n');
  assert.equal(decodeQpLine(readQpLine(Buffer.from('lone = sign'))).toString(), 'lone = sign');
  assert.equal(qpRawOffset(Buffer.from('a=FCb'), 2), 4);
  assert.equal(qpRawOffset(Buffer.from('a=FCb'), 1), 1);
});

test('base64 and line splitting survive any cut of the input (property)', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.array(fc.nat(700), { maxLength: 6 }), (bytes, cuts) => {
    const encoder = new Base64Encoder();
    const encoded = Buffer.concat([encoder.push(Buffer.from(bytes)), encoder.end()]);
    for (const line of encoded.toString('latin1').split('\r\n')) assert.ok(line.length <= 76);
    const points = [...new Set(cuts.map((c) => c % (encoded.length + 1)))].sort((a, b) => a - b);
    const pieces = [0, ...points, encoded.length].slice(1).map((end, i, all) => encoded.subarray(i === 0 ? 0 : all[i - 1], end));
    const decoder = new Base64Decoder();
    const decoded = Buffer.concat([...pieces.map((p) => decoder.push(p)), decoder.end()]);
    assert.ok(decoded.equals(Buffer.from(bytes)));
    const lines = new LineSplitter();
    const relined = Buffer.concat([...pieces.flatMap((p) => lines.push(p)), ...lines.end()]);
    assert.ok(relined.equals(encoded));
  }));
});
