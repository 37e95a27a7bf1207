// .eml, .mbox and pasted header blocks -> one ReportRow per message. Only header sections are
// kept in memory; bodies stream past line by line.
import { decodeEncodedWords } from '../encoded-words.ts';
import { headerFacts } from '../header-facts.ts';
import type { HeaderFacts } from '../header-facts.ts';
import type { ReportRow, RowSink } from '../types.ts';
import { emptyRow } from '../types.ts';
import { HeaderCollector } from './header-block.ts';
import type { HeaderField } from './header-block.ts';

export function rowFromHeaderFacts(facts: HeaderFacts, file: string, line: number): ReportRow {
  const row = emptyRow({ file, line, format: 'mail-headers' }, facts.evidence);
  const ar = facts.authResults;
  row.timeMs = facts.dateMs;
  // Issue 18: where Microsoft's Authentication-Results disagree with Return-Path or From, the
  // envelope and author Exchange Online judged decide (the header was sanitised or sender-supplied).
  row.p1 = facts.p1Microsoft ? `@${facts.p1Microsoft}` : facts.returnPath ?? ar?.smtpMailfrom ?? null;
  row.p2 = facts.from.length ? facts.from : ar?.headerFrom ? [`@${ar.headerFrom}`] : [];
  if (facts.p2Microsoft) row.p2 = [...row.p2, `@${facts.p2Microsoft}`];
  row.recipients = facts.to;
  row.subject = facts.subject === null ? null : decodeEncodedWords(facts.subject);
  row.messageId = facts.messageId;
  row.sourceIp = facts.sourceIp;
  row.helo = facts.helo;
  row.ptr = facts.ptr;
  row.authAs = facts.authAs;
  row.spf = ar?.spf ?? null;
  row.dkim = ar?.dkim ?? null;
  row.dmarc = ar?.dmarc ?? null;
  row.compauth = ar?.compauth ?? null;
  row.compauthReason = ar?.compauthReason ?? null;
  row.arc = ar?.arc ?? (facts.hasArcSeal ? 'present' : null);
  row.direction = facts.direction;
  row.threats = threatsOf(facts.antispam);
  return row;
}

/**
 * Microsoft's own filtering verdict from X-Forefront-Antispam-Report: a spam/phish/spoof
 * category or a spam filter verdict. Null when the header says nothing against the message.
 */
function threatsOf(antispam: Map<string, string> | null): string | null {
  if (!antispam) return null;
  const found: string[] = [];
  const cat = antispam.get('CAT')?.toUpperCase();
  if (cat && /^(?:H?PHSH|H?SPM|MALW|SPOOF|GIMP|UIMP|DIMP|AMP|OSPM)$/.test(cat)) found.push(`CAT:${cat}`);
  const sfv = antispam.get('SFV')?.toUpperCase();
  if (sfv === 'SPM' || sfv === 'BLK') found.push(`SFV:${sfv}`);
  return found.length ? found.join(' ') : null;
}

const MAX_BODY_LINE_CHARS = 1 << 20;

/** Reads messages from text chunks: one .eml / pasted block, or many in mbox form. */
export async function importMailHeaders(file: string, chunks: AsyncIterable<string>, sink: RowSink): Promise<void> {
  let collector: HeaderCollector | null = new HeaderCollector();
  let messageLine = 1;
  let lineNumber = 0;
  let previousBlank = true;
  let leftover = '';
  let mbox: boolean | null = null;
  const finishMessage = (): void => {
    if (!collector) return;
    const fields: HeaderField[] = collector.finish();
    for (const p of collector.problems) sink.problem({ file, line: p.line, message: p.message });
    if (fields.length === 0) sink.problem({ file, line: messageLine, message: 'no header fields found: not a message' });
    else sink.rows([rowFromHeaderFacts(headerFacts(fields), file, messageLine)]);
    collector = null;
  };
  const onLine = (line: string): void => {
    lineNumber++;
    // An .eml body may hold "From " after a blank line; only a file that starts with one is mbox.
    if (mbox === null && line.trim() !== '') mbox = line.startsWith('From ');
    // mbox separator (RFC 4155): "From " at the start of a line after a blank line or at the top.
    if (mbox && previousBlank && line.startsWith('From ')) {
      if (collector?.sawField || collector === null) finishMessage();
      collector = new HeaderCollector();
      messageLine = lineNumber + 1;
      previousBlank = false;
      return;
    }
    previousBlank = line === '' || line === '\r';
    if (collector && !collector.addLine(line, lineNumber)) {
      finishMessage();
    }
  };
  for await (const chunk of chunks) {
    const text = leftover + chunk;
    let pos = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', pos)) {
      onLine(text.slice(pos, nl));
      pos = nl + 1;
    }
    leftover = text.slice(pos);
    // A body line without breaks must not grow without bound; it is never a header or separator.
    if (collector === null && leftover.length > MAX_BODY_LINE_CHARS) leftover = '';
  }
  if (leftover) onLine(leftover);
  if (collector) finishMessage();
}
