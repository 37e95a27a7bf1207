// Shared by the operations routes (trace, quarantine, report, dashboard): the zod shapes of a
// trace record and a quarantined item as the API returns them, and the mapping of the services'
// expected failures onto ApiError codes, so every route answers them the same way.
import { z } from 'zod';
import type { TraceRecord } from '../../domain/types.ts';
import { QuarantineError } from '../../quarantine/quarantine-service.ts';
import { ServiceError } from '../../services/service-error.ts';
import { ApiError } from '../api-route.ts';

const STATUS_OF: Record<string, number> = { not_found: 404, conflict: 409, validation_failed: 400, forbidden: 403 };

/**
 * Runs a service call; its expected failures become ApiErrors (stable code, and the field path
 * under `where`, as the server writes its own: `query.cursor`, `body.exports[0]`). Anything else
 * stays a bug (500, logged).
 */
export async function serviceCall<T>(fn: () => Promise<T>, where: 'query' | 'body' = 'query'): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ServiceError) throw new ApiError(STATUS_OF[err.code] ?? 400, err.code, err.message, err.path === undefined ? undefined : `${where}.${err.path}`);
    if (err instanceof QuarantineError) throw new ApiError(STATUS_OF[err.code] ?? 409, err.code, err.message);
    throw err;
  }
}

/** Throws when the optional dependency is absent (an API started without a gateway part). */
export function required<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new ApiError(503, 'unavailable', `${what} is not running in this process`);
  return value;
}

const authValue = z.string();

/** One trace record (SPEC §7): the fields named here are documented; others pass through. */
const traceRecordShape = z.looseObject({
  time: z.string(),
  sessionId: z.string(),
  transactionId: z.string(),
  remoteIp: z.string(),
  helo: z.string().nullable(),
  ptr: z.string().nullable(),
  tlsVersion: z.string().nullable(),
  tlsCipher: z.string().nullable(),
  tlsClientCertificate: z.string().nullable(),
  authUser: z.string().nullable(),
  connector: z.string().nullable(),
  attribution: z.enum(['internal', 'partner', 'anonymous']),
  mailFrom: z.string().nullable(),
  recipients: z.array(z.string()),
  rejectedRecipients: z.array(z.string()).optional(),
  headerFrom: z.array(z.string()),
  messageId: z.string().nullable(),
  subject: z.string().nullable(),
  sizeBytes: z.number().nullable(),
  directSend: z.enum(['p1', 'header-from']).nullable(),
  directSendWouldReject: z.boolean(),
  auth: z.looseObject({
    spf: z.looseObject({ result: authValue, domain: z.string().nullable() }),
    dkim: z.array(z.looseObject({ result: authValue, domain: z.string(), selector: z.string().nullable(), aligned: z.boolean() })),
    dmarc: z.looseObject({ result: authValue, domain: z.string().nullable(), policy: z.string().nullable() }),
    arc: z.looseObject({ result: authValue, sealer: z.string().nullable() }),
    compauth: z.looseObject({ result: z.string(), reason: z.string() }),
  }).nullable(),
  verdict: z.enum(['accept', 'quarantine', 'junk', 'reject', 'tempfail', 'abandoned']),
  reply: z.string(),
  stage: z.string(),
  hits: z.array(z.object({ rule: z.string(), detail: z.string() })),
  queueId: z.string().nullable(),
  quarantineId: z.string().nullable(),
  deliveryStatus: z.string(),
  deliveryAttempts: z.number().optional(),
  deliveryReply: z.string().nullable().optional(),
  deliveryDetail: z.string().nullable().optional(),
  deliveryTime: z.string().nullable().optional(),
  durationMs: z.number(),
  source: z.string().optional(),
  node: z.string().optional(),
});

/** Typed as the domain record: the schema documents and checks it, handlers return TraceRecord as is. */
export const traceRecordSchema = traceRecordShape as unknown as z.ZodType<TraceRecord>;
