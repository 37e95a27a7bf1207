// The honest peer of issue 17: the reference Postfix (postfix.ts) with the Debian-packaged
// authentication add-ons an administrator would install for the checks mxward makes by default:
//   - policyd-spf (postfix-policyd-spf-python) as a spawn(8) policy service at RCPT: SPF of MAIL
//     FROM and HELO, a Received-SPF header field, 550 on an SPF fail (its shipped defaults);
//   - OpenDKIM as a milter, verify only (Mode v): an Authentication-Results dkim= field;
//   - OpenDMARC as a milter after it, reading those two results (TrustedAuthservIDs) and refusing
//     a p=reject failure (RejectFailures).
// Each add-on's "skip the local host" default (127.0.0.1 is internal to OpenDKIM, ignored by
// OpenDMARC, skipped by policyd-spf) is replaced by a TEST-NET address, since the bench's client
// is 127.0.0.1. DNS: OpenDMARC (glibc) and policyd-spf (dnspython) ask the servers in
// /etc/resolv.conf, which cannot name a port; so Postfix and the milters run in a mount namespace
// of their own (unshare -m) where a private resolv.conf naming the bench's Knot (auth-dns.ts) is
// bind-mounted over /etc/resolv.conf. The machine's file is never changed. OpenDKIM resolves with
// libunbound and its Nameservers option (libunbound answers names under test. itself, RFC 6761,
// hence the bench's sender domains under example.). Nothing is cached by glibc or dnspython.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort, sleep, waitForPort, waitForPortClosed } from './net.ts';
import { postfixPeerMain, startRelayingPostfix } from './postfix.ts';

const run = promisify(execFile);

/** The authserv-id the peer's add-ons write, and trust, in Authentication-Results (postfixPeerMain's myhostname). */
export const PEER_AUTHSERV_ID = 'postfix.bench.test';
/** Stands in for "internal hosts" in each add-on, so that 127.0.0.1 is checked like any client. */
const NOT_A_CLIENT = '192.0.2.250';

export interface AuthGateway {
  label: string;
  port: number;
  pids(): number[];
  stop(): Promise<void>;
}

/** [cmd, args] that run `cmd args` with `resolvConf` seen as /etc/resolv.conf, in a mount namespace of its own. */
export function withResolvConf(resolvConf: string, cmd: string, args: string[]): [string, string[]] {
  return ['unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolvConf, cmd, ...args]];
}

interface Milter { child: ChildProcess; port: number; stop(): Promise<void> }

async function startMilter(name: string, resolvConf: string, cmd: string, args: string[], port: number, dir: string): Promise<Milter> {
  const [c, a] = withResolvConf(resolvConf, cmd, args);
  const child = spawn(c, a, { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
  let stderr = '';
  child.stderr!.on('data', (d) => { stderr = (stderr + String(d)).slice(-2000); });
  child.once('exit', (code, signal) => { if (stopping) return; process.stderr.write(`${name} exited (${signal ?? code}): ${stderr.trim()}\n`); });
  let stopping = false;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const up = await Promise.race([waitForPort(port).then(() => true), exited.then(() => false)]);
  if (!up) throw new Error(`${name} did not start: ${stderr.trim()}`);
  return {
    child, port,
    async stop() {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000).then(() => child.kill('SIGKILL'))]);
    },
  };
}

