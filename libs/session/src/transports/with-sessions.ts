import type { INestApplicationContext } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { SessionEvents } from '../events/session-events';
import type { ResolvedSessionOptions } from '../options/resolved-options';
import { SESSION_OPTIONS } from '../session.constants';
import { RedisSessionStore } from '../store/redis-session-store';
import { SessionCore } from '../store/session-core';
import { SocketSessions, type SocketBinding, type SocketEndReason } from './socket-sessions';

/** The event each socket of an ended session gets, with `{ reason }`, before it is disconnected. */
export const SESSION_ENDED_EVENT = 'session:ended';

/** What `withSessions` reads and wraps of a Nest WebSocket adapter (`IoAdapter`, `WsAdapter`, or one built on them). */
export interface SessionSocketAdapter {
  create(port: number, options?: unknown): unknown;
  bindClientConnect(server: unknown, callback: (...args: unknown[]) => void): void;
  bindMessageHandlers(
    client: unknown,
    handlers: { message: unknown; callback: (...args: unknown[]) => unknown }[],
    transform: (data: unknown) => unknown,
  ): void;
  dispose?(): unknown;
}

type IoSocket = {
  handshake: { headers: IncomingMessage['headers']; auth?: unknown };
  /** engine.io's connection: `'open'` until the client goes. */
  conn?: { readyState?: string };
  emit(event: string, data: unknown): unknown;
  disconnect(close?: boolean): unknown;
  once(event: 'disconnect', listener: () => void): unknown;
};
type IoServer = { use(middleware: (socket: IoSocket, next: (error?: Error) => void) => void): unknown };
type WsClient = {
  /** 1 (OPEN) until the client goes. */
  readyState?: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  once(event: 'close', listener: () => void): unknown;
  on(event: 'message', listener: (...args: unknown[]) => void): unknown;
  off(event: 'message', listener: (...args: unknown[]) => void): unknown;
  emit(event: 'message', ...args: unknown[]): boolean;
};
type WsServer = {
  on(event: 'connection', listener: (client: WsClient, request: IncomingMessage) => void): unknown;
  handleUpgrade(...args: unknown[]): unknown;
  options: { verifyClient?: unknown };
};
/** `ws`'s readyState of an open connection. */
const WS_OPEN = 1;

type VerifyClient = (info: { req: IncomingMessage }, done: (verified: boolean, code?: number, message?: string) => void) => void;

/** What finds the app's providers: the app, or a `ModuleRef`. */
export type SessionProviders = Pick<INestApplicationContext, 'get'>;

/** One `SocketSessions` per app, however many adapters or gateways use it. */
const perApp = new WeakMap<SessionProviders, SocketSessions>();

/**
 * Gives a Nest WebSocket adapter the app's sessions: the handshake's `Origin` is checked
 * (`sockets.allowedOrigins`) and its session read (the cookie, the ID header, or socket.io's
 * `auth.token`); every event reads the session afresh for `@Session()`, the guards and
 * `SessionService`; and every socket of a session that ends (logout, revoke, log out everywhere, a
 * timeout), on any replica, gets `session:ended` `{ reason }` and is disconnected. Returns the same
 * adapter, so it composes with a custom one (the socket.io Redis adapter, say).
 * @example app.useWebSocketAdapter(withSessions(app, new IoAdapter(app)));
 */
export function withSessions<A extends SessionSocketAdapter>(app: INestApplicationContext, adapter: A): A {
  const sessions = socketSessionsOf(app);
  const create = adapter.create.bind(adapter);
  const bindClientConnect = adapter.bindClientConnect.bind(adapter);
  const bindMessageHandlers = adapter.bindMessageHandlers.bind(adapter);
  const dispose = adapter.dispose?.bind(adapter);

  adapter.create = (port, options) => {
    const server = create(port, options);
    if (isIoServer(server)) server.use((socket, next) => void ioHandshake(sessions, socket, next));
    else if (isWsServer(server)) refuseForeignUpgrades(sessions, server);
    return server;
  };
  adapter.bindClientConnect = (server, callback) => {
    if (isIoServer(server)) return bindClientConnect(server, callback);
    (server as WsServer).on('connection', (peer, request) => void wsHandshake(sessions, peer, request, callback));
  };
  adapter.bindMessageHandlers = (client, handlers, transform) => {
    const wrapped = handlers.map((handler) => ({
      ...handler,
      callback: (...args: unknown[]) => {
        const binding = sessions.bindingOf(client as object);
        return binding ? sessions.forEvent(binding, () => handler.callback(...args)) : handler.callback(...args);
      },
    }));
    bindMessageHandlers(client, wrapped, transform);
  };
  adapter.dispose = () => {
    sessions.close();
    perApp.delete(app);
    return dispose?.();
  };
  return adapter;
}

