// docs/configuration.md, generated: every key of the bootstrap file and of the policy document
// with its type, default and meaning. Types and defaults come from the zod schemas at run time;
// the meanings from the comments written above each key in the schema files (read with the
// TypeScript parser), so the reference cannot drift from the code that validates the file.
// `npm run docs:config` rewrites it; test/ops/config-reference.test.ts fails when it is stale.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import { bootstrapSchema } from './bootstrap.ts';
import { policySchema } from './policy-schema.ts';
import { unwrapSchema } from './schema-keys.ts';

type AnySchema = z.core.$ZodType;
type Def = Record<string, unknown> & { type: string };
const defOf = (s: AnySchema) => (s as unknown as { _zod: { def: Def } })._zod.def;

const SCHEMA_FILES = ['bootstrap.ts', 'auth-schema.ts', 'delivery-schema.ts', 'policy-schema.ts'];
/** Defaults that depend on the machine, described instead of printed. */
const DESCRIBED_DEFAULTS: Record<string, string> = { hostname: "this machine's host name" };

/** What a key does where its schema has no comment of its own (keys owned by other files stay theirs). */
const SUPPLEMENT: Record<string, string> = {
  hostname: 'Name in the SMTP banner and EHLO reply, and the default authserv-id.',
  dataDir: 'Data directory (store, spool, Maildir, TLS, quarantine); see "Which store a command uses".',
  listeners: 'The SMTP listeners.',
  'listeners.inbound': 'Inbound MX listener (port 25 in production; Direct Send is decided here).',
  'listeners.inbound.host': 'Address to bind; 0.0.0.0 or :: for all.',
  'listeners.inbound.port': 'TCP port; 0 = any free port.',
  'listeners.submission': 'Submission listener for SMTP AUTH users (port 587); null = none.',
  'listeners.submission.host': 'Address to bind.',
  'listeners.submission.port': 'TCP port; 0 = any free port.',
  tls: 'TLS for STARTTLS on both listeners.',
  'tls.keyFile': 'PEM private key that goes with certFile.',
  limits: 'Session and resource limits (docs/security.md).',
  'limits.maxMessageBytes': 'Largest message accepted (SIZE); bigger ones get 552 5.3.4.',
  'limits.maxHeaderBytes': 'Largest header section; bigger ones are refused.',
  'limits.maxRecipients': 'Recipients per transaction.',
  'limits.maxConnections': 'Concurrent connections; more get 421 4.3.2.',
  'limits.maxConnectionsPerIp': 'Concurrent connections from one client IP (IPv6 per ipv6PrefixLength).',
  'limits.authLockoutMs': 'Window in which failed AUTH attempts count towards the lockout.',
  'limits.authFailureMaxDelayMs': 'Longest delay of a failed AUTH reply.',
  logLevel: 'Least severe log level written; transaction outcomes are at info.',
  store: 'Where policy, users and the trace live (see "Which store a command uses").',
  admin: 'The admin listener: Prometheus /metrics, /healthz, /readyz (docs/operations.md). null = off.',
  'admin.host': 'Address of the admin listener; keep it on loopback, it has no authentication.',
  'admin.port': 'TCP port of the admin listener (worker k of serve --workers N uses port + k - 1).',
  retention: 'How long records are kept.',
  'auth.dnsTimeoutMs': 'Time to wait for one DNS answer.',
  'auth.dnsTries': 'Attempts per DNS question before a temperror.',
  'auth.dnsCacheEntries': 'DNS answers kept in memory.',
  'auth.dnsMaxTtlSeconds': 'Longest time a DNS answer is cached, whatever its TTL.',
  'quarantine.retentionDays': 'Days a quarantined message is kept before it is deleted (purged by the quarantine service, beside the trace retention).',
  'quarantine.policies.ownDomainSpoof': 'Quarantine policy (SPEC §6) for a spoof of one of our domains.',
  'quarantine.policies.foreignSpoof': 'Quarantine policy for a spoof of a foreign domain.',
  'quarantine.policies.dmarcQuarantine': 'Quarantine policy for a DMARC p=quarantine failure.',
  'quarantine.policies.dmarcReject': 'Quarantine policy for a DMARC p=reject failure that is quarantined instead of refused.',
  'delivery.routes': 'Per-domain routes that override delivery.default (docs/delivery.md).',
  'delivery.spool': 'Spool limits (docs/delivery.md).',
  'store.url': 'postgres:// URL of a PostgreSQL store shared by several nodes; unset = SQLite in the data directory.',
  rejectDirectSend: 'Reject Direct Send at RCPT (SPEC §2 step 5): anonymous sender in one of our domains.',
  rejectDirectSendHeaderFrom: 'The header-From variant at end of DATA (SPEC §2 step 6).',
  acceptedDomains: 'Domains the organization receives mail for (SPEC §1).',
  'acceptedDomains.domain': 'Domain name (IDNs in punycode form).',
  'acceptedDomains.includeSubdomains': 'Also accept mail for every subdomain.',
  onPremisesMinPrefixLength: 'Widest range an onPremises connector may name (narrower prefixes are refused).',
  'onPremisesMinPrefixLength.ipv4': 'Shortest IPv4 prefix length allowed.',
  'onPremisesMinPrefixLength.ipv6': 'Shortest IPv6 prefix length allowed.',
  connectors: 'Inbound connectors that attribute a connection to a known source (SPEC §1).',
  'connectors.name': 'Unique name, shown in the trace and X-Mxward-Connector.',
  'connectors.type': 'partner (a third party that may send as your domains) or onPremises (your own servers).',
  'connectors.senderDomains': 'P1 domains this connector covers (* = any).',
  'connectors.restrictDomainsToIPAddresses': 'Sender domains covered only from senderIPAddresses; else 550 5.7.51.',
  'connectors.restrictDomainsToCertificate': 'Sender domains covered only with the TLS certificate name; else 550 5.7.51.',
  'connectors.requireTls': 'Refuse the connector\'s mail without TLS (550 5.7.51).',
  'connectors.treatMessagesAsInternal': 'Messages through this connector count as internal.',
  'connectors.comment': 'Free text for administrators.',
  'connectors.senderIPAddresses': 'Source IPs or CIDRs the connector matches.',
  'connectors.tlsSenderCertificateName': 'TLS client certificate name the connector matches (verified chain only).',
};

