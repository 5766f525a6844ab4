import Redis, { Cluster } from 'ioredis';
import { randomBytes } from 'node:crypto';
import type { SessionRedisOption } from '@app/session';
import { FIELD } from '@app/session/redis/session-fields';
import { CommandRecorder } from '../support/command-recorder';
import { openMonitor } from '../support/monitor';
import { uniquePrefix } from '../support/prefix';
import { waitUntil } from '../support/probe';
import { startRedis } from '../support/redis';
import { startCluster, topologyAvailable, type Address } from '../support/topologies';
import { nearCacheOf, sessionCommands, untilServing } from '../cache/support/near-cache-apps';
import { EventLog } from './support/event-log';
import { Visitor, type TestResponse } from './support/http-client';
import { startSessionApp, type RunningApp } from './support/session-app';
import { TokenClient, type TokenResponse } from './support/token-client';
import { digestOf, sessionRedisKey } from '../support/key-scheme';

/** Redis as the test sees it: the apps' option, every node's address (for MONITOR), and a way to make an admin client. */
type Topology = { redis: SessionRedisOption; nodes: Address[]; connectAdmin(): Redis | Cluster; stop(): Promise<void> };

const available = topologyAvailable();
const unless = (ok: boolean) => (ok ? describe : describe.skip);

const INTERVAL = 60_000; // renewals are made due by hand (the issue time moved back), never by waiting
const GRACE = 1_500; // short, so the test sees the old ID die; polled, never slept through
/** Values and names that must never reach Redis in clear (the user's id names their index key by design, so it is left out). */
const SECRET = { name: 'Plain Name 9c4e', item: 'teapot-9c4e' };

/** The session ID in a cookie (`sid=s%3A<id>.<sig>`) or an ID header (`s:<id>.<sig>`). */
function idOf(cookieOrToken: string): string {
  const value = cookieOrToken.startsWith('sid=') ? decodeURIComponent(cookieOrToken.slice(4)) : cookieOrToken;
  return value.slice(2).split('.')[0];
}

function cookieSet(res: TestResponse): string | undefined {
  return res.setCookie?.split(';')[0];
}

/** One request with an explicit cookie or token, keeping none: a stale tab, another device, a parallel call. */
function withCookie(url: string, cookie: string, method: string, path: string, body?: unknown): Promise<TestResponse> {
  return new Visitor(url).request(method, path, { body, headers: { cookie } });
}
function withToken(url: string, token: string, method: string, path: string, body?: unknown): Promise<TokenResponse> {
  return new TokenClient(url).request(method, path, { body, headers: { 'X-Session-Token': token } });
}

/**
 * Issues 10 and 13 together: three replicas with the near cache, encryption, periodic renewal,
 * cross-replica events and IDs from the cookie or the header, all on one Redis. Each feature has its
 * own suite; this one checks that none undoes another (a cached copy outliving a renewal or a logout,
 * a sealed value that does not follow a renewal, an event lost or doubled, a key left without TTL).
 */
