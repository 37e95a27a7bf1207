// One CSV row per source (`--format csv`), for spreadsheets. Cells that a spreadsheet would run
// as a formula (`=`, `+`, `-`, `@` first) are prefixed with `'`: subjects and HELOs are attacker text.
import type { ReportModel } from '../build-report.ts';

function cell(value: string | number | null): string {
  let s = value === null ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const HEADER = ['source', 'ip', 'network', 'label', 'rows', 'direct_send', 'header_from', 'via_connector', 'would_reject',
  'what_if_reject', 'first_seen', 'last_seen', 'days', 'recipients', 'p1_domains', 'senders', 'helos', 'ptrs',
  'spf', 'dmarc', 'compauth', 'connectors', 'certificate_names', 'subjects', 'reasons', 'evidence_for', 'evidence_against'];

const counts = (r: Record<string, number>): string => Object.entries(r).map(([k, n]) => `${k}:${n}`).join(' ');

export function renderCsv(model: ReportModel): string {
  const lines = [HEADER.join(',')];
  for (const s of model.sources) {
    lines.push([
      s.key, s.ip, s.network, s.label, s.rows, s.kinds['direct-send'], s.kinds['header-from'], s.kinds.connector, s.wouldReject,
      s.whatIfReject, s.firstSeen, s.lastSeen, s.days, `${s.recipientsEstimated ? '≈' : ''}${s.recipients}`,
      s.p1Domains.map(([d, n]) => `${d}:${n}`).join(' '), s.senders.join(' '), s.helos.join(' '), s.ptrs.join(' '),
      counts(s.auth.spf), counts(s.auth.dmarc), counts(s.auth.compauth), s.connectors.join(' '), s.certificateNames.join(' '),
      s.subjects.join(' | '), s.reasons.join('; '), s.evidenceFor.map((e) => e.text).join('; '), s.evidenceAgainst.join('; '),
    ].map(cell).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}
