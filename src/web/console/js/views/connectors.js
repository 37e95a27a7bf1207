// Connectors: the list, adding one (with the API's validation errors next to the field they are
// about) and the live connector test: which connector, if any, a source would match, and why.
import { html, Component } from '../html.js';
import { api } from '../api.js';
import { ErrorBanner, Field, unclaimed } from '../components.js';
import { CAN } from '../format.js';

const EMPTY = { name: '', type: 'partner', senderDomains: '*', senderIPAddresses: '', tlsSenderCertificateName: '', restrictDomainsToIPAddresses: false, requireTls: false, treatMessagesAsInternal: false, comment: '' };
const FIELDS = Object.keys(EMPTY);

/** "a, b c" → ['a', 'b', 'c']: lists are typed as text, one or more per line or comma. */
const splitList = (text) => String(text).split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);

function connectorBody(form) {
  const body = {
    name: form.name.trim(), type: form.type, senderDomains: splitList(form.senderDomains),
    senderIPAddresses: splitList(form.senderIPAddresses), requireTls: form.requireTls,
    restrictDomainsToIPAddresses: form.restrictDomainsToIPAddresses, comment: form.comment,
  };
  if (form.tlsSenderCertificateName.trim()) body.tlsSenderCertificateName = form.tlsSenderCertificateName.trim();
  if (form.type === 'onPremises') body.treatMessagesAsInternal = form.treatMessagesAsInternal;
  return body;
}

class ConnectorTest extends Component {
  constructor(props) {
    super(props);
    this.state = { ip: '', sender: '', certName: '', tls: false, result: null, error: null };
  }
  async run(e) {
    e.preventDefault();
    const { ip, sender, certName, tls } = this.state;
    const body = { ip };
    if (sender) body.sender = sender;
    if (certName) body.certName = certName;
    if (tls) body.tls = true;
    try {
      this.setState({ result: await api('post', '/connectors/test', { body }), error: null });
    } catch (error) { this.setState({ error, result: null }); }
  }
  render() {
    const { ip, sender, certName, tls, result, error } = this.state;
    return html`<section class="sub" aria-labelledby="ctest-title">
      <h3 id="ctest-title">Test a source</h3>
      <form class="inline-form" id="connector-test-form" onSubmit=${(e) => this.run(e)}>
        <${Field} label="Client IP" name="ip" value=${ip} error=${error} onInput=${(v) => this.setState({ ip: v })} idPrefix="ctest" placeholder="192.0.2.10" />
        <${Field} label="Envelope sender (optional)" name="sender" value=${sender} error=${error} onInput=${(v) => this.setState({ sender: v })} idPrefix="ctest" />
        <${Field} label="Certificate name (optional)" name="certName" value=${certName} error=${error} onInput=${(v) => this.setState({ certName: v })} idPrefix="ctest" />
        <${Field} label="TLS without certificate" name="tls" type="checkbox" value=${tls} error=${error} onInput=${(v) => this.setState({ tls: v })} idPrefix="ctest" />
        <button type="submit">Test</button>
      </form>
      <${ErrorBanner} error=${unclaimed(error, ['ip', 'sender', 'certName', 'tls'])} />
      ${result ? html`<div class="test-result" id="connector-test-result" role="status">
        <p><strong>${result.result === 'matched' ? `Matches connector ${result.connector} (by ${result.by})` : result.result === 'none' ? 'Matches no connector: anonymous mail' : `${result.result}${result.connector ? `: connector ${result.connector}` : ''}`}</strong>
          <small> (policy version ${result.policyVersion})</small></p>
        <ul>${(result.reasons ?? []).map((r) => html`<li>${r}</li>`)}</ul>
        ${(result.unusableRanges ?? []).length ? html`<p class="warning">Ranges that match nothing: ${result.unusableRanges.map((u) => `${u.connector} ${u.range} (${u.reason})`).join('; ')}</p>` : null}
      </div>` : null}
    </section>`;
  }
}

