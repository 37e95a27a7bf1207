// Attacking console sessions over real HTTP (issue 13): session fixation, sign-out, CSRF (no
// token, a wrong one, another session's, and bodies a cross-site form can send), CORS and a
// foreign Origin, DNS rebinding on the plain-HTTP console, a session cookie shadowed from another
// port of the same host (over HTTP and in real Chromium), login throttling against
// X-Forwarded-For, name case and parallel bursts, and whether a sign-in answer tells a missing
// user from a wrong password.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium } from 'playwright-core';
import { hashPassword } from '../../src/users/passwords.ts';
import { chromiumArgs } from '../report/html-fixture.ts';
import { cookiePair, readApiResponse, startWebGateway } from '../helpers/web-client.ts';
import type { ApiResponse, WebClient, WebGateway } from '../helpers/web-client.ts';
import { assertNoInternals, expectError } from './api-attack-common.ts';
import { CHROMIUM, chromiumSkip } from './console-browser.ts';

/** A request from a chosen loopback source address (127.0.0.x), so a test can play several clients. */
function fromAddress(gw: WebGateway, localAddress: string, method: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolveResponse, rejectResponse) => {
    const req = httpRequest(new URL(`/api/v1${path}`, gw.url), {
      method, localAddress,
      headers: { 'content-type': 'application/json', 'content-length': String(payload.length), ...headers },
    }, (res) => readApiResponse(res).then(resolveResponse, rejectResponse));
    req.on('error', rejectResponse);
    req.end(payload);
  });
}

