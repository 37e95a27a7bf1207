#!/usr/bin/env node
// Entry point: Node >= 22.18 runs the TypeScript sources directly (type stripping). Checked
// before anything is imported, so an older Node gets a sentence instead of a loader stack trace.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(`mxward needs Node.js 22.18 or later (24 recommended); this is ${process.version}\n`);
  process.exit(2);
}
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
});
process.exitCode = code;
