// Delivery queue and gateway nodes: what is waiting for the next hop (with retry, flush and
// delete for the administrator and helpdesk) and every node sharing the store with the policy
// version it runs. The same services as `mxward queue` and `mxward nodes`.
import { html, Component } from '../html.js';
import { api } from '../api.js';
import { ErrorBanner } from '../components.js';
import { CAN, formatBytes, formatNumber, formatTime } from '../format.js';

class Nodes extends Component {
  constructor(props) {
    super(props);
    this.state = { body: null, error: null };
  }
  async componentDidMount() {
    try { this.setState({ body: await api('get', '/nodes') }); } catch (error) { this.setState({ error }); }
  }
  render() {
    const { body, error } = this.state;
    if (!body) return html`<section class="card"><h2>Nodes</h2><${ErrorBanner} error=${error} /></section>`;
    return html`<section class="card" aria-labelledby="nodes-title">
      <h2 id="nodes-title">Nodes <small class="hint">stored policy version ${body.policyVersion}</small></h2>
      ${body.nodes.length === 0 ? html`<p class="empty">No node has reported yet.</p>` : html`<div class="table-wrap"><table id="node-list">
        <thead><tr><th scope="col">Node</th><th scope="col">State</th><th scope="col">Policy</th><th scope="col">Queue</th><th scope="col">Quarantine</th><th scope="col">Version</th><th scope="col">Last store outage</th></tr></thead>
        <tbody>${body.nodes.map((n) => html`<tr>
          <td>${n.nodeId}</td>
          <td><span class=${`badge ${n.live ? 'verdict-accept' : 'verdict-reject'}`}>${n.live ? 'live' : 'stale'}</span> <small>${Math.round(n.heartbeatAgeMs / 1000)} s ago</small></td>
          <td>v${n.policyVersion}${n.policyVersion < body.policyVersion ? html` <span class="warning">(behind)</span>` : null}</td>
          <td class="num">${formatNumber(n.queueDepth)}</td><td class="num">${formatNumber(n.quarantineCount)}</td>
          <td>${n.mxwardVersion}</td><td>${n.storeOutage ? formatTime(n.storeOutage) : '—'}</td>
        </tr>`)}</tbody>
      </table></div>`}
    </section>`;
  }
}

export class QueueView extends Component {
  constructor(props) {
    super(props);
    this.state = { entries: null, allNodes: false, error: null, done: null };
  }
  componentDidMount() { this.load(); }
  async load() {
    try {
      const body = await api('get', '/queue', { query: { allNodes: this.state.allNodes ? 'true' : 'false' } });
      this.setState({ entries: body.entries, error: null });
    } catch (error) { this.setState({ error }); }
  }
  async run(what, label) {
    if (label.startsWith('Delete') && !window.confirm(`${label}? It is removed without delivery and without a bounce.`)) return;
    try {
      const result = await what();
      this.setState({ done: `${label}: ${result.done.length} done${result.notFound.length ? `, ${result.notFound.length} not found` : ''}.`, error: null });
      await this.load();
    } catch (error) { this.setState({ error, done: null }); }
  }
  render() {
    const { entries, allNodes, error, done } = this.state;
    const canAct = CAN.operate(this.props.session.role);
    return html`<section aria-labelledby="queue-title">
      <div class="view-head"><h1 id="queue-title">Delivery queue</h1>
        <label class="inline"><input type="checkbox" id="queue-all" checked=${allNodes} onChange=${(e) => this.setState({ allNodes: e.currentTarget.checked }, () => this.load())} /> Every node</label>
        <div class="actions">
          <button onClick=${() => this.load()}>Refresh</button>
          ${canAct ? html`<button class="primary" id="queue-flush" onClick=${() => this.run(() => api('post', '/queue/flush', { body: { allNodes } }), 'Flush')}>Try all now</button>` : null}
        </div>
      </div>
      <${ErrorBanner} error=${error} />
      ${done ? html`<p class="success" role="status">${done}</p>` : null}
      ${entries === null ? html`<p class="loading" aria-busy="true">Loading…</p>` : entries.length === 0 ? html`<p class="empty" id="queue-empty">The queue is empty.</p>` : html`<div class="table-wrap"><table id="queue-list">
        <thead><tr><th scope="col">Queue id</th><th scope="col">Received</th><th scope="col">Sender</th><th scope="col">Recipients</th><th scope="col">Status</th><th scope="col">Last reply</th>${allNodes ? html`<th scope="col">Node</th>` : null}${canAct ? html`<th scope="col"><span class="sr-only">Actions</span></th>` : null}</tr></thead>
        <tbody>${entries.map((q) => html`<tr>
          <td><code>${q.queueId}</code><br /><small>${formatBytes(q.sizeBytes)}</small></td>
          <td>${formatTime(q.receivedAt)}</td><td>${q.mailFrom}</td>
          <td>${q.recipients.map((r) => html`<span class="recipient">${r.address} <span class="badge">${r.state}</span></span> `)}</td>
          <td>${q.status}, ${q.attempts} attempt${q.attempts === 1 ? '' : 's'}<br /><small>next ${formatTime(q.nextAttemptAt)}</small></td>
          <td>${q.lastReply ?? '—'}</td>
          ${allNodes ? html`<td>${q.node ?? 'this node'}</td>` : null}
          ${canAct ? html`<td class="row-actions">
            <button aria-label=${`Retry ${q.queueId} now`} onClick=${() => this.run(() => api('post', `/queue/${q.queueId}/retry`), `Retry ${q.queueId}`)}>Retry</button>
            <button class="danger" aria-label=${`Delete ${q.queueId}`} onClick=${() => this.run(() => api('delete', `/queue/${q.queueId}`), `Delete ${q.queueId}`)}>Delete</button>
          </td>` : null}
        </tr>`)}</tbody>
      </table></div>`}
      <${Nodes} />
    </section>`;
  }
}
