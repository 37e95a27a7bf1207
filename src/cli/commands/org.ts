// mxward org get|set: organization-wide switches (Reject Direct Send and its header-From variant).
import { modeSchema } from '../../config/policy-schema.ts';
import { changePolicy } from '../../store/policy-changes.ts';
import type { CliIo } from '../io.ts';
import { actorOf, openStore, parseCommand, printJson, printTable, UsageError } from '../io.ts';

export const orgHelp = `Usage: mxward org get [--json]
       mxward org set [--reject-direct-send off|report|enforce] [--reject-direct-send-header-from off|report|enforce]

  rejectDirectSend            anonymous MAIL FROM in an accepted domain (EXO's RejectDirectSend)
  rejectDirectSendHeaderFrom  anonymous sender whose From: header is in an accepted domain
Changes reach running gateways within one second and are written to the audit log.
`;

function parseMode(value: string | undefined, flag: string) {
  if (value === undefined) return undefined;
  const r = modeSchema.safeParse(value);
  if (!r.success) throw new UsageError(`${flag}: expected off, report or enforce, got ${JSON.stringify(value)}`);
  return r.data;
}

export async function runOrg(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(argv, {
    'reject-direct-send': { type: 'string' },
    'reject-direct-send-header-from': { type: 'string' },
  });
  const sub = positionals[0];
  if (values.help || !sub) { io.stdout.write(orgHelp); return values.help ? 0 : 2; }
  const store = openStore(values, io.env);
  try {
    if (sub === 'get') {
      const { document, version } = await store.readPolicy();
      const view = { rejectDirectSend: document.rejectDirectSend, rejectDirectSendHeaderFrom: document.rejectDirectSendHeaderFrom, policyVersion: version };
      if (values.json) printJson(io, view);
      else printTable(io, ['setting', 'value'], Object.entries(view).map(([k, v]) => [k, String(v)]));
      return 0;
    }
    if (sub === 'set') {
      const rds = parseMode(values['reject-direct-send'], '--reject-direct-send');
      const hf = parseMode(values['reject-direct-send-header-from'], '--reject-direct-send-header-from');
      if (!rds && !hf) throw new UsageError('org set: nothing to change (see --help)');
      const saved = await changePolicy(store, actorOf(values.actor, io.env), 'org.set', (doc) => ({
        ...doc, rejectDirectSend: rds ?? doc.rejectDirectSend, rejectDirectSendHeaderFrom: hf ?? doc.rejectDirectSendHeaderFrom,
      }));
      const view = { rejectDirectSend: saved.document.rejectDirectSend, rejectDirectSendHeaderFrom: saved.document.rejectDirectSendHeaderFrom, policyVersion: saved.version };
      if (values.json) printJson(io, view);
      else io.stdout.write(`rejectDirectSend=${view.rejectDirectSend} rejectDirectSendHeaderFrom=${view.rejectDirectSendHeaderFrom} (policy version ${view.policyVersion})\n`);
      return 0;
    }
    throw new UsageError(`org: unknown subcommand ${JSON.stringify(sub)}`);
  } finally {
    await store.close();
  }
}
