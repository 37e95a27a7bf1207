// Policy history from the audit log: every version with who changed what, the diff of each
// change against the version before it, and rollback (a dry run first, then the write).
import { html, Component } from '../html.js';
import { api } from '../api.js';
import { DiffView, ErrorBanner, Loader } from '../components.js';
import { CAN, formatTime } from '../format.js';
import { describeChange } from '../merge.js';
import { PolicyFile } from './policy-file.js';

class Rollback extends Component {
  constructor(props) {
    super(props);
    this.state = { preview: null, done: null, error: null };
  }
  async run(dryRun) {
    try {
      const result = await api('post', '/policy/rollback', { body: { version: this.props.version, dryRun } });
      this.setState(dryRun ? { preview: result, error: null } : { done: result, preview: null, error: null });
      if (!dryRun && this.props.onDone) this.props.onDone(result);
    } catch (error) { this.setState({ error }); }
  }
  render() {
    const { preview, done, error } = this.state;
    return html`<div class="rollback">
      <${ErrorBanner} error=${error} />
      ${!preview && !done ? html`<button id="rollback-preview" onClick=${() => this.run(true)}>Roll back to version ${this.props.version}…</button>` : null}
      ${preview ? html`<div><h3>Rolling back would change</h3><${DiffView} diff=${preview.diff} /><p class="hint">${describeChange(preview)}</p>
        <button class="primary" id="rollback-apply" disabled=${!!preview.refusal} onClick=${() => this.run(false)}>Roll back</button>
        <button class="link" onClick=${() => this.setState({ preview: null })}>Cancel</button></div>` : null}
      ${done ? html`<p class="success" role="status" id="rollback-done">${describeChange(done)}</p>` : null}
    </div>`;
  }
}

class VersionDetail extends Loader {
  loadKey(props) { return props.version; }
  load() { return api('get', `/policy/history/${encodeURIComponent(this.props.version)}`); }
  view(v) {
    return html`<section class="card" id="history-detail" aria-labelledby="hd-title">
      <h2 id="hd-title">Version ${v.version}</h2>
      <p>${formatTime(v.time)} by <strong>${v.actor}</strong> (${v.action})</p>
      <h3>${v.previousVersion ? `Changes against version ${v.previousVersion}` : 'The first recorded version: changes against the defaults'}</h3>
      <${DiffView} diff=${v.diff} />
      ${CAN.writePolicy(this.props.role) ? html`<${Rollback} version=${v.version} onDone=${this.props.onChanged} />` : null}
      <details><summary>The whole policy document of this version</summary><pre>${JSON.stringify(v.document, null, 2)}</pre></details>
    </section>`;
  }
}

export class PolicyHistory extends Loader {
  loadKey() { return 'history'; }
  load() { return api('get', '/policy/history'); }
  view(body) {
    const versions = body;
    const selected = this.props.version;
    return html`<section aria-labelledby="history-title">
      <div class="view-head"><h1 id="history-title">Policy history</h1><a href="#/policy">Current policy</a></div>
      <div class="split">
        <ol class="history" id="history-list" reversed>
          ${versions.map((v) => html`<li class=${String(v.version) === selected ? 'selected' : ''}>
            <a href=${`#/history/${v.version}`} aria-current=${String(v.version) === selected ? 'true' : undefined}>
              <strong>v${v.version}</strong> ${formatTime(v.time)}</a><br /><small>${v.actor}: ${v.action}${' '}(${v.connectors} connector${v.connectors === 1 ? '' : 's'}, ${v.acceptedDomains} domain${v.acceptedDomains === 1 ? '' : 's'})</small>
          </li>`)}
        </ol>
        <div>${selected ? html`<${VersionDetail} version=${selected} role=${this.props.session.role} onChanged=${() => this.reload()} />` : html`<p class="hint">Choose a version to see its diff and roll back to it.</p>`}</div>
      </div>
      <${PolicyFile} canWrite=${CAN.writePolicy(this.props.session.role)} onImported=${() => this.reload()} />
    </section>`;
  }
}
