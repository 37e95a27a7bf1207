// Signed, expiring links for recipients (issue 13): the quarantine digest can carry
// `/console/#/r/<token>`, which the console exchanges for a recipient session. The token is the
// address and expiry, signed with HMAC-SHA256, so nothing is stored per link and a link cannot be
// altered to name another address. The key lives in the store (one row), so every node on one
// PostgreSQL and the CLI beside them sign and check with the same key (docs/cluster.md); the key
// file older versions kept in the data directory is imported into the store on first use, so
// links sent before an upgrade keep opening. The key is never logged or printed.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IdentityStore, LinkKeyCandidate } from '../store/ports.ts';

/** Where versions before the key moved into the store kept it (read for the import, never written). */
export const LINK_KEY_FILE = 'console-link.key';
const MIN_KEY_BYTES = 32;

/** The data directory's key file from an older version, or null when there is none (or it is too short to trust). */
export function legacyLinkKey(dataDir: string): Buffer | null {
  try {
    const key = readFileSync(join(dataDir, LINK_KEY_FILE));
    return key.length >= MIN_KEY_BYTES ? key : null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
}

/** What this process offers the store if it holds no key yet: the old key file's, else a fresh one. */
function candidateKey(dataDir: string): LinkKeyCandidate {
  const legacy = legacyLinkKey(dataDir);
  return legacy ? { key: legacy, origin: 'imported-file' } : { key: randomBytes(MIN_KEY_BYTES), origin: 'generated' };
}

/**
 * The link key of the identities' store, creating it (or importing the data directory's key file)
 * on first use; once a key is stored, the file is not read again.
 */
export function storedLinkKey(identities: Pick<IdentityStore, 'linkKey'>, dataDir: string): Promise<Buffer> {
  return identities.linkKey(() => candidateKey(dataDir));
}

function sign(key: Buffer, payload: string): Buffer {
  return createHmac('sha256', key).update(`mxward-recipient-link\n${payload}`).digest();
}

/** `<payload>.<mac>`, both base64url; the payload is `{a: address, e: expiry in epoch seconds}`. */
export function signRecipientLink(key: Buffer, address: string, expiresAt: Date): string {
  const payload = Buffer.from(JSON.stringify({ a: address.toLowerCase(), e: Math.floor(expiresAt.getTime() / 1000) })).toString('base64url');
  return `${payload}.${sign(key, payload).toString('base64url')}`;
}

export type LinkCheck = { ok: true; address: string; expiresAt: Date } | { ok: false; reason: 'malformed' | 'bad-signature' | 'expired' };

export function verifyRecipientLink(key: Buffer, token: string, now: Date): LinkCheck {
  const parts = token.split('.');
  if (parts.length !== 2 || !/^[A-Za-z0-9_-]+$/.test(parts[0]) || !/^[A-Za-z0-9_-]+$/.test(parts[1])) return { ok: false, reason: 'malformed' };
  const mac = Buffer.from(parts[1], 'base64url');
  const expected = sign(key, parts[0]);
  if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return { ok: false, reason: 'bad-signature' };
  let claims: { a?: unknown; e?: unknown };
  try {
    claims = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')) as { a?: unknown; e?: unknown };
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (typeof claims.a !== 'string' || typeof claims.e !== 'number') return { ok: false, reason: 'malformed' };
  const expiresAt = new Date(claims.e * 1000);
  if (expiresAt.getTime() <= now.getTime()) return { ok: false, reason: 'expired' };
  return { ok: true, address: claims.a, expiresAt };
}
