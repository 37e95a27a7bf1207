// The console shell: who is signed in, the navigation their role allows, and which view the
// hash names. Every view talks to the API through api.js; the server checks role, scope and
// CSRF on every request, so hiding a link here is a convenience, never the protection.
import { html, render, Component } from './html.js';
import { api, setCsrfToken, whenUnauthenticated } from './api.js';
import { currentRoute, navigate, href } from './router.js';
import { CAN } from './format.js';
import { ErrorBanner } from './components.js';
import { SignIn } from './views/sign-in.js';
import { Dashboard } from './views/dashboard.js';
import { TraceSearch, TraceDetail } from './views/trace.js';
import { QuarantineList, QuarantineDetail } from './views/quarantine.js';
import { PolicyView } from './views/policy.js';
import { PolicyHistory } from './views/policy-history.js';
import { ReportView } from './views/report.js';
import { QueueView } from './views/queue.js';
import { AccessView } from './views/access.js';

const NAV = [
  ['dashboard', 'Dashboard', CAN.trace],
  ['trace', 'Message trace', CAN.trace],
  ['quarantine', 'Quarantine', () => true],
  ['policy', 'Policy', CAN.readPolicy],
  ['history', 'History', CAN.readPolicy],
  ['report', 'Report', CAN.report],
  ['queue', 'Queue', CAN.trace],
  ['access', 'Access', CAN.writePolicy],
];

function homeFor(role) {
  return role === 'recipient' ? 'quarantine' : 'dashboard';
}

/** The sign-in answers and GET /session carry `{ principal, csrfToken }` (identity-routes.ts). */
function sessionFrom(body) {
  const { name, role, addresses } = body.principal;
  return { name, role, addresses, csrfToken: body.csrfToken };
}

class App extends Component {
  constructor() {
    super();
    this.state = { session: null, checking: true, route: currentRoute(), error: null, navOpen: false };
  }

  componentDidMount() {
    window.addEventListener('hashchange', () => {
      const route = currentRoute();
      this.setState({ route, navOpen: false });
      // A digest link opened in a tab that already shows the console changes only the hash.
      if (route.parts[0] === 'r' && route.parts[1]) this.linkSignIn(route.parts[1]);
    });
    // A session that ended (expired, signed out elsewhere, account removed) shows the sign-in with why.
    whenUnauthenticated((error) => { if (this.state.session) this.setState({ session: null, error }); });
    // Charts pick their canvas by width (chart.js): draw them again when the page crosses it.
    window.matchMedia('(max-width: 760px)').addEventListener('change', () => this.forceUpdate());
    this.start();
  }

  /** A link from the quarantine digest: `#/r/<token>` becomes a recipient session. */
  async linkSignIn(token) {
    // The token leaves the address bar and the history at once: it is a credential until it expires.
    history.replaceState(null, '', `${location.pathname}#/quarantine`);
    this.setState({ route: currentRoute() });
    try {
      const body = await api('post', '/recipient-session', { body: { linkToken: token }, quiet401: true });
      this.signedIn(body);
    } catch (error) {
      this.setState({ session: null, checking: false, error });
    }
  }

  async start() {
    const { parts } = this.state.route;
    if (parts[0] === 'r' && parts[1]) return this.linkSignIn(parts[1]);
    try {
      const body = await api('get', '/session', { quiet401: true });
      this.signedIn(body, false);
    } catch (error) {
      this.setState({ session: null, checking: false, error: error.status === 401 ? null : error });
    }
  }

  signedIn(body, go = true) {
    const session = sessionFrom(body);
    if (session.csrfToken) setCsrfToken(session.csrfToken);
    this.setState({ session, checking: false, error: null });
    const { parts } = currentRoute();
    if (go && (parts.length === 0 || parts[0] === 'sign-in' || parts[0] === 'r')) navigate(homeFor(session.role));
  }

  async signOut() {
    try { await api('delete', '/session'); } catch { /* gone already */ }
    setCsrfToken(null);
    this.setState({ session: null });
    navigate('sign-in');
  }

  /** A new view gets its name in the title and the keyboard focus, as a page load would. */
  componentDidUpdate(_props, prev) {
    const { route, session } = this.state;
    if (prev.route === route && prev.session === session) return;
    const key = route.parts[0] ?? (session ? homeFor(session.role) : 'sign-in');
    const label = NAV.find(([k]) => k === key)?.[1] ?? (session ? '' : 'Sign in');
    document.title = label ? `${label} · mxward console` : 'mxward console';
    // Only for another view: a search that changes the query keeps the focus where it is.
    if (prev.route.parts.join('/') !== route.parts.join('/')) document.getElementById('view')?.focus();
  }

  view() {
    const { session, route } = this.state;
    const [first, second] = route.parts;
    const props = { session, route };
    const allowed = NAV.find(([key]) => key === first);
    if (allowed && !allowed[2](session.role)) return html`<p class="notice">Your role (${session.role}) cannot open this view.</p>`;
    switch (first) {
      case 'trace': return second ? html`<${TraceDetail} ...${props} id=${second} />` : html`<${TraceSearch} ...${props} />`;
      case 'quarantine': return second ? html`<${QuarantineDetail} ...${props} id=${second} />` : html`<${QuarantineList} ...${props} />`;
      case 'policy': return html`<${PolicyView} ...${props} />`;
      case 'history': return html`<${PolicyHistory} ...${props} version=${second} />`;
      case 'report': return html`<${ReportView} ...${props} />`;
      case 'queue': return html`<${QueueView} ...${props} />`;
      case 'access': return html`<${AccessView} ...${props} />`;
      case 'dashboard': return html`<${Dashboard} ...${props} />`;
      default: return session.role === 'recipient' ? html`<${QuarantineList} ...${props} />` : html`<${Dashboard} ...${props} />`;
    }
  }

  render() {
    const { session, checking, error, route, navOpen } = this.state;
    if (checking) return html`<p class="loading" aria-busy="true">Checking your session…</p>`;
    if (!session) {
      return html`<main class="sign-in-page"><${ErrorBanner} error=${error} /><${SignIn} route=${route} onSignedIn=${(b) => this.signedIn(b)} /></main>`;
    }
    const current = route.parts[0] ?? homeFor(session.role);
    const links = NAV.filter(([, , can]) => can(session.role));
    const recipient = session.role === 'recipient';
    return html`<div class="shell">
      <header class="top">
        <a class="brand" href=${href(homeFor(session.role))}>mxward</a>
        <button class="nav-toggle" aria-expanded=${navOpen ? 'true' : 'false'} aria-controls="main-nav" onClick=${() => this.setState({ navOpen: !navOpen })}>Menu</button>
        <nav id="main-nav" class=${navOpen ? 'open' : ''} aria-label="Console">
          ${links.map(([key, label]) => html`<a href=${href(key)} aria-current=${current === key ? 'page' : undefined}>${recipient && key === 'quarantine' ? 'My held messages' : label}</a>`)}
        </nav>
        <div class="who">
          <span id="who-name">${session.name}</span> <span class="role" id="who-role">${session.role}</span>
          <button class="link" id="sign-out" onClick=${() => this.signOut()}>Sign out</button>
        </div>
      </header>
      <main id="view" tabindex="-1">${this.view()}</main>
    </div>`;
  }
}

render(html`<${App} />`, document.getElementById('app'));
