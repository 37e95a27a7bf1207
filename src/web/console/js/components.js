// Pieces every view uses: labelled fields that show the API error about them, an error banner
// for the rest, a policy diff, and a small async-loading base class.
import { html, Component } from './html.js';

/** `body.connectors[2].name` → `connectors[2].name`: the path as the form knows it. */
function formPath(path) {
  return String(path ?? '').replace(/^(body|query|params)\.?/, '');
}

/** Whether an API error is about this form field (the field or something inside it). */
export function errorIsFor(error, field) {
  if (!error || !error.path) return false;
  const p = formPath(error.path);
  return p === field || p.startsWith(`${field}[`) || p.startsWith(`${field}.`);
}

/** An error no field of the form claims. */
export function unclaimed(error, fields) {
  if (!error) return null;
  return fields.some((f) => errorIsFor(error, f)) ? null : error;
}

export function ErrorBanner({ error }) {
  if (!error) return null;
  return html`<div class="error-banner" role="alert">
    <strong class="error-code">${error.code ?? 'error'}</strong> ${error.message}
    ${error.path ? html` <span class="error-path">(at <code>${formPath(error.path) || error.path}</code>)</span>` : null}
  </div>`;
}

export function FieldError({ error, field }) {
  if (!errorIsFor(error, field)) return null;
  return html`<p class="field-error" role="alert" id=${`err-${field}`}>
    <span class="error-code">${error.code}</span> ${error.message} <code class="error-path">${formPath(error.path)}</code>
  </p>`;
}

/**
 * A labelled input. `name` is the API field name, used for the element id and to find the
 * error about it. `onInput` receives the new value.
 */
export function Field({ label, name, value, onInput, type = 'text', error, placeholder, options, hint, idPrefix = 'f' }) {
  const id = `${idPrefix}-${name}`;
  const invalid = errorIsFor(error, name);
  const common = { id, name, 'aria-invalid': invalid ? 'true' : undefined, 'aria-describedby': invalid ? `err-${name}` : undefined };
  let control;
  if (options) {
    control = html`<select ...${common} value=${value} onChange=${(e) => onInput(e.currentTarget.value)}>
      ${options.map(([v, text]) => html`<option value=${v} selected=${v === value}>${text}</option>`)}
    </select>`;
  } else if (type === 'checkbox') {
    control = html`<input type="checkbox" ...${common} checked=${!!value} onChange=${(e) => onInput(e.currentTarget.checked)} />`;
  } else {
    control = html`<input type=${type} ...${common} value=${value ?? ''} placeholder=${placeholder} onInput=${(e) => onInput(e.currentTarget.value)} />`;
  }
  return html`<div class=${`field ${type === 'checkbox' ? 'field-check' : ''}`}>
    <label for=${id}>${label}</label>${control}
    ${hint ? html`<small class="hint">${hint}</small>` : null}
    <${FieldError} error=${error} field=${name} />
  </div>`;
}

/** A PolicyDiff (services/policy-diff.ts): + added, - removed, ~ changed. */
export function DiffView({ diff }) {
  if (!diff) return null;
  const lines = [
    ...(diff.domains?.added ?? []).map((x) => ['add', `+ accepted domain ${x}`]),
    ...(diff.connectors?.added ?? []).map((x) => ['add', `+ connector ${x}`]),
    ...(diff.domains?.removed ?? []).map((x) => ['remove', `- accepted domain ${x}`]),
    ...(diff.connectors?.removed ?? []).map((x) => ['remove', `- connector ${x}`]),
    ...(diff.domains?.changed ?? []).map((x) => ['change', `~ accepted domain ${x}`]),
    ...(diff.connectors?.changed ?? []).map((x) => ['change', `~ connector ${x.name}: ${(x.fields ?? []).join(', ')}`]),
    ...(diff.settings ?? []).map((x) => ['change', `~ ${x}`]),
  ];
  if (lines.length === 0) return html`<p class="diff diff-empty">No change.</p>`;
  return html`<ul class="diff" aria-label="Policy changes">${lines.map(([kind, text]) => html`<li class=${`diff-${kind}`}>${text}</li>`)}</ul>`;
}

/**
 * A view that loads data when mounted and when `loadKey()` changes. Subclasses implement
 * `load()` (returns the data) and `view(data)`; errors are shown in a banner.
 */
export class Loader extends Component {
  constructor(props) {
    super(props);
    this.state = { data: null, error: null, loading: true };
  }
  componentDidMount() { this.reload(); }
  componentDidUpdate(prev) {
    if (this.loadKey(prev) !== this.loadKey(this.props)) this.reload();
  }
  loadKey(props) { return JSON.stringify(props.route ?? null); }
  async reload() {
    this.setState({ loading: true });
    try {
      const data = await this.load();
      this.setState({ data, error: null, loading: false });
    } catch (error) {
      this.setState({ error, loading: false });
    }
  }
  render() {
    const { data, error, loading } = this.state;
    return html`<div>
      <${ErrorBanner} error=${error} />
      ${data !== null ? this.view(data) : loading ? html`<p class="loading" aria-busy="true">Loading…</p>` : null}
    </div>`;
  }
}
