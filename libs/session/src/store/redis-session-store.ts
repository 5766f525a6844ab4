import { Cookie, Store, type SessionData } from 'express-session';
import type { Request } from 'express';
import { Cluster, ReplyError, type Redis } from 'ioredis';
import { messages } from '../errors/session.messages';
import { SessionConfigError } from '../errors/session-config.error';
import { SessionStoreUnavailableError } from '../errors/session-store-unavailable.error';
import { SessionTooLargeError } from '../errors/session-too-large.error';
import { settle, type StoreCallback } from './callbackify';
import { withSessionCommands, type SessionClient } from './redis-commands';
import { CorruptSessionError, cookieSettingsJson, decodeSession, diffSession, type SessionDelta } from './session-codec';
import { digestOf } from './session-key';
import { attachState, stateOf, type SessionState } from './session-state';

/** Options of `RedisSessionStore`. */
export interface RedisSessionStoreOptions {
  /** An ioredis `Redis` (standalone or Sentinel) or `Cluster` client; the store never closes it. */
  client: Redis | Cluster;
  /** Prefix of every key. @default 'sess:' */
  prefix?: string;
  /** Expiry, in ms, of a session whose cookie has none (a browser-session cookie). @default 86_400_000 (1 day) */
  ttl?: number;
  /** Ms after creation after which a session is dead however active; 0 for none. @default 0 */
  absoluteTimeout?: number;
  /** Slide the expiry when a session is read, so a request that only reads costs one round trip. @default false */
  refreshOnRead?: boolean;
  /** Ms between two updates of a logged-in session's last-seen time. @default 60_000 */
  lastSeenInterval?: number;
  /** Ms a Redis call may take before it fails with `SessionStoreUnavailableError`; 0 for no limit. @default 1_000 */
  commandTimeout?: number;
  /** Largest session, in bytes of JSON, that a save accepts. @default 65_536 */
  maxSessionBytes?: number;
  /**
   * The cookie settings the session middleware uses (as express-session's `cookie` option). A session
   * whose cookie matches them does not store its cookie, which saves bytes per session. @default undefined
   */
  cookie?: object;
  /** Where corrupt values and connection changes are reported. @default console */
  logger?: Pick<Console, 'warn' | 'error'>;
}

type Callback<T = void> = StoreCallback<T>;
type StoredSession = SessionData & Record<string, unknown>;
const GONE = 0;

/**
 * An express-session store over Redis: one hash per session, one field per top-level key, so a save
 * writes only what changed and parallel requests changing different keys keep all their changes.
 * Usable without Nest: `app.use(session({ store: new RedisSessionStore({ client }) }))`.
 */
export class RedisSessionStore extends Store {
  readonly client: SessionClient;
  readonly prefix: string;
  readonly ttl: number;
  readonly absoluteTimeout: number;
  readonly maxSessionBytes: number;
  private readonly refreshOnRead: boolean;
  private readonly lastSeenInterval: number;
  private readonly commandTimeout: number;
  private readonly clientBoundsCommands: boolean;
  private readonly cookieTemplate: string | undefined;
  private readonly readWindow: number;
  private readonly logger: Pick<Console, 'warn' | 'error'>;
  private connected = true;

  constructor(options: RedisSessionStoreOptions) {
    super();
    if (!options?.client || typeof (options.client as Redis).defineCommand !== 'function') {
      throw new SessionConfigError('client', 'must be an ioredis Redis or Cluster instance');
    }
    this.client = withSessionCommands(options.client);
    this.prefix = options.prefix ?? 'sess:';
    this.ttl = options.ttl ?? 24 * 60 * 60_000; // 1 day, as connect-redis
    this.absoluteTimeout = options.absoluteTimeout ?? 0; // none
    this.refreshOnRead = options.refreshOnRead ?? false;
    this.lastSeenInterval = options.lastSeenInterval ?? 60_000; // 1 min
    this.commandTimeout = options.commandTimeout ?? 1_000; // 1 s
    // A client that bounds its own commands as tightly needs no second timer per call.
    const own = (options.client as Redis).options?.commandTimeout ?? (options.client as Cluster).options?.redisOptions?.commandTimeout;
    this.clientBoundsCommands = own !== undefined && own <= this.commandTimeout;
    this.maxSessionBytes = options.maxSessionBytes ?? 64 * 1024; // 64 KiB
    this.logger = options.logger ?? console;
    this.cookieTemplate = options.cookie ? cookieSettingsJson(templateCookie(options.cookie)) : undefined;
    const templateMaxAge = (options.cookie as { maxAge?: number } | undefined)?.maxAge;
    this.readWindow = this.refreshOnRead ? (templateMaxAge ?? this.ttl) : 0;
    this.watchConnection();
  }

