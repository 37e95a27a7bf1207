// The policy edit and user services on a real SQLite store (issue 13): concurrent edits from
// several callers all land (compare-and-set, one audit entry each), a refusal writes nothing,
// renames keep names unique, connector test reports stored ranges that match nothing, and user
// input is refused before anything is stored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { dataPaths } from '../../src/config/data-dir.ts';
import { storedPolicySchema } from '../../src/config/policy-schema.ts';
import {
  addConnector, addDomain, getConnector, listConnectors, readOrg, removeConnector, removeDomain, setOrg, testConnector, updateConnector,
} from '../../src/services/policy-edits.ts';
import { policyHistory, policyVersionDetail, rollbackPolicy } from '../../src/services/policy-document.ts';
import { ServiceError } from '../../src/services/service-error.ts';
import { prepareUser, saveUser, setUserPassword } from '../../src/services/users.ts';
import { openStoreReady } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/ports.ts';
import { verifyPassword } from '../../src/users/passwords.ts';

async function withStore(t: { after(fn: () => Promise<void>): void }): Promise<Store & { dataDir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'mxward-services-'));
  const store = await openStoreReady({ dataDir: dir });
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return Object.assign(store, { dataDir: dir });
}

/** A document written straight into the SQLite file, as a version from before the strict rules could be. */
function writeLegacyPolicy(dataDir: string, document: unknown): void {
  const db = new DatabaseSync(dataPaths(dataDir).store);
  try {
    db.exec('PRAGMA busy_timeout = 5000');
    const row = db.prepare('SELECT version FROM policy WHERE id = 1').get() as { version: number };
    db.prepare('UPDATE policy SET version = ?, document = ? WHERE id = 1').run(row.version + 1, JSON.stringify(document));
  } finally {
    db.close();
  }
}

