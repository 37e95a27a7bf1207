// Message trace: search by sender, recipient, IP, verdict, Direct Send kind and time, paged by
// the server's cursor; and one transaction in full (every rule hit, auth results, delivery).
import { html, Component } from '../html.js';
import { api } from '../api.js';
import { ErrorBanner, Field, Loader, unclaimed } from '../components.js';
import { formatTime, formatBytes, localToIso } from '../format.js';
import { currentRoute, navigate, queryKey } from '../router.js';

const FILTERS = ['sender', 'recipient', 'ip', 'verdict', 'directSend', 'since', 'until'];
const VERDICTS = [['', 'Any'], ['accept', 'accept'], ['quarantine', 'quarantine'], ['junk', 'junk'], ['reject', 'reject'], ['tempfail', 'tempfail'], ['abandoned', 'abandoned']];
const KINDS = [['', 'Any'], ['p1', 'P1 (envelope sender)'], ['header-from', 'Header From'], ['any', 'Any Direct Send']];
const PAGE = 50;

export class TraceSearch extends Component {
  constructor(props) {
    super(props);
    this.state = { form: this.formFromQuery(props.route.query), items: null, cursors: [], nextCursor: null, error: null, busy: false };
  }
  formFromQuery(q) {
    return Object.fromEntries(FILTERS.map((f) => [f, q[f] ?? '']));
  }
  componentDidMount() { this.search(null, []); }
  componentDidUpdate(prev) {
    if (queryKey(prev.route.query) !== queryKey(this.props.route.query)) {
      this.setState({ form: this.formFromQuery(this.props.route.query) }, () => this.search(null, []));
    }
  }
  async search(cursor, cursors) {
    const f = this.state.form;
    const query = {
      ...f,
      since: f.since && !f.since.endsWith('Z') ? localToIso(f.since) : f.since, until: f.until && !f.until.endsWith('Z') ? localToIso(f.until) : f.until,
      cursor, limit: PAGE,
    };
    this.setState({ busy: true, error: null });
    try {
      const page = await api('get', '/trace', { query });
      this.setState({ items: page.items ?? [], nextCursor: page.nextCursor ?? null, cursors, busy: false });
    } catch (error) {
      this.setState({ error, busy: false, items: [] });
    }
  }
  /** A new query goes into the address (and componentDidUpdate searches); the same one searches again. */
  submit(e) {
    e.preventDefault();
    if (queryKey(this.state.form) === queryKey(currentRoute().query)) this.search(null, []);
    else navigate('trace', this.state.form);
  }
  set(name, value) { this.setState({ form: { ...this.state.form, [name]: value } }); }
  render() {
    const { form, items, nextCursor, cursors, error, busy } = this.state;
    const field = (label, name, extra = {}) => html`<${Field} label=${label} name=${name} value=${form[name]} error=${error} onInput=${(v) => this.set(name, v)} idPrefix="trace" ...${extra} />`;
    return html`<section aria-labelledby="trace-title">
      <h1 id="trace-title">Message trace</h1>
      <form class="card filters" id="trace-form" onSubmit=${(e) => this.submit(e)}>
        ${field('Sender', 'sender', { placeholder: 'envelope or header sender' })}
        ${field('Recipient', 'recipient')}
        ${field('Client IP', 'ip', { placeholder: '192.0.2.1' })}
        ${field('Verdict', 'verdict', { options: VERDICTS })}
        ${field('Direct Send', 'directSend', { options: KINDS })}
        ${field('From', 'since', { type: 'datetime-local' })}
        ${field('Until', 'until', { type: 'datetime-local' })}
        <div class="actions"><button type="submit" class="primary" disabled=${busy}>Search</button></div>
      </form>
      <${ErrorBanner} error=${unclaimed(error, FILTERS)} />
      ${items === null ? html`<p class="loading" aria-busy="true">Searching…</p>` : html`<${TraceTable} items=${items} />`}
      <nav class="pager" aria-label="Trace pages">
        <button disabled=${cursors.length === 0 || busy} onClick=${() => this.search(cursors[cursors.length - 2] ?? null, cursors.slice(0, -1))}>Newer</button>
        <button id="trace-next" disabled=${!nextCursor || busy} onClick=${() => this.search(nextCursor, [...cursors, nextCursor])}>Older</button>
      </nav>
    </section>`;
  }
}

function TraceTable({ items }) {
  if (items.length === 0) return html`<p class="empty" id="trace-empty">No transaction matches.</p>`;
  return html`<div class="table-wrap"><table id="trace-results" class="cards">
    <caption class="sr-only">Transactions, newest first</caption>
    <thead><tr><th scope="col">Time</th><th scope="col">Client</th><th scope="col">Sender</th><th scope="col">Recipients</th><th scope="col">Verdict</th><th scope="col">Direct Send</th><th scope="col">Connector</th></tr></thead>
    <tbody>${items.map((t) => html`<tr class=${`verdict-${t.verdict}`}>
      <td><a href=${`#/trace/${encodeURIComponent(t.transactionId)}`}>${formatTime(t.time)}</a></td>
      <td data-label="Client">${t.remoteIp}</td>
      <td data-label="Sender">${t.mailFrom ?? '<>'}${t.headerFrom?.length ? html`<br /><small>From: ${t.headerFrom.join(', ')}</small>` : null}</td>
      <td data-label="To">${t.recipients.join(', ')}</td>
      <td><span class=${`badge verdict-${t.verdict}`}>${t.verdict}</span></td>
      <td data-label="Direct Send">${t.directSend ? `${t.directSend}${t.directSendWouldReject ? ' (would reject)' : ''}` : '—'}</td>
      <td data-label="Connector">${t.connector ?? '—'}</td>
    </tr>`)}</tbody>
  </table></div>`;
}

