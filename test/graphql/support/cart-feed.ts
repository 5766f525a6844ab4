import type { OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type Redis from 'ioredis';
import { EventEmitter, on } from 'node:events';

/**
 * Cart changes for subscriptions, across replicas: a mutation publishes the new cart on a Redis
 * channel; every replica hears it on one connection of its own and hands it to that user's
 * subscriptions here. Driver-agnostic (an async iterator), so Apollo and Mercurius share it.
 */
export class CartFeed implements OnModuleInit, OnModuleDestroy {
  private readonly local = new EventEmitter().setMaxListeners(0);
  private subscriber: Redis | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly channel: string,
  ) {}

  /** Subscribed before the app listens: no change published after a subscription's first value is missed. */
  async onModuleInit(): Promise<void> {
    // The library's client sends nothing before it is connected (no offline queue); this one may wait.
    this.subscriber = this.redis.duplicate({ enableOfflineQueue: true });
    this.subscriber.on('message', (_channel: string, message: string) => {
      const { userId, items } = JSON.parse(message) as { userId: string; items: string[] };
      this.local.emit(`cart:${userId}`, items);
    });
    await this.subscriber.subscribe(this.channel);
  }

  onModuleDestroy(): void {
    this.subscriber?.disconnect();
  }

  async publish(userId: string, items: string[]): Promise<void> {
    await this.redis.publish(this.channel, JSON.stringify({ userId, items }));
  }

  /**
   * The user's cart as the subscription found it, then the cart after each change on any replica.
   * Listening starts before the first value, so a client that has it misses no later change; `return`
   * (the subscription's end) stops listening at once, even while waiting.
   */
  changes(userId: string, now: string[]): AsyncIterableIterator<{ cartChanged: string[] }> {
    const source = on(this.local, `cart:${userId}`) as AsyncIterableIterator<[string[]]>;
    let first: string[] | undefined = now;
    return {
      async next() {
        if (first) {
          const value = first;
          first = undefined;
          return { value: { cartChanged: value }, done: false };
        }
        const change = await source.next();
        return change.done ? { value: undefined, done: true } : { value: { cartChanged: change.value[0] }, done: false };
      },
      async return() {
        await source.return?.();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }
}
