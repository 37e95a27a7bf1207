// The QuarantineStore contract, written once and run against SQLite (quarantine-sqlite.test.ts)
// and PostgreSQL (quarantine-postgres.test.ts). A location holds one database; open() may be
// called twice on it to act as two processes (a gateway and a CLI, or two nodes). Each handle
// carries the main Store of the same selection: the quarantine's audit entries and trace updates
// must land there.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { QuarantineItem, QuarantineRecipientState, QuarantineStore, Store } from '../../src/store/ports.ts';
import { traceRecord } from './store-contract.ts';

export interface QuarantineHandle {
  store: Store;
  quarantine: QuarantineStore;
}

export interface QuarantineLocation {
  open(): Promise<QuarantineHandle>;
  dispose(): Promise<void>;
}

export interface QuarantineBackend {
  fresh(): Promise<QuarantineLocation>;
}

async function withQuarantine(backend: QuarantineBackend, handles: number, fn: (h: QuarantineHandle[]) => Promise<void>): Promise<void> {
  const location = await backend.fresh();
  const opened: QuarantineHandle[] = [];
  try {
    for (let i = 0; i < handles; i++) opened.push(await location.open());
    await fn(opened);
  } finally {
    for (const h of opened) {
      await h.quarantine.close();
      await h.store.close();
    }
    await location.dispose();
  }
}

let counter = 0;
function item(overrides: Partial<QuarantineItem> & { to?: string[] } = {}): QuarantineItem {
  counter++;
  const { to, ...rest } = overrides;
  return {
    id: `Q${String(counter).padStart(6, '0')}`, time: '2026-11-23T10:00:00.000Z', expires: '2026-12-23T10:00:00.000Z',
    transactionId: `tq${counter}`, policy: 'DefaultFullAccessPolicy', kind: 'dmarcQuarantine', mailFrom: 'x@fabrikam.test',
    headerFrom: ['X <x@fabrikam.test>'], subject: 'Hello', sizeBytes: 4321, reason: 'dmarc.quarantine: p=quarantine',
    prependHeaders: 'X-Mxward-Verdict: quarantine\r\n', file: `Q${counter}.eml`,
    recipients: (to ?? ['a@contoso.test']).map((address) => ({ address, state: 'held' as QuarantineRecipientState, releaseQueueId: null, notified: false })),
    ...rest,
  };
}

const states = (i: QuarantineItem | null) => i?.recipients.map((r) => `${r.address}:${r.state}`);
const ids = (items: QuarantineItem[]) => items.map((i) => i.id);
const releaseAudit = { actor: 'admin', action: 'quarantine.release', detail: {} };

async function auditOf(store: Store, action: string) {
  return (await store.listAudit(500)).filter((a) => a.action === action);
}

