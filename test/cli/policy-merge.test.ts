// Issue 12, "never let an import remove what the user did not ask to remove": the report's YAML
// taken through `mxward policy import` (refused: it would remove the domains and connectors),
// `--dry-run` (the diff), `policy merge` (adds exactly the suggested connectors), `history` and
// `rollback` (restores a version byte for byte, audited). Real processes, a real store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mxward } from '../helpers/commands.ts';
import type { RunResult } from '../helpers/commands.ts';
import { mkdirSync } from 'node:fs';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { dataPaths } from '../../src/config/data-dir.ts';
import { policySchema } from '../../src/config/policy-schema.ts';

const trust = (name: string): string => fileURLToPath(new URL(`../fixtures/report-trust/${name}`, import.meta.url));
const root = await mkdtemp(join(tmpdir(), 'mxward-policy-merge-'));
test.after(() => rm(root, { recursive: true, force: true }));

const BASE = policySchema.parse({
  rejectDirectSend: 'report',
  acceptedDomains: [{ domain: 'contoso.com' }, { domain: 'fabrikam.com', includeSubdomains: true }],
  connectors: [{ name: 'Contoso CRM', type: 'partner', senderDomains: ['contoso.com'], senderIPAddresses: ['192.0.2.16/28'], restrictDomainsToIPAddresses: true }],
});

let dirs = 0;
/** A data directory whose store holds BASE as version 1. */
async function install(): Promise<string> {
  const dir = join(root, `data-${++dirs}`);
  mkdirSync(dir, { recursive: true });
  const store = new SqliteStore(dataPaths(dir).store);
  try {
    await store.writePolicy(BASE, 'tester', 'policy.import');
  } finally {
    await store.close();
  }
  return dir;
}

function ok(r: RunResult, what: string): string {
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  return r.stdout;
}

/** The report's suggested connectors as YAML, and their names. */
async function suggested(dir: string): Promise<{ file: string; names: string[] }> {
  const inputs = ['trace.csv', 'bec-quarantined.csv', 'emailevents.csv', 'forwarder.eml', 'helo-claims-ours.eml'].map(trust);
  const spf = ['--spf', 'contoso.com=v=spf1 ip4:203.0.113.25 include:_spf.saas.example -all', '--spf', '_spf.saas.example=v=spf1 ip4:192.0.2.0/24 -all'];
  const model = JSON.parse(ok(await mxward(dir, ['report', ...inputs, '--accepted-domain', 'contoso.com', ...spf, '--format', 'json']), 'report'));
  const file = join(root, `suggested-${dirs}.yaml`);
  await writeFile(file, model.policyYaml);
  return { file, names: model.recommendations.map((r: { name: string }) => r.name) };
}

