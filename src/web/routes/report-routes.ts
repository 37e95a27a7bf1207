// The Direct Send report and the configuration audit over the API (issue 13). The report reads an
// uploaded Exchange Online / Defender export (format detected from the content, as the CLI does)
// or the live trace, on a worker thread; it answers with the report model and the recommended
// connectors as a fragment POST /policy/merge accepts. The audit checks the stored policy, the
// running bootstrap and any uploaded Exchange Online JSON exports. Neither changes anything.
import { Readable } from 'node:stream';
import { z } from 'zod';
import { ApiError, defineRoute } from '../api-route.ts';
import type { ApiRoute, Role } from '../api-route.ts';
import { connectorSchema, acceptedDomainSchema } from '../../config/policy-schema.ts';
import { addExoExport, AUDIT_FORMATS, exoExportFromBytes, mxwardAuditContext, parseFramework, renderAudit, runAuditChecks, txtLookup } from '../../services/audit-runs.ts';
import { parseReportOptions } from '../../services/report-runs.ts';
import type { ReportOptionsText, ReportRequest, ReportResult } from '../../services/report-runs.ts';
import { runInWorker } from '../run-in-worker.ts';
import type { AuditOutcome } from '../../services/audit-runs.ts';
import { FRAMEWORKS } from '../../audit/controls.ts';
import { analyzeOne } from '../../services/message-analysis.ts';
import type { MessageAnalysis } from '../../report/analyze-message.ts';
import { serviceCall } from './ops-common.ts';
import { isoTime, timeParam } from './trace-routes.ts';

const ANALYSTS: readonly Role[] = ['administrator', 'auditor'];

/** Exports of a busy tenant for a month run to a few hundred MB; beyond this, split the export. */
export const MAX_REPORT_UPLOAD_BYTES = 200 * 1024 * 1024;
/** Sources (and networks) an API report lists; the CLI's JSON has them all. */
export const MAX_LISTED_SOURCES = 2_000;
/** Trace records a live report reads at most (newest first within the window). */
export const MAX_LIVE_REPORT_RECORDS = 200_000;

export const policyFragmentResponse = z.object({
  connectors: z.array(connectorSchema),
  acceptedDomains: z.array(acceptedDomainSchema),
}).describe('the recommended connectors only: POST it to /policy/merge (adds, never removes)');

const reportShape = z.object({
  report: z.looseObject({
    generatedAt: z.string(),
    headline: z.looseObject({ text: z.string(), notes: z.array(z.string()) }),
    inputs: z.array(z.object({ file: z.string(), format: z.string(), rows: z.number() })),
    problems: z.object({ count: z.number(), shown: z.array(z.object({ file: z.string(), line: z.number(), message: z.string() })) }),
    totals: z.looseObject({ rows: z.number(), wouldReject: z.number() }),
    sources: z.array(z.looseObject({ key: z.string(), ip: z.string().nullable(), label: z.string(), wouldReject: z.number() })),
    recommendations: z.array(z.looseObject({ name: z.string(), senderIPAddresses: z.array(z.string()) })),
    policyYaml: z.string(),
  }).describe('the report model, as `mxward report --format json` writes it, with at most MAX_LISTED_SOURCES sources and networks'),
  omitted: z.object({ sources: z.number(), networks: z.number() }).describe('sources and networks beyond the listed ones (the totals count them)'),
  policyFragment: policyFragmentResponse,
});
/** Documents and checks the model; typed as the service's result, which handlers return as is. */
export const reportResponse = reportShape as unknown as z.ZodType<ReportResult>;

const auditShape = z.object({
  passed: z.boolean(),
  framework: z.string().nullable(),
  checks: z.array(z.looseObject({ id: z.string(), title: z.string(), status: z.enum(['pass', 'fail', 'warn', 'skip']), required: z.boolean() })),
  rendered: z.string().nullable().describe('the text, JUnit XML or SARIF rendering when format is not json'),
});
const auditResponse = auditShape as unknown as z.ZodType<AuditOutcome & { rendered: string | null }>;

/** Lists in a query string: comma-separated (`knownSenders=192.0.2.1=printer,198.51.100.0/24`), the key repeated, or both. */
const list = z.union([z.string().max(8000), z.array(z.string().max(8000)).max(100)]).optional();
const split = (v: string | string[] | undefined) => (v === undefined ? undefined : [v].flat().flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean));

