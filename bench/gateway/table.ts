// The printed results: one row per scenario, medians over the turns, mxward's ratio to each peer.
import type { IdleResult } from './idle.ts';
import { median, ratio } from './stats.ts';
import type { TurnResult } from './turn.ts';

const PEERS = ['mxward', 'postfix', 'haraka'] as const;

export interface Row {
  scenario: string;
  byPeer: Record<string, { rate: number; cpuPer1000: number; driverCpuPer1000: number; peakRssMb: number; turns: number }>;
}

export function summarize(turns: TurnResult[]): Row[] {
  const scenarios = [...new Set(turns.map((t) => t.scenario))];
  return scenarios.map((scenario) => {
    const byPeer: Row['byPeer'] = {};
    for (const peer of PEERS) {
      const mine = turns.filter((t) => t.scenario === scenario && t.peer === peer);
      if (mine.length === 0) continue;
      byPeer[peer] = {
        rate: median(mine.map((t) => t.rate)),
        cpuPer1000: median(mine.map((t) => t.cpuPer1000)),
        driverCpuPer1000: median(mine.map((t) => t.driverCpuPer1000)),
        peakRssMb: median(mine.map((t) => t.peakRssBytes / 2 ** 20)),
        turns: mine.length,
      };
    }
    return { scenario, byPeer };
  });
}

function cell(value: number, digits = 0): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

function ratioCell(a: number, b: number): string {
  const r = ratio(a, b);
  return Number.isFinite(r) ? `${r.toFixed(2)}×` : '-';
}

/**
 * The load generator's own CPU per scenario: smtp-source runs on the same two cores as the server,
 * so where the cores are full a peer's rate depends on it too (issue 17).
 */
export function renderDriverCpu(rows: Row[]): string {
  const lines = rows.map((r) => `  ${r.scenario.padEnd(18)} ${PEERS.filter((p) => r.byPeer[p]).map((p) => `${p} ${cell(r.byPeer[p]!.driverCpuPer1000, 2)}`).join(', ')}`);
  return ['smtp-source\'s own CPU, s per 1,000 transactions (medians; it shares the cores with the server):', ...lines].join('\n');
}

/** A Markdown table, readable in a terminal and pasted as is into docs/performance.md. */
export function renderTable(rows: Row[]): string {
  const head = ['scenario', 'mxward msg/s', 'Postfix msg/s', 'Haraka msg/s', 'vs Postfix', 'vs Haraka',
    'CPU s/1k mxward', 'Postfix', 'Haraka', 'peak RSS MB mxward', 'Postfix', 'Haraka'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((h, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const r of rows) {
    const m = r.byPeer.mxward;
    const p = r.byPeer.postfix;
    const h = r.byPeer.haraka;
    lines.push(`| ${[
      r.scenario, cell(m?.rate), cell(p?.rate), cell(h?.rate), ratioCell(m?.rate, p?.rate), ratioCell(m?.rate, h?.rate),
      cell(m?.cpuPer1000, 2), cell(p?.cpuPer1000, 2), cell(h?.cpuPer1000, 2),
      cell(m?.peakRssMb), cell(p?.peakRssMb), cell(h?.peakRssMb),
    ].join(' | ')} |`);
  }
  return lines.join('\n');
}

export function renderIdle(results: IdleResult[]): string {
  const lines = ['| idle sessions | peer | held | RSS MB | new-session banner median ms | max ms |', '|---|---|---:|---:|---:|---:|'];
  for (const r of results) {
    lines.push(`| ${r.held} | ${r.peer} | ${r.held} | ${cell(r.rssBytes / 2 ** 20)} | ${cell(r.bannerMedianMs, 1)} | ${cell(r.bannerMaxMs, 1)} |`);
  }
  return lines.join('\n');
}

export interface TargetCheck {
  target: string;
  met: boolean;
  detail: string;
}

/**
 * Issue 17's targets with authentication off (as issue 6 measured, raised): accept ≥ 2× Postfix
 * and reject ≥ 1.5× Postfix at 1, 20 and 100 sessions, every size the run measured.
 */
export function checkAuthOffTargets(rows: Row[]): TargetCheck[] {
  const out: TargetCheck[] = [];
  for (const r of rows) {
    const path = r.scenario.split(' ')[0];
    const need = path === 'accept' ? 2 : path === 'reject' ? 1.5 : 0;
    if (!need || !r.byPeer.mxward || !r.byPeer.postfix) continue;
    const x = ratio(r.byPeer.mxward.rate, r.byPeer.postfix.rate);
    out.push({ target: `${r.scenario}: ≥ ${need}× Postfix`, met: x >= need, detail: `${x.toFixed(2)}×` });
  }
  return out;
}

/** Issue 6's targets, judged on the medians. */
export function checkTargets(rows: Row[], idle: IdleResult[]): TargetCheck[] {
  const out: TargetCheck[] = [];
  const get = (id: string) => rows.find((r) => r.scenario === id);
  for (const id of ['accept 20s 1KB', 'accept 20s 50KB']) {
    const r = get(id);
    if (!r?.byPeer.mxward || !r.byPeer.postfix) continue;
    const x = ratio(r.byPeer.mxward.rate, r.byPeer.postfix.rate);
    out.push({ target: `${id}: ≥ 1.5× Postfix`, met: x >= 1.5, detail: `${x.toFixed(2)}×` });
  }
  for (const id of ['reject 20s 1KB', 'reject 100s 1KB']) {
    const r = get(id);
    if (!r?.byPeer.mxward || !r.byPeer.postfix) continue;
    const x = ratio(r.byPeer.mxward.rate, r.byPeer.postfix.rate);
    out.push({ target: `${id}: ≥ 1.0× Postfix`, met: x >= 1.0, detail: `${x.toFixed(2)}×` });
  }
  const behind = rows.filter((r) => r.byPeer.mxward && r.byPeer.haraka && r.byPeer.mxward.rate <= r.byPeer.haraka.rate);
  out.push({ target: 'ahead of Haraka in every scenario', met: behind.length === 0, detail: behind.length ? `behind in: ${behind.map((r) => r.scenario).join(', ')}` : `${rows.length} scenarios` });
  const mx = idle.find((r) => r.peer === 'mxward');
  if (mx) {
    const rssMb = mx.rssBytes / 2 ** 20;
    out.push({ target: `${mx.held} idle sessions: RSS < 250 MB, banner < 100 ms`, met: rssMb < 250 && mx.bannerMaxMs < 100 && mx.problems.length === 0, detail: `${rssMb.toFixed(0)} MB, banner max ${mx.bannerMaxMs.toFixed(1)} ms` });
  }
  const accepts = rows.filter((r) => r.scenario.startsWith('accept') && r.byPeer.mxward && r.byPeer.postfix);
  const higher = accepts.filter((r) => r.byPeer.mxward.cpuPer1000 >= r.byPeer.postfix.cpuPer1000);
  if (accepts.length) out.push({ target: 'CPU per accepted message below Postfix', met: higher.length === 0, detail: higher.length ? `not below in: ${higher.map((r) => r.scenario).join(', ')}` : `${accepts.length} accept scenarios` });
  return out;
}
