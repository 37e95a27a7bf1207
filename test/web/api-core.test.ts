// The API server's own behaviour over real HTTP (issue 13): error shape and field paths, body
// limits, content types, response validation, unknown routes, the OpenAPI document, the console's
// static files with their CSP and traversal refusal, and the TLS listener. Routes defined here
// exercise the server; the real route list is checked through the running gateway.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mkdtemp, rm, writeFile, mkdir, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { z } from 'zod';
import { ApiError, defineRoute } from '../../src/web/api-route.ts';
import type { ApiDeps, ApiRoute } from '../../src/web/api-route.ts';
import { startWebServer } from '../../src/web/server.ts';
import type { WebServer } from '../../src/web/server.ts';
import { apiRoutes } from '../../src/web/routes/index.ts';
import { ServiceError } from '../../src/services/service-error.ts';
import { bootstrapSchema, defaultBootstrap } from '../../src/config/bootstrap.ts';
import { startWebGateway, WebClient } from '../helpers/web-client.ts';
import type { WebGateway } from '../helpers/web-client.ts';
import { checkOpenApiDocument } from './api-core-openapi.ts';

const testRoutes: ApiRoute[] = [
  defineRoute({
    method: 'post', path: '/test/connectors', tag: 'test', summary: 'Echo connectors', auth: 'none', roles: ['administrator'], scope: 'write',
    body: z.object({ connectors: z.array(z.object({ name: z.string().min(1), senderIPAddresses: z.array(z.ipv4()) })) }),
    response: z.object({ count: z.number() }),
    handler: async ({ body }) => ({ count: body.connectors.length }),
  }),
  defineRoute({
    method: 'get', path: '/test/items/:id', tag: 'test', summary: 'One item', auth: 'none', roles: ['administrator'], scope: 'read',
    params: z.object({ id: z.coerce.number().int().positive() }), query: z.object({ limit: z.coerce.number().int().max(10).optional() }),
    response: z.object({ id: z.number(), limit: z.number().nullable() }),
    handler: async ({ params, query }) => ({ id: params.id, limit: query.limit ?? null }),
  }),
  defineRoute({
    method: 'get', path: '/test/items/special', tag: 'test', summary: 'A static path beside a parametric one', auth: 'none', roles: ['administrator'], scope: 'read',
    response: z.object({ special: z.literal(true) }),
    handler: async () => ({ special: true as const }),
  }),
  defineRoute({
    method: 'post', path: '/test/upload', tag: 'test', summary: 'Count uploaded bytes', auth: 'none', roles: ['administrator'], scope: 'write',
    rawBody: { contentTypes: ['text/csv'], maxBytes: 1000 }, response: z.object({ bytes: z.number() }),
    handler: async ({ body }) => ({ bytes: (body as Buffer).length }),
  }),
  defineRoute({
    method: 'get', path: '/test/bad-response', tag: 'test', summary: 'Answer off schema', auth: 'none', roles: ['administrator'], scope: 'read',
    response: z.object({ ok: z.boolean() }),
    handler: async () => ({ ok: 'yes' }) as unknown as { ok: boolean },
  }),
  defineRoute({
    method: 'get', path: '/test/crash', tag: 'test', summary: 'Throw a bug', auth: 'none', roles: ['administrator'], scope: 'read',
    response: z.object({}),
    handler: async () => { throw new TypeError('secret internal detail at /srv/mxward/x.ts:12'); },
  }),
  defineRoute({
    method: 'get', path: '/test/service-error', tag: 'test', summary: 'A service failure', auth: 'none', roles: ['administrator'], scope: 'read',
    response: z.object({}),
    handler: async () => { throw new ServiceError('conflict', 'connector partner already exists', 'name'); },
  }),
  defineRoute({
    method: 'get', path: '/test/api-error', tag: 'test', summary: 'An ApiError', auth: 'none', roles: ['administrator'], scope: 'read',
    response: z.object({}),
    handler: async () => { throw new ApiError(404, 'not_found', 'no message q1'); },
  }),
  defineRoute({
    method: 'get', path: '/test/needs-auth', tag: 'test', summary: 'Needs a principal', roles: ['administrator'], scope: 'read',
    response: z.object({}), handler: async () => ({}),
  }),
];

