// mxward connector add|set|remove|list|test: inbound connectors (SPEC §1), the only way a
// source outside AUTH becomes "partner" or "internal".
import type { ConnectorSettings } from '../../config/policy-schema.ts';
import { compilePolicy } from '../../policy/compile.ts';
import { matchConnector } from '../../policy/connectors.ts';
import { parseAddress } from '../../policy/domains.ts';
import { parseAddressStrict } from '../../policy/ip-syntax.ts';
import { changePolicy } from '../../store/policy-changes.ts';
import type { CliIo } from '../io.ts';
import { actorOf, openStore, parseBoolean, parseCommand, printJson, printTable, requirePositional, UsageError } from '../io.ts';

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
      const { document } = await store.readPolicy();
      if (values.json) printJson(io, document.connectors);
      else printTable(io, ['name', 'type', 'enabled', 'senderDomains', 'senderIPs', 'certName', 'restrict', 'requireTls', 'internal'], document.connectors.map(describe));
      return 0;
    }
    if (sub === 'test') return await testConnector(values, io, store);
    const name = requirePositional(positionals, 1, 'connector NAME');
    const sameName = (c: ConnectorSettings) => c.name.toLowerCase() === name.toLowerCase();
    if (sub === 'add') {
      if (!values.type) throw new UsageError('connector add: --type partner|onPremises is required');
      await changePolicy(store, actor, 'connector.add', (doc) => {
        if (doc.connectors.some(sameName)) throw new UsageError(`a connector named "${name}" already exists`);
        doc.connectors.push({ name, ...settingsFromFlags(values) } as ConnectorSettings);
        return doc;
      });
      io.stdout.write(values.json ? `${JSON.stringify({ added: name })}\n` : `added connector "${name}"\n`);
      return 0;
    }
    if (sub === 'set') {
      const changes = settingsFromFlags(values);
      if (Object.keys(changes).length === 0) throw new UsageError('connector set: nothing to change (see --help)');
      await changePolicy(store, actor, 'connector.set', (doc) => {
        const i = doc.connectors.findIndex(sameName);
        if (i < 0) throw new UsageError(`no connector named "${name}"`);
        doc.connectors[i] = { ...doc.connectors[i], ...changes };
        return doc;
      });
      io.stdout.write(values.json ? `${JSON.stringify({ changed: name })}\n` : `changed connector "${name}"\n`);
      return 0;
    }
    if (sub === 'remove') {
      await changePolicy(store, actor, 'connector.remove', (doc) => {
        if (!doc.connectors.some(sameName)) throw new UsageError(`no connector named "${name}"`);
        doc.connectors = doc.connectors.filter((c) => !sameName(c));
        return doc;
      });
      io.stdout.write(values.json ? `${JSON.stringify({ removed: name })}\n` : `removed connector "${name}"\n`);
      return 0;
    }
    throw new UsageError(`connector: unknown subcommand ${JSON.stringify(sub)}`);
  } finally {
    await store.close();
  }
}

async function testConnector(values: Values, io: CliIo, store: ReturnType<typeof openStore>): Promise<number> {
  const ip = values.ip?.[0];
  if (!ip) throw new UsageError('connector test: --ip IP is required');
  // The same strict reading as the policy (no octal, hex or shortened IPv4): 999.1.1.1 or
  // 010.1.2.3 must not quietly test some other address.
  const parsed = parseAddressStrict(ip.replace(/^\[|\]$/g, ''));
  if (!parsed.ok) throw new UsageError(`--ip: not an IP address: ${JSON.stringify(ip)}: ${parsed.reason}`);
  const { document, version } = await store.readPolicy();
  const policy = compilePolicy(document, version);
  const sender = values.sender ?? null;
  const p1Domain = sender === null ? null : (sender.includes('@') ? parseAddress(sender).domain : parseAddress(`x@${sender}`).domain);
  const now = Date.now();
  const certName = values['cert-name'];
  const certificate = certName || values['cert-fingerprint']?.length ? {
    subjectCN: certName ?? null, dnsNames: certName ? [certName] : [], verified: true, verifyError: null,
    validFrom: new Date(now - 86_400_000).toISOString(), validTo: new Date(now + 86_400_000).toISOString(),
    fingerprint256: values['cert-fingerprint']?.[0] ?? 'none given',
  } : null;
  const match = matchConnector(policy, { remoteIp: ip, tlsActive: certificate !== null || values.tls === true, certificate, p1Domain, nowMs: now });
  const result = {
    result: match.kind,
    connector: match.kind === 'none' ? null : match.connector.settings.name,
    by: match.kind === 'matched' ? match.by : null,
    reasons: match.reasons,
  };
  if (values.json) printJson(io, result);
  else {
    const head = match.kind === 'matched' ? `matches connector "${result.connector}" by ${result.by}`
      : match.kind === 'none' ? 'matches no connector (anonymous source)'
        : `refused by connector "${result.connector}" (${match.kind})`;
    // Entries stored before the strict rules match nothing; say so where an operator looks.
    const refused = policy.connectors.flatMap((c) => c.refusedRanges.map((r) => `  ! connector "${c.settings.name}": ${r.text} matches nothing: ${r.reason}`));
    io.stdout.write(`${head}\n${[...match.reasons.map((r) => `  - ${r}`), ...refused].join('\n')}\n`);
  }
  return 0;
}
