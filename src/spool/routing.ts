// Pure routing: which downstream a recipient's mail goes to. Per accepted domain (exact, or
// `*.domain` for its subdomains) or the default route. No I/O here, so it is tested as a table.
import { domainToASCII } from 'node:url';

export type StartTlsMode = 'required' | 'opportunistic' | 'off';

export interface RemoteRoute {
  type: 'smtp' | 'lmtp';
  host: string;
  port: number;
  starttls: StartTlsMode;
  verifyCertificate: boolean;
  /** PEM trust store for a downstream with a private CA; absent = the system roots. */
  caFile?: string;
  /** Name checked against the downstream's certificate; defaults to host. */
  tlsServerName?: string;
  auth?: { user: string; pass: string };
  /** Simultaneous connections to this destination (Postfix: destination_concurrency_limit). */
  concurrency: number;
  connectTimeoutMs: number;
}

export interface MaildirRoute {
  type: 'maildir';
}

export type Route = RemoteRoute | MaildirRoute;

export interface RoutingTable {
  /** Keys are lower-case A-label domains, or `*.domain` for every subdomain of domain. */
  routes: Record<string, Route>;
  default: Route;
}

/** Lower case, no trailing dot, IDN in A-label form: the same comparison as SPEC §1 for domains. */
export function normalizeRouteDomain(domain: string): string {
  const trimmed = domain.trim().replace(/\.$/, '').toLowerCase();
  if (trimmed.startsWith('*.')) return `*.${domainToASCII(trimmed.slice(2)) || trimmed.slice(2)}`;
  return domainToASCII(trimmed) || trimmed;
}

export function recipientDomain(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : normalizeRouteDomain(address.slice(at + 1));
}

export interface ResolvedRoute {
  /** The table key that matched (`*` for the default): also the name of the destination's pool. */
  key: string;
  route: Route;
}

/**
 * Resolutions already made, per table and by the domain as written: normalising a domain
 * (domainToASCII) for every recipient of every delivery was measurable on the accept path.
 * Bounded; a table never changes, and a new table (a reload) starts its own.
 */
const resolvedByTable = new WeakMap<RoutingTable, Map<string, ResolvedRoute>>();
const RESOLVED_PER_TABLE = 1024;

/** Exact domain first, then the closest `*.parent` wildcard, then the default. */
export function resolveRoute(table: RoutingTable, recipient: string): ResolvedRoute {
  const at = recipient.lastIndexOf('@');
  const written = at < 0 ? '' : recipient.slice(at + 1);
  let known = resolvedByTable.get(table);
  if (!known) {
    known = new Map();
    resolvedByTable.set(table, known);
  }
  const cached = known.get(written);
  if (cached) return cached;
  const resolved = Object.freeze(resolveDomain(table, at < 0 ? '' : normalizeRouteDomain(written)));
  if (known.size >= RESOLVED_PER_TABLE) known.clear();
  known.set(written, resolved);
  return resolved;
}

function resolveDomain(table: RoutingTable, domain: string): ResolvedRoute {
  const exact = table.routes[domain];
  if (domain && exact) return { key: domain, route: exact };
  const labels = domain.split('.');
  for (let i = 1; i < labels.length; i++) {
    const key = `*.${labels.slice(i).join('.')}`;
    const wildcard = table.routes[key];
    if (wildcard) return { key, route: wildcard };
  }
  return { key: '*', route: table.default };
}

/** Groups recipients by destination, keeping each recipient's index so outcomes can be put back in order. */
export function groupByRoute(table: RoutingTable, recipients: string[]): Array<ResolvedRoute & { indexes: number[] }> {
  const groups = new Map<string, ResolvedRoute & { indexes: number[] }>();
  recipients.forEach((r, i) => {
    const resolved = resolveRoute(table, r);
    const group = groups.get(resolved.key) ?? { ...resolved, indexes: [] };
    group.indexes.push(i);
    groups.set(resolved.key, group);
  });
  return [...groups.values()];
}

/** The normalised table; route keys written in any case/IDN form compare equal afterwards. */
export function compileRoutingTable(input: { routes: Record<string, Route>; default: Route }): RoutingTable {
  const routes: Record<string, Route> = {};
  for (const [key, route] of Object.entries(input.routes)) routes[normalizeRouteDomain(key)] = route;
  return Object.freeze({ routes: Object.freeze(routes), default: input.default });
}

/** Pure: true when the recipient's route is the embedded Maildir (checked at RCPT for names it cannot store). */
export function routesToMaildir(table: RoutingTable, recipient: string): boolean {
  return resolveRoute(table, recipient).route.type === 'maildir';
}
