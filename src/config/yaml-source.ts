// YAML text validated against a schema, with errors that point at the line of the bad field:
// `mxward.yaml: line 7: listeners.inbound.port: expected number`. Shared by the bootstrap file and
// `mxward policy import`.
import type { z } from 'zod';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError, formatIssuePath } from './errors.ts';

export function parseYamlWithSchema<T extends z.ZodType>(text: string, schema: T, source: string): z.output<T> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(source, doc.errors.map((e) => `line ${lineCounter.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`));
  }
  const result = schema.safeParse(doc.toJS() ?? {});
  if (result.success) return result.data;
  throw new ConfigError(source, result.error.issues.map((issue) => {
    const node = doc.getIn(issue.path as Array<string | number>, true) as { range?: [number, number, number] } | undefined;
    const line = node?.range ? `line ${lineCounter.linePos(node.range[0]).line}: ` : '';
    return `${line}${formatIssuePath(issue.path)}: ${issue.message}`;
  }));
}
