// Signed, expiring links for recipients (issue 13): the quarantine digest can carry
// `/console/#/r/<token>`, which the console exchanges for a recipient session. The token is the
// address and expiry, signed with HMAC-SHA256 under a key kept in the data directory (0600), so
// nothing is stored per link and a link cannot be altered to name another address.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const LINK_KEY_FILE = 'console-link.key';

/** Reads the link key, creating it (32 random bytes, mode 0600) on first use. */
export function loadLinkKey(dataDir: string): Buffer {
  const file = join(dataDir, LINK_KEY_FILE);
  try {
    const key = readFileSync(file);
    if (key.length >= 32) return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  try {
    // wx: two processes starting at once must not each write a different key.
    writeFileSync(file, key, { mode: 0o600, flag: 'wx' });
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file);
    throw err;
  }
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
