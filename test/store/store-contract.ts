// The Store contract, written once and run against every implementation (sqlite.test.ts,
// postgres.test.ts): what the gateway, the CLI and the live-policy poll rely on, whatever the
// database. A backend hands out empty store locations; open() may be called twice on one location
// to act as a second node (a CLI next to a running gateway).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../src/store/ports.ts';
import type { PolicyDocument } from '../../src/config/policy-schema.ts';
import { defaultPolicy, policySchema } from '../../src/config/policy-schema.ts';
import { changePolicy } from '../../src/store/policy-changes.ts';
import { importPolicyDocument, mergePolicyFragment, policyHistory, rollbackPolicy } from '../../src/services/policy-document.ts';
import type { TraceRecord } from '../../src/domain/types.ts';

export interface StoreLocation {
  open(): Promise<Store>;
  dispose(): Promise<void>;
}

export interface StoreBackend {
  fresh(): Promise<StoreLocation>;
}

/** Runs `fn` with one or more handles on a fresh location, then closes and removes everything. */
async function withStores(backend: StoreBackend, handles: number, fn: (stores: Store[], location: StoreLocation) => Promise<void>): Promise<void> {
  const location = await backend.fresh();
  const stores: Store[] = [];
  try {
    for (let i = 0; i < handles; i++) stores.push(await location.open());
    await fn(stores, location);
  } finally {
    for (const store of stores) await store.close();
    await location.dispose();
  }
}

function withDomain(doc: PolicyDocument, domain: string): PolicyDocument {
  return policySchema.parse({ ...doc, acceptedDomains: [...doc.acceptedDomains, { domain }] });
}

let traceCounter = 0;
export function traceRecord(overrides: Partial<TraceRecord> = {}): TraceRecord {
  traceCounter++;
  return {
    time: '2026-03-01T10:00:00.000Z', sessionId: `s${traceCounter}`, transactionId: `t${traceCounter}`,
    remoteIp: '192.0.2.10', helo: 'mail.fabrikam.test', ptr: null, tlsVersion: 'TLSv1.3', tlsCipher: 'TLS_AES_256_GCM_SHA384',
    tlsClientCertificate: null, authUser: null, connector: null, attribution: 'anonymous',
    mailFrom: 'news@fabrikam.test', recipients: ['alice@contoso.test'], rejectedRecipients: [], headerFrom: ['news@fabrikam.test'],
    messageId: `<m${traceCounter}@fabrikam.test>`, subject: 'Hello', sizeBytes: 1234, directSend: null, directSendWouldReject: false,
    auth: null, verdict: 'accept', reply: '250 2.0.0 Ok', stage: 'data',
    hits: [], queueId: `q${traceCounter}`, quarantineId: null, deliveryStatus: 'queued', durationMs: 12,
    ...overrides,
  };
}

const ids = (records: TraceRecord[]) => records.map((r) => r.transactionId);

