// The quarantined message on disk: dataDir/quarantine/<id>.eml, moved there durably from the
// spool, read back for headers, preview and release.
import { createReadStream } from 'node:fs';
import { mkdir, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { syncDirectory } from '../spool/spool.ts';
import { extractHeaderFacts, findHeaderEnd, splitHeaderFields } from '../smtp/header-section.ts';
import type { HeaderFacts } from '../smtp/header-section.ts';

const PREVIEW_READ_BYTES = 256 * 1024;

/** fsync the data, rename into the quarantine directory, fsync the directory entry. */
export async function moveIntoQuarantine(source: string, dir: string, id: string): Promise<{ file: string; sizeBytes: number }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const handle = await open(source, 'r');
  let sizeBytes: number;
  try {
    await handle.sync();
    sizeBytes = (await handle.stat()).size;
  } finally {
    await handle.close();
  }
  const file = `${id}.eml`;
  await rename(source, join(dir, file));
  await syncDirectory(dir);
  return { file, sizeBytes };
}

/** The first bytes of the message: enough for its header section and a body preview. */
export async function readHead(path: string, maxBytes = PREVIEW_READ_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of createReadStream(path, { start: 0, end: maxBytes - 1 }) as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    total += chunk.length;
  }
  return Buffer.concat(chunks, total);
}

export function headerSection(head: Buffer): string {
  const end = findHeaderEnd(head);
  return head.subarray(0, end ? end.headerEnd : head.length).toString('latin1');
}

export function headerFactsOf(head: Buffer): HeaderFacts {
  return extractHeaderFacts(splitHeaderFields(headerSection(head)));
}

function decodeQuotedPrintable(text: string): string {
  return text.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/**
 * A plain-text preview: the first text/plain part (or the body of a single-part message), with
 * base64 / quoted-printable undone, markup of an HTML-only message stripped, and at most maxChars.
 * A preview, not a MIME renderer: the point is to let a person judge the message without opening it.
 */
export function previewText(head: Buffer, maxChars = 2000): string {
  const end = findHeaderEnd(head);
  if (!end) return '';
  const headers = headerSection(head);
  let body = head.subarray(end.bodyStart).toString('latin1');
  let partHeaders = headers;
  const boundary = /boundary="?([^";\r\n]+)"?/i.exec(headers)?.[1];
  if (boundary) {
    const parts = body.split(`--${boundary}`).slice(1);
    const pick = parts.find((p) => /content-type:\s*text\/plain/i.test(p.slice(0, p.search(/\r?\n\r?\n/)))) ?? parts[0] ?? '';
    const split = pick.search(/\r?\n\r?\n/);
    partHeaders = split >= 0 ? pick.slice(0, split) : '';
    body = split >= 0 ? pick.slice(split).replace(/^\r?\n\r?\n/, '') : pick;
  }
  const encoding = /content-transfer-encoding:\s*([\w-]+)/i.exec(partHeaders)?.[1]?.toLowerCase();
  if (encoding === 'base64') body = Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64').toString('latin1');
  else if (encoding === 'quoted-printable') body = decodeQuotedPrintable(body);
  if (/charset="?utf-8/i.test(partHeaders)) body = Buffer.from(body, 'latin1').toString('utf8');
  if (/content-type:\s*text\/html/i.test(partHeaders)) body = body.replace(/<[^>]*>/g, ' ');
  // Control characters from a hostile message must not reach the administrator's terminal.
  const clean = body.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x1b]/g, '').replace(/\r\n/g, '\n').trim();
  return clean.length > maxChars ? `${clean.slice(0, maxChars)}…` : clean;
}
