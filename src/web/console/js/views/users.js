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
    this.state = { items: [], username: '', password: '', addresses: '', error: null, readError: null };
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
  async remove(username) {
    if (!window.confirm(`Remove the user ${username}?`)) return;
    try { await api('delete', `/users/${encodeURIComponent(username)}`); await this.load(); } catch (error) { this.setState({ error }); }
  }
  render() {
    const { items, username, password, addresses, error, readError } = this.state;
    const canWrite = CAN.writePolicy(this.props.role);
    return html`<section class="card" aria-labelledby="users-title">
      <h2 id="users-title">Submission users</h2>
      <${ErrorBanner} error=${readError} />
      ${items.length === 0 ? html`<p class="empty">No submission user.</p>` : html`<ul class="plain" id="user-list">
        ${items.map((u) => html`<li><span><strong>${u.username}</strong> ${(u.addresses ?? []).join(', ')}</span>
          ${canWrite ? html`<button class="link danger" aria-label=${`Remove user ${u.username}`} onClick=${() => this.remove(u.username)}>Remove</button>` : null}</li>`)}
      </ul>`}
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
