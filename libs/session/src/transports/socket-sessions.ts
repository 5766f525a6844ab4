import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingHttpHeaders } from 'node:http';
import type { Subscription } from 'rxjs';
import { Logger } from '@nestjs/common';
import { looksSigned, readCookie, VerifiedCookies } from '../cookie/cookie-signature';
import { messages } from '../errors/session.messages';
import { toHttpException } from '../errors/to-http-exception';
import type { SessionEvents } from '../events/session-events';
import type { ResolvedSessionOptions } from '../options/resolved-options';
import type { SessionRequest } from '../request/http-platform';
import { createSession } from '../request/session-lifecycle';
import { SOCKET_REQUEST, SOCKET_SESSION, type SocketSessionHolder } from '../request/session-target';
import type { RedisSessionStore } from '../store/redis-session-store';
import type { SessionCore } from '../store/session-core';
import { stateOf } from '../store/session-state';
import { SessionExpiryWatch } from './session-expiry-watch';
import { checkOrigin } from './socket-origin';

/** Why a socket's session ended, as `session:ended` tells its client. */
export type SocketEndReason = 'logout' | 'revoked' | 'destroyed' | 'expired' | 'renewed';

/** What a handshake brought: its HTTP headers, and socket.io's `auth` payload where there is one. */
export interface SocketHandshake {
  headers: IncomingHttpHeaders;
  auth?: unknown;
}

/** The request-like object a socket's session hangs on: what the service and the decorator read. */
export type SocketRequest = SessionRequest & { headers: IncomingHttpHeaders; sessionStore: RedisSessionStore };

/** One socket's tie to its session: the ID it carries, and how to close it when the session ends. */
export interface SocketBinding {
  /** The session ID the socket carries; undefined for a visitor without one (or once it is gone). */
  id: string | undefined;
  digest: string | undefined;
  headers: IncomingHttpHeaders;
  /** The request of the handshake, or of the last event handled: what code outside an event reads. */
  latest: SocketRequest;
  /** Tells the client why, then disconnects it (set by the adapter that knows the socket's kind). */
  end?: (reason: SocketEndReason) => void;
}

/** The events after which a session is gone, and the reason its sockets hear. */
const ENDINGS: Record<string, SocketEndReason | undefined> = { logout: 'logout', revoked: 'revoked', destroyed: 'destroyed', expired: 'expired' };

/**
 * Sessions for sockets, whatever the WebSocket library: the handshake's origin checked and its
 * session read through the store's own read path (near cache included); each event reads the session
 * afresh (a read, and a slide of the idle timeout only when `touchAfter` says one is due, as for a
 * request); every socket of a session ended anywhere (an event of `SessionEvents`, from this replica
 * or another under `events.crossReplica`) or expired (`SessionExpiryWatch`) is told and closed.
 */
export class SocketSessions {
  private readonly verified: VerifiedCookies;
  private readonly bySession = new Map<string, Set<SocketBinding>>();
  private readonly current = new AsyncLocalStorage<{ binding: SocketBinding; req: SocketRequest; failure?: unknown }>();
  private readonly expiry: SessionExpiryWatch;
  private readonly ending: Subscription;
  private readonly bindings = new WeakMap<object, SocketBinding>();
  /** Digests whose session moved to a new ID: their sockets end as 'renewed' once the old ID is dead. */
  private readonly moved = new Set<string>();
  /**
   * Handshakes reading their session now, not yet tied to a socket: a session that ends meanwhile
   * (a logout between the read and `attach`) must not reach the socket, which connects without it.
   */
  private readonly handshaking = new Set<SocketBinding>();

  constructor(
    private readonly core: SessionCore,
    private readonly options: ResolvedSessionOptions,
    private readonly store: RedisSessionStore,
    events: SessionEvents,
    private readonly logger: Pick<Logger, 'warn'> = new Logger('SessionModule'),
  ) {
    this.verified = new VerifiedCookies(options.secrets);
    this.expiry = new SessionExpiryWatch(core, (digest) => this.endSession(digest, this.moved.delete(digest) ? 'renewed' : 'expired'));
    this.ending = events.subscribe((event) => {
      const reason = ENDINGS[event.type];
      if (reason) this.endSession(event.digest, reason);
      else if ((event.type === 'created' || event.type === 'login') && event.previousDigest) this.idChanged(event.previousDigest);
    });
  }

