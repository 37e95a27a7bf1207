// Before a measured turn, every peer's processes must be idle: the turn before (another peer's,
// or a warm-up) can leave work behind that the next turn would pay for on the same two cores
// (a relay queue still flushing, a collection, a checkpoint). In the first full run with the
// load generator's CPU shown, mxward's first one-session turn right after the warm-ups ran at
// 186-235 messages/s with both its CPU and smtp-source's per message inflated 2 to 4 times,
// against 620-690/s in a repeat of the same sequence without the other peers (issue 17).
import { treeCpuSeconds } from './procs.ts';
import { sleep } from './net.ts';

/** Share of one core all peers together may use in a window and still count as idle. */
const IDLE_CORE_SHARE = 0.05;
const WINDOW_MS = 250;

/**
 * Waits until the peers' process trees used less than IDLE_CORE_SHARE of a core over one window,
 * at most `maxMs`; returns how long it waited and whether they were idle by then.
 */
export async function settle(roots: () => number[], maxMs = 10_000): Promise<{ waitedMs: number; idle: boolean }> {
  const started = performance.now();
  let before = treeCpuSeconds(roots());
  for (;;) {
    await sleep(WINDOW_MS);
    const now = treeCpuSeconds(roots());
    const waitedMs = performance.now() - started;
    if ((now - before) / (WINDOW_MS / 1000) < IDLE_CORE_SHARE) return { waitedMs, idle: true };
    if (waitedMs >= maxMs) return { waitedMs, idle: false };
    before = now;
  }
}
