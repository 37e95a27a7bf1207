// Report: upload an Exchange Online / Defender export, see the Direct Send report in the browser
// with the connectors it recommends, and merge them into the policy (the diff is shown first).
import { html, Component } from '../html.js';
import { api } from '../api.js';
import { ErrorBanner, Field, unclaimed } from '../components.js';
import { CAN, formatNumber } from '../format.js';
import { MergePanel } from '../merge.js';
import { TimeBars } from '../chart.js';
import { AuditPanel } from './audit.js';

/** What the browser says the file is, or a guess from its name (the server detects the format from the content). */
function contentTypeOf(file) {
  if (file.type) return file.type;
  if (/\.jsonl?$/i.test(file.name)) return 'application/json';
  return /\.csv$/i.test(file.name) ? 'text/csv' : 'application/octet-stream';
}

/** Evidence the administrator gives, as the CLI's --known-sender: `203.0.113.0/24=printers, 198.51.100.7`. */
function evidenceQuery(knownSenders) {
  const list = knownSenders.split(/[\s,]+/).filter(Boolean).join(',');
  return list ? { knownSenders: list } : {};
}

export class ReportView extends Component {
  constructor(props) {
    super(props);
    this.state = { file: null, knownSenders: '', body: null, error: null, busy: false };
  }
  async upload(e) {
    e.preventDefault();
    const { file } = this.state;
    if (!file) return;
    this.setState({ busy: true, error: null, body: null });
    try {
      const query = { name: file.name, ...evidenceQuery(this.state.knownSenders) };
      const body = await api('post', '/report', { raw: file, contentType: contentTypeOf(file), query });
      this.setState({ body, busy: false });
    } catch (error) {
      this.setState({ error, busy: false });
    }
  }
  async live() {
    this.setState({ busy: true, error: null, body: null });
    try {
      const query = { since: '7d', ...evidenceQuery(this.state.knownSenders) };
      this.setState({ body: await api('get', '/report/live', { query }), busy: false });
    } catch (error) { this.setState({ error, busy: false }); }
  }
  render() {
    const { body, error, busy } = this.state;
    return html`<section aria-labelledby="report-title">
      <h1 id="report-title">Direct Send report</h1>
      <form class="card" id="report-form" onSubmit=${(e) => this.upload(e)}>
        <div class="field"><label for="report-file">Exchange Online or Defender export (message trace CSV, EAC export, EmailEvents CSV or JSON)</label>
          <input type="file" id="report-file" name="file" accept=".csv,.json,.jsonl,.eml,.mbox,text/csv,application/json" onChange=${(e) => this.setState({ file: e.currentTarget.files[0] ?? null })} /></div>
        <${Field} label="Sources you know are yours (optional)" name="knownSenders" value=${this.state.knownSenders} error=${this.state.error}
          onInput=${(v) => this.setState({ knownSenders: v })} idPrefix="report" placeholder="203.0.113.0/24=office-printers"
          hint="IP addresses or ranges, optionally =label, separated by commas: the positive evidence a connector needs" />
        <div class="actions">
          <button type="submit" class="primary" id="report-upload" disabled=${busy || !this.state.file}>${busy ? 'Reading…' : 'Build the report'}</button>
          <button type="button" id="report-live" disabled=${busy} onClick=${() => this.live()}>Report over this gateway's trace (7 days)</button>
        </div>
      </form>
      <${ErrorBanner} error=${unclaimed(error, ['knownSenders'])} />
      ${body ? html`<${ReportResult} body=${body} role=${this.props.session.role} />` : null}
      <${AuditPanel} />
    </section>`;
  }
}

function ReportResult({ body, role }) {
  const { report } = body;
  const recs = report.recommendations ?? [];
  const sources = (report.sources ?? []).filter((s) => s.wouldReject > 0).slice(0, 50);
  const volume = (report.volume ?? []).map((v) => ({ time: v.day, values: [Object.values(v.kinds ?? {}).reduce((a, b) => a + Number(b), 0)] }));
  return html`<div id="report-result">
    <section class="card">
      <p class="headline" id="report-headline">${report.headline?.text ?? ''}</p>
      ${(report.headline?.notes ?? []).map((n) => html`<p class="hint">${n}</p>`)}
      <dl class="pairs">
        <dt>Rows read</dt><dd id="report-rows">${formatNumber(report.totals?.rows)}</dd>
        <dt>Would be rejected</dt><dd id="report-would-reject">${formatNumber(report.totals?.wouldReject)}</dd>
        <dt>Problems</dt><dd>${formatNumber(report.problems?.count ?? 0)}</dd>
      </dl>
    </section>
    <section class="card" aria-labelledby="recs-title">
      <h2 id="recs-title">Connectors to add before enforcing</h2>
      ${recs.length === 0 ? html`<p class="empty">No authorised sender needs a connector.</p>` : html`<ul class="recs" id="report-recommendations">
        ${recs.map((r) => html`<li><strong>${r.name}</strong>: ${r.by === 'certificate' ? `certificate ${r.certificateName}` : r.senderIPAddresses.join(', ')}${' '}for ${r.senderDomains.join(', ')} (${formatNumber(r.rows)} messages)<br /><small>${(r.evidence ?? []).slice(0, 2).join('; ')}</small>
          ${(r.warnings ?? []).map((w) => html`<p class="warning">${w}</p>`)}</li>`)}
      </ul>`}
      <${MergePanel} id="report-merge" fragment=${body.policyFragment} canWrite=${CAN.writePolicy(role)} />
    </section>
    <section class="card"><${TimeBars} id="report-volume" points=${volume} label="Messages per day" /></section>
    <section class="card" aria-labelledby="rsrc-title">
      <h2 id="rsrc-title">Sources enforcement would refuse</h2>
      ${sources.length === 0 ? html`<p class="empty">None.</p>` : html`<div class="table-wrap"><table id="report-sources">
        <thead><tr><th scope="col">Source</th><th scope="col">Label</th><th scope="col">Would reject</th><th scope="col">Why</th></tr></thead>
        <tbody>${sources.map((s) => html`<tr><td>${s.ip ?? s.key}</td><td>${s.label}</td><td class="num">${formatNumber(s.wouldReject)}</td><td>${(s.reasons ?? []).join('; ')}</td></tr>`)}</tbody>
      </table></div>`}
    </section>
  </div>`;
}
