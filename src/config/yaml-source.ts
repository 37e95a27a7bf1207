// YAML text validated against a schema, with errors that point at the line of the bad field:
// `mxward.yaml: line 7: listeners.inbound.port: expected number`. Shared by the bootstrap file and
// `mxward policy import`.
import type { z } from 'zod';
import { LineCounter, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import { ConfigError, formatIssuePath } from './errors.ts';

type Path = Array<string | number>;

/**
 * The line of the node at `path`, or of its nearest ancestor present in the file (a missing
 * required field has no node of its own: its parent mapping is where it belongs).
 */
function lineOf(doc: Document, lineCounter: LineCounter, path: Path): number | null {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return lineCounter.linePos(node.range[0]).line;
  }
  return null;
}

function describeIssue(doc: Document, lineCounter: LineCounter, issue: z.core.$ZodIssue): string[] {
  const at = (path: Path, message: string) => {
    const line = lineOf(doc, lineCounter, path);
    return `${line === null ? '' : `line ${line}: `}${formatIssuePath(path)}: ${message}`;
  };
  const path = issue.path as Path;
  // Zod reports unknown keys on the enclosing object; name each key and its own line instead.
  if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => at([...path, key], 'unknown key'));
  return [at(path, issue.message)];
}

export function parseYamlWithSchema<T extends z.ZodType>(text: string, schema: T, source: string): z.output<T> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(source, doc.errors.map((e) => `line ${lineCounter.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`));
  }
  const result = schema.safeParse(doc.toJS() ?? {});
  if (result.success) return result.data;
  throw new ConfigError(source, result.error.issues.flatMap((issue) => describeIssue(doc, lineCounter, issue)));
}
