// mxward milter: the end-of-DATA checks for Postfix's smtpd_milters (docs/postfix.md).
import type { CliIo } from '../io.ts';
import { runIntegration } from './integration-command.ts';

export const milterHelp = `Usage: mxward milter [--listen HOST:PORT | /path/to/socket] [--policy-listen HOST:PORT | /path]
                     [--config FILE] [--data-dir DIR]

  --policy-listen     also serve the policy service from this process, so that a connector
                      pinned by certificate fingerprint is seen at end of DATA too (Postfix passes
                      the fingerprint to the policy service only)

Serves Postfix's smtpd_milters: the header-From check, SPF/DKIM/DMARC/ARC with compauth, the
gateway's canonical-message rules, stamps and stripping; quarantine holds the message in Postfix's
hold queue (release with postsuper -H). Default listen address: 127.0.0.1:10041. See docs/postfix.md.
`;

export async function runMilter(argv: string[], io: CliIo): Promise<number> {
  return runIntegration('milter', argv, io, milterHelp, 10041);
}
