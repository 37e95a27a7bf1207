// Postfix gives the milter the client certificate's subject ({cert_subject}) but no fingerprint
// macro, while the policy request carries ccert_fingerprint. When both front ends run in one
// process (`mxward milter --policy-listen`), the policy side notes the fingerprint under the SMTP
// connection's client address and port, and the milter reads it back, so a connector pinned by
// fingerprint (issue 15) attributes the same session alike at RCPT and at end of DATA.

interface Entry {
  fingerprint: string;
  expiresMs: number;
}

export class ClientCertificateRegistry {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #ttlMs: number;

  constructor(maxEntries = 10_000, ttlMs = 600_000) {
    this.#maxEntries = maxEntries;
    this.#ttlMs = ttlMs;
  }

  #key(ip: string, port: number): string {
    return `${ip.toLowerCase()}|${port}`;
  }

  note(ip: string, port: number, fingerprint: string, nowMs: number): void {
    if (!ip || !port || !fingerprint) return;
    const key = this.#key(ip, port);
    this.#entries.delete(key); // re-inserted last: the Map's order is the eviction order
    this.#entries.set(key, { fingerprint, expiresMs: nowMs + this.#ttlMs });
    while (this.#entries.size > this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
  }

  lookup(ip: string, port: number, nowMs: number): string | null {
    const entry = this.#entries.get(this.#key(ip, port));
    if (!entry || entry.expiresMs < nowMs) return null;
    return entry.fingerprint;
  }
}
