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
    // Two radio buttons rather than tabs: the browser gives them keyboard handling and their role.
    const choice = (k, text) => html`<label class=${kind === k ? 'choice active' : 'choice'}>
      <input type="radio" name="kind" id=${`kind-${k}`} value=${k} checked=${kind === k} onChange=${() => this.setState({ kind: k, error: null })} />${text}</label>`;
    return html`<section class="card sign-in" aria-labelledby="sign-in-title">
      <h1 id="sign-in-title">mxward console</h1>
      <fieldset class="kind"><legend>Sign in with</legend>
        ${choice('console', 'Console account')}${choice('recipient', 'Mailbox user')}
      </fieldset>
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
