// Charts as SVG written by hand, as the HTML report does (src/report/render/html.ts): two shapes
// are all the console needs, and a chart library would be the largest file in the package.
import { html } from './html.js';
import { formatNumber } from './format.js';

const H = 220;
const PAD = { left: 64, right: 8, top: 10, bottom: 40 };

/** A phone gets a narrower canvas, so the same labels are drawn larger (charts redraw with the view). */
const narrow = () => window.matchMedia('(max-width: 760px)').matches;

/** A round top for the axis whose half is a whole number too (no "2.5 messages"). */
function niceMax(n) {
  if (n <= 4) return 4;
  if (n <= 10) return Math.ceil(n / 2) * 2;
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
 * Stacked bars over time: `points` is [{ time, values: [n0, n1, …], note? }] in time order and `series`
 * names each value (drawn bottom up, classes bar-0, bar-1, …). Each segment has a <title>, so its
 * count is read out by screen readers and shown on hover; the figure has a text summary.
 */
export function TimeBars({ id, points, series = ['count'], label, empty = 'No data in this window.' }) {
  const totals = points.map((p) => p.values.reduce((a, b) => a + b, 0));
  const total = totals.reduce((a, b) => a + b, 0);
  if (points.length === 0 || total === 0) {
    return html`<figure class="chart" id=${id}><figcaption>${label}</figcaption><p class="empty">${empty}</p></figure>`;
  }
  const max = niceMax(Math.max(...totals));
  const W = narrow() ? 440 : 960;
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const step = plotW / points.length;
  const barW = Math.max(1, step * 0.8);
  const spanMs = Date.parse(points[points.length - 1].time) - Date.parse(points[0].time);
  const labelEvery = Math.max(1, Math.ceil(points.length / (W < 960 ? 4 : 8)));
  const y = (v) => PAD.top + plotH - (v / max) * plotH;
  const segments = (p, i) => {
    let base = 0;
    return p.values.map((v, k) => {
      const from = base;
      base += v;
      return v > 0 ? html`<rect class=${`bar bar-${k}`} x=${PAD.left + i * step + (step - barW) / 2} y=${y(base)} width=${barW} height=${y(from) - y(base)}>
        <title>${p.time}: ${v} ${series[k]}${p.note ? ` (${p.note})` : ''}</title></rect>` : null;
    });
  };
  return html`<figure class="chart time-chart" id=${id}>
    <figcaption>${label} <span class="chart-total">(${formatNumber(total)} in total)</span></figcaption>
    ${series.length > 1 ? html`<ul class="legend">${series.map((name, k) => html`<li><span class=${`swatch bar-${k}`}></span>${name}</li>`)}</ul>` : null}
    <svg viewBox=${`0 0 ${W} ${H}`} role="img" aria-label=${`${label}: ${total} in ${points.length} intervals`} preserveAspectRatio="xMidYMid meet">
      <line class="axis" x1=${PAD.left} y1=${y(0)} x2=${W - PAD.right} y2=${y(0)} />
      <line class="grid" x1=${PAD.left} y1=${y(max / 2)} x2=${W - PAD.right} y2=${y(max / 2)} />
      <text class="tick" x=${PAD.left - 4} y=${y(max) + 4} text-anchor="end">${formatNumber(max)}</text>
      <text class="tick" x=${PAD.left - 4} y=${y(max / 2) + 4} text-anchor="end">${formatNumber(max / 2)}</text>
      <text class="tick" x=${PAD.left - 4} y=${y(0) + 4} text-anchor="end">0</text>
      ${points.map(segments)}
      ${points.map((p, i) => (i % labelEvery === 0
        ? html`<text class="tick" x=${PAD.left + i * step + step / 2} y=${H - PAD.bottom + 22} text-anchor="middle">${tickLabel(p.time, spanMs)}</text>`
        : null))}
    </svg>
  </figure>`;
}

/**
 * Counts by name ([[name, count]]), e.g. verdicts or connectors: a table whose names and numbers
 * are text at the page's size, each with a bar drawn in its own small SVG.
 */
export function CountBars({ id, entries, label, empty = 'None.' }) {
  if (entries.length === 0) return html`<figure class="chart" id=${id}><figcaption>${label}</figcaption><p class="empty">${empty}</p></figure>`;
  const max = Math.max(1, ...entries.map(([, n]) => n));
  return html`<figure class="chart" id=${id}>
    <figcaption>${label}</figcaption>
    <table class="count-bars">
      <tbody>${entries.map(([name, n]) => html`<tr>
        <th scope="row">${name}</th>
        <td class="count-bar"><svg viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true"><rect class="bar" x="0" y="0" height="10" width=${Math.max(0.5, (n / max) * 100)} /></svg></td>
        <td class="num">${formatNumber(n)}</td>
      </tr>`)}</tbody>
    </table>
  </figure>`;
}
