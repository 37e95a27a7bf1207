// A raw SMTP conversation over a socket, for tests that must send what no well-behaved client
// would (malformed commands, huge lines, NUL bytes, stalls) and read the replies exactly.
import { connect } from 'node:net';
import type { Socket } from 'node:net';

export class RawSession {
  readonly socket: Socket;
  #buffer = '';
  #closed = false;
  #waiters: Array<() => void> = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => { this.#buffer += d; this.#wake(); });
    socket.on('close', () => { this.#closed = true; this.#wake(); });
    socket.on('error', () => { this.#closed = true; this.#wake(); });
  }

  static open(port: number, host = '127.0.0.1'): Promise<RawSession> {
    return new Promise((resolveOpen, rejectOpen) => {
      const socket = connect(port, host, () => resolveOpen(new RawSession(socket)));
      socket.once('error', rejectOpen);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Next complete reply (all continuation lines); null when the server closed first. */
  async reply(timeoutMs = 5000): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = /^(?:\d{3}-[^\n]*\n)*\d{3}(?: [^\n]*)?\r?\n/.exec(this.#buffer);
      if (m) {
        this.#buffer = this.#buffer.slice(m[0].length);
        return m[0].trimEnd();
      }
      if (this.#closed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMs} ms; buffer: ${JSON.stringify(this.#buffer.slice(0, 200))}`);
      await new Promise<void>((r) => { const t = setTimeout(r, left); this.#waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }

  send(text: string | Buffer): void {
    this.socket.write(text);
  }

  async command(line: string, timeoutMs?: number): Promise<string | null> {
    this.send(`${line}\r\n`);
    return this.reply(timeoutMs);
  }

  /** Resolves when the server closes the connection, or rejects after timeoutMs. */
  async waitClosed(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`connection still open after ${timeoutMs} ms`);
      await new Promise<void>((r) => { const t = setTimeout(r, left); this.#waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
