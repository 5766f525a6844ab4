import { EventEmitter } from 'node:events';
import { Cluster, ReplyError, type Redis, type RedisOptions } from 'ioredis';

// A Redis that speaks just enough of server-assisted caching for the unit specs of `cache/`
// (tracked-node.spec.ts, invalidation-tracker.spec.ts): duplicated connections, CLIENT ID,
// SUBSCRIBE, CLIENT TRACKING … REDIRECT … BCAST PREFIX, SET and PUBLISH, each delivering what a real
// server would to the subscribers. The specs drive what a real server will not do on demand:
// refuse tracking, drop a connection, hold an invalidation back, change a cluster's masters.
// Against a real Redis the same code runs in test/cache/*.e2e-spec.ts.

/** What one master does with the commands it receives; each spec sets what it needs. */
export interface FakeMasterBehaviour {
  /** Rejects every `connect()` with this error (a master out of reach). */
  unreachable?: Error;
  /** Answers `CLIENT TRACKING` with this error (a managed service that refuses it). */
  refuseTracking?: Error;
  /** Answers `SUBSCRIBE` to these channels with these errors (an ACL that denies a channel). */
  refuseSubscribe?: Record<string, Error>;
  /** Answers `SET` with this error. */
  refuseSet?: Error;
  /** Invalidations and messages are held back, as on a link that stalls, until `release()`. */
  holdDeliveries?: boolean;
  /** Every `connect()` waits, as on a slow handshake, until `releaseConnects()`. */
  holdConnects?: boolean;
}

/** A reply as Redis gives it: later, and a refusal as a rejection. */
const reply = <T>(run: () => T): Promise<T> => new Promise<T>((resolve) => resolve(run()));

/** One command a fake connection received, in order. */
export type FakeCommand = [name: string, ...args: string[]];

/** A connection `duplicate()` made: what the library's `TrackedNode` talks to. */
export class FakeConnection extends EventEmitter {
  readonly commands: FakeCommand[] = [];
  readonly id: number;
  connected = false;
  disconnected = false;
  readonly channels = new Set<string>();

  constructor(
    readonly master: FakeMaster,
    readonly settings: Partial<RedisOptions>,
  ) {
    super();
    this.id = master.nextId++;
  }

  connect(): Promise<void> {
    this.commands.push(['CONNECT']);
    const connected = () => {
      if (this.master.behaviour.unreachable) throw this.master.behaviour.unreachable;
      this.connected = true;
    };
    if (!this.master.behaviour.holdConnects) return reply(connected);
    return new Promise<void>((resolve) => this.master.heldConnects.push(resolve)).then(connected);
  }

  client(subcommand: string): Promise<number> {
    this.commands.push(['CLIENT', subcommand]);
    return reply(() => this.id);
  }

  subscribe(channel: string): Promise<number> {
    this.commands.push(['SUBSCRIBE', channel]);
    return reply(() => {
      const refusal = this.master.behaviour.refuseSubscribe?.[channel];
      if (refusal) throw refusal;
      this.channels.add(channel);
      return this.channels.size;
    });
  }

  call(...args: string[]): Promise<string> {
    this.commands.push(args as FakeCommand);
    return reply(() => this.track(args));
  }

  private track(args: string[]): string {
    const [command, subcommand, onOff, redirect, target, bcast, prefixWord, prefix] = args;
    if (command !== 'CLIENT' || subcommand !== 'TRACKING') throw new Error(`the fake does not know ${args.join(' ')}`);
    if (this.master.behaviour.refuseTracking) throw this.master.behaviour.refuseTracking;
    if (onOff !== 'on' || redirect !== 'REDIRECT' || bcast !== 'BCAST' || prefixWord !== 'PREFIX')
      throw new Error(`the fake expects REDIRECT … BCAST PREFIX …, got ${args.join(' ')}`);
    this.master.tracking.push({ redirectTo: Number(target), prefix, by: this });
    return 'OK';
  }

  set(key: string, value: string, ...options: string[]): Promise<string> {
    this.commands.push(['SET', key, value, ...options]);
    return reply(() => {
      if (this.master.behaviour.refuseSet) throw this.master.behaviour.refuseSet;
      this.master.changed(key);
      return 'OK';
    });
  }

  publish(channel: string, message: string): Promise<number> {
    this.commands.push(['PUBLISH', channel, message]);
    return reply(() => this.master.deliver(channel, Buffer.from(message)));
  }

  /** A drop the library did not ask for: Redis restarted, a proxy cut the link. */
  drop(): void {
    this.connected = false;
    this.master.forget(this);
    this.emit('close');
  }

  disconnect(): void {
    if (this.disconnected) return;
    this.disconnected = true;
    this.connected = false;
    this.master.forget(this);
    this.emit('close');
  }
}

/** One Redis master: the connections duplicated from it, and who tracks what on it. */
export class FakeMaster {
  nextId = 1;
  readonly connections: FakeConnection[] = [];
  tracking: { redirectTo: number; prefix: string; by: FakeConnection }[] = [];
  readonly heldConnects: (() => void)[] = [];
  private held: (() => void)[] = [];

