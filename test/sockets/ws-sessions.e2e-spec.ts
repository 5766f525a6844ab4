import Redis from 'ioredis';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { socketSessionsOf } from '@app/session/transports/with-sessions';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { digestOfCookie } from '../session/support/event-log';
import { uniquePrefix } from '../support/prefix';
import { Visitor } from '../session/support/http-client';
import type { RunningApp } from '../session/support/session-app';
import { startSocketReplicas } from './support/socket-app';
import { connectWs, type WsClient } from './support/socket-clients';

/** The same gateway over Nest's `ws` adapter, on two replicas with cross-replica events. */
describe('sessions in ws gateways', () => {
  let redis: RedisServerHandle;
  let replicas: RunningApp[];
  const clients: WsClient[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    replicas = await startSocketReplicas(2, { redis: redis.url, prefix: uniquePrefix('ws'), events: { crossReplica: true } }, 'ws');
  });

  afterAll(async () => {
    clients.forEach((client) => client.close());
    await Promise.all((replicas ?? []).map((app) => app.close()));
    await redis?.stop();
  });

  async function connect(...args: Parameters<typeof connectWs>): Promise<WsClient> {
    const client = await connectWs(...args);
    clients.push(client);
    return client;
  }

  async function login(id: string): Promise<Visitor> {
    const visitor = new Visitor(replicas[0].url);
    expect((await visitor.post('/login', { id })).status).toBe(200);
    return visitor;
  }

  it('reads the session of the upgrade request, and writes through SessionService.update', async () => {
    const visitor = await login('u-ws-1');
    const client = await connect(replicas[1].url, { cookie: visitor.cookie });
    expect(await client.ask('whoami')).toEqual({ user: { id: 'u-ws-1', name: 'u-ws-1' } });
    expect(await client.ask('add', { item: 'over-ws' })).toEqual({ count: 1 });
    expect((await visitor.get('/whole')).body.items).toEqual(['over-ws']);
  });

  it('never ties a connection that closed while its session was read to that session', async () => {
    // Tied after its close, it would stay in the replica's memory, timer included, until the session ends.
    const visitor = await login('u-ws-gone');
    const bySession = (socketSessionsOf(replicas[0].app) as unknown as { bySession: Map<string, Set<unknown>> }).bySession;
    const admin = new Redis(redis.url);
    try {
      await admin.call('CLIENT', 'PAUSE', '400', 'ALL'); // the handshake's read waits for Redis
      const socket = new WebSocket(`${replicas[0].url.replace(/^http/, 'ws')}/ws`, { headers: { cookie: visitor.cookie! } });
      await once(socket, 'open');
      socket.close();
      await once(socket, 'close');
      await delay(600); // Redis answers the read
      expect(bySession.has(digestOfCookie(visitor.cookie!))).toBe(false);
    } finally {
      admin.disconnect();
    }
  });

  it('answers a guarded event without a session with an error frame', async () => {
    const client = await connect(replicas[0].url);
    client.socket.send(JSON.stringify({ event: 'guarded' }));
    const frame = await new Promise((resolve) => client.socket.once('message', (raw: Buffer) => resolve(JSON.parse(raw.toString()))));
    expect(frame).toEqual({ event: 'exception', data: { status: 'error', statusCode: 401, message: 'Not logged in' } });
    expect(await client.ask('whoami')).toEqual({ user: null });
  });

  it('refuses the upgrade from a foreign Origin with 403, and takes the own origin', async () => {
    const visitor = await login('u-ws-origin');
    await expect(connectWs(replicas[0].url, { cookie: visitor.cookie, origin: 'https://evil.example' })).rejects.toMatchObject({ status: 403 });
    const own = await connect(replicas[0].url, { cookie: visitor.cookie, origin: replicas[0].url });
    expect(await own.ask('whoami')).toMatchObject({ user: { id: 'u-ws-origin' } });
  });

  it('tells every socket of a session that logged out on another replica, then closes it with 1008', async () => {
    const visitor = await login('u-ws-logout');
    const bystander = await login('u-ws-bystander');
    const ending = await Promise.all(replicas.map((app) => connect(app.url, { cookie: visitor.cookie })));
    const staying = await connect(replicas[1].url, { cookie: bystander.cookie });
    for (const client of ending) expect(await client.ask('whoami')).toMatchObject({ user: { id: 'u-ws-logout' } });

    expect((await visitor.post('/logout')).status).toBe(204);

    for (const client of ending) {
      expect(await client.closed).toEqual({ code: 1008, reason: 'session logout' });
      expect(client.frames.at(-1)).toEqual({ event: 'session:ended', data: { reason: 'logout' } });
    }
    expect(await staying.ask('guarded')).toEqual({ id: 'u-ws-bystander' });
  });
});
