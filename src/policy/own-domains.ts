// The own-domain rule (SPEC §4 6xx) asks "is this From domain ours?": an accepted domain, or any
// subdomain of one, whether or not that accepted domain opted in to receiving mail for its
// subdomains. Receiving and owning differ: hr.contoso.test is contoso's even when mxward does not
// accept mail for it, and a spoof of it must be judged as a spoof of us (issue 19).
import { findAcceptedDomain } from './compile.ts';
import type { CompiledPolicy } from './compile.ts';

/** DNS names have at most 127 labels (RFC 1035 §2.3.4 limits a name to 255 octets). */
const MAX_LABELS = 127;

export function isOwnDomain(policy: CompiledPolicy, domain: string | null): boolean {
  if (!domain) return false;
  let name = domain.trim().toLowerCase().replace(/\.$/, '');
  for (let i = 0; i < MAX_LABELS && name.length > 0; i += 1) {
    if (findAcceptedDomain(policy, name) !== null) return true;
    const dot = name.indexOf('.');
    if (dot < 0) return false;
    name = name.slice(dot + 1);
  }
  return false;
}
