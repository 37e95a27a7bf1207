// mxward console account|token|link: the admin API's identities from the gateway host (issue 13).
// Thin: parse -> services/identities.ts -> print. Passwords come from stdin or the environment
// (never argv, which `ps` shows); a token's secret is printed once, at creation.
import type { IdentityRole } from '../../store/ports.ts';
import type { IdentityService, Scope } from '../../services/identities.ts';
import { generatePassword, openIdentityService, STAFF_ROLES } from '../../services/identities.ts';
import { openStore as openSelectedStore } from '../../store/open-store.ts';
import type { CliIo } from '../io.ts';
import { actorOf, locateExistingStore, parseCommand, printJson, printTable, requirePositional, UsageError, readFirstLine } from '../io.ts';
import { cliCall } from './service-failure.ts';

export const consoleHelp = `Usage: mxward console account add USERNAME --role ROLE [--password-stdin]
       mxward console account set USERNAME [--role ROLE] [--password-stdin]
       mxward console account remove USERNAME
       mxward console account list [--json]
       mxward console token create NAME --role ROLE [--scope read|write]... [--expires-days N | --no-expiry]
       mxward console token revoke ID
       mxward console token list [--json]
       mxward console link ADDRESS [--hours N]

  --role            administrator, helpdesk or auditor
  --password-stdin  read the password from stdin (first line); else MXWARD_PASSWORD; with neither,
                    a random password is generated and printed once
  --scope           read (default) and/or write; an auditor token is read only
  --expires-days    token lifetime in days (default 90); --no-expiry for a token that never expires
  link              a signed sign-in link for a recipient's own quarantine (default 72 hours)
Accounts sign in to the web console; tokens are sent as Authorization: Bearer mxw_… (docs/console.md).
`;

const options = {
  role: { type: 'string' }, 'password-stdin': { type: 'boolean' }, scope: { type: 'string', multiple: true },
  'expires-days': { type: 'string' }, 'no-expiry': { type: 'boolean' }, hours: { type: 'string' },
} as const;

function roleOf(value: string | undefined): IdentityRole {
  if (!value) throw new UsageError(`--role is required (${STAFF_ROLES.join(', ')})`);
  if (!STAFF_ROLES.includes(value as IdentityRole)) throw new UsageError(`--role: expected one of ${STAFF_ROLES.join(', ')}, got ${JSON.stringify(value)}`);
  return value as IdentityRole;
}

