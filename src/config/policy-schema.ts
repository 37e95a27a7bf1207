// The organization policy document: what `mxward policy export` writes and `import` reads, and
// what the store keeps. Validated once here; policy/compile.ts turns it into frozen matchers.
import { z } from 'zod';
import { normalizeDomain } from '../policy/domains.ts';
import { connectorCertificateName, normalizeFingerprint } from '../policy/certificate-names.ts';
import { checkConnectorRange, coversEverything, DEFAULT_ON_PREMISES_MIN_PREFIX, effectiveRange, parseCidrStrict } from '../policy/ip-syntax.ts';

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

/** `example.com` or `*.example.com`; `*` would exempt everyone (that is `externalTagging: off`). */
const exemptDomainPattern = senderDomainPattern.refine((p) => p !== '*', 'a domain or *.domain, not *: to tag nothing, set externalTagging to off');

/**
 * An IPv4 or IPv6 address or CIDR range in strict syntax (policy/ip-syntax.ts: no octal, hex or
 * shortened IPv4, no IPv4-compatible ::a.b.c.d), never one that covers all of IPv4 or IPv6.
 */
export const cidrSchema = z.string().superRefine((value, ctx) => {
  const cidr = parseCidrStrict(value);
  if (!cidr.ok) {
    ctx.addIssue({ code: 'custom', message: `not an IP address or CIDR (${JSON.stringify(value)}): ${cidr.reason}` });
    return;
  }
  const everything = coversEverything(effectiveRange(cidr.address, cidr.bits));
  if (everything) ctx.addIssue({ code: 'custom', message: `${value} ${everything}: trusting it trusts every sender` });
});

/**
 * A certificate name an administrator configures: a host name or `*.domain`, compared with the
 * names certificates present under RFC 6125 (policy/certificate-names.ts). IDNs are taken in
 * A-label form; what is left must be LDH, so the configured name can never need normalising.
 */
