// Quarantine: the list, one message (preview as text, headers) and its actions. A button is
// shown only for an action the server says this caller may take on this message now (`actions`
// in the answer: role, ownership and the quarantine policy's bits, services/quarantine-actions.ts);
// the server checks again on the action itself. Recipients see only their own messages here.
import { html, Component } from '../html.js';
import { api } from '../api.js';
import { ErrorBanner, Loader } from '../components.js';
import { formatTime, formatBytes } from '../format.js';
import { navigate } from '../router.js';

const LABELS = { release: 'Release', 'request-release': 'Request release', approve: 'Approve release', deny: 'Deny request', delete: 'Delete' };

/** A message's state as one word: requested wins over held (an administrator has to answer it). */
function stateOf(item) {
  const states = (item.recipients ?? []).map((r) => r.state);
  for (const s of ['requested', 'held', 'releasing', 'released', 'deleted']) if (states.includes(s)) return s;
  return 'unknown';
}

/** Each action is its own route (src/web/routes/quarantine-routes.ts); delete is DELETE. */
async function act(id, action) {
  const path = `/quarantine/${encodeURIComponent(id)}`;
  if (action === 'delete') return api('delete', path);
  return api('post', `${path}/${action}`);
}

export class QuarantineList extends Loader {
  load() {
    const { state = 'pending', offset, recipient } = this.props.route.query;
    return api('get', '/quarantine', { query: { state, offset, recipient } });
  }
  view(body) {
    const { items } = body;
    const recipient = this.props.session.role === 'recipient';
    const { state = 'pending', recipient: forRecipient = '' } = this.props.route.query;
    return html`<section aria-labelledby="q-title">
      <div class="view-head">
        <h1 id="q-title">${recipient ? 'Messages held for you' : 'Quarantine'}</h1>
        <label class="inline">Show
          <select id="q-state" value=${state} onChange=${(e) => navigate('quarantine', { state: e.currentTarget.value, recipient: forRecipient })}>
            <option value="pending" selected=${state === 'pending'}>Held and requested</option>
            <option value="requested" selected=${state === 'requested'}>Release requested</option>
            <option value="all" selected=${state === 'all'}>All</option>
          </select>
        </label>
        ${recipient ? null : html`<form class="inline-form" id="q-recipient-form" onSubmit=${(e) => { e.preventDefault(); navigate('quarantine', { state, recipient: e.currentTarget.elements.recipient.value.trim() }); }}>
          <div class="field"><label for="q-recipient">Recipient</label><input id="q-recipient" name="recipient" type="search" value=${forRecipient} placeholder="alice@example.com" /></div>
          <button type="submit">Filter</button>
        </form>`}
      </div>
      ${items.length === 0 ? html`<p class="empty" id="q-empty">Nothing is held${recipient ? ' for you' : ''}.</p>` : html`<div class="table-wrap"><table id="q-list" class="cards">
        <thead><tr><th scope="col">Subject</th><th scope="col">From</th><th scope="col">Held</th><th scope="col">Recipients</th><th scope="col">Reason</th><th scope="col">State</th></tr></thead>
        <tbody>${items.map((q) => html`<tr data-id=${q.id}>
          <td><a href=${`#/quarantine/${encodeURIComponent(q.id)}`}>${q.subject ?? '(no subject)'}</a></td>
          <td data-label="From">${q.headerFrom.join(', ') || q.mailFrom || '<>'}</td>
          <td data-label="Held">${formatTime(q.time)}</td>
          <td data-label="To">${q.recipients.map((r) => r.address).join(', ')}</td>
          <td data-label="Why">${q.kind} ${q.reason ? html`<small>${q.reason}</small>` : null}</td>
          <td><span class="badge">${stateOf(q)}</span></td>
        </tr>`)}</tbody>
      </table></div>`}
      ${body.nextOffset ? html`<nav class="pager" aria-label="Quarantine pages"><a href=${`#/quarantine?${new URLSearchParams({ state, offset: String(body.nextOffset), ...(forRecipient ? { recipient: forRecipient } : {}) })}`} id="q-more">Older messages</a></nav>` : null}
    </section>`;
  }
}

export class QuarantineDetail extends Component {
  constructor(props) {
    super(props);
    this.state = { item: null, preview: null, headers: null, error: null, done: null, busy: false };
  }
  componentDidMount() { this.load(); }
  path(suffix = '') { return `/quarantine/${encodeURIComponent(this.props.id)}${suffix}`; }
  async load() {
    try {
      const body = await api('get', this.path());
      this.setState({ item: body, error: null });
    } catch (error) {
      this.setState({ error });
    }
  }
  async show(what) {
    try {
      this.setState({ [what]: await api('get', this.path(`/${what}`), { text: true }), error: null });
    } catch (error) {
      this.setState({ error });
    }
  }
  async run(action) {
    if ((action === 'delete' || action === 'deny') && !window.confirm(`${LABELS[action]} this message?`)) return;
    this.setState({ busy: true, error: null });
    try {
      await act(this.props.id, action);
      this.setState({ done: action, busy: false });
      if (action === 'delete') navigate('quarantine');
      else await this.load();
    } catch (error) {
      this.setState({ error, busy: false });
    }
  }
  render() {
    const { item, preview, headers, error, done, busy } = this.state;
    if (!item) return html`<div><${ErrorBanner} error=${error} />${error ? null : html`<p class="loading" aria-busy="true">Loading…</p>`}</div>`;
    const actions = item.actions ?? [];
    const buttons = actions.filter((a) => LABELS[a]);
    return html`<section aria-labelledby="qd-title" id="q-detail">
      <p><a href="#/quarantine">← All held messages</a></p>
      <h1 id="qd-title">${item.subject ?? '(no subject)'}</h1>
      <dl class="pairs">
        <dt>Held</dt><dd>${formatTime(item.time)} (kept until ${formatTime(item.expires)})</dd>
        <dt>From</dt><dd>${(item.headerFrom ?? []).join(', ') || '—'} (envelope ${item.mailFrom ?? '<>'})</dd>
        <dt>Recipients</dt><dd>${(item.recipients ?? []).map((r) => html`<span class="recipient">${r.address ?? r} <span class="badge">${r.state ?? ''}</span></span> `)}</dd>
        <dt>Why</dt><dd>${item.kind ?? ''}: ${item.reason ?? ''}</dd>
        <dt>Quarantine policy</dt><dd>${item.policy ?? '—'}</dd>
        <dt>Size</dt><dd>${formatBytes(item.sizeBytes)}</dd>
        ${item.transactionId && this.props.session.role !== 'recipient' ? html`<dt>Trace</dt><dd><a href=${`#/trace/${encodeURIComponent(item.transactionId)}`}>${item.transactionId}</a></dd>` : null}
      </dl>
      <${ErrorBanner} error=${error} />
      ${done ? html`<p class="success" role="status" id="q-done">${LABELS[done]}: done.</p>` : null}
      <div class="actions" id="q-actions">
        ${actions.includes('preview') ? html`<button onClick=${() => this.show('preview')}>Preview</button>` : null}
        ${actions.includes('headers') ? html`<button onClick=${() => this.show('headers')}>Headers</button>` : null}
        ${buttons.map((a) => html`<button id=${`q-${a}`} class=${a === 'delete' || a === 'deny' ? 'danger' : 'primary'} disabled=${busy} onClick=${() => this.run(a)}>${LABELS[a]}</button>`)}
        ${buttons.length === 0 ? html`<p class="hint" id="q-no-actions">${this.props.session.role === 'recipient'
          ? 'This message can only be released by an administrator.' : 'No action is open for this message.'}</p>` : null}
      </div>
      ${preview !== null ? html`<section class="card"><h2>Preview (text only)</h2><pre class="preview" id="q-preview">${preview}</pre></section>` : null}
      ${headers !== null ? html`<section class="card"><h2>Headers</h2><pre class="headers" id="q-headers">${headers}</pre></section>` : null}
    </section>`;
  }
}
