// What the rest of mxward needs from storage. SQLite (embedded default) implements it in
// store/sqlite/; every method is async so a networked store can implement the same contract.
import type { PolicyDocument } from '../config/policy-schema.ts';
import type { DeliveryStatus, DirectSendKind, TraceRecord, VerdictAction } from '../domain/types.ts';

export interface StoredPolicy {
  document: PolicyDocument;
  version: number;
}

export interface AuditEntry {
  id: number;
  time: string;
  actor: string;
  action: string;
  old: unknown;
  new: unknown;
}

export interface StoredUser {
  username: string;
  /** `scrypt$N$r$p$saltB64$hashB64`, never the password. */
  passwordHash: string;
  addresses: string[];
}

/** Where a page of the trace ended: the (time, transaction id) of its last record. */
export interface TraceCursor {
  time: string;
  transactionId: string;
}

export interface TraceFilter {
  since?: string;
  ip?: string;
  sender?: string;
  recipient?: string;
  directSend?: boolean;
  verdict?: VerdictAction;
  /** Only transactions handled by this gateway node (its node id). */
  node?: string;
  /** Only records before this ISO time (exclusive): with `since`, a time range. */
  until?: string;
  /** Only this Direct Send kind (`p1` or `header-from`). */
  directSendKind?: DirectSendKind;
  /** The one transaction with this id (the full record of one transaction). */
  transactionId?: string;
  /**
   * `written` (default): newest written first, as the CLI has always listed. `time`: newest
   * message time first, ties by transaction id descending: a total order over stable fields, so
   * the API's cursor (`after`) pages through without skipping or repeating a record.
   */
  order?: 'written' | 'time';
  /** With order `time`: only records strictly after this one in that order (the last row of the previous page). */
  after?: TraceCursor;
  limit?: number;
}

export interface DeliveryUpdate {
  queueId: string;
  status: DeliveryStatus;
  detail: string | null;
  /** Delivery attempts so far (the most any recipient had). */
  attempts?: number;
  /** The downstream's last reply, verbatim (`250 2.0.0 Ok: queued as …`, `451 4.3.0 …`). */
  lastReply?: string | null;
}

export interface PolicyStore {
  readPolicy(): Promise<StoredPolicy>;
  /** Cheap: polled by running gateways to pick up changes within a second. */
  readPolicyVersion(): Promise<number>;
  /** Replaces the document, bumps the version and writes the audit entry in one transaction. */
  writePolicy(next: PolicyDocument, actor: string, action: string): Promise<StoredPolicy>;
  /**
   * Compare-and-set for read-modify-write changes: writes as writePolicy does only while the
   * stored version is still `expectedVersion`; null when another change came first.
   */
  writePolicyIfVersion(expectedVersion: number, next: PolicyDocument, actor: string, action: string): Promise<StoredPolicy | null>;
  listAudit(limit: number): Promise<AuditEntry[]>;
  appendAudit(actor: string, action: string, old: unknown, next: unknown): Promise<void>;
}

export interface UserStore {
  getUser(username: string): Promise<StoredUser | null>;
  putUser(user: StoredUser, actor: string): Promise<void>;
  removeUser(username: string, actor: string): Promise<boolean>;
  listUsers(): Promise<StoredUser[]>;
}

export interface TraceWriteOptions {
  /**
   * Nobody waits on this write (a closed session's trace, a delivery update): a store may hold it
   * a few milliseconds to commit it together with others. The promise still settles only after
   * the commit.
   */
  background?: boolean;
}

export interface TraceStore {
  appendTrace(record: TraceRecord, options?: TraceWriteOptions): Promise<void>;
  /**
   * appendTrace unless a record of the same transaction exists: the replay of records buffered on
   * local disk during a store outage (issue 14), where a write may have committed unacknowledged.
   */
  appendTraceOnce?(record: TraceRecord): Promise<void>;
  queryTrace(filter: TraceFilter): Promise<TraceRecord[]>;
  updateDelivery(update: DeliveryUpdate, options?: TraceWriteOptions): Promise<void>;
  /**
   * Removes trace records older than `before` (ISO time) and returns how many went: the trace
   * retention (bootstrap retention.traceDays), purged in the background by one node. Optional so
   * a store written before it still fits; the purge skips such a store.
   */
  purgeTraceBefore?(before: string): Promise<number>;
}

/** What one gateway node reports about itself (issue 14): `mxward nodes` and `org set --wait`. */
export interface NodeReport {
  /** Stable per host, listener port and worker, so a restarted node updates its own row. */
  nodeId: string;
  /** The inbound listener, host:port. */
  address: string;
  mxwardVersion: string;
  /** The policy version this node is running (not merely the stored one). */
  policyVersion: number;
  startedAt: string;
  queueDepth: number;
  quarantineCount: number;
  /** Why the node last could not reach its store, while that lasts (null: reachable). */
  storeOutage: string | null;
}

