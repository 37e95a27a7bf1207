// The warm worker pool behind the dashboard and SQLite trace searches (services/worker-task.ts):
// results and expected failures cross the thread boundary intact (a ServiceError keeps its code
// and field path), a failing task fails alone, and a burst is served by the bounded pool. And the
// sharing of one dashboard computation between consoles asking for the same window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { ServiceError } from '../../src/services/service-error.ts';
import { TraceQueries } from '../../src/services/trace-queries.ts';
import { dashboardSharedMs, sharedDashboard } from '../../src/services/dashboard.ts';
import type { TraceRecord } from '../../src/domain/types.ts';

function record(i: number): TraceRecord {
  return {
    time: new Date(Date.UTC(2026, 10, 23, 10, 0, i)).toISOString(), sessionId: `s${i}`, transactionId: `t${String(i).padStart(3, '0')}`, remoteIp: '192.0.2.1',
    helo: null, ptr: null, tlsVersion: null, tlsCipher: null, tlsClientCertificate: null, authUser: null, connector: null, attribution: 'anonymous',
    mailFrom: `user${i}@fabrikam.test`, recipients: ['alice@contoso.test'], headerFrom: [], messageId: null, subject: `m${i}`, sizeBytes: 10,
    directSend: null, directSendWouldReject: false, auth: null, verdict: 'accept', reply: '250 ok', stage: 'data', hits: [], queueId: null,
    quarantineId: null, deliveryStatus: 'not-queued', durationMs: 1,
  };
}

test('trace searches on SQLite run on worker threads with the same answers and errors as in-process', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mxward-pool-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const store = new SqliteStore(join(dataDir, 'mxward.db'));
  t.after(() => store.close());
  for (let i = 0; i < 30; i++) await store.appendTrace(record(i));
  const queries = new TraceQueries(store, { dataDir });

  // A burst larger than the pool: every search answers, each with its own page.
  const pages = await Promise.all(Array.from({ length: 8 }, (_, i) => queries.search({ sender: `user${i}@` }, { limit: 5 })));
  pages.forEach((page, i) => assert.deepEqual(page.items.map((r) => r.subject), [`m${i}`]));
  const first = await queries.search({}, { limit: 10 });
  assert.deepEqual(first.items.map((r) => r.transactionId), Array.from({ length: 10 }, (_, i) => `t${String(29 - i).padStart(3, '0')}`));
  const second = await queries.search({}, { limit: 25, cursor: first.nextCursor });
  assert.equal(second.items.length, 20);
  assert.equal(second.nextCursor, null);
  assert.equal((await queries.one('t007')).subject, 'm7');

  await assert.rejects(queries.search({}, { limit: 10, cursor: 'garbage' }), (e: unknown) => e instanceof ServiceError && e.code === 'validation_failed' && e.path === 'cursor');
  await assert.rejects(queries.one('t999'), (e: unknown) => e instanceof ServiceError && e.code === 'not_found');
  // A failure is that task's only: the next search still answers.
  await assert.rejects(new TraceQueries(store, { dataDir: join(dataDir, 'mxward.db', 'under-a-file') }).search({}, { limit: 1 }), /worker task failed/);
  assert.equal((await queries.search({ sender: 'user3@' }, { limit: 5 })).items[0].subject, 'm3');
});

test('dashboard requests for one window share one computation for a while that grows with the window; failures are not kept', async () => {
  assert.deepEqual([dashboardSharedMs(3_600_000), dashboardSharedMs(86_400_000), dashboardSharedMs(60_000)], [2_500, 15_000, 2_000]);
  let computed = 0;
  const compute = async () => { computed++; return { n: computed } as never; };
  const t0 = 1_000_000;
  const [a, b] = await Promise.all([sharedDashboard('w|1h|1', 2_500, compute, t0), sharedDashboard('w|1h|1', 2_500, compute, t0 + 10)]);
  assert.equal(a, b);
  assert.equal(computed, 1);
  await sharedDashboard('w|1h|1', 2_500, compute, t0 + 2_400);
  assert.equal(computed, 1);
  await sharedDashboard('w|1h|2', 2_500, compute, t0 + 2_400);
  assert.equal(computed, 2, 'another policy version is another key');
  await sharedDashboard('w|1h|1', 2_500, compute, t0 + 2_600);
  assert.equal(computed, 3, 'after its time the window is computed again');
  await assert.rejects(sharedDashboard('w|fail', 2_500, async () => { throw new Error('store down'); }, t0));
  assert.deepEqual(await sharedDashboard('w|fail', 2_500, compute, t0 + 1), { n: 4 });
});
