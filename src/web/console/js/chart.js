// Charts as SVG written by hand, as the HTML report does (src/report/render/html.ts): two shapes
// are all the console needs, and a chart library would be the largest file in the package.
import { html } from './html.js';
import { formatNumber } from './format.js';

const W = 960;
const H = 220;
/** Count bars sit in narrow cards: a smaller canvas keeps their text readable. */
const CW = 360;
const PAD = { left: 44, right: 8, top: 10, bottom: 34 };

function niceMax(n) {
  if (n <= 5) return 5;
  const p = 10 ** Math.floor(Math.log10(n));
  return Math.ceil(n / p) * p;
}

function tickLabel(iso, spanMs) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const text = d.toISOString();
  return spanMs > 2 * 86_400_000 ? text.slice(5, 10) : text.slice(11, 16);
}

/**
 * Bars over time: `points` is [{ time, count }] in time order. Each bar has a <title> so the
 * count is read out by screen readers and shown on hover; the figure has a text summary.
 */
export function TimeBars({ id, points, label, empty = 'No data in this window.' }) {
  const total = points.reduce((s, p) => s + p.count, 0);
  if (points.length === 0 || total === 0) {
    return html`<figure class="chart" id=${id}><figcaption>${label}</figcaption><p class="empty">${empty}</p></figure>`;
  }
  const max = niceMax(Math.max(...points.map((p) => p.count)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const step = plotW / points.length;
  const barW = Math.max(1, step * 0.8);
  const spanMs = Date.parse(points[points.length - 1].time) - Date.parse(points[0].time);
  const labelEvery = Math.max(1, Math.ceil(points.length / 8));
  const y = (v) => PAD.top + plotH - (v / max) * plotH;
  return html`<figure class="chart" id=${id}>
    <figcaption>${label} <span class="chart-total">(${formatNumber(total)} in total)</span></figcaption>
    <svg viewBox=${`0 0 ${W} ${H}`} role="img" aria-label=${`${label}: ${total} in ${points.length} intervals`} preserveAspectRatio="xMidYMid meet">
      <line class="axis" x1=${PAD.left} y1=${y(0)} x2=${W - PAD.right} y2=${y(0)} />
      <line class="grid" x1=${PAD.left} y1=${y(max / 2)} x2=${W - PAD.right} y2=${y(max / 2)} />
      <text class="tick" x=${PAD.left - 4} y=${y(max) + 4} text-anchor="end">${formatNumber(max)}</text>
      <text class="tick" x=${PAD.left - 4} y=${y(max / 2) + 4} text-anchor="end">${formatNumber(max / 2)}</text>
      <text class="tick" x=${PAD.left - 4} y=${y(0) + 4} text-anchor="end">0</text>
      ${points.map((p, i) => html`<rect class="bar" x=${PAD.left + i * step + (step - barW) / 2} y=${y(p.count)} width=${barW} height=${Math.max(0, y(0) - y(p.count))}>
        <title>${p.time}: ${p.count}</title></rect>`)}
      ${points.map((p, i) => (i % labelEvery === 0
        ? html`<text class="tick" x=${PAD.left + i * step + step / 2} y=${H - PAD.bottom + 16} text-anchor="middle">${tickLabel(p.time, spanMs)}</text>`
        : null))}
    </svg>
  </figure>`;
}

/** Horizontal bars for counts by name ([[name, count]]), e.g. verdicts or connectors. */
export function CountBars({ id, entries, label, empty = 'None.' }) {
  if (entries.length === 0) return html`<figure class="chart" id=${id}><figcaption>${label}</figcaption><p class="empty">${empty}</p></figure>`;
  const max = Math.max(1, ...entries.map(([, n]) => n));
  const rowH = 22;
  const nameW = 120;
  const barMax = CW - nameW - 50;
  return html`<figure class="chart" id=${id}>
    <figcaption>${label}</figcaption>
    <svg viewBox=${`0 0 ${CW} ${entries.length * rowH + 4}`} role="img" aria-label=${`${label}: ${entries.map(([k, n]) => `${k} ${n}`).join(', ')}`}>
      ${entries.map(([name, n], i) => html`<g class=${`count-row count-${String(name).replace(/[^a-z0-9-]/gi, '_')}`}>
        <text class="tick" x=${nameW - 6} y=${i * rowH + 15} text-anchor="end">${String(name).slice(0, 18)}</text>
        <rect class="bar" x=${nameW} y=${i * rowH + 3} width=${Math.max(1, (n / max) * barMax)} height=${rowH - 6}><title>${name}: ${n}</title></rect>
        <text class="value" x=${nameW + Math.max(1, (n / max) * barMax) + 6} y=${i * rowH + 15}>${formatNumber(n)}</text>
      </g>`)}
    </svg>
  </figure>`;
}
