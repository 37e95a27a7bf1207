// Postfix as the reference gateway: its own config, queue and log in a temporary directory, the
// Direct Send policy as sender/client restrictions, everything accepted relayed to the sink.
// Defaults are kept where they shape performance (fsync per queue file, in_flow_delay, logging).
import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitForPort, waitForPortClosed } from './net.ts';
import { postfixMainBase, postfixServices } from '../../test/helpers/postfix.ts';
import type { Peer, PeerOptions, ServerCounts } from './peer.ts';
import { ACCEPTED_DOMAIN, DIRECT_SEND_TEXT, LISTED_IP } from './peer.ts';

const run = promisify(execFile);

export async function startPostfix(options: PeerOptions): Promise<Peer> {
  const { dir } = options;
  await chmod(dir, 0o755);
  const port = await freePort();
  const masterPid = await startRelayingPostfix(dir, port, await postfixPeerMain(options));
  return {
    name: 'postfix',
    port,
    pids: () => [masterPid],
    counts: () => postfixLogCounts(dir),
    async stop() {
      await run('postfix', ['-c', dir, 'stop']).catch(() => {});
      await waitForPortClosed(port);
    },
  };
}

/**
 * main.cf of the reference peer (the Direct Send tables it needs are written into `dir`); the
 * honest-peer auth set (auth-postfix.ts) adds its add-ons to the same lines.
 */
export async function postfixPeerMain(options: PeerOptions): Promise<string[]> {
  const { dir } = options;
  await writeFile(join(dir, 'listed.cidr'), `${LISTED_IP}/32 OK\n`);
  // Evaluated at RCPT (smtpd_delay_reject = yes), like mxward's check (SPEC §2.5).
  await writeFile(join(dir, 'sender_access'), `${ACCEPTED_DOMAIN} 550 5.7.68 ${DIRECT_SEND_TEXT}\n`);
  const main = [
    ...postfixMainBase(dir, 'postfix.bench.test'),
    `mynetworks = ${LISTED_IP}/32`,
    `relay_domains = ${ACCEPTED_DOMAIN}`,
    `relay_transport = smtp:[127.0.0.1]:${options.sinkPort}`,
    'default_transport = error:not an accepted domain',
    'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination',
    `smtpd_sender_restrictions = check_client_access cidr:${join(dir, 'listed.cidr')}, check_sender_access texthash:${join(dir, 'sender_access')}`,
    // All load comes from one IP: the per-client anvil limits would measure anvil, not the gateway.
    'smtpd_client_connection_count_limit = 0',
    'smtpd_client_connection_rate_limit = 0',
    `default_process_limit = ${options.maxSessions + 50}`,
    `maillog_file_prefixes = ${dir}`,
    `maillog_file = ${join(dir, 'maillog')}`,
    'smtputf8_enable = no',
    'biff = no',
    'append_dot_mydomain = no',
  ];
  return main;
}

/** Messages a private Postfix accepted and RCPTs it refused with 5.7.68, read from its log. */
export async function postfixLogCounts(dir: string): Promise<ServerCounts> {
  const log = await readFile(join(dir, 'maillog'), 'utf8').catch(() => '');
  // One "message-id=" line per message accepted by cleanup; one reject line per refused RCPT.
  const accepted = log.match(/ postfix\/cleanup\[\d+\]: [0-9A-F]+: message-id=/g)?.length ?? 0;
  const rejected = log.match(/ NOQUEUE: reject: RCPT from [^\n]*: 550 5\.7\.68 /g)?.length ?? 0;
  return { accepted, rejected };
}

export interface RelayingPostfixExtras {
  /** More master.cf lines (e.g. a spawn(8) policy service). */
  services?: string[];
  /** How `postfix start` is run: given its command and arguments, returns the ones to execute. */
  wrapStart?: (cmd: string, args: string[]) => [string, string[]];
}

/**
 * Writes main.cf (the given lines) and a master.cf with smtpd on `port` and the smtp/relay
 * clients, starts that private Postfix and waits for its port; returns the master's pid.
 */
export async function startRelayingPostfix(dir: string, port: number, main: string[], extras: RelayingPostfixExtras = {}): Promise<number> {
  await writeFile(join(dir, 'main.cf'), `${main.join('\n')}\n`);
  const services = postfixServices(port, ['smtp unix - - n - - smtp', 'relay unix - - n - - smtp', ...(extras.services ?? [])]);
  await writeFile(join(dir, 'master.cf'), `${services.join('\n')}\n`);
  await mkdir(join(dir, 'data'), { recursive: true });
  await mkdir(join(dir, 'queue'), { recursive: true });
  await run('chown', ['postfix', join(dir, 'data')]); // master's lock file lives there
  await run('postfix', ['-c', dir, 'check']).catch(() => {}); // creates the queue directories
  const [cmd, args] = extras.wrapStart ? extras.wrapStart('postfix', ['-c', dir, 'start']) : ['postfix', ['-c', dir, 'start']];
  await run(cmd, args).catch(async (err: Error) => {
    const tail = (await readFile(join(dir, 'maillog'), 'utf8').catch(() => '')).trim().split('\n').slice(-3).join('\n');
    throw new Error(`postfix did not start: ${tail || err.message}`, { cause: err });
  });
  await waitForPort(port);
  return Number((await readFile(join(dir, 'queue', 'pid', 'master.pid'), 'utf8')).trim());
}
