// The policy API over real HTTP against a running gateway (issue 13): every policy route, the
// roles (a helpdesk token cannot change connectors, an auditor cannot write, a recipient sees
// none of it), validation errors with their field paths, audit entries naming the actor, and a
// connector added through the API changing the verdict of the next SMTP transaction.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { policyRoutes } from '../../src/web/routes/policy-routes.ts';
import { expectError, startWebGateway } from '../helpers/web-client.ts';
import type { ApiResponse, RequestOptions, WebClient, WebGateway } from '../helpers/web-client.ts';
import { sendOne, testMessage } from '../helpers/smtp-client.ts';
import { directSendAttempt } from '../helpers/smtp-session.ts';

let gw: WebGateway;
let admin: WebClient;

/** Which policy routes the tests called, so the last test can prove none was left out. */
const called = new Set<string>();
const routeOf = (method: string, path: string): string | undefined => {
  const bare = path.split('?')[0];
  // Literal paths first (`/connectors/test` before `/connectors/:name`), as the server routes them.
  const candidates = policyRoutes.filter((r) => r.method === method.toLowerCase())
    .sort((a, b) => a.path.split(':').length - b.path.split(':').length);
  const found = candidates.find((r) => new RegExp(`^${r.path.replace(/:[^/]+/g, '[^/]+')}$`).test(bare));
  return found ? `${found.method} ${found.path}` : undefined;
};

/** A client whose API calls are recorded (the helper's client, unchanged otherwise). */
function recorded(client: WebClient): WebClient {
  const api = client.api.bind(client);
  client.api = <T>(method: string, path: string, options?: RequestOptions): Promise<ApiResponse<T>> => {
    const route = routeOf(method, path);
    if (route) called.add(route);
    return api<T>(method, path, options);
  };
  return client;
}

function expectStatus(res: ApiResponse, status: number, what: string): void {
  assert.equal(res.status, status, `${what}: ${res.status} ${res.text}`);
}

before(async () => {
  gw = await startWebGateway({
    policy: (doc) => ({ ...doc, rejectDirectSend: 'enforce', acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }] }),
  });
  admin = recorded(await gw.tokenClient('administrator'));
});

after(async () => {
  await gw?.close();
});

test('org switches: read, change one, the other stays; nothing to change is refused', async () => {
  const before = await admin.get('/org');
  expectStatus(before, 200, 'GET /org');
  assert.equal(before.json.rejectDirectSend, 'enforce');
  const changed = await admin.patch('/org', { rejectDirectSendHeaderFrom: 'enforce' });
  expectStatus(changed, 200, 'PATCH /org');
  assert.deepEqual([changed.json.rejectDirectSend, changed.json.rejectDirectSendHeaderFrom], ['enforce', 'enforce']);
  assert.equal(changed.json.policyVersion, before.json.policyVersion + 1);
  expectError(await admin.patch('/org', {}), 400, 'validation_failed');
  expectError(await admin.patch('/org', { rejectDirectSend: 'always' }), 400, 'validation_failed', 'body.rejectDirectSend');
  expectError(await admin.patch('/org', { connectors: [] }), 400, 'validation_failed');
});

test('accepted domains: add (normalised), list, refuse duplicates and stray recipients, remove', async () => {
  const added = await admin.post('/domains', { domain: 'Fabrikam.TEST.', recipients: ['Sales@FABRIKAM.test'] });
  expectStatus(added, 201, 'POST /domains');
  assert.deepEqual(added.json, { domain: 'fabrikam.test', includeSubdomains: false, recipients: ['Sales@fabrikam.test'] });
  const list = await admin.get('/domains');
  assert.deepEqual(list.json.map((d: { domain: string }) => d.domain), ['contoso.test', 'fabrikam.test']);
  expectError(await admin.post('/domains', { domain: 'fabrikam.test' }), 409, 'conflict', 'body.domain');
  expectError(await admin.post('/domains', { domain: 'not a domain!' }), 400, 'validation_failed', 'body.domain');
  expectError(await admin.post('/domains', { domain: 'northwind.test', recipients: ['a@northwind.test', 'b@elsewhere.test'] }), 400, 'validation_failed', 'body.recipients[1]');
  expectStatus(await admin.delete('/domains/FABRIKAM.test'), 200, 'DELETE /domains/:domain');
  expectError(await admin.delete('/domains/fabrikam.test'), 404, 'not_found', 'params.domain');
  expectError(await admin.delete('/domains/not%20a%20domain'), 400, 'validation_failed', 'params.domain');
});

