// The console's one door to the HTTP API (/api/v1): JSON in and out, the session cookie sent by
// the browser, the CSRF token in `x-csrf-token` on every write, and API errors turned into
// ApiError values carrying the server's code, message and field path, so a view can show the
// error next to the field it is about.

const BASE = '/api/v1';
const CSRF_KEY = 'mxward.csrf';

export class ApiError extends Error {
  constructor(status, code, message, path) {
    super(message);
    this.status = status;
    this.code = code;
    this.path = path ?? null;
  }
}

let csrfToken = sessionStorage.getItem(CSRF_KEY);

/** Kept for the tab's lifetime only: a reload keeps working, closing the tab forgets it. */
export function setCsrfToken(token) {
  csrfToken = token ?? null;
  if (csrfToken) sessionStorage.setItem(CSRF_KEY, csrfToken);
  else sessionStorage.removeItem(CSRF_KEY);
}

/** Called when any request answers 401, so the app can show the sign-in again. */
let onUnauthenticated = () => {};
export function whenUnauthenticated(fn) { onUnauthenticated = fn; }

function queryString(query) {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    params.set(k, String(v));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

async function errorOf(response) {
  let body = null;
  try { body = await response.json(); } catch { /* not JSON: use the status line */ }
  const e = body && body.error;
  if (e && typeof e === 'object') return new ApiError(response.status, e.code ?? 'error', e.message ?? response.statusText, e.path);
  return new ApiError(response.status, `http_${response.status}`, `${response.status} ${response.statusText}`.trim());
}

/**
 * `api('post', '/connectors', { body })`. `raw` sends bytes (a File) as they are with its
 * content type; `text: true` reads a text answer (headers, preview). 204 answers give null.
 */
export async function api(method, path, { body, query, raw, contentType, text = false, quiet401 = false } = {}) {
  const upper = method.toUpperCase();
  const headers = { accept: text ? 'text/plain, application/json' : 'application/json' };
  if (upper !== 'GET' && upper !== 'HEAD' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let payload;
  if (raw !== undefined) {
    payload = raw;
    headers['content-type'] = contentType || raw.type || 'application/octet-stream';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  let response;
  try {
    response = await fetch(`${BASE}${path}${queryString(query)}`, { method: upper, headers, body: payload, credentials: 'same-origin' });
  } catch (err) {
    throw new ApiError(0, 'network', `mxward did not answer: ${err.message}`);
  }
  if (!response.ok) {
    const error = await errorOf(response);
    if (response.status === 401 && !quiet401) onUnauthenticated(error);
    throw error;
  }
  if (response.status === 204) return null;
  const type = response.headers.get('content-type') || '';
  if (text || !type.includes('json')) return response.text();
  return response.json();
}
