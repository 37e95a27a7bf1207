// The admin listener (bootstrap `admin`, loopback by default): GET /metrics (Prometheus text),
// /healthz (the process answers) and /readyz (listeners up, store reachable, spool writable:
// a load balancer or `systemctl` health check may send mail here). Plain node:http: three fixed
// routes need no framework.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GatewayMetrics } from './metrics.ts';

export interface ReadinessCheck {
  name: string;
  /** Resolves when fine; rejects (or times out) with what is wrong. */
  probe: () => Promise<void>;
}

export interface AdminServer {
  address: AddressInfo;
  close(): Promise<void>;
}

/** A probe that hangs counts as failed: readiness must answer while the store is stuck. */
const PROBE_TIMEOUT_MS = 2000;

async function runProbe(check: ReadinessCheck): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer in ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS); });
  try {
    await Promise.race([check.probe(), timeout]);
    return null;
  } catch (err) {
    return `${check.name}: ${(err as Error).message}`;
  } finally {
    clearTimeout(timer);
  }
}

export async function startAdminServer(at: { host: string; port: number }, metrics: GatewayMetrics, checks: ReadinessCheck[]): Promise<AdminServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405, { allow: 'GET, HEAD' }).end(); return; }
    if (path === '/healthz') { res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n'); return; }
    if (path === '/readyz') {
      void Promise.all(checks.map(runProbe)).then((problems) => {
        const failed = problems.filter((p): p is string => p !== null);
        res.writeHead(failed.length ? 503 : 200, { 'content-type': 'text/plain' })
          .end(failed.length ? `not ready\n${failed.join('\n')}\n` : `ready\n${checks.map((c) => `${c.name}: ok`).join('\n')}\n`);
      });
      return;
    }
    if (path === '/metrics') {
      metrics.registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text);
      }, (err: Error) => { res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`); });
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics, /healthz or /readyz\n');
  });
  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(at.port, at.host, () => { server.off('error', rejectListen); resolveListen(); });
  });
  return {
    address: server.address() as AddressInfo,
    close: () => new Promise<void>((resolveClose) => { server.closeAllConnections(); server.close(() => resolveClose()); }),
  };
}
