// The shapes one SMTP transaction passes through (DESIGN.md "One transaction, end to end").
// Types only: nothing here has side effects, so policy/ can import it freely.

export type Mode = 'off' | 'report' | 'enforce';

/** Who the message is from (SPEC §1 "attribution"), stamped as X-Mxward-AuthAs. */
export type Attribution = 'internal' | 'partner' | 'anonymous';

export type ListenerKind = 'inbound' | 'submission';

/** The client certificate as the TLS layer saw it; only `verified` ones may match a connector. */
export interface ClientCertificate {
  subjectCN: string | null;
  dnsNames: string[];
  /** Chain verified against the configured trust store. */
  verified: boolean;
  verifyError: string | null;
  validFrom: string;
  validTo: string;
  fingerprint256: string;
}

export interface TlsFacts {
  version: string;
  cipher: string;
  clientCertificate: ClientCertificate | null;
}

/** Stage 1-3 facts: known from the connection before MAIL FROM. */
export interface ConnectionFacts {
  sessionId: string;
  remoteIp: string;
  remotePort: number;
  localPort: number;
  listener: ListenerKind;
  helo: string | null;
  ptr: string | null;
  tls: TlsFacts | null;
  authUser: string | null;
  /** Addresses the authenticated user may send as (own address and aliases). */
  authSendAs: string[];
}

/** One SMTP reply from the catalogue (SPEC §3). */
export interface SmtpReply {
  code: number;
  enhanced: string;
  text: string;
}

/** A decision stage, in the order facts become known (SPEC §2). */
export type Stage = 'connect' | 'tls' | 'auth' | 'mail' | 'rcpt' | 'data';

export type DirectSendKind = 'p1' | 'header-from';

export type VerdictAction = 'accept' | 'quarantine' | 'junk' | 'reject' | 'tempfail';

/** A rule that fired, with the reason in words an administrator can act on. */
export interface RuleHit {
  rule: string;
  detail: string;
}

export interface Verdict {
  action: VerdictAction;
  reply: SmtpReply | null;
  stage: Stage;
  hits: RuleHit[];
}

/**
 * The author (RFC 5322.From), decided once from the canonical header section (SPEC §10). Only a
 * `single` author can be authenticated; every other kind is refused at end of DATA, because DMARC
 * (RFC 7489 §6.6.1) cannot be evaluated for it and a reader would have to guess.
 */
export type AuthorFacts =
  | { kind: 'single'; address: string; domain: string }
  | { kind: 'none' }
  | { kind: 'ambiguous'; reason: 'several-fields' | 'several-mailboxes' | 'unusable-address'; domains: string[] };

/** Facts learned from the header section at end of DATA. */
export interface MessageFacts {
  /** RFC 5322.From addresses; zero or several are noted, not guessed (SPEC §1). */
  headerFrom: string[];
  author: AuthorFacts;
  messageId: string | null;
  subject: string | null;
  sizeBytes: number;
}

export type AuthResultValue = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'temperror' | 'permerror' | 'policy';

/** Email authentication results (filled in by auth/, SPEC §4). */
export interface AuthResults {
  spf: { result: AuthResultValue; domain: string | null };
  dkim: Array<{ result: AuthResultValue; domain: string; selector: string | null; aligned: boolean }>;
  dmarc: { result: AuthResultValue; domain: string | null; policy: string | null };
  arc: { result: AuthResultValue; sealer: string | null };
  compauth: { result: 'pass' | 'fail' | 'softpass' | 'none'; reason: string };
  /** SPF of the HELO identity (RFC 7208 §2.3), when it was checked separately from MAIL FROM. */
  spfHelo?: { result: AuthResultValue; domain: string | null };
  /** The client judged: the connecting one, or the first untrusted one behind trusted hops. */
  source?: { ip: string; helo: string | null; skippedHops: string[] };
}

export type DeliveryStatus = 'not-queued' | 'queued' | 'delivered' | 'deferred' | 'failed' | 'quarantined';

/** One record per transaction, rejected ones included (SPEC §7). */
export interface TraceRecord {
  time: string;
  sessionId: string;
  transactionId: string;
  remoteIp: string;
  helo: string | null;
  ptr: string | null;
  tlsVersion: string | null;
  tlsCipher: string | null;
  tlsClientCertificate: string | null;
  authUser: string | null;
  connector: string | null;
  attribution: Attribution;
  mailFrom: string | null;
  recipients: string[];
  /** Refused at RCPT (relay, directory, Direct Send); absent in records written before this field. */
  rejectedRecipients?: string[];
  headerFrom: string[];
  messageId: string | null;
  subject: string | null;
  sizeBytes: number | null;
  directSend: DirectSendKind | null;
  directSendWouldReject: boolean;
  auth: AuthResults | null;
  /** `abandoned`: the client left or reset before DATA without being refused. */
  verdict: VerdictAction | 'abandoned';
  reply: string;
  stage: Stage;
  hits: RuleHit[];
  queueId: string | null;
  quarantineId: string | null;
  deliveryStatus: DeliveryStatus;
  /** Filled by the store from the queue runner's updates (issue 4); absent until the first attempt. */
  deliveryAttempts?: number;
  deliveryReply?: string | null;
  deliveryDetail?: string | null;
  deliveryTime?: string | null;
  durationMs: number;
  /**
   * The front end that decided (issue 15); absent = the gateway's own listener. Also written as a
   * `source` rule hit, which every store already keeps.
   */
  source?: 'gateway' | 'postfix-policyd' | 'postfix-milter';
  /** The gateway node that handled the transaction (issue 14: several nodes on one store). */
  node?: string;
}

/** Composite authentication (auth/compauth.ts), Microsoft's compauth values. */
export type CompauthResult = 'pass' | 'fail' | 'softpass' | 'none';

export interface Compauth {
  result: CompauthResult;
  reason: string;
  explanation: string;
}
