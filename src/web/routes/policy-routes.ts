// The policy API (issue 13): org switches, accepted domains, connectors and `connector test`,
// submission users, and the whole policy (export, import, merge, history, rollback). Each route
// calls the same service as its CLI command. Administrators write; auditors and the helpdesk
// read (the helpdesk handles mail, so it cannot change connectors or anything else here).
import { ConfigError } from '../../config/errors.ts';
import { policySchema } from '../../config/policy-schema.ts';
import { parseYamlWithSchema } from '../../config/yaml-source.ts';
import {
  exportPolicy, importPolicyDocument, mergePolicyFragment, policyFragmentSchema, policyHistory, policyVersionDetail, rollbackPolicy,
} from '../../services/policy-document.ts';
import type { PolicyChangeResult } from '../../services/policy-document.ts';
import {
  addConnector, addDomain, getConnector, listConnectors, listDomains, readOrg, removeConnector, removeDomain, setOrg,
  testConnector, updateConnector,
} from '../../services/policy-edits.ts';
import { ServiceError } from '../../services/service-error.ts';
import { listUsers, prepareUser, removeUser, saveUser, setUserPassword } from '../../services/users.ts';
import type { ApiRoute, Role } from '../api-route.ts';
import { ApiError, defineRoute } from '../api-route.ts';
import * as s from './policy-schemas.ts';

const WRITERS: readonly Role[] = ['administrator'];
const READERS: readonly Role[] = ['administrator', 'auditor', 'helpdesk'];

const STATUS_OF: Record<ServiceError['code'], number> = { not_found: 404, conflict: 409, validation_failed: 400 };

interface PathRules {
  /**
   * Route parameters a service may name (`name`, `domain`): answered as `params.<name>` when the
   * thing is not found, or when the route has no body (then the field can only be the parameter).
   */
  params?: readonly string[];
  bodyless?: boolean;
  /**
   * A single edit validates the whole policy, so its paths start at the document
   * (`connectors[3].senderIPAddresses[0]`); the caller sent one item, so name the field in it.
   */
  item?: boolean;
  /**
   * Where a ConfigError points: the YAML sent (its message names line and field), or the
   * fragment whose addition breaks a rule of the whole policy (the onPremises range bound).
   */
  configPath?: string;
}

/** A service's field path as the API names it, like the server's own validation: `body.…` or `params.…`. */
function requestPath(err: ServiceError, rules: PathRules): string | undefined {
  if (err.path === undefined) return undefined;
  const field = rules.item ? err.path.replace(/^(connectors|acceptedDomains)\[\d+\]\.?/, '') || err.path : err.path;
  if (rules.params?.includes(field) && (err.code === 'not_found' || rules.bodyless)) return `params.${field}`;
  return `body${field.startsWith('[') ? '' : '.'}${field}`;
}

/** Expected failures of a service become the API's JSON errors with code and field path. */
async function answer<T>(work: () => Promise<T>, rules: PathRules = {}): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof ServiceError) throw new ApiError(STATUS_OF[err.code], err.code, err.message, requestPath(err, rules));
    if (err instanceof ConfigError) throw new ApiError(400, 'validation_failed', err.message, rules.configPath ?? 'body');
    // The yaml library refuses an alias bomb (a few lines that expand to millions of nodes) with
    // a ReferenceError while building the value: the request's fault, not the server's.
    if (err instanceof ReferenceError && /alias/i.test(err.message)) {
      throw new ApiError(400, 'validation_failed', `${rules.configPath ?? 'body'}: ${err.message}`, rules.configPath ?? 'body');
    }
    throw err;
  }
}

/** A refused import or merge is a conflict; the dry run of the same request shows the diff. */
function changed(result: PolicyChangeResult) {
  if (result.kind === 'refused') throw new ApiError(409, 'conflict', result.reason);
  return result;
}

const orgRoutes = [
  defineRoute({
    method: 'get', path: '/org', tag: 'policy', summary: 'Organization switches and the policy version',
    roles: READERS, scope: 'read', response: s.orgView,
    handler: ({ deps }) => readOrg(deps.store),
  }),
  defineRoute({
    method: 'patch', path: '/org', tag: 'policy', summary: 'Change organization switches (the others stay)',
    roles: WRITERS, scope: 'write', body: s.orgPatchSchema, response: s.orgView,
    handler: ({ deps, body, actor }) => answer(() => setOrg(deps.store, body, actor)),
  }),
];

