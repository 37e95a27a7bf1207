// The `delivery:` section of the bootstrap file: where accepted mail goes and how the queue
// behaves. Kept apart from bootstrap.ts so the spool's settings read in one place.
//
//   delivery:
//     default: { type: smtp, host: 10.0.0.25, port: 25, starttls: opportunistic }
//     routes:
//       example.com: { type: lmtp, host: 10.0.0.30, port: 24 }
//     retryDelaysSeconds: [60, 300, 900, 3600]
//     maxQueueLifetimeHours: 120
//     spool: { minFreeBytes: 104857600, minFreePercent: 2, maxQueuedMessages: 50000 }
import { z } from 'zod';
import type { Route, RoutingTable } from '../spool/routing.ts';
import { compileRoutingTable } from '../spool/routing.ts';

const remoteRouteSchema = z.object({
  type: z.enum(['smtp', 'lmtp']),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).optional(),
  /** `required` fails the attempt (defers) when the server offers no STARTTLS (RFC 3207). */
  starttls: z.enum(['required', 'opportunistic', 'off']).default('opportunistic'),
  verifyCertificate: z.boolean().default(true),
  caFile: z.string().optional(),
  tlsServerName: z.string().optional(),
  auth: z.object({ user: z.string().min(1), pass: z.string() }).strict().optional(),
  concurrency: z.number().int().min(1).max(500).default(4),
  connectTimeoutSeconds: z.number().positive().max(600).default(30),
}).strict();

// Discriminated on `type`, so an error names the field that is wrong, not just "invalid input".
const routeSchema = z.discriminatedUnion('type', [remoteRouteSchema, z.object({ type: z.literal('maildir') }).strict()]);

export const deliverySchema = z.object({
  /** Where recipients without a route of their own go; the embedded Maildir unless set. */
  default: routeSchema.default({ type: 'maildir' }),
  routes: z.record(z.string().min(1), routeSchema).default({}),
  /** Attempts across all destinations at once (Postfix: default_process_limit). */
  concurrency: z.number().int().min(1).max(1000).default(32),
  /** Delay before retry N; the last repeats. Jitter of ±20% is added (queue-runner.ts). */
  retryDelaysSeconds: z.array(z.number().positive()).min(1).default([60, 300, 900, 1800, 3600]),
  /** A recipient still undelivered after this long fails and is bounced (RFC 5321 §4.5.4.1: 4-5 days). */
  maxQueueLifetimeHours: z.number().positive().default(120),
  /** How often the runner looks for `mxward queue retry|flush` requests from the CLI. */
  rescanSeconds: z.number().positive().max(60).default(1),
  spool: z.object({
    /** New mail gets 452 4.3.1 when the spool's file system has less than this free... */
    minFreeBytes: z.number().int().min(0).default(100 * 1024 * 1024),
    /** ...or less than this share of it free. */
    minFreePercent: z.number().min(0).max(100).default(1),
    /** ...or this many messages are already queued. */
    maxQueuedMessages: z.number().int().positive().default(100_000),
  }).strict().prefault({}),
}).strict();

export type DeliveryConfig = z.output<typeof deliverySchema>;

const DEFAULT_PORT = { smtp: 25, lmtp: 24 } as const;

function toRoute(input: DeliveryConfig['default']): Route {
  if (input.type === 'maildir') return { type: 'maildir' };
  return {
    type: input.type, host: input.host, port: input.port ?? DEFAULT_PORT[input.type],
    starttls: input.starttls, verifyCertificate: input.verifyCertificate, caFile: input.caFile,
    tlsServerName: input.tlsServerName, auth: input.auth, concurrency: input.concurrency,
    connectTimeoutMs: Math.round(input.connectTimeoutSeconds * 1000),
  };
}

export function routingTableOf(config: DeliveryConfig): RoutingTable {
  const routes: Record<string, Route> = {};
  for (const [domain, route] of Object.entries(config.routes)) routes[domain] = toRoute(route);
  return compileRoutingTable({ routes, default: toRoute(config.default) });
}

/** True when every route is the embedded Maildir: then no relay client is needed at all. */
export function onlyMaildir(config: DeliveryConfig): boolean {
  return config.default.type === 'maildir' && Object.values(config.routes).every((r) => r.type === 'maildir');
}
