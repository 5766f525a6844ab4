import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { SESSION_ENDED_CLOSE_CODE } from './graphql-ws-sessions';
import type { SocketBinding, SocketEndReason } from './socket-sessions';
import { socketSessionsOf, type SessionProviders } from './with-sessions';

/**
 * What `mercuriusSessions` puts in Mercurius's `subscription` option (typed structurally: the library
 * does not depend on mercurius). Methods, so that they fit Mercurius's own `ws` and Fastify types.
 */
export interface MercuriusSubscriptionSessions {
  /** `ws`'s check before the upgrade: a foreign `Origin` is answered 403 and never becomes a socket. */
  verifyClient(info: { req: IncomingMessage }, next: (result: boolean, code?: number, message?: string) => void): void;
  /** Mercurius's connection context, at `connection_init`: the upgrade's session, as the context's `req`. */
  context(
    socket: { close(code?: number, reason?: string): void; once(event: 'close', listener: () => void): unknown },
    request: { headers: IncomingHttpHeaders },
  ): Promise<{ req: object }>;
}

/** Mercurius's per-operation hook (typed structurally, as above): its context is the operation's own copy. */
export interface MercuriusSessionHooks {
  /** Before each subscription runs: the connection's session as Redis holds it now, as the context's `req`. */
  preSubscriptionExecution(schema: unknown, document: unknown, context: object): Promise<void>;
}

/** Where a connection's context keeps its socket's binding; Mercurius copies it into each operation's context. */
const BINDING = Symbol('nest-redis-session:socket-binding');

/**
 * GraphQL subscriptions on Mercurius (`@nestjs/mercurius`) with the session of the upgrade request:
 * spread what this returns into `GraphQLModule`'s options (it sets `subscription`, which turns them on,
 * and a `preSubscriptionExecution` hook in `hooks`: an app with hooks of its own adds this one to them).
 * The upgrade's `Origin` is checked (`sockets.allowedOrigins`), the session read from the cookie or
 * the ID header; resolvers and guards see it as the context's `req`, read afresh (and slid when due)
 * as each subscription starts, as a gateway event reads it; and when the session ends, on
 * any replica, the socket is closed with 4403 and `session <reason>`, which ends its subscriptions.
 * Both of Mercurius's protocols (`graphql-transport-ws` and the legacy `graphql-ws`) go through it.
 * Queries and mutations over HTTP need nothing from it: Mercurius's context holds the Fastify request.
 * @example
 * GraphQLModule.forRootAsync<MercuriusDriverConfig>({ driver: MercuriusDriver, inject: [ModuleRef],
 *   useFactory: (moduleRef: ModuleRef) => ({ typeDefs, ...mercuriusSessions(moduleRef) }) })
 */
export function mercuriusSessions(app: SessionProviders): { subscription: MercuriusSubscriptionSessions; hooks: MercuriusSessionHooks } {
  return {
    hooks: {
      async preSubscriptionExecution(_schema, _document, context) {
        const binding = (context as { [BINDING]?: SocketBinding })[BINDING];
        if (binding) (context as { req: object }).req = await socketSessionsOf(app).forOperation(binding);
      },
    },
    subscription: {
      verifyClient(info, next) {
        try {
          socketSessionsOf(app).checkOrigin(info.req.headers);
        } catch {
          return next(false, 403, 'Forbidden');
        }
        next(true);
      },
      async context(socket, request) {
        const sessions = socketSessionsOf(app);
        // A copy: Mercurius later merges the `connection_init` payload into the request's headers.
        const headers = { ...request.headers };
        try {
          // Again here: `verifyClient` is not asked when the app registered @fastify/websocket itself.
          sessions.checkOrigin(headers);
        } catch (refused) {
          socket.close(SESSION_ENDED_CLOSE_CODE, 'Forbidden');
          throw refused; // Mercurius logs it and stops the connection's init
        }
        // Listened to before the read: a socket that closes meanwhile is never attached, so never leaks.
        let gone = false;
        let attached: SocketBinding | undefined;
        socket.once('close', () => {
          gone = true;
          if (attached) sessions.detach(attached);
        });
        // Redis failing here throws too: Mercurius closes the socket with 1011 and logs why.
        const binding = await sessions.handshake({ headers });
        if (!gone) {
          binding.end = (reason: SocketEndReason) => socket.close(SESSION_ENDED_CLOSE_CODE, `session ${reason}`);
          sessions.attach(socket, binding);
          attached = binding;
        }
        return { req: binding.latest, [BINDING]: binding };
      },
    },
  };
}