describe('API server with test routes', () => {
  let dir: string;
  let server: WebServer;
  let client: WebClient;
  const logged: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mxward-web-'));
    const consoleDir = join(dir, 'console');
    await mkdir(join(consoleDir, 'js'), { recursive: true });
    await writeFile(join(consoleDir, 'index.html'), '<!doctype html><title>t</title>');
    await writeFile(join(consoleDir, 'js', 'app.js'), 'export const x = 1;\n');
    await writeFile(join(consoleDir, 'style.css'), 'body{}');
    await writeFile(join(consoleDir, '.hidden'), 'no');
    await writeFile(join(consoleDir, 'vendor.json'), JSON.stringify({ preact: ['dist/preact.mjs'] }));
    await writeFile(join(dir, 'outside.txt'), 'outside the console');
    await symlink(join(dir, 'outside.txt'), join(consoleDir, 'link.txt'));
    // The vendored package is found in the node_modules nearest above the console directory.
    await mkdir(join(dir, 'node_modules'));
    await symlink(new URL('../../node_modules/preact', import.meta.url).pathname, join(dir, 'node_modules', 'preact'));
    const logger = pino({ level: 'error' }, { write: (line: string) => { logged.push(line); } });
    const deps: ApiDeps = { config: defaultBootstrap(), dataDir: dir, store: null as never, livePolicy: null, quarantine: null, spool: null, logger };
    server = await startWebServer({ routes: testRoutes, deps, host: '127.0.0.1', port: 0, consoleDir, maxBodyBytes: 2000 });
    client = new WebClient(server.url);
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('a body that fails its schema: 400 validation_failed with the field path', async () => {
    const res = await client.post('/test/connectors', { connectors: [{ name: 'a', senderIPAddresses: ['192.0.2.1'] }, { name: 'b', senderIPAddresses: [] }, { name: '', senderIPAddresses: [] }] });
    assert.equal(res.status, 400);
    assert.equal(res.json.error.code, 'validation_failed');
    assert.equal(res.json.error.path, 'body.connectors[2].name');
    const deeper = await client.post('/test/connectors', { connectors: [{ name: 'a', senderIPAddresses: ['192.0.2.1', 'not-an-ip'] }] });
    assert.equal(deeper.json.error.path, 'body.connectors[0].senderIPAddresses[1]');
    const good = await client.post('/test/connectors', { connectors: [{ name: 'a', senderIPAddresses: ['192.0.2.1'] }] });
    assert.deepEqual([good.status, good.json], [200, { count: 1 }]);
  });

  test('bad JSON, a wrong content type, bad params and query', async () => {
    const bad = await client.api('POST', '/test/connectors', { raw: '{"connectors": [', contentType: 'application/json' });
    assert.deepEqual([bad.status, bad.json.error.code, bad.json.error.path], [400, 'validation_failed', 'body']);
    const form = await client.api('POST', '/test/connectors', { raw: 'connectors=1', contentType: 'application/x-www-form-urlencoded' });
    assert.deepEqual([form.status, form.json.error.code], [415, 'unsupported_media_type']);
    const param = await client.get('/test/items/abc');
    assert.deepEqual([param.status, param.json.error.path], [400, 'params.id']);
    const query = await client.get('/test/items/3?limit=50');
    assert.deepEqual([query.status, query.json.error.path], [400, 'query.limit']);
    const ok = await client.get('/test/items/3?limit=5');
    assert.deepEqual(ok.json, { id: 3, limit: 5 });
    assert.deepEqual((await client.get('/test/items/special')).json, { special: true });
  });

  test('bodies beyond the limit: 413 payload_too_large, declared or streamed', async () => {
    const big = await client.post('/test/connectors', { connectors: [{ name: 'x'.repeat(3000), senderIPAddresses: [] }] });
    assert.deepEqual([big.status, big.json.error.code], [413, 'payload_too_large']);
    const upload = await client.api('POST', '/test/upload', { raw: 'a,b\n'.repeat(300), contentType: 'text/csv' });
    assert.deepEqual([upload.status, upload.json.error.code], [413, 'payload_too_large']);
    const small = await client.api('POST', '/test/upload', { raw: 'a,b\n', contentType: 'text/csv; charset=utf-8' });
    assert.deepEqual([small.status, small.json], [200, { bytes: 4 }]);
    // Chunked, no Content-Length: the limit holds while the body streams in.
    const streamed = await chunkedPost(server, '/api/v1/test/upload', 'text/csv', 'x'.repeat(600), 3);
    assert.match(streamed, /^HTTP\/1\.1 413/);
    assert.match(streamed, /payload_too_large/);
  });

  test('an answer off its schema is 500 response_invalid and logged; a bug is 500 internal without a stack', async () => {
    const invalid = await client.get('/test/bad-response');
    assert.deepEqual([invalid.status, invalid.json.error.code], [500, 'response_invalid']);
    assert.ok(logged.some((l) => l.includes('response_invalid')), 'the mismatch is logged');
    const crash = await client.get('/test/crash');
    assert.deepEqual([crash.status, crash.json.error.code], [500, 'internal']);
    assert.doesNotMatch(crash.text, /secret internal detail|TypeError|\.ts:/);
    assert.ok(logged.some((l) => l.includes('secret internal detail')), 'the bug itself goes to the log');
  });

  test('ServiceError and ApiError keep their codes', async () => {
    const conflict = await client.get('/test/service-error');
    assert.deepEqual([conflict.status, conflict.json.error], [409, { code: 'conflict', message: 'connector partner already exists', path: 'body.name' }]);
    const missing = await client.get('/test/api-error');
    assert.deepEqual([missing.status, missing.json.error.code], [404, 'not_found']);
    const anonymous = await client.get('/test/needs-auth');
    assert.deepEqual([anonymous.status, anonymous.json.error.code], [401, 'unauthenticated']);
    assert.equal(anonymous.headers['www-authenticate'], 'Bearer realm="mxward"');
  });

  test('a plain-HTTP console answers only to loopback Host names (DNS rebinding)', async () => {
    for (const host of ['evil.example', 'evil.example:80', '127.0.0.1.evil.example', '']) {
      const res = await rawExchange(server, `GET /api/v1/test/items/1 HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, []);
      assert.match(res, /^HTTP\/1\.1 (421|400)/, host);
    }
    for (const host of ['localhost', `localhost:${server.address.port}`, '127.0.0.1', `[::1]:${server.address.port}`]) {
      const res = await rawExchange(server, `GET /api/v1/test/items/1 HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, []);
      assert.match(res, /^HTTP\/1\.1 200/, host);
    }
  });

  test('unknown API routes answer 404 JSON', async () => {
    for (const [method, path] of [['GET', '/nope'], ['DELETE', '/test/connectors'], ['POST', '/test/items/1']]) {
      const res = await client.api(method, path, method === 'POST' ? { body: {} } : {});
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal(res.headers['content-type'], 'application/json');
      assert.equal(res.json.error.code, 'not_found');
    }
  });

  test('static files: content types, CSP, index and redirects', async () => {
    const index = await client.fetch('GET', '/console/');
    assert.equal(index.status, 200);
    assert.equal(index.headers['content-type'], 'text/html; charset=utf-8');
    const csp = String(index.headers['content-security-policy']);
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    assert.equal(index.headers['x-content-type-options'], 'nosniff');
    assert.equal((await client.fetch('GET', '/console/js/app.js')).headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal((await client.fetch('GET', '/console/style.css')).headers['content-type'], 'text/css; charset=utf-8');
    const root = await client.fetch('GET', '/');
    assert.deepEqual([root.status, root.headers.location], [302, '/console/']);
    // API answers carry the same policy.
    assert.match(String((await client.get('/nope')).headers['content-security-policy']), /default-src 'self'/);
  });

  test('no way out of the console directory', async () => {
    for (const path of ['/console/../package.json', '/console/%2e%2e/outside.txt', '/console/js/%2e%2e%2f%2e%2e%2foutside.txt',
      '/console/..%5coutside.txt', '/console/.hidden', '/console/link.txt', '/console/%00index.html', '/console/%E0%A4%A']) {
      const res = await rawGet(server, path);
      assert.match(res, /^HTTP\/1\.1 (400|404)/, path);
      assert.doesNotMatch(res, /outside the console|"name": "mxward"/, path);
    }
  });

  test('vendored modules: only files on the allow-list', async () => {
    const allowed = await client.fetch('GET', '/console/vendor/preact/dist/preact.mjs');
    assert.equal(allowed.status, 200);
    assert.equal(allowed.headers['content-type'], 'text/javascript; charset=utf-8');
    for (const path of ['/console/vendor/preact/package.json', '/console/vendor/preact/dist/preact.js', '/console/vendor/zod/index.js', '/console/vendor/preact/../zod/package.json']) {
      assert.equal((await rawGet(server, path)).slice(9, 12), '404', path);
    }
  });

  test('the OpenAPI document of the test routes', async () => {
    const res = await client.get('/openapi.json');
    assert.equal(res.status, 200);
    const problems = checkOpenApiDocument(res.json, testRoutes);
    assert.deepEqual(problems, []);
    assert.equal(res.json.paths['/api/v1/test/items/{id}'].get.parameters[0].in, 'path');
    assert.ok(res.json.paths['/api/v1/test/upload'].post.requestBody.content['text/csv']);
  });
});

describe('API on a running gateway', () => {
  let gateway: WebGateway;
  before(async () => { gateway = await startWebGateway(); });
  after(async () => { await gateway?.close(); });

  test('the OpenAPI document lists every route of the API, with a valid shape', async () => {
    const res = await gateway.client().get('/openapi.json');
    assert.equal(res.status, 200);
    assert.equal(res.json.openapi, '3.1.0');
    assert.deepEqual(checkOpenApiDocument(res.json, apiRoutes), []);
    assert.ok(res.json.paths['/api/v1/session'].post, 'sign-in is documented');
    assert.deepEqual(res.json.paths['/api/v1/session'].post.security, []);
  });

  test('the real console is served with its vendored modules', async () => {
    const client = gateway.client();
    const index = await client.fetch('GET', '/console/');
    assert.equal(index.status, 200);
    assert.match(index.text, /<script type="module"/);
    assert.doesNotMatch(index.text, /<script>(?!<)/, 'no inline script: the CSP would block it');
    const { readFile } = await import('node:fs/promises');
    const vendor = JSON.parse(await readFile(new URL('../../src/web/console/vendor.json', import.meta.url), 'utf8')) as Record<string, string[]>;
    for (const [pkg, files] of Object.entries(vendor)) {
      for (const file of files) assert.equal((await client.fetch('GET', `/console/vendor/${pkg}/${file}`)).status, 200, `${pkg}/${file}`);
    }
  });
});

describe('TLS listener', () => {
  test('serves HTTPS with the gateway certificate, not plain HTTP', async (t) => {
    const gateway = await startWebGateway({ tls: true });
    t.after(() => gateway.close());
    assert.match(gateway.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const admin = await gateway.adminClient();
    const me = await admin.get('/session');
    assert.deepEqual([me.status, me.json.principal.name], [200, 'admin']);
    const plain = new WebClient(gateway.url.replace('https:', 'http:'));
    await assert.rejects(plain.get('/session'));
  });

  test('a non-loopback host without TLS is a configuration error', () => {
    const parsed = bootstrapSchema.safeParse({ console: { host: '0.0.0.0', tls: false } });
    assert.equal(parsed.success, false);
    assert.deepEqual(parsed.error?.issues[0].path, ['console', 'host']);
    assert.match(parsed.error?.issues[0].message ?? '', /loopback/);
    assert.equal(bootstrapSchema.safeParse({ console: { host: '127.0.0.1', tls: false } }).success, true);
    assert.equal(bootstrapSchema.safeParse({ console: { host: '0.0.0.0' } }).success, true, 'TLS is the default');
  });
});

/** A GET with the path exactly as written (no client-side normalisation of `..`). */
function rawGet(server: WebServer, path: string): Promise<string> {
  return rawExchange(server, `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`, []);
}

function chunkedPost(server: WebServer, path: string, contentType: string, chunk: string, chunks: number): Promise<string> {
  const head = `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: ${contentType}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`;
  const body = Array.from({ length: chunks }, () => `${Buffer.byteLength(chunk).toString(16)}\r\n${chunk}\r\n`);
  return rawExchange(server, head, [...body, '0\r\n\r\n']);
}

function rawExchange(server: WebServer, head: string, bodyParts: string[]): Promise<string> {
  return new Promise((resolveText, rejectText) => {
    const socket = connect(server.address.port, '127.0.0.1', () => {
      socket.write(head);
      for (const part of bodyParts) socket.write(part);
    });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => { text += d; });
    socket.on('end', () => resolveText(text));
    socket.on('close', () => resolveText(text));
    socket.on('error', (err) => (text ? resolveText(text) : rejectText(err)));
  });
}
