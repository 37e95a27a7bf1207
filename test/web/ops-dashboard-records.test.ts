// The dashboard on a worker's kept store handle parses each trace record once (issue 13,
// services/dashboard-records.ts). Whatever it keeps, its answer must be the one computed from
// whole records read afresh: after new traffic, after a purge, for windows that overlap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultPolicy } from '../../src/config/policy-schema.ts';
import type { PolicyDocument } from '../../src/config/policy-schema.ts';
import type { TraceRecord } from '../../src/domain/types.ts';
import { computeDashboard } from '../../src/services/dashboard.ts';
import type { DashboardRequest } from '../../src/services/dashboard.ts';
import { heldStores } from '../../src/services/worker-stores.ts';
import type { StoreAccess } from '../../src/services/worker-stores.ts';
import type { Store } from '../../src/store/ports.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

const T0 = Date.UTC(2026, 10, 23, 0, 0, 0);

/** Traffic of several kinds: Direct Send of both kinds (report mode and refused), a connector, authenticated results, ordinary mail. */
function record(i: number): TraceRecord {
  const kind = i % 5;
  const ip = `198.51.100.${i % 23}`;
  const directSend = kind === 0 ? 'p1' : kind === 1 ? 'header-from' : null;
  return {
    time: new Date(T0 + i * 61_000).toISOString(), sessionId: `s${i}`, transactionId: `tx-${String(i).padStart(5, '0')}`, remoteIp: ip,
    helo: `mta${i % 7}.example.net`, ptr: i % 3 === 0 ? `host${i % 7}.example.net` : null, tlsVersion: 'TLSv1.3', tlsCipher: 'TLS_AES_128_GCM_SHA256',
    tlsClientCertificate: kind === 2 ? 'mx.partner.example (unverified)' : kind === 3 ? 'mail.vendor.example' : null,
    authUser: null, connector: kind === 3 ? 'vendor' : null, attribution: kind === 3 ? 'partner' : 'anonymous',
    mailFrom: kind === 0 ? `payroll${i % 4}@contoso.test` : `news${i % 9}@sender${i % 6}.example`, recipients: [`user${i % 5}@contoso.test`],
    headerFrom: [kind === 1 ? `ceo@contoso.test` : `news${i % 9}@sender${i % 6}.example`], messageId: `<m${i}@example>`, subject: `message ${i}`, sizeBytes: 1000 + i,
    directSend, directSendWouldReject: directSend !== null,
    auth: kind === 4 ? {
      spf: { result: i % 2 ? 'pass' : 'fail', domain: `sender${i % 6}.example` },
      dkim: [{ result: 'pass', domain: `sender${i % 6}.example`, selector: 's1' }],
      dmarc: { result: i % 2 ? 'pass' : 'fail', policy: 'reject', domain: `sender${i % 6}.example` },
      compauth: { result: i % 2 ? 'pass' : 'fail', reason: i % 2 ? '100' : '000' },
      arc: { result: 'none' },
    } as unknown as TraceRecord['auth'] : null,
    verdict: directSend && i % 2 ? 'reject' : 'accept', reply: directSend && i % 2 ? '550 5.7.68 refused' : '250 2.6.0 queued', stage: 'data',
    hits: [{ rule: 'connector', detail: 'no connector matches this source' }], queueId: `Q${i}`, quarantineId: null, deliveryStatus: 'queued', durationMs: 3,
  };
}

/** The same store without the sequence-number reads: the dashboard then reads whole records afresh. */
function wholeRecords(store: Store): StoreAccess {
  const plain = { queryTrace: (f: Parameters<Store['queryTrace']>[0]) => store.queryTrace(f) } as unknown as Store;
  return { main: (_s, use) => use(plain), quarantine: () => Promise.resolve({ items: 0, byState: { held: 0, requested: 0, releasing: 0, released: 0, deleted: 0 }, truncated: false } as never) };
}

test('the dashboard from kept records equals the one from whole records read afresh, after new traffic and a purge', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mxward-dash-kept-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const store = new SqliteStore(join(dataDir, 'mxward.db'));
  t.after(() => store.close());
  const held = heldStores();
  t.after(() => held.closeAll());
  const policy: PolicyDocument = { ...defaultPolicy(), acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }] };
  const compare = async (sinceMs: number, untilMs: number, bucketMs: number, maxRecords?: number) => {
    const request: DashboardRequest = { store: { dataDir }, policy, since: new Date(sinceMs).toISOString(), until: new Date(untilMs).toISOString(), bucketMs, maxRecords };
    const kept = await computeDashboard(request, held);
    const afresh = await computeDashboard(request, { main: wholeRecords(store).main, quarantine: held.quarantine });
    assert.deepEqual(kept, afresh);
    return kept;
  };

  for (let i = 0; i < 300; i++) await store.appendTrace(record(i));
  const day = await compare(T0, T0 + 86_400_000, 3_600_000);
  assert.equal(day.window.records, 300);
  assert.ok(day.enforceNow.likelyAttacks.length + day.enforceNow.unknown.length + day.enforceNow.mayNeed.length > 0, 'the report found refused sources');
  await compare(T0 + 3_600_000, T0 + 4 * 3_600_000, 900_000);
  await compare(T0, T0 + 86_400_000, 3_600_000, 120);

  for (let i = 300; i < 400; i++) await store.appendTrace(record(i));
  assert.equal((await compare(T0, T0 + 86_400_000, 3_600_000)).window.records, 400);
  await store.purgeTraceBefore(new Date(T0 + 100 * 61_000).toISOString());
  assert.equal((await compare(T0, T0 + 86_400_000, 3_600_000)).window.records, 300);
});
