// Schema migrations for the PostgreSQL store, applied in order and recorded in
// mxward_migrations. Every node runs them at start-up; the advisory lock makes two nodes starting
// at the same moment take turns, so the second finds the work done instead of failing halfway.
import type { Pool, QueryConfig } from 'pg';

/** Arbitrary but fixed: pg_advisory_xact_lock keys are per database, shared by every mxward node. */
const MIGRATION_LOCK_KEY = 7_013_406_117;
/** A step may build an index over the whole trace; the pool's short statement bound is for mail. */
const MIGRATION_TIMEOUT_MS = 6 * 3_600_000;

const steps: string[] = [
  // The policy row exists from the start (version 0, no document = the built-in defaults), so
  // writePolicy can always lock it with SELECT … FOR UPDATE, even for the very first change.
  `CREATE TABLE policy (
     id integer PRIMARY KEY CHECK (id = 1),
     version integer NOT NULL,
     document jsonb);
   INSERT INTO policy (id, version, document) VALUES (1, 0, NULL);
   CREATE TABLE audit (
     id bigserial PRIMARY KEY,
     time timestamptz NOT NULL DEFAULT now(),
     actor text NOT NULL,
     action text NOT NULL,
     old jsonb,
     new jsonb);
   CREATE TABLE users (
     username text PRIMARY KEY,
     password_hash text NOT NULL,
     addresses jsonb NOT NULL);
   CREATE TABLE trace (
     seq bigserial PRIMARY KEY,
     transaction_id text NOT NULL,
     time timestamptz NOT NULL,
     session_id text NOT NULL,
     remote_ip text NOT NULL,
     mail_from text NOT NULL,
     recipients text NOT NULL,
     direct_send text,
     verdict text NOT NULL,
     queue_id text,
     delivery_status text NOT NULL,
     delivery_detail text,
     delivery_attempts integer NOT NULL DEFAULT 0,
     delivery_reply text,
     delivery_time timestamptz,
     record jsonb NOT NULL);
   -- Queries are "newest first" (ORDER BY seq DESC), so the filter indexes end in seq and a
   -- LIMIT stops early instead of sorting every match.
   CREATE INDEX trace_time ON trace (time);
   CREATE INDEX trace_ip ON trace (remote_ip, seq);
   CREATE INDEX trace_verdict ON trace (verdict, seq);
   CREATE INDEX trace_direct_send ON trace (seq) WHERE direct_send IS NOT NULL;
   CREATE INDEX trace_queue ON trace (queue_id) WHERE queue_id IS NOT NULL;`,
  // The quarantine (issue 3, SPEC §6), as in SQLite: one row per message, one per recipient for
  // per-user actions and the once-only release guard, and each recipient's last digest.
  `CREATE TABLE quarantine (
     id text PRIMARY KEY,
     time timestamptz NOT NULL,
     expires timestamptz NOT NULL,
     transaction_id text NOT NULL,
     policy text NOT NULL,
     kind text NOT NULL,
     mail_from text,
     header_from jsonb NOT NULL,
     subject text,
     size_bytes bigint NOT NULL,
     reason text NOT NULL,
     prepend_headers text NOT NULL,
     file text NOT NULL);
   CREATE INDEX quarantine_expires ON quarantine (expires);
   CREATE INDEX quarantine_time ON quarantine (time DESC, id);
   CREATE TABLE quarantine_recipients (
     quarantine_id text NOT NULL REFERENCES quarantine (id) ON DELETE CASCADE,
     address text NOT NULL,
     state text NOT NULL CHECK (state IN ('held', 'requested', 'releasing', 'released', 'deleted')),
     release_queue_id text,
     notified boolean NOT NULL DEFAULT false,
     PRIMARY KEY (quarantine_id, address));
   CREATE INDEX quarantine_recipient_address ON quarantine_recipients (address);
   CREATE INDEX quarantine_recipient_releasing ON quarantine_recipients (release_queue_id) WHERE state = 'releasing';
   CREATE TABLE quarantine_digests (address text PRIMARY KEY, last_sent timestamptz NOT NULL);
   -- attachReleaseToTrace finds the quarantined message's trace record by its transaction.
   CREATE INDEX trace_transaction ON trace (transaction_id);`,
  // Several nodes on one database (issue 14): each node's row (the policy version it runs, its
  // heartbeat, queue and quarantine sizes) and a NOTIFY on every committed policy change, so nodes
  // wake within milliseconds instead of waiting for their poll. A trigger rather than a NOTIFY in
  // writePolicy: any writer (an older CLI, a manual UPDATE) wakes the nodes too. NOTIFY is sent at
  // COMMIT, so a node never reads a version that is not yet visible.
  `CREATE TABLE nodes (
     node_id text PRIMARY KEY,
     address text NOT NULL,
     mxward_version text NOT NULL,
     policy_version integer NOT NULL,
     started_at timestamptz NOT NULL,
     heartbeat timestamptz NOT NULL,
     queue_depth integer NOT NULL,
     quarantine_count integer NOT NULL,
     store_outage text);
   CREATE FUNCTION mxward_policy_notify() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN
     PERFORM pg_notify('mxward_policy', NEW.version::text);
     RETURN NEW;
   END $$;
   CREATE TRIGGER policy_changed AFTER UPDATE OF version ON policy
     FOR EACH ROW EXECUTE FUNCTION mxward_policy_notify();`,
  // One quarantine for every node (issue 14): the held message itself, so list, preview, headers
  // and release work from any node, not only the one whose disk has the file. In its own table so
  // the list queries never read message bytes.
  `CREATE TABLE quarantine_messages (
     quarantine_id text PRIMARY KEY REFERENCES quarantine (id) ON DELETE CASCADE,
     content bytea NOT NULL);`,
  // Console accounts, API tokens (only their SHA-256) and sessions (only the id's SHA-256) for the
  // admin API and web console (issue 13), shared by every node so a session works on any of them.
  `CREATE TABLE console_accounts (username text PRIMARY KEY, role text NOT NULL, password_hash text NOT NULL, created_at timestamptz NOT NULL);
   CREATE TABLE api_tokens (
     id text PRIMARY KEY,
     name text NOT NULL,
     role text NOT NULL,
     scopes jsonb NOT NULL,
     token_hash text NOT NULL UNIQUE,
     created_by text NOT NULL,
     created_at timestamptz NOT NULL,
     expires_at timestamptz,
     revoked_at timestamptz,
     last_used_at timestamptz);
   CREATE TABLE console_sessions (
     id_hash text PRIMARY KEY,
     kind text NOT NULL,
     name text NOT NULL,
     role text NOT NULL,
     addresses jsonb NOT NULL,
     csrf_token text NOT NULL,
     created_at timestamptz NOT NULL,
     expires_at timestamptz NOT NULL);
   CREATE INDEX console_sessions_expires ON console_sessions (expires_at);`,
  // Cluster-wide operations (issue 14, docs/cluster.md). The node that handled each transaction,
  // as a column so `mxward trace --node` uses an index (null in older records). Each node's queue
  // as it last published it with its heartbeat (node_queue: `queue list --all-nodes`), and
  // commands for a message another node owns (queue_commands: retry, flush, delete), which the
  // owner claims, executes on its own spool and answers in `result`.
  `ALTER TABLE trace ADD COLUMN node text;
   CREATE INDEX trace_node ON trace (node, seq) WHERE node IS NOT NULL;
   CREATE TABLE node_queue (
     node_id text NOT NULL,
     queue_id text NOT NULL,
     entry jsonb NOT NULL,
     PRIMARY KEY (node_id, queue_id));
   CREATE INDEX node_queue_id ON node_queue (queue_id);
   CREATE TABLE queue_commands (
     id bigserial PRIMARY KEY,
     node_id text NOT NULL,
     action text NOT NULL CHECK (action IN ('retry', 'flush', 'delete')),
     queue_ids jsonb NOT NULL,
     actor text NOT NULL,
     requested_at timestamptz NOT NULL DEFAULT now(),
     done_at timestamptz,
     result jsonb);
   CREATE INDEX queue_commands_pending ON queue_commands (node_id, id) WHERE done_at IS NULL;`,
  // When each node reported the policy version it runs, in the server's clock (issue 14): set
  // only when the version changes, so "commit to applied on every node" is measured without the
  // nodes' clocks (tests, bench/cluster, `mxward nodes`).
  `ALTER TABLE nodes ADD COLUMN policy_applied_at timestamptz;`,
  // The recipient-link key (issue 13 with issue 14): one row for the whole cluster, so a digest
  // link made on one node opens on every node. Written once (INSERT ... ON CONFLICT DO NOTHING,
  // then read back), so nodes starting together agree; `origin` says whether an older version's
  // key file was imported or the key was generated.
  `CREATE TABLE console_link_key (
     id integer PRIMARY KEY CHECK (id = 1),
     key bytea NOT NULL CHECK (octet_length(key) >= 32),
     origin text NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now());`,
  // Which credential opened a recipient session (issue 13 follow-up): a tag of the submission
  // user's password hash for a mail sign-in, `link` for a signed link. A changed password changes
  // the tag, so the sessions opened with the old one are refused; rows from before have none and
  // are refused too (their holders sign in once more).
  `ALTER TABLE console_sessions ADD COLUMN credential text;`,
];