  /**
   * The handshake: refused (an `Error` whose message says why) when its `Origin` is foreign;
   * otherwise the socket's session read, if it carries an ID. A visitor without a session may connect.
   */
  async handshake(handshake: SocketHandshake): Promise<SocketBinding> {
    this.checkOrigin(handshake.headers);
    const id = this.idOf(handshake);
    const binding: SocketBinding = { id, digest: id && this.digestOf(id), headers: handshake.headers, latest: this.requestFor(handshake.headers) };
    if (binding.id === undefined) return binding;
    // Ended while it is read (`endSession` clears the ID): the socket goes on as a visitor without one.
    this.handshaking.add(binding);
    try {
      binding.latest = await this.load(binding);
    } finally {
      this.handshaking.delete(binding);
    }
    return binding;
  }

  /** Throws when the handshake's `Origin` is neither the app's own nor allowed (`sockets.allowedOrigins`). */
  checkOrigin(headers: IncomingHttpHeaders): void {
    checkOrigin(headers, this.options.sockets.allowedOrigins, this.options.trustProxy);
  }

  /** Ties the socket to its session: `requestOf(socket)` finds it, and the session's end reaches it. */
  attach(socket: object, binding: SocketBinding): void {
    const holder: SocketSessionHolder = { request: () => this.requestOfBinding(binding) };
    Object.defineProperty(socket, SOCKET_SESSION, { value: holder, configurable: true });
    this.bindings.set(socket, binding);
    this.register(binding);
  }

  /** The socket is gone: its session no longer needs to reach it. */
  detach(binding: SocketBinding): void {
    this.unregister(binding);
    binding.end = undefined;
  }

  /** The binding of a socket `attach` tied, if any. */
  bindingOf(socket: object): SocketBinding | undefined {
    return this.bindings.get(socket);
  }

  /**
   * Runs one event's handler with the session as Redis holds it now: `@Session()`, the guards and
   * `SessionService` called with the socket or the context see this event's own copy.
   */
  async forEvent<T>(binding: SocketBinding, handler: () => T): Promise<T> {
    let req: SocketRequest;
    try {
      req = await this.load(binding);
    } catch (failure) {
      // Redis did not answer: the handler runs, and whatever reads the session gets the error (503).
      return this.current.run({ binding, req: binding.latest, failure }, handler);
    }
    binding.latest = req;
    return this.current.run({ binding, req }, handler);
  }

  /**
   * The request of one GraphQL operation sent over the socket: the session as Redis holds it now, read
   * (and slid when due) as an event's is. When Redis does not answer, whatever reads the session of
   * that request gets the error (503), never the copy an earlier operation read.
   */
  async forOperation(binding: SocketBinding): Promise<SocketRequest> {
    try {
      binding.latest = await this.load(binding);
      return binding.latest;
    } catch (failure) {
      const req = this.requestFor(binding.headers);
      Object.defineProperty(req, 'session', {
        get: () => {
          throw toHttpException(failure);
        },
      });
      return req;
    }
  }

  /** Stops listening for ended sessions and the expiry timers. */
  close(): void {
    this.ending.unsubscribe();
    this.expiry.close();
  }

  private requestOfBinding(binding: SocketBinding): SocketRequest {
    const running = this.current.getStore();
    if (running?.binding !== binding) return binding.latest;
    if (running.failure !== undefined) throw toHttpException(running.failure);
    return running.req;
  }

  /**
   * A fresh request-like object with the session read now: absent, ended or expired, the socket goes
   * on without one. A renewed ID (`renewal`) is followed, and the socket carries the new one from then on.
   */
  private async load(binding: SocketBinding): Promise<SocketRequest> {
    const req = this.requestFor(binding.headers);
    const id = binding.id;
    if (id === undefined) return req;
    const data = await this.core.reader.load(id);
    if (!data || binding.id !== id) return req; // gone, or ended while it was read (`endSession` cleared the ID)
    const state = stateOf(data);
    if (state?.renewedId !== undefined && state.renewedId !== binding.id) this.rebind(binding, state.renewedId);
    req.sessionID = binding.id;
    createSession(req, data);
    if (state?.expiresAt !== undefined && binding.digest) this.expiry.watch(binding.digest, this.core.context.redisKeyOf(binding.id), state.expiresAt);
    return req;
  }

