// The OpenAPI document names the 503 answers (issue 13): `busy` from the worker pool's
// back-pressure with its Retry-After header, on every operation, so a client generated from the
// document knows to come back rather than treat it as a failure.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildOpenApiDocument } from '../../src/web/openapi.ts';
import { apiRoutes } from '../../src/web/routes/index.ts';

test('every operation lists 503 with the Unavailable answer, which documents busy and Retry-After', () => {
  const doc = buildOpenApiDocument(apiRoutes, 'test') as any;
  const operations = Object.values(doc.paths as Record<string, Record<string, any>>).flatMap((p) => Object.values(p));
  assert.ok(operations.length > 20, `only ${operations.length} operations`);
  for (const op of operations) assert.deepEqual(op.responses['503'], { $ref: '#/components/responses/Unavailable' }, op.operationId);
  const unavailable = doc.components.responses.Unavailable;
  assert.match(unavailable.description, /`busy`/);
  assert.equal(unavailable.headers['Retry-After'].schema.type, 'integer');
  assert.equal(unavailable.content['application/json'].schema.$ref, '#/components/schemas/Error');
});
