// Per-connection limits that smtp-server has no hook for (issue 11, docs/security.md "Session and
// resource limits"): errors per session (Postfix smtpd_soft/hard_error_limit), a deadline per
// command line and one for the whole dialogue before DATA. smtp-server restarts its idle timer on
// every byte, so a client trickling one byte every few seconds never hit it; these deadlines run
// from the first byte of a line and from connect, and nothing the client sends moves them.
import type { SmtpReply } from '../domain/types.ts';
import { replies } from '../policy/replies.ts';

export interface SessionLimitSettings {
  softErrorLimit: number;
  errorDelayMs: number;
  hardErrorLimit: number;
  commandLineDeadlineMs: number;
  dialogueDeadlineMs: number;
}

/** What the guard does to its connection: send a reply (a 421 closes it, in smtp-server). */
export interface GuardedConnection {
  sendReply(reply: SmtpReply): void;
}

/** 250 2.6.0 is the only reply that means a message was accepted (replies.queuedReply). */
const ACCEPTED_ENHANCED = '2.6.0';

export class SessionGuard {
  readonly #limits: SessionLimitSettings;
  readonly #connection: GuardedConnection;
  #errors = 0;
  #lineTimer: NodeJS.Timeout | null = null;
  #dialogueTimer: NodeJS.Timeout | null = null;
  #closed = false;
  /** The RCPT hook refused a recipient: the next reply is that refusal, not an error. */
  #recipientRefusal = false;
  /** Failed AUTH on this connection (auth-throttle.ts reads and bumps it). */
  authFailures = 0;
  /**
   * Recipients refused by policy since the last accepted message, across RSETs, so starting a
   * new transaction does not reset limits.maxRefusedRecipients (hooks/on-rcpt-to.ts reads it).
   */
  #refusedRecipients = 0;

  constructor(limits: SessionLimitSettings, connection: GuardedConnection) {
    this.#limits = limits;
    this.#connection = connection;
    this.#armDialogue();
  }

  get errors(): number {
    return this.#errors;
  }

  /** True once the session has ended (or a deadline ended it). */
  get closed(): boolean {
    return this.#closed;
  }

  /** A complete command line arrived: its deadline is met. */
  commandReceived(): void {
    this.#clearLine();
  }

  /** The parser holds part of a command line: the deadline runs from now unless it already does. */
  partialLine(): void {
    if (this.#lineTimer || this.#closed) return;
    this.#lineTimer = setTimeout(() => this.#expire(replies.commandTimeout), this.#limits.commandLineDeadlineMs);
    this.#lineTimer.unref();
  }

  /** Called by the RCPT hook just before its refusal goes out (limits.maxRefusedRecipients counts those). */
  recipientRefused(): void {
    this.#recipientRefusal = true;
    this.#refusedRecipients += 1;
  }

  get refusedRecipients(): number {
    return this.#refusedRecipients;
  }

  /** DATA began: maxDataMs (hooks/on-data.ts) takes over until the message is in. */
  dataStarted(): void {
    this.#clearLine();
    if (this.#dialogueTimer) clearTimeout(this.#dialogueTimer);
    this.#dialogueTimer = null;
  }

  /** The message is in: the next transaction gets a fresh dialogue deadline. */
  dataEnded(): void {
    this.#armDialogue();
  }

  /**
   * Every reply passes here. Returns the reply to send after it when this one reached the hard
   * error limit. A recipient refused by policy is not an error here (limits.maxRefusedRecipients
   * bounds those): refusing recipients is this gateway's job, not a client fault. A malformed or
   * out-of-order RCPT still is.
   */
  replySent(code: number, text: string): SmtpReply | null {
    const policyRefusal = this.#recipientRefusal;
    this.#recipientRefusal = false;
    if (code === 250 && text.startsWith(ACCEPTED_ENHANCED)) {
      this.#errors = 0; // Postfix: the limits count errors "without delivering mail"
      this.#refusedRecipients = 0;
      return null;
    }
    if (code < 400 || code === 421 || policyRefusal) return null;
    this.#errors += 1;
    return this.#errors >= this.#limits.hardErrorLimit ? replies.tooManyErrors : null;
  }

  /** Past the soft limit every command waits this long before it is read (0 = no wait). */
  commandDelayMs(): number {
    return this.#errors >= this.#limits.softErrorLimit ? this.#limits.errorDelayMs : 0;
  }

  close(): void {
    this.#closed = true;
    this.#clearLine();
    if (this.#dialogueTimer) clearTimeout(this.#dialogueTimer);
    this.#dialogueTimer = null;
  }

  #armDialogue(): void {
    if (this.#closed) return;
    if (this.#dialogueTimer) clearTimeout(this.#dialogueTimer);
    this.#dialogueTimer = setTimeout(() => this.#expire(replies.dialogueTimeout), this.#limits.dialogueDeadlineMs);
    this.#dialogueTimer.unref();
  }

  #clearLine(): void {
    if (this.#lineTimer) clearTimeout(this.#lineTimer);
    this.#lineTimer = null;
  }

  #expire(reply: SmtpReply): void {
    if (this.#closed) return;
    this.close();
    this.#connection.sendReply(reply);
  }
}

const guards = new WeakMap<object, SessionGuard>();

export function attachGuard(session: object, guard: SessionGuard): void {
  guards.set(session, guard);
}

/** The guard of a session, if the listener attached one (it always does; tests may not). */
export function guardOf(session: object): SessionGuard | undefined {
  return guards.get(session);
}
