// The whole policy as a file: export (the YAML `mxward policy export` writes) and import with the
// diff shown first. An import that would remove domains or connectors is refused unless
// "replace" is ticked, as on the command line.
import { html, Component } from '../html.js';
import { api } from '../api.js';
import { DiffView, ErrorBanner, Field, unclaimed } from '../components.js';
import { describeChange } from '../merge.js';

export class PolicyFile extends Component {
  constructor(props) {
    super(props);
    this.state = { exported: null, yaml: '', replace: false, preview: null, done: null, error: null, download: null };
  }
  componentWillUnmount() {
    if (this.state.download) URL.revokeObjectURL(this.state.download);
  }
  async export() {
    try {
      const body = await api('get', '/policy');
      if (this.state.download) URL.revokeObjectURL(this.state.download);
      const download = URL.createObjectURL(new Blob([body.yaml], { type: 'application/yaml' }));
      this.setState({ exported: body, download, error: null });
    } catch (error) { this.setState({ error }); }
  }
  async import(dryRun) {
    const { yaml, replace } = this.state;
    try {
      const result = await api('post', '/policy/import', { body: { yaml, replace, dryRun } });
      this.setState(dryRun ? { preview: result, done: null, error: null } : { done: result, preview: null, error: null });
      if (!dryRun && this.props.onImported) this.props.onImported(result);
    } catch (error) { this.setState({ error, preview: null }); }
  }
  render() {
    const { exported, yaml, replace, preview, done, error, download } = this.state;
    const canWrite = this.props.canWrite;
    return html`<section class="card" aria-labelledby="pfile-title">
      <h2 id="pfile-title">Policy file</h2>
      <div class="actions"><button id="policy-export" onClick=${() => this.export()}>Export the current policy</button>
        ${download ? html`<a href=${download} download=${`mxward-policy-v${exported.version}.yaml`}>Download v${exported.version} as YAML</a>` : null}</div>
      ${exported ? html`<pre id="policy-yaml">${exported.yaml}</pre>` : null}
      ${canWrite ? html`<form id="policy-import-form" onSubmit=${(e) => { e.preventDefault(); this.import(true); }}>
        <div class="field"><label for="import-yaml">Policy to import (YAML, as exported)</label>
          <textarea id="import-yaml" name="yaml" rows="8" aria-invalid=${error?.path && /yaml/.test(error.path) ? 'true' : undefined}
            value=${yaml} onInput=${(e) => this.setState({ yaml: e.currentTarget.value, preview: null })}></textarea></div>
        <${Field} label="Replace: allow removing domains and connectors the file does not have" name="replace" type="checkbox" value=${replace}
          error=${error} onInput=${(v) => this.setState({ replace: v, preview: null })} idPrefix="import" />
        <div class="actions"><button type="submit" id="import-preview">Show the changes</button>
          ${preview && !preview.refusal ? html`<button type="button" class="primary" id="import-apply" onClick=${() => this.import(false)}>Import</button>` : null}</div>
      </form>` : null}
      <${ErrorBanner} error=${unclaimed(error, ['replace'])} />
      ${preview ? html`<div id="import-preview-result"><${DiffView} diff=${preview.diff} /><p class=${preview.refusal ? 'warning' : 'hint'}>${describeChange(preview)}</p></div>` : null}
      ${done ? html`<p class="success" role="status" id="import-done">${describeChange(done)}</p>` : null}
    </section>`;
  }
}