export class Connectors extends Component {
  constructor(props) {
    super(props);
    this.state = { items: [], form: { ...EMPTY }, error: null, added: null, adding: false };
  }
  componentDidMount() { this.load(); }
  async load() {
    try { this.setState({ items: await api('get', '/connectors') }); } catch (error) { this.setState({ error }); }
  }
  async add(e) {
    e.preventDefault();
    try {
      const saved = await api('post', '/connectors', { body: connectorBody(this.state.form) });
      this.setState({ form: { ...EMPTY }, error: null, added: saved?.name ?? this.state.form.name, adding: false });
      await this.load();
    } catch (error) { this.setState({ error, added: null }); }
  }
  async setEnabled(name, enabled) {
    try { await api('patch', `/connectors/${encodeURIComponent(name)}`, { body: { enabled } }); await this.load(); } catch (error) { this.setState({ error }); }
  }
  async remove(name) {
    if (!window.confirm(`Remove the connector ${name}? Its sources become anonymous mail.`)) return;
    try { await api('delete', `/connectors/${encodeURIComponent(name)}`); await this.load(); } catch (error) { this.setState({ error }); }
  }
  renderForm() {
    const { form, error } = this.state;
    const set = (k) => (v) => this.setState({ form: { ...form, [k]: v } });
    const f = (label, name, extra = {}) => html`<${Field} label=${label} name=${name} value=${form[name]} error=${error} onInput=${set(name)} idPrefix="conn" ...${extra} />`;
    return html`<form class="card form-grid" id="connector-form" onSubmit=${(e) => this.add(e)} aria-label="New connector">
      ${f('Name', 'name', { placeholder: 'Partner-Contoso' })}
      ${f('Type', 'type', { options: [['partner', 'partner'], ['onPremises', 'on-premises']] })}
      ${f('Sender domains', 'senderDomains', { hint: '*, example.com or *.example.com; separate with commas' })}
      ${f('Sender IP addresses', 'senderIPAddresses', { placeholder: '192.0.2.0/24', hint: 'addresses or CIDR ranges; separate with commas' })}
      ${f('TLS certificate name', 'tlsSenderCertificateName', { placeholder: 'mail.partner.example' })}
      ${f('Only from these IPs', 'restrictDomainsToIPAddresses', { type: 'checkbox' })}
      ${f('Require TLS', 'requireTls', { type: 'checkbox' })}
      ${form.type === 'onPremises' ? f('Treat as internal', 'treatMessagesAsInternal', { type: 'checkbox' }) : null}
      ${f('Comment', 'comment')}
      <div class="actions"><button type="submit" class="primary" id="connector-save">Add connector</button>
        <button type="button" class="link" onClick=${() => this.setState({ adding: false, error: null })}>Cancel</button></div>
      <${ErrorBanner} error=${unclaimed(error, FIELDS)} />
    </form>`;
  }
  render() {
    const { items, error, added, adding } = this.state;
    const canWrite = CAN.writePolicy(this.props.role);
    return html`<section class="card" aria-labelledby="conn-title">
      <div class="view-head"><h2 id="conn-title">Connectors</h2>
        ${canWrite && !adding ? html`<button class="primary" id="connector-new" onClick=${() => this.setState({ adding: true, added: null })}>New connector</button>` : null}</div>
      ${added ? html`<p class="success" role="status" id="connector-added">Connector ${added} added; the gateway uses it for the next connection.</p>` : null}
      ${adding ? this.renderForm() : html`<${ErrorBanner} error=${error} />`}
      ${items.length === 0 ? html`<p class="empty">No connector: all mail from outside is anonymous.</p>` : html`<div class="table-wrap"><table id="connector-list">
        <thead><tr><th scope="col">Name</th><th scope="col">Type</th><th scope="col">Sender domains</th><th scope="col">Sources</th><th scope="col">TLS</th><th scope="col">Enabled</th>${canWrite ? html`<th scope="col"><span class="sr-only">Actions</span></th>` : null}</tr></thead>
        <tbody>${items.map((c) => html`<tr data-name=${c.name}>
          <td>${c.name}${c.comment ? html`<br /><small>${c.comment}</small>` : null}</td><td>${c.type}</td><td>${(c.senderDomains ?? []).join(', ')}</td>
          <td>${[...(c.senderIPAddresses ?? []), ...(c.tlsSenderCertificateName ? [`cert ${c.tlsSenderCertificateName}`] : [])].join(', ') || '—'}</td>
          <td>${c.requireTls ? 'required' : 'optional'}</td><td>${c.enabled === false ? 'no' : 'yes'}</td>
          ${canWrite ? html`<td class="row-actions">
            <button class="link" aria-label=${`${c.enabled === false ? 'Enable' : 'Disable'} connector ${c.name}`} onClick=${() => this.setEnabled(c.name, c.enabled === false)}>${c.enabled === false ? 'Enable' : 'Disable'}</button>
            <button class="link danger" aria-label=${`Remove connector ${c.name}`} onClick=${() => this.remove(c.name)}>Remove</button></td>` : null}
        </tr>`)}</tbody>
      </table></div>`}
      <${ConnectorTest} />
    </section>`;
  }
}
