// The quarantine service on a real SQLite store and spool (no SMTP): per-type policies,
// request-release / approve / deny, recipient delete, digests once per interval, retention purge.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultQuarantineSettings } from '../../src/config/auth-schema.ts';
import { QuarantineError, QuarantineService } from '../../src/quarantine/quarantine-service.ts';
import { Spool } from '../../src/spool/spool.ts';
import { SqliteQuarantineStore } from '../../src/store/sqlite/quarantine-store.ts';
import type { Verdict } from '../../src/domain/types.ts';

let dir: string;
let store: SqliteQuarantineStore;
let spool: Spool;
let queued: string[];
let now: Date;
let service: QuarantineService;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mxward-q-'));
  store = new SqliteQuarantineStore(join(dir, 'mxward.db'));
  spool = new Spool(join(dir, 'spool'));
  await spool.recover();
  queued = [];
  now = new Date('2026-11-23T10:00:00Z');
  const settings = { ...defaultQuarantineSettings(), notificationIntervalMs: 3600_000, policies: { ...defaultQuarantineSettings().policies, foreignSpoof: 'DefaultLimitedAccessPolicy' as const } };
  service = new QuarantineService({ store, spool, dir: join(dir, 'quarantine'), settings, hostname: 'mx.test', onQueued: (id) => { queued.push(id); }, now: () => now });
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function hold(rule: string, recipients: string[]): Promise<string> {
  const path = join(spool.tmpDir, `m${Math.random().toString(36).slice(2)}.eml`);
  await writeFile(path, 'From: <x@fabrikam.test>\r\nSubject: Hello there\r\nContent-Type: text/plain\r\n\r\nThe body text.\r\n');
  const verdict: Verdict = { action: 'quarantine', reply: null, stage: 'data', hits: [{ rule, detail: 'test' }] };
  return service.quarantine({ messagePath: path, prependHeaders: 'X-Mxward-Verdict: quarantine\r\n', traceTransactionId: 't1', recipients, mailFrom: 'x@fabrikam.test', verdict, headerFrom: ['x@fabrikam.test'] });
}

const admin = { name: 'admin', asRecipient: null };
const as = (a: string) => ({ name: 'cli', asRecipient: a });

test('policy per verdict type: own-domain spoof AdminOnly, unknown type AdminOnly, foreign as configured', async () => {
  assert.equal((await store.getQuarantined(await hold('antiSpoof.ownDomain', ['a@contoso.test'])))?.policy, 'AdminOnlyAccessPolicy');
  assert.equal((await store.getQuarantined(await hold('something.else', ['a@contoso.test'])))?.policy, 'AdminOnlyAccessPolicy');
  assert.equal((await store.getQuarantined(await hold('antiSpoof.foreignDomain', ['a@contoso.test'])))?.policy, 'DefaultLimitedAccessPolicy');
  assert.equal((await store.getQuarantined(await hold('dmarc.quarantine', ['a@contoso.test'])))?.policy, 'DefaultFullAccessPolicy');
});

test('limited policy: recipient requests, admin denies, recipient requests again, admin approves: released once to that recipient', async () => {
  const id = await hold('antiSpoof.foreignDomain', ['a@contoso.test', 'b@contoso.test']);
  await assert.rejects(service.release(id, as('a@contoso.test')), (e: Error) => e instanceof QuarantineError && /use request-release/.test(e.message));
  await assert.rejects(service.show(id, as('c@contoso.test')), /not a recipient/);
  assert.equal(await service.preview(id, as('a@contoso.test')), 'The body text.');
  assert.match(await service.headers(id, as('a@contoso.test')), /^X-Mxward-Verdict: quarantine\r\nFrom: <x@fabrikam\.test>/);
  await service.requestRelease(id, as('a@contoso.test'));
  await assert.rejects(service.requestRelease(id, as('a@contoso.test')), /nothing held/);
  await assert.rejects(service.approve(id, as('a@contoso.test')), /administrator action/);
  assert.deepEqual(await service.deny(id, admin), ['a@contoso.test']);
  await service.requestRelease(id, as('a@contoso.test'));
  const r = await service.approve(id, admin);
  assert.deepEqual(r.recipients, ['a@contoso.test']);
  assert.deepEqual(queued, [r.queueId]);
  const env = await spool.readEnvelope(r.queueId);
  assert.deepEqual(env?.recipients.map((x) => x.address), ['a@contoso.test']);
  assert.match(env?.prependHeaders ?? '', /^X-Mxward-Verdict: quarantine; released [A-Z0-9]+ by admin\r\n$/);
  await assert.rejects(service.approve(id, admin), /nothing to release/);
  const item = await store.getQuarantined(id);
  assert.deepEqual(item?.recipients.map((x) => `${x.address}:${x.state}`), ['a@contoso.test:released', 'b@contoso.test:held']);
});

test('recipient delete removes only their copy; admin delete removes the message and file', async () => {
  const id = await hold('dmarc.quarantine', ['a@contoso.test', 'b@contoso.test']);
  await service.delete(id, as('a@contoso.test'));
  assert.deepEqual((await service.list(as('a@contoso.test'))).map((i) => i.id), []);
  assert.deepEqual((await service.list(as('b@contoso.test'))).map((i) => i.id), [id]);
  await service.delete(id, admin);
  assert.equal(await store.getQuarantined(id), null);
  assert.deepEqual(await readdir(join(dir, 'quarantine')), []);
});

test('digests: one per recipient per interval, only for notifying policies, delivered through the spool', async () => {
  const quiet = await hold('dmarc.quarantine', ['a@contoso.test']); // DefaultFullAccessPolicy: no notifications
  const first = await hold('antiSpoof.foreignDomain', ['a@contoso.test']); // limited: notifies
  await service.sendDigests();
  assert.equal(queued.length, 1);
  const env = await spool.readEnvelope(queued[0]);
  assert.equal(env?.mailFrom, null);
  assert.deepEqual(env?.recipients.map((r) => r.address), ['a@contoso.test']);
  await hold('antiSpoof.foreignDomain', ['a@contoso.test']);
  await service.sendDigests();
  assert.equal(queued.length, 1, 'not again within the interval');
  now = new Date(now.getTime() + 3600_000);
  await service.sendDigests();
  assert.equal(queued.length, 2, 'the new item after the interval');
  await service.sendDigests();
  assert.equal(queued.length, 2, 'nothing new, no digest');
  assert.ok(quiet && first);
});

test('retention: items past their expiry are purged with their files, and audited', async () => {
  const id = await hold('antiSpoof.ownDomain', ['a@contoso.test']);
  assert.equal(await service.purgeExpired(), 0);
  now = new Date(now.getTime() + 31 * 86_400_000);
  assert.equal(await service.purgeExpired(), 1);
  assert.equal(await store.getQuarantined(id), null);
  assert.deepEqual(await readdir(join(dir, 'quarantine')), []);
});

test('a release whose message file is not in this data directory is refused and changes nothing', async () => {
  const id = await hold('dmarc.quarantine', ['a@contoso.test']);
  const [file] = await readdir(join(dir, 'quarantine'));
  await rm(join(dir, 'quarantine', file));
  await assert.rejects(service.release(id, admin), (e: Error) => e instanceof QuarantineError && /not in this data directory/.test(e.message));
  assert.deepEqual((await store.getQuarantined(id))?.recipients.map((r) => r.state), ['held']);
  assert.deepEqual(await store.listReleasing(), []);
  assert.deepEqual(queued, []);
});
