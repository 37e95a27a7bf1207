// A real Postfix in front, consulting mxward (issue 15): check_policy_service at RCPT and
// smtpd_milters at end of DATA, both failing closed (tempfail) when mxward does not answer, as
// docs/postfix.md advises. Built on postfix.ts (private instance, virtual Maildirs).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startPostfix } from './postfix.ts';
import type { PostfixInstance, PostfixOptions } from './postfix.ts';

const run = promisify(execFile);

export interface FrontendOptions extends Omit<PostfixOptions, 'extraMain'> {
  policyPort?: number;
  milterPort?: number;
  /** Ask for client certificates and trust those issued by this CA (ccert_subject, {cert_subject}). */
  clientCaFile?: string;
}

export interface PostfixFrontend extends PostfixInstance {
  /** Queue ids in Postfix's hold queue (where the milter's quarantine puts messages). */
  heldQueueIds(): Promise<string[]>;
  /** `postsuper -H`: release a held message for delivery. */
  release(queueId: string): Promise<void>;
}

export function frontendMainLines(o: FrontendOptions): string[] {
  const restrictions = ['permit_sasl_authenticated', 'reject_unauth_destination'];
  if (o.policyPort) restrictions.push(`check_policy_service inet:127.0.0.1:${o.policyPort}`);
  return [
    // The test client connects from 127.0.0.0/8: nothing may be permitted by mynetworks here.
    'mynetworks = 127.0.0.255/32',
    `smtpd_recipient_restrictions = ${restrictions.join(', ')}`,
    'smtpd_policy_service_default_action = 451 4.3.5 Policy service unavailable',
    ...(o.milterPort ? [`smtpd_milters = inet:127.0.0.1:${o.milterPort}`, 'milter_default_action = tempfail', 'milter_protocol = 6'] : []),
    ...(o.clientCaFile ? ['smtpd_tls_ask_ccert = yes', `smtpd_tls_CAfile = ${o.clientCaFile}`, 'smtpd_tls_fingerprint_digest = sha256'] : []),
  ];
}

export async function startPostfixFrontend(o: FrontendOptions): Promise<PostfixFrontend> {
  const instance = await startPostfix({ ...o, extraMain: frontendMainLines(o) });
  const queue = (args: string[]) => run(join('/usr/sbin', args[0]), ['-c', instance.dir, ...args.slice(1)]);
  return Object.assign(instance, {
    async heldQueueIds() {
      const { stdout } = await queue(['postqueue', '-j']).catch(() => ({ stdout: '' }));
      return stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { queue_name: string; queue_id: string })
        .filter((e) => e.queue_name === 'hold').map((e) => e.queue_id);
    },
    async release(queueId: string) {
      await queue(['postsuper', '-H', queueId]);
      await queue(['postqueue', '-f']).catch(() => {});
    },
  });
}
