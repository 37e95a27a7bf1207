// SPEC §6 permission bits and built-in policies (pure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUILT_IN_POLICIES, PERMISSION, checkUserAction, describePermissions } from '../../src/quarantine/permissions.ts';

test('bit values are Exchange Online\'s', () => {
  assert.deepEqual(PERMISSION, { viewHeader: 128, download: 64, allowSender: 32, blockSender: 16, requestRelease: 8, release: 4, preview: 2, delete: 1 });
});

test('AdminOnlyAccessPolicy allows recipients nothing', () => {
  for (const action of ['headers', 'preview', 'release', 'request-release', 'delete'] as const) {
    const r = checkUserAction(BUILT_IN_POLICIES.AdminOnlyAccessPolicy, action);
    assert.equal(r.allowed, false, action);
  }
});

test('DefaultFullAccessPolicy: release, preview, delete, headers; no request-release', () => {
  const p = BUILT_IN_POLICIES.DefaultFullAccessPolicy;
  assert.equal(describePermissions(p.permissions), 'viewHeader,allowSender,blockSender,release,preview,delete');
  for (const a of ['headers', 'preview', 'release', 'delete'] as const) assert.equal(checkUserAction(p, a).allowed, true, a);
  assert.equal(checkUserAction(p, 'request-release').allowed, false);
  assert.equal(p.notify, false);
  assert.equal(BUILT_IN_POLICIES.DefaultFullAccessWithNotificationPolicy.notify, true);
});

test('limited policy: request release instead of release, with a hint', () => {
  const p = BUILT_IN_POLICIES.DefaultLimitedAccessPolicy;
  assert.equal(checkUserAction(p, 'request-release').allowed, true);
  const r = checkUserAction(p, 'release');
  assert.equal(r.allowed, false);
  assert.match(!r.allowed ? r.reason : '', /use request-release/);
});
