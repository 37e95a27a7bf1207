// One JSON error shape for every failure of the API (issue 13): `{ error: { code, message, path? } }`
// with a stable code, so scripts and the console branch on the code, never on the message.
import type { Context } from 'hono';
import type { z } from 'zod';
import { formatIssuePath } from '../config/errors.ts';
import { ApiError } from './api-route.ts';

export interface ErrorBody {
  error: { code: string; message: string; path?: string };
}

export function errorBody(code: string, message: string, path?: string): ErrorBody {
  return { error: path === undefined ? { code, message } : { code, message, path } };
}

export function sendError(c: Context, status: number, code: string, message: string, path?: string, headers?: Record<string, string>): Response {
  return c.json(errorBody(code, message, path), status as 400, headers);
}

/** `body.connectors[2].name` from a zod issue path under `where` (body, query, params). */
export function issuePath(where: string, path: ReadonlyArray<PropertyKey>): string {
  return path.length === 0 ? where : `${where}${typeof path[0] === 'number' ? '' : '.'}${formatIssuePath(path)}`;
}

/** A request part that failed its schema: the first issue's path, every issue in the message. */
export function validationFailure(where: string, error: z.ZodError): ApiError {
  const issues = error.issues.map((i) => `${issuePath(where, i.path)}: ${i.message}`);
  const first = error.issues[0];
  return new ApiError(400, 'validation_failed', issues.join('; '), first ? issuePath(where, first.path) : where);
}

const SERVICE_STATUS: Record<string, number> = { not_found: 404, conflict: 409, validation_failed: 400, forbidden: 403 };

/**
 * Services throw ServiceError (services/service-error.ts) for expected failures; it is read by
 * name and code here so a route need not translate every call.
 */
export function asApiError(err: unknown): ApiError | null {
  if (err instanceof ApiError) return err;
  if (err instanceof Error && err.name === 'ServiceError') {
    const { code, path } = err as Error & { code?: unknown; path?: unknown };
    if (typeof code === 'string' && code in SERVICE_STATUS) {
      const field = typeof path === 'string' ? `body.${path}` : undefined;
      return new ApiError(SERVICE_STATUS[code], code, err.message, field);
    }
  }
  return null;
}

/** An ApiError that also says when to come back (429 `rate_limited`): sent as Retry-After. */
export class RetryLaterError extends ApiError {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super(429, 'rate_limited', message);
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
  }
}
