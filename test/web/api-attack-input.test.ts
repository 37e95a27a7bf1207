// Hostile input to the admin API over real HTTP (issue 13): oversized and deeply nested JSON,
// prototype-pollution keys in bodies, queries and YAML, huge query strings, invalid UTF-8, path
// traversal into the console's static files, header injection through echoed values, forged
// trace cursors and time filters, SQL injection in trace filters on SQLite and PostgreSQL, and
// inputs shaped to make a regular expression backtrack. Every answer must be a JSON error with a
// code (or a plain 404 for files), never a 500, a stack trace or a machine path.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { createTestDatabase } from '../helpers/postgres.ts';
import type { ApiResponse, WebClient, WebGateway } from '../helpers/web-client.ts';
import { assertNoInternals, expectError, hold, startAttackGateway } from './api-attack-common.ts';

/** An HTTP/1.1 request written byte for byte (paths and bodies no client library would send). */
function rawRequest(gw: WebGateway, head: string, body: Buffer = Buffer.alloc(0)): Promise<{ status: number; text: string; head: string }> {
  const { port } = new URL(gw.url);
  return new Promise((resolveRaw) => {
    const socket = connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    // A reset after the answer (Node closes at once after a 431) still leaves what was read.
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      const split = text.indexOf('\r\n\r\n');
      resolveRaw({ status, head: text.slice(0, split), text: text.slice(split + 4) });
    });
    // write, not end: a half-closed socket may be closed by the server before it answers.
    socket.write(Buffer.concat([Buffer.from(`${head}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`, 'latin1'), body]));
  });
}

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Cursors nobody was given: each must be refused (400 on query.cursor) or mean an empty page, never a 500. */
const FORGED_CURSORS = [
  'garbage', '!!!!', 'A'.repeat(600), b64('null'), b64([]), b64([1, 2]), b64(['1', 'x']), b64(['2026', 'x']),
  b64(['2026-01-01T00:00:00Z', '']), b64(['not a date', 'x']), b64(['-271821-04-20T00:00:00Z', 'x']),
  b64(['+275760-09-13T00:00:00Z', 'x']), b64(['2026-02-30T00:00:00Z', 'x']), b64(['0000-01-01T00:00:00Z', 'x']),
  b64(["2026-01-01T00:00:00Z'; DROP TABLE trace; --", 'x']), b64(['2026-01-01T00:00:00Z', "x' OR '1'='1"]),
  b64(['Tue Nov 30 2026 05:00:00 GMT+0100 (whatever)', 'x']), b64(['2026-01-01T00:00:00Z', 'x', 'extra']), b64({ time: 'x' }),
];

/** Values for the trace filters that try to leave their SQL string, or make LIKE match everything. */
const INJECTIONS = [
  "' OR '1'='1", "'; DROP TABLE trace; --", '" OR 1=1 --', "x') UNION SELECT * FROM console_accounts --", '\\', "%' --",
  '$1', '?', '); SELECT pg_sleep(5); --', 'a\u0000b',
];

/** Time filters that are valid-looking but far out of any store's range. */
const ODD_TIMES = ['99999999999999999999d', '9007199254740993s', '-271821-04-20T00:00:00Z', '+275760-09-13T00:00:00Z', '0000-01-01', '1', '2026-02-30', 'Z'];

