// Attacking the admin API's authorization over real HTTP (issue 13): every route of the route
// list (not a hand-written table) called by every role, by read-scope tokens, anonymously and
// with a session but without its CSRF token; a helpdesk trying to make itself administrator; a
// recipient reaching another recipient's held message by id, or with an address that differs
// from the victim's only by case, a plus tag, a trailing dot or a look-alike letter; recipient
// links expired, tampered with, or signed with another key.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { apiRoutes } from '../../src/web/routes/index.ts';
import type { ApiRoute, Role } from '../../src/web/api-route.ts';
import { signRecipientLink } from '../../src/services/identity-links.ts';
import { readLinkKey } from '../helpers/link-key.ts';
import { hashPassword } from '../../src/users/passwords.ts';
import { cookiePair } from '../helpers/web-client.ts';
import type { WebClient, WebGateway } from '../helpers/web-client.ts';
import { assertNoInternals, callRoute, expectError, hold, routeLabel, startAttackGateway } from './api-attack-common.ts';

/** Routes that answer without a principal: the two sign-ins, nothing else. */
const SIGN_IN_ROUTES = ['POST /session', 'POST /recipient-session'];

/**
 * POST routes that change nothing (a computation over what is sent), so a read token may call
 * them. A new entry here is a decision: anything that changes state must be `write`.
 */
const READ_ONLY_POSTS = ['POST /connectors/test', 'POST /report', 'POST /analyze', 'POST /audit'];

/** DELETE /session ends the caller's own session: called last so the other calls keep theirs. */
function ordered(routes: readonly ApiRoute[]): ApiRoute[] {
  const last = (r: ApiRoute) => (routeLabel(r) === 'DELETE /session' ? 1 : 0);
  return [...routes].sort((a, b) => last(a) - last(b));
}

let gw: WebGateway;
const tokens: Partial<Record<Role, WebClient>> = {};
const readTokens: Partial<Record<'administrator' | 'helpdesk', WebClient>> = {};
let helpdeskPassword = '';

before(async () => {
  gw = await startAttackGateway({ console: { loginFailuresBeforeLockout: 200 } });
  tokens.administrator = await gw.tokenClient('administrator');
  tokens.helpdesk = await gw.tokenClient('helpdesk');
  tokens.auditor = await gw.tokenClient('auditor');
  readTokens.administrator = await gw.tokenClient('administrator', ['read']);
  readTokens.helpdesk = await gw.tokenClient('helpdesk', ['read']);
  helpdeskPassword = await gw.addAccount('hd', 'helpdesk');
  await gw.addAccount('aud', 'auditor');
  await gw.store.putUser({ username: 'alice', passwordHash: await hashPassword('alice-mail-password'), addresses: ['alice@contoso.test'] }, 'test');
});

after(async () => { await gw?.close(); });

describe('the route list itself', () => {
  test('only the sign-in routes answer without a principal; every state-changing route is write scope', () => {
    const open = apiRoutes.filter((r) => r.auth === 'none').map(routeLabel).sort();
    assert.deepEqual(open, [...SIGN_IN_ROUTES].sort());
    const readPosts = apiRoutes.filter((r) => r.method !== 'get' && r.scope === 'read').map(routeLabel).sort();
    assert.deepEqual(readPosts, [...READ_ONLY_POSTS].sort(), 'a non-GET route with read scope must be listed here on purpose');
    assert.equal(apiRoutes.filter((r) => r.method === 'get' && r.scope === 'write').length, 0, 'no GET changes anything');
  });

  test('the served OpenAPI document lists exactly the route list', async () => {
    const res = await gw.client().get('/openapi.json');
    assert.equal(res.status, 200);
    const served = Object.entries(res.json.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, ops]) => Object.keys(ops).filter((m) => m !== 'parameters').map((m) => `${m.toUpperCase()} ${path.replace(/^\/api\/v1/, '').replace(/\{(\w+)\}/g, ':$1')}`)).sort();
    assert.deepEqual(served, apiRoutes.map(routeLabel).sort());
  });
});

