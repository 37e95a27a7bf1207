// mxward domain add|remove|list: accepted domains, optionally with subdomains and a recipient list.
// Thin: parse -> services/policy-edits.ts -> print.
import { addDomain, domainOf, listDomains, removeDomain } from '../../services/policy-edits.ts';
import type { ServiceError } from '../../services/service-error.ts';
import type { CliIo } from '../io.ts';
import { actorOf, openStore, parseCommand, printJson, printTable, requirePositional, UsageError } from '../io.ts';
import { cliCall } from './service-failure.ts';

export const domainHelp = `Usage: mxward domain add DOMAIN [--include-subdomains] [--recipient ADDRESS]...
       mxward domain remove DOMAIN
       mxward domain list [--json]

  --include-subdomains  also accept mail for *.DOMAIN
  --recipient           restrict to these recipients (550 5.1.10 for others); repeatable
Domains compare case-insensitively, without a trailing dot, IDNs in punycode form.
`;

/** The service names the field (`recipients[1]`); the command line calls it --recipient. */
const withFlag = (err: ServiceError): string | undefined => (err.path?.startsWith('recipients[') ? `--recipient ${err.message}` : undefined);

export async function runDomain(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(argv, {
    'include-subdomains': { type: 'boolean' },
    recipient: { type: 'string', multiple: true },
  });
  const sub = positionals[0];
  if (values.help || !sub) { io.stdout.write(domainHelp); return values.help ? 0 : 2; }
  const store = openStore(values, io.env);
  const actor = actorOf(values.actor, io.env);
  try {
    if (sub === 'list') {
      const domains = await listDomains(store);
      if (values.json) printJson(io, domains);
      else printTable(io, ['domain', 'subdomains', 'recipients'], domains.map((d) => [d.domain, d.includeSubdomains ? 'yes' : 'no', d.recipients.length ? d.recipients.join(',') : '(any)']));
      return 0;
    }
    const raw = requirePositional(positionals, 1, 'DOMAIN');
    // Checked before the subcommand, as it always was: `domain frob bad!` names the domain.
    const domain = await cliCall(async () => domainOf(raw));
    if (sub === 'add') {
      const input = { domain, includeSubdomains: values['include-subdomains'] ?? false, recipients: values.recipient ?? [] };
      await cliCall(() => addDomain(store, input, actor), withFlag);
      io.stdout.write(values.json ? `${JSON.stringify({ added: domain })}\n` : `added accepted domain ${domain}\n`);
      return 0;
    }
    if (sub === 'remove') {
      await cliCall(() => removeDomain(store, domain, actor));
      io.stdout.write(values.json ? `${JSON.stringify({ removed: domain })}\n` : `removed accepted domain ${domain}\n`);
      return 0;
    }
    throw new UsageError(`domain: unknown subcommand ${JSON.stringify(sub)}`);
  } finally {
    await store.close();
  }
}
