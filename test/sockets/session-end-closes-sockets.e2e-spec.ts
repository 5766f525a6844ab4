import type { Socket } from 'socket.io-client';
import type { SessionRedisOption } from '@app/session';
import { startRedis } from '../support/redis';
import { startCluster } from '../support/topologies';
import { uniquePrefix } from '../support/prefix';
import { Visitor } from '../session/support/http-client';
import type { RunningApp } from '../session/support/session-app';
import { startSocketReplicas } from './support/socket-app';
import { loginOn, socketOnEach } from './support/replica-sockets';
import { askIo, connectIo, endOfIo } from './support/socket-clients';

/** The idle and absolute timeouts of the replicas of the absolute-timeout case, ms. */
const ABSOLUTE_IDLE_MS = 1_000;
const ABSOLUTE_MS = 2_500;

type Topology = () => Promise<{ redis: SessionRedisOption; stop(): Promise<void> }>;

const standalone: Topology = async () => {
  const server = await startRedis();
  return { redis: server.url, stop: () => server.stop() };
};
const cluster: Topology = async () => {
  const nodes = await startCluster();
  return { redis: { cluster: nodes.nodes }, stop: () => nodes.stop() };
};

/**
 * Ending a session ends its sockets: three replicas on one Redis, each holding sockets of two
 * sessions of one user and of another user; the session ended on one replica closes its sockets on
 * all three (after a `session:ended` with the reason), and no other socket.
 */
