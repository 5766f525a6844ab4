import { Store, type Session, type SessionData } from 'express-session';
import type { Request } from 'express';
import type { Cluster, Redis } from 'ioredis';
import type { RedisSessionStoreOptions } from '../options/storage-options.interface';
import { resolveStoreOptions } from '../options/resolve-store-options';
import { SessionCore, createSessionContext } from './session-core';
import { stateOf, attachState } from './session-state';
import { withCallback, type StoreCallback } from './store-callback';
import type { StoredSession } from './store-ports';

export type { RedisSessionStoreOptions } from '../options/storage-options.interface';

/**
 * An express-session store over Redis: one hash per session, one field per top-level key, so a save
 * writes only what changed and parallel requests changing different keys keep all their changes.
 * Usable without Nest: `app.use(session({ store: new RedisSessionStore({ client }) }))`.
 *
 * Its API is express-session's Store contract: every method takes an optional callback and also
 * returns a promise. It emits 'disconnect' and 'connect' as the Redis connection drops and returns,
 * which express-session uses to skip sessions while Redis is away.
 */
export class RedisSessionStore extends Store {
  private readonly core: SessionCore;
  private connected = true;

  /**
   * @param options see `RedisSessionStoreOptions`; checked here, each bad one named in a `SessionConfigError`
   */
  constructor(options: RedisSessionStoreOptions);
  /** @internal `SessionModule`'s store, over the core it shares with its request lifecycle and service. */
  constructor(options: RedisSessionStoreOptions, core: SessionCore);
  constructor(options: RedisSessionStoreOptions, core?: SessionCore) {
    super();
    this.core = core ?? new SessionCore(createSessionContext(resolveStoreOptions(options)));
    this.watchConnection(options.client);
  }

  override get(sid: string, callback?: StoreCallback<StoredSession | null>): Promise<StoredSession | null> {
    return withCallback(this.core.reader.load(sid), callback);
  }

  override set(sid: string, session: SessionData, callback?: StoreCallback<void>): Promise<void> {
    let saving: Promise<void>;
    try {
      saving = this.core.writer.saveChanges(sid, session) ?? Promise.resolve();
    } catch (error) {
      saving = Promise.reject(error); // bad input reaches the callback too, as any other failure
    }
    return withCallback(saving, callback);
  }

  /** Slides the session's expiry when due (`touchAfter`); free when no slide is due or the read sent it. */
  override touch(sid: string, session: SessionData, callback?: () => void): Promise<void> {
    return withCallback(this.core.slides.touch(sid, session), callback);
  }

  override destroy(sid: string, callback?: StoreCallback<void>): Promise<void> {
    return withCallback(
      this.core.admin.destroy(sid).then(() => undefined),
      callback,
    );
  }

  /**
   * Inflates a session read by `get` and keeps the store's bookkeeping on it, so the save at the end
   * of the request can write only the changed fields.
   */
  override createSession(req: Request, data: SessionData): Session & SessionData {
    const state = stateOf(data);
    const session = super.createSession(req, data);
    if (state) attachState(session, state);
    return session;
  }

  /** Every live session, keyed by its digest (the raw IDs are never stored, so they cannot be listed). */
  override all(callback?: StoreCallback<Record<string, StoredSession>>): Promise<Record<string, StoredSession>> {
    return withCallback(this.core.admin.all(), callback);
  }

  /** Digests of every live session: the names `all()` uses, never the IDs themselves. */
  ids(callback?: StoreCallback<string[]>): Promise<string[]> {
    return withCallback(this.core.admin.digests(), callback);
  }

  override length(callback?: StoreCallback<number>): Promise<number> {
    return withCallback(
      this.core.admin.digests().then((digests) => digests.length),
      callback,
    );
  }

  /** Deletes every key under the prefix: sessions and user indexes, on every master of a cluster. */
  override clear(callback?: StoreCallback<void>): Promise<void> {
    return withCallback(this.core.admin.clear(), callback);
  }

  private watchConnection(client: Redis | Cluster): void {
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
