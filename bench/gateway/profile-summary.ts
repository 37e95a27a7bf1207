// Reads a V8 .cpuprofile (node --cpu-prof) and sums self time per function and per package, so
// the profile can be read in a terminal and quoted in docs/performance.md.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  /** Sampled time the process was not idle. */
  busyMs: number;
  functions: Array<{ name: string; selfMs: number; share: number }>;
  packages: Array<{ name: string; selfMs: number; share: number }>;
  /** Self plus callees (each function counted once per stack), as a share of busy time. */
  inclusive: Array<{ name: string; selfMs: number; share: number }>;
}

/** A frame's name for the summaries: function, then its file (below node_modules, src or bench) and line. */
function frameName(n: ProfileNode): string {
  const { functionName, url, lineNumber } = n.callFrame;
  const short = url.replace(/^.*node_modules\//, '').replace(/^.*\/(src|bench)\//, '$1/');
  return `${functionName || '(anonymous)'} ${short ? `${short}:${lineNumber + 1}` : ''}`.trim();
}

/** Where a frame's code lives: an npm package, mxward's src/ directory, node: internals or V8. */
function packageOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  const src = /\/src\/([^/]+)\//.exec(url);
  if (src) return `mxward src/${src[1]}`;
  if (url.startsWith('node:')) return url.split('/')[0].replace(/^node:internal.*/, 'node:internal');
  return url.replace(/^.*\//, '');
}

export function summarizeProfile(file: string, top = 25, inclusivePattern = /^$/): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
  const fns = new Map<string, number>();
  const pkgs = new Map<string, number>();
  let totalMs = 0;
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const incl = new Map<string, number>();
  let busyMs = 0;
  for (const [id, ms] of self) {
    const n = byId.get(id)!;
    const { functionName, url } = n.callFrame;
    totalMs += ms;
    if (functionName !== '(idle)') busyMs += ms;
    const name = frameName(n);
    fns.set(name, (fns.get(name) ?? 0) + ms);
    const pkg = packageOf(url, functionName);
    pkgs.set(pkg, (pkgs.get(pkg) ?? 0) + ms);
    // Inclusive time: this sample counts once for every distinct frame on its stack.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = frameName(byId.get(at)!);
      if (seen.has(frame) || !inclusivePattern.test(frame)) continue;
      seen.add(frame);
      incl.set(frame, (incl.get(frame) ?? 0) + ms);
    }
  }
  const rank = (m: Map<string, number>, of: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([name, selfMs]) => ({ name, selfMs, share: of > 0 ? selfMs / of : 0 }));
  return { totalMs, busyMs, functions: rank(fns, totalMs), packages: rank(pkgs, totalMs), inclusive: rank(incl, busyMs) };
}

export function printSummary(title: string, s: ProfileSummary, out: (line: string) => void = console.log): void {
  out(`\n${title}: ${(s.totalMs / 1000).toFixed(2)} s sampled`);
  out('  by package / area:');
  for (const p of s.packages.slice(0, 12)) out(`    ${(p.share * 100).toFixed(1).padStart(5)}%  ${p.name}`);
  out('  by function (self time):');
  for (const f of s.functions) out(`    ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.name}`);
  if (s.inclusive.length === 0) return;
  out(`  inclusive (self + callees), share of ${(s.busyMs / 1000).toFixed(2)} s busy:`);
  for (const f of s.inclusive) out(`    ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.name}`);
}
