import { messages } from '../errors/session.messages';

// Where Nest serves a user, and where that user's session sits: the request of an HTTP route, the
// request of a GraphQL operation (its context's `req`, or Mercurius's `reply.request`), or the socket
// of a gateway's event. The decorator, the guards and the service all find the request through `requestOf`.

/** The part of Nest's `ExecutionContext` read here (structural: no import of Nest's types needed). */
export interface ContextLike {
  getType<T extends string = string>(): T;
  getArgByIndex<T = unknown>(index: number): T;
}

/**
 * Where a socket keeps its session, under a symbol: `request()` answers the request-like object of
 * the event being handled (each event reads the session afresh), or of the handshake outside one.
 * Set by the socket transports (`transports/`); read here without importing them.
 */
export const SOCKET_SESSION = Symbol('nest-redis-session:socket');

/**
 * Marks the request-like object a socket transport builds for its handshake and events (a gateway's,
 * or a GraphQL subscription's `req`): a session cannot start there, since no response can carry its
 * cookie to the client.
 */
export const SOCKET_REQUEST = Symbol('nest-redis-session:socket-request');

/** Whether `req` is a socket transport's request-like object (see `SOCKET_REQUEST`). */
export function isSocketRequest(req: object): boolean {
  return (req as { [SOCKET_REQUEST]?: true })[SOCKET_REQUEST] === true;
}

/** What a socket carries under `SOCKET_SESSION`. */
export interface SocketSessionHolder {
  request(): object;
}

/** Whether `value` is a Nest execution context (or arguments host) rather than a request or a socket. */
export function isContext(value: unknown): value is ContextLike {
  const context = value as Partial<ContextLike> | null;
  return typeof context === 'object' && context !== null && typeof context.getType === 'function' && typeof context.getArgByIndex === 'function';
}

/** The parts of a GraphQL context object read here: Apollo's (and Nest's Mercurius driver's) `req`, Mercurius's own `reply`. */
interface GraphqlContextLike {
  req?: object;
  reply?: { request?: object };
}

/**
 * The request whose session `target` means: a Nest execution context (HTTP, GraphQL, WebSocket), a
 * socket handled by `withSessions`, or a request itself. GraphQL needs no `@nestjs/graphql` import:
 * its context object is the third handler argument, and its `req` the HTTP request. Mercurius's
 * context holds the request as `reply.request` (its subscriptions too, as the upgrade request), so
 * an app whose own `context` drops `req` still works there.
 */
export function requestOf(target: unknown): object {
  if (isContext(target)) {
    const type = target.getType(); // 'http', 'graphql' or 'ws'
    if (type === 'graphql') {
      const graphqlContext = target.getArgByIndex<GraphqlContextLike | undefined>(2);
      const req = graphqlContext?.req ?? graphqlContext?.reply?.request;
      if (!req) throw new Error(messages.noGraphqlRequest());
      return req;
    }
    if (type === 'ws') return socketRequest(target.getArgByIndex(0));
    return target.getArgByIndex<object>(0);
  }
  const holder = (target as { [SOCKET_SESSION]?: SocketSessionHolder } | null)?.[SOCKET_SESSION];
  return holder ? holder.request() : (target as object);
}

/** The request-like object of a socket; an error naming the wiring when its adapter has no sessions. */
function socketRequest(client: unknown): object {
  const holder = (client as { [SOCKET_SESSION]?: SocketSessionHolder } | null)?.[SOCKET_SESSION];
  if (!holder) throw new Error(messages.noSocketSession());
  return holder.request();
}
