// Listeners: the inbound MX listener (anonymous, STARTTLS offered, client certificate requested)
// and the submission listener (STARTTLS then AUTH). Hooks live in hooks/, one per verb.
import type { AddressInfo } from 'node:net';
import type * as net from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { SMTPServerAuthenticationResponse, SMTPServerOptions, SMTPServerSession } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import type { SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection.js';
import type { ListenerKind, SmtpReply } from '../domain/types.ts';
import { replies, replyMessage } from '../policy/replies.ts';
import type { GatewayContext } from './context.ts';
import { sessionState } from './context.ts';
import { onConnect } from './hooks/on-connect.ts';
import { onSecure } from './hooks/on-secure.ts';
import { onAuth } from './hooks/on-auth.ts';
import { onMailFrom } from './hooks/on-mail-from.ts';
import { onRcptTo } from './hooks/on-rcpt-to.ts';
import { onData } from './hooks/on-data.ts';
import { abandonTransaction } from './transaction-trace.ts';
import { registerConnection } from './session-control.ts';
import { SessionGuard, attachGuard, guardOf } from './session-limits.ts';
import { newSessionId } from './session-id.ts';
import { installFastDataScan } from './data-scan.ts';
import type { SessionLimitSettings } from './session-limits.ts';

export interface TlsMaterial {
  key: string;
  cert: string;
  /** Trust store for client certificates; undefined = Node's bundled roots. */
  ca?: string;
}

type Callback<T = void> = (err?: Error | null, value?: T) => void;

function settle<T>(promise: Promise<T>, callback: Callback<T>): void {
  promise.then((value) => callback(null, value), (err: Error) => callback(err));
}

/** What the listener adds to smtp-server's options (read back by the connection). */
interface GatewayOptions {
  greetingDelayMs?: number;
  sessionLimits: SessionLimitSettings;
}

/**
 * The listener's connection: smtp-server's SMTPConnection with the session guard, the
 * catalogue's wording and the greeting delay as methods of one subclass, so a connection costs
 * no per-connection wrappers (the previous shape bound and wrapped five methods on every
 * connect, and allocated on every reply: measurable on the reject path, where a session is a
 * handful of replies).
 */
class GatewayConnection extends SMTPConnection {
  /** Set by the listener right after construction, before init() runs anything. */
  declare guard: SessionGuard;

  /** A reply without the guard's bookkeeping: the guard's own replies and the follow-up 421. */
  sendReply(reply: SmtpReply): void {
    super.send(reply.code, replyMessage(reply), false);
  }

  /** Every reply passes here: the catalogue's wording, then the guard counts it. */
  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    const catalogue = catalogueReply(code, data);
    if (catalogue) {
      code = catalogue.code;
      data = replyMessage(catalogue);
      context = false;
    }
    super.send(code, data, context);
    const follow = this.guard.replySent(code, typeof data === 'string' ? data : '');
    if (follow) this.sendReply(follow);
  }

  /**
   * smtp-server sends the banner after a fixed 100 ms early-talker pause; limits.greetingDelayMs
   * replaces that pause (0 = banner at once). Implicit-TLS sockets (needsUpgrade) keep the
   * library's path: the listeners here never use it.
   */
  override init(): void {
    const options = (this as unknown as { _server: { options: SMTPServerOptions & GatewayOptions } })._server.options;
    const delayMs = options.greetingDelayMs ?? LIBRARY_GREETING_DELAY_MS;
    if (delayMs === LIBRARY_GREETING_DELAY_MS || this.needsUpgrade) return super.init();
    // SMTPConnection.init() with its pause replaced; the maxClients check is the library's own.
    this._setListeners(() => {
      const server = (this as unknown as { _server: { connections: Set<unknown> } })._server;
      if (options.maxClients && server.connections.size > options.maxClients) {
        return super.send(421, `${this.name} Too many connected clients, try again in a moment`, false);
      }
      if (delayMs === 0) this.connectionReady();
      else setTimeout(() => this.connectionReady(), delayMs).unref();
    });
  }

  /**
   * Feeds the session guard: a complete command line ends the line deadline, and past the soft
   * error limit a command waits before it is handled (Postfix's smtpd_error_sleep_time).
   */
  override _onCommand(command: Buffer, callback?: () => void): void {
    const guard = this.guard;
    guard.commandReceived();
    const delayMs = guard.commandDelayMs();
    if (delayMs === 0) return super._onCommand(command, callback);
    // A session that ended meanwhile (a deadline, the client left) runs nothing more.
    setTimeout(() => { if (!guard.closed) super._onCommand(command, callback); }, delayMs).unref();
  }

  /**
   * QUIT: the 221, then the socket closed outright once the reply is with the kernel (RFC 5321
   * §4.1.1.10: reply, then close the channel; Postfix does the same). The library half-closes
   * and waits for the client's FIN, which costs a shutdown(2), another read and, from the many
   * clients that close without reading the 221 (smtp-source among them), a connection-reset
   * error built with its stack trace on every session. A reply still queued in Node keeps the
   * library's way, so it is never cut off, and so does a TLS session (its close_notify).
   */
  override handler_QUIT(command: Buffer, callback: () => void): void {
    const socket = (this as unknown as { _socket: net.Socket & { encrypted?: boolean } })._socket;
    this.send(221, 'Bye');
    if (socket.writableLength === 0 && !socket.encrypted) socket.destroy();
    this.close();
    callback();
  }

  /** The parser is replaced after STARTTLS, so every parser the connection creates is watched. */
  override _createParser(): ReturnType<SMTPConnection['_createParser']> {
    const parser = super._createParser();
    watchParser(parser as unknown as CommandParser, this);
    return parser;
  }
}