function Pairs({ rows }) {
  return html`<dl class="pairs">${rows.filter(([, v]) => v !== undefined).map(([k, v]) => html`<dt>${k}</dt><dd>${v === null || v === '' ? '—' : v}</dd>`)}</dl>`;
}

function AuthResults({ auth }) {
  if (!auth) return html`<p class="empty">No authentication results (the transaction ended before DATA, or checks were off).</p>`;
  return html`<div class="table-wrap"><table id="trace-auth">
    <thead><tr><th scope="col">Check</th><th scope="col">Result</th><th scope="col">Detail</th></tr></thead>
    <tbody>
      <tr><td>SPF</td><td>${auth.spf?.result}</td><td>${auth.spf?.domain ?? ''}</td></tr>
      ${auth.spfHelo ? html`<tr><td>SPF (HELO)</td><td>${auth.spfHelo.result}</td><td>${auth.spfHelo.domain ?? ''}</td></tr>` : null}
      ${(auth.dkim ?? []).map((k) => html`<tr><td>DKIM</td><td>${k.result}</td><td>d=${k.domain}${k.selector ? ` s=${k.selector}` : ''}${k.aligned ? ' (aligned)' : ''}</td></tr>`)}
      <tr><td>DMARC</td><td>${auth.dmarc?.result}</td><td>${auth.dmarc?.domain ?? ''}${auth.dmarc?.policy ? ` p=${auth.dmarc.policy}` : ''}</td></tr>
      <tr><td>ARC</td><td>${auth.arc?.result}</td><td>${auth.arc?.sealer ?? ''}</td></tr>
      <tr><td>compauth</td><td>${auth.compauth?.result}</td><td>${auth.compauth?.reason ?? ''}</td></tr>
    </tbody>
  </table></div>`;
}

export class TraceDetail extends Loader {
  loadKey(props) { return props.id; }
  load() { return api('get', `/trace/${encodeURIComponent(this.props.id)}`); }
  view(body) {
    const t = body;
    const attempts = t.deliveryAttempts ?? t.delivery?.attempts;
    return html`<section aria-labelledby="trace-detail-title" id="trace-detail">
      <p><a href="#/trace">← Back to the search</a></p>
      <h1 id="trace-detail-title">Transaction ${t.transactionId}</h1>
      <div class="grid">
        <section class="card"><h2>Connection</h2><${Pairs} rows=${[
          ['Time', formatTime(t.time)], ['Client', t.remoteIp], ['HELO', t.helo], ['PTR', t.ptr], ['TLS', t.tlsVersion ? `${t.tlsVersion} ${t.tlsCipher ?? ''}` : null],
          ['Client certificate', t.tlsClientCertificate], ['Authenticated as', t.authUser], ['Front end', t.source],
        ]} /></section>
        <section class="card"><h2>Decision</h2><${Pairs} rows=${[
          ['Verdict', html`<span class=${`badge verdict-${t.verdict}`} id="detail-verdict">${t.verdict}</span>`], ['Reply', t.reply], ['Stage', t.stage],
          ['Attribution', t.attribution], ['Connector', t.connector], ['Direct Send', t.directSend ? `${t.directSend}${t.directSendWouldReject ? ' (would reject when enforced)' : ''}` : null],
          ['Quarantine', t.quarantineId ? html`<a href=${`#/quarantine/${encodeURIComponent(t.quarantineId)}`}>${t.quarantineId}</a>` : null],
        ]} /></section>
        <section class="card"><h2>Message</h2><${Pairs} rows=${[
          ['Envelope sender', t.mailFrom ?? '<>'], ['Recipients', (t.recipients ?? []).join(', ')], ['Refused recipients', (t.rejectedRecipients ?? []).join(', ')],
          ['Header From', (t.headerFrom ?? []).join(', ')], ['Subject', t.subject], ['Message-ID', t.messageId], ['Size', formatBytes(t.sizeBytes)],
        ]} /></section>
        <section class="card"><h2>Delivery</h2><${Pairs} rows=${[
          ['Status', t.deliveryStatus], ['Queue id', t.queueId], ['Attempts', Array.isArray(attempts) ? attempts.length : attempts],
          ['Last reply', t.deliveryReply], ['Detail', t.deliveryDetail], ['Last attempt', t.deliveryTime ? formatTime(t.deliveryTime) : null],
        ]} />
        ${Array.isArray(attempts) ? html`<ol class="attempts">${attempts.map((a) => html`<li>${formatTime(a.time)}: ${a.reply ?? a.status ?? JSON.stringify(a)}</li>`)}</ol>` : null}
        </section>
      </div>
      <section class="card"><h2>Rule hits</h2>
        ${(t.hits ?? []).length === 0 ? html`<p class="empty">No rule fired.</p>` : html`<ol class="hits" id="trace-hits">${t.hits.map((h) => html`<li><code>${h.rule}</code> ${h.detail}</li>`)}</ol>`}
      </section>
      <section class="card"><h2>Authentication</h2><${AuthResults} auth=${t.auth} /></section>
    </section>`;
  }
}
