// Server-side cost from /proc: CPU seconds of a process tree (children that already exited are
// counted through their parent's cutime/cstime once reaped) and resident memory by sampling.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime, in ticks. */
  own: number;
  /** cutime + cstime: reaped children, in ticks. */
  reaped: number;
}

/** A stat file of proc(5) (a process's or a thread's): its command name and the fields after it. */
function statFields(path: string): { name: string; fields: string[] } | null {
  try {
    const text = readFileSync(path, 'utf8');
    // The command name is in parentheses and may contain spaces: split after the last ')'.
    // fields[0] is state (field 3 of proc(5)); utime is field 14 -> index 11.
    return { name: text.slice(text.indexOf('(') + 1, text.lastIndexOf(')')), fields: text.slice(text.lastIndexOf(')') + 2).split(' ') };
  } catch {
    return null; // exited meanwhile
  }
}

function readStat(pid: number): ProcStat | null {
  const stat = statFields(`/proc/${pid}/stat`);
  if (!stat) return null;
  const { fields } = stat;
  return {
    pid, ppid: Number(fields[1]),
    own: Number(fields[11]) + Number(fields[12]),
    reaped: Number(fields[13]) + Number(fields[14]),
  };
}

/** CPU seconds (user + system) used so far by each thread of `pid`, by thread name; the main thread as `main`. */
export function threadCpuSeconds(pid: number, main: string): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try { tids = readdirSync(`/proc/${pid}/task`); } catch { return out; }
  for (const tid of tids) {
    const stat = statFields(`/proc/${pid}/task/${tid}/stat`);
    if (!stat) continue;
    const label = Number(tid) === pid ? main : stat.name;
    out.set(label, (out.get(label) ?? 0) + (Number(stat.fields[11]) + Number(stat.fields[12])) / TICKS_PER_SECOND);
  }
  return out;
}

function allStats(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s) out.push(s);
  }
  return out;
}

/** The roots and all their live descendants. */
export function processTree(roots: number[]): ProcStat[] {
  const stats = allStats();
  const byParent = new Map<number, ProcStat[]>();
  for (const s of stats) byParent.set(s.ppid, [...(byParent.get(s.ppid) ?? []), s]);
  const out: ProcStat[] = [];
  const seen = new Set<number>();
  const queue = stats.filter((s) => roots.includes(s.pid));
  while (queue.length > 0) {
    const s = queue.shift()!;
    if (seen.has(s.pid)) continue;
    seen.add(s.pid);
    out.push(s);
    queue.push(...(byParent.get(s.pid) ?? []));
  }
  return out;
}

/**
 * CPU seconds used so far by the tree. A child's time is in its own counters while it lives and
 * in its parent's reaped counters once waited for, so a difference of two readings is exact as
 * long as the roots themselves stay alive and reap their children.
 */
export function treeCpuSeconds(roots: number[]): number {
  let ticks = 0;
  for (const s of processTree(roots)) ticks += s.own + s.reaped;
  return ticks / TICKS_PER_SECOND;
}

function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Sum of resident memory over the tree (shared pages of forked processes count once per process). */
export function treeRssBytes(roots: number[]): number {
  return processTree(roots).reduce((sum, s) => sum + rssBytes(s.pid), 0);
}

/** Samples the tree's RSS until stopped; returns the peak. */
export function sampleRss(roots: () => number[], everyMs = 100): { stop(): number } {
  let peak = treeRssBytes(roots());
  const timer = setInterval(() => { peak = Math.max(peak, treeRssBytes(roots())); }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, treeRssBytes(roots()));
      return peak;
    },
  };
}
