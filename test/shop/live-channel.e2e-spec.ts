import { io, type Socket } from 'socket.io-client';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { startShopCluster, type ShopCluster } from './support/shop-cluster';
import { ShopClient } from './support/shop-client';
import { ShopTokenClient } from './support/shop-token-client';

// docs/shop-api.md, "Live channel": socket.io namespace /live through the demo's balancer (which
// passes upgrades round robin), three replicas on one Redis.

type Hello = { user: { id: number; username: string } | null; replica: string };

describe('shop live channel', () => {
  let redis: RedisServerHandle;
  let shop: ShopCluster;
  let idleShop: ShopCluster;
  let skus: string[];
  const sockets: Socket[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    shop = await startShopCluster(redis.url, 3, { ALLOWED_ORIGINS: 'https://partner.example' });
    idleShop = await startShopCluster(redis.url, 3, { SESSION_IDLE_TIMEOUT_MS: '1500' });
    skus = (await new ShopClient(shop.url).get<{ sku: string }[]>('/api/products')).body.map((p) => p.sku);
  });

  afterAll(async () => {
    sockets.forEach((socket) => socket.close());
    await Promise.all([shop?.close(), idleShop?.close()]);
    await redis?.stop();
  });

  /** Connects to /live as the client's browser would (its cookie, the given Origin); resolves with the socket and its hello. */
  function connect(url: string, client?: ShopClient, origin?: string): Promise<{ socket: Socket; hello: Hello }> {
    const extraHeaders: Record<string, string> = {};
    if (client?.cookie) extraHeaders.cookie = client.cookie;
    if (origin) extraHeaders.origin = origin;
    const socket = io(`${url}/live`, { transports: ['websocket'], extraHeaders, reconnection: false, forceNew: true });
    sockets.push(socket);
    return new Promise((resolve, reject) => {
      socket.once('hello', (hello: Hello) => resolve({ socket, hello }));
      socket.once('connect_error', reject);
    });
  }

  async function loggedIn(username: string, password: string, url = shop.url): Promise<ShopClient> {
    const client = new ShopClient(url);
    await client.fetchCsrf();
    const login = await client.post<{ csrfToken: string }>('/api/auth/login', { username, password });
    expect(login.status).toBe(200);
    client.csrfToken = login.body.csrfToken;
    return client;
  }

  /** One socket of the client's session on each replica (the balancer rotates the upgrades). */
  async function onEveryReplica(client: ShopClient, url = shop.url): Promise<Socket[]> {
    const opened = await Promise.all([0, 1, 2].map(() => connect(url, client)));
    expect(new Set(opened.map(({ hello }) => hello.replica))).toEqual(new Set(shop.replicaIds));
    return opened.map(({ socket }) => socket);
  }

  function nextCart(socket: Socket): Promise<{ cart: { items: { sku: string; qty: number }[] } }> {
    return new Promise((resolve) => socket.once('cart', resolve));
  }

  function ended(socket: Socket): Promise<string> {
    return new Promise((resolve) => {
      let reason = '(none)';
      socket.once('session:ended', (body: { reason: string }) => (reason = body.reason));
      socket.once('disconnect', () => resolve(reason));
    });
  }

  it('says hello with the user and the replica, or a null user for a visitor', async () => {
    const alice = await loggedIn('alice', 'wonderland');
    const { hello } = await connect(shop.url, alice);
    expect(hello).toEqual({ user: { id: 1, username: 'alice' }, replica: expect.stringMatching(/^replica-\d$/) });
    expect((await connect(shop.url)).hello).toEqual({ user: null, replica: expect.any(String) });
  });

  it('takes the session of a client without cookies from auth.token', async () => {
    const app = new ShopTokenClient(shop.url);
    expect((await app.post('/api/auth/login', { username: 'bob', password: 'builder' })).status).toBe(200);
    expect(app.token).toBeTruthy();
    const socket = io(`${shop.url}/live`, { transports: ['websocket'], auth: { token: app.token }, reconnection: false, forceNew: true });
    sockets.push(socket);
    const hello = await new Promise<Hello>((resolve, reject) => {
      socket.once('hello', resolve);
      socket.once('connect_error', reject);
    });
    expect(hello.user).toEqual({ id: 2, username: 'bob' });
    expect(await socket.emitWithAck('cart:add', { sku: skus[0], qty: 3 })).toMatchObject({ cart: { items: [{ sku: skus[0], qty: 3 }] } });
    expect((await app.get('/api/cart')).body.items).toEqual([expect.objectContaining({ sku: skus[0], qty: 3 })]);
  });

  it('adds to the cart with an acknowledgement, and pushes the cart to every socket of the session on every replica', async () => {
    const alice = await loggedIn('alice', 'wonderland');
    const [first, ...others] = await onEveryReplica(alice);
    const bob = await loggedIn('bob', 'builder');
    const [bobSocket] = await onEveryReplica(bob);
    const bobHeard: unknown[] = [];
    bobSocket.on('cart', (push: unknown) => bobHeard.push(push));

    const pushed = [first, ...others].map(nextCart);
    const ack = await first.emitWithAck('cart:add', { sku: skus[0], qty: 2 });
    expect(ack.cart.items).toEqual([expect.objectContaining({ sku: skus[0], qty: 2 })]);
    for (const push of await Promise.all(pushed)) expect(push.cart).toEqual(ack.cart);

    // A change by HTTP reaches the sockets too.
    const byHttp = [first, ...others].map(nextCart);
    expect((await alice.post('/api/cart/items', { sku: skus[1], qty: 1 })).status).toBe(201);
    for (const push of await Promise.all(byHttp)) expect(push.cart.items.map((item) => item.sku)).toEqual([skus[0], skus[1]]);
    // Alice's changes reached every socket of hers, and none of bob's (they went out on the same channel).
    expect(bobHeard).toEqual([]);
    // Bob's own change reaches his socket: the push comes over Redis, after the acknowledgement or before it.
    const bobPushed = nextCart(bobSocket);
    const bobAck = await bobSocket.emitWithAck('cart:add', { sku: skus[2], qty: 1 });
    expect(bobAck).toMatchObject({ cart: { items: [{ sku: skus[2], qty: 1 }] } });
    expect((await bobPushed).cart).toEqual(bobAck.cart);
  });

  it('answers a bad addition with the error POST /api/cart/items gives', async () => {
    const alice = await loggedIn('alice', 'wonderland');
    const { socket } = await connect(shop.url, alice);
    expect(await socket.emitWithAck('cart:add', { sku: 'NOPE', qty: 1 })).toEqual({
      error: { statusCode: 400, message: expect.stringContaining('sku "NOPE" is not in the catalog') },
    });
    expect(await socket.emitWithAck('cart:add', { sku: skus[0], qty: 0 })).toEqual({
      error: { statusCode: 400, message: 'qty must be a whole number from 1 to 99' },
    });
    expect(await socket.emitWithAck('cart:add', { sku: skus[0], qty: 1, extra: true })).toMatchObject({ error: { statusCode: 400 } });
  });

  it('keeps all of 50 parallel additions over sockets and HTTP on three replicas', async () => {
    const alice = await loggedIn('alice', 'wonderland');
    const opened = await onEveryReplica(alice);
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        i % 5 === 4 ? alice.post('/api/cart/items', { sku: skus[0], qty: 1 }) : opened[i % 3].emitWithAck('cart:add', { sku: skus[0], qty: 1 }),
      ),
    );
    expect(answers).toHaveLength(50);
    const cart = (await alice.get<{ items: { sku: string; qty: number }[] }>('/api/cart')).body;
    expect(cart.items).toEqual([expect.objectContaining({ sku: skus[0], qty: 50 })]);
  });

  it("refuses a foreign Origin, takes the shop's own and ALLOWED_ORIGINS", async () => {
    const alice = await loggedIn('alice', 'wonderland');
    await expect(connect(shop.url, alice, 'https://evil.example')).rejects.toThrow(/may not open a socket/);
    expect((await connect(shop.url, alice, shop.url)).hello.user).toMatchObject({ username: 'alice' });
    expect((await connect(shop.url, alice, 'https://partner.example')).hello.user).toMatchObject({ username: 'alice' });
  });

  it('ends the sockets of a session that logs out ("logout"), is revoked or logged out everywhere from elsewhere ("revoked")', async () => {
    const laptop = await loggedIn('bob', 'builder');
    const phone = await loggedIn('bob', 'builder');
    const tablet = await loggedIn('bob', 'builder');
    const laptopSockets = await onEveryReplica(laptop);
    const phoneSockets = await onEveryReplica(phone);
    const tabletSockets = await onEveryReplica(tablet);

    // The laptop revokes one of its other sessions: all three sockets of that one hear "revoked".
    const groups = [phoneSockets, tabletSockets];
    const groupEnds = groups.map((group) => Promise.all(group.map(ended)));
    const other = (await laptop.get<{ id: string; current: boolean }[]>('/api/auth/sessions')).body.find((session) => !session.current)!;
    expect((await laptop.delete(`/api/auth/sessions/${other.id}`)).status).toBe(204);
    const revoked = await Promise.race(groupEnds.map((ends, index) => ends.then((reasons) => ({ index, reasons }))));
    expect(revoked.reasons).toEqual(['revoked', 'revoked', 'revoked']);
    const still = groups[1 - revoked.index];
    expect(still.every((socket) => socket.connected)).toBe(true);
    expect(laptopSockets.every((socket) => socket.connected)).toBe(true);

    // Log out everywhere from the laptop: its own sockets hear "logout", every other session "revoked".
    const stillEnds = groupEnds[1 - revoked.index];
    const laptopEnds = laptopSockets.map(ended);
    expect((await laptop.post('/api/auth/logout-all')).status).toBe(204);
    expect(await Promise.all(laptopEnds)).toEqual(['logout', 'logout', 'logout']);
    expect(await stillEnds).toEqual(['revoked', 'revoked', 'revoked']);
  });

  it('ends the sockets of a session left idle past SESSION_IDLE_TIMEOUT_MS ("expired")', async () => {
    const alice = await loggedIn('alice', 'wonderland', idleShop.url);
    const opened = await onEveryReplica(alice, idleShop.url);
    expect(await Promise.all(opened.map(ended))).toEqual(['expired', 'expired', 'expired']);
  });
});
