// An SMTP server in the test process that counts what arrived, by each message's X-Test-Token
// header: the instrument of the durability tests. It is never killed.
import { SMTPServer } from 'smtp-server';
import { freePort } from './postfix.ts';

export interface Downstream { port: number; seen: Map<string, number>; close(): Promise<void> }

export async function startCountingDownstream(): Promise<Downstream> {
  const seen = new Map<string, number>();
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['AUTH', 'STARTTLS'], logger: false, banner: 'counting downstream',
    onData(stream, _session, callback) {
      let head = '';
      stream.on('data', (chunk: Buffer) => { if (head.length < 8192) head += chunk.toString('latin1'); });
      stream.on('end', () => {
        const token = /^X-Test-Token: (\S+)/m.exec(head)?.[1];
        if (token) seen.set(token, (seen.get(token) ?? 0) + 1);
        callback(null, 'counted');
      });
    },
  });
  // A gateway killed mid-delivery resets its connection: expected here, not a failure.
  server.on('error', () => {});
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { port, seen, close: () => new Promise((r) => server.close(() => r())) };
}
