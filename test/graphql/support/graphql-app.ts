import { Module, UseGuards } from '@nestjs/common';
import { ModuleRef, NestFactory } from '@nestjs/core';
import { setTimeout as delay } from 'node:timers/promises';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Args, Context, GraphQLModule, Mutation, Query, Resolver, Subscription } from '@nestjs/graphql';
import type { Request } from 'express';
import {
  AuthenticatedGuard,
  CsrfGuard,
  graphqlWsSessions,
  Session,
  SessionModule,
  SessionService,
  type SessionModuleOptions,
  type SessionUser,
} from '@app/session';
import { TEST_SECRET, type RunningApp } from '../../session/support/session-app';

declare module 'express-session' {
  interface SessionData {
    items?: string[];
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
  }
  type Mutation {
    login(id: ID!): Login!
    addToCart(item: String!): [String!]!
    logout: Boolean!
  }
  type Subscription {
    ticks: String!
  }
`;

/** A tick every 50 ms, named for the user, for as long as the subscription lasts. */
async function* ticksFor(userId: string): AsyncGenerator<{ ticks: string }> {
  for (let n = 0; ; n++) {
    await delay(50);
    yield { ticks: `${userId}:${n}` };
  }
}

/** Cookie-authenticated mutations need `x-csrf-token` (CsrfGuard); queries do not. */
@Resolver()
@UseGuards(CsrfGuard)
class CartResolver {
  constructor(private readonly sessions: SessionService) {}

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
  addToCart(@Args('item') item: string, @Context('req') req: Request) {
    return this.sessions.update(req, 'items', (items) => [...(items ?? []), item]);
  }

  /** Over graphql-ws: the session of the connection's upgrade request, guarded as a query is. */
  @Subscription()
  @UseGuards(AuthenticatedGuard)
  ticks(@Session('user') user: SessionUser) {
    return ticksFor(String(user.id));
  }

  @Mutation()
  async logout(@Context('req') req: Request) {
    await this.sessions.logout(req);
    return true;
  }
}

type AppOptions = Omit<SessionModuleOptions, 'secret'>;

/** The example: SessionModule and Apollo on one Express app, on a free port of 127.0.0.1. */
export async function startGraphqlApp(options: AppOptions): Promise<RunningApp> {
  @Module({
    imports: [
      SessionModule.forRoot({ secret: TEST_SECRET, ...options }),
      // Subscriptions over graphql-ws with the session of the upgrade request.
      GraphQLModule.forRootAsync<ApolloDriverConfig>({
        driver: ApolloDriver,
        inject: [ModuleRef],
        useFactory: (moduleRef: ModuleRef) => ({ typeDefs, ...graphqlWsSessions(moduleRef) }),
      }),
    ],
    providers: [CartResolver],
  })
  class GraphqlAppModule {}

  const app = await NestFactory.create<NestExpressApplication>(GraphqlAppModule, { logger: ['error'] });
  await app.listen(0, '127.0.0.1').catch(async (error: unknown) => {
    await app.close().catch(() => undefined);
    throw error;
  });
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1').replace('localhost', '127.0.0.1');
  return { app, url, prefix: options.prefix ?? 'sess:', close: () => app.close() };
}
