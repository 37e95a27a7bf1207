// The OpenAPI 3.1 document, built from the route list (routes/index.ts) with zod v4's own JSON
// Schema output, so what the document promises is what the server validates. OpenAPI 3.1 uses
// JSON Schema 2020-12 unchanged; `io: 'input'` describes what a client may send (defaults
// optional), `io: 'output'` what the server answers.
import { z } from 'zod';
import type { ApiRoute } from './api-route.ts';

export const API_PREFIX = '/api/v1';
/**
 * `__Host-`: the browser keeps it only if Secure, Path=/ and without Domain, so a page on another
 * port of the same host (cookies are not kept apart by port) cannot plant a narrower-Path cookie
 * of this name to shadow the session. Chromium treats plain-HTTP loopback (127.0.0.1, localhost,
 * [::1]) as secure for this, so the loopback console keeps the same name (docs/console.md).
 */
export const SESSION_COOKIE = '__Host-mxward_session';
export const CSRF_HEADER = 'x-csrf-token';

type JsonSchema = Record<string, unknown>;

function schemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const out = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  delete out.$schema;
  return out;
}

/** `/connectors/:name` → `/connectors/{name}` */
export function openApiPath(path: string): string {
  return `${API_PREFIX}${path.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, '{$1}')}`;
}

/** Path and query parameters from an object schema's properties. */
function parametersOf(schema: z.ZodType | undefined, where: 'path' | 'query'): JsonSchema[] {
  if (!schema) return [];
  const json = schemaOf(schema, 'input');
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name, in: where, required: where === 'path' || required.has(name), schema: rest,
      ...(typeof description === 'string' ? { description } : {}),
    };
  });
}

const errorSchema: JsonSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, path: { type: 'string' } },
    },
  },
};

function operationOf(route: ApiRoute): JsonSchema {
  const status = String(route.status ?? 200);
  const responseBody = route.status === 204 ? {} : {
    content: { [route.responseContentType ?? 'application/json']: { schema: route.responseContentType ? { type: 'string' } : schemaOf(route.response, 'output') } },
  };
  const errors = ['400', '401', '403', '404', '409', '413', '429', '500'];
  const operation: JsonSchema = {
    operationId: `${route.method}${route.path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, ch: string | undefined) => (ch ? ch.toUpperCase() : ''))}`,
    summary: route.summary,
    tags: [route.tag],
    parameters: [...parametersOf(route.params, 'path'), ...parametersOf(route.query, 'query')],
    responses: {
      [status]: { description: route.summary, ...responseBody },
      ...Object.fromEntries(errors.map((code) => [code, { $ref: '#/components/responses/Error' }])),
      '503': { $ref: '#/components/responses/Unavailable' },
    },
    security: route.auth === 'none' ? [] : [{ bearerToken: [] }, { sessionCookie: [] }],
    'x-mxward-roles': [...route.roles],
    'x-mxward-scope': route.scope,
  };
  if (route.body) {
    operation.requestBody = { required: true, content: { 'application/json': { schema: schemaOf(route.body, 'input') } } };
  } else if (route.rawBody) {
    operation.requestBody = {
      required: true,
      content: Object.fromEntries(route.rawBody.contentTypes.map((t) => [t, { schema: { type: 'string', contentMediaType: t, maxLength: route.rawBody!.maxBytes } }])),
    };
  }
  return operation;
}

export function buildOpenApiDocument(routes: readonly ApiRoute[], version: string): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    paths[path] ??= {};
    paths[path][route.method] = operationOf(route);
  }
  const tags = [...new Set(routes.map((r) => r.tag))].sort().map((name) => ({ name }));
  return {
    openapi: '3.1.0',
    info: {
      title: 'mxward admin API',
      version,
      description: 'Policy, message trace, quarantine, queue, reports and audit of an mxward gateway. ' +
        'Write routes need the write scope and, with a session cookie, the CSRF token in the x-csrf-token header.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    servers: [{ url: '/' }],
    tags,
    paths,
    components: {
      securitySchemes: {
        bearerToken: { type: 'http', scheme: 'bearer', description: 'An API token (`mxward console token create`), sent as Authorization: Bearer mxw_…' },
        sessionCookie: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'A console session from POST /api/v1/session; write routes also need the x-csrf-token header.' },
      },
      schemas: { Error: errorSchema },
      responses: {
        Error: { description: 'An error with a stable code', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
        Unavailable: {
          description: 'Not now: `busy` when the console\'s worker pool already has as many requests waiting as it takes ' +
            '(come back after Retry-After seconds; the request did nothing), `unavailable` when this node does not run ' +
            'the part asked for, `node_unavailable` when the node holding a queued message did not answer.',
          headers: { 'Retry-After': { description: 'seconds to wait before asking again (with `busy`)', schema: { type: 'integer', minimum: 1 } } },
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      },
    },
  };
}
