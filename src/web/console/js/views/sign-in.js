// Sign-in: console accounts (administrator, helpdesk, auditor) and recipients, who sign in with
// their mail credentials (the submission users) to see only the messages held for them.
import { html, Component } from '../html.js';
import { api } from '../api.js';
import { ErrorBanner, Field, unclaimed } from '../components.js';

const FIELDS = ['username', 'password', 'token'];

export class SignIn extends Component {
  constructor(props) {
    super(props);
    this.state = { kind: 'console', username: '', password: '', error: null, busy: false };
  }

  async submit(event) {
    event.preventDefault();
    const { kind, username, password } = this.state;
    this.setState({ busy: true, error: null });
    try {
      const body = await api('post', kind === 'console' ? '/session' : '/recipient-session', { body: { username, password }, quiet401: true });
      this.props.onSignedIn(body);
    } catch (error) {
      this.setState({ error, busy: false });
    }
  }

  render() {
    const { kind, username, password, error, busy } = this.state;
    const tab = (k, text) => html`<button type="button" role="tab" id=${`tab-${k}`} aria-selected=${kind === k ? 'true' : 'false'}
      class=${kind === k ? 'tab active' : 'tab'} onClick=${() => this.setState({ kind: k, error: null })}>${text}</button>`;
    return html`<section class="card sign-in" aria-labelledby="sign-in-title">
      <h1 id="sign-in-title">mxward console</h1>
      <div role="tablist" aria-label="Who is signing in">
        ${tab('console', 'Console account')}${tab('recipient', 'Mailbox user')}
      </div>
      <p class="hint">${kind === 'console'
        ? 'Administrators, helpdesk and auditors sign in with their console account.'
        : 'Recipients sign in with their mail user name and password to see messages held for them.'}</p>
      <form id="sign-in-form" onSubmit=${(e) => this.submit(e)}>
        <${Field} label=${kind === 'console' ? 'Account' : 'Mail user'} name="username" value=${username} error=${error}
          onInput=${(v) => this.setState({ username: v })} idPrefix="sign-in" />
        <${Field} label="Password" name="password" type="password" value=${password} error=${error}
          onInput=${(v) => this.setState({ password: v })} idPrefix="sign-in" />
        <${ErrorBanner} error=${unclaimed(error, FIELDS)} />
        <button type="submit" class="primary" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
    </section>`;
  }
}