/**
 * smtp-server's own wording replaced by the catalogue's (SPEC §3) for the few replies it words
 * itself, so every refusal a client sees comes from one table. Null: the reply stays as it is.
 */
function catalogueReply(code: number, data: unknown): SmtpReply | null {
  if (code === 552 && typeof data === 'string' && data.startsWith('Error: message exceeds')) return replies.tooBig;
  if (code === 421 && data === 'Error: Command line too long') return replies.lineTooLong;
  if (code === 501 && typeof data === 'string' && /^Error: Bad (sender|recipient) address syntax/.test(data)) return replies.badAddress;
  return null;
}

/** The parts of smtp-server's SMTPStream (runtime API, untyped) the guard watches. */
interface CommandParser {
  _dataMode: boolean;
  _remainder: string;
  _write(chunk: Buffer, encoding: string, next: (err?: Error) => void): void;
  startDataMode(size: unknown): unknown;
  continue(): void;
}

/**
 * A partial line left in the parser starts the line deadline; DATA pauses the dialogue deadline
 * until the message is in. The guard is read when a chunk arrives: the base constructor creates
 * the first parser before the listener has attached it.
 */
function watchParser(parser: CommandParser, conn: GatewayConnection): void {
  const write = parser._write;
  parser._write = function watchedWrite(chunk, encoding, next) {
    write.call(parser, chunk, encoding, (err) => {
      if (!parser._dataMode && parser._remainder.length > 0) conn.guard.partialLine();
      next(err);
    });
  };
  const startDataMode = parser.startDataMode;
  parser.startDataMode = (size) => { conn.guard.dataStarted(); return startDataMode.call(parser, size); };
  const resume = parser.continue;
  parser.continue = () => { conn.guard.dataEnded(); resume.call(parser); };
}

// smtp-server's end-of-DATA scan by indexOf (data-scan.ts), beside the listener's other adjustments of the library.
installFastDataScan();

class CatalogueSMTPServer extends SMTPServer {
  /**
   * The session id from a pool of random bytes (session-id.ts) instead of a CSPRNG call per
   * connection; a listener that expects a PROXY header (none here) keeps the library's path.
   */
  override _handleProxy(socket: net.Socket, callback: Parameters<SMTPServer['_handleProxy']>[1]): void {
    if (this._expectsProxyHeader(socket)) return super._handleProxy(socket, callback);
    const ignore = this.options.ignoredHosts?.includes(socket.remoteAddress ?? '') ?? false;
    setImmediate(() => callback(null, { id: newSessionId(), ignore }));
  }

