// The bootstrap file: what a node needs before it can read the store (listeners, TLS, limits).
// Organization policy is not here: it lives in the store and changes live (SPEC §2 last line).
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve, dirname } from 'node:path';
import { hostname as osHostname } from 'node:os';
import { z } from 'zod';
import { ConfigError } from './errors.ts';
import { parseYamlWithSchema } from './yaml-source.ts';
import { authSchema, quarantineSchema } from './auth-schema.ts';
import { deliverySchema } from './delivery-schema.ts';

const listenerSchema = z.object({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535),
}).strict();

/** 127.0.0.0/8, ::1 and localhost: where a plain-HTTP console is acceptable. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export const bootstrapSchema = z.object({
  hostname: z.string().min(1).default(() => osHostname() || 'localhost'),
  /** RFC 8601 authserv-id stamped in Authentication-Results; defaults to hostname. */
  authservId: z.string().min(1).optional(),
  dataDir: z.string().optional(),
  listeners: z.object({
    inbound: listenerSchema.default({ host: '127.0.0.1', port: 2525 }),
    submission: listenerSchema.nullable().default({ host: '127.0.0.1', port: 2587 }),
  }).strict().default({ inbound: { host: '127.0.0.1', port: 2525 }, submission: { host: '127.0.0.1', port: 2587 } }),
  tls: z.object({
    /** PEM files; when both are absent a self-signed pair is generated in the data directory. */
    certFile: z.string().optional(),
    keyFile: z.string().optional(),
    /** Trust store for client certificates; absent = the system roots. */
    caFile: z.string().optional(),
  }).strict().default({}),
  limits: z.object({
    maxMessageBytes: z.number().int().positive().default(35 * 1024 * 1024),
    maxHeaderBytes: z.number().int().positive().default(1024 * 1024),
    maxRecipients: z.number().int().positive().default(500),
    maxConnections: z.number().int().positive().default(2000),
    maxConnectionsPerIp: z.number().int().positive().default(100),
    /** Idle time between commands before the client is dropped (RFC 5321 §4.5.3.2 suggests 5 min). */
    idleTimeoutMs: z.number().int().positive().default(300_000),
    /**
     * Whole-message deadline from 354 to the final dot. The idle timeout alone lets a client that
     * trickles a byte now and then hold a connection forever (slowloris); 10 min is RFC 5321
     * §4.5.3.2's longest wait and still allows the maximum size at about 60 KB/s.
     */
    maxDataMs: z.number().int().positive().default(600_000),
    /**
     * Pause before the banner; a client that talks during it is refused (421 "You talk too soon"),
     * the early-talker test of smtp-server (and of Postfix's postscreen, greet wait). It bounds one
     * session to one message per pause, so a busy relay may set 0 (no test, like plain smtpd).
     */
    greetingDelayMs: z.number().int().min(0).max(30_000).default(100),
    // Session and resource limits (issue 11, docs/security.md "Session and resource limits").
    /**
     * Refused RCPTs in one session, until a message is accepted (RSET does not reset it), before
     * 421 4.7.0 and close. Refused recipients are kept for the trace, so without a cap one
     * session grew the heap without bound. Not counted as
     * errors below: refusing a recipient is this gateway's policy at work (Direct Send, unknown
     * user), and a list server with stale addresses must not be cut after 20 as Postfix would.
     * 100 = a fifth of maxRecipients.
     */
    maxRefusedRecipients: z.number().int().positive().default(100),
    /** Refused recipients named in one trace record; the rest become `… and K more`. */
    traceListMax: z.number().int().positive().default(20),
    /**
     * Postfix smtpd_soft_error_limit (10): from this many errors (4xx/5xx replies other than a
     * refused RCPT) without a message accepted, each further command waits errorDelayMs.
     */
    softErrorLimit: z.number().int().positive().default(10),
    /** Postfix smtpd_error_sleep_time (1 s). */
    errorDelayMs: z.number().int().min(0).max(60_000).default(1000),
    /** Postfix smtpd_hard_error_limit (20): then 421 4.7.0 and close. An accepted message resets the count. */
    hardErrorLimit: z.number().int().positive().default(20),
    /**
     * From the first byte of a command line to its end. The idle timeout restarts on every byte,
     * so a line trickled a byte at a time never hit it. 300 s = Postfix smtpd_timeout applied per
     * record (smtpd_per_record_deadline), RFC 5321 §4.5.3.2's 5 minutes.
     */
    commandLineDeadlineMs: z.number().int().positive().default(300_000),
    /**
     * From connect (and from each end of DATA) to the next DATA: the whole dialogue of one
     * transaction, which neither trickling nor NOOPs can extend. 600 s = twice the per-command
     * time, like maxDataMs RFC 5321 §4.5.3.2's longest wait (no Postfix analogue).
     */
    dialogueDeadlineMs: z.number().int().positive().default(600_000),
    /** Failed AUTH on one connection before 421 4.7.0 and close (Postfix: counted as errors). */
    maxAuthFailuresPerConnection: z.number().int().positive().default(3),
    /**
     * Failed AUTH per client IP (IPv6 by ipv6PrefixLength) and per user name within
     * authLockoutMs before further AUTH gets 454 4.7.0 without a password check. 10 per 15 min
     * stops guessing and bounds how long an attacker can lock a real user out.
     */
    authFailuresBeforeLockout: z.number().int().positive().default(10),
    authLockoutMs: z.number().int().positive().default(900_000),
    /**
     * The 535 of a failed AUTH waits authFailureDelayMs × 2^(failures − 1) for that IP or user,
     * at most authFailureMaxDelayMs: 2 s is Dovecot's auth_failure_delay, 15 s stays well under
     * the idle timeout.
     */
    authFailureDelayMs: z.number().int().min(0).max(60_000).default(2000),
    authFailureMaxDelayMs: z.number().int().min(0).max(120_000).default(15_000),
    /**
     * scrypt runs on libuv's thread pool (4 threads) that the spool's fdatasync also needs:
     * 1 concurrent hash leaves 3 threads for the disk however many clients guess passwords.
     */
    passwordHashConcurrency: z.number().int().min(1).max(4).default(1),
    /** AUTH attempts waiting for a hash slot beyond this get 454 4.7.0 at once (no unbounded queue). */
    passwordHashQueueMax: z.number().int().min(0).default(32),
    /**
     * maxConnectionsPerIp counts IPv6 clients by this prefix: one /64 is one site's LAN (RFC 4291
     * §2.5.4), and an attacker holds a whole /64, so per-address counting gave it every slot.
     */
    ipv6PrefixLength: z.number().int().min(32).max(128).default(64),
  }).strict().prefault({}),
  /**
   * Gateway processes (`serve --workers`): each a full gateway on the same listeners (SO_REUSEPORT,
   * Linux) with its own share of the spool; `auto` = one per CPU available on Linux, else 1.
   * Default 1: on a 2-core machine that also runs the clients, 2 workers measured slower (about
   * 1.5× the CPU per message: two runtimes, one SQLite trace written from two processes) and
   * need twice the memory (docs/performance.md). More cores than the load needs: try auto.
   */
  workers: z.union([z.literal('auto'), z.number().int().min(1).max(64)]).default(1),
  /** PTR lookups cost a DNS round trip per connection; off unless asked for. */
  lookupPtr: z.boolean().default(false),
  /** How often a running node checks the store for a new policy version. */
  policyPollMs: z.number().int().min(50).max(1000).default(250),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * Log lines on stderr: `json` (one object per line, for journald and log shippers), `readable`,
   * or `auto` = readable when stderr is a terminal, JSON otherwise (docs/operations.md).
   */
  logFormat: z.enum(['auto', 'json', 'readable']).default('auto'),
  /**
   * The admin listener: Prometheus /metrics, /healthz and /readyz (docs/operations.md). Off
   * (null) unless set; keep it on loopback, it has no authentication. With `serve --workers N`,
   * worker k listens on port + k - 1.
   */
  admin: z.object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(9725),
  }).strict().nullable().default(null),
  /**
   * The admin API and web console (docs/console.md). Off (null) unless set. Loopback by default;
   * a non-loopback host needs tls: true (the gateway's certificate, as STARTTLS uses). Only the
   * first worker of `serve --workers N` serves it.
   */
  console: z.object({
    /** Address the console listens on; loopback unless it must be reached from elsewhere. */
    host: z.string().min(1).default('127.0.0.1'),
    /** TCP port of the console and API (https://host:port/console/). */
    port: z.number().int().min(0).max(65535).default(9726),
    /** HTTPS with the gateway's certificate (tls.certFile, else the self-signed pair); false only on loopback. */
    tls: z.boolean().default(true),
    /** Failed sign-ins per client address or user name before 429 for loginLockoutMs. */
    loginFailuresBeforeLockout: z.number().int().positive().default(5),
    /** How long a client address or user name stays locked out after too many failures (15 min). */
    loginLockoutMs: z.number().int().positive().default(900_000),
    /** Each failed sign-in answers after loginFailureDelayMs × 2^(failures − 1), at most 4 s. */
    loginFailureDelayMs: z.number().int().min(0).max(10_000).default(250),
    /** How long a console or recipient session lasts without signing in again. */
    sessionHours: z.number().min(0.1).max(24 * 7).default(8),
    /** JSON request bodies beyond this are refused (413); uploads have their own limits. */
    maxBodyBytes: z.number().int().positive().default(1024 * 1024),
  }).strict().refine((c) => c.tls || isLoopbackHost(c.host), {
    path: ['host'], message: 'not a loopback address: set tls: true (sessions and tokens must not cross a network in clear)',
  }).nullable().default(null),
  /** How long the message trace is kept; older records are purged in the background hourly. */
  retention: z.object({
    /** Days of trace records to keep (0 = keep forever). 30 days answers "what happened last month". */
    traceDays: z.number().int().min(0).max(3650).default(30),
  }).strict().prefault({}),
  /** SPF/DKIM/DMARC/ARC, compauth and anti-spoof (config/auth-schema.ts, docs/authentication.md). */
  auth: authSchema.prefault({}),
  /** Quarantine retention, notifications and policies per verdict type (SPEC §6). */
  quarantine: quarantineSchema.prefault({}),
  /** Downstream routes, retries, spool limits (config/delivery-schema.ts, docs/delivery.md). */
  delivery: deliverySchema.prefault({}),
  /**
   * Where policy, users and the trace live: absent = SQLite in the data directory; a
   * postgres:// URL = PostgreSQL shared by several nodes. MXWARD_STORE_URL overrides it.
   */
  store: z.object({
    url: z.string().regex(/^postgres(?:ql)?:\/\//i, 'expected a postgres:// or postgresql:// URL').optional(),
  }).strict().default({}),
}).strict();

export type BootstrapConfig = z.output<typeof bootstrapSchema>;

export function defaultBootstrap(): BootstrapConfig {
  return bootstrapSchema.parse({});
}

/**
 * Reads and validates a YAML bootstrap file. Errors name the file, the line and the field:
 * `mxward.yaml:7: listeners.inbound.port: expected number`.
 */
export function loadBootstrapFile(file: string): BootstrapConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`], { cause: err });
  }
  return resolvePaths(parseYamlWithSchema(text, bootstrapSchema, file), dirname(resolve(file)));
}

/** Relative file names in a config file are relative to that file, not to the cwd. */
function resolvePaths(config: BootstrapConfig, base: string): BootstrapConfig {
  const abs = (p: string | undefined) => (p === undefined || isAbsolute(p) ? p : resolve(base, p));
  return {
    ...config,
    dataDir: abs(config.dataDir),
    tls: { certFile: abs(config.tls.certFile), keyFile: abs(config.tls.keyFile), caFile: abs(config.tls.caFile) },
  };
}
