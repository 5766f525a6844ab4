import { Body, Controller, HttpCode, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import Redis from 'ioredis';
import { RedisSessionStore, SessionService, type SessionModuleOptions } from '@app/session';
import { handleOf, newSessionId } from '@app/session/redis/session-id';
import { SessionCore } from '@app/session/store/session-core';
import { sealSuccessor } from '@app/session/store/successor-seal';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { digestOf, sessionRedisKey, userIndexRedisKey } from '../support/key-scheme';
import { FIELD } from '@app/session/redis/session-fields';
import { startSessionApp, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';
import { sessionIdOf } from './support/event-log';
import { gates, waitAtGate } from './support/gates';

/** The routes these tests need beside the shared ones: a login that answers its error, "log out my other devices" held at a gate, and `destroy`. */
@Controller('edge')
class EdgeRoutesController {
  constructor(private readonly sessions: SessionService) {}

  /** A login whose failure is answered as its message (a TypeError is otherwise a bare 500). */
  @Post('login')
  @HttpCode(200)
  async login(@Req() req: Request, @Body() body: { id: string }) {
    try {
      await this.sessions.login(req, { id: body.id });
      return { loggedIn: true };
    } catch (error) {
      return { loggedIn: false, message: (error as Error).message };
    }
  }

  /** "Log out my other devices", from a request whose session was loaded before the test lets it go on. */
  @Post('logout-others')
  @HttpCode(200)
  async logoutOthers(@Req() req: Request, @Body() body: { gate: string }) {
    await waitAtGate(body.gate);
    return { deleted: await this.sessions.logoutEverywhere(req.session.user!.id, { except: req }) };
  }

  /** A privilege change in a handler that goes on working: the new ID is saved at the end of the request. */
  @Post('regenerate-then-wait')
  @HttpCode(204)
  async regenerateThenWait(@Req() req: Request, @Body() body: { gate: string }) {
    await this.sessions.regenerate(req);
    await waitAtGate(body.gate);
  }

  /** express-session's regenerate, then its destroy: the new session is never stored. */
  @Post('regenerate-then-destroy')
  @HttpCode(204)
  async regenerateThenDestroy(@Req() req: Request) {
    await new Promise<void>((resolve, reject) => req.session.regenerate((error) => (error ? reject(error) : resolve())));
    await new Promise<void>((resolve, reject) => req.session.destroy((error) => (error ? reject(error) : resolve())));
  }

  /** Ends the session as express-session's `destroy` does: its index entry stays until pruned. */
  @Post('destroy')
  @HttpCode(204)
  destroy(@Req() req: Request) {
    return this.sessions.destroy(req);
  }
}

/**
 * The user index at its edges: an entry that moves with its session (a regenerate, a renewal) under a
 * limit lowered since the user's sessions were opened, or while another login evicts it; what counts
 * as a live session under the limit; a `users.id` of the app's own at a login; and ending a user's
 * sessions while another replica renews one of them: the end reaches the successor too (README, "A
 * revoked or logged-out session is anonymous on the very next request, on every replica"), and
 * `except` keeps the asking session under whichever ID it now has.
 */
/** The renewal interval of the tests that renew: a session is made due by its issue time. */
const RENEWAL_INTERVAL = 60_000;

describe("A user's index at its edges", () => {
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

  async function start(options: Partial<SessionModuleOptions> & { prefix: string }): Promise<RunningApp> {
    const app = await startSessionApp({ redis: redis.url, ...options }, [EdgeRoutesController]);
    running.push(app);
    return app;
  }

  /** Three devices logged in under a limit of 3, then the app served with a limit of 2 (a new deploy). */
  async function overALoweredLimit(user: string, extra: Partial<SessionModuleOptions>): Promise<{ after: RunningApp; cookies: string[] }> {
    const prefix = uniquePrefix('edge-lowered');
    const before = await start({ prefix, ...extra, users: { maxSessions: 3, onLimit: 'reject' } });
    const cookies: string[] = [];
    for (const agent of ['Phone', 'Laptop', 'Tablet']) {
      const visitor = new Visitor(before.url);
      expect((await visitor.post('/login', { id: user }, { 'user-agent': agent })).status).toBe(200);
      cookies.push(visitor.cookie!);
    }
    return { after: await start({ prefix, ...extra, users: { maxSessions: 2, onLimit: 'reject' } }), cookies };
  }

  it("under a limit lowered below the user's sessions (onLimit 'reject'), a regenerate is no login: not refused, and the session stays", async () => {
    const { after, cookies } = await overALoweredLimit('u-lowered-regen', {});
    const phone = new Visitor(after.url);
    phone.cookie = cookies[0];
    expect((await phone.post('/regenerate')).status).toBe(204);
    expect(phone.cookie).not.toBe(cookies[0]);
    expect((await phone.get('/me')).status).toBe(200);
    expect(await after.app.get(SessionService).list('u-lowered-regen')).toHaveLength(3); // a move evicts nobody
  });

  it('under a lowered limit, a renewed session stays in its index: listed, and ended by log out everywhere', async () => {
    const { after, cookies } = await overALoweredLimit('u-lowered-renew', { renewal: true });
    const phone = new Visitor(after.url);
    phone.cookie = cookies[0];
    const prefix = after.prefix;
    await admin.hset(sessionRedisKey(prefix, sessionIdOf(phone.cookie)), FIELD.issuedAt, String(Date.now() - 16 * 60_000)); // due for renewal
    expect((await phone.get('/me')).status).toBe(200);
    expect(phone.cookie).not.toBe(cookies[0]);
    const service = after.app.get(SessionService);
    expect((await service.list('u-lowered-renew')).map((row) => row.userAgent).sort()).toEqual(['Laptop', 'Phone', 'Tablet']);
    expect(await service.logoutEverywhere('u-lowered-renew')).toBe(3);
    expect((await phone.get('/me')).status).toBe(401);
  });

  it.each([false, true])("a session ended by destroy() no longer counts against onLimit 'reject' (renewal: %s)", async (renewal) => {
    const app = await start({ prefix: uniquePrefix('edge-destroyed'), users: { maxSessions: 1, onLimit: 'reject' }, renewal });
    const phone = new Visitor(app.url);
    expect((await phone.post('/login', { id: 'u-destroyed' })).status).toBe(200);
    expect((await phone.post('/edge/destroy')).status).toBe(204);
    // With renewal on, the destroyed key is a tombstone for the grace: it exists, and holds no session.
    expect((await new Visitor(app.url).post('/edge/login', { id: 'u-destroyed' })).body).toEqual({ loggedIn: true });
  });

  it("a session ended by destroy() (a tombstone, renewal on) does not make 'evict-oldest' revoke a live one", async () => {
    const app = await start({ prefix: uniquePrefix('edge-evict'), users: { maxSessions: 2, onLimit: 'evict-oldest' }, renewal: true });
    const tablet = new Visitor(app.url);
    expect((await tablet.post('/login', { id: 'u-evict' })).status).toBe(200);
    const phone = new Visitor(app.url);
    expect((await phone.post('/login', { id: 'u-evict' })).status).toBe(200);
    expect((await phone.post('/edge/destroy')).status).toBe(204);
    expect((await new Visitor(app.url).post('/login', { id: 'u-evict' })).status).toBe(200);
    expect((await tablet.get('/me')).status).toBe(200);
  });

  it('a login that evicts the oldest session while another replica renews it keeps the new login, and the evicted one stays ended', async () => {
    const prefix = uniquePrefix('edge-evict-renewing');
    const options = { prefix, renewal: { interval: RENEWAL_INTERVAL, grace: 30_000 }, users: { maxSessions: 1 } };
    const [a, b] = [await start(options), await start(options)];
    const first = new Visitor(a.url);
    expect((await first.post('/login', { id: 'u-renewing' })).status).toBe(200);
    const oldId = sessionIdOf(first.cookie!);
    // Replica A claims the renewal: the plant, the index move and the retire are still to come.
    const core = a.app.get(SessionCore);
    const claim = await core.gateway.claimRenewal(sessionRedisKey(prefix, oldId), sealSuccessor(newSessionId(), oldId));
    if (claim.status !== 'claimed') throw new Error(`the claim answered ${claim.status}`);
    const second = new Visitor(b.url);
    expect((await second.post('/login', { id: 'u-renewing' })).status).toBe(200); // past the limit: the first goes
    const secondDigest = digestOf(sessionIdOf(second.cookie!));
    await core.forwarding.finish(oldId, claim.sealedSuccessor, claim.fields);
    expect((await second.get('/me')).status).toBe(200);
    expect((await first.get('/me')).status).toBe(401);
    expect(await admin.zrange(userIndexRedisKey(prefix, 'u-renewing'), '0', '-1')).toEqual([secondDigest]);
  });

  it("onLimit 'reject' is checked against the index `users.id` names, before the ID changes: the visitor keeps the cart", async () => {
    const byAccount = (session: { user?: { id: string | number } }) => (session.user ? `account-${session.user.id}` : undefined);
    const app = await start({ prefix: uniquePrefix('edge-own-id'), users: { id: byAccount, maxSessions: 1, onLimit: 'reject' } });
    expect((await new Visitor(app.url).post('/login', { id: 'ada' })).status).toBe(200);
    const visitor = new Visitor(app.url);
    await visitor.post('/set/cart', { value: ['tea'] });
    const cookie = visitor.cookie;
    expect((await visitor.post('/login', { id: 'ada' })).status).toBe(409);
    expect(visitor.cookie).toBe(cookie);
    expect((await visitor.get('/whole')).body).toEqual({ cart: ['tea'] });
  });

  it.each([
    ['an object', (session: { user?: { id: string } }) => (session.user ? { id: session.user.id } : undefined)],
    ['a lone surrogate', (session: { user?: { id: string } }) => (session.user ? `${session.user.id}-\uD800` : undefined)],
  ])('a `users.id` answer the index cannot key (%s) fails the login before the ID changes, naming users.id', async (_what, id) => {
    const app = await start({ prefix: uniquePrefix('edge-bad-id'), users: { id: id as never } });
    const visitor = new Visitor(app.url);
    await visitor.post('/set/cart', { value: ['tea'] });
    const cookie = visitor.cookie;
    const res = await visitor.post('/edge/login', { id: 'ada' });
    expect(res.body.loggedIn).toBe(false);
    expect(res.body.message).toMatch(/option "users\.id" must return/);
    expect(visitor.cookie).toBe(cookie);
    expect((await visitor.get('/whole')).body).toEqual({ cart: ['tea'] });
  });

  async function twoReplicas(): Promise<{ prefix: string; a: RunningApp; b: RunningApp }> {
    const prefix = uniquePrefix('renew-revoke');
    const options = { prefix, renewal: { interval: RENEWAL_INTERVAL, grace: 30_000 } };
    const [a, b] = [await start(options), await start(options)];
    return { prefix, a, b };
  }

  /** Makes the session of `cookie` due for renewal: issued longer ago than the interval. */
  async function makeDue(prefix: string, cookie: string): Promise<void> {
    expect(await admin.hset(sessionRedisKey(prefix, sessionIdOf(cookie)), FIELD.issuedAt, String(Date.now() - RENEWAL_INTERVAL - 1_000))).toBe(0);
  }

  /** A request with `cookie` on `app` that renews its session; answers the new cookie. */
  async function renew(app: RunningApp, cookie: string): Promise<string> {
    const res = await new Visitor(app.url).request('GET', '/me', { headers: { cookie } });
    expect(res.status).toBe(200);
    const renewed = res.setCookie!.split(';')[0];
    expect(sessionIdOf(renewed)).not.toBe(sessionIdOf(cookie));
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

  it('a regenerate whose session another replica renewed meanwhile keeps the user logged in under its new ID, alone in the index', async () => {
    // The regenerate ends the old ID and, following its pointer, the successor; its save must then move
    // the index entry the renewal moved (the successor's), or it wrote nothing and answered success.
    const { prefix, a, b } = await twoReplicas();
    const visitor = new Visitor(a.url);
    expect((await visitor.post('/login', { id: 'regen-renewed' })).status).toBe(200);
    const oldCookie = visitor.cookie!;
    const gate = gates.unique('regen-renewed');
    const regenerating = visitor.post('/regenerate', { gate });
    await gates.arrived(gate); // loaded under the old ID
    await makeDue(prefix, oldCookie);
    const renewedCookie = await renew(b, oldCookie);
    gates.open(gate);
    expect((await regenerating).status).toBe(204);
    const newCookie = visitor.cookie!;
    expect([sessionIdOf(oldCookie), sessionIdOf(renewedCookie)]).not.toContain(sessionIdOf(newCookie));
    expect([await statusOf(a, newCookie), await statusOf(b, newCookie)]).toEqual([200, 200]);
    expect(await admin.zrange(userIndexRedisKey(prefix, 'regen-renewed'), '0', '-1')).toEqual([digestOf(sessionIdOf(newCookie))]);
  });

  it('"log out my other devices" from a request whose session another request renewed meanwhile keeps that session under its new ID', async () => {
    const { prefix, a, b } = await twoReplicas();
    const me = new Visitor(a.url);
    expect((await me.post('/login', { id: 'keeper' })).status).toBe(200);
    const other = new Visitor(a.url);
    expect((await other.post('/login', { id: 'keeper' })).status).toBe(200);
    const oldCookie = me.cookie!;

    const gate = gates.unique('renew-except');
    const asking = new Visitor(a.url).request('POST', '/edge/logout-others', { body: { gate }, headers: { cookie: oldCookie } });
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

  describe('a regenerate in flight (its new ID saved at the end of its request)', () => {
    /** A logged-in device and another of the same user; the device's request regenerates, then waits at a gate. */
    async function regenerating(user: string, renewal: boolean): Promise<{ app: RunningApp; device: Visitor; gate: string; answer: Promise<unknown> }> {
      const app = await start({ prefix: uniquePrefix('edge-regen'), renewal });
      const device = new Visitor(app.url);
      expect((await device.post('/login', { id: user })).status).toBe(200);
      const gate = gates.unique('edge-regen');
      const answer = device.post('/edge/regenerate-then-wait', { gate });
      await gates.arrived(gate); // the old ID is deleted, the new one not saved yet
      return { app, device, gate, answer };
    }

    it.each([false, true])('is not brought back by a log out everywhere that ran meanwhile (renewal: %s)', async (renewal) => {
      const { app, device, gate, answer } = await regenerating(`regen-everywhere-${renewal}`, renewal);
      const before = device.cookie!;
      expect(await app.app.get(SessionService).logoutEverywhere(`regen-everywhere-${renewal}`)).toBe(1);
      gates.open(gate);
      await answer;
      expect(device.cookie).not.toBe(before); // the response named the new ID: it is no session
      expect((await device.get('/me')).status).toBe(401);
      expect(await admin.zcard(userIndexRedisKey(app.prefix, `regen-everywhere-${renewal}`))).toBe(0);
    });

    it('is not brought back by a revoke that ran meanwhile, which answers true', async () => {
      const { app, device, gate, answer } = await regenerating('regen-revoke', false);
      const service = app.app.get(SessionService);
      const [row] = await service.list('regen-revoke');
      expect(row).toBeUndefined(); // a session being moved is listed once its new ID is saved
      const handle = (await admin.zrange(userIndexRedisKey(app.prefix, 'regen-revoke'), '0', '-1')).map(handleOf)[0];
      expect(await service.revoke('regen-revoke', handle)).toBe(true);
      gates.open(gate);
      await answer;
      expect((await device.get('/me')).status).toBe(401);
    });

    // The classic "log out by regenerating": the new, empty session is never stored, so no save comes to
    // move the entry the old key's `moving` mark held for it; it leaves the index when the request ends.
    it.each(['keeping nothing', 'then destroyed'])(
      "that ends the session (regenerated %s) frees its place in its user's index at once (onLimit 'reject')",
      async (how) => {
        const user = `regen-${how.replace(' ', '-')}`;
        const app = await start({ prefix: uniquePrefix('edge-regen-empty'), users: { maxSessions: 1, onLimit: 'reject' } });
        const device = new Visitor(app.url);
        expect((await device.post('/edge/login', { id: user })).body).toEqual({ loggedIn: true });
        const ended = how === 'keeping nothing' ? await device.post('/regenerate-keeping', { keep: [] }) : await device.post('/edge/regenerate-then-destroy');
        expect(ended.status).toBe(204);
        expect((await device.get('/me')).status).toBe(401);
        expect(await admin.zcard(userIndexRedisKey(app.prefix, user))).toBe(0);
        expect((await new Visitor(app.url).post('/edge/login', { id: user })).body).toEqual({ loggedIn: true });
      },
    );

    it("leaves an old ID the store's length() and ids() do not count, as all() does not (renewal off)", async () => {
      const app = await start({ prefix: uniquePrefix('edge-regen-count') });
      const device = new Visitor(app.url);
      expect((await device.post('/edge/login', { id: 'regen-count' })).body).toEqual({ loggedIn: true });
      expect((await device.post('/edge/login', { id: 'regen-count' })).body).toEqual({ loggedIn: true }); // its old ID: a moving tombstone
      const store = app.app.get(RedisSessionStore);
      const live = Object.keys(await store.all());
      expect(live).toHaveLength(1);
      expect({ length: await store.length(), ids: await store.ids() }).toEqual({ length: 1, ids: live });
    });

    it('stays logged in when the user lists or logs in elsewhere meanwhile (its old ID gone, its entry is no dead one)', async () => {
      const { app, device, gate, answer } = await regenerating('regen-listed', false);
      expect(await app.app.get(SessionService).list('regen-listed')).toEqual([]);
      expect((await new Visitor(app.url).post('/login', { id: 'regen-listed' })).status).toBe(200);
      gates.open(gate);
      await answer;
      expect((await device.get('/me')).status).toBe(200);
      expect(await app.app.get(SessionService).list('regen-listed')).toHaveLength(2);
    });
  });
});
