// Submission users: the mailbox users who may send through the gateway (AUTH) and sign in to the
// console as recipients to see what was held for their addresses.
import { html, Component } from '../html.js';
import { api } from '../api.js';
import { ErrorBanner, Field, unclaimed } from '../components.js';
import { CAN } from '../format.js';

const FIELDS = ['username', 'password', 'addresses'];

export class Users extends Component {
  constructor(props) {
    super(props);
    this.state = { items: [], username: '', password: '', addresses: '', error: null, readError: null, passwordFor: null, newPassword: '', changed: null };
  }
  componentDidMount() { this.load(); }
  async load() {
    try { this.setState({ items: await api('get', '/users'), readError: null }); } catch (error) { this.setState({ readError: error }); }
  }
  async add(e) {
    e.preventDefault();
    const { username, password, addresses } = this.state;
    try {
      await api('post', '/users', { body: { username, password, addresses: addresses.split(/[\s,]+/).filter(Boolean) } });
      this.setState({ username: '', password: '', addresses: '', error: null });
      await this.load();
    } catch (error) { this.setState({ error }); }
  }
  async setPassword(e) {
    e.preventDefault();
    const { passwordFor, newPassword } = this.state;
    try {
      await api('put', `/users/${encodeURIComponent(passwordFor)}/password`, { body: { password: newPassword } });
      this.setState({ passwordFor: null, newPassword: '', changed: passwordFor, error: null });
    } catch (error) { this.setState({ error }); }
  }
  async remove(username) {
    if (!window.confirm(`Remove the user ${username}?`)) return;
    try { await api('delete', `/users/${encodeURIComponent(username)}`); await this.load(); } catch (error) { this.setState({ error }); }
  }
  render() {
    const { items, username, password, addresses, error, readError, passwordFor, newPassword, changed } = this.state;
    const canWrite = CAN.writePolicy(this.props.role);
    return html`<section class="card" aria-labelledby="users-title">
      <h2 id="users-title">Submission users</h2>
      <${ErrorBanner} error=${readError} />
      ${items.length === 0 ? html`<p class="empty">No submission user.</p>` : html`<ul class="plain" id="user-list">
        ${items.map((u) => html`<li><span><strong>${u.username}</strong> ${(u.addresses ?? []).join(', ')}</span>
          ${canWrite ? html`<span class="row-actions"><button class="link" aria-label=${`Set the password of ${u.username}`} onClick=${() => this.setState({ passwordFor: u.username, newPassword: '', changed: null })}>Set password</button>
          <button class="link danger" aria-label=${`Remove user ${u.username}`} onClick=${() => this.remove(u.username)}>Remove</button></span>` : null}</li>`)}
      </ul>`}
      ${changed ? html`<p class="success" role="status">The password of ${changed} is changed.</p>` : null}
      ${passwordFor ? html`<form class="inline-form" id="user-password-form" onSubmit=${(e) => this.setPassword(e)}>
        <${Field} label=${`New password for ${passwordFor}`} name="password" type="password" value=${newPassword} error=${error} onInput=${(v) => this.setState({ newPassword: v })} idPrefix="userpw" />
        <button type="submit" class="primary">Set password</button>
        <button type="button" class="link" onClick=${() => this.setState({ passwordFor: null })}>Cancel</button>
      </form>` : null}
      ${canWrite ? html`<form class="inline-form" id="user-form" onSubmit=${(e) => this.add(e)}>
        <${Field} label="User name" name="username" value=${username} error=${error} onInput=${(v) => this.setState({ username: v })} idPrefix="user" />
        <${Field} label="Password" name="password" type="password" value=${password} error=${error} onInput=${(v) => this.setState({ password: v })} idPrefix="user" />
        <${Field} label="Addresses" name="addresses" value=${addresses} error=${error} onInput=${(v) => this.setState({ addresses: v })} idPrefix="user" placeholder="ana@example.com" />
        <button type="submit" class="primary">Add user</button>
      </form>` : null}
      <${ErrorBanner} error=${unclaimed(error, FIELDS)} />
    </section>`;
  }
}
