// Small display helpers shared by the views.

export function formatTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function formatNumber(n) {
  return typeof n === 'number' ? n.toLocaleString('en-US') : n ?? '—';
}

export function formatBytes(n) {
  if (typeof n !== 'number') return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** A `datetime-local` value (browser local time) as ISO 8601 UTC, or '' when empty. */
export function localToIso(value) {
  if (!value) return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

/** Entries of a `{name: count}` record or an array of `{name, count}`, largest first. */
export function countsOf(value, nameKey = 'name') {
  if (!value) return [];
  const list = Array.isArray(value)
    ? value.map((v) => [String(v[nameKey] ?? v.key ?? v.name ?? v.label ?? '?'), Number(v.count ?? v.messages ?? v.value ?? 0)])
    : Object.entries(value).map(([k, v]) => [k, Number(typeof v === 'object' && v !== null ? v.count ?? 0 : v)]);
  return list.sort((a, b) => b[1] - a[1]);
}

/** Which role may do what in the console; the server checks again on every request. */
export const CAN = {
  readPolicy: (role) => role === 'administrator' || role === 'helpdesk' || role === 'auditor',
  writePolicy: (role) => role === 'administrator',
  trace: (role) => role === 'administrator' || role === 'helpdesk' || role === 'auditor',
  quarantineAdmin: (role) => role === 'administrator' || role === 'helpdesk',
  report: (role) => role === 'administrator' || role === 'auditor',
};

/** The list in an answer that is either an array or `{ items }` (or `{ <key> }`). */
export function listOf(body, key) {
  if (Array.isArray(body)) return body;
  return body?.items ?? body?.[key] ?? [];
}
