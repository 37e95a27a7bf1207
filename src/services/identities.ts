// Who may use the admin API and console (issue 13): console accounts (scrypt, as the submission
// users), API tokens (random, shown once, stored as SHA-256, scoped, expiring, revocable),
// sessions (random id in a cookie, stored as SHA-256, with a CSRF token), recipients signing in
// with their mail credentials or a signed link, and login throttling per client and per name.
// Used by the API routes and by `mxward console`; every change is written to the audit log.
import { createHash, randomBytes } from 'node:crypto';
import type { BootstrapConfig } from '../config/bootstrap.ts';
import { AuthThrottle } from '../smtp/auth-throttle.ts';
import { clientKey as clientKeyOf } from '../smtp/connection-limits.ts';
import { openIdentityStore } from '../store/open-identity-store.ts';
import type { ConsoleAccount, IdentityRole, IdentityStore, PolicyStore, StoredApiToken, StoredSession, UserStore } from '../store/ports.ts';
import { hashPassword, verifyPassword } from '../users/passwords.ts';
import { ServiceError } from './service-error.ts';
import { signRecipientLink, storedLinkKey, verifyRecipientLink } from './identity-links.ts';
import { SignInTurns } from './sign-in-turns.ts';
import { PrincipalCache } from './principal-cache.ts';

export type Scope = 'read' | 'write';

/** The same shape as web/api-route.ts Principal (services do not import web/). */
export interface IdentityPrincipal {
  kind: 'session' | 'token' | 'recipient-link';
  name: string;
  role: IdentityRole;
  scopes: Scope[];
  addresses: string[];
}

export interface LoginSettings {
  failuresBeforeLockout: number;
  lockoutMs: number;
  failureDelayMs: number;
  failureMaxDelayMs: number;
  sessionTtlMs: number;
}

export const defaultLoginSettings: LoginSettings = {
  failuresBeforeLockout: 5, lockoutMs: 15 * 60_000, failureDelayMs: 250, failureMaxDelayMs: 4000, sessionTtlMs: 8 * 3600_000,
};

export interface IdentityServiceOptions {
  identities: IdentityStore;
  /** For audit entries (PolicyStore.appendAudit) and recipient sign-in (the submission users). */
  store: Pick<PolicyStore, 'appendAudit'> & Pick<UserStore, 'getUser'>;
  /** HMAC key for recipient links: the store's, shared by every node on it (identity-links.ts storedLinkKey). */
  linkKey: Buffer;
  login?: Partial<LoginSettings>;
  now?: () => Date;
}

export interface NewSession {
  /** The cookie value: shown to the client only, the store keeps its SHA-256. */
  sessionId: string;
  csrfToken: string;
  expiresAt: string;
  principal: IdentityPrincipal;
}

export type LoginOutcome =
  | { ok: true; session: NewSession }
  | { ok: false; reason: 'invalid'; delayMs: number }
  | { ok: false; reason: 'rate_limited'; retryAfterMs: number };

export interface PublicToken {
  id: string;
  name: string;
  role: IdentityRole;
  scopes: Scope[];
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
export const STAFF_ROLES: readonly IdentityRole[] = ['administrator', 'helpdesk', 'auditor'];
const MIN_PASSWORD = 12;
/** lastUsedAt is written at most this often per token, so a busy client does not write on every request. */
const TOUCH_INTERVAL_MS = 60_000;

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

export class IdentityService {
  readonly #identities: IdentityStore;
  readonly #store: IdentityServiceOptions['store'];
  readonly #linkKey: Buffer;
  readonly #login: LoginSettings;
  readonly #throttle: AuthThrottle;
  readonly #turns = new SignInTurns();
  readonly #tokens = new PrincipalCache();
  readonly #now: () => Date;

  constructor(options: IdentityServiceOptions) {
    this.#identities = options.identities;
    this.#store = options.store;
    this.#linkKey = options.linkKey;
    this.#login = { ...defaultLoginSettings, ...options.login };
    this.#now = options.now ?? (() => new Date());
    const l = this.#login;
    this.#throttle = new AuthThrottle({
      authFailuresBeforeLockout: l.failuresBeforeLockout, authLockoutMs: l.lockoutMs, authFailureDelayMs: l.failureDelayMs,
      authFailureMaxDelayMs: l.failureMaxDelayMs, passwordHashConcurrency: 1, passwordHashQueueMax: 16,
    }, () => this.#now().getTime());
  }

