// mxward quarantine: review and act on quarantined messages (SPEC §6). Without --as the caller is
// an administrator; with --as RECIPIENT the call is that recipient's, and the message's policy
// decides what is allowed. Releases are committed to the spool; a running gateway delivers them.
import { mkdirSync } from 'node:fs';
import { defaultBootstrap } from '../../config/bootstrap.ts';
import { dataPaths } from '../../config/data-dir.ts';
import { normalizeAddress } from '../../policy/domains.ts';
import { QuarantineError } from '../../quarantine/quarantine-service.ts';
import { openQuarantine } from '../../quarantine/quarantine-setup.ts';
import { QuarantineActions } from '../../services/quarantine-actions.ts';
import type { QuarantineCaller, QuarantineView } from '../../services/quarantine-actions.ts';
import { Spool } from '../../spool/spool.ts';
import type { QuarantineItem } from '../../store/ports.ts';
import type { CliIo } from '../io.ts';
import { actorOf, locateExistingStore, parseCommand, printJson, printTable, requirePositional, UsageError } from '../io.ts';

export const quarantineHelp = `Usage: mxward quarantine list [--all] [--limit N] [--as RECIPIENT] [--json]
       mxward quarantine show|headers|preview ID [--as RECIPIENT] [--json]
       mxward quarantine release ID [--as RECIPIENT]
       mxward quarantine request-release ID --as RECIPIENT
       mxward quarantine approve|deny ID
       mxward quarantine delete ID [--as RECIPIENT]

  --as RECIPIENT  act as that recipient: only their copy, and only what the message's
                  quarantine policy allows (AdminOnlyAccessPolicy allows nothing)
  --all           list released and deleted messages too
  --config FILE   bootstrap file (for dataDir and store.url)
Without --as you act as an administrator (recorded in the audit log with --actor).
`;

const ACTIONS = new Set(['list', 'show', 'headers', 'preview', 'release', 'request-release', 'approve', 'deny', 'delete']);

/** The CLI's JSON stays the stored item, as before the API added permissions and actions. */
function withoutView(view: QuarantineView): QuarantineItem {
  const { permissions: _p, actions: _a, ...item } = view;
  return item;
}

function summaryRow(item: QuarantineItem): string[] {
  const states = item.recipients.map((r) => `${r.address}:${r.state}`).join(',');
  return [item.id, item.time.replace('T', ' ').slice(0, 19), item.policy, item.kind, item.headerFrom.join(',') || item.mailFrom || '<>', (item.subject ?? '').slice(0, 60), states];
}

function showText(item: QuarantineView): string {
  const policy = item.permissions;
  return [
    `id:          ${item.id}`,
    `time:        ${item.time}`,
    `expires:     ${item.expires}`,
    `policy:      ${item.policy} (recipient permissions: ${policy.names}${policy.notify ? ', notifications' : ''})`,
    `type:        ${item.kind}`,
    `mail from:   ${item.mailFrom ?? '<>'}`,
    `from:        ${item.headerFrom.join(', ') || '(none)'}`,
    `subject:     ${item.subject ?? ''}`,
    `size:        ${item.sizeBytes} bytes`,
    `reason:      ${item.reason}`,
    `recipients:  ${item.recipients.map((r) => `${r.address} (${r.state}${r.releaseQueueId ? ` ${r.releaseQueueId}` : ''})`).join(', ')}`,
    `transaction: ${item.transactionId}`,
    '',
  ].join('\n');
}

export async function runQuarantine(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(argv, {
    as: { type: 'string' }, all: { type: 'boolean' }, limit: { type: 'string' },
  });
  const sub = positionals[0];
  if (values.help || !sub) { io.stdout.write(quarantineHelp); return values.help ? 0 : 2; }
  if (!ACTIONS.has(sub)) throw new UsageError(`quarantine: unknown subcommand ${JSON.stringify(sub)}`);
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit <= 0)) throw new UsageError('--limit: expected a positive integer');
  const asRecipient = values.as === undefined ? null : normalizeAddress(values.as).toLowerCase();
  if (asRecipient !== null && !/^[^@\s]+@[^@\s]+$/.test(asRecipient)) throw new UsageError(`--as: not an address: ${JSON.stringify(values.as)}`);

  // The same store the gateway uses (data-dir.ts precedence); never created here.
  const location = locateExistingStore(values, io.env);
  const config = location.bootstrap ?? defaultBootstrap();
  const storeUrl = location.url;
  const dataDir = location.dataDir;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const paths = dataPaths(dataDir);
  const spool = new Spool(paths.spool);
  mkdirSync(spool.tmpDir, { recursive: true });
  mkdirSync(spool.queueDir, { recursive: true });
  // The same store the gateway uses (--store-url, MXWARD_STORE_URL, store.url; else SQLite in
  // dataDir), opened the same way as the gateway's (quarantine-setup.ts).
  const { service, close } = openQuarantine({
    config, storeUrl: storeUrl ?? undefined, dataDir, spool,
    // The gateway is another process: it notices new spool entries when spool/wakeup moves.
    onQueued: () => spool.requestRescan(),
  });
  const actions = new QuarantineActions(service);
  const name = actorOf(values.actor, io.env);
  const caller: QuarantineCaller = asRecipient ? { actor: name, role: 'recipient', addresses: [asRecipient] } : { actor: name, role: 'administrator', addresses: [] };
  try {
    if (sub === 'list') {
      const { items } = await actions.list(caller, { state: values.all ? 'all' : 'pending', limit: limit ?? 1000 });
      if (values.json) printJson(io, items.map(withoutView));
      else printTable(io, ['id', 'time', 'policy', 'type', 'from', 'subject', 'recipients'], items.map(summaryRow));
      return 0;
    }
    const id = requirePositional(positionals, 1, 'ID');
    switch (sub) {
      case 'show': {
        const item = await actions.show(caller, id);
        if (values.json) printJson(io, withoutView(item)); else io.stdout.write(showText(item));
        return 0;
      }
      case 'headers': io.stdout.write(await actions.headers(caller, id)); return 0;
      case 'preview': io.stdout.write(`${await actions.preview(caller, id)}\n`); return 0;
      case 'release':
      case 'approve': {
        const r = sub === 'release' ? await actions.release(caller, id) : await actions.approve(caller, id);
        const queueId = r.queueIds.join(', ');
        if (values.json) printJson(io, { queueId, recipients: r.recipients });
        else io.stdout.write(`released ${id} to ${r.recipients.join(', ')} (queue id ${queueId}); the gateway delivers it\n`);
        return 0;
      }
      case 'request-release': {
        const { recipients: moved } = await actions.requestRelease(caller, id);
        io.stdout.write(values.json ? `${JSON.stringify({ requested: id, recipients: moved })}\n` : `release of ${id} requested for ${moved.join(', ')}; an administrator must approve it\n`);
        return 0;
      }
      case 'deny': {
        const { recipients: moved } = await actions.deny(caller, id);
        io.stdout.write(values.json ? `${JSON.stringify({ denied: id, recipients: moved })}\n` : `release request for ${id} denied (${moved.join(', ')}); the message stays quarantined\n`);
        return 0;
      }
      default: {
        const { recipients: removed } = await actions.delete(caller, id);
        io.stdout.write(values.json ? `${JSON.stringify({ deleted: id, recipients: removed })}\n` : `deleted ${id}${asRecipient ? ` for ${asRecipient}` : ''}\n`);
        return 0;
      }
    }
  } catch (err) {
    // A refusal is an expected outcome: one line, exit 1, no stack trace.
    if (err instanceof QuarantineError) {
      io.stderr.write(`mxward quarantine: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await close();
  }
}
