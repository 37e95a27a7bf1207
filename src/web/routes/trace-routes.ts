// Message trace over the API (issue 13, SPEC §7): search with filters and a cursor, and the full
// record of one transaction. Read only; the administrator, the helpdesk and the auditor may.
import { z } from 'zod';
import { defineRoute } from '../api-route.ts';
import type { ApiDeps, ApiRoute, Role } from '../api-route.ts';
import { MAX_TRACE_PAGE, parseTimeOrAge, TraceQueries, TRACE_VERDICTS } from '../../services/trace-queries.ts';
import { serviceCall, traceRecordSchema } from './ops-common.ts';

const READERS: readonly Role[] = ['administrator', 'helpdesk', 'auditor'];

/** An ISO time or an age (`30m`, `2h`, `7d`); checked here, turned into ISO by isoTime in the handler. */
export const timeParam = z.string().max(64)
  .refine((value) => parseTimeOrAge(value, new Date()) !== null, 'expected an ISO time (2026-11-23T10:00Z) or an age like 30m, 2h, 7d');

export function isoTime(value: string | undefined, now = new Date()): string | undefined {
  return value === undefined ? undefined : parseTimeOrAge(value, now) ?? undefined;
}

function traceQueries(deps: ApiDeps): TraceQueries {
  return new TraceQueries(deps.store, { url: deps.config.store.url ?? undefined, dataDir: deps.dataDir });
}

const traceQuerySchema = z.object({
  since: timeParam.optional(),
  until: timeParam.optional(),
  sender: z.string().min(1).max(320).optional().describe('the envelope sender (MAIL FROM) contains this, case-insensitive'),
  recipient: z.string().min(1).max(320).optional().describe('a recipient (accepted or refused) contains this'),
  ip: z.string().min(1).max(64).optional().describe('the client IP, exactly'),
  verdict: z.enum(TRACE_VERDICTS).optional(),
  directSend: z.enum(['any', 'p1', 'header-from']).optional().describe('only Direct Send transactions, of any kind or one'),
  node: z.string().min(1).max(200).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_TRACE_PAGE).default(100),
  cursor: z.string().max(600).optional().describe('nextCursor of the previous page'),
}).strict();

const tracePageSchema = z.object({
  items: z.array(traceRecordSchema),
  nextCursor: z.string().nullable().describe('pass as cursor for the next page; null on the last page'),
});

export const traceRoutes: ApiRoute[] = [
  defineRoute({
    method: 'get', path: '/trace', tag: 'trace', roles: READERS, scope: 'read',
    summary: 'Search the message trace, newest first, one page at a time',
    query: traceQuerySchema,
    response: tracePageSchema,
    handler: ({ query, deps }) => serviceCall(() => traceQueries(deps).search({
      since: isoTime(query.since), until: isoTime(query.until), sender: query.sender, recipient: query.recipient, ip: query.ip, verdict: query.verdict,
      directSend: query.directSend === 'any' || undefined,
      directSendKind: query.directSend === 'p1' || query.directSend === 'header-from' ? query.directSend : undefined,
      node: query.node,
    }, { limit: query.limit, cursor: query.cursor ?? null })),
  }),
  defineRoute({
    method: 'get', path: '/trace/:transactionId', tag: 'trace', roles: READERS, scope: 'read',
    summary: 'The full record of one transaction: every rule hit, the authentication results, delivery attempts',
    params: z.object({ transactionId: z.string().min(1).max(200) }),
    response: traceRecordSchema,
    handler: ({ params, deps }) => serviceCall(() => traceQueries(deps).one(params.transactionId)),
  }),
];
