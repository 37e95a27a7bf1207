// Identities over real HTTP against a running gateway (issue 13): sign-in and sign-out, cookie
// flags, CSRF, login throttling, API tokens (shown once, hashed at rest, scoped, expiring,
// revocable), roles, recipients (mail credentials and signed links), the first administrator,
// the audit log, and `mxward console` on the same store.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { readFile, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { hashPassword } from '../../src/users/passwords.ts';
import { startWebGateway, cookiePair } from '../helpers/web-client.ts';
import type { WebGateway } from '../helpers/web-client.ts';
import { mxward } from '../helpers/commands.ts';

async function waitFor<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function expectUnauthenticated(res: { status: number; json: any }): void {
  assert.deepEqual([res.status, res.json?.error?.code], [401, 'unauthenticated']);
}

describe('console identities', () => {
  let gateway: WebGateway;
  before(async () => {
    // Several tests here fail sign-ins on purpose from the same address; throttling has its own test.
    gateway = await startWebGateway({ console: { loginFailuresBeforeLockout: 50 } });
    await gateway.store.putUser({ username: 'carol', passwordHash: await hashPassword('carol-mail-password'), addresses: ['carol@example.test', 'c@example.test'] }, 'test');
  });
  after(async () => { await gateway?.close(); });

  test('the first start creates admin with a password in a 0600 file', async () => {
    const file = join(gateway.dataDir, 'console-initial-password');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.ok(gateway.adminPassword.length >= 20);
    assert.deepEqual((await gateway.identities.listAccounts()).map((a) => [a.username, a.role]), [['admin', 'administrator']]);
  });

  test('sign-in sets a __Host- prefixed, Secure, HttpOnly, SameSite=Strict cookie; sign-out ends the session', async () => {
    const res = await gateway.client().post('/session', { username: 'admin', password: gateway.adminPassword });
    assert.equal(res.status, 201);
    const setCookie = String(res.headers['set-cookie']);
    // The prefix makes the browser refuse the same name with a narrower Path or a Domain from another port.
    assert.ok(setCookie.startsWith('__Host-mxward_session='), setCookie);
    assert.ok(!/;\s*Domain=/i.test(setCookie), setCookie);
    for (const flag of ['HttpOnly', 'Secure', 'SameSite=Strict', 'Path=/']) assert.ok(setCookie.includes(flag), `${flag} in ${setCookie}`);
    assert.equal(res.json.principal.role, 'administrator');
    assert.equal(typeof res.json.csrfToken, 'string');
    const cookie = cookiePair(res.headers['set-cookie'])!;
    // The store keeps only a hash of the session id.
    const db = new DatabaseSync(join(gateway.dataDir, 'mxward.db'), { readOnly: true });
    try {
      const sessionId = cookie.split('=')[1];
      const rows = db.prepare('SELECT id_hash FROM console_sessions').all() as Array<{ id_hash: string }>;
      assert.ok(rows.some((r) => r.id_hash === createHash('sha256').update(sessionId).digest('hex')));
      assert.ok(!rows.some((r) => r.id_hash === sessionId));
    } finally { db.close(); }
    const session = gateway.client().with({ kind: 'session', cookie, csrfToken: res.json.csrfToken });
    const me = await session.get('/session');
    assert.deepEqual([me.status, me.json.principal.name, me.json.csrfToken], [200, 'admin', res.json.csrfToken]);
    const noCsrf = await session.delete('/session', { omitCsrf: true });
    assert.deepEqual([noCsrf.status, noCsrf.json.error.code], [403, 'csrf_failed']);
    const out = await session.delete('/session');
    assert.equal(out.status, 204);
    assert.match(String(out.headers['set-cookie']), /^__Host-mxward_session=;.*Max-Age=0/);
    const after = await session.get('/session');
    assert.deepEqual([after.status, after.json.error.code], [401, 'unauthenticated']);
  });

  test('writes with a session cookie need the CSRF token', async () => {
    const admin = await gateway.adminClient();
    const body = { username: 'dave', role: 'helpdesk', password: 'dave-password-123' };
    const missing = await admin.post('/accounts', body, { omitCsrf: true });
    assert.deepEqual([missing.status, missing.json.error.code], [403, 'csrf_failed']);
    const wrong = await admin.post('/accounts', body, { omitCsrf: true, headers: { 'x-csrf-token': 'not-the-token' } });
    assert.deepEqual([wrong.status, wrong.json.error.code], [403, 'csrf_failed']);
    assert.equal((await gateway.identities.listAccounts()).some((a) => a.username === 'dave'), false, 'nothing changed');
    const ok = await admin.post('/accounts', body);
    assert.deepEqual([ok.status, ok.json.username, ok.json.role], [201, 'dave', 'helpdesk']);
    assert.equal('password' in ok.json || 'passwordHash' in ok.json, false);
    // Reads need no CSRF token.
    assert.equal((await admin.get('/accounts', { omitCsrf: true })).status, 200);
    // Every change lands in the audit log with the actor.
    const audit = await gateway.store.listAudit(20);
    assert.ok(audit.some((e) => e.actor === 'console:admin' && e.action === 'console.account.add' && (e.new as { username: string }).username === 'dave'));
  });

  test('API tokens: shown once, hashed at rest, usable until revoked', async () => {
    const admin = await gateway.adminClient();
    const created = await admin.post('/tokens', { name: 'ci', role: 'helpdesk', scopes: ['read', 'write'] });
    assert.equal(created.status, 201);
    const token: string = created.json.token;
    assert.match(token, /^mxw_[0-9a-f]{12}_/);
    const listed = await admin.get('/tokens');
    const entry = listed.json.tokens.find((t: { id: string }) => t.id === created.json.info.id);
    assert.ok(entry);
    assert.doesNotMatch(listed.text, new RegExp(token.slice(18, 40)), 'the secret is never listed again');
    assert.equal('tokenHash' in entry || 'token' in entry, false);
    // At rest: the SHA-256 only; the secret appears nowhere in the database file.
    const db = new DatabaseSync(join(gateway.dataDir, 'mxward.db'), { readOnly: true });
    try {
      const row = db.prepare('SELECT token_hash FROM api_tokens WHERE id = ?').get(created.json.info.id) as { token_hash: string };
      assert.equal(row.token_hash, createHash('sha256').update(token).digest('hex'));
    } finally { db.close(); }
    const files = await Promise.all(['mxward.db', 'mxward.db-wal'].map((f) => readFile(join(gateway.dataDir, f)).catch(() => Buffer.alloc(0))));
    assert.equal(files.some((b) => b.includes(token)), false);

    const client = gateway.client().with({ kind: 'token', token });
    const me = await client.get('/session');
    assert.deepEqual([me.status, me.json.principal.kind, me.json.principal.role], [200, 'token', 'helpdesk']);
    const revoked = await admin.delete(`/tokens/${created.json.info.id}`);
    assert.equal(revoked.status, 204);
    const refused = await client.get('/session');
    assert.deepEqual([refused.status, refused.json.error.code], [401, 'unauthenticated']);
    const again = await admin.delete(`/tokens/${created.json.info.id}`);
    assert.deepEqual([again.status, again.json.error.code], [404, 'not_found']);
    const audit = await gateway.store.listAudit(50);
    assert.ok(audit.some((e) => e.action === 'console.token.revoke' && e.actor === 'console:admin'));
    assert.ok(audit.every((e) => !JSON.stringify(e).includes(token)), 'the secret is not in the audit log');
  });

  test('an expired token is refused', async () => {
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    const client = await gateway.tokenClient('administrator', ['read'], expiresAt);
    assert.equal((await client.get('/accounts')).status, 200);
    const refused = await waitFor('token expiry', async () => {
      const res = await client.get('/accounts');
      return res.status === 401 ? res : null;
    });
    assert.equal(refused.json.error.code, 'unauthenticated');
    const past = await (await gateway.adminClient()).post('/tokens', { name: 'old', role: 'auditor', scopes: ['read'], expiresAt: '2020-01-01T00:00:00Z' });
    assert.deepEqual([past.status, past.json.error.path], [400, 'body.expiresAt']);
  });

  test('a read token cannot write; roles are enforced', async () => {
    const readAdmin = await gateway.tokenClient('administrator', ['read']);
    const write = await readAdmin.post('/accounts', { username: 'frank', role: 'auditor', password: 'frank-password-1' });
    assert.deepEqual([write.status, write.json.error.code], [403, 'forbidden']);
    const helpdesk = await gateway.tokenClient('helpdesk');
    for (const [method, path, body] of [['GET', '/accounts'], ['POST', '/tokens', { name: 'x', role: 'administrator' }], ['GET', '/tokens']] as const) {
      const res = await helpdesk.api(method, path, { body });
      assert.deepEqual([res.status, res.json.error.code], [403, 'forbidden'], `helpdesk ${method} ${path}`);
    }
    const auditor = await gateway.tokenClient('auditor');
    assert.equal((await auditor.get('/accounts')).status, 403);
    const link = await helpdesk.post('/recipient-links', { address: 'carol@example.test' });
    assert.equal(link.status, 201, 'helpdesk may send a recipient a sign-in link');
    // An auditor token with write scope cannot even be created.
    const admin = await gateway.adminClient();
    const bad = await admin.post('/tokens', { name: 'a', role: 'auditor', scopes: ['write'] });
    assert.deepEqual([bad.status, bad.json.error.code], [400, 'validation_failed']);
    const badRole = await admin.post('/tokens', { name: 'a', role: 'recipient' });
    assert.deepEqual([badRole.status, badRole.json.error.path], [400, 'body.role']);
  });

  test('a removed account loses its session at once; the last administrator stays', async () => {
    const password = await gateway.addAccount('gina', 'helpdesk');
    const gina = await gateway.login('gina', password);
    assert.equal((await gina.get('/session')).status, 200);
    const admin = await gateway.adminClient();
    assert.equal((await admin.delete('/accounts/gina')).status, 204);
    assert.equal((await gina.get('/session')).status, 401);
    const last = await admin.delete('/accounts/admin');
    assert.deepEqual([last.status, last.json.error.code], [409, 'conflict']);
  });

  test('a changed password or role ends the sessions of the account', async () => {
    const password = await gateway.addAccount('jack', 'administrator');
    const jack = await gateway.login('jack', password);
    const admin = await gateway.adminClient();
    const demoted = await admin.patch('/accounts/jack', { role: 'auditor' });
    assert.deepEqual([demoted.status, demoted.json.role], [200, 'auditor']);
    assert.equal((await jack.get('/session')).status, 401);
    const again = await gateway.login('jack', password);
    assert.equal((await again.get('/session')).json.principal.role, 'auditor');
    assert.equal((await admin.patch('/accounts/jack', { password: 'jack-new-password-1' })).status, 200);
    assert.equal((await again.get('/session')).status, 401);
    assert.equal((await gateway.client().post('/session', { username: 'jack', password })).status, 401);
    await gateway.login('jack', 'jack-new-password-1');
    const empty = await admin.patch('/accounts/jack', {});
    assert.deepEqual([empty.status, empty.json.error.path], [400, 'body.role']);
    const lastAdmin = await admin.patch('/accounts/admin', { role: 'helpdesk' });
    assert.deepEqual([lastAdmin.status, lastAdmin.json.error.code], [409, 'conflict']);
    assert.equal((await admin.patch('/accounts/nobody', { role: 'auditor' })).status, 404);
  });

  test('recipients sign in with their mail credentials and see only their addresses', async () => {
    const carol = await gateway.recipientLogin('carol', 'carol-mail-password');
    const me = await carol.get('/session');
    assert.deepEqual([me.json.principal.role, me.json.principal.addresses], ['recipient', ['carol@example.test', 'c@example.test']]);
    assert.deepEqual([(await carol.get('/accounts')).status, (await carol.get('/tokens')).status], [403, 403]);
    const wrong = await gateway.client().post('/recipient-session', { username: 'carol', password: 'nope' });
    assert.deepEqual([wrong.status, wrong.json.error.code], [401, 'unauthenticated']);
    // A console account is not a mail user: its password does not open a recipient session.
    const staff = await gateway.client().post('/recipient-session', { username: 'admin', password: gateway.adminPassword });
    assert.equal(staff.status, 401);
  });

  test('a signed link opens a recipient session for its address only; a forged one does not', async () => {
    const linked = await gateway.recipientLinkLogin('Zed@Example.test');
    const me = await linked.get('/session');
    assert.deepEqual([me.json.principal.kind, me.json.principal.addresses], ['recipient-link', ['zed@example.test']]);
    const { token } = await gateway.identities.createRecipientLink('zed@example.test', 3600_000, 'test');
    const [payload, mac] = token.split('.');
    const other = Buffer.from(JSON.stringify({ a: 'boss@example.test', e: JSON.parse(Buffer.from(payload, 'base64url').toString()).e })).toString('base64url');
    for (const forged of [`${other}.${mac}`, `${payload}.${mac.slice(0, -2)}AA`, 'garbage', `${payload}`]) {
      const res = await gateway.client().post('/recipient-session', { linkToken: forged });
      assert.equal(res.status, 401, forged);
    }
    const expired = await gateway.identities.createRecipientLink('zed@example.test', -1000, 'test');
    assert.equal((await gateway.client().post('/recipient-session', { linkToken: expired.token })).status, 401);
  });

  test('a new password for a submission user ends the recipient sessions opened with the old one', async () => {
    const admin = await gateway.adminClient();
    // erin's name is her only address, as a signed link's session looks: her session is still tied to her password.
    assert.equal((await admin.post('/users', { username: 'dave', password: 'dave-old-password', addresses: ['dave@example.test'] })).status, 201);
    assert.equal((await admin.post('/users', { username: 'erin@example.test', password: 'erin-old-password', addresses: ['erin@example.test'] })).status, 201);
    const dave = [await gateway.recipientLogin('dave', 'dave-old-password'), await gateway.recipientLogin('dave', 'dave-old-password')];
    const erin = await gateway.recipientLogin('erin@example.test', 'erin-old-password');
    const daveLink = await gateway.recipientLinkLogin('dave@example.test');
    for (const c of [...dave, erin, daveLink]) assert.equal((await c.get('/session')).status, 200);

    assert.equal((await admin.put('/users/dave/password', { password: 'dave-new-password' })).status, 200);
    for (const c of dave) expectUnauthenticated(await c.get('/quarantine'));
    assert.equal((await gateway.client().post('/recipient-session', { username: 'dave', password: 'dave-old-password' })).status, 401);
    assert.equal((await (await gateway.recipientLogin('dave', 'dave-new-password')).get('/session')).status, 200);
    // A signed link is not the password: it proves the mailbox, and stays good until it expires.
    assert.equal((await daveLink.get('/session')).status, 200);

    // Setting the same password again is a new hash (new salt), so it also ends the sessions.
    assert.equal((await admin.put('/users/erin@example.test/password', { password: 'erin-old-password' })).status, 200);
    expectUnauthenticated(await erin.get('/session'));
    const erinAgain = await gateway.recipientLogin('erin@example.test', 'erin-old-password');
    assert.equal((await erinAgain.get('/session')).status, 200);
    assert.equal((await admin.delete('/users/erin@example.test')).status, 200);
    expectUnauthenticated(await erinAgain.get('/session'));
  });

  test('a recipient session written before sessions recorded their credential is refused', async () => {
    const db = new DatabaseSync(join(gateway.dataDir, 'mxward.db'));
    const rows: Array<[string, string, string[]]> = [['legacy-mail-session-id', 'carol', ['carol@example.test']], ['legacy-link-session-id', 'zed@example.test', ['zed@example.test']]];
    try {
      for (const [id, name, addresses] of rows) {
        db.prepare(`INSERT INTO console_sessions (id_hash, kind, name, role, addresses, csrf_token, created_at, expires_at, credential)
          VALUES (?, 'recipient-link', ?, 'recipient', ?, 'csrf', ?, ?, NULL)`)
          .run(createHash('sha256').update(id).digest('hex'), name, JSON.stringify(addresses), new Date().toISOString(), new Date(Date.now() + 3600_000).toISOString());
      }
    } finally { db.close(); }
    for (const [id] of rows) expectUnauthenticated(await gateway.client().get('/session', { headers: { cookie: `__Host-mxward_session=${id}` } }));
  });

  test('a session opened from a signed link ends no later than the link', async () => {
    const admin = await gateway.adminClient();
    // A one-hour link against the eight-hour session: the session gets the link's end.
    const link = await admin.post('/recipient-links', { address: 'fay@example.test', ttlHours: 1 });
    assert.equal(link.status, 201);
    const opened = await gateway.client().post('/recipient-session', { linkToken: link.json.token });
    assert.equal(opened.status, 201);
    // Links carry whole seconds.
    const linkEnd = Math.floor(Date.parse(link.json.expiresAt) / 1000) * 1000;
    assert.equal(Date.parse(opened.json.expiresAt), linkEnd);
    const expires = /Expires=([^;]+)/.exec(String(opened.headers['set-cookie']))?.[1];
    assert.equal(Date.parse(expires ?? ''), linkEnd, String(opened.headers['set-cookie']));

    // A link followed seconds before its end: the server refuses the session once the link is over.
    const { token } = await gateway.identities.createRecipientLink('fay@example.test', 3000, 'test');
    const res = await gateway.client().post('/recipient-session', { linkToken: token });
    assert.equal(res.status, 201, res.text);
    const fay = gateway.client().with({ kind: 'session', cookie: cookiePair(res.headers['set-cookie'])!, csrfToken: res.json.csrfToken });
    assert.ok(Date.parse(res.json.expiresAt) <= Date.now() + 3000, res.json.expiresAt);
    await waitFor('the short link\'s session ends', async () => ((await fay.get('/session')).status === 401 ? true : null), 15_000);
  });
});