export function defineQuarantineContract(name: string, backend: QuarantineBackend): void {
  describe(`${name} quarantine contract: items`, () => {
    test('an item reads back as written, recipients lower-cased, once each, sorted; the add is audited', () => withQuarantine(backend, 1, async ([{ store, quarantine }]) => {
      const written = item({ to: ['B@Contoso.test', 'a@contoso.test', 'b@contoso.test'], mailFrom: null, subject: null, headerFrom: [], policy: 'AdminOnlyAccessPolicy', kind: 'ownDomainSpoof' });
      await quarantine.addQuarantined(written);
      assert.deepEqual(await quarantine.getQuarantined(written.id), {
        ...written,
        recipients: [
          { address: 'a@contoso.test', state: 'held', releaseQueueId: null, notified: false },
          { address: 'b@contoso.test', state: 'held', releaseQueueId: null, notified: false },
        ],
      });
      assert.equal(await quarantine.getQuarantined('NOSUCHID'), null);
      const [added] = await auditOf(store, 'quarantine.add');
      assert.equal(added.actor, 'gateway');
      assert.deepEqual(added.new, { id: written.id, policy: 'AdminOnlyAccessPolicy', kind: 'ownDomainSpoof', recipients: ['B@Contoso.test', 'a@contoso.test', 'b@contoso.test'] });
    }));

    test('adding an id that exists is refused and leaves the first item as it was', () => withQuarantine(backend, 1, async ([{ quarantine }]) => {
      const first = item();
      await quarantine.addQuarantined(first);
      await assert.rejects(quarantine.addQuarantined({ ...first, subject: 'other' }));
      assert.equal((await quarantine.getQuarantined(first.id))?.subject, 'Hello');
    }));

    test('list: newest first, by recipient (any case), by recipient state, and limited', () => withQuarantine(backend, 1, async ([{ quarantine }]) => {
      const old = item({ time: '2026-11-20T08:00:00.000Z', to: ['a@contoso.test', 'b@contoso.test'] });
      const mid = item({ time: '2026-11-21T08:00:00.000Z', to: ['b@contoso.test'] });
      const fresh = item({ time: '2026-11-22T08:00:00.000Z', to: ['c@contoso.test'] });
      for (const i of [mid, fresh, old]) await quarantine.addQuarantined(i);
      assert.deepEqual(ids(await quarantine.listQuarantined({})), [fresh.id, mid.id, old.id]);
      assert.deepEqual(ids(await quarantine.listQuarantined({ recipient: 'B@CONTOSO.TEST' })), [mid.id, old.id]);
      assert.deepEqual(ids(await quarantine.listQuarantined({ limit: 2 })), [fresh.id, mid.id]);
      // A listed item carries all its recipients; narrowing to one is the service's job.
      assert.deepEqual(states((await quarantine.listQuarantined({ recipient: 'a@contoso.test' }))[0]), ['a@contoso.test:held', 'b@contoso.test:held']);

      await quarantine.transition(old.id, ['a@contoso.test'], ['held'], 'deleted', null, null);
      await quarantine.transition(mid.id, null, ['held'], 'released', 'QREL1', null);
      assert.deepEqual(ids(await quarantine.listQuarantined({ states: ['held', 'requested'] })), [fresh.id, old.id]);
      assert.deepEqual(ids(await quarantine.listQuarantined({ states: ['released'] })), [mid.id]);
      // Recipient and state apply to the same recipient row: a's copy of `old` is deleted.
      assert.deepEqual(ids(await quarantine.listQuarantined({ recipient: 'a@contoso.test', states: ['held'] })), []);
      assert.deepEqual(ids(await quarantine.listQuarantined({ recipient: 'b@contoso.test', states: ['held'] })), [old.id]);
    }));

    test('policy, kind and per-recipient state are kept per item (what permissions are decided on)', () => withQuarantine(backend, 1, async ([{ quarantine }]) => {
      const limited = item({ policy: 'DefaultLimitedAccessPolicy', kind: 'foreignSpoof', to: ['a@contoso.test', 'b@contoso.test'] });
      const adminOnly = item({ policy: 'AdminOnlyAccessPolicy', kind: 'other', to: ['a@contoso.test'] });
      await quarantine.addQuarantined(limited);
      await quarantine.addQuarantined(adminOnly);
      assert.deepEqual(await quarantine.transition(limited.id, ['A@contoso.test'], ['held'], 'requested', null, null), ['a@contoso.test']);
      const got = await quarantine.getQuarantined(limited.id);
      assert.deepEqual([got?.policy, got?.kind], ['DefaultLimitedAccessPolicy', 'foreignSpoof']);
      assert.deepEqual(states(got), ['a@contoso.test:requested', 'b@contoso.test:held']);
      const other = await quarantine.getQuarantined(adminOnly.id);
      assert.deepEqual([other?.policy, other?.kind, ...states(other)!], ['AdminOnlyAccessPolicy', 'other', 'a@contoso.test:held']);
    }));

    test('delete: the item and its recipients are gone, audited; a recipient delete leaves the others', () => withQuarantine(backend, 1, async ([{ store, quarantine }]) => {
      const shared = item({ to: ['a@contoso.test', 'b@contoso.test'] });
      const gone = item({ to: ['a@contoso.test'] });
      await quarantine.addQuarantined(shared);
      await quarantine.addQuarantined(gone);
      assert.deepEqual(await quarantine.transition(shared.id, ['a@contoso.test'], ['held', 'requested'], 'deleted', null, { actor: 'cli as a@contoso.test', action: 'quarantine.delete', detail: {} }), ['a@contoso.test']);
      assert.deepEqual(states(await quarantine.getQuarantined(shared.id)), ['a@contoso.test:deleted', 'b@contoso.test:held']);

      await quarantine.removeQuarantined(gone.id, { actor: 'admin', action: 'quarantine.delete', detail: { id: gone.id } });
      assert.equal(await quarantine.getQuarantined(gone.id), null);
      assert.deepEqual(ids(await quarantine.listQuarantined({ recipient: 'a@contoso.test' })), [shared.id]);
      const deletes = await auditOf(store, 'quarantine.delete');
      assert.deepEqual(deletes.map((a) => a.actor), ['admin', 'cli as a@contoso.test']);
      assert.deepEqual(deletes[0].new, { id: gone.id });
      // The id is free again once removed (the recipients went with the item).
      await quarantine.addQuarantined({ ...gone, recipients: [] });
      assert.deepEqual(states(await quarantine.getQuarantined(gone.id)), []);
    }));
  });

  describe(`${name} quarantine contract: release`, () => {
    test('request-release, deny, request again, approve: each move audited with its details; no-op moves are not', () => withQuarantine(backend, 1, async ([{ store, quarantine }]) => {
      const i = item({ policy: 'DefaultLimitedAccessPolicy', to: ['a@contoso.test', 'b@contoso.test'] });
      await quarantine.addQuarantined(i);
      const asA = { actor: 'cli as a@contoso.test', action: 'quarantine.request-release', detail: {} };
      assert.deepEqual(await quarantine.transition(i.id, ['a@contoso.test'], ['held'], 'requested', null, asA), ['a@contoso.test']);
      assert.deepEqual(await quarantine.transition(i.id, ['a@contoso.test'], ['held'], 'requested', null, asA), []);
      assert.deepEqual(await quarantine.transition(i.id, null, ['requested'], 'held', null, { actor: 'admin', action: 'quarantine.deny', detail: {} }), ['a@contoso.test']);
      assert.deepEqual(states(await quarantine.getQuarantined(i.id)), ['a@contoso.test:held', 'b@contoso.test:held']);
      await quarantine.transition(i.id, ['a@contoso.test'], ['held'], 'requested', null, asA);
      assert.deepEqual(await quarantine.transition(i.id, null, ['requested'], 'releasing', 'QAPPROVE', { actor: 'admin', action: 'quarantine.approve', detail: { note: 'ok' } }), ['a@contoso.test']);
      assert.deepEqual(await quarantine.transition(i.id, null, ['requested'], 'releasing', 'QAGAIN', { actor: 'admin', action: 'quarantine.approve', detail: {} }), []);
      const after = await quarantine.getQuarantined(i.id);
      assert.deepEqual(after?.recipients.map((r) => [r.address, r.state, r.releaseQueueId]), [['a@contoso.test', 'releasing', 'QAPPROVE'], ['b@contoso.test', 'held', null]]);

      assert.equal((await auditOf(store, 'quarantine.request-release')).length, 2);
      assert.equal((await auditOf(store, 'quarantine.deny')).length, 1);
      const approvals = await auditOf(store, 'quarantine.approve');
      assert.equal(approvals.length, 1, 'the approve that moved nothing is not audited');
      assert.deepEqual(approvals[0].new, { id: i.id, recipients: ['a@contoso.test'], from: ['requested'], to: 'releasing', releaseQueueId: 'QAPPROVE', note: 'ok' });
    }));

    test('a release happens once: the second finds nothing; releasing rows are listed per queue id until done', () => withQuarantine(backend, 1, async ([{ quarantine }]) => {
      const i = item({ to: ['a@contoso.test', 'b@contoso.test', 'c@contoso.test'] });
      await quarantine.addQuarantined(i);
      assert.deepEqual(await quarantine.transition(i.id, ['c@contoso.test'], ['held'], 'releasing', 'QONE', releaseAudit), ['c@contoso.test']);
      assert.deepEqual(await quarantine.transition(i.id, null, ['held', 'requested'], 'releasing', 'QALL', releaseAudit), ['a@contoso.test', 'b@contoso.test']);
      assert.deepEqual(await quarantine.transition(i.id, null, ['held', 'requested'], 'releasing', 'QLATE', releaseAudit), []);
      assert.deepEqual(await quarantine.listReleasing(), [
        { id: i.id, queueId: 'QALL', addresses: ['a@contoso.test', 'b@contoso.test'] },
        { id: i.id, queueId: 'QONE', addresses: ['c@contoso.test'] },
      ].sort((x, y) => x.queueId.localeCompare(y.queueId)));
      // Finishing keeps the queue id it was released with (null leaves it as it was).
      await quarantine.transition(i.id, ['a@contoso.test', 'b@contoso.test'], ['releasing'], 'released', null, null);
      assert.deepEqual(await quarantine.listReleasing(), [{ id: i.id, queueId: 'QONE', addresses: ['c@contoso.test'] }]);
      await quarantine.transition(i.id, null, ['releasing'], 'released', 'QONE', null);
      assert.deepEqual(await quarantine.listReleasing(), []);
      assert.deepEqual((await quarantine.getQuarantined(i.id))?.recipients.map((r) => `${r.address}:${r.state}:${r.releaseQueueId}`),
        ['a@contoso.test:released:QALL', 'b@contoso.test:released:QALL', 'c@contoso.test:released:QONE']);
    }));

    test('two releases racing from two processes: each recipient is moved by exactly one of them', () => withQuarantine(backend, 2, async ([gateway, cli]) => {
      const to = ['a@contoso.test', 'b@contoso.test', 'c@contoso.test'];
      for (let round = 0; round < 15; round++) {
        const i = item({ to });
        await gateway.quarantine.addQuarantined(i);
        // Round by round: whole-message releases, or one whole-message against one recipient's own.
        const mine = round % 2 === 0 ? null : ['b@contoso.test'];
        const [first, second] = await Promise.all([
          gateway.quarantine.transition(i.id, null, ['held', 'requested'], 'releasing', `QA${round}`, releaseAudit),
          cli.quarantine.transition(i.id, mine, ['held', 'requested'], 'releasing', `QB${round}`, releaseAudit),
        ]);
        assert.deepEqual([...first, ...second].sort(), mine ? [...to].sort() : to, `round ${round}: ${JSON.stringify([first, second])}`);
        if (!mine) assert.ok(first.length === 0 || second.length === 0, `round ${round}: both released ${JSON.stringify([first, second])}`);
        const got = await cli.quarantine.getQuarantined(i.id);
        for (const r of got!.recipients) {
          assert.equal(r.state, 'releasing');
          assert.equal(r.releaseQueueId, first.includes(r.address) ? `QA${round}` : `QB${round}`);
        }
      }
      // One audit entry per release that moved something, none for the loser of a whole-message race.
      const audited = await auditOf(gateway.store, 'quarantine.release');
      const moved = audited.map((a) => (a.new as { recipients: string[] }).recipients).flat();
      assert.equal(moved.length, 15 * to.length);
    }));

    test('a release is attached to the message trace record, where delivery updates then land', () => withQuarantine(backend, 2, async ([gateway, cli]) => {
      const record = traceRecord({ verdict: 'quarantine', queueId: null, deliveryStatus: 'quarantined' });
      await gateway.store.appendTrace(record);
      const other = traceRecord({ deliveryStatus: 'queued' });
      await gateway.store.appendTrace(other);
      assert.equal(await cli.quarantine.deliveryStatusOf('QREL'), null);
      await cli.quarantine.attachReleaseToTrace(record.transactionId, 'QREL');
      assert.equal(await gateway.quarantine.deliveryStatusOf('QREL'), 'queued');

      await gateway.store.updateDelivery({ queueId: 'QREL', status: 'delivered', detail: 'maildir', attempts: 1, lastReply: '250 2.0.0 Ok' });
      assert.equal(await cli.quarantine.deliveryStatusOf('QREL'), 'delivered');
      const [traced] = (await gateway.store.queryTrace({ verdict: 'quarantine' })).filter((t) => t.transactionId === record.transactionId);
      assert.deepEqual([traced.queueId, traced.deliveryStatus, traced.deliveryAttempts, traced.deliveryReply], ['QREL', 'delivered', 1, '250 2.0.0 Ok']);
      const [untouched] = (await gateway.store.queryTrace({})).filter((t) => t.transactionId === other.transactionId);
      assert.deepEqual([untouched.queueId, untouched.deliveryStatus], [other.queueId, 'queued']);
    }));
  });

  describe(`${name} quarantine contract: notifications, retention, audit`, () => {
    test('pending notifications: held and un-notified, under the given policies, grouped by recipient; a digest marks them', () => withQuarantine(backend, 1, async ([{ store, quarantine }]) => {
      const one = item({ time: '2026-11-20T08:00:00.000Z', to: ['a@contoso.test', 'b@contoso.test'] });
      const two = item({ time: '2026-11-21T08:00:00.000Z', to: ['a@contoso.test'] });
      const silent = item({ policy: 'AdminOnlyAccessPolicy', to: ['a@contoso.test'] });
      const requested = item({ to: ['c@contoso.test'] });
      for (const i of [two, one, silent, requested]) await quarantine.addQuarantined(i);
      await quarantine.transition(requested.id, null, ['held'], 'requested', null, null);
      assert.equal((await quarantine.pendingNotifications([])).size, 0);
      const pending = await quarantine.pendingNotifications(['DefaultFullAccessPolicy', 'DefaultLimitedAccessPolicy']);
      assert.deepEqual([...pending.keys()].sort(), ['a@contoso.test', 'b@contoso.test']);
      assert.deepEqual(ids(pending.get('a@contoso.test')!), [one.id, two.id], 'oldest first');
      assert.deepEqual(ids(pending.get('b@contoso.test')!), [one.id]);
      assert.equal(pending.get('a@contoso.test')![0].subject, 'Hello');

      assert.equal(await quarantine.lastDigest('a@contoso.test'), null);
      await quarantine.recordDigest('A@contoso.test', '2026-11-23T10:00:00.000Z', [one.id]);
      assert.equal(await quarantine.lastDigest('a@contoso.test'), '2026-11-23T10:00:00.000Z');
      const after = await quarantine.pendingNotifications(['DefaultFullAccessPolicy']);
      assert.deepEqual(ids(after.get('a@contoso.test')!), [two.id]);
      assert.deepEqual(ids(after.get('b@contoso.test')!), [one.id], "b's copy of the same message is still un-notified");
      assert.deepEqual((await quarantine.getQuarantined(one.id))?.recipients.map((r) => r.notified), [true, false]);
      await quarantine.recordDigest('a@contoso.test', '2026-11-23T11:00:00.000Z', [two.id]);
      assert.equal(await quarantine.lastDigest('a@contoso.test'), '2026-11-23T11:00:00.000Z');
      assert.equal((await quarantine.pendingNotifications(['DefaultFullAccessPolicy'])).has('a@contoso.test'), false);
      const notes = await auditOf(store, 'quarantine.notify');
      assert.deepEqual(notes.map((a) => [a.actor, a.new]), [['gateway', { recipient: 'a@contoso.test', ids: [two.id] }], ['gateway', { recipient: 'A@contoso.test', ids: [one.id] }]]);
    }));

    test('retention: expired items (expiry at or before now) are listed oldest expiry first; purging removes them', () => withQuarantine(backend, 1, async ([{ store, quarantine }]) => {
      const early = item({ expires: '2026-11-01T00:00:00.000Z' });
      const exact = item({ expires: '2026-11-23T10:00:00.000Z' });
      const later = item({ expires: '2026-11-23T10:00:00.001Z' });
      for (const i of [exact, later, early]) await quarantine.addQuarantined(i);
      const expired = await quarantine.listExpired('2026-11-23T10:00:00.000Z');
      assert.deepEqual(ids(expired), [early.id, exact.id]);
      assert.deepEqual(states(expired[0]), ['a@contoso.test:held']);
      for (const i of expired) await quarantine.removeQuarantined(i.id, { actor: 'gateway', action: 'quarantine.purge', detail: { id: i.id, expired: i.expires } });
      assert.deepEqual(ids(await quarantine.listExpired('2026-11-23T10:00:00.000Z')), []);
      assert.deepEqual(ids(await quarantine.listQuarantined({})), [later.id]);
      assert.deepEqual((await auditOf(store, 'quarantine.purge')).map((a) => a.new).reverse(), [{ id: early.id, expired: early.expires }, { id: exact.id, expired: exact.expires }]);
    }));

    test('every action reaches the main audit log; a second process sees the first one\'s changes at once', () => withQuarantine(backend, 2, async ([gateway, cli]) => {
      await cli.quarantine.appendQuarantineAudit({ actor: 'ops as a@contoso.test', action: 'quarantine.show.refused', detail: { id: 'Q1', policy: 'AdminOnlyAccessPolicy' } });
      const [entry] = await gateway.store.listAudit(1);
      assert.deepEqual([entry.actor, entry.action, entry.old, entry.new], ['ops as a@contoso.test', 'quarantine.show.refused', null, { id: 'Q1', policy: 'AdminOnlyAccessPolicy' }]);
      const i = item();
      await gateway.quarantine.addQuarantined(i);
      assert.deepEqual(ids(await cli.quarantine.listQuarantined({ recipient: 'a@contoso.test' })), [i.id]);
      await cli.quarantine.transition(i.id, null, ['held'], 'releasing', 'QX', releaseAudit);
      assert.deepEqual(await gateway.quarantine.listReleasing(), [{ id: i.id, queueId: 'QX', addresses: ['a@contoso.test'] }]);
      assert.deepEqual((await cli.store.listAudit(10)).map((a) => a.action).slice(0, 3), ['quarantine.release', 'quarantine.add', 'quarantine.show.refused']);
    }));
  });
}
