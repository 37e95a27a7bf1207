// The end-of-DATA verdict (SPEC §2.6), pure. The header-From decision (decide.ts) runs first and
// may refuse on its own; each check after it (email authentication) may object, and the strictest
// objection is the transaction's verdict. Kept here, not in the SMTP hook, so a milter or any other
// front end reaches the same verdict from the same facts.
import type { RuleHit, Verdict } from '../domain/types.ts';

const SEVERITY: Record<Verdict['action'], number> = { accept: 0, junk: 1, quarantine: 2, tempfail: 3, reject: 4 };

export interface CheckOutcome {
  verdict: Verdict | null;
  scl: number | null;
}

export interface EndOfDataVerdict {
  /** Null: nothing objected, accept. */
  verdict: Verdict | null;
  scl: number | null;
  /** Every rule any check fired, for the trace, in the order the checks ran. */
  hits: RuleHit[];
}

export function combineCheckOutcomes(outcomes: CheckOutcome[]): EndOfDataVerdict {
  let verdict: Verdict | null = null;
  let scl: number | null = null;
  const hits: RuleHit[] = [];
  for (const o of outcomes) {
    if (o.verdict) hits.push(...o.verdict.hits);
    if (o.verdict && (!verdict || SEVERITY[o.verdict.action] > SEVERITY[verdict.action])) verdict = o.verdict;
    scl = o.scl ?? scl;
  }
  return { verdict, scl, hits };
}