  /** Redis key of a session ID. */
  keyOf(sessionId: string): string {
    return this.prefix + digestOf(sessionId);
  }

  override get(sid: string, callback?: Callback<StoredSession | null>): Promise<StoredSession | null> {
    return settle(this.load$(sid), callback);
  }

  override set(sid: string, session: SessionData, callback?: Callback): Promise<void> {
    return settle(this.save$(sid, session as StoredSession), callback);
  }

  override touch(sid: string, session: SessionData, callback?: () => void): Promise<void> {
    return settle(this.touch$(sid, session as StoredSession), callback);
  }

  override destroy(sid: string, callback?: Callback): Promise<void> {
    return settle(this.run(() => this.client.del(this.keyOf(sid))).then(() => undefined), callback);
  }

  /**
   * Inflates a session read by `get` and keeps the store's bookkeeping on it, so the save at the end
   * of the request can write only the changed fields.
   */
  override createSession(req: Request, data: SessionData): any {
    const state = stateOf(data);
    const session = super.createSession(req, data);
    if (state) attachState(session, state);
    return session;
  }

  /** Every live session, keyed by its digest (the raw IDs are never stored, so they cannot be listed). */
  override all(callback?: Callback<Record<string, StoredSession>>): Promise<Record<string, StoredSession>> {
    return settle(this.all$(), callback);
  }

  /** Digests of every live session. */
  ids(callback?: Callback<string[]>): Promise<string[]> {
    return settle(this.scanKeys('hash').then((keys) => keys.map((key) => key.slice(this.prefix.length))), callback);
  }

  override length(callback?: Callback<number>): Promise<number> {
    return settle(this.scanKeys('hash').then((keys) => keys.length), callback);
  }

  /** Deletes every key under the prefix: sessions and user indexes, on every master of a cluster. */
  override clear(callback?: Callback): Promise<void> {
    const cleared = this.scanKeys().then(async (keys) => {
      // One key per DEL: on a cluster the keys live in different slots.
      await Promise.all(keys.map((key) => this.client.del(key)));
    });
    return settle(cleared, callback);
  }

