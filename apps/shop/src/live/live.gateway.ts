import { HttpException, Logger } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
  type OnGatewayConnection,
  type OnGatewayInit,
} from '@nestjs/websockets';
import { randomUUID } from 'node:crypto';
import type { Namespace, Socket } from 'socket.io';
import { PublicRoute, SessionEvents, SessionService, type SessionEvent } from 'nest-redis-session';
import { findProduct } from '../catalog/catalog';
import { AddItemDto } from '../cart/add-item.dto';
import { addToCart, viewCart, type CartView } from '../cart/cart';
import { ShopEnvironment } from '../config/shop-environment';
import { strictValidationPipe } from '../http/validation-pipe';
import { LiveCart } from './live-cart';

declare module 'express-session' {
  interface SessionData {
    /** Names the session's sockets on every replica (a socket.io room), never its ID; set at its first socket. */
    live?: string;
  }
}

/** What `cart:add` acknowledges: the cart, or the error `POST /api/cart/items` would answer. */
type CartAck = { cart: CartView } | { error: { statusCode: number; message: string } };

/**
 * The page's live channel (docs/shop-api.md, "Live channel"): socket.io namespace `/live` over the
 * websocket transport. The session comes from the handshake (`withSessions` in create-shop-app.ts);
 * the end of a session (`session:ended`) is the library's. Public: a visitor may connect, and the
 * cart is anyone's; the handshake's Origin check stands in for the CSRF token.
 */
@PublicRoute()
@WebSocketGateway({ namespace: '/live', transports: ['websocket'] })
export class LiveGateway implements OnGatewayInit, OnGatewayConnection {
  private readonly logger = new Logger('LiveGateway');
  private readonly validation = strictValidationPipe();
  @WebSocketServer() private readonly server: Namespace;

  constructor(
    private readonly sessions: SessionService,
    private readonly live: LiveCart,
    private readonly env: ShopEnvironment,
    private readonly events: SessionEvents,
  ) {}

  /**
   * A cart changed on any replica: its session's sockets here get it. A user's set of sessions changed
   * on any replica (the library's events, every replica's under `events.crossReplica`): that user's
   * sockets here get `sessions`, and their pages read the list again.
   */
  afterInit(): void {
    this.live
      .listen((live, cart) => this.server.to(room(live)).emit('cart', { cart }))
      .catch((error: Error) => this.logger.warn(`Cart updates are not subscribed: ${error.message}`));
    this.events.subscribe((event) => {
      if (changesSessionList(event)) this.server.to(userRoom(event.userId!)).emit('sessions', {});
    });
  }

  async handleConnection(@ConnectedSocket() socket: Socket): Promise<void> {
    try {
      const session = this.sessions.sessionOf(socket);
      if (session) {
        const live = session.live ?? (await this.sessions.update(socket, 'live', (current) => current ?? randomUUID()));
        await socket.join(room(live!));
      }
      const user = session?.user;
      if (user) await socket.join(userRoom(String(user.id)));
      socket.emit('hello', { user: user ? { id: user.id, username: user.username } : null, replica: this.env.REPLICA_ID });
    } catch (error) {
      this.logger.warn(`Live channel connection dropped: ${(error as Error).message}`);
      socket.disconnect();
    }
  }

  /** Adds to the cart as `POST /api/cart/items` does (same checks, same atomic update), answered by acknowledgement. */
  @SubscribeMessage('cart:add')
  async add(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown): Promise<CartAck> {
    try {
      const item = (await this.validation.transform(body, { type: 'body', metatype: AddItemDto })) as AddItemDto;
      if (!this.sessions.sessionOf(socket)) throw new HttpException('No session yet: open the shop page (or GET /api/csrf) first', 401);
      const product = findProduct(item.sku)!;
      const cart = viewCart(await this.sessions.update(socket, 'cart', (lines) => addToCart(lines, product.sku, item.qty)));
      this.live.changed(this.sessions.sessionOf(socket)?.live, cart);
      return { cart };
    } catch (error) {
      if (!(error instanceof HttpException)) throw error;
      const response = error.getResponse() as { message?: unknown } | string;
      const message = typeof response === 'string' ? response : typeof response.message === 'string' ? response.message : error.message;
      return { error: { statusCode: error.getStatus(), message } };
    }
  }
}

function room(live: string): string {
  return `live:${live}`;
}

/** The sockets of one user's sessions, whichever session: they all show that user's session list. */
function userRoom(userId: string): string {
  return `user:${userId}`;
}

/**
 * Events that change a user's list: a login adds a session, a logout, revoke or destroy takes one out, a
 * renewal (`created` naming the ID it left) changes an entry's ID. An expiry names no user (the key is gone).
 */
function changesSessionList(event: SessionEvent): boolean {
  return event.userId !== undefined;
}
