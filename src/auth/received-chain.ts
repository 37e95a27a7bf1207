// Enhanced filtering (issue 3, hardened in issue 19): when mxward sits behind another filter, the
// connecting IP is that filter's, and SPF against it means nothing. The source is read from the
// Received field the trusted hop itself added (RFC 5321 §4.4: newest first), in the exact format
// that hop's MTA writes, and only from the part the MTA filled in from the TCP connection: never
// from the HELO name or anything else the client chose. A field that does not have that shape
// leaves the source unknown (the caller then evaluates no SPF and says why); mxward never falls
// back to authenticating the hop's own IP, which every customer of a shared filter lists in SPF.
import ipaddr from 'ipaddr.js';
import type { HeaderField } from '../smtp/header-section.ts';
import { fieldValue } from '../smtp/header-section.ts';
import type { IpRange } from '../policy/compile.ts';
import { ipInRanges, parseIp } from '../policy/compile.ts';

export type HopMta = 'postfix' | 'sendmail' | 'exim' | 'qmail' | 'exchange' | 'haraka';
export const HOP_MTAS: readonly HopMta[] = ['postfix', 'sendmail', 'exim', 'qmail', 'exchange', 'haraka'];

export interface TrustedHop {
  range: IpRange;
  mta: HopMta;
}

export interface ReceivedFrom {
  helo: string | null;
  ip: string | null;
}

// Pieces of the patterns. A HELO argument is one word to every MTA listed (they refuse or, like
// qmail, rewrite whitespace and brackets), so `\S+` cannot swallow the MTA's own comment.
const IP = '([0-9A-Fa-f:.]+)';
const BRACKETED_IP = `\\[(?:IPv6:)?${IP}\\](?::\\d{1,5})?`;

/**
 * One pattern per MTA for the start of a Received field it writes; group `ip` is the address of
 * the TCP peer, group `helo` the name it gave. Formats as each MTA documents or writes them:
 *  - Postfix (smtpd/smtpd.c):     from HELO (RDNS|unknown [IP])                    RDNS [IPv6:…] for v6
 *  - Haraka (received header):    from HELO (RDNS|Unknown [IP])
 *  - Sendmail ($_ macro):         from HELO ([ident@]RDNS [IP] [(may be forged)])  or ([IP])
 *  - Exim ($sender_rcvhost):      from RDNS ([IP] helo=HELO)  /  from [IP] (helo=HELO)  /  from [IP]
 *  - qmail (received.c):          from RDNS|unknown [(HELO HELO)] ([info@]IP)      unsafe chars → "?"
 *  - Exchange / EOP:              from HELO (IP) by …                              bare address
 */
const PATTERNS: Record<HopMta, RegExp[]> = {
  postfix: [new RegExp(`^from\\s+(?<helo>\\S+)\\s+\\(\\S+\\s+${BRACKETED_IP.replace(IP, '(?<ip>[0-9A-Fa-f:.]+)')}\\)(?:\\s|$)`)],
  haraka: [new RegExp(`^from\\s+(?<helo>\\S+)\\s+\\(\\S+\\s+${BRACKETED_IP.replace(IP, '(?<ip>[0-9A-Fa-f:.]+)')}\\)(?:\\s|$)`)],
  sendmail: [new RegExp(`^from\\s+(?<helo>\\S+)\\s+\\((?:\\S+@)?(?:[^\\s\\[\\]()@]+\\s+)?${BRACKETED_IP.replace(IP, '(?<ip>[0-9A-Fa-f:.]+)')}(?:\\s+\\(may be forged\\))?\\)(?:\\s|$)`)],
  exim: [
    new RegExp(`^from\\s+[^\\s\\[\\]()]+\\s+\\(${BRACKETED_IP.replace(IP, '(?<ip>[0-9A-Fa-f:.]+)')}(?:\\s+helo=(?<helo>\\S+?))?(?:\\s+ident=\\S+?)?\\)(?:\\s|$)`),
    new RegExp(`^from\\s+${BRACKETED_IP.replace(IP, '(?<ip>[0-9A-Fa-f:.]+)')}(?:\\s+\\(helo=(?<helo>\\S+?)\\))?(?:\\s|$)`),
  ],
  qmail: [new RegExp(`^from\\s+\\S+\\s+(?:\\(HELO\\s+(?<helo>\\S+)\\)\\s+)?\\((?:[^\\s()@]*@)?(?<ip>[0-9A-Fa-f:.]+)\\)(?:\\s|$)`)],
  exchange: [new RegExp(`^from\\s+(?<helo>\\S+)\\s+\\((?<ip>[0-9A-Fa-f:.]+)\\)\\s+by\\s`)],
};

