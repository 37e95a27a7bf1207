// The console's files (src/web/console/) at /console/, and the ES modules it imports from
// node_modules at /console/vendor/<package>/<file>, only those listed in console/vendor.json, so
// the console needs no CDN and no build step, and no other file under node_modules is reachable.
// Paths are resolved and checked to stay inside their root (no `..`, no symlink out).
import { readFileSync, statSync } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const defaultConsoleDir = fileURLToPath(new URL('./console/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

export function contentTypeOf(file: string): string {
  return CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
}

export interface StaticFile {
  body: Buffer;
  contentType: string;
}

/** `{ "preact": ["dist/preact.mjs"] }`: package name to the files the console may load from it. */
export type VendorList = Record<string, string[]>;

export function readVendorList(consoleDir: string): VendorList {
  try {
    const parsed = JSON.parse(readFileSync(join(consoleDir, 'vendor.json'), 'utf8')) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
    const out: VendorList = {};
    for (const [pkg, files] of Object.entries(parsed)) {
      if (Array.isArray(files)) out[pkg] = files.filter((f): f is string => typeof f === 'string');
    }
    return out;
  } catch {
    return {};
  }
}

/** The node_modules directory nearest above `from` that holds `pkg`. */
function packageDir(from: string, pkg: string): string | null {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', pkg);
    if (statSync(join(candidate, 'package.json'), { throwIfNoEntry: false })) return candidate;
    if (dirname(dir) === dir) return null;
  }
}

/** Splits a URL path below a root into checked segments, or null for anything suspicious. */
function safeSegments(relative: string): string[] | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(relative);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const segments = decoded.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '..' || s === '.' || s.startsWith('.'))) return null;
  return segments;
}

async function readInside(root: string, segments: string[]): Promise<StaticFile | null> {
  const file = resolve(root, ...segments);
  try {
    const realRoot = await realpath(root);
    const real = await realpath(file);
    if (real !== realRoot && !real.startsWith(realRoot + sep)) return null;
    if (!statSync(real).isFile()) return null;
    return { body: await readFile(real), contentType: contentTypeOf(real) };
  } catch {
    return null;
  }
}

export class ConsoleFiles {
  readonly #root: string;
  readonly #vendor: VendorList;

  constructor(consoleDir: string = defaultConsoleDir) {
    this.#root = consoleDir;
    this.#vendor = readVendorList(consoleDir);
  }

  /** `relative` is the URL path after `/console/` (still percent-encoded). */
  async read(relative: string): Promise<StaticFile | null> {
    const segments = safeSegments(relative);
    if (segments === null) return null;
    if (segments[0] === 'vendor') return this.#readVendor(segments.slice(1));
    if (segments.length === 0) segments.push('index.html');
    return readInside(this.#root, segments);
  }

  async #readVendor(segments: string[]): Promise<StaticFile | null> {
    const scoped = segments[0]?.startsWith('@');
    const pkg = segments.slice(0, scoped ? 2 : 1).join('/');
    const file = segments.slice(scoped ? 2 : 1).join('/');
    if (!this.#vendor[pkg]?.includes(file)) return null;
    const dir = packageDir(this.#root, pkg);
    return dir ? readInside(dir, file.split('/')) : null;
  }
}
