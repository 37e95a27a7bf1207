// The console-under-load results as Markdown: SMTP rates without and with the API load (medians,
// and the median of each round's own with/without ratio, which cancels slow drift of a shared
// machine), then the API's latency per kind of request over every loaded turn.
import { median, ratio } from '../gateway/stats.ts';
import { stats } from './load-report.ts';
import type { LoadReport } from './load-report.ts';
import type { ThreadCpu } from './threads.ts';

export interface ConsoleTurn {
  scenario: string;
  withConsole: boolean;
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

function smtpTable(turns: ConsoleTurn[]): { lines: string[]; ratios: Map<string, number> } {
  const lines = [
    '| scenario | msg/s, no API load | msg/s, API load | with / without (medians) | median of per-round ratios | gateway CPU s/1k, no load | with load | event loop thread s/1k, no load | with load | worker threads s/1k, no load | with load | turns |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const ratios = new Map<string, number>();
  for (const scenario of [...new Set(turns.map((t) => t.scenario))]) {
    const of = (w: boolean) => turns.filter((t) => t.scenario === scenario && t.withConsole === w);
    const without = median(of(false).map((t) => t.rate));
    const withLoad = median(of(true).map((t) => t.rate));
    const perRound = [...new Set(of(true).map((t) => t.round))].map((r) => ratio(
      of(true).find((t) => t.round === r)!.rate, of(false).find((t) => t.round === r)?.rate ?? NaN));
    const paired = median(perRound);
    ratios.set(scenario, ratio(withLoad, without));
    const per1k = (w: boolean, f: (t: ConsoleTurn) => number) => median(of(w).map((t) => (f(t) / t.messages) * 1000)).toFixed(2);
    lines.push(`| ${scenario} | ${without.toFixed(0)} | ${withLoad.toFixed(0)} | ${ratio(withLoad, without).toFixed(3)} | ${paired.toFixed(3)} | ` +
      `${median(of(false).map((t) => t.cpuPer1000)).toFixed(2)} | ${median(of(true).map((t) => t.cpuPer1000)).toFixed(2)} | ` +
      `${per1k(false, (t) => t.threads.main)} | ${per1k(true, (t) => t.threads.main)} | ${per1k(false, (t) => t.threads.workers)} | ${per1k(true, (t) => t.threads.workers)} | ` +
      `${of(false).length} + ${of(true).length} |`);
  }
  return { lines, ratios };
}

function apiTable(reports: LoadReport[]): string[] {
  const seconds = reports.reduce((a, r) => a + r.seconds, 0);
  const requests = reports.reduce((a, r) => a + r.requests, 0);
  const lines = [
    `API load: ${requests} requests in ${seconds.toFixed(0)} s of loaded turns (${(requests / seconds).toFixed(1)} requests/s achieved), ` +
      `${reports.reduce((a, r) => a + r.skipped, 0)} not started (32 in flight), load client CPU ${reports.reduce((a, r) => a + r.cpuSeconds, 0).toFixed(1)} s`,
    '',
    '| request | answered | errors | p50 ms | p99 ms | max ms |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  const kinds = [...new Set(reports.flatMap((r) => Object.keys(r.byKind)))].sort();
  const row = (name: string, values: number[], errors: number) => {
    const s = stats(values, errors);
    lines.push(`| ${name} | ${values.length} | ${errors} | ${s.p50Ms.toFixed(0)} | ${s.p99Ms.toFixed(0)} | ${s.maxMs.toFixed(0)} |`);
  };
  for (const kind of kinds) {
    row(kind, reports.flatMap((r) => r.latenciesMs[kind] ?? []), reports.reduce((a, r) => a + (r.byKind[kind]?.errors ?? 0), 0));
  }
  row('all', reports.flatMap((r) => Object.values(r.latenciesMs).flat()), reports.reduce((a, r) => a + r.errors, 0));
  return lines;
}

export function renderReport(header: string, turns: ConsoleTurn[], rate: number): { text: string; ok: boolean } {
  const reports = turns.map((t) => t.api).filter((r): r is LoadReport => r !== null);
  const { lines, ratios } = smtpTable(turns);
  const out = [header, '', ...lines, '', ...apiTable(reports), '', `Target (issue 13, ${rate} API requests/s from a second process):`];
  for (const [scenario, r] of ratios) {
    out.push(`  ${r >= TARGET ? 'met    ' : 'NOT met'}  ${scenario}: with the console loaded ${(Math.abs(1 - r) * 100).toFixed(1)} % ${r <= 1 ? 'fewer' : 'more'} messages/s (bound: 5 % fewer)`);
  }
  const problems = turns.flatMap((t) => t.problems.map((p) => `${t.scenario} ${t.withConsole ? 'with' : 'without'} load, round ${t.round + 1}: ${p}`));
  const apiErrors = reports.flatMap((r) => r.errorSamples);
  out.push('', problems.length ? `Correctness problems (${problems.length}):\n  ${problems.join('\n  ')}`
    : 'Correctness: every turn checked (5.7.68 on every Direct Send, sink count = accepted count, trace agrees).');
  const errorCount = reports.reduce((a, r) => a + r.errors, 0);
  if (errorCount > 0) out.push(`API errors (${errorCount}), e.g.:\n  ${apiErrors.join('\n  ')}`);
  return { text: out.join('\n'), ok: problems.length === 0 && errorCount === 0 };
}
