// A short memory of resolved API tokens (issue 13): the console's load client, or a script
// polling the API, sends the same token many times a second, and each request looked the token
// up in the identity store on the gateway's event loop. An entry lives at most TTL_MS; changes
// made in this process (revoke, account changes) clear it at once, while a token revoked on
// another node (or by the CLI) stops working here within TTL_MS (docs/console.md).
import type { IdentityPrincipal } from './identities.ts';

export const PRINCIPAL_CACHE_TTL_MS = 1000;
const MAX_ENTRIES = 1000;

interface Entry { principal: IdentityPrincipal; cachedAtMs: number; expiresAtMs: number }

export class PrincipalCache {
  readonly #entries = new Map<string, Entry>();
  #generation = 0;

  /** Taken before a store lookup and handed to set: a lookup that raced a clear() is not kept. */
  get generation(): number {
    return this.#generation;
  }

  /** The principal of a token hash looked up less than TTL_MS ago, unless the token has expired since. */
  get(tokenHash: string, nowMs: number): IdentityPrincipal | undefined {
    const entry = this.#entries.get(tokenHash);
    if (!entry) return undefined;
    const age = nowMs - entry.cachedAtMs;
    if (age < 0 || age >= PRINCIPAL_CACHE_TTL_MS || nowMs >= entry.expiresAtMs) {
      this.#entries.delete(tokenHash);
      return undefined;
    }
    return entry.principal;
  }

  /** expiresAtMs: the token's own expiry (Infinity for none). */
  set(tokenHash: string, principal: IdentityPrincipal, nowMs: number, expiresAtMs: number, generation: number): void {
    if (generation !== this.#generation) return;
    if (this.#entries.size >= MAX_ENTRIES) {
      for (const [key, e] of this.#entries) if (nowMs - e.cachedAtMs >= PRINCIPAL_CACHE_TTL_MS) this.#entries.delete(key);
      if (this.#entries.size >= MAX_ENTRIES) this.#entries.clear();
    }
    this.#entries.set(tokenHash, { principal, cachedAtMs: nowMs, expiresAtMs });
  }

  clear(): void {
    this.#generation++;
    this.#entries.clear();
  }
}
