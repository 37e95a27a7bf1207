// The HTML report: one self-contained file (inline CSS, SVG and script; a CSP that forbids any
// fetch), so it can be mailed or archived and opened offline. Every value from the input is
// escaped: subjects, HELOs and file names are attacker-controlled text.
import type { ReportModel, SourceReport } from '../build-report.ts';
import { KIND_TITLES, MESSAGE_KINDS } from '../classify.ts';
import type { MessageKind } from '../classify.ts';
import { formatProblem } from '../types.ts';
import { countText } from '../count-text.ts';

const KIND_COLORS: Record<MessageKind, string> = {
  'direct-send': '#d1495b', 'header-from': '#edae49', connector: '#00798c', internal: '#30638e', external: '#a0a0a0',
};
const LABEL_COLORS: Record<string, string> = {
  suspicious: '#d1495b', authorised: '#2a9d8f', forwarder: '#edae49', unknown: '#888',
};

export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const n = countText;

/** Stacked bars per day, one colour per kind. */
function volumeChart(model: ReportModel): string {
  const days = model.volume;
  if (!days.length) return '<p class="muted">No timestamps in the input.</p>';
  const width = 900;
  const height = 200;
  const max = Math.max(1, ...days.map((d) => MESSAGE_KINDS.reduce((s, k) => s + d.kinds[k], 0)));
  const bar = width / days.length;
  const rects: string[] = [];
  days.forEach((d, i) => {
    let y = height;
    for (const k of MESSAGE_KINDS) {
      const h = (d.kinds[k] / max) * (height - 10);
      if (h <= 0) continue;
      y -= h;
      rects.push(`<rect x="${(i * bar + 1).toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(1, bar - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${KIND_COLORS[k]}"><title>${escapeHtml(d.day)} ${escapeHtml(KIND_TITLES[k])}: ${n(d.kinds[k])}</title></rect>`);
    }
  });
  const first = escapeHtml(days[0].day);
  const last = escapeHtml(days[days.length - 1].day);
  return `<svg id="volume-chart" role="img" aria-label="Volume over time" viewBox="0 0 ${width} ${height + 20}" width="100%">${rects.join('')}
<text x="0" y="${height + 15}" class="axis">${first}</text><text x="${width}" y="${height + 15}" text-anchor="end" class="axis">${last}</text>
<text x="${width}" y="12" text-anchor="end" class="axis">max ${n(max)}/day</text></svg>`;
}

function barList(id: string, title: string, items: Array<{ label: string; value: number; color: string }>): string {
  if (!items.length) return `<p class="muted">No ${escapeHtml(title.toLowerCase())}.</p>`;
  const max = Math.max(1, ...items.map((i) => i.value));
  const rowH = 22;
  const body = items.map((it, i) => {
    const w = (it.value / max) * 520;
    return `<g transform="translate(0,${i * rowH})"><text x="0" y="15" class="lbl">${escapeHtml(it.label.length > 40 ? `${it.label.slice(0, 39)}…` : it.label)}</text>`
      + `<rect x="300" y="3" width="${Math.max(1, w).toFixed(1)}" height="15" fill="${it.color}"></rect>`
      + `<text x="${(305 + w).toFixed(1)}" y="15" class="lbl">${n(it.value)}</text></g>`;
  }).join('');
  return `<svg id="${id}" role="img" aria-label="${escapeHtml(title)}" viewBox="0 0 900 ${items.length * rowH + 4}" width="100%">${body}</svg>`;
}

