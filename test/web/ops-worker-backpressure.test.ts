// The console's worker pool yields to the SMTP path (issue 13): its threads run at the lowest
// CPU priority, and once MAX_WAITING tasks wait for a worker the next one fails at once, which
// the API answers as 503 `busy` with Retry-After, instead of a backlog that keeps the workers
// busy long after a burst. The workers are held deterministically by a write lock on a store
// they must open (a real SQLite lock, released by the test), not by timing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { TraceQueries } from '../../src/services/trace-queries.ts';
import { MAX_WAITING, MAX_WORKERS, WorkerPoolBusyError } from '../../src/services/worker-task.ts';
import { sharedDashboard } from '../../src/services/dashboard.ts';
import { startWebGateway } from '../helpers/web-client.ts';
import type { TraceRecord } from '../../src/domain/types.ts';

function traceRecord(i: number, subject: string): TraceRecord {
  return {
    time: new Date(Date.UTC(2026, 10, 23, 10, 0, i)).toISOString(), sessionId: `s${i}`, transactionId: `t${i}-${subject}`, remoteIp: '192.0.2.1',
    helo: null, ptr: null, tlsVersion: null, tlsCipher: null, tlsClientCertificate: null, authUser: null, connector: null, attribution: 'anonymous',
    mailFrom: `user${i}@fabrikam.test`, recipients: ['alice@contoso.test'], headerFrom: [], messageId: null, subject, sizeBytes: 10,
    directSend: null, directSendWouldReject: false, auth: null, verdict: 'accept', reply: '250 ok', stage: 'data', hits: [], queueId: null,
    quarantineId: null, deliveryStatus: 'not-queued', durationMs: 1,
  };
}

/** A migrated store in its own data directory, and a second connection holding its write lock. */
async function lockedStore(t: { after(fn: () => unknown): void }): Promise<{ dataDir: string; release(): void }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'mxward-pool-lock-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const store = new SqliteStore(join(dataDir, 'mxward.db'));
  await store.close();
  const holder = new DatabaseSync(join(dataDir, 'mxward.db'));
  // A worker opening this store migrates under BEGIN IMMEDIATE, so it waits here (busy_timeout).
  holder.exec('BEGIN IMMEDIATE');
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    holder.exec('COMMIT');
    holder.close();
  };
  t.after(release);
  return { dataDir, release };
}

/** The nice value of each live thread of this process named like a worker_threads thread. */
function workerThreadNiceValues(): number[] {
  const out: number[] = [];
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      if (!readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').startsWith('WorkerThread')) continue;
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // Fields after the command name: state is the 3rd field of stat, nice the 19th.
      out.push(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

test('a burst beyond the waiting bound is refused at once (503 busy, Retry-After), the rest answer, and the pool recovers', async (t) => {
  const gw = await startWebGateway();
  t.after(() => gw.close());
  const auditor = await gw.tokenClient('auditor');
  assert.equal((await auditor.get('/trace?limit=5')).status, 200, 'the pool answers before the burst');

  const locked = await lockedStore(t);
  const blocked = new TraceQueries(gw.store, { dataDir: locked.dataDir });
  const extra = 3;
  const burst = Array.from({ length: MAX_WORKERS + MAX_WAITING + extra }, () => blocked.search({}, { limit: 5 }).then(() => 'answered', (e: unknown) => e));
  // Every worker is waiting for the lock and the queue is full: the API is refused, not queued.
  const refused = await auditor.get('/trace?limit=5');
  assert.equal(refused.status, 503, refused.text);
  assert.equal(refused.json?.error?.code, 'busy', refused.text);
  assert.equal(refused.headers['retry-after'], '1');
  assert.doesNotMatch(refused.text, /\n\s+at /, 'no stack trace in an error');

  locked.release();
  const outcomes = await Promise.all(burst);
  assert.equal(outcomes.filter((o) => o instanceof WorkerPoolBusyError).length, extra, 'exactly the tasks beyond the bound are refused');
  assert.equal(outcomes.filter((o) => o === 'answered').length, MAX_WORKERS + MAX_WAITING, String(outcomes.find((o) => o !== 'answered' && !(o instanceof WorkerPoolBusyError))));
  const after = await auditor.get('/trace?limit=5');
  assert.equal(after.status, 200, after.text);
});

test('worker threads run at the lowest CPU priority; the event loop keeps its own', { skip: process.platform !== 'linux' }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mxward-pool-nice-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const store = new SqliteStore(join(dataDir, 'mxward.db'));
  t.after(() => store.close());
  const mainNiceBefore = Number(readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1].split(' ')[16]);
  await new TraceQueries(store, { dataDir }).search({}, { limit: 1 });
  const nice = workerThreadNiceValues();
  assert.ok(nice.length >= 1 && nice.length <= MAX_WORKERS, `worker threads: ${nice.length}`);
  assert.deepEqual(nice, nice.map(() => 19));
  assert.equal(Number(readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1].split(' ')[16]), mainNiceBefore);
});

test('a worker keeps its store open between tasks (no migration lock per request) and reads a data directory made again afresh', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mxward-pool-held-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const file = join(dataDir, 'mxward.db');
  const fill = async (subjects: string[]) => {
    await mkdir(dataDir, { recursive: true });
    const store = new SqliteStore(file);
    for (const [i, subject] of subjects.entries()) await store.appendTrace(traceRecord(i, subject));
    await store.close();
  };
  await fill(['first']);
  const queries = new TraceQueries({} as never, { dataDir });
  assert.deepEqual((await queries.search({}, { limit: 5 })).items.map((r) => r.subject), ['first']);

  // Opening the store again would wait for this lock (migrate runs under BEGIN IMMEDIATE) and
  // fail with SQLITE_BUSY after busy_timeout; the handle the worker kept reads through it (WAL).
  const holder = new DatabaseSync(file);
  holder.exec('BEGIN IMMEDIATE');
  try {
    assert.deepEqual((await queries.search({}, { limit: 5 })).items.map((r) => r.subject), ['first']);
  } finally {
    holder.exec('COMMIT');
    holder.close();
  }

  await rm(dataDir, { recursive: true, force: true });
  await fill(['second', 'third']);
  assert.deepEqual((await queries.search({}, { limit: 5 })).items.map((r) => r.subject).sort(), ['second', 'third']);
});

test('a dashboard computation still running is shared past its time, not started a second time', async () => {
  let computed = 0;
  let finish: (d: never) => void = () => {};
  const slow = () => { computed++; return new Promise<never>((resolve) => { finish = resolve; }); };
  const t0 = 5_000_000;
  const first = sharedDashboard('pending|1h', 2_500, slow, t0);
  const later = sharedDashboard('pending|1h', 2_500, slow, t0 + 60_000);
  assert.equal(later, first);
  assert.equal(computed, 1);
  finish({ n: 1 } as never);
  await first;
  await sharedDashboard('pending|1h', 2_500, async () => { computed++; return { n: 2 } as never; }, t0 + 60_001);
  assert.equal(computed, 2, 'once done and past its time, the window is computed again');
});
