// AUTH failure limits (issue 11, docs/security.md "Session and resource limits"), in the spirit of
// Postfix's smtpd_client_auth_rate_limit and Dovecot's auth_failure_delay: failures are counted
// per client (IPv4 address or IPv6 prefix) and per user name; each failure's reply waits longer
// (doubling), and past a threshold the client or the name is locked out for a while, answered
// 454 4.7.0 without running scrypt. Counts live in memory, per process, bounded in size.
import { HashGate } from '../users/passwords.ts';

export interface AuthThrottleSettings {
  authFailuresBeforeLockout: number;
  authLockoutMs: number;
  authFailureDelayMs: number;
  authFailureMaxDelayMs: number;
  passwordHashConcurrency: number;
  passwordHashQueueMax: number;
}

interface FailureWindow {
  count: number;
  startedMs: number;
  lockedUntilMs: number;
}

/** Entries kept per kind (client, user); the oldest go first when an attack brings more. */
const MAX_TRACKED = 50_000;

/** Failures within authLockoutMs of the first one, per key; expired windows are dropped lazily. */
class FailureCounter {
  readonly #windows = new Map<string, FailureWindow>();
  readonly #settings: AuthThrottleSettings;

  constructor(settings: AuthThrottleSettings) {
    this.#settings = settings;
  }

  locked(key: string, nowMs: number): boolean {
    const w = this.#windows.get(key);
    return w !== undefined && w.lockedUntilMs > nowMs;
  }

  /** Counts a failure; returns the count within the current window. */
  add(key: string, nowMs: number): number {
    let w = this.#windows.get(key);
    if (!w || (nowMs - w.startedMs > this.#settings.authLockoutMs && w.lockedUntilMs <= nowMs)) {
      w = { count: 0, startedMs: nowMs, lockedUntilMs: 0 };
    }
    w.count += 1;
    if (w.count >= this.#settings.authFailuresBeforeLockout) w.lockedUntilMs = nowMs + this.#settings.authLockoutMs;
    this.#windows.delete(key); // re-insert: Map order is then oldest-activity first
    this.#windows.set(key, w);
    if (this.#windows.size > MAX_TRACKED) this.#windows.delete(this.#windows.keys().next().value!);
    return w.count;
  }

  clear(key: string): void {
    this.#windows.delete(key);
  }
}

export type AuthAdmission = { ok: true } | { ok: false; lockedBy: 'client' | 'user' };

export interface AuthFailureOutcome {
  /** How long the 535 waits. */
  delayMs: number;
  /** Failures counted for the client and for the user name in their current windows. */
  clientFailures: number;
  userFailures: number;
}

export class AuthThrottle {
  readonly #settings: AuthThrottleSettings;
  readonly #clients: FailureCounter;
  readonly #users: FailureCounter;
  readonly #now: () => number;
  /** Bounds scrypt's share of the thread pool (users/passwords.ts). */
  readonly hashGate: HashGate;

  constructor(settings: AuthThrottleSettings, now: () => number = Date.now) {
    this.#settings = settings;
    this.#clients = new FailureCounter(settings);
    this.#users = new FailureCounter(settings);
    this.#now = now;
    this.hashGate = new HashGate(settings.passwordHashConcurrency, settings.passwordHashQueueMax);
  }

  /** Before any password check: a locked client or user name gets no scrypt at all. */
  admit(clientKey: string, username: string): AuthAdmission {
    const nowMs = this.#now();
    if (this.#clients.locked(clientKey, nowMs)) return { ok: false, lockedBy: 'client' };
    if (this.#users.locked(userKey(username), nowMs)) return { ok: false, lockedBy: 'user' };
    return { ok: true };
  }

  recordFailure(clientKey: string, username: string): AuthFailureOutcome {
    const nowMs = this.#now();
    const clientFailures = this.#clients.add(clientKey, nowMs);
    const userFailures = this.#users.add(userKey(username), nowMs);
    const n = Math.max(clientFailures, userFailures);
    const s = this.#settings;
    const delayMs = Math.min(s.authFailureMaxDelayMs, s.authFailureDelayMs * 2 ** Math.min(n - 1, 30));
    return { delayMs, clientFailures, userFailures };
  }

  /**
   * A correct password clears the user name's count, not the client's: an attacker who owns
   * one account must not be able to reset the count of its guesses at others.
   */
  recordSuccess(username: string): void {
    this.#users.clear(userKey(username));
  }
}

/** User names compare case-insensitively (store lookups do too), so case cannot dodge the count. */
function userKey(username: string): string {
  return username.toLowerCase();
}

const throttles = new WeakMap<object, AuthThrottle>();

/** One throttle per gateway (keyed by its settings object), shared by all its listeners. */
export function authThrottleFor(settings: AuthThrottleSettings): AuthThrottle {
  let throttle = throttles.get(settings);
  if (!throttle) {
    throttle = new AuthThrottle(settings);
    throttles.set(settings, throttle);
  }
  return throttle;
}