test('connectors: add, read, patch, test, remove, each audited with the actor', async () => {
  const added = await admin.post('/connectors', { name: 'PartnerNet', type: 'partner', senderIPAddresses: ['192.0.2.0/24'], senderDomains: ['partner.example'] });
  expectStatus(added, 201, 'POST /connectors');
  assert.equal(added.json.enabled, true, 'schema defaults are filled in');
  expectStatus(await admin.get('/connectors/partnernet'), 200, 'GET /connectors/:name (case-insensitive)');
  const patched = await admin.patch('/connectors/PartnerNet', { requireTls: true, comment: 'the partner' });
  expectStatus(patched, 200, 'PATCH /connectors/:name');
  assert.deepEqual([patched.json.requireTls, patched.json.comment, patched.json.senderIPAddresses], [true, 'the partner', ['192.0.2.0/24']]);
  assert.deepEqual((await admin.get('/connectors')).json.map((c: { name: string }) => c.name), ['PartnerNet']);

  const plaintext = await admin.post('/connectors/test', { ip: '192.0.2.7', sender: 'billing@partner.example' });
  expectStatus(plaintext, 200, 'POST /connectors/test');
  assert.deepEqual([plaintext.json.result, plaintext.json.connector], ['requireTls', 'PartnerNet']);
  const overTls = await admin.post('/connectors/test', { ip: '192.0.2.7', tls: true, sender: 'partner.example' });
  assert.deepEqual([overTls.json.result, overTls.json.connector, overTls.json.by], ['matched', 'PartnerNet', 'ip']);
  assert.ok(overTls.json.reasons.length > 0, 'says why');
  const none = await admin.post('/connectors/test', { ip: '203.0.113.9' });
  assert.deepEqual([none.json.result, none.json.connector], ['none', null]);

  // Names may hold spaces and dots: the console sends them percent-encoded.
  expectStatus(await admin.post('/connectors', { name: 'Branch Office.2', type: 'partner', senderIPAddresses: ['198.51.100.0/24'] }), 201, 'spaced name');
  expectStatus(await admin.get(`/connectors/${encodeURIComponent('branch office.2')}`), 200, 'GET spaced name');
  expectStatus(await admin.delete(`/connectors/${encodeURIComponent('Branch Office.2')}`), 200, 'DELETE spaced name');
  expectStatus(await admin.delete('/connectors/partnernet'), 200, 'DELETE /connectors/:name');
  expectError(await admin.get('/connectors/PartnerNet'), 404, 'not_found', 'params.name');
  const audit = (await gw.store.listAudit(20)).filter((e) => e.action.startsWith('connector.'));
  assert.deepEqual(audit.map((e) => e.action).reverse(), ['connector.add', 'connector.set', 'connector.add', 'connector.remove', 'connector.remove']);
  // The token's name, as the server writes it for every change made with that token.
  assert.match(audit[0].actor, /^api:test-administrator-\d+$/);
  assert.deepEqual(new Set(audit.map((e) => e.actor)).size, 1);
});

