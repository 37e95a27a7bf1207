// Hash routing: `#/trace/abc?ip=192.0.2.1` → { parts: ['trace', 'abc'], query: {ip: ...} }.
// Hash routes need no server support and keep every view addressable and bookmarkable.

export function currentRoute() {
  const hash = location.hash.replace(/^#\/?/, '');
  const at = hash.indexOf('?');
  const path = at < 0 ? hash : hash.slice(0, at);
  // Each part is decoded on its own, so an encoded `/`, `?` or `&` inside a value stays in it.
  const parts = path.split('/').filter(Boolean).map((p) => { try { return decodeURIComponent(p); } catch { return p; } });
  return { parts, query: Object.fromEntries(new URLSearchParams(at < 0 ? '' : hash.slice(at + 1))) };
}

/** The query as navigate() writes it: empty values left out, so two forms of one query compare equal. */
export function queryKey(query) {
  return JSON.stringify(Object.entries(query ?? {}).filter(([, v]) => v !== undefined && v !== null && v !== '').sort());
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
