// The differential property of issue 11: a reader of the delivered message sees exactly the one
// author mxward decided on and none of the trust fields an untrusted sender could have forged.
import { authservIdOf } from '../../src/smtp/header-section.ts';
import type { Reading } from './message-readers.ts';
import { comparableAddress } from './message-readers.ts';

/**
 * What a reader saw that mxward did not decide; empty when they agree. `stamped` lists the
 * X-Mxward-* fields mxward itself added (none for an unstamped canonical message).
 */
export function disagreements(author: string, authservId: string, reading: Reading, stamped: string[] = []): string[] {
  const problems: string[] = [];
  if (reading.fromFields !== 1) problems.push(`${reading.fromFields} From fields`);
  if (reading.from.length !== 1 || reading.from[0] !== comparableAddress(author)) {
    problems.push(`From read as ${JSON.stringify(reading.from)}, mxward decided ${comparableAddress(author)}`);
  }
  const trust = reading.names.filter((n) => n.startsWith('x-mxward-'));
  if (JSON.stringify(trust.sort()) !== JSON.stringify([...stamped].sort())) problems.push(`trust fields ${JSON.stringify(trust)}, mxward stamped ${JSON.stringify(stamped)}`);
  const ours = reading.authenticationResults.filter((v) => authservIdOf(v) === authservId.toLowerCase());
  const ownStamp = stamped.includes('authentication-results') ? 1 : 0;
  if (ours.length !== ownStamp) problems.push(`${ours.length} Authentication-Results with our authserv-id`);
  return problems;
}
