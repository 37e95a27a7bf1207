// Turning validation failures into messages that name the file and the path of the bad field.
import type { z } from 'zod';

export class ConfigError extends Error {
  readonly issues: string[];
  constructor(source: string, issues: string[], options?: { cause?: unknown }) {
    super(`${source}: ${issues.join('; ')}`, options);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** `connectors[2].senderIPAddresses[0]: not an IP address or CIDR` */
export function formatIssuePath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(top level)';
}

export function describeZodError(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${formatIssuePath(issue.path)}: ${issue.message}`);
}

/** Parse or throw a ConfigError naming `source`. */
export function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, source: string): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ConfigError(source, describeZodError(result.error));
  return result.data;
}
