// An SMTP server in the test process that counts what arrived, by each message's X-Test-Token
// header: the instrument of the durability tests. It is never killed.
import { SMTPServer } from 'smtp-server';
import { freePort } from './postfix.ts';

export interface Downstream { port: number; seen: Map<string, number>; close(): Promise<void> }

export interface DownstreamOptions {
  /** A port chosen earlier (a downstream started late, after a gateway already points at it). */
  port?: number;
  /** What a message is counted by: its X-Test-Token (default) or, say, its Subject. */
  keyOf?: (head: string) => string | undefined;
  /** Counts kept across restarts of a downstream on the same port. */
  seen?: Map<string, number>;
}

const byTestToken = (head: string): string | undefined => /^X-Test-Token: (\S+)/m.exec(head)?.[1];

/** The Subject of a message, the key of tests that name each message by it. */
export const bySubject = (head: string): string => /^Subject: (.*)$/m.exec(head)?.[1]?.trim() ?? '';

export async function startCountingDownstream(options: DownstreamOptions = {}): Promise<Downstream> {
  const keyOf = options.keyOf ?? byTestToken;
  const seen = options.seen ?? new Map<string, number>();
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['AUTH', 'STARTTLS'], logger: false, banner: 'counting downstream',
    onData(stream, _session, callback) {
      let head = '';
      stream.on('data', (chunk: Buffer) => { if (head.length < 8192) head += chunk.toString('latin1'); });
      stream.on('end', () => {
        const key = keyOf(head);
        if (key !== undefined) seen.set(key, (seen.get(key) ?? 0) + 1);
        callback(null, 'counted');
      });
    },
  });
  // A gateway killed mid-delivery resets its connection: expected here, not a failure.
  server.on('error', () => {});
  const port = options.port ?? await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { port, seen, close: () => new Promise((r) => server.close(() => r())) };
}
