// "Add these connectors": a policy fragment merged into the policy, always shown as a diff first
// (POST /policy/merge with dryRun), then applied with a second, explicit click.
import { html, Component } from './html.js';
import { api } from './api.js';
import { DiffView, ErrorBanner } from './components.js';

export function mergeFragment(fragment, dryRun) {
  return api('post', '/policy/merge', { body: { fragment, dryRun } });
}

/** The result of a policy change (written, dry-run, refused, unchanged) in one sentence. */
export function describeChange(result) {
  if (!result) return '';
  switch (result.kind) {
    case 'written': return `Saved as policy version ${result.version}.`;
    case 'dry-run': return result.refusal ? `This change would be refused: ${result.refusal}` : `Preview against policy version ${result.version}; nothing is saved yet.`;
    case 'refused': return `Refused: ${result.reason}`;
    case 'unchanged': return `The policy already contains this (version ${result.version}).`;
    default: return result.version ? `Policy version ${result.version}.` : '';
  }
}

export class MergePanel extends Component {
  constructor(props) {
    super(props);
    this.state = { preview: null, applied: null, error: null, busy: false };
  }

  async run(dryRun) {
    this.setState({ busy: true, error: null });
    try {
      const result = await mergeFragment(this.props.fragment, dryRun);
      this.setState(dryRun ? { preview: result, applied: null } : { applied: result, preview: null });
      if (!dryRun && this.props.onApplied) this.props.onApplied(result);
    } catch (error) {
      this.setState({ error });
    } finally {
      this.setState({ busy: false });
    }
  }

  render() {
    const { fragment, canWrite, id = 'merge' } = this.props;
    const { preview, applied, error, busy } = this.state;
    const count = fragment?.connectors?.length ?? 0;
    if (count === 0) return html`<p class="empty">No connector to add.</p>`;
    if (!canWrite) return html`<p class="hint">An administrator can merge these ${count} connectors into the policy.</p>`;
    const refused = preview && (preview.refusal || preview.kind === 'refused');
    return html`<div class="merge" id=${id}>
      <${ErrorBanner} error=${error} />
      ${!preview && !applied ? html`<button class="primary" id=${`${id}-preview`} disabled=${busy} onClick=${() => this.run(true)}>Show the changes (${count} connector${count === 1 ? '' : 's'})</button>` : null}
      ${preview ? html`<div class="merge-preview">
        <h4>Changes to the policy</h4>
        <${DiffView} diff=${preview.diff} />
        <p class=${refused ? 'warning' : 'hint'}>${describeChange(preview)}</p>
        <button class="primary" id=${`${id}-apply`} disabled=${busy || refused} onClick=${() => this.run(false)}>Apply these changes</button>
        <button class="link" onClick=${() => this.setState({ preview: null })}>Cancel</button>
      </div>` : null}
      ${applied ? html`<p class="success" role="status" id=${`${id}-done`}>${describeChange(applied)}</p>` : null}
    </div>`;
  }
}
