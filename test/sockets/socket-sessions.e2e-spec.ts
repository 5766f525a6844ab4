import Redis from 'ioredis';
import type { IncomingMessage } from 'node:http';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { Server, ServerOptions } from 'socket.io';
import { Adapter } from 'socket.io-adapter';
import { io, type Socket } from 'socket.io-client';
import { setTimeout as delay } from 'node:timers/promises';
import { socketSessionsOf } from '@app/session/transports/with-sessions';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { Visitor } from '../session/support/http-client';
import { signCookie } from '@app/session/cookie/cookie-signature';
import { digestOfCookie, sessionIdOf } from '../session/support/event-log';
import { TEST_SECRET, type RunningApp } from '../session/support/session-app';
import { sessionRedisKey } from '../support/key-scheme';
import { SessionCore } from '@app/session/store/session-core';
import { messages } from '@app/session/errors/session.messages';
import { startSocketApp, usersAtConnection } from './support/socket-app';
import { askIo, connectIo, endOfIo } from './support/socket-clients';

/** Idle timeout of the app under test; `touchAfter` keeps its default, a tenth of it. */
const IDLE_MS = 60_000;

/** The in-memory adapter of socket.io, keeping the rooms it was asked to add sockets to: a stand-in for the Redis adapter. */
class RecordingAdapter extends Adapter {
  static readonly joined = new Set<string>();

  override addAll(id: string, rooms: Set<string>): ReturnType<Adapter['addAll']> {
    for (const room of rooms) RecordingAdapter.joined.add(room);
    return super.addAll(id, rooms);
  }
}

/**
 * An app's own socket.io adapter, as the socket.io Redis adapter is set up: an `IoAdapter` whose
 * `createIOServer` changes the server's options (an `allowRequest` that refuses a marked handshake),
 * installs its own socket.io adapter, and adds a middleware to every namespace (it notes the socket).
 */
class CustomIoAdapter extends IoAdapter {
  /** The sockets its middleware let through. */
  static readonly handshakes = new Set<string>();

  override createIOServer(port: number, options?: Partial<ServerOptions>): Server {
    const allowRequest = (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void) =>
      callback(req.headers['x-refuse-me'] ? 'refused by the custom adapter' : null, !req.headers['x-refuse-me']);
    const server: Server = super.createIOServer(port, { ...options, allowRequest } as ServerOptions);
    server.adapter(RecordingAdapter);
    server.on('new_namespace', (namespace) =>
      namespace.use((socket, next) => {
        CustomIoAdapter.handshakes.add(socket.id);
        next();
      }),
    );
    return server;
  }
}

