// The policy service listener: requests answered strictly in order on each connection (Postfix
// reuses a connection for many requests and may send the next before the answer), malformed
// requests answered with a temporary failure instead of a crash, and every decision traced.
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { renderReply, replies } from '../../policy/replies.ts';
import type { IntegrationContext } from '../integration-context.ts';
import { writeTrace } from '../integration-context.ts';
import { PolicyRequestReader, encodePolicyAction } from './policy-protocol.ts';
import type { PolicyLimits, PolicyRequest } from './policy-protocol.ts';
import { decidePolicyRequest, StampedInstances } from './policy-decision.ts';

export interface PolicyServer {
  address: AddressInfo | string;
  close(): Promise<void>;
}

export interface PolicyServerOptions {
  limits?: PolicyLimits;
  /** Postfix closes idle policy connections itself (smtpd_policy_service_max_idle, 300 s). */
  idleTimeoutMs?: number;
}

async function answer(ctx: IntegrationContext, request: PolicyRequest, stamped: StampedInstances): Promise<string> {
  if (!request.ok) {
    ctx.logger.warn({ stage: 'policyd', event: 'malformed-request', problem: request.problem }, 'malformed policy request');
    return renderReply(replies.internal);
  }
  try {
    const decided = await decidePolicyRequest(ctx, request.attributes, stamped);
    // The answer does not depend on the record; the store may batch it (writeTrace logs failures).
    if (decided.trace) void writeTrace(ctx, decided.trace, 'postfix-policyd', { background: true });
    return decided.action;
  } catch (err) {
    // SPEC §2.7: never a silent accept; Postfix turns the 451 into a temporary refusal.
    ctx.logger.error({ stage: 'policyd', event: 'exception', err }, 'policy decision failed');
    return renderReply(replies.internal);
  }
}

const MAX_PENDING_REQUESTS = 64;

function serveConnection(socket: net.Socket, ctx: IntegrationContext, options: PolicyServerOptions, stamped: StampedInstances): void {
  const reader = new PolicyRequestReader(options.limits);
  let queue: Promise<void> = Promise.resolve();
  // A client that pipelines without reading stops being read: pending requests stay bounded.
  let pending = 0;
  socket.setTimeout(options.idleTimeoutMs ?? 600_000, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    for (const request of reader.push(chunk)) {
      if (++pending >= MAX_PENDING_REQUESTS) socket.pause();
      queue = queue.then(async () => {
        const action = await answer(ctx, request, stamped);
        if (!socket.destroyed) socket.write(encodePolicyAction(action));
        if (--pending < MAX_PENDING_REQUESTS / 2 && socket.isPaused()) socket.resume();
      });
    }
  });
}

export async function startPolicyServer(ctx: IntegrationContext, listen: { host: string; port: number } | { path: string }, options: PolicyServerOptions = {}): Promise<PolicyServer> {
  const sockets = new Set<net.Socket>();
  const stamped = new StampedInstances();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    serveConnection(socket, ctx, options, stamped);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if ('path' in listen) server.listen(listen.path, resolve);
    else server.listen(listen.port, listen.host, resolve);
  });
  return {
    address: server.address()!,
    async close() {
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await done;
    },
  };
}
