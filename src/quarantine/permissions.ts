// Quarantine policies and end-user permission bits (SPEC §6, the values Exchange Online uses in
// New-QuarantinePolicy -EndUserQuarantinePermissionsValue). Pure.
import type { QuarantinePolicyName } from '../config/auth-schema.ts';

export const PERMISSION = Object.freeze({
  viewHeader: 128,
  download: 64,
  allowSender: 32,
  blockSender: 16,
  requestRelease: 8,
  release: 4,
  preview: 2,
  delete: 1,
});

export type PermissionName = keyof typeof PERMISSION;

export interface QuarantinePolicy {
  name: QuarantinePolicyName;
  permissions: number;
  /** Recipients get a digest of what was quarantined for them (SPEC §6). */
  notify: boolean;
}

const FULL = PERMISSION.release | PERMISSION.preview | PERMISSION.delete | PERMISSION.viewHeader | PERMISSION.allowSender | PERMISSION.blockSender;
const LIMITED = PERMISSION.requestRelease | PERMISSION.preview | PERMISSION.delete | PERMISSION.viewHeader | PERMISSION.allowSender | PERMISSION.blockSender;

export const BUILT_IN_POLICIES: Readonly<Record<QuarantinePolicyName, QuarantinePolicy>> = Object.freeze({
  // mxward default for spoofs of our own domains: a recipient who can self-release a Direct Send
  // phish defeats the quarantine (SPEC §6).
  AdminOnlyAccessPolicy: { name: 'AdminOnlyAccessPolicy', permissions: 0, notify: false },
  DefaultFullAccessPolicy: { name: 'DefaultFullAccessPolicy', permissions: FULL, notify: false },
  DefaultFullAccessWithNotificationPolicy: { name: 'DefaultFullAccessWithNotificationPolicy', permissions: FULL, notify: true },
  DefaultLimitedAccessPolicy: { name: 'DefaultLimitedAccessPolicy', permissions: LIMITED, notify: true },
});

export function policyNamed(name: string): QuarantinePolicy {
  return BUILT_IN_POLICIES[name as QuarantinePolicyName] ?? BUILT_IN_POLICIES.AdminOnlyAccessPolicy;
}

/** End-user actions and the bit each needs; admins are not limited by the policy. */
export type UserAction = 'list' | 'show' | 'headers' | 'preview' | 'release' | 'request-release' | 'delete';

const NEEDS: Record<UserAction, number> = {
  // Seeing that a message exists is not gated by EXO either; AdminOnly hides it entirely (below).
  list: 0,
  show: 0,
  headers: PERMISSION.viewHeader,
  preview: PERMISSION.preview,
  release: PERMISSION.release,
  'request-release': PERMISSION.requestRelease,
  delete: PERMISSION.delete,
};

export type PermissionCheck = { allowed: true } | { allowed: false; reason: string };

export function checkUserAction(policy: QuarantinePolicy, action: UserAction): PermissionCheck {
  if (policy.permissions === 0) {
    return { allowed: false, reason: `${policy.name} gives recipients no access; only an administrator can ${action} this message` };
  }
  const need = NEEDS[action];
  if ((policy.permissions & need) === need) return { allowed: true };
  const hint = action === 'release' && (policy.permissions & PERMISSION.requestRelease) ? '; use request-release to ask an administrator' : '';
  return { allowed: false, reason: `${policy.name} does not let recipients ${action} (permissions ${policy.permissions})${hint}` };
}

export function describePermissions(bits: number): string {
  const names = (Object.keys(PERMISSION) as PermissionName[]).filter((n) => (bits & PERMISSION[n]) !== 0);
  return names.length > 0 ? names.join(',') : 'none';
}
