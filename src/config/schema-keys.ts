// The keys a zod object schema knows at a path, for "did you mean" on an unknown YAML key and for
// the generated configuration reference. Walks through the wrappers zod puts around an object
// (default, prefault, optional, nullable, pipe, union) without evaluating anything.
import type { z } from 'zod';

type AnySchema = z.core.$ZodType;
type Def = { type: string; innerType?: AnySchema; in?: AnySchema; out?: AnySchema; shape?: Record<string, AnySchema>; element?: AnySchema; valueType?: AnySchema; options?: AnySchema[]; getter?: () => AnySchema };

function defOf(schema: AnySchema): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** The schema itself without default/optional/nullable/pipe wrappers. */
export function unwrapSchema(schema: AnySchema): AnySchema {
  let current = schema;
  for (let depth = 0; depth < 20; depth++) {
    const def = defOf(current);
    const next = def.innerType ?? (def.type === 'pipe' ? def.in : undefined) ?? (def.type === 'lazy' ? def.getter?.() : undefined);
    if (!next) return current;
    current = next;
  }
  return current;
}

/** The object shapes a value at `path` may have (several for a union). */
export function shapesAt(schema: AnySchema, path: ReadonlyArray<PropertyKey>): Array<Record<string, AnySchema>> {
  let candidates = [unwrapSchema(schema)];
  for (const part of path) {
    const next: AnySchema[] = [];
    for (const candidate of candidates.flatMap(expandUnion)) {
      const def = defOf(candidate);
      if (def.type === 'object' && typeof part === 'string' && def.shape?.[part]) next.push(def.shape[part]);
      else if (def.type === 'array' && typeof part === 'number' && def.element) next.push(def.element);
      else if (def.type === 'record' && def.valueType) next.push(def.valueType);
    }
    candidates = next.map(unwrapSchema);
  }
  return candidates.flatMap(expandUnion).map(defOf).filter((d) => d.type === 'object' && d.shape).map((d) => d.shape!);
}

function expandUnion(schema: AnySchema): AnySchema[] {
  const def = defOf(unwrapSchema(schema));
  return def.type === 'union' && def.options ? def.options.map(unwrapSchema) : [unwrapSchema(schema)];
}

/** Optimal string alignment distance (Levenshtein plus a swap of neighbours, the usual typo). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The known key closest to `key` at `path`, if it is close enough to be a typo of it. */
export function suggestKey(schema: AnySchema, path: ReadonlyArray<PropertyKey>, key: string): string | null {
  const known = [...new Set(shapesAt(schema, path).flatMap((shape) => Object.keys(shape)))];
  let best: { name: string; distance: number } | null = null;
  for (const name of known) {
    const distance = name.toLowerCase() === key.toLowerCase() ? 0.5 : editDistance(key.toLowerCase(), name.toLowerCase());
    if (!best || distance < best.distance) best = { name, distance };
  }
  const limit = Math.max(2, Math.floor(key.length / 3));
  return best && best.distance <= limit ? best.name : null;
}
