// The milter listener: one MilterSession per connection, packets handled strictly in order (a
// later packet never overtakes an end-of-message decision still running), bounded input, and a
// failure in one connection never touching another.
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { MilterFrameDecoder } from './codec.ts';
import { MilterSession } from './milter-session.ts';
import type { MilterHandler, MilterSessionOptions } from './milter-session.ts';

export interface MilterServerOptions extends MilterSessionOptions {
  handlerFor(socket: net.Socket): MilterHandler;
  logger: Logger;
  maxFrameBytes?: number;
  /** Postfix waits milter_command_timeout (30 s) per reply; an idle connection is closed after this. */
  idleTimeoutMs?: number;
}

export interface MilterServer {
  address: AddressInfo | string;
  close(): Promise<void>;
}

function serveConnection(socket: net.Socket, options: MilterServerOptions): void {
  const decoder = new MilterFrameDecoder(options.maxFrameBytes);
  const handler = options.handlerFor(socket);
  const session = new MilterSession(handler, options);
  let queue: Promise<void> = Promise.resolve();
  let closed = false;
  const finish = () => {
    if (closed) return;
    closed = true;
    handler.close();
  };
  socket.setTimeout(options.idleTimeoutMs ?? 600_000, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.on('close', finish);
  socket.on('data', (chunk: Buffer) => {
    const decoded = decoder.push(chunk);
    if (!decoded.ok) {
      options.logger.warn({ stage: 'milter', event: 'protocol-error', problem: decoded.problem }, 'milter protocol error; closing');
      socket.destroy();
      return;
    }
    for (const frame of decoded.frames) {
      queue = queue.then(async () => {
        if (socket.destroyed) return;
        const out = await session.handle(frame);
        for (const reply of out.replies) socket.write(reply);
        if (out.close) socket.end();
      }).catch((err: unknown) => {
        // SPEC §2.7: an unexpected failure never accepts; closing makes Postfix apply its
        // milter_default_action (tempfail, as docs/postfix.md advises).
        options.logger.error({ stage: 'milter', event: 'exception', err }, 'milter handler failed; closing');
        socket.destroy();
      });
    }
  });
}

export async function startMilterServer(listen: { host: string; port: number } | { path: string }, options: MilterServerOptions): Promise<MilterServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    serveConnection(socket, options);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if ('path' in listen) server.listen(listen.path, resolve);
    else server.listen(listen.port, listen.host, resolve);
  });
  const address = server.address()!;
  return {
    address,
    async close() {
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await done;
    },
  };
}
