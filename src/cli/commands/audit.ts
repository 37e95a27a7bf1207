// mxward audit [EXPORT.json...]: Exchange Online exports (Get-OrganizationConfig,
// Get-InboundConnector, Get-AcceptedDomain) and mxward's own policy, as a pass/fail table.
// Exit 0 only when every required check passes, so CI can gate on it.
import { Resolver } from 'node:dns/promises';
import { inspectDataDir, resolveStoreLocation } from '../../config/data-dir.ts';
import { auditPassed, runChecks } from '../../audit/run-audit.ts';
import { controlLabel, FRAMEWORKS, isFramework, labelResults } from '../../audit/controls.ts';
import type { Framework } from '../../audit/controls.ts';
import { renderJunit } from '../../audit/render-junit.ts';
import { renderSarif } from '../../audit/render-sarif.ts';
import { readFileSync } from 'node:fs';
import type { AuditContext, CheckResult } from '../../audit/types.ts';
import { readExoExport } from '../../report/org-context.ts';
import { auditPostfix, readPostfixMainCf } from '../../integrations/postfix-audit-file.ts';
import type { CliIo } from '../io.ts';
import { openStore, parseCommand, printJson, UsageError } from '../io.ts';

export const auditHelp = `Usage: mxward audit [EXPORT.json...] [options]

EXPORT files are Get-OrganizationConfig, Get-InboundConnector and Get-AcceptedDomain output piped to
ConvertTo-Json (UTF-8 or UTF-16), recognised by content.

  --config FILE        mxward bootstrap YAML: TLS and spoof-quarantine checks
  --skip-mxward        do not audit mxward's own policy (default: audit the store when it exists)
  --dns                also check SPF (-all) and DMARC (quarantine/reject) of each accepted domain
  --dns-server IP[:P]  resolver for --dns (repeatable; default the system's)
  --format FORMAT      text, json, junit (JUnit XML) or sarif (SARIF 2.1.0); default text;
                       --json is the same as --format json
  --framework NAME     only the checks implementing a control of cis, scuba, maester or cipp,
                       labelled with that framework's ids (docs/audit.md has the mapping)
  --postfix MAIN.CF    check that Postfix consults mxward as docs/postfix.md says
Exit code 0 when every required check passes, 1 when one fails, 2 for usage or unreadable input.
`;

const FORMATS = ['text', 'json', 'junit', 'sarif'];

function parseFramework(value: string | undefined): Framework | null {
  if (value === undefined) return null;
  if (!isFramework(value)) throw new UsageError(`--framework: expected ${FRAMEWORKS.join(', ')}, got ${JSON.stringify(value)}`);
  return value;
}

/** The SARIF tool version; a packaged copy without package.json still reports, without it. */
function packageVersion(): string | undefined {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

const MARK: Record<string, string> = { pass: 'PASS', fail: 'FAIL', warn: 'WARN', skip: 'SKIP' };

function renderResults(results: CheckResult[]): string {
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

export async function runAudit(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(argv, {
    'skip-mxward': { type: 'boolean' },
    dns: { type: 'boolean' },
    'dns-server': { type: 'string', multiple: true },
    format: { type: 'string' },
    postfix: { type: 'string' },
    framework: { type: 'string' },
  });
  if (values.help) { io.stdout.write(auditHelp); return 0; }
  const format = values.format ?? (values.json ? 'json' : 'text');
  if (!FORMATS.includes(format)) throw new UsageError(`--format: expected text, json, junit or sarif, got ${JSON.stringify(format)}`);
  const framework = parseFramework(values.framework);
  const ctx: AuditContext = { exo: { org: null, connectors: null, domains: null }, mxward: { policy: null, bootstrap: null }, dns: null };
  for (const file of positionals) {
    const exp = await readExoExport(file);
    if (exp.kind === 'organization-config') ctx.exo.org = exp.config;
    else if (exp.kind === 'inbound-connectors') ctx.exo.connectors = [...(ctx.exo.connectors ?? []), ...exp.connectors];
    else ctx.exo.domains = [...(ctx.exo.domains ?? []), ...exp.domains];
  }
  // An audit reads whatever mxward configuration it can find; a missing store is not an error here.
  const location = resolveStoreLocation(values, io.env);
  ctx.mxward.bootstrap = location.bootstrap ?? null;
  if (!values['skip-mxward'] && (location.url || inspectDataDir(location.dataDir) === null)) {
    const store = openStore(values, io.env);
    try { ctx.mxward.policy = (await store.readPolicy()).document; } finally { await store.close(); }
  }
  if (values.dns) {
    const resolver = new Resolver({ timeout: 3000, tries: 2 });
    if (values['dns-server']?.length) {
      try { resolver.setServers(values['dns-server']); } catch { throw new UsageError(`--dns-server: expected IP or IP:PORT, got ${values['dns-server'].join(', ')}`); }
    }
    ctx.dns = {
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
  const postfix = values.postfix ? await readPostfixMainCf(values.postfix) : null;
  if (!postfix && !ctx.exo.org && !ctx.exo.connectors && !ctx.exo.domains && !ctx.mxward.policy && !ctx.mxward.bootstrap) {
    throw new UsageError('nothing to audit: give Exchange Online JSON exports, --config, or a --data-dir with an mxward store');
  }
  const all = await runChecks(ctx);
  if (postfix) all.push(...auditPostfix(postfix, ctx.mxward.policy));
  const results = labelResults(all, framework);
  if (format === 'json') printJson(io, { passed: auditPassed(results), framework, checks: results });
  else if (format === 'junit') io.stdout.write(renderJunit(results));
  else if (format === 'sarif') printJson(io, renderSarif(results, packageVersion()));
  else io.stdout.write(renderResults(results));
  return auditPassed(results) ? 0 : 1;
}