describe('sessions and CSRF', () => {
  let gw: WebGateway;
  before(async () => { gw = await startWebGateway({ console: { loginFailuresBeforeLockout: 100 } }); });
  after(async () => { await gw?.close(); });

  test('fixation: a session id chosen before sign-in is not the one after, and a planted low session is not upgraded', async () => {
    const planted = 'attacker-chosen-session-id-0123456789abcdef';
    const res = await gw.client().post('/session', { username: 'admin', password: gw.adminPassword }, { headers: { cookie: `__Host-mxward_session=${planted}` } });
    assert.equal(res.status, 201);
    const issued = cookiePair(res.headers['set-cookie'])!;
    assert.notEqual(issued, `__Host-mxward_session=${planted}`);
    expectError(await gw.client().get('/session', { headers: { cookie: `__Host-mxward_session=${planted}` } }), 401, 'unauthenticated', 'planted id');
    // An attacker's own valid (auditor) session planted in the admin's browser stays an auditor session after the admin signs in.
    const auditorPassword = await gw.addAccount('fix-auditor', 'auditor');
    const auditor = await gw.login('fix-auditor', auditorPassword);
    const auditorCookie = auditor.auth.kind === 'session' ? auditor.auth.cookie : '';
    const again = await gw.client().post('/session', { username: 'admin', password: gw.adminPassword }, { headers: { cookie: auditorCookie } });
    assert.equal(again.status, 201);
    assert.notEqual(cookiePair(again.headers['set-cookie']), auditorCookie);
    assert.equal((await auditor.get('/session')).json.principal.role, 'auditor');
  });

  test('sign-out ends the session on the server: the old cookie and CSRF token are refused afterwards', async () => {
    const admin = await gw.adminClient();
    assert.equal((await admin.delete('/session')).status, 204);
    expectError(await admin.get('/accounts'), 401, 'unauthenticated', 'after sign-out (read)');
    expectError(await admin.post('/tokens', { name: 'late', role: 'administrator', scopes: ['write'] }), 401, 'unauthenticated', 'after sign-out (write)');
    assert.equal((await gw.identities.listTokens()).some((t) => t.name === 'late'), false);
  });

  test('CSRF: no token, a wrong one, another session\'s, one in the query string or a cookie are all refused', async () => {
    const admin = await gw.adminClient();
    const other = await gw.adminClient();
    if (admin.auth.kind !== 'session' || other.auth.kind !== 'session') throw new Error('session clients expected');
    const body = { name: 'csrf', role: 'administrator', scopes: ['read', 'write'] };
    const cookie = admin.auth.cookie;
    const tries: Array<[string, Record<string, string>, string]> = [
      ['none', {}, '/tokens'],
      ['wrong', { 'x-csrf-token': 'x'.repeat(admin.auth.csrfToken.length) }, '/tokens'],
      ['empty', { 'x-csrf-token': '' }, '/tokens'],
      ['other session', { 'x-csrf-token': other.auth.csrfToken }, '/tokens'],
      ['in query', {}, `/tokens?csrfToken=${admin.auth.csrfToken}&x-csrf-token=${admin.auth.csrfToken}`],
      ['as cookie', { cookie: `${cookie}; x-csrf-token=${admin.auth.csrfToken}; csrf=${admin.auth.csrfToken}` }, '/tokens'],
      ['case-changed', { 'x-csrf-token': admin.auth.csrfToken.toUpperCase() }, '/tokens'],
    ];
    for (const [what, headers, path] of tries) {
      const res = await gw.client().api('POST', path, { body, headers: { cookie, ...headers } });
      expectError(res, 403, 'csrf_failed', what);
    }
    assert.equal((await gw.identities.listTokens()).some((t) => t.name === 'csrf'), false);
  });

  test('what a cross-site form can send (text/plain, urlencoded, multipart, none) is never taken as JSON, even with the right token', async () => {
    const admin = await gw.adminClient();
    const json = JSON.stringify({ username: 'formed', role: 'administrator', password: 'attacker-chosen-password' });
    const bodies: Array<[string, string]> = [
      ['text/plain', json],
      ['text/plain; charset=utf-8', json],
      ['application/x-www-form-urlencoded', `${json}=`],
      ['multipart/form-data; boundary=x', `--x\r\nContent-Disposition: form-data; name="${json}"\r\n\r\n\r\n--x--\r\n`],
      ['application/json-patch+json', json],
      ['text/json', json],
      ['', json],
    ];
    for (const [type, raw] of bodies) {
      const res = await admin.api('POST', '/accounts', { raw, contentType: type });
      expectError(res, 415, 'unsupported_media_type', type || 'no type');
    }
    // Sign-in too (login CSRF would put the victim in the attacker's session).
    const login = await gw.client().api('POST', '/session', { raw: JSON.stringify({ username: 'admin', password: gw.adminPassword }), contentType: 'text/plain' });
    expectError(login, 415, 'unsupported_media_type', 'form sign-in');
    assert.equal(login.headers['set-cookie'], undefined);
    assert.equal((await gw.identities.listAccounts()).some((a) => a.username === 'formed'), false);
  });

  test('no method override: a GET or a form POST that claims to be a DELETE is not one', async () => {
    const admin = await gw.adminClient();
    for (const header of ['x-http-method-override', 'x-http-method', 'x-method-override']) {
      const res = await admin.get('/session', { headers: { [header]: 'DELETE' } });
      assert.equal(res.status, 200, header);
    }
    const form = await admin.api('POST', '/session?_method=DELETE', { raw: '_method=DELETE', contentType: 'application/x-www-form-urlencoded' });
    assert.ok(form.status === 415 || form.status === 400, `${form.status} ${form.text}`);
    assert.equal((await admin.get('/session')).status, 200, 'still signed in');
  });

  test('no CORS: a foreign Origin gets no Access-Control-Allow-* header, and a preflight is not granted', async () => {
    const admin = await gw.adminClient();
    const origin = 'https://evil.example';
    const read = await admin.get('/accounts', { headers: { origin } });
    const preflight = await gw.client().api('OPTIONS', '/accounts', {
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-csrf-token, content-type' },
    });
    for (const res of [read, preflight]) {
      const allow = Object.keys(res.headers).filter((h) => h.startsWith('access-control-allow'));
      assert.deepEqual(allow, [], `${res.status} ${JSON.stringify(res.headers)}`);
    }
    assert.ok(preflight.status >= 400, `preflight ${preflight.status}`);
  });

  test('DNS rebinding: the plain-HTTP console answers only loopback Host names', async () => {
    for (const host of ['evil.example', 'evil.example:80', '127.0.0.1.evil.example', 'localhost.evil.example', '[::1].evil.example']) {
      const res = await gw.client().get('/session', { headers: { host } });
      // Node itself answers 400 to a Host it cannot parse; either way nothing of the API.
      if (host.startsWith('[')) assert.ok(res.status === 400 || res.status === 421, `${host}: ${res.status}`);
      else expectError(res, 421, 'misdirected_request', host);
    }
    for (const host of ['localhost', 'LOCALHOST:1234', '127.0.0.1', '127.1.2.3:8080', '[::1]:9726']) {
      assert.equal((await gw.client().get('/session', { headers: { host } })).status, 401, host);
    }
  });
});

