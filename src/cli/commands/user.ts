// mxward user add|remove|list: SMTP AUTH users of the submission listener. Passwords are stored
// as scrypt hashes; the password comes from stdin so it never appears in `ps` or shell history.
// Thin: parse -> services/users.ts -> print.
import { listUsers, prepareUser, removeUser, saveUser, userAddresses } from '../../services/users.ts';
import type { ServiceError } from '../../services/service-error.ts';
import type { StoredUser } from '../../store/ports.ts';
import type { CliIo } from '../io.ts';
import { actorOf, openStore, parseCommand, printJson, printTable, requirePositional, UsageError, readFirstLine } from '../io.ts';
import { cliCall } from './service-failure.ts';

export const userHelp = `Usage: mxward user add USERNAME --address ADDRESS [--address ALIAS]... [--password-stdin]
       mxward user remove USERNAME
       mxward user list [--json]

  --address         an address the user may send as (MAIL FROM); the first is the own address,
                    more are aliases; anything else is refused with 550 5.7.60
  --password-stdin  read the password from stdin (first line); otherwise MXWARD_PASSWORD
Running add again for an existing user replaces the password and addresses.
`;

/** The service names fields (`addresses[0]`, `password`); the command line names its flags. */
function withFlag(err: ServiceError): string | undefined {
  if (err.path?.startsWith('addresses[')) return `--address: ${err.message}`;
  if (err.path === 'addresses') return 'user add: at least one --address is required';
  return err.path === 'password' ? `user add: ${err.message}` : undefined;
}

export async function runUser(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(argv, { address: { type: 'string', multiple: true }, 'password-stdin': { type: 'boolean' } });
  const sub = positionals[0];
  if (values.help || !sub) { io.stdout.write(userHelp); return values.help ? 0 : 2; }
  if (!['add', 'remove', 'list'].includes(sub)) throw new UsageError(`user: unknown subcommand ${JSON.stringify(sub)}`);
  // A new user is checked and hashed before the store is opened: bad input changes nothing.
  let prepared: StoredUser | null = null;
  if (sub === 'add') {
    const username = requirePositional(positionals, 1, 'USERNAME');
    // Addresses first, so a wrong address is reported before the password is read.
    const addresses = await cliCall(async () => userAddresses(values.address ?? []), withFlag);
    const password = values['password-stdin'] ? await readFirstLine(io.stdin) : io.env.MXWARD_PASSWORD;
    if (!password) throw new UsageError('user add: give the password on stdin with --password-stdin, or in MXWARD_PASSWORD');
    prepared = await cliCall(() => prepareUser({ username, addresses, password }), withFlag);
  }
  const store = openStore(values, io.env);
  const actor = actorOf(values.actor, io.env);
  try {
    if (sub === 'list') {
      const view = await listUsers(store);
      if (values.json) printJson(io, view);
      else printTable(io, ['username', 'addresses'], view.map((u) => [u.username, u.addresses.join(',')]));
      return 0;
    }
    if (prepared) {
      const saved = await saveUser(store, prepared, actor, { replace: true });
      io.stdout.write(values.json ? `${JSON.stringify({ user: saved.username, addresses: saved.addresses })}\n` : `saved user ${saved.username} (${saved.addresses.join(', ')})\n`);
      return 0;
    }
    const username = requirePositional(positionals, 1, 'USERNAME');
    await cliCall(() => removeUser(store, username, actor));
    io.stdout.write(values.json ? `${JSON.stringify({ removed: username })}\n` : `removed user ${username}\n`);
    return 0;
  } finally {
    await store.close();
  }
}
