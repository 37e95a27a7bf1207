// A raw SMTP conversation over a socket, for tests that must send what no well-behaved client
// would (malformed commands, huge lines, NUL bytes, stalls) and read the replies exactly.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

export class RawSession {
  socket: Socket;
  #buffer = '';
  #closed = false;
  #waiters: Array<() => void> = [];
  readonly #onData = (d: Buffer | string) => { this.#buffer += typeof d === 'string' ? d : d.toString('latin1'); this.#wake(); };
  readonly #onClose = () => { this.#closed = true; this.#wake(); };

  private constructor(socket: Socket) {
    this.socket = socket;
    this.#listen(socket);
  }

  #listen(socket: Socket): void {
    socket.on('data', this.#onData);
    socket.on('close', this.#onClose);
    socket.on('error', this.#onClose);
  }

  /** Connected, greeted with 220 and past EHLO. */
  static async greeted(port: number, helo = 'client.invalid'): Promise<RawSession> {
    const s = await RawSession.open(port);
    assert.match(await s.reply() ?? '', /^220 /);
    assert.match(await s.command(`EHLO ${helo}`) ?? '', /^250/);
    return s;
  }

  /** What arrived and was not read as a reply yet. */
  get buffered(): string {
    return this.#buffer;
  }

  /**
   * After the server's 220 to STARTTLS: the TLS handshake over the same socket, then replies are
   * read from the TLS layer. Anything left unread in the plain buffer is dropped with it.
   */
  async startTls(options: { servername: string }): Promise<void> {
    const plain = this.socket;
    plain.off('data', this.#onData);
    plain.off('close', this.#onClose);
    plain.off('error', this.#onClose);
    this.#buffer = '';
    const secure = connectTls({ socket: plain, rejectUnauthorized: false, servername: options.servername });
    await new Promise<void>((resolve, reject) => { secure.once('secureConnect', resolve); secure.once('error', reject); });
    this.socket = secure;
    this.#listen(secure);
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

/** A Direct Send attempt up to RCPT (our domain as MAIL FROM, anonymous); the reply to RCPT. */
export async function directSendAttempt(port: number): Promise<string | null> {
  const s = await RawSession.open(port);
  try {
    await s.reply();
    await s.command('EHLO attacker.invalid');
    await s.command('MAIL FROM:<ceo@contoso.test>');
    return await s.command('RCPT TO:<alice@contoso.test>');
  } finally {
    s.close();
  }
}
