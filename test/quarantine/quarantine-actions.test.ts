// Quarantine actions by role (issue 13, SPEC §6 and §12) on a real SQLite store and spool: what
// each role may do, what a recipient with several mailboxes sees and releases, and the actions
// offered per policy and state (what the console shows as buttons).
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultQuarantineSettings } from '../../src/config/auth-schema.ts';
import { QuarantineError, QuarantineService } from '../../src/quarantine/quarantine-service.ts';
import { QuarantineActions } from '../../src/services/quarantine-actions.ts';
import type { QuarantineCaller } from '../../src/services/quarantine-actions.ts';
import { Spool } from '../../src/spool/spool.ts';
import { SqliteQuarantineStore } from '../../src/store/sqlite/quarantine-store.ts';
import type { QuarantineItem } from '../../src/store/ports.ts';

let dir: string;
let store: SqliteQuarantineStore;
let spool: Spool;
let service: QuarantineService;
let actions: QuarantineActions;
const queued: string[] = [];

const admin: QuarantineCaller = { actor: 'console:admin', role: 'administrator', addresses: [] };
const helpdesk: QuarantineCaller = { actor: 'console:desk', role: 'helpdesk', addresses: [] };
const auditor: QuarantineCaller = { actor: 'api:audit', role: 'auditor', addresses: [] };
const person = (...addresses: string[]): QuarantineCaller => ({ actor: `recipient:${addresses[0]}`, role: 'recipient', addresses });

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mxward-qa-'));
  store = new SqliteQuarantineStore(join(dir, 'mxward.db'));
  spool = new Spool(join(dir, 'spool'));
  await spool.recover();
  queued.length = 0;
  const settings = { ...defaultQuarantineSettings(), policies: { ...defaultQuarantineSettings().policies, foreignSpoof: 'DefaultLimitedAccessPolicy' as const } };
  service = new QuarantineService({ store, spool, dir: join(dir, 'quarantine'), settings, hostname: 'mx.test', onQueued: (id) => { queued.push(id); } });
  actions = new QuarantineActions(service);
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function hold(rule: string, recipients: string[]): Promise<string> {
  const path = join(spool.tmpDir, `m${Math.random().toString(36).slice(2)}.eml`);
  await writeFile(path, 'From: <x@fabrikam.test>\r\nSubject: Hello\r\nContent-Type: text/plain\r\n\r\nBody.\r\n');
  return service.quarantine({
    messagePath: path, prependHeaders: 'X-Mxward-Verdict: quarantine\r\n', traceTransactionId: 't1', recipients, mailFrom: 'x@fabrikam.test',
    verdict: { action: 'quarantine', reply: null, stage: 'data', hits: [{ rule, detail: 'test' }] }, headerFrom: ['x@fabrikam.test'],
  });
}

const refused = (code: string) => (e: unknown) => e instanceof QuarantineError && e.code === code;

test('a person with two mailboxes sees one item with both copies and releases both, once', async () => {
  const id = await hold('dmarc.quarantine', ['alice@contoso.test', 'alias@contoso.test', 'bob@contoso.test']);
  const me = person('Alice@Contoso.test', 'alias@contoso.test');
  const { items } = await actions.list(me, { limit: 10 });
  assert.deepEqual(items.map((i) => [i.id, i.recipients.map((r) => r.address).sort()]), [[id, ['alias@contoso.test', 'alice@contoso.test']]]);
  const released = await actions.release(me, id);
  assert.deepEqual(released.recipients.sort(), ['alias@contoso.test', 'alice@contoso.test']);
  assert.equal(queued.length, 2);
  await assert.rejects(actions.release(me, id), refused('conflict'));
  assert.equal(queued.length, 2);
  const after = (await store.getQuarantined(id))!;
  assert.deepEqual(after.recipients.map((r) => `${r.address}:${r.state}`).sort(), ['alias@contoso.test:released', 'alice@contoso.test:released', 'bob@contoso.test:held']);
});

