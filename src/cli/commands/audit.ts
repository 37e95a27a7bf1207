// mxward audit [EXPORT.json...]: Exchange Online exports (Get-OrganizationConfig,
// Get-InboundConnector, Get-AcceptedDomain) and mxward's own policy, as a pass/fail table.
// Exit 0 only when every required check passes, so CI can gate on it. Thin: flags and files ->
// services/audit-runs.ts (shared with POST /audit) -> print.
import { inspectDataDir, resolveStoreLocation } from '../../config/data-dir.ts';
import { addExoExport, emptyAuditContext, hasSomethingToAudit, parseAuditFormat, parseFramework, renderAudit, runAuditChecks, txtLookup } from '../../services/audit-runs.ts';
import { ServiceError } from '../../services/service-error.ts';
import { readExoExport } from '../../report/org-context.ts';
import { auditPostfix, readPostfixMainCf } from '../../integrations/postfix-audit-file.ts';
import type { CliIo } from '../io.ts';
import { openStore, parseCommand, UsageError } from '../io.ts';

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

/** The service's validation failures are usage errors here: one line, exit 2. */
function usage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ServiceError) throw new UsageError(err.message);
    throw err;
  }
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
  const format = usage(() => parseAuditFormat(values.format ?? (values.json ? 'json' : 'text')));
  const framework = usage(() => parseFramework(values.framework));
  const ctx = emptyAuditContext();
  for (const file of positionals) addExoExport(ctx, await readExoExport(file));
  // An audit reads whatever mxward configuration it can find; a missing store is not an error here.
  const location = resolveStoreLocation(values, io.env);
  ctx.mxward.bootstrap = location.bootstrap ?? null;
  if (!values['skip-mxward'] && (location.url || inspectDataDir(location.dataDir) === null)) {
    const store = openStore(values, io.env);
    try { ctx.mxward.policy = (await store.readPolicy()).document; } finally { await store.close(); }
  }
  if (values.dns) ctx.dns = usage(() => txtLookup(values['dns-server'] ?? []));
  const postfix = values.postfix ? await readPostfixMainCf(values.postfix) : null;
  if (!postfix && !hasSomethingToAudit(ctx)) {
    throw new UsageError('nothing to audit: give Exchange Online JSON exports, --config, or a --data-dir with an mxward store');
  }
  const outcome = await runAuditChecks(ctx, framework, postfix ? auditPostfix(postfix, ctx.mxward.policy) : []);
  io.stdout.write(renderAudit(outcome, format));
  return outcome.passed ? 0 : 1;
}