test('validation errors name the field, connector refusals their reason', async () => {
  expectError(await admin.post('/connectors', { name: 'Bad', type: 'partner', senderIPAddresses: ['10.0.0.0/33'] }), 400, 'validation_failed', 'body.senderIPAddresses[0]');
  expectError(await admin.post('/connectors', { name: 'Bad', type: 'friend' }), 400, 'validation_failed', 'body.type');
  expectError(await admin.post('/connectors', { name: 'Bad', type: 'partner', colour: 'red' }), 400, 'validation_failed');
  // The onPremises bound is a rule of the whole policy: still reported on the field sent.
  expectError(await admin.post('/connectors', { name: 'Wide', type: 'onPremises', senderIPAddresses: ['10.0.0.0/8'] }), 400, 'validation_failed', 'body.senderIPAddresses[0]');
  expectError(await admin.post('/connectors/test', { ip: '999.1.1.1' }), 400, 'validation_failed', 'body.ip');
  expectError(await admin.patch('/connectors/Nobody', { enabled: false }), 404, 'not_found', 'params.name');
  expectStatus(await admin.post('/connectors', { name: 'One', type: 'partner', senderIPAddresses: ['198.51.100.0/24'] }), 201, 'add One');
  expectError(await admin.post('/connectors', { name: 'ONE', type: 'partner' }), 409, 'conflict', 'body.name');
  expectError(await admin.patch('/connectors/One', {}), 400, 'validation_failed');
  expectError(await admin.patch('/connectors/One', { senderIPAddresses: ['not-an-ip'] }), 400, 'validation_failed', 'body.senderIPAddresses[0]');
  const unchanged = await admin.get('/connectors/One');
  assert.deepEqual(unchanged.json.senderIPAddresses, ['198.51.100.0/24'], 'a refused change writes nothing');
  expectStatus(await admin.delete('/connectors/One'), 200, 'remove One');
});

test('submission users: add, list without hashes, set password, remove', async () => {
  const added = await admin.post('/users', { username: 'alice', password: 'correct horse', addresses: ['Alice@Contoso.TEST', 'sales@contoso.test'] });
  expectStatus(added, 201, 'POST /users');
  assert.deepEqual(added.json, { username: 'alice', addresses: ['Alice@contoso.test', 'sales@contoso.test'] });
  expectError(await admin.post('/users', { username: 'alice', password: 'another one', addresses: ['alice@contoso.test'] }), 409, 'conflict', 'body.username');
  expectError(await admin.post('/users', { username: 'bob', password: 'short', addresses: ['bob@contoso.test'] }), 400, 'validation_failed', 'body.password');
  expectError(await admin.post('/users', { username: 'bob', password: 'long enough', addresses: ['not-an-address'] }), 400, 'validation_failed', 'body.addresses[0]');
  const list = await admin.get('/users');
  assert.deepEqual(list.json, [{ username: 'alice', addresses: ['Alice@contoso.test', 'sales@contoso.test'] }]);
  assert.doesNotMatch(list.text, /scrypt/);

  const oldHash = (await gw.store.getUser('alice'))?.passwordHash;
  expectStatus(await admin.put('/users/alice/password', { password: 'battery staple' }), 200, 'PUT /users/:username/password');
  assert.notEqual((await gw.store.getUser('alice'))?.passwordHash, oldHash);
  // The new password signs the user in as a recipient (the submission users are their identities).
  await gw.recipientLogin('alice', 'battery staple');
  expectError(await admin.put('/users/nobody/password', { password: 'battery staple' }), 404, 'not_found', 'params.username');
  expectError(await admin.put('/users/alice/password', { password: 'x' }), 400, 'validation_failed', 'body.password');

  expectStatus(await admin.delete('/users/alice'), 200, 'DELETE /users/:username');
  expectError(await admin.delete('/users/alice'), 404, 'not_found', 'params.username');
  const audit = (await gw.store.listAudit(20)).filter((e) => e.action.startsWith('user.')).map((e) => e.action);
  assert.deepEqual(audit.reverse(), ['user.add', 'user.update', 'user.remove']);
  assert.doesNotMatch(JSON.stringify(await gw.store.listAudit(20)), /scrypt\$/, 'the audit never holds a hash');
});

