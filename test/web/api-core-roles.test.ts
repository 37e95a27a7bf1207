// The role and scope matrix of the whole route list (issue 13), over HTTP against a running
// gateway: every route refuses every role it does not list with 403 forbidden before it reads the
// request, and every write route refuses a read-scope token. The allowed side of each route is
// tested with its behaviour in the route owners' tests.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ROLES } from '../../src/web/api-route.ts';
import type { ApiRoute, Role } from '../../src/web/api-route.ts';
import { apiRoutes } from '../../src/web/routes/index.ts';
import { startWebGateway } from '../helpers/web-client.ts';
import type { WebClient, WebGateway } from '../helpers/web-client.ts';

/** A concrete path for a route pattern: every parameter `1` (the request is refused before it is read). */
function concretePath(route: ApiRoute): string {
  return route.path.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, '1');
}

let gateway: WebGateway;
const clients = new Map<Role, WebClient>();
let readAdmin: WebClient;

before(async () => {
  gateway = await startWebGateway();
  clients.set('administrator', await gateway.tokenClient('administrator'));
  clients.set('helpdesk', await gateway.tokenClient('helpdesk'));
  clients.set('auditor', await gateway.tokenClient('auditor'));
  clients.set('recipient', await gateway.recipientLinkLogin('someone@example.test'));
  readAdmin = await gateway.tokenClient('administrator', ['read']);
});
after(async () => { await gateway?.close(); });

test('every route refuses the roles it does not list', async () => {
  const checked: string[] = [];
  for (const route of apiRoutes) {
    if (route.auth === 'none') continue;
    for (const role of ROLES) {
      if (route.roles.includes(role)) continue;
      const res = await clients.get(role)!.api(route.method.toUpperCase(), concretePath(route), route.body ? { body: {} } : {});
      assert.deepEqual([res.status, res.json?.error?.code], [403, 'forbidden'], `${role} on ${route.method.toUpperCase()} ${route.path}`);
      checked.push(`${role} ${route.method} ${route.path}`);
    }
  }
  assert.ok(checked.length > 20, `refusals checked: ${checked.length}`);
});

test('every write route refuses a read-scope token', async () => {
  for (const route of apiRoutes) {
    if (route.auth === 'none' || route.scope !== 'write' || !route.roles.includes('administrator')) continue;
    const res = await readAdmin.api(route.method.toUpperCase(), concretePath(route), route.body ? { body: {} } : {});
    assert.deepEqual([res.status, res.json?.error?.code], [403, 'forbidden'], `${route.method.toUpperCase()} ${route.path}`);
  }
});

test('routes are consistent: roles known, GET routes read only', () => {
  const problems: string[] = [];
  for (const route of apiRoutes) {
    const where = `${route.method.toUpperCase()} ${route.path}`;
    if (route.roles.length === 0) problems.push(`${where}: no role may call it`);
    for (const role of route.roles) if (!ROLES.includes(role)) problems.push(`${where}: unknown role ${role}`);
    if (route.method === 'get' && route.scope !== 'read') problems.push(`${where}: a GET must not change anything`);
  }
  assert.deepEqual(problems, []);
});
