import { Body, Controller, HttpCode, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import Redis from 'ioredis';
import { SessionService } from '@app/session';
import { FIELD } from '@app/session/redis/session-fields';
import { SessionCore } from '@app/session/store/session-core';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { sessionRedisKey, userIndexRedisKey } from '../support/key-scheme';
import { startReplicas, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';
import { gates, waitAtGate } from './support/gates';

/** The session ID a `sid=s%3A<id>.<signature>` cookie carries. */
function idOf(cookie: string): string {
  return decodeURIComponent(cookie.split('=')[1]).slice(2).split('.')[0];
}

@Controller('renewing')
class LogoutOthersController {
  constructor(private readonly sessions: SessionService) {}

  /** "Log out my other devices", from a request whose session was loaded before the test lets it go on. */
  @Post('logout-others')
  @HttpCode(200)
  async logoutOthers(@Req() req: Request, @Body() body: { gate: string }) {
    await waitAtGate(body.gate);
    return { deleted: await this.sessions.logoutEverywhere(req.session.user!.id, { except: req }) };
  }
}

/**
 * A periodic renewal on one replica moves a session, and its index entry, to a new ID while another
 * replica ends the user's sessions: the end reaches the successor too (README, "A revoked or logged-out
 * session is anonymous on the very next request, on every replica"), and `except` keeps the asking
 * session under whichever ID it now has.
 */
describe('Ending a user’s sessions while one of them is renewed', () => {
  const interval = 60_000;
  let redis: RedisServerHandle;
  let admin: Redis;
  const running: RunningApp[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
  });

  afterAll(async () => {
    await Promise.all(running.map((app) => app.close()));
    admin?.disconnect();
    await redis?.stop();
  });

  async function twoReplicas(): Promise<{ prefix: string; a: RunningApp; b: RunningApp }> {
    const prefix = uniquePrefix('renew-revoke');
    const [a, b] = await startReplicas(2, { redis: redis.url, prefix, renewal: { interval, grace: 30_000 } }, [LogoutOthersController]);
    running.push(a, b);
    return { prefix, a, b };
  }

  /** Makes the session of `cookie` due for renewal: issued longer ago than the interval. */
  async function makeDue(prefix: string, cookie: string): Promise<void> {
    expect(await admin.hset(sessionRedisKey(prefix, idOf(cookie)), FIELD.issuedAt, String(Date.now() - interval - 1_000))).toBe(0);
  }

  /** A request with `cookie` on `app` that renews its session; answers the new cookie. */
  async function renew(app: RunningApp, cookie: string): Promise<string> {
    const res = await new Visitor(app.url).request('GET', '/me', { headers: { cookie } });
    expect(res.status).toBe(200);
    const renewed = res.setCookie!.split(';')[0];
    expect(idOf(renewed)).not.toBe(idOf(cookie));
    return renewed;
  }

  async function statusOf(app: RunningApp, cookie: string): Promise<number> {
    return (await new Visitor(app.url).request('GET', '/me', { headers: { cookie } })).status;
  }

  it('log out everywhere that read the index just before another replica renewed a session ends the successor too', async () => {
    const { prefix, a, b } = await twoReplicas();
    const visitor = new Visitor(a.url);
    expect((await visitor.post('/login', { id: 'everywhere' })).status).toBe(200);
    const oldCookie = visitor.cookie!;
    await makeDue(prefix, oldCookie);

    // Replica A's log out everywhere has read the index; B's renewal lands before A deletes what it read.
    const { gateway } = a.app.get(SessionCore);
    const read = gateway.entriesByScore.bind(gateway);
    let reached!: () => void;
    const indexRead = new Promise<void>((resolve) => (reached = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    gateway.entriesByScore = async (...args: Parameters<typeof read>) => {
      const members = await read(...args);
      gateway.entriesByScore = read;
      reached();
      await released;
      return members;
    };
    const everywhere = a.app.get(SessionService).logoutEverywhere('everywhere');
    await indexRead;
    const newCookie = await renew(b, oldCookie);
    release();

    expect(await everywhere).toBe(1); // one session, counted once
    for (const cookie of [oldCookie, newCookie]) expect([await statusOf(a, cookie), await statusOf(b, cookie)]).toEqual([401, 401]);
    expect(await admin.zrange(userIndexRedisKey(prefix, 'everywhere'), '0', '-1')).toEqual([]);
  });

  it('"log out my other devices" from a request whose session another request renewed meanwhile keeps that session under its new ID', async () => {
    const { prefix, a, b } = await twoReplicas();
    const me = new Visitor(a.url);
    expect((await me.post('/login', { id: 'keeper' })).status).toBe(200);
    const other = new Visitor(a.url);
    expect((await other.post('/login', { id: 'keeper' })).status).toBe(200);
    const oldCookie = me.cookie!;

    const gate = gates.unique('renew-except');
    const asking = new Visitor(a.url).request('POST', '/renewing/logout-others', { body: { gate }, headers: { cookie: oldCookie } });
    await gates.arrived(gate); // its session is loaded under the old ID
    await makeDue(prefix, oldCookie);
    const newCookie = await renew(b, oldCookie); // a parallel tab's request
    gates.open(gate);
    const answer = await asking;

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ deleted: 1 });
    expect(await statusOf(b, other.cookie!)).toBe(401);
    expect(await statusOf(b, newCookie)).toBe(200);
  });
});
