import { AsyncLocalStorage } from 'node:async_hooks';
import type { Cluster, Redis } from 'ioredis';
import { messages } from '../errors/session.messages';

/** The `durability` option: how many replicas must acknowledge a security write, and how long to wait for them. */
export interface DurabilitySettings {
  /** Replicas that must have the write before the operation resolves. */
  replicas: number;
  /** Ms WAIT may block for them. */
  timeout: number;
}

/** The writes of one security operation: the keys written, to ask the right node on a cluster. */
interface DurableScope {
  client: Redis | Cluster;
  keys: Set<string>;
}

const scopes = new AsyncLocalStorage<DurableScope>();

/**
 * Waits for replicas to acknowledge the writes that security depends on (login, logout, revoke, log
 * out everywhere, ID changes). WAIT counts the writes made on the connection it is sent on, and blocks
 * that connection meanwhile; so those writes go over a connection of their own, a duplicate of the
 * client made at the first use, and WAIT follows them there: the shared connection never stalls. On a
 * cluster, WAIT goes to the node of each key written, in a pipeline routed by that key. A shortfall
 * (fewer acknowledgements than `replicas`, or none could be asked for) is logged and reported to
 * `onShortfall` (a metric counts it), never a failure: the write itself succeeded on the master.
 */
export class ReplicaAcknowledgement {
  private dedicated: (Redis | Cluster) | undefined;
  private connecting: Promise<Redis | Cluster> | undefined;

  constructor(
    private readonly settings: DurabilitySettings,
    private readonly shared: Redis | Cluster,
    private readonly prepare: (client: Redis | Cluster) => Redis | Cluster,
    private readonly connectTimeout: number,
    private readonly logger: Pick<Console, 'warn'>,
    private readonly onShortfall: () => void,
  ) {}

  /** The connection a call should use: the dedicated one inside a security operation, else none (the shared one). */
  clientFor(redisKey: string | undefined): (Redis | Cluster) | undefined {
    const scope = scopes.getStore();
    if (!scope) return undefined;
    if (redisKey !== undefined) scope.keys.add(redisKey);
    return scope.client;
  }

  /** Runs a security operation with its writes on the dedicated connection, then waits for the replicas. */
  async run<T>(operation: () => Promise<T>): Promise<T> {
    if (scopes.getStore()) return operation(); // nested (login regenerates): the outer one waits
    const client = await this.connected().catch(() => undefined);
    if (!client) {
      this.shortfall(messages.durabilityNotConnected());
      return operation();
    }
    const scope: DurableScope = { client, keys: new Set() };
    const result = await scopes.run(scope, operation);
    if (scope.keys.size > 0) await this.waitForReplicas(scope);
    return result;
  }

  /** Closes the dedicated connection: the module made it, so the module closes it, at shutdown only. */
  async close(): Promise<void> {
    const client = this.dedicated;
    this.dedicated = undefined;
    if (client && client.status !== 'end') await client.quit().catch(() => client.disconnect());
  }

  private async waitForReplicas(scope: DurableScope): Promise<void> {
    const { replicas, timeout } = this.settings;
    try {
      let acknowledged: number;
      if (scope.client.isCluster) {
        // WAIT has no key, so a pipeline whose one keyed command routes it to the node that took the write.
        const replies = await Promise.all(
          [...scope.keys].map((key) => (scope.client as Cluster).pipeline().exists(key).call('WAIT', replicas, timeout).exec()),
        );
        acknowledged = Math.min(...replies.map((reply) => Number(reply?.[1]?.[1] ?? 0)));
      } else {
        acknowledged = Number(await (scope.client as Redis).call('WAIT', replicas, timeout));
      }
      if (acknowledged < replicas) this.shortfall(messages.durabilityShortfall(acknowledged, replicas, timeout));
    } catch (error) {
      this.shortfall(messages.durabilityShortfall(0, replicas, timeout, (error as Error)?.message));
    }
  }

  private shortfall(message: string): void {
    this.logger.warn(message);
    this.onShortfall();
  }

  /** The dedicated connection, made on first use and ready; its first use waits for it, within the connect timeout. */
  private connected(): Promise<Redis | Cluster> {
    if (this.dedicated?.status === 'ready') return Promise.resolve(this.dedicated);
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connect(): Promise<Redis | Cluster> {
    if (!this.dedicated) {
      // `duplicate` differs in signature between Redis and Cluster; called bare, both copy the shared client's options.
      this.dedicated = this.prepare((this.shared.duplicate as () => Redis | Cluster).call(this.shared));
      // The shared client's listener already reports an outage; this one only must not be unhandled.
      this.dedicated.on('error', () => undefined);
    }
    const client = this.dedicated;
    if (client.status === 'ready') return client;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error('not ready')), this.connectTimeout);
      const done = (error?: Error) => {
        clearTimeout(timer);
        client.off('ready', onReady);
        if (error) reject(error);
        else resolve();
      };
      const onReady = () => done();
      client.once('ready', onReady);
    });
    return client;
  }
}