describe('login throttling', () => {
  test('failed sign-ins are throttled: 429 rate_limited after the limit, even with the right password', async (t) => {
    // A gateway of its own: the lockout counts per client address, and every test here is 127.0.0.1.
    const gateway = await startWebGateway({ console: { loginFailuresBeforeLockout: 4 } });
    t.after(() => gateway.close());
    const password = await gateway.addAccount('erin', 'auditor');
    const client = gateway.client();
    for (let i = 0; i < 4; i++) {
      const res = await client.post('/session', { username: 'erin', password: `wrong-${i}` });
      assert.deepEqual([res.status, res.json.error.code], [401, 'unauthenticated'], `attempt ${i + 1}`);
    }
    const locked = await client.post('/session', { username: 'erin', password });
    assert.deepEqual([locked.status, locked.json.error.code], [429, 'rate_limited']);
    assert.ok(Number(locked.headers['retry-after']) > 0);
    // Unknown names fail the same way as wrong passwords (nothing says which names exist).
    const unknown = await gateway.client().post('/session', { username: 'nobody-here', password: 'x' });
    assert.ok([401, 429].includes(unknown.status));
  });
});

describe('mxward console', () => {
  test('accounts and tokens from the CLI work over HTTP against the running gateway', async (t) => {
    const gateway = await startWebGateway();
    t.after(() => gateway.close());
    const added = await mxward(gateway.dataDir, ['console', 'account', 'add', 'hank', '--role', 'auditor', '--password-stdin'], 'hank-password-123\n');
    assert.equal(added.code, 0, added.stderr);
    const hank = await gateway.login('hank', 'hank-password-123');
    assert.equal((await hank.get('/session')).json.principal.role, 'auditor');
    const created = await mxward(gateway.dataDir, ['console', 'token', 'create', 'deploy', '--role', 'administrator', '--scope', 'read', '--scope', 'write', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const { token, info } = JSON.parse(created.stdout) as { token: string; info: { id: string } };
    const client = gateway.client().with({ kind: 'token', token });
    assert.equal((await client.get('/accounts')).status, 200);
    const listed = await mxward(gateway.dataDir, ['console', 'token', 'list']);
    assert.match(listed.stdout, new RegExp(`${info.id}\\s+deploy\\s+administrator\\s+read,write`));
    assert.doesNotMatch(listed.stdout, new RegExp(token.slice(18)));
    assert.equal((await mxward(gateway.dataDir, ['console', 'token', 'revoke', info.id])).code, 0);
    // Revoked by another process: the gateway may remember the token for under a second
    // (services/principal-cache.ts), never longer.
    await waitFor('the token revoked by the CLI refused', async () => ((await client.get('/accounts')).status === 401 ? true : null), 3000);
    const audit = await gateway.store.listAudit(20);
    assert.ok(audit.some((e) => e.action === 'console.token.create' && e.actor.startsWith('cli')));
    const set = await mxward(gateway.dataDir, ['console', 'account', 'set', 'hank', '--role', 'helpdesk']);
    assert.equal(set.code, 0, set.stderr);
    assert.equal((await hank.get('/session')).status, 401, 'the role change ended the session');
    const bad = await mxward(gateway.dataDir, ['console', 'account', 'add', 'ivy', '--role', 'root']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--role: expected one of administrator, helpdesk, auditor/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /);
    const short = await mxward(gateway.dataDir, ['console', 'account', 'add', 'ivy', '--role', 'auditor', '--password-stdin'], 'short\n');
    assert.equal(short.code, 2);
    assert.match(short.stderr, /at least 12 characters/);
  });
});