/** The channel policy_changed notifies; every node LISTENs on it (policy-listener.ts). */
export const policyChannel = 'mxward_policy';

export const schemaVersion = steps.length;

export async function migrate(pool: Pool): Promise<void> {
  const client = await pool.connect();
  // As in PgDatabase.transaction: a connection lost between statements must not end the process.
  let broken = false;
  const onError = () => { broken = true; };
  client.on('error', onError);
  try {
    // One transaction for the lock and every pending step: DDL is transactional in PostgreSQL, so
    // a failed step leaves the schema as it was, and the lock is released at COMMIT/ROLLBACK.
    await client.query('BEGIN');
    try {
      // Another node may be migrating: wait for it as long as a step may take.
      await client.query({ text: 'SELECT pg_advisory_xact_lock($1)', values: [MIGRATION_LOCK_KEY], query_timeout: MIGRATION_TIMEOUT_MS } as QueryConfig);
      await client.query('CREATE TABLE IF NOT EXISTS mxward_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
      const { rows } = await client.query<{ current: number | null }>('SELECT max(version) AS current FROM mxward_migrations');
      const current = rows[0]?.current ?? 0;
      if (current > steps.length) {
        throw new Error(`the database schema is at version ${current}, newer than this mxward (${steps.length}); upgrade mxward`);
      }
      // An index on a large existing table can take minutes: no statement timeout for the steps.
      await client.query('SET LOCAL statement_timeout = 0');
      for (let version = current + 1; version <= steps.length; version++) {
        await client.query({ text: steps[version - 1], query_timeout: MIGRATION_TIMEOUT_MS } as QueryConfig);
        await client.query('INSERT INTO mxward_migrations (version) VALUES ($1)', [version]);
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => { broken = true; });
      throw err;
    }
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}
