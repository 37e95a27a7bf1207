// The gateway nodes sharing this store over the API (issue 13 and 14), as `mxward nodes` shows
// them (services/nodes.ts): address, mxward version, the policy version each one runs, last
// heartbeat, queue depth, quarantine count, the last store outage it lived through, live or stale.
import { z } from 'zod';
import { defineRoute } from '../api-route.ts';
import type { ApiRoute, Role } from '../api-route.ts';
import { describeNodes, LIVE_WITHIN_MS } from '../../services/nodes.ts';

const READERS: readonly Role[] = ['administrator', 'helpdesk', 'auditor'];

const nodeSchema = z.object({
  nodeId: z.string().describe('host:port of the inbound listener (#N for a serve --workers worker)'),
  address: z.string(),
  mxwardVersion: z.string(),
  policyVersion: z.number().describe('the policy version this node is running, not merely the stored one'),
  startedAt: z.string(),
  heartbeat: z.string(),
  heartbeatAgeMs: z.number().describe('measured with the store\'s clock'),
  queueDepth: z.number(),
  quarantineCount: z.number(),
  storeOutage: z.string().nullable().describe('the last time this node could not reach the store, once it is back'),
  policyAppliedAt: z.string().nullable().describe('when the node first reported its policy version, in the store\'s clock'),
  live: z.boolean().describe(`a heartbeat within ${LIVE_WITHIN_MS / 1000} s`),
});

export const nodesRoutes: ApiRoute[] = [
  defineRoute({
    method: 'get', path: '/nodes', tag: 'nodes', roles: READERS, scope: 'read',
    summary: 'The gateway nodes sharing this store, with the policy version each one runs',
    response: z.object({ policyVersion: z.number().describe('the stored (newest committed) version'), nodes: z.array(nodeSchema) }),
    handler: (input) => describeNodes(input.deps.store),
  }),
];