describe('every route × every caller', () => {
  test('anonymous: 401 with WWW-Authenticate on every route but the sign-ins', async () => {
    for (const route of apiRoutes) {
      if (route.auth === 'none') continue;
      const res = await callRoute(gw.client(), route);
      expectError(res, 401, 'unauthenticated', routeLabel(route));
      assert.match(String(res.headers['www-authenticate']), /^Bearer/, routeLabel(route));
    }
  });

  test('a forged, garbage or oversized bearer token is refused everywhere, even next to a cookie', async () => {
    const admin = await gw.adminClient();
    const cookie = admin.auth.kind === 'session' ? admin.auth.cookie : '';
    const forged = [`mxw_abcdef012345_${randomBytes(32).toString('base64url')}`, 'x', `mxw_${'a'.repeat(300)}`, "mxw_' OR 1=1 --"];
    for (const route of apiRoutes.filter((r) => r.auth !== 'none')) {
      for (const token of forged) {
        const res = await gw.client().api(route.method.toUpperCase(), callPath(route), { headers: { authorization: `Bearer ${token}`, cookie } });
        expectError(res, 401, 'unauthenticated', `${routeLabel(route)} with ${token.slice(0, 20)}`);
      }
    }
  });

  for (const role of ['administrator', 'helpdesk', 'auditor'] as const) {
    test(`${role} token: 403 on every route outside its roles, through the gate on every route inside them`, async () => {
      const client = tokens[role]!;
      for (const route of ordered(apiRoutes)) {
        if (route.auth === 'none') continue;
        const res = await callRoute(client, route);
        assertNoInternals(res, routeLabel(route));
        if (!route.roles.includes(role)) {
          expectError(res, 403, 'forbidden', `${role} ${routeLabel(route)}`);
        } else if (role === 'auditor' && route.scope === 'write') {
          expectError(res, 403, 'forbidden', `${role} (read-only token) ${routeLabel(route)}`);
        } else {
          assert.ok(res.status !== 401 && !(res.status === 403 && res.json?.error?.code === 'forbidden') && res.status < 500,
            `${role} may call ${routeLabel(route)}: ${res.status} ${res.text.slice(0, 200)}`);
        }
      }
    });
  }

  for (const role of ['administrator', 'helpdesk'] as const) {
    test(`${role} read-scope token: 403 on every write route, nothing changed`, async () => {
      const before = await gw.store.readPolicy();
      for (const route of apiRoutes.filter((r) => r.scope === 'write' && r.auth !== 'none')) {
        const res = await callRoute(readTokens[role]!, route);
        expectError(res, 403, 'forbidden', `${role} read token ${routeLabel(route)}`);
      }
      assert.equal((await gw.store.readPolicy()).version, before.version);
    });
  }

  test('recipient session: 403 on every route outside the recipient role', async () => {
    const recipient = await gw.recipientLogin('alice', 'alice-mail-password');
    for (const route of ordered(apiRoutes)) {
      if (route.auth === 'none') continue;
      const res = await callRoute(recipient, route);
      assertNoInternals(res, routeLabel(route));
      if (!route.roles.includes('recipient')) expectError(res, 403, 'forbidden', `recipient ${routeLabel(route)}`);
      else assert.ok(res.status !== 401 && res.status !== 403 && res.status < 500, `recipient may call ${routeLabel(route)}: ${res.status} ${res.text.slice(0, 200)}`);
    }
  });

  test('staff and recipient sessions: every non-GET route without the CSRF token is refused before it runs', async () => {
    const sessions: Array<[Role, WebClient]> = [
      ['administrator', await gw.adminClient()],
      ['helpdesk', await gw.login('hd', helpdeskPassword)],
      ['recipient', await gw.recipientLogin('alice', 'alice-mail-password')],
    ];
    const before = await gw.store.readPolicy();
    for (const [role, session] of sessions) {
      for (const route of ordered(apiRoutes)) {
        if (route.auth === 'none' || route.method === 'get' || !route.roles.includes(role)) continue;
        const res = await callRoute(session, route, { omitCsrf: true });
        expectError(res, 403, 'csrf_failed', `${role} ${routeLabel(route)} without x-csrf-token`);
      }
      // The session is still there (DELETE /session without the token did not end it).
      assert.equal((await session.get('/session')).status, 200, `${role} session survives`);
    }
    assert.equal((await gw.store.readPolicy()).version, before.version);
  });
});

