// One turn: one scenario against one peer, measured and checked.
//   rate     messages (accepted + refused transactions) per second of smtp-source wall time
//   cpu      server CPU seconds from the first connection until the sink has every accepted
//            message (so relaying counts), per 1,000 messages
//   rss      peak resident memory of the server's process tree during the turn
// Checks: every Direct Send transaction got 550 5.7.68, nothing else went wrong on the client
// side, the sink received exactly the accepted count, and the server's own log/trace agrees.
import type { Peer } from './peer.ts';
import { sampleRss, treeCpuSeconds } from './procs.ts';
import type { Scenario } from './scenarios.ts';
import { driverPartsOf, RECIPIENT, streamsOf } from './scenarios.ts';
import type { Sink } from './sink.ts';
import { runSource } from './source.ts';
import { sleep } from './net.ts';

export interface TurnResult {
  peer: string;
  scenario: string;
  rate: number;
  cpuPer1000: number;
  peakRssBytes: number;
  /** Time from the end of the load until the sink had every accepted message. */
  drainMs: number;
  /** smtp-source's own CPU seconds per 1,000 messages (it runs on the same cores as the server). */
  driverCpuPer1000: number;
  problems: string[];
}

const TURN_TIMEOUT_MS = 180_000;

export async function runTurn(peer: Peer, sink: Sink, s: Scenario): Promise<TurnResult> {
  const problems: string[] = [];
  const sinkBefore = sink.received();
  const serverBefore = await peer.counts();
  const cpuBefore = treeCpuSeconds(peer.pids());
  const rss = sampleRss(() => peer.pids());
  let expectAccepted = 0;
  let expectRejected = 0;
  let gotRejected = 0;
  let driverCpu = 0;
  const started = performance.now();
  for (const group of streamsOf(s)) {
    const runs = group.flatMap(driverPartsOf);
    const results = await Promise.all(runs.map((st) => runSource({
      sessions: st.sessions, messages: st.messages, sizeBytes: s.sizeBytes, from: st.from, to: RECIPIENT,
      port: peer.port, timeoutMs: TURN_TIMEOUT_MS,
    })));
    runs.forEach((st, i) => {
      const r = results[i];
      if (st.kind === 'accept') expectAccepted += st.messages;
      else expectRejected += st.messages;
      gotRejected += r.directSendRejects;
      driverCpu += r.cpuSeconds;
      if (r.timedOut) problems.push(`smtp-source timed out after ${TURN_TIMEOUT_MS / 1000} s`);
      if (r.otherProblemCount > 0) problems.push(`${r.otherProblemCount} client-side errors, e.g. ${r.otherProblems[0]}`);
    });
  }
  const elapsedMs = performance.now() - started;
  const loadEnded = performance.now();
  const drained = await sink.waitFor(sinkBefore + expectAccepted, TURN_TIMEOUT_MS);
  const drainMs = performance.now() - loadEnded;
  const cpuSeconds = treeCpuSeconds(peer.pids()) - cpuBefore;
  const peakRssBytes = rss.stop();
  if (gotRejected !== expectRejected) problems.push(`550 5.7.68 replies: ${gotRejected}, expected ${expectRejected}`);
  if (!drained) problems.push(`sink has ${sink.received() - sinkBefore} of ${expectAccepted} accepted messages after ${TURN_TIMEOUT_MS / 1000} s`);
  await sleep(150); // a duplicate delivery would show up here
  const delivered = sink.received() - sinkBefore;
  if (drained && delivered !== expectAccepted) problems.push(`sink received ${delivered}, accepted ${expectAccepted}`);
  const serverAfter = await peer.counts();
  const acceptedByServer = serverAfter.accepted - serverBefore.accepted;
  const rejectedByServer = serverAfter.rejected - serverBefore.rejected;
  if (acceptedByServer !== expectAccepted) problems.push(`server records ${acceptedByServer} accepted, expected ${expectAccepted}`);
  if (rejectedByServer !== expectRejected) problems.push(`server records ${rejectedByServer} refused with 5.7.68, expected ${expectRejected}`);
  const total = expectAccepted + expectRejected;
  return {
    peer: peer.name, scenario: s.id, rate: (total / elapsedMs) * 1000, cpuPer1000: (cpuSeconds / total) * 1000,
    peakRssBytes, drainMs, driverCpuPer1000: (driverCpu / total) * 1000, problems,
  };
}
