import Redis from 'ioredis';
import { performance } from 'node:perf_hooks';
import type { Socket } from 'socket.io-client';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { Visitor } from '../session/support/http-client';
import { digestOfCookie } from '../session/support/event-log';
import type { RunningApp } from '../session/support/session-app';
import { startSocketReplicas } from './support/socket-app';
import { loginOn, socketOnEach } from './support/replica-sockets';
import { endOfIo } from './support/socket-clients';

/** 20 by default, to keep the suite quick; the README's figures are from SOCKET_CLOSE_TRIALS=200. */
const TRIALS = Number(process.env.SOCKET_CLOSE_TRIALS ?? 20);
/** Trials run this many at a time. */
const AT_ONCE = 10;
const IDLE_MS = 3_000;

/**
 * How long a session's sockets outlive its end, measured (the README's "WebSockets" figures): from
 * the answer to the request that ended it (revoke, log out everywhere) to the disconnect of the
 * last of its three sockets, one per replica; for an idle timeout, from the expiry Redis held to that
 * disconnect. Every trial must close its own sockets with the right reason, and no other; the times
 * are printed, not asserted (speed belongs to the benchmark).
 */
describe('time from the end of a session to the close of its sockets', () => {
  let redis: RedisServerHandle;
  let replicas: RunningApp[];
  let idleReplicas: RunningApp[];
  let admin: Redis;
  const sockets: Socket[] = [];
  const idlePrefix = uniquePrefix('io-lat-idle');

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    const events = { crossReplica: true };
    replicas = await startSocketReplicas(3, { redis: redis.url, prefix: uniquePrefix('io-lat'), events });
    idleReplicas = await startSocketReplicas(3, { redis: redis.url, prefix: idlePrefix, events, idleTimeout: IDLE_MS });
  }, 60_000);

  afterAll(async () => {
    sockets.forEach((socket) => socket.close());
    admin?.disconnect();
    await Promise.all([...(replicas ?? []), ...(idleReplicas ?? [])].map((app) => app.close()));
    await redis?.stop();
  });

  const login = loginOn;
  const socketsOf = (apps: RunningApp[], visitor: Visitor) => socketOnEach(apps, visitor, sockets);

  /** When the last socket is disconnected, with every reason it heard. */
  async function closedAt(opened: Socket[]): Promise<{ at: number; reasons: string[] }> {
    const ends = await Promise.all(opened.map((socket) => endOfIo(socket).then((end) => ({ ...end, at: performance.now() }))));
    return { at: Math.max(...ends.map((end) => end.at)), reasons: ends.map((end) => end.reason) };
  }

  async function inBatches(run: (trial: number) => Promise<number>): Promise<number[]> {
    const times: number[] = [];
    for (let start = 0; start < TRIALS; start += AT_ONCE) {
      times.push(...(await Promise.all(Array.from({ length: Math.min(AT_ONCE, TRIALS - start) }, (_, i) => run(start + i)))));
    }
    return times;
  }

  function report(what: string, times: number[]): void {
    const sorted = [...times].sort((a, b) => a - b);
    const p50 = sorted[Math.floor(sorted.length / 2)];
    console.log(`${what}: ${sorted.length} trials, p50 ${p50.toFixed(1)} ms, max ${sorted[sorted.length - 1].toFixed(1)} ms`);
  }

  it('revoke', async () => {
    const times = await inBatches(async (trial) => {
      const keeper = await login(replicas, `lat-revoke-${trial}`);
      const revoked = await login(replicas, `lat-revoke-${trial}`);
      const keptSockets = await socketsOf(replicas, keeper);
      const closing = closedAt(await socketsOf(replicas, revoked));
      const handle = (await keeper.get('/sessions')).body.find((session: { current: boolean }) => !session.current).id;
      expect((await keeper.delete(`/sessions/${handle}`)).body).toEqual({ revoked: true });
      const answered = performance.now();
      const closed = await closing;
      expect(closed.reasons).toEqual(['revoked', 'revoked', 'revoked']);
      expect(keptSockets.every((socket) => socket.connected)).toBe(true);
      return closed.at - answered;
    });
    report('revoke → sockets closed', times);
  }, 120_000);

  it('log out everywhere', async () => {
    const times = await inBatches(async (trial) => {
      const keeper = await login(replicas, `lat-all-${trial}`);
      const other = await login(replicas, `lat-all-${trial}`);
      const keptSockets = await socketsOf(replicas, keeper);
      const closing = closedAt(await socketsOf(replicas, other));
      expect((await keeper.post('/logout-all', { keepCurrent: true })).body).toEqual({ deleted: 1 });
      const answered = performance.now();
      const closed = await closing;
      expect(closed.reasons).toEqual(['revoked', 'revoked', 'revoked']);
      expect(keptSockets.every((socket) => socket.connected)).toBe(true);
      return closed.at - answered;
    });
    report('log out everywhere → sockets closed', times);
  }, 120_000);

  it('idle timeout', async () => {
    // Batches of sessions left idle together, each batch waiting out the idle timeout.
    const times: number[] = [];
    for (let start = 0; start < TRIALS; start += 2 * AT_ONCE) {
      const batch = Array.from({ length: Math.min(2 * AT_ONCE, TRIALS - start) }, async (_, i) => {
        const trial = start + i;
        const visitor = await login(idleReplicas, `lat-idle-${trial}`);
        const closing = closedAt(await socketsOf(idleReplicas, visitor));
        const expiresAt = Number(await admin.hget(`${idlePrefix}${digestOfCookie(visitor.cookie!)}`, ':e'));
        expect(expiresAt).toBeGreaterThan(Date.now()); // set up before it expired
        const closed = await closing;
        expect(closed.reasons).toEqual(['expired', 'expired', 'expired']);
        // performance.now() is on another clock than Redis's expiry (ms since the epoch): convert.
        return closed.at + performance.timeOrigin - expiresAt;
      });
      times.push(...(await Promise.all(batch)));
    }
    report('idle expiry → sockets closed', times);
  }, 120_000);
});
