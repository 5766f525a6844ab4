import { Logger } from '@nestjs/common';
import Redis, { type RedisOptions } from 'ioredis';
import { SessionConfigError } from '@app/session';
import { minimalAclRules } from '@app/session/redis/redis-permissions';
import { probeSessionStore } from '@app/session/health/probe-session-store';
import { freePorts, LOCALHOST } from '../support/ports';
import { askOver, waitUntil } from '../support/probe';
import { launchRedisServer, redisServerMissingReason } from '../support/processes';
import { makeTempDir, removeTempDir } from '../support/temp-dirs';
import { startCluster } from '../support/topologies';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { makeTestCertificates, opensslMissingReason, type TestCertificates } from '../support/tls-certificates';
import { uniquePrefix } from '../support/prefix';
import { startSessionApp, type RunningApp } from './support/session-app';
import { startChildSessionApp, type ChildSessionApp } from './support/child-session-app';
import { Visitor } from './support/http-client';

const PASSWORD = 'a-password-for-the-session-user';
const missing = opensslMissingReason() ?? redisServerMissingReason();
const describeWithTls = missing ? describe.skip : describe;
if (missing) console.warn(`Skipping the TLS and ACL tests: ${missing}`);

/**
 * A user's whole story, on two replicas: login, a cart changed by `update`, the session list,
 * revoking another device, log out everywhere, logout. Every step must pass under the Redis user.
 */
async function sessionStory(first: string, second: string, userId: string): Promise<void> {
  const laptop = new Visitor(first);
  expect((await laptop.post('/login', { id: userId }, { 'user-agent': 'Laptop' })).status).toBe(200);
  expect((await laptop.post('/items', { item: 'book' })).body).toEqual({ count: 1 });
  expect((await laptop.post('/items', { item: 'pen' })).body).toEqual({ count: 2 });
  expect((await new Visitor(second).request('GET', '/whole', { headers: { cookie: laptop.cookie! } })).body.items).toEqual(['book', 'pen']);

  const phone = new Visitor(second);
  expect((await phone.post('/login', { id: userId }, { 'user-agent': 'Phone' })).status).toBe(200);
  const listed = (await laptop.get('/sessions')).body as { id: string; userAgent: string }[];
  expect(listed.map((session) => session.userAgent)).toEqual(['Phone', 'Laptop']);
  expect((await laptop.delete(`/sessions/${listed[0].id}`)).body).toEqual({ revoked: true });
  expect((await phone.get('/me')).status).toBe(401);

  expect((await phone.post('/login', { id: userId })).status).toBe(200);
  expect((await laptop.post('/logout-all', {})).body).toEqual({ deleted: 2 });
  expect((await phone.get('/me')).status).toBe(401);
  expect((await laptop.get('/me')).status).toBe(401);

  expect((await laptop.post('/login', { id: userId })).status).toBe(200);
  const loggedIn = laptop.cookie!;
  expect((await laptop.post('/logout')).status).toBe(204);
  expect((await new Visitor(second).request('GET', '/me', { headers: { cookie: loggedIn } })).status).toBe(401);
}

