// Access (administrators): console accounts, API tokens (the secret is shown once, right after
// creation, and never again) and signed sign-in links for recipients.
import { html, Component } from '../html.js';
import { api } from '../api.js';
import { ErrorBanner, Field, unclaimed } from '../components.js';
import { formatTime } from '../format.js';

const ROLES = [['helpdesk', 'helpdesk (trace, quarantine, queue)'], ['auditor', 'auditor (read only)'], ['administrator', 'administrator']];

class Accounts extends Component {
  constructor(props) {
    super(props);
    this.state = { accounts: [], username: '', role: 'helpdesk', password: '', error: null };
  }
  componentDidMount() { this.load(); }
  async load() {
    try { this.setState({ accounts: (await api('get', '/accounts')).accounts }); } catch (error) { this.setState({ error }); }
  }
  async add(e) {
    e.preventDefault();
    const { username, role, password } = this.state;
    try {
      await api('post', '/accounts', { body: { username, role, password } });
      this.setState({ username: '', password: '', error: null });
      await this.load();
    } catch (error) { this.setState({ error }); }
  }
  async remove(username) {
    if (!window.confirm(`Remove the console account ${username}?`)) return;
    try { await api('delete', `/accounts/${encodeURIComponent(username)}`); await this.load(); } catch (error) { this.setState({ error }); }
  }
  render() {
    const { accounts, username, role, password, error } = this.state;
    return html`<section class="card" aria-labelledby="acc-title">
      <h2 id="acc-title">Console accounts</h2>
      <ul class="plain" id="account-list">${accounts.map((a) => html`<li><span><strong>${a.username}</strong> <span class="badge">${a.role}</span> <small>since ${formatTime(a.createdAt)}</small></span>
        <button class="link danger" aria-label=${`Remove account ${a.username}`} onClick=${() => this.remove(a.username)}>Remove</button></li>`)}</ul>
      <form class="inline-form" id="account-form" onSubmit=${(e) => this.add(e)}>
        <${Field} label="User name" name="username" value=${username} error=${error} onInput=${(v) => this.setState({ username: v })} idPrefix="acc" />
        <${Field} label="Role" name="role" options=${ROLES} value=${role} error=${error} onInput=${(v) => this.setState({ role: v })} idPrefix="acc" />
        <${Field} label="Password (12 characters or more)" name="password" type="password" value=${password} error=${error} onInput=${(v) => this.setState({ password: v })} idPrefix="acc" />
        <button type="submit" class="primary">Add account</button>
      </form>
      <${ErrorBanner} error=${unclaimed(error, ['username', 'role', 'password'])} />
    </section>`;
  }
}

