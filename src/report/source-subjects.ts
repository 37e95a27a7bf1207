// A source's first few subjects (issue 5) as one string (issue 17): each subject preceded by one
// character whose code is its length. Five subjects kept as five strings in an array cost five
// string headers and an array (about 160 bytes per source, for 80,000 botnet sources per reading
// thread); packed, they cost one header. Subjects are cut to MAX_SUBJECT_LENGTH before they are
// kept, so the length fits in a Latin-1 character and a pack of Latin-1 subjects stays a one-byte
// string. The length prefix, not a separator, marks where a subject ends: a subject may hold any
// character.
import { detach } from './detach.ts';

/** Characters of a subject that are kept (the rest is cut off). */
export const MAX_SUBJECT_LENGTH = 200;

/** The subjects of a source with none. */
export const NO_PACKED_SUBJECTS = '';

/** How many subjects `packed` holds. */
export function packedCount(packed: string): number {
  let n = 0;
  for (let at = 0; at < packed.length; at += packed.charCodeAt(at) + 1) n++;
  return n;
}

/** Whether `packed` holds `subject` (no string is made). */
export function packedHas(packed: string, subject: string): boolean {
  for (let at = 0; at < packed.length; at += packed.charCodeAt(at) + 1) {
    if (packed.charCodeAt(at) === subject.length && packed.startsWith(subject, at + 1)) return true;
  }
  return false;
}

/** `packed` with `subjects` (each at most MAX_SUBJECT_LENGTH long) appended: one flat string of its own. */
export function packedWith(packed: string, subjects: readonly string[]): string {
  let text = packed;
  for (const s of subjects) text += String.fromCharCode(s.length) + s;
  // detach(): a flat copy, holding neither the input chunk the subject was cut from nor the pieces of the concatenation.
  return detach(text);
}

/** The subjects in `packed`, in the order they were kept. */
export function unpackSubjects(packed: string): string[] {
  const out: string[] = [];
  for (let at = 0; at < packed.length; at += packed.charCodeAt(at) + 1) out.push(packed.slice(at + 1, at + 1 + packed.charCodeAt(at)));
  return out;
}
