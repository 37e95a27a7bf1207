// Dashboard: Direct Send traffic from the live trace, and the question report mode exists for:
// "switching to enforce now would refuse these sources (attacks vs. senders you may need): add
// these connectors first".
import { html } from '../html.js';
import { api } from '../api.js';
import { Loader } from '../components.js';
import { TimeBars, CountBars } from '../chart.js';
import { countsOf, formatNumber, CAN } from '../format.js';
import { MergePanel } from '../merge.js';
import { navigate } from '../router.js';

const WINDOWS = [['1h', 'Last hour', 3_600_000, 300_000], ['24h', 'Last 24 hours', 86_400_000, 3_600_000], ['7d', 'Last 7 days', 7 * 86_400_000, 86_400_000]];

/** Points over time from the dashboard answer, whichever of the documented names it uses. */
function timeline(d) {
  const raw = d.wouldRejectOverTime ?? d.wouldRejectSeries ?? d.timeline ?? d.buckets ?? d.wouldReject?.buckets ?? [];
  return raw.map((b) => ({ time: b.time ?? b.start ?? b.bucket ?? b.from, count: Number(b.wouldReject ?? b.count ?? b.messages ?? 0) }));
}

function sourcesOf(list) {
  return (list ?? []).map((s) => ({
    ip: s.ip ?? s.source ?? s.key ?? s.remoteIp ?? '?',
    messages: Number(s.wouldReject ?? s.messages ?? s.count ?? s.rows ?? 0),
    label: s.label ?? '',
    why: (s.reasons ?? s.evidence ?? s.evidenceFor ?? []).map((r) => (typeof r === 'string' ? r : r.text ?? r.detail ?? JSON.stringify(r))).join('; '),
    domains: (s.senderDomains ?? s.p1Domains ?? []).map((x) => (Array.isArray(x) ? x[0] : x)).join(', '),
  }));
}

function enforceNow(d) {
  const e = d.enforceNow ?? d.switchToEnforce ?? d.enforce ?? {};
  const fragment = e.fragment ?? e.connectorsToAdd ?? e.policyFragment ?? { connectors: e.connectors ?? [] };
  return {
    attacks: sourcesOf(e.attacks ?? e.likelyAttacks ?? e.refuse),
    needed: sourcesOf(e.needed ?? e.sendersYouMayNeed ?? e.mayNeed ?? e.authorised),
    fragment: Array.isArray(fragment) ? { connectors: fragment } : fragment,
  };
}

function SourceTable({ id, rows, caption }) {
  if (rows.length === 0) return html`<p class="empty" id=${id}>None.</p>`;
  return html`<div class="table-wrap"><table id=${id}>
    <caption>${caption}</caption>
    <thead><tr><th scope="col">Source</th><th scope="col">Messages</th><th scope="col">Sender domains</th><th scope="col">Why</th></tr></thead>
    <tbody>${rows.map((s) => html`<tr>
      <td><a href=${`#/trace?ip=${encodeURIComponent(s.ip)}`}>${s.ip}</a></td><td class="num">${formatNumber(s.messages)}</td><td>${s.domains}</td><td>${s.why || s.label}</td>
    </tr>`)}</tbody>
  </table></div>`;
}

export class Dashboard extends Loader {
  windowOf() {
    return WINDOWS.find(([k]) => k === (this.props.route.query.window ?? '24h')) ?? WINDOWS[1];
  }
  load() {
    const [, , spanMs, bucketMs] = this.windowOf();
    return api('get', '/dashboard', { query: { since: new Date(Date.now() - spanMs).toISOString(), bucket: bucketMs / 1000 } });
  }
  view(d) {
    const [key] = this.windowOf();
    const e = enforceNow(d);
    const q = d.quarantine ?? d.quarantineCounts ?? {};
    return html`<section class="dashboard" aria-labelledby="dash-title">
      <div class="view-head">
        <h1 id="dash-title">Dashboard</h1>
        <label class="inline">Window
          <select id="dash-window" value=${key} onChange=${(ev) => navigate('dashboard', { window: ev.currentTarget.value })}>
            ${WINDOWS.map(([k, text]) => html`<option value=${k} selected=${k === key}>${text}</option>`)}
          </select>
        </label>
        <button onClick=${() => this.reload()}>Refresh</button>
      </div>
      <section class="card enforce" id="enforce-now" aria-labelledby="enforce-title">
        <h2 id="enforce-title">If you switch Reject Direct Send to enforce now</h2>
        <p class="headline" id="enforce-headline">${d.headline?.text ?? e.headline ?? `It would refuse ${e.attacks.length} source${e.attacks.length === 1 ? '' : 's'} that look like attacks or are unknown, and ${e.needed.length} sender${e.needed.length === 1 ? '' : 's'} you may need.`}</p>
        <div class="two">
          <div><h3>Attacks and unknown sources</h3><${SourceTable} id="enforce-attacks" rows=${e.attacks} caption="Refused, and that is the point" /></div>
          <div><h3>Senders you may need</h3><${SourceTable} id="enforce-needed" rows=${e.needed} caption="Add a connector for these first" /></div>
        </div>
        <h3>Add these connectors first</h3>
        <${MergePanel} id="enforce-merge" fragment=${e.fragment} canWrite=${CAN.writePolicy(this.props.session.role)} onApplied=${() => this.reload()} />
      </section>
      <div class="grid">
        <section class="card wide">
          <${TimeBars} id="would-reject-chart" points=${timeline(d)} label="Direct Send messages that enforce would reject" />
        </section>
        <section class="card"><${CountBars} id="verdict-chart" entries=${countsOf(d.verdicts)} label="Verdicts" /></section>
        <section class="card"><${CountBars} id="connector-chart" entries=${countsOf(d.connectors ?? d.connectorsInUse, 'connector')} label="Connectors in use" /></section>
        <section class="card"><${CountBars} id="quarantine-chart" entries=${countsOf(q.byState ?? q.states ?? q)} label="Quarantine" empty="Nothing held." /></section>
      </div>
    </section>`;
  }
}