/** The id in a session client's cookie. */
function sessionIdOf(client: WebClient): string {
  if (client.auth.kind !== 'session') throw new Error('a session client expected');
  return client.auth.cookie.slice(client.auth.cookie.indexOf('=') + 1);
}

describe('a session cookie shadowed from another port of the same host', () => {
  // Cookies are not kept apart by port: a page on http://127.0.0.1:8080 can set cookies that the
  // browser then sends to the console on 127.0.0.1:9726, with a narrower Path sent first.
  let gw: WebGateway;
  before(async () => { gw = await startWebGateway(); });
  after(async () => { await gw?.close(); });

  test('a cookie of the old name is not a session; two session cookies are refused, whichever comes first', async () => {
    const victim = await gw.adminClient();
    const attacker = await gw.login('shadow-auditor', await gw.addAccount('shadow-auditor', 'auditor'));
    const [v, a] = [sessionIdOf(victim), sessionIdOf(attacker)];
    expectError(await gw.client().get('/session', { headers: { cookie: `mxward_session=${a}` } }), 401, 'unauthenticated', 'old name alone');
    const beside = await gw.client().get('/session', { headers: { cookie: `mxward_session=${a}; __Host-mxward_session=${v}` } });
    assert.deepEqual([beside.status, beside.json.principal?.name], [200, 'admin'], 'the old name beside the real one is ignored');
    const both = [`__Host-mxward_session=${a}; __Host-mxward_session=${v}`, `__Host-mxward_session=${v};__Host-mxward_session=${a}`, `__Host-mxward_session=${v}; __Host-mxward_session=${v}`];
    for (const cookie of both) {
      expectError(await gw.client().get('/session', { headers: { cookie } }), 401, 'unauthenticated', cookie);
      for (const csrf of [victim, attacker].map((c) => (c.auth.kind === 'session' ? c.auth.csrfToken : ''))) {
        const write = await gw.client().post('/tokens', { name: 'shadowed', role: 'auditor', scopes: ['read'] }, { headers: { cookie, 'x-csrf-token': csrf } });
        expectError(write, 401, 'unauthenticated', `write with ${cookie}`);
      }
      const signIn = await gw.client().post('/session', { username: 'admin', password: gw.adminPassword }, { headers: { cookie } });
      expectError(signIn, 401, 'unauthenticated', `sign-in with ${cookie}`);
      assert.equal(signIn.headers['set-cookie'], undefined);
    }
    assert.equal((await gw.identities.listTokens()).some((t) => t.name === 'shadowed'), false);
    assert.equal((await victim.get('/session')).json.principal.name, 'admin', 'the real session is untouched');
  });

  test('Chromium: the console keeps its __Host- session on plain-HTTP loopback, and another port cannot shadow it with Path=/api', { skip: chromiumSkip }, async (t) => {
    const attacker = await gw.login('shadow-auditor-2', await gw.addAccount('shadow-auditor-2', 'auditor'));
    const planted = sessionIdOf(attacker);
    // The other origin: same host, another port, answering with the shadowing cookies.
    const evil = createServer((_req, res) => {
      res.setHeader('set-cookie', [
        `__Host-mxward_session=${planted}; Secure; Path=/api; SameSite=Lax`,
        `mxward_session=${planted}; Path=/api; SameSite=Lax`,
      ]);
      res.setHeader('content-type', 'text/html');
      res.end('<p>nothing to see</p>');
    });
    await new Promise<void>((resolveListen) => evil.listen(0, '127.0.0.1', resolveListen));
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: chromiumArgs, headless: true });
    t.after(async () => {
      await browser.close();
      await new Promise((resolveClose) => evil.close(resolveClose));
    });
    const consolePort = new URL(gw.url).port;
    const evilPort = (evil.address() as AddressInfo).port;
    for (const host of ['127.0.0.1', 'localhost']) {
      const context = await browser.newContext();
      const page = await context.newPage();
      const origin = `http://${host}:${consolePort}`;
      await page.goto(`${origin}/console/`);
      const signedIn = await page.evaluate(async (password) => (await fetch('/api/v1/session', {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }),
      })).status, gw.adminPassword);
      assert.equal(signedIn, 201, host);
      await page.goto(`http://${host}:${evilPort}/`);
      await page.goto(`${origin}/console/`);
      const me = await page.evaluate(async () => {
        const res = await fetch('/api/v1/session');
        return { status: res.status, body: await res.json() };
      });
      assert.deepEqual([me.status, me.body.principal?.name], [200, 'admin'], `${host}: ${JSON.stringify(me.body)}`);
      const sent = (await context.cookies(`${origin}/api/v1/session`)).map((c) => `${c.name} ${c.path} ${c.secure}`).sort();
      // The browser took the unprefixed cookie (and sends it: the server ignores that name) but
      // refused the prefixed one with a narrower Path; ours is the only __Host- one.
      assert.deepEqual(sent, ['__Host-mxward_session / true', 'mxward_session /api false'], host);
      await context.close();
    }
  });
});

