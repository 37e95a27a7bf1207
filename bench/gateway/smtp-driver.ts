// A small SMTP load driver for messages the bench prepared itself (smtp-source only sends its own
// generated text, so it cannot carry a DKIM signature). N sessions in parallel, each one
// connection that sends message after message (MAIL, RCPT, DATA, one command at a time, no
// pipelining) until the shared list is used up, then QUIT. Raw sockets, no parsing beyond reply
// codes, so the driver's own CPU stays small; it is measured and reported with the results.
import { connect } from 'node:net';
import type { Socket } from 'node:net';

export interface DriveOptions {
  port: number;
  sessions: number;
  /** Complete DATA payloads, each ending with CRLF.CRLF. */
  messages: Buffer[];
  from: string;
  to: string;
  timeoutMs: number;
  /** The messages should be refused: a 5xx at end of DATA is counted in `refused`, not as a problem. */
  expectRefusal?: boolean;
}

export interface DriveResult {
  elapsedMs: number;
  /** Messages whose end of DATA got a 250. */
  accepted: number;
  /** With expectRefusal: messages whose end of DATA got a 5xx (the first reply kept in refusalSample). */
  refused: number;
  refusalSample: string | null;
  /** Anything else (first few replies kept for the report). */
  problems: string[];
  problemCount: number;
  /** CPU the driver's process used while the load ran (the whole bench process: sampler included). */
  driverCpuMs: number;
  timedOut: boolean;
}

/** One SMTP connection: complete replies (the last line of a multi-line reply) in arrival order. */
class Connection {
  private readonly socket: Socket;
  private pending = '';
  private lines: string[] = [];
  private readonly ready: string[] = [];
  private waiter: { resolve: (r: string) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;

  constructor(port: number) {
    this.socket = connect({ host: '127.0.0.1', port, noDelay: true });
    this.socket.setEncoding('latin1');
    this.socket.on('data', (text: string) => this.onData(text));
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => this.fail(new Error('connection closed')));
  }

  private onData(text: string): void {
    this.pending += text;
    for (let i = this.pending.indexOf('\r\n'); i >= 0; i = this.pending.indexOf('\r\n')) {
      const line = this.pending.slice(0, i);
      this.pending = this.pending.slice(i + 2);
      this.lines.push(line);
      if (line.length === 3 || line[3] === ' ') {
        const reply = this.lines.join('\n');
        this.lines = [];
        if (this.waiter) {
          const w = this.waiter;
          this.waiter = null;
          w.resolve(reply);
        } else this.ready.push(reply);
      }
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const w = this.waiter;
    this.waiter = null;
    w?.reject(err);
  }

  reply(): Promise<string> {
    const r = this.ready.shift();
    if (r !== undefined) return Promise.resolve(r);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => { this.waiter = { resolve, reject }; });
  }

  async command(line: string | Buffer): Promise<string> {
    this.socket.write(line);
    return this.reply();
  }

  close(): void {
    this.socket.destroy();
  }
}

const expect = (reply: string, code: string, what: string): void => {
  if (!reply.startsWith(code)) throw new Error(`${what}: ${reply.split('\n').pop()}`);
};

export async function drive(o: DriveOptions): Promise<DriveResult> {
  let next = 0;
  let accepted = 0;
  let refused = 0;
  let refusalSample: string | null = null;
  let problemCount = 0;
  const problems: string[] = [];
  const problem = (text: string) => {
    problemCount += 1;
    if (problems.length < 5) problems.push(text);
  };
  const open = new Set<Connection>();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    for (const c of open) c.close();
  }, o.timeoutMs);

  const session = async (): Promise<void> => {
    if (next >= o.messages.length) return;
    const c = new Connection(o.port);
    open.add(c);
    try {
      expect(await c.reply(), '220', 'banner');
      expect(await c.command('EHLO driver.bench.test\r\n'), '250', 'EHLO');
      while (next < o.messages.length && !timedOut) {
        const message = o.messages[next++];
        expect(await c.command(`MAIL FROM:<${o.from}>\r\n`), '250', 'MAIL');
        expect(await c.command(`RCPT TO:<${o.to}>\r\n`), '250', 'RCPT');
        expect(await c.command('DATA\r\n'), '354', 'DATA');
        const end = await c.command(message);
        if (end.startsWith('250')) accepted += 1;
        else if (o.expectRefusal && end.startsWith('5')) {
          refused += 1;
          refusalSample ??= end.split('\n').pop()!;
          await c.command('RSET\r\n');
        } else {
          problem(`end of DATA: ${end.split('\n').pop()}`);
          await c.command('RSET\r\n');
        }
      }
      await c.command('QUIT\r\n').catch(() => '');
    } catch (err) {
      problem((err as Error).message);
    } finally {
      c.close();
      open.delete(c);
    }
  };

  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: o.sessions }, () => session()));
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  clearTimeout(timer);
  return { elapsedMs, accepted, refused, refusalSample, problems, problemCount, driverCpuMs: (cpu.user + cpu.system) / 1000, timedOut };
}
