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

/** Which role may do what in the console (operate: quarantine and queue actions); the server checks again on every request. */
export const CAN = {
  readPolicy: (role) => role === 'administrator' || role === 'helpdesk' || role === 'auditor',
  writePolicy: (role) => role === 'administrator',
  trace: (role) => role === 'administrator' || role === 'helpdesk' || role === 'auditor',
  operate: (role) => role === 'administrator' || role === 'helpdesk',
  report: (role) => role === 'administrator' || role === 'auditor',
};
