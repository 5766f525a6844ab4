import { Controller, HttpCode, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import Redis from 'ioredis';
import { setTimeout as delay } from 'node:timers/promises';
import { startStallableProxy, type StallableProxy } from '../faults/support/tcp-proxy';
import { startFailoverSentinel, waitUntilMaster, type FailoverSentinel } from '../support/failover-topologies';
import { ask, waitUntil } from '../support/probe';
import { uniquePrefix } from '../support/prefix';
import { topologyAvailable } from '../support/topologies';
import { sessionRedisKey } from '../support/key-scheme';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { sessionIdOf } from './support/event-log';
import { startSessionApp, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';

// Issue 12, durability on failover: with `durability` on, a logout is answered only once the replica
// has it, so a master killed right after the answer never brings the session back on the new master.
// The replica follows its master through a TCP proxy that holds the replication stream for 400 ms
// during the logout, and drops what it held when the master dies: without the option the logout
// answers while the replica still holds the session, and the promoted replica serves it again.

const available = topologyAvailable();

(available.sentinel ? describe : describe.skip)("durability: a logout survives the master's death (Sentinel)", () => {
  let setup: FailoverSentinel;
  let app: RunningApp;
  let replicationLink: StallableProxy;
  const prefix = uniquePrefix('durable');

  beforeAll(async () => {
    setup = await startFailoverSentinel();
    const [master, replica] = setup.servers;
    replicationLink = await startStallableProxy(master);
    await ask(replica.host, replica.port, 'REPLICAOF', master.host, replicationLink.port);
    await waitUntil(
      'the replica to sync through the proxy',
      async () =>
        /master_port:(\d+)[\s\S]*master_link_status:up/.exec(String(await ask(replica.host, replica.port, 'INFO', 'replication')))?.[1] ===
        String(replicationLink.port),
    );
    app = await startSessionApp({
      redis: { sentinels: setup.sentinels, name: setup.name },
      prefix,
      redisDeadline: 1_000,
      durability: { replicas: 1, timeout: 800 },
    });
  }, 90_000);

  afterAll(async () => {
    await app?.close();
    await replicationLink?.close();
    await setup?.stop();
  });

  it('never serves a logged-out session again after the master is killed right after the logout answered', async () => {
    const [master, replica] = setup.servers;
    const visitor = new Visitor(app.url);
    expect((await visitor.post('/login', { id: 'durable-user' })).status).toBe(200);
    expect((await visitor.get('/me')).status).toBe(200);
    const loggedInCookie = visitor.cookie;

    const replicaClient = new Redis({ host: replica.host, port: replica.port, lazyConnect: true });
    await replicaClient.connect();
    try {
      expect((await replicaClient.keys(`${prefix}*`)).length).toBeGreaterThan(0); // the session and its user index
      replicationLink.stall(400);
      const logout = await visitor.post('/logout');
      expect(logout.status).toBe(204);
      const onReplicaWhenAnswered = await replicaClient.keys(`${prefix}*`);
      await master.process.kill(); // at once: what the replica does not have yet is lost with the proxy's held bytes
      expect(onReplicaWhenAnswered).toEqual([]);

      await waitUntilMaster(replica);
      expect(await replicaClient.keys(`${prefix}*`)).toEqual([]);
    } finally {
      replicaClient.disconnect();
    }

    // The app follows the sentinel to the new master; the old cookie never gets its session back.
    const stale = new Visitor(app.url);
    stale.cookie = loggedInCookie;
    let status = 503;
    for (let i = 0; i < 100 && status === 503; i++) {
      status = (await stale.get('/me')).status;
      if (status === 503) await delay(100);
    }
    expect(status).toBe(401);
  }, 60_000);
});

/** express-session's own `req.session.destroy()`, as passport and other middleware call it. */
@Controller('raw')
class RawSessionController {
  @Post('destroy')
  @HttpCode(204)
  destroy(@Req() req: Request): Promise<void> {
    return new Promise((resolve, reject) => req.session.destroy((error: Error | undefined) => (error ? reject(error) : resolve())));
  }
}

// The writes security depends on wait for the replica however they are asked for, not only through
// SessionService: express-session's destroy and regenerate (what passport's login and logout call)
// and a periodic renewal too. The replica follows its master through a proxy that holds the
// replication stream for STALL_MS during each action: answered before the replica has the write,
// the old key would still be there.
describe('durability: deletions and ID changes made without SessionService wait for the replica', () => {
  let master: RedisServerHandle;
  let replica: RedisServerHandle;
  let replicationLink: StallableProxy;
  let onReplica: Redis;
  let app: RunningApp;
  let renewingApp: RunningApp;
  const prefix = uniquePrefix('durable-raw');
  const renewingPrefix = uniquePrefix('durable-renewal');
  const STALL_MS = 400;
  const RENEWAL_MS = 1_000;

  beforeAll(async () => {
    master = await startRedis({ controllable: true });
    replica = await startRedis({ controllable: true });
    replicationLink = await startStallableProxy(master);
    onReplica = new Redis(replica.url);
    await onReplica.call('REPLICAOF', master.host, String(replicationLink.port));
    await waitUntil('the replica to sync', async () => /master_link_status:up/.test(await onReplica.info('replication')));
    const options = { redis: master.url, redisDeadline: 5_000, durability: { replicas: 1, timeout: 3_000 } };
    app = await startSessionApp({ ...options, prefix }, [RawSessionController]);
    renewingApp = await startSessionApp({ ...options, prefix: renewingPrefix, renewal: { interval: RENEWAL_MS, grace: RENEWAL_MS / 2 } });
  }, 30_000);

  afterAll(async () => {
    await app?.close();
    await renewingApp?.close();
    onReplica?.disconnect();
    await replicationLink?.close();
    await replica?.stop();
    await master?.stop();
  });

  /** A visitor of `on` with a session the replica holds; its Redis key. */
  async function replicatedSession(on = app, keyPrefix = prefix): Promise<{ visitor: Visitor; key: string }> {
    const visitor = new Visitor(on.url);
    expect((await visitor.post('/inc')).status).toBe(200);
    const key = sessionRedisKey(keyPrefix, sessionIdOf(visitor.cookie!));
    await waitUntil('the replica to hold the session', async () => (await onReplica.exists(key)) === 1);
    return { visitor, key };
  }

  it('req.session.destroy() answers once the replica no longer holds the session', async () => {
    const { visitor, key } = await replicatedSession();
    replicationLink.stall(STALL_MS);
    expect((await visitor.post('/raw/destroy')).status).toBe(204);
    expect(await onReplica.exists(key)).toBe(0);
  });

  it("req.session.regenerate() (passport's login and logout) answers once the replica no longer holds the old ID", async () => {
    const { visitor, key } = await replicatedSession();
    replicationLink.stall(STALL_MS);
    expect((await visitor.post('/regenerate-keeping', { keep: [] })).status).toBe(204);
    expect(await onReplica.exists(key)).toBe(0);
  });

  it('a renewal answers once the replica holds the session under its new ID', async () => {
    const { visitor, key } = await replicatedSession(renewingApp, renewingPrefix);
    await delay(RENEWAL_MS + 100); // past the renewal interval
    replicationLink.stall(STALL_MS);
    expect((await visitor.get('/peek')).status).toBe(200);
    const renewedKey = sessionRedisKey(renewingPrefix, sessionIdOf(visitor.cookie!));
    expect(renewedKey).not.toBe(key);
    expect(await onReplica.exists(renewedKey)).toBe(1);
  });
});
