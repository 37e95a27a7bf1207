// Issue 16: docs/configuration.md is generated from the zod schemas and must match them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderConfigurationReference } from '../../src/config/config-reference.ts';
import { bootstrapSchema } from '../../src/config/bootstrap.ts';
import { repoRoot } from '../helpers/commands.ts';

test('docs/configuration.md is what the schemas generate (npm run docs:config rewrites it)', async () => {
  const committed = readFileSync(join(repoRoot, 'docs/configuration.md'), 'utf8');
  const generated = await renderConfigurationReference();
  assert.ok(committed === generated, 'docs/configuration.md is out of date: run "npm run docs:config" and commit it');
});

test('every bootstrap key is in the reference with a type, and every row says what it does', async () => {
  const text = await renderConfigurationReference();
  const topKeys = Object.keys((bootstrapSchema as unknown as { shape: Record<string, unknown> }).shape);
  for (const key of topKeys) assert.match(text, new RegExp(`^\\| \`${key}\` \\| `, 'm'), `${key} missing`);
  for (const key of ['admin.port', 'retention.traceDays', 'limits.maxMessageBytes', 'listeners.inbound.port', 'connectors[].senderIPAddresses']) {
    assert.match(text, new RegExp(`^\\| \`${key.replace(/[.[\]]/g, '\\$&')}\` \\| `, 'm'), `${key} missing`);
  }
  const rows = text.split('\n').filter((l) => l.startsWith('| `'));
  assert.ok(rows.length > 80, `only ${rows.length} rows`);
  const silent = rows.filter((l) => l.endsWith('|  |'));
  assert.deepEqual(silent, [], 'rows without a meaning');
  assert.match(text, /\| `retention\.traceDays` \| integer 0–3650 \| `30` \|/);
  assert.match(text, /\| `admin` \| section or `null` \| `null` \|/);
});