function callPath(route: ApiRoute): string {
  return route.path.replace(/:([A-Za-z]+)/g, 'abcdef012345');
}

describe('escalation by a helpdesk', () => {
  test('cannot make itself or anyone administrator, nor mint an administrator token, nor add accounts', async () => {
    const hd = await gw.login('hd', helpdeskPassword);
    const attempts: Array<[string, string, unknown]> = [
      ['PATCH', '/accounts/hd', { role: 'administrator' }],
      ['PATCH', '/accounts/admin', { password: 'attacker-chosen-password' }],
      ['POST', '/accounts', { username: 'evil', role: 'administrator', password: 'attacker-chosen-password' }],
      ['POST', '/tokens', { name: 'evil', role: 'administrator', scopes: ['read', 'write'], expiresAt: null }],
      ['DELETE', '/accounts/admin', undefined],
      ['GET', '/tokens', undefined],
      ['GET', '/accounts', undefined],
    ];
    for (const client of [hd, tokens.helpdesk!]) {
      for (const [method, path, body] of attempts) {
        expectError(await client.api(method, path, { body }), 403, 'forbidden', `helpdesk ${method} ${path}`);
      }
    }
    const accounts = await gw.identities.listAccounts();
    assert.deepEqual(accounts.map((a) => [a.username, a.role]).sort(), [['admin', 'administrator'], ['aud', 'auditor'], ['hd', 'helpdesk']]);
    assert.equal((await gw.identities.listTokens()).some((t) => t.name === 'evil'), false);
    // Its own session still works, and still as helpdesk.
    assert.equal((await hd.get('/session')).json.principal.role, 'helpdesk');
  });

  test('an administrator cannot mint a recipient-role token, a write auditor token, or a staff account with the recipient role', async () => {
    const admin = tokens.administrator!;
    expectError(await admin.post('/tokens', { name: 'r', role: 'recipient', scopes: ['read'] }), 400, 'validation_failed', 'recipient token');
    expectError(await admin.post('/tokens', { name: 'a', role: 'auditor', scopes: ['write'] }), 400, 'validation_failed', 'write auditor');
    expectError(await admin.post('/accounts', { username: 'r', role: 'recipient', password: 'long-enough-password' }), 400, 'validation_failed', 'recipient account');
    expectError(await admin.post('/tokens', { name: 'x', role: 'helpdesk', scopes: ['admin'] }), 400, 'validation_failed', 'unknown scope');
  });

  test('a demoted administrator loses the role at once: its old session and its CSRF token are worth nothing', async () => {
    const password = await gw.addAccount('admin2', 'administrator');
    const session = await gw.login('admin2', password);
    assert.equal((await tokens.administrator!.patch('/accounts/admin2', { role: 'auditor' })).status, 200);
    expectError(await session.post('/tokens', { name: 'late', role: 'administrator', scopes: ['write'] }), 401, 'unauthenticated', 'old session');
  });
});

