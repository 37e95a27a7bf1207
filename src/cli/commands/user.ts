// mxward user add|remove|list: SMTP AUTH users of the submission listener. Passwords are stored
// as scrypt hashes; the password comes from stdin so it never appears in `ps` or shell history.
import { hashPassword } from '../../users/passwords.ts';
import { normalizeAddress } from '../../policy/domains.ts';
import type { CliIo } from '../io.ts';
import { actorOf, openStore, parseCommand, printJson, printTable, requirePositional, UsageError } from '../io.ts';

export const userHelp = `Usage: mxward user add USERNAME --address ADDRESS [--address ALIAS]... [--password-stdin]
       mxward user remove USERNAME
       mxward user list [--json]

  --address         an address the user may send as (MAIL FROM); the first is the own address,
                    more are aliases; anything else is refused with 550 5.7.60
  --password-stdin  read the password from stdin (first line); otherwise MXWARD_PASSWORD
Running add again for an existing user replaces the password and addresses.
`;

async function readFirstLine(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += Buffer.from(chunk as Buffer).toString('utf8');
    if (text.includes('\n')) break;
  }
  return text.split(/\r?\n/)[0] ?? '';
}

export async function runUser(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(argv, { address: { type: 'string', multiple: true }, 'password-stdin': { type: 'boolean' } });
  const sub = positionals[0];
  if (values.help || !sub) { io.stdout.write(userHelp); return values.help ? 0 : 2; }
  if (!['add', 'remove', 'list'].includes(sub)) throw new UsageError(`user: unknown subcommand ${JSON.stringify(sub)}`);
  let passwordHash = '';
  let addresses: string[] = [];
  if (sub === 'add') {
    requirePositional(positionals, 1, 'USERNAME');
    addresses = (values.address ?? []).map((a) => {
      const n = normalizeAddress(a);
      if (!n || !n.includes('@')) throw new UsageError(`--address: not an email address: ${JSON.stringify(a)}`);
      return n;
    });
    if (addresses.length === 0) throw new UsageError('user add: at least one --address is required');
    const password = values['password-stdin'] ? await readFirstLine(io.stdin) : io.env.MXWARD_PASSWORD;
    if (!password) throw new UsageError('user add: give the password on stdin with --password-stdin, or in MXWARD_PASSWORD');
    if (password.length < 8) throw new UsageError('user add: the password must have at least 8 characters');
    passwordHash = await hashPassword(password);
  }
  const store = openStore(values, io.env);
  const actor = actorOf(values.actor, io.env);
  try {
    if (sub === 'list') {
      const users = await store.listUsers();
      const view = users.map((u) => ({ username: u.username, addresses: u.addresses }));
      if (values.json) printJson(io, view);
      else printTable(io, ['username', 'addresses'], view.map((u) => [u.username, u.addresses.join(',')]));
      return 0;
    }
    const username = requirePositional(positionals, 1, 'USERNAME');
    if (sub === 'add') {
      await store.putUser({ username, passwordHash, addresses }, actor);
      io.stdout.write(values.json ? `${JSON.stringify({ user: username, addresses })}\n` : `saved user ${username} (${addresses.join(', ')})\n`);
      return 0;
    }
    if (!(await store.removeUser(username, actor))) throw new UsageError(`no user named ${JSON.stringify(username)}`);
    io.stdout.write(values.json ? `${JSON.stringify({ removed: username })}\n` : `removed user ${username}\n`);
    return 0;
  } finally {
    await store.close();
  }
}
