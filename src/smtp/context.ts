// What the SMTP hooks need from the rest of the gateway, passed in (never imported as globals),
// and the per-connection state they share.
import type { Logger } from 'pino';
import type { SMTPServerSession } from 'smtp-server';
import type { BootstrapConfig } from '../config/bootstrap.ts';
import type { AuthResults, ConnectionFacts, DirectSendKind, MessageFacts, RuleHit, SmtpReply, Verdict } from '../domain/types.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import type { SenderDecision } from '../policy/decide.ts';
import type { Store } from '../store/ports.ts';
import type { Spool } from '../spool/spool.ts';
import type { HeaderField } from './header-section.ts';
import type { ConnectionLimiter } from './connection-limits.ts';

/** Input to checks that run at end of DATA, after the header-From decision (email auth, issue 3). */
export interface EndOfDataInput {
  policy: CompiledPolicy;
  facts: ConnectionFacts;
  sender: SenderDecision;
  recipients: string[];
  message: MessageFacts;
  headerFields: HeaderField[];
  /**
   * The spooled (sanitised) message, not yet committed: in memory when it is small (`messageBytes`;
   * then there is no file at `messagePath`), else complete and readable at `messagePath`.
   */
  messagePath: string;
  messageBytes: Buffer | null;
}

export interface EndOfDataResult {
  auth: AuthResults | null;
  /** Value for the Authentication-Results field, when the check produced one. */
  authenticationResults: string | null;
  /** Null when the check has no objection; otherwise the verdict it asks for. */
  verdict: Verdict | null;
  scl: number | null;
}

export interface EndOfDataCheck {
  readonly name: string;
  run(input: EndOfDataInput): Promise<EndOfDataResult>;
}

/** Where quarantined messages go; provided by the quarantine module (issue 3). */
export interface QuarantineSink {
  /** Takes ownership of the spooled file; returns the quarantine id. */
  quarantine(input: { messagePath: string; prependHeaders: string; traceTransactionId: string; recipients: string[]; mailFrom: string | null; verdict: Verdict; headerFrom: string[] }): Promise<string>;
}

export interface GatewayContext {
  config: BootstrapConfig;
  authservId: string;
  currentPolicy(): CompiledPolicy;
  store: Store;
  spool: Spool;
  /** Called after a message is committed to the spool. */
  onQueued(queueId: string): void;
  logger: Logger;
  limiter: ConnectionLimiter;
  endOfDataChecks: EndOfDataCheck[];
  quarantine: QuarantineSink | null;
  now(): Date;
  /** Back-pressure (spool/back-pressure.ts): refuse new mail with 452 4.3.1 while the spool is full. */
  admission?(): Promise<{ ok: true } | { ok: false; reason: string }>;
}

export interface Transaction {
  id: string;
  startedMs: number;
  sender: SenderDecision | null;
  rawMailFrom: string | null;
  recipients: string[];
  /** Recipients refused at RCPT, kept so the trace shows whom a rejected transaction targeted. */
  rejectedRecipients: string[];
  /**
   * All refused RCPTs of the transaction; rejectedRecipients keeps only the first
   * limits.traceListMax of them (issue 11: the list was unbounded). Absent = its length.
   */
  rejectedRecipientCount?: number;
  directSend: DirectSendKind | null;
  wouldReject: boolean;
  hits: RuleHit[];
  /** Last reply sent for this transaction, for the trace of a transaction that ends without DATA. */
  lastReply: SmtpReply | null;
  lastStage: Verdict['stage'];
}

export interface SessionState {
  /** The policy this session started with; a change applies from the next connection on. */
  policy: CompiledPolicy;
  facts: ConnectionFacts;
  tx: Transaction | null;
}

const states = new WeakMap<SMTPServerSession, SessionState>();

export function attachState(session: SMTPServerSession, state: SessionState): void {
  states.set(session, state);
}

export function sessionState(session: SMTPServerSession): SessionState {
  const state = states.get(session);
  if (!state) throw new Error(`no state for session ${session.id}`);
  return state;
}
