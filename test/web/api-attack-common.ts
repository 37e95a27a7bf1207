// Shared by the api-attack*.test.ts files (issue 13, adversarial tests of the admin API): a
// gateway that holds mail by a tag in its Subject (so a test can put any policy's message into the
// quarantine through the real SMTP listener), the route list turned into concrete requests, and
// the checks every hostile answer must pass (a JSON error with a code, no stack, no machine path).
import assert from 'node:assert/strict';
import type { ApiRoute } from '../../src/web/api-route.ts';
import { sendOne, testMessage } from '../helpers/smtp-client.ts';
import { holdByTag } from '../helpers/hold-check.ts';
import { waitFor } from '../helpers/loopback.ts';
import { startWebGateway } from '../helpers/web-client.ts';
import type { ApiResponse, WebClient, WebGateway, WebGatewayOptions } from '../helpers/web-client.ts';

export { holdByTag, waitFor };

/** A gateway for contoso.test that quarantines by Subject tag, with its console on loopback. */
export function startAttackGateway(options: WebGatewayOptions = {}): Promise<WebGateway> {
  const { config, ...rest } = options;
  return startWebGateway({
    ...rest,
    config: { quarantine: { pollMs: 100, policies: { foreignSpoof: 'DefaultLimitedAccessPolicy' } }, delivery: { rescanSeconds: 0.1 }, ...config },
    endOfDataChecks: [holdByTag],
    policy: (doc) => ({ ...doc, rejectDirectSend: 'off', rejectDirectSendHeaderFrom: 'off', acceptedDomains: [{ domain: 'contoso.test', includeSubdomains: false, recipients: [] }] }),
  });
}


/** Sends one message through the real listener and returns the quarantine id its trace record names. */
export async function hold(gw: WebGateway, tag: string, to: string[], extra: { subject?: string; from?: string; headers?: string[]; body?: string } = {}): Promise<string> {
  const subject = `${tag} ${extra.subject ?? `held ${Math.random().toString(36).slice(2)}`}`;
  const sent = await sendOne(gw.inbound.port, 'sender@fabrikam.test', to,
    testMessage({ from: extra.from ?? 'Sender <sender@fabrikam.test>', to: to[0], subject, headers: extra.headers, body: extra.body }));
  assert.match(sent.reply, /^250/, sent.reply);
  const record = await waitFor(`trace record of ${subject}`, async () => (await gw.store.queryTrace({ verdict: 'quarantine', limit: 200 })).find((r) => r.subject === subject));
  assert.ok(record.quarantineId, `no quarantine id for ${subject}`);
  return record.quarantineId;
}

/** A value for each path parameter the routes use; the checks under test run before the parameters are read. */
const PARAM_VALUES: Record<string, string> = {
  id: 'abcdef012345', name: 'no-such-connector', domain: 'no-such.example', username: 'no-such-user',
  version: '1', transactionId: 'no-such-transaction',
};

/** `/connectors/:name` → `/connectors/no-such-connector`. */
export function concretePath(route: ApiRoute): string {
  return route.path.replace(/:([A-Za-z]+)/g, (_m, name: string) => {
    const value = PARAM_VALUES[name];
    if (value === undefined) throw new Error(`no test value for :${name} in ${route.path}; add one to PARAM_VALUES`);
    return encodeURIComponent(value);
  });
}

export function routeLabel(route: ApiRoute): string {
  return `${route.method.toUpperCase()} ${route.path}`;
}

/** Calls a route with no body (or an empty JSON object where one is needed to pass the content-type check). */
export function callRoute(client: WebClient, route: ApiRoute, options: { omitCsrf?: boolean } = {}): Promise<ApiResponse> {
  return client.api(route.method.toUpperCase(), concretePath(route), { omitCsrf: options.omitCsrf });
}

/** What every refusal must look like: the status, a stable code, and nothing of the server's insides. */
export function expectError(res: ApiResponse, status: number, code: string, what = ''): void {
  assert.equal(res.status, status, `${what} ${res.status} ${res.text}`);
  assert.equal(res.json?.error?.code, code, `${what} ${res.text}`);
  assertNoInternals(res, what);
}

/** No stack trace, no source path, no data directory in an answer. */
export function assertNoInternals(res: ApiResponse, what = ''): void {
  assert.doesNotMatch(res.text, /\n\s+at |\bat .*\.ts:\d+|\/src\/|\/work\/|\/tmp\/|node_modules|mxward-test-/, `${what}: internals in ${res.text.slice(0, 300)}`);
}