  private requestFor(headers: IncomingHttpHeaders): SocketRequest {
    return Object.assign({ headers, sessionStore: this.store } as SocketRequest, { [SOCKET_REQUEST]: true });
  }

  /**
   * The ID from the header token or `auth.token` (`idFrom.header`), else the cookie (`idFrom.cookie`).
   * A token sent, even empty, decides alone, as over HTTP: a cookie the browser added on its own does
   * not stand in for a token the client chose to send.
   */
  private idOf({ headers, auth }: SocketHandshake): string | undefined {
    const { idFrom, cookie } = this.options;
    if (idFrom.header !== undefined) {
      const token = (auth as { token?: unknown } | undefined)?.token ?? headers[idFrom.header.toLowerCase()];
      if (typeof token === 'string') return token.length > 0 ? this.verify(token, 'header') : undefined;
      if (token !== undefined && token !== null) {
        // Sent, but no token at all (a number, an object): no session, and never the cookie beside it.
        this.logger.warn(messages.invalidHeaderSignature(idFrom.header));
        return undefined;
      }
    }
    if (!idFrom.cookie) return undefined;
    const raw = readCookie(headers.cookie, cookie.name);
    return raw ? this.verify(raw, 'cookie') : undefined;
  }

  /** The ID a signed value carries; a value that claims a signature it does not have is logged, as over HTTP. */
  private verify(raw: string, carrier: 'header' | 'cookie'): string | undefined {
    const id = this.verified.idOf(raw);
    if (id === undefined && looksSigned(raw)) {
      this.logger.warn(carrier === 'header' ? messages.invalidHeaderSignature(this.options.idFrom.header!) : messages.invalidSignature());
    }
    return id;
  }

  private digestOf(id: string): string {
    return this.core.context.digestOfKey(this.core.context.redisKeyOf(id));
  }

  private rebind(binding: SocketBinding, id: string): void {
    this.unregister(binding);
    binding.id = id;
    binding.digest = this.digestOf(id);
    this.register(binding);
  }

  private register(binding: SocketBinding): void {
    if (!binding.digest) return;
    let sockets = this.bySession.get(binding.digest);
    if (!sockets) this.bySession.set(binding.digest, (sockets = new Set()));
    sockets.add(binding);
  }

  private unregister(binding: SocketBinding): void {
    if (!binding.digest) return;
    const sockets = this.bySession.get(binding.digest);
    sockets?.delete(binding);
    if (sockets?.size === 0) {
      this.bySession.delete(binding.digest);
      this.moved.delete(binding.digest);
      this.expiry.forget(binding.digest);
    }
  }

  /**
   * The session moved to a new ID (login, regenerate, renewal): a socket that sends an event within a
   * renewal's grace follows it; the others end as 'renewed' once the old ID is dead (the client
   * reconnects with the new cookie): at once after a login or regenerate, at the end of a renewal's
   * grace (the old key is looked at every half second until then).
   */
  private idChanged(previousDigest: string): void {
    if (!this.bySession.has(previousDigest)) return;
    this.moved.add(previousDigest);
    this.expiry.lookAt(previousDigest, this.core.context.redisKeyOfDigest(previousDigest), Date.now());
  }

  /** Every socket of the session, on this replica, hears why and is closed. */
  private endSession(digest: string, reason: SocketEndReason): void {
    for (const binding of this.handshaking) {
      if (binding.digest !== digest) continue;
      binding.id = undefined;
      binding.digest = undefined;
    }
    const sockets = this.bySession.get(digest);
    if (!sockets) return;
    this.bySession.delete(digest);
    this.moved.delete(digest);
    this.expiry.forget(digest);
    for (const binding of sockets) {
      binding.id = undefined;
      binding.digest = undefined;
      binding.end?.(reason);
    }
  }
}