describeWithTls('Redis over TLS, as a user with only the rights the library needs', () => {
  let certificates: TestCertificates;
  let redis: RedisServerHandle;
  let admin: Redis;
  const closers: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    certificates = await makeTestCertificates();
    redis = await startRedis({ tls: certificates });
    admin = new Redis(redis.url, { tls: certificates.clientTls });
  });

  afterAll(async () => {
    await Promise.all(closers.map((close) => close()));
    admin?.disconnect();
    await redis?.stop();
  });

  /** A Redis user with exactly `rules` (and a password), as an operator would create it. */
  async function createUser(name: string, rules: string): Promise<void> {
    await admin.call('ACL', 'SETUSER', name, 'reset', 'on', `>${PASSWORD}`, ...rules.split(' '));
  }

  function connectionAs(username: string, tls = certificates.clientTls): RedisOptions {
    return { host: redis.host, port: redis.port, tls, username, password: PASSWORD };
  }

  async function app(options: Parameters<typeof startSessionApp>[0]): Promise<RunningApp> {
    const started = await startSessionApp(options);
    closers.push(() => started.close());
    return started;
  }

  it('serves login, cart, list, revoke, log out everywhere and logout with ioredis `tls: { ca }` options', async () => {
    const prefix = uniquePrefix('tls');
    await createUser('sessions-a', minimalAclRules(prefix));
    const [a, b] = [await app({ prefix, redis: connectionAs('sessions-a') }), await app({ prefix, redis: connectionAs('sessions-a') })];
    await sessionStory(a.url, b.url, 'u-tls-options');
    // Nothing outside the prefix was written (the user could not), and every key has an expiry.
    expect((await admin.keys('*')).filter((key) => !key.startsWith(prefix))).toEqual([]);
    for (const key of await admin.keys(`${prefix}*`)) expect(await admin.pttl(key)).toBeGreaterThan(0);
  });

  it("passes the health check as that user; CONFIG, which it may not run, reads 'unknown'", async () => {
    const prefix = uniquePrefix('tls-health');
    await createUser('sessions-health', minimalAclRules(prefix));
    const client = new Redis(connectionAs('sessions-health'));
    try {
      const health = await probeSessionStore(client, { timeout: 2_000 });
      expect(health).toMatchObject({ role: 'master', maxmemoryPolicy: 'unknown', problems: [], warnings: [] });
    } finally {
      client.disconnect();
    }
  });

  it('serves the same story from a rediss:// URL, the CA trusted by the process (NODE_EXTRA_CA_CERTS)', async () => {
    const prefix = uniquePrefix('tls-url');
    await createUser('sessions-url', minimalAclRules(prefix));
    const child: ChildSessionApp = await startChildSessionApp(
      { prefix, redis: `rediss://sessions-url:${PASSWORD}@${redis.host}:${redis.port}` },
      { NODE_EXTRA_CA_CERTS: certificates.caFile },
    );
    closers.push(() => child.stop());
    await sessionStory(child.url, child.url, 'u-tls-url');
    expect(child.output()).not.toMatch(/NOPERM|Skipping the ready check/);
  });

  it('refuses a server whose certificate another CA signed: requests answer 503 and the log says why', async () => {
    const prefix = uniquePrefix('tls-wrong-ca');
    await createUser('sessions-b', minimalAclRules(prefix));
    const stranger = await makeTestCertificates('tls-stranger');
    const errors = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const started = await app({ prefix, redis: connectionAs('sessions-b', stranger.clientTls), redisDeadline: 300 });
      expect((await new Visitor(started.url).post('/login', { id: 'u' })).status).toBe(503);
      expect(errors.mock.calls.map(([message]) => String(message)).join('\n')).toMatch(/Redis connection failed \(.*certificate.*\)/);
    } finally {
      jest.restoreAllMocks();
    }
  });

  it('boots while Redis is down and, once Redis is up, logs the command the user may not run', async () => {
    const prefix = uniquePrefix('tls-late');
    const [port] = await freePorts(1);
    const dir = await makeTempDir('tls-late');
    const errors = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const started = await app({ prefix, redis: { host: LOCALHOST, port, tls: certificates.clientTls, username: 'sessions-late', password: PASSWORD } });
      expect((await new Visitor(started.url).post('/login', { id: 'u' })).status).toBe(503);
      // The user comes with the server (a `user` directive), without HSET.
      const rules = minimalAclRules(prefix).replace(' +hset', '').split(' ');
      const server = await launchRedisServer({ port, dir, tls: certificates, args: ['--user', 'sessions-late', 'on', `>${PASSWORD}`, ...rules] });
      closers.push(async () => {
        await server.stop();
        await removeTempDir(dir);
      });
      const logged = () => errors.mock.calls.map(([message]) => String(message)).join('\n');
      await waitUntil('the refused command to be logged', () => Promise.resolve(/who may not run HSET \(writes session fields\)/.test(logged())));
    } finally {
      jest.restoreAllMocks();
    }
  });

  it('fails boot naming a command the user may not run, and the ACL line to use', async () => {
    const prefix = uniquePrefix('tls-no-hset');
    await createUser('sessions-c', minimalAclRules(prefix).replace(' +hset', ''));
    const boot = app({ prefix, redis: connectionAs('sessions-c') });
    await expect(boot).rejects.toThrow(SessionConfigError);
    await expect(boot).rejects.toThrow(/user "sessions-c", who may not run HSET \(writes session fields\) on keys and channels under/);
    await expect(boot).rejects.toThrow(`ACL SETUSER sessions-c ${minimalAclRules(prefix)}`);
  });

  it('fails boot when the user may not run scripts, or only on keys under another prefix', async () => {
    const prefix = uniquePrefix('tls-no-eval');
    await createUser('sessions-d', minimalAclRules(prefix).replace(' +eval ', ' '));
    await expect(app({ prefix, redis: connectionAs('sessions-d') })).rejects.toThrow(/may not run EVAL \(runs the session scripts/);

    await createUser('sessions-e', minimalAclRules('elsewhere:'));
    const refused = (await app({ prefix, redis: connectionAs('sessions-e') }).catch((error: Error) => error)) as Error;
    expect(refused).toBeInstanceOf(SessionConfigError);
    expect(refused.message).toMatch(/HGETALL \(reads a session\)/);
    expect(refused.message).not.toMatch(/INFO \(|PING \(/); // allowed on no key: only the keyed commands are named
  });

  it("fails boot naming the events feature a refused command serves, and checks each feature's commands only when it is on", async () => {
    const prefix = uniquePrefix('tls-no-subscribe');
    await createUser('sessions-f', minimalAclRules(prefix).replace(' +subscribe', ''));
    const refused = (await app({ prefix, redis: connectionAs('sessions-f'), events: { crossReplica: true } }).catch((error: Error) => error)) as Error;
    expect(refused).toBeInstanceOf(SessionConfigError);
    expect(refused.message).toMatch(/may not run SUBSCRIBE \(hears other replicas' session events \(option "events\.crossReplica"\)\)/);
    // Without the feature, the same user boots and serves.
    const started = await app({ prefix, redis: connectionAs('sessions-f') });
    expect((await new Visitor(started.url).post('/login', { id: 'u-no-events' })).status).toBe(200);

    // Turning expired notifications on is an admin right the line leaves out; asked for, it is named, with the line that grants it.
    const configuring = uniquePrefix('tls-no-config');
    await createUser('sessions-g', minimalAclRules(configuring));
    const boot = app({ prefix: configuring, redis: connectionAs('sessions-g'), events: { expired: 'configure' } });
    await expect(boot).rejects.toThrow(
      /may not run CONFIG GET \(.*\); CONFIG SET \(turns expired notifications on \(option "events\.expired": 'configure'\)\)/,
    );
    await expect(boot).rejects.toThrow(`ACL SETUSER sessions-g ${minimalAclRules(configuring, ['configureExpiredEvents'])}`);
  });
});

describeWithTls('Redis Cluster over TLS (bus included), as a user with only the rights the library needs', () => {
  let certificates: TestCertificates;
  let cluster: Awaited<ReturnType<typeof startCluster>>;
  const running: RunningApp[] = [];

  beforeAll(async () => {
    certificates = await makeTestCertificates('tls-cluster');
    cluster = await startCluster({ tls: certificates });
  });

  afterAll(async () => {
    await Promise.all(running.map((app) => app.close()));
    await cluster?.stop();
  });

  it('serves login, cart, list, revoke, log out everywhere and logout', async () => {
    const prefix = uniquePrefix('tls-cluster');
    // Every node keeps its own users: the operator creates the user on each.
    for (const node of cluster.nodes) {
      await askOver(
        { ...node, tls: certificates.clientTls },
        'ACL',
        'SETUSER',
        'sessions',
        'reset',
        'on',
        `>${PASSWORD}`,
        ...minimalAclRules(prefix).split(' '),
      );
    }
    const redis = { cluster: cluster.nodes, options: { redisOptions: { tls: certificates.clientTls, username: 'sessions', password: PASSWORD } } };
    for (let i = 0; i < 2; i++) running.push(await startSessionApp({ prefix, redis }));
    await sessionStory(running[0].url, running[1].url, 'u-tls-cluster');
  });
});