async function attackTrace(client: WebClient, what: string): Promise<void> {
  for (const cursor of FORGED_CURSORS) {
    const res = await client.get(`/trace?cursor=${encodeURIComponent(cursor)}`);
    assertNoInternals(res, `${what} cursor`);
    if (res.status === 200) assert.deepEqual(res.json.items.filter((r: { subject: string }) => r.subject?.includes('probe ')), [], `${what}: ${cursor} is not a page of anything`);
    else expectError(res, 400, 'validation_failed', `${what} cursor ${Buffer.from(cursor, 'base64url').toString('utf8').slice(0, 60)}`);
    if (res.status === 400 && cursor !== '') assert.equal(res.json.error.path, 'query.cursor', res.text);
  }
  for (const value of INJECTIONS) {
    for (const field of ['sender', 'recipient', 'ip', 'node']) {
      const res = await client.get(`/trace?${field}=${encodeURIComponent(value)}`);
      assertNoInternals(res, `${what} ${field}`);
      assert.ok(res.status === 200 || res.status === 400, `${what} ${field}=${value}: ${res.status} ${res.text}`);
      if (res.status === 200) assert.deepEqual(res.json.items, [], `${what} ${field}=${value} matched ${res.json.items.length} records`);
    }
    const one = await client.get(`/trace/${encodeURIComponent(value)}`);
    assert.ok(one.status === 404 || one.status === 400, `${what} /trace/${value}: ${one.status} ${one.text}`);
  }
  for (const value of ODD_TIMES) {
    for (const field of ['since', 'until']) {
      const res = await client.get(`/trace?${field}=${encodeURIComponent(value)}`);
      assertNoInternals(res, `${what} ${field}`);
      assert.ok(res.status === 200 || res.status === 400, `${what} ${field}=${value}: ${res.status} ${res.text}`);
    }
    for (const path of [`/dashboard?since=${encodeURIComponent(value)}`, `/report/live?since=${encodeURIComponent(value)}`]) {
      const res = await client.get(path);
      assert.ok(res.status === 200 || res.status === 400, `${what} ${path}: ${res.status} ${res.text}`);
    }
  }
  // The store is intact: the probes are still there and findable.
  const all = await client.get('/trace?limit=500');
  assert.equal(all.status, 200);
  assert.ok(all.json.items.some((r: { subject: string }) => r.subject?.includes('probe ')), 'the trace still answers');
}