function sourceRow(s: SourceReport, whatIf: boolean): string {
  const auth = (r: Record<string, number>): string => Object.entries(r).map(([k, v]) => `${k} ${v}`).join(', ');
  return `<tr>
<td>${escapeHtml(s.key)}</td><td>${escapeHtml(s.network ?? '')}</td>
<td><span class="label" style="background:${LABEL_COLORS[s.label]}">${escapeHtml(s.label === 'unknown' ? 'unknown: decide' : s.label)}</span></td>
<td class="num" data-sort="${s.rows}">${n(s.rows)}</td><td class="num" data-sort="${s.wouldReject}">${n(s.wouldReject)}</td>
${whatIf ? `<td class="num" data-sort="${s.whatIfReject ?? 0}">${n(s.whatIfReject ?? 0)}</td>` : ''}
<td>${escapeHtml(s.firstSeen?.slice(0, 16).replace('T', ' ') ?? '')}</td><td>${escapeHtml(s.lastSeen?.slice(0, 16).replace('T', ' ') ?? '')}</td>
<td class="num" data-sort="${s.recipients}">${s.recipientsEstimated ? '≈' : ''}${n(s.recipients)}</td>
<td>${escapeHtml(s.p1Domains.map(([d, c]) => `${d} (${c})`).join(', '))}</td>
<td>${escapeHtml(s.helos.join(', '))}${s.ptrs.length ? `<br><span class="muted">PTR ${escapeHtml(s.ptrs.join(', '))}</span>` : ''}</td>
<td>${escapeHtml([auth(s.auth.spf) && `SPF ${auth(s.auth.spf)}`, auth(s.auth.dmarc) && `DMARC ${auth(s.auth.dmarc)}`, auth(s.auth.compauth) && `compauth ${auth(s.auth.compauth)}`].filter(Boolean).join('; '))}</td>
<td>${s.subjects.map((x) => escapeHtml(x)).join('<br>')}</td>
<td>${escapeHtml(s.evidenceFor.map((e) => e.text).join('; ') || '-')}</td>
<td class="warn">${escapeHtml(s.evidenceAgainst.join('; ') || '-')}</td>
<td>${escapeHtml(s.facts.join('; '))}</td></tr>`;
}

// Sorting runs in the page with no library: click a header to sort by it, again to reverse.
const SORT_SCRIPT = `document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var dir = th.getAttribute('data-dir') === 'asc' ? -1 : 1;
      table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('data-dir'); });
      th.setAttribute('data-dir', dir === 1 ? 'asc' : 'desc');
      function key(row) { var c = row.cells[col]; var s = c.getAttribute('data-sort'); return s === null ? c.textContent.trim().toLowerCase() : Number(s); }
      rows.sort(function (a, b) { var x = key(a), y = key(b); return (x < y ? -1 : x > y ? 1 : 0) * dir; });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});`;

const STYLE = `body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;padding:10px 14px;min-width:160px}
.card b{display:block;font-size:22px}.bad b{color:#d1495b}.muted{color:#777}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid #eee;padding:4px 6px;text-align:left;vertical-align:top}
th{cursor:pointer;background:#f6f6f6;user-select:none}th[data-dir=asc]::after{content:" ▲"}th[data-dir=desc]::after{content:" ▼"}
td.num{text-align:right}.label{color:#fff;border-radius:3px;padding:1px 6px;white-space:nowrap}
pre{background:#f6f6f6;padding:8px;overflow-x:auto;white-space:pre-wrap}.axis,.lbl{font-size:12px;fill:#444}
.legend span{display:inline-block;margin-right:14px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
.warn{color:#a4161a}
#headline{border:2px solid #30638e;border-radius:8px;padding:10px 16px;margin:12px 0}#headline-text{font-size:18px;font-weight:600;margin:4px 0 8px}
.connector h3{font-size:15px;margin:8px 0 2px}.connector pre{margin:4px 0}.evidence{margin:2px 0;font-size:13px}.note{margin:4px 0;color:#444}`;