const domainRoutes = [
  defineRoute({
    method: 'get', path: '/domains', tag: 'policy', summary: 'Accepted domains',
    roles: READERS, scope: 'read', response: s.domainView.array(),
    handler: ({ deps }) => listDomains(deps.store),
  }),
  defineRoute({
    method: 'post', path: '/domains', tag: 'policy', summary: 'Add an accepted domain',
    roles: WRITERS, scope: 'write', status: 201, body: s.domainBodySchema, response: s.domainView,
    handler: ({ deps, body, actor }) => answer(() => addDomain(deps.store, body, actor), { item: true }),
  }),
  defineRoute({
    method: 'delete', path: '/domains/:domain', tag: 'policy', summary: 'Remove an accepted domain',
    roles: WRITERS, scope: 'write', params: s.domainParams, response: s.removedView,
    handler: async ({ deps, params, actor }) => ({ removed: await answer(() => removeDomain(deps.store, params.domain, actor), { params: ['domain'], bodyless: true }) }),
  }),
];

const connectorRoutes = [
  defineRoute({
    method: 'get', path: '/connectors', tag: 'policy', summary: 'Inbound connectors',
    roles: READERS, scope: 'read', response: s.connectorView.array(),
    handler: ({ deps }) => listConnectors(deps.store),
  }),
  defineRoute({
    method: 'post', path: '/connectors', tag: 'policy', summary: 'Add an inbound connector',
    roles: WRITERS, scope: 'write', status: 201, body: s.connectorBodySchema, response: s.connectorView,
    handler: ({ deps, body, actor }) => answer(() => addConnector(deps.store, body, actor), { item: true }),
  }),
  // Before /connectors/:name, so `test` is never read as a connector name.
  defineRoute({
    method: 'post', path: '/connectors/test', tag: 'policy', summary: 'Which connector a source would match, and why (changes nothing)',
    roles: READERS, scope: 'read', body: s.connectorProbeSchema, response: s.connectorTestView,
    handler: ({ deps, body }) => answer(() => testConnector(deps.store, body)),
  }),
  defineRoute({
    method: 'get', path: '/connectors/:name', tag: 'policy', summary: 'One inbound connector',
    roles: READERS, scope: 'read', params: s.nameParams, response: s.connectorView,
    handler: ({ deps, params }) => answer(() => getConnector(deps.store, params.name), { params: ['name'], bodyless: true }),
  }),
  defineRoute({
    method: 'patch', path: '/connectors/:name', tag: 'policy', summary: 'Change connector settings (a list given replaces that list)',
    roles: WRITERS, scope: 'write', params: s.nameParams, body: s.connectorPatchSchema, response: s.connectorView,
    handler: ({ deps, params, body, actor }) => answer(() => updateConnector(deps.store, params.name, body, actor), { item: true, params: ['name'] }),
  }),
  defineRoute({
    method: 'delete', path: '/connectors/:name', tag: 'policy', summary: 'Remove an inbound connector',
    roles: WRITERS, scope: 'write', params: s.nameParams, response: s.removedView,
    handler: async ({ deps, params, actor }) => {
      await answer(() => removeConnector(deps.store, params.name, actor), { params: ['name'], bodyless: true });
      return { removed: params.name };
    },
  }),
];

