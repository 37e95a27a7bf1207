// The admin API and web console listener (issue 13): a Hono app on Node's HTTP or HTTPS server
// through @hono/node-server (the maintained adapter, rather than a hand-written one). It serves
// every route of routes/index.ts under /api/v1, the OpenAPI document built from the same list,
// and the console's static files; every response carries a strict Content-Security-Policy.
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono } from 'hono';
import type { Context } from 'hono';
import type { ApiDeps, ApiRoute } from './api-route.ts';
import { responseValidationOf, routeHandler } from './api-handler.ts';
import { sendError } from './http-errors.ts';
import { API_PREFIX, buildOpenApiDocument } from './openapi.ts';
import { ConsoleFiles } from './static-files.ts';

/** Self only, no inline script or style, no framing: the console is ES modules from this origin. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "font-src 'self'",
  "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
].join('; ');

export interface WebAppOptions {
  routes: readonly ApiRoute[];
  deps: ApiDeps;
  /** Where the console's files are (default src/web/console/). */
  consoleDir?: string;
  /** Default 1 MiB for JSON bodies. */
  maxBodyBytes?: number;
  version?: string;
  /**
   * Answer only requests whose Host is a loopback name (localhost, 127.x, [::1]): for a plain-HTTP
   * console on loopback, where a web page that rebinds its own DNS name to 127.0.0.1 would
   * otherwise reach the console from the victim's browser (DNS rebinding). Over TLS the
   * certificate check stops that already.
   */
  loopbackHostOnly?: boolean;
}

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

function clientIpOf(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Static paths first: Hono answers with the first registered handler that matches, so
 * `/quarantine/requests` must come before `/quarantine/:id`.
 */
function registrationOrder(routes: readonly ApiRoute[]): ApiRoute[] {
  const params = (r: ApiRoute) => r.path.split('/').filter((s) => s.startsWith(':')).length;
  return [...routes].sort((a, b) => params(a) - params(b));
}

/** `localhost:9726`, `127.0.0.1`, `[::1]:9726` → true; any other name → false. */
export function isLoopbackHostHeader(host: string | undefined): boolean {
  if (!host) return false;
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0];
  return name.toLowerCase() === 'localhost' || name === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

export function createWebApp(options: WebAppOptions): Hono {
  const { deps } = options;
  const app = new Hono();
  const files = new ConsoleFiles(options.consoleDir);
  const settings = { deps, maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES, clientIp: clientIpOf, validateResponses: responseValidationOf() };
  let openApi: string | null = null;

  app.use('*', async (c, next) => {
    const startedMs = performance.now();
    await next();
    c.header('content-security-policy', CONTENT_SECURITY_POLICY);
    c.header('x-content-type-options', 'nosniff');
    c.header('referrer-policy', 'no-referrer');
    c.header('x-frame-options', 'DENY');
    if (c.req.path.startsWith(`${API_PREFIX}/`)) {
      c.header('cache-control', 'no-store');
      if (c.res.status === 401) c.header('www-authenticate', 'Bearer realm="mxward"');
      // Changes are in the audit log; this is for tracing a client's requests (debug level).
      deps.logger.debug({ stage: 'api', event: 'request', method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(performance.now() - startedMs) }, 'API request');
    }
  });

  if (options.loopbackHostOnly) {
    app.use('*', async (c, next) => {
      if (!isLoopbackHostHeader(c.req.header('host'))) {
        return sendError(c, 421, 'misdirected_request', 'this console answers only to localhost, 127.0.0.1 or [::1]');
      }
      await next();
    });
  }

  app.get(`${API_PREFIX}/openapi.json`, (c) => {
    openApi ??= JSON.stringify(buildOpenApiDocument(options.routes, options.version ?? '0'));
    return c.body(openApi, 200, { 'content-type': 'application/json' });
  });
  for (const route of registrationOrder(options.routes)) {
    app.on(route.method.toUpperCase(), `${API_PREFIX}${route.path}`, routeHandler(route, settings));
  }
  app.all(`${API_PREFIX}/*`, (c) => sendError(c, 404, 'not_found', `no API route ${c.req.method} ${c.req.path}; see ${API_PREFIX}/openapi.json`));

  app.get('/', (c) => c.redirect('/console/', 302));
  app.get('/console', (c) => c.redirect('/console/', 301));
  app.get('/console/*', async (c) => {
    const relative = c.req.path.slice('/console/'.length);
    const file = await files.read(relative);
    if (!file) return c.text('not found\n', 404);
    return c.body(new Uint8Array(file.body), 200, { 'content-type': file.contentType, 'cache-control': 'no-cache' });
  });
  app.notFound((c) => c.text('not found\n', 404));
  app.onError((err, c) => {
    deps.logger.error({ stage: 'api', event: 'internal_error', err }, 'web request failed');
    return sendError(c, 500, 'internal', 'internal error; see the gateway log');
  });
  return app;
}

export interface WebServerOptions extends WebAppOptions {
  host: string;
  port: number;
  /** PEM key and certificate (the gateway's, smtp/tls-material.ts); absent = plain HTTP. */
  tls?: { key: string; cert: string } | null;
}

export interface WebServer {
  address: AddressInfo;
  /** `http(s)://host:port` as a client reaches it. */
  url: string;
  close(): Promise<void>;
}

export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  // Plain HTTP is only allowed on loopback (bootstrap check), and then only for loopback names.
  const app = createWebApp({ ...options, loopbackHostOnly: options.loopbackHostOnly ?? !options.tls });
  const server = (options.tls
    ? createAdaptorServer({ fetch: app.fetch, overrideGlobalObjects: false, createServer: createHttpsServer, serverOptions: { key: options.tls.key, cert: options.tls.cert } })
    : createAdaptorServer({ fetch: app.fetch, overrideGlobalObjects: false })) as Server;
  // Slow clients must not hold sockets for ever: bounded header and request times.
  server.headersTimeout = 20_000;
  server.requestTimeout = 120_000;
  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(options.port, options.host, () => { server.off('error', rejectListen); resolveListen(); });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    address,
    url: `${options.tls ? 'https' : 'http'}://${host}:${address.port}`,
    close: () => new Promise<void>((resolveClose) => {
      server.closeAllConnections();
      server.close(() => resolveClose());
    }),
  };
}