export function renderHtml(model: ReportModel): string {
  const t = model.totals;
  const whatIf = t.whatIfReject !== null;
  const rejecting = model.sources.filter((s) => s.wouldReject > 0).length;
  const legend = MESSAGE_KINDS.map((k) => `<span><i style="background:${KIND_COLORS[k]}"></i>${escapeHtml(KIND_TITLES[k])}</span>`).join('');
  const topSources = model.sources.slice(0, 15).map((s) => ({ label: `${s.key} (${s.label})`, value: s.rows, color: LABEL_COLORS[s.label] }));
  const kinds = MESSAGE_KINDS.map((k) => ({ label: KIND_TITLES[k], value: t.kinds[k], color: KIND_COLORS[k] }));
  const recs = model.recommendations.map((r) => `<div class="connector"><h3>${escapeHtml(r.name)}</h3>
<p>${r.by === 'certificate' ? `Certificate <code>${escapeHtml(r.certificateName)}</code>` : `IP ${escapeHtml(r.senderIPAddresses.join(', '))}`}: ${n(r.rows)} message(s) from ${escapeHtml(r.sources.join(', '))}; sender domains ${escapeHtml(r.senderDomains.join(', '))}.</p>
<ul class="evidence">${r.evidence.slice(0, 5).map((e) => `<li>${escapeHtml(e)}</li>`).join('')}</ul>
${r.warnings.map((w) => `<p class="warn">Warning: ${escapeHtml(w)}</p>`).join('')}
<pre>${escapeHtml(r.powershell)}</pre><pre>${escapeHtml(r.mxward)}</pre></div>`).join('');
  const h = model.headline;
  const problems = model.problems.shown.map((p) => `<li>${escapeHtml(formatProblem(p))}</li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mxward report: Direct Send traffic</title><style>${STYLE}</style></head>
<body>
<h1>Direct Send traffic report</h1>
<section id="headline"><p id="headline-text">${escapeHtml(h.text)}</p>
<div id="connectors">${recs || (t.wouldReject ? '<p class="muted">No source that enforcing would stop has positive evidence of authorisation (SPF, DMARC pass, or --known-sender): no connector is suggested.</p>' : '')}</div>
${model.recommendations.length ? `<details><summary>As YAML for <code>mxward policy merge FILE</code> (adds these connectors, removes nothing)</summary><pre id="policy-yaml">${escapeHtml(model.policyYaml)}</pre></details>` : ''}
${h.notes.map((x) => `<p class="note">${escapeHtml(x)}</p>`).join('')}</section>
<p class="muted">Generated ${escapeHtml(model.generatedAt)} by mxward from ${model.inputs.length} input(s)${t.firstSeen ? `, traffic from ${escapeHtml(t.firstSeen.slice(0, 10))} to ${escapeHtml(t.lastSeen!.slice(0, 10))}` : ''}.
Accepted domains: ${escapeHtml(model.organization.acceptedDomains.join(', ') || '(none)')}. Known connectors: ${escapeHtml(model.organization.connectors.join(', ') || '(none)')}.</p>
<div class="cards">
<div class="card"><b id="total-rows">${n(t.rows)}</b>rows read</div>
<div class="card bad"><b id="would-reject">${n(t.wouldReject)}</b>would be rejected by Reject Direct Send</div>
<div class="card"><b>${n(rejecting)}</b>sources affected</div>
<div class="card"><b>${n(t.headerFromWouldReject)}</b>header-From Direct Send (mxward only)</div>
${whatIf ? `<div class="card"><b id="what-if-reject">${n(t.whatIfReject!)}</b>still rejected with ${escapeHtml(model.organization.whatIfConnectors?.join(', ') || 'no connectors')}</div>` : ''}
<div class="card"><b>${n(model.problems.count)}</b>input problems skipped</div>
</div>
<h2>Volume over time</h2><div class="legend">${legend}</div>${volumeChart(model)}
<h2>Kinds</h2>${barList('kinds-chart', 'Kinds', kinds)}
<h2>Top sources</h2>${barList('sources-chart', 'Top sources', topSources)}
<h2>Sources</h2>
<table id="sources" class="sortable"><thead><tr><th>source</th><th>network</th><th>label</th><th>rows</th><th>would reject</th>${whatIf ? '<th>what-if</th>' : ''}<th>first seen</th><th>last seen</th><th>recipients</th><th>P1 domains</th><th>HELO / PTR</th><th>authentication</th><th>subjects (sample)</th><th>evidence for</th><th>evidence against</th><th>facts</th></tr></thead>
<tbody>${model.sources.map((s) => sourceRow(s, whatIf)).join('\n')}</tbody></table>
<h2>Networks</h2>
<table id="networks" class="sortable"><thead><tr><th>network</th><th>sources</th><th>rows</th><th>would reject</th></tr></thead>
<tbody>${model.networks.map((x) => `<tr><td>${escapeHtml(x.network)}</td><td class="num" data-sort="${x.sources}">${n(x.sources)}</td><td class="num" data-sort="${x.rows}">${n(x.rows)}</td><td class="num" data-sort="${x.wouldReject}">${n(x.wouldReject)}</td></tr>`).join('')}</tbody></table>
<h2>Input problems</h2>
${problems ? `<ul id="problems">${problems}</ul>${model.problems.count > model.problems.shown.length ? `<p class="muted">…and ${n(model.problems.count - model.problems.shown.length)} more.</p>` : ''}` : '<p class="muted">None.</p>'}
<script>${SORT_SCRIPT}</script>
</body></html>
`;
}