describe.each([
  ['standalone, without the near cache', standalone, false],
  ['standalone, with the near cache', standalone, true],
  ['Cluster, without the near cache', cluster, false],
  ['Cluster, with the near cache', cluster, true],
])('ending a session closes its sockets on every replica (%s)', (_label, topology, nearCache) => {
  let redis: { redis: SessionRedisOption; stop(): Promise<void> };
  let replicas: RunningApp[];
  let shortIdle: RunningApp[];
  let shortAbsolute: RunningApp[];
  const sockets: Socket[] = [];

  beforeAll(async () => {
    redis = await topology();
    const events = { crossReplica: true };
    replicas = await startSocketReplicas(3, { redis: redis.redis, prefix: uniquePrefix('io-end'), events, nearCache });
    // Idle timeout of 1.5 s, sliding at most every 150 ms: a session nobody uses dies quickly.
    shortIdle = await startSocketReplicas(3, { redis: redis.redis, prefix: uniquePrefix('io-idle'), events, nearCache, idleTimeout: 1_500 });
    // A session lives 2.5 s at most, however busy; idle, it would die after 1 s.
    const timeouts = { idleTimeout: ABSOLUTE_IDLE_MS, absoluteTimeout: ABSOLUTE_MS };
    shortAbsolute = await startSocketReplicas(3, { redis: redis.redis, prefix: uniquePrefix('io-absolute'), events, nearCache, ...timeouts });
  });

  afterAll(async () => {
    sockets.forEach((socket) => socket.close());
    await Promise.all([...(replicas ?? []), ...(shortIdle ?? []), ...(shortAbsolute ?? [])].map((app) => app.close()));
    await redis?.stop();
  });

  const login = loginOn;
  const socketsOf = (apps: RunningApp[], visitor: Visitor) => socketOnEach(apps, visitor, sockets);

  /** Every socket still connected and still answering for its session. */
  async function expectAlive(alive: Socket[]): Promise<void> {
    for (const socket of alive) expect(await askIo(socket, 'guarded')).toEqual({ id: expect.any(String) });
    expect(alive.every((socket) => socket.connected)).toBe(true);
  }

  it('revoke: the revoked session hears "revoked" on every replica, the revoking one and other users stay', async () => {
    const laptop = await login(replicas, 'u-end-revoke');
    const phone = await login(replicas, 'u-end-revoke');
    const other = await login(replicas, 'u-end-bystander');
    const phoneSockets = await socketsOf(replicas, phone);
    const laptopSockets = await socketsOf(replicas, laptop);
    const otherSockets = await socketsOf(replicas, other);
    const ends = phoneSockets.map(endOfIo);

    const sessions = (await new Visitor(replicas[1].url).request('GET', '/sessions', { headers: { cookie: laptop.cookie! } })).body;
    const handle = sessions.find((session: { current: boolean }) => !session.current).id;
    const revoked = await new Visitor(replicas[1].url).request('DELETE', `/sessions/${handle}`, { headers: { cookie: laptop.cookie! } });
    expect(revoked.body).toEqual({ revoked: true });

    expect(await Promise.all(ends)).toEqual(phoneSockets.map(() => ({ reason: 'revoked', disconnect: 'io server disconnect' })));
    await expectAlive([...laptopSockets, ...otherSockets]);
  });

  it('log out everywhere: every other session of the user hears "revoked", the one kept stays', async () => {
    const kept = await login(replicas, 'u-end-all');
    const tablet = await login(replicas, 'u-end-all');
    const phone = await login(replicas, 'u-end-all');
    const closing = [...(await socketsOf(replicas, tablet)), ...(await socketsOf(replicas, phone))];
    const keptSockets = await socketsOf(replicas, kept);
    const ends = closing.map(endOfIo);

    const answer = await new Visitor(replicas[2].url).request('POST', '/logout-all', { body: { keepCurrent: true }, headers: { cookie: kept.cookie! } });
    expect(answer.body).toEqual({ deleted: 2 });

    expect((await Promise.all(ends)).map((end) => end.reason)).toEqual(closing.map(() => 'revoked'));
    await expectAlive(keptSockets);
  });

  it.each([
    ['logout', 'logout', 'u-end-logout', '/logout', {}],
    ["a regenerate that carries nothing over (passport's logout)", 'destroyed', 'u-end-regen', '/regenerate-keeping', { keep: [] }],
  ])('%s: the sockets of the session it ended hear "%s"', async (_what, reason, user, route, body) => {
    const leaving = await login(replicas, user);
    const staying = await login(replicas, user);
    const leavingSockets = await socketsOf(replicas, leaving);
    const stayingSockets = await socketsOf(replicas, staying);
    const ends = leavingSockets.map(endOfIo);

    expect((await leaving.post(route, body)).status).toBe(204);

    expect((await Promise.all(ends)).map((end) => end.reason)).toEqual([reason, reason, reason]);
    await expectAlive(stayingSockets);
  });

  it('idle timeout: the sockets of a session left idle hear "expired"; a session kept busy over its socket stays', async () => {
    const idle = await login(shortIdle, 'u-end-idle');
    const busy = await login(shortIdle, 'u-end-busy');
    const idleSockets = await socketsOf(shortIdle, idle);
    const busySockets = await socketsOf(shortIdle, busy);
    const ends = idleSockets.map(endOfIo);
    let idleEnded = false;
    void Promise.all(ends).then(() => (idleEnded = true));

    // The busy session sends an event over one socket, on a rotating replica, until the idle one ended.
    for (let i = 0; !idleEnded; i++) await askIo(busySockets[i % 3], 'guarded');

    expect((await Promise.all(ends)).map((end) => end.reason)).toEqual(['expired', 'expired', 'expired']);
    await expectAlive(busySockets);
  });

  it('absolute timeout: the sockets of a session kept busy over its socket still hear "expired" once it is over, a younger session stays', async () => {
    const started = Date.now();
    const busy = await login(shortAbsolute, 'u-end-absolute');
    const loggedIn = Date.now(); // the session's start (its absolute timeout's) lies between the two
    const busySockets = await socketsOf(shortAbsolute, busy);
    const ends = busySockets.map(endOfIo);
    let ended: number | undefined;
    void Promise.race(ends).then(() => (ended = Date.now()));
    let younger: Socket[] = [];
    let lastAnswer = started;

    // Events over the session's sockets, on a rotating replica, keep its idle timeout sliding until its
    // sockets are closed (or well past the absolute timeout); past the idle timeout, a younger session
    // logs in and is kept busy too.
    for (let i = 0; ended === undefined && Date.now() - loggedIn < ABSOLUTE_MS + 1_500; i++) {
      if (younger.length === 0 && Date.now() - started > ABSOLUTE_IDLE_MS + 200)
        younger = await socketsOf(shortAbsolute, await login(shortAbsolute, 'u-end-younger'));
      const socket = busySockets[i % 3];
      const answer = await Promise.race([askIo(socket, 'guarded').catch(() => 'refused'), ends[i % 3].then(() => 'closed')]);
      if (answer !== 'refused' && answer !== 'closed') lastAnswer = Date.now();
      for (const other of younger) await askIo(other, 'guarded');
    }

    expect(ended).toBeDefined();
    expect(await Promise.all(ends)).toEqual(busySockets.map(() => ({ reason: 'expired', disconnect: 'io server disconnect' })));
    // Busy past its idle timeout (the events kept it), closed at its absolute timeout and within a second of
    // it. A busy session stops sliding once a slide would gain less than touchAfter (a tenth of the idle
    // timeout here), so it may die up to that much (and the gap between two events) before its deadline.
    expect(lastAnswer - started).toBeGreaterThan(ABSOLUTE_IDLE_MS + 200);
    expect(ended! - started).toBeGreaterThanOrEqual(ABSOLUTE_MS - 250);
    expect(ended! - loggedIn).toBeLessThan(ABSOLUTE_MS + 1_000);
    await expectAlive(younger);
  });

  it('50 parallel additions over sockets on three replicas keep all 50', async () => {
    const visitor = await login(replicas, 'u-end-parallel');
    const opened = await socketsOf(replicas, visitor);
    const answers = await Promise.all(
      opened.map((socket, s) =>
        addAll(
          socket,
          Array.from({ length: 50 }, (_, i) => `item-${i}`).filter((_, i) => i % 3 === s),
        ),
      ),
    );
    expect(answers.flat()).toHaveLength(50);
    const items = (await visitor.get('/whole')).body.items as string[];
    expect(items.sort()).toEqual(Array.from({ length: 50 }, (_, i) => `item-${i}`).sort());
  });
});

