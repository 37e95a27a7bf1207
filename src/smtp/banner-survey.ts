// First pass of the banner rewrite (issue 18): reads the message once, holding only part heads
// and a small window of the candidate text parts, and decides where a banner may go. A signed or
// encrypted structure anywhere among the readable parts stops everything (a banner would break
// the signature or sit outside what the reader can verify); a part that already carries a banner,
// or whose charset or transfer encoding cannot carry the ASCII banner, is only skipped.
import { Readable } from 'node:stream';
import { Splitter } from 'mailsplit';
import type { MimeNode } from 'mailsplit';
import { BannerMarkerScanner, charsetKeepsAscii, HTML_SEARCH_BYTES, htmlInsertOffset } from '../policy/banner-text.ts';
import { bannerEncoding, lineAligned, partDecoder } from './banner-codec.ts';
import type { BannerEncoding, PartDecoder } from './banner-codec.ts';

export type BannerPartKind = 'text/plain' | 'text/html';

export interface BannerTarget {
  /** The part's position among all MIME nodes, in the order the splitter emits them. */
  nodeIndex: number;
  kind: BannerPartKind;
  encoding: BannerEncoding;
  /** Where the banner goes, in bytes of the decoded part. */
  insertAt: number;
}

export type BannerSurvey = { ok: true; targets: BannerTarget[]; skipped: string[] } | { ok: false; reason: string };

/** Message types a banner is written into (issue 18), and the containers searched for text. */
const ROOT_TYPES = new Set(['text/plain', 'text/html', 'multipart/alternative', 'multipart/mixed', 'multipart/related']);
const SEARCHED_CONTAINERS = new Set(['mixed', 'alternative', 'related']);
/** S/MIME (RFC 8551), PGP/MIME (RFC 3156) and RFC 1847 security multiparts. */
const SEALED_TYPES = new Set([
  'multipart/signed', 'multipart/encrypted', 'application/pkcs7-mime', 'application/x-pkcs7-mime',
  'application/pkcs7-signature', 'application/x-pkcs7-signature', 'application/pgp-encrypted', 'application/pgp-signature',
]);

/** True for the root and for parts reached only through mixed/alternative/related containers. */
export function isReadableRegion(node: MimeNode): boolean {
  for (let parent = node.parentNode; parent; parent = parent.parentNode) {
    if (!parent.multipart || !SEARCHED_CONTAINERS.has(parent.multipart)) return false;
  }
  return true;
}

function isBodyText(node: MimeNode): BannerPartKind | null {
  if (node.contentType !== 'text/plain' && node.contentType !== 'text/html') return null;
  // An attachment (or a named part, which clients list as one) is not what the reader reads first.
  if (node.disposition === 'attachment' || node.filename) return null;
  return node.contentType;
}

interface Candidate {
  node: MimeNode;
  nodeIndex: number;
  kind: BannerPartKind;
  encoding: BannerEncoding;
  decoder: PartDecoder;
  scanner: BannerMarkerScanner;
  /** The first decoded bytes: the HTML search window, or the start of a text part (BOM). */
  head: Buffer[];
  headBytes: number;
}

export async function surveyForBanner(source: Readable): Promise<BannerSurvey> {
  const targets: BannerTarget[] = [];
  const skipped: string[] = [];
  const seen = new Set<BannerPartKind>();
  let candidate: Candidate | null = null;
  let nodeIndex = -1;
  const settle = (): string | null => {
    if (!candidate) return null;
    const done = finishCandidate(candidate);
    candidate = null;
    if (done.stop) return done.stop;
    if (done.target) targets.push(done.target);
    if (done.skip) skipped.push(done.skip);
    return null;
  };
  try {
    for await (const item of Readable.from(lineAligned(source)).pipe(new Splitter())) {
      if (item.type !== 'node') {
        if (candidate && item.type === 'body' && item.node === candidate.node) feedCandidate(candidate, item.value);
        continue;
      }
      nodeIndex++;
      const stop = settle();
      if (stop) return { ok: false, reason: stop };
      const node = item;
      if (!isReadableRegion(node)) continue;
      if (SEALED_TYPES.has(node.contentType || '')) return { ok: false, reason: `${node.contentType} (signed or encrypted) is never modified` };
      if (node.root && !ROOT_TYPES.has(node.contentType || 'text/plain')) return { ok: false, reason: `a ${node.contentType} message has no readable text part to carry a banner` };
      const kind = isBodyText(node);
      if (!kind || seen.has(kind)) continue;
      seen.add(kind);
      const opened = openCandidate(node, nodeIndex, kind);
      if (typeof opened === 'string') skipped.push(opened);
      else candidate = opened;
    }
  } catch (err) {
    return { ok: false, reason: `the MIME structure could not be read (${(err as Error).message})` };
  }
  const stop = settle();
  if (stop) return { ok: false, reason: stop };
  return { ok: true, targets, skipped };
}

function openCandidate(node: MimeNode, nodeIndex: number, kind: BannerPartKind): Candidate | string {
  const encoding = bannerEncoding(node.encoding);
  if (!encoding) return `${kind} part in transfer encoding ${node.encoding} left alone`;
  if (!charsetKeepsAscii(node.charset || null)) return `${kind} part in charset ${node.charset} left alone (it does not write ASCII as ASCII)`;
  return { node, nodeIndex, kind, encoding, decoder: partDecoder(encoding), scanner: new BannerMarkerScanner(kind === 'text/html'), head: [], headBytes: 0 };
}

function feedCandidate(c: Candidate, raw: Buffer): void {
  absorb(c, c.decoder.push(raw));
}

function absorb(c: Candidate, decoded: Buffer): void {
  if (decoded.length === 0) return;
  c.scanner.push(decoded);
  if (c.headBytes < HTML_SEARCH_BYTES) {
    c.head.push(decoded.subarray(0, HTML_SEARCH_BYTES - c.headBytes));
    c.headBytes += c.head[c.head.length - 1].length;
  }
}

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

function finishCandidate(c: Candidate): { stop?: string; target?: BannerTarget; skip?: string } {
  absorb(c, c.decoder.end());
  if (c.scanner.pgpFound) return { stop: `${c.kind} part holds inline PGP armour, which is never modified` };
  if (c.scanner.markerFound) return { skip: `${c.kind} part already carries a banner` };
  const head = Buffer.concat(c.head, c.headBytes);
  // A byte order mark stays first, so the reader still takes the part as UTF-8.
  const insertAt = c.kind === 'text/html' ? htmlInsertOffset(head) : head.subarray(0, 3).equals(UTF8_BOM) ? 3 : 0;
  return { target: { nodeIndex: c.nodeIndex, kind: c.kind, encoding: c.encoding, insertAt } };
}