async function writeConfigs(dir: string, dnsHost: string, ports: { dkim: number; dmarc: number }): Promise<void> {
  await writeFile(join(dir, 'resolv.conf'), `nameserver ${dnsHost}\n`);
  await writeFile(join(dir, 'not-a-client'), `${NOT_A_CLIENT}\n`);
  await writeFile(join(dir, 'opendkim.conf'), [
    'Mode v', `Socket inet:${ports.dkim}@127.0.0.1`, `AuthservID ${PEER_AUTHSERV_ID}`, 'UserID opendkim', 'Syslog no',
    `InternalHosts ${join(dir, 'not-a-client')}`,
    // Nameservers, not ResolverConfiguration: Debian's 2.11.0~beta2 builds a libunbound context per
    // message and, given a configuration file, parses it in every milter thread at once, which
    // crashes it under 20 sessions. The key answers are kept between messages (QueryCache): its
    // own per-message contexts would otherwise ask Knot for every message.
    `Nameservers ${dnsHost}`, 'QueryCache yes', '',
  ].join('\n'));
  await writeFile(join(dir, 'opendmarc.conf'), [
    `Socket inet:${ports.dmarc}@127.0.0.1`, `AuthservID ${PEER_AUTHSERV_ID}`, `TrustedAuthservIDs ${PEER_AUTHSERV_ID}`, 'UserID opendmarc', 'Syslog false',
    `IgnoreHosts ${join(dir, 'not-a-client')}`, 'RejectFailures true', 'FailureReports false',
    // SPF is policyd-spf's Received-SPF field, as in the usual Debian setup; no second SPF check.
    'SPFIgnoreResults false', 'SPFSelfValidate false',
    'PublicSuffixList /usr/share/publicsuffix/public_suffix_list.dat', '',
  ].join('\n'));
  await writeFile(join(dir, 'policyd-spf.conf'), [
    // Debian's shipped settings (TestOnly = 1 means: do reject), with the local-host skip replaced.
    'debugLevel = 0', 'TestOnly = 1', 'HELO_reject = Fail', 'Mail_From_reject = Fail', 'PermError_reject = False', 'TempError_Defer = False',
    `skip_addresses = ${NOT_A_CLIENT}/32`, '',
  ].join('\n'));
}

export async function startAuthPostfix(o: { dir: string; sinkPort: number; maxSessions: number; dnsHost: string }): Promise<AuthGateway> {
  const { dir } = o;
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755); // policyd-spf, opendkim and opendmarc run as their own users and read their configs here
  const ports = { dkim: await freePort(), dmarc: await freePort(), smtp: await freePort() };
  await writeConfigs(dir, o.dnsHost, ports);
  const resolvConf = join(dir, 'resolv.conf');
  const milters: Milter[] = [];
  try {
    milters.push(await startMilter('opendkim', resolvConf, 'opendkim', ['-f', '-x', join(dir, 'opendkim.conf')], ports.dkim, dir));
    milters.push(await startMilter('opendmarc', resolvConf, 'opendmarc', ['-f', '-c', join(dir, 'opendmarc.conf')], ports.dmarc, dir));
    const main = [
      ...await postfixPeerMain({ dir, sinkPort: o.sinkPort, maxSessions: o.maxSessions }),
      // After the relay check, as the policyd-spf README places it.
      'smtpd_recipient_restrictions = check_policy_service unix:private/policyd-spf',
      'policyd-spf_time_limit = 3600',
      `smtpd_milters = inet:127.0.0.1:${ports.dkim}, inet:127.0.0.1:${ports.dmarc}`,
      'non_smtpd_milters =',
      'milter_default_action = tempfail',
    ];
    const services = [`policyd-spf unix - n n - 0 spawn user=policyd-spf argv=/usr/bin/policyd-spf ${join(dir, 'policyd-spf.conf')}`];
    const masterPid = await startRelayingPostfix(dir, ports.smtp, main, { services, wrapStart: (cmd, args) => withResolvConf(resolvConf, cmd, args) });
    return {
      label: 'Postfix + policyd-spf + OpenDKIM + OpenDMARC',
      port: ports.smtp,
      pids: () => [masterPid, ...milters.map((m) => m.child.pid!).filter(Boolean)],
      async stop() {
        await run('postfix', ['-c', dir, 'stop']).catch(() => {});
        await waitForPortClosed(ports.smtp);
        for (const m of milters) await m.stop();
      },
    };
  } catch (err) {
    // Postfix may be half started (master up, port never answered): stop it as well.
    await run('postfix', ['-c', dir, 'stop']).catch(() => {});
    for (const m of milters) await m.stop();
    throw err;
  }
}