interface Row { path: string; type: string; defaultValue: string; meaning: string }

/** JSDoc and line comments above each property of an object literal, keyed by the chain of property names. */
async function collectComments(dir: string): Promise<Map<string, string>> {
  const ts = (await import('typescript')).default;
  const comments = new Map<string, string>();
  for (const name of SCHEMA_FILES) {
    const text = readFileSync(join(dir, name), 'utf8');
    const source = ts.createSourceFile(name, text, ts.ScriptTarget.Latest, true);
    const visit = (node: import('typescript').Node, chain: string[]) => {
      let next = chain;
      if (ts.isPropertyAssignment(node) && (ts.isIdentifier(node.name) || ts.isStringLiteral(node.name))) {
        next = [...chain, node.name.text];
        const ranges = ts.getLeadingCommentRanges(text, node.getFullStart()) ?? [];
        const comment = ranges.map((r) => cleanComment(text.slice(r.pos, r.end))).filter(Boolean).join(' ');
        if (comment) comments.set(next.join('.'), comment);
      } else if (ts.isVariableDeclaration(node)) {
        next = [];
      }
      ts.forEachChild(node, (child) => visit(child, next));
    };
    visit(source, []);
  }
  return comments;
}

function cleanComment(raw: string): string {
  return raw.replace(/^\/\*\*?|\*\/$/g, '').replace(/^\s*\/\/\s?/gm, '').split('\n')
    .map((l) => l.replace(/^\s*\*\s?/, '').trim()).join(' ').replace(/\s+/g, ' ').trim();
}

/** The comment for `path`: the longest chain of property names that ends the path. */
function meaningOf(comments: Map<string, string>, path: string[]): string {
  const supplied = SUPPLEMENT[path.join('.')];
  if (supplied) return supplied;
  for (let start = 0; start < path.length; start++) {
    const found = comments.get(path.slice(start).join('.'));
    if (found) return found;
  }
  return '';
}

function typeName(schema: AnySchema): string {
  const def = defOf(unwrapSchema(schema));
  const bounds = (s: AnySchema) => {
    const checks = ((defOf(s).checks as Array<{ _zod: { def: Record<string, unknown> } }>) ?? []).map((c) => c._zod.def);
    const low = checks.find((c) => c.check === 'greater_than');
    const high = checks.find((c) => c.check === 'less_than');
    const int = checks.some((c) => c.check === 'number_format' && c.format === 'safeint');
    const lowText = low ? (low.inclusive ? `${String(low.value)}` : `> ${String(low.value)}`) : '';
    const range = low && high && low.inclusive && high.inclusive ? ` ${lowText}–${String(high.value)}`
      : `${low ? (low.inclusive ? ` ≥ ${String(low.value)}` : ` > ${String(low.value)}`) : ''}${high ? ` ≤ ${String(high.value)}` : ''}`;
    return `${int ? 'integer' : 'number'}${range}`;
  };
  switch (def.type) {
    case 'string': return 'string';
    case 'number': return bounds(unwrapSchema(schema));
    case 'boolean': return 'boolean';
    case 'enum': return Object.values(def.entries as Record<string, string>).map((v) => `\`${v}\``).join(' \\| ');
    case 'literal': return (def.values as unknown[]).map((v) => `\`${String(v)}\``).join(' \\| ');
    case 'array': return `list of ${typeName(def.element as AnySchema)}`;
    case 'record': return `map of ${typeName(def.valueType as AnySchema)}`;
    case 'object': return 'section';
    case 'union': return (def.options as AnySchema[]).map(typeName).join(' or ');
    case 'null': return '`null`';
    default: return def.type;
  }
}

