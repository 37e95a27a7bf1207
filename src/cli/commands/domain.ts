// mxward domain add|remove|list: accepted domains, optionally with subdomains and a recipient list.
import { domainPatternMatches, normalizeAddress, normalizeDomain, parseAddress } from '../../policy/domains.ts';
import { changePolicy } from '../../store/policy-changes.ts';
import type { CliIo } from '../io.ts';
import { actorOf, openStore, parseCommand, printJson, printTable, requirePositional, UsageError } from '../io.ts';

export const domainHelp = `Usage: mxward domain add DOMAIN [--include-subdomains] [--recipient ADDRESS]...
       mxward domain remove DOMAIN
       mxward domain list [--json]

  --include-subdomains  also accept mail for *.DOMAIN
  --recipient           restrict to these recipients (550 5.1.10 for others); repeatable
Domains compare case-insensitively, without a trailing dot, IDNs in punycode form.
`;

/**
 * The recipient directory of one domain, normalised like the RCPT comparison (domain folded).
 * An entry outside the domain could never match a recipient, so it is a typo: refuse it.
 */
function directoryFor(domain: string, includeSubdomains: boolean, raw: string[]): string[] {
  return raw.map((address) => {
    const parsed = parseAddress(address);
    const covered = parsed.domain !== null && (parsed.domain === domain || (includeSubdomains && domainPatternMatches(`*.${domain}`, parsed.domain)));
    if (!covered || !parsed.localPart || parsed.relayHack) {
      throw new UsageError(`--recipient ${JSON.stringify(address)}: not an address in ${domain}`);
    }
    return normalizeAddress(address);
  });
}

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
      const { document } = await store.readPolicy();
      if (values.json) printJson(io, document.acceptedDomains);
      else printTable(io, ['domain', 'subdomains', 'recipients'], document.acceptedDomains.map((d) => [d.domain, d.includeSubdomains ? 'yes' : 'no', d.recipients.length ? d.recipients.join(',') : '(any)']));
      return 0;
    }
    const raw = requirePositional(positionals, 1, 'DOMAIN');
    const domain = normalizeDomain(raw);
    if (!domain) throw new UsageError(`not a domain name: ${JSON.stringify(raw)}`);
    if (sub === 'add') {
      const includeSubdomains = values['include-subdomains'] ?? false;
      const recipients = directoryFor(domain, includeSubdomains, values.recipient ?? []);
      await changePolicy(store, actor, 'domain.add', (doc) => {
        if (doc.acceptedDomains.some((d) => d.domain === domain)) throw new UsageError(`${domain} is already an accepted domain`);
        doc.acceptedDomains.push({ domain, includeSubdomains, recipients });
        return doc;
      });
      io.stdout.write(values.json ? `${JSON.stringify({ added: domain })}\n` : `added accepted domain ${domain}\n`);
      return 0;
    }
    if (sub === 'remove') {
      await changePolicy(store, actor, 'domain.remove', (doc) => {
        const before = doc.acceptedDomains.length;
        doc.acceptedDomains = doc.acceptedDomains.filter((d) => d.domain !== domain);
        if (doc.acceptedDomains.length === before) throw new UsageError(`${domain} is not an accepted domain`);
        return doc;
      });
      io.stdout.write(values.json ? `${JSON.stringify({ removed: domain })}\n` : `removed accepted domain ${domain}\n`);
      return 0;
    }
    throw new UsageError(`domain: unknown subcommand ${JSON.stringify(sub)}`);
  } finally {
    await store.close();
  }
}