const evidenceQuery = {
  dmarc: list.describe('DOMAIN=none|quarantine|reject, comma-separated or repeated'),
  knownSenders: list.describe('IP or CIDR, optionally =label, comma-separated or repeated: sources you know are yours'),
  spf: list.describe('DOMAIN="v=spf1 …", repeated for several domains (offline SPF evidence)'),
};

const REPORT_MODULE = new URL('../../services/report-runs.ts', import.meta.url);

/**
 * A fresh worker per report, with a heap cap and a deadline: one huge or hostile upload can fail
 * only itself. The options are checked here first, so their mistakes answer 400 with a path.
 */
function reportInWorker(request: ReportRequest): Promise<ReportResult> {
  parseReportOptions(request.options);
  return runInWorker<ReportRequest, ReportResult>(REPORT_MODULE, { ...request, maxSources: MAX_LISTED_SOURCES }, { timeoutMs: 10 * 60_000, maxHeapMb: 1024 });
}

type ListParam = string | string[] | undefined;

function optionsOf(q: { dmarc?: ListParam; knownSenders?: ListParam; spf?: ListParam; dateFormat?: string }): ReportOptionsText {
  // An SPF record holds no comma, but keep each given record whole anyway.
  return { dmarc: split(q.dmarc), knownSenders: split(q.knownSenders), spf: q.spf === undefined ? undefined : [q.spf].flat(), dateFormat: q.dateFormat };
}

/** Only the header section is read; a message beyond this is refused rather than streamed in. */
export const MAX_ANALYZE_BYTES = 25 * 1024 * 1024;
/** Where the header section must end: far beyond any real one (Received chains included). */
const MAX_ANALYZE_HEADER_BYTES = 1024 * 1024;

const analysisShape = z.looseObject({
  subject: z.string().nullable(),
  messageId: z.string().nullable(),
  p1: z.string().nullable(),
  p2: z.array(z.string()),
  attribution: z.looseObject({ value: z.string().nullable(), from: z.string() }),
  acceptedDomains: z.array(z.string()),
  acceptedDomainsAssumed: z.boolean(),
  classification: z.looseObject({ kind: z.string(), reason: z.string(), wouldReject: z.boolean() }),
  signals: z.object({ for: z.array(z.string()), against: z.array(z.string()) }),
  conclusion: z.string(),
}).describe('as `mxward analyze --json` prints it');

const analyzeResponse = z.object({
  analysis: analysisShape,
  problems: z.array(z.object({ line: z.number(), message: z.string() })),
}) as unknown as z.ZodType<{ analysis: MessageAnalysis; problems: Array<{ line: number; message: string }> }>;

const exportUpload = z.object({
  name: z.string().min(1).max(200),
  text: z.string().max(50 * 1024 * 1024).optional().describe('the ConvertTo-Json output as text'),
  base64: z.string().max(70 * 1024 * 1024).optional().describe('or its bytes (UTF-16 exports as PowerShell writes them)'),
}).refine((e) => (e.text === undefined) !== (e.base64 === undefined), 'give exactly one of text or base64');

