// mxward connector add|set|remove|list|test: inbound connectors (SPEC §1), the only way a
// source outside AUTH becomes "partner" or "internal". Thin: parse -> services/policy-edits.ts -> print.
import type { ConnectorSettings } from '../../config/policy-schema.ts';
import { addConnector, listConnectors, removeConnector, testConnector, updateConnector } from '../../services/policy-edits.ts';
import type { PolicyStore } from '../../store/ports.ts';
import type { CliIo } from '../io.ts';
import { actorOf, openStore, parseBoolean, parseCommand, printJson, printTable, requirePositional, UsageError } from '../io.ts';
import { cliCall } from './service-failure.ts';

export const connectorHelp = `Usage: mxward connector add NAME --type partner|onPremises [settings]
       mxward connector set NAME [settings]
       mxward connector remove NAME
       mxward connector list [--json]
       mxward connector test --ip IP [--cert-name NAME] [--cert-fingerprint SHA256] [--tls] [--sender ADDRESS|DOMAIN] [--json]

Settings:
  --type partner|onPremises
  --sender-domain PATTERN          *, example.com or *.example.com (repeatable; default *)
  --ip CIDR                        source address or range, IPv4 or IPv6 (repeatable); plain decimal
                                   IPv4 only (192.168.1.8, not 192.168.001.010)
  --cert-name NAME                 TLS certificate name (SAN dNSName, then CN); *.example.com allowed
  --cert-fingerprint SHA256        pin: the certificate's SHA-256 must also be one of these (repeatable)
  --restrict-to-ips true|false     partner: the sender domains may only come from these IPs (5.7.51)
  --restrict-to-cert true|false    partner: the sender domains may only come with this certificate
  --require-tls true|false         refuse the connector's mail over plaintext
  --internal true|false            onPremises: treat its messages as internal
  --enabled true|false
  --comment TEXT
"set" replaces a list given on the command line (--ip, --sender-domain) and keeps the others.
"test" shows which connector, if any, a source would match and why; --cert-name there means a
verified, currently valid certificate presenting that name exactly (and implies TLS), with the
--cert-fingerprint given (if any); --tls alone means
an encrypted session without a client certificate (for connectors with --require-tls).
`;

const options = {
  type: { type: 'string' },
  'sender-domain': { type: 'string', multiple: true },
  ip: { type: 'string', multiple: true },
  'cert-name': { type: 'string' },
  'cert-fingerprint': { type: 'string', multiple: true },
  'restrict-to-ips': { type: 'string' },
  'restrict-to-cert': { type: 'string' },
  'require-tls': { type: 'string' },
  internal: { type: 'string' },
  enabled: { type: 'string' },
  comment: { type: 'string' },
  sender: { type: 'string' },
  tls: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseCommand<typeof options>>['values'];

/** The settings the command line names, and only those, so `set` leaves the rest alone. */
function settingsFromFlags(values: Values): Partial<ConnectorSettings> {
  const out: Record<string, unknown> = {};
  if (values.type !== undefined) out.type = values.type;
  if (values['sender-domain'] !== undefined) out.senderDomains = values['sender-domain'];
  if (values.ip !== undefined) out.senderIPAddresses = values.ip;
  if (values['cert-name'] !== undefined) out.tlsSenderCertificateName = values['cert-name'] === '' ? null : values['cert-name'];
  if (values['cert-fingerprint'] !== undefined) out.certificateFingerprints = values['cert-fingerprint'].filter((f) => f !== '');
  const booleans: Array<[keyof Values, keyof ConnectorSettings]> = [
    ['restrict-to-ips', 'restrictDomainsToIPAddresses'], ['restrict-to-cert', 'restrictDomainsToCertificate'],
    ['require-tls', 'requireTls'], ['internal', 'treatMessagesAsInternal'], ['enabled', 'enabled'],
  ];
  for (const [flag, key] of booleans) {
    const b = parseBoolean(values[flag] as string | undefined, `--${String(flag)}`);
    if (b !== undefined) out[key] = b;
  }
  if (values.comment !== undefined) out.comment = values.comment;
  return out as Partial<ConnectorSettings>;
}

function describe(c: ConnectorSettings): string[] {
  return [
    c.name, c.type, c.enabled ? 'yes' : 'no', c.senderDomains.join(','),
    c.senderIPAddresses.join(',') || '-', c.tlsSenderCertificateName ?? '-',
    [c.restrictDomainsToIPAddresses && 'ips', c.restrictDomainsToCertificate && 'cert'].filter(Boolean).join('+') || '-',
    c.requireTls ? 'yes' : 'no', c.treatMessagesAsInternal ? 'yes' : 'no',
  ];
}

export async function runConnector(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(argv, options);
  const sub = positionals[0];
  if (values.help || !sub) { io.stdout.write(connectorHelp); return values.help ? 0 : 2; }
  const store = openStore(values, io.env);
  const actor = actorOf(values.actor, io.env);
  try {
    if (sub === 'list') {
      const connectors = await listConnectors(store);
      if (values.json) printJson(io, connectors);
      else printTable(io, ['name', 'type', 'enabled', 'senderDomains', 'senderIPs', 'certName', 'restrict', 'requireTls', 'internal'], connectors.map(describe));
      return 0;
    }
    if (sub === 'test') return await runTest(values, io, store);
    const name = requirePositional(positionals, 1, 'connector NAME');
    if (sub === 'add') {
      if (!values.type) throw new UsageError('connector add: --type partner|onPremises is required');
      await cliCall(() => addConnector(store, { name, ...settingsFromFlags(values) }, actor));
      io.stdout.write(values.json ? `${JSON.stringify({ added: name })}\n` : `added connector "${name}"\n`);
      return 0;
    }
    if (sub === 'set') {
      const changes = settingsFromFlags(values);
      if (Object.keys(changes).length === 0) throw new UsageError('connector set: nothing to change (see --help)');
      await cliCall(() => updateConnector(store, name, changes, actor));
      io.stdout.write(values.json ? `${JSON.stringify({ changed: name })}\n` : `changed connector "${name}"\n`);
      return 0;
    }
    if (sub === 'remove') {
      await cliCall(() => removeConnector(store, name, actor));
      io.stdout.write(values.json ? `${JSON.stringify({ removed: name })}\n` : `removed connector "${name}"\n`);
      return 0;
    }
    throw new UsageError(`connector: unknown subcommand ${JSON.stringify(sub)}`);
  } finally {
    await store.close();
  }
}

async function runTest(values: Values, io: CliIo, store: PolicyStore): Promise<number> {
  const ip = values.ip?.[0];
  if (!ip) throw new UsageError('connector test: --ip IP is required');
  const probe = { ip, certName: values['cert-name'], certFingerprints: values['cert-fingerprint'], tls: values.tls, sender: values.sender ?? null };
  const tested = await cliCall(() => testConnector(store, probe), (err) => (err.path === 'ip' ? `--ip: ${err.message}` : undefined));
  const { result, connector, by, reasons } = tested;
  if (values.json) printJson(io, { result, connector, by, reasons });
  else {
    const head = result === 'matched' ? `matches connector "${connector}" by ${by}`
      : result === 'none' ? 'matches no connector (anonymous source)'
        : `refused by connector "${connector}" (${result})`;
    // Entries stored before the strict rules match nothing; say so where an operator looks.
    const refused = tested.unusableRanges.map((r) => `  ! connector "${r.connector}": ${r.range} matches nothing: ${r.reason}`);
    io.stdout.write(`${head}\n${[...reasons.map((r) => `  - ${r}`), ...refused].join('\n')}\n`);
  }
  return 0;
}
