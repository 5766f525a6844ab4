import { HttpException, HttpStatus, Injectable, ServiceUnavailableException } from '@nestjs/common';
import type { Cluster, Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { InjectSessionRedis } from 'nest-redis-session';

const MAX_FAILURES = 5;
const WINDOW_MS = 15 * 60_000; // 15 min
const KEY_PREFIX = 'shop:login-failures:';

/**
 * Takes one attempt for a username, atomically: drops failures older than the window, and refuses
 * (returning how many ms until the oldest one leaves the window) when MAX_FAILURES remain; otherwise
 * records this attempt as a failure until `forgive` takes it back. Redis's clock is used, so replicas
 * whose clocks differ still share one window.
 */
const TAKE_ATTEMPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return tonumber(oldest[2]) + window - now
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return -1
`;

/** An attempt taken: a failure on record unless forgiven. */
export interface LoginAttempt {
  key: string;
  member: string;
}

/**
 * At most MAX_FAILURES failed logins per username within WINDOW_MS, counted in the session Redis so
 * every replica sees the same count.
 *
 * Why not @nestjs/throttler: its guard counts every request before the handler knows whether the
 * password was right, and its storage offers only `increment`, so it can neither count failures only
 * nor check the limit without spending an attempt. Here each attempt is recorded up front (so ten
 * parallel guesses cannot all slip past a check made before any of them failed) and taken back when
 * the password was right.
 */
@Injectable()
export class FailedLoginLimiter {
  constructor(@InjectSessionRedis() private readonly redis: Redis | Cluster) {}

  /** Records an attempt for `username`, or throws 429 when it already failed too often. */
  async take(username: string): Promise<LoginAttempt> {
    const attempt = { key: KEY_PREFIX + encodeURIComponent(username), member: randomBytes(9).toString('base64url') };
    const retryInMs = Number(await this.call(() => this.redis.eval(TAKE_ATTEMPT, 1, attempt.key, WINDOW_MS, MAX_FAILURES, attempt.member)));
    if (retryInMs >= 0) throw new TooManyLoginFailuresException(username, retryInMs);
    return attempt;
  }

  /** The attempt succeeded: it does not count as a failure. */
  async forgive(attempt: LoginAttempt): Promise<void> {
    await this.call(() => this.redis.zrem(attempt.key, attempt.member));
  }

  /** Redis trouble answers 503, as the session routes do, rather than letting logins through unlimited. */
  private async call<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw new ServiceUnavailableException(`Session store unavailable: ${(error as Error).message}`, { cause: error, description: 'Service Unavailable' });
    }
  }
}

/** 429 with the seconds to wait, which the controller also sends as `Retry-After`. */
export class TooManyLoginFailuresException extends HttpException {
  readonly retryAfterSeconds: number;

  constructor(username: string, retryInMs: number) {
    const seconds = Math.max(1, Math.ceil(retryInMs / 1000));
    const message = `Too many failed logins for "${username}": ${MAX_FAILURES} within ${WINDOW_MS / 60_000} minutes; try again in ${Math.ceil(seconds / 60)} minute(s)`;
    const status = HttpStatus.TOO_MANY_REQUESTS;
    super(HttpException.createBody(message, 'Too Many Requests', status), status);
    this.retryAfterSeconds = seconds;
  }
}
