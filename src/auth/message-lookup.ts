// The DNS view of one message (issue 19). Wraps the budgeted per-message lookup of resolver.ts:
//  - answers are remembered for the message, so the author domain's DMARC records and the
//    aligned identifiers, asked first (prefetch), are decided before any attacker-chosen
//    selector can spend the query or time budget, and mailauth's later identical questions
//    are served from here at no cost;
//  - DKIM keys (`<s>._domainkey.<d>` TXT) are checked before mailauth sees them: an RSA key larger
//    than maxKeyBits or with an odd public exponent is replaced by a revoked record (RFC 6376
//    §3.6.1, empty p=) so that no CPU is spent on it, and the refusal is reported per name.
import { createPublicKey } from 'node:crypto';
import type { SharedKeyCache } from './key-cache.ts';
import type { DnsLookup } from './resolver.ts';

export interface KeyLimits {
  /** RSA modulus bits; RFC 8301 §3.2 requires verifiers to handle up to 4096. */
  maxKeyBits: number;
}

export interface MessageLookup {
  lookup: DnsLookup;
  /** Asks the questions now, in parallel, and keeps the answers (or errors) for the message. */
  prefetch(questions: ReadonlyArray<readonly [string, string]>): Promise<void>;
  /** `<selector>._domainkey.<domain>` → why its key was refused. */
  refusedKeys: Map<string, string>;
}

/** RSA public exponents a signer has any reason to use; a huge one makes verification costly. */
const MAX_PUBLIC_EXPONENT = 65_537n;

/** Why an RSA key in a DKIM key record is refused, or null. Keys we cannot parse are left to mailauth. */
export function refuseKey(recordText: string, limits: KeyLimits): string | null {
  const tags = new Map<string, string>();
  for (const part of recordText.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) tags.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).replace(/\s+/g, ''));
  }
  const k = (tags.get('k') ?? 'rsa').toLowerCase();
  const p = tags.get('p') ?? '';
  if (k !== 'rsa' || p === '') return null;
  let details: { modulusLength?: number; publicExponent?: bigint } | undefined;
  try {
    details = createPublicKey({ key: Buffer.from(p, 'base64'), format: 'der', type: 'spki' }).asymmetricKeyDetails;
  } catch {
    return null;
  }
  const bits = details?.modulusLength ?? 0;
  const e = details?.publicExponent ?? 0n;
  if (bits > limits.maxKeyBits) return `RSA key of ${bits} bits, above the limit of ${limits.maxKeyBits}`;
  if (e < 3n || e > MAX_PUBLIC_EXPONENT || e % 2n === 0n) return `RSA public exponent ${e} refused`;
  return null;
}

function screenKeys(name: string, answer: unknown, limits: KeyLimits, refused: Map<string, string>, keys: SharedKeyCache | undefined): unknown {
  if (!Array.isArray(answer)) return answer;
  return answer.map((row: unknown) => {
    const text = Array.isArray(row) ? row.join('') : String(row);
    // Decoding the key to screen it costs as much as verifying with it: once per record text.
    const why = keys ? keys.screen(`${limits.maxKeyBits} ${text}`, () => refuseKey(text, limits)) : refuseKey(text, limits);
    if (!why) return row;
    refused.set(name.toLowerCase().replace(/\.$/, ''), why);
    return ['v=DKIM1; p='];
  });
}

export function createMessageLookup(base: DnsLookup, limits: KeyLimits, keys?: SharedKeyCache): MessageLookup {
  const memo = new Map<string, Promise<unknown>>();
  const refusedKeys = new Map<string, string>();
  const lookup: DnsLookup = (name, rrtype) => {
    const key = `${rrtype.toUpperCase()} ${name.toLowerCase().replace(/\.$/, '')}`;
    let pending = memo.get(key);
    if (!pending) {
      const isKey = rrtype.toUpperCase() === 'TXT' && /\._domainkey\./i.test(name);
      pending = base(name, rrtype).then((answer) => (isKey ? screenKeys(name, answer, limits, refusedKeys, keys) : answer));
      // Remember the failure too: the same question in the same message gets the same answer.
      pending.catch(() => {});
      memo.set(key, pending);
    }
    return pending;
  };
  return {
    lookup,
    refusedKeys,
    async prefetch(questions) {
      await Promise.all(questions.map(([name, type]) => lookup(name, type).catch(() => null)));
    },
  };
}

/** The names mailauth's DMARC Tree Walk (RFC 9989 §4.10) asks for a domain, longest first. */
export function dmarcWalkNames(domain: string): string[] {
  const WALK_MAX_LABELS = 7;
  let labels = domain.toLowerCase().replace(/\.$/, '').split('.').filter(Boolean);
  const names: string[] = [];
  for (let i = 0; i < 16 && labels.length > 0; i += 1) {
    names.push(`_dmarc.${labels.join('.')}`);
    labels = labels.length > WALK_MAX_LABELS ? labels.slice(-WALK_MAX_LABELS) : labels.slice(1);
  }
  return names;
}
