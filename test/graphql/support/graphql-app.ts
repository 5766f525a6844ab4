import { Module, UseGuards, type DynamicModule } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { setTimeout as delay } from 'node:timers/promises';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { MercuriusDriver, type MercuriusDriverConfig } from '@nestjs/mercurius';
import { Args, Context, GraphQLModule, Mutation, Query, Resolver, Subscription } from '@nestjs/graphql';
import type { Request } from 'express';
import type Redis from 'ioredis';
import {
  AuthenticatedGuard,
  CsrfGuard,
  graphqlWsSessions,
  mercuriusSessions,
  Session,
  SESSION_REDIS,
  SessionModule,
  SessionService,
  type AppSession,
  type SessionModuleOptions,
  type SessionUser,
} from '@app/session';
import { createNestApp } from '../../support/http-platform';
import { TEST_SECRET, type RunningApp } from '../../session/support/session-app';
import { CartFeed } from './cart-feed';

declare module 'express-session' {
  interface SessionData {
    items?: string[];
    note?: string;
  }
}

/** A shop in miniature, schema first: login, a cart and logout through resolvers. */
const typeDefs = /* GraphQL */ `
  type User {
    id: ID!
    name: String!
  }
  type Login {
    user: User!
    csrfToken: String!
  }
  type Query {
    me: User
    csrfToken: String!
    cart: [String!]!
    note: String
  }
  type Mutation {
    login(id: ID!): Login!
    addToCart(item: String!): [String!]!
    logout: Boolean!
    leaveNote(text: String!): String!
  }
  type Subscription {
    whoami: String!
    ticks: String!
    cartChanged: [String!]!
  }
`;

/** A tick every 50 ms, named for the user, for as long as the subscription lasts. */
async function* ticksFor(userId: string): AsyncGenerator<{ ticks: string }> {
  for (let n = 0; ; n++) {
    await delay(50);
    yield { ticks: `${userId}:${n}` };
  }
}

/** One value, then the end of the subscription. */
function onceOf<T>(value: T): AsyncIterableIterator<T> {
  return (async function* () {
    yield await Promise.resolve(value);
  })();
}

/**
 * Cookie-authenticated mutations need `x-csrf-token` (CsrfGuard); queries do not. The same class
 * serves Apollo and Mercurius: both contexts hold the request as `req`.
 */
@Resolver()
@UseGuards(CsrfGuard)
class CartResolver {
  constructor(
    private readonly sessions: SessionService,
    private readonly feed: CartFeed,
  ) {}

  @Query()
  me(@Session('user') user: SessionUser | undefined) {
    return user ?? null;
  }

  @Query()
  csrfToken(@Context('req') req: Request) {
    return this.sessions.csrfToken(req);
  }

  @Query()
  @UseGuards(AuthenticatedGuard)
  cart(@Session('items') items: string[] | undefined) {
    return items ?? [];
  }

  @Mutation()
  async login(@Args('id') id: string, @Context('req') req: Request) {
    await this.sessions.login(req, { id, name: `user ${id}` });
    return { user: req.session.user, csrfToken: await this.sessions.csrfToken(req) };
  }

  @Mutation()
  @UseGuards(AuthenticatedGuard)
  async addToCart(@Args('item') item: string, @Context('req') req: Request, @Session('user') user: SessionUser) {
    const items = await this.sessions.update(req, 'items', (items) => [...(items ?? []), item]);
    await this.feed.publish(String(user.id), items ?? []);
    return items;
  }

  /** Over a WebSocket: the session of the connection's upgrade request, guarded as a query is. */
  @Subscription()
  @UseGuards(AuthenticatedGuard)
  ticks(@Session('user') user: SessionUser) {
    return ticksFor(String(user.id));
  }

  /**
   * Unguarded, with the whole session: the user's id, or 'anonymous' for a connection without a
   * session, for which none is made (no response could carry its cookie).
   */
  @Subscription()
  whoami(@Session() session: AppSession | undefined) {
    return onceOf({ whoami: session?.user ? String(session.user.id) : 'anonymous' });
  }

  /** The cart now, then after each change made on any replica. */
  @Subscription()
  @UseGuards(AuthenticatedGuard)
  cartChanged(@Session('user') user: SessionUser, @Session('items') items: string[] | undefined) {
    return this.feed.changes(String(user.id), items ?? []);
  }

  /** A plain write to the session, no service call: the way out saves it (and sets the cookie), as for a route. */
  @Mutation()
  leaveNote(@Args('text') text: string, @Session() session: AppSession) {
    session.note = text;
    return text;
  }

  @Query()
  note(@Session('note') note: string | undefined) {
    return note ?? null;
  }

  @Mutation()
  async logout(@Context('req') req: Request) {
    await this.sessions.logout(req);
    return true;
  }
}

type AppOptions = Omit<SessionModuleOptions, 'secret'>;

/** The GraphQL drivers the example runs on: Apollo on Express, Mercurius on Fastify. */
export type GraphqlDriverName = 'apollo' | 'mercurius';

/** GraphQLModule on `driver`, with subscriptions that carry the session of their upgrade request. */
function graphqlModule(driver: GraphqlDriverName): DynamicModule {
  if (driver === 'apollo') {
    return GraphQLModule.forRootAsync<ApolloDriverConfig>({
      driver: ApolloDriver,
      inject: [ModuleRef],
      useFactory: (moduleRef: ModuleRef) => ({ typeDefs, ...graphqlWsSessions(moduleRef) }),
    });
  }
  return GraphQLModule.forRootAsync<MercuriusDriverConfig>({
    driver: MercuriusDriver,
    inject: [ModuleRef],
    useFactory: (moduleRef: ModuleRef) => ({ typeDefs, ...mercuriusSessions(moduleRef) }),
  });
}

/** The example: SessionModule and GraphQL on `driver`, on a free port of 127.0.0.1. */
export async function startGraphqlApp(options: AppOptions, driver: GraphqlDriverName = 'apollo'): Promise<RunningApp> {
  const prefix = options.prefix ?? 'sess:';
  @Module({
    imports: [SessionModule.forRoot({ secret: TEST_SECRET, ...options }), graphqlModule(driver)],
    providers: [
      CartResolver,
      // One channel per prefix: suites running side by side on one Redis do not hear each other.
      { provide: CartFeed, inject: [SESSION_REDIS], useFactory: (redis: Redis) => new CartFeed(redis, `${prefix}cart-changes`) },
    ],
  })
  class GraphqlAppModule {}

  const app = await createNestApp(GraphqlAppModule, { logger: ['error'] }, driver === 'apollo' ? 'express' : 'fastify');
  await app.listen(0, '127.0.0.1').catch(async (error: unknown) => {
    await app.close().catch(() => undefined);
    throw error;
  });
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1').replace('localhost', '127.0.0.1');
  return { app, url, prefix, close: () => app.close() };
}
