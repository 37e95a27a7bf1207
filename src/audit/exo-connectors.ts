// Exchange Online inbound connectors (Get-InboundConnector): hygiene per issue 5.
import type { AuditCheck, AuditContext } from './types.ts';
import { rangeFindings, requireTlsFindings, restrictionFindings, sharedCertificateFindings } from './connector-hygiene.ts';

const settings = (ctx: AuditContext) => ctx.exo.connectors!.map((c) => c.settings);
const ours = (ctx: AuditContext) => (d: string) => (ctx.exo.domains ?? []).some((a) => d === a.domain || d.endsWith(`.${a.domain}`));

export const exoConnectorChecks: AuditCheck[] = [
  {
    id: 'exo.connectors.unreadable-ips', family: 'exchange-online', title: 'Connector IP entries are readable', required: true, needs: ['exo.connectors'],
    evaluate: (ctx) => {
      const bad = ctx.exo.connectors!.flatMap((c) => c.badAddresses.map((a) => ({ status: 'fail' as const, detail: `connector "${c.name}": SenderIPAddresses entry ${JSON.stringify(a)} is not an IP, CIDR or range`, remedy: 'fix the entry with Set-InboundConnector' })));
      return bad.length ? bad : [{ status: 'pass', detail: `${ctx.exo.connectors!.length} connector(s), every IP entry readable` }];
    },
  },
  { id: 'exo.connectors.restricted', family: 'exchange-online', title: 'Partner connectors are restricted to IPs or a certificate', required: true, needs: ['exo.connectors'], evaluate: (ctx) => restrictionFindings(settings(ctx), 'Exchange Online') },
  { id: 'exo.connectors.shared-certificate', family: 'exchange-online', title: 'No SenderDomains * on a shared certificate', required: true, needs: ['exo.connectors'], evaluate: (ctx) => sharedCertificateFindings(settings(ctx), 'Exchange Online', ours(ctx)) },
  { id: 'exo.connectors.require-tls', family: 'exchange-online', title: 'Partner connectors require TLS', required: false, needs: ['exo.connectors'], evaluate: (ctx) => requireTlsFindings(settings(ctx), 'Exchange Online') },
  { id: 'exo.connectors.ip-ranges', family: 'exchange-online', title: 'Connector IP ranges are no wider than needed', required: true, needs: ['exo.connectors'], evaluate: (ctx) => rangeFindings(settings(ctx), 'Exchange Online') },
];
