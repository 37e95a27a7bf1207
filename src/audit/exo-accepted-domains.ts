// Exchange Online accepted domains (Get-AcceptedDomain).
import type { AuditCheck } from './types.ts';

export const exoAcceptedDomainChecks: AuditCheck[] = [
  {
    id: 'exo.accepted-domains.relay',
    family: 'exchange-online',
    title: 'Accepted domains are authoritative (no relay domains)',
    required: false,
    needs: ['exo.domains'],
    evaluate(ctx) {
      const domains = ctx.exo.domains!;
      if (domains.length === 0) return [{ status: 'warn', detail: 'the export lists no accepted domain', remedy: 'export with Get-AcceptedDomain | ConvertTo-Json' }];
      const relay = domains.filter((d) => !/^authoritative$/i.test(d.domainType));
      if (!relay.length) return [{ status: 'pass', detail: `${domains.length} authoritative domain(s): ${domains.map((d) => d.domain).join(', ')}` }];
      return relay.map((d) => ({
        status: 'warn' as const,
        detail: `${d.domain} is ${d.domainType}: mail for unknown recipients is relayed onward`,
        remedy: 'make the domain Authoritative unless it is shared with another mail system on purpose',
      }));
    },
  },
];