describe('a recipient reaching other recipients\' mail', () => {
  const ids = { alice: '', bobFull: '', bobLimited: '', bobOwn: '' };
  before(async () => {
    ids.alice = await hold(gw, '[full]', ['alice@contoso.test']);
    ids.bobFull = await hold(gw, '[full]', ['bob@contoso.test']);
    ids.bobLimited = await hold(gw, '[limited]', ['bob@contoso.test']);
    ids.bobOwn = await hold(gw, '[own]', ['bob@contoso.test']);
  });

  /** Every read and action a recipient has, on one id. */
  async function everything(client: WebClient, id: string) {
    const e = encodeURIComponent(id);
    return {
      show: await client.get(`/quarantine/${e}`),
      headers: await client.get(`/quarantine/${e}/headers`),
      preview: await client.get(`/quarantine/${e}/preview`),
      release: await client.post(`/quarantine/${e}/release`),
      requestRelease: await client.post(`/quarantine/${e}/request-release`),
      delete: await client.delete(`/quarantine/${e}`),
    };
  }

  test('by id: every read and action on bob\'s items answers alice exactly as for an id that does not exist', async () => {
    for (const alice of [await gw.recipientLogin('alice', 'alice-mail-password'), await gw.recipientLinkLogin('alice@contoso.test')]) {
      const list = await alice.get('/quarantine?state=all&limit=500');
      assert.equal(list.status, 200);
      assert.deepEqual(list.json.items.map((i: { id: string }) => i.id), [ids.alice], 'alice lists only her own');
      const missing = await everything(alice, 'q-does-not-exist');
      for (const id of [ids.bobFull, ids.bobLimited, ids.bobOwn]) {
        const got = await everything(alice, id);
        for (const [action, res] of Object.entries(got)) {
          const ref = missing[action as keyof typeof missing];
          assert.deepEqual([res.status, res.json?.error?.code], [ref.status, ref.json?.error?.code], `${action} ${id}: ${res.text}`);
          assert.equal(res.status, 404, `${action} ${id}`);
          assert.ok(!res.text.includes('bob@'), `${action} names bob: ${res.text}`);
          assertNoInternals(res, action);
        }
      }
      expectError(await alice.get('/quarantine?recipient=bob@contoso.test'), 403, 'forbidden', 'list by recipient');
      // Her own item is there and still works for her.
      assert.equal((await alice.get(`/quarantine/${ids.alice}/preview`)).status, 200);
    }
    const bobItems = await tokens.administrator!.get('/quarantine?recipient=bob@contoso.test&state=all');
    for (const item of bobItems.json.items as Array<{ recipients: Array<{ state: string }> }>) {
      assert.deepEqual(item.recipients.map((r) => r.state), ['held'], 'bob\'s copies untouched');
    }
  });

  test('addresses that only look like bob\'s (plus tag, trailing dot, look-alike letters, wildcards, spaces) see nothing of his', async () => {
    const lookalikes = [
      'bob+x@contoso.test', 'bob@contoso.test.', 'bob@contoso.test ', ' bob@contoso.test', 'bob@cоntoso.test' /* Cyrillic о */,
      'bob@xn--contoso-.test', 'b%@contoso.test', '%', '_ob@contoso.test', '*@contoso.test', 'bob@contoso.tes', 'bob', '@contoso.test', '',
    ];
    const key = await readLinkKey(gw.dataDir);
    let signedIn = 0;
    for (const address of lookalikes) {
      // Signed with the real key, as if a link had been made for it: what the quarantine does with such an address.
      const linkToken = signRecipientLink(key, address, new Date(Date.now() + 3600_000));
      const res = await gw.client().post('/recipient-session', { linkToken });
      if (res.status === 401) continue; // not address-shaped: no session at all
      assert.equal(res.status, 201, `${JSON.stringify(address)}: ${res.text}`);
      signedIn += 1;
      const client = gw.client().with({ kind: 'session', cookie: cookiePair(res.headers['set-cookie'])!, csrfToken: res.json.csrfToken });
      const list = await client.get('/quarantine?state=all');
      assert.equal(list.status, 200, address);
      assert.deepEqual(list.json.items, [], `${JSON.stringify(address)} sees ${list.text.slice(0, 200)}`);
      assert.equal((await client.get(`/quarantine/${ids.bobFull}`)).status, 404, address);
      assert.equal((await client.post(`/quarantine/${ids.bobFull}/release`)).status, 404, address);
    }
    assert.ok(signedIn >= 5, 'the address-shaped look-alikes did sign in');
    // An empty address must never become a recipient session (it once listed every held message).
    expectError(await gw.client().post('/recipient-session', { linkToken: signRecipientLink(key, '', new Date(Date.now() + 3600_000)) }), 401, 'unauthenticated', 'empty address');
    expectError(await tokens.helpdesk!.post('/recipient-links', { address: '' }), 400, 'validation_failed', 'link for ""');
    await assert.rejects(gw.identities.createRecipientLink('', 3600_000, 'test'), /not an address/);
    // The same mailbox in other case is the same mailbox (addresses are stored lower-cased).
    const upper = await gw.recipientLinkLogin('BOB@Contoso.TEST');
    const own = await upper.get('/quarantine?state=all');
    assert.deepEqual(own.json.items.map((i: { id: string }) => i.id).sort(), [ids.bobFull, ids.bobLimited].sort(), 'bob sees his own, never the AdminOnly one');
  });

  test('bob himself: nothing under AdminOnly, only request-release under the limited policy', async () => {
    const bob = await gw.recipientLinkLogin('bob@contoso.test');
    // His own AdminOnly copy: refused (he may know of it from the message trace of his mailbox), never shown.
    const own = await everything(bob, ids.bobOwn);
    for (const [action, res] of Object.entries(own)) expectError(res, 403, 'forbidden', `AdminOnly ${action}`);
    assert.equal((await tokens.administrator!.get(`/quarantine/${ids.bobOwn}`)).json.recipients[0].state, 'held');
    expectError(await bob.post(`/quarantine/${ids.bobLimited}/release`), 403, 'forbidden', 'limited release');
    assert.equal((await bob.post(`/quarantine/${ids.bobLimited}/request-release`)).status, 200);
    expectError(await bob.post(`/quarantine/${ids.bobLimited}/approve`), 403, 'forbidden', 'approve own request');
  });
});