describe('login throttling and enumeration', () => {
  let gw: WebGateway;
  before(async () => {
    gw = await startWebGateway({ console: { loginFailuresBeforeLockout: 5 } });
    await gw.store.putUser({ username: 'mailer', passwordHash: await hashPassword('mailer-password'), addresses: ['mailer@example.test'] }, 'test');
  });
  after(async () => { await gw?.close(); });

  test('X-Forwarded-For and friends do not make a new client: the socket address is counted', async () => {
    const spoofed = (i: number) => ({
      'x-forwarded-for': `198.51.100.${i}`, 'x-real-ip': `198.51.100.${i}`, forwarded: `for=198.51.100.${i}`, 'true-client-ip': `198.51.100.${i}`,
    });
    for (let i = 0; i < 5; i++) {
      const res = await fromAddress(gw, '127.0.0.21', 'POST', '/session', { username: `nobody-${i}`, password: 'wrong-password-xx' }, spoofed(i));
      expectError(res, 401, 'unauthenticated', `failure ${i}`);
    }
    const locked = await fromAddress(gw, '127.0.0.21', 'POST', '/session', { username: 'admin', password: gw.adminPassword }, spoofed(99));
    expectError(locked, 429, 'rate_limited', 'client locked despite a new X-Forwarded-For');
    assert.ok(Number(locked.headers['retry-after']) > 0);
    // Another client is not locked by it.
    assert.equal((await fromAddress(gw, '127.0.0.22', 'POST', '/session', { username: 'admin', password: gw.adminPassword })).status, 201);
  });

  test('changing the case of the user name does not dodge the per-name count', async () => {
    await gw.addAccount('victim', 'helpdesk');
    const spellings = ['VICTIM', 'Victim', 'vIctim', 'viCtim', 'vicTIM'];
    for (const [i, username] of spellings.entries()) {
      // A fresh source address each time, so only the name's count can lock.
      expectError(await fromAddress(gw, `127.0.1.${i + 1}`, 'POST', '/session', { username, password: 'wrong-password-xx' }), 401, 'unauthenticated', username);
    }
    expectError(await fromAddress(gw, '127.0.1.50', 'POST', '/session', { username: 'victim', password: 'anything-at-all-1' }), 429, 'rate_limited', 'victim locked');
  });

  test('a parallel burst from one client gets no more password checks than the lockout allows', async () => {
    const burst = await Promise.all(Array.from({ length: 30 }, (_, i) =>
      fromAddress(gw, '127.0.2.1', 'POST', '/session', { username: `burst-${i}`, password: 'wrong-password-xx' })));
    const checked = burst.filter((r) => r.status === 401).length;
    for (const r of burst) assert.ok(r.status === 401 || r.status === 429, `${r.status} ${r.text}`);
    assert.ok(checked <= 5, `${checked} guesses were checked in one burst; the limit is 5`);
  });

  test('an unknown user and a wrong password answer the same (console and recipient sign-in)', async () => {
    const pairs: Array<[string, unknown, unknown]> = [
      ['/session', { username: 'no-such-account', password: 'wrong-password-xx' }, { username: 'admin', password: 'wrong-password-xx' }],
      ['/recipient-session', { username: 'no-such-mailbox', password: 'wrong-password-xx' }, { username: 'mailer', password: 'wrong-password-xx' }],
    ];
    let n = 0;
    for (const [path, unknown, wrong] of pairs) {
      const a = await fromAddress(gw, `127.0.3.${++n}`, 'POST', path, unknown);
      const b = await fromAddress(gw, `127.0.3.${++n}`, 'POST', path, wrong);
      const shape = (r: ApiResponse) => ({ status: r.status, body: r.text, type: r.headers['content-type'], cookie: r.headers['set-cookie'], retry: r.headers['retry-after'] });
      assert.deepEqual(shape(a), shape(b), path);
      expectError(a, 401, 'unauthenticated', path);
    }
  });

  test('credentials, tokens and session ids are not interchangeable', async () => {
    // Staff credentials at the recipient door and mailbox credentials at the staff door.
    expectError(await fromAddress(gw, '127.0.4.1', 'POST', '/recipient-session', { username: 'admin', password: gw.adminPassword }), 401, 'unauthenticated', 'staff as recipient');
    expectError(await fromAddress(gw, '127.0.4.2', 'POST', '/session', { username: 'mailer', password: 'mailer-password' }), 401, 'unauthenticated', 'mailbox as staff');
    const session = await gw.login('admin', gw.adminPassword);
    const sessionId = session.auth.kind === 'session' ? session.auth.cookie.split('=')[1] : '';
    const token = await gw.tokenClient('administrator');
    const tokenSecret = token.auth.token;
    expectError(await gw.client().get('/accounts', { headers: { authorization: `Bearer ${sessionId}` } }), 401, 'unauthenticated', 'session id as bearer');
    expectError(await gw.client().get('/accounts', { headers: { cookie: `__Host-mxward_session=${tokenSecret}` } }), 401, 'unauthenticated', 'token as cookie');
    expectError(await gw.client().get('/accounts', { headers: { authorization: `Basic ${Buffer.from(`admin:${gw.adminPassword}`).toString('base64')}` } }), 401, 'unauthenticated', 'basic auth');
    expectError(await gw.client().get(`/accounts?access_token=${tokenSecret}&token=${tokenSecret}`), 401, 'unauthenticated', 'token in the query');
  });

  test('sign-in bodies with extra or odd fields are refused without a trace', async () => {
    const client: WebClient = gw.client();
    const odd: unknown[] = [
      { username: 'admin', password: gw.adminPassword, role: 'administrator' },
      { username: ['admin'], password: gw.adminPassword },
      { username: 'admin', password: { $ne: '' } },
      { username: 'admin' },
      JSON.parse('{"username":"admin","password":"x","__proto__":{"role":"administrator"}}'),
    ];
    for (const body of odd) {
      const res = await client.post('/session', body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assertNoInternals(res);
      assert.equal(res.headers['set-cookie'], undefined);
    }
  });
});
