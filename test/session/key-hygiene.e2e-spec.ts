import { Controller, HttpCode, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { SessionService } from '@app/session';
import { FIELD } from '@app/session/redis/session-fields';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { waitUntil } from '../support/probe';
import { sessionRedisKey } from '../support/key-scheme';
import { untilServing } from '../cache/support/near-cache-apps';
import { startSessionApp, type RunningApp } from './support/session-app';
import { Visitor, type TestResponse } from './support/http-client';
import { TokenClient } from './support/token-client';
import { gates, waitAtGate } from './support/gates';

/** Routes the test controller lacks: express-session's destroy, and a save held at a gate. */
@Controller('x')
class ExtraController {
  constructor(private readonly sessions: SessionService) {}

  @Post('destroy')
  @HttpCode(204)
  destroy(@Req() req: Request) {
    return this.sessions.destroy(req);
  }

  @Post('regenerate-then-wait')
  @HttpCode(200)
  async regenerateThenWait(@Req() req: Request) {
    await this.sessions.regenerate(req);
    await waitAtGate(String(req.headers['x-gate']));
    return { ok: true };
  }
}

const INTERVAL = 60_000;
const GRACE = 2_000;

/** Every session ID the test saw, raw (unsigned), from Set-Cookie headers and ID headers. */
const rawIds = new Set<string>();

function noteIds(res: TestResponse & { token?: string }): void {
  const cookie = res.setCookie?.split(';')[0];
  if (cookie && /^sid=s%3A/.test(cookie)) rawIds.add(decodeURIComponent(cookie.slice(4)).slice(2).split('.')[0]);
  const token = res.headers.get('x-session-token');
  if (token) rawIds.add(token.slice(2).split('.')[0]);
}

async function call<T extends TestResponse>(pending: Promise<T>): Promise<T> {
  const res = await pending;
  noteIds(res);
  return res;
}

describe('Redis holds no key without a TTL and no raw session ID, with every feature on', () => {
  let redis: RedisServerHandle;
  let admin: Redis;
  let apps: RunningApp[];
  let prefix: string;
  let registry: Registry;

  beforeAll(async () => {
    redis = await startRedis({ controllable: true });
    admin = new Redis(redis.url);
    prefix = uniquePrefix('sweep');
    registry = new Registry();
    const keys = [randomBytes(32).toString('base64')];
    apps = [];
    for (let i = 0; i < 2; i++) {
      apps.push(
        await startSessionApp(
          {
            redis: redis.url,
            prefix,
            users: { maxSessions: 2 },
            nearCache: true,
            encryption: { keys },
            renewal: { interval: INTERVAL, grace: GRACE },
            events: { crossReplica: true, replica: `r${i}` },
            idFrom: { header: 'X-Session-Token', cookie: true },
            metrics: i === 0 ? { registry } : undefined,
            redisDeadline: 500,
          },
          [ExtraController],
        ),
      );
    }
    await untilServing(apps);
  });

  afterAll(async () => {
    await Promise.all((apps ?? []).map((app) => app.close()));
    admin?.disconnect();
    await redis?.stop();
  });

  /** Every key in the database: name, type, PTTL, and everything it holds as text. */
  async function sweep(): Promise<{ key: string; type: string; pttl: number; content: string }[]> {
    const found = [];
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'COUNT', 500);
      cursor = next;
      for (const key of keys) {
        const type = await admin.type(key);
        const pttl = await admin.pttl(key);
        let content = '';
        if (type === 'string') content = ((await admin.getBuffer(key)) ?? Buffer.alloc(0)).toString('latin1');
        else if (type === 'hash') content = JSON.stringify(await admin.hgetall(key));
        else if (type === 'zset') content = JSON.stringify(await admin.zrange(key, '0', '-1', 'WITHSCORES'));
        else if (type === 'list') content = JSON.stringify(await admin.lrange(key, 0, -1));
        else if (type === 'set') content = JSON.stringify(await admin.smembers(key));
        else if (type === 'stream') content = JSON.stringify(await admin.xrange(key, '-', '+'));
        found.push({ key, type, pttl, content });
      }
    } while (cursor !== '0');
    return found;
  }

  async function expectClean(): Promise<void> {
    const keys = await sweep();
    expect(keys.length).toBeGreaterThan(10);
    expect(rawIds.size).toBeGreaterThan(8);
    const forever = keys.filter(({ pttl }) => pttl < 0).map(({ key, type, pttl }) => `${key} (${type}, pttl ${pttl})`);
    expect(forever).toEqual([]);
    const leaks: string[] = [];
    for (const id of rawIds) for (const { key, content } of keys) if (key.includes(id) || content.includes(id)) leaks.push(`${key} holds ${id}`);
    expect(leaks).toEqual([]);
  }

  it('after every flow on two replicas (an outage in a regenerate included), every key expires and none holds an ID a client was given', async () => {
    const [a, b] = apps.map((app) => app.url);
    // An anonymous cart, a CSRF token, then a login (cookie).
    const browser = new Visitor(a);
    await call(browser.post('/set/cart', { value: ['x'.repeat(200), 'y'] }));
    const csrf = (await call(browser.get('/csrf'))).body.csrfToken as string;
    const login = await call(browser.post('/login', { id: 'u1' }));
    expect(login.status).toBe(200);
    await call(browser.post('/protected', undefined, { 'x-csrf-token': login.body.csrfToken }));
    expect(csrf).toBeDefined();
    await call(browser.post('/items', { item: 'i1' }));
    // A header client logs in as the same user on the other replica.
    const phone = new TokenClient(b);
    await call(phone.post('/login', { id: 'u1' }));
    await call(phone.post('/items', { item: 'p1' }));
    // A third login of u1 evicts the oldest (maxSessions 2).
    const tablet = new Visitor(b);
    await call(tablet.post('/set/cart', { value: ['t'] }));
    expect((await call(tablet.post('/login', { id: 'u1' }))).status).toBe(200);
    expect((await call(browser.get('/me'))).status).toBe(401);
    // A regenerate of a logged-in session; a renewal made due by hand, read on both replicas.
    expect((await call(tablet.post('/regenerate'))).status).toBe(204);
    const tabletId = decodeURIComponent(tablet.cookie!.slice(4)).slice(2).split('.')[0];
    await admin.hset(sessionRedisKey(prefix, tabletId), FIELD.issuedAt, String(Date.now() - INTERVAL - 1_000));
    await waitUntil('caches to drop', async () => {
      const res = await call(new Visitor(a).request('GET', '/whole', { headers: { cookie: tablet.cookie! } }));
      return res.setCookie !== null;
    });
    await call(new Visitor(b).request('GET', '/whole', { headers: { cookie: `sid=${encodeURIComponent(`s:${tabletId}`)}` } }));
    // List and revoke the phone from the tablet (old cookie still in its grace: the successor serves).
    const list = await call(new Visitor(b).request('GET', '/sessions', { headers: { cookie: tablet.cookie! } }));
    expect(list.status).toBe(200);
    const other = (list.body as { id: string; current: boolean }[]).find((row) => !row.current)!;
    expect((await call(new Visitor(a).request('DELETE', `/sessions/${other.id}`, { headers: { cookie: tablet.cookie! } }))).body).toEqual({ revoked: true });
    // Two more sessions, log out everywhere but the current one, then logout and destroy.
    const laptop = new Visitor(a);
    await call(laptop.post('/login', { id: 'u2' }));
    const desk = new TokenClient(b);
    await call(desk.post('/login', { id: 'u2' }));
    await call(desk.post('/logout-all', { keepCurrent: true }));
    await call(desk.post('/logout'));
    const guest = new Visitor(a);
    await call(guest.post('/set/cart', { value: ['g'] }));
    await call(guest.post('/x/destroy'));
    // reseal, a metrics scrape (flushes the activity HyperLogLogs).
    await apps[0].app.get(SessionService).reseal();
    await registry.metrics();
    // A regenerate held at a gate while Redis goes away: the save fails.
    const held = new Visitor(a);
    await call(held.post('/login', { id: 'u3' }));
    const gate = gates.unique('regen');
    const pending = call(held.request('POST', '/x/regenerate-then-wait', { headers: { 'x-gate': gate } }));
    await gates.arrived(gate);
    await redis.interrupt();
    gates.open(gate);
    expect((await pending).status).toBe(503);
    await redis.resume();
    await waitUntil('the app to reach Redis again', async () => (await call(new Visitor(a).post('/inc'))).status === 200);
    await untilServing(apps);
    await registry.metrics();
    await expectClean();
  });
});
