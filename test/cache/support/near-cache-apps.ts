import { SessionStack } from '@app/session/module/session-stack';
import type { NearCache } from '@app/session/cache/near-cache';
import { waitUntil } from '../../support/probe';
import type { RecordedCommand } from '../../support/command-recorder';
import type { RunningApp } from '../../session/support/session-app';
import { Visitor } from '../../session/support/http-client';
import { sessionRedisKey } from '../../support/key-scheme';

/** The near cache of a running app (the module's own, reached through its session stack). */
export function nearCacheOf(app: RunningApp): NearCache {
  const cache = app.app.get(SessionStack).nearCache;
  if (!cache) throw new Error('this app runs without the near cache');
  return cache;
}

/** Resolves once every app's near cache is armed and serving (tracking on, first heartbeat back). */
export async function untilServing(apps: RunningApp[], timeoutMs = 15_000): Promise<void> {
  await waitUntil('the near caches to serve', () => Promise.resolve(apps.every((app) => nearCacheOf(app).serving())), { timeoutMs });
}

/** A browser holding `cookie`, talking to `app`: the same user behind a load balancer that picked another replica. */
export function through(app: RunningApp, cookie: string | undefined): Visitor {
  const visitor = new Visitor(app.url);
  visitor.cookie = cookie;
  return visitor;
}

/**
 * Reads the cookie's session through each app until that app's cache holds something (a read that
 * found a slide due goes to Redis and fills nothing; the next one fills); fails when it never does.
 */
export async function warmOn(apps: RunningApp[], cookie: string | undefined): Promise<void> {
  for (const app of apps) {
    let reads = 0;
    do {
      const res = await through(app, cookie).get('/whole');
      if (res.status !== 200) throw new Error(`warming answered ${res.status}`);
    } while (!nearCacheOf(app).holds(redisKeyOfCookie(app.prefix, cookie)) && ++reads < 5);
    if (!nearCacheOf(app).holds(redisKeyOfCookie(app.prefix, cookie)))
      throw new Error(`the near cache of ${app.url} does not hold the session after ${reads} reads`);
  }
}

/** The Redis key of the session a signed `sid=s%3A<id>.<signature>` cookie names. */
export function redisKeyOfCookie(prefix: string, cookie: string | undefined): string {
  if (!cookie) throw new Error('no session cookie');
  const id = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1))
    .slice(2)
    .split('.')[0];
  return sessionRedisKey(prefix, id);
}

/** The commands of a recording that are the session's own, leaving out the near cache's heartbeats. */
export function sessionCommands(commands: RecordedCommand[]): RecordedCommand[] {
  return commands.filter(({ args }) => !args.some((arg) => arg.includes('near-cache:heartbeat')));
}
