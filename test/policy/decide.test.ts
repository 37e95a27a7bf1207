// SPEC §2 stages 3-6 as a table over the pure decision core: facts in, reply or attribution out.
// Expected replies are written out as SPEC §3 gives them (code + enhanced code), never taken from
// the catalogue module, so a changed catalogue entry fails here too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { policySchema } from '../../src/config/policy-schema.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import type { CompiledPolicy } from '../../src/policy/compile.ts';
import { decideHeaderFrom, decideMailFrom, decideRecipient } from '../../src/policy/decide.ts';
import { matchConnector } from '../../src/policy/connectors.ts';
import type { Attribution, ClientCertificate, ConnectionFacts, DirectSendKind, MessageFacts, Mode, Stage } from '../../src/domain/types.ts';
import { readAuthor } from '../../src/policy/header-from.ts';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const DAY = 86_400_000;

// ---- building blocks -------------------------------------------------------------------------

/** Accepted domains shared by every case; written the way an administrator might type them. */
const acceptedDomains = [
  { domain: 'contoso.com' },
  { domain: 'Fabrikam.COM.', includeSubdomains: true },
  { domain: 'bücher.example' },               // IDN registered in Unicode
  { domain: 'xn--mnchen-3ya.example' },       // münchen.example registered in punycode
  { domain: 'dir.example', recipients: ['alice@dir.example', 'Bob@DIR.Example'] },
];

type ConnectorInput = Record<string, unknown> & { name: string; type: 'partner' | 'onPremises' };

function partner(name: string, extra: Record<string, unknown>): ConnectorInput {
  return { name, type: 'partner', ...extra };
}
function onPrem(name: string, extra: Record<string, unknown>): ConnectorInput {
  return { name, type: 'onPremises', ...extra };
}

function policyOf(p: { connectors?: ConnectorInput[]; rds?: Mode; hf?: Mode }): CompiledPolicy {
  const doc = policySchema.parse({
    acceptedDomains,
    connectors: p.connectors ?? [],
    ...(p.rds ? { rejectDirectSend: p.rds } : {}),
    ...(p.hf ? { rejectDirectSendHeaderFrom: p.hf } : {}),
  });
  return compilePolicy(doc, 1);
}

function cert(c: { san?: string[]; cn?: string | null; verified?: boolean; from?: number; to?: number }): ClientCertificate {
  return {
    subjectCN: c.cn ?? null,
    dnsNames: c.san ?? [],
    verified: c.verified ?? true,
    verifyError: c.verified === false ? 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' : null,
    validFrom: new Date(c.from ?? NOW - 30 * DAY).toISOString(),
    validTo: new Date(c.to ?? NOW + 30 * DAY).toISOString(),
    fingerprint256: 'AA:BB',
  };
}

interface FactsInput {
  ip?: string;
  tls?: boolean;
  cert?: ClientCertificate;
  listener?: 'inbound' | 'submission';
  authUser?: string;
  sendAs?: string[];
}

