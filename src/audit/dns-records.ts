// With --dns: SPF and DMARC of each accepted domain. The lookups go through the injected TXT
// resolver; parsing is pure.
import type { AuditCheck, AuditContext, Finding } from './types.ts';

function domainsOf(ctx: AuditContext): string[] {
  const set = new Set<string>();
  for (const d of ctx.exo.domains ?? []) set.add(d.domain);
  for (const d of ctx.mxward.policy?.acceptedDomains ?? []) set.add(d.domain);
  return [...set].sort();
}

export function spfAll(records: string[]): { record: string | null; all: string | null; count: number } {
  const spf = records.filter((r) => /^v=spf1(\s|$)/i.test(r.trim()));
  const record = spf[0] ?? null;
  const all = record ? (/(^|\s)([-~?+]?)all(\s|$)/i.exec(record)?.[2] ?? null) : null;
  return { record, all: all === null ? null : all === '' ? '+' : all, count: spf.length };
}

export function dmarcPolicy(records: string[]): string | null {
  const rec = records.find((r) => /^v=DMARC1(\s*;|\s*$)/i.test(r.trim()));
  if (!rec) return null;
  return /(?:^|;)\s*p\s*=\s*(none|quarantine|reject)\s*(?:;|$)/i.exec(rec)?.[1]?.toLowerCase() ?? 'invalid';
}

export const dnsChecks: AuditCheck[] = [
  {
    id: 'dns.spf', family: 'dns', title: 'SPF ends in -all', required: false, needs: ['dns'],
    async evaluate(ctx) {
      const out: Finding[] = [];
      for (const d of domainsOf(ctx)) {
        const txt = await ctx.dns!.txt(d);
        if (txt === 'error') { out.push({ status: 'warn', detail: `${d}: DNS lookup failed`, remedy: 'retry; check the resolver' }); continue; }
        const spf = spfAll(txt === 'nxdomain' ? [] : txt);
        if (spf.count > 1) out.push({ status: 'fail', detail: `${d}: ${spf.count} SPF records (permerror)`, remedy: 'publish exactly one v=spf1 record' });
        else if (!spf.record) out.push({ status: 'fail', detail: `${d}: no SPF record`, remedy: 'publish v=spf1 … -all' });
        else if (spf.all === '-') out.push({ status: 'pass', detail: `${d}: ${spf.record}` });
        else out.push({ status: 'warn', detail: `${d}: SPF ends in ${spf.all === null ? 'no all (neutral)' : `${spf.all}all`}: ${spf.record}`, remedy: 'end with -all once every sender is listed' });
      }
      return out.length ? out : [{ status: 'skip', detail: 'no accepted domain to look up' }];
    },
  },
  {
    id: 'dns.dmarc', family: 'dns', title: 'DMARC policy is quarantine or reject', required: false, needs: ['dns'],
    async evaluate(ctx) {
      const out: Finding[] = [];
      for (const d of domainsOf(ctx)) {
        const txt = await ctx.dns!.txt(`_dmarc.${d}`);
        if (txt === 'error') { out.push({ status: 'warn', detail: `_dmarc.${d}: DNS lookup failed` }); continue; }
        const p = dmarcPolicy(txt === 'nxdomain' ? [] : txt);
        if (p === 'quarantine' || p === 'reject') out.push({ status: 'pass', detail: `${d}: p=${p}` });
        else out.push({ status: 'warn', detail: `${d}: ${p === null ? 'no DMARC record' : `p=${p}`}`, remedy: 'publish v=DMARC1; p=quarantine (then reject); a certificate connector on a shared vendor certificate is weak without it (SPEC §9)' });
      }
      return out.length ? out : [{ status: 'skip', detail: 'no accepted domain to look up' }];
    },
  },
];
