// mxward report: the Direct Send traffic report from Exchange Online exports, messages and
// mxward's own trace (issue 5). Thin: flags -> organization context -> readInputs -> render.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dataPaths, resolveStoreLocation } from '../../config/data-dir.ts';
import { ReportRun } from '../../report/build-report.ts';
import { buildOrgPolicy, buildWhatIfPolicy } from '../../report/org-context.ts';
import { readInputs } from '../../report/read-inputs.ts';
import { renderCsv } from '../../report/render/csv.ts';
import { renderHtml } from '../../report/render/html.ts';
import { renderJson } from '../../report/render/json.ts';
import { renderText } from '../../report/render/text.ts';
import { formatProblem } from '../../report/types.ts';
import type { SpfTable } from '../../report/spf-coverage.ts';
import { loadSpfRecords } from '../../report/spf-lookup.ts';
import { parseReportOptions } from '../../services/report-runs.ts';
import type { ReportOptions } from '../../services/report-runs.ts';
import { ServiceError } from '../../services/service-error.ts';
import { DnsResolver, parseServer } from '../../auth/resolver.ts';
import type { Store } from '../../store/ports.ts';
import type { CliIo } from '../io.ts';
import { openStore, parseCommand, UsageError } from '../io.ts';
import { countText } from '../../report/count-text.ts';

export const reportHelp = `Usage: mxward report [INPUT...] [options]

INPUT is a file, directory, glob or - (stdin): Get-MessageTraceV2 CSV, EAC trace report (UTF-8 or
UTF-16), Defender EmailEvents (CSV, JSON, JSON Lines), .eml, .mbox or pasted headers, mixed freely;
the format is read from the content.

  --trace                     also report mxward's own trace (from the store in --data-dir)
  --since WHEN                with --trace: only records from this ISO time on
  --accepted-domain DOMAIN    an accepted domain (repeatable; *.example.com adds subdomains)
  --accepted-domains FILE     Get-AcceptedDomain | ConvertTo-Json export (repeatable)
  --connectors FILE           Get-InboundConnector | ConvertTo-Json export or mxward YAML (repeatable)
  --what-if FILE              replay the traffic against this proposed connector set
  --dmarc DOMAIN=POLICY       the DMARC policy (none|quarantine|reject) of a domain, for the warnings
  --spf DOMAIN="v=spf1 …"     a domain's SPF record, offline (repeatable): evidence for a connector
  --dns                       look up the SPF records of the sending domains (system DNS servers)
  --dns-server HOST[:PORT]    the DNS server --dns asks (repeatable)
  --known-sender IP|CIDR=LABEL  a source you know is yours (repeatable): evidence for a connector
  --date-format mdy|dmy       force the date order of slashed dates (else detected per file)
  --format text|json|csv|html output format (default text)
  --output FILE, -o FILE      write the report to FILE instead of stdout
  --max-sources N             sources listed in the text summary (default 20)
Without --accepted-domain(s)/--connectors, the store's accepted domains and connectors are used.
A connector is suggested only for a source with positive evidence (SPF, DMARC pass, --known-sender)
and nothing against it (see docs/report.md).
Exit code 0: report written, no input problem; 1: report written but rows or files were skipped;
2: usage or configuration error.
`;

const FORMATS = ['text', 'json', 'csv', 'html'] as const;
type Format = (typeof FORMATS)[number];

/** The options the API shares (services/report-runs.ts); their mistakes are usage errors here. */
function parseOptions(values: { dmarc?: string[]; spf?: string[]; 'known-sender'?: string[]; 'date-format'?: string }): ReportOptions {
  try {
    return parseReportOptions({ dmarc: values.dmarc, spf: values.spf, knownSenders: values['known-sender'], dateFormat: values['date-format'] });
  } catch (err) {
    if (err instanceof ServiceError) throw new UsageError(err.message);
    throw err;
  }
}

async function lookUpSpf(run: ReportRun, table: SpfTable, servers: string[]): Promise<void> {
  const resolver = new DnsResolver({ servers: servers.map(parseServer), timeoutMs: 2000, tries: 2, maxCacheEntries: 1000, maxTtlSeconds: 300 });
  await loadSpfRecords(run.spfDomainsNeeded(), table, (name, type) => resolver.resolve(name, type));
}

