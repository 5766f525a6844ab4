import type { SessionData } from 'express-session';
import { messages } from '../errors/session.messages';
import type { ResolvedStorageOptions } from '../options/resolved-storage-options';
import { resolveSecure } from '../cookie/secure-cookie';
import { SessionCookie } from '../cookie/session-cookie';
import { digestRedisKey, sessionRedisKey } from '../redis/redis-keys';
import { FIELD } from '../redis/session-fields';
import type { SessionGateway } from '../redis/session-gateway';
import type { SessionObserver, SessionObservers } from '../redis/session-observer';
import type { IdleSlidePolicy } from './idle-slide';
import { cookieSettingsJson } from './session-codec';
import { SessionSealing } from './session-sealing';
import { attachState, stateOf, type SessionState } from './session-state';
import { checkedExpiry } from './session-validation';

/**
 * What every part of the store shares for one set of sessions: the settings, the gateway, the
 * observers, the sealing of values, and the few rules all of them apply (key names, expiry,
 * renewal due). Built once, before the parts, and handed to each in its constructor.
 */
export class SessionContext {
  readonly prefix: string;
  /** When a read slides the idle timeout (`touchAfter`). */
  readonly slides: IdleSlidePolicy;
  /** JSON of the cookie a fresh session gets; a session whose cookie matches does not store its own. */
  readonly cookieTemplateJson: string | undefined;
  /**
   * Under `cookie.secure: 'auto'`, the same template as an HTTPS request gets it (Secure): such a
   * session's cookie is the module's too, so it stores no settings of its own either.
   */
  private readonly secureTemplateJson: string | undefined;
  readonly sealing: SessionSealing;

  constructor(
    readonly settings: ResolvedStorageOptions,
    readonly gateway: SessionGateway,
    private readonly observers: SessionObservers,
    readonly logger: Pick<Console, 'warn' | 'error'>,
  ) {
    this.prefix = settings.prefix;
    this.slides = { window: settings.cookie.maxAge ?? settings.idleTimeout, touchAfter: settings.touchAfter, absoluteTimeout: settings.absoluteTimeout };
    this.cookieTemplateJson = cookieSettingsJson(templateCookie(settings.cookie, false));
    if (settings.cookie.secure === 'auto') this.secureTemplateJson = cookieSettingsJson(templateCookie(settings.cookie, true));
    this.sealing = new SessionSealing(settings.encryption, (redisKey) => this.digestOfKey(redisKey), logger);
  }

  /** The template a save compares `cookie` with: under `secure: 'auto'`, the one of the request's protocol. */
  cookieTemplateFor(cookie: unknown): string | undefined {
    return this.secureTemplateJson !== undefined && (cookie as { secure?: unknown } | undefined)?.secure === true
      ? this.secureTemplateJson
      : this.cookieTemplateJson;
  }

  /** Metrics, traces and lifecycle events, combined; undefined when nothing observes. */
  get observer(): SessionObserver | undefined {
    return this.observers.observer;
  }

  redisKeyOf(sessionId: string): string {
    return sessionRedisKey(this.prefix, sessionId);
  }

  /** Redis key of a session a user index names by digest. */
  redisKeyOfDigest(digest: string): string {
    return digestRedisKey(this.prefix, digest);
  }

  /** The digest a session key names: the key without the prefix. */
  digestOfKey(redisKey: string): string {
    return redisKey.slice(this.prefix.length);
  }

  /** A value that is not what the library wrote: logged, and the session taken as absent. */
  ignoreCorrupt(redisKey: string, reason: string): null {
    this.logger.warn(messages.corruptValue(this.digestOfKey(redisKey), reason));
    return null;
  }

  /**
   * A value of a session read lazily that is not valid JSON, found when a request first reached it:
   * logged, and the key read as absent. Redis keeps it until app code assigns the key.
   */
  ignoreCorruptKey(redisKey: string | undefined, key: string): void {
    this.logger.warn(messages.corruptKeyValue(redisKey === undefined ? '?' : this.digestOfKey(redisKey), key));
  }

  /** As `ignoreCorruptKey`, for a value that did not open (under `encryption`): logged once per session. */
  ignoreUnopenableKey(redisKey: string, key: string, reason: string): void {
    this.sealing.ignoreUnopenableKey(redisKey, key, reason);
  }

  /**
   * Deletes a session by its Redis key (revoke, eviction); answers whether it existed, and whether it
   * had been renewed: its key held a successor, whose ID only a holder of the old one can open. While
   * `renewal` is on, a tombstone stays for the grace, so a renewal under way cannot plant it again.
   */
  async deleteSession(redisKey: string): Promise<{ deleted: number; renewed: boolean }> {
    const { renewal } = this.settings;
    if (!renewal) return { deleted: await this.gateway.deleteKey(redisKey), renewed: false };
    const { deleted, sealedSuccessor } = await this.gateway.destroySession(redisKey, renewal.grace);
    return { deleted, renewed: sealedSuccessor !== undefined };
  }

  /**
   * Expiry a write gives the session: the cookie's, else the idle window, never past the absolute
   * deadline. Throws a `SessionDataError` for an expiry that is not a date a cookie can carry, before
   * anything is written: Redis would refuse it half-way through the write.
   */
  expiryOf(session: SessionData, createdAt: number, now: number): number {
    const expires = session.cookie?.expires;
    let at = expires ? checkedExpiry(new Date(expires).getTime(), expires) : now + this.settings.idleTimeout;
    if (this.settings.absoluteTimeout > 0) at = Math.min(at, createdAt + this.settings.absoluteTimeout);
    return at;
  }

  /** The bookkeeping of a session object, created for one that was never read from Redis. */
  stateFor(session: object): SessionState {
    return stateOf(session) ?? attachState(session, { stored: null, createdAt: Date.now(), refreshed: false });
  }

  /**
   * True when the session's ID is older than the renewal interval (never with `renewal` off); with
   * `early`, that many ms before.
   */
  renewalDue(state: SessionState, now = Date.now(), early = 0): boolean {
    const { renewal } = this.settings;
    if (!renewal) return false;
    const issuedAt = Number(state.stored?.get(FIELD.issuedAt) ?? state.createdAt); // sessions stored before `renewal` was on
    return now - issuedAt >= renewal.interval - early;
  }
}

/**
 * The cookie a fresh session gets, built as the request path builds it (`SessionCookie`), for a
 * request over HTTPS or not (which only `secure: 'auto'` tells apart).
 */
function templateCookie(cookie: ResolvedStorageOptions['cookie'], https: boolean): object {
  const { name: _name, secure, ...settings } = cookie;
  const defined = Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined)); // Cookie turns `maxAge: undefined` into a setting
  return new SessionCookie({ ...defined, secure: resolveSecure(secure, https) });
}