export interface NodeStatus extends NodeReport {
  /** Last heartbeat (ISO time) and its age in the store's own clock, so node clocks need not agree. */
  heartbeat: string;
  heartbeatAgeMs: number;
  /** When the node first reported `policyVersion` (store's clock); null before issue 14's last step. */
  policyAppliedAt: string | null;
}

/** A subscription to policy changes pushed by the store (PostgreSQL LISTEN/NOTIFY). */
export interface PolicyWatch {
  close(): Promise<void>;
}

export interface Store extends PolicyStore, UserStore, TraceStore {
  close(): Promise<void>;
  /** Upserts this node's row with a fresh heartbeat. Optional: a store written before issue 14 still fits. */
  recordNode?(report: NodeReport): Promise<void>;
  listNodes?(): Promise<NodeStatus[]>;
  /**
   * Calls `onChange` soon after any node commits a policy change (a wake-up, not the version:
   * the caller reads it). Absent where the store cannot push (SQLite: one node, polling suffices).
   */
  watchPolicy?(onChange: () => void, onError: (err: Error) => void): PolicyWatch;
  /** Every node's queue and commands for the node that owns a message (issue 14); PostgreSQL only. */
  clusterQueue?(): ClusterQueueStore;
}

/** One queued message as a node publishes it (services/queue-admin.ts builds it from the spool). */
export interface QueueEntry {
  queueId: string;
  status: 'queued' | 'deferred';
  mailFrom: string;
  receivedAt: string;
  nextAttemptAt: string;
  sizeBytes: number | null;
  attempts: number;
  recipients: Array<{ address: string; state: 'pending' | 'delivered' | 'failed'; attempts: number; lastReply: string | null }>;
  lastReply: string | null;
}

export type QueueAction = 'retry' | 'flush' | 'delete';

/** What the owner did: the ids it acted on and those it no longer had. */
export interface QueueActionResult {
  done: string[];
  notFound: string[];
}

export interface QueueCommand {
  id: number;
  nodeId: string;
  action: QueueAction;
  queueIds: string[];
  actor: string;
}

export interface ClusterQueueStore {
  /** Replaces this node's published queue (called with its heartbeat). */
  publishQueue(nodeId: string, entries: QueueEntry[]): Promise<void>;
  /** Every node's published queue, with how old the publishing node's heartbeat is. */
  listClusterQueue(): Promise<Array<QueueEntry & { node: string; heartbeatAgeMs: number }>>;
  /** Which node published each of these queue ids (absent: none). */
  queueOwners(queueIds: string[]): Promise<Map<string, string>>;
  requestQueueCommand(command: Omit<QueueCommand, 'id'>): Promise<number>;
  /** Commands addressed to this node not yet answered, oldest first. */
  pendingQueueCommands(nodeId: string): Promise<QueueCommand[]>;
  completeQueueCommand(id: number, result: QueueActionResult): Promise<void>;
  /** The owner's answer; null while it has not answered. */
  queueCommandResult(id: number): Promise<QueueActionResult | null>;
  /** Withdraws an unanswered command (the requester gave up); false when it was answered meanwhile. */
  cancelQueueCommand(id: number): Promise<boolean>;
  /** Removes answered commands older than this (the audit log keeps what was done); how many went. */
  pruneQueueCommands(answeredBeforeMs: number): Promise<number>;
}

/** Per-recipient state of a quarantined message (issue 3, SPEC §6). */
export type QuarantineRecipientState = 'held' | 'requested' | 'releasing' | 'released' | 'deleted';

export interface QuarantineRecipient {
  address: string;
  state: QuarantineRecipientState;
  /** Spool queue id of the release that carries this recipient. */
  releaseQueueId: string | null;
  notified: boolean;
}

export interface QuarantineItem {
  id: string;
  time: string;
  expires: string;
  transactionId: string;
  policy: string;
  /** Verdict type: ownDomainSpoof | foreignSpoof | dmarcQuarantine | dmarcReject | other. */
  kind: string;
  mailFrom: string | null;
  headerFrom: string[];
  subject: string | null;
  sizeBytes: number;
  reason: string;
  prependHeaders: string;
  /** File name under dataDir/quarantine. */
  file: string;
  recipients: QuarantineRecipient[];
}

export interface QuarantineFilter {
  recipient?: string;
  /** Only items with at least one recipient in one of these states. */
  states?: QuarantineRecipientState[];
  limit?: number;
}

export interface QuarantineAudit {
  actor: string;
  action: string;
  detail: unknown;
}