export async function runReport(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(argv, {
    trace: { type: 'boolean' },
    since: { type: 'string' },
    'accepted-domain': { type: 'string', multiple: true },
    'accepted-domains': { type: 'string', multiple: true },
    connectors: { type: 'string', multiple: true },
    'what-if': { type: 'string' },
    dmarc: { type: 'string', multiple: true },
    format: { type: 'string' },
    output: { type: 'string', short: 'o' },
    'max-sources': { type: 'string' },
    spf: { type: 'string', multiple: true },
    dns: { type: 'boolean' },
    'dns-server': { type: 'string', multiple: true },
    'known-sender': { type: 'string', multiple: true },
    'date-format': { type: 'string' },
  });
  if (values.help) { io.stdout.write(reportHelp); return 0; }
  const format = (values.format ?? (values.json ? 'json' : 'text')) as Format;
  if (!FORMATS.includes(format)) throw new UsageError(`--format: expected one of ${FORMATS.join(', ')}, got ${JSON.stringify(values.format)}`);
  if (positionals.length === 0 && !values.trace) throw new UsageError('no input: give files, directories, globs, - for stdin, or --trace (see --help)');
  const maxSources = Number(values['max-sources'] ?? 20);
  if (!Number.isInteger(maxSources) || maxSources < 1) throw new UsageError('--max-sources: expected a positive whole number');
  if (values.since && Number.isNaN(Date.parse(values.since))) throw new UsageError(`--since: expected an ISO time, got ${JSON.stringify(values.since)}`);

  // A path that names nothing is a typo, not an input with problems: one line, exit 2 (issue 16).
  const absent = positionals.find((p) => p !== '-' && !/[*?[{]/.test(p) && !existsSync(p));
  if (absent) throw new UsageError(`${absent}: no such file or directory (give export files, directories, a quoted glob, or - for stdin)`);
  const storePath = dataPaths(resolveStoreLocation(values, io.env).dataDir).store;
  const needStore = values.trace || ((!values['accepted-domain'] && !values['accepted-domains']) || !values.connectors);
  const store: Store | null = needStore && (values.trace || values['store-url'] || io.env.MXWARD_STORE_URL || existsSync(storePath)) ? openStore(values, io.env) : null;
  try {
    const stored = store ? (await store.readPolicy()).document : null;
    const policy = await buildOrgPolicy({
      acceptedDomainFlags: values['accepted-domain'] ?? [], acceptedDomainFiles: values['accepted-domains'] ?? [],
      connectorFiles: values.connectors ?? [], stored,
    });
    const whatIf = values['what-if'] ? await buildWhatIfPolicy(policy, values['what-if']) : null;
    const options = parseOptions(values);
    const run = new ReportRun({ policy, whatIf, dmarc: options.dmarc, nowMs: Date.now(), spf: options.spf, knownSenders: options.knownSenders, dateOrder: options.dateOrder });
    let printed = 0;
    run.onProblem = (p) => {
      if (printed < 100) io.stderr.write(`${formatProblem(p)}\n`);
      else if (printed === 100) io.stderr.write('(further problems counted, not printed)\n');
      printed++;
    };
    const tty = (io.stderr as NodeJS.WriteStream).isTTY === true;
    await readInputs(positionals, run, {
      stdin: io.stdin,
      trace: values.trace && store ? { store, since: values.since, limit: 10_000_000 } : null,
      progress: tty ? (rows, file) => io.stderr.write(`\r${countText(rows)} rows… ${file.slice(-50)}\x1b[K`) : undefined,
    });
    if (tty) io.stderr.write('\r\x1b[K');
    if (values.dns || values['dns-server']) await lookUpSpf(run, options.spf, values['dns-server'] ?? []);
    // The run is done once its model is made: its per-source counters need not outlive the model.
    const model = run.finish({ releaseSources: true });
    const text = format === 'json' ? renderJson(model) : format === 'csv' ? renderCsv(model) : format === 'html' ? renderHtml(model) : renderText(model, maxSources);
    if (values.output) {
      await writeFile(values.output, text);
      io.stderr.write(`mxward report: wrote ${values.output} (${countText(model.totals.rows)} rows, ${countText(model.totals.wouldReject)} would be rejected)\n`);
    } else {
      io.stdout.write(text);
    }
    if (run.problemCount > 0) {
      io.stderr.write(`mxward report: ${run.problemCount} problem(s) in the input; those rows or files were skipped\n`);
      return 1;
    }
    return 0;
  } finally {
    await store?.close();
  }
}
