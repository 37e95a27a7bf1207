// A V8 CPU profile (node --cpu-prof) cut to time windows: the samples taken while turns with the
// API load ran, and those while turns without it ran, summed by function, so the difference is
// what the console cost that thread. V8 stamps samples with the monotonic clock in microseconds,
// the clock process.hrtime reads in every process on the host, so the bench's own turn start and
// end times select the samples. (gateway/profile-summary.ts summarises whole files.)
import { readFileSync } from 'node:fs';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }
interface CpuProfile { nodes: ProfileNode[]; startTime: number; samples: number[]; timeDeltas: number[] }

/** [start, end] in microseconds of the monotonic clock. */
export type Window = [number, number];

export interface WindowedProfile {
  /** Milliseconds sampled inside the windows, and of those not idle. */
  sampledMs: number;
  busyMs: number;
  functions: Map<string, number>;
}

/** Now, in the microseconds of the monotonic clock that CPU profiles use. */
export function monotonicMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

function nameOf(n: ProfileNode): string {
  const { functionName, url, lineNumber } = n.callFrame;
  const short = url.replace(/^.*node_modules\//, '').replace(/^.*\/(src|bench)\//, '$1/');
  return `${functionName || '(anonymous)'}${short ? ` ${short}:${lineNumber + 1}` : ''}`;
}

export function profileInWindows(file: string, windows: Window[]): WindowedProfile {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const functions = new Map<string, number>();
  let t = p.startTime;
  let sampledMs = 0;
  let busyMs = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    // A sample stands for the interval up to the next one.
    const ms = (p.timeDeltas[i + 1] ?? 0) / 1000;
    if (!windows.some(([a, b]) => t >= a && t < b)) continue;
    const name = nameOf(byId.get(p.samples[i])!);
    sampledMs += ms;
    if (name !== '(idle)') busyMs += ms;
    functions.set(name, (functions.get(name) ?? 0) + ms);
  }
  return { sampledMs, busyMs, functions };
}

/**
 * Lines comparing the two sets of windows for one profile: busy share of the thread in each, and
 * the functions whose self time per second of wall time grew the most with the load.
 */
export function compareWindows(title: string, loaded: WindowedProfile, quiet: WindowedProfile, top = 20): string[] {
  const perSecond = (w: WindowedProfile, name: string) => (w.sampledMs > 0 ? (w.functions.get(name) ?? 0) / (w.sampledMs / 1000) : 0);
  const names = new Set([...loaded.functions.keys(), ...quiet.functions.keys()]);
  names.delete('(idle)');
  const growth = [...names].map((n) => ({ n, loaded: perSecond(loaded, n), quiet: perSecond(quiet, n) }))
    .sort((a, b) => (b.loaded - b.quiet) - (a.loaded - a.quiet)).slice(0, top);
  const busy = (w: WindowedProfile) => (w.sampledMs > 0 ? (w.busyMs / w.sampledMs) * 100 : 0).toFixed(1);
  return [
    `${title}: busy ${busy(quiet)} % of ${(quiet.sampledMs / 1000).toFixed(1)} s without the API load, ${busy(loaded)} % of ${(loaded.sampledMs / 1000).toFixed(1)} s with it`,
    '  self time, ms per second of turn: with load, without, function (largest growth first)',
    ...growth.map((g) => `  ${g.loaded.toFixed(1).padStart(7)} ${g.quiet.toFixed(1).padStart(7)}  ${g.n}`),
  ];
}