describe('input to the API (SQLite store)', () => {
  let gw: WebGateway;
  let admin: WebClient;
  let heldId = '';
  before(async () => {
    gw = await startAttackGateway();
    admin = await gw.tokenClient('administrator');
    heldId = await hold(gw, '[full]', ['alice@contoso.test'], {
      subject: 'probe <img src=x onerror=alert(1)> <script>alert(2)</script>',
      from: '"<svg onload=alert(3)>" <sender@fabrikam.test>',
      headers: ['MIME-Version: 1.0', 'Content-Type: text/html; charset=utf-8'],
      body: '<html><body><script>alert(4)</script><img src=x onerror=alert(5)></body></html>',
    });
  });
  after(async () => { await gw?.close(); });

  test('oversized JSON (declared and streamed) is 413 before it is read', async () => {
    const big = Buffer.alloc(2 * 1024 * 1024, 0x20);
    expectError(await admin.api('POST', '/connectors', { raw: big, contentType: 'application/json' }), 413, 'payload_too_large', 'declared');
    const streamed = await rawRequest(gw, `POST /api/v1/connectors HTTP/1.1\r\nAuthorization: ${authHeader(admin)}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked`,
      Buffer.concat([Buffer.from(`${(big.length).toString(16)}\r\n`), big, Buffer.from('\r\n0\r\n\r\n')]));
    assert.equal(streamed.status, 413, streamed.text);
  });

  test('deeply nested JSON and YAML answer 400, not a crash', async () => {
    const depth = 100_000;
    const nested = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const nestedObject = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    for (const path of ['/connectors', '/policy/import', '/policy/merge', '/audit', '/connectors/test', '/accounts']) {
      for (const raw of [nested, nestedObject, `{"document":${nestedObject}}`, `{"fragment":${nestedObject},"dryRun":true}`]) {
        const res = await admin.api('POST', path, { raw, contentType: 'application/json' });
        assert.ok(res.status === 400 || res.status === 413, `${path}: ${res.status} ${res.text.slice(0, 200)}`);
        assertNoInternals(res, path);
      }
    }
    const yamlNested = `connectors:\n${'  - '.repeat(1)}${'['.repeat(5000)}${']'.repeat(5000)}\n`;
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 9 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`)].join('\n');
    for (const yaml of [yamlNested, bomb, '!!js/function "function(){ return 1 }"', 'a: !!binary x']) {
      for (const path of ['/policy/import', '/policy/merge']) {
        const res = await admin.post(path, { yaml, dryRun: true });
        expectError(res, 400, 'validation_failed', `${path} yaml ${yaml.slice(0, 30)}`);
      }
    }
  });

  test('__proto__, constructor and prototype keys in bodies, YAML and queries pollute nothing', async () => {
    const before = await gw.store.readPolicy();
    const pollute = '{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}}';
    const bodies: Array<[string, string, string]> = [
      ['POST', '/connectors', `{"name":"p1","enabled":true,"senderIPAddresses":["192.0.2.1"],"__proto__":{"polluted":"yes"}}`],
      ['PATCH', '/org', `{"__proto__":{"polluted":"yes","rejectDirectSend":"enforce"}}`],
      ['PATCH', '/org', `{"constructor":{"prototype":{"polluted":"yes"}}}`],
      ['POST', '/policy/merge', `{"fragment":{"connectors":[],"__proto__":{"polluted":"yes"}},"dryRun":false}`],
      ['POST', '/policy/import', `{"document":${pollute},"dryRun":true}`],
      ['POST', '/audit', `{"exports":[{"name":"x.json","text":${JSON.stringify(pollute)}}]}`],
      ['POST', '/connectors/test', `{"ip":"192.0.2.1","__proto__":{"polluted":"yes"}}`],
      ['POST', '/tokens', `{"name":"p","role":"helpdesk","__proto__":{"role":"administrator","polluted":"yes"}}`],
    ];
    for (const [method, path, raw] of bodies) {
      const res = await admin.api(method, path, { raw, contentType: 'application/json' });
      assert.ok(res.status < 500, `${method} ${path}: ${res.status} ${res.text}`);
      assertNoInternals(res, path);
      if (path === '/tokens' && res.status === 201) assert.equal(res.json.info.role, 'helpdesk');
    }
    for (const yaml of ['__proto__:\n  polluted: yes\n', 'connectors:\n  - __proto__:\n      polluted: yes\n    name: y1\n', 'constructor:\n  prototype:\n    polluted: yes\n']) {
      const res = await admin.post('/policy/merge', { yaml, dryRun: true });
      assert.ok(res.status < 500, `yaml: ${res.status} ${res.text}`);
    }
    for (const query of ['__proto__=x', '__proto__=x&__proto__=y', '__proto__[polluted]=yes', 'constructor=x', 'constructor[prototype][polluted]=yes', 'hasOwnProperty=x', 'toString=x']) {
      for (const path of ['/trace', '/quarantine', '/policy/history', '/dashboard', '/queue']) {
        const res = await admin.get(`${path}?${query}`);
        assert.ok(res.status === 200 || res.status === 400, `${path}?${query}: ${res.status} ${res.text}`);
        assertNoInternals(res, `${path}?${query}`);
      }
    }
    // The gateway runs in this process: its Object.prototype is ours.
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype polluted');
    assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
    const afterDoc = await gw.store.readPolicy();
    assert.equal(JSON.stringify(afterDoc.document).includes('polluted'), false, 'nothing stored');
    assert.equal(afterDoc.document.rejectDirectSend, before.document.rejectDirectSend);
  });

  test('huge query strings, headers and many parameters are refused cleanly', async () => {
    // Node refuses a head beyond its limit (431) and closes the connection.
    const long = await rawRequest(gw, `GET /api/v1/trace?sender=${'a'.repeat(100_000)} HTTP/1.1\r\nAuthorization: ${authHeader(admin)}`);
    assert.ok([0, 400, 414, 431].includes(long.status), `long query: ${long.status}`);
    assert.doesNotMatch(long.text, /"items"/);
    const many = await admin.get(`/trace?${Array.from({ length: 1000 }, (_, i) => `sender=${i}`).join('&')}`);
    assert.ok(many.status === 400 || many.status === 431, `many: ${many.status} ${many.text.slice(0, 200)}`);
    assertNoInternals(many);
    const unknown = await admin.get('/trace?nonsense=1');
    expectError(unknown, 400, 'validation_failed', 'unknown query key');
  });

  test('invalid UTF-8 and control characters in paths, queries and bodies', async () => {
    for (const path of ['/api/v1/connectors/%ff', '/api/v1/connectors/%c0%af', '/api/v1/trace?sender=%ff%fe', '/api/v1/quarantine/%e0%80%80', '/api/v1/connectors/%00', '/api/v1/trace/%0d%0aSet-Cookie:%20x=1']) {
      const res = await rawRequest(gw, `GET ${path} HTTP/1.1\r\nAuthorization: ${authHeader(admin)}`);
      // A query value may be decoded leniently (U+FFFD) and simply match nothing.
      assert.ok((res.status >= 400 && res.status < 500) || (res.status === 200 && path.includes('?')), `${path}: ${res.status} ${res.text}`);
      assert.doesNotMatch(res.head, /set-cookie: x=1/i);
      assert.doesNotMatch(res.text, /\n\s+at |\/src\//);
    }
    const bad = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xaf]), Buffer.from('","senderIPAddresses":["192.0.2.9"]}')]);
    const res = await admin.api('POST', '/connectors', { raw: bad, contentType: 'application/json' });
    assert.ok(res.status === 400 || res.status === 201, `${res.status} ${res.text}`);
    assertNoInternals(res);
  });

  test('no way out of the console\'s folder or the vendor list', async () => {
    const paths = [
      '/console/../package.json', '/console/..%2f..%2fpackage.json', '/console/%2e%2e/%2e%2e/package.json', '/console/%2e%2e%2f%2e%2e%2fpackage.json',
      '/console/..\\..\\package.json', '/console/..%5c..%5cpackage.json', '/console/index.html%00.js', '/console/%00', '/console/.%2e/.%2e/package.json',
      '/console/vendor/preact/package.json', '/console/vendor/preact/../../package.json', '/console/vendor/preact/dist/..%2f..%2f..%2fpackage.json',
      '/console/vendor/..%2f..%2fpackage.json', '/console/vendor/%2e%2e/%2e%2e/package.json', '/console/js/%2e%2e/%2e%2e/%2e%2e/server.ts',
      '/console/%252e%252e/%252e%252e/package.json', '/console/..;/..;/package.json', '/console//etc/passwd', '/console/%2fetc%2fpasswd',
      '/console/vendor.json', '/console/.gitignore', '/console/js/../../server.ts', '/console/%c0%ae%c0%ae/%c0%ae%c0%ae/package.json',
    ];
    // Ids in API paths are looked up, never joined onto a directory.
    for (const path of ['/quarantine/..%2f..%2fmxward.db/headers', '/quarantine/..%2f..%2fmxward.db/preview', '/quarantine/%2e%2e%2fmxward.db', '/queue/..%2f..%2fmxward.db', '/trace/..%2f..%2fmxward.db']) {
      const res = await admin.get(path);
      assert.ok(res.status === 404 || res.status === 400, `${path}: ${res.status}`);
      assert.doesNotMatch(res.text, /SQLite format/);
    }
    for (const path of paths) {
      const res = await rawRequest(gw, `GET ${path} HTTP/1.1`);
      assert.doesNotMatch(res.text, /"dependencies"|root:x:0|import \{|createWebApp/, `${path} leaked a file: ${res.status}`);
      assert.ok(res.status === 404 || res.status === 400 || (res.status === 200 && /vendor\.json$/.test(path)) || res.status === 301 || res.status === 302, `${path}: ${res.status}`);
    }
  });

  test('values echoed into answers cannot add headers or change the content type', async () => {
    const upload = 'Date,Sender,Recipient\r\n2026-01-01,a@b.test,c@d.test\r\n';
    const filename = 'x.csv\r\nSet-Cookie: injected=1\r\nContent-Type: text/html';
    const res = await admin.api('POST', `/report?filename=${encodeURIComponent(filename)}`, { raw: upload, contentType: 'text/csv' });
    assert.ok(res.status < 500, `${res.status} ${res.text.slice(0, 200)}`);
    assert.equal(res.headers['set-cookie'], undefined);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    // A quarantined message's header block and preview are text, never HTML, whatever the mail says.
    for (const part of ['headers', 'preview']) {
      const got = await admin.get(`/quarantine/${heldId}/${part}`, { headers: { accept: 'text/html' } });
      assert.equal(got.status, 200, got.text);
      assert.match(String(got.headers['content-type']), /^text\/plain; charset=utf-8$/);
      assert.equal(got.headers['x-content-type-options'], 'nosniff');
      assert.equal(got.headers['content-disposition'], undefined);
    }
    const preview = await admin.get(`/quarantine/${heldId}/preview`);
    assert.doesNotMatch(preview.text, /<script|onerror=/i, 'HTML reduced to text');
  });

  test('security headers on every kind of answer', async () => {
    const answers: Array<[string, ApiResponse]> = [
      ['api ok', await admin.get('/connectors')],
      ['api error', await admin.get('/connectors/none')],
      ['api 401', await gw.client().get('/connectors')],
      ['api 404', await admin.get('/no/such/route')],
      ['openapi', await gw.client().get('/openapi.json')],
      ['console', await gw.client().fetch('GET', '/console/')],
      ['asset', await gw.client().fetch('GET', '/console/js/app.js')],
      ['static 404', await gw.client().fetch('GET', '/console/none.js')],
      ['root', await gw.client().fetch('GET', '/')],
      ['text', await admin.get(`/quarantine/${heldId}/headers`)],
    ];
    for (const [what, res] of answers) {
      const csp = String(res.headers['content-security-policy']);
      assert.match(csp, /default-src 'self'/, what);
      assert.match(csp, /frame-ancestors 'none'/, what);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, what);
      assert.equal(res.headers['x-content-type-options'], 'nosniff', what);
      assert.equal(res.headers['x-frame-options'], 'DENY', what);
      assert.equal(res.headers['referrer-policy'], 'no-referrer', what);
      assert.equal(res.headers['x-powered-by'], undefined, what);
      if (what.startsWith('api') || what === 'text') assert.equal(res.headers['cache-control'], 'no-store', what);
      assertNoInternals(res, what);
    }
  });

  test('inputs shaped for catastrophic backtracking answer (a bounded wait is the failure, not a timing)', async () => {
    const evil = `${'a'.repeat(50_000)}!`;
    const dotted = `${'a.'.repeat(20_000)}!`;
    const calls: Array<Promise<ApiResponse>> = [
      admin.post('/recipient-links', { address: `${'a'.repeat(200)}@${dotted}` }),
      admin.post('/domains', { domain: dotted }),
      admin.post('/connectors', { name: evil, senderDomains: [dotted], senderIPAddresses: [`${'1.'.repeat(10_000)}`] }),
      admin.post('/connectors/test', { ip: evil, sender: `${evil}@${dotted}` }),
      admin.get(`/trace?since=${'1'.repeat(60)}d&sender=${evil.slice(0, 300)}`),
      admin.post('/users', { username: evil.slice(0, 256), password: evil, addresses: [`${'a'.repeat(100)}@${dotted}`] }),
      admin.api('POST', '/analyze', { raw: `Subject: ${'=?utf-8?q?'.repeat(20_000)}\r\nFrom: ${'<'.repeat(20_000)}\r\n\r\n`, contentType: 'message/rfc822' }),
      admin.api('POST', '/report', { raw: `${'"'.repeat(100_000)}\r\n`, contentType: 'text/csv' }),
    ];
    const deadline = new Promise<never>((_, reject) => { const t = setTimeout(() => reject(new Error('no answer within 60 s: backtracking?')), 60_000); t.unref(); });
    const results = await Promise.race([Promise.all(calls), deadline]);
    for (const res of results) {
      assert.ok(res.status >= 200 && res.status < 500, `${res.status} ${res.text.slice(0, 200)}`);
      assertNoInternals(res);
    }
  });

  test('trace: forged cursors, SQL in filters and odd times (SQLite)', async () => {
    await attackTrace(admin, 'sqlite');
  });

  test('a LIKE wildcard in a "contains" filter is a character, not "match all" (SQLite)', async () => {
    for (const value of ['%', '_']) {
      for (const field of ['sender', 'recipient']) {
        const res = await admin.get(`/trace?${field}=${encodeURIComponent(value)}`);
        assert.deepEqual(res.json.items, [], `${field}=${value} matched ${res.json.items.length} records`);
      }
    }
  });
});

const db = await createTestDatabase();
const pgSkip = typeof db === 'string' ? db : false;

describe('input to the API (PostgreSQL store)', { skip: pgSkip }, () => {
  let gw: WebGateway;
  let admin: WebClient;
  before(async () => {
    if (typeof db === 'string') return;
    gw = await startAttackGateway({ config: { store: { url: db.url } } });
    admin = await gw.tokenClient('administrator');
    await hold(gw, '[full]', ['alice@contoso.test'], { subject: 'probe on postgres' });
  });
  after(async () => {
    await gw?.close();
    if (typeof db !== 'string') await db.drop();
  });

  test('trace: forged cursors, SQL in filters and odd times (PostgreSQL)', async () => {
    await attackTrace(admin, 'postgres');
    for (const value of ['%', '_']) {
      const res = await admin.get(`/trace?sender=${encodeURIComponent(value)}`);
      assert.deepEqual(res.json.items, [], `sender=${value} is a character on PostgreSQL`);
    }
  });

  test('a NUL character anywhere (PostgreSQL stores none) is a 400 naming the field, not a 500', async () => {
    const tries: Array<[string, string, unknown, string]> = [
      ['POST', '/tokens', { name: 'a\u0000b', role: 'helpdesk', scopes: ['read'] }, 'body.name'],
      ['POST', '/connectors', { name: 'nul', senderIPAddresses: ['192.0.2.1'], comment: 'x\u0000' }, 'body.comment'],
      ['POST', '/policy/merge', { fragment: { connectors: [{ name: 'n\u0000', senderIPAddresses: ['192.0.2.2'] }] }, dryRun: true }, 'body.fragment.connectors[0].name'],
      ['GET', '/quarantine/a%00b', undefined, 'params.id'],
      ['GET', '/trace/a%00b', undefined, 'params.transactionId'],
      ['GET', '/trace?recipient=a%00b', undefined, 'query.recipient'],
      ['GET', '/quarantine?recipient=a%00b%40x.test', undefined, 'query.recipient'],
      ['DELETE', '/connectors/a%00b', undefined, 'params.name'],
    ];
    for (const [method, path, body, field] of tries) {
      const res = await admin.api(method, path, body === undefined ? {} : { body });
      expectError(res, 400, 'validation_failed', `${method} ${path}`);
      assert.equal(res.json.error.path, field, res.text);
    }
    const recipient = await gw.client().post('/recipient-session', { username: 'a\u0000', password: 'x' });
    expectError(recipient, 400, 'validation_failed', 'recipient sign-in');
  });
});

function authHeader(client: WebClient): string {
  if (client.auth.kind !== 'token') throw new Error('a token client expected');
  return `Bearer ${client.auth.token}`;
}
