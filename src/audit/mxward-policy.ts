// mxward's own policy (store) and bootstrap file (issue 5 "mxward's own policy" list).
import type { AuditCheck, AuditContext, Finding } from './types.ts';
import type { PrefixBounds } from '../policy/ip-syntax.ts';
import { connectorCertificateName, normalizeFingerprint } from '../policy/certificate-names.ts';
import { checkConnectorRange, DEFAULT_ON_PREMISES_MIN_PREFIX } from '../policy/ip-syntax.ts';
import { rangeFindings, rangeWidth, requireTlsFindings, restrictionFindings, sharedCertificateFindings } from './connector-hygiene.ts';

const connectors = (ctx: AuditContext) => ctx.mxward.policy!.connectors;
const ours = (ctx: AuditContext) => (d: string) => ctx.mxward.policy!.acceptedDomains.some((a) => d === a.domain || d.endsWith(`.${a.domain}`));

/**
 * One entry of a connector whose sources become internal (relay anywhere, no Direct Send check).
 * Read strictly, so a stored `::ffff:0:0/96` counts as all of IPv4 and an octal entry as broken,
 * and judged against the schema's bound as well as the audit's own /24 and /64.
 */
function internalRangeFindings(name: string, r: string, bounds: PrefixBounds): Finding[] {
  const remedy = 'limit it to your own servers\' addresses';
  const w = rangeWidth(r);
  if (!w.ok) return [{ status: 'fail', detail: `internal connector "${name}" lists ${JSON.stringify(r)}, not a strict IP address or CIDR (${w.reason})`, remedy }];
  const schema = checkConnectorRange(r, true, bounds);
  if (!schema.ok) return [{ status: 'fail', detail: `connector "${name}" makes ${r} internal: ${schema.reason}`, remedy }];
  if ((w.v6 && w.bits < 64) || (!w.v6 && w.bits < 24)) return [{ status: 'fail', detail: `connector "${name}" makes ${r} internal: anyone there may relay through mxward`, remedy }];
  return [];
}

/** Quarantine policies that let the recipient release a message themselves (SPEC §6). */
const SELF_RELEASE = new Set(['DefaultFullAccessPolicy', 'DefaultFullAccessWithNotificationPolicy']);

