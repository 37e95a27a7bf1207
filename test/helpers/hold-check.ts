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

/**
 * Holds by a subject tag under the verdict type that picks each quarantine policy (SPEC §6):
 * `[full]` → DMARC quarantine (full access), `[limited]` → foreign spoof (limited access),
 * `[own]` → own-domain spoof (AdminOnly). For tests of who may do what with held mail.
 */
export const holdByTag: EndOfDataCheck = {
  name: 'test-hold-by-tag',
  async run(input) {
    const subject = input.message.subject ?? '';
    const rule = /\[own\]/.test(subject) ? QUARANTINE_RULES.ownDomainSpoof
      : /\[limited\]/.test(subject) ? QUARANTINE_RULES.foreignSpoof
        : /\[full\]/.test(subject) ? QUARANTINE_RULES.dmarcQuarantine : null;
    return {
      auth: null, authenticationResults: null, scl: null,
      verdict: rule ? { action: 'quarantine', reply: null, stage: 'data', hits: [{ rule, detail: 'test hold' }] } : null,
    };
  },
};
