// One API route as a Hono handler: who is calling (token or session), role, scope and CSRF,
// request validation with the route's zod schemas, the handler, and response validation. The
// order matters: nobody learns whether a body is valid before they are allowed to send it.
import { timingSafeEqual } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Context } from 'hono';
import { setCookie, deleteCookie } from 'hono/cookie';
import type { ApiDeps, ApiRoute, Principal, RouteInput } from './api-route.ts';
import { ApiError } from './api-route.ts';
import { asApiError, RetryLaterError, sendError, validationFailure } from './http-errors.ts';
import { CSRF_HEADER, SESSION_COOKIE } from './openapi.ts';
import { mediaType, nulCharacterAt, readBoundedBody } from './request-body.ts';
import { workerJsonText, WorkerPoolBusyError } from '../services/worker-task.ts';

export interface HandlerSettings {
  deps: ApiDeps;
  /** JSON bodies beyond this get 413 (raw uploads have their route's own limit). */
  maxBodyBytes: number;
  clientIp(c: Context): string;
  /**
   * `all`: every answer is checked against its route's schema, the worker's JSON texts too (tests
   * and CI). `cheap`: every answer except a worker's JSON text, which goes out as it came (the
   * production default; docs/console.md says why). See responseValidationOf.
   */
  validateResponses: ResponseValidation;
}

export type ResponseValidation = 'all' | 'cheap';

/** MXWARD_VALIDATE_RESPONSES=all turns on the full check (test/helpers/web-client.ts sets it). */
export function responseValidationOf(env: NodeJS.ProcessEnv = process.env): ResponseValidation {
  return env.MXWARD_VALIDATE_RESPONSES === 'all' ? 'all' : 'cheap';
}

interface Caller {
  principal: Principal;
  /** Set for cookie sessions: write routes must echo it in x-csrf-token. */
  csrfToken: string | null;
}

const ANONYMOUS: Principal = { kind: 'session', name: 'anonymous', role: 'recipient', scopes: [], addresses: [] };

async function identify(c: Context, deps: ApiDeps): Promise<Caller | null> {
  const identities = deps.identities;
  if (!identities) return null;
  const authorization = c.req.header('authorization');
  if (authorization !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    const principal = m ? await identities.authenticateToken(m[1]) : null;
    // A token that is wrong, expired or revoked is an error even where a cookie is also sent.
    if (!principal) throw new ApiError(401, 'unauthenticated', 'the API token is unknown, expired or revoked');
    return { principal, csrfToken: null };
  }
  const sessionId = sessionCookieOf(c);
  if (!sessionId) return null;
  const session = await identities.resolveSession(sessionId);
  return session ? { principal: session.principal, csrfToken: session.csrfToken } : null;
}

/**
 * The session cookie's value, or null. More than one cookie of that name (one set by another page
 * on this host with a narrower Path, say) is refused rather than one picked: which the browser
 * sends first is the attacker's choice.
 */
function sessionCookieOf(c: Context): string | null {
  const values: string[] = [];
  for (const part of (c.req.header('cookie') ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) values.push(part.slice(eq + 1).trim());
  }
  if (values.length > 1) {
    throw new ApiError(401, 'unauthenticated', `more than one ${SESSION_COOKIE} cookie was sent; clear this site's cookies and sign in again`);
  }
  return values[0] || null;
}

function sameToken(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function authorize(c: Context, route: ApiRoute, caller: Caller | null): Caller {
  if (route.auth === 'none') return caller ?? { principal: ANONYMOUS, csrfToken: null };
  if (!caller) throw new ApiError(401, 'unauthenticated', 'sign in (POST /api/v1/session) or send an API token (Authorization: Bearer …)');
  const { principal } = caller;
  if (!route.roles.includes(principal.role)) throw new ApiError(403, 'forbidden', `the ${principal.role} role may not ${route.summary.toLowerCase()}`);
  if (route.scope === 'write' && !principal.scopes.includes('write')) throw new ApiError(403, 'forbidden', 'this token has the read scope only');
  // Every non-GET with a cookie, not only write-scope ones: a read-scope POST (report, analyze,
  // audit) takes text/plain, which a form on a same-site page (another port of localhost) can send
  // with the cookie, making the console do heavy work for it.
  if ((route.scope === 'write' || route.method !== 'get') && caller.csrfToken !== null && !sameToken(c.req.header(CSRF_HEADER), caller.csrfToken)) {
    throw new ApiError(403, 'csrf_failed', `a write with a session cookie needs the ${CSRF_HEADER} header from sign-in`);
  }
  return caller;
}

async function readBody(c: Context, route: ApiRoute, maxBodyBytes: number): Promise<unknown> {
  if (route.rawBody) {
    const type = mediaType(c.req.header('content-type'));
    if (!route.rawBody.contentTypes.includes(type)) {
      throw new ApiError(415, 'unsupported_media_type', `send the upload as ${route.rawBody.contentTypes.join(' or ')}`);
    }
    return readBoundedBody(c.req.raw, route.rawBody.maxBytes);
  }
  if (!route.body) {
    await readBoundedBody(c.req.raw, maxBodyBytes); // drained, still bounded
    return undefined;
  }
  if (mediaType(c.req.header('content-type')) !== 'application/json') {
    // Also what keeps a plain HTML form on another site from posting here (no CORS preflight).
    throw new ApiError(415, 'unsupported_media_type', 'send the body as application/json');
  }
  const bytes = await readBoundedBody(c.req.raw, maxBodyBytes);
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ApiError(400, 'validation_failed', 'body: not valid JSON', 'body');
  }
  refuseNul(json, 'body');
  const parsed = route.body.safeParse(json);
  if (!parsed.success) throw validationFailure('body', parsed.error);
  return parsed.data;
}