  /** Runs a Redis call with the store's failure rules: fail fast while disconnected, bounded wait. */
  run<T>(operation: () => Promise<T>): Promise<T> {
    const status = this.client.status;
    if (status === 'reconnecting' || status === 'end' || status === 'close') {
      return Promise.reject(new SessionStoreUnavailableError(messages.storeDisconnected(status)));
    }
    const pending = operation();
    if (!this.commandTimeout || this.clientBoundsCommands) return pending.catch((error) => Promise.reject(unavailable(error)));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new SessionStoreUnavailableError(messages.storeTimeout(this.commandTimeout))), this.commandTimeout);
      pending.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error) => {
          clearTimeout(timer);
          reject(unavailable(error));
        },
      );
    });
  }

  /** Expiry a write gives the session: the cookie's, else the idle window, never past the absolute deadline. */
  expiryOf(session: StoredSession, createdAt: number, now: number): number {
    const expires = session.cookie?.expires;
    let at = expires ? new Date(expires).getTime() : now + this.ttl;
    if (this.absoluteTimeout > 0) at = Math.min(at, createdAt + this.absoluteTimeout);
    return at;
  }

  /** The bookkeeping of a session object, created for one that was never read from Redis. */
  stateFor(session: object): SessionState {
    return stateOf(session) ?? attachState(session, { stored: null, createdAt: Date.now(), refreshed: false });
  }

  private async load$(sid: string): Promise<StoredSession | null> {
    const key = this.keyOf(sid);
    let reply: [number, string[]] | null;
    try {
      reply = await this.run(() =>
        this.client.sessionLoad(key, Date.now(), this.readWindow, this.absoluteTimeout, this.lastSeenInterval),
      );
    } catch (error: unknown) {
      if (error instanceof ReplyError && /WRONGTYPE/.test((error as Error).message)) return this.corrupt(key, 'not a hash');
      throw error;
    }
    if (!reply) return null;
    try {
      const { data, state } = decodeSession(reply[1], Number(reply[0]), this.cookieTemplate);
      state.refreshed = this.readWindow > 0;
      state.key = key;
      attachState(data, state);
      return data;
    } catch (error) {
      if (error instanceof CorruptSessionError) return this.corrupt(key, error.message);
      throw error;
    }
  }

  /**
   * Writes what changed in the session since it was read, or answers null, synchronously, when
   * nothing did and the read already slid the expiry: the common case of a request that only reads.
   */
  saveChanges(sid: string, session: SessionData): Promise<void> | null {
    let delta: SessionDelta;
    const state = this.stateFor(session);
    // The same object saved under a new ID: nothing of it is at that key yet, so 'patch' would drop it.
    if (state.stored && state.key !== undefined && state.key !== this.keyOf(sid)) state.stored = null;
    try {
      delta = this.deltaOf(session as StoredSession, state);
    } catch (error) {
      return Promise.reject(error);
    }
    if (state.stored && delta.set.length === 0 && delta.del.length === 0 && state.refreshed) return null;
    return this.write(sid, session as StoredSession, state, delta);
  }

  private async save$(sid: string, session: StoredSession): Promise<void> {
    await this.saveChanges(sid, session);
  }

  private deltaOf(session: StoredSession, state: SessionState): SessionDelta {
    const delta = diffSession(session, state, this.cookieTemplate);
    if (delta.bytes > this.maxSessionBytes) throw new SessionTooLargeError(delta.bytes, this.maxSessionBytes);
    return delta;
  }

  private async write(sid: string, session: StoredSession, state: SessionState, delta: SessionDelta): Promise<void> {
    const now = Date.now();
    const mode = state.stored ? 'patch' : 'replace';
    const args = [mode, this.expiryOf(session, state.createdAt, now), now, delta.set.length / 2, ...delta.set, ...delta.del];
    const result = await this.run(() => this.client.sessionSave(this.keyOf(sid), ...args));
    if (result === GONE) return; // destroyed meanwhile: the write is dropped, never resurrects it
    state.stored = delta.next;
    state.key = this.keyOf(sid);
    state.pendingMeta = undefined;
  }

  private async touch$(sid: string, session: StoredSession): Promise<void> {
    const state = stateOf(session);
    if (state?.refreshed) return; // the read already slid the expiry in the same round trip
    const now = Date.now();
    const wanted = this.expiryOf(session, state?.createdAt ?? now, now);
    await this.run(() => this.client.sessionTouch(this.keyOf(sid), wanted, now, this.absoluteTimeout));
  }

  private async all$(): Promise<Record<string, StoredSession>> {
    const keys = await this.scanKeys('hash');
    const sessions: Record<string, StoredSession> = {};
    await Promise.all(
      keys.map(async (key) => {
        const reply = await this.run(() => this.client.sessionLoad(key, Date.now(), 0, this.absoluteTimeout, Number.MAX_SAFE_INTEGER));
        if (!reply) return;
        try {
          sessions[key.slice(this.prefix.length)] = decodeSession(reply[1], Number(reply[0]), this.cookieTemplate).data;
        } catch (error) {
          if (!(error instanceof CorruptSessionError)) throw error;
          this.corrupt(key, error.message);
        }
      }),
    );
    return sessions;
  }

  /** Keys under the prefix, by SCAN on every master (a cluster spreads them over its nodes). */
  private async scanKeys(type?: 'hash'): Promise<string[]> {
    const nodes = this.client instanceof Cluster ? await this.masters(this.client) : [this.client as Redis];
    const keys: string[] = [];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const args: (string | number)[] = ['MATCH', `${escapeGlob(this.prefix)}*`, 'COUNT', 1000];
        if (type) args.push('TYPE', type);
        const [next, batch] = (await this.run(() => node.call('SCAN', cursor, ...args))) as [string, string[]];
        keys.push(...batch);
        cursor = next;
      } while (cursor !== '0');
    }
    return keys;
  }

  /** A Cluster client lists its masters only once connected: before that a scan would see no key at all. */
  private async masters(cluster: Cluster): Promise<Redis[]> {
    if (cluster.status !== 'ready') await this.run(() => cluster.ping());
    return cluster.nodes('master');
  }

  private corrupt(key: string, reason: string): null {
    this.logger.warn(messages.corruptValue(key.slice(this.prefix.length), reason));
    return null;
  }

  /** Emits 'disconnect' and 'connect' as the connection drops and returns, once per change. */
  private watchConnection(): void {
    const client = this.client as Redis;
    client.on('ready', () => {
      if (this.connected) return;
      this.connected = true;
      this.emit('connect');
    });
    const lost = () => {
      if (!this.connected) return;
      this.connected = false;
      this.emit('disconnect');
    };
    client.on('close', lost);
    client.on('end', lost);
  }
}

/** The cookie a fresh session gets, built as express-session builds it, `secure: 'auto'` as over HTTP. */
function templateCookie(options: object): object {
  const { secure } = options as { secure?: unknown };
  const CookieClass = Cookie as unknown as new (options: object) => object;
  return new CookieClass({ ...options, secure: secure === 'auto' ? false : secure });
}

function unavailable(error: unknown): unknown {
  if (error instanceof ReplyError || error instanceof SessionStoreUnavailableError) return error;
  return new SessionStoreUnavailableError((error as Error)?.message ?? String(error), { cause: error });
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
