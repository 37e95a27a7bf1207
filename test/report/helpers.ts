// Shared bits of the report tests: fixture paths and a collecting RowSink.
import { fileURLToPath } from 'node:url';
import { importInput } from '../../src/report/import/detect-input.ts';
import { fileInput } from '../../src/report/import/text-input.ts';
import type { InputProblem, ReportRow, RowSink } from '../../src/report/types.ts';

export const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/report/${name}`, import.meta.url));

export class CollectingSink implements RowSink {
  readonly collected: ReportRow[] = [];
  readonly problems: InputProblem[] = [];
  rows(batch: ReportRow[]): void { this.collected.push(...batch); }
  problem(p: InputProblem): void { this.problems.push(p); }
}

export async function importFixture(name: string): Promise<CollectingSink> {
  const sink = new CollectingSink();
  await importInput(fileInput(fixture(name)), sink);
  return sink;
}

/** No line of a user-facing message looks like a JavaScript stack frame. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at .+[(:]\d+/m.test(text) || /\bError: .*\n\s+at /.test(text);
}
