// Sign-in, accounts and API tokens (issue 13). The session routes set the HttpOnly cookie and
// return the CSRF token the console echoes on writes; tokens are shown once, in the answer to
// their creation. Every change goes through services/identities.ts, which writes the audit log.
import { z } from 'zod';
import type { ApiDeps, RouteInput } from '../api-route.ts';
import { ApiError, defineRoute, ROLES } from '../api-route.ts';
import type { ApiRoute } from '../api-route.ts';
import { RetryLaterError } from '../http-errors.ts';
import type { IdentityService, LoginOutcome } from '../../services/identities.ts';

const staffRole = z.enum(['administrator', 'helpdesk', 'auditor']);
const scope = z.enum(['read', 'write']);

const principalSchema = z.object({
  kind: z.enum(['session', 'token', 'recipient-link']),
  name: z.string(),
  role: z.enum(['administrator', 'helpdesk', 'auditor', 'recipient']),
  scopes: z.array(scope),
  addresses: z.array(z.string()),
});

const sessionAnswer = z.object({
  principal: principalSchema,
  /** Send it back in x-csrf-token on every write. */
  csrfToken: z.string(),
  expiresAt: z.string(),
});

const accountSchema = z.object({ username: z.string(), role: staffRole, createdAt: z.string() });

const tokenSchema = z.object({
  id: z.string(), name: z.string(), role: staffRole, scopes: z.array(scope), createdBy: z.string(), createdAt: z.string(),
  expiresAt: z.string().nullable(), revokedAt: z.string().nullable(), lastUsedAt: z.string().nullable(),
});

function identitiesOf(deps: ApiDeps): IdentityService {
  if (!deps.identities) throw new ApiError(503, 'unavailable', 'console identities are not configured on this node');
  return deps.identities;
}

/** A failed sign-in waits (growing with failures) before its 401, as SMTP AUTH does. */
async function answerLogin(input: RouteInput<unknown, unknown, unknown>, outcome: LoginOutcome) {
  if (!outcome.ok) {
    if (outcome.reason === 'rate_limited') throw new RetryLaterError('too many failed sign-ins; try again later', outcome.retryAfterMs / 1000);
    await new Promise((r) => setTimeout(r, outcome.delayMs));
    throw new ApiError(401, 'unauthenticated', 'wrong user name or password');
  }
  const { session } = outcome;
  input.sessionCookie?.set(session.sessionId, session.expiresAt);
  return { principal: session.principal, csrfToken: session.csrfToken, expiresAt: session.expiresAt };
}

const credentials = z.object({ username: z.string().min(1).max(256), password: z.string().min(1).max(1024) }).strict();

