// Issue 16, trace retention: records older than retention.traceDays go, newer ones stay, in
// SQLite and, where a server answers, PostgreSQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { startTracePurge } from '../../src/observability/retention.ts';
import { bootstrapSchema } from '../../src/config/bootstrap.ts';
import { traceRecord } from '../store/store-contract.ts';
import { openStoreReady } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/ports.ts';
import { createTestDatabase } from '../helpers/postgres.ts';

async function checkPurge(store: Store): Promise<void> {
  const now = Date.parse('2026-06-30T12:00:00Z');
  const daysAgo = (days: number) => new Date(now - days * 86_400_000).toISOString();
  await store.appendTrace(traceRecord({ transactionId: 'old', time: daysAgo(31) }));
  await store.appendTrace(traceRecord({ transactionId: 'edge', time: daysAgo(29) }));
  await store.appendTrace(traceRecord({ transactionId: 'new', time: daysAgo(0) }));
  const task = startTracePurge(store, 30, pino({ level: 'silent' }), { now: () => now });
  try {
    assert.equal(await task.runOnce(), 1);
    const left = (await store.queryTrace({ limit: 10 })).map((r) => r.transactionId).sort();
    assert.deepEqual(left, ['edge', 'new']);
    assert.equal(await task.runOnce(), 0, 'a second purge finds nothing more');
  } finally {
    task.stop();
  }
}

test('SQLite: the purge removes trace records older than traceDays and keeps the rest', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mxward-retention-'));
  const store = new SqliteStore(join(dir, 'mxward.db'));
  t.after(async () => { await store.close(); await rm(dir, { recursive: true, force: true }); });
  await checkPurge(store);
});

const db = await createTestDatabase();
test('PostgreSQL: the same purge', { skip: typeof db === 'string' ? db : false }, async (t) => {
  if (typeof db === 'string') return;
  const store = await openStoreReady({ url: await db.schemaUrl('retention'), dataDir: '/nonexistent' });
  t.after(async () => { await store.close(); await db.drop(); });
  await checkPurge(store);
});

test('retention is 30 days unless configured; 0 keeps the trace forever', () => {
  assert.equal(bootstrapSchema.parse({}).retention.traceDays, 30);
  assert.equal(bootstrapSchema.parse({ retention: { traceDays: 0 } }).retention.traceDays, 0);
  assert.equal(bootstrapSchema.safeParse({ retention: { traceDays: -1 } }).success, false);
});
