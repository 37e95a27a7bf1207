// A gateway with its admin API and console on 127.0.0.1:0, and HTTP clients for it (issue 13):
// signed in with a session (cookie + CSRF token), with an API token, or anonymous. Requests go
// through node:http/https so a test can trust the gateway's self-signed certificate and send
// exactly the bytes it wants (an oversized body, a wrong content type).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import type { IdentityService, Scope } from '../../src/services/identities.ts';
import type { IdentityRole } from '../../src/store/ports.ts';
import { SESSION_COOKIE } from '../../src/web/openapi.ts';
import { startTestGateway } from './gateway.ts';
import type { TestGateway, TestGatewayOptions } from './gateway.ts';

// Every answer of a gateway under test is checked against its route's schema, a worker's JSON
// text too (production skips that one check: docs/console.md). Set before any gateway starts,
// and inherited by the `mxward serve` processes the tests spawn.
process.env.MXWARD_VALIDATE_RESPONSES ??= 'all';

export interface ApiResponse<T = any> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: T;
}

export interface RequestOptions {
  /** Sent as JSON (content-type application/json) unless `raw` is given. */
  body?: unknown;
  /** Sent as is, with `contentType`. */
  raw?: Buffer | string;
  contentType?: string;
  headers?: Record<string, string>;
  /** For session clients: leave out the x-csrf-token header (default: sent on every request). */
  omitCsrf?: boolean;
}

export type ClientAuth = { kind: 'anonymous' } | { kind: 'token'; token: string } | { kind: 'session'; cookie: string; csrfToken: string };

export class WebClient {
  readonly baseUrl: string;
  readonly auth: ClientAuth;
  readonly #ca: string | undefined;

  constructor(baseUrl: string, auth: ClientAuth = { kind: 'anonymous' }, ca?: string) {
    this.baseUrl = baseUrl;
    this.auth = auth;
    this.#ca = ca;
  }

  /** The same server, other credentials. */
  with(auth: ClientAuth): WebClient {
    return new WebClient(this.baseUrl, auth, this.#ca);
  }

  /** A request to a path under /api/v1 (`/connectors`). */
  api<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    return this.fetch<T>(method, `/api/v1${path}`, options);
  }

  get<T = any>(path: string, options?: RequestOptions) { return this.api<T>('GET', path, options); }
  post<T = any>(path: string, body?: unknown, options?: RequestOptions) { return this.api<T>('POST', path, { ...options, body }); }
  put<T = any>(path: string, body?: unknown, options?: RequestOptions) { return this.api<T>('PUT', path, { ...options, body }); }
  patch<T = any>(path: string, body?: unknown, options?: RequestOptions) { return this.api<T>('PATCH', path, { ...options, body }); }
  delete<T = any>(path: string, options?: RequestOptions) { return this.api<T>('DELETE', path, options); }

  /** Any path from the server's root (`/console/`, `/api/v1/openapi.json`). */
  fetch<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const url = new URL(path, this.baseUrl);
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    let payload: Buffer | undefined;
    if (options.raw !== undefined) {
      payload = Buffer.from(options.raw);
      headers['content-type'] = options.contentType ?? 'application/octet-stream';
    } else if (options.body !== undefined) {
      payload = Buffer.from(JSON.stringify(options.body));
      headers['content-type'] = options.contentType ?? 'application/json';
    }
    if (payload) headers['content-length'] = String(payload.length);
    if (this.auth.kind === 'token') headers.authorization = `Bearer ${this.auth.token}`;
    if (this.auth.kind === 'session') {
      headers.cookie = this.auth.cookie;
      if (!options.omitCsrf) headers['x-csrf-token'] = this.auth.csrfToken;
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolveResponse, rejectResponse) => {
      const req = send(url, {
        method, headers, ...(url.protocol === 'https:' ? { ca: this.#ca, servername: 'localhost' } : {}),
      }, (res) => readApiResponse(res).then(resolveResponse, rejectResponse));
      req.on('error', rejectResponse);
      req.end(payload);
    });
  }
}

/** `name=value` of a Set-Cookie header, for sending it back. */
export function cookiePair(setCookie: string | string[] | undefined, name = SESSION_COOKIE): string | null {
  const all = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [];
  const found = all.find((c) => c.startsWith(`${name}=`));
  return found ? found.split(';')[0] : null;
}