  constructor(
    readonly host: string,
    readonly port: number,
    public behaviour: FakeMasterBehaviour = {},
  ) {}

  /** What a Cluster's `nodes('master')` or a standalone client hands to `TrackedNode`. */
  asClient(keyPrefix?: string): Redis {
    const client = new EventEmitter() as EventEmitter & Record<string, unknown>;
    client.status = 'ready';
    client.options = { host: this.host, port: this.port, keyPrefix };
    client.duplicate = (settings: Partial<RedisOptions>) => {
      const connection = new FakeConnection(this, settings);
      this.connections.push(connection);
      return connection;
    };
    return client as unknown as Redis;
  }

  /** A key changed (by anyone): every tracking client whose prefix it starts with is told, at its redirect. */
  changed(key: string): void {
    for (const { redirectTo, prefix } of this.tracking) {
      if (!key.startsWith(prefix)) continue;
      const subscriber = this.connections.find((connection) => connection.id === redirectTo && connection.connected);
      if (subscriber) this.send(subscriber, Buffer.from('__redis__:invalidate'), [Buffer.from(key)]);
    }
  }

  /** FLUSHALL: Redis tells every tracking redirect with a null message. */
  flushAll(): void {
    for (const { redirectTo } of this.tracking) {
      const subscriber = this.connections.find((connection) => connection.id === redirectTo && connection.connected);
      if (subscriber) this.send(subscriber, Buffer.from('__redis__:invalidate'), null);
    }
  }

  /** PUBLISH: every connection subscribed to the channel hears it; answers how many. */
  deliver(channel: string, message: Buffer | Buffer[] | null): number {
    const listeners = this.connections.filter((connection) => connection.connected && connection.channels.has(channel));
    for (const listener of listeners) this.send(listener, Buffer.from(channel), message);
    return listeners.length;
  }

  /** Lets through what `holdDeliveries` kept back, and delivers at once from now on. */
  release(): void {
    this.behaviour = { ...this.behaviour, holdDeliveries: false };
    const held = this.held;
    this.held = [];
    for (const deliver of held) deliver();
  }

  /** Lets the connections held so far through (`holdConnects` stays as set, for those to come). */
  releaseConnects(): void {
    for (const connect of this.heldConnects.splice(0)) connect();
  }

  forget(connection: FakeConnection): void {
    // Redis forgets the tracking of a connection that closed, and the redirect to one that closed.
    this.tracking = this.tracking.filter(({ by, redirectTo }) => by !== connection && redirectTo !== connection.id);
  }

  private send(to: FakeConnection, channel: Buffer, message: Buffer | Buffer[] | null): void {
    const deliver = () => to.emit('messageBuffer', channel, message);
    if (this.behaviour.holdDeliveries) this.held.push(deliver);
    else queueMicrotask(deliver); // a real server's message arrives after the reply to the write
  }
}

/** A standalone client over one master, as `InvalidationTracker` receives it. */
export function fakeStandalone(master: FakeMaster, keyPrefix?: string): Redis & EventEmitter {
  return master.asClient(keyPrefix) as Redis & EventEmitter;
}

/**
 * A cluster client over some masters: `instanceof Cluster` holds, as the tracker checks it; `slots`
 * gives each slot to a master in ranges, as `CLUSTER SLOTS` would, but those `unassigned` names.
 */
export function fakeCluster(masters: FakeMaster[], keyPrefix?: string, unassigned: (slot: number) => boolean = () => false) {
  const cluster = Object.create(Cluster.prototype) as Cluster & { masters: FakeMaster[] };
  EventEmitter.call(cluster);
  const own = cluster as unknown as Record<string, unknown>;
  own.status = 'ready';
  own.options = { keyPrefix };
  own.masters = masters;
  const clients = new Map<FakeMaster, Redis>();
  own.nodes = (role: string) => {
    if (role !== 'master') throw new Error(`the fake knows masters only, not ${role}`);
    return cluster.masters.map((master) => {
      if (!clients.has(master)) clients.set(master, master.asClient());
      return clients.get(master)!;
    });
  };
  Object.defineProperty(cluster, 'slots', {
    get: () => {
      // As ioredis keeps it: a sparse array, no entry for a slot no master serves (a resharding).
      const slots: string[][] = [];
      const share = Math.ceil(16_384 / cluster.masters.length);
      for (let slot = 0; slot < 16_384; slot++) {
        const master = cluster.masters[Math.floor(slot / share)];
        if (!unassigned(slot)) slots[slot] = [`${master.host}:${master.port}`];
      }
      return slots;
    },
  });
  return cluster;
}

/** The reply errors a managed service gives where tracking is refused. */
export const refusals = {
  unknownCommand: () => new ReplyError("ERR unknown subcommand 'TRACKING'. Try CLIENT HELP."),
  noPermission: () => new ReplyError("NOPERM this user has no permissions to run the 'client|tracking' command"),
};
