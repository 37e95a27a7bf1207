// mxward org get|set: organization-wide switches (Reject Direct Send and its header-From variant).
// Thin: parse -> services/policy-edits.ts (and services/nodes.ts for --wait) -> print.
import { modeSchema } from '../../config/policy-schema.ts';
import { waitForPolicyEverywhere } from '../../services/nodes.ts';
import { readOrg, setOrg } from '../../services/policy-edits.ts';
import type { PolicyWaitResult } from '../../services/nodes.ts';
import type { CliIo } from '../io.ts';
import { actorOf, openStore, parseCommand, printJson, printTable, UsageError } from '../io.ts';
import { cliCall } from './service-failure.ts';

export const orgHelp = `Usage: mxward org get [--json]
       mxward org set [--reject-direct-send off|report|enforce] [--reject-direct-send-header-from off|report|enforce]
                      [--wait [--wait-timeout SECONDS]]

  rejectDirectSend            anonymous MAIL FROM in an accepted domain (EXO's RejectDirectSend)
  rejectDirectSendHeaderFrom  anonymous sender whose From: header is in an accepted domain
Changes reach running gateways within one second and are written to the audit log. --wait waits
until every live node (mxward nodes) runs the new version and prints how long that took; exit 1
naming the nodes that lag after --wait-timeout (default 30 s).
`;

function parseMode(value: string | undefined, flag: string) {
  if (value === undefined) return undefined;
  const r = modeSchema.safeParse(value);
  if (!r.success) throw new UsageError(`${flag}: expected off, report or enforce, got ${JSON.stringify(value)}`);
  return r.data;
}

function parseWaitTimeoutMs(value: string | undefined): number {
  if (value === undefined) return 30_000;
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || seconds <= 0 || seconds > 3600) throw new UsageError(`--wait-timeout: expected seconds between 0 and 3600, got ${JSON.stringify(value)}`);
  return Math.round(seconds * 1000);
}

function waitView(result: PolicyWaitResult) {
  return result.ok
    ? { inForce: true, elapsedMs: result.elapsedMs, nodes: result.nodes.map((n) => n.nodeId) }
    : { inForce: false, elapsedMs: result.elapsedMs, lagging: result.lagging.map((n) => ({ node: n.nodeId, policyVersion: n.policyVersion })) };
}

/** The outcome of --wait: how long until every live node ran the version, or which nodes lag. */
function reportWait(io: CliIo, result: PolicyWaitResult, version: number): number {
  if (result.ok) {
    io.stdout.write(`policy version ${version} in force on ${result.nodes.length} live node(s) after ${result.elapsedMs} ms\n`);
    return 0;
  }
  const lagging = result.lagging.map((n) => `${n.nodeId} (version ${n.policyVersion})`).join(', ');
  io.stderr.write(`policy version ${version} not yet in force after ${result.elapsedMs} ms on: ${lagging}\n`);
  return 1;
}

export async function runOrg(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(argv, {
    'reject-direct-send': { type: 'string' },
    'reject-direct-send-header-from': { type: 'string' },
    wait: { type: 'boolean' },
    'wait-timeout': { type: 'string' },
  });
  const sub = positionals[0];
  if (values.help || !sub) { io.stdout.write(orgHelp); return values.help ? 0 : 2; }
  const store = openStore(values, io.env);
  try {
    if (sub === 'get') {
      const org = await readOrg(store);
      const view = { rejectDirectSend: org.rejectDirectSend, rejectDirectSendHeaderFrom: org.rejectDirectSendHeaderFrom, policyVersion: org.policyVersion };
      if (values.json) printJson(io, view);
      else printTable(io, ['setting', 'value'], Object.entries(view).map(([k, v]) => [k, String(v)]));
      return 0;
    }
    if (sub === 'set') {
      const rds = parseMode(values['reject-direct-send'], '--reject-direct-send');
      const hf = parseMode(values['reject-direct-send-header-from'], '--reject-direct-send-header-from');
      if (!rds && !hf) throw new UsageError('org set: nothing to change (see --help)');
      const waitTimeoutMs = parseWaitTimeoutMs(values['wait-timeout']);
      const started = performance.now();
      const saved = await cliCall(() => setOrg(store, { rejectDirectSend: rds, rejectDirectSendHeaderFrom: hf }, actorOf(values.actor, io.env)));
      const view = { rejectDirectSend: saved.rejectDirectSend, rejectDirectSendHeaderFrom: saved.rejectDirectSendHeaderFrom, policyVersion: saved.policyVersion };
      const waited = values.wait ? await waitForPolicyEverywhere(store, saved.policyVersion, { timeoutMs: waitTimeoutMs, startedAtMs: started }) : null;
      if (values.json) { printJson(io, waited ? { ...view, wait: waitView(waited) } : view); return waited && !waited.ok ? 1 : 0; }
      io.stdout.write(`rejectDirectSend=${view.rejectDirectSend} rejectDirectSendHeaderFrom=${view.rejectDirectSendHeaderFrom} (policy version ${view.policyVersion})\n`);
      return waited ? reportWait(io, waited, saved.policyVersion) : 0;
    }
    throw new UsageError(`org: unknown subcommand ${JSON.stringify(sub)}`);
  } finally {
    await store.close();
  }
}