/** The client a Received field written by `mta` records, or null when the field is not in its format. */
export function parseReceivedFrom(value: string, mta: HopMta = 'postfix'): ReceivedFrom | null {
  const text = value.replace(/\s+/g, ' ').trim();
  for (const re of PATTERNS[mta]) {
    const m = re.exec(text);
    // Leading-zero octets are refused outright: some parsers read them as octal (issue 19).
    const ip = m?.groups?.ip && !/(^|[.:])0\d/.test(m.groups.ip) ? parseIp(m.groups.ip) : null;
    if (m && ip) return { helo: m.groups?.helo ?? null, ip: ip.toString() };
  }
  return null;
}

/** `CIDR` (Postfix format) or `{ range, mta }`, as auth.trustedHops takes them. */
export function compileHops(entries: ReadonlyArray<string | { range: string; mta: HopMta }>): TrustedHop[] {
  return entries.map((entry) => {
    // The text was validated by the config schema (strict IP syntax); mapped IPv4 compares as IPv4.
    const text = typeof entry === 'string' ? entry : entry.range;
    let [address, bits] = (text.includes('/') ? ipaddr.parseCIDR(text) : [ipaddr.parse(text), text.includes(':') ? 128 : 32]) as IpRange;
    if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
      address = (address as ipaddr.IPv6).toIPv4Address();
      bits -= 96;
    }
    return { range: [address, bits] as IpRange, mta: typeof entry === 'string' ? 'postfix' : entry.mta };
  });
}

function hopFor(ip: ipaddr.IPv4 | ipaddr.IPv6, hops: readonly TrustedHop[]): TrustedHop | null {
  return hops.find((h) => ipInRanges(ip, [h.range])) ?? null;
}

export interface MessageSource {
  /** The client to authenticate; null when it could not be determined behind trusted hops. */
  ip: string | null;
  helo: string | null;
  /** Trusted hops that were skipped, newest first; empty when the client itself is the source. */
  skipped: string[];
  /** Why the source is unknown, for the trace. */
  problem: string | null;
}

const MAX_HOPS = 20;

/** The client to authenticate: the connecting one, or the first untrusted one behind trusted hops. */
export function findMessageSource(remoteIp: string, helo: string | null, fields: HeaderField[], hops: readonly TrustedHop[]): MessageSource {
  const client = parseIp(remoteIp);
  let hop = client ? hopFor(client, hops) : null;
  if (!client || !hop) return { ip: remoteIp, helo, skipped: [], problem: null };
  const skipped = [client.toString()];
  const received = fields.filter((f) => f.name === 'received').slice(0, MAX_HOPS);
  for (const field of received) {
    // This field is the one the current hop added (it is the newest one left): read it in that hop's format.
    const from = parseReceivedFrom(fieldValue(field), hop.mta);
    if (!from?.ip) return { ip: null, helo: null, skipped, problem: `Received field added by ${skipped[skipped.length - 1]} is not in the ${hop.mta} format` };
    const addr = parseIp(from.ip)!;
    const next = hopFor(addr, hops);
    if (!next) return { ip: addr.toString(), helo: from.helo, skipped, problem: null };
    skipped.push(addr.toString());
    hop = next;
  }
  return { ip: null, helo: null, skipped, problem: received.length === 0 ? 'no Received field from the trusted hop' : 'every Received client is a trusted hop' };
}
