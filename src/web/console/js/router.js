// Hash routing: `#/trace/abc?ip=192.0.2.1` → { parts: ['trace', 'abc'], query: {ip: ...} }.
// Hash routes need no server support and keep every view addressable and bookmarkable.

export function currentRoute() {
  const hash = decodeURIComponent(location.hash.replace(/^#\/?/, ''));
  const [path, search = ''] = hash.split('?');
  const parts = path.split('/').filter(Boolean);
  return { parts, query: Object.fromEntries(new URLSearchParams(search)) };
}

export function navigate(path, query) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  const search = params.toString();
  const next = `#/${path}${search ? `?${search}` : ''}`;
  if (location.hash === next) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = next;
}

export function href(path) {
  return `#/${path}`;
}