const userRoutes = [
  defineRoute({
    method: 'get', path: '/users', tag: 'policy', summary: 'Submission users (SMTP AUTH)',
    roles: READERS, scope: 'read', response: s.userView.array(),
    handler: ({ deps }) => listUsers(deps.store),
  }),
  defineRoute({
    method: 'post', path: '/users', tag: 'policy', summary: 'Add a submission user',
    roles: WRITERS, scope: 'write', status: 201, body: s.newUserSchema, response: s.userView,
    handler: ({ deps, body, actor }) => answer(async () => saveUser(deps.store, await prepareUser(body), actor, { replace: false })),
  }),
  defineRoute({
    method: 'delete', path: '/users/:username', tag: 'policy', summary: 'Remove a submission user',
    roles: WRITERS, scope: 'write', params: s.usernameParams, response: s.removedView,
    handler: async ({ deps, params, actor }) => {
      await answer(() => removeUser(deps.store, params.username, actor), { params: ['username'], bodyless: true });
      return { removed: params.username };
    },
  }),
  defineRoute({
    method: 'put', path: '/users/:username/password', tag: 'policy', summary: 'Set a submission user\'s password',
    roles: WRITERS, scope: 'write', params: s.usernameParams, body: s.passwordBodySchema, response: s.doneView,
    handler: async ({ deps, params, body, actor }) => {
      await answer(() => setUserPassword(deps.store, params.username, body.password, actor), { params: ['username'] });
      return { ok: true as const };
    },
  }),
];

const documentRoutes = [
  defineRoute({
    method: 'get', path: '/policy', tag: 'policy', summary: 'Export the whole policy (JSON and the YAML of mxward policy export)',
    roles: READERS, scope: 'read', response: s.policyExportView,
    handler: ({ deps }) => exportPolicy(deps.store),
  }),
  defineRoute({
    method: 'post', path: '/policy/import', tag: 'policy', summary: 'Replace the policy; removals only with replace; dryRun shows the diff',
    roles: WRITERS, scope: 'write', body: s.importBodySchema, response: s.changeResultView,
    handler: ({ deps, body, actor }) => answer(async () => {
      const next = body.document ?? parseYamlWithSchema(body.yaml ?? '', policySchema, 'yaml');
      return changed(await importPolicyDocument(deps.store, next, { actor, dryRun: body.dryRun, replace: body.replace }));
    }, { configPath: body.yaml === undefined ? 'body.document' : 'body.yaml' }),
  }),
  defineRoute({
    method: 'post', path: '/policy/merge', tag: 'policy', summary: 'Add connectors and accepted domains; never changes or removes; dryRun shows the diff',
    roles: WRITERS, scope: 'write', body: s.mergeBodySchema, response: s.changeResultView,
    handler: ({ deps, body, actor }) => answer(async () => {
      const fragment = body.fragment ?? parseYamlWithSchema(body.yaml ?? '', policyFragmentSchema, 'yaml');
      return changed(await mergePolicyFragment(deps.store, fragment, { actor, dryRun: body.dryRun }));
    }, { configPath: body.yaml === undefined ? 'body.fragment' : 'body.yaml' }),
  }),
  defineRoute({
    method: 'get', path: '/policy/history', tag: 'policy', summary: 'Policy versions from the audit log, newest first',
    roles: READERS, scope: 'read', query: s.historyQuerySchema, response: s.historyItemView.array(),
    handler: async ({ deps, query }) => (await policyHistory(deps.store, query.limit)).map((v) => ({
      version: v.version, time: v.time, actor: v.actor, action: v.action,
      acceptedDomains: v.document.acceptedDomains.length, connectors: v.document.connectors.length,
    })),
  }),
  defineRoute({
    method: 'get', path: '/policy/history/:version', tag: 'policy', summary: 'One policy version with its diff against the version before',
    roles: READERS, scope: 'read', params: s.versionParams, response: s.versionDetailView,
    handler: async ({ deps, params }) => {
      const detail = await policyVersionDetail(deps.store, params.version);
      if (!detail) throw new ApiError(404, 'not_found', `no policy version ${params.version} in the audit log`, 'params.version');
      return detail;
    },
  }),
  defineRoute({
    method: 'post', path: '/policy/rollback', tag: 'policy', summary: 'Write an earlier version again as the newest (audited); dryRun shows the diff',
    roles: WRITERS, scope: 'write', body: s.rollbackBodySchema, response: s.changeResultView,
    handler: async ({ deps, body, actor }) => {
      const result = await rollbackPolicy(deps.store, body.version, { actor, dryRun: body.dryRun });
      if (result.kind === 'unknown-version') throw new ApiError(404, 'not_found', result.reason, 'body.version');
      return changed(result);
    },
  }),
];

export const policyRoutes: ApiRoute[] = [...orgRoutes, ...domainRoutes, ...connectorRoutes, ...userRoutes, ...documentRoutes];
