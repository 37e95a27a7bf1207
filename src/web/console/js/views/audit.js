// The configuration audit (POST /audit, as `mxward audit`): this gateway's policy and bootstrap,
// and any Exchange Online exports the administrator uploads (Get-OrganizationConfig,
// Get-InboundConnector, Get-AcceptedDomain | ConvertTo-Json), checked against published controls.
import { html, Component } from '../html.js';
import { api } from '../api.js';
import { ErrorBanner, Field } from '../components.js';

const FRAMEWORKS = [['', 'all checks'], ['cis', 'CIS'], ['scuba', 'ScubaGear'], ['maester', 'Maester'], ['cipp', 'CIPP']];

/** Exports are sent as bytes (base64): PowerShell writes UTF-16, which the server detects. */
async function exportOf(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return { name: file.name, base64: btoa(binary) };
}

export class AuditPanel extends Component {
  constructor(props) {
    super(props);
    this.state = { files: [], framework: '', result: null, error: null, busy: false };
  }
  async run(e) {
    e.preventDefault();
    this.setState({ busy: true, error: null });
    try {
      const exports = await Promise.all(this.state.files.map(exportOf));
      const body = { exports, ...(this.state.framework ? { framework: this.state.framework } : {}) };
      this.setState({ result: await api('post', '/audit', { body }), busy: false });
    } catch (error) { this.setState({ error, busy: false, result: null }); }
  }
  render() {
    const { framework, result, error, busy } = this.state;
    return html`<section class="card" aria-labelledby="audit-title">
      <h2 id="audit-title">Configuration audit</h2>
      <form class="inline-form" id="audit-form" onSubmit=${(e) => this.run(e)}>
        <div class="field"><label for="audit-files">Exchange Online exports (optional, JSON)</label>
          <input type="file" id="audit-files" multiple accept=".json,application/json" onChange=${(e) => this.setState({ files: [...e.currentTarget.files] })} /></div>
        <${Field} label="Controls" name="framework" options=${FRAMEWORKS} value=${framework} error=${error} onInput=${(v) => this.setState({ framework: v })} idPrefix="audit" />
        <button type="submit" class="primary" id="audit-run" disabled=${busy}>${busy ? 'Checking…' : 'Run the audit'}</button>
      </form>
      <${ErrorBanner} error=${error} />
      ${result ? html`<div id="audit-result">
        <p class=${result.passed ? 'success' : 'warning'} role="status">${result.passed ? 'Every required check passed.' : 'Some required checks failed.'}</p>
        <div class="table-wrap"><table id="audit-checks">
          <thead><tr><th scope="col">Status</th><th scope="col">Check</th><th scope="col">Findings</th></tr></thead>
          <tbody>${result.checks.map((c) => html`<tr class=${`audit-${c.status}`}>
            <td><span class=${`badge audit-${c.status}`}>${c.status}</span>${c.required ? null : html`<br /><small>advisory</small>`}</td>
            <td><strong>${c.title}</strong><br /><small><code>${c.id}</code>${(c.controls ?? []).length ? ` · ${c.controls.map((x) => `${x.framework} ${x.id}`).join(', ')}` : ''}</small></td>
            <td>${(c.findings ?? []).map((f) => html`<p>${f.detail}${f.remedy ? html`<br /><small>${f.remedy}</small>` : null}</p>`)}</td>
          </tr>`)}</tbody>
        </table></div>
      </div>` : null}
    </section>`;
  }
}
