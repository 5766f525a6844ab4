import { Controller, HttpCode, Injectable, Module, Post, Req, type INestApplication } from '@nestjs/common';
import { EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import type { Request } from 'express';
import { SessionModule, SessionService, type SessionEvent, type SessionEventsOptions } from '@app/session';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { createNestApp } from '../support/http-platform';
import { waitUntil } from '../support/probe';
import { startSessionApp, TEST_SECRET, type RunningApp } from './support/session-app';
import { TestController } from './support/test-controller';
import { Visitor } from './support/http-client';
import { digestOfCookie, EventLog, sessionIdOf } from './support/event-log';

/** `SessionService.destroy`, which the shared test routes do not have. */
@Controller()
class DestroyController {
  constructor(private readonly sessions: SessionService) {}

  @Post('destroy')
  @HttpCode(204)
  destroy(@Req() req: Request) {
    return this.sessions.destroy(req);
  }

  /** What passport's `req.logout` callback often does next, and the other ends a regenerate's new session may meet. */
  @Post('regenerate-then')
  @HttpCode(204)
  async regenerateThen(@Req() req: Request & { body: { then: 'destroy' | 'logout' | 'regenerate' | 'login' } }) {
    await new Promise<void>((resolve, reject) => req.session.regenerate((error) => (error ? reject(error) : resolve())));
    const then = req.body.then;
    if (then === 'destroy') await new Promise<void>((resolve, reject) => req.session.destroy((error) => (error ? reject(error) : resolve())));
    else if (then === 'logout') await this.sessions.logout(req);
    else if (then === 'regenerate') await this.sessions.regenerate(req);
    else await this.sessions.login(req, { id: 'u-other' });
  }
}

const DATA_VALUE = 'a-session-value-no-event-may-carry';
const EVENT_FIELDS = ['at', 'digest', 'previousDigest', 'replica', 'type', 'userId'];

/** Session lifecycle events: what each replica's `SessionEvents` delivers, and what it never carries. */
describe('session lifecycle events', () => {
  let redis: RedisServerHandle;
  const running: RunningApp[] = [];
  const logs: EventLog[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  });

  afterAll(async () => {
    logs.forEach((log) => log.stop());
    await Promise.all(running.map((app) => app.close()));
    await redis?.stop();
  });

  async function app(prefix: string, events: SessionEventsOptions): Promise<{ app: RunningApp; log: EventLog }> {
    const started = await startSessionApp({ redis: redis.url, prefix, events }, [DestroyController]);
    running.push(started);
    const log = new EventLog(started.app);
    logs.push(log);
    return { app: started, log };
  }

  async function loginOn(app: RunningApp, id: string, visitor = new Visitor(app.url)): Promise<Visitor> {
    expect((await visitor.post('/login', { id })).status).toBe(200);
    return visitor;
  }

  it('tells each change of a session once, by digest and user, in the order it happened', async () => {
    const { app: a, log } = await app(uniquePrefix('events-local'), { replica: 'replica-a' });
    const shopper = new Visitor(a.url);
    await shopper.post('/set/note', { value: DATA_VALUE });
    const anonymous = digestOfCookie(shopper.cookie!);
    await loginOn(a, 'u-events', shopper);
    const loggedIn = digestOfCookie(shopper.cookie!);

    const phone = await loginOn(a, 'u-events');
    const handle = (await shopper.get('/sessions')).body.find((session: { current: boolean }) => !session.current).id;
    expect((await shopper.delete(`/sessions/${handle}`)).body).toEqual({ revoked: true });
    const tablet = await loginOn(a, 'u-events');
    const laptop = await loginOn(a, 'u-events');
    expect((await shopper.post('/logout-all', { keepCurrent: true })).body).toEqual({ deleted: 2 });

    expect((await shopper.post('/regenerate')).status).toBe(204);
    const regenerated = digestOfCookie(shopper.cookie!);
    const beforeLogout = shopper.cookie!;
    expect((await shopper.post('/logout')).status).toBe(204);

    const visitor = new Visitor(a.url);
    await visitor.post('/set/note', { value: DATA_VALUE });
    const visitorCookie = visitor.cookie!;
    const destroyed = digestOfCookie(visitorCookie);
    expect((await visitor.post('/destroy')).status).toBe(204);

    const [phoneDigest, tabletDigest, laptopDigest] = [phone, tablet, laptop].map((device) => digestOfCookie(device.cookie!));
    const summary = log.summary();
    // Log out everywhere revokes the other devices in the index's order: compare those two as a set.
    expect([...summary.slice(6, 8)].sort()).toEqual([`revoked ${tabletDigest} u-events -`, `revoked ${laptopDigest} u-events -`].sort());
    expect([...summary.slice(0, 6), ...summary.slice(8)]).toEqual([
      `created ${anonymous} - -`,
      `login ${loggedIn} u-events ${anonymous}`, // the cart's ID died at login: named, not announced on its own
      `login ${phoneDigest} u-events -`, // a login without an earlier session
      `revoked ${phoneDigest} u-events -`,
      `login ${tabletDigest} u-events -`,
      `login ${laptopDigest} u-events -`,
      `created ${regenerated} u-events ${loggedIn}`,
      `logout ${regenerated} u-events -`,
      `created ${destroyed} - -`,
      `destroyed ${destroyed} - -`,
    ]);
    for (const event of log.events) {
      expect(event.replica).toBe('replica-a');
      expect(typeof event.at).toBe('number');
      for (const field of Object.keys(event)) expect(EVENT_FIELDS).toContain(field);
    }
    // Nothing that works as a cookie, nothing the session held.
    const json = JSON.stringify(log.events);
    expect(json).not.toContain(DATA_VALUE);
    for (const cookie of [beforeLogout, phone.cookie!, tablet.cookie!, laptop.cookie!, visitorCookie]) {
      expect(json).not.toContain(sessionIdOf(cookie));
    }
  });

  it('tells the end of a session that a regenerate left with nothing carried over (as passport logs out), as destroyed', async () => {
    const { app: a, log } = await app(uniquePrefix('events-regen'), { replica: 'replica-a' });
    const shopper = await loginOn(a, 'u-regen');
    const loggedIn = digestOfCookie(shopper.cookie!);
    const kept = await loginOn(a, 'u-regen');
    expect((await kept.post('/regenerate-keeping', { keep: ['user'] })).status).toBe(204);
    expect((await shopper.post('/regenerate-keeping', { keep: [] })).status).toBe(204);
    expect((await shopper.get('/me')).status).toBe(401);
    const summary = log.summary();
    // The new, empty session is never stored: the ID it left is announced as ended, with its user.
    expect(summary.slice(-1)).toEqual([`destroyed ${loggedIn} u-regen -`]);
    // A regenerate that keeps the user moves the session: one `created` naming the ID it left, no end.
    expect(summary.filter((line) => line.startsWith('destroyed'))).toHaveLength(1);
  });

  it.each([
    ['destroyed', 'destroy', 'destroyed'],
    ['logged out', 'logout', 'logout'],
    ['regenerated again and left empty', 'regenerate', 'destroyed'],
  ])('tells the end of the session a regenerate left when its new session is %s in the same request', async (_what, then, type) => {
    const { app: a, log } = await app(uniquePrefix('events-regen-then'), { replica: 'replica-a' });
    const shopper = await loginOn(a, 'u-regen-then');
    const loggedIn = digestOfCookie(shopper.cookie!);
    log.events.length = 0;
    expect((await shopper.post('/regenerate-then', { then })).status).toBe(204);
    expect(log.summary()).toEqual([`${type} ${loggedIn} u-regen-then -`]);
  });

  it('names the ID a regenerate left in the login that follows it in the same request', async () => {
    const { app: a, log } = await app(uniquePrefix('events-regen-login'), { replica: 'replica-a' });
    const shopper = new Visitor(a.url);
    await shopper.post('/set/note', { value: DATA_VALUE });
    const anonymous = digestOfCookie(shopper.cookie!);
    log.events.length = 0;
    expect((await shopper.post('/regenerate-then', { then: 'login' })).status).toBe(204);
    expect(log.summary()).toEqual([`login ${digestOfCookie(shopper.cookie!)} u-other ${anonymous}`]);
  });

  it('with crossReplica, gives every replica the events of every replica, each exactly once', async () => {
    const prefix = uniquePrefix('events-cross');
    const [a, b, c] = [
      await app(prefix, { crossReplica: true, replica: 'r1' }),
      await app(prefix, { crossReplica: true, replica: 'r2' }),
      await app(prefix, { crossReplica: true, replica: 'r3' }),
    ];
    const alice = await loginOn(a.app, 'u-alice');
    const aliceDigest = digestOfCookie(alice.cookie!);
    const bob = new Visitor(b.app.url);
    await bob.post('/set/note', { value: DATA_VALUE });
    // Alice's cookie on another replica: the logout is c's.
    expect((await new Visitor(c.app.url).request('POST', '/logout', { headers: { cookie: alice.cookie! } })).status).toBe(204);
    // Last, one event from each replica: each publishes in order on its one connection, so once every
    // replica has all three markers, every earlier event has arrived too, and any duplicate would have.
    const markers: string[] = [];
    for (const [i, { app: replica }] of [a, b, c].entries()) {
      const marker = new Visitor(replica.url);
      await marker.post('/set/marker', { value: i });
      markers.push(`created ${digestOfCookie(marker.cookie!)} r${i + 1}`);
    }
    const expected = [`login ${aliceDigest} r1`, `created ${digestOfCookie(bob.cookie!)} r2`, `logout ${aliceDigest} r3`, ...markers].sort();
    const seen = (log: EventLog) => log.events.map((event) => `${event.type} ${event.digest} ${event.replica}`).sort();
    for (const { log } of [a, b, c]) {
      await waitUntil('every marker on every replica', () => Promise.resolve(markers.every((marker) => seen(log).includes(marker))));
    }
    for (const { log } of [a, b, c]) expect(seen(log)).toEqual(expected);
    expect(JSON.stringify([a, b, c].map(({ log }) => log.events))).not.toContain(DATA_VALUE);
  });

  it('without crossReplica, a replica hears only its own', async () => {
    const prefix = uniquePrefix('events-own');
    const [a, b] = [await app(prefix, {}), await app(prefix, {})];
    const visitor = await loginOn(a.app, 'u-own');
    await loginOn(b.app, 'u-own');
    // b's own login is in b's log; a's never reaches it.
    expect(a.log.events.map((event) => event.type)).toEqual(['login']);
    expect(b.log.events.map((event) => event.type)).toEqual(['login']);
    expect(b.log.events[0].digest).not.toBe(digestOfCookie(visitor.cookie!));
  });
});