class Tokens extends Component {
  constructor(props) {
    super(props);
    this.state = { tokens: [], name: '', role: 'auditor', write: false, days: '90', secret: null, error: null };
  }
  componentDidMount() { this.load(); }
  async load() {
    try { this.setState({ tokens: (await api('get', '/tokens')).tokens }); } catch (error) { this.setState({ error }); }
  }
  async create(e) {
    e.preventDefault();
    const { name, role, write, days } = this.state;
    const expiresAt = days === 'never' ? null : new Date(Date.now() + Number(days) * 86_400_000).toISOString();
    try {
      const created = await api('post', '/tokens', { body: { name, role, scopes: write ? ['read', 'write'] : ['read'], expiresAt } });
      this.setState({ secret: { name: created.info.name, token: created.token }, name: '', error: null });
      await this.load();
    } catch (error) { this.setState({ error }); }
  }
  async revoke(id, name) {
    if (!window.confirm(`Revoke the token ${name}? Programs using it stop working at once.`)) return;
    try { await api('delete', `/tokens/${id}`); await this.load(); } catch (error) { this.setState({ error }); }
  }
  render() {
    const { tokens, name, role, write, days, secret, error } = this.state;
    return html`<section class="card" aria-labelledby="tok-title">
      <h2 id="tok-title">API tokens</h2>
      ${secret ? html`<div class="secret" role="status" id="token-secret"><p>The token <strong>${secret.name}</strong>; copy it now, it is not shown again:</p><pre>${secret.token}</pre>
        <button class="link" onClick=${() => this.setState({ secret: null })}>I have copied it</button></div>` : null}
      ${tokens.length === 0 ? html`<p class="empty">No API token.</p>` : html`<div class="table-wrap"><table id="token-list">
        <thead><tr><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Scopes</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col">State</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>${tokens.map((k) => html`<tr>
          <td>${k.name}<br /><small>${k.id}, by ${k.createdBy}</small></td><td>${k.role}</td><td>${k.scopes.join(', ')}</td>
          <td>${k.expiresAt ? formatTime(k.expiresAt) : 'never'}</td><td>${k.lastUsedAt ? formatTime(k.lastUsedAt) : 'never'}</td>
          <td>${k.revokedAt ? `revoked ${formatTime(k.revokedAt)}` : 'active'}</td>
          <td>${k.revokedAt ? null : html`<button class="link danger" aria-label=${`Revoke token ${k.name}`} onClick=${() => this.revoke(k.id, k.name)}>Revoke</button>`}</td>
        </tr>`)}</tbody>
      </table></div>`}
      <form class="inline-form" id="token-form" onSubmit=${(e) => this.create(e)}>
        <${Field} label="Name" name="name" value=${name} error=${error} onInput=${(v) => this.setState({ name: v })} idPrefix="tok" placeholder="monitoring" />
        <${Field} label="Role" name="role" options=${ROLES} value=${role} error=${error} onInput=${(v) => this.setState({ role: v })} idPrefix="tok" />
        <${Field} label="May change things (write)" name="scopes" type="checkbox" value=${write} error=${error} onInput=${(v) => this.setState({ write: v })} idPrefix="tok" />
        <${Field} label="Expires" name="expiresAt" options=${[['30', 'in 30 days'], ['90', 'in 90 days'], ['365', 'in a year'], ['never', 'never']]} value=${days} error=${error} onInput=${(v) => this.setState({ days: v })} idPrefix="tok" />
        <button type="submit" class="primary">Create token</button>
      </form>
      <${ErrorBanner} error=${unclaimed(error, ['name', 'role', 'scopes', 'expiresAt'])} />
    </section>`;
  }
}

class RecipientLink extends Component {
  constructor(props) {
    super(props);
    this.state = { address: '', ttlHours: '72', link: null, error: null };
  }
  async create(e) {
    e.preventDefault();
    try {
      const link = await api('post', '/recipient-links', { body: { address: this.state.address, ttlHours: Number(this.state.ttlHours) } });
      this.setState({ link, error: null });
    } catch (error) { this.setState({ error, link: null }); }
  }
  render() {
    const { address, ttlHours, link, error } = this.state;
    return html`<section class="card" aria-labelledby="link-title">
      <h2 id="link-title">Sign-in link for a recipient</h2>
      <p class="hint">A signed link that opens this recipient's held messages without a password, as the quarantine digest sends.</p>
      <form class="inline-form" id="link-form" onSubmit=${(e) => this.create(e)}>
        <${Field} label="Address" name="address" value=${address} error=${error} onInput=${(v) => this.setState({ address: v })} idPrefix="link" placeholder="alice@example.com" />
        <${Field} label="Valid for (hours)" name="ttlHours" type="number" value=${ttlHours} error=${error} onInput=${(v) => this.setState({ ttlHours: v })} idPrefix="link" />
        <button type="submit" class="primary">Create link</button>
      </form>
      <${ErrorBanner} error=${unclaimed(error, ['address', 'ttlHours'])} />
      ${link ? html`<p role="status" id="link-url">Valid until ${formatTime(link.expiresAt)}: <code>${location.origin}${link.url}</code></p>` : null}
    </section>`;
  }
}

export function AccessView() {
  return html`<section aria-labelledby="access-title">
    <h1 id="access-title">Access</h1>
    <${Accounts} />
    <${Tokens} />
    <${RecipientLink} />
  </section>`;
}
