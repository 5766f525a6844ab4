import { HttpException, Module, UseGuards, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { WsAdapter } from '@nestjs/platform-ws';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, type OnGatewayConnection } from '@nestjs/websockets';
import { AppSession, AuthenticatedGuard, Session, SessionModule, SessionService, withSessions, type SessionModuleOptions } from '@app/session';
import { TestController } from '../../session/support/test-controller';
import { TEST_SECRET, type RunningApp } from '../../session/support/session-app';

/** The user each socket's session held when the gateway's `handleConnection` ran, newest last: code outside an event. */
export const usersAtConnection: unknown[] = [];

/** The events a socket test sends, the same over socket.io and `ws`. */
abstract class SessionEventsGateway implements OnGatewayConnection {
  constructor(protected readonly sessions: SessionService) {}

  handleConnection(socket: object) {
    usersAtConnection.push((this.sessions.sessionOf(socket) as { user?: unknown } | undefined)?.user ?? null);
  }

  @SubscribeMessage('whoami')
  whoami(@Session('user') user: unknown) {
    return { event: 'whoami', data: { user: user ?? null } };
  }

  /** The whole session, or null for a socket without one. */
  @SubscribeMessage('whole')
  whole(@Session() session: AppSession | undefined) {
    if (!session) return { event: 'whole', data: null };
    const { cookie: _cookie, ...data } = session as unknown as Record<string, unknown>;
    return { event: 'whole', data };
  }

  @UseGuards(AuthenticatedGuard)
  @SubscribeMessage('guarded')
  guarded(@Session('user') user: { id: string }) {
    return { event: 'guarded', data: { id: user.id } };
  }

  /** One item appended through the same atomic update as HTTP's `POST /items`. */
  @UseGuards(AuthenticatedGuard)
  @SubscribeMessage('add')
  async add(@ConnectedSocket() socket: object, @MessageBody() body: { item: string }) {
    const items = await this.sessions.update(socket, 'items', (current) => [...(current ?? []), body.item]);
    return { event: 'add', data: { count: items?.length } };
  }

  /** A new session ID from a socket (`login` or `regenerate`), answered as data: the HTTP exception's status and message. */
  @SubscribeMessage('new-id')
  async newId(@ConnectedSocket() socket: object, @MessageBody() body: { by: 'login' | 'regenerate' }) {
    try {
      if (body.by === 'login') await this.sessions.login(socket, { id: 'someone-else' });
      else await this.sessions.regenerate(socket);
      return { event: 'new-id', data: { ok: true } };
    } catch (error) {
      const answer = error instanceof HttpException ? { statusCode: error.getStatus(), message: error.message } : { statusCode: 0, message: String(error) };
      return { event: 'new-id', data: { error: answer } };
    }
  }

  /**
   * `add` as the shop's `cart:add` answers it: unguarded, and an HTTP exception of `SessionService`
   * (413 past `maxSessionBytes`, 503 without Redis...) answered in the reply as `{ error }`, not thrown.
   */
  @SubscribeMessage('add-or-error')
  async addOrError(@ConnectedSocket() socket: object, @MessageBody() body: { item: string }) {
    try {
      const items = await this.sessions.update(socket, 'items', (current) => [...(current ?? []), body.item]);
      return { event: 'add-or-error', data: { count: items?.length } };
    } catch (error) {
      if (!(error instanceof HttpException)) throw error;
      return { event: 'add-or-error', data: { error: { statusCode: error.getStatus(), message: error.message } } };
    }
  }
}

@WebSocketGateway({ namespace: '/t', transports: ['websocket'] })
class IoGateway extends SessionEventsGateway {
  constructor(sessions: SessionService) {
    super(sessions);
  }
}

@WebSocketGateway({ path: '/ws' })
class WsGateway extends SessionEventsGateway {
  constructor(sessions: SessionService) {
    super(sessions);
  }
}

type AppOptions = Omit<SessionModuleOptions, 'secret'>;

/** The app's own socket.io adapter (a subclass of `IoAdapter`, say), which `withSessions` wraps in place of a plain `IoAdapter`. */
export type IoAdapterFactory = (app: NestExpressApplication) => IoAdapter;

/**
 * A Nest app with sessions, the HTTP test routes and one gateway (socket.io or `ws`), on a free port;
 * `adapter` gives the socket.io gateway a custom adapter.
 */
export async function startSocketApp(options: AppOptions, kind: 'socket.io' | 'ws' = 'socket.io', adapter?: IoAdapterFactory): Promise<RunningApp> {
  const gateway: Type = kind === 'ws' ? WsGateway : IoGateway;
  @Module({
    imports: [SessionModule.forRoot({ secret: TEST_SECRET, ...options })],
    controllers: [TestController],
    providers: [gateway],
  })
  class SocketAppModule {}

  const app = await NestFactory.create<NestExpressApplication>(SocketAppModule, { logger: ['error'] });
  app.useWebSocketAdapter(withSessions(app, kind === 'ws' ? new WsAdapter(app) : (adapter?.(app) ?? new IoAdapter(app))));
  await app.listen(0, '127.0.0.1').catch(async (error: unknown) => {
    await app.close().catch(() => undefined);
    throw error;
  });
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1').replace('localhost', '127.0.0.1');
  return { app, url, prefix: options.prefix ?? 'sess:', close: () => app.close() };
}

/** Several replicas of the socket app on one Redis. */
export async function startSocketReplicas(count: number, options: AppOptions, kind: 'socket.io' | 'ws' = 'socket.io'): Promise<RunningApp[]> {
  const apps: RunningApp[] = [];
  for (let i = 0; i < count; i++) apps.push(await startSocketApp(options, kind));
  return apps;
}
