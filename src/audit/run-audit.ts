// Runs every check whose inputs are present; a check that throws is a failure of that check
// (with its message), never the end of the audit.
import { dnsChecks } from './dns-records.ts';
import { exoAcceptedDomainChecks } from './exo-accepted-domains.ts';
import { exoConnectorChecks } from './exo-connectors.ts';
import { exoOrganizationChecks } from './exo-organization.ts';
import { mxwardPolicyChecks } from './mxward-policy.ts';
import type { AuditCheck, AuditContext, CheckResult, CheckStatus, Needs } from './types.ts';

export const ALL_CHECKS: readonly AuditCheck[] = [
  ...exoOrganizationChecks, ...exoConnectorChecks, ...exoAcceptedDomainChecks, ...mxwardPolicyChecks, ...dnsChecks,
];

function has(ctx: AuditContext, need: Needs): boolean {
  switch (need) {
    case 'exo.org': return ctx.exo.org !== null;
    case 'exo.connectors': return ctx.exo.connectors !== null;
    case 'exo.domains': return ctx.exo.domains !== null;
    case 'mxward.policy': return ctx.mxward.policy !== null;
    case 'mxward.bootstrap': return ctx.mxward.bootstrap !== null;
    case 'dns': return ctx.dns !== null;
  }
}

const RANK: Record<CheckStatus, number> = { skip: 0, pass: 1, warn: 2, fail: 3 };

export async function runChecks(ctx: AuditContext, checks: readonly AuditCheck[] = ALL_CHECKS): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of checks) {
    const base = { id: check.id, family: check.family, title: check.title, required: check.required, reference: check.reference ?? null };
    if (!check.needs.every((n) => has(ctx, n))) continue;
    let findings;
    try {
      findings = await check.evaluate(ctx);
    } catch (err) {
      findings = [{ status: 'fail' as const, detail: `check failed to run: ${(err as Error).message}` }];
    }
    // A non-required check can warn but never fail the audit.
    const adjusted = check.required ? findings : findings.map((f) => (f.status === 'fail' ? { ...f, status: 'warn' as const } : f));
    const status = adjusted.reduce<CheckStatus>((worst, f) => (RANK[f.status] > RANK[worst] ? f.status : worst), 'skip');
    results.push({ ...base, status, findings: adjusted });
  }
  return results;
}

export function auditPassed(results: CheckResult[]): boolean {
  return results.every((r) => !r.required || r.status !== 'fail');
}
