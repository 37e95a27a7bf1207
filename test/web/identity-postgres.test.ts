// Two gateway nodes on one PostgreSQL store, each with its console (issue 13 with issue 14): one
// first administrator for the cluster, a session opened on one node works on the other, an account
// or token made on one is usable on the other, and a revocation on one is refused by both at once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor } from '../helpers/loopback.ts';
import { createTestDatabase } from '../helpers/postgres.ts';
import type { TestDatabase } from '../helpers/postgres.ts';
import { startWebGateway } from '../helpers/web-client.ts';
import type { WebGateway } from '../helpers/web-client.ts';

const db = await createTestDatabase();

if (typeof db === 'string') {
  test('console identities on PostgreSQL', { skip: db }, () => {});
} else {
  const database: TestDatabase = db;
  let nodeA: WebGateway;
  let nodeB: WebGateway;
  before(async () => {
    const url = await database.schemaUrl('console_nodes');
    nodeA = await startWebGateway({ config: { store: { url } } });
    nodeB = await startWebGateway({ config: { store: { url } } });
  });
  after(async () => {
    await nodeB?.close();
    await nodeA?.close();
    await database.drop();
  });

  test('one first administrator for the cluster', async () => {
    assert.ok(nodeA.adminPassword.length > 0);
    await assert.rejects(access(join(nodeB.dataDir, 'console-initial-password')), 'the second node made no account of its own');
    assert.deepEqual((await nodeB.identities.listAccounts()).map((a) => a.username), ['admin']);
  });

  test('a session from one node works on the other; signing out ends it on both', async () => {
    const onA = await nodeA.adminClient();
    const onB = nodeB.client().with(onA.auth);
    const me = await onB.get('/session');
    assert.deepEqual([me.status, me.json.principal.name], [200, 'admin']);
    const created = await onB.post('/accounts', { username: 'kim', role: 'helpdesk', password: 'kim-password-123' });
    assert.equal(created.status, 201, 'a write on node B with the CSRF token from node A');
    const kim = await nodeA.login('kim', 'kim-password-123');
    assert.equal((await kim.get('/session')).json.principal.role, 'helpdesk');
    assert.equal((await onA.delete('/session')).status, 204);
    assert.equal((await onB.get('/session')).status, 401);
  });

  test('a token revoked on one node is refused by the other', async () => {
    // Signed in on node A, working on node B (node B has no initial password file of its own).
    const admin = nodeB.client().with((await nodeA.adminClient()).auth);
    const created = await admin.post('/tokens', { name: 'shared', role: 'auditor', scopes: ['read'] });
    assert.equal(created.status, 201);
    const onA = nodeA.client().with({ kind: 'token', token: created.json.token });
    assert.equal((await onA.get('/session')).status, 200);
    assert.equal((await admin.delete(`/tokens/${created.json.info.id}`)).status, 204);
    // Node A may remember the token it checked for under a second (services/principal-cache.ts).
    await waitFor('the token revoked on node B refused by node A', async () => ((await onA.get('/session')).status === 401 ? true : null), 3000);
    const audit = await nodeA.store.listAudit(20);
    assert.ok(audit.some((e) => e.action === 'console.token.revoke' && e.actor === 'console:admin'));
  });
}

if (typeof db !== 'string') {
  test('two nodes starting at once on a new store make one administrator between them', async (t) => {
    const url = await db.schemaUrl('console_race');
    const started = await Promise.allSettled([startWebGateway({ config: { store: { url } } }), startWebGateway({ config: { store: { url } } })]);
    t.after(async () => { for (const s of started) if (s.status === 'fulfilled') await s.value.close(); });
    assert.deepEqual(started.map((s) => s.status), ['fulfilled', 'fulfilled']);
    const nodes = started.map((s) => (s as PromiseFulfilledResult<WebGateway>).value);
    const withFile = nodes.filter((n) => n.adminPassword !== '');
    assert.equal(withFile.length, 1, 'exactly one node wrote the password file');
    const signedIn = await withFile[0].adminClient();
    const other = nodes.find((n) => n !== withFile[0])!;
    assert.equal((await other.client().with(signedIn.auth).get('/session')).status, 200, 'its password is the one in the store');
  });
}
