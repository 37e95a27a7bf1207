// Bootstrap settings for email authentication and the quarantine (issue 3, SPEC §2.6, §4, §6).
// Kept in their own module so bootstrap.ts only gains two keys.
import { z } from 'zod';
import { cidrSchema } from './policy-schema.ts';

const dnsServer = z.string().regex(/^(\[[0-9a-fA-F:.]+\](:\d{1,5})?|[0-9a-fA-F:]+|[0-9.]+(:\d{1,5})?)$/, 'expected IP, IP:PORT or [IPv6]:PORT');


export const quarantinePolicyNameSchema = z.enum([
  'AdminOnlyAccessPolicy', 'DefaultFullAccessPolicy', 'DefaultFullAccessWithNotificationPolicy', 'DefaultLimitedAccessPolicy',
]);

export const authSchema = z.object({
  /** Off skips SPF/DKIM/DMARC/ARC entirely (no Authentication-Results, no anti-spoof). */
  enabled: z.boolean().default(true),
  /** Empty: the system resolver's servers (/etc/resolv.conf). `IP`, `IP:PORT`, `[IPv6]:PORT`. */
  dnsServers: z.array(dnsServer).default([]),
  dnsTimeoutMs: z.number().int().min(50).max(30_000).default(2_000),
  dnsTries: z.number().int().min(1).max(5).default(2),
  /** Wall-clock budget for all DNS of one message; past it every check is a temperror. */
  messageBudgetMs: z.number().int().min(100).max(120_000).default(15_000),
  /** Queries per message across SPF, DKIM, DMARC and ARC (SPF's own RFC 7208 §4.6.4 limit of 10 applies inside). */
  maxQueriesPerMessage: z.number().int().min(10).max(1_000).default(100),
  dnsCacheEntries: z.number().int().min(0).max(1_000_000).default(10_000),
  dnsMaxTtlSeconds: z.number().int().min(0).max(604_800).default(86_400),
  /** Act on the sender's DMARC policy (SPEC §2.6); off = results only. */
  honorDmarc: z.boolean().default(true),
  /** What `p=reject` failures get when honorDmarc is on. */
  dmarcRejectAction: z.enum(['reject', 'quarantine']).default('reject'),
  /** Action on compauth=fail (SPEC §2.6 "Spoof"). */
  antiSpoofAction: z.enum(['quarantine', 'junk', 'reject']).default('quarantine'),
  /**
   * Action on SPF fail (the sender's `-all` excludes the source) for anonymous or partner mail that
   * compauth did not pass; EOP's MarkAsSpamSpfRecordHardFail. none keeps the compauth verdict alone.
   */
  spfHardFailAction: z.enum(['none', 'junk', 'quarantine', 'reject']).default('none'),
  /** SCL stamped when a message is junked or quarantined (EXO: 5-6 spam, 9 high confidence). */
  junkScl: z.number().int().min(-1).max(9).default(6),
  /** ARC sealer domains (the ARC-Seal d=) whose vouching turns a DMARC failure into compauth=pass reason=130. */
  trustedArcSealers: z.array(z.string().min(1)).default([]),
  /**
   * Enhanced filtering: filters in front of mxward, skipped in the Received chain. A CIDR alone
   * means a Postfix-format hop; `{ range, mta }` names the MTA whose Received format is read.
   */
  trustedHops: z.array(z.union([cidrSchema, z.object({ range: cidrSchema, mta: z.enum(['postfix', 'sendmail', 'exim', 'qmail', 'exchange', 'haraka']) }).strict()])).default([]),
  /** Minimum RSA key size for DKIM and ARC (RFC 8301 §3.2). */
  minKeyBits: z.number().int().min(512).max(8192).default(1024),
  /** Largest RSA key verified; larger keys are refused unverified (RFC 8301 §3.2 requires up to 4096). */
  maxKeyBits: z.number().int().min(2048).max(8192).default(4096),
  /** DKIM signatures verified per message, aligned ones first; the rest are reported as not evaluated. */
  maxDkimSignatures: z.number().int().min(1).max(50).default(10),
}).strict();

export const quarantineSchema = z.object({
  retentionDays: z.number().int().min(1).max(365).default(30),
  /** One digest per recipient at most this often, for policies with notifications. */
  notificationIntervalMs: z.number().int().min(1_000).default(4 * 3600 * 1000),
  /** Sender address of notification digests; default postmaster@<hostname>. */
  notificationFrom: z.string().min(3).optional(),
  /** How often the node looks for releases, digests and expired messages. */
  pollMs: z.number().int().min(50).max(60_000).default(1_000),
  /** Quarantine policy per verdict type (SPEC §6). */
  policies: z.object({
    ownDomainSpoof: quarantinePolicyNameSchema.default('AdminOnlyAccessPolicy'),
    foreignSpoof: quarantinePolicyNameSchema.default('DefaultFullAccessPolicy'),
    dmarcQuarantine: quarantinePolicyNameSchema.default('DefaultFullAccessPolicy'),
    dmarcReject: quarantinePolicyNameSchema.default('AdminOnlyAccessPolicy'),
  }).strict().default({ ownDomainSpoof: 'AdminOnlyAccessPolicy', foreignSpoof: 'DefaultFullAccessPolicy', dmarcQuarantine: 'DefaultFullAccessPolicy', dmarcReject: 'AdminOnlyAccessPolicy' }),
}).strict();

export type AuthSettings = z.output<typeof authSchema>;
export type QuarantineSettings = z.output<typeof quarantineSchema>;
export type QuarantinePolicyName = z.output<typeof quarantinePolicyNameSchema>;

export function defaultAuthSettings(): AuthSettings {
  return authSchema.parse({});
}

export function defaultQuarantineSettings(): QuarantineSettings {
  return quarantineSchema.parse({});
}