describe.each<[string, boolean, () => Promise<Topology>]>([
  [
    'standalone',
    true,
    async () => {
      const redis = await startRedis();
      const { hostname, port } = new URL(redis.url);
      return { redis: redis.url, nodes: [{ host: hostname, port: Number(port) }], connectAdmin: () => new Redis(redis.url), stop: () => redis.stop() };
    },
  ],
  [
    `Cluster${available.cluster ? '' : ` (skipped: ${available.reason})`}`,
    available.cluster,
    async () => {
      const cluster = await startCluster();
      return { redis: { cluster: cluster.nodes }, nodes: cluster.nodes, connectAdmin: () => new Cluster(cluster.nodes), stop: () => cluster.stop() };
    },
  ],
])('near cache + encryption + renewal + cross-replica events + header IDs on %s Redis', (_name, ok, start) => {
  unless(ok)('', () => {
    let topology: Topology;
    let admin: Redis | Cluster;
    let apps: RunningApp[];
    let logs: EventLog[];
    let prefix: string;
    let recorders: CommandRecorder[];
    const monitors: Redis[] = [];
    /** Every command every node ran, scripts' own included (MONITOR shows those as source "lua"). */
    const seen: string[][] = [];

    beforeAll(async () => {
      topology = await start();
      prefix = uniquePrefix('together');
      for (const node of topology.nodes) {
        monitors.push(await openMonitor(node, (_time, args) => seen.push(args)));
      }
      recorders = [];
      for (const { host, port } of topology.nodes) recorders.push(await CommandRecorder.start(`redis://${host}:${port}`, { keyPrefix: prefix }));
      admin = topology.connectAdmin();
      const keys = [randomBytes(32).toString('base64')];
      apps = [];
      for (let i = 0; i < 3; i++) {
        apps.push(
          await startSessionApp({
            redis: topology.redis,
            prefix,
            nearCache: { maxEntryAge: 3_600_000 }, // an hour: only invalidations can keep the replicas fresh
            encryption: { keys },
            renewal: { interval: INTERVAL, grace: GRACE },
            events: { crossReplica: true, replica: `r${i}` },
            idFrom: { header: 'X-Session-Token', cookie: true },
          }),
        );
      }
      logs = apps.map(({ app }) => new EventLog(app));
      await untilServing(apps);
    });

    afterAll(async () => {
      logs?.forEach((log) => log.stop());
      await Promise.all((apps ?? []).map((app) => app.close()));
      await Promise.all((recorders ?? []).map((recorder) => recorder.stop()));
      monitors.forEach((monitor) => monitor.disconnect());
      admin?.disconnect();
      await topology?.stop();
    });

    const urls = () => apps.map((app) => app.url);
    const sessionKey = (id: string) => sessionRedisKey(prefix, id);

    /** Session commands sent to any node since the recorders' last reset (the near cache's heartbeats left out). */
    async function commandsSent() {
      return sessionCommands((await Promise.all(recorders.map((recorder) => recorder.settle()))).flat());
    }

    /** Reads the session through every replica until each one's near cache holds it. */
    async function warmEverywhere(read: (url: string) => Promise<{ status: number }>, id: string): Promise<void> {
      for (const app of apps) {
        await waitUntil(`${app.url} to cache the session`, async () => {
          expect((await read(app.url)).status).toBe(200);
          return nearCacheOf(app).holds(sessionKey(id));
        });
      }
    }

    /** Moves the session's issue time back past the interval, then waits until no replica still caches the copy that says otherwise. */
    async function makeDue(id: string): Promise<void> {
      expect(await admin.hset(sessionKey(id), FIELD.issuedAt, String(Date.now() - INTERVAL - 1_000))).toBe(0);
      await waitUntil('every replica to drop the copy from before', () => Promise.resolve(apps.every((app) => !nearCacheOf(app).holds(sessionKey(id)))));
    }

    /** Every key under the prefix on every master, with its TTL in ms. */
    async function keysAndTtls(): Promise<[string, number][]> {
      const nodes = admin instanceof Cluster ? admin.nodes('master') : [admin];
      const found: [string, number][] = [];
      for (const node of nodes) for (const key of await node.keys(`${prefix}*`)) found.push([key, await admin.pttl(key)]);
      return found;
    }

    it('a user, a header client and three replicas: warm reads, parallel carts, a renewal, a logout in its grace', async () => {
      const [a, b, c] = urls();

      // Login: a browser on replica a, an app (ID header) on replica b.
      const browser = new Visitor(a);
      expect((await browser.post('/login', { id: 'shopper', name: SECRET.name })).status).toBe(200);
      const cookie0 = browser.cookie!;
      const phone = new TokenClient(b);
      const login = await phone.post('/login', { id: 'phone-user', name: SECRET.name });
      expect(login.status).toBe(200);
      const token0 = phone.token!;
      expect(token0).toBeDefined();

      // Warm reads: once each replica holds the session, a read sends Redis nothing at all.
      await warmEverywhere((url) => withCookie(url, cookie0, 'GET', '/whole'), idOf(cookie0));
      await warmEverywhere((url) => withToken(url, token0, 'GET', '/whole'), idOf(token0));
      await commandsSent();
      recorders.forEach((recorder) => recorder.reset());
      for (const url of urls()) {
        expect((await withCookie(url, cookie0, 'GET', '/whole')).body.user).toEqual({ id: 'shopper', name: SECRET.name });
        expect((await withToken(url, token0, 'GET', '/whole')).body.user).toEqual({ id: 'phone-user', name: SECRET.name });
      }
      expect(await commandsSent()).toEqual([]);

      // Cart updates in parallel on every replica, by both clients: every one kept, every replica shows all at once.
      const cart = Array.from({ length: 24 }, (_, i) => `${SECRET.item}-${i}`);
      const added = await Promise.all(
        cart.flatMap((item, i) => [
          withCookie(urls()[i % 3], cookie0, 'POST', '/items', { item }),
          withToken(urls()[(i + 1) % 3], token0, 'POST', '/items', { item }),
        ]),
      );
      expect(added.map((res) => res.status)).toEqual(Array(added.length).fill(200));
      for (const url of urls()) {
        expect([...(await withCookie(url, cookie0, 'GET', '/whole')).body.items].sort()).toEqual([...cart].sort());
        expect([...(await withToken(url, token0, 'GET', '/whole')).body.items].sort()).toEqual([...cart].sort());
      }

      // The renewal moment for the browser: reads and writes with the old cookie at once on every replica.
      await warmEverywhere((url) => withCookie(url, cookie0, 'GET', '/whole'), idOf(cookie0));
      await makeDue(idOf(cookie0));
      const burst = await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          i % 2 ? withCookie(urls()[i % 3], cookie0, 'POST', '/items', { item: `burst-${i}` }) : withCookie(urls()[i % 3], cookie0, 'GET', '/whole'),
        ),
      );
      expect(burst.map((res) => res.status)).toEqual(Array(burst.length).fill(200));
      const successors = new Set(burst.map(cookieSet));
      expect(successors.size).toBe(1); // one successor, named by every response
      const [cookie1] = [...successors] as string[];
      expect(idOf(cookie1)).not.toBe(idOf(cookie0));
      const everything = [...cart, ...Array.from({ length: 12 }, (_, i) => `burst-${2 * i + 1}`)].sort();

      // During the grace: the old cookie is led to the successor on every replica, read after read
      // (the second read would find a cached pointer, if one were cached); the new cookie works everywhere.
      for (const url of urls()) {
        for (let read = 0; read < 2; read++) {
          const res = await withCookie(url, cookie0, 'GET', '/whole');
          expect(cookieSet(res)).toBe(cookie1);
          expect([...res.body.items].sort()).toEqual(everything);
        }
        const res = await withCookie(url, cookie1, 'GET', '/whole');
        expect(res.body.user).toEqual({ id: 'shopper', name: SECRET.name });
        expect([...res.body.items].sort()).toEqual(everything);
      }
      await warmEverywhere((url) => withCookie(url, cookie1, 'GET', '/whole'), idOf(cookie1));

      // After the grace the old cookie is anonymous on every replica: no replica answers from a copy it kept.
      await waitUntil('the old ID to expire', async () => (await admin.exists(sessionKey(idOf(cookie0)))) === 0, { timeoutMs: GRACE + 10_000 });
      for (const url of urls()) {
        const res = await withCookie(url, cookie0, 'GET', '/me');
        expect(res.status).toBe(401);
        expect(res.setCookie).toBeNull();
        expect((await withCookie(url, cookie1, 'GET', '/me')).status).toBe(200);
      }

      // The header client's renewal, then a logout with its OLD token during the grace, every replica warm with the new one.
      await warmEverywhere((url) => withToken(url, token0, 'GET', '/whole'), idOf(token0));
      await makeDue(idOf(token0));
      const phoneBurst = await Promise.all(
        urls().flatMap((url) => [withToken(url, token0, 'GET', '/me'), withToken(url, token0, 'POST', '/items', { item: 'late' })]),
      );
      expect(phoneBurst.map((res) => res.status)).toEqual(Array(phoneBurst.length).fill(200));
      const tokens = new Set(phoneBurst.map((res) => res.token));
      expect(tokens.size).toBe(1);
      const [token1] = [...tokens] as string[];
      expect(idOf(token1)).not.toBe(idOf(token0));
      expect(phoneBurst.map((res) => res.setCookie)).toEqual(Array(phoneBurst.length).fill(null));
      await warmEverywhere((url) => withToken(url, token1, 'GET', '/whole'), idOf(token1));
      const logout = await withToken(c, token0, 'POST', '/logout');
      expect(logout.status).toBe(204);
      expect(logout.token).toBe('');
      for (const url of urls()) {
        for (const token of [token0, token1]) expect((await withToken(url, token, 'GET', '/me')).status).toBe(401);
      }

      // The browser logs out (new cookie, on another replica than its login): dead everywhere at once.
      await warmEverywhere((url) => withCookie(url, cookie1, 'GET', '/whole'), idOf(cookie1));
      expect((await withCookie(b, cookie1, 'POST', '/logout')).status).toBe(204);
      for (const url of urls()) for (const stale of [cookie0, cookie1]) expect((await withCookie(url, stale, 'GET', '/me')).status).toBe(401);

      // Events: every replica has every replica's events, each once. A marker from each replica, last,
      // tells that all earlier ones have arrived (each replica publishes in order on one connection).
      const markers: string[] = [];
      for (const [i, url] of urls().entries()) {
        const marker = new Visitor(url);
        await marker.post('/set/marker', { value: i });
        markers.push(`created ${digestOf(idOf(marker.cookie!))} - - r${i}`);
      }
      const digest = (cookieOrToken: string) => digestOf(idOf(cookieOrToken));
      const expected = [
        `login ${digest(cookie0)} shopper - r0`,
        `login ${digest(token0)} phone-user - r1`,
        // A renewal is a session moving to a new ID: one `created` naming the ID it left (README "Events").
        `created ${digest(cookie1)} shopper ${digest(cookie0)} *`,
        `created ${digest(token1)} phone-user ${digest(token0)} *`,
        `logout ${digest(token1)} phone-user - r2`,
        `logout ${digest(cookie1)} shopper - r1`,
        ...markers,
      ];
      const lines = (log: EventLog) =>
        log.events.map((event) =>
          [event.type, event.digest, event.userId ?? '-', (event as { previousDigest?: string }).previousDigest ?? '-', event.replica].join(' '),
        );
      for (const log of logs) await waitUntil('every marker on every replica', () => Promise.resolve(markers.every((marker) => lines(log).includes(marker))));
      const renewedBy = new Map<string, string>(); // the replica that renewed each session: whichever claimed it, the same in every log
      for (const log of logs) {
        const got = lines(log).map((line) => {
          const [type, eventDigest, user, previous, replica] = line.split(' ');
          if (type !== 'created' || previous === '-') return line;
          const first = renewedBy.get(eventDigest);
          if (first !== undefined && first !== replica) throw new Error(`${line}: renewed by two replicas`);
          renewedBy.set(eventDigest, replica);
          return [type, eventDigest, user, previous, '*'].join(' ');
        });
        expect(got.sort()).toEqual([...expected].sort());
      }

      // What Redis saw, through every node's MONITOR: no value in clear, no session ID (old or new, cookie or header).
      const secrets = [SECRET.name, SECRET.item, ...[cookie0, cookie1, token0, token1].map(idOf)];
      await commandsSent(); // MONITOR delivers asynchronously: settled, everything sent so far has arrived
      expect(seen.filter((args) => args.some((arg) => secrets.some((secret) => arg.includes(secret))))).toEqual([]);
      expect(seen.length).toBeGreaterThan(0);

      // Every key left (tombstones, the user indexes, the markers' sessions, heartbeats) expires on its own.
      const left = await keysAndTtls();
      expect(left.length).toBeGreaterThan(0);
      expect(left.filter(([, ttl]) => ttl < 0)).toEqual([]);
    });
  });
});
