// Delivery to a downstream SMTP (RFC 5321) or LMTP (RFC 2033) server through nodemailer's
// protocol client. One instance per destination: it holds at most `concurrency` connections and
// reuses an idle one for the next message (RFC 5321 §3.3 allows many transactions per session).
//
// Reply mapping (RFC 5321 §4.2.1): 2yz delivered, 4yz deferred, 5yz failed, per recipient where
// the server answered per recipient (RCPT TO; with LMTP also the end of DATA, RFC 2033 §4.2).
// Anything without a reply (refused connection, timeout, TLS failure) is deferred.
import { readFileSync } from 'node:fs';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { DeliveryJob, DeliveryTarget, RecipientOutcome } from '../delivery.ts';
import type { RemoteRoute } from '../routing.ts';
import { installFastDotStuffing } from './dot-stuffing.ts';

installFastDotStuffing();

interface SendInfo {
  accepted: string[];
  rejected: string[];
  rejectedErrors?: ReplyError[];
  response: string;
}

interface ReplyError extends Error {
  code?: string;
  response?: string;
  responseCode?: number;
  command?: string;
  recipient?: string;
  rejectedErrors?: ReplyError[];
}

/** How long an idle connection is kept for the next message before QUIT. */
const IDLE_MS = 5_000;

export class SmtpRelayTarget implements DeliveryTarget {
  readonly name: string;
  readonly #route: RemoteRoute;
  readonly #heloName: string;
  readonly #idle: SMTPConnection[] = [];
  readonly #idleTimers = new Map<SMTPConnection, NodeJS.Timeout>();
  readonly #waiting: Array<() => void> = [];
  readonly #ca: string | undefined;
  #active = 0;
  #closed = false;

  constructor(route: RemoteRoute, heloName: string) {
    this.#route = route;
    this.#heloName = heloName;
    this.name = `${route.type}:${route.host}:${route.port}`;
    this.#ca = route.caFile ? readFileSync(route.caFile, 'utf8') : undefined;
  }

  async deliver(job: DeliveryJob): Promise<RecipientOutcome[]> {
    await this.#acquire();
    try {
      let conn = this.#idle.pop() ?? null;
      const reused = conn !== null;
      if (conn) this.#clearIdle(conn);
      else {
        try {
          conn = await this.#connect();
        } catch (err) {
          return job.recipients.map(() => ({ status: 'deferred', reply: describe(err as ReplyError) }));
        }
      }
      let result = await send(conn, job, this.#route.type === 'lmtp');
      // A reused connection the server closed while idle fails before MAIL FROM was answered:
      // nothing was transferred, so one retry on a fresh connection cannot duplicate anything.
      if (!result.ok && reused && result.beforeMail) {
        conn.close();
        try {
          conn = await this.#connect();
        } catch (err) {
          return job.recipients.map(() => ({ status: 'deferred', reply: describe(err as ReplyError) }));
        }
        result = await send(conn, job, this.#route.type === 'lmtp');
      }
      if (result.ok && !this.#closed) this.#park(conn);
      else conn.close();
      return result.outcomes;
    } finally {
      this.#release();
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const conn of this.#idle.splice(0)) {
      this.#clearIdle(conn);
      conn.quit();
    }
  }

  async #acquire(): Promise<void> {
    while (this.#active >= this.#route.concurrency) await new Promise<void>((r) => this.#waiting.push(r));
    this.#active += 1;
  }

  #release(): void {
    this.#active -= 1;
    this.#waiting.shift()?.();
  }

  #park(conn: SMTPConnection): void {
    this.#idle.push(conn);
    const timer = setTimeout(() => {
      this.#drop(conn);
      conn.quit();
    }, IDLE_MS);
    timer.unref();
    this.#idleTimers.set(conn, timer);
  }

  #drop(conn: SMTPConnection): void {
    this.#clearIdle(conn);
    const i = this.#idle.indexOf(conn);
    if (i >= 0) this.#idle.splice(i, 1);
  }