describe('recipient links', () => {
  const signIn = (linkToken: string) => gw.client().post('/recipient-session', { linkToken });

  test('expired, tampered, re-addressed, foreign-key, truncated and garbage links are all 401 with one message', async () => {
    const key = await readLinkKey(gw.dataDir);
    const valid = signRecipientLink(key, 'alice@contoso.test', new Date(Date.now() + 3600_000));
    const [payload, mac] = valid.split('.');
    const reAddressed = Buffer.from(JSON.stringify({ a: 'bob@contoso.test', e: Math.floor(Date.now() / 1000) + 3600 })).toString('base64url');
    const extended = Buffer.from(JSON.stringify({ a: 'alice@contoso.test', e: Math.floor(Date.now() / 1000) + 10 * 365 * 86400 })).toString('base64url');
    const bad = {
      expired: signRecipientLink(key, 'alice@contoso.test', new Date(Date.now() - 1000)),
      reAddressed: `${reAddressed}.${mac}`,
      extended: `${extended}.${mac}`,
      foreignKey: signRecipientLink(randomBytes(32), 'alice@contoso.test', new Date(Date.now() + 3600_000)),
      truncatedMac: `${payload}.${mac.slice(0, 10)}`,
      noMac: payload,
      threeParts: `${valid}.x`,
      emptyMac: `${payload}.`,
      garbage: '!!!.???',
      notJson: `${Buffer.from('not json').toString('base64url')}.${mac}`,
    };
    const answers = new Set<string>();
    for (const [what, token] of Object.entries(bad)) {
      const res = await signIn(token);
      expectError(res, 401, 'unauthenticated', what);
      assert.equal(res.headers['set-cookie'], undefined, `${what}: no cookie`);
      answers.add(res.json.error.message);
    }
    assert.equal(answers.size, 1, 'one message: the answer does not say which check failed');
    // The valid one works, and for alice only.
    const ok = await signIn(valid);
    assert.equal(ok.status, 201);
    assert.deepEqual(ok.json.principal.addresses, ['alice@contoso.test']);
  });
});