export const mxwardPolicyChecks: AuditCheck[] = [
  {
    id: 'mxward.reject-direct-send', family: 'mxward', title: 'Reject Direct Send is enforced', required: true, needs: ['mxward.policy'],
    evaluate: (ctx) => {
      const mode = ctx.mxward.policy!.rejectDirectSend;
      return mode === 'enforce' ? [{ status: 'pass', detail: 'rejectDirectSend: enforce' }]
        : [{ status: 'fail', detail: `rejectDirectSend: ${mode}${mode === 'report' ? ' (would-reject is only traced)' : ''}`, remedy: 'review `mxward report --trace`, add connectors, then `mxward org set --reject-direct-send enforce`' }];
    },
  },
  {
    id: 'mxward.header-from', family: 'mxward', title: 'header-From Direct Send check is at least in report mode', required: true, needs: ['mxward.policy'],
    evaluate: (ctx) => {
      const mode = ctx.mxward.policy!.rejectDirectSendHeaderFrom;
      return mode !== 'off' ? [{ status: 'pass', detail: `rejectDirectSendHeaderFrom: ${mode}` }]
        : [{ status: 'fail', detail: 'rejectDirectSendHeaderFrom: off', remedy: 'set it to report (or enforce) to see header-From spoofs of your domains' }];
    },
  },
  {
    id: 'mxward.accepted-domains', family: 'mxward', title: 'At least one accepted domain', required: true, needs: ['mxward.policy'],
    evaluate: (ctx) => {
      const d = ctx.mxward.policy!.acceptedDomains;
      return d.length ? [{ status: 'pass', detail: d.map((x) => x.domain).join(', ') }]
        : [{ status: 'fail', detail: 'no accepted domain: every recipient is refused and Direct Send cannot be recognised', remedy: '`mxward domain add DOMAIN`' }];
    },
  },
  {
    id: 'mxward.no-open-relay', family: 'mxward', title: 'No open relay through internal connectors', required: true, needs: ['mxward.policy'],
    evaluate: (ctx) => {
      // An onPremises or "treat as internal" connector makes its sources internal, and internal
      // sessions may relay to any recipient: a wide range there is an open relay.
      const out: Finding[] = [];
      const bounds = { ...DEFAULT_ON_PREMISES_MIN_PREFIX, ...ctx.mxward.policy!.onPremisesMinPrefixLength };
      for (const c of connectors(ctx).filter((x) => x.enabled && (x.type === 'onPremises' || x.treatMessagesAsInternal))) {
        for (const r of c.senderIPAddresses) out.push(...internalRangeFindings(c.name, r, bounds));
        if (c.senderIPAddresses.length === 0 && !c.tlsSenderCertificateName && !c.certificateFingerprints?.length) out.push({ status: 'fail', detail: `internal connector "${c.name}" has no IP or certificate restriction`, remedy: 'add the servers\' IPs or certificate name' });
      }
      return out.length ? out : [{ status: 'pass', detail: 'relay only for SMTP AUTH users and narrowly scoped internal connectors' }];
    },
  },
  { id: 'mxward.connectors.restricted', family: 'mxward', title: 'Partner connectors are restricted to IPs or a certificate', required: true, needs: ['mxward.policy'], evaluate: (ctx) => restrictionFindings(connectors(ctx), 'mxward') },
  { id: 'mxward.connectors.shared-certificate', family: 'mxward', title: 'No sender domain * on a shared certificate', required: true, needs: ['mxward.policy'], evaluate: (ctx) => sharedCertificateFindings(connectors(ctx), 'mxward', ours(ctx)) },
  {
    id: 'mxward.connectors.certificate-names', family: 'mxward', title: 'Connector certificate names and pins can match', required: false, needs: ['mxward.policy'],
    evaluate: (ctx) => {
      // A stored document may predate the strict name rules: such a connector matches nothing.
      const out: Finding[] = [];
      for (const c of connectors(ctx).filter((x) => x.enabled)) {
        if (c.tlsSenderCertificateName !== null && connectorCertificateName(c.tlsSenderCertificateName) === null) {
          out.push({ status: 'fail', detail: `connector "${c.name}": certificate name ${JSON.stringify(c.tlsSenderCertificateName)} is not a host name or *.domain, so no certificate matches it`, remedy: 'write the name as the partner\'s certificate carries it (letters, digits, hyphens; IDNs in A-label form)' });
        }
        for (const pin of c.certificateFingerprints ?? []) {
          if (normalizeFingerprint(pin) === null) out.push({ status: 'fail', detail: `connector "${c.name}": ${JSON.stringify(pin)} is not a SHA-256 fingerprint, so no certificate matches it`, remedy: 'use `openssl x509 -noout -fingerprint -sha256` on the partner\'s certificate' });
        }
      }
      return out.length ? out : [{ status: 'pass', detail: 'every certificate name and pin is well formed' }];
    },
  },
  { id: 'mxward.connectors.ip-ranges', family: 'mxward', title: 'Connector IP ranges are no wider than needed', required: true, needs: ['mxward.policy'], evaluate: (ctx) => rangeFindings(connectors(ctx), 'mxward') },
  { id: 'mxward.connectors.require-tls', family: 'mxward', title: 'Partner connectors require TLS', required: false, needs: ['mxward.policy'], evaluate: (ctx) => requireTlsFindings(connectors(ctx), 'mxward') },
  {
    id: 'mxward.spoof-quarantine', family: 'mxward', title: 'Spoofs of our domains go to a quarantine the recipient cannot release', required: true, needs: ['mxward.bootstrap'],
    evaluate: (ctx) => {
      const b = ctx.mxward.bootstrap!;
      const out: Finding[] = [];
      if (b.auth.antiSpoofAction === 'junk') out.push({ status: 'fail', detail: 'auth.antiSpoofAction: junk: a spoof lands in the recipient\'s mailbox', remedy: 'use quarantine (default) or reject' });
      const pol = b.quarantine.policies.ownDomainSpoof;
      if (SELF_RELEASE.has(pol)) out.push({ status: 'fail', detail: `quarantine.policies.ownDomainSpoof: ${pol} lets the recipient release a Direct Send phish`, remedy: 'use AdminOnlyAccessPolicy (SPEC §6)' });
      return out.length ? out : [{ status: 'pass', detail: `antiSpoofAction ${b.auth.antiSpoofAction}, own-domain spoof quarantine ${pol}` }];
    },
  },
  {
    id: 'mxward.tls', family: 'mxward', title: 'TLS certificate configured', required: true, needs: ['mxward.bootstrap'],
    evaluate: (ctx) => {
      const t = ctx.mxward.bootstrap!.tls;
      if (t.certFile && t.keyFile) return [{ status: 'pass', detail: `tls.certFile ${t.certFile}` }];
      return [{ status: 'fail', detail: 'no tls.certFile/keyFile: mxward offers a generated self-signed certificate', remedy: 'point tls.certFile and tls.keyFile at the MX host\'s certificate' }];
    },
  },
];