function defaultOf(schema: AnySchema, key: string): string {
  if (DESCRIBED_DEFAULTS[key]) return DESCRIBED_DEFAULTS[key];
  let current = schema;
  for (let depth = 0; depth < 10; depth++) {
    const def = defOf(current);
    if (def.type === 'prefault') return '';
    if (def.type === 'default') {
      const value = def.defaultValue;
      return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0 ? '' : `\`${JSON.stringify(value)}\``;
    }
    if (def.type === 'optional') return '(unset)';
    const inner = (def.innerType ?? undefined) as AnySchema | undefined;
    if (!inner) return '(required)';
    current = inner;
  }
  return '';
}

function nullable(schema: AnySchema): boolean {
  let current = schema;
  for (let depth = 0; depth < 10; depth++) {
    const def = defOf(current);
    if (def.type === 'nullable') return true;
    const inner = def.innerType as AnySchema | undefined;
    if (!inner) return false;
    current = inner;
  }
  return false;
}

function walk(schema: AnySchema, path: string[], comments: Map<string, string>, rows: Row[]): void {
  const def = defOf(unwrapSchema(schema));
  const element = def.type === 'array' ? defOf(unwrapSchema(def.element as AnySchema)) : null;
  const shape = def.type === 'object' ? def.shape as Record<string, AnySchema>
    : element?.type === 'object' ? element.shape as Record<string, AnySchema> : null;
  if (!shape) return;
  for (const [key, child] of Object.entries(shape)) {
    const childPath = [...path, key];
    const type = `${typeName(child)}${nullable(child) ? ' or `null`' : ''}`;
    rows.push({ path: childPath.join('.'), type, defaultValue: defaultOf(child, key), meaning: meaningOf(comments, childPath) });
    walk(child, def.type === 'array' ? childPath : childPath, comments, rows);
  }
}

function table(rows: Row[]): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\\\\\|/g, '\\|');
  return ['| key | type | default | what it does |', '|---|---|---|---|',
    ...rows.map((r) => `| \`${r.path}\` | ${r.type} | ${cell(r.defaultValue)} | ${cell(r.meaning)} |`)].join('\n');
}

export async function renderConfigurationReference(): Promise<string> {
  const comments = await collectComments(import.meta.dirname);
  const bootstrapRows: Row[] = [];
  walk(bootstrapSchema, [], comments, bootstrapRows);
  const policyRows: Row[] = [];
  walk(policySchema, [], comments, policyRows);
  for (const row of policyRows) row.path = row.path.replace(/^(acceptedDomains|connectors)\./, '$1[].');
  return `<!-- Generated by \`npm run docs:config\` from the zod schemas in src/config/; do not edit by hand. -->
# mxward configuration reference

mxward reads two kinds of settings:

- the **bootstrap file** (YAML, \`--config FILE\` or \`MXWARD_CONFIG\`): what one node needs before
  it can read the store — listeners, TLS, limits, logging, the admin port, retention. Every key is
  optional; without a file mxward runs on the defaults below. Relative paths are relative to the file.
- the **policy document** (in the store; \`mxward policy export|import\`, \`mxward org|domain|connector\`):
  the organization's accepted domains, connectors and switches, shared by every node and changed live.

Unknown keys are refused with the line of the key and the nearest known name
(\`mxward.yaml: line 2: listners: unknown key (did you mean listeners?)\`), exit code 2.

## Which store a command uses

Every command (serve, init and each admin command) resolves the store the same way, first match wins:

| | data directory | PostgreSQL store |
|---|---|---|
| 1. flag | \`--data-dir DIR\` | \`--store-url postgres://…\` |
| 2. environment | \`MXWARD_DATA_DIR\` | \`MXWARD_STORE_URL\` |
| 3. bootstrap file (\`--config FILE\`, else \`MXWARD_CONFIG\`) | \`dataDir\` | \`store.url\` |
| 4. default | \`./.mxward\` of the current directory | (none: SQLite in the data directory) |

Only \`mxward serve\` and \`mxward init\` create a store. Any other command that finds none says where
it looked (\`no mxward store at /srv/.mxward/mxward.db (data directory the default ./.mxward of the
current directory)\`) and exits with code 2.

## Bootstrap file

${table(bootstrapRows)}

## Policy document

${table(policyRows)}
`;
}