function factsOf(f: FactsInput): ConnectionFacts {
  const tls = f.tls || f.cert ? { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', clientCertificate: f.cert ?? null } : null;
  return {
    sessionId: 's1', remoteIp: f.ip ?? '198.51.100.200', remotePort: 40000,
    localPort: f.listener === 'submission' ? 587 : 25, listener: f.listener ?? 'inbound',
    helo: 'client.example', ptr: null, tls,
    authUser: f.authUser ?? null, authSendAs: f.sendAs ?? [],
  };
}

// ---- the table -------------------------------------------------------------------------------

type Expect =
  | { reject: string; stage: Stage }
  | { attribution: Attribution; connector?: string; directSend?: DirectSendKind; wouldReject?: boolean };

interface Case {
  name: string;
  connectors?: ConnectorInput[];
  rds?: Mode;
  hf?: Mode;
  facts?: FactsInput;
  /** Envelope sender as smtp-server hands it over: without brackets, '' for `<>`. */
  mailFrom?: string;
  rcpt?: string;
  /** When present, the end-of-DATA header-From check runs too. */
  headerFrom?: string[];
  expect: Expect;
}

const FOREIGN = 'sender@outside.example';
const OURS = 'user@contoso.com';

const ipPartner = partner('PartnerNet', { senderIPAddresses: ['192.0.2.0/24', '2001:db8::/32'] });
const certPartner = partner('PartnerCert', { tlsSenderCertificateName: 'mx.partner.example' });
const wildcardPartner = partner('PartnerWild', { tlsSenderCertificateName: '*.partner.example' });
const restrictedByIp = partner('LockedIp', { senderDomains: ['partner.example'], senderIPAddresses: ['203.0.113.0/24'], restrictDomainsToIPAddresses: true });
const restrictedByCert = partner('LockedCert', {
  senderDomains: ['partner.example'], senderIPAddresses: ['203.0.113.0/24'],
  tlsSenderCertificateName: 'mx.partner.example', restrictDomainsToCertificate: true,
});
const printers = onPrem('Printers', { senderIPAddresses: ['10.1.0.0/16'], treatMessagesAsInternal: true });
const ds = (stage: Stage = 'rcpt') => ({ reject: '550 5.7.68', stage });

const cases: Case[] = [
  // -- Stage 3: AUTH on the submission listener -------------------------------------------------
  { name: 'submission without AUTH is refused at MAIL', facts: { listener: 'submission' }, mailFrom: OURS, expect: { reject: '530 5.7.57', stage: 'mail' } },
  { name: 'submission without AUTH from an onPremises IP is still refused', connectors: [printers], facts: { listener: 'submission', ip: '10.1.2.3' }, mailFrom: OURS, expect: { reject: '530 5.7.57', stage: 'mail' } },
  { name: 'AUTH user sending as own address is internal', facts: { listener: 'submission', tls: true, authUser: 'u', sendAs: ['user@contoso.com'] }, mailFrom: OURS, rcpt: 'boss@contoso.com', expect: { attribution: 'internal' } },
  { name: 'AUTH user sending as an alias', facts: { listener: 'submission', tls: true, authUser: 'u', sendAs: ['user@contoso.com', 'sales@contoso.com'] }, mailFrom: 'sales@contoso.com', expect: { attribution: 'internal' } },
  { name: 'AUTH send-as compares the domain case-insensitively', facts: { listener: 'submission', tls: true, authUser: 'u', sendAs: ['user@contoso.com'] }, mailFrom: 'user@CONTOSO.com', expect: { attribution: 'internal' } },
  { name: 'AUTH user sending as a colleague is refused (5.7.60)', facts: { listener: 'submission', tls: true, authUser: 'u', sendAs: ['user@contoso.com'] }, mailFrom: 'ceo@contoso.com', expect: { reject: '550 5.7.60', stage: 'mail' } },
  { name: 'AUTH user sending as a foreign address is refused (5.7.60)', facts: { listener: 'submission', tls: true, authUser: 'u', sendAs: ['user@contoso.com'] }, mailFrom: FOREIGN, expect: { reject: '550 5.7.60', stage: 'mail' } },
  { name: 'AUTH user with the null sender is not sending as an own address (5.7.60)', facts: { listener: 'submission', tls: true, authUser: 'u', sendAs: ['user@contoso.com'] }, mailFrom: '', expect: { reject: '550 5.7.60', stage: 'mail' } },
  { name: 'AUTH user may relay to an external recipient', facts: { listener: 'submission', tls: true, authUser: 'u', sendAs: ['user@contoso.com'] }, mailFrom: OURS, rcpt: 'friend@outside.example', expect: { attribution: 'internal' } },
  { name: 'AUTH user with our P1 is never Direct Send, even in enforce', rds: 'enforce', facts: { listener: 'submission', tls: true, authUser: 'u', sendAs: ['user@contoso.com'] }, mailFrom: OURS, rcpt: OURS, headerFrom: ['user@contoso.com'], hf: 'enforce', expect: { attribution: 'internal' } },

  // -- Stage 4: connectors by IP (CIDR edges, IPv6, IPv4-mapped) -------------------------------
  { name: 'IPv4 inside a /24', connectors: [ipPartner], facts: { ip: '192.0.2.77' }, mailFrom: OURS, expect: { attribution: 'partner', connector: 'PartnerNet' } },
  { name: 'IPv4 first address of the /24', connectors: [ipPartner], facts: { ip: '192.0.2.0' }, mailFrom: OURS, expect: { attribution: 'partner', connector: 'PartnerNet' } },
  { name: 'IPv4 last address of the /24', connectors: [ipPartner], facts: { ip: '192.0.2.255' }, mailFrom: OURS, expect: { attribution: 'partner', connector: 'PartnerNet' } },
  { name: 'IPv4 one below the /24 is anonymous', connectors: [ipPartner], facts: { ip: '192.0.1.255' }, mailFrom: OURS, expect: ds() },
  { name: 'IPv4 one above the /24 is anonymous', connectors: [ipPartner], facts: { ip: '192.0.3.0' }, mailFrom: OURS, expect: ds() },
  { name: 'IPv4 /32 matches exactly', connectors: [partner('One', { senderIPAddresses: ['198.51.100.7/32'] })], facts: { ip: '198.51.100.7' }, mailFrom: OURS, expect: { attribution: 'partner', connector: 'One' } },
  { name: 'IPv4 /32 neighbour does not match', connectors: [partner('One', { senderIPAddresses: ['198.51.100.7/32'] })], facts: { ip: '198.51.100.8' }, mailFrom: OURS, expect: ds() },
  { name: 'a bare IPv4 address is a /32', connectors: [partner('Bare', { senderIPAddresses: ['198.51.100.7'] })], facts: { ip: '198.51.100.7' }, mailFrom: OURS, expect: { attribution: 'partner', connector: 'Bare' } },
  // /0 (all of IPv4) is refused by the schema since issue 19 (test/policy/ip-syntax.test.ts); a partner may still be wide.
  { name: 'IPv4 /1 matches an IPv4 client inside it', connectors: [partner('Half4', { senderIPAddresses: ['128.0.0.0/1'] })], facts: { ip: '203.0.113.250' }, mailFrom: OURS, expect: { attribution: 'partner', connector: 'Half4' } },
  { name: 'IPv4 /1 does not match a native IPv6 client', connectors: [partner('Half4', { senderIPAddresses: ['128.0.0.0/1'] })], facts: { ip: '2001:db8::25' }, mailFrom: OURS, expect: ds() },
  { name: 'IPv4-compatible client ::a.b.c.d is IPv6, not its IPv4 range', connectors: [ipPartner], facts: { ip: '::192.0.2.1' }, mailFrom: OURS, expect: ds() },
  { name: 'IPv6 first address of a /32', connectors: [ipPartner], facts: { ip: '2001:db8::' }, mailFrom: OURS, expect: { attribution: 'partner', connector: 'PartnerNet' } },
  { name: 'IPv6 last address of a /32', connectors: [ipPartner], facts: { ip: '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff' }, mailFrom: OURS, expect: { attribution: 'partner', connector: 'PartnerNet' } },
  { name: 'IPv6 just outside the /32', connectors: [ipPartner], facts: { ip: '2001:db9::' }, mailFrom: OURS, expect: ds() },
  { name: 'IPv6 /128 matches exactly, in expanded notation', connectors: [partner('Host6', { senderIPAddresses: ['2001:db8:1::25/128'] })], facts: { ip: '2001:0db8:0001:0000:0000:0000:0000:0025' }, mailFrom: OURS, expect: { attribution: 'partner', connector: 'Host6' } },
  { name: 'IPv6 /128 neighbour does not match', connectors: [partner('Host6', { senderIPAddresses: ['2001:db8:1::25/128'] })], facts: { ip: '2001:db8:1::26' }, mailFrom: OURS, expect: ds() },
  { name: 'IPv4-mapped IPv6 client matches its IPv4 range', connectors: [ipPartner], facts: { ip: '::ffff:192.0.2.1' }, mailFrom: OURS, expect: { attribution: 'partner', connector: 'PartnerNet' } },
  { name: 'IPv4-mapped IPv6 client outside the IPv4 range', connectors: [ipPartner], facts: { ip: '::ffff:192.0.3.1' }, mailFrom: OURS, expect: ds() },
  { name: 'a range written as mapped IPv6 matches a plain IPv4 client', connectors: [partner('Mapped', { senderIPAddresses: ['::ffff:192.0.2.0/120'] })], facts: { ip: '192.0.2.200' }, mailFrom: OURS, expect: { attribution: 'partner', connector: 'Mapped' } },

  // -- Stage 2/4: connectors by certificate (RFC 6125) -----------------------------------------
  { name: 'verified certificate with the exact SAN', connectors: [certPartner], facts: { cert: cert({ san: ['mx.partner.example'] }) }, mailFrom: OURS, expect: { attribution: 'partner', connector: 'PartnerCert' } },
  { name: 'certificate name compared case-insensitively (ASCII)', connectors: [certPartner], facts: { cert: cert({ san: ['MX.Partner.Example'] }) }, mailFrom: OURS, expect: { attribution: 'partner', connector: 'PartnerCert' } },
  // Issue 19: a name is compared as the certificate carries it; a trailing dot is refused, not stripped.
  { name: 'certificate name with a trailing dot is refused', connectors: [certPartner], facts: { cert: cert({ san: ['mx.partner.example.'] }) }, mailFrom: OURS, expect: ds() },
  { name: 'certificate CN with a trailing space is refused', connectors: [certPartner], facts: { cert: cert({ cn: 'mx.partner.example ' }) }, mailFrom: OURS, expect: ds() },
  { name: 'CN is used when the certificate has no SAN dNSName', connectors: [certPartner], facts: { cert: cert({ cn: 'mx.partner.example' }) }, mailFrom: OURS, expect: { attribution: 'partner', connector: 'PartnerCert' } },
  { name: 'CN is ignored when a SAN dNSName is present', connectors: [certPartner], facts: { cert: cert({ cn: 'mx.partner.example', san: ['other.example'] }) }, mailFrom: OURS, expect: ds() },
  { name: 'connector wildcard covers one label', connectors: [wildcardPartner], facts: { cert: cert({ san: ['a.partner.example'] }) }, mailFrom: OURS, expect: { attribution: 'partner', connector: 'PartnerWild' } },
  { name: 'connector wildcard does not cover two labels', connectors: [wildcardPartner], facts: { cert: cert({ san: ['a.b.partner.example'] }) }, mailFrom: OURS, expect: ds() },
  { name: 'connector wildcard does not cover the bare domain', connectors: [wildcardPartner], facts: { cert: cert({ san: ['partner.example'] }) }, mailFrom: OURS, expect: ds() },
  { name: 'certificate wildcard SAN covers the connector name', connectors: [certPartner], facts: { cert: cert({ san: ['*.partner.example'] }) }, mailFrom: OURS, expect: { attribution: 'partner', connector: 'PartnerCert' } },
  { name: 'certificate wildcard SAN does not cover a deeper connector name', connectors: [partner('Deep', { tlsSenderCertificateName: 'a.mx.partner.example' })], facts: { cert: cert({ san: ['*.partner.example'] }) }, mailFrom: OURS, expect: ds() },
  { name: 'unverified certificate is ignored', connectors: [certPartner], facts: { cert: cert({ san: ['mx.partner.example'], verified: false }) }, mailFrom: OURS, expect: ds() },
  { name: 'expired certificate is ignored', connectors: [certPartner], facts: { cert: cert({ san: ['mx.partner.example'], from: NOW - 400 * DAY, to: NOW - DAY }) }, mailFrom: OURS, expect: ds() },
  { name: 'not-yet-valid certificate is ignored', connectors: [certPartner], facts: { cert: cert({ san: ['mx.partner.example'], from: NOW + DAY, to: NOW + 400 * DAY }) }, mailFrom: OURS, expect: ds() },
  { name: 'IDN certificate name: connector in Unicode, certificate in punycode', connectors: [partner('Idn', { tlsSenderCertificateName: 'mx.bücher.example' })], facts: { cert: cert({ san: ['mx.xn--bcher-kva.example'] }) }, mailFrom: OURS, expect: { attribution: 'partner', connector: 'Idn' } },
  { name: 'certificate wins over IP, whatever the connector order', connectors: [ipPartner, certPartner], facts: { ip: '192.0.2.10', cert: cert({ san: ['mx.partner.example'] }) }, mailFrom: OURS, expect: { attribution: 'partner', connector: 'PartnerCert' } },
  { name: 'an ignored (unverified) certificate falls back to the IP match', connectors: [certPartner, ipPartner], facts: { ip: '192.0.2.10', cert: cert({ san: ['mx.partner.example'], verified: false }) }, mailFrom: OURS, expect: { attribution: 'partner', connector: 'PartnerNet' } },

  // -- Stage 4: partner restrictions and requireTls (5.7.51) ------------------------------------
  { name: 'restricted sender domain from a foreign IP: 5.7.51', connectors: [restrictedByIp], facts: { ip: '198.51.100.1' }, mailFrom: 'billing@partner.example', expect: { reject: '550 5.7.51', stage: 'mail' } },
  { name: 'restricted sender domain in mixed case with trailing dot: 5.7.51', connectors: [restrictedByIp], facts: { ip: '198.51.100.1' }, mailFrom: 'Billing@PARTNER.Example.', expect: { reject: '550 5.7.51', stage: 'mail' } },
  { name: 'restricted sender domain from its own IP', connectors: [restrictedByIp], facts: { ip: '203.0.113.9' }, mailFrom: 'billing@partner.example', rcpt: OURS, expect: { attribution: 'partner', connector: 'LockedIp' } },
  { name: 'restricted connector does not claim other sender domains', connectors: [restrictedByIp], facts: { ip: '198.51.100.1' }, mailFrom: FOREIGN, expect: { attribution: 'anonymous' } },
  { name: 'restriction with *.domain covers a subdomain sender', connectors: [partner('LockedSub', { senderDomains: ['*.partner.example'], senderIPAddresses: ['203.0.113.0/24'], restrictDomainsToIPAddresses: true })], facts: { ip: '198.51.100.1' }, mailFrom: 'x@mail.partner.example', expect: { reject: '550 5.7.51', stage: 'mail' } },
  { name: 'the null sender is covered by a * connector', connectors: [ipPartner], facts: { ip: '192.0.2.5' }, mailFrom: '', expect: { attribution: 'partner', connector: 'PartnerNet' } },
  { name: 'the null sender is not covered by a connector scoped to a domain', connectors: [partner('Scoped', { senderDomains: ['partner.example'], senderIPAddresses: ['192.0.2.0/24'] })], facts: { ip: '192.0.2.5' }, mailFrom: '', expect: { attribution: 'anonymous' } },
  { name: 'the null sender has no domain: no 5.7.51', connectors: [restrictedByIp], facts: { ip: '198.51.100.1' }, mailFrom: '', expect: { attribution: 'anonymous' } },
  { name: 'certificate restriction: right IP without certificate is 5.7.51', connectors: [restrictedByCert], facts: { ip: '203.0.113.9' }, mailFrom: 'billing@partner.example', expect: { reject: '550 5.7.51', stage: 'mail' } },
  { name: 'certificate restriction: right certificate', connectors: [restrictedByCert], facts: { ip: '198.51.100.1', cert: cert({ san: ['mx.partner.example'] }) }, mailFrom: 'billing@partner.example', expect: { attribution: 'partner', connector: 'LockedCert' } },
  { name: 'certificate restriction: expired certificate is 5.7.51', connectors: [restrictedByCert], facts: { ip: '203.0.113.9', cert: cert({ san: ['mx.partner.example'], to: NOW - DAY }) }, mailFrom: 'billing@partner.example', expect: { reject: '550 5.7.51', stage: 'mail' } },
  { name: 'requireTls partner over plaintext: 5.7.51', connectors: [partner('TlsOnly', { senderIPAddresses: ['192.0.2.0/24'], requireTls: true })], facts: { ip: '192.0.2.5' }, mailFrom: OURS, expect: { reject: '550 5.7.51', stage: 'mail' } },
  { name: 'requireTls partner over STARTTLS', connectors: [partner('TlsOnly', { senderIPAddresses: ['192.0.2.0/24'], requireTls: true })], facts: { ip: '192.0.2.5', tls: true }, mailFrom: OURS, expect: { attribution: 'partner', connector: 'TlsOnly' } },

  // -- Stage 4: disabled, sender-domain scoping, domain-only connectors -------------------------
  { name: 'disabled connector does not attribute', connectors: [partner('Off', { senderIPAddresses: ['192.0.2.0/24'], enabled: false })], facts: { ip: '192.0.2.5' }, mailFrom: OURS, expect: ds() },
  { name: 'disabled restricted connector does not refuse', connectors: [{ ...restrictedByIp, enabled: false }], facts: { ip: '198.51.100.1' }, mailFrom: 'billing@partner.example', expect: { attribution: 'anonymous' } },
  { name: 'connector scoped to a sender domain ignores other P1 domains', connectors: [partner('Scoped', { senderDomains: ['partner.example'], senderIPAddresses: ['192.0.2.0/24'] })], facts: { ip: '192.0.2.5' }, mailFrom: OURS, expect: ds() },
  { name: 'a connector with only sender domains authenticates nothing', connectors: [partner('DomainOnly', { senderDomains: ['contoso.com'] })], mailFrom: OURS, expect: ds() },

  // -- Stage 4: onPremises ----------------------------------------------------------------------
  { name: 'onPremises by IP is internal with our P1', connectors: [printers], facts: { ip: '10.1.200.3' }, mailFrom: 'scanner@contoso.com', expect: { attribution: 'internal', connector: 'Printers' } },
  { name: 'onPremises may relay to an external recipient', connectors: [printers], facts: { ip: '10.1.200.3' }, mailFrom: 'scanner@contoso.com', rcpt: 'someone@outside.example', expect: { attribution: 'internal', connector: 'Printers' } },
  { name: 'onPremises by certificate', connectors: [onPrem('Exch', { tlsSenderCertificateName: 'exch.contoso.com' })], facts: { cert: cert({ san: ['exch.contoso.com'] }) }, mailFrom: OURS, expect: { attribution: 'internal', connector: 'Exch' } },
  { name: 'onPremises From: our domain is not header-From Direct Send', connectors: [printers], hf: 'enforce', facts: { ip: '10.1.200.3' }, mailFrom: FOREIGN, headerFrom: ['scanner@contoso.com'], expect: { attribution: 'internal', connector: 'Printers' } },

  // -- Stage 5: relay protection ----------------------------------------------------------------
  { name: 'anonymous to an external recipient: relay denied', mailFrom: FOREIGN, rcpt: 'x@elsewhere.example', expect: { reject: '550 5.7.64', stage: 'rcpt' } },
  { name: 'partner to an external recipient: relay denied (partner is not internal)', connectors: [ipPartner], facts: { ip: '192.0.2.5' }, mailFrom: FOREIGN, rcpt: 'x@elsewhere.example', expect: { reject: '550 5.7.64', stage: 'rcpt' } },
  { name: 'percent hack', mailFrom: FOREIGN, rcpt: 'victim%elsewhere.example@contoso.com', expect: { reject: '550 5.7.64', stage: 'rcpt' } },
  { name: 'bang path', mailFrom: FOREIGN, rcpt: 'elsewhere.example!victim@contoso.com', expect: { reject: '550 5.7.64', stage: 'rcpt' } },
  { name: 'quoted local part hiding an address', mailFrom: FOREIGN, rcpt: '"victim@elsewhere.example"@contoso.com', expect: { reject: '550 5.7.64', stage: 'rcpt' } },
  { name: 'source route through us to elsewhere', mailFrom: FOREIGN, rcpt: '<@contoso.com:victim@elsewhere.example>', expect: { reject: '550 5.7.64', stage: 'rcpt' } },
  { name: 'source route ending in our domain is still a routing trick', mailFrom: FOREIGN, rcpt: '<@elsewhere.example,@relay.example:user@contoso.com>', expect: { reject: '550 5.7.64', stage: 'rcpt' } },
  { name: 'address literal recipient', mailFrom: FOREIGN, rcpt: 'user@[192.0.2.1]', expect: { reject: '550 5.7.64', stage: 'rcpt' } },
  { name: 'partner with a percent hack is refused too', connectors: [ipPartner], facts: { ip: '192.0.2.5' }, mailFrom: FOREIGN, rcpt: 'victim%elsewhere.example@contoso.com', expect: { reject: '550 5.7.64', stage: 'rcpt' } },
  { name: 'look-alike suffix is not our domain', mailFrom: FOREIGN, rcpt: 'x@evilcontoso.com', expect: { reject: '550 5.7.64', stage: 'rcpt' } },
  { name: 'our domain as a prefix of a foreign one', mailFrom: FOREIGN, rcpt: 'x@contoso.com.elsewhere.example', expect: { reject: '550 5.7.64', stage: 'rcpt' } },

  // -- Stage 5: accepted-domain comparison ------------------------------------------------------
  { name: 'recipient domain in mixed case with a trailing dot', mailFrom: FOREIGN, rcpt: 'User@CONTOSO.COM.', expect: { attribution: 'anonymous' } },
  { name: 'accepted domain registered with mixed case and a dot', mailFrom: FOREIGN, rcpt: 'x@fabrikam.com', expect: { attribution: 'anonymous' } },
  { name: 'subdomain with the opt-in', mailFrom: FOREIGN, rcpt: 'x@mail.fabrikam.com', expect: { attribution: 'anonymous' } },
  { name: 'deeper subdomain with the opt-in', mailFrom: FOREIGN, rcpt: 'x@a.b.fabrikam.com', expect: { attribution: 'anonymous' } },
  { name: 'subdomain without the opt-in: relay denied', mailFrom: FOREIGN, rcpt: 'x@mail.contoso.com', expect: { reject: '550 5.7.64', stage: 'rcpt' } },
  { name: 'IDN recipient in Unicode, domain registered in Unicode', mailFrom: FOREIGN, rcpt: 'anna@bücher.example', expect: { attribution: 'anonymous' } },
  { name: 'IDN recipient in punycode, domain registered in Unicode', mailFrom: FOREIGN, rcpt: 'anna@xn--bcher-kva.example', expect: { attribution: 'anonymous' } },
  { name: 'IDN recipient in Unicode, domain registered in punycode', mailFrom: FOREIGN, rcpt: 'otto@MÜNCHEN.example', expect: { attribution: 'anonymous' } },

  // -- Stage 5: recipient directory -------------------------------------------------------------
  { name: 'directory: known recipient', mailFrom: FOREIGN, rcpt: 'alice@dir.example', expect: { attribution: 'anonymous' } },
  { name: 'directory: comparison ignores case', mailFrom: FOREIGN, rcpt: 'ALICE@Dir.Example.', expect: { attribution: 'anonymous' } },
  { name: 'directory: entry stored in mixed case', mailFrom: FOREIGN, rcpt: 'bob@dir.example', expect: { attribution: 'anonymous' } },
  { name: 'directory: unknown recipient is 5.1.10', mailFrom: FOREIGN, rcpt: 'carol@dir.example', expect: { reject: '550 5.1.10', stage: 'rcpt' } },
  { name: 'directory applies to internal senders too', connectors: [printers], facts: { ip: '10.1.0.1' }, mailFrom: OURS, rcpt: 'carol@dir.example', expect: { reject: '550 5.1.10', stage: 'rcpt' } },
  { name: 'directory is checked before Direct Send', mailFrom: 'ceo@dir.example', rcpt: 'carol@dir.example', expect: { reject: '550 5.1.10', stage: 'rcpt' } },
  { name: 'relay is checked before Direct Send', mailFrom: OURS, rcpt: 'x@elsewhere.example', expect: { reject: '550 5.7.64', stage: 'rcpt' } },

  // -- Stage 5: Reject Direct Send --------------------------------------------------------------
  { name: 'Direct Send, enforce: 5.7.68 at RCPT', rds: 'enforce', mailFrom: OURS, expect: ds() },
  { name: 'Direct Send, default mode on a new policy is enforce', mailFrom: OURS, expect: ds() },
  { name: 'Direct Send, report: accepted as would-reject', rds: 'report', mailFrom: OURS, expect: { attribution: 'anonymous', directSend: 'p1', wouldReject: true } },
  { name: 'Direct Send, off: accepted, not would-reject', rds: 'off', mailFrom: OURS, expect: { attribution: 'anonymous', directSend: 'p1', wouldReject: false } },
  { name: 'null sender never matches Direct Send', rds: 'enforce', mailFrom: '', expect: { attribution: 'anonymous' } },
  { name: 'null sender written as <>', rds: 'enforce', mailFrom: '<>', expect: { attribution: 'anonymous' } },
  { name: 'P1 in mixed case with trailing dot', mailFrom: 'CEO@Contoso.COM.', expect: ds() },
  { name: 'P1 IDN in Unicode, domain registered in Unicode', mailFrom: 'ceo@BÜCHER.example', expect: ds() },
  { name: 'P1 IDN in punycode, domain registered in Unicode', mailFrom: 'ceo@xn--bcher-kva.example', expect: ds() },
  { name: 'P1 IDN in Unicode, domain registered in punycode', mailFrom: 'ceo@münchen.example', expect: ds() },
  { name: 'P1 subdomain with the opt-in', mailFrom: 'it@mail.fabrikam.com', rcpt: 'x@fabrikam.com', expect: ds() },
  { name: 'P1 subdomain without the opt-in is not ours', mailFrom: 'it@mail.contoso.com', expect: { attribution: 'anonymous' } },
  { name: 'P1 look-alike domain is not ours', mailFrom: 'ceo@contoso.com.elsewhere.example', expect: { attribution: 'anonymous' } },
  { name: 'P1 hidden behind a source route is still ours', mailFrom: '<@relay.example:ceo@contoso.com>', expect: ds() },
  { name: 'Direct Send from an IPv6 client', facts: { ip: '2001:db8:dead::1' }, mailFrom: OURS, expect: ds() },
  { name: 'partner with our P1 is not Direct Send', connectors: [ipPartner], facts: { ip: '192.0.2.5' }, mailFrom: OURS, expect: { attribution: 'partner', connector: 'PartnerNet' } },
  { name: 'report mode: a partner is not even would-reject', rds: 'report', connectors: [ipPartner], facts: { ip: '192.0.2.5' }, mailFrom: OURS, expect: { attribution: 'partner', connector: 'PartnerNet' } },
  { name: 'Direct Send from an IPv4-mapped client outside every connector', connectors: [ipPartner], facts: { ip: '::ffff:198.51.100.3' }, mailFrom: OURS, expect: ds() },
  { name: 'report mode still refuses relay', rds: 'report', mailFrom: OURS, rcpt: 'x@elsewhere.example', expect: { reject: '550 5.7.64', stage: 'rcpt' } },

  // -- Stage 6: header-From Direct Send ---------------------------------------------------------
  { name: 'header-From, enforce: 5.7.68 after DATA', hf: 'enforce', mailFrom: FOREIGN, headerFrom: ['ceo@contoso.com'], expect: ds('data') },
  { name: 'header-From, default report: accepted as would-reject', mailFrom: FOREIGN, headerFrom: ['ceo@contoso.com'], expect: { attribution: 'anonymous', directSend: 'header-from', wouldReject: true } },
  { name: 'header-From, off: not would-reject', hf: 'off', mailFrom: FOREIGN, headerFrom: ['ceo@contoso.com'], expect: { attribution: 'anonymous', directSend: 'header-from', wouldReject: false } },
  { name: 'header-From in mixed case', hf: 'enforce', mailFrom: FOREIGN, headerFrom: ['CEO@CONTOSO.COM'], expect: ds('data') },
  { name: 'header-From IDN in Unicode', hf: 'enforce', mailFrom: FOREIGN, headerFrom: ['ceo@münchen.example'], expect: ds('data') },
  { name: 'header-From: several From addresses are refused (no single author)', hf: 'off', mailFrom: FOREIGN, headerFrom: ['a@outside.example', 'ceo@contoso.com'], expect: { reject: '550 5.6.0', stage: 'data' } },
  { name: 'header-From: no From field is refused', hf: 'off', mailFrom: FOREIGN, headerFrom: [], expect: { reject: '550 5.6.0', stage: 'data' } },
  { name: 'header-From: AUTH user may not put another address in From', facts: { listener: 'submission', tls: true, authUser: 'u', sendAs: ['user@contoso.com'] }, mailFrom: OURS, rcpt: FOREIGN, headerFrom: ['ceo@contoso.com'], expect: { reject: '550 5.7.60', stage: 'data' } },
  { name: 'header-From: foreign From', hf: 'enforce', mailFrom: FOREIGN, headerFrom: ['a@outside.example'], expect: { attribution: 'anonymous' } },
  { name: 'header-From: subdomain without the opt-in is not ours', hf: 'enforce', mailFrom: FOREIGN, headerFrom: ['ceo@mail.contoso.com'], expect: { attribution: 'anonymous' } },
  { name: 'header-From with the null sender', hf: 'enforce', mailFrom: '', headerFrom: ['ceo@contoso.com'], expect: ds('data') },
  { name: 'header-From from a partner is allowed', hf: 'enforce', connectors: [ipPartner], facts: { ip: '192.0.2.5' }, mailFrom: FOREIGN, headerFrom: ['ceo@contoso.com'], expect: { attribution: 'partner', connector: 'PartnerNet' } },
  { name: 'header-From not re-judged after P1 Direct Send was let through (report)', rds: 'report', hf: 'enforce', mailFrom: OURS, headerFrom: ['ceo@contoso.com'], expect: { attribution: 'anonymous', directSend: 'p1', wouldReject: true } },
  { name: 'header-From not re-judged after P1 Direct Send was let through (off)', rds: 'off', hf: 'enforce', mailFrom: OURS, headerFrom: ['ceo@contoso.com'], expect: { attribution: 'anonymous', directSend: 'p1', wouldReject: false } },
];

// ---- running one case through the stages ------------------------------------------------------

type Outcome =
  | { reject: string; stage: Stage; action: string }
  | { attribution: Attribution; connector: string | null; directSend: DirectSendKind | null; wouldReject: boolean };

/** The message facts of one From field listing these addresses (none: no From field at all). */
function messageFrom(addresses: string[]): MessageFacts {
  const { addresses: headerFrom, author } = readAuthor(addresses.length ? [addresses.join(', ')] : []);
  return { headerFrom, author, messageId: null, subject: null, sizeBytes: 100 };
}

function runCase(c: Case): Outcome {
  const policy = policyOf(c);
  const facts = factsOf(c.facts ?? {});
  const mail = decideMailFrom(policy, facts, c.mailFrom ?? FOREIGN, NOW);
  if (!mail.ok) return { reject: `${mail.verdict.reply!.code} ${mail.verdict.reply!.enhanced}`, stage: mail.verdict.stage, action: mail.verdict.action };
  const rcpt = decideRecipient(policy, mail.value, c.rcpt ?? OURS);
  if (!rcpt.ok) return { reject: `${rcpt.verdict.reply!.code} ${rcpt.verdict.reply!.enhanced}`, stage: rcpt.verdict.stage, action: rcpt.verdict.action };
  let directSend = rcpt.value.directSend;
  let wouldReject = rcpt.value.wouldReject;
  if (c.headerFrom) {
    const data = decideHeaderFrom(policy, mail.value, facts, messageFrom(c.headerFrom));
    if (!data.ok) return { reject: `${data.verdict.reply!.code} ${data.verdict.reply!.enhanced}`, stage: data.verdict.stage, action: data.verdict.action };
    if (data.value.directSend) {
      directSend = data.value.directSend;
      wouldReject = data.value.wouldReject;
    }
  }
  return { attribution: mail.value.attribution, connector: mail.value.connector, directSend, wouldReject };
}

test('the table covers at least 60 cases with unique names', () => {
  assert.ok(cases.length >= 60, `${cases.length} cases`);
  assert.equal(new Set(cases.map((c) => c.name)).size, cases.length);
});

for (const c of cases) {
  test(`decide: ${c.name}`, () => {
    const got = runCase(c);
    const want: Outcome = 'reject' in c.expect
      ? { reject: c.expect.reject, stage: c.expect.stage, action: 'reject' }
      : { attribution: c.expect.attribution, connector: c.expect.connector ?? null, directSend: c.expect.directSend ?? null, wouldReject: c.expect.wouldReject ?? false };
    assert.deepEqual(got, want);
  });
}

// ---- a few properties the table does not show -----------------------------------------------

test('a Direct Send refusal says why in its rule hits', () => {
  const policy = policyOf({});
  const mail = decideMailFrom(policy, factsOf({}), 'ceo@contoso.com', NOW);
  assert.ok(mail.ok);
  assert.equal(mail.value.p1DirectSend, true);
  assert.equal(mail.value.p1Domain, 'contoso.com');
  const rcpt = decideRecipient(policy, mail.value, 'user@contoso.com');
  assert.ok(!rcpt.ok);
  assert.ok(rcpt.verdict.hits.some((h) => h.rule === 'rejectDirectSend' && h.detail.includes('contoso.com')), JSON.stringify(rcpt.verdict.hits));
});

test('connector matching reports how it matched (certificate first, then IP)', () => {
  const policy = policyOf({ connectors: [ipPartner, certPartner] });
  const byCert = matchConnector(policy, { remoteIp: '192.0.2.9', tlsActive: true, certificate: cert({ san: ['mx.partner.example'] }), p1Domain: 'contoso.com', nowMs: NOW });
  assert.equal(byCert.kind, 'matched');
  assert.equal(byCert.kind === 'matched' && byCert.by, 'certificate');
  const byIp = matchConnector(policy, { remoteIp: '192.0.2.9', tlsActive: false, certificate: null, p1Domain: 'contoso.com', nowMs: NOW });
  assert.equal(byIp.kind === 'matched' && byIp.by, 'ip');
  const none = matchConnector(policy, { remoteIp: '198.51.100.9', tlsActive: false, certificate: null, p1Domain: 'contoso.com', nowMs: NOW });
  assert.equal(none.kind, 'none');
  const ignored = matchConnector(policy, { remoteIp: '198.51.100.9', tlsActive: true, certificate: cert({ san: ['mx.partner.example'], verified: false }), p1Domain: 'contoso.com', nowMs: NOW });
  assert.equal(ignored.kind, 'none');
  assert.ok(ignored.reasons.some((r) => /not verified/.test(r)), ignored.reasons.join('; '));
});

test('a compiled policy is frozen: a session cannot change the policy it decides with', () => {
  const policy = policyOf({ connectors: [ipPartner] });
  assert.ok(Object.isFrozen(policy));
  assert.ok(Object.isFrozen(policy.connectors));
  assert.throws(() => { (policy as { rejectDirectSend: Mode }).rejectDirectSend = 'off'; }, TypeError);
});

test('the decision does not change its inputs', () => {
  const policy = policyOf({ connectors: [ipPartner] });
  const facts = factsOf({ ip: '192.0.2.5' });
  const snapshot = structuredClone(facts);
  const mail = decideMailFrom(policy, facts, 'a@contoso.com', NOW);
  assert.ok(mail.ok);
  const before = structuredClone(mail.value);
  decideRecipient(policy, mail.value, 'b@contoso.com');
  decideHeaderFrom(policy, mail.value, facts, messageFrom(['c@contoso.com']));
  assert.deepEqual(facts, snapshot);
  assert.deepEqual(mail.value, before);
});
