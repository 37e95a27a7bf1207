// The `delivery:` bootstrap section: defaults, routes compiled to a table, and errors that name
// the line and the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrapSchema, loadBootstrapFile } from '../../src/config/bootstrap.ts';
import { onlyMaildir, routingTableOf } from '../../src/config/delivery-schema.ts';
import { resolveRoute } from '../../src/spool/routing.ts';

test('without a delivery section: embedded Maildir, 5 days lifetime, back-pressure defaults', () => {
  const c = bootstrapSchema.parse({});
  assert.equal(onlyMaildir(c.delivery), true);
  assert.equal(c.delivery.maxQueueLifetimeHours, 120);
  assert.deepEqual(c.delivery.spool, { minFreeBytes: 100 * 1024 * 1024, minFreePercent: 1, maxQueuedMessages: 100_000 });
});

test('routes: default ports per protocol, defaults for TLS and concurrency', () => {
  const c = bootstrapSchema.parse({ delivery: { default: { type: 'smtp', host: 'pf' }, routes: { 'Lists.Example.com': { type: 'lmtp', host: 'dc', starttls: 'off' } } } });
  const table = routingTableOf(c.delivery);
  const lists = resolveRoute(table, 'a@lists.example.com').route;
  const other = resolveRoute(table, 'a@example.net').route;
  assert.deepEqual(lists, { type: 'lmtp', host: 'dc', port: 24, starttls: 'off', verifyCertificate: true, caFile: undefined, tlsServerName: undefined, auth: undefined, concurrency: 4, connectTimeoutMs: 30_000 });
  assert.equal(other.type === 'smtp' && other.port, 25);
  assert.equal(other.type === 'smtp' && other.starttls, 'opportunistic');
});

test('a wrong route names the line and the field', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mxward-cfg-'));
  const file = join(dir, 'mxward.yaml');
  await writeFile(file, 'delivery:\n  default:\n    type: smtp\n    host: a\n    starttls: maybe\n  routes:\n    b.test: { type: pop3 }\n');
  try {
    assert.throws(() => loadBootstrapFile(file), (err: Error) => {
      assert.match(err.message, /line 5: delivery\.default\.starttls: /);
      assert.match(err.message, /line 7: delivery\.routes\.b\.test\.type: /);
      return true;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
