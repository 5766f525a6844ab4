import Redis from 'ioredis';
import type { Socket } from 'socket.io-client';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { Visitor } from '../session/support/http-client';
import { signCookie } from '@app/session/cookie/cookie-signature';
import { TEST_SECRET, type RunningApp } from '../session/support/session-app';
import { startSocketApp } from './support/socket-app';
import { askIo, connectIo } from './support/socket-clients';

/** Idle timeout of the app under test; `touchAfter` keeps its default, a tenth of it. */
const IDLE_MS = 60_000;

/** A gateway's events with the session of the socket's handshake: socket.io over one replica. */
describe('sessions in socket.io gateways', () => {
  let redis: RedisServerHandle;
  let app: RunningApp;
  let tokenApp: RunningApp;
  let admin: Redis;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    app = await startSocketApp({
      redis: redis.url,
      prefix: uniquePrefix('io'),
      idleTimeout: IDLE_MS,
      sockets: { allowedOrigins: ['https://partner.example'] },
    });
    tokenApp = await startSocketApp({ redis: redis.url, prefix: uniquePrefix('io-token'), idFrom: { header: 'X-Session-Token' } });
  });

  afterAll(async () => {
    sockets.forEach((socket) => socket.close());
    admin?.disconnect();
    await Promise.all([app?.close(), tokenApp?.close()]);
    await redis?.stop();
  });

  async function connect(...args: Parameters<typeof connectIo>): Promise<Socket> {
    const socket = await connectIo(...args);
    sockets.push(socket);
    return socket;
  }

  async function loggedIn(id: string): Promise<Visitor> {
    const visitor = new Visitor(app.url);
    expect((await visitor.post('/login', { id })).status).toBe(200);
    return visitor;
  }

  it('reads the session of the handshake cookie in @Session() and the guard', async () => {
    const visitor = await loggedIn('u-io-1');
    await visitor.post('/items', { item: 'by-http' });
    const socket = await connect(app.url, { cookie: visitor.cookie });
    expect(await askIo(socket, 'whoami')).toEqual({ user: { id: 'u-io-1', name: 'u-io-1' } });
    expect(await askIo(socket, 'guarded')).toEqual({ id: 'u-io-1' });
    expect(await askIo(socket, 'whole')).toMatchObject({ user: { id: 'u-io-1' }, items: ['by-http'] });
  });

  it('sees a change made over HTTP after the socket connected: each event reads the session afresh', async () => {
    const visitor = await loggedIn('u-io-fresh');
    const socket = await connect(app.url, { cookie: visitor.cookie });
    expect(await askIo(socket, 'whole')).not.toHaveProperty('items');
    await visitor.post('/items', { item: 'later' });
    expect(await askIo(socket, 'whole')).toMatchObject({ items: ['later'] });
  });

  it('writes through SessionService.update from a handler, where HTTP reads it', async () => {
    const visitor = await loggedIn('u-io-write');
    const socket = await connect(app.url, { cookie: visitor.cookie });
    expect(await askIo(socket, 'add', { item: 'by-socket' })).toEqual({ count: 1 });
    expect((await visitor.get('/whole')).body.items).toEqual(['by-socket']);
  });

  it('answers a guarded event of a socket without a session with an error frame, and stays connected', async () => {
    const socket = await connect(app.url);
    expect(await askIo(socket, 'whoami')).toEqual({ user: null });
    expect(await askIo(socket, 'whole')).toBeNull();
    await expect(askIo(socket, 'guarded')).rejects.toMatchObject({ frame: { status: 'error', statusCode: 401, message: 'Not logged in' } });
    await expect(askIo(socket, 'add', { item: 'x' })).rejects.toMatchObject({ frame: { statusCode: 401 } });
    expect(socket.connected).toBe(true);
    expect(await askIo(socket, 'whoami')).toEqual({ user: null });
  });

  it('takes a forged or unknown cookie as no session', async () => {
    const forged = `sid=${encodeURIComponent(signCookie('not-a-session-anyone-has', 'another-secret-of-at-least-32-characters'))}`;
    const unknown = `sid=${encodeURIComponent(signCookie('not-a-session-anyone-has', TEST_SECRET))}`;
    for (const cookie of [forged, unknown]) {
      const socket = await connect(app.url, { cookie });
      expect(await askIo(socket, 'whoami')).toEqual({ user: null });
    }
  });

  it("refuses a handshake from a foreign Origin, and lets the app's own and the allowed ones through", async () => {
    const visitor = await loggedIn('u-io-origin');
    await expect(connectIo(app.url, { cookie: visitor.cookie, origin: 'https://evil.example' })).rejects.toThrow(/Origin "https:\/\/evil.example"/);
    await expect(connectIo(app.url, { cookie: visitor.cookie, origin: 'null' })).rejects.toThrow(/may not open a socket/);
    const own = await connect(app.url, { cookie: visitor.cookie, origin: app.url });
    expect(await askIo(own, 'whoami')).toMatchObject({ user: { id: 'u-io-origin' } });
    const partner = await connect(app.url, { cookie: visitor.cookie, origin: 'https://partner.example' });
    expect(await askIo(partner, 'whoami')).toMatchObject({ user: { id: 'u-io-origin' } });
  });

  it('reads the session of a client without cookies from auth.token', async () => {
    const client = new Visitor(tokenApp.url);
    const login = await fetch(`${tokenApp.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'u-token' }),
    });
    const token = login.headers.get('x-session-token')!;
    expect(token).toBeTruthy();
    expect(client.cookie).toBeUndefined();
    const socket = await connect(tokenApp.url, { token });
    expect(await askIo(socket, 'guarded')).toEqual({ id: 'u-token' });
    const anonymous = await connect(tokenApp.url, { token: 'not-a-token' });
    expect(await askIo(anonymous, 'whoami')).toEqual({ user: null });
  });

  it('sends no write to Redis for socket events inside touchAfter: reads only', async () => {
    const visitor = await loggedIn('u-io-cost');
    const socket = await connect(app.url, { cookie: visitor.cookie });
    await askIo(socket, 'whoami');
    const before = await commandCalls();
    for (let i = 0; i < 20; i++) await askIo(socket, i % 2 ? 'whole' : 'guarded');
    const after = await commandCalls();
    const delta = Object.fromEntries(
      Object.entries(after)
        .map(([name, calls]) => [name, calls - (before[name] ?? 0)] as const)
        .filter(([name, more]) => more > 0 && name !== 'info'),
    );
    expect(delta).toEqual({ hgetall: 20 });
  });

  async function commandCalls(): Promise<Record<string, number>> {
    const info = await admin.info('commandstats');
    const calls: Record<string, number> = {};
    for (const [, name, count] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[name] = Number(count);
    return calls;
  }
});
