// Every policy change goes through here: read, change, validate (path-precise errors), write
// with its audit entry. The CLI, the import and later the API all use the same path.
import type { PolicyDocument } from '../config/policy-schema.ts';
import { policySchema } from '../config/policy-schema.ts';
import { parseOrThrow } from '../config/errors.ts';
import type { PolicyStore, StoredPolicy } from './ports.ts';

export async function changePolicy(
  store: PolicyStore,
  actor: string,
  action: string,
  mutate: (current: PolicyDocument) => unknown,
): Promise<StoredPolicy> {
  const { document } = await store.readPolicy();
  const draft = mutate(structuredClone(document));
  const next = parseOrThrow(policySchema, draft, 'policy');
  return store.writePolicy(next, actor, action);
}
