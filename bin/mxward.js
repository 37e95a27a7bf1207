#!/usr/bin/env node
// Entry point. Chooses the Node (node-runtime.js) before anything else is imported, so an older
// Node gets a working mxward or one sentence, never a loader stack trace. From a checkout Node
// runs the TypeScript sources directly (type stripping); an installed package ships them
// compiled to dist/ (Node does not strip types under node_modules).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bundledNode, childEnvFor, enableCompileCacheFor, muteExperimentalWarnings, nodeFlagsFor, nodeIsEnough, reexec, tooOldMessage } from './node-runtime.js';

const major = Number(process.versions.node.split('.')[0]);
const bundled = major < 24 ? bundledNode() : null;
const args = process.argv.slice(2);
// Heap flags only take effect at start, so a command that needs one (report) runs in a child
// Node that has it; the parent only waits (it loaded nothing but this file).
const flags = nodeFlagsFor(args, process.execArgv);
if (bundled) {
  reexec(bundled, [...flags, fileURLToPath(import.meta.url), ...args], childEnvFor(args, process.env));
} else if (!nodeIsEnough(process.version)) {
  process.stderr.write(tooOldMessage('mxward'));
  process.exit(2);
} else if (flags.length > 0) {
  reexec(process.execPath, [...process.execArgv, ...flags, fileURLToPath(import.meta.url), ...args], childEnvFor(args, process.env));
} else {
  muteExperimentalWarnings();
  // Before main.ts and its modules load, so that they come from the cache (report only).
  enableCompileCacheFor(args, process.env);
  // A checkout has src/ (run as is); the package ships only dist/.
  const sources = new URL('../src/cli/main.ts', import.meta.url);
  const { main } = await import(existsSync(fileURLToPath(sources)) ? sources.href : '../dist/cli/main.js');
  const code = await main(args, {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
  });
  process.exitCode = code;
}
