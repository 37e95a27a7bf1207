// mxward analyze FILE|-: one message explained (attribution, Direct Send verdict, compauth,
// SPF/DKIM/DMARC, source IP and HELO, Microsoft's hops, a one-line conclusion).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { MessageAnalysis } from '../../report/analyze-message.ts';
import { KIND_TITLES } from '../../report/classify.ts';
import { analyzeOne } from '../../services/message-analysis.ts';
import type { CliIo } from '../io.ts';
import { parseCommand, printJson, requirePositional, UsageError } from '../io.ts';

export const analyzeHelp = `Usage: mxward analyze FILE|- [--accepted-domain DOMAIN]... [--json]

Explains one .eml, the first message of an .mbox, or a pasted header block (- reads stdin).
Without --accepted-domain, the recipients' domains are taken as the organization's.
Exit code 0 when the headers were read, 1 when no header field was found.
`;

function show(v: string | null | undefined): string {
  return v === null || v === undefined || v === '' ? '-' : v;
}

function renderAnalysis(a: MessageAnalysis): string {
  const c = a.classification;
  const out = [
    `Subject:      ${show(a.subject)}`,
    `Message-ID:   ${show(a.messageId)}`,
    `P1 (envelope) ${show(a.p1)}`,
    `P2 (From:)    ${a.p2.join(', ') || '-'}`,
    `Attribution:  ${show(a.attribution.value)} (${a.attribution.from})`,
    `Organization: ${a.acceptedDomains.join(', ') || '(none)'}${a.acceptedDomainsAssumed ? ' (assumed from the recipients; pass --accepted-domain)' : ''}`,
    `Kind:         ${KIND_TITLES[c.kind]}: ${c.reason}`,
    `Direct Send:  ${c.wouldReject ? `would be rejected (550 ${c.rejectCode})` : c.kind === 'header-from' ? 'header-From variant: EXO lets it through, mxward would reject' : 'no'}`,
    `SPF:          ${show(a.auth.spf)}${a.auth.smtpMailfrom ? ` smtp.mailfrom=${a.auth.smtpMailfrom}` : ''}`,
    `DKIM:         ${show(a.auth.dkim)}${a.auth.headerD ? ` header.d=${a.auth.headerD}` : ''}`,
    `DMARC:        ${show(a.auth.dmarc)}${a.auth.headerFrom ? ` header.from=${a.auth.headerFrom}` : ''}`,
    `compauth:     ${show(a.auth.compauth)}${a.auth.compauthReason ? ` reason=${a.auth.compauthReason}` : ''}${a.auth.compauthMeaning ? ` (${a.auth.compauthMeaning})` : ''}`,
    `Source:       IP ${show(a.source.ip)}, HELO ${show(a.source.helo)}, PTR ${show(a.source.ptr)}${a.source.country ? `, country ${a.source.country}` : ''}${a.source.scl ? `, SCL ${a.source.scl}` : ''}`,
    'Hops (oldest first):',
    ...a.hops.map((h, i) => `  ${i + 1}. from ${show(h.from)}${h.fromIp ? ` [${h.fromIp}]` : ''} by ${show(h.by)}${h.microsoft ? ' (Microsoft)' : ''}${h.entry ? ' <- entered Microsoft here' : ''}`),
    ...a.signatures.map((e) => `Signature:    ${e.fact}: ${e.value ?? ''} (${e.from})`),
    `Evidence for: ${a.signals.for.join('; ') || '-'}`,
    `Against:      ${a.signals.against.join('; ') || '-'}`,
    '',
    `Conclusion:   ${a.conclusion}`,
    ...(c.wouldReject ? ['One message is not enough to allow its source: run "mxward report" over an export, with --spf/--dns or --known-sender (docs/report.md).'] : []),
  ];
  return `${out.join('\n')}\n`;
}

export async function runAnalyze(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(argv, { 'accepted-domain': { type: 'string', multiple: true } });
  if (values.help) { io.stdout.write(analyzeHelp); return 0; }
  const file = requirePositional(positionals, 0, 'FILE (or - for stdin)');
  if (positionals.length > 1) throw new UsageError('analyze takes one message; use "mxward report" for many');
  let source: AsyncIterable<Uint8Array | string>;
  if (file === '-') source = io.stdin as AsyncIterable<Uint8Array | string>;
  else {
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) throw new UsageError(`${file}: no such file`);
    source = createReadStream(file);
  }
  const name = file === '-' ? '(stdin)' : file;
  const { analysis, problems } = await analyzeOne(source, values['accepted-domain'] ?? [], name);
  for (const p of problems) io.stderr.write(`${name}:${p.line}: ${p.message}\n`);
  if (!analysis) {
    io.stderr.write(`${name}:1: no header fields found: not a message or header block\n`);
    return 1;
  }
  if (values.json) printJson(io, analysis);
  else io.stdout.write(renderAnalysis(analysis));
  return 0;
}