export const reportRoutes: ApiRoute[] = [
  defineRoute({
    method: 'post', path: '/report', tag: 'report', roles: ANALYSTS, scope: 'read',
    summary: 'The Direct Send report over one uploaded export (message trace, EAC report, Defender EmailEvents, .eml/.mbox), judged against the stored policy',
    // What browsers and curl call these files (Windows names a .csv after Excel); the content decides the format.
    rawBody: { contentTypes: ['text/csv', 'text/plain', 'application/json', 'application/x-ndjson', 'application/octet-stream', 'message/rfc822', 'application/mbox', 'application/vnd.ms-excel'], maxBytes: MAX_REPORT_UPLOAD_BYTES },
    query: z.object({
      filename: z.string().min(1).max(200).optional().describe('the file name, used in the report\'s inputs and problems (default "upload")'),
      name: z.string().min(1).max(200).optional().describe('the same as filename'),
      dateFormat: z.enum(['mdy', 'dmy']).optional().describe('the order of slashed dates; else detected'),
      ...evidenceQuery,
    }).strict(),
    response: reportResponse,
    handler: ({ query, body, deps }) => serviceCall(async () => {
      const { document } = await deps.store.readPolicy();
      const bytes = body as Uint8Array;
      return reportInWorker({ policy: document, options: optionsOf(query), source: { kind: 'upload', name: query.filename ?? query.name ?? 'upload', bytes }, nowMs: Date.now() });
    }),
  }),
  defineRoute({
    method: 'get', path: '/report/live', tag: 'report', roles: ['administrator', 'helpdesk', 'auditor'], scope: 'read',
    summary: 'The Direct Send report over mxward\'s own trace since a time (default 7 days)',
    query: z.object({ since: timeParam.default('7d'), ...evidenceQuery }).strict(),
    response: reportResponse,
    handler: ({ query, deps }) => serviceCall(async () => {
      const { document } = await deps.store.readPolicy();
      return reportInWorker({
        policy: document, options: optionsOf(query), nowMs: Date.now(),
        source: { kind: 'live', store: { url: deps.config.store.url ?? undefined, dataDir: deps.dataDir }, since: isoTime(query.since), limit: MAX_LIVE_REPORT_RECORDS },
      });
    }),
  }),
  defineRoute({
    method: 'post', path: '/analyze', tag: 'report', roles: ['administrator', 'helpdesk', 'auditor'], scope: 'read',
    summary: 'One message explained (.eml, the first message of an .mbox, or pasted headers): attribution, Direct Send, compauth, evidence',
    rawBody: { contentTypes: ['message/rfc822', 'text/plain', 'application/mbox', 'application/octet-stream'], maxBytes: MAX_ANALYZE_BYTES },
    query: z.object({
      acceptedDomains: list.describe('comma-separated; default: the stored policy\'s accepted domains'),
    }).strict(),
    response: analyzeResponse,
    handler: ({ query, body, deps }) => serviceCall(async () => {
      const accepted = split(query.acceptedDomains)
        ?? (await deps.store.readPolicy()).document.acceptedDomains.map((d) => (d.includeSubdomains ? `*.${d.domain}` : d.domain));
      // The header section is at the start: decoding 25 MB of attachments to find it would cost
      // the event loop a tenth of a second for nothing.
      const head = (body as Uint8Array).subarray(0, MAX_ANALYZE_HEADER_BYTES);
      const { analysis, problems } = await analyzeOne(Readable.from([head]), accepted, 'upload');
      if (!analysis) throw new ApiError(400, 'validation_failed', 'no header fields found: not a message or header block', 'body');
      return { analysis, problems };
    }),
  }),
  defineRoute({
    method: 'post', path: '/audit', tag: 'audit', roles: ANALYSTS, scope: 'read',
    summary: 'The configuration audit: the stored policy, this gateway\'s bootstrap and any uploaded Exchange Online exports',
    body: z.object({
      exports: z.array(exportUpload).max(20).default([]).describe('Get-OrganizationConfig, Get-InboundConnector, Get-AcceptedDomain | ConvertTo-Json'),
      includeMxward: z.boolean().default(true).describe('audit mxward\'s own policy and bootstrap too'),
      framework: z.enum(FRAMEWORKS).optional(),
      format: z.enum(AUDIT_FORMATS).default('json'),
      dns: z.boolean().default(false).describe('also look up SPF and DMARC of each accepted domain (the system resolvers)'),
    }).strict(),
    response: auditResponse,
    handler: ({ body, deps }) => serviceCall(async () => {
      const ctx = body.includeMxward ? mxwardAuditContext((await deps.store.readPolicy()).document, deps.config) : mxwardAuditContext(null, null);
      body.exports.forEach((e, i) => {
        const bytes = e.base64 !== undefined ? Buffer.from(e.base64, 'base64') : Buffer.from(e.text ?? '', 'utf8');
        addExoExport(ctx, exoExportFromBytes(e.name, bytes, `exports[${i}]`));
      });
      if (body.dns) ctx.dns = txtLookup([]);
      const outcome = await runAuditChecks(ctx, parseFramework(body.framework));
      return { ...outcome, rendered: body.format === 'json' ? null : renderAudit(outcome, body.format) };
    }, 'body'),
  }),
];