export const identityRoutes: ApiRoute[] = [
  defineRoute({
    method: 'post', path: '/session', tag: 'identity', summary: 'Sign in with a console account', auth: 'none',
    roles: ROLES, scope: 'write', body: credentials, status: 201, response: sessionAnswer,
    handler: async (input) => answerLogin(input, await identitiesOf(input.deps).login(input.body.username, input.body.password, input.clientIp ?? 'unknown')),
  }),
  defineRoute({
    method: 'get', path: '/session', tag: 'identity', summary: 'Show who is signed in', roles: ROLES, scope: 'read',
    response: z.object({ principal: principalSchema, csrfToken: z.string().nullable() }),
    handler: async ({ principal, deps, sessionCookie }) => {
      // The console reloads: it gets its CSRF token again from the session it still has.
      const session = sessionCookie?.value && principal.kind !== 'token' ? await identitiesOf(deps).resolveSession(sessionCookie.value) : null;
      return { principal: { ...principal, scopes: [...principal.scopes], addresses: [...principal.addresses] }, csrfToken: session?.csrfToken ?? null };
    },
  }),
  defineRoute({
    method: 'delete', path: '/session', tag: 'identity', summary: 'Sign out', roles: ROLES, scope: 'write', status: 204,
    response: z.undefined(),
    handler: async ({ deps, sessionCookie }) => {
      if (sessionCookie?.value) await identitiesOf(deps).logout(sessionCookie.value);
      sessionCookie?.clear();
      return undefined;
    },
  }),
  defineRoute({
    method: 'post', path: '/recipient-session', tag: 'identity', auth: 'none', roles: ROLES, scope: 'write', status: 201,
    summary: 'Sign in as a recipient, with mail credentials or a signed link from the quarantine digest',
    body: z.union([credentials, z.object({ linkToken: z.string().min(1).max(1024) }).strict()]),
    response: sessionAnswer,
    handler: async (input) => {
      const identities = identitiesOf(input.deps);
      const client = input.clientIp ?? 'unknown';
      const outcome = 'linkToken' in input.body
        ? await identities.recipientLinkLogin(input.body.linkToken, client)
        : await identities.recipientLogin(input.body.username, input.body.password, client);
      return answerLogin(input, outcome);
    },
  }),
  defineRoute({
    method: 'post', path: '/recipient-links', tag: 'identity', summary: 'Create a signed sign-in link for a recipient address',
    roles: ['administrator', 'helpdesk'], scope: 'write', status: 201,
    body: z.object({ address: z.email(), ttlHours: z.number().int().min(1).max(24 * 30).default(72) }).strict(),
    response: z.object({ token: z.string(), url: z.string(), expiresAt: z.string() }),
    handler: async ({ body, deps, actor }) => {
      const link = await identitiesOf(deps).createRecipientLink(body.address, body.ttlHours * 3600_000, actor);
      return { ...link, url: `/console/#/r/${link.token}` };
    },
  }),
  defineRoute({
    method: 'get', path: '/accounts', tag: 'identity', summary: 'List console accounts', roles: ['administrator'], scope: 'read',
    response: z.object({ accounts: z.array(accountSchema) }),
    handler: async ({ deps }) => ({ accounts: await identitiesOf(deps).listAccounts() as Array<z.infer<typeof accountSchema>> }),
  }),
  defineRoute({
    method: 'post', path: '/accounts', tag: 'identity', summary: 'Add a console account', roles: ['administrator'], scope: 'write', status: 201,
    body: z.object({ username: z.string().min(1).max(64), role: staffRole, password: z.string().min(12).max(1024) }).strict(),
    response: accountSchema,
    handler: async ({ body, deps, actor }) => {
      const { username, role, createdAt } = await identitiesOf(deps).addAccount(body.username, body.role, body.password, actor);
      return { username, role: role as z.infer<typeof staffRole>, createdAt };
    },
  }),
  defineRoute({
    method: 'patch', path: '/accounts/:username', tag: 'identity', summary: "Change a console account's role or password (its sessions end)",
    roles: ['administrator'], scope: 'write', params: z.object({ username: z.string().min(1).max(64) }),
    body: z.object({ role: staffRole.optional(), password: z.string().min(12).max(1024).optional() }).strict()
      .refine((b) => b.role !== undefined || b.password !== undefined, { message: 'give a new role or password', path: ['role'] }),
    response: accountSchema,
    handler: async ({ params, body, deps, actor }) => {
      const updated = await identitiesOf(deps).updateAccount(params.username, body, actor);
      return { ...updated, role: updated.role as z.infer<typeof staffRole> };
    },
  }),
  defineRoute({
    method: 'delete', path: '/accounts/:username', tag: 'identity', summary: 'Remove a console account', roles: ['administrator'], scope: 'write',
    params: z.object({ username: z.string().min(1).max(64) }), status: 204, response: z.undefined(),
    handler: async ({ params, deps, actor }) => { await identitiesOf(deps).removeAccount(params.username, actor); return undefined; },
  }),
  defineRoute({
    method: 'get', path: '/tokens', tag: 'identity', summary: 'List API tokens (never the secrets)', roles: ['administrator'], scope: 'read',
    response: z.object({ tokens: z.array(tokenSchema) }),
    handler: async ({ deps }) => ({ tokens: await identitiesOf(deps).listTokens() as Array<z.infer<typeof tokenSchema>> }),
  }),
  defineRoute({
    method: 'post', path: '/tokens', tag: 'identity', summary: 'Create an API token (the secret is shown once, here)',
    roles: ['administrator'], scope: 'write', status: 201,
    body: z.object({
      name: z.string().min(1).max(64),
      role: staffRole,
      scopes: z.array(scope).min(1).default(['read']),
      /** ISO time, or null for a token that does not expire. Default: 90 days. */
      expiresAt: z.iso.datetime({ offset: true }).nullable().optional(),
    }).strict(),
    response: z.object({ token: z.string(), info: tokenSchema }),
    handler: async ({ body, deps, actor }) => {
      const expiresAt = body.expiresAt === undefined ? new Date(Date.now() + 90 * 24 * 3600_000).toISOString() : body.expiresAt;
      const created = await identitiesOf(deps).createToken({ name: body.name, role: body.role, scopes: body.scopes, expiresAt }, actor);
      return created as { token: string; info: z.infer<typeof tokenSchema> };
    },
  }),
  defineRoute({
    method: 'delete', path: '/tokens/:id', tag: 'identity', summary: 'Revoke an API token', roles: ['administrator'], scope: 'write',
    params: z.object({ id: z.string().regex(/^[0-9a-f]{12}$/, 'a token id (12 hex digits)') }), status: 204, response: z.undefined(),
    handler: async ({ params, deps, actor }) => { await identitiesOf(deps).revokeToken(params.id, actor); return undefined; },
  }),
];
