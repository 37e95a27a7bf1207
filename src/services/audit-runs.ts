// The configuration audit as a service (issue 13), shared by `mxward audit` and POST /audit:
// Exchange Online exports and mxward's own policy and bootstrap in, checks labelled by a
// framework out, rendered as text, JSON, JUnit XML or SARIF.
import { readFileSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { auditPassed, runChecks } from '../audit/run-audit.ts';
import { controlLabel, FRAMEWORKS, isFramework, labelResults } from '../audit/controls.ts';
import type { Framework } from '../audit/controls.ts';
import { renderJunit } from '../audit/render-junit.ts';
import { renderSarif } from '../audit/render-sarif.ts';
import type { AuditContext, CheckResult } from '../audit/types.ts';
import type { BootstrapConfig } from '../config/bootstrap.ts';
import type { PolicyDocument } from '../config/policy-schema.ts';
import { decodeExportBytes, parseExoExport } from '../report/import/exo-config.ts';
import type { ExoExport } from '../report/import/exo-config.ts';
import { ServiceError } from './service-error.ts';

export const AUDIT_FORMATS = ['text', 'json', 'junit', 'sarif'] as const;
export type AuditFormat = (typeof AUDIT_FORMATS)[number];

export interface AuditOutcome {
  passed: boolean;
  framework: Framework | null;
  checks: CheckResult[];
}

export function parseAuditFormat(value: string): AuditFormat {
  if (!(AUDIT_FORMATS as readonly string[]).includes(value)) throw new ServiceError('validation_failed', `--format: expected text, json, junit or sarif, got ${JSON.stringify(value)}`, 'format');
  return value as AuditFormat;
}

export function parseFramework(value: string | undefined | null): Framework | null {
  if (value === undefined || value === null) return null;
  if (!isFramework(value)) throw new ServiceError('validation_failed', `--framework: expected ${FRAMEWORKS.join(', ')}, got ${JSON.stringify(value)}`, 'framework');
  return value;
}

export function emptyAuditContext(): AuditContext {
  return { exo: { org: null, connectors: null, domains: null }, mxward: { policy: null, bootstrap: null }, dns: null };
}

/** An uploaded export (UTF-8 or UTF-16, as PowerShell writes them); `path` names it in the error. */
export function exoExportFromBytes(name: string, bytes: Uint8Array, path: string): ExoExport {
  const parsed = parseExoExport(decodeExportBytes(bytes));
  if (typeof parsed === 'string') throw new ServiceError('validation_failed', `${name}: ${parsed}`, path);
  return parsed;
}

/** Several connector or domain exports add up; a second organization config replaces the first. */
export function addExoExport(ctx: AuditContext, exp: ExoExport): void {
  if (exp.kind === 'organization-config') ctx.exo.org = exp.config;
  else if (exp.kind === 'inbound-connectors') ctx.exo.connectors = [...(ctx.exo.connectors ?? []), ...exp.connectors];
  else ctx.exo.domains = [...(ctx.exo.domains ?? []), ...exp.domains];
}

/** TXT lookups for the SPF and DMARC checks, through the system's resolvers or the given ones. */
export function txtLookup(servers: readonly string[]): NonNullable<AuditContext['dns']> {
  const resolver = new Resolver({ timeout: 3000, tries: 2 });
  if (servers.length) {
    try { resolver.setServers([...servers]); } catch { throw new ServiceError('validation_failed', `--dns-server: expected IP or IP:PORT, got ${servers.join(', ')}`, 'dnsServers'); }
  }
  return {
    async txt(name) {
      try {
        return (await resolver.resolveTxt(name)).map((parts) => parts.join(''));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        return code === 'ENOTFOUND' || code === 'ENODATA' ? 'nxdomain' : 'error';
      }
    },
  };
}

export function hasSomethingToAudit(ctx: AuditContext): boolean {
  return Boolean(ctx.exo.org || ctx.exo.connectors || ctx.exo.domains || ctx.mxward.policy || ctx.mxward.bootstrap);
}

/** Runs every check (plus `extra`, e.g. the Postfix file checks) and labels them for the framework. */
export async function runAuditChecks(ctx: AuditContext, framework: Framework | null, extra: CheckResult[] = []): Promise<AuditOutcome> {
  const all = await runChecks(ctx);
  all.push(...extra);
  const checks = labelResults(all, framework);
  return { passed: auditPassed(checks), framework, checks };
}

/** The context for mxward's own configuration: its stored policy and the running bootstrap. */
export function mxwardAuditContext(policy: PolicyDocument | null, bootstrap: BootstrapConfig | null): AuditContext {
  const ctx = emptyAuditContext();
  ctx.mxward = { policy, bootstrap };
  return ctx;
}

/** The SARIF tool version; a packaged copy without package.json still reports, without it. */
function packageVersion(): string | undefined {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

const MARK: Record<string, string> = { pass: 'PASS', fail: 'FAIL', warn: 'WARN', skip: 'SKIP' };

function renderText(results: CheckResult[]): string {
  const out: string[] = [];
  const width = Math.max(...results.map((r) => r.title.length), 5);
  out.push(`${'status'.padEnd(6)}  ${'check'.padEnd(width)}  finding`);
  for (const r of results) {
    const first = r.findings[0];
    const labels = (r.controls ?? []).map(controlLabel).join(', ');
    out.push(`${MARK[r.status].padEnd(6)}  ${r.title.padEnd(width)}  ${first?.detail ?? ''}${r.required ? '' : ' (advisory)'}${labels ? ` [${labels}]` : ''}`);
    for (const f of r.findings.slice(1)) out.push(`${''.padEnd(6)}  ${''.padEnd(width)}  ${f.detail}`);
  }
  const remedies = results.flatMap((r) => r.findings.filter((f) => (f.status === 'fail' || f.status === 'warn') && f.remedy).map((f) => `  [${r.id}] ${f.remedy}`));
  if (remedies.length) out.push('', 'Remedies:', ...[...new Set(remedies)]);
  const failed = results.filter((r) => r.required && r.status === 'fail').length;
  out.push('', failed ? `${failed} required check(s) failed.` : 'All required checks passed.');
  return `${out.join('\n')}\n`;
}

/** The outcome in one of the formats, exactly as `mxward audit --format` prints it. */
export function renderAudit(outcome: AuditOutcome, format: AuditFormat): string {
  if (format === 'json') return `${JSON.stringify({ passed: outcome.passed, framework: outcome.framework, checks: outcome.checks }, null, 2)}\n`;
  if (format === 'junit') return renderJunit(outcome.checks);
  if (format === 'sarif') return `${JSON.stringify(renderSarif(outcome.checks, packageVersion()), null, 2)}\n`;
  return renderText(outcome.checks);
}