test('one copy already released does not stop the other; none left is a conflict', async () => {
  const id = await hold('dmarc.quarantine', ['alice@contoso.test', 'alias@contoso.test']);
  await actions.release(person('alias@contoso.test'), id);
  const second = await actions.release(person('alice@contoso.test', 'alias@contoso.test'), id);
  assert.deepEqual(second.recipients, ['alice@contoso.test']);
  await assert.rejects(actions.release(person('alice@contoso.test', 'alias@contoso.test'), id), refused('conflict'));
});

test('roles: the auditor reads only, the helpdesk acts, a stranger learns nothing', async () => {
  const id = await hold('antiSpoof.ownDomain', ['alice@contoso.test']);
  assert.equal(await actions.preview(auditor, id), 'Body.');
  await assert.rejects(actions.release(auditor, id), refused('forbidden'));
  await assert.rejects(actions.delete(auditor, id), refused('forbidden'));
  await assert.rejects(actions.deny(auditor, id), refused('forbidden'));
  await assert.rejects(actions.show(person('carol@contoso.test'), id), refused('not_found'));
  await assert.rejects(actions.show(person(), id), refused('not_found'));
  await assert.rejects(actions.show(person('alice@contoso.test'), id), refused('forbidden'));
  assert.deepEqual((await actions.list(person('alice@contoso.test'), { limit: 10 })).items, []);
  await assert.rejects(actions.requestRelease(helpdesk, id), refused('validation_failed'));
  assert.deepEqual((await actions.release(helpdesk, id)).recipients, ['alice@contoso.test']);
});

test('a copy the recipient deleted is gone from their list, even with state all; the administrator still sees it', async () => {
  const id = await hold('dmarc.quarantine', ['alice@contoso.test', 'bob@contoso.test']);
  const alice = person('alice@contoso.test');
  await actions.delete(alice, id);
  assert.deepEqual((await actions.list(alice, { state: 'all', limit: 10 })).items, []);
  await assert.rejects(actions.show(alice, id), refused('not_found'));
  const all = await actions.list(admin, { state: 'all', limit: 10 });
  assert.deepEqual(all.items[0].recipients.map((r) => `${r.address}:${r.state}`), ['alice@contoso.test:deleted', 'bob@contoso.test:held']);
});

test('actions offered per role, policy and state', () => {
  const item = (policy: string, state: 'held' | 'requested' | 'released'): QuarantineItem => ({
    id: 'Q', time: '', expires: '', transactionId: 't', policy, kind: 'other', mailFrom: null, headerFrom: [], subject: null, sizeBytes: 1, reason: '',
    prependHeaders: '', file: 'Q.eml', recipients: [{ address: 'alice@contoso.test', state, releaseQueueId: null, notified: false }],
  });
  const alice = person('alice@contoso.test');
  const table: Array<[QuarantineCaller, string, 'held' | 'requested' | 'released', string[]]> = [
    [alice, 'AdminOnlyAccessPolicy', 'held', []],
    [alice, 'DefaultFullAccessPolicy', 'held', ['preview', 'headers', 'release', 'delete']],
    [alice, 'DefaultFullAccessPolicy', 'released', ['preview', 'headers']],
    [alice, 'DefaultLimitedAccessPolicy', 'held', ['preview', 'headers', 'request-release', 'delete']],
    [alice, 'DefaultLimitedAccessPolicy', 'requested', ['preview', 'headers', 'delete']],
    [auditor, 'DefaultFullAccessPolicy', 'held', ['preview', 'headers']],
    [helpdesk, 'AdminOnlyAccessPolicy', 'held', ['preview', 'headers', 'release', 'delete']],
    [admin, 'DefaultLimitedAccessPolicy', 'requested', ['preview', 'headers', 'release', 'approve', 'deny', 'delete']],
    [admin, 'DefaultFullAccessPolicy', 'released', ['preview', 'headers', 'delete']],
  ];
  for (const [caller, policy, state, expected] of table) {
    assert.deepEqual(actions.actionsFor(caller, item(policy, state)), expected, `${caller.role} ${policy} ${state}`);
  }
});