export interface WebGateway extends TestGateway {
  /** `http(s)://127.0.0.1:PORT` */
  url: string;
  identities: IdentityService;
  /**
   * The first administrator's password (from the data directory's initial password file); empty
   * on a node that found the account already made (a second node on the same PostgreSQL).
   */
  adminPassword: string;
  /** An anonymous client. */
  client(): WebClient;
  /** Signs in (POST /session) and returns a session client; throws unless 201. */
  login(username: string, password: string): Promise<WebClient>;
  /** Signed in as the initial `admin`. */
  adminClient(): Promise<WebClient>;
  /** A console account created directly through the identity service; returns its password. */
  addAccount(username: string, role: Exclude<IdentityRole, 'recipient'>): Promise<string>;
  /** A client with a fresh API token (created through the service; write scope unless said). */
  tokenClient(role: Exclude<IdentityRole, 'recipient'>, scopes?: Scope[], expiresAt?: string | null): Promise<WebClient & { auth: { kind: 'token'; token: string } }>;
  /** Signs in a submission user as a recipient (POST /recipient-session); throws unless 201. */
  recipientLogin(username: string, password: string): Promise<WebClient>;
  /** Signs in with a signed link for the address, as the digest link would. */
  recipientLinkLogin(address: string): Promise<WebClient>;
}

export interface WebGatewayOptions extends TestGatewayOptions {
  /** Serve HTTPS with the gateway's self-signed certificate (default false: plain HTTP on loopback). */
  tls?: boolean;
  /** Overrides of the bootstrap `console` section (default: no delay after a failed sign-in). */
  console?: Record<string, unknown>;
}

async function signIn(client: WebClient, path: string, body: unknown): Promise<WebClient> {
  const res = await client.post(path, body);
  if (res.status !== 201) throw new Error(`${path}: ${res.status} ${res.text}`);
  const cookie = cookiePair(res.headers['set-cookie']);
  if (!cookie) throw new Error(`${path}: no session cookie`);
  return client.with({ kind: 'session', cookie, csrfToken: res.json.csrfToken });
}

export async function startWebGateway(options: WebGatewayOptions = {}): Promise<WebGateway> {
  const { tls = false, console: consoleOverrides, config, ...rest } = options;
  const gateway = await startTestGateway({
    ...rest,
    config: { ...config, console: { host: '127.0.0.1', port: 0, tls, loginFailureDelayMs: 0, ...consoleOverrides } },
  });
  try {
    const running = gateway.console;
    if (!running) throw new Error('the console did not start');
    const ca = tls ? await readFile(join(gateway.dataDir, 'tls', 'self-signed.crt'), 'utf8') : undefined;
    const adminPassword = (await readFile(join(gateway.dataDir, 'console-initial-password'), 'utf8').catch(() => '')).trim();
    const url = running.server.url;
    const anonymous = () => new WebClient(url, { kind: 'anonymous' }, ca);
    const identities = running.identities;
    let accounts = 0;
    return {
      ...gateway, url, identities, adminPassword,
      client: anonymous,
      login: (username, password) => signIn(anonymous(), '/session', { username, password }),
      adminClient: () => signIn(anonymous(), '/session', { username: 'admin', password: adminPassword }),
      async addAccount(username, role) {
        const password = `test-password-${++accounts}-${Math.random().toString(36).slice(2)}`;
        await identities.addAccount(username, role, password, 'test');
        return password;
      },
      async tokenClient(role, scopes = role === 'auditor' ? ['read'] : ['read', 'write'], expiresAt = null) {
        const { token } = await identities.createToken({ name: `test-${role}-${++accounts}`, role, scopes, expiresAt }, 'test');
        return new WebClient(url, { kind: 'token', token }, ca) as WebClient & { auth: { kind: 'token'; token: string } };
      },
      recipientLogin: (username, password) => signIn(anonymous(), '/recipient-session', { username, password }),
      async recipientLinkLogin(address) {
        const { token } = await identities.createRecipientLink(address, 3600_000, 'test');
        return signIn(anonymous(), '/recipient-session', { linkToken: token });
      },
    };
  } catch (err) {
    await gateway.close();
    throw err;
  }
}

/** A whole answer: status, headers, text and the JSON it holds (undefined when it is not JSON). */
export function readApiResponse(res: IncomingMessage): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('error', reject);
    res.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let json: any;
      try { json = JSON.parse(text); } catch { json = undefined; }
      resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
    });
  });
}

/** An API error answer: its status, stable code, field path (when given), and no stack trace. */
export function expectError(res: ApiResponse, status: number, code: string, path?: string): void {
  assert.equal(res.status, status, res.text);
  assert.equal(res.json?.error?.code, code, res.text);
  if (path !== undefined) assert.equal(res.json.error.path, path, res.text);
  assert.doesNotMatch(res.text, /\n\s+at /, 'no stack trace in an error');
}

/** A 200 answer, or a failure that shows what came instead. */
export function ok(res: ApiResponse, what: string): ApiResponse {
  assert.equal(res.status, 200, `${what}: ${res.status} ${res.text}`);
  return res;
}