  #clearIdle(conn: SMTPConnection): void {
    const timer = this.#idleTimers.get(conn);
    if (timer) clearTimeout(timer);
    this.#idleTimers.delete(conn);
  }

  #connect(): Promise<SMTPConnection> {
    const r = this.#route;
    const conn = new SMTPConnection({
      host: r.host, port: r.port, name: this.#heloName, lmtp: r.type === 'lmtp',
      requireTLS: r.starttls === 'required', opportunisticTLS: r.starttls === 'opportunistic', ignoreTLS: r.starttls === 'off',
      tls: { rejectUnauthorized: r.verifyCertificate, ca: this.#ca, servername: r.tlsServerName },
      connectionTimeout: r.connectTimeoutMs, greetingTimeout: r.connectTimeoutMs, socketTimeout: 120_000,
      allowInternalNetworkInterfaces: true,
    });
    // An idle connection closed by the server is taken out of the pool, never reused.
    conn.on('end', () => this.#drop(conn));
    conn.on('error', () => this.#drop(conn));
    return new Promise((resolve, reject) => {
      // connect() reports failure only as an 'error' event (refused, timeout, TLS, STARTTLS missing).
      const onError = (err: Error) => { conn.close(); reject(err); };
      conn.once('error', onError);
      conn.connect(() => {
        if (!r.auth) { conn.off('error', onError); resolve(conn); return; }
        conn.login({ user: r.auth.user, pass: r.auth.pass }, (authErr?: Error | null) => {
          conn.off('error', onError);
          if (authErr) { conn.close(); reject(authErr); return; }
          resolve(conn);
        });
      });
    });
  }
}

type SendResult = { ok: boolean; beforeMail: boolean; outcomes: RecipientOutcome[] };

function send(conn: SMTPConnection, job: DeliveryJob, lmtp: boolean): Promise<SendResult> {
  return new Promise((resolve) => {
    const message = job.openMessage();
    conn.send({ from: job.mailFrom ?? '', to: job.recipients, use8BitMime: true } as never, message as never, (err: unknown, info: unknown) => {
      if (err) {
        message.destroy();
        const e = err as ReplyError;
        const beforeMail = !e.responseCode && (e.command === undefined || e.command === 'MAIL FROM' || e.command === 'API') && e.code !== 'ETIMEDOUT';
        resolve({ ok: false, beforeMail, outcomes: outcomesFromError(job.recipients, e) });
        return;
      }
      resolve({ ok: true, beforeMail: false, outcomes: outcomesFromInfo(job.recipients, info as SendInfo, lmtp) });
    });
  });
}

/** Per-recipient outcomes when the transaction completed (maybe with some recipients refused). */
export function outcomesFromInfo(recipients: string[], info: SendInfo, lmtp: boolean): RecipientOutcome[] {
  const refused = new Map<string, ReplyError>();
  for (const e of info.rejectedErrors ?? []) if (e.recipient) refused.set(e.recipient, e);
  return recipients.map((r) => {
    const e = refused.get(r);
    if (e) return fromReply(e);
    // With LMTP the client keeps only the last per-recipient line (RFC 2033 §4.2), which may
    // belong to a refused recipient; an accepted one then gets a neutral text instead.
    if (lmtp && !info.response.startsWith('2')) return { status: 'delivered', reply: '250 accepted (LMTP)' };
    return { status: 'delivered', reply: info.response };
  });
}

/** The transaction failed as a whole, or every recipient was refused at RCPT. */
export function outcomesFromError(recipients: string[], err: ReplyError): RecipientOutcome[] {
  const perRecipient = new Map<string, ReplyError>();
  for (const e of err.rejectedErrors ?? []) if (e.recipient) perRecipient.set(e.recipient, e);
  return recipients.map((r) => fromReply(perRecipient.get(r) ?? err));
}

function fromReply(e: ReplyError): RecipientOutcome {
  const code = e.responseCode ?? 0;
  const reply = describe(e);
  if (code >= 500 && code < 600) return { status: 'failed', reply };
  return { status: 'deferred', reply };
}

/** The downstream's own words when there are any (`550 5.1.1 <x>: user unknown`), else ours. */
function describe(e: ReplyError): string {
  if (e.response) return e.response.replace(/\r?\n/g, ' ').slice(0, 500);
  return `${e.code ?? 'ERROR'} ${e.message}`.replace(/\r?\n/g, ' ').slice(0, 500);
}