/** Collects what `@OnEvent` hears, as an app would. */
@Injectable()
class SessionEventListener {
  readonly heard: { name: string; event: SessionEvent }[] = [];

  @OnEvent('session.created')
  created(event: SessionEvent) {
    this.heard.push({ name: 'session.created', event });
  }

  @OnEvent('session.login')
  login(event: SessionEvent) {
    this.heard.push({ name: 'session.login', event });
  }
}

describe('session events on @nestjs/event-emitter', () => {
  let redis: RedisServerHandle;
  let app: INestApplication;

  beforeAll(async () => {
    redis = await startRedis();
  });

  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('are emitted as session.<type> when EventEmitterModule is imported', async () => {
    @Module({
      imports: [EventEmitterModule.forRoot(), SessionModule.forRoot({ secret: TEST_SECRET, redis: redis.url, prefix: uniquePrefix('events-emitter') })],
      controllers: [TestController],
      providers: [SessionEventListener],
    })
    class EmitterAppModule {}
    app = await createNestApp(EmitterAppModule, { logger: ['error'] });
    await app.listen(0, '127.0.0.1');
    const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    const visitor = new Visitor(url);
    await visitor.post('/set/views', { value: 1 });
    const before = digestOfCookie(visitor.cookie!);
    await visitor.post('/login', { id: 'u-emitter' });

    const listener = app.get(SessionEventListener);
    await waitUntil('the login on the emitter', () => Promise.resolve(listener.heard.length === 2));
    expect(listener.heard.map(({ name, event }) => [name, event.digest, event.userId ?? null])).toEqual([
      ['session.created', before, null],
      ['session.login', digestOfCookie(visitor.cookie!), 'u-emitter'],
    ]);
  });
});