describe('a recipient whose mailbox user is removed or changed', () => {
  test('keeps no access through a session opened before the user was removed or lost the address', async () => {
    await gw.store.putUser({ username: 'leaver', passwordHash: await hashPassword('leaver-mail-password'), addresses: ['leaver@contoso.test'] }, 'test');
    const id = await hold(gw, '[full]', ['leaver@contoso.test']);
    const session = await gw.recipientLogin('leaver', 'leaver-mail-password');
    assert.equal((await session.get(`/quarantine/${id}`)).status, 200);
    assert.equal((await tokens.administrator!.delete('/users/leaver')).status, 200);
    expectError(await session.get(`/quarantine/${id}`), 401, 'unauthenticated', 'after the user was removed');
    // An address taken away: the session that held it ends; one that still has all its addresses stays.
    await gw.store.putUser({ username: 'mover', passwordHash: await hashPassword('mover-mail-password'), addresses: ['mover@contoso.test', 'old@contoso.test'] }, 'test');
    const mover = await gw.recipientLogin('mover', 'mover-mail-password');
    assert.equal((await mover.get('/quarantine')).status, 200);
    const user = (await gw.store.getUser('mover'))!;
    await gw.store.putUser({ ...user, addresses: ['mover@contoso.test'] }, 'test');
    expectError(await mover.get('/quarantine'), 401, 'unauthenticated', 'after an address was taken away');
    const again = await gw.recipientLogin('mover', 'mover-mail-password');
    assert.equal((await again.get('/quarantine')).status, 200);
    // A signed link's session does not depend on any submission user.
    const link = await gw.recipientLinkLogin('leaver@contoso.test');
    assert.equal((await link.get(`/quarantine/${id}`)).status, 200);
  });
});

describe('secrets in answers', () => {
  test('no read answer, for any role, carries a password hash, a private key, a token or session secret, or the link key', async () => {
    await gw.store.putUser({ username: 'hashcheck', passwordHash: await hashPassword('hashcheck-password'), addresses: ['hashcheck@contoso.test'] }, 'test');
    const session = await gw.adminClient();
    const secrets = [
      gw.adminPassword, 'hashcheck-password', helpdeskPassword, (await readLinkKey(gw.dataDir)).toString('hex'), (await readLinkKey(gw.dataDir)).toString('base64'),
      ...Object.values(tokens).map((c) => (c!.auth.kind === 'token' ? c!.auth.token : '')),
      session.auth.kind === 'session' ? session.auth.cookie.split('=')[1] : '',
    ].filter((s) => s.length > 0);
    for (const [role, client] of Object.entries(tokens)) {
      for (const route of apiRoutes.filter((r) => r.method === 'get' && !r.path.includes(':') && r.roles.includes(role as Role))) {
        const res = await client!.get(route.path);
        assert.ok(res.status < 500, `${role} ${routeLabel(route)}: ${res.status}`);
        assert.doesNotMatch(res.text, /scrypt\$|PRIVATE KEY|passwordHash|password_hash|tokenHash|token_hash|id_hash|idHash/, `${role} ${routeLabel(route)}`);
        for (const secret of secrets) assert.ok(!res.text.includes(secret), `${role} ${routeLabel(route)} shows a secret`);
      }
    }
    // The audit, rendered, as an auditor runs it.
    const audit = await tokens.auditor!.post('/audit', { includeMxward: true, format: 'text' });
    assert.equal(audit.status, 200, audit.text.slice(0, 200));
    for (const secret of secrets) assert.ok(!audit.text.includes(secret), 'the audit shows a secret');
    assert.doesNotMatch(audit.text, /scrypt\$|PRIVATE KEY/);
  });
});