function positiveNumber(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag}: expected a positive number, got ${JSON.stringify(value)}`);
  return n;
}

function expiryOf(values: { 'expires-days'?: string; 'no-expiry'?: boolean }): string | null {
  if (values['no-expiry'] && values['expires-days']) throw new UsageError('--expires-days and --no-expiry exclude each other');
  if (values['no-expiry']) return null;
  const days = values['expires-days'] ? positiveNumber(values['expires-days'], '--expires-days') : 90;
  return new Date(Date.now() + days * 24 * 3600_000).toISOString();
}

interface Context {
  io: CliIo;
  identities: IdentityService;
  actor: string;
  values: ReturnType<typeof parseCommand<typeof options>>['values'];
  positionals: string[];
}

async function accountCommand({ io, identities, actor, values, positionals }: Context, sub: string): Promise<void> {
  if (sub === 'list') {
    const accounts = await identities.listAccounts();
    if (values.json) printJson(io, accounts);
    else printTable(io, ['username', 'role', 'created'], accounts.map((a) => [a.username, a.role, a.createdAt]));
    return;
  }
  const username = requirePositional(positionals, 2, 'USERNAME');
  if (sub === 'remove') {
    await cliCall(() => identities.removeAccount(username, actor));
    io.stdout.write(values.json ? `${JSON.stringify({ removed: username })}\n` : `removed console account ${username}\n`);
    return;
  }
  const given = values['password-stdin'] ? await readFirstLine(io.stdin) : io.env.MXWARD_PASSWORD || undefined;
  if (sub === 'add') {
    const role = roleOf(values.role);
    const password = given ?? generatePassword();
    await cliCall(() => identities.addAccount(username, role, password, actor));
    if (values.json) printJson(io, { username, role, ...(given ? {} : { password }) });
    else io.stdout.write(`added console account ${username} (${role})${given ? '' : `\npassword (shown once): ${password}`}\n`);
    return;
  }
  const role = values.role === undefined ? undefined : roleOf(values.role);
  if (role === undefined && given === undefined) throw new UsageError('console account set: give --role, or a new password with --password-stdin or MXWARD_PASSWORD');
  const updated = await cliCall(() => identities.updateAccount(username, { role, password: given }, actor));
  if (values.json) printJson(io, updated);
  else io.stdout.write(`updated console account ${username} (${updated.role}${given === undefined ? '' : ', new password'}); its sessions ended\n`);
}

function tokenState(t: { revokedAt: string | null; expiresAt: string | null }): string {
  if (t.revokedAt) return 'revoked';
  return t.expiresAt && Date.parse(t.expiresAt) <= Date.now() ? 'expired' : 'active';
}

async function tokenCommand({ io, identities, actor, values, positionals }: Context, sub: string): Promise<void> {
  if (sub === 'list') {
    const tokens = await identities.listTokens();
    if (values.json) printJson(io, tokens);
    else printTable(io, ['id', 'name', 'role', 'scopes', 'expires', 'state', 'last used'], tokens.map((t) => [
      t.id, t.name, t.role, t.scopes.join(','), t.expiresAt ?? 'never', tokenState(t), t.lastUsedAt ?? '-',
    ]));
  } else if (sub === 'create') {
    const name = requirePositional(positionals, 2, 'NAME');
    const scopes = (values.scope ?? ['read']).map((s) => {
      if (s !== 'read' && s !== 'write') throw new UsageError(`--scope: expected read or write, got ${JSON.stringify(s)}`);
      return s as Scope;
    });
    const created = await cliCall(() => identities.createToken({ name, role: roleOf(values.role), scopes, expiresAt: expiryOf(values) }, actor));
    if (values.json) printJson(io, created);
    else io.stdout.write(`created token ${created.info.id} (${created.info.role}, ${created.info.scopes.join('+')}, expires ${created.info.expiresAt ?? 'never'})\ntoken (shown once): ${created.token}\n`);
  } else {
    const id = requirePositional(positionals, 2, 'ID');
    await cliCall(() => identities.revokeToken(id, actor));
    io.stdout.write(values.json ? `${JSON.stringify({ revoked: id })}\n` : `revoked token ${id}\n`);
  }
}

async function linkCommand({ io, identities, actor, values, positionals }: Context): Promise<void> {
  const address = requirePositional(positionals, 1, 'ADDRESS');
  if (!/^[^@\s]+@[^@\s]+$/.test(address)) throw new UsageError(`console link: not an address: ${JSON.stringify(address)}`);
  const hours = values.hours ? positiveNumber(values.hours, '--hours') : 72;
  const link = await identities.createRecipientLink(address, hours * 3600_000, actor);
  if (values.json) printJson(io, { ...link, path: `/console/#/r/${link.token}` });
  else io.stdout.write(`/console/#/r/${link.token}\n(valid until ${link.expiresAt}; prefix the console's address)\n`);
}

export async function runConsole(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(argv, options);
  const [group, sub] = positionals;
  if (values.help || !group) { io.stdout.write(consoleHelp); return values.help ? 0 : 2; }
  const known: Record<string, string[]> = { account: ['add', 'set', 'remove', 'list'], token: ['create', 'revoke', 'list'], link: [] };
  if (!(group in known)) throw new UsageError(`console: unknown subcommand ${JSON.stringify(group)}`);
  if (group !== 'link' && !known[group].includes(sub ?? '')) throw new UsageError(`console ${group}: expected ${known[group].join(', ')}`);
  const location = locateExistingStore(values, io.env);
  const store = openSelectedStore({ url: location.url, dataDir: location.dataDir });
  const identities = await openIdentityService({ url: location.url, dataDir: location.dataDir, config: location.bootstrap, store });
  const context: Context = { io, identities, actor: actorOf(values.actor, io.env), values, positionals };
  try {
    if (group === 'account') await accountCommand(context, sub);
    else if (group === 'token') await tokenCommand(context, sub);
    else await linkCommand(context);
    return 0;
  } finally {
    await identities.close();
    await store.close();
  }
}
