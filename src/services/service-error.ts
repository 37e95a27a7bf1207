// An expected failure of an operator action (issue 13): a stable code, a message for people and,
// for bad input, the field path. The CLI prints the message and exits 2; the API answers it as
// an ApiError with the same code (404 not_found, 409 conflict, 400 validation_failed).
import type { z } from 'zod';
import { formatIssuePath } from '../config/errors.ts';

export type ServiceErrorCode = 'not_found' | 'conflict' | 'validation_failed';

export class ServiceError extends Error {
  readonly code: ServiceErrorCode;
  /** The field the failure is about (`senderIPAddresses[0]`), when it is about one. */
  readonly path: string | undefined;
  constructor(code: ServiceErrorCode, message: string, path?: string) {
    super(message);
    this.name = 'ServiceError';
    this.code = code;
    this.path = path;
  }
}

/** A zod failure as one ServiceError: every issue in the message, the first one's path. */
export function validationError(source: string, error: z.ZodError): ServiceError {
  const issues = error.issues.map((issue) => `${formatIssuePath(issue.path)}: ${issue.message}`);
  const first = error.issues[0];
  return new ServiceError('validation_failed', `${source}: ${issues.join('; ')}`, first ? formatIssuePath(first.path) : undefined);
}
