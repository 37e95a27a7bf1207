// Policy: organization switches, accepted domains, connectors (with a live connector test) and
// submission users. Administrators change them; helpdesk and auditors read them.
import { html, Component } from '../html.js';
import { api } from '../api.js';
import { ErrorBanner, Field, unclaimed } from '../components.js';
import { CAN } from '../format.js';
import { Connectors } from './connectors.js';
import { Users } from './users.js';

const MODES = [['off', 'off'], ['report', 'report (log only)'], ['enforce', 'enforce']];
const ORG_FIELDS = ['rejectDirectSend', 'rejectDirectSendHeaderFrom', 'externalTagging', 'externalTagPrefix', 'externalTagPartners', 'externalTagExemptSenderDomains'];
const TAG_MODES = [['off', 'off'], ['header', 'header'], ['subject', 'header and Subject prefix'], ['banner', 'header and a notice at the top of the text']];
/** A list typed as text: domains separated by commas or spaces. */
const domainList = (text) => text.split(/[\s,]+/).filter(Boolean);

class OrgSwitches extends Component {
  constructor(props) {
    super(props);
    this.state = { org: null, draft: null, error: null, saved: null };
  }
  componentDidMount() { this.load(); }
  async load() {
    try {
      const org = await api('get', '/org');
      this.setState({ org, draft: { ...org }, error: null });
    } catch (error) { this.setState({ error }); }
  }
  async save(e) {
    e.preventDefault();
    const { org, draft } = this.state;
    const changes = Object.fromEntries(ORG_FIELDS.filter((k) => draft[k] !== org[k]).map((k) => [k, draft[k]]));
    if (Object.keys(changes).length === 0) return;
    try {
      const next = await api('patch', '/org', { body: changes });
      this.setState({ org: next, draft: { ...next }, error: null, saved: next.policyVersion ?? true });
    } catch (error) { this.setState({ error, saved: null }); }
  }
  render() {
    const { draft, error, saved } = this.state;
    const canWrite = CAN.writePolicy(this.props.role);
    if (!draft) return html`<section class="card"><h2>Organization</h2><${ErrorBanner} error=${error} /></section>`;
    const set = (k) => (v) => this.setState({ draft: { ...draft, [k]: v }, saved: null });
    return html`<section class="card" aria-labelledby="org-title">
      <h2 id="org-title">Organization</h2>
      <form id="org-form" onSubmit=${(e) => this.save(e)}>
        <fieldset disabled=${!canWrite}>
          <${Field} label="Reject Direct Send (envelope sender in our domains)" name="rejectDirectSend" options=${MODES} value=${draft.rejectDirectSend} error=${error} onInput=${set('rejectDirectSend')} idPrefix="org" />
          <${Field} label="Reject Direct Send by header From" name="rejectDirectSendHeaderFrom" options=${MODES} value=${draft.rejectDirectSendHeaderFrom} error=${error} onInput=${set('rejectDirectSendHeaderFrom')} idPrefix="org" />
          <${Field} label="Tag external mail" name="externalTagging" options=${TAG_MODES} value=${draft.externalTagging} error=${error} onInput=${set('externalTagging')} idPrefix="org" />
          <${Field} label="Subject prefix" name="externalTagPrefix" value=${draft.externalTagPrefix} error=${error} onInput=${set('externalTagPrefix')} idPrefix="org" />
          <${Field} label="Tag partner-connector mail too" name="externalTagPartners" type="checkbox" value=${draft.externalTagPartners} error=${error} onInput=${set('externalTagPartners')} idPrefix="org" />
          <${Field} label="Never tag From domains (when their authentication passed)" name="externalTagExemptSenderDomains" value=${(draft.externalTagExemptSenderDomains ?? []).join(', ')} placeholder="example.com, *.example.org" error=${error} onInput=${(v) => set('externalTagExemptSenderDomains')(domainList(v))} idPrefix="org" />
          ${canWrite ? html`<button type="submit" class="primary">Save</button>` : null}
        </fieldset>
        <${ErrorBanner} error=${unclaimed(error, ORG_FIELDS)} />
        ${saved ? html`<p class="success" role="status">Saved${typeof saved === 'number' ? ` as policy version ${saved}` : ''}.</p>` : null}
      </form>
    </section>`;
  }
}

class Domains extends Component {
  constructor(props) {
    super(props);
    this.state = { items: [], domain: '', includeSubdomains: false, error: null };
  }
  componentDidMount() { this.load(); }
  async load() {
    try { this.setState({ items: await api('get', '/domains') }); } catch (error) { this.setState({ error }); }
  }
  async add(e) {
    e.preventDefault();
    try {
      await api('post', '/domains', { body: { domain: this.state.domain, includeSubdomains: this.state.includeSubdomains } });
      this.setState({ domain: '', includeSubdomains: false, error: null });
      await this.load();
    } catch (error) { this.setState({ error }); }
  }
  async remove(domain) {
    if (!window.confirm(`Remove the accepted domain ${domain}?`)) return;
    try { await api('delete', `/domains/${encodeURIComponent(domain)}`); await this.load(); } catch (error) { this.setState({ error }); }
  }
  render() {
    const { items, domain, includeSubdomains, error } = this.state;
    const canWrite = CAN.writePolicy(this.props.role);
    return html`<section class="card" aria-labelledby="domains-title">
      <h2 id="domains-title">Accepted domains</h2>
      ${items.length === 0 ? html`<p class="empty">No accepted domain: every recipient is refused.</p>` : html`<ul class="plain" id="domain-list">
        ${items.map((d) => html`<li><span>${d.domain}${d.includeSubdomains ? ' and subdomains' : ''}${d.recipients?.length ? ` (${d.recipients.length} recipients listed)` : ''}</span>
          ${canWrite ? html`<button class="link danger" aria-label=${`Remove ${d.domain}`} onClick=${() => this.remove(d.domain)}>Remove</button>` : null}</li>`)}
      </ul>`}
      ${canWrite ? html`<form class="inline-form" id="domain-form" onSubmit=${(e) => this.add(e)}>
        <${Field} label="Domain" name="domain" value=${domain} error=${error} onInput=${(v) => this.setState({ domain: v })} idPrefix="dom" placeholder="example.com" />
        <${Field} label="Include subdomains" name="includeSubdomains" type="checkbox" value=${includeSubdomains} error=${error} onInput=${(v) => this.setState({ includeSubdomains: v })} idPrefix="dom" />
        <button type="submit" class="primary">Add domain</button>
      </form>` : null}
      <${ErrorBanner} error=${unclaimed(error, ['domain', 'includeSubdomains'])} />
    </section>`;
  }
}

export function PolicyView({ session }) {
  return html`<section aria-labelledby="policy-title">
    <div class="view-head"><h1 id="policy-title">Policy</h1><a href="#/history">History and rollback</a></div>
    <div class="grid">
      <${OrgSwitches} role=${session.role} />
      <${Domains} role=${session.role} />
    </div>
    <${Connectors} role=${session.role} />
    <${Users} role=${session.role} />
  </section>`;
}