/** Sends every `add` at once over one socket, and waits for as many replies (in any order) or the first error frame. */
function addAll(socket: Socket, items: string[]): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const replies: unknown[] = [];
    const onReply = (reply: unknown) => {
      replies.push(reply);
      if (replies.length < items.length) return;
      socket.off('add', onReply);
      resolve(replies);
    };
    socket.on('add', onReply);
    socket.once('exception', reject);
    for (const item of items) socket.emit('add', { item });
  });
}

/** A session moved to a new ID: its sockets follow it through an event, or end as "renewed" once the old ID is dead. */
describe('sockets of a session whose ID changes', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  let replicas: RunningApp[];
  const sockets: Socket[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    const options = { redis: redis.url, prefix: uniquePrefix('io-moved'), events: { crossReplica: true }, renewal: { interval: 2_000, grace: 1_000 } };
    replicas = await startSocketReplicas(2, options);
  });

  afterAll(async () => {
    sockets.forEach((socket) => socket.close());
    await Promise.all((replicas ?? []).map((app) => app.close()));
    await redis?.stop();
  });

  async function open(app: RunningApp, cookie: string | undefined): Promise<Socket> {
    const socket = await connectIo(app.url, { cookie });
    sockets.push(socket);
    return socket;
  }

  it('login: the sockets of the anonymous session end as "renewed", for the client to reconnect with the new cookie', async () => {
    const visitor = new Visitor(replicas[0].url);
    await visitor.post('/set/note', { value: 'before login' });
    const anonymous = await Promise.all(replicas.map((app) => open(app, visitor.cookie)));
    expect(await askIo(anonymous[1], 'whole')).toMatchObject({ note: 'before login' });
    const ends = anonymous.map(endOfIo);
    expect((await visitor.post('/login', { id: 'u-moved' })).status).toBe(200);
    expect((await Promise.all(ends)).map((end) => end.reason)).toEqual(['renewed', 'renewed']);
    const again = await open(replicas[1], visitor.cookie);
    expect(await askIo(again, 'whole')).toMatchObject({ note: 'before login', user: { id: 'u-moved' } });
  });

  it('renewal: a socket sending an event within the grace follows the new ID; a silent one ends as "renewed" when the grace ends', async () => {
    const visitor = new Visitor(replicas[0].url);
    expect((await visitor.post('/login', { id: 'u-renewed' })).status).toBe(200);
    const active = await open(replicas[1], visitor.cookie);
    const silent = await open(replicas[0], visitor.cookie);
    const silentEnd = endOfIo(silent);
    const first = visitor.cookie;
    // Requests until one is answered with a new ID (the renewal interval has passed).
    while (visitor.cookie === first) await visitor.get('/whole');
    expect(await askIo(active, 'guarded')).toEqual({ id: 'u-renewed' });
    expect(await silentEnd).toEqual({ reason: 'renewed', disconnect: 'io server disconnect' });
    expect(await askIo(active, 'guarded')).toEqual({ id: 'u-renewed' });
    expect(active.connected).toBe(true);
  });
});