/** The app's `SocketSessions`, built on first use from its providers (an app, or a `ModuleRef`: anything with a non-strict `get`). */
export function socketSessionsOf(app: SessionProviders): SocketSessions {
  let sessions = perApp.get(app);
  if (!sessions) {
    const get = <T>(token: string | (abstract new (...args: never[]) => T)): T => app.get<T>(token, { strict: false });
    sessions = new SocketSessions(get(SessionCore), get<ResolvedSessionOptions>(SESSION_OPTIONS), get(RedisSessionStore), get(SessionEvents));
    perApp.set(app, sessions);
  }
  return sessions;
}

function isIoServer(server: unknown): server is IoServer {
  const candidate = server as { use?: unknown; to?: unknown } | null;
  return typeof candidate?.use === 'function' && typeof candidate.to === 'function';
}

function isWsServer(server: unknown): server is WsServer {
  const candidate = server as Partial<WsServer> | null;
  return typeof candidate?.handleUpgrade === 'function' && typeof candidate.options === 'object' && candidate.options !== null;
}

/**
 * `ws`: a foreign origin is answered 403 before the upgrade (ws asks `verifyClient` on each upgrade,
 * Nest's shared-server mode included); an app's own `verifyClient` is asked after this check.
 */
function refuseForeignUpgrades(sessions: SocketSessions, server: WsServer): void {
  const own = server.options.verifyClient as ((info: unknown, done?: unknown) => unknown) | undefined;
  const verify: VerifyClient = (info, done) => {
    try {
      sessions.checkOrigin(info.req.headers);
    } catch (error) {
      return done(false, 403, (error as Error).message);
    }
    if (!own) return done(true);
    if (own.length >= 2) return void own(info, done);
    done(own(info) === true, 401);
  };
  server.options.verifyClient = verify;
}

/** socket.io: a middleware of the namespace, so a refusal reaches the client as `connect_error`. */
async function ioHandshake(sessions: SocketSessions, socket: IoSocket, next: (error?: Error) => void): Promise<void> {
  let binding: SocketBinding;
  try {
    binding = await sessions.handshake({ headers: socket.handshake.headers, auth: socket.handshake.auth });
  } catch (error) {
    return next(error instanceof Error ? error : new Error(String(error)));
  }
  // Gone while its session was read: socket.io drops it without a `disconnect`, so it is never tied to it.
  if (socket.conn?.readyState !== undefined && socket.conn.readyState !== 'open') return next();
  binding.end = (reason: SocketEndReason) => {
    socket.emit(SESSION_ENDED_EVENT, { reason });
    socket.disconnect(); // this namespace only: the client is told "io server disconnect" and does not reconnect
  };
  sessions.attach(socket, binding);
  socket.once('disconnect', () => sessions.detach(binding));
  next();
}

/**
 * `ws`: the connection is handed to Nest once its session is read; messages that arrive meanwhile
 * are held and replayed to Nest's handlers, in order. A foreign origin is closed with 1008.
 */
async function wsHandshake(sessions: SocketSessions, peer: WsClient, request: IncomingMessage, callback: (...args: unknown[]) => void): Promise<void> {
  const held: unknown[][] = [];
  const hold = (...args: unknown[]) => void held.push(args);
  peer.on('message', hold);
  let binding: SocketBinding;
  try {
    binding = await sessions.handshake({ headers: request.headers });
  } catch (error) {
    peer.off('message', hold);
    peer.close(1008, String((error as Error)?.message ?? error).slice(0, 120));
    return;
  }
  // Gone while its session was read: its `close` came already, so it is never tied to the session.
  if (peer.readyState !== undefined && peer.readyState !== WS_OPEN) {
    peer.off('message', hold);
    return;
  }
  binding.end = (reason: SocketEndReason) => {
    peer.send(JSON.stringify({ event: SESSION_ENDED_EVENT, data: { reason } }));
    peer.close(1008, `session ${reason}`);
  };
  sessions.attach(peer, binding);
  peer.once('close', () => sessions.detach(binding));
  callback(peer, request);
  peer.off('message', hold);
  for (const args of held) peer.emit('message', ...args);
}
