// An end-of-DATA check for quarantine tests: holds any message whose subject says `[hold]`, as a
// DMARC quarantine would (DefaultFullAccessPolicy), so a test decides which messages are held.
import type { EndOfDataCheck } from '../../src/smtp/context.ts';
import { QUARANTINE_RULES } from '../../src/policy/auth-verdict.ts';

export const holdMarked: EndOfDataCheck = {
  name: 'test-hold',
  async run(input) {
    const held = /\[hold\]/.test(input.message.subject ?? '');
    return {
      auth: null, authenticationResults: null, scl: null,
      verdict: held ? { action: 'quarantine', reply: null, stage: 'data', hits: [{ rule: QUARANTINE_RULES.dmarcQuarantine, detail: 'test hold' }] } : null,
    };
  },
};