test('whole policy: export, import (refused, dry run, replace), merge with its diff first, history, rollback', async () => {
  const exported = await admin.get('/policy');
  expectStatus(exported, 200, 'GET /policy');
  assert.match(exported.json.yaml, /^# mxward policy, version \d+\n/);
  const start = exported.json.version as number;

  // Import without the accepted domain: refused (a removal), unless replace; dry run shows it.
  const without = { ...exported.json.document, acceptedDomains: [] };
  expectError(await admin.post('/policy/import', { document: without }), 409, 'conflict');
  const dry = await admin.post('/policy/import', { document: without, dryRun: true });
  expectStatus(dry, 200, 'import dry run');
  assert.deepEqual([dry.json.kind, dry.json.diff.domains.removed], ['dry-run', ['contoso.test']]);
  assert.match(dry.json.refusal, /would remove accepted domain contoso\.test/);
  const yamlError = await admin.post('/policy/import', { yaml: 'connectors:\n  - name: X\n    type: partner\n    senderIPAddresses: [bad]\n' });
  expectError(yamlError, 400, 'validation_failed', 'body.yaml');
  assert.match(yamlError.json.error.message, /line 4: connectors\[0\]\.senderIPAddresses\[0\]/);
  expectError(await admin.post('/policy/import', { document: without, yaml: 'x: 1' }), 400, 'validation_failed');
  const imported = await admin.post('/policy/import', { yaml: exported.json.yaml.replace('rejectDirectSend: enforce', 'rejectDirectSend: report') });
  expectStatus(imported, 200, 'import');
  assert.deepEqual([imported.json.kind, imported.json.diff.settings], ['written', ['rejectDirectSend: "enforce" -> "report"']]);

  const fragment = { connectors: [{ name: 'FromReport', type: 'partner', senderIPAddresses: ['203.0.113.0/24'], senderDomains: ['vendor.example'] }] };
  const preview = await admin.post('/policy/merge', { fragment, dryRun: true });
  assert.deepEqual([preview.json.kind, preview.json.diff.connectors.added], ['dry-run', ['FromReport']]);
  assert.equal((await admin.get('/connectors')).json.length, 0, 'a dry run writes nothing');
  const merged = await admin.post('/policy/merge', { fragment });
  assert.deepEqual([merged.json.kind, merged.json.previousVersion], ['written', start + 1]);
  const again = await admin.post('/policy/merge', { yaml: 'connectors:\n  - name: FromReport\n    type: partner\n    senderIPAddresses: [203.0.113.0/24]\n    senderDomains: [vendor.example]\n' });
  assert.equal(again.json.kind, 'unchanged');
  expectError(await admin.post('/policy/merge', { fragment: { connectors: [{ ...fragment.connectors[0], comment: 'other' }] } }), 409, 'conflict');
  // Each connector is valid alone; the onPremises bound is a rule of the policy it joins.
  const wide = { connectors: [{ name: 'WideNet', type: 'onPremises', senderIPAddresses: ['10.0.0.0/8'] }] };
  const refusedWide = await admin.post('/policy/merge', { fragment: wide });
  expectError(refusedWide, 400, 'validation_failed', 'body.fragment');
  assert.match(refusedWide.json.error.message, /wider than \/16/);

  const history = await admin.get('/policy/history?limit=3');
  expectStatus(history, 200, 'GET /policy/history');
  assert.deepEqual(history.json.map((v: { version: number }) => v.version), [start + 2, start + 1, start]);
  assert.equal(history.json[0].action, 'policy.merge');
  assert.match(history.json[0].actor, /^api:test-administrator-/);
  expectError(await admin.get('/policy/history?limit=0'), 400, 'validation_failed', 'query.limit');
  const detail = await admin.get(`/policy/history/${start + 2}`);
  expectStatus(detail, 200, 'GET /policy/history/:version');
  assert.deepEqual([detail.json.previousVersion, detail.json.diff.connectors.added], [start + 1, ['FromReport']]);
  expectError(await admin.get('/policy/history/9999'), 404, 'not_found', 'params.version');

  const rollbackPreview = await admin.post('/policy/rollback', { version: start, dryRun: true });
  assert.deepEqual([rollbackPreview.json.kind, rollbackPreview.json.diff.connectors.removed], ['dry-run', ['FromReport']]);
  const rolledBack = await admin.post('/policy/rollback', { version: start });
  assert.deepEqual([rolledBack.json.kind, rolledBack.json.version], ['written', start + 3]);
  assert.equal((await admin.get('/org')).json.rejectDirectSend, 'enforce', 'the rolled-back version is in force');
  expectError(await admin.post('/policy/rollback', { version: 9999 }), 404, 'not_found', 'body.version');

  // With replace the removal is what was asked for; a rollback brings the domain back.
  const replaced = await admin.post('/policy/import', { document: without, replace: true });
  assert.deepEqual([replaced.json.kind, replaced.json.diff.domains.removed], ['written', ['contoso.test']]);
  assert.deepEqual((await admin.get('/domains')).json, []);
  expectStatus(await admin.post('/policy/rollback', { version: start }), 200, 'rollback after replace');
  assert.deepEqual((await admin.get('/domains')).json.map((d: { domain: string }) => d.domain), ['contoso.test']);
  const [last] = await gw.store.listAudit(1);
  assert.equal(last.action, `policy.rollback:v${start}`);
});

test('roles: helpdesk and auditor read policy but cannot change it; a recipient gets none of it; sessions need CSRF to write', async () => {
  const helpdesk = recorded(await gw.tokenClient('helpdesk'));
  const auditor = recorded(await gw.tokenClient('auditor'));
  const readOnlyAdmin = recorded(await gw.tokenClient('administrator', ['read']));
  for (const reader of [helpdesk, auditor, readOnlyAdmin]) {
    for (const path of ['/org', '/domains', '/connectors', '/users', '/policy', '/policy/history']) expectStatus(await reader.get(path), 200, `GET ${path}`);
    expectStatus(await reader.post('/connectors/test', { ip: '192.0.2.1' }), 200, 'connector test is a read');
  }
  const connector = { name: 'Sneaky', type: 'onPremises', senderIPAddresses: ['198.51.100.0/24'] };
  for (const writer of [helpdesk, auditor, readOnlyAdmin]) {
    expectError(await writer.post('/connectors', connector), 403, 'forbidden');
    expectError(await writer.patch('/connectors/Sneaky', { enabled: true }), 403, 'forbidden');
    expectError(await writer.delete('/connectors/FromReport'), 403, 'forbidden');
    expectError(await writer.patch('/org', { rejectDirectSend: 'off' }), 403, 'forbidden');
    expectError(await writer.post('/domains', { domain: 'evil.test' }), 403, 'forbidden');
    expectError(await writer.post('/users', { username: 'x', password: 'long enough', addresses: ['x@contoso.test'] }), 403, 'forbidden');
    expectError(await writer.post('/policy/rollback', { version: 1 }), 403, 'forbidden');
  }
  // A forbidden request is refused before its body is read: even an invalid one is 403.
  expectError(await helpdesk.post('/connectors', { name: '' }), 403, 'forbidden');

  expectStatus(await admin.post('/users', { username: 'carol', password: 'carol password', addresses: ['carol@contoso.test'] }), 201, 'user for the recipient');
  const recipient = recorded(await gw.recipientLogin('carol', 'carol password'));
  for (const path of ['/org', '/connectors', '/users', '/policy']) expectError(await recipient.get(path), 403, 'forbidden');
  expectError(await recipient.post('/connectors', connector), 403, 'forbidden');
  expectError(await gw.client().get('/connectors'), 401, 'unauthenticated');

  const session = recorded(await gw.login('admin', gw.adminPassword));
  expectError(await session.post('/connectors', connector, { omitCsrf: true }), 403, 'csrf_failed');
  expectStatus(await session.post('/connectors', connector), 201, 'session write with CSRF');
  const [entry] = await gw.store.listAudit(1);
  assert.deepEqual([entry.action, entry.actor], ['connector.add', 'console:admin']);
  expectStatus(await session.delete('/connectors/Sneaky'), 200, 'session delete');
  assert.deepEqual((await gw.store.readPolicy()).document.connectors.map((c) => c.name), [], 'no refused write changed anything');
});

test('a connector added through the API changes the verdict of the next SMTP transaction from that IP within a second', async (t) => {
  const port = gw.inbound.port;
  assert.match(await directSendAttempt(port) ?? '', /^550 5\.7\.68 /, 'anonymous mail in our domain is refused before');

  const added = await admin.post('/connectors', { name: 'LoopbackApp', type: 'onPremises', senderIPAddresses: ['127.0.0.1/32'], treatMessagesAsInternal: true });
  expectStatus(added, 201, 'POST /connectors');
  const savedAt = performance.now();
  const { policyVersion } = (await admin.get('/org')).json as { policyVersion: number };
  // The node's own poll must pick the change up (nothing here refreshes it on its behalf).
  while (gw.livePolicy.current().version < policyVersion) {
    assert.ok(performance.now() - savedAt < 1000, `the gateway still runs version ${gw.livePolicy.current().version} one second after the API saved ${policyVersion}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  t.diagnostic(`policy version ${policyVersion} in force ${Math.round(performance.now() - savedAt)} ms after the API answered`);

  const sent = await sendOne(port, 'ceo@contoso.test', ['alice@contoso.test'], testMessage({ from: 'ceo@contoso.test', to: 'alice@contoso.test', subject: 'After the connector' }));
  assert.ok(sent.ok, sent.reply);
  const record = await gw.waitForTrace({ ip: '127.0.0.1', recipient: 'alice@contoso.test', verdict: 'accept' });
  assert.equal(record.connector, 'LoopbackApp');
  assert.equal(record.attribution, 'internal');

  expectStatus(await admin.delete('/connectors/LoopbackApp'), 200, 'DELETE');
  const { policyVersion: after } = (await admin.get('/org')).json as { policyVersion: number };
  await gw.livePolicy.waitForVersion(after);
  assert.match(await directSendAttempt(port) ?? '', /^550 5\.7\.68 /, 'refused again once the connector is gone');
});

test('the OpenAPI document served by the gateway describes every policy route from the same schemas', async () => {
  const res = await gw.client().fetch('GET', '/api/v1/openapi.json');
  expectStatus(res, 200, 'openapi.json');
  const paths = res.json.paths as Record<string, Record<string, any>>;
  for (const route of policyRoutes) {
    const operation = paths[`/api/v1${route.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`]?.[route.method];
    assert.ok(operation, `${route.method} ${route.path} is documented`);
    // Administrators write; auditors and the helpdesk read; recipients have no policy route.
    const expected = route.scope === 'write' ? ['administrator'] : ['administrator', 'auditor', 'helpdesk'];
    assert.deepEqual(operation['x-mxward-roles'], expected, `${route.method} ${route.path}`);
  }
  const addConnector = paths['/api/v1/connectors'].post.requestBody.content['application/json'].schema;
  assert.deepEqual([...addConnector.required].sort(), ['name', 'type']);
  assert.ok(addConnector.properties.senderIPAddresses, 'the connector schema of the policy file is the request schema');
  const list = paths['/api/v1/connectors'].get.responses['200'].content['application/json'].schema;
  assert.equal(list.type, 'array');
  assert.ok(list.items.properties.tlsSenderCertificateName);
});

test('every policy route was called over HTTP by the tests above', () => {
  const all = policyRoutes.map((r) => `${r.method} ${r.path}`);
  assert.deepEqual(all.filter((r) => !called.has(r)), []);
});
