// The scenarios of issue 6. Message counts are sized so that the fastest peer's turn lasts one
// to a few seconds and the slowest (one session) stays bounded.
import { ACCEPTED_DOMAIN } from './peer.ts';

export type PathKind = 'accept' | 'reject' | 'mixed';

export interface Scenario {
  id: string;
  path: PathKind;
  sessions: number;
  sizeBytes: number;
  messages: number;
}

/** The accept path: a foreign sender (no Direct Send) to a recipient of the accepted domain. */
export const ACCEPT_FROM = 'sender@partner.test';
/** The reject path: Direct Send, the accepted domain as MAIL FROM from an unlisted IP. */
export const REJECT_FROM = `sender@${ACCEPTED_DOMAIN}`;
export const RECIPIENT = `user@${ACCEPTED_DOMAIN}`;
/** Share of accept-path messages in the mixed stream. */
export const MIXED_ACCEPT_SHARE = 0.7;

const KB = 1024;

function messagesFor(path: PathKind, sessions: number, sizeBytes: number): number {
  if (sessions === 1) return sizeBytes > KB ? 100 : 150;
  if (path === 'reject') return 3000;
  return sizeBytes > KB ? 800 : 2000;
}

function scenario(path: PathKind, sessions: number, sizeBytes: number, scale = 1): Scenario {
  const messages = Math.max(50, Math.round(messagesFor(path, sessions, sizeBytes) * scale / 10) * 10);
  return { id: `${path} ${sessions}s ${sizeBytes / KB}KB`, path, sessions, sizeBytes, messages };
}

export function fullScenarios(): Scenario[] {
  const out: Scenario[] = [];
  for (const path of ['accept', 'reject', 'mixed'] as const) {
    for (const sizeBytes of [KB, 50 * KB]) {
      // A Direct Send is refused at RCPT, before any message data: its size changes nothing.
      if (path === 'reject' && sizeBytes !== KB) continue;
      for (const sessions of [1, 20, 100]) out.push(scenario(path, sessions, sizeBytes));
    }
  }
  return out;
}

/** `--quick`: the targets' own scenarios, fewer messages. */
export function quickScenarios(): Scenario[] {
  return [
    scenario('accept', 20, KB, 0.5),
    scenario('accept', 20, 50 * KB, 0.5),
    scenario('reject', 20, KB, 0.5),
    scenario('reject', 100, KB, 0.5),
    scenario('mixed', 20, KB, 0.5),
    scenario('accept', 1, KB, 0.5),
  ];
}

/**
 * What every peer handles, unmeasured, before the first measured turn: each path mxward and the
 * peers have (accepted 1 KB and 50 KB, refused at RCPT), until their CPU per message stops
 * falling. A gateway runs for weeks, so the bench compares steady states. mxward needs the most:
 * V8 optimises its hot functions only after many calls, and on this kind of host a fresh
 * `mxward serve` spent 0.65-0.79 ms of CPU per refusal in its first 2,000 to 4,000 refusals
 * and 0.31-0.35 ms from about the 10,000th on (20 sessions; issue 17). Postfix's first turns
 * pay for forking its smtpd processes, Haraka's for its relay pool.
 */
export function warmUpScenarios(): Scenario[] {
  return [
    { id: 'warm-up accept 20s 1KB', path: 'accept', sessions: 20, sizeBytes: KB, messages: 4_000 },
    { id: 'warm-up accept 20s 50KB', path: 'accept', sessions: 20, sizeBytes: 50 * KB, messages: 1_500 },
    { id: 'warm-up reject 20s 1KB', path: 'reject', sessions: 20, sizeBytes: KB, messages: 10_000 },
  ];
}

export interface Stream {
  from: string;
  sessions: number;
  messages: number;
  kind: 'accept' | 'reject';
}

/**
 * The smtp-source runs of a scenario. The mixed stream at N sessions is two concurrent runs, 70 %
 * of the sessions and messages on the accept path and 30 % Direct Send; at one session the two
 * parts run one after the other on a single session each.
 */
export function streamsOf(s: Scenario): Stream[][] {
  if (s.path === 'accept') return [[{ from: ACCEPT_FROM, sessions: s.sessions, messages: s.messages, kind: 'accept' }]];
  if (s.path === 'reject') return [[{ from: REJECT_FROM, sessions: s.sessions, messages: s.messages, kind: 'reject' }]];
  const acceptMessages = Math.round(s.messages * MIXED_ACCEPT_SHARE);
  const rejectMessages = s.messages - acceptMessages;
  if (s.sessions === 1) {
    return [
      [{ from: ACCEPT_FROM, sessions: 1, messages: acceptMessages, kind: 'accept' }],
      [{ from: REJECT_FROM, sessions: 1, messages: rejectMessages, kind: 'reject' }],
    ];
  }
  const acceptSessions = Math.round(s.sessions * MIXED_ACCEPT_SHARE);
  return [[
    { from: ACCEPT_FROM, sessions: acceptSessions, messages: acceptMessages, kind: 'accept' },
    { from: REJECT_FROM, sessions: s.sessions - acceptSessions, messages: rejectMessages, kind: 'reject' },
  ]];
}

/**
 * Most sessions one smtp-source process drives. smtp-source polls every open connection for each
 * event, so its own CPU per transaction grows with its session count: 0.21-0.25 ms at 20 sessions
 * but 0.47-0.88 ms at 100 on this kind of two-core host, where the driver then took 0.67-0.90 of a
 * core and every peer's refusal rate at 100 sessions stopped at the same 1,050-1,210/s whatever the
 * server cost (issue 17). A load generator spreads its connections over processes for that
 * reason; the server still sees the same number of concurrent sessions.
 */
export const SESSIONS_PER_DRIVER = 25;

/** One stream as the smtp-source processes that run it together: sessions and messages shared evenly. */
export function driverPartsOf(st: Stream): Stream[] {
  const parts = Math.ceil(st.sessions / SESSIONS_PER_DRIVER);
  if (parts <= 1) return [st];
  return Array.from({ length: parts }, (_, i) => ({
    ...st,
    sessions: share(st.sessions, parts, i),
    messages: share(st.messages, parts, i),
  }));
}

/** Part i of n of a total, the remainder going to the first parts. */
function share(total: number, n: number, i: number): number {
  return Math.floor(total / n) + (i < total % n ? 1 : 0);
}
