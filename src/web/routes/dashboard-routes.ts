// The console's dashboard over the API (issue 13): Direct Send traffic of one bounded window of
// the live trace, computed on a worker thread (services/dashboard.ts), so refreshing it under
// load never delays an SMTP reply; requests for the same window share one computation for a
// while that grows with the window (dashboardSharedMs: 2.5 s for an hour, 15 s for a day).
import { z } from 'zod';
import { ApiError, defineRoute } from '../api-route.ts';
import type { ApiRoute } from '../api-route.ts';
import { computeDashboardInWorker, DASHBOARD_MAX_BUCKETS, dashboardSharedMs, sharedDashboard } from '../../services/dashboard.ts';
import type { Dashboard } from '../../services/dashboard.ts';
import { serviceCall } from './ops-common.ts';
import { policyFragmentResponse } from './report-routes.ts';
import { isoTime, timeParam } from './trace-routes.ts';

/** The widest window one request may ask for: a month of trace, bounded again by the record cap. */
const MAX_WINDOW_MS = 31 * 86_400_000;

const BUCKETS = { '1m': 60_000, '5m': 300_000, '15m': 900_000, '1h': 3_600_000, '6h': 21_600_000, '1d': 86_400_000 } as const;

const source = z.object({
  ip: z.string().nullable(), key: z.string(), label: z.string(), wouldReject: z.number(),
  reasons: z.array(z.string()), senders: z.array(z.string()), lastSeen: z.string().nullable(),
});

const dashboardShape = z.object({
  window: z.object({ since: z.string(), until: z.string().describe('when it was computed: consoles asking for the same window meanwhile share it'), bucketMs: z.number(), records: z.number(), truncated: z.boolean().describe('more records than the cap: only the newest were counted') }),
  directSend: z.array(z.object({ start: z.string(), wouldReject: z.number(), rejected: z.number(), sources: z.number() }))
    .describe('per bucket: Direct Send accepted in report mode that enforce would refuse, refused by enforce, and distinct source IPs'),
  verdicts: z.record(z.string(), z.number()),
  connectors: z.array(z.object({ name: z.string(), transactions: z.number() })).describe('connectors that matched in the window'),
  quarantine: z.object({
    items: z.number(),
    byState: z.object({ held: z.number(), requested: z.number(), releasing: z.number(), released: z.number(), deleted: z.number() }).describe('per recipient copy'),
    truncated: z.boolean(),
  }),
  enforceNow: z.object({
    headline: z.string(),
    likelyAttacks: z.array(source).describe('refused once enforced, with evidence against them'),
    mayNeed: z.array(source).describe('refused once enforced, but with positive evidence they are yours: add their connectors first'),
    unknown: z.array(source).describe('refused once enforced, no evidence either way: decide'),
    connectorsToAdd: z.array(z.object({ name: z.string(), senderIPAddresses: z.array(z.string()), certificateName: z.string().nullable(), senderDomains: z.array(z.string()), evidence: z.array(z.string()) })),
    policyFragment: policyFragmentResponse,
  }).describe('what switching Reject Direct Send to enforce now would do'),
});

export const dashboardRoutes: ApiRoute[] = [
  defineRoute({
    method: 'get', path: '/dashboard', tag: 'trace', roles: ['administrator', 'helpdesk', 'auditor'], scope: 'read',
    summary: 'Direct Send traffic from the live trace: would-reject sources over time, verdicts, connectors, quarantine, and what enforcing now would refuse',
    query: z.object({
      since: timeParam.default('24h').describe('window start: ISO time or an age (default 24h)'),
      bucket: z.enum(Object.keys(BUCKETS) as [keyof typeof BUCKETS]).default('1h'),
    }).strict(),
    response: dashboardShape as unknown as z.ZodType<Dashboard>,
    handler: ({ query, deps }) => serviceCall(async () => {
      const now = new Date();
      const since = isoTime(query.since, now)!;
      const windowMs = now.getTime() - Date.parse(since);
      if (windowMs <= 0) throw new ApiError(400, 'validation_failed', 'since: must be in the past', 'query.since');
      if (windowMs > MAX_WINDOW_MS) throw new ApiError(400, 'validation_failed', 'since: at most 31 days back', 'query.since');
      const bucketMs = BUCKETS[query.bucket];
      if (windowMs / bucketMs > DASHBOARD_MAX_BUCKETS) throw new ApiError(400, 'validation_failed', `bucket: more than ${DASHBOARD_MAX_BUCKETS} buckets in this window; choose a wider bucket`, 'query.bucket');
      const version = await deps.store.readPolicyVersion();
      const store = { url: deps.config.store.url ?? undefined, dataDir: deps.dataDir };
      // The store is part of the key: two gateways in one process (tests, serve workers) never share.
      const key = JSON.stringify([store.url ?? null, store.dataDir, query.since, query.bucket, version]);
      return sharedDashboard(key, dashboardSharedMs(windowMs), async () => computeDashboardInWorker({
        store, policy: (await deps.store.readPolicy()).document,
        since, until: now.toISOString(), bucketMs,
      }));
    }),
  }),
];
