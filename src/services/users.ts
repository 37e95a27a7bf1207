// Submission users (SMTP AUTH on the submission listener), for the CLI and the API (issue 13).
// Passwords are kept only as scrypt hashes; the store writes each change with its audit entry
// under the caller's actor, and the audit never holds the hash.
import { normalizeAddress } from '../policy/domains.ts';
import type { StoredUser, UserStore } from '../store/ports.ts';
import { hashPassword } from '../users/passwords.ts';
import { ServiceError } from './service-error.ts';

export const MIN_PASSWORD_LENGTH = 8;

/** What may be shown of a user: never the hash. */
export interface UserView { username: string; addresses: string[] }

export interface NewUser { username: string; password: string; addresses: readonly string[] }

const view = (u: StoredUser): UserView => ({ username: u.username, addresses: u.addresses });

export async function listUsers(store: UserStore): Promise<UserView[]> {
  return (await store.listUsers()).map(view);
}

export async function getUser(store: UserStore, username: string): Promise<UserView> {
  const user = await store.getUser(username);
  if (!user) throw new ServiceError('not_found', `no user named ${JSON.stringify(username)}`, 'username');
  return view(user);
}

function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new ServiceError('validation_failed', `the password must have at least ${MIN_PASSWORD_LENGTH} characters`, 'password');
  }
}

/** The addresses a user may send as, folded like MAIL FROM is compared; the first is their own. */
export function userAddresses(raw: readonly string[]): string[] {
  const addresses = raw.map((a, i) => {
    const n = normalizeAddress(a);
    if (!n || !n.includes('@')) throw new ServiceError('validation_failed', `not an email address: ${JSON.stringify(a)}`, `addresses[${i}]`);
    return n;
  });
  if (addresses.length === 0) throw new ServiceError('validation_failed', 'at least one address is required', 'addresses');
  return addresses;
}

/**
 * Checks and hashes a new user without touching the store, so a caller can refuse bad input
 * before it opens anything. scrypt takes tens of milliseconds on libuv's pool: done once here.
 */
export async function prepareUser(input: NewUser): Promise<StoredUser> {
  if (input.username === '') throw new ServiceError('validation_failed', 'the username must not be empty', 'username');
  const addresses = userAddresses(input.addresses);
  checkPassword(input.password);
  return { username: input.username, passwordHash: await hashPassword(input.password), addresses };
}

/**
 * Saves a prepared user. `replace`: an existing user of that name gets the new password and
 * addresses (what `mxward user add` has always done); without it that is a conflict.
 */
export async function saveUser(store: UserStore, user: StoredUser, actor: string, opts: { replace: boolean }): Promise<UserView> {
  if (!opts.replace && (await store.getUser(user.username))) {
    throw new ServiceError('conflict', `a user named ${JSON.stringify(user.username)} already exists`, 'username');
  }
  await store.putUser(user, actor);
  return view(user);
}

export async function removeUser(store: UserStore, username: string, actor: string): Promise<void> {
  if (!(await store.removeUser(username, actor))) throw new ServiceError('not_found', `no user named ${JSON.stringify(username)}`, 'username');
}

/** A new password for an existing user; the addresses stay. */
export async function setUserPassword(store: UserStore, username: string, password: string, actor: string): Promise<void> {
  checkPassword(password);
  const user = await store.getUser(username);
  if (!user) throw new ServiceError('not_found', `no user named ${JSON.stringify(username)}`, 'username');
  await store.putUser({ ...user, passwordHash: await hashPassword(password) }, actor);
}
