#!/usr/bin/env node
// `npm pack` (prepack): compiles src/ to dist/ for the package. Node strips types only outside
// node_modules, so an installed mxward needs JavaScript; a checkout keeps running src/ directly.
// tsc rewrites `.ts` in import specifiers; a worker file named in `new URL('./x.ts', …)` is not an
// import, so that spelling is rewritten here.
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
// `--out DIR` (inside the checkout, so that the compiled modules find node_modules): the bench of
// `mxward report` measures the compiled form an installed mxward runs, without touching dist/.
const outAt = process.argv.indexOf('--out');
const dist = outAt > 0 ? resolve(root, process.argv[outAt + 1]) : join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', dist], { stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);
for (const entry of readdirSync(dist, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.js')) continue;
  const file = join(entry.parentPath, entry.name);
  const text = readFileSync(file, 'utf8');
  const fixed = text.replace(/new URL\((['"])(\.{1,2}\/[^'"]+)\.ts\1/g, 'new URL($1$2.js$1');
  if (fixed !== text) writeFileSync(file, fixed);
}
// The web console is served as it is written (ES modules, CSS, HTML: no build step), beside the
// compiled server that serves it; its vendored libraries come from the installed dependencies.
cpSync(join(root, 'src', 'web', 'console'), join(dist, 'web', 'console'), { recursive: true, filter: (from) => !from.endsWith('README.md') });
