// A dedicated connection that LISTENs for committed policy changes (issue 14). Dedicated because
// LISTEN belongs to a session: a pooled connection would lose it when the pool recycles it. When
// the connection drops (server restart, failover) it reconnects with a bounded back-off; the
// version poll in live-policy.ts covers the gap, and a reconnect wakes the caller once so a
// change committed while disconnected is not missed until the next poll.
import pg from 'pg';
import type { PolicyWatch } from '../ports.ts';
import { policyChannel } from './migrations.ts';

const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 2_000;

export function listenForPolicyChanges(url: string, onChange: () => void, onError: (err: Error) => void): PolicyWatch {
  let client: pg.Client | null = null;
  let closed = false;
  let retryTimer: NodeJS.Timeout | null = null;
  let backoffMs = RECONNECT_MIN_MS;

  const scheduleReconnect = () => {
    if (closed || retryTimer) return;
    retryTimer = setTimeout(() => { retryTimer = null; void connect(); }, backoffMs);
    retryTimer.unref();
    backoffMs = Math.min(backoffMs * 2, RECONNECT_MAX_MS);
  };

  const connect = async () => {
    // Keepalive probes find a connection cut by a partition, which would otherwise wait silently.
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000, keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
    let failed = false;
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      if (client === c) client = null;
      c.end().catch(() => {});
      if (!closed) { onError(err); scheduleReconnect(); }
    };
    c.on('error', fail);
    c.on('end', () => fail(new Error('policy listener connection closed')));
    c.on('notification', (msg) => { if (msg.channel === policyChannel) onChange(); });
    try {
      await c.connect();
      await c.query(`LISTEN ${policyChannel}`);
    } catch (err) {
      fail(err as Error);
      return;
    }
    if (closed) { await c.end().catch(() => {}); return; }
    client = c;
    backoffMs = RECONNECT_MIN_MS;
    // Anything committed while this node was not listening: one wake-up to compare versions.
    onChange();
  };

  void connect();
  return {
    async close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      const c = client;
      client = null;
      await c?.end().catch(() => {});
    },
  };
}