function queryObject(c: Context): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, values] of Object.entries(c.req.queries())) out[key] = values.length === 1 ? values[0] : values;
  return out;
}

function refuseNul(value: unknown, where: string): void {
  const at = nulCharacterAt(value, where);
  if (at !== null) throw new ApiError(400, 'validation_failed', `${at}: a NUL character is not allowed`, at);
}

function parsePart(schema: ApiRoute['params'], value: unknown, where: 'params' | 'query'): unknown {
  refuseNul(value, where);
  if (!schema) return value;
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw validationFailure(where, parsed.error);
  return parsed.data;
}

function actorOf(principal: Principal): string {
  if (principal.kind === 'token') return `api:${principal.name}`;
  return principal.role === 'recipient' ? `recipient:${principal.name}` : `console:${principal.name}`;
}

function sessionCookieControl(c: Context, secureCookie: boolean): NonNullable<RouteInput<unknown, unknown, unknown>['sessionCookie']> {
  return {
    value: sessionCookieOf(c),
    set(sessionId, expiresAt) {
      setCookie(c, SESSION_COOKIE, sessionId, { path: '/', httpOnly: true, secure: secureCookie, sameSite: 'Strict', expires: new Date(expiresAt) });
    },
    clear() {
      deleteCookie(c, SESSION_COOKIE, { path: '/', httpOnly: true, secure: secureCookie, sameSite: 'Strict' });
    },
  };
}

function responseInvalid(c: Context, route: ApiRoute, deps: ApiDeps, issues: unknown): Response {
  deps.logger.error({ stage: 'api', event: 'response_invalid', route: `${route.method.toUpperCase()} ${route.path}`, issues }, 'API response does not match its schema');
  return sendError(c, 500, 'response_invalid', 'the server produced an answer that does not match its schema; see the gateway log');
}

/**
 * A worker's result is sent as the JSON text it arrived in (issue 13: parsing it, checking a page
 * of 50 records with zod and serialising it again cost the event loop a few ms per request).
 * With full validation the text must also be exactly what the schema lets through (no field the
 * schema would strip, no default it would add), so the tests hold the production path to the
 * schema.
 */
function respondWithText(c: Context, route: ApiRoute, result: unknown, text: string, settings: HandlerSettings): Response {
  if (settings.validateResponses === 'all') {
    const checked = route.response.safeParse(result);
    if (!checked.success) return responseInvalid(c, route, settings.deps, checked.error.issues.slice(0, 5));
    if (!isDeepStrictEqual(checked.data, result)) return responseInvalid(c, route, settings.deps, 'the worker answer differs from what its schema lets through');
  }
  return c.body(text, (route.status ?? 200) as 200, { 'content-type': route.responseContentType ?? 'application/json' });
}

function respond(c: Context, route: ApiRoute, result: unknown, settings: HandlerSettings): Response {
  if (route.status === 204) return c.body(null, 204);
  const text = workerJsonText(result);
  if (text !== undefined) return respondWithText(c, route, result, text, settings);
  const checked = route.response.safeParse(result);
  if (!checked.success) return responseInvalid(c, route, settings.deps, checked.error.issues.slice(0, 5));
  const status = (route.status ?? 200) as 200;
  if (route.responseContentType) {
    const value = checked.data;
    const body = typeof value === 'string' || value instanceof Uint8Array ? value : JSON.stringify(value);
    return c.body(body as string, status, { 'content-type': route.responseContentType });
  }
  return c.json(checked.data as object, status);
}

/** The Hono handler for one route. */
export function routeHandler(route: ApiRoute, settings: HandlerSettings) {
  const { deps } = settings;
  return async (c: Context): Promise<Response> => {
    try {
      const caller = authorize(c, route, await identify(c, deps));
      const params = parsePart(route.params, c.req.param(), 'params');
      const query = parsePart(route.query, queryObject(c), 'query');
      const body = await readBody(c, route, settings.maxBodyBytes);
      const input: RouteInput<unknown, unknown, unknown> = {
        params, query, body, principal: caller.principal, deps, actor: actorOf(caller.principal),
        clientIp: settings.clientIp(c), sessionCookie: sessionCookieControl(c, true),
      };
      return respond(c, route, await route.handler(input), settings);
    } catch (err) {
      // The console's worker pool refused more waiting work (issue 13): come back shortly.
      if (err instanceof WorkerPoolBusyError) return sendError(c, 503, 'busy', err.message, undefined, { 'retry-after': String(err.retryAfterSeconds) });
      const known = asApiError(err);
      if (known) {
        const headers = known instanceof RetryLaterError ? { 'retry-after': String(known.retryAfterSeconds) } : undefined;
        return sendError(c, known.status, known.code, known.message, known.path, headers);
      }
      deps.logger.error({ stage: 'api', event: 'internal_error', route: `${route.method.toUpperCase()} ${route.path}`, err }, 'API handler failed');
      return sendError(c, 500, 'internal', 'internal error; see the gateway log');
    }
  };
}
