// Listeners: the inbound MX listener (anonymous, STARTTLS offered, client certificate requested)
// and the submission listener (STARTTLS then AUTH). Hooks live in hooks/, one per verb.
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { SMTPServerAuthenticationResponse, SMTPServerOptions, SMTPServerSession } from 'smtp-server';
import type { ListenerKind } from '../domain/types.ts';
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
import type { ConnectionHandle } from './session-control.ts';
import { SessionGuard, attachGuard, guardOf } from './session-limits.ts';
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

/**
 * smtp-server words its size refusal itself; the catalogue's wording (SPEC §3) replaces it so
 * every refusal a client sees comes from one table.
 */
class CatalogueSMTPServer extends SMTPServer {
  /** The connection smtp-server's connect() has just added (set by the hook on `connections.add`). */
  #added: (ConnectionHandle & { session: object }) | null = null;

  constructor(options: SMTPServerOptions) {
    super(options);
    // connect() creates the SMTPConnection and adds it to this Set; catching the add finds the new
    // connection without copying the Set of every open connection on each connect.
    const connections = (this as unknown as { connections: Set<ConnectionHandle & { session: object }> }).connections;
    connections.add = (conn) => {
      this.#added = conn;
      return Set.prototype.add.call(connections, conn) as typeof connections;
    };
  }

  override connect(socket: unknown, socketOptions: unknown): void {
    this.#added = null;
    // @ts-expect-error connect() is part of the runtime API, absent from the type definitions
    super.connect(socket, socketOptions);
    const conn = this.#added as (ConnectionHandle & { session: object }) | null;
    this.#added = null;
    if (conn) {
      registerConnection(conn.session, conn);
      this.#scheduleGreeting(conn as unknown as GreetingHandle);
      const send = conn.send.bind(conn);
      const limits = (this as unknown as { options: { sessionLimits: SessionLimitSettings } }).options.sessionLimits;
      const guard = new SessionGuard(limits, { sendReply: (r) => send(r.code, replyMessage(r), false) });
      attachGuard(conn.session, guard);
      watchCommands(conn as unknown as ParsingConnection, guard);
      conn.send = (code, data, context) => {
        const [finalCode, finalData, finalContext] = catalogueWording(code, data, context);
        send(finalCode, finalData, finalContext);
        const follow = guard.replySent(finalCode, typeof finalData === 'string' ? finalData : '');
        if (follow) send(follow.code, replyMessage(follow), false);
      };
    }
  }

  /**
   * smtp-server sends the banner after a fixed 100 ms early-talker pause; limits.greetingDelayMs
   * replaces that pause (0 = banner at once). Its own timer still fires and is made a no-op.
   * Implicit-TLS sockets (needsUpgrade) keep the library's path: the listeners here never use it.
   */
  #scheduleGreeting(conn: GreetingHandle): void {
    const delayMs = (this as unknown as { options: { greetingDelayMs?: number } }).options.greetingDelayMs ?? LIBRARY_GREETING_DELAY_MS;
    if (delayMs === LIBRARY_GREETING_DELAY_MS || conn.needsUpgrade) return;
    const ready = conn.connectionReady.bind(conn);
    conn.connectionReady = () => {};
    if (delayMs === 0) ready();
    else setTimeout(ready, delayMs).unref();
  }
}

/** smtp-server's own wording replaced by the catalogue's for the few replies it words itself. */
function catalogueWording(code: number, data: unknown, context: unknown): [number, unknown, unknown] {
  if (code === 552 && typeof data === 'string' && data.startsWith('Error: message exceeds')) {
    return [552, replyMessage(replies.tooBig), false];
  }
  if (code === 421 && data === 'Error: Command line too long') {
    return [500, replyMessage(replies.lineTooLong), false];
  }
  if (code === 501 && typeof data === 'string' && /^Error: Bad (sender|recipient) address syntax/.test(data)) {
    return [501, replyMessage(replies.badAddress), false];
  }
  return [code, data, context];
}

/** The parts of smtp-server's SMTPConnection and SMTPStream (runtime API, untyped) the guard watches. */
interface CommandParser {
  _dataMode: boolean;
  _remainder: string;
  _write(chunk: Buffer, encoding: string, next: (err?: Error) => void): void;
  startDataMode(size: unknown): unknown;
  continue(): void;
}

interface ParsingConnection {
  _parser: CommandParser | false;
  _createParser(): CommandParser;
  _onCommand(command: Buffer, callback?: () => void): void;
}

/**
 * Feeds the session guard from smtp-server's command parser: a partial line left in the parser
 * starts the line deadline, a complete one ends it, DATA pauses the dialogue deadline. Past the
 * soft error limit a command waits before it is handled (Postfix's smtpd_error_sleep_time).
 * The parser is replaced after STARTTLS, so every parser the connection creates is watched.
 */
function watchCommands(conn: ParsingConnection, guard: SessionGuard): void {
  const watchParser = (parser: CommandParser): CommandParser => {
    const write = parser._write.bind(parser);
    parser._write = (chunk, encoding, next) => write(chunk, encoding, (err) => {
      if (!parser._dataMode && parser._remainder.length > 0) guard.partialLine();
      next(err);
    });
    const startDataMode = parser.startDataMode.bind(parser);
    parser.startDataMode = (size) => { guard.dataStarted(); return startDataMode(size); };
    const resume = parser.continue.bind(parser);
    parser.continue = () => { guard.dataEnded(); resume(); };
    return parser;
  };
  if (conn._parser) watchParser(conn._parser);
  const createParser = conn._createParser.bind(conn);
  conn._createParser = () => watchParser(createParser());
  const onCommand = conn._onCommand.bind(conn);
  conn._onCommand = (command, callback) => {
    guard.commandReceived();
    const delayMs = guard.commandDelayMs();
    if (delayMs === 0) return onCommand(command, callback);
    // A session that ended meanwhile (a deadline, the client left) runs nothing more.
    setTimeout(() => { if (!guard.closed) onCommand(command, callback); }, delayMs).unref();
  };
}

/** The pause smtp-server 3 hard-codes in SMTPConnection.init(). */
const LIBRARY_GREETING_DELAY_MS = 100;

interface GreetingHandle {
  needsUpgrade: boolean;
  connectionReady(): void;
}

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
    onRcptTo: (address, session, cb) => settle(onRcptTo(ctx, address, session), cb),
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

