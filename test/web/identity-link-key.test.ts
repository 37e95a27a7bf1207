// The recipient-link key lives in the store (issue 13 with issue 14): one key per store, written
// once, so every handle (a CLI beside a gateway, nodes on one PostgreSQL) signs and checks with
// the same key, concurrent first uses agree, and an older version's key file in the data directory
// is imported so links sent before the upgrade keep opening. Run on SQLite and a real PostgreSQL;
// then two gateways on one PostgreSQL with separate data directories: a link made by node A's CLI
// or API signs in on node B.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openIdentityService } from '../../src/services/identities.ts';
import { LINK_KEY_FILE, signRecipientLink, verifyRecipientLink } from '../../src/services/identity-links.ts';
import { readLinkKey } from '../helpers/link-key.ts';
import { openIdentityStore } from '../../src/store/open-identity-store.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { IdentityStore, LinkKeyCandidate } from '../../src/store/ports.ts';
import { mxward } from '../helpers/commands.ts';
import { createTestDatabase } from '../helpers/postgres.ts';
import type { TestDatabase } from '../helpers/postgres.ts';
import { startWebGateway } from '../helpers/web-client.ts';
import type { WebGateway } from '../helpers/web-client.ts';

const generated = (): LinkKeyCandidate => ({ key: randomBytes(32), origin: 'generated' });
const inAnHour = () => new Date(Date.now() + 3600_000);

