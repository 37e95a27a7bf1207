// The organization policy document: what `mxward policy export` writes and `import` reads, and
// what the store keeps. Validated once here; policy/compile.ts turns it into frozen matchers.
import { z } from 'zod';
import ipaddr from 'ipaddr.js';
import { normalizeDomain } from '../policy/domains.ts';

export const modeSchema = z.enum(['off', 'report', 'enforce']);

const domainName = z.string().transform((value, ctx) => {
  const d = normalizeDomain(value);
  if (!d) {
    ctx.addIssue({ code: 'custom', message: `not a domain name: ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return d;
});

/** `*`, `example.com` or `*.example.com` (SPEC §1 connector sender domains). */
const senderDomainPattern = z.string().transform((value, ctx) => {
  if (value.trim() === '*') return '*';
  const wildcard = value.trim().startsWith('*.');
  const d = normalizeDomain(wildcard ? value.trim().slice(2) : value);
  if (!d) {
    ctx.addIssue({ code: 'custom', message: `not a domain or *.domain pattern: ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return wildcard ? `*.${d}` : d;
});

/** An IPv4 or IPv6 address or CIDR range, any prefix length. */
export const cidrSchema = z.string().refine((value) => {
  try {
    if (value.includes('/')) ipaddr.parseCIDR(value);
    else ipaddr.parse(value);
    return true;
  } catch {
    return false;
  }
}, { message: 'not an IP address or CIDR' });

export const acceptedDomainSchema = z.object({
  domain: domainName,
  includeSubdomains: z.boolean().default(false),
  /** Optional recipient directory; empty means "any local part". */
  recipients: z.array(z.string()).default([]),
}).strict();

export const connectorSchema = z.object({
  name: z.string().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, 'letters, digits, space, dot, dash, underscore'),
  type: z.enum(['partner', 'onPremises']),
  enabled: z.boolean().default(true),
  senderDomains: z.array(senderDomainPattern).default(['*']),
  senderIPAddresses: z.array(cidrSchema).default([]),
  tlsSenderCertificateName: z.string().min(1).nullable().default(null),
  restrictDomainsToIPAddresses: z.boolean().default(false),
  restrictDomainsToCertificate: z.boolean().default(false),
  requireTls: z.boolean().default(false),
  treatMessagesAsInternal: z.boolean().default(false),
  comment: z.string().default(''),
}).strict();

export const policySchema = z.object({
  rejectDirectSend: modeSchema.default('enforce'),
  rejectDirectSendHeaderFrom: modeSchema.default('report'),
  acceptedDomains: z.array(acceptedDomainSchema).default([]),
  connectors: z.array(connectorSchema).default([]),
}).strict();

export type PolicyDocument = z.output<typeof policySchema>;
export type ConnectorSettings = z.output<typeof connectorSchema>;
export type AcceptedDomainSettings = z.output<typeof acceptedDomainSchema>;

export function defaultPolicy(): PolicyDocument {
  return policySchema.parse({});
}
