// A small structural check of an OpenAPI 3.1 document (the parts mxward produces): every route
// present once, path templates matching path parameters, responses, operation ids, tags, security
// schemes, resolvable $refs and JSON Schema `type` values. Returns the problems found.
import type { ApiRoute } from '../../src/web/api-route.ts';

type Json = Record<string, any>;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const SCHEMA_TYPES = new Set(['object', 'array', 'string', 'number', 'integer', 'boolean', 'null']);

function resolvePointer(doc: Json, ref: string): unknown {
  return ref.slice(2).split('/').reduce<any>((node, part) => (node === undefined ? undefined : node[part.replace(/~1/g, '/').replace(/~0/g, '~')]), doc);
}

function walk(node: unknown, visit: (value: Json, at: string) => void, at = '#'): void {
  if (Array.isArray(node)) node.forEach((v, i) => walk(v, visit, `${at}/${i}`));
  else if (node !== null && typeof node === 'object') {
    visit(node as Json, at);
    for (const [k, v] of Object.entries(node)) walk(v, visit, `${at}/${k}`);
  }
}

function checkSchemaTypes(schema: unknown, at: string, problems: string[]): void {
  walk(schema, (value, where) => {
    const t = value.type;
    // Under `properties`, a key named `type` is a property's schema, not a type name.
    if (t === undefined || where.endsWith('/properties')) return;
    const types = Array.isArray(t) ? t : [t];
    if (types.some((x) => typeof x !== 'string' || !SCHEMA_TYPES.has(x))) problems.push(`${at}${where.slice(1)}: bad JSON Schema type ${JSON.stringify(t)}`);
  });
}

export function checkOpenApiDocument(doc: Json, routes: readonly ApiRoute[]): string[] {
  const problems: string[] = [];
  if (doc.openapi !== '3.1.0') problems.push(`openapi is ${doc.openapi}, expected 3.1.0`);
  if (typeof doc.info?.title !== 'string' || typeof doc.info?.version !== 'string') problems.push('info.title and info.version are required strings');
  if (!doc.paths || typeof doc.paths !== 'object') return [...problems, 'paths missing'];
  const schemes = doc.components?.securitySchemes ?? {};
  const tagNames = new Set((doc.tags ?? []).map((t: Json) => t.name));
  const operationIds = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
    if (!path.startsWith('/')) problems.push(`${path}: must start with /`);
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
    for (const [method, op] of Object.entries(item)) {
      const where = `${method.toUpperCase()} ${path}`;
      if (!METHODS.includes(method)) { problems.push(`${where}: unknown method`); continue; }
      if (typeof op.operationId !== 'string' || operationIds.has(op.operationId)) problems.push(`${where}: operationId missing or repeated`);
      operationIds.add(op.operationId);
      const statuses = Object.keys(op.responses ?? {});
      if (!statuses.some((s) => /^2\d\d$/.test(s))) problems.push(`${where}: no 2xx response`);
      for (const [status, response] of Object.entries(op.responses ?? {}) as Array<[string, Json]>) {
        if (!response.$ref && typeof response.description !== 'string') problems.push(`${where} ${status}: response without description`);
        for (const [type, media] of Object.entries(response.content ?? {}) as Array<[string, Json]>) checkSchemaTypes(media.schema, `${where} ${status} ${type}`, problems);
      }
      const params = (op.parameters ?? []) as Json[];
      for (const p of params) {
        if (typeof p.name !== 'string' || !['path', 'query', 'header', 'cookie'].includes(p.in) || typeof p.schema !== 'object') problems.push(`${where}: malformed parameter ${JSON.stringify(p)}`);
        if (p.in === 'path' && p.required !== true) problems.push(`${where}: path parameter ${p.name} must be required`);
        checkSchemaTypes(p.schema, `${where} parameter ${p.name}`, problems);
      }
      const pathParams = params.filter((p) => p.in === 'path').map((p) => p.name).sort();
      if (JSON.stringify(pathParams) !== JSON.stringify(templated)) problems.push(`${where}: path parameters ${pathParams} do not match the template ${templated}`);
      for (const tag of op.tags ?? []) if (!tagNames.has(tag)) problems.push(`${where}: tag ${tag} not declared`);
      for (const requirement of op.security ?? doc.security ?? []) {
        for (const name of Object.keys(requirement)) if (!schemes[name]) problems.push(`${where}: unknown security scheme ${name}`);
      }
      for (const [type, media] of Object.entries(op.requestBody?.content ?? {}) as Array<[string, Json]>) checkSchemaTypes(media.schema, `${where} body ${type}`, problems);
    }
  }
  walk(doc, (value, at) => {
    if (typeof value.$ref === 'string' && value.$ref.startsWith('#/') && resolvePointer(doc, value.$ref) === undefined) problems.push(`${at}: $ref ${value.$ref} does not resolve`);
  });
  for (const route of routes) {
    const path = `/api/v1${route.path.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, '{$1}')}`;
    if (!doc.paths[path]?.[route.method]) problems.push(`route ${route.method.toUpperCase()} ${route.path} is not in the document`);
  }
  return problems;
}
