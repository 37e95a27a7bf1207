// Schema migrations, applied in order; `user_version` records how far a database has come.
import type { DatabaseSync } from 'node:sqlite';

const steps: string[] = [
  `CREATE TABLE policy (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, document TEXT NOT NULL);
   CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, old TEXT, new TEXT);
   CREATE TABLE users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, addresses TEXT NOT NULL);
   CREATE TABLE trace (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     transaction_id TEXT NOT NULL,
     time TEXT NOT NULL,
     session_id TEXT NOT NULL,
     remote_ip TEXT NOT NULL,
     mail_from TEXT NOT NULL,
     recipients TEXT NOT NULL,
     direct_send TEXT,
     verdict TEXT NOT NULL,
     queue_id TEXT,
     delivery_status TEXT NOT NULL,
     delivery_detail TEXT,
     record TEXT NOT NULL);
   CREATE INDEX trace_time ON trace (time);
   CREATE INDEX trace_queue ON trace (queue_id) WHERE queue_id IS NOT NULL;
   CREATE INDEX trace_ip ON trace (remote_ip);`,
  // Delivery progress per message (issue 4): attempts and the downstream's last reply.
  `ALTER TABLE trace ADD COLUMN delivery_attempts INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE trace ADD COLUMN delivery_reply TEXT;
   ALTER TABLE trace ADD COLUMN delivery_time TEXT;`,
  // Quarantine (issue 3, SPEC §6): one row per message, one per recipient for per-user actions,
  // and when each recipient last got a notification digest.
  `CREATE TABLE quarantine (
     id TEXT PRIMARY KEY,
     time TEXT NOT NULL,
     expires TEXT NOT NULL,
     transaction_id TEXT NOT NULL,
     policy TEXT NOT NULL,
     kind TEXT NOT NULL,
     mail_from TEXT,
     header_from TEXT NOT NULL,
     subject TEXT,
     size_bytes INTEGER NOT NULL,
     reason TEXT NOT NULL,
     prepend_headers TEXT NOT NULL,
     file TEXT NOT NULL);
   CREATE INDEX quarantine_expires ON quarantine (expires);
   CREATE TABLE quarantine_recipients (
     quarantine_id TEXT NOT NULL REFERENCES quarantine (id) ON DELETE CASCADE,
     address TEXT NOT NULL,
     state TEXT NOT NULL,
     release_queue_id TEXT,
     notified INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (quarantine_id, address));
   CREATE INDEX quarantine_recipient_address ON quarantine_recipients (address);
   CREATE TABLE quarantine_digests (address TEXT PRIMARY KEY, last_sent TEXT NOT NULL);`,
  // The same nodes table as PostgreSQL (issue 14), so `mxward nodes` and `org set --wait` work
  // unchanged on the embedded store, where there is one node (or one per serve --workers worker).
  `CREATE TABLE nodes (
     node_id TEXT PRIMARY KEY,
     address TEXT NOT NULL,
     mxward_version TEXT NOT NULL,
     policy_version INTEGER NOT NULL,
     started_at TEXT NOT NULL,
     heartbeat TEXT NOT NULL,
     queue_depth INTEGER NOT NULL,
     quarantine_count INTEGER NOT NULL,
     store_outage TEXT);`,
  // Console accounts, API tokens (only their SHA-256) and sessions (only the id's SHA-256) for the
  // admin API and web console (issue 13).
  `CREATE TABLE console_accounts (username TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL, created_at TEXT NOT NULL);
   CREATE TABLE api_tokens (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     role TEXT NOT NULL,
     scopes TEXT NOT NULL,
     token_hash TEXT NOT NULL UNIQUE,
     created_by TEXT NOT NULL,
     created_at TEXT NOT NULL,
     expires_at TEXT,
     revoked_at TEXT,
     last_used_at TEXT);
   CREATE TABLE console_sessions (
     id_hash TEXT PRIMARY KEY,
     kind TEXT NOT NULL,
     name TEXT NOT NULL,
     role TEXT NOT NULL,
     addresses TEXT NOT NULL,
     csrf_token TEXT NOT NULL,
     created_at TEXT NOT NULL,
     expires_at TEXT NOT NULL);
   CREATE INDEX console_sessions_expires ON console_sessions (expires_at);`,
  // The node that handled each transaction (issue 14), filterable as on PostgreSQL. (The cluster
  // queue tables exist only there: on SQLite every node shares one data directory and spool.)
  `ALTER TABLE trace ADD COLUMN node TEXT;
   CREATE INDEX trace_node ON trace (node, seq) WHERE node IS NOT NULL;`,
  // When each node reported the policy version it runs (issue 14), as on PostgreSQL.
  `ALTER TABLE nodes ADD COLUMN policy_applied_at TEXT;`,
  // The recipient-link key (issue 13), in the store as on PostgreSQL: one row, written once
  // (an older version's key file is imported into it), so the CLI and the gateway sign alike.
  `CREATE TABLE console_link_key (id INTEGER PRIMARY KEY CHECK (id = 1), key BLOB NOT NULL, origin TEXT NOT NULL, created_at TEXT NOT NULL);`,
  // One transaction's record by id (GET /trace/:id, delivery updates by transaction), as on
  // PostgreSQL, instead of a scan of the whole trace.
  `CREATE INDEX IF NOT EXISTS trace_transaction ON trace (transaction_id);`,
  // The console's trace searches and dashboard (issue 13) read newest first by (time,
  // transaction_id): with that whole order in the index a page stops after its rows instead of
  // sorting every match, and the filters the console offers most find their rows without a scan.
  // (time, transaction_id) replaces the index on time alone, so a trace write updates one index
  // more (the verdict's), and a second only for Direct Send (a partial index).
  `DROP INDEX IF EXISTS trace_time;
   CREATE INDEX trace_time_id ON trace (time, transaction_id);
   CREATE INDEX trace_verdict_time ON trace (verdict, time, transaction_id);
   CREATE INDEX trace_direct_send_time ON trace (direct_send, time, transaction_id) WHERE direct_send IS NOT NULL;`,
  // Which credential opened a recipient session (issue 13 follow-up): a tag of the submission
  // user's password hash for a mail sign-in, `link` for a signed link. A changed password changes
  // the tag, so the sessions opened with the old one are refused; rows from before have none and
  // are refused too (their holders sign in once more).
  'ALTER TABLE console_sessions ADD COLUMN credential TEXT;',
];

export function migrate(db: DatabaseSync): void {
  // The version is read inside the write lock, so a CLI and a gateway opening a new data
  // directory at the same moment do not both apply the same step.
  for (;;) {
    db.exec('BEGIN IMMEDIATE');
    try {
      const current = Number((db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version);
      if (current >= steps.length) {
        db.exec('COMMIT');
        return;
      }
      db.exec(steps[current]);
      db.exec(`PRAGMA user_version = ${current + 1}`);
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw new Error('store migration failed', { cause: err });
    }
  }
}
