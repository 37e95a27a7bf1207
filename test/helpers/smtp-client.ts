// A well-behaved SMTP client for delivery tests (nodemailer's protocol client): one session,
// several transactions, and the server's exact reply for each message.
import SMTPConnection from 'nodemailer/lib/smtp-connection';

export interface SendResult {
  ok: boolean;
  /** The final reply line (`250 2.6.0 <ID> Queued mail for delivery`, `452 4.3.1 …`) or the error. */
  reply: string;
  code: number | null;
}

export class SmtpClient {
  readonly #conn: SMTPConnection;
  #broken = false;

  private constructor(conn: SMTPConnection) {
    this.#conn = conn;
    conn.on('error', () => { this.#broken = true; });
    conn.on('end', () => { this.#broken = true; });
  }

  static connect(port: number, opts: { timeoutMs?: number } = {}): Promise<SmtpClient> {
    const conn = new SMTPConnection({
      host: '127.0.0.1', port, ignoreTLS: true, name: 'client.test', allowInternalNetworkInterfaces: true,
      connectionTimeout: opts.timeoutMs ?? 5000, greetingTimeout: opts.timeoutMs ?? 5000, socketTimeout: 30_000,
    });
    return new Promise((resolve, reject) => {
      conn.once('error', reject);
      conn.connect(() => {
        conn.off('error', reject);
        resolve(new SmtpClient(conn));
      });
    });
  }

  get usable(): boolean {
    return !this.#broken;
  }

  send(from: string, to: string[], message: string): Promise<SendResult> {
    return new Promise((resolve) => {
      this.#conn.send({ from, to } as never, message as never, (err: unknown, info: unknown) => {
        if (err) {
          const e = err as { response?: string; responseCode?: number; message: string };
          if (!e.responseCode) this.#broken = true;
          resolve({ ok: false, reply: e.response ?? e.message, code: e.responseCode ?? null });
          return;
        }
        const response = (info as { response: string }).response;
        resolve({ ok: true, reply: response, code: Number(response.slice(0, 3)) });
      });
    });
  }

  close(): void {
    if (this.#broken) this.#conn.close();
    else this.#conn.quit();
  }
}

/** One message in one session. */
export async function sendOne(port: number, from: string, to: string[], message: string): Promise<SendResult> {
  const client = await SmtpClient.connect(port);
  try {
    return await client.send(from, to, message);
  } finally {
    client.close();
  }
}

export function testMessage(opts: { from?: string; to?: string; subject: string; body?: string; headers?: string[] }): string {
  return [
    `From: ${opts.from ?? 'Sender <sender@client.test>'}`,
    `To: ${opts.to ?? 'alice@example.test'}`,
    `Subject: ${opts.subject}`,
    `Message-ID: <${opts.subject.replace(/[^A-Za-z0-9.-]/g, '')}.${Date.now()}@client.test>`,
    `Date: ${new Date().toUTCString()}`,
    ...(opts.headers ?? []),
    '',
    opts.body ?? `Body of ${opts.subject}.`,
    '',
  ].join('\r\n');
}
