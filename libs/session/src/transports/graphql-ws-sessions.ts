import type { IncomingMessage } from 'node:http';
import { requestOf } from '../request/session-target';
import type { SocketEndReason } from './socket-sessions';
import { socketSessionsOf, type SessionProviders } from './with-sessions';

/** The part of graphql-ws's connection context read here: `extra` as its `ws` server sets it (typed loosely, to fit its generic `Context`). */
export interface GraphqlWsContext {
  connectionParams?: unknown;
  extra: unknown;
}

/** `extra` of graphql-ws's `ws` server: the socket and its upgrade request. */
type WsExtra = { socket: { readyState?: number; close(code?: number, reason?: string): void }; request: IncomingMessage };

/** The close code graphql-ws clients get when the session of their connection ends: 4403, "Forbidden" in graphql-ws's own range. */
export const SESSION_ENDED_CLOSE_CODE = 4403;

/**
 * GraphQL subscriptions over `graphql-ws` with the session of the upgrade request: spread what this
 * returns into `GraphQLModule`'s options. The handshake's `Origin` is checked, the session read from
 * the cookie, the ID header or `connectionParams.token`; resolvers (and the guards) see it as the
 * context's `req`; and when the session ends, on any replica, the connection is closed with 4403 and
 * `session <reason>`, which ends its subscriptions.
 * @example
 * GraphQLModule.forRootAsync<ApolloDriverConfig>({ driver: ApolloDriver, inject: [ModuleRef],
 *   useFactory: (moduleRef: ModuleRef) => ({ typeDefs, ...graphqlWsSessions(moduleRef) }) })
 */
export function graphqlWsSessions(app: SessionProviders) {
  return {
    subscriptions: {
      'graphql-ws': {
        onConnect: async (context: GraphqlWsContext): Promise<boolean> => {
          const sessions = socketSessionsOf(app);
          const extra = context.extra as WsExtra;
          try {
            const binding = await sessions.handshake({ headers: extra.request.headers, auth: context.connectionParams });
            // Gone while its session was read: `onClose` came already, so it is never tied to the session.
            if (extra.socket.readyState !== undefined && extra.socket.readyState !== 1) return false;
            binding.end = (reason: SocketEndReason) => extra.socket.close(SESSION_ENDED_CLOSE_CODE, `session ${reason}`);
            sessions.attach(extra, binding);
            return true;
          } catch {
            return false; // graphql-ws closes with 4403 Forbidden
          }
        },
        onClose: (context: GraphqlWsContext): void => {
          const sessions = socketSessionsOf(app);
          const binding = sessions.bindingOf(context.extra as object);
          if (binding) sessions.detach(binding);
        },
      },
    },
    /**
     * HTTP operations keep their request; one sent over the socket (a subscription, or any operation a
     * graphql-ws client sends there) gets its connection's session as Redis holds it when it starts,
     * read and slid as a gateway event's is, as `req`.
     */
    context: (context: { req?: object; extra?: unknown }): { req: object } | Promise<{ req: object }> => {
      if (context.req) return { req: context.req };
      const binding = context.extra === undefined ? undefined : socketSessionsOf(app).bindingOf(context.extra as object);
      if (!binding) return { req: requestOf(context.extra) };
      return socketSessionsOf(app)
        .forOperation(binding)
        .then((req) => ({ req }));
    },
  };
}