export function defineStoreContract(name: string, backend: StoreBackend): void {
  describe(`${name} store contract: policy`, () => {
    test('a fresh store serves the built-in defaults at version 0, with no audit and no users', () => withStores(backend, 1, async ([store]) => {
      assert.deepEqual(await store.readPolicy(), { document: defaultPolicy(), version: 0 });
      assert.equal(await store.readPolicyVersion(), 0);
      assert.deepEqual(await store.listAudit(10), []);
      assert.deepEqual(await store.listUsers(), []);
    }));

    test('each write bumps the version by one and reads back as written', () => withStores(backend, 1, async ([store]) => {
      const first = withDomain(defaultPolicy(), 'contoso.test');
      assert.equal((await store.writePolicy(first, 'alice', 'domain.add')).version, 1);
      assert.deepEqual(await store.readPolicy(), { document: first, version: 1 });
      const second = { ...first, rejectDirectSend: 'report' as const };
      const saved = await store.writePolicy(second, 'bob', 'org.set');
      assert.deepEqual(saved, { document: second, version: 2 });
      assert.equal(await store.readPolicyVersion(), 2);
      assert.deepEqual((await store.readPolicy()).document, second);
    }));

    test('writePolicy refuses an invalid document and changes nothing', () => withStores(backend, 1, async ([store]) => {
      const broken = { ...defaultPolicy(), rejectDirectSend: 'sometimes' } as unknown as PolicyDocument;
      await assert.rejects(store.writePolicy(broken, 'alice', 'org.set'));
      assert.equal(await store.readPolicyVersion(), 0);
      assert.deepEqual(await store.listAudit(10), []);
    }));

    test('every write leaves an audit entry with actor, action, old and new, newest first', () => withStores(backend, 1, async ([store]) => {
      const first = withDomain(defaultPolicy(), 'contoso.test');
      const second = withDomain(first, 'fabrikam.test');
      await store.writePolicy(first, 'alice', 'domain.add');
      await store.writePolicy(second, 'bob', 'domain.add');
      const audit = await store.listAudit(10);
      assert.equal(audit.length, 2);
      assert.deepEqual(audit.map((a) => [a.actor, a.action]), [['bob', 'domain.add'], ['alice', 'domain.add']]);
      assert.ok(audit[0].id > audit[1].id);
      assert.deepEqual(audit[1].old, null);
      assert.deepEqual(audit[1].new, first);
      assert.deepEqual(audit[0].old, first);
      assert.deepEqual(audit[0].new, second);
      for (const entry of audit) assert.ok(Math.abs(Date.parse(entry.time) - Date.now()) < 60_000, `audit time ${entry.time}`);
      assert.equal((await store.listAudit(1)).length, 1);
    }));

    test('appendAudit keeps arbitrary JSON values, including null', () => withStores(backend, 1, async ([store]) => {
      await store.appendAudit('ops', 'quarantine.release', { id: 'Q1', to: ['a@contoso.test'] }, null);
      await store.appendAudit('ops', 'note', null, [1, 'two', { three: 3 }]);
      const [second, first] = await store.listAudit(10);
      assert.deepEqual([first.action, first.old, first.new], ['quarantine.release', { id: 'Q1', to: ['a@contoso.test'] }, null]);
      assert.deepEqual([second.action, second.old, second.new], ['note', null, [1, 'two', { three: 3 }]]);
    }));

    test('writePolicyIfVersion writes only on the expected version', () => withStores(backend, 1, async ([store]) => {
      const first = withDomain(defaultPolicy(), 'contoso.test');
      assert.equal(await store.writePolicyIfVersion(1, first, 'alice', 'domain.add'), null);
      assert.equal(await store.readPolicyVersion(), 0);
      assert.equal((await store.writePolicyIfVersion(0, first, 'alice', 'domain.add'))?.version, 1);
      assert.equal(await store.writePolicyIfVersion(0, defaultPolicy(), 'bob', 'org.set'), null);
      assert.deepEqual(await store.readPolicy(), { document: first, version: 1 });
      assert.equal((await store.listAudit(10)).length, 1);
    }));

    test('concurrent writes from two nodes are all counted, each with its own version', () => withStores(backend, 2, async (stores) => {
      const writes = Array.from({ length: 8 }, (_, i) =>
        stores[i % 2].writePolicy(withDomain(defaultPolicy(), `d${i}.test`), `node${i % 2}`, 'domain.add'));
      const versions = (await Promise.all(writes)).map((s) => s.version).sort((a, b) => a - b);
      assert.deepEqual(versions, [1, 2, 3, 4, 5, 6, 7, 8]);
      assert.equal(await stores[0].readPolicyVersion(), 8);
      assert.equal(await stores[1].readPolicyVersion(), 8);
      assert.equal((await stores[0].listAudit(100)).length, 8);
    }));

    test('concurrent read-modify-write changes from two nodes lose none of them', () => withStores(backend, 2, async (stores) => {
      const domains = Array.from({ length: 8 }, (_, i) => `c${i}.test`);
      await Promise.all(domains.map((domain, i) => changePolicy(stores[i % 2], `node${i % 2}`, 'domain.add', (doc) => withDomain(doc, domain))));
      const { document, version } = await stores[1].readPolicy();
      assert.deepEqual(document.acceptedDomains.map((d) => d.domain).sort(), domains);
      assert.equal(version, 8);
      assert.equal((await stores[0].listAudit(100)).length, 8);
    }));

    test('a second node sees a change at once, and a reopened store keeps it', () => withStores(backend, 2, async ([gateway, cli], location) => {
      const doc = withDomain(defaultPolicy(), 'contoso.test');
      await cli.writePolicy(doc, 'cli', 'domain.add');
      assert.equal(await gateway.readPolicyVersion(), 1);
      const again = await location.open();
      try {
        assert.deepEqual(await again.readPolicy(), { document: doc, version: 1 });
      } finally {
        await again.close();
      }
    }));

    // Issue 12: `policy history` and `rollback` read versions from the audit log, which holds on
    // every store only if each policy write records its whole document with the version bump.
    test('policy history from the audit log; rollback restores a version exactly, audited', () => withStores(backend, 1, async ([store]) => {
      const opts = { actor: 'tester', dryRun: false };
      await store.putUser({ username: 'u1', passwordHash: 'scrypt$1$1$1$a$b', addresses: [] }, 'tester');
      const v1 = withDomain(defaultPolicy(), 'contoso.test');
      await store.writePolicy(v1, 'tester', 'policy.import');
      const merged = await mergePolicyFragment(store, { connectors: [policySchema.parse({ connectors: [{ name: 'Printers', type: 'partner', senderIPAddresses: ['203.0.113.0/24'] }] }).connectors[0]], acceptedDomains: [] }, opts);
      assert.equal(merged.kind, 'written');
      const refused = await importPolicyDocument(store, defaultPolicy(), { ...opts, replace: false });
      assert.equal(refused.kind, 'refused', 'an import that removes a domain and a connector is refused');
      assert.equal(await store.readPolicyVersion(), 2);
      await importPolicyDocument(store, withDomain(defaultPolicy(), 'fabrikam.test'), { ...opts, replace: true });
      const history = await policyHistory(store, 10);
      assert.deepEqual(history.map((h) => [h.version, h.action]), [[3, 'policy.import.replace'], [2, 'policy.merge'], [1, 'policy.import']]);
      assert.deepEqual(history[2].document, v1);
      const back = await rollbackPolicy(store, 1, opts);
      assert.equal(back.kind, 'written');
      assert.deepEqual(await store.readPolicy(), { document: v1, version: 4 });
      assert.equal(JSON.stringify((await store.readPolicy()).document), JSON.stringify(v1), 'byte for byte');
      assert.equal((await store.listAudit(1))[0].action, 'policy.rollback:v1');
      assert.equal((await rollbackPolicy(store, 9, opts)).kind, 'unknown-version');
    }));
  });

  describe(`${name} store contract: users`, () => {
    test('put, get, update, list and remove users, each change audited without the hash', () => withStores(backend, 1, async ([store]) => {
      const bob = { username: 'bob', passwordHash: 'scrypt$16384$8$1$c2FsdA==$aGFzaA==', addresses: ['bob@contoso.test'] };
      const alice = { username: 'alice', passwordHash: 'scrypt$16384$8$1$c2FsdDI=$aGFzaDI=', addresses: ['alice@contoso.test', 'a@contoso.test'] };
      await store.putUser(bob, 'admin');
      await store.putUser(alice, 'admin');
      assert.deepEqual(await store.getUser('alice'), alice);
      assert.equal(await store.getUser('carol'), null);
      assert.deepEqual((await store.listUsers()).map((u) => u.username), ['alice', 'bob']);

      const moved = { ...bob, passwordHash: 'scrypt$16384$8$1$bmV3$bmV3', addresses: ['robert@contoso.test'] };
      await store.putUser(moved, 'helpdesk');
      assert.deepEqual(await store.getUser('bob'), moved);

      assert.equal(await store.removeUser('alice', 'admin'), true);
      assert.equal(await store.removeUser('alice', 'admin'), false);
      assert.equal(await store.getUser('alice'), null);
      assert.deepEqual(await store.listUsers(), [moved]);

      const audit = await store.listAudit(10);
      assert.deepEqual(audit.map((a) => [a.actor, a.action]), [['admin', 'user.remove'], ['helpdesk', 'user.update'], ['admin', 'user.add'], ['admin', 'user.add']]);
      assert.deepEqual(audit[1].old, { username: 'bob', addresses: ['bob@contoso.test'] });
      assert.deepEqual(audit[1].new, { username: 'bob', addresses: ['robert@contoso.test'] });
      assert.doesNotMatch(JSON.stringify(audit), /scrypt/);
    }));
  });

  describe(`${name} store contract: trace`, () => {
    test('a record reads back as written, with empty delivery progress', () => withStores(backend, 1, async ([store]) => {
      const record = traceRecord({ auth: null, hits: [{ rule: 'connector', detail: 'no connector matched' }] });
      await store.appendTrace(record);
      const [read] = await store.queryTrace({});
      assert.deepEqual(read, { ...record, deliveryAttempts: 0, deliveryReply: null, deliveryDetail: null, deliveryTime: null });
    }));

    test('each filter selects exactly its records, newest first', () => withStores(backend, 1, async ([store]) => {
      const a = traceRecord({ time: '2026-03-01T10:00:00.000Z', remoteIp: '192.0.2.1', mailFrom: 'CEO@Contoso.test', recipients: ['alice@contoso.test'], verdict: 'accept' });
      const b = traceRecord({ time: '2026-03-01T11:00:00.000Z', remoteIp: '198.51.100.7', mailFrom: 'ceo@contoso.test', recipients: [], rejectedRecipients: ['Bob@Contoso.test'],
        directSend: 'p1', verdict: 'reject', reply: '550 5.7.68 Direct Send refused', queueId: null, deliveryStatus: 'not-queued' });
      const c = traceRecord({ time: '2026-03-01T12:00:00.000Z', remoteIp: '192.0.2.1', mailFrom: null, recipients: ['bob@contoso.test', 'carol@contoso.test'],
        directSend: 'header-from', verdict: 'quarantine', deliveryStatus: 'quarantined' });
      const d = traceRecord({ time: '2026-03-01T13:00:00.000Z', remoteIp: '203.0.113.9', mailFrom: 'news_letter@fabrikam.test', verdict: 'abandoned' });
      for (const r of [a, b, c, d]) await store.appendTrace(r);

      assert.deepEqual(ids(await store.queryTrace({})), ids([d, c, b, a]));
      assert.deepEqual(ids(await store.queryTrace({ since: '2026-03-01T11:00:00.000Z' })), ids([d, c, b]));
      assert.deepEqual(ids(await store.queryTrace({ since: '2026-03-01T14:00:00.000Z' })), []);
      assert.deepEqual(ids(await store.queryTrace({ ip: '192.0.2.1' })), ids([c, a]));
      assert.deepEqual(ids(await store.queryTrace({ ip: '192.0.2.10' })), []);
      assert.deepEqual(ids(await store.queryTrace({ sender: 'ceo@CONTOSO' })), ids([b, a]));
      assert.deepEqual(ids(await store.queryTrace({ sender: 'fabrikam' })), ids([d]));
      // Refused recipients count: "why did bob not get it" must find the refusal.
      assert.deepEqual(ids(await store.queryTrace({ recipient: 'bob@contoso.test' })), ids([c, b]));
      assert.deepEqual(ids(await store.queryTrace({ recipient: 'CAROL' })), ids([c]));
      assert.deepEqual(ids(await store.queryTrace({ directSend: true })), ids([c, b]));
      assert.deepEqual(ids(await store.queryTrace({ verdict: 'reject' })), ids([b]));
      assert.deepEqual(ids(await store.queryTrace({ verdict: 'junk' })), []);
      assert.deepEqual(ids(await store.queryTrace({ limit: 2 })), ids([d, c]));
      assert.deepEqual(ids(await store.queryTrace({ ip: '192.0.2.1', directSend: true, since: '2026-03-01T09:00:00.000Z' })), ids([c]));
      assert.deepEqual(ids(await store.queryTrace({ sender: 'ceo', limit: 1 })), ids([b]));
    }));

    test('each record keeps the node that handled it, and --node selects one node\'s records', () => withStores(backend, 2, async ([nodeA, nodeB]) => {
      const a1 = traceRecord({ node: 'mx1.contoso.test:25' });
      const b1 = traceRecord({ node: 'mx2.contoso.test:25' });
      const a2 = traceRecord({ node: 'mx1.contoso.test:25' });
      const older = traceRecord();
      await nodeA.appendTrace(a1);
      await nodeB.appendTrace(b1);
      // The outbox replay path (appendTraceOnce, PostgreSQL) keeps the node as well.
      await (nodeA.appendTraceOnce ?? nodeA.appendTrace).call(nodeA, a2);
      await nodeB.appendTrace(older);
      assert.deepEqual(ids(await nodeB.queryTrace({ node: 'mx1.contoso.test:25' })), ids([a2, a1]));
      assert.deepEqual(ids(await nodeA.queryTrace({ node: 'mx2.contoso.test:25' })), ids([b1]));
      assert.deepEqual(ids(await nodeA.queryTrace({ node: 'mx1.contoso.test' })), [], 'a node id is matched whole');
      const [read] = await nodeA.queryTrace({ node: 'mx2.contoso.test:25' });
      assert.equal(read.node, 'mx2.contoso.test:25');
      // Records written before the field existed read back without it.
      assert.equal((await nodeA.queryTrace({ limit: 1 }))[0].node, undefined);
    }));

    test('newest first means the order written, not the message time', () => withStores(backend, 1, async ([store]) => {
      const later = traceRecord({ time: '2026-03-02T00:00:00.000Z' });
      const earlier = traceRecord({ time: '2026-03-01T00:00:00.000Z' });
      await store.appendTrace(later);
      await store.appendTrace(earlier);
      assert.deepEqual(ids(await store.queryTrace({})), ids([earlier, later]));
    }));

    test('updateDelivery changes only its queue id and keeps earlier attempts and replies', () => withStores(backend, 1, async ([store]) => {
      const mine = traceRecord({ queueId: 'Q-1' });
      const other = traceRecord({ queueId: 'Q-2' });
      await store.appendTrace(mine);
      await store.appendTrace(other);
      await store.updateDelivery({ queueId: 'Q-1', status: 'deferred', detail: 'connection refused', attempts: 2, lastReply: '451 4.3.0 try later' });
      let [read] = (await store.queryTrace({})).filter((r) => r.queueId === 'Q-1');
      assert.equal(read.deliveryStatus, 'deferred');
      assert.equal(read.deliveryDetail, 'connection refused');
      assert.equal(read.deliveryAttempts, 2);
      assert.equal(read.deliveryReply, '451 4.3.0 try later');
      assert.ok(Math.abs(Date.parse(read.deliveryTime!) - Date.now()) < 60_000, `delivery time ${read.deliveryTime}`);

      await store.updateDelivery({ queueId: 'Q-1', status: 'delivered', detail: null });
      [read] = (await store.queryTrace({})).filter((r) => r.queueId === 'Q-1');
      assert.deepEqual([read.deliveryStatus, read.deliveryDetail, read.deliveryAttempts, read.deliveryReply], ['delivered', null, 2, '451 4.3.0 try later']);

      const [untouched] = (await store.queryTrace({})).filter((r) => r.queueId === 'Q-2');
      assert.deepEqual([untouched.deliveryStatus, untouched.deliveryAttempts, untouched.deliveryTime], ['queued', 0, null]);
    }));
  });

  // Issue 13: the API pages through the trace with a cursor and filters by time range and kind.
  describe(`${name} store contract: trace paging and ranges`, () => {
    test('order time pages by (time, transaction id) newest first, without skipping or repeating', () => withStores(backend, 1, async ([store]) => {
      // Written out of time order, with two records sharing one time: the tie is broken by id.
      const rows = [
        traceRecord({ time: '2026-04-01T10:00:02.000Z', transactionId: 'page-b' }),
        traceRecord({ time: '2026-04-01T10:00:01.000Z', transactionId: 'page-a' }),
        traceRecord({ time: '2026-04-01T10:00:02.000Z', transactionId: 'page-c' }),
        traceRecord({ time: '2026-04-01T10:00:03.000Z', transactionId: 'page-d' }),
        traceRecord({ time: '2026-04-01T09:59:59.000Z', transactionId: 'page-e' }),
      ];
      for (const r of rows) await store.appendTrace(r);
      const seen: string[] = [];
      let after: { time: string; transactionId: string } | undefined;
      for (let pages = 0; pages < 10; pages++) {
        const page = await store.queryTrace({ order: 'time', after, limit: 2 });
        seen.push(...ids(page));
        if (page.length < 2) break;
        const last = page[page.length - 1];
        after = { time: last.time, transactionId: last.transactionId };
      }
      assert.deepEqual(seen, ['page-d', 'page-c', 'page-b', 'page-a', 'page-e']);
      // The default order is still the order written.
      assert.deepEqual(ids(await store.queryTrace({})), ['page-e', 'page-d', 'page-c', 'page-a', 'page-b']);
    }));

    test('until, Direct Send kind and transaction id select exactly their records', () => withStores(backend, 1, async ([store]) => {
      const a = traceRecord({ time: '2026-04-02T10:00:00.000Z', directSend: 'p1', verdict: 'reject' });
      const b = traceRecord({ time: '2026-04-02T11:00:00.000Z', directSend: 'header-from', verdict: 'accept' });
      const c = traceRecord({ time: '2026-04-02T12:00:00.000Z' });
      for (const r of [a, b, c]) await store.appendTrace(r);
      assert.deepEqual(ids(await store.queryTrace({ until: '2026-04-02T11:00:00.000Z' })), ids([a]));
      assert.deepEqual(ids(await store.queryTrace({ since: '2026-04-02T10:30:00.000Z', until: '2026-04-02T12:00:00.000Z' })), ids([b]));
      assert.deepEqual(ids(await store.queryTrace({ directSendKind: 'p1' })), ids([a]));
      assert.deepEqual(ids(await store.queryTrace({ directSendKind: 'header-from' })), ids([b]));
      assert.deepEqual(ids(await store.queryTrace({ transactionId: b.transactionId })), ids([b]));
      assert.deepEqual(ids(await store.queryTrace({ transactionId: 'no-such-transaction' })), []);
    }));
  });
}
