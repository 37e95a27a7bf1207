// V8 keeps a substring as a view into its parent string. Importers slice fields out of 1 MiB
// chunks, so a field kept as a map key or sample would pin its whole chunk in memory (a 5M-row
// report then holds the file). Everything the report keeps goes through detach() first; it only
// runs when a new key or sample is stored, never per row.
export function detach(s: string): string;
export function detach(s: string | null): string | null;
export function detach(s: string | null): string | null {
  return s === null ? null : (JSON.parse(JSON.stringify(s)) as string);
}

/** Strings intern() shares; past this many it copies without sharing (the table stays bounded). */
const MAX_INTERNED = 200_000;
const interned = new Map<string, string>();

/**
 * detach(), and one shared copy per distinct value: tens of thousands of sources keep the same
 * sender addresses, domains and day keys, and each would otherwise hold its own copy (issue 17).
 */
export function intern(s: string): string {
  const have = interned.get(s);
  if (have !== undefined) return have;
  const copy = detach(s);
  if (interned.size < MAX_INTERNED) interned.set(copy, copy);
  return copy;
}