/** A separate port (its own connection in SQLite) so the Store contract above stays as it was. */
export interface QuarantineStore {
  addQuarantined(item: QuarantineItem): Promise<void>;
  getQuarantined(id: string): Promise<QuarantineItem | null>;
  listQuarantined(filter: QuarantineFilter): Promise<QuarantineItem[]>;
  /**
   * Moves the given recipients (null: all) that are in one of `from` to `to`, in one transaction
   * with its audit entry; returns the addresses that moved. The guard that makes a release
   * happen once: two concurrent releases cannot both move the same recipient out of `held`.
   */
  transition(id: string, addresses: string[] | null, from: QuarantineRecipientState[], to: QuarantineRecipientState, releaseQueueId: string | null, audit: QuarantineAudit | null): Promise<string[]>;
  /** Rows left in `releasing` (a release interrupted by a crash). */
  listReleasing(): Promise<Array<{ id: string; queueId: string; addresses: string[] }>>;
  /** Points the message's trace record at its release, so delivery updates reach it. */
  attachReleaseToTrace(transactionId: string, queueId: string): Promise<void>;
  deliveryStatusOf(queueId: string): Promise<string | null>;
  /** Held, un-notified recipients of items under these policies, grouped by address. */
  pendingNotifications(policies: string[]): Promise<Map<string, QuarantineItem[]>>;
  lastDigest(address: string): Promise<string | null>;
  recordDigest(address: string, time: string, itemIds: string[]): Promise<void>;
  listExpired(now: string): Promise<QuarantineItem[]>;
  removeQuarantined(id: string, audit: QuarantineAudit): Promise<void>;
  appendQuarantineAudit(audit: QuarantineAudit): Promise<void>;
  close(): Promise<void>;
}

/** Console roles (issue 13); the same names as web/api-route.ts Role, kept here so store/ does not import web/. */
export type IdentityRole = 'administrator' | 'helpdesk' | 'auditor' | 'recipient';

/** A console account: signs in with a password and gets a session. */
export interface ConsoleAccount {
  username: string;
  role: IdentityRole;
  /** `scrypt$N$r$p$saltB64$hashB64` (users/passwords.ts), never the password. */
  passwordHash: string;
  createdAt: string;
}

/** An API token: only its SHA-256 is stored; the token itself is shown once, at creation. */
export interface StoredApiToken {
  /** Public id (shown in lists, used to revoke), not the secret. */
  id: string;
  name: string;
  role: IdentityRole;
  scopes: Array<'read' | 'write'>;
  /** Hex SHA-256 of the secret token. */
  tokenHash: string;
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

/** A console or recipient session; the cookie holds the id, the store only its SHA-256. */
export interface StoredSession {
  idHash: string;
  kind: 'session' | 'recipient-link';
  name: string;
  role: IdentityRole;
  /** Recipient sessions: the addresses whose quarantine this session may see. */
  addresses: string[];
  csrfToken: string;
  createdAt: string;
  expiresAt: string;
  /**
   * Recipient sessions: what opened them, `link` (a signed link) or `pw:<tag>` (mail credentials;
   * a tag of the user's password hash, so a new password ends the session). Null for console
   * sessions and for rows written before the column existed.
   */
  credential: string | null;
}

/**
 * Console accounts, API tokens and sessions (issue 13). A port of its own (its own connection in
 * SQLite, like QuarantineStore) so the Store contract stays as it was; audit entries for changes
 * are written by the identity service through PolicyStore.appendAudit, with the actor.
 */
export interface IdentityStore {
  getAccount(username: string): Promise<ConsoleAccount | null>;
  /** Inserts unless the name is taken (two nodes making the first account at once); false then. */
  createAccount(account: ConsoleAccount): Promise<boolean>;
  /** Inserts or replaces (a password or role change). */
  putAccount(account: ConsoleAccount): Promise<void>;
  /** Also ends the account's sessions; false when there was no such account. */
  removeAccount(username: string): Promise<boolean>;
  listAccounts(): Promise<ConsoleAccount[]>;
  addToken(token: StoredApiToken): Promise<void>;
  findTokenByHash(tokenHash: string): Promise<StoredApiToken | null>;
  listTokens(): Promise<StoredApiToken[]>;
  /** Sets revokedAt once; false when the id is unknown or already revoked. */
  revokeToken(id: string, time: string): Promise<boolean>;
  touchToken(id: string, time: string): Promise<void>;
  addSession(session: StoredSession): Promise<void>;
  /** Null when absent or expired at `now`. */
  getSession(idHash: string, now: string): Promise<StoredSession | null>;
  removeSession(idHash: string): Promise<void>;
  /** Ends every console session of an account (a password or role change); returns how many. */
  removeSessionsOf(username: string): Promise<number>;
  /** Drops sessions expired before `now`; returns how many went. */
  purgeExpiredSessions(now: string): Promise<number>;
  /**
   * The recipient-link key of this store (one for every node on it). When none is stored yet,
   * stores the key `offer` makes (called only then) unless another handle stored one first, and
   * returns the stored key: handles calling at once all get the same.
   */
  linkKey(offer: () => LinkKeyCandidate): Promise<Buffer>;
  close(): Promise<void>;
}

/** A key offered to IdentityStore.linkKey: a fresh random one, or an older version's key file. */
export interface LinkKeyCandidate {
  key: Buffer;
  origin: 'generated' | 'imported-file';
}