async function tempDir(t: { after(fn: () => Promise<void>): void }, prefix = 'mxward-linkkey-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A data directory holding the key file an older mxward wrote there, and that key. */
async function dataDirWithKeyFile(t: { after(fn: () => Promise<void>): void }): Promise<{ dataDir: string; fileKey: Buffer }> {
  const dataDir = await tempDir(t);
  const fileKey = randomBytes(32);
  await writeFile(join(dataDir, LINK_KEY_FILE), fileKey, { mode: 0o600 });
  return { dataDir, fileKey };
}

interface Location {
  url?: string;
  dataDir: string;
}

function defineKeyContract(name: string, freshLocation: (t: { after(fn: () => Promise<void>): void }) => Promise<Location>): void {
  describe(`recipient-link key in the store: ${name}`, () => {
    const openHandles = async (t: { after(fn: () => Promise<void>): void }, location: Location, count: number): Promise<IdentityStore[]> => {
      const handles: IdentityStore[] = [];
      t.after(async () => { for (const h of handles) await h.close(); });
      for (let i = 0; i < count; i++) handles.push(await openIdentityStore(location));
      return handles;
    };

    test('the first key written stays; every handle reads it back', async (t) => {
      const [a, b] = await openHandles(t, await freshLocation(t), 2);
      const first = generated();
      assert.ok((await a.linkKey(() => first)).equals(first.key), 'an empty store takes the offered key');
      let asked = 0;
      const later = () => { asked++; return generated(); };
      assert.ok((await b.linkKey(later)).equals(first.key), 'a second handle gets the stored key, not its own');
      assert.ok((await a.linkKey(() => ({ key: randomBytes(32), origin: 'imported-file' }))).equals(first.key), 'a key file later does not replace it');
      assert.equal(asked, 0, 'with a key stored, no new one is made (nor a key file read)');
    });

    test('handles creating the key at the same moment all get one key', async (t) => {
      const handles = await openHandles(t, await freshLocation(t), 6);
      const offered = handles.map(() => generated());
      const got = await Promise.all(handles.map((h, i) => h.linkKey(() => offered[i])));
      assert.ok(got.every((k) => k.equals(got[0])), 'one key for every handle');
      assert.ok(offered.some((c) => c.key.equals(got[0])), 'and it is one of the offered keys');
    });

    test('an older version\'s key file is imported on first use, so its links keep opening', async (t) => {
      const location = await freshLocation(t);
      // On SQLite the store is in the data directory that holds the old file; on PostgreSQL the
      // file is in the node's data directory and the key goes to the database.
      const dataDir = location.url ? await tempDir(t) : location.dataDir;
      const fileKey = randomBytes(32);
      await writeFile(join(dataDir, LINK_KEY_FILE), fileKey, { mode: 0o600 });
      const store = openStore({ url: location.url, dataDir });
      t.after(() => store.close());
      const identities = await openIdentityService({ url: location.url, dataDir, store });
      t.after(() => identities.close());
      const oldLink = signRecipientLink(fileKey, 'carol@contoso.test', inAnHour());
      const outcome = await identities.recipientLinkLogin(oldLink, '192.0.2.1');
      assert.ok(outcome.ok, 'a link signed with the old file key signs in');
      assert.deepEqual(outcome.ok && outcome.session.principal.addresses, ['carol@contoso.test']);
      const { token } = await identities.createRecipientLink('dave@contoso.test', 3600_000, 'test');
      assert.equal(verifyRecipientLink(fileKey, token, new Date()).ok, true, 'new links are signed with the imported key');
    });
  });
}

defineKeyContract('sqlite', async (t) => ({ dataDir: await tempDir(t) }));

describe('recipient-link key on SQLite: the data directory', () => {
  test('a new data directory gets a key in its store and no key file; the store holds the same key', async (t) => {
    const dataDir = await tempDir(t);
    const store = openStore({ dataDir });
    t.after(() => store.close());
    const identities = await openIdentityService({ dataDir, store });
    t.after(() => identities.close());
    const { token } = await identities.createRecipientLink('erin@contoso.test', 3600_000, 'test');
    const key = await readLinkKey(dataDir);
    assert.equal(verifyRecipientLink(key, token, new Date()).ok, true, 'the store holds the service\'s key');
    const signed = identities.recipientLinkSigner()('erin@contoso.test', new Date(Date.now() + 60_000));
    assert.equal(verifyRecipientLink(key, signed, new Date()).ok, true, 'the digest signer uses the same key');
    assert.ok(!(await readdir(dataDir)).includes(LINK_KEY_FILE), 'the key is not written to a file any more');
  });

  test('a key file too short to be a key is not imported', async (t) => {
    const dataDir = await tempDir(t);
    await writeFile(join(dataDir, LINK_KEY_FILE), Buffer.alloc(8, 1), { mode: 0o600 });
    const key = await readLinkKey(dataDir);
    assert.equal(key.length, 32);
    assert.ok(!key.subarray(0, 8).equals(Buffer.alloc(8, 1)), 'a fresh key, not the short file');
  });
});

const db = await createTestDatabase();
if (typeof db === 'string') {
  test('recipient-link key on PostgreSQL', { skip: db }, () => {});
} else {
  const database: TestDatabase = db;
  after(() => database.drop());
  let schemas = 0;
  defineKeyContract('postgres', async () => ({ url: await database.schemaUrl(`link_key_${++schemas}`), dataDir: '/nonexistent' }));

  describe('two gateways on one PostgreSQL, each with its own data directory', () => {
    let url: string;
    let nodeA: WebGateway;
    let nodeB: WebGateway;
    before(async () => {
      url = await database.schemaUrl('link_nodes');
      // Started together on an empty schema: both make their link key at the same moment.
      const started = await Promise.allSettled([startWebGateway({ config: { store: { url } } }), startWebGateway({ config: { store: { url } } })]);
      for (const s of started) if (s.status === 'fulfilled') (nodeA ? (nodeB = s.value) : (nodeA = s.value));
      const failed = started.find((s) => s.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    });
    after(async () => {
      await nodeB?.close();
      await nodeA?.close();
    });

    const signInOn = async (node: WebGateway, linkToken: string) => node.client().post('/recipient-session', { linkToken });

    test('nodes started at once agree on the key: a link from either node opens on the other', async () => {
      assert.notEqual(nodeA.dataDir, nodeB.dataDir);
      for (const [from, to] of [[nodeA, nodeB], [nodeB, nodeA]] as const) {
        const { token } = await from.identities.createRecipientLink('alice@contoso.test', 3600_000, 'test');
        const res = await signInOn(to, token);
        assert.equal(res.status, 201, res.text);
        assert.deepEqual(res.json.principal.addresses, ['alice@contoso.test']);
      }
      // What the quarantine digest's link builder signs with, on node A, opens on node B too.
      const digestLink = nodeA.identities.recipientLinkSigner()('henry@contoso.test', inAnHour());
      const res = await signInOn(nodeB, digestLink);
      assert.equal(res.status, 201, res.text);
      assert.deepEqual(res.json.principal.addresses, ['henry@contoso.test']);
    });

    test('a link made by node A\'s CLI signs in on node B; the CLI prints no key', async () => {
      const made = await mxward(nodeA.dataDir, ['console', 'link', 'bob@contoso.test', '--hours', '2', '--store-url', url, '--json']);
      assert.equal(made.code, 0, made.stderr);
      const { token } = JSON.parse(made.stdout) as { token: string };
      const res = await signInOn(nodeB, token);
      assert.equal(res.status, 201, res.text);
      assert.deepEqual([res.json.principal.role, res.json.principal.addresses], ['recipient', ['bob@contoso.test']]);
      const { key } = await keyRow(nodeA, url);
      for (const form of [key.toString('hex'), key.toString('base64'), key.toString('base64url')]) {
        assert.ok(!made.stdout.includes(form) && !made.stderr.includes(form), 'the key stays out of the output');
      }
    });

    test('a link made through node A\'s API signs in on node B, and a forged one on neither', async () => {
      const helpdesk = await nodeA.tokenClient('helpdesk');
      const created = await helpdesk.post('/recipient-links', { address: 'frank@contoso.test', ttlHours: 1 });
      assert.equal(created.status, 201, created.text);
      const res = await signInOn(nodeB, created.json.token);
      assert.equal(res.status, 201, res.text);
      assert.deepEqual(res.json.principal.addresses, ['frank@contoso.test']);
      const forged = signRecipientLink(randomBytes(32), 'frank@contoso.test', inAnHour());
      for (const node of [nodeA, nodeB]) assert.equal((await signInOn(node, forged)).status, 401);
    });
  });

  test('PostgreSQL: the first node\'s old key file becomes the cluster\'s key; a later node\'s file does not replace it', async (t) => {
    const url = await database.schemaUrl('link_upgrade');
    const first = await dataDirWithKeyFile(t);
    const second = await dataDirWithKeyFile(t);
    // The upgrade's first command on node 1 (its data directory has the old key file).
    const made = await mxward(first.dataDir, ['console', 'link', 'gina@contoso.test', '--store-url', url, '--json']);
    assert.equal(made.code, 0, made.stderr);
    assert.equal(verifyRecipientLink(first.fileKey, JSON.parse(made.stdout).token, new Date()).ok, true, 'signed with the imported file key');
    // Node 2 had a key file of its own (never copied): it runs the CLI too, then two gateways start.
    assert.equal((await mxward(second.dataDir, ['console', 'link', 'gina@contoso.test', '--store-url', url])).code, 0);
    const nodes: WebGateway[] = [];
    t.after(async () => { for (const n of nodes) await n.close(); });
    nodes.push(await startWebGateway({ config: { store: { url } } }), await startWebGateway({ config: { store: { url } } }));
    const sentBeforeUpgrade = signRecipientLink(first.fileKey, 'gina@contoso.test', inAnHour());
    for (const node of nodes) {
      const res = await node.client().post('/recipient-session', { linkToken: sentBeforeUpgrade });
      assert.equal(res.status, 201, `a link signed with node 1's old key file opens on every node: ${res.text}`);
    }
    const row = await keyRow(nodes[0], url);
    assert.deepEqual([row.key.equals(first.fileKey), row.origin], [true, 'imported-file']);
  });
}

/** The stored key row, read through the node's own store connection (PostgreSQL only). */
async function keyRow(node: WebGateway, url: string): Promise<{ key: Buffer; origin: string }> {
  const { token } = await node.identities.createRecipientLink('probe@contoso.test', 60_000, 'test');
  const store = await openIdentityStore({ url, dataDir: node.dataDir });
  try {
    // linkKey with a candidate that cannot win returns the stored key without changing it.
    const key = await store.linkKey(generated);
    assert.equal(verifyRecipientLink(key, token, new Date()).ok, true, 'the node signs with the stored key');
    const origin = await originOf(url);
    return { key, origin };
  } finally {
    await store.close();
  }
}

async function originOf(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ origin: string }>('SELECT origin FROM console_link_key WHERE id = 1')).rows[0].origin;
  } finally {
    await client.end();
  }
}