  // --- accounts -------------------------------------------------------------------------------

  async addAccount(username: string, role: IdentityRole, password: string, actor: string): Promise<ConsoleAccount> {
    if (!USERNAME.test(username)) throw new ServiceError('validation_failed', 'username: letters, digits and . _ @ - (at most 64)', 'username');
    if (!STAFF_ROLES.includes(role)) throw new ServiceError('validation_failed', `role: one of ${STAFF_ROLES.join(', ')} (recipients sign in with their mail credentials)`, 'role');
    if (password.length < MIN_PASSWORD) throw new ServiceError('validation_failed', `password: at least ${MIN_PASSWORD} characters`, 'password');
    if (await this.#identities.getAccount(username)) throw new ServiceError('conflict', `account ${username} already exists`);
    const account: ConsoleAccount = { username, role, passwordHash: await hashPassword(password), createdAt: this.#now().toISOString() };
    // Insert-only: of two nodes creating the first `admin` at once, one wins and the other is told.
    if (!(await this.#identities.createAccount(account))) throw new ServiceError('conflict', `account ${username} already exists`);
    await this.#store.appendAudit(actor, 'console.account.add', null, { username, role });
    return account;
  }

  /** A new role and/or password; the account's open sessions end, so the change takes effect at once. */
  async updateAccount(username: string, changes: { role?: IdentityRole; password?: string }, actor: string): Promise<Omit<ConsoleAccount, 'passwordHash'>> {
    const existing = await this.#identities.getAccount(username);
    if (!existing) throw new ServiceError('not_found', `no account ${username}`);
    if (changes.role === undefined && changes.password === undefined) throw new ServiceError('validation_failed', 'give a new role or password', 'role');
    if (changes.role !== undefined && !STAFF_ROLES.includes(changes.role)) throw new ServiceError('validation_failed', `role: one of ${STAFF_ROLES.join(', ')}`, 'role');
    if (changes.password !== undefined && changes.password.length < MIN_PASSWORD) throw new ServiceError('validation_failed', `password: at least ${MIN_PASSWORD} characters`, 'password');
    if (existing.role === 'administrator' && changes.role !== undefined && changes.role !== 'administrator') await this.#keepOneAdministrator(username);
    const updated: ConsoleAccount = {
      ...existing, role: changes.role ?? existing.role,
      passwordHash: changes.password === undefined ? existing.passwordHash : await hashPassword(changes.password),
    };
    await this.#identities.putAccount(updated);
    await this.#identities.removeSessionsOf(username);
    this.#tokens.clear();
    await this.#store.appendAudit(actor, 'console.account.set', { username, role: existing.role }, { username, role: updated.role, passwordChanged: changes.password !== undefined });
    return { username, role: updated.role, createdAt: updated.createdAt };
  }

  async #keepOneAdministrator(username: string): Promise<void> {
    const admins = (await this.#identities.listAccounts()).filter((a) => a.role === 'administrator');
    if (admins.length <= 1) throw new ServiceError('conflict', `${username} is the last administrator; add another first`);
  }

  async removeAccount(username: string, actor: string): Promise<void> {
    const existing = await this.#identities.getAccount(username);
    if (!existing) throw new ServiceError('not_found', `no account ${username}`);
    if (existing.role === 'administrator') await this.#keepOneAdministrator(username);
    await this.#identities.removeAccount(username);
    this.#tokens.clear();
    await this.#store.appendAudit(actor, 'console.account.remove', { username, role: existing.role }, null);
  }

  async listAccounts(): Promise<Array<Omit<ConsoleAccount, 'passwordHash'>>> {
    return (await this.#identities.listAccounts()).map(({ username, role, createdAt }) => ({ username, role, createdAt }));
  }

  async hasAccounts(): Promise<boolean> {
    return (await this.#identities.listAccounts()).length > 0;
  }

  // --- tokens ---------------------------------------------------------------------------------

  /** The secret is returned here and nowhere else. */
  async createToken(input: { name: string; role: IdentityRole; scopes: Scope[]; expiresAt: string | null }, actor: string): Promise<{ token: string; info: PublicToken }> {
    if (!STAFF_ROLES.includes(input.role)) throw new ServiceError('validation_failed', `role: one of ${STAFF_ROLES.join(', ')}`, 'role');
    if (input.scopes.length === 0) throw new ServiceError('validation_failed', 'scopes: at least one of read, write', 'scopes');
    if (input.role === 'auditor' && input.scopes.includes('write')) throw new ServiceError('validation_failed', 'scopes: an auditor token is read only', 'scopes');
    const now = this.#now();
    if (input.expiresAt !== null && Date.parse(input.expiresAt) <= now.getTime()) throw new ServiceError('validation_failed', 'expiresAt: must be in the future', 'expiresAt');
    const id = randomBytes(6).toString('hex');
    // The id is part of the token so a leaked token in a log can be traced to its row and revoked.
    const token = `mxw_${id}_${randomBytes(32).toString('base64url')}`;
    const stored: StoredApiToken = {
      id, name: input.name, role: input.role, scopes: [...new Set(input.scopes)], tokenHash: sha256Hex(token), createdBy: actor,
      createdAt: now.toISOString(), expiresAt: input.expiresAt === null ? null : new Date(input.expiresAt).toISOString(), revokedAt: null, lastUsedAt: null,
    };
    await this.#identities.addToken(stored);
    await this.#store.appendAudit(actor, 'console.token.create', null, { id, name: stored.name, role: stored.role, scopes: stored.scopes, expiresAt: stored.expiresAt });
    return { token, info: publicToken(stored) };
  }

  async revokeToken(id: string, actor: string): Promise<void> {
    const revoked = await this.#identities.revokeToken(id, this.#now().toISOString());
    this.#tokens.clear(); // the next request reads the store again: revoked here means refused at once
    if (!revoked) throw new ServiceError('not_found', `no active token ${id}`);
    await this.#store.appendAudit(actor, 'console.token.revoke', { id }, null);
  }

  async listTokens(): Promise<PublicToken[]> {
    return (await this.#identities.listTokens()).map(publicToken);
  }

  /** The principal for a bearer token, or null when unknown, revoked or expired. */
  async authenticateToken(token: string): Promise<IdentityPrincipal | null> {
    if (!token.startsWith('mxw_') || token.length > 200) return null;
    const hash = sha256Hex(token);
    const now = this.#now();
    const cached = this.#tokens.get(hash, now.getTime());
    if (cached) return cached;
    const generation = this.#tokens.generation;
    const row = await this.#identities.findTokenByHash(hash);
    if (!row || row.revokedAt !== null || (row.expiresAt !== null && Date.parse(row.expiresAt) <= now.getTime())) return null;
    if (row.lastUsedAt === null || now.getTime() - Date.parse(row.lastUsedAt) >= TOUCH_INTERVAL_MS) {
      await this.#identities.touchToken(row.id, now.toISOString());
    }
    const principal: IdentityPrincipal = { kind: 'token', name: row.name, role: row.role, scopes: row.scopes, addresses: [] };
    this.#tokens.set(hash, principal, now.getTime(), row.expiresAt === null ? Infinity : Date.parse(row.expiresAt), generation);
    return principal;
  }

  // --- sessions -------------------------------------------------------------------------------

  /** A console account's sign-in. `clientKey` is the client's address (throttled with the name). */
  async login(username: string, password: string, clientKey: string): Promise<LoginOutcome> {
    return this.#throttled(clientKey, `account:${username}`, async () => {
      const account = await this.#identities.getAccount(username);
      // A missing account still costs one hash, so the reply time does not tell which names exist.
      const ok = await verifyPassword(password, account?.passwordHash ?? DUMMY_HASH);
      if (!account || !ok) return null;
      return { principal: { kind: 'session', name: account.username, role: account.role, scopes: ['read', 'write'], addresses: [] } };
    });
  }

  /** A recipient's sign-in with the submission user's credentials: sees that user's addresses only. */
  async recipientLogin(username: string, password: string, clientKey: string): Promise<LoginOutcome> {
    return this.#throttled(clientKey, `user:${username}`, async () => {
      const user = await this.#store.getUser(username);
      const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
      if (!user || !ok || user.addresses.length === 0) return null;
      return {
        principal: { kind: 'recipient-link', name: user.username, role: 'recipient', scopes: ['read', 'write'], addresses: user.addresses.map((a) => a.toLowerCase()) },
        credential: passwordTag(user.passwordHash),
      };
    });
  }

  /** Exchanges a signed link from the quarantine digest for a recipient session of that address. */
  async recipientLinkLogin(token: string, clientKey: string): Promise<LoginOutcome> {
    // Counted per claimed address (readable without the key), so forged links for one address
    // cannot lock out the links of everybody else.
    return this.#throttled(clientKey, `link:${claimedAddress(token)}`, async () => {
      const check = verifyRecipientLink(this.#linkKey, token, this.#now());
      if (!check.ok || !/^[^@\s]+@[^@\s]+$/.test(check.address)) return null;
      // The session ends when the link does if that is sooner: following a link shortly before it
      // expires must not buy a full session's time.
      return {
        principal: { kind: 'recipient-link', name: check.address, role: 'recipient', scopes: ['read', 'write'], addresses: [check.address] },
        credential: LINK_CREDENTIAL, notAfter: check.expiresAt,
      };
    });
  }

  /** A link for the digest or for a helpdesk to send; valid for `ttlMs`. */
  async createRecipientLink(address: string, ttlMs: number, actor: string): Promise<{ token: string; expiresAt: string }> {
    // Checked here too, not only by the API and CLI: a link for "" would be a recipient of no
    // address, which the quarantine must never read as "no recipient filter".
    if (!/^[^@\s]+@[^@\s]+$/.test(address)) throw new ServiceError('validation_failed', `address: not an address: ${JSON.stringify(address.slice(0, 320))}`, 'address');
    const expiresAt = new Date(this.#now().getTime() + ttlMs);
    const token = signRecipientLink(this.#linkKey, address, expiresAt);
    await this.#store.appendAudit(actor, 'console.recipient-link.create', null, { address: address.toLowerCase(), expiresAt: expiresAt.toISOString() });
    return { token, expiresAt: expiresAt.toISOString() };
  }

  /**
   * Signs links with the store's key (the same on every node) for the quarantine digest's link
   * builder, which is synchronous and makes one link per notified recipient without an audit
   * entry each. The key itself stays inside this service.
   */
  recipientLinkSigner(): (address: string, expiresAt: Date) => string {
    const key = this.#linkKey;
    return (address, expiresAt) => signRecipientLink(key, address, expiresAt);
  }

  async #throttled(clientIp: string, name: string, check: () => Promise<SignInGrant | null>): Promise<LoginOutcome> {
    // As for SMTP AUTH: an IPv6 client counts as its /64, IPv4-mapped addresses as IPv4.
    const clientKey = clientKeyOf(clientIp);
    const outcome = await this.#turns.inTurn([`client:${clientKey}`, `name:${name.toLowerCase()}`], () => this.#attempt(clientKey, name, check));
    return outcome === 'busy' ? { ok: false, reason: 'rate_limited', retryAfterMs: 1000 } : outcome;
  }

  async #attempt(clientKey: string, name: string, check: () => Promise<SignInGrant | null>): Promise<LoginOutcome> {
    const admission = this.#throttle.admit(clientKey, name);
    if (!admission.ok) return { ok: false, reason: 'rate_limited', retryAfterMs: this.#login.lockoutMs };
    const hashed = await this.#throttle.hashGate.run(check);
    if (!hashed.ok) return { ok: false, reason: 'rate_limited', retryAfterMs: 1000 };
    if (!hashed.value) {
      const { delayMs } = this.#throttle.recordFailure(clientKey, name);
      return { ok: false, reason: 'invalid', delayMs };
    }
    this.#throttle.recordSuccess(name);
    return { ok: true, session: await this.#startSession(hashed.value) };
  }

  async #startSession({ principal, credential, notAfter }: SignInGrant): Promise<NewSession> {
    const now = this.#now();
    const sessionId = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(24).toString('base64url');
    const ttlEnd = now.getTime() + this.#login.sessionTtlMs;
    const expiresAt = new Date(notAfter ? Math.min(ttlEnd, notAfter.getTime()) : ttlEnd).toISOString();
    const row: StoredSession = {
      idHash: sha256Hex(sessionId), kind: principal.kind === 'recipient-link' ? 'recipient-link' : 'session', name: principal.name,
      role: principal.role, addresses: principal.addresses, csrfToken, createdAt: now.toISOString(), expiresAt, credential: credential ?? null,
    };
    await this.#identities.addSession(row);
    // Expired rows go now and then, on sign-in, rather than by a timer of their own.
    if (Math.random() < 0.05) await this.#identities.purgeExpiredSessions(now.toISOString());
    return { sessionId, csrfToken, expiresAt, principal };
  }

  /** The principal and CSRF token of a session cookie, or null. */
  async resolveSession(sessionId: string): Promise<{ principal: IdentityPrincipal; csrfToken: string; expiresAt: string } | null> {
    if (sessionId.length === 0 || sessionId.length > 100) return null;
    const row = await this.#identities.getSession(sha256Hex(sessionId), this.#now().toISOString());
    if (!row) return null;
    // An account removed or demoted since sign-in: its session ends with it (sessions of staff only).
    if (row.kind === 'session') {
      const account = await this.#identities.getAccount(row.name);
      if (!account || account.role !== row.role) return null;
    }
    if (row.kind === 'recipient-link' && !(await this.#recipientStillValid(row))) return null;
    const principal: IdentityPrincipal = { kind: row.kind, name: row.name, role: row.role, scopes: ['read', 'write'], addresses: row.addresses };
    return { principal, csrfToken: row.csrfToken, expiresAt: row.expiresAt };
  }

  /**
   * A recipient signed in with mail credentials keeps access only while that submission user
   * exists, has the same password (hash) as at sign-in, and still has every address of the
   * session: a removed employee's open session, or one opened with a password since changed, must
   * not go on reading the quarantine. A signed link's session names exactly its one address and
   * ends no later than its link. A row without a credential (written before sessions recorded
   * one) is refused: it cannot be told apart, and its holder only has to sign in again.
   */
  async #recipientStillValid(row: StoredSession): Promise<boolean> {
    if (row.credential === LINK_CREDENTIAL) return row.addresses.length === 1 && row.addresses[0] === row.name;
    if (row.credential === null) return false;
    const user = await this.#store.getUser(row.name);
    if (!user || passwordTag(user.passwordHash) !== row.credential) return false;
    const current = new Set(user.addresses.map((a) => a.toLowerCase()));
    return row.addresses.every((a) => current.has(a));
  }

  async logout(sessionId: string): Promise<void> {
    await this.#identities.removeSession(sha256Hex(sessionId));
  }

  async close(): Promise<void> {
    await this.#identities.close();
  }
}

/** What a sign-in grants: the principal, and for recipients what opened the session. */
interface SignInGrant {
  principal: IdentityPrincipal;
  /** StoredSession.credential: LINK_CREDENTIAL or passwordTag(...); absent for console accounts. */
  credential?: string;
  /** The session ends by then at the latest (a signed link's expiry). */
  notAfter?: Date;
}

const LINK_CREDENTIAL = 'link';

/**
 * Names the password a recipient signed in with, without storing anything that helps guess it:
 * every new password gets a new scrypt salt, so even setting the same password again changes the
 * tag and ends the sessions opened before.
 */
function passwordTag(passwordHash: string): string {
  return `pw:${sha256Hex(`mxward-session-credential\n${passwordHash}`).slice(0, 32)}`;
}

/** A valid hash of a random password: verifying against it costs what a real check costs. */
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

function claimedAddress(token: string): string {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8')) as { a?: unknown };
    return typeof claims.a === 'string' ? claims.a.toLowerCase().slice(0, 320) : 'malformed';
  } catch {
    return 'malformed';
  }
}

function publicToken(t: StoredApiToken): PublicToken {
  const { tokenHash: _hash, ...rest } = t;
  return rest;
}

/** Login throttling and session length from the bootstrap's `console` section (defaults without one). */
export function loginSettingsOf(config: BootstrapConfig | undefined): Partial<LoginSettings> {
  const c = config?.console;
  if (!c) return {};
  return {
    failuresBeforeLockout: c.loginFailuresBeforeLockout, lockoutMs: c.loginLockoutMs, failureDelayMs: c.loginFailureDelayMs,
    sessionTtlMs: Math.round(c.sessionHours * 3600_000),
  };
}

/** The service over the identity store of this store selection; the CLI and the console use it. */
export async function openIdentityService(options: {
  url?: string; dataDir: string; config?: BootstrapConfig; store: IdentityServiceOptions['store'];
}): Promise<IdentityService> {
  const identities = await openIdentityStore(options);
  try {
    // Read once here: the key never changes after it is written, so no query per link.
    const linkKey = await storedLinkKey(identities, options.dataDir);
    return new IdentityService({ identities, store: options.store, linkKey, login: loginSettingsOf(options.config) });
  } catch (err) {
    await identities.close();
    throw err;
  }
}
