// Every policy change goes through here: read, change, validate (path-precise errors), write
// with its audit entry. The CLI, the import and later the API all use the same path.
import type { PolicyDocument } from '../config/policy-schema.ts';
import { policySchema } from '../config/policy-schema.ts';
import { parseOrThrow } from '../config/errors.ts';
import type { PolicyStore, StoredPolicy } from './ports.ts';

/** Far more than two operators typing at once can cause; a loop beyond it is a bug. */
const MAX_ATTEMPTS = 50;

export async function changePolicy(
  store: PolicyStore,
  actor: string,
  action: string,
  mutate: (current: PolicyDocument) => unknown,
): Promise<StoredPolicy> {
  // Optimistic: if another change lands between our read and our write (two CLIs, CLI and API),
  // the write is refused and the change is re-applied to the newer document, so neither is lost.
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const { document, version } = await store.readPolicy();
    const draft = mutate(structuredClone(document));
    const next = parseOrThrow(policySchema, draft, 'policy');
    const saved = await store.writePolicyIfVersion(version, next, actor, action);
    if (saved) return saved;
  }
  throw new Error(`policy change ${action}: the policy kept changing underneath (${MAX_ATTEMPTS} attempts)`);
}