/** The ServiceError a call is refused with (fails when it is not refused). */
async function refusal(work: Promise<unknown>): Promise<ServiceError> {
  try {
    await work;
  } catch (err) {
    assert.ok(err instanceof ServiceError, `expected a ServiceError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to be refused');
}

test('concurrent edits from several callers all land, each with its own version and audit entry', async (t) => {
  const store = await withStore(t);
  const start = (await store.readPolicy()).version;
  await Promise.all([
    ...Array.from({ length: 8 }, (_, i) => addConnector(store, { name: `Partner${i}`, type: 'partner', senderIPAddresses: [`192.0.2.${i}/32`] }, `api:caller${i}`)),
    ...Array.from({ length: 4 }, (_, i) => addDomain(store, { domain: `d${i}.example` }, `cli:op${i}`)),
  ]);
  const { document, version } = await store.readPolicy();
  assert.equal(version, start + 12);
  assert.deepEqual(document.connectors.map((c) => c.name).sort(), Array.from({ length: 8 }, (_, i) => `Partner${i}`));
  assert.equal(document.acceptedDomains.length, 4);
  const audit = await store.listAudit(20);
  assert.equal(audit.length, 12);
  assert.deepEqual(new Set(audit.map((e) => e.actor)).size, 12, 'each change names its own actor');
});

test('a refused edit writes nothing: unknown names, duplicates, bad fields, nothing to change', async (t) => {
  const store = await withStore(t);
  await addConnector(store, { name: 'Partner', type: 'partner', senderIPAddresses: ['192.0.2.0/24'] }, 'test');
  await addDomain(store, { domain: 'contoso.example' }, 'test');
  const before = await store.readPolicy();
  const cases: Array<[Promise<unknown>, ServiceError['code'], string | undefined]> = [
    [addConnector(store, { name: 'PARTNER', type: 'partner' }, 'x'), 'conflict', 'name'],
    [addConnector(store, { name: 'Wide', type: 'onPremises', senderIPAddresses: ['10.0.0.0/8'] }, 'x'), 'validation_failed', 'connectors[1].senderIPAddresses[0]'],
    [updateConnector(store, 'Nobody', { enabled: false }, 'x'), 'not_found', 'name'],
    [updateConnector(store, 'Partner', {}, 'x'), 'validation_failed', undefined],
    [updateConnector(store, 'Partner', { senderIPAddresses: ['010.1.2.3'] }, 'x'), 'validation_failed', 'connectors[0].senderIPAddresses[0]'],
    [removeConnector(store, 'Nobody', 'x'), 'not_found', 'name'],
    [addDomain(store, { domain: 'Contoso.Example.' }, 'x'), 'conflict', 'domain'],
    [addDomain(store, { domain: 'fabrikam.example', recipients: ['a@fabrikam.example', 'b@contoso.example'] }, 'x'), 'validation_failed', 'recipients[1]'],
    [removeDomain(store, 'fabrikam.example', 'x'), 'not_found', 'domain'],
    [setOrg(store, {}, 'x'), 'validation_failed', undefined],
    [setOrg(store, { rejectDirectSend: 'always' as never }, 'x'), 'validation_failed', 'rejectDirectSend'],
    [testConnector(store, { ip: '999.1.1.1' }), 'validation_failed', 'ip'],
  ];
  for (const [work, code, path] of cases) {
    const err = await refusal(work);
    assert.deepEqual([err.code, err.path], [code, path], err.message);
  }
  assert.deepEqual(await store.readPolicy(), before);
  assert.equal((await store.listAudit(10)).length, 2);
});

test('set keeps what it is not given; a rename keeps connector names unique', async (t) => {
  const store = await withStore(t);
  await addConnector(store, { name: 'A', type: 'partner', senderIPAddresses: ['192.0.2.0/24'], comment: 'first' }, 'test');
  await addConnector(store, { name: 'B', type: 'partner', senderIPAddresses: ['198.51.100.0/24'] }, 'test');
  const changed = await updateConnector(store, 'a', { requireTls: true }, 'test');
  assert.deepEqual([changed.name, changed.comment, changed.requireTls, changed.senderIPAddresses], ['A', 'first', true, ['192.0.2.0/24']]);
  assert.equal((await refusal(updateConnector(store, 'A', { name: 'b' }, 'test'))).code, 'conflict');
  const renamed = await updateConnector(store, 'A', { name: 'Alpha' }, 'test');
  assert.equal(renamed.name, 'Alpha');
  assert.equal((await getConnector(store, 'alpha')).comment, 'first');
  assert.deepEqual((await listConnectors(store)).map((c) => c.name), ['Alpha', 'B']);
  const org = await setOrg(store, { rejectDirectSend: 'report' }, 'test');
  assert.deepEqual([org.rejectDirectSend, org.rejectDirectSendHeaderFrom], ['report', (await readOrg(store)).rejectDirectSendHeaderFrom]);
});

test('connector test names the match and lists stored ranges that the strict rules make match nothing', async (t) => {
  const store = await withStore(t);
  // A document stored before the strict IP rules (issue 19): written as it was, read back loosely.
  await setOrg(store, { rejectDirectSend: 'report' }, 'test'); // the policy row exists from the first write
  writeLegacyPolicy(store.dataDir, storedPolicySchema.parse({ connectors: [{ name: 'Legacy', type: 'partner', senderIPAddresses: ['010.1.2.3', '192.0.2.0/24'] }] }));
  const matched = await testConnector(store, { ip: '192.0.2.9' });
  assert.deepEqual([matched.result, matched.connector, matched.by], ['matched', 'Legacy', 'ip']);
  assert.deepEqual(matched.unusableRanges.map((r) => [r.connector, r.range]), [['Legacy', '010.1.2.3']]);
  const octal = await testConnector(store, { ip: '10.1.2.3' });
  assert.equal(octal.result, 'none', 'the refused range does not match what it might have meant');
});

test('users: input refused before the store is touched; add, conflict, password change', async (t) => {
  const store = await withStore(t);
  for (const [input, path] of [
    [{ username: 'u', password: 'long enough', addresses: [] }, 'addresses'],
    [{ username: 'u', password: 'long enough', addresses: ['nobody'] }, 'addresses[0]'],
    [{ username: 'u', password: 'short', addresses: ['u@contoso.example'] }, 'password'],
    [{ username: '', password: 'long enough', addresses: ['u@contoso.example'] }, 'username'],
  ] as const) {
    assert.equal((await refusal(prepareUser({ ...input, addresses: [...input.addresses] }))).path, path);
  }
  const user = await prepareUser({ username: 'alice', password: 'first password', addresses: ['Alice@Contoso.Example'] });
  assert.deepEqual(await saveUser(store, user, 'test', { replace: false }), { username: 'alice', addresses: ['Alice@contoso.example'] });
  assert.equal((await refusal(saveUser(store, user, 'test', { replace: false }))).code, 'conflict');
  await saveUser(store, user, 'test', { replace: true });
  await setUserPassword(store, 'alice', 'second password', 'api:admin');
  const stored = await store.getUser('alice');
  assert.ok(stored && await verifyPassword('second password', stored.passwordHash));
  assert.deepEqual(stored.addresses, ['Alice@contoso.example'], 'a password change keeps the addresses');
  assert.equal((await refusal(setUserPassword(store, 'bob', 'second password', 'x'))).code, 'not_found');
  assert.equal(await store.getUser('bob'), null, 'a password for an unknown user creates nobody');
});

test('history, version detail and rollback find versions behind many other audit entries', async (t) => {
  const store = await withStore(t);
  await addDomain(store, { domain: 'first.example' }, 'op:1');
  const user = await prepareUser({ username: 'busy', password: 'long enough', addresses: ['busy@first.example'] });
  // More user entries than the first window of the audit log the history reads.
  for (let i = 0; i < 150; i++) await store.putUser({ ...user, addresses: [`busy${i}@first.example`] }, 'api:admin');
  await addConnector(store, { name: 'Later', type: 'partner', senderIPAddresses: ['192.0.2.0/24'] }, 'op:2');
  for (let i = 0; i < 150; i++) await store.putUser(user, 'api:admin');
  await setOrg(store, { rejectDirectSend: 'report' }, 'op:3');

  const history = await policyHistory(store, 10);
  assert.deepEqual(history.map((v) => [v.version, v.actor, v.action]), [[3, 'op:3', 'org.set'], [2, 'op:2', 'connector.add'], [1, 'op:1', 'domain.add']]);
  const first = await policyVersionDetail(store, 1);
  assert.deepEqual([first?.previousVersion, first?.diff.domains.added], [null, ['first.example']]);
  const second = await policyVersionDetail(store, 2);
  assert.deepEqual([second?.previousVersion, second?.diff.connectors.added], [1, ['Later']]);
  assert.equal(await policyVersionDetail(store, 4), null);
  assert.equal(await policyVersionDetail(store, 0), null);

  const rolledBack = await rollbackPolicy(store, 1, { actor: 'op:4', dryRun: false });
  assert.equal(rolledBack.kind, 'written');
  assert.deepEqual((await store.readPolicy()).document.connectors, []);
  const unknown = await rollbackPolicy(store, 9, { actor: 'op:4', dryRun: false });
  assert.equal(unknown.kind, 'unknown-version');
  assert.match(unknown.kind === 'unknown-version' ? unknown.reason : '', /versions 1 to 4/);
});