  /**
   * SMTPServer.connect() with the listener's connection class (the library's own body: add to
   * the open connections, forward its events, init), the guard attached before anything runs.
   */
  connect(socket: net.Socket, socketOptions: SMTPConnectionOptions): void {
    const connection = new GatewayConnection(this, socket, socketOptions);
    const limits = (this.options as SMTPServerOptions & GatewayOptions).sessionLimits;
    connection.guard = new SessionGuard(limits, connection);
    attachGuard(connection.session, connection.guard);
    registerConnection(connection.session, connection);
    this.connections.add(connection);
    connection.on('error', (err: Error) => this._onError(err));
    connection.on('connect', (data: Parameters<SMTPServer['_onClientConnect']>[0]) => this._onClientConnect(data));
    connection.init();
  }
}

/** The pause smtp-server 3 hard-codes in SMTPConnection.init(). */
const LIBRARY_GREETING_DELAY_MS = 100;

export function createListener(ctx: GatewayContext, kind: ListenerKind, tls: TlsMaterial): SMTPServer {
  const submission = kind === 'submission';
  const options: SMTPServerOptions & Record<string, unknown> = {
    name: ctx.config.hostname,
    banner: 'mxward',
    key: tls.key,
    cert: tls.cert,
    ca: tls.ca,
    // Request, never require, a client certificate (SPEC §2.2); verification is recorded, and
    // only a verified one may match a connector.
    requestCert: !submission,
    rejectUnauthorized: false,
    size: ctx.config.limits.maxMessageBytes,
    socketTimeout: ctx.config.limits.idleTimeoutMs,
    greetingDelayMs: ctx.config.limits.greetingDelayMs,
    sessionLimits: ctx.config.limits,
    disableReverseLookup: !ctx.config.lookupPtr,
    logger: false,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: true, // MAIL FROM answers 530 5.7.57 from the catalogue instead
    allowInsecureAuth: false,
    disabledCommands: submission ? [] : ['AUTH'],
    onConnect: (session: SMTPServerSession, cb: Callback) => onConnect(ctx, kind, session, cb),
    onSecure: (socket, session, cb) => onSecure(socket as never, session, cb),
    onAuth: (auth, session, cb) => settle(onAuth(ctx, auth, session), cb as Callback<SMTPServerAuthenticationResponse>),
    onMailFrom: (address, session, cb) => settle(onMailFrom(ctx, address, session), cb),
    // Synchronous (hooks/on-rcpt-to.ts): the refusal is passed on without a promise around it.
    onRcptTo: (address, session, cb) => {
      let refusal: Error | null;
      try {
        refusal = onRcptTo(ctx, address, session);
      } catch (err) {
        return cb(err as Error);
      }
      cb(refusal);
    },
    onData: (stream, session, cb) => settle(onData(ctx, stream, session), cb as Callback<string>),
    onClose: (session: SMTPServerSession) => {
      guardOf(session)?.close();
      let state;
      try { state = sessionState(session); } catch { return; } // refused at connect: holds no slot
      ctx.limiter.release(state.facts.remoteIp);
      abandonTransaction(ctx, state, { background: true }).catch((err) => ctx.logger.error({ stage: 'close', event: 'trace', err }, 'trace failed'));
    },
  };
  const server = new CatalogueSMTPServer(options);
  server.on('error', (err: Error & { remote?: string }) => {
    ctx.logger.debug({ stage: 'connection', event: 'error', listener: kind, ip: err.remote, err: err.message }, 'connection error');
  });
  return server;
}

/** reusePort: several worker processes bind the same port; the kernel spreads connections. */
export function listen(server: SMTPServer, host: string, port: number, reusePort = false): Promise<AddressInfo> {
  return new Promise((resolveListen, rejectListen) => {
    const onError = (err: Error) => rejectListen(err);
    server.server.once('error', onError);
    server.listen({ port, host, reusePort, exclusive: true }, () => {
      server.server.off('error', onError);
      resolveListen(server.server.address() as AddressInfo);
    });
  });
}

export function closeListener(server: SMTPServer): Promise<void> {
  return new Promise((resolveClose) => server.close(() => resolveClose()));
}

