// mxward policyd: the Postfix SMTPD policy service (docs/postfix.md).
import type { CliIo } from '../io.ts';
import { runIntegration } from './integration-command.ts';

export const policydHelp = `Usage: mxward policyd [--listen HOST:PORT | --listen /path/to/socket] [--config FILE] [--data-dir DIR]

Answers Postfix's check_policy_service at RCPT with the organization policy: Reject Direct Send
(5.7.68), connector restrictions (5.7.51), relay protection (5.7.64); report mode prepends
X-Mxward-DirectSend. Default listen address: 127.0.0.1:10040. See docs/postfix.md.
`;

export async function runPolicyd(argv: string[], io: CliIo): Promise<number> {
  return runIntegration('policyd', argv, io, policydHelp, 10040);
}
