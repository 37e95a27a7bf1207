// The console-under-load results as Markdown: SMTP rates without and with the API load (medians,
// and the median of each round's own with/without ratio, which cancels slow drift of a shared
// machine), then the API's latency per kind of request over every loaded turn of each arm.
import { median, ratio } from '../gateway/stats.ts';
import { stats } from './load-report.ts';
import type { LoadReport } from './load-report.ts';
import type { ThreadCpu } from './threads.ts';

/** A turn's condition: no API load, the load, or the load with the gateway's worker threads at nice 19. */
export type Arm = 'no load' | 'API load' | 'API load, workers niced';

export interface ConsoleTurn {
  scenario: string;
  arm: Arm;
  round: number;
  rate: number;
  cpuPer1000: number;
  /** The gateway's CPU seconds during the turn by thread group. */
  threads: ThreadCpu;
  messages: number;
  problems: string[];
  api: LoadReport | null;
}

/** The bound: with the console loaded, at most 5 % fewer messages a second. */
const TARGET = 0.95;

/** One row per scenario and arm; the loaded arms compared with the same round's unloaded turn. */
function smtpTable(turns: ConsoleTurn[]): { lines: string[]; ratios: Array<{ scenario: string; arm: Arm; ratio: number }> } {
  const lines = [
    '| scenario | turns | msg/s (median) | vs no load (medians) | median of per-round ratios | gateway CPU s/1k | event loop thread s/1k | worker threads s/1k |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  const ratios: Array<{ scenario: string; arm: Arm; ratio: number }> = [];
  for (const scenario of [...new Set(turns.map((t) => t.scenario))]) {
    const of = (arm: Arm) => turns.filter((t) => t.scenario === scenario && t.arm === arm);
    const base = median(of('no load').map((t) => t.rate));
    for (const arm of [...new Set(turns.map((t) => t.arm))]) {
      const these = of(arm);
      if (these.length === 0) continue;
      const rate = median(these.map((t) => t.rate));
      const per1k = (f: (t: ConsoleTurn) => number) => median(these.map((t) => (f(t) / t.messages) * 1000)).toFixed(2);
      let vs = '';
      let paired = '';
      if (arm !== 'no load') {
        ratios.push({ scenario, arm, ratio: ratio(rate, base) });
        vs = ratio(rate, base).toFixed(3);
        paired = median(these.map((t) => ratio(t.rate, of('no load').find((u) => u.round === t.round)?.rate ?? NaN))).toFixed(3);
      }
      lines.push(`| ${scenario} | ${arm}, ${these.length} | ${rate.toFixed(0)} | ${vs} | ${paired} | ${median(these.map((t) => t.cpuPer1000)).toFixed(2)} | ` +
        `${per1k((t) => t.threads.main)} | ${per1k((t) => t.threads.workers)} |`);
    }
  }
  return { lines, ratios };
}

function apiTable(reports: LoadReport[]): string[] {
  const seconds = reports.reduce((a, r) => a + r.seconds, 0);
  const requests = reports.reduce((a, r) => a + r.requests, 0);
  const lines = [
    `${requests} requests in ${seconds.toFixed(0)} s of loaded turns (${(requests / seconds).toFixed(1)} requests/s achieved), ` +
      `${reports.reduce((a, r) => a + r.skipped, 0)} not started (32 in flight), load client CPU ${reports.reduce((a, r) => a + r.cpuSeconds, 0).toFixed(1)} s`,
    '',
    '| request | answered | 503 busy | errors | p50 ms | p99 ms | max ms |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  const kinds = [...new Set(reports.flatMap((r) => Object.keys(r.byKind)))].sort();
  // `busy` (the worker pool's back-pressure, 503 with Retry-After) is not an error: counted apart.
  const row = (name: string, values: number[], errors: number, busy: number) => {
    const s = stats(values, errors, busy);
    lines.push(`| ${name} | ${values.length} | ${busy} | ${errors} | ${s.p50Ms.toFixed(0)} | ${s.p99Ms.toFixed(0)} | ${s.maxMs.toFixed(0)} |`);
  };
  for (const kind of kinds) {
    row(kind, reports.flatMap((r) => r.latenciesMs[kind] ?? []), reports.reduce((a, r) => a + (r.byKind[kind]?.errors ?? 0), 0),
      reports.reduce((a, r) => a + (r.byKind[kind]?.busy ?? 0), 0));
  }
  row('all', reports.flatMap((r) => Object.values(r.latenciesMs).flat()), reports.reduce((a, r) => a + r.errors, 0), reports.reduce((a, r) => a + (r.busy ?? 0), 0));
  return lines;
}

export function renderReport(header: string, turns: ConsoleTurn[], rate: number): { text: string; ok: boolean } {
  const { lines, ratios } = smtpTable(turns);
  const out = [header, '', ...lines];
  let errorCount = 0;
  const apiErrors: string[] = [];
  for (const arm of [...new Set(turns.map((t) => t.arm))].filter((a) => a !== 'no load')) {
    const reports = turns.filter((t) => t.arm === arm).map((t) => t.api).filter((r): r is LoadReport => r !== null);
    out.push('', `${arm}:`, ...apiTable(reports));
    errorCount += reports.reduce((a, r) => a + r.errors, 0);
    apiErrors.push(...reports.flatMap((r) => r.errorSamples));
  }
  out.push('', `Target (issue 13, ${rate} API requests/s from a second process):`);
  for (const r of ratios) {
    out.push(`  ${r.ratio >= TARGET ? 'met    ' : 'NOT met'}  ${r.scenario}, ${r.arm}: ${(Math.abs(1 - r.ratio) * 100).toFixed(1)} % ${r.ratio <= 1 ? 'fewer' : 'more'} messages/s than without the load (bound: 5 % fewer)`);
  }
  const problems = turns.flatMap((t) => t.problems.map((p) => `${t.scenario}, ${t.arm}, round ${t.round + 1}: ${p}`));
  out.push('', problems.length ? `Correctness problems (${problems.length}):\n  ${problems.join('\n  ')}`
    : 'Correctness: every turn checked (5.7.68 on every Direct Send, sink count = accepted count, trace agrees).');
  if (errorCount > 0) out.push(`API errors (${errorCount}), e.g.:\n  ${apiErrors.slice(0, 5).join('\n  ')}`);
  return { text: out.join('\n'), ok: problems.length === 0 && errorCount === 0 };
}
