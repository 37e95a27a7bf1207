// A label per source with the reasons (issue 5): spam-likely signals win over everything, then
// forwarder traces, then the signs of a consistent device or application. Thresholds are shares
// of the source's rows, so one odd message does not relabel a printer.
import type { SourceStats } from './aggregate.ts';

export type SourceLabel = 'likely-legitimate' | 'spam-likely' | 'forwarder' | 'unknown';

export interface LabelledSource {
  label: SourceLabel;
  reasons: string[];
}

function share(n: number, of: number): number {
  return of === 0 ? 0 : n / of;
}

function count(map: { counts: Map<string, number> }, ...keys: string[]): number {
  let n = 0;
  for (const k of keys) n += map.counts.get(k) ?? 0;
  return n;
}

export function labelSource(s: SourceStats): LabelledSource {
  const spam: string[] = [];
  const rows = s.rows;
  if (share(s.heloBracketed, rows) > 0.5) spam.push('HELO is a bare or bracketed IP address');
  if (s.heloOwnDomain > 0) spam.push('HELO claims one of our own domains from a foreign IP');
  const spfFail = count(s.spf, 'fail', 'softfail');
  if (share(spfFail, rows) > 0.5) spam.push(`SPF fail/softfail on ${spfFail} of ${rows}`);
  const dmarcFail = count(s.dmarc, 'fail');
  if (share(dmarcFail, rows) > 0.5) spam.push(`DMARC fail on ${dmarcFail} of ${rows}`);
  const compFail = count(s.compauth, 'fail');
  if (share(compFail, rows) > 0.5) spam.push(`compauth fail on ${compFail} of ${rows}`);
  if (s.lureRows > 0) spam.push(`voicemail/fax/QR lure subjects (${s.lureRows})`);
  if (s.p1Addresses.size >= 20 && s.days.size <= 2) spam.push(`${s.p1Addresses.size}+ different senders in ${s.days.size} day(s)`);
  if (spam.length) return { label: 'spam-likely', reasons: spam };

  const forwarder: string[] = [];
  if (share(s.srsRows, rows) > 0.5) forwarder.push('envelope sender rewritten with SRS');
  if (share(s.arcRows, rows) > 0.5) forwarder.push('ARC seals present: relayed by an intermediary');
  if (forwarder.length) return { label: 'forwarder', reasons: forwarder };

  const legit: string[] = [];
  const spfPass = count(s.spf, 'pass');
  if (s.ip && share(spfPass, rows) > 0.8) legit.push(`SPF pass for ${s.ip} on ${spfPass} of ${rows}`);
  const consistentHelo = s.helos.size === 1;
  if (s.p1Addresses.size <= 3 && s.days.size >= 2) {
    legit.push(`consistent sender (${[...s.p1Addresses.counts.keys()].slice(0, 3).join(', ')}${consistentHelo ? `, HELO ${[...s.helos.counts.keys()][0]}` : ''}) on ${s.days.size} days`);
  }
  if (s.certificateNames.size > 0) legit.push(`presents certificate ${[...s.certificateNames.counts.keys()][0]}`);
  if (legit.length) return { label: 'likely-legitimate', reasons: legit };
  return { label: 'unknown', reasons: [rows < 5 ? `only ${rows} message(s): too few to judge` : 'no signal either way'] };
}