const exportBody = async (dir: string): Promise<string> => ok(await mxward(dir, ['policy', 'export']), 'export').replace(/^# mxward policy, version \d+\n/, '');
const connectorNames = async (dir: string): Promise<string[]> => JSON.parse(ok(await mxward(dir, ['connector', 'list', '--json']), 'connector list')).map((c: { name: string }) => c.name);

test('import of the report YAML is refused (it would remove domains and connectors); --dry-run shows the diff', async () => {
  const dir = await install();
  const { file, names } = await suggested(dir);
  assert.equal(names.length, 3);
  const before = await exportBody(dir);
  const refused = await mxward(dir, ['policy', 'import', file]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /refused: the file would remove accepted domain contoso\.com, accepted domain fabrikam\.com, connector Contoso CRM;.*--replace/);
  assert.match(refused.stderr, /^ {2}- connector Contoso CRM$/m);
  assert.equal(await exportBody(dir), before, 'nothing written');
  const dry = ok(await mxward(dir, ['policy', 'import', file, '--dry-run']), 'dry run');
  for (const name of names) assert.match(dry, new RegExp(`^  \\+ connector ${name.replace(/\./g, '\\.')}$`, 'm'));
  assert.match(dry, /^ {2}- accepted domain contoso\.com$/m);
  assert.match(dry, /^ {2}~ rejectDirectSend: "report" -> "enforce"$/m);
  assert.match(dry, /without --dry-run this would be refused/);
  assert.equal(await exportBody(dir), before, 'a dry run writes nothing');
});

test('merge adds exactly the suggested connectors and keeps everything else; again: nothing to change', async () => {
  const dir = await install();
  const { file, names } = await suggested(dir);
  const dry = ok(await mxward(dir, ['policy', 'merge', file, '--dry-run']), 'merge dry run');
  assert.deepEqual(dry.split('\n').filter((l) => l.startsWith('  ')), names.map((n) => `  + connector ${n}`));
  assert.deepEqual(await connectorNames(dir), ['Contoso CRM'], 'dry run wrote nothing');
  assert.match(ok(await mxward(dir, ['policy', 'merge', file, '--actor', 'admin']), 'merge'), /^policy merge: version 1 -> 2$/m);
  assert.deepEqual(await connectorNames(dir), ['Contoso CRM', ...names]);
  const exported = await exportBody(dir);
  assert.match(exported, /rejectDirectSend: report/, 'switches untouched');
  assert.match(exported, /domain: fabrikam\.com\n\s+includeSubdomains: true/, 'domains untouched');
  assert.match(ok(await mxward(dir, ['policy', 'merge', file]), 'merge again'), /nothing to change \(version 2/);
  // A connector of the same name with other settings is never overwritten by a merge.
  const { readFile } = await import('node:fs/promises');
  const changed = join(root, 'changed.yaml');
  await writeFile(changed, (await readFile(file, 'utf8')).replace('192.0.2.0/24', '192.0.2.0/25'));
  const conflict = await mxward(dir, ['policy', 'merge', changed]);
  assert.equal(conflict.code, 2);
  assert.match(conflict.stderr, /connector DirectSend-192\.0\.2\.0-24 exists with other settings: merge only adds/);
  const bad = join(root, 'whole.yaml');
  await writeFile(bad, 'rejectDirectSend: off\nconnectors: []\n');
  const whole = await mxward(dir, ['policy', 'merge', bad]);
  assert.equal(whole.code, 2);
  assert.match(whole.stderr, /whole\.yaml.*line 1: rejectDirectSend: unknown key/);
});

test('history lists the versions; rollback restores one byte for byte and is itself audited', async () => {
  const dir = await install();
  const v1 = await exportBody(dir);
  const { file } = await suggested(dir);
  ok(await mxward(dir, ['policy', 'merge', file]), 'merge');
  const replaceFile = join(root, 'replace.yaml');
  await writeFile(replaceFile, 'acceptedDomains:\n  - domain: example.net\n');
  ok(await mxward(dir, ['policy', 'import', replaceFile, '--replace', '--actor', 'admin']), 'import --replace');
  const history = JSON.parse(ok(await mxward(dir, ['policy', 'history', '--json']), 'history'));
  assert.deepEqual(history.map((h: { version: number; action: string }) => [h.version, h.action]), [[3, 'policy.import.replace'], [2, 'policy.merge'], [1, 'policy.import']]);
  assert.match(ok(await mxward(dir, ['policy', 'history']), 'history table'), /^3\s+\S+\s+admin\s+policy\.import\.replace\s+1\s+0$/m);
  const dry = ok(await mxward(dir, ['policy', 'rollback', '1', '--dry-run']), 'rollback dry run');
  assert.match(dry, /^ {2}\+ accepted domain contoso\.com$/m);
  assert.match(ok(await mxward(dir, ['policy', 'rollback', '1', '--actor', 'admin']), 'rollback'), /version 3 -> 4/);
  assert.equal(await exportBody(dir), v1, 'version 1 restored byte for byte');
  const again = JSON.parse(ok(await mxward(dir, ['policy', 'history', '--json', '--limit', '1']), 'history'));
  assert.deepEqual([again[0].version, again[0].action, again[0].actor], [4, 'policy.rollback:v1', 'admin']);
  const unknown = await mxward(dir, ['policy', 'rollback', '42']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no policy version 42 in the audit log \(versions 1 to 4/);
  const junk = await mxward(dir, ['policy', 'rollback', 'latest']);
  assert.equal(junk.code, 2);
  assert.equal(junk.stderr.trim().split('\n').length, 1);
});
