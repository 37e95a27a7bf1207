// The quarantine over the API (issue 13, SPEC §6 and §12): list, one item, its headers and a
// plain-text preview, and the actions. Every route goes through services/quarantine-actions.ts,
// which checks the caller's role and, for recipients, the message's quarantine policy bits; the
// role lists here are the first gate (and what the OpenAPI document shows).
import { z } from 'zod';
import { ApiError, defineRoute } from '../api-route.ts';
import type { ApiRoute, Principal, Role, RouteInput } from '../api-route.ts';
import { QuarantineActions } from '../../services/quarantine-actions.ts';
import type { QuarantineCaller } from '../../services/quarantine-actions.ts';
import { required, serviceCall } from './ops-common.ts';

const ALL: readonly Role[] = ['administrator', 'helpdesk', 'auditor', 'recipient'];
const ADMINS: readonly Role[] = ['administrator', 'helpdesk'];

const ACTIONS = ['preview', 'headers', 'release', 'request-release', 'approve', 'deny', 'delete'] as const;

export const quarantineItemSchema = z.object({
  id: z.string(),
  time: z.string(),
  expires: z.string(),
  transactionId: z.string().describe('the trace record of the transaction that was quarantined'),
  policy: z.string().describe('the quarantine policy (SPEC §6) that decides what recipients may do'),
  kind: z.string().describe('ownDomainSpoof | foreignSpoof | dmarcQuarantine | dmarcReject | other'),
  mailFrom: z.string().nullable(),
  headerFrom: z.array(z.string()),
  subject: z.string().nullable(),
  sizeBytes: z.number(),
  reason: z.string(),
  recipients: z.array(z.object({
    address: z.string(),
    state: z.enum(['held', 'requested', 'releasing', 'released', 'deleted']),
    releaseQueueId: z.string().nullable(),
    notified: z.boolean(),
  })).describe('for a recipient caller, only their own copies'),
  permissions: z.object({ bits: z.number(), names: z.string(), notify: z.boolean() }).describe('what the policy lets recipients do'),
  actions: z.array(z.enum(ACTIONS)).describe('what this caller may do with the item now'),
});

const idParams = z.object({ id: z.string().min(1).max(100) });

const listQuery = z.object({
  state: z.enum(['pending', 'requested', 'all']).default('pending').describe('pending: held, requested or releasing; requested: release requests waiting'),
  recipient: z.string().min(3).max(320).optional().describe('administrators and helpdesk: one recipient\'s items'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).max(10_000).default(0),
}).strict();

const releaseResult = z.object({ queueIds: z.array(z.string()), recipients: z.array(z.string()) });
const recipientsResult = z.object({ recipients: z.array(z.string()) });

function callerOf(principal: Principal, actor: string): QuarantineCaller {
  return { actor, role: principal.role, addresses: principal.addresses };
}

/** The actions service for this request, and the caller it acts for. */
function act(input: RouteInput<unknown, unknown, unknown>): { actions: QuarantineActions; caller: QuarantineCaller } {
  return { actions: new QuarantineActions(required(input.deps.quarantine, 'the quarantine')), caller: callerOf(input.principal, input.actor) };
}

export const quarantineRoutes: ApiRoute[] = [
  defineRoute({
    method: 'get', path: '/quarantine', tag: 'quarantine', roles: ALL, scope: 'read',
    summary: 'Quarantined messages, newest first (a recipient sees only their own, and nothing under AdminOnlyAccessPolicy)',
    query: listQuery,
    response: z.object({ items: z.array(quarantineItemSchema), nextOffset: z.number().nullable() }),
    handler: (input) => serviceCall(async () => {
      const { actions, caller } = act(input);
      const { query } = input;
      if (query.recipient && caller.role !== 'administrator' && caller.role !== 'helpdesk') {
        throw new ApiError(403, 'forbidden', 'only administrators and the helpdesk list by recipient', 'query.recipient');
      }
      const page = await actions.list(caller, { state: query.state, recipient: query.recipient, limit: query.limit, offset: query.offset });
      return { items: page.items, nextOffset: page.hasMore ? query.offset + query.limit : null };
    }),
  }),
  defineRoute({
    method: 'get', path: '/quarantine/:id', tag: 'quarantine', roles: ALL, scope: 'read',
    summary: 'One quarantined message, with what its policy allows and what this caller may do',
    params: idParams, response: quarantineItemSchema,
    handler: (input) => serviceCall(() => { const { actions, caller } = act(input); return actions.show(caller, input.params.id); }),
  }),
  defineRoute({
    method: 'get', path: '/quarantine/:id/headers', tag: 'quarantine', roles: ALL, scope: 'read',
    summary: 'The header section as received, with the verdict headers mxward added (text)',
    params: idParams, response: z.string(), responseContentType: 'text/plain; charset=utf-8',
    handler: (input) => serviceCall(() => { const { actions, caller } = act(input); return actions.headers(caller, input.params.id); }),
  }),
  defineRoute({
    method: 'get', path: '/quarantine/:id/preview', tag: 'quarantine', roles: ALL, scope: 'read',
    summary: 'A plain-text preview of the first text part, bounded in size; HTML is reduced to text, never rendered',
    params: idParams, response: z.string(), responseContentType: 'text/plain; charset=utf-8',
    handler: (input) => serviceCall(() => { const { actions, caller } = act(input); return actions.preview(caller, input.params.id); }),
  }),
  defineRoute({
    method: 'post', path: '/quarantine/:id/release', tag: 'quarantine', roles: ['administrator', 'helpdesk', 'recipient'], scope: 'write',
    summary: 'Release: administrators to every recipient still held or requested, a recipient to themselves where the policy allows; delivered once',
    params: idParams, response: releaseResult,
    handler: (input) => serviceCall(() => { const { actions, caller } = act(input); return actions.release(caller, input.params.id); }),
  }),
  defineRoute({
    method: 'post', path: '/quarantine/:id/request-release', tag: 'quarantine', roles: ['recipient'], scope: 'write',
    summary: 'A recipient asks an administrator to release their copy (the limited policy)',
    params: idParams, response: recipientsResult,
    handler: (input) => serviceCall(() => { const { actions, caller } = act(input); return actions.requestRelease(caller, input.params.id); }),
  }),
  defineRoute({
    method: 'post', path: '/quarantine/:id/approve', tag: 'quarantine', roles: ADMINS, scope: 'write',
    summary: 'Approve the pending release requests: released to the recipients who asked',
    params: idParams, response: releaseResult,
    handler: (input) => serviceCall(() => { const { actions, caller } = act(input); return actions.approve(caller, input.params.id); }),
  }),
  defineRoute({
    method: 'post', path: '/quarantine/:id/deny', tag: 'quarantine', roles: ADMINS, scope: 'write',
    summary: 'Deny the pending release requests; the message stays held',
    params: idParams, response: recipientsResult,
    handler: (input) => serviceCall(() => { const { actions, caller } = act(input); return actions.deny(caller, input.params.id); }),
  }),
  defineRoute({
    method: 'delete', path: '/quarantine/:id', tag: 'quarantine', roles: ['administrator', 'helpdesk', 'recipient'], scope: 'write',
    summary: 'Delete: administrators the message and its file, a recipient their own copy where the policy allows',
    params: idParams, response: recipientsResult,
    handler: (input) => serviceCall(() => { const { actions, caller } = act(input); return actions.delete(caller, input.params.id); }),
  }),
];
