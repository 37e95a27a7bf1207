// The terminal summary (default output): what would be rejected, by whom, and what to do.
import type { ReportModel } from '../build-report.ts';
import { KIND_TITLES, MESSAGE_KINDS } from '../classify.ts';
import { formatProblem } from '../types.ts';
import { countText } from '../count-text.ts';

const n = countText;

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].map((l) => `  ${l}`).join('\n');
}

const clip = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

export function renderText(model: ReportModel, maxSources = 20): string {
  const t = model.totals;
  const out: string[] = [];
  const span = t.firstSeen ? ` from ${t.firstSeen.slice(0, 16).replace('T', ' ')} to ${t.lastSeen!.slice(0, 16).replace('T', ' ')} UTC` : '';
  out.push('mxward report: Direct Send traffic', '');
  // The answer first (issue 12): what enforcing stops, whom it cuts off, and the fix right below.
  out.push(model.headline.text);
  for (const r of model.recommendations) {
    out.push(`  ${r.name} (${r.by === 'certificate' ? `certificate ${r.certificateName}` : r.senderIPAddresses.join(', ')}): ${n(r.rows)} message(s) from ${r.sources.join(', ')}`);
    for (const e of r.evidence.slice(0, 3)) out.push(`    evidence: ${e}`);
    out.push(`    Exchange Online: ${r.powershell}`);
    out.push(`    mxward:          ${r.mxward}`);
    for (const w of r.warnings) out.push(`    warning: ${w}`);
  }
  if (model.recommendations.length) out.push('  (to add them: --format json or html gives the YAML for `mxward policy merge FILE`)');
  for (const note of model.headline.notes) out.push(note);
  out.push('');
  out.push(`Read ${n(t.rows)} row(s) from ${model.inputs.length} input(s)${span}; ${n(model.problems.count)} problem(s), skipped.`);
  out.push(`Accepted domains: ${model.organization.acceptedDomains.join(', ') || '(none: every P1 is foreign; pass --accepted-domain)'}`);
  out.push(`Known connectors: ${model.organization.connectors.join(', ') || '(none)'}`);
  out.push('', 'Messages by kind:');
  out.push(table(['kind', 'rows'], MESSAGE_KINDS.map((k) => [KIND_TITLES[k], n(t.kinds[k])])));
  const rejecting = model.sources.filter((s) => s.wouldReject > 0);
  if (t.rows > 0) out.push('', `Impact: enforcing Reject Direct Send would reject ${n(t.wouldReject)} row(s) from ${n(rejecting.length)} source(s).`);
  if (t.headerFromWouldReject) out.push(`mxward's header-From check would also catch ${n(t.headerFromWouldReject)} row(s) that Exchange Online lets through.`);
  if (t.whatIfReject !== null) {
    out.push(`What-if with connectors ${model.organization.whatIfConnectors?.join(', ') || '(none)'}: ${n(t.whatIfReject)} row(s) would still be rejected.`);
  }
  const shown = model.sources.slice(0, maxSources);
  if (shown.length) {
    out.push('', `Sources (top ${shown.length} of ${model.sources.length}, most rejected first):`);
    const headers = ['source', 'label', 'rows', 'reject', ...(t.whatIfReject !== null ? ['what-if'] : []), 'first seen', 'last seen', 'P1 domains', 'HELO', 'why'];
    out.push(table(headers, shown.map((s) => [
      s.key, s.label === 'unknown' ? 'unknown: decide' : s.label, n(s.rows), n(s.wouldReject), ...(s.whatIfReject !== null ? [n(s.whatIfReject)] : []),
      s.firstSeen?.slice(0, 10) ?? '-', s.lastSeen?.slice(0, 10) ?? '-',
      clip(s.p1Domains.map(([d]) => d).join(',') || '-', 30), clip(s.helos.join(',') || '-', 30), s.reasons.join('; '),
    ])));
  }
  if (!model.recommendations.length && rejecting.length) {
    out.push('', 'No source has positive evidence of authorisation (SPF, DMARC, or --known-sender): no connector is suggested; review the sources above.');
  }
  if (model.problems.count) {
    out.push('', `Problems (${n(model.problems.count)}${model.problems.count > model.problems.shown.length ? `, first ${model.problems.shown.length} shown` : ''}):`);
    for (const p of model.problems.shown.slice(0, 20)) out.push(`  ${formatProblem(p)}`);
  }
  return `${out.join('\n')}\n`;
}