const certificateNameSchema = z.string().transform((value, ctx) => {
  const name = connectorCertificateName(value);
  if (name === null) {
    ctx.addIssue({ code: 'custom', message: `not a host name or *.domain (letters, digits, hyphens; RFC 6125): ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return name;
});

/** SHA-256 of the DER certificate, as `openssl x509 -fingerprint -sha256` prints it or plain hex. */
const fingerprintSchema = z.string().transform((value, ctx) => {
  const fingerprint = normalizeFingerprint(value);
  if (fingerprint === null) {
    ctx.addIssue({ code: 'custom', message: `not a SHA-256 fingerprint (64 hex digits, colons allowed): ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return fingerprint;
});

export const acceptedDomainSchema = z.object({
  domain: domainName,
  includeSubdomains: z.boolean().default(false),
  /** Optional recipient directory; empty means "any local part". */
  recipients: z.array(z.string()).default([]),
}).strict();

/** Settings every connector has, whichever way its addresses and names are read. */
const connectorFields = {
  name: z.string().min(1).max(64).regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, 'letters, digits, space, dot, dash, underscore'),
  type: z.enum(['partner', 'onPremises']),
  enabled: z.boolean().default(true),
  senderDomains: z.array(senderDomainPattern).default(['*']),
  restrictDomainsToIPAddresses: z.boolean().default(false),
  restrictDomainsToCertificate: z.boolean().default(false),
  requireTls: z.boolean().default(false),
  treatMessagesAsInternal: z.boolean().default(false),
  comment: z.string().default(''),
};

export const connectorSchema = z.object({
  ...connectorFields,
  senderIPAddresses: z.array(cidrSchema).default([]),
  tlsSenderCertificateName: certificateNameSchema.nullable().default(null),
  /** Optional pin: the client certificate's SHA-256 must also be one of these (issue 19). */
  certificateFingerprints: z.array(fingerprintSchema).optional(),
}).strict();

/**
 * How a stored document is read back: as it was written, even before the strict rules above
 * existed. compile.ts makes any entry that breaks them match nothing, and the audit fails it.
 */
const storedConnectorSchema = z.object({
  ...connectorFields,
  senderIPAddresses: z.array(z.string()).default([]),
  tlsSenderCertificateName: z.string().min(1).nullable().default(null),
  certificateFingerprints: z.array(z.string()).optional(),
}).strict();

/** The widest range an onPremises connector may trust, as prefix lengths (defaults /16 and /48). */
const prefixBoundsSchema = z.object({
  ipv4: z.number().int().min(1).max(32).optional(),
  ipv6: z.number().int().min(1).max(128).optional(),
}).strict();

const policyFields = {
  rejectDirectSend: modeSchema.default('enforce'),
  rejectDirectSendHeaderFrom: modeSchema.default('report'),
  acceptedDomains: z.array(acceptedDomainSchema).default([]),
  onPremisesMinPrefixLength: prefixBoundsSchema.optional(),
  /**
   * Mark anonymous (external) mail at the end of DATA, after authentication (issue 18): `header`
   * stamps X-Mxward-External, `subject` also prefixes the Subject once, `banner` also puts a notice
   * at the top of the first text/plain and text/html parts (docs/tagging.md). Never internal mail;
   * partner mail only with externalTagPartners.
   */
  externalTagging: z.enum(['off', 'header', 'subject', 'banner']).default('off'),
  /** The Subject prefix of `externalTagging: subject`: printable ASCII, kept as it is. */
  externalTagPrefix: z.string().min(1).max(40).regex(/^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/, 'printable ASCII without leading or trailing spaces').default('[EXTERNAL]'),
  /** Tag mail attributed to a partner connector too (never onPremises or treatMessagesAsInternal mail). */
  externalTagPartners: z.boolean().default(false),
  /**
   * From domains (`example.com`, `*.example.com`) whose mail is not tagged, provided it passed
   * compauth: an unauthenticated From in the list is tagged like any other.
   */
  externalTagExemptSenderDomains: z.array(exemptDomainPattern).max(1000).default([]),
  /**
   * Banner mode rewrites no message larger than this (bytes); a larger one gets the header tag
   * only, and the trace says why.
   */
  externalTagBannerMaxBytes: z.number().int().min(64 * 1024).max(512 * 1024 * 1024).default(10 * 1024 * 1024),
};

export const policySchema = z.object({
  ...policyFields,
  connectors: z.array(connectorSchema).default([]),
}).strict().superRefine((doc, ctx) => {
  // An onPremises connector makes its sources internal: relay to anywhere, no Direct Send check.
  const bounds = { ...DEFAULT_ON_PREMISES_MIN_PREFIX, ...doc.onPremisesMinPrefixLength };
  doc.connectors.forEach((c, i) => {
    if (c.type !== 'onPremises') return;
    c.senderIPAddresses.forEach((text, j) => {
      // Syntax and all-of-IPv4 were already reported by cidrSchema; only the bound is added here.
      const cidr = parseCidrStrict(text);
      if (!cidr.ok || coversEverything(effectiveRange(cidr.address, cidr.bits))) return;
      const checked = checkConnectorRange(text, true, bounds);
      if (!checked.ok) ctx.addIssue({ code: 'custom', path: ['connectors', i, 'senderIPAddresses', j], message: checked.reason });
    });
  });
});

/** Read side of the store (see storedConnectorSchema); every write goes through policySchema. */
export const storedPolicySchema = z.object({
  ...policyFields,
  connectors: z.array(storedConnectorSchema).default([]),
}).strict();

export type PolicyDocument = z.output<typeof policySchema>;
export type ConnectorSettings = z.output<typeof connectorSchema>;
export type AcceptedDomainSettings = z.output<typeof acceptedDomainSchema>;

export function defaultPolicy(): PolicyDocument {
  return policySchema.parse({});
}
