// The contract every HTTP API endpoint is written against (issue 13): a route is data (method,
// path, who may call it, zod schemas for what comes in and goes out, a handler that calls a
// service). The server (web/server.ts) validates requests and responses with the same schemas,
// checks role, scope and CSRF, and builds the OpenAPI 3.1 document from the list, so the
// document, the validation and the code cannot drift apart.
import type { z } from 'zod';
import type { Logger } from 'pino';
import type { BootstrapConfig } from '../config/bootstrap.ts';
import type { QuarantineService } from '../quarantine/quarantine-service.ts';
import type { Spool } from '../spool/spool.ts';
import type { LivePolicy } from '../store/live-policy.ts';
import type { Store } from '../store/ports.ts';
import type { IdentityService } from '../services/identities.ts';

/** administrator: everything; helpdesk: trace, quarantine, queue; auditor: read only; recipient: own quarantine. */
export type Role = 'administrator' | 'helpdesk' | 'auditor' | 'recipient';
export const ROLES: readonly Role[] = ['administrator', 'helpdesk', 'auditor', 'recipient'];

/** `write` routes need a token with the write scope, and for cookie sessions a CSRF token. */
export type Scope = 'read' | 'write';

/** Who is calling, as the server established it (console session, API token or recipient link). */
export interface Principal {
  kind: 'session' | 'token' | 'recipient-link';
  /** Account or token owner name; for recipients the mailbox user or address. Goes into the audit log. */
  name: string;
  role: Role;
  scopes: readonly Scope[];
  /** For the recipient role: the addresses whose quarantined mail this principal may see. */
  addresses: readonly string[];
}

/** What route handlers may use; built once in app.ts (wiring) and passed to every handler. */
export interface ApiDeps {
  config: BootstrapConfig;
  dataDir: string;
  store: Store;
  livePolicy: LivePolicy | null;
  quarantine: QuarantineService | null;
  spool: Spool | null;
  logger: Logger;
  /** Accounts, tokens, sessions (services/identities.ts); absent only in tests that need none. */
  identities?: IdentityService;
}

export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  /** The JSON body parsed by `body`, or for `rawBody` routes the bytes as uploaded. */
  body: B;
  principal: Principal;
  deps: ApiDeps;
  /** For the audit log: `api:<name>` (token) or `console:<name>` (session). */
  actor: string;
  /** The client's address as the socket saw it (login throttling, audit). */
  clientIp?: string;
  /** Only the session routes use it: the session cookie of this request, and setting or clearing it. */
  sessionCookie?: {
    value: string | null;
    set(sessionId: string, expiresAt: string): void;
    clear(): void;
  };
}

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface ApiRoute<P = any, Q = any, B = any, R = any> {
  method: HttpMethod;
  /** Hono path under /api/v1, e.g. `/connectors/:name`. */
  path: string;
  /** OpenAPI tag (`policy`, `trace`, `quarantine`, `queue`, `report`, `audit`, `identity`, `nodes`). */
  tag: string;
  summary: string;
  roles: readonly Role[];
  scope: Scope;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  /** JSON request body. */
  body?: z.ZodType<B>;
  /** Instead of a JSON body: the raw upload (a CSV export), bounded by maxBytes (413 beyond). */
  rawBody?: { contentTypes: readonly string[]; maxBytes: number };
  /** 200 unless said; 204 routes return undefined. */
  status?: 200 | 201 | 202 | 204;
  /** Validated before it is sent (a mismatch is a bug: 500 `response_invalid`, logged). */
  response: z.ZodType<R>;
  /** Not JSON: e.g. `message/rfc822` for a quarantined message, `text/plain` for headers. */
  responseContentType?: string;
  /**
   * `none`: callable without a principal (sign-in routes only); the handler then gets an
   * anonymous principal with no scopes. Default `required`: 401 `unauthenticated` without one.
   */
  auth?: 'required' | 'none';
  handler(input: RouteInput<P, Q, B>): Promise<R>;
}

/**
 * An expected failure with a stable machine code (`not_found`, `validation_failed`, `conflict`,
 * `forbidden`, `unauthenticated`, `csrf_failed`, `rate_limited`, `payload_too_large`, ...) and,
 * for validation, the field path (`connectors[2].senderIPAddresses[0]`). Answered as
 * `{ error: { code, message, path? } }`.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly path: string | undefined;
  constructor(status: number, code: string, message: string, path?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.path = path;
  }
}

/** Identity for route definitions, so each list keeps its element types checked. */
export function defineRoute<P, Q, B, R>(route: ApiRoute<P, Q, B, R>): ApiRoute<P, Q, B, R> {
  return route;
}
