// YAML text validated against a schema, with errors that point at the line of the bad field:
// `mxward.yaml: line 7: listeners.inbound.port: expected number`. Shared by the bootstrap file and
// `mxward policy import`.
import type { z } from 'zod';
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import { suggestKey } from './schema-keys.ts';
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

/** The line of a key itself: an unknown key is where the typo is, not the value under it. */
function lineOfKey(doc: Document, lineCounter: LineCounter, path: Path, key: string): number | null {
  const parent = path.length === 0 ? doc.contents : doc.getIn(path, true);
  if (isMap(parent)) {
    const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
    const range = isScalar(pair?.key) ? pair.key.range : undefined;
    if (range) return lineCounter.linePos(range[0]).line;
  }
  return lineOf(doc, lineCounter, [...path, key]);
}

function describeIssue(doc: Document, lineCounter: LineCounter, issue: z.core.$ZodIssue, schema: z.ZodType): string[] {
  const at = (line: number | null, path: Path, message: string) =>
    `${line === null ? '' : `line ${line}: `}${formatIssuePath(path)}: ${message}`;
  const path = issue.path as Path;
  // Zod reports unknown keys on the enclosing object; name each key, its own line, and the
  // known key it most likely meant (taken from the schema, so it never suggests a stale name).
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const guess = suggestKey(schema, path, key);
      return at(lineOfKey(doc, lineCounter, path, key), [...path, key], `unknown key${guess ? ` (did you mean ${guess}?)` : ''}`);
    });
  }
  return [at(lineOf(doc, lineCounter, path), path, issue.message)];
}

export function parseYamlWithSchema<T extends z.ZodType>(text: string, schema: T, source: string): z.output<T> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(source, doc.errors.map((e) => `line ${lineCounter.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`));
  }
  const result = schema.safeParse(doc.toJS() ?? {});
  if (result.success) return result.data;
  // In file order, so the first line printed is the first line to fix.
  const lineNumber = (message: string) => Number(/^line (\d+):/.exec(message)?.[1] ?? 0);
  const messages = result.error.issues.flatMap((issue) => describeIssue(doc, lineCounter, issue, schema));
  throw new ConfigError(source, messages.sort((a, b) => lineNumber(a) - lineNumber(b)));
}
