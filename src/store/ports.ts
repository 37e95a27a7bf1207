// What the rest of mxward needs from storage. SQLite (embedded default) implements it in
// store/sqlite/; every method is async so a networked store can implement the same contract.
import type { PolicyDocument } from '../config/policy-schema.ts';
import type { DeliveryStatus, TraceRecord, VerdictAction } from '../domain/types.ts';

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

export interface TraceFilter {
  since?: string;
  ip?: string;
  sender?: string;
  recipient?: string;
  directSend?: boolean;
  verdict?: VerdictAction;
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
  listAudit(limit: number): Promise<AuditEntry[]>;
  appendAudit(actor: string, action: string, old: unknown, next: unknown): Promise<void>;
}

export interface UserStore {
  getUser(username: string): Promise<StoredUser | null>;
  putUser(user: StoredUser, actor: string): Promise<void>;
  removeUser(username: string, actor: string): Promise<boolean>;
  listUsers(): Promise<StoredUser[]>;
}

export interface TraceStore {
  appendTrace(record: TraceRecord): Promise<void>;
  queryTrace(filter: TraceFilter): Promise<TraceRecord[]>;
  updateDelivery(update: DeliveryUpdate): Promise<void>;
}

export interface Store extends PolicyStore, UserStore, TraceStore {
  close(): Promise<void>;
}