/** A gateway's events with the session of the socket's handshake: socket.io over one replica. */
describe('sessions in socket.io gateways', () => {
  let redis: RedisServerHandle;
  let app: RunningApp;
  let tokenApp: RunningApp;
  let customApp: RunningApp;
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
    customApp = await startSocketApp({ redis: redis.url, prefix: uniquePrefix('io-custom') }, 'socket.io', (nest) => new CustomIoAdapter(nest));
  });

  afterAll(async () => {
    sockets.forEach((socket) => socket.close());
    admin?.disconnect();
    await Promise.all([app?.close(), tokenApp?.close(), customApp?.close()]);
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

  it.each(['login', 'regenerate'])('answers %s from a socket with a 400 that says why, and changes nothing', async (by) => {
    // No response carries a socket's new cookie: sessions change their ID over HTTP (a socket without a
    // session gets the 401 of one; with one, this 400, not the "not mounted for this route" of a plain Error).
    const visitor = await loggedIn(`u-io-new-id-${by}`);
    const socket = await connect(app.url, { cookie: visitor.cookie });
    expect(await askIo(socket, 'new-id', { by })).toEqual({ error: { statusCode: 400, message: messages.socketCannotChangeId() } });
    expect(await askIo(socket, 'guarded')).toEqual({ id: `u-io-new-id-${by}` });
    expect((await visitor.get('/me')).body).toMatchObject({ user: { id: `u-io-new-id-${by}` } });
    const anonymous = await connect(app.url, {});
    expect(await askIo(anonymous, 'new-id', { by })).toEqual({ error: { statusCode: 401, message: messages.socketWithoutSession() } });
  });

  it('closes a socket when its session expires sooner than the expiry it saw (app code lowered the cookie maxAge)', async () => {
    const visitor = await loggedIn('u-io-shortened');
    const socket = await connect(app.url, { cookie: visitor.cookie });
    const ended = endOfIo(socket);
    expect((await visitor.post('/cookie-max-age', { ms: 1_000 })).status).toBe(200);
    expect(await askIo(socket, 'guarded')).toEqual({ id: 'u-io-shortened' }); // this replica reads the new, earlier expiry
    const outcome = await Promise.race([ended, new Promise((resolve) => setTimeout(() => resolve('open 2 s after the expiry'), 3_000))]);
    expect(outcome).toEqual({ reason: 'expired', disconnect: 'io server disconnect' });
  });

  it('never ties a socket that went while its session was read to that session', async () => {
    // Tied after it went, it would stay in the replica's memory, timer included, until the session ends.
    const visitor = await loggedIn('u-io-gone');
    const bySession = (socketSessionsOf(app.app) as unknown as { bySession: Map<string, Set<unknown>> }).bySession;
    await admin.call('CLIENT', 'PAUSE', '400', 'ALL'); // the handshake's read waits for Redis
    const socket = io(`${app.url}/t`, { transports: ['websocket'], extraHeaders: { cookie: visitor.cookie! }, reconnection: false, forceNew: true });
    await new Promise<void>((resolve) => socket.io.once('open', () => resolve())); // the connection is up, its namespace handshake reading the session
    socket.io.engine.close();
    await delay(600); // Redis answers the read
    socket.close();
    expect(bySession.has(digestOfCookie(visitor.cookie!))).toBe(false);
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
    // Unguarded, SessionService answers the same 401, saying why: a socket cannot start a session.
    expect(await askIo(socket, 'add-or-error', { item: 'x' })).toEqual({
      error: {
        statusCode: 401,
        message: 'No session on this socket: a socket cannot start one, since no response carries its cookie; sessions start over HTTP (log in, then connect)',
      },
    });
    expect(socket.connected).toBe(true);
    expect(await askIo(socket, 'whoami')).toEqual({ user: null });
  });

  it('connects a socket whose session ends while its handshake reads it as a visitor without one: a logout is never undone', async () => {
    const visitor = await loggedIn('u-io-race');
    // Hold the handshake's read of the session, once Redis has answered it, until the logout is done.
    const reader = app.app.get(SessionCore, { strict: false }).reader;
    const load = reader.load;
    let entered!: () => void;
    const reading = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    reader.load = async (id: string) => {
      const data = await load.call(reader, id);
      entered();
      await gate;
      return data;
    };
    try {
      const connecting = connect(app.url, { cookie: visitor.cookie });
      await reading;
      reader.load = load;
      expect((await visitor.post('/logout')).status).toBe(204);
      release();
      const socket = await connecting;
      expect(await askIo(socket, 'whoami')).toEqual({ user: null });
      expect(usersAtConnection.at(-1)).toBeNull(); // what the gateway's handleConnection saw, before that event
      await expect(askIo(socket, 'guarded')).rejects.toMatchObject({ frame: { statusCode: 401 } });
    } finally {
      reader.load = load;
      release();
    }
  });

  /** The warnings `running` logs while `during` runs. */
  async function warningsOf(running: RunningApp, during: () => Promise<void>): Promise<string[]> {
    const warnings: string[] = [];
    running.app.useLogger({ log() {}, error() {}, warn: (message: string) => warnings.push(String(message)) });
    try {
      await during();
    } finally {
      running.app.useLogger(['error']);
    }
    return warnings;
  }

  it('takes a forged or unknown cookie as no session, and logs the forged one as HTTP does', async () => {
    const forged = `sid=${encodeURIComponent(signCookie('not-a-session-anyone-has', 'another-secret-of-at-least-32-characters'))}`;
    const unknown = `sid=${encodeURIComponent(signCookie('not-a-session-anyone-has', TEST_SECRET))}`;
    for (const cookie of [forged, unknown]) {
      const warnings = await warningsOf(app, async () => {
        const socket = await connect(app.url, { cookie });
        expect(await askIo(socket, 'whoami')).toEqual({ user: null });
      });
      expect(warnings).toEqual(cookie === forged ? ['Session cookie has an invalid signature; the request continues without a session'] : []);
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
    const warnings = await warningsOf(tokenApp, async () => {
      const forged = await connect(tokenApp.url, { token: `${token}x` });
      expect(await askIo(forged, 'whoami')).toEqual({ user: null });
    });
    expect(warnings).toEqual(['Session header "X-Session-Token" has an invalid signature; the request continues without a session']);
  });

  it('under idFrom { header, cookie: true }, decides by a token sent even empty, as HTTP does, not by the cookie beside it', async () => {
    const bothApp = await startSocketApp({ redis: redis.url, prefix: uniquePrefix('io-both'), idFrom: { header: 'X-Session-Token', cookie: true } });
    try {
      const browser = new Visitor(bothApp.url);
      expect((await browser.post('/login', { id: 'u-both' })).status).toBe(200);
      const byCookie = await connect(bothApp.url, { cookie: browser.cookie });
      expect(await askIo(byCookie, 'guarded')).toEqual({ id: 'u-both' });
      const emptyToken = await connect(bothApp.url, { cookie: browser.cookie, headers: { 'x-session-token': '' } });
      expect(await askIo(emptyToken, 'whoami')).toEqual({ user: null });
      expect((await browser.get('/me', { 'x-session-token': '' })).status).toBe(401); // the same request over HTTP
      // A token that is no string at all is sent all the same: no session, logged, and not the cookie either.
      for (const token of [12345, { id: 'x' }]) {
        const warnings = await warningsOf(bothApp, async () => {
          const odd = await connect(bothApp.url, { cookie: browser.cookie, token });
          expect(await askIo(odd, 'whoami')).toEqual({ user: null });
        });
        expect(warnings).toEqual(['Session header "X-Session-Token" has an invalid signature; the request continues without a session']);
      }
      const nullToken = await connect(bothApp.url, { cookie: browser.cookie, token: null }); // none: the cookie decides
      expect(await askIo(nullToken, 'guarded')).toEqual({ id: 'u-both' });
    } finally {
      await bothApp.close();
    }
  });

  it('refuses an update past maxSessionBytes over a socket: an error answer, nothing saved, the socket goes on', async () => {
    const visitor = await loggedIn('u-io-limit');
    await visitor.post('/items', { item: 'kept' });
    const key = sessionRedisKey(app.prefix, sessionIdOf(visitor.cookie!));
    const stored = await admin.hgetall(key);
    expect(Object.keys(stored).length).toBeGreaterThan(0);
    const socket = await connect(app.url, { cookie: visitor.cookie });
    const huge = 'x'.repeat(70 * 1024); // past the default maxSessionBytes, 64 KiB

    // SessionService throws the HTTP answer (413): a handler that turns it into its reply, as the shop's `cart:add` does...
    expect(await askIo(socket, 'add-or-error', { item: huge })).toEqual({ error: { statusCode: 413, message: expect.stringMatching(/maxSessionBytes/) } });
    // ...and one that lets it through, which Nest's gateway answers with an `exception` frame.
    await expect(askIo(socket, 'add', { item: huge })).rejects.toMatchObject({ frame: { status: 'error' } });

    expect(await admin.hgetall(key)).toEqual(stored);
    expect(socket.connected).toBe(true);
    expect(await askIo(socket, 'add', { item: 'small' })).toEqual({ count: 2 });
    expect((await visitor.get('/whole')).body.items).toEqual(['kept', 'small']);
  });

  it('composes with a custom socket.io adapter: its options, adapter and middleware work, and so do the session and its end', async () => {
    const visitor = new Visitor(customApp.url);
    expect((await visitor.post('/login', { id: 'u-io-custom' })).status).toBe(200);
    const socket = await connect(customApp.url, { cookie: visitor.cookie });
    expect(await askIo(socket, 'guarded')).toEqual({ id: 'u-io-custom' });
    expect(await askIo(socket, 'whole')).toMatchObject({ user: { id: 'u-io-custom' } });
    // The custom adapter's own parts: its socket.io adapter holds the socket's room, its middleware ran, its allowRequest refuses.
    expect(RecordingAdapter.joined.has(socket.id!)).toBe(true);
    expect(CustomIoAdapter.handshakes.has(socket.id!)).toBe(true);
    await expect(connectIo(customApp.url, { cookie: visitor.cookie, headers: { 'x-refuse-me': '1' } })).rejects.toThrow(/websocket error/);

    const ended = endOfIo(socket);
    expect((await visitor.post('/logout')).status).toBe(204);
    expect(await ended).toEqual({ reason: 'logout', disconnect: 'io server disconnect' });
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

/** A socket whose session cannot be read because Redis is gone: error frames, and the socket outlives the outage. */
describe('socket.io gateways when Redis is unavailable', () => {
  let redis: RedisServerHandle;
  let app: RunningApp;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    redis = await startRedis({ controllable: true });
    app = await startSocketApp({ redis: redis.url, prefix: uniquePrefix('io-outage') });
  });

  afterAll(async () => {
    sockets.forEach((socket) => socket.close());
    await app?.close();
    await redis?.stop();
  });

  it('answers 503: the guard in an error frame, SessionService as an HTTP exception; works again once Redis is back', async () => {
    const visitor = new Visitor(app.url);
    expect((await visitor.post('/login', { id: 'u-io-outage' })).status).toBe(200);
    const socket = await connectIo(app.url, { cookie: visitor.cookie });
    sockets.push(socket);
    expect(await askIo(socket, 'add-or-error', { item: 'before' })).toEqual({ count: 1 });

    await redis.interrupt();
    try {
      const unavailable = { statusCode: 503, message: expect.stringMatching(/session store unavailable/i) };
      await expect(askIo(socket, 'guarded')).rejects.toMatchObject({ frame: { status: 'error', ...unavailable } });
      expect(await askIo(socket, 'add-or-error', { item: 'during' })).toEqual({ error: unavailable });
      expect(socket.connected).toBe(true);
    } finally {
      await redis.resume();
    }

    // The app's client reconnects by itself: reads only until it did, then one write.
    const deadline = Date.now() + 10_000;
    while (
      !(await askIo(socket, 'guarded').then(
        () => true,
        () => false,
      )) &&
      Date.now() < deadline
    )
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await askIo(socket, 'add-or-error', { item: 'after' })).toEqual({ count: 2 });
    expect((await visitor.get('/whole')).body.items).toEqual(['before', 'after']);
  });
});
