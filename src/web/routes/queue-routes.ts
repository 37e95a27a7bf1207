// The delivery queue over the API (issue 13), through the same queue admin service as
// `mxward queue` (services/queue-admin.ts): this node's queue or, on PostgreSQL, every node's
// (allNodes), one entry, and retry, flush and delete. A retry or delete of a message another node
// owns is carried out by that node (issue 14, docs/cluster.md). The auditor reads only.
import { z } from 'zod';
import { ApiError, defineRoute } from '../api-route.ts';
import type { ApiRoute, Role, RouteInput } from '../api-route.ts';
import { flushQueue, isQueueId, listClusterQueue, listQueue, queueAction, showClusterQueued } from '../../services/queue-admin.ts';
import type { ClusterActionResult, QueueAdminDeps } from '../../services/queue-admin.ts';
import { required } from './ops-common.ts';

const READERS: readonly Role[] = ['administrator', 'helpdesk', 'auditor'];
const OPERATORS: readonly Role[] = ['administrator', 'helpdesk'];

const queueEntrySchema = z.object({
  queueId: z.string(),
  status: z.enum(['queued', 'deferred']).describe('queued: not tried yet; deferred: a temporary failure, retried at nextAttemptAt'),
  mailFrom: z.string().describe('`<>` for the null sender'),
  receivedAt: z.string(),
  nextAttemptAt: z.string(),
  sizeBytes: z.number().nullable(),
  attempts: z.number(),
  recipients: z.array(z.object({
    address: z.string(),
    state: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.number(),
    lastReply: z.string().nullable(),
  })),
  lastReply: z.string().nullable(),
});

const clusterEntrySchema = queueEntrySchema.extend({
  node: z.string().nullable().describe('the node whose spool holds it; null for this node when the store has no other nodes (SQLite)'),
  heartbeatAgeMs: z.number().nullable().describe('age of that node\'s last heartbeat: its published queue is as old as this'),
});

const actionResultSchema = z.object({
  done: z.array(z.string()),
  notFound: z.array(z.string()),
  nodes: z.array(z.object({
    node: z.string().nullable().describe('null: this node\'s own spool'),
    done: z.array(z.string()),
    notFound: z.array(z.string()),
    unanswered: z.boolean().optional().describe('the owning node did not answer in time; its command was withdrawn'),
  })),
});

const idParams = z.object({ id: z.string().refine(isQueueId, 'not a queue id') });

function adminDeps(input: RouteInput<unknown, unknown, unknown>): QueueAdminDeps {
  return { spool: required(input.deps.spool, 'the delivery queue'), store: input.deps.store, actor: input.actor };
}

/** One id asked for by path: 404 when no node has it, 503 when its owner did not answer. */
function singleResult(id: string, result: ClusterActionResult): ClusterActionResult {
  if (result.nodes.some((n) => n.unanswered)) throw new ApiError(503, 'node_unavailable', `the node that holds ${id} did not answer; try again`);
  if (result.done.length === 0) throw new ApiError(404, 'not_found', `no queued message ${id}`, 'id');
  return result;
}

export const queueRoutes: ApiRoute[] = [
  defineRoute({
    method: 'get', path: '/queue', tag: 'queue', roles: READERS, scope: 'read',
    summary: 'Queued messages, oldest first: this node\'s, or with allNodes every node\'s as each last published it',
    query: z.object({
      allNodes: z.enum(['true', 'false']).default('false').transform((v) => v === 'true')
        .describe('every node sharing the PostgreSQL store (each publishes at most 1000 entries, every 2 s)'),
    }).strict(),
    response: z.object({ entries: z.array(clusterEntrySchema) }),
    handler: async (input) => {
      const deps = adminDeps(input);
      if (input.query.allNodes) return { entries: await listClusterQueue(deps) };
      return { entries: (await listQueue(deps.spool!)).map((e) => ({ ...e, node: null, heartbeatAgeMs: null })) };
    },
  }),
  defineRoute({
    method: 'get', path: '/queue/:id', tag: 'queue', roles: READERS, scope: 'read',
    summary: 'One queued message with each recipient\'s progress: from this node, else as the node holding it last published it',
    params: idParams, response: clusterEntrySchema,
    handler: async (input) => {
      const entry = await showClusterQueued(adminDeps(input), input.params.id);
      if (!entry) throw new ApiError(404, 'not_found', `no queued message ${input.params.id}`, 'id');
      return entry;
    },
  }),
  defineRoute({
    method: 'post', path: '/queue/flush', tag: 'queue', roles: OPERATORS, scope: 'write',
    summary: 'Attempts every queued message now: this node\'s, or with allNodes every live node\'s',
    body: z.object({ allNodes: z.boolean().default(false) }).strict(),
    response: actionResultSchema,
    handler: (input) => flushQueue(adminDeps(input), input.body.allNodes),
  }),
  defineRoute({
    method: 'post', path: '/queue/:id/retry', tag: 'queue', roles: OPERATORS, scope: 'write',
    summary: 'Attempts one message now, on whichever node holds it',
    params: idParams, response: actionResultSchema,
    handler: async (input) => singleResult(input.params.id, await queueAction(adminDeps(input), 'retry', [input.params.id])),
  }),
  defineRoute({
    method: 'delete', path: '/queue/:id', tag: 'queue', roles: OPERATORS, scope: 'write',
    summary: 'Removes one message without delivery and without a bounce, on whichever node holds it',
    params: idParams, response: actionResultSchema,
    handler: async (input) => singleResult(input.params.id, await queueAction(adminDeps(input), 'delete', [input.params.id])),
  }),
];
