// Dashboard: Direct Send traffic from the live trace (GET /dashboard, computed off the gateway's
// event loop), and the question report mode exists for: "switching to enforce now would refuse
// these sources (attacks vs. senders you may need): add these connectors first".
import { html } from '../html.js';
import { api } from '../api.js';
import { Loader } from '../components.js';
import { TimeBars, CountBars } from '../chart.js';
import { formatNumber, formatTime, CAN } from '../format.js';
import { MergePanel } from '../merge.js';
import { navigate } from '../router.js';

/** [key, label, since (an age the API reads), bucket] */
const WINDOWS = [['1h', 'Last hour', '1h', '5m'], ['24h', 'Last 24 hours', '24h', '1h'], ['7d', 'Last 7 days', '7d', '6h']];

function SourceTable({ id, rows, caption }) {
  if (rows.length === 0) return html`<p class="empty" id=${id}>None.</p>`;
  return html`<div class="table-wrap"><table id=${id}>
    <caption>${caption}</caption>
    <thead><tr><th scope="col">Source</th><th scope="col">Would reject</th><th scope="col">Senders</th><th scope="col">Why</th></tr></thead>
    <tbody>${rows.map((s) => html`<tr>
      <td>${s.ip ? html`<a href=${`#/trace?ip=${encodeURIComponent(s.ip)}`}>${s.ip}</a>` : s.key}</td>
      <td class="num">${formatNumber(s.wouldReject)}</td>
      <td>${(s.senders ?? []).slice(0, 3).join(', ')}</td>
      <td>${(s.reasons ?? []).join('; ') || s.label}${s.lastSeen ? html`<br /><small>last seen ${formatTime(s.lastSeen)}</small>` : null}</td>
    </tr>`)}</tbody>
  </table></div>`;
}

function EnforceNow({ e, canWrite, onMerged }) {
  return html`<section class="card enforce" id="enforce-now" aria-labelledby="enforce-title">
    <h2 id="enforce-title">If you switch Reject Direct Send to enforce now</h2>
    <p class="headline" id="enforce-headline">${e.headline}</p>
    <h3>Senders you may need (${e.mayNeed.length})</h3>
    <${SourceTable} id="enforce-needed" rows=${e.mayNeed} caption="Positive evidence they send for you: add their connectors first" />
    <h3>Likely attacks (${e.likelyAttacks.length})</h3>
    <${SourceTable} id="enforce-attacks" rows=${e.likelyAttacks} caption="Evidence against them: refusing them is the point" />
    <h3>Unknown sources (${e.unknown.length})</h3>
    <${SourceTable} id="enforce-unknown" rows=${e.unknown} caption="No evidence either way: decide" />
    <h3>Add these connectors first</h3>
    ${e.connectorsToAdd.length ? html`<ul class="recs" id="enforce-connectors">${e.connectorsToAdd.map((c) => html`<li><strong>${c.name}</strong>:
      ${c.certificateName ? `certificate ${c.certificateName}` : c.senderIPAddresses.join(', ')}${' '}for ${c.senderDomains.join(', ')}
      <br /><small>${c.evidence.slice(0, 2).join('; ')}</small></li>`)}</ul>` : null}
    <${MergePanel} id="enforce-merge" fragment=${e.policyFragment} canWrite=${canWrite} onApplied=${onMerged} />
  </section>`;
}

/** How often the dashboard reads again while "keep refreshing" is on (the server shares one computation meanwhile). */
const REFRESH_MS = 30_000;

export class Dashboard extends Loader {
  componentWillUnmount() { clearInterval(this.timer); }
  setAutoRefresh(on) {
    clearInterval(this.timer);
    this.timer = on ? setInterval(() => this.reload(), REFRESH_MS) : undefined;
    this.setState({ auto: on });
  }
  windowOf() {
    return WINDOWS.find(([k]) => k === (this.props.route.query.window ?? '24h')) ?? WINDOWS[1];
  }
  load() {
    const [, , since, bucket] = this.windowOf();
    return api('get', '/dashboard', { query: { since, bucket } });
  }
  view(d) {
    const [key] = this.windowOf();
    const points = d.directSend.map((b) => ({ time: b.start, values: [b.wouldReject, b.rejected], note: `${b.sources} source${b.sources === 1 ? '' : 's'}` }));
    const verdicts = Object.entries(d.verdicts).sort((a, b) => b[1] - a[1]);
    const connectors = d.connectors.map((c) => [c.name, c.transactions]);
    const held = Object.entries(d.quarantine.byState).filter(([, n]) => n > 0);
    return html`<section class="dashboard" aria-labelledby="dash-title">
      <div class="view-head">
        <h1 id="dash-title">Dashboard</h1>
        <label class="inline">Window
          <select id="dash-window" value=${key} onChange=${(ev) => navigate('dashboard', { window: ev.currentTarget.value })}>
            ${WINDOWS.map(([k, text]) => html`<option value=${k} selected=${k === key}>${text}</option>`)}
          </select>
        </label>
        <div class="actions">
          <label class="inline"><input type="checkbox" id="dash-auto" checked=${!!this.state.auto} onChange=${(ev) => this.setAutoRefresh(ev.currentTarget.checked)} /> Keep refreshing</label>
          <button id="dash-refresh" onClick=${() => this.reload()}>Refresh</button>
        </div>
      </div>
      <p class="hint">${formatNumber(d.window.records)} transactions from ${formatTime(d.window.since)} to ${formatTime(d.window.until)}${d.window.truncated ? ' (only the newest were counted)' : ''}.</p>
      <${EnforceNow} e=${d.enforceNow} canWrite=${CAN.writePolicy(this.props.session.role)} onMerged=${() => this.reload()} />
      <div class="grid">
        <section class="card wide">
          <${TimeBars} id="would-reject-chart" points=${points} series=${['would be rejected (report mode)', 'rejected (enforced)']}
            label="Direct Send messages from sources no connector names" />
        </section>
        <section class="card"><${CountBars} id="verdict-chart" entries=${verdicts} label="Verdicts" /></section>
        <section class="card"><${CountBars} id="connector-chart" entries=${connectors} label="Connectors in use" empty="No connector matched." /></section>
        <section class="card"><${CountBars} id="quarantine-chart" entries=${held} label=${`Quarantine (${formatNumber(d.quarantine.items)} messages)`} empty="Nothing held." /></section>
      </div>
    </section>`;
  }
}
