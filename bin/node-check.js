#!/usr/bin/env node
// `npm start` and `npm test` run this first (prestart, pretest): npm puts node_modules/.bin
// first on PATH, so "node" there is the Node 24 that npm install fetched; where it is missing
// and the machine's Node is too old, say so in one line instead of a confusing test-runner error.
import { nodeIsEnough, tooOldMessage } from './node-runtime.js';

if (!nodeIsEnough(process.version)) {
  process.stderr.write(tooOldMessage(`npm ${process.env.npm_lifecycle_event?.replace(/^pre/, '') ?? 'run'}`));
  process.exit(2);
}
